namespace ClaudeStack.Gateway.Telemetry;

/// <summary>
/// Every telemetry name the gateway emits, in one place. GenAI names follow the OpenTelemetry GenAI semantic
/// conventions v1.41; <c>claudestack.*</c> names are the gateway's own.
/// </summary>
public static class TelemetryNames
{
    /// <summary>The gateway's ActivitySource and Meter.</summary>
    public const string SourceName = "ClaudeStack.Gateway";

    public const string OperationChat = "chat";

    public static class Attributes
    {
        public const string OperationName = "gen_ai.operation.name";
        public const string ProviderName = "gen_ai.provider.name";
        public const string RequestModel = "gen_ai.request.model";
        public const string RequestMaxTokens = "gen_ai.request.max_tokens";
        public const string RequestStream = "gen_ai.request.stream";
        public const string ResponseModel = "gen_ai.response.model";
        public const string ResponseId = "gen_ai.response.id";
        public const string ResponseFinishReasons = "gen_ai.response.finish_reasons";
        public const string ResponseTimeToFirstChunk = "gen_ai.response.time_to_first_chunk";
        public const string UsageInputTokens = "gen_ai.usage.input_tokens";
        public const string UsageOutputTokens = "gen_ai.usage.output_tokens";
        public const string UsageCacheReadInputTokens = "gen_ai.usage.cache_read.input_tokens";
        public const string UsageCacheCreationInputTokens = "gen_ai.usage.cache_creation.input_tokens";
        public const string ConversationId = "gen_ai.conversation.id";
        public const string SystemInstructions = "gen_ai.system_instructions";
        public const string InputMessages = "gen_ai.input.messages";
        public const string OutputMessages = "gen_ai.output.messages";
        public const string ToolDefinitions = "gen_ai.tool.definitions";
        public const string TokenType = "gen_ai.token.type";
        public const string ServerAddress = "server.address";
        public const string ServerPort = "server.port";
        public const string ErrorType = "error.type";
        public const string ExceptionMessage = "exception.message";
        public const string HttpResponseStatusCode = "http.response.status_code";

        /// <summary>Set when the gateway sent the call again because the upstream closed a pooled connection on it.</summary>
        public const string HttpRequestResendCount = "http.request.resend_count";

        /// <summary>Set by ASP.NET Core on its server span from what the client sent.</summary>
        public const string UrlPath = "url.path";

        /// <summary>Set by ASP.NET Core on its server span from what the client sent.</summary>
        public const string UrlQuery = "url.query";

        /// <summary>Set by ASP.NET Core on its server span from what the client sent.</summary>
        public const string UserAgentOriginal = "user_agent.original";

        /// <summary>The model the client asked for, when the gateway routed it elsewhere.</summary>
        public const string ModelRequested = "claudestack.model.requested";

        /// <summary>Why the requested model became the request model: pass_through, family, default.</summary>
        public const string ModelRoute = "claudestack.model.route";

        /// <summary>Top-level request properties the gateway changed before forwarding.</summary>
        public const string RequestAdapted = "claudestack.request.adapted";

        /// <summary>The stream ended without message_stop and the gateway ended it with an error event.</summary>
        public const string StreamIncomplete = "claudestack.stream.incomplete";

        /// <summary>Response events the gateway could not read (relayed all the same).</summary>
        public const string MalformedEvents = "claudestack.response.malformed_events";

        public const string ContextLength = "claudestack.context.length";
        public const string ContextSource = "claudestack.context.source";
        public const string EstimatedInputTokens = "claudestack.context.estimated_input_tokens";
        public const string PromptTooLong = "claudestack.context.prompt_too_long";
        public const string PromptTruncated = "claudestack.context.truncated";
        public const string ContextPolicy = "claudestack.context.policy";

        /// <summary>The least room set aside for the answer when the prompt is checked against the window.</summary>
        public const string ReservedForOutput = "claudestack.context.reserved_for_output";

        /// <summary>The request asked for structured output (output_config.format), which Ollama ignores.</summary>
        public const string StructuredOutputIgnored = "claudestack.request.structured_output_ignored";

        /// <summary>The request's tool_choice (<c>any</c> or <c>tool</c>), which the upstream cannot enforce.</summary>
        public const string ToolChoiceNotEnforced = "claudestack.request.tool_choice_not_enforced";

        /// <summary>Share of the model in GPU memory; below 1 part of it runs on the CPU.</summary>
        public const string GpuShare = "claudestack.model.gpu_share";

        public const string ToolName = "gen_ai.tool.name";
        public const string ToolCallProblem = "claudestack.tool_call.problem";
        public const string ToolCallProblemKind = "claudestack.tool_call.problem_kind";
    }

    public static class Events
    {
        public const string PromptTooLong = "claudestack.context.prompt_too_long";
        public const string PromptTruncated = "claudestack.context.truncated";
        public const string InvalidToolCall = "claudestack.tool_call.invalid";

        /// <summary>A check of the answer threw; the call went on unchecked.</summary>
        public const string GuardFailed = "claudestack.guard.failed";
    }

    public static class TokenTypes
    {
        public const string Input = "input";
        public const string Output = "output";
    }

    /// <summary>The conventions' finish reasons, which output messages must use and the span's list uses too.</summary>
    public static class FinishReasons
    {
        public const string Stop = "stop";
        public const string Length = "length";
        public const string ContentFilter = "content_filter";
        public const string ToolCall = "tool_call";
        public const string Error = "error";
    }

    public static class Metrics
    {
        public const string TokenUsage = "gen_ai.client.token.usage";
        public const string OperationDuration = "gen_ai.client.operation.duration";
        public const string TimeToFirstChunk = "gen_ai.client.operation.time_to_first_chunk";
        public const string PromptsTooLong = "claudestack.context.prompts_too_long";
        public const string PromptsTruncated = "claudestack.context.prompts_truncated";
        public const string InvalidToolCalls = "claudestack.tool_calls.invalid";
    }

    /// <summary>Values of <c>error.type</c> for failures that have no HTTP status of their own.</summary>
    public static class ErrorTypes
    {
        public const string UpstreamUnreachable = "upstream_unreachable";
        public const string UpstreamTimeout = "upstream_timeout";
        public const string StreamIncomplete = "stream_incomplete";
        public const string StreamReset = "stream_reset";

        /// <summary>The upstream's compressed body did not decompress.</summary>
        public const string UpstreamUndecodable = "upstream_undecodable";

        /// <summary>The upstream answered with a redirect, which the gateway does not follow.</summary>
        public const string UpstreamRedirect = "upstream_redirect";

        /// <summary>The upstream answered a streamed request with JSON that is not a Messages API message.</summary>
        public const string UpstreamNotAMessage = "upstream_not_a_message";
        public const string ClientClosed = "client_closed";

        /// <summary>The gateway itself failed; its log has the details.</summary>
        public const string GatewayError = "gateway_error";
    }

    /// <summary>The environment variable (or configuration key) that turns on message content capture.</summary>
    public const string CaptureMessageContentKey = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT";

    /// <summary>Histogram bucket boundaries given by the GenAI metrics conventions.</summary>
    public static class Buckets
    {
        public static readonly double[] Seconds = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];

        public static readonly long[] Tokens = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
    }
}
