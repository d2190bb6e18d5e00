using System.Diagnostics;
using System.Diagnostics.Metrics;
using ClaudeStack.Gateway.Configuration;
using ClaudeStack.Gateway.Routing;
using ClaudeStack.Gateway.Streaming;
using ClaudeStack.Gateway.Telemetry;
using Microsoft.Extensions.Logging.Abstractions;
using Names = ClaudeStack.Gateway.Telemetry.TelemetryNames.Attributes;

namespace ClaudeStack.Gateway.Tests.Logic;

/// <summary>
/// The chat span's attributes and the GenAI metrics' attributes as the conventions list them. Tests run in parallel
/// and share the static source and meter, so each test keeps only what its own model name recorded.
/// </summary>
public sealed class ModelCallTelemetryTests : IDisposable
{
    private readonly string _model = $"model-{Guid.NewGuid():N}";
    private readonly List<(string Instrument, Dictionary<string, object?> Tags)> _measurements = [];
    private readonly MeterListener _meters = new();
    private readonly ActivityListener _spans = new()
    {
        ShouldListenTo = source => source.Name == TelemetryNames.SourceName,
        Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
    };

    public ModelCallTelemetryTests()
    {
        ActivitySource.AddActivityListener(_spans);
        _meters.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == TelemetryNames.SourceName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _meters.SetMeasurementEventCallback<double>((instrument, _, tags, _) => Keep(instrument, tags));
        _meters.SetMeasurementEventCallback<long>((instrument, _, tags, _) => Keep(instrument, tags));
        _meters.Start();
    }

    [Fact]
    public void StreamedCall_RecordsTheResponseModelAndTimeToFirstChunk_OnTheSpanAndEveryMetric()
    {
        var call = Start(stream: true);
        call.MarkFirstChunk();
        call.RecordResponse(new ModelResponse { Model = _model + "-answered", InputTokens = 3, OutputTokens = 5 });
        call.Dispose();

        Assert.IsType<double>(call.Activity!.GetTagItem(Names.ResponseTimeToFirstChunk));
        var recorded = Measurements();
        Assert.Equal(
            [TelemetryNames.Metrics.TokenUsage, TelemetryNames.Metrics.TokenUsage, TelemetryNames.Metrics.OperationDuration, TelemetryNames.Metrics.TimeToFirstChunk],
            recorded.Select(m => m.Instrument));
        Assert.All(recorded, m => Assert.Equal(_model + "-answered", m.Tags[Names.ResponseModel]));
    }

    [Fact]
    public void CallWithoutAFirstChunk_HasNoTimeToFirstChunk_AndAFailureKeepsItsErrorType()
    {
        var call = Start(stream: false);
        call.Fail(TelemetryNames.ErrorTypes.UpstreamUnreachable, "refused");
        call.Dispose();

        Assert.Null(call.Activity!.GetTagItem(Names.ResponseTimeToFirstChunk));
        var duration = Assert.Single(Measurements());
        Assert.Equal(TelemetryNames.Metrics.OperationDuration, duration.Instrument);
        Assert.Equal(TelemetryNames.ErrorTypes.UpstreamUnreachable, duration.Tags[Names.ErrorType]);
        Assert.False(duration.Tags.ContainsKey(Names.ResponseModel));
    }

    public void Dispose()
    {
        _meters.Dispose();
        _spans.Dispose();
    }

    private ModelCallTelemetry Start(bool stream) => ModelCallTelemetry.Start(
        new UpstreamEndpoint(UpstreamProfile.Ollama, new Uri("http://127.0.0.1:11434/"), null, "ollama"),
        new ModelRoute(_model, _model, RouteReason.PassThrough),
        stream,
        maxTokens: null,
        conversationId: null,
        traceParent: null,
        traceState: null,
        NullLogger.Instance,
        new SecretRedactor([]));

    private List<(string Instrument, Dictionary<string, object?> Tags)> Measurements()
    {
        lock (_measurements)
        {
            return [.. _measurements];
        }
    }

    private void Keep(Instrument instrument, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var copied = new Dictionary<string, object?>();
        foreach (var (key, value) in tags)
        {
            copied[key] = value;
        }

        if (Equals(copied.GetValueOrDefault(Names.RequestModel), _model))
        {
            lock (_measurements)
            {
                _measurements.Add((instrument.Name, copied));
            }
        }
    }
}
