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
        context.ContextLength ??= configuration.GetValue<int?>("Gateway:ContextLength") ?? configuration.GetValue<int?>("OLLAMA_CONTEXT_LENGTH");
        return new LocalModelOptions
        {
            Adaptation = configuration.GetSection("Gateway:Adaptation").Get<AdaptationOptions>() ?? new AdaptationOptions(),
            Context = context,
        };
    }
}
