using ClaudeStack.Gateway.Api;

namespace ClaudeStack.Gateway.Adaptation;

/// <summary>
/// Ollama refusals whose own words leave a Claude Code user stuck, told instead what happened and what to do. The span
/// keeps Ollama's answer.
/// </summary>
public static class OllamaRefusal
{
    /// <summary>internal/cloud <c>DisabledMessagePrefix</c>: the start of every refusal Ollama makes with cloud off.</summary>
    public const string CloudDisabledPrefix = "ollama cloud is disabled";

    /// <summary>server/images.go CheckCapabilities, as scheduleRunner words it: "&lt;full name&gt; does not support tools".</summary>
    public const string NoToolsSuffix = " does not support tools";

    /// <summary>server/routes.go ChatHandler for a model without the completion capability (an embedding model).</summary>
    public const string NoChatSuffix = " does not support chat";

    /// <summary>
    /// server/cloud_proxy.go writeCloudUnauthorized: a cloud model asked of an Ollama not signed in to ollama.com (the
    /// body also carries a <c>signin_url</c>).
    /// </summary>
    public const string CloudUnauthorizedMessage = "unauthorized";

    /// <summary>
    /// llm/llama_server.go, for a prompt over the window of a runner without context shift (the deepseek2 family, for
    /// one); other runners drop the start of the prompt instead, silently.
    /// </summary>
    public const string PromptLongerThanContextPrefix = "the prompt is longer than the context length";

    /// <summary>llama-server's words for an image sent to a model it started without a projector (mmproj).</summary>
    public const string NoProjectorWords = "image input is not supported";

    private const string ChooseAnotherModel =
        "Pick a model whose `ollama show <model>` lists the tools capability (/model), and set it as ClaudeStack:Model or ClaudeStack:ModelMap:* for the stack.";

    /// <returns>The error for the client, or null when the upstream's error is none of these refusals.</returns>
    /// <param name="imagesBecomeNotes">Whether the model gets a note in place of each image from now on.</param>
    /// <param name="promptTooLong">Anthropic's "prompt is too long" words for this call's prompt, when its window is known.</param>
    public static AnthropicError? Explain(int statusCode, string upstreamMessage, string model, bool imagesBecomeNotes, string? promptTooLong = null) => statusCode switch
    {
        // With cloud models off (OLLAMA_NO_CLOUD=1, the stack's default) a cloud model such as glm-4.6:cloud gets 403
        // "ollama cloud is disabled: …". Claude Code prints every 403 as "Failed to authenticate", which sends the user
        // to a stack token that is fine.
        StatusCodes.Status403Forbidden when upstreamMessage.StartsWith(CloudDisabledPrefix, StringComparison.Ordinal) => AnthropicError.BadRequest(
            $"model '{model}' runs on ollama.com, and this Ollama keeps to local models ({upstreamMessage}); nothing was sent. " +
            "Pick a local model (/model), or turn Ollama's cloud models on: ClaudeStack:OllamaCloud=true for the stack's Ollama, " +
            "OLLAMA_NO_CLOUD unset on another Ollama server."),

        // Claude Code shows every 401 as its own login failing; here the Ollama server is what is not signed in.
        StatusCodes.Status401Unauthorized when upstreamMessage == CloudUnauthorizedMessage && model.Contains("cloud", StringComparison.Ordinal) => AnthropicError.BadRequest(
            $"model '{model}' runs on ollama.com, and this Ollama is not signed in to an ollama.com account ({upstreamMessage}); nothing was run. " +
            "Sign the Ollama server in (`ollama signin`; for the stack's: `docker exec -it <ollama container> ollama signin`), or pick a local model (/model)."),

        // In the words that make Claude Code compact the conversation, as it does for the gateway's own refusal; the
        // gateway's estimate was too low to refuse the prompt itself.
        StatusCodes.Status400BadRequest when upstreamMessage.StartsWith(PromptLongerThanContextPrefix, StringComparison.Ordinal) => AnthropicError.BadRequest(
            promptTooLong ?? $"prompt is too long: {upstreamMessage}"),

        // Every Claude Code turn offers tools, so a model without them (gemma3, for one) fails every turn, and Ollama's
        // words name neither what Claude Code needs nor the setting to change.
        StatusCodes.Status400BadRequest when upstreamMessage.EndsWith(NoToolsSuffix, StringComparison.Ordinal) => AnthropicError.BadRequest(
            $"model '{model}' cannot call tools ({upstreamMessage}), and Claude Code works through tools; the model was not run. " +
            ChooseAnotherModel),

        StatusCodes.Status400BadRequest when upstreamMessage.EndsWith(NoChatSuffix, StringComparison.Ordinal) => AnthropicError.BadRequest(
            $"model '{model}' is not a chat model ({upstreamMessage}); the model was not run. " + ChooseAnotherModel),

        // Still a 500, so that Claude Code retries: by then the gateway sends the model a note in place of each image.
        StatusCodes.Status500InternalServerError when IsMissingProjector(statusCode, upstreamMessage) && imagesBecomeNotes => AnthropicError.ForStatus(statusCode,
            $"model '{model}' cannot see images in this Ollama ({upstreamMessage}); " +
            "until the model is pulled again the gateway sends it a note in place of each image, so the call can be sent again."),

        // Sent again, the call would fail the same way: a 400, which Claude Code does not retry.
        StatusCodes.Status500InternalServerError when IsMissingProjector(statusCode, upstreamMessage) => AnthropicError.BadRequest(
            $"model '{model}' cannot see images in this Ollama ({upstreamMessage}); the model was not run. " +
            "Take the image out of the conversation (/rewind, or a new session), or pick a model with vision (/model)."),

        _ => null,
    };

    /// <summary>The model's runner has no projector: any call holding an image fails, whatever /api/show says.</summary>
    public static bool IsMissingProjector(int statusCode, string upstreamMessage) =>
        statusCode == StatusCodes.Status500InternalServerError && upstreamMessage.Contains(NoProjectorWords, StringComparison.Ordinal);
}
