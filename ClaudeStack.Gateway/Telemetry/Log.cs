namespace ClaudeStack.Gateway.Telemetry;

/// <summary>The gateway's log messages. Payloads never go here; only names, numbers and reasons.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "Model call to {Model} failed ({ErrorType}, status {StatusCode}): {Reason}")]
    public static partial void CallFailed(ILogger logger, string model, string errorType, int? statusCode, string reason);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Could not read model facts for {Model} from the upstream: {Reason}")]
    public static partial void ModelInfoUnavailable(ILogger logger, string model, string reason);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "Prompt for {Model} does not fit: about {EstimatedTokens} tokens and {ReservedForOutput} for the answer > {ContextLength} context ({Policy})")]
    public static partial void PromptTooLong(ILogger logger, string model, int estimatedTokens, int reservedForOutput, int contextLength, string policy);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "Model {Model} reported {ReportedTokens} input tokens for a prompt estimated at {EstimatedTokens}: the upstream probably truncated it")]
    public static partial void PromptTruncated(ILogger logger, string model, long reportedTokens, int estimatedTokens);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "Model {Model} made a bad tool call ({Kind}) to {Tool}: {Problem}")]
    public static partial void BadToolCall(ILogger logger, string model, string kind, string tool, string problem);

    [LoggerMessage(EventId = 6, Level = LogLevel.Information, Message = "The client left during a call to {Model}; the upstream request was cancelled")]
    public static partial void ClientClosed(ILogger logger, string model);

    [LoggerMessage(EventId = 7, Level = LogLevel.Debug, Message = "Message content of a call to {Model} was not recorded: {Reason}")]
    public static partial void ContentNotCaptured(ILogger logger, string model, string reason);

    [LoggerMessage(EventId = 8, Level = LogLevel.Warning, Message = "Ollama runs {Model} with a {LoadedContextLength}-token context window, not the configured {ConfiguredContextLength}; Claude Code plans for the configured one. Make them match: the server's OLLAMA_CONTEXT_LENGTH, or the stack's ContextLength (a model's trained maximum also caps it)")]
    public static partial void LoadedContextDiffers(ILogger logger, string model, int loadedContextLength, int configuredContextLength);

    [LoggerMessage(EventId = 9, Level = LogLevel.Warning, Message = "{Setting} is shorter than {MinimumLength} characters, so it is not masked where it appears in answers, telemetry or logs (shorter values would mask ordinary words)")]
    public static partial void SecretTooShortToMask(ILogger logger, string setting, int minimumLength);
}
