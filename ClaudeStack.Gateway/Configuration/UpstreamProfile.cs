namespace ClaudeStack.Gateway.Configuration;

/// <summary>What kind of server the gateway forwards to; decides request adaptation and auth.</summary>
public enum UpstreamProfile
{
    /// <summary>Ollama's Anthropic-compatible API: requests are adapted, Claude names mapped, count_tokens answered locally.</summary>
    Ollama,

    /// <summary>The Anthropic API: requests pass through untouched, the gateway injects the API key.</summary>
    Anthropic,

    /// <summary>Any server speaking /v1/messages (llama.cpp server, vLLM, LM Studio): pass-through with Claude names mapped.</summary>
    AnthropicCompatible,
}

public static class UpstreamProfiles
{
    public static bool TryParse(string? value, out UpstreamProfile profile)
    {
        switch (value?.Trim().ToLowerInvariant())
        {
            case "ollama":
                profile = UpstreamProfile.Ollama;
                return true;
            case "anthropic":
                profile = UpstreamProfile.Anthropic;
                return true;
            case "anthropic-compatible" or "anthropiccompatible" or "external":
                profile = UpstreamProfile.AnthropicCompatible;
                return true;
            default:
                profile = default;
                return false;
        }
    }

    /// <summary>Whether Claude model names must be replaced by local ones before forwarding.</summary>
    public static bool MapsClaudeNames(this UpstreamProfile profile) => profile != UpstreamProfile.Anthropic;

    /// <summary>The <c>gen_ai.provider.name</c> the dashboard groups calls by.</summary>
    public static string DefaultProviderName(this UpstreamProfile profile) => profile switch
    {
        UpstreamProfile.Ollama => "ollama",
        UpstreamProfile.Anthropic => "anthropic",
        _ => "anthropic-compatible",
    };
}
