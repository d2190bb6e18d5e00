using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.Configuration;
using OpenTelemetry.Exporter;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Sends an OTLP export request larger than the receiver accepts as several smaller ones. The Aspire dashboard, like
/// any gRPC server left at its defaults, refuses a request over 4 MiB and with it every span in it; a batch of model
/// calls with their content captured (each carries the conversation so far) reaches that in a busy second.
/// Only requests over the limit are touched: their parts go one after another, and the exporter sees one answer for
/// them all, as it would have for the whole request (<see cref="Outcome"/>).
/// </summary>
internal sealed class OtlpExportSizeLimiter : DelegatingHandler
{
    /// <summary>The Aspire dashboard's limit on both its OTLP endpoints, and gRPC's default receive limit.</summary>
    public const int AspireDashboardLimitBytes = 4 * 1024 * 1024;

    private const int GrpcFrameHeaderBytes = 5;
    private const string GrpcStatusHeader = "grpc-status";
    private const string GrpcEncodingHeader = "grpc-encoding";

    public OtlpExportSizeLimiter()
        : this(new SocketsHttpHandler())
    {
    }

    /// <summary>Sends through <paramref name="inner"/>: a receiver scripted part by part, in tests.</summary>
    internal OtlpExportSizeLimiter(HttpMessageHandler inner)
        : base(inner)
    {
    }

    // The exporter's own client uses these certificate settings; a client of ours would drop them.
    private static readonly string[] CertificateKeys =
    [
        "OTEL_EXPORTER_OTLP_CERTIFICATE",
        "OTEL_EXPORTER_OTLP_CLIENT_KEY",
        "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
    ];

    /// <summary>
    /// Gives the exporter a client that splits oversized requests, unless the configuration sets certificates for
    /// the exporter's own client to use.
    /// </summary>
    public static void Install(OtlpExporterOptions options, IConfiguration configuration)
    {
        if (CertificateKeys.Any(key => !string.IsNullOrWhiteSpace(configuration[key])))
        {
            return;
        }

        options.HttpClientFactory = () => new HttpClient(new OtlpExportSizeLimiter())
        {
            Timeout = TimeSpan.FromMilliseconds(options.TimeoutMilliseconds),
            MaxResponseContentBufferSize = options.MaxResponseSizeBytes,
        };
    }

    // Used over OTLP/HTTP, which the exporter sends synchronously; gRPC always goes through SendAsync.
    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (!IsOversized(request, out var framing) || framing == Framing.Grpc)
        {
            return base.Send(request, cancellationToken);
        }

        var body = new byte[request.Content!.Headers.ContentLength!.Value];
        using (var stream = request.Content.ReadAsStream(cancellationToken))
        {
            stream.ReadExactly(body);
        }

        if (OtlpRequestSplitter.TrySplit(body, AspireDashboardLimitBytes) is not { } parts)
        {
            return base.Send(request, cancellationToken);
        }

        var outcome = new Outcome();
        try
        {
            foreach (var bytes in parts)
            {
                using var part = PartOf(request, bytes);
                if (!outcome.Add(base.Send(part, cancellationToken), Framing.None))
                {
                    break;
                }
            }
        }
        catch
        {
            outcome.Response?.Dispose();
            throw;
        }

        return outcome.Response!;
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (!IsOversized(request, out var framing))
        {
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }

        var body = await request.Content!.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        var headerBytes = framing == Framing.Grpc ? GrpcFrameHeaderBytes : 0;
        // A compressed gRPC message (flag byte 1) is left as it is: the limit applies to what it inflates to.
        var parts = framing == Framing.Grpc && body[0] != 0
            ? null
            : OtlpRequestSplitter.TrySplit(body.AsSpan(headerBytes), AspireDashboardLimitBytes, headerBytes);
        if (parts is null)
        {
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }

        var outcome = new Outcome();
        try
        {
            foreach (var bytes in parts)
            {
                if (framing == Framing.Grpc)
                {
                    BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(1), (uint)(bytes.Length - headerBytes));
                }

                using var part = PartOf(request, bytes);
                var response = await base.SendAsync(part, cancellationToken).ConfigureAwait(false);
                // gRPC reports the outcome in trailers, which arrive after the (empty) response message.
                await response.Content.LoadIntoBufferAsync(cancellationToken).ConfigureAwait(false);
                if (!outcome.Add(response, framing))
                {
                    break;
                }
            }
        }
        catch
        {
            outcome.Response?.Dispose();
            throw;
        }

        return outcome.Response!;
    }

    private static bool IsOversized(HttpRequestMessage request, out Framing framing)
    {
        framing = string.Equals(request.Content?.Headers.ContentType?.MediaType, "application/grpc", StringComparison.OrdinalIgnoreCase)
            ? Framing.Grpc
            : Framing.None;
        var limit = AspireDashboardLimitBytes + (framing == Framing.Grpc ? GrpcFrameHeaderBytes : 0);
        // A gzip-compressed body (OTEL_EXPORTER_OTLP_COMPRESSION) has no known length and is sent as it is.
        return request.Content?.Headers.ContentLength > limit &&
            request.Content.Headers.ContentEncoding.Count == 0 &&
            !request.Headers.Contains(GrpcEncodingHeader);
    }

    private static HttpRequestMessage PartOf(HttpRequestMessage request, byte[] part)
    {
        var content = new ByteArrayContent(part);
        foreach (var header in request.Content!.Headers)
        {
            if (!string.Equals(header.Key, "Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                content.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
        }

        var copy = new HttpRequestMessage(request.Method, request.RequestUri)
        {
            Version = request.Version,
            VersionPolicy = request.VersionPolicy,
            Content = content,
        };
        foreach (var header in request.Headers)
        {
            copy.Headers.TryAddWithoutValidation(header.Key, header.Value);
        }

        return copy;
    }

    /// <summary>
    /// What the exporter is told of a split request: a refusal that stopped the sending if there was one, else the
    /// first part refused for its size, else the last answer. A part refused for its size (an item too large for any
    /// request) does not keep the parts after it from being sent, and the exporter does not retry it. Any other
    /// refusal (busy, unavailable) would meet the parts after it too: they are not sent, and its answer, which the
    /// exporter may retry, is the one told, even after a part refused for its size.
    /// </summary>
    private sealed class Outcome
    {
        private Verdict _verdict;

        private enum Verdict
        {
            Accepted,
            RefusedForSize,
            Refused,
        }

        public HttpResponseMessage? Response { get; private set; }

        /// <returns>Whether to send the next part.</returns>
        public bool Add(HttpResponseMessage response, Framing framing)
        {
            var verdict = Accepted(response, framing) ? Verdict.Accepted
                : RefusedForSize(response, framing) ? Verdict.RefusedForSize
                : Verdict.Refused;
            // While every part so far was accepted, the latest answer is kept; after a refusal, only a worse one.
            if (_verdict == Verdict.Accepted || verdict > _verdict)
            {
                Response?.Dispose();
                Response = response;
                _verdict = verdict;
            }
            else
            {
                response.Dispose();
            }

            return verdict != Verdict.Refused;
        }
    }

    // The dashboard answers 400 over OTLP/HTTP; gRPC servers RESOURCE_EXHAUSTED (8).
    private static bool RefusedForSize(HttpResponseMessage response, Framing framing) =>
        framing == Framing.Grpc
            ? (GrpcStatus(response.Headers) ?? GrpcStatus(response.TrailingHeaders)) == "8"
            : response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.RequestEntityTooLarge;

    private static bool Accepted(HttpResponseMessage response, Framing framing) =>
        response.IsSuccessStatusCode &&
        (framing != Framing.Grpc || (GrpcStatus(response.Headers) ?? GrpcStatus(response.TrailingHeaders)) == "0");

    private static string? GrpcStatus(HttpHeaders headers) =>
        headers.TryGetValues(GrpcStatusHeader, out var values) ? values.FirstOrDefault() : null;

    private enum Framing
    {
        None,
        Grpc,
    }
}
