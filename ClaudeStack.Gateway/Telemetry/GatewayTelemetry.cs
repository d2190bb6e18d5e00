using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ClaudeStack.Gateway.Telemetry;

/// <summary>The gateway's ActivitySource and GenAI client metrics.</summary>
public static class GatewayTelemetry
{
    public static readonly ActivitySource Source = new(TelemetryNames.SourceName);

    private static readonly Meter Meter = new(TelemetryNames.SourceName);

    public static readonly Histogram<long> TokenUsage = Meter.CreateHistogram(
        TelemetryNames.Metrics.TokenUsage,
        unit: "{token}",
        description: "Number of input and output tokens used.",
        tags: null,
        advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = TelemetryNames.Buckets.Tokens });

    public static readonly Histogram<double> OperationDuration = Meter.CreateHistogram(
        TelemetryNames.Metrics.OperationDuration,
        unit: "s",
        description: "GenAI operation duration.",
        tags: null,
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = TelemetryNames.Buckets.Seconds });

    public static readonly Histogram<double> TimeToFirstChunk = Meter.CreateHistogram(
        TelemetryNames.Metrics.TimeToFirstChunk,
        unit: "s",
        description: "Time to receive the first chunk of a streamed response.",
        tags: null,
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = TelemetryNames.Buckets.Seconds });

    /// <summary>Creates a counter on the gateway's meter (guards add their own).</summary>
    public static Counter<long> CreateCounter(string name, string unit, string description) =>
        Meter.CreateCounter<long>(name, unit, description);
}
