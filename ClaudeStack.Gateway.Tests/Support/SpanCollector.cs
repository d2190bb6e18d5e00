using System.Collections.Concurrent;
using System.Diagnostics;
using ClaudeStack.Gateway.Telemetry;

namespace ClaudeStack.Gateway.Tests.Support;

/// <summary>
/// Collects the gateway's finished spans in-process. Tests run in parallel and share the static source,
/// so each collector keeps only the spans of calls to its own upstream port.
/// </summary>
public sealed class SpanCollector : IDisposable
{
    private readonly ActivityListener _listener;
    private readonly ConcurrentQueue<Activity> _spans = new();
    private readonly SemaphoreSlim _arrived = new(0);

    public SpanCollector(Uri upstream)
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == TelemetryNames.SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (activity.GetTagItem(TelemetryNames.Attributes.ServerPort) is int port && port == upstream.Port)
                {
                    _spans.Enqueue(activity);
                    _arrived.Release();
                }
            },
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public IReadOnlyList<Activity> Spans => [.. _spans];

    /// <summary>Waits until at least <paramref name="count"/> spans ended.</summary>
    public async Task<IReadOnlyList<Activity>> WaitForAsync(int count, CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(timeout ?? TimeSpan.FromSeconds(30));
        while (_spans.Count < count)
        {
            await _arrived.WaitAsync(bounded.Token);
        }

        return Spans;
    }

    public void Dispose() => _listener.Dispose();
}
