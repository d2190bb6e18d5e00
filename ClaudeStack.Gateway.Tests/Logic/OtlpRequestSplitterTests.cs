using System.Text;
using ClaudeStack.Gateway.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Exporter;

namespace ClaudeStack.Gateway.Tests.Logic;

/// <summary>
/// The splitting of an oversized OTLP export request, on requests written here field by field in the OTLP protos'
/// wire format and read back with the test collector's decoder.
/// </summary>
public sealed class OtlpRequestSplitterTests
{
    private const string SchemaUrl = "https://opentelemetry.io/schemas/1.37.0";

    [Fact]
    public void OversizedRequest_EverySpanArrivesOnceWithItsResourceAndScope()
    {
        var request = TraceRequest(
            ("gateway", [("scope.a", Spans("a", 5, 3000)), ("scope.b", Spans("b", 4, 2000))]),
            ("claude-code", [("scope.c", Spans("c", 6, 2500))]));
        const int Limit = 8 * 1024;

        var parts = OtlpRequestSplitter.TrySplit(request, Limit);

        Assert.NotNull(parts);
        Assert.True(parts.Count >= 5, $"{parts.Count} parts");
        Assert.All(parts, part => Assert.InRange(part.Length, 1, Limit));
        var expected = Describe(OtlpDecoder.DecodeTraces(request));
        Assert.Equal(expected, parts.SelectMany(part => Describe(OtlpDecoder.DecodeTraces(part))));
        // A resource's and a scope's other fields (their schema URL) go with every part that carries them.
        Assert.All(parts, part => Assert.True(Encoding.UTF8.GetString(part).Contains(SchemaUrl, StringComparison.Ordinal)));
    }

    [Fact]
    public void SpanOverTheLimit_TravelsAlone()
    {
        var request = TraceRequest(
            ("gateway", [("scope.a", [.. Spans("small-before", 2, 100), .. Spans("huge", 1, 20_000), .. Spans("small-after", 2, 100)])]));

        var parts = OtlpRequestSplitter.TrySplit(request, 8 * 1024);

        Assert.NotNull(parts);
        Assert.Equal(
            [["small-before-0", "small-before-1"], ["huge-0"], ["small-after-0", "small-after-1"]],
            parts.Select(part => OtlpDecoder.DecodeTraces(part).Select(span => span.Name).ToArray()));
    }

    [Fact]
    public void PrefixBytes_AreReservedBeforeEachPart()
    {
        var request = TraceRequest(("gateway", [("scope.a", Spans("a", 4, 3000))]));

        var parts = OtlpRequestSplitter.TrySplit(request, 8 * 1024, prefixBytes: 5);

        Assert.NotNull(parts);
        Assert.All(parts, part => Assert.Equal(new byte[5], part[..5]));
        Assert.Equal(4, parts.Sum(part => OtlpDecoder.DecodeTraces(part[5..]).Count));
    }

    [Fact]
    public void RequestWithinTheLimit_IsNotSplit()
    {
        var request = TraceRequest(("gateway", [("scope.a", Spans("a", 3, 100))]));

        Assert.Null(OtlpRequestSplitter.TrySplit(request, 8 * 1024));
    }

    [Fact]
    public void LogsRequest_SplitsLikeTraces()
    {
        // ExportLogsServiceRequest { ResourceLogs = 1 { Resource = 1; ScopeLogs = 2 { Scope = 1; LogRecord = 2 } } }
        var records = Enumerable.Range(0, 6)
            .Select(index => Field(2, [.. Field(5, Field(1, Text($"record-{index} " + new string('l', 2000))))]))
            .ToList();
        var request = Field(1, [.. Resource("gateway"), .. Field(2, [.. Field(1, Field(1, Text("logs"))), .. records.SelectMany(r => r)])]);

        var parts = OtlpRequestSplitter.TrySplit(request, 5000);

        Assert.NotNull(parts);
        Assert.Equal(
            OtlpDecoder.DecodeLogs(request).Select(log => (log.Body, log.ServiceName, log.CategoryName)),
            parts.SelectMany(part => OtlpDecoder.DecodeLogs(part).Select(log => (log.Body, log.ServiceName, log.CategoryName))));
    }

    [Theory]
    [InlineData(new byte[] { 0x0A, 0x05, 0x01 })] // an entry longer than the request
    [InlineData(new byte[] { 0x12, 0x00 })] // a top-level field other than the resource entries
    [InlineData(new byte[] { 0x0A, 0x00 })] // a resource entry without spans
    [InlineData(new byte[] { 0x0F })] // an unknown wire type
    public void RequestThatIsNotAnExportRequest_IsLeftAlone(byte[] request)
    {
        Assert.Null(OtlpRequestSplitter.TrySplit(request, 1));
    }

    [Fact]
    public void DamagedRequests_AreSplitOrLeftAloneWithoutThrowing()
    {
        var request = TraceRequest(
            ("gateway", [("scope.a", Spans("a", 5, 300)), ("scope.b", Spans("b", 4, 200))]),
            ("claude-code", [("scope.c", Spans("c", 6, 250))]));
        var random = new Random(6);
        for (var round = 0; round < 2000; round++)
        {
            var damaged = request.ToArray();
            for (var flips = random.Next(1, 4); flips > 0; flips--)
            {
                damaged[random.Next(damaged.Length)] = (byte)random.Next(256);
            }

            var cut = round % 2 == 0 ? damaged : damaged[..random.Next(damaged.Length)];
            var parts = OtlpRequestSplitter.TrySplit(cut, 1024);
            Assert.True(parts is null || parts.All(part => part.Length > 0), $"round {round}");
        }
    }

    [Fact]
    public void CertificatesConfigured_TheExportersOwnClientIsKept()
    {
        var options = new OtlpExporterOptions();
        var ownFactory = options.HttpClientFactory;
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["OTEL_EXPORTER_OTLP_CERTIFICATE"] = "/certs/ca.pem" })
            .Build();

        OtlpExportSizeLimiter.Install(options, configuration);
        Assert.Same(ownFactory, options.HttpClientFactory);

        OtlpExportSizeLimiter.Install(options, new ConfigurationBuilder().Build());
        Assert.NotSame(ownFactory, options.HttpClientFactory);
    }

    [Theory]
    [InlineData(new[] { 200, 200, 200 }, 3, 200)]
    [InlineData(new[] { 400, 200, 200 }, 3, 400)]
    [InlineData(new[] { 200, 503, 200 }, 2, 503)]
    [InlineData(new[] { 400, 503, 200 }, 2, 503)]
    [InlineData(new[] { 400, 200, 413 }, 3, 400)]
    public void SplitRequest_TheExporterIsToldTheAnswerThatDecidesOnARetry(int[] answers, int sent, int told)
    {
        // Parts: a span too large for any request, then two that each fill one. A refusal for size leaves the parts
        // after it to be sent, and the exporter does not retry it; a busy receiver (503) stops the sending, and its
        // answer must reach the exporter, which may retry, even when a part was refused for size before it.
        var request = TraceRequest(("gateway", [("scope.a", [.. Spans("huge", 1, 4_300_000), .. Spans("full", 2, 3_000_000)])]));
        var receiver = new ScriptedReceiver(answers);
        using var client = new HttpMessageInvoker(new OtlpExportSizeLimiter(receiver));
        using var export = new HttpRequestMessage(HttpMethod.Post, "http://127.0.0.1:4318/v1/traces") { Content = new ByteArrayContent(request) };
        export.Content.Headers.ContentType = new("application/x-protobuf");

        using var answer = client.Send(export, TestContext.Current.CancellationToken);

        Assert.Equal(told, (int)answer.StatusCode);
        Assert.Equal(sent, receiver.Parts.Count);
        string[][] layout = [["huge-0"], ["full-0"], ["full-1"]];
        Assert.Equal(layout.Take(sent), receiver.Parts.Select(part => OtlpDecoder.DecodeTraces(part).ConvertAll(span => span.Name).ToArray()));
    }

    private static List<string> Describe(List<OtlpSpan> spans) =>
        spans.ConvertAll(span => $"{span.ServiceName}/{span.ScopeName}/{span.Name}/{span.Attributes.GetString("payload")?.Length}");

    private static List<byte[]> Spans(string prefix, int count, int payloadBytes) =>
        Enumerable.Range(0, count).Select(index => Span($"{prefix}-{index}", payloadBytes)).ToList();

    // Span { bytes trace_id = 1; bytes span_id = 2; string name = 5; repeated KeyValue attributes = 9; }
    private static byte[] Span(string name, int payloadBytes) =>
    [
        .. Field(1, new byte[16]),
        .. Field(2, new byte[8]),
        .. Field(5, Text(name)),
        .. Field(9, KeyValue("payload", new string('p', payloadBytes))),
    ];

    // ExportTraceServiceRequest { ResourceSpans = 1 { Resource = 1; ScopeSpans = 2 { Scope = 1; Span = 2; schema_url = 3 }; schema_url = 3 } }
    private static byte[] TraceRequest(params (string Service, (string Scope, List<byte[]> Spans)[] Scopes)[] resources) =>
    [
        .. resources.SelectMany(resource => Field(1,
        [
            .. Resource(resource.Service),
            .. resource.Scopes.SelectMany(scope => Field(2,
            [
                .. Field(1, Field(1, Text(scope.Scope))),
                .. scope.Spans.SelectMany(span => Field(2, span)),
                .. Field(3, Text(SchemaUrl)),
            ])),
            .. Field(3, Text(SchemaUrl)),
        ])),
    ];

    // Resource { repeated KeyValue attributes = 1; }
    private static byte[] Resource(string serviceName) => Field(1, Field(1, KeyValue("service.name", serviceName)));

    // KeyValue { string key = 1; AnyValue value = 2 { string string_value = 1; } }
    private static byte[] KeyValue(string key, string value) => [.. Field(1, Text(key)), .. Field(2, Field(1, Text(value)))];

    private static byte[] Text(string value) => Encoding.UTF8.GetBytes(value);

    private static byte[] Field(int field, byte[] payload)
    {
        List<byte> bytes = [(byte)((field << 3) | 2)];
        for (var length = (uint)payload.Length; ; length >>= 7)
        {
            bytes.Add((byte)(length < 0x80 ? length : (length & 0x7F) | 0x80));
            if (length < 0x80)
            {
                break;
            }
        }

        return [.. bytes, .. payload];
    }

    /// <summary>Answers each part with the next status of its script, and keeps the parts.</summary>
    private sealed class ScriptedReceiver(int[] answers) : HttpMessageHandler
    {
        public List<byte[]> Parts { get; } = [];

        protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            using var body = new MemoryStream();
            request.Content!.ReadAsStream(cancellationToken).CopyTo(body);
            this.Parts.Add(body.ToArray());
            return new HttpResponseMessage((System.Net.HttpStatusCode)answers[this.Parts.Count - 1]);
        }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(this.Send(request, cancellationToken));
    }
}
