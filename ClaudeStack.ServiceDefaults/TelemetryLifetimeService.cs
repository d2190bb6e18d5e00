using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Creates the OpenTelemetry providers when the host starts and flushes them once it has stopped. The providers
/// are DI singletons, so the container disposes (and thereby shuts down) them when the host is disposed.
/// </summary>
internal sealed class TelemetryLifetimeService(IServiceProvider services) : IHostedLifecycleService
{
    // Bounds the final flush so an unreachable collector cannot hold shutdown up for long.
    private const int FlushTimeoutMilliseconds = 5_000;

    private TracerProvider? tracerProvider;
    private MeterProvider? meterProvider;
    private LoggerProvider? loggerProvider;

    public Task StartingAsync(CancellationToken cancellationToken)
    {
        // Resolving is what creates them: the tracer provider only starts listening to ActivitySources once built.
        this.tracerProvider = services.GetService<TracerProvider>();
        this.meterProvider = services.GetService<MeterProvider>();
        this.loggerProvider = services.GetService<LoggerProvider>();
        return Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    // After every other hosted service (Kestrel included) has stopped, so their last spans and logs are included.
    // Waited for only as long as the host's shutdown timeout allows. When draining connections used up that time, the
    // token is already cancelled: a cancellation thrown here would end the process with an unhandled exception, so it
    // is caught (disposing the providers flushes once more, within their own limits).
    public async Task StoppedAsync(CancellationToken cancellationToken)
    {
        var flush = Task.Run(() =>
        {
            this.tracerProvider?.ForceFlush(FlushTimeoutMilliseconds);
            this.meterProvider?.ForceFlush(FlushTimeoutMilliseconds);
            this.loggerProvider?.ForceFlush(FlushTimeoutMilliseconds);
        });
        try
        {
            await flush.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Out of time: the process ends without waiting for the collector.
        }
    }
}
