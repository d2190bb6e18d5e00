using ClaudeStack.Gateway.Telemetry;
using Microsoft.Extensions.Configuration;

namespace ClaudeStack.Gateway.Configuration;

/// <summary>Switches read once at start-up.</summary>
public sealed record GatewayFeatures
{
    private static readonly TimeSpan ModelServerKeepAliveAfter = TimeSpan.FromSeconds(3);

    /// <summary>Record prompts and answers on spans (<c>OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true</c>).</summary>
    public bool CaptureMessageContent { get; init; }

    /// <summary>Silence after which a streamed call gets its headers and a ping; zero turns keep-alive off.</summary>
    public TimeSpan KeepAliveAfter { get; init; } = ModelServerKeepAliveAfter;

    /// <summary>
    /// The Anthropic API answers a stream's headers at once, and a late 429 or 529 must reach Claude Code as a status
    /// with its retry-after, not as an error event inside a 200 the keep-alive already sent: off unless configured.
    /// Model servers prefill in silence (Ollama sends no headers before the first token), so they keep it.
    /// </summary>
    public static TimeSpan DefaultKeepAliveAfter(UpstreamProfile profile) =>
        profile == UpstreamProfile.Anthropic ? TimeSpan.Zero : ModelServerKeepAliveAfter;

    public TimeSpan KeepAliveInterval { get; init; } = TimeSpan.FromSeconds(10);

    public static GatewayFeatures From(IConfiguration configuration, UpstreamProfile profile)
    {
        var streaming = configuration.GetSection("Gateway:Streaming");
        var defaults = new GatewayFeatures();
        var features = new GatewayFeatures
        {
            CaptureMessageContent = string.Equals(configuration[TelemetryNames.CaptureMessageContentKey], "true", StringComparison.OrdinalIgnoreCase),
            KeepAliveAfter = streaming.GetValue("KeepAliveAfter", DefaultKeepAliveAfter(profile)),
            KeepAliveInterval = streaming.GetValue("KeepAliveInterval", defaults.KeepAliveInterval),
        };
        var problems = new[]
        {
            GatewayOptions.TimeoutProblem("Gateway:Streaming:KeepAliveAfter", features.KeepAliveAfter, "00:00:03", zeroAllowed: true),
            GatewayOptions.TimeoutProblem("Gateway:Streaming:KeepAliveInterval", features.KeepAliveInterval, "00:00:10"),
        }.OfType<string>().ToArray();
        if (problems.Length > 0)
        {
            throw new Microsoft.Extensions.Options.OptionsValidationException("Gateway:Streaming", typeof(GatewayFeatures), problems);
        }

        return features;
    }
}
