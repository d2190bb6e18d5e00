using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ClaudeStack.Gateway.Tests.Support;

/// <summary>
/// A loopback OTLP collector for tests, over HTTP (protobuf) and gRPC: real Kestrel on 127.0.0.1 with ephemeral ports.
/// Every accepted body is kept raw (so tests can search the exported bytes for secrets) and trace, log and
/// metric export requests are decoded into plain records. Like the Aspire dashboard it refuses a request over 4 MiB
/// (on OTLP/HTTP with 400, on gRPC with RESOURCE_EXHAUSTED, gRPC's default receive limit).
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    public const string TracesPath = "/v1/traces";
    public const string MetricsPath = "/v1/metrics";
    public const string LogsPath = "/v1/logs";
    public const int MaxRequestBytes = 4 * 1024 * 1024;

    private const string GrpcTracesPath = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
    private const string GrpcMetricsPath = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
    private const string GrpcLogsPath = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
    private const int GrpcFrameHeaderBytes = 5;

    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    private readonly Lock gate = new();
    private readonly List<OtlpExportRequest> requests = [];
    private readonly List<OtlpExportRequest> rejected = [];
    private readonly List<OtlpSpan> spans = [];
    private readonly List<OtlpLogRecord> logs = [];
    private readonly List<OtlpMetric> metrics = [];
    private readonly IReadOnlyDictionary<string, string> requiredHeaders;
    private TaskCompletionSource changed = NewSignal();
    private WebApplication? app;

    private OtlpReceiver(IReadOnlyDictionary<string, string>? requiredHeaders)
    {
        this.requiredHeaders = requiredHeaders ?? new Dictionary<string, string>();
    }

    /// <summary>Base address to give an OTLP/HTTP exporter, e.g. <c>http://127.0.0.1:54321</c> (no signal path).</summary>
    public Uri Endpoint { get; private set; } = null!;

    /// <summary>Address to give an OTLP/gRPC exporter: HTTP/2 without TLS.</summary>
    public Uri GrpcEndpoint { get; private set; } = null!;

    /// <summary>
    /// Configuration that makes a ServiceDefaults app export every signal here and nowhere else. Every OTLP key is set
    /// explicitly so that values in the test process's environment cannot leak in; callers add their own settings.
    /// </summary>
    public Dictionary<string, string?> ExporterSettings(string serviceName, string headers = "", bool grpc = false) => new()
    {
        ["OTEL_EXPORTER_OTLP_ENDPOINT"] = (grpc ? this.GrpcEndpoint : this.Endpoint).ToString(),
        ["OTEL_EXPORTER_OTLP_PROTOCOL"] = grpc ? "grpc" : "http/protobuf",
        ["OTEL_EXPORTER_OTLP_HEADERS"] = headers,
        ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = string.Empty,
        ["OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"] = string.Empty,
        ["OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"] = string.Empty,
        ["OTEL_SERVICE_NAME"] = serviceName,
        ["OTEL_SDK_DISABLED"] = "false",
    };

    /// <summary>Accepted export requests, in arrival order.</summary>
    public IReadOnlyList<OtlpExportRequest> Requests => this.Snapshot(this.requests);

    /// <summary>Requests refused because a required header was missing or wrong, or because they were too large.</summary>
    public IReadOnlyList<OtlpExportRequest> RejectedRequests => this.Snapshot(this.rejected);

    public IReadOnlyList<OtlpSpan> Spans => this.Snapshot(this.spans);

    public IReadOnlyList<OtlpLogRecord> Logs => this.Snapshot(this.logs);

    public IReadOnlyList<OtlpMetric> Metrics => this.Snapshot(this.metrics);

    /// <summary>
    /// Starts listening. When <paramref name="requiredHeaders"/> is given, requests lacking any of those
    /// header values are refused (401, or UNAUTHENTICATED over gRPC) and recorded only in <see cref="RejectedRequests"/>.
    /// </summary>
    public static async Task<OtlpReceiver> StartAsync(
        CancellationToken cancellationToken,
        IReadOnlyDictionary<string, string>? requiredHeaders = null)
    {
        var receiver = new OtlpReceiver(requiredHeaders);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, 0);
            // gRPC without TLS is HTTP/2 with prior knowledge, which an endpoint also speaking HTTP/1.1 cannot offer.
            kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2);
        });
        // The app under test listens to the process-wide "Microsoft.AspNetCore" source; giving this server its own
        // unlistened source keeps the receiver's requests out of the exported traces (and out of a feedback loop).
        builder.Services.AddSingleton(new ActivitySource("OtlpReceiver.Hosting"));

        var app = builder.Build();
        app.MapPost(TracesPath, context => receiver.ReceiveAsync(context, OtlpSignal.Traces));
        app.MapPost(MetricsPath, context => receiver.ReceiveAsync(context, OtlpSignal.Metrics));
        app.MapPost(LogsPath, context => receiver.ReceiveAsync(context, OtlpSignal.Logs));
        app.MapPost(GrpcTracesPath, context => receiver.ReceiveGrpcAsync(context, OtlpSignal.Traces));
        app.MapPost(GrpcMetricsPath, context => receiver.ReceiveGrpcAsync(context, OtlpSignal.Metrics));
        app.MapPost(GrpcLogsPath, context => receiver.ReceiveGrpcAsync(context, OtlpSignal.Logs));
        await app.StartAsync(cancellationToken);

        receiver.app = app;
        // Kestrel lists the addresses in the order the endpoints were configured.
        var addresses = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>()
            .Addresses.Select(address => new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal))).ToList();
        receiver.Endpoint = addresses[0];
        receiver.GrpcEndpoint = addresses[1];
        return receiver;
    }

    /// <summary>True if any accepted body contains <paramref name="text"/> as UTF-8 bytes.</summary>
    public bool AnyBodyContains(string text)
    {
        var needle = Encoding.UTF8.GetBytes(text);
        return this.Requests.Any(r => r.Body.AsSpan().IndexOf(needle) >= 0);
    }

    public Task<IReadOnlyList<OtlpSpan>> WaitForSpansAsync(
        Func<OtlpSpan, bool> predicate,
        int count = 1,
        TimeSpan? timeout = null,
        CancellationToken cancellationToken = default) =>
        this.WaitForAsync(this.spans, predicate, count, timeout, "spans", s => $"{s.Name} [{s.ScopeName}]", cancellationToken);

    public Task<IReadOnlyList<OtlpLogRecord>> WaitForLogsAsync(
        Func<OtlpLogRecord, bool> predicate,
        int count = 1,
        TimeSpan? timeout = null,
        CancellationToken cancellationToken = default) =>
        this.WaitForAsync(this.logs, predicate, count, timeout, "log records", l => $"{l.CategoryName}: {l.Body}", cancellationToken);

    public Task<IReadOnlyList<OtlpMetric>> WaitForMetricsAsync(
        Func<OtlpMetric, bool> predicate,
        int count = 1,
        TimeSpan? timeout = null,
        CancellationToken cancellationToken = default) =>
        this.WaitForAsync(this.metrics, predicate, count, timeout, "metrics", m => m.Name, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (this.app is { } running)
        {
            this.app = null;
            await running.StopAsync(CancellationToken.None);
            await running.DisposeAsync();
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private IReadOnlyList<T> Snapshot<T>(List<T> source)
    {
        lock (this.gate)
        {
            return [.. source];
        }
    }

    private async Task<IReadOnlyList<T>> WaitForAsync<T>(
        List<T> source,
        Func<T, bool> predicate,
        int count,
        TimeSpan? timeout,
        string what,
        Func<T, string> describe,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        var deadline = Stopwatch.StartNew();
        var limit = timeout ?? DefaultTimeout;
        while (true)
        {
            Task next;
            List<T> matches;
            lock (this.gate)
            {
                matches = source.Where(predicate).ToList();
                next = this.changed.Task;
            }

            if (matches.Count >= count)
            {
                return matches;
            }

            var remaining = limit - deadline.Elapsed;
            try
            {
                if (remaining <= TimeSpan.Zero)
                {
                    throw new TimeoutException();
                }

                await next.WaitAsync(remaining, cancellationToken);
            }
            catch (TimeoutException)
            {
                List<string> seen;
                lock (this.gate)
                {
                    seen = source.Select(describe).ToList();
                }

                throw new TimeoutException(
                    $"Waited {limit} for {count} matching {what} but found {matches.Count}. " +
                    $"Received {seen.Count}: [{string.Join("; ", seen)}]; rejected requests: {this.RejectedRequests.Count}.");
            }
        }
    }

    private async Task ReceiveAsync(HttpContext context, OtlpSignal signal)
    {
        var body = await ReadBodyAsync(context.Request, context.RequestAborted);
        var request = new OtlpExportRequest(signal, context.Request.ContentType, HeadersOf(context), body);
        if (!this.Authorized(request))
        {
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            return;
        }

        if (!string.Equals(context.Request.ContentType, "application/x-protobuf", StringComparison.OrdinalIgnoreCase))
        {
            context.Response.StatusCode = StatusCodes.Status415UnsupportedMediaType;
            return;
        }

        // 400 for a malformed body and, as the Aspire dashboard answers, for one over the limit.
        context.Response.StatusCode = this.Accept(request) == Outcome.Accepted
            ? StatusCodes.Status200OK
            : StatusCodes.Status400BadRequest;

        // An empty Export*ServiceResponse message is a zero-length protobuf body: full success.
        context.Response.ContentType = "application/x-protobuf";
    }

    private async Task ReceiveGrpcAsync(HttpContext context, OtlpSignal signal)
    {
        const string Ok = "0", ResourceExhausted = "8", Internal = "13", Unauthenticated = "16";
        var framed = await ReadBodyAsync(context.Request, context.RequestAborted);
        context.Response.ContentType = "application/grpc";

        // One uncompressed message: flag byte 0, then its length (big-endian), then the message.
        if (framed.Length < GrpcFrameHeaderBytes || framed[0] != 0 ||
            BinaryPrimitives.ReadUInt32BigEndian(framed.AsSpan(1)) != framed.Length - GrpcFrameHeaderBytes)
        {
            context.Response.AppendTrailer("grpc-status", Internal);
            return;
        }

        var request = new OtlpExportRequest(signal, context.Request.ContentType, HeadersOf(context), framed[GrpcFrameHeaderBytes..]);
        if (!this.Authorized(request))
        {
            context.Response.AppendTrailer("grpc-status", Unauthenticated);
            return;
        }

        switch (this.Accept(request))
        {
            case Outcome.Accepted:
                // An empty Export*ServiceResponse in one frame.
                await context.Response.Body.WriteAsync(new byte[GrpcFrameHeaderBytes], context.RequestAborted);
                context.Response.AppendTrailer("grpc-status", Ok);
                break;
            case Outcome.TooLarge:
                // What ASP.NET Core's gRPC server answers a message over its MaxReceiveMessageSize.
                context.Response.AppendTrailer("grpc-status", ResourceExhausted);
                context.Response.AppendTrailer("grpc-message", "Received message exceeds the maximum configured message size.");
                break;
            default:
                context.Response.AppendTrailer("grpc-status", Internal);
                break;
        }
    }

    private static Dictionary<string, string> HeadersOf(HttpContext context) =>
        context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);

    private bool Authorized(OtlpExportRequest request)
    {
        var authorized = this.requiredHeaders.All(
            required => request.Headers.TryGetValue(required.Key, out var actual) && actual == required.Value);
        if (!authorized)
        {
            this.Reject(request);
        }

        return authorized;
    }

    private void Reject(OtlpExportRequest request)
    {
        lock (this.gate)
        {
            this.rejected.Add(request);
            this.Signal();
        }
    }

    private Outcome Accept(OtlpExportRequest request)
    {
        if (request.Body.Length > MaxRequestBytes)
        {
            this.Reject(request);
            return Outcome.TooLarge;
        }

        // Decoded outside the lock; a malformed body fails the request rather than the test process.
        List<OtlpSpan> newSpans = [];
        List<OtlpLogRecord> newLogs = [];
        List<OtlpMetric> newMetrics = [];
        try
        {
            switch (request.Signal)
            {
                case OtlpSignal.Traces:
                    newSpans = OtlpDecoder.DecodeTraces(request.Body);
                    break;
                case OtlpSignal.Logs:
                    newLogs = OtlpDecoder.DecodeLogs(request.Body);
                    break;
                case OtlpSignal.Metrics:
                    newMetrics = OtlpDecoder.DecodeMetrics(request.Body);
                    break;
            }
        }
        catch (InvalidDataException)
        {
            return Outcome.Malformed;
        }

        lock (this.gate)
        {
            this.requests.Add(request);
            this.spans.AddRange(newSpans);
            this.logs.AddRange(newLogs);
            this.metrics.AddRange(newMetrics);
            this.Signal();
        }

        return Outcome.Accepted;
    }

    private enum Outcome
    {
        Accepted,
        TooLarge,
        Malformed,
    }

    // Caller holds the gate: wakes every waiter, which then re-evaluates its predicate.
    private void Signal()
    {
        var previous = this.changed;
        this.changed = NewSignal();
        previous.TrySetResult();
    }

    private static async Task<byte[]> ReadBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        // Stored decompressed so that searching for secrets works whatever compression the exporter chose.
        if (string.Equals(request.Headers.ContentEncoding, "gzip", StringComparison.OrdinalIgnoreCase))
        {
            await using var gzip = new GZipStream(request.Body, CompressionMode.Decompress);
            await gzip.CopyToAsync(buffer, cancellationToken);
        }
        else
        {
            await request.Body.CopyToAsync(buffer, cancellationToken);
        }

        return buffer.ToArray();
    }
}

public enum OtlpSignal
{
    Traces,
    Metrics,
    Logs,
}

/// <summary>One accepted (or rejected) export POST, with its body as received (after any gzip).</summary>
public sealed record OtlpExportRequest(
    OtlpSignal Signal,
    string? ContentType,
    IReadOnlyDictionary<string, string> Headers,
    byte[] Body);

public enum OtlpSpanKind
{
    Unspecified = 0,
    Internal = 1,
    Server = 2,
    Client = 3,
    Producer = 4,
    Consumer = 5,
}

public enum OtlpStatusCode
{
    Unset = 0,
    Ok = 1,
    Error = 2,
}

/// <summary>
/// Attribute values are <see cref="string"/>, <see cref="bool"/>, <see cref="long"/>, <see cref="double"/>,
/// <see cref="byte"/>[] , <c>IReadOnlyList&lt;object?&gt;</c> (arrays) or
/// <c>IReadOnlyDictionary&lt;string, object?&gt;</c> (key-value lists).
/// </summary>
public sealed class OtlpAttributes : Dictionary<string, object?>
{
    public OtlpAttributes()
        : base(StringComparer.Ordinal)
    {
    }

    public string? GetString(string key) => this.TryGetValue(key, out var value) ? value as string : null;

    public long? GetInt(string key) => this.TryGetValue(key, out var value) && value is long number ? number : null;

    public bool? GetBool(string key) => this.TryGetValue(key, out var value) && value is bool flag ? flag : null;

    public double? GetDouble(string key) => this.TryGetValue(key, out var value) && value is double number ? number : null;

    public IReadOnlyList<object?>? GetArray(string key) =>
        this.TryGetValue(key, out var value) ? value as IReadOnlyList<object?> : null;
}

public sealed record OtlpSpanEvent(string Name, OtlpAttributes Attributes);

public sealed record OtlpSpan(
    string Name,
    string TraceId,
    string SpanId,
    string? ParentSpanId,
    OtlpSpanKind Kind,
    OtlpStatusCode StatusCode,
    string? StatusMessage,
    OtlpAttributes Attributes,
    IReadOnlyList<OtlpSpanEvent> Events,
    string ScopeName,
    OtlpAttributes ResourceAttributes)
{
    public string? ServiceName => this.ResourceAttributes.GetString("service.name");
}

public sealed record OtlpLogRecord(
    string? Body,
    int SeverityNumber,
    string? SeverityText,
    string? EventName,
    OtlpAttributes Attributes,
    string? TraceId,
    string? SpanId,
    string CategoryName,
    OtlpAttributes ResourceAttributes)
{
    public string? ServiceName => this.ResourceAttributes.GetString("service.name");
}

public sealed record OtlpMetric(string Name, string? Unit, string ScopeName, OtlpAttributes ResourceAttributes)
{
    public string? ServiceName => this.ResourceAttributes.GetString("service.name");
}

/// <summary>Maps the OTLP collector protos (opentelemetry/proto v1) onto the records above.</summary>
internal static class OtlpDecoder
{
    public static List<OtlpSpan> DecodeTraces(byte[] body)
    {
        List<OtlpSpan> result = [];
        // ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
        foreach (var resourceSpans in Messages(body, 1))
        {
            // ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
            var resource = DecodeResource(resourceSpans);
            foreach (var scopeSpans in Messages(resourceSpans, 2))
            {
                // ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; }
                var scopeName = DecodeScopeName(scopeSpans);
                foreach (var span in Messages(scopeSpans, 2))
                {
                    result.Add(DecodeSpan(span, scopeName, resource));
                }
            }
        }

        return result;
    }

    public static List<OtlpLogRecord> DecodeLogs(byte[] body)
    {
        List<OtlpLogRecord> result = [];
        // ExportLogsServiceRequest { repeated ResourceLogs resource_logs = 1; }
        foreach (var resourceLogs in Messages(body, 1))
        {
            var resource = DecodeResource(resourceLogs);
            foreach (var scopeLogs in Messages(resourceLogs, 2))
            {
                var scopeName = DecodeScopeName(scopeLogs);
                foreach (var record in Messages(scopeLogs, 2))
                {
                    result.Add(DecodeLogRecord(record, scopeName, resource));
                }
            }
        }

        return result;
    }

    public static List<OtlpMetric> DecodeMetrics(byte[] body)
    {
        List<OtlpMetric> result = [];
        // ExportMetricsServiceRequest { repeated ResourceMetrics resource_metrics = 1; }
        foreach (var resourceMetrics in Messages(body, 1))
        {
            var resource = DecodeResource(resourceMetrics);
            foreach (var scopeMetrics in Messages(resourceMetrics, 2))
            {
                var scopeName = DecodeScopeName(scopeMetrics);
                foreach (var metric in Messages(scopeMetrics, 2))
                {
                    // Metric { string name = 1; string description = 2; string unit = 3; ...data }
                    string name = string.Empty;
                    string? unit = null;
                    var reader = new ProtobufReader(metric);
                    while (reader.TryReadTag(out var field, out var wireType))
                    {
                        switch (field)
                        {
                            case 1: name = reader.ReadString(); break;
                            case 3: unit = reader.ReadString(); break;
                            default: reader.Skip(wireType); break;
                        }
                    }

                    result.Add(new OtlpMetric(name, unit, scopeName, resource));
                }
            }
        }

        return result;
    }

    private static OtlpSpan DecodeSpan(ReadOnlyMemory<byte> span, string scopeName, OtlpAttributes resource)
    {
        string traceId = string.Empty, spanId = string.Empty, name = string.Empty;
        string? parentSpanId = null, statusMessage = null;
        var kind = OtlpSpanKind.Unspecified;
        var statusCode = OtlpStatusCode.Unset;
        var attributes = new OtlpAttributes();
        List<OtlpSpanEvent> events = [];

        var reader = new ProtobufReader(span);
        while (reader.TryReadTag(out var field, out var wireType))
        {
            switch (field)
            {
                case 1: traceId = Hex(reader.ReadBytes()); break;
                case 2: spanId = Hex(reader.ReadBytes()); break;
                case 4:
                    var parent = reader.ReadBytes();
                    parentSpanId = parent.IsEmpty ? null : Hex(parent);
                    break;
                case 5: name = reader.ReadString(); break;
                case 6: kind = (OtlpSpanKind)reader.ReadVarint(); break;
                case 9: AddKeyValue(attributes, reader.ReadBytes()); break;
                case 11: events.Add(DecodeEvent(reader.ReadBytes())); break;
                case 15:
                    // Status { string message = 2; StatusCode code = 3; }
                    var status = new ProtobufReader(reader.ReadBytes());
                    while (status.TryReadTag(out var statusField, out var statusWire))
                    {
                        switch (statusField)
                        {
                            case 2: statusMessage = status.ReadString(); break;
                            case 3: statusCode = (OtlpStatusCode)status.ReadVarint(); break;
                            default: status.Skip(statusWire); break;
                        }
                    }

                    break;
                default: reader.Skip(wireType); break;
            }
        }

        return new OtlpSpan(
            name, traceId, spanId, parentSpanId, kind, statusCode, statusMessage, attributes, events, scopeName, resource);
    }

    private static OtlpSpanEvent DecodeEvent(ReadOnlyMemory<byte> spanEvent)
    {
        // Event { fixed64 time_unix_nano = 1; string name = 2; repeated KeyValue attributes = 3; }
        var name = string.Empty;
        var attributes = new OtlpAttributes();
        var reader = new ProtobufReader(spanEvent);
        while (reader.TryReadTag(out var field, out var wireType))
        {
            switch (field)
            {
                case 2: name = reader.ReadString(); break;
                case 3: AddKeyValue(attributes, reader.ReadBytes()); break;
                default: reader.Skip(wireType); break;
            }
        }

        return new OtlpSpanEvent(name, attributes);
    }

    private static OtlpLogRecord DecodeLogRecord(ReadOnlyMemory<byte> record, string scopeName, OtlpAttributes resource)
    {
        // LogRecord { severity_number = 2; severity_text = 3; AnyValue body = 5; attributes = 6;
        //             trace_id = 9; span_id = 10; event_name = 12; }
        string? body = null, severityText = null, traceId = null, spanId = null, eventName = null;
        var severity = 0;
        var attributes = new OtlpAttributes();
        var reader = new ProtobufReader(record);
        while (reader.TryReadTag(out var field, out var wireType))
        {
            switch (field)
            {
                case 2: severity = (int)reader.ReadVarint(); break;
                case 3: severityText = reader.ReadString(); break;
                case 5: body = DecodeAnyValue(reader.ReadBytes())?.ToString(); break;
                case 6: AddKeyValue(attributes, reader.ReadBytes()); break;
                case 9: traceId = NullIfEmpty(reader.ReadBytes()); break;
                case 10: spanId = NullIfEmpty(reader.ReadBytes()); break;
                case 12: eventName = reader.ReadString(); break;
                default: reader.Skip(wireType); break;
            }
        }

        return new OtlpLogRecord(body, severity, severityText, eventName, attributes, traceId, spanId, scopeName, resource);

        static string? NullIfEmpty(ReadOnlyMemory<byte> id) => id.IsEmpty ? null : Hex(id);
    }

    private static OtlpAttributes DecodeResource(ReadOnlyMemory<byte> parent)
    {
        // Resource { repeated KeyValue attributes = 1; }
        var attributes = new OtlpAttributes();
        foreach (var resource in Messages(parent, 1))
        {
            foreach (var keyValue in Messages(resource, 1))
            {
                AddKeyValue(attributes, keyValue);
            }
        }

        return attributes;
    }

    private static string DecodeScopeName(ReadOnlyMemory<byte> parent)
    {
        // InstrumentationScope { string name = 1; string version = 2; }
        foreach (var scope in Messages(parent, 1))
        {
            var reader = new ProtobufReader(scope);
            while (reader.TryReadTag(out var field, out var wireType))
            {
                if (field == 1)
                {
                    return reader.ReadString();
                }

                reader.Skip(wireType);
            }
        }

        return string.Empty;
    }

    private static void AddKeyValue(Dictionary<string, object?> target, ReadOnlyMemory<byte> keyValue)
    {
        // KeyValue { string key = 1; AnyValue value = 2; }
        var key = string.Empty;
        object? value = null;
        var reader = new ProtobufReader(keyValue);
        while (reader.TryReadTag(out var field, out var wireType))
        {
            switch (field)
            {
                case 1: key = reader.ReadString(); break;
                case 2: value = DecodeAnyValue(reader.ReadBytes()); break;
                default: reader.Skip(wireType); break;
            }
        }

        target[key] = value;
    }

    private static object? DecodeAnyValue(ReadOnlyMemory<byte> anyValue)
    {
        // AnyValue { oneof { string = 1; bool = 2; int64 = 3; double = 4; ArrayValue = 5; KeyValueList = 6; bytes = 7; } }
        object? value = null;
        var reader = new ProtobufReader(anyValue);
        while (reader.TryReadTag(out var field, out var wireType))
        {
            switch (field)
            {
                case 1: value = reader.ReadString(); break;
                case 2: value = reader.ReadVarint() != 0; break;
                case 3: value = (long)reader.ReadVarint(); break;
                case 4: value = BitConverter.UInt64BitsToDouble(reader.ReadFixed64()); break;
                case 5:
                    // ArrayValue { repeated AnyValue values = 1; }
                    value = Messages(reader.ReadBytes(), 1).Select(DecodeAnyValue).ToList();
                    break;
                case 6:
                    // KeyValueList { repeated KeyValue values = 1; }
                    var map = new Dictionary<string, object?>(StringComparer.Ordinal);
                    foreach (var keyValue in Messages(reader.ReadBytes(), 1))
                    {
                        AddKeyValue(map, keyValue);
                    }

                    value = map;
                    break;
                case 7: value = reader.ReadBytes().ToArray(); break;
                default: reader.Skip(wireType); break;
            }
        }

        return value;
    }

    private static List<ReadOnlyMemory<byte>> Messages(ReadOnlyMemory<byte> message, int fieldNumber)
    {
        List<ReadOnlyMemory<byte>> result = [];
        var reader = new ProtobufReader(message);
        while (reader.TryReadTag(out var field, out var wireType))
        {
            if (field == fieldNumber && wireType == ProtobufReader.LengthDelimited)
            {
                result.Add(reader.ReadBytes());
            }
            else
            {
                reader.Skip(wireType);
            }
        }

        return result;
    }

    private static string Hex(ReadOnlyMemory<byte> bytes) => Convert.ToHexStringLower(bytes.Span);
}

/// <summary>
/// Minimal protobuf wire-format reader: varints, 64/32-bit fixed and length-delimited fields. Anything
/// malformed throws <see cref="InvalidDataException"/>.
/// </summary>
internal struct ProtobufReader(ReadOnlyMemory<byte> buffer)
{
    public const int Varint = 0;
    public const int Fixed64 = 1;
    public const int LengthDelimited = 2;
    public const int Fixed32 = 5;

    private int position;

    public bool TryReadTag(out int fieldNumber, out int wireType)
    {
        if (this.position >= buffer.Length)
        {
            fieldNumber = 0;
            wireType = 0;
            return false;
        }

        var tag = this.ReadVarint();
        fieldNumber = checked((int)(tag >> 3));
        wireType = (int)(tag & 7);
        if (fieldNumber == 0)
        {
            throw new InvalidDataException("Protobuf field number 0 is invalid.");
        }

        return true;
    }

    public ulong ReadVarint()
    {
        ulong result = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            var b = this.ReadByte();
            result |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return result;
            }
        }

        throw new InvalidDataException("Protobuf varint is longer than 10 bytes.");
    }

    public ulong ReadFixed64()
    {
        var value = BitConverter.ToUInt64(this.Take(8).Span);
        return BitConverter.IsLittleEndian ? value : System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(value);
    }

    public uint ReadFixed32()
    {
        var value = BitConverter.ToUInt32(this.Take(4).Span);
        return BitConverter.IsLittleEndian ? value : System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(value);
    }

    public ReadOnlyMemory<byte> ReadBytes()
    {
        var length = this.ReadVarint();
        if (length > int.MaxValue)
        {
            throw new InvalidDataException("Protobuf length prefix is too large.");
        }

        return this.Take((int)length);
    }

    public string ReadString() => Encoding.UTF8.GetString(this.ReadBytes().Span);

    public void Skip(int wireType)
    {
        switch (wireType)
        {
            case Varint: this.ReadVarint(); break;
            case Fixed64: this.Take(8); break;
            case LengthDelimited: this.ReadBytes(); break;
            case Fixed32: this.Take(4); break;
            default: throw new InvalidDataException($"Unsupported protobuf wire type {wireType}.");
        }
    }

    private byte ReadByte()
    {
        if (this.position >= buffer.Length)
        {
            throw new InvalidDataException("Protobuf message ends inside a field.");
        }

        return buffer.Span[this.position++];
    }

    private ReadOnlyMemory<byte> Take(int length)
    {
        if (length < 0 || length > buffer.Length - this.position)
        {
            throw new InvalidDataException("Protobuf field runs past the end of its message.");
        }

        var slice = buffer.Slice(this.position, length);
        this.position += length;
        return slice;
    }
}
