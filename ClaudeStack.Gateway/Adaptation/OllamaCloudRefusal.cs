using ClaudeStack.Gateway.Api;

namespace ClaudeStack.Gateway.Adaptation;

/// <summary>
/// Ollama with cloud models off (<c>OLLAMA_NO_CLOUD=1</c>, the stack's default) refuses a cloud model such as
/// <c>glm-4.6:cloud</c> with 403 "ollama cloud is disabled: …" (v0.32.15 internal/cloud <c>DisabledError</c>). Claude
/// Code prints every 403 as "Failed to authenticate", which sends the user to a stack token that is fine. The client is
/// told instead, as a 400, what happened and what to do; the span keeps Ollama's own answer.
/// </summary>
public static class OllamaCloudRefusal
{
    /// <summary>internal/cloud <c>DisabledMessagePrefix</c>: the start of every refusal Ollama makes with cloud off.</summary>
    public const string DisabledMessagePrefix = "ollama cloud is disabled";

    /// <returns>The error for the client, or null when the upstream's error is not this refusal.</returns>
    public static AnthropicError? Explain(int statusCode, string upstreamMessage, string model) =>
        statusCode == StatusCodes.Status403Forbidden && upstreamMessage.StartsWith(DisabledMessagePrefix, StringComparison.Ordinal)
            ? AnthropicError.BadRequest(
                $"model '{model}' runs on ollama.com, and this Ollama keeps to local models ({upstreamMessage}); nothing was sent. " +
                "Pick a local model (/model), or turn Ollama's cloud models on: ClaudeStack:OllamaCloud=true for the stack's Ollama, " +
                "OLLAMA_NO_CLOUD unset on another Ollama server.")
            : null;
}
