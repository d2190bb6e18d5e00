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

    public static readonly Counter<long> PromptsTooLong = Meter.CreateCounter<long>(
        TelemetryNames.Metrics.PromptsTooLong, "{request}", "Prompts larger than the model's context window.");

    public static readonly Counter<long> PromptsTruncated = Meter.CreateCounter<long>(
        TelemetryNames.Metrics.PromptsTruncated, "{request}", "Prompts the upstream evidently truncated.");

    public static readonly Counter<long> InvalidToolCalls = Meter.CreateCounter<long>(
        TelemetryNames.Metrics.InvalidToolCalls, "{call}", "Tool calls with an unknown tool, bad JSON or input that breaks the schema.");
}
