using ClaudeStack.Gateway.Telemetry;
using Microsoft.Extensions.Configuration;

namespace ClaudeStack.Gateway.Configuration;

/// <summary>Switches read once at start-up.</summary>
public sealed record GatewayFeatures
{
    /// <summary>Record prompts and answers on spans (<c>OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true</c>).</summary>
    public bool CaptureMessageContent { get; init; }

    /// <summary>Silence after which a streamed call gets its headers and a ping; zero turns keep-alive off.</summary>
    public TimeSpan KeepAliveAfter { get; init; } = TimeSpan.FromSeconds(3);

    public TimeSpan KeepAliveInterval { get; init; } = TimeSpan.FromSeconds(10);

    public static GatewayFeatures From(IConfiguration configuration)
    {
        var streaming = configuration.GetSection("Gateway:Streaming");
        var defaults = new GatewayFeatures();
        var features = new GatewayFeatures
        {
            CaptureMessageContent = string.Equals(configuration[TelemetryNames.CaptureMessageContentKey], "true", StringComparison.OrdinalIgnoreCase),
            KeepAliveAfter = streaming.GetValue("KeepAliveAfter", defaults.KeepAliveAfter),
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
