using ClaudeStack.Gateway.Configuration;

namespace ClaudeStack.Gateway.Api;

/// <summary>
/// A 401 from an upstream the gateway sends no key to. The client's own key is never passed on (the client's
/// credential is the stack token), so a key the client was given cannot help; the gateway needs its own.
/// </summary>
public static class MissingUpstreamKey
{
    /// <summary>The upstream's refusal with where the key goes, or null when a key is not what is missing.</summary>
    public static AnthropicError? Explain(UpstreamEndpoint upstream, int status, string message) =>
        status == StatusCodes.Status401Unauthorized && upstream.ApiKey is null
            ? new AnthropicError(status, AnthropicError.Authentication,
                $"{message} (the model server wants a key, and the gateway sends none: it never passes on its client's own. Set Gateway:Upstream:ApiKey; in the stack, for an AnthropicCompatible server, ClaudeStack:External:UseApiKey=true with Parameters:upstream-api-key)")
            : null;
}
