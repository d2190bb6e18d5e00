using ClaudeStack.Gateway.Adaptation;
using ClaudeStack.Gateway.Guards;
using Microsoft.Extensions.Configuration;

namespace ClaudeStack.Gateway.Configuration;

/// <summary>What the gateway does to make local models work for Claude Code.</summary>
public sealed class LocalModelOptions
{
    public AdaptationOptions Adaptation { get; init; } = new();

    public ContextGuardOptions Context { get; init; } = new();

    /// <summary>
    /// Binds <c>Gateway:Adaptation</c> and <c>Gateway:Context</c>. The fallback context window comes from
    /// <c>Gateway:Context:ContextLength</c>, <c>Gateway:ContextLength</c> or Ollama's own <c>OLLAMA_CONTEXT_LENGTH</c>.
    /// </summary>
    public static LocalModelOptions From(IConfiguration configuration)
    {
        var context = configuration.GetSection("Gateway:Context").Get<ContextGuardOptions>() ?? new ContextGuardOptions();
        // Ollama reads OLLAMA_CONTEXT_LENGTH 0 (its default) as "choose by the memory there is": no window to go by.
        context.ContextLength ??= configuration.GetValue<int?>("Gateway:ContextLength")
            ?? (configuration.GetValue<int?>("OLLAMA_CONTEXT_LENGTH") is > 0 and var ollamaWindow ? ollamaWindow : null);
        var adaptation = configuration.GetSection("Gateway:Adaptation").Get<AdaptationOptions>() ?? new AdaptationOptions();
        var errors = new List<string>();
        if (context.Policy.ToLowerInvariant() is not ("reject" or "warn" or "off"))
        {
            errors.Add($"Gateway:Context:Policy is '{context.Policy}'; use 'reject', 'warn' or 'off'.");
        }

        if (adaptation.Thinking.ToLowerInvariant() is not ("auto" or "enabled" or "disabled" or "passthrough"))
        {
            errors.Add($"Gateway:Adaptation:Thinking is '{adaptation.Thinking}'; use 'auto', 'enabled', 'disabled' or 'passthrough'.");
        }

        // A window of 0 would refuse every prompt as too long.
        if (context.ContextLength is <= 0)
        {
            errors.Add($"The gateway's context length (Gateway:Context:ContextLength or Gateway:ContextLength) is {context.ContextLength}; use the model's window in tokens, e.g. 65536, or leave it unset.");
        }

        if (adaptation.MinMaxTokens < 0)
        {
            errors.Add($"Gateway:Adaptation:MinMaxTokens is {adaptation.MinMaxTokens}; use 0 or more tokens, e.g. 1024.");
        }

        if (adaptation.ThinkingBudgetTokens <= 0)
        {
            errors.Add($"Gateway:Adaptation:ThinkingBudgetTokens is {adaptation.ThinkingBudgetTokens}; use a positive number of tokens, e.g. 4096.");
        }

        if (context.TruncationFraction is <= 0 or > 1)
        {
            errors.Add($"Gateway:Context:TruncationFraction is {context.TruncationFraction}; use a fraction between 0 and 1, e.g. 0.8.");
        }

        if (errors.Count > 0)
        {
            throw new Microsoft.Extensions.Options.OptionsValidationException("Gateway", typeof(LocalModelOptions), errors);
        }

        return new LocalModelOptions { Adaptation = adaptation, Context = context };
    }
}
