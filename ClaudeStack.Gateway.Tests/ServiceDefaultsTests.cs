using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using ClaudeStack.Gateway.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Xunit;

namespace ClaudeStack.Gateway.Tests;

/// <summary>
/// Drives AddServiceDefaults/MapDefaultEndpoints in a real Kestrel app exporting over OTLP/HTTP to a loopback
/// receiver. ActivityListeners and MeterListeners are process-wide, so other tests' telemetry may show up in
/// these receivers too: every assertion keys on a per-test marker or trace id.
/// </summary>
[Collection(ExportLimitCollection.Name)]
public sealed class ServiceDefaultsTests
{
    private const string ServiceName = "claudestack-servicedefaults-test";
    private const string ApiKeyHeader = "x-otlp-api-key";
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(20);
    private static readonly ActivitySource TestSource = new("ClaudeStack.Test");
    private static readonly Meter TestMeter = new("ClaudeStack.Test");
    private static readonly Counter<long> TestCounter = TestMeter.CreateCounter<long>("claudestack.test.marks");

    [Fact]
    public async Task OtlpEndpointConfigured_ExportsSpansWithHeaders()
    {
        var ct = TestContext.Current.CancellationToken;
        var apiKey = "key-" + Guid.NewGuid().ToString("N");
        await using var receiver = await OtlpReceiver.StartAsync(ct, new Dictionary<string, string> { [ApiKeyHeader] = apiKey });
        var marker = NewMarker();

        await using (var app = await TestApp.StartAsync(ExportingTo(receiver, apiKey), ct))
        {
            using (var activity = TestSource.StartActivity("test.operation", ActivityKind.Internal))
            {
                Assert.NotNull(activity);
                activity.SetTag("test.marker", marker);
                activity.SetTag("test.flag", true);
                activity.SetTag("test.count", 42);
                activity.SetTag("test.ratio", 0.5);
                activity.SetTag("test.list", new[] { "a", "b" });
                activity.AddEvent(new ActivityEvent("test.event", tags: new ActivityTagsCollection { ["event.detail"] = "d" }));
                activity.SetStatus(ActivityStatusCode.Error, "deliberate");
            }

            await app.StopAsync(ct);
        }

        var span = Assert.Single(await receiver.WaitForSpansAsync(
            s => s.Attributes.GetString("test.marker") == marker, timeout: WaitLimit, cancellationToken: ct));
        Assert.Equal("test.operation", span.Name);
        Assert.Equal("ClaudeStack.Test", span.ScopeName);
        Assert.Equal(OtlpSpanKind.Internal, span.Kind);
        Assert.Equal(OtlpStatusCode.Error, span.StatusCode);
        Assert.Equal("deliberate", span.StatusMessage);
        Assert.Null(span.ParentSpanId);
        Assert.Equal(32, span.TraceId.Length);
        Assert.Equal(16, span.SpanId.Length);
        Assert.True(span.Attributes.GetBool("test.flag"));
        Assert.Equal(42, span.Attributes.GetInt("test.count"));
        Assert.Equal(0.5, span.Attributes.GetDouble("test.ratio"));
        Assert.Equal(["a", "b"], span.Attributes.GetArray("test.list")!.Cast<string>());
        var spanEvent = Assert.Single(span.Events);
        Assert.Equal("test.event", spanEvent.Name);
        Assert.Equal("d", spanEvent.Attributes.GetString("event.detail"));

        // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES came from in-memory configuration, not the process environment.
        Assert.Equal(ServiceName, span.ServiceName);
        Assert.Equal("test", span.ResourceAttributes.GetString("deployment.environment.name"));

        // The receiver answers 401 without the header, so every accepted request proves the header was sent.
        Assert.Empty(receiver.RejectedRequests);
        Assert.All(receiver.Requests, r =>
        {
            Assert.Equal(apiKey, r.Headers[ApiKeyHeader]);
            Assert.Equal("application/x-protobuf", r.ContentType);
        });
        Assert.True(receiver.AnyBodyContains(marker));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task BatchOverTheDashboardsLimit_ArrivesWhole(bool grpc)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var receiver = await OtlpReceiver.StartAsync(ct);
        var marker = NewMarker();
        const int SpanCount = 24;
        // 24 spans of ~256 KB end together, so one batch of ~6 MB: as many model calls with their conversation
        // captured, from subagents ending at once.
        var payload = new string('x', 256 * 1024);

        await ExportLargeSpansAsync(receiver, grpc, marker, Enumerable.Repeat(payload, SpanCount), ct);

        var spans = await receiver.WaitForSpansAsync(
            s => s.Attributes.GetString("test.marker") == marker, count: SpanCount, timeout: WaitLimit, cancellationToken: ct);
        Assert.Equal(Enumerable.Range(0, SpanCount), spans.Select(s => (int)s.Attributes.GetInt("test.index")!.Value).Order());
        Assert.All(spans, s => Assert.Equal(payload, s.Attributes.GetString("test.payload")));
        Assert.All(spans, s => Assert.Equal(ServiceName, s.ServiceName));
        Assert.Empty(receiver.RejectedRequests);
        var traceRequests = receiver.Requests.Where(r => r.Signal == OtlpSignal.Traces).ToList();
        Assert.True(traceRequests.Count >= 2, $"{traceRequests.Count} trace export request(s)");
        Assert.All(traceRequests, r => Assert.InRange(r.Body.Length, 1, OtlpReceiver.MaxRequestBytes));
        Assert.All(traceRequests, r => Assert.Equal(grpc ? "application/grpc" : "application/x-protobuf", r.ContentType));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task SpanOverTheDashboardsLimit_IsTheOnlyOneOfItsBatchLost(bool grpc)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var receiver = await OtlpReceiver.StartAsync(ct);
        var marker = NewMarker();
        const int SpanCount = 12;
        const int OversizedIndex = 5;
        var payload = new string('x', 600 * 1024);

        // One span too large for any request the receiver accepts, among ordinary ones of the same batch.
        var payloads = Enumerable.Range(0, SpanCount).Select(index => index == OversizedIndex ? new string('h', OtlpReceiver.MaxRequestBytes + 1024) : payload);
        await ExportLargeSpansAsync(receiver, grpc, marker, payloads, ct);

        var spans = await receiver.WaitForSpansAsync(
            s => s.Attributes.GetString("test.marker") == marker, count: SpanCount - 1, timeout: WaitLimit, cancellationToken: ct);
        Assert.Equal(Enumerable.Range(0, SpanCount).Where(index => index != OversizedIndex), spans.Select(s => (int)s.Attributes.GetInt("test.index")!.Value).Order());
        // The receiver refused exactly the part holding the oversized span.
        Assert.Single(receiver.RejectedRequests);
    }

    /// <summary>Ends one span per payload (its index and the marker as attributes) at once, so they share an export batch.</summary>
    private static async Task ExportLargeSpansAsync(OtlpReceiver receiver, bool grpc, string marker, IEnumerable<string> payloads, CancellationToken ct)
    {
        await using var app = await TestApp.StartAsync(ExportingTo(receiver, grpc: grpc), ct);
        var index = 0;
        foreach (var payload in payloads)
        {
            using var activity = TestSource.StartActivity("test.large");
            Assert.NotNull(activity);
            activity.SetTag("test.marker", marker);
            activity.SetTag("test.index", index++);
            activity.SetTag("test.payload", payload);
        }

        await app.StopAsync(ct);
    }

    [Fact]
    public async Task OtlpEndpointConfigured_ExportsLogsCorrelatedWithSpans()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var receiver = await OtlpReceiver.StartAsync(ct);
        var marker = NewMarker();
        string traceId;

        await using (var app = await TestApp.StartAsync(ExportingTo(receiver), ct))
        {
            var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("ClaudeStack.Test.Logs");
            using (var activity = TestSource.StartActivity("test.logging"))
            {
                Assert.NotNull(activity);
                traceId = activity.TraceId.ToHexString();
                using (logger.BeginScope(new Dictionary<string, object> { ["test.scope"] = "scoped" }))
                {
                    logger.LogWarning("Marker {Marker} logged", marker);
                }
            }

            await app.StopAsync(ct);
        }

        var log = Assert.Single(await receiver.WaitForLogsAsync(
            l => l.Attributes.GetString("Marker") == marker, timeout: WaitLimit, cancellationToken: ct));
        Assert.Equal($"Marker {marker} logged", log.Body);
        Assert.Equal("ClaudeStack.Test.Logs", log.CategoryName);
        Assert.Equal(13, log.SeverityNumber); // WARN
        Assert.Equal("scoped", log.Attributes.GetString("test.scope"));
        Assert.Equal(traceId, log.TraceId);
        Assert.Equal(ServiceName, log.ServiceName);

        await receiver.WaitForSpansAsync(s => s.TraceId == traceId, timeout: WaitLimit, cancellationToken: ct);
    }

    [Fact]
    public async Task OtlpEndpointConfigured_ExportsProjectAndBuiltInMetrics()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var receiver = await OtlpReceiver.StartAsync(ct);

        await using (var app = await TestApp.StartAsync(ExportingTo(receiver), ct))
        {
            TestCounter.Add(1);
            using var response = await app.Client.GetAsync(new Uri("/ping/1", UriKind.Relative), ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            await app.StopAsync(ct);
        }

        await receiver.WaitForMetricsAsync(
            m => m.Name == "claudestack.test.marks" && m.ServiceName == ServiceName, timeout: WaitLimit, cancellationToken: ct);
        await receiver.WaitForMetricsAsync(
            m => m.Name == "http.server.request.duration" && m.ScopeName == "Microsoft.AspNetCore.Hosting",
            timeout: WaitLimit,
            cancellationToken: ct);
        await receiver.WaitForMetricsAsync(m => m.ScopeName == "System.Runtime", timeout: WaitLimit, cancellationToken: ct);
    }

    [Fact]
    public async Task HealthEndpoints_AnswerOkAndStayOutOfTraces()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var receiver = await OtlpReceiver.StartAsync(ct);
        string traceId;

        await using (var app = await TestApp.StartAsync(ExportingTo(receiver), ct))
        {
            // One parent span ties this test's client and server spans into a single trace.
            using (var root = TestSource.StartActivity("test.probes"))
            {
                Assert.NotNull(root);
                traceId = root.TraceId.ToHexString();
                foreach (var path in new[] { "/health", "/alive" })
                {
                    using var probe = await app.Client.GetAsync(new Uri(path, UriKind.Relative), ct);
                    Assert.Equal(HttpStatusCode.OK, probe.StatusCode);
                    Assert.Equal("Healthy", await probe.Content.ReadAsStringAsync(ct));
                }

                using var ping = await app.Client.GetAsync(new Uri("/ping/7?token=query-secret", UriKind.Relative), ct);
                Assert.Equal(HttpStatusCode.OK, ping.StatusCode);
            }

            await app.StopAsync(ct);
        }

        var server = Assert.Single(await receiver.WaitForSpansAsync(
            s => s.TraceId == traceId && s.Kind == OtlpSpanKind.Server, timeout: WaitLimit, cancellationToken: ct));
        Assert.Equal("GET /ping/{id}", server.Name);
        Assert.Equal("Microsoft.AspNetCore", server.ScopeName);
        Assert.Equal("/ping/{id}", server.Attributes.GetString("http.route"));
        Assert.Equal("/ping/7", server.Attributes.GetString("url.path"));
        Assert.Equal(200, server.Attributes.GetInt("http.response.status_code"));
        Assert.Equal("GET", server.Attributes.GetString("http.request.method"));
        Assert.Equal("1.1", server.Attributes.GetString("network.protocol.version"));
        Assert.DoesNotContain(server.Attributes.Values, value => value?.ToString()?.Contains("query-secret", StringComparison.Ordinal) == true);

        // The three client spans (System.Net.Http) are the parents of the server spans that would exist.
        var clients = await receiver.WaitForSpansAsync(
            s => s.TraceId == traceId && s.Kind == OtlpSpanKind.Client, count: 3, timeout: WaitLimit, cancellationToken: ct);
        Assert.Contains(clients, c => c.SpanId == server.ParentSpanId);
        Assert.DoesNotContain(receiver.Spans, s => s.TraceId == traceId && s.Kind == OtlpSpanKind.Server &&
            s.Attributes.GetString("url.path") is "/health" or "/alive");
    }

    [Theory]
    [InlineData(null, 5)]
    [InlineData("2", 2)]
    [InlineData("30", 30)]
    public void ShutdownTimeout_EndsWithinDockersGracePeriod_UnlessSet(string? setting, int seconds)
    {
        // docker stop kills 10 s after SIGTERM: the host's own 30 s would lose the telemetry flush that follows it.
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { [ServiceDefaultsExtensions.ShutdownTimeoutKey] = setting });
        builder.AddServiceDefaults();

        using var app = builder.Build();
        var options = app.Services.GetRequiredService<IOptions<HostOptions>>().Value;

        Assert.Equal(TimeSpan.FromSeconds(seconds), options.ShutdownTimeout);
    }

    [Fact]
    public async Task NoOtlpEndpoint_ExportsNothingAndAppStillRuns()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var receiver = await OtlpReceiver.StartAsync(ct);
        var settings = ExportingTo(receiver);
        settings["OTEL_EXPORTER_OTLP_ENDPOINT"] = string.Empty;
        // Signal-specific endpoints alone would be honoured by the exporter if it were registered: they must not be.
        settings["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = new Uri(receiver.Endpoint, OtlpReceiver.TracesPath).ToString();
        settings["OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"] = new Uri(receiver.Endpoint, OtlpReceiver.LogsPath).ToString();
        settings["OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"] = new Uri(receiver.Endpoint, OtlpReceiver.MetricsPath).ToString();

        await using (var app = await TestApp.StartAsync(settings, ct))
        {
            // Nowhere to export to: nothing is recorded at all, so telemetry costs nothing per request.
            Assert.Null(app.Services.GetService<TracerProvider>());
            Assert.Null(app.Services.GetService<MeterProvider>());
            Assert.Null(app.Services.GetService<LoggerProvider>());

            using (TestSource.StartActivity("test.unexported"))
            {
                app.Services.GetRequiredService<ILogger<ServiceDefaultsTests>>().LogInformation("Not exported");
                TestCounter.Add(1);
            }

            using var health = await app.Client.GetAsync(new Uri("/health", UriKind.Relative), ct);
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
            using var ping = await app.Client.GetAsync(new Uri("/ping/1", UriKind.Relative), ct);
            Assert.Equal(HttpStatusCode.OK, ping.StatusCode);

            // Stopping flushes every provider synchronously, so anything that was going to be sent has been.
            await app.StopAsync(ct);
        }

        Assert.Empty(receiver.Requests);
        Assert.Empty(receiver.RejectedRequests);
    }

    [Fact]
    public async Task NoServiceNameConfigured_FallsBackToApplicationName()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var receiver = await OtlpReceiver.StartAsync(ct);
        var settings = ExportingTo(receiver);
        settings["OTEL_SERVICE_NAME"] = string.Empty;
        var marker = NewMarker();
        string applicationName;

        await using (var app = await TestApp.StartAsync(settings, ct))
        {
            applicationName = app.Services.GetRequiredService<IHostEnvironment>().ApplicationName;
            using (var activity = TestSource.StartActivity("test.fallback"))
            {
                activity?.SetTag("test.marker", marker);
            }

            await app.StopAsync(ct);
        }

        var span = Assert.Single(await receiver.WaitForSpansAsync(
            s => s.Attributes.GetString("test.marker") == marker, timeout: WaitLimit, cancellationToken: ct));
        Assert.Equal(applicationName, span.ServiceName);
        Assert.False(string.IsNullOrEmpty(span.ResourceAttributes.GetString("service.instance.id")));
        Assert.Equal("test", span.ResourceAttributes.GetString("deployment.environment.name"));
    }

    [Fact]
    public async Task AddServiceDefaultsCalledTwice_StartsAndExportsOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var receiver = await OtlpReceiver.StartAsync(ct);
        var marker = NewMarker();

        await using (var app = await TestApp.StartAsync(ExportingTo(receiver), ct, configure: b => b.AddServiceDefaults()))
        {
            using (var activity = TestSource.StartActivity("test.twice"))
            {
                activity?.SetTag("test.marker", marker);
            }

            await app.StopAsync(ct);
        }

        var spans = await receiver.WaitForSpansAsync(
            s => s.Attributes.GetString("test.marker") == marker, timeout: WaitLimit, cancellationToken: ct);
        Assert.Single(spans);
    }

    private static string NewMarker() => Guid.NewGuid().ToString("N");

    private static Dictionary<string, string?> ExportingTo(OtlpReceiver receiver, string? apiKey = null, bool grpc = false)
    {
        var settings = receiver.ExporterSettings(ServiceName, apiKey is null ? string.Empty : $"{ApiKeyHeader}={apiKey}", grpc);
        settings["OTEL_RESOURCE_ATTRIBUTES"] = "deployment.environment.name=test";
        return settings;
    }

    /// <summary>A minimal service: AddServiceDefaults, MapDefaultEndpoints and one routed endpoint.</summary>
    private sealed class TestApp : IAsyncDisposable
    {
        private readonly WebApplication app;

        private TestApp(WebApplication app, HttpClient client)
        {
            this.app = app;
            this.Client = client;
        }

        public HttpClient Client { get; }

        public IServiceProvider Services => this.app.Services;

        public static async Task<TestApp> StartAsync(
            Dictionary<string, string?> settings,
            CancellationToken cancellationToken,
            Action<WebApplicationBuilder>? configure = null)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.Configuration.AddInMemoryCollection(settings);
            builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
            builder.AddServiceDefaults();
            configure?.Invoke(builder);

            var app = builder.Build();
            app.MapDefaultEndpoints();
            app.MapGet("/ping/{id}", (string id) => $"pong {id}");
            await app.StartAsync(cancellationToken);

            var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>()
                .Addresses.Single();
            return new TestApp(app, new HttpClient { BaseAddress = new Uri(address), Timeout = WaitLimit });
        }

        public Task StopAsync(CancellationToken cancellationToken) => this.app.StopAsync(cancellationToken);

        public async ValueTask DisposeAsync()
        {
            this.Client.Dispose();
            await this.app.DisposeAsync();
        }
    }
}
