using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using ClaudeStack.Gateway.Configuration;
using ClaudeStack.Gateway.Telemetry;
using Microsoft.Extensions.Primitives;

namespace ClaudeStack.Gateway.Forwarding;

/// <summary>Why forwarding failed before a response arrived, and on which side.</summary>
public enum ForwardFailure
{
    None,

    /// <summary>The upstream could not be reached (refused, DNS, reset before headers).</summary>
    Unreachable,

    /// <summary>The upstream did not send response headers in time.</summary>
    Timeout,

    /// <summary>The client went away; nothing is to be written.</summary>
    ClientClosed,

    /// <summary>
    /// The upstream answered with a redirect (http to https, a moved path): the gateway's URL setting is to fix. Passed
    /// on, the redirect would send the client, with its key, straight to wherever the upstream points.
    /// </summary>
    Redirected,
}

public sealed record ForwardResult(HttpResponseMessage? Response, ForwardFailure Failure, string? Message)
{
    public static ForwardResult Failed(ForwardFailure failure, string message) => new(null, failure, message);
}

/// <summary>
/// Sends a request to the upstream and returns as soon as its response headers arrive (the body is streamed
/// by the caller). Copies the client's Anthropic headers, never its credentials (and masks the stack token wherever
/// else the client put it); injects the gateway's own key and the trace context of the current span. A redirect is a
/// failure, never a response to pass on.
/// </summary>
public sealed class UpstreamForwarder(HttpClient client, UpstreamEndpoint upstream, SecretRedactor redactor)
{
    /// <summary>Request headers never forwarded: hop-by-hop, credentials, and ones HttpClient sets itself.</summary>
    private static readonly HashSet<string> DroppedHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "Host", "Connection", "Keep-Alive", "Transfer-Encoding", "TE", "Trailer", "Upgrade", "Proxy-Authorization",
        "Proxy-Connection", "Content-Length", "Content-Type", "Authorization", "x-api-key", "Cookie",
        "Accept-Encoding", "traceparent", "tracestate", "baggage", "Expect",

        // The gateway has judged the page a call came from (BrowserOriginGuard); an origin it allows, Ollama might not
        // list, and Anthropic's API refuses a browser call without its opt-in header.
        "Origin",
    };

    private static readonly HttpRequestOptionsKey<ConnectionOpening> OpeningKey = new("ClaudeStack.ConnectionOpening");

    /// <summary>The last target built: a client sends the same path and query on every call.</summary>
    private Target? _lastTarget;

    public UpstreamEndpoint Upstream => upstream;

    public async Task<ForwardResult> SendAsync(HttpMethod method, string path, string? query, IHeaderDictionary headers, ReadOnlyMemory<byte> body, TimeSpan responseTimeout, CancellationToken clientAborted)
    {
        // The client's own text goes on as sent, but never with the stack token in it: the upstream is another party.
        var uri = TargetFor(path, query is null ? null : redactor.Redact(query));
        var nominated = HopByHopHeaders.NominatedBy(headers.Connection);
        HttpRequestMessage Message()
        {
            var message = new HttpRequestMessage(method, uri);
            if (method != HttpMethod.Get && method != HttpMethod.Head)
            {
                message.Content = new ReadOnlyMemoryContent(body);
                message.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            }

            foreach (var header in headers)
            {
                // Header values must be ASCII on the way out; a client's odd header is not worth failing the call for.
                if (!DroppedHeaders.Contains(header.Key) && !header.Key.StartsWith(':') && IsAscii(header.Value) && nominated?.Contains(header.Key) != true)
                {
                    message.Headers.TryAddWithoutValidation(header.Key, WithoutSecrets(header.Value));
                }
            }

            upstream.Present(message);
            AddTraceContext(message);
            message.Options.Set(OpeningKey, new ConnectionOpening());
            return message;
        }

        // One source for both reasons to stop waiting: the client leaving, or the response timeout.
        using var waiting = CancellationTokenSource.CreateLinkedTokenSource(clientAborted);
        waiting.CancelAfter(responseTimeout);
        try
        {
            using var message = Message();
            HttpResponseMessage response;
            try
            {
                response = await client.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, waiting.Token);
            }
            catch (HttpRequestException exception) when (ClosedWithoutAnswer(exception) && !OpenedAConnection(message))
            {
                // A pooled connection the server closed as the call went out (an idle timeout crossing it): the call
                // never reached the model, and HttpClient resends only calls without a body. Once, on a new connection.
                Activity.Current?.SetTag(TelemetryNames.Attributes.HttpRequestResendCount, 1);
                using var again = Message();
                response = await client.SendAsync(again, HttpCompletionOption.ResponseHeadersRead, waiting.Token);
            }

            if ((int)response.StatusCode is >= 300 and < 400 and var redirect)
            {
                var location = response.Headers.Location is { } target ? $" to {redactor.Redact(target.ToString())}" : "";
                response.Dispose();
                return ForwardResult.Failed(ForwardFailure.Redirected, $"the upstream answered {redirect}{location}; the gateway does not follow redirects: set Gateway:Upstream:Url to the address that answers");
            }

            return new ForwardResult(response, ForwardFailure.None, null);
        }
        catch (OperationCanceledException) when (clientAborted.IsCancellationRequested)
        {
            return ForwardResult.Failed(ForwardFailure.ClientClosed, "the client closed the connection");
        }
        catch (OperationCanceledException) when (waiting.IsCancellationRequested)
        {
            return ForwardResult.Failed(ForwardFailure.Timeout, $"the upstream sent no response within {responseTimeout.TotalSeconds:0.#} s");
        }
        catch (OperationCanceledException exception) when (exception.InnerException is TimeoutException)
        {
            // SocketsHttpHandler's ConnectTimeout surfaces as a cancellation that no token of ours caused.
            return ForwardResult.Failed(ForwardFailure.Unreachable, $"upstream {Authority} unreachable: connection timed out");
        }
        catch (HttpRequestException exception)
        {
            return ForwardResult.Failed(ForwardFailure.Unreachable, Describe(exception));
        }
    }

    /// <summary>The upstream ended or reset the connection before any byte of an answer.</summary>
    private static bool ClosedWithoutAnswer(HttpRequestException exception) =>
        exception.HttpRequestError == HttpRequestError.ResponseEnded || IsReset(exception);

    private static bool IsReset(Exception exception) =>
        exception is SocketException { SocketErrorCode: SocketError.ConnectionReset } || (exception.InnerException is { } inner && IsReset(inner));

    private static bool OpenedAConnection(HttpRequestMessage message) =>
        message.Options.TryGetValue(OpeningKey, out var opening) && opening.Opened;

    private Uri TargetFor(string path, string? query)
    {
        var last = _lastTarget;
        if (last is not null && last.Path == path && last.Query == query)
        {
            return last.Uri;
        }

        var uri = upstream.Target(path, query);
        _lastTarget = new Target(path, query, uri);
        return uri;
    }

    private static bool IsAscii(StringValues values)
    {
        foreach (var value in values)
        {
            if (value is not null && !System.Text.Ascii.IsValid(value))
            {
                return false;
            }
        }

        return true;
    }

    private IEnumerable<string?> WithoutSecrets(StringValues values)
    {
        foreach (var value in values)
        {
            if (value is not null && redactor.Holds(value))
            {
                return values.Select(v => v is null ? null : redactor.Redact(v));
            }
        }

        return values;
    }

    /// <summary>
    /// The forwarding handler makes no HttpClient span of its own (<see cref="CreateForwardingHandler"/>), so the
    /// upstream's spans become children of the span that covers the call: the model call's, or the request's.
    /// </summary>
    private static void AddTraceContext(HttpRequestMessage message)
    {
        if (Activity.Current is { } current)
        {
            DistributedContextPropagator.Current.Inject(current, message, static (carrier, name, value) =>
                ((HttpRequestMessage)carrier!).Headers.TryAddWithoutValidation(name, value));
        }
    }

    private string Describe(HttpRequestException exception)
    {
        // Reached, then dropped: "unreachable" would send the user looking at addresses and ports.
        if (ClosedWithoutAnswer(exception))
        {
            return $"upstream {Authority} {(IsReset(exception) ? "reset" : "closed")} the connection without answering";
        }

        var reason = exception.InnerException is SocketException socket
            ? socket.SocketErrorCode switch
            {
                SocketError.ConnectionRefused => "connection refused",
                SocketError.HostNotFound or SocketError.NoData => "host not found",
                SocketError.TimedOut => "connection timed out",
                _ => socket.SocketErrorCode.ToString(),
            }
            : exception.HttpRequestError switch
            {
                HttpRequestError.NameResolutionError => "host not found",
                HttpRequestError.ConnectionError => "connection failed",
                HttpRequestError.SecureConnectionError => "TLS handshake failed",
                _ => exception.Message,
            };
        return $"upstream {Authority} unreachable: {reason}";
    }

    /// <summary>Host and port only: a URL's user information may hold credentials.</summary>
    private string Authority => $"{upstream.BaseAddress.Host}:{upstream.BaseAddress.Port}";

    /// <summary>
    /// An HttpClient handler tuned for a streaming proxy. A loopback upstream is never reached through the
    /// environment's proxy (<c>HTTP_PROXY</c>), which would carry prompts, and the gateway's key, to a machine meant
    /// for outside traffic, and could not reach this machine's server anyway.
    /// </summary>
    public static SocketsHttpHandler CreateHandler(UpstreamEndpoint upstream) => new()
    {
        UseProxy = !upstream.IsLoopback,

        // The gateway reads, frames and masks what it relays, so it must see the body as sent, not its compressed
        // bytes; an upstream may compress whether asked to or not.
        AutomaticDecompression = DecompressionMethods.All,
        UseCookies = false,
        AllowAutoRedirect = false,
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),

        // A busy connection is never idle; renewing it now and then lets a changed DNS answer (a remote API) take effect.
        PooledConnectionLifetime = TimeSpan.FromMinutes(10),
        ConnectTimeout = TimeSpan.FromSeconds(15),

        // A response abandoned because the client left is not drained: the connection closes and the model stops.
        MaxResponseDrainSize = 0,

        ConnectCallback = ConnectAsync,
    };

    /// <summary>
    /// Notes on the call that a connection was opened for it, then connects. A fast stream over plain HTTP would
    /// otherwise cost one receive call per 4 KB (<see cref="ReadAheadStream"/>).
    /// </summary>
    private static ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        if (context.InitialRequestMessage.Options.TryGetValue(OpeningKey, out var opening))
        {
            opening.Opened = true;
        }

        return ReadAheadStream.ConnectAsync(context, cancellationToken);
    }

    /// <summary>
    /// The handler for forwarded calls: without a trace-context propagator SocketsHttpHandler leaves out its
    /// diagnostics stage, so no HttpClient span duplicates the model call's CLIENT span (which records the same
    /// server, status and error) at a cost on every call. Its HTTP metrics stay.
    /// </summary>
    public static SocketsHttpHandler CreateForwardingHandler(UpstreamEndpoint upstream)
    {
        var handler = CreateHandler(upstream);
        handler.ActivityHeadersPropagator = null;
        return handler;
    }

    private sealed record Target(string Path, string? Query, Uri Uri);

    /// <summary>
    /// Set on a call when the handler opens a connection for it. A call that did not open one went out on a pooled
    /// connection, which the server may have closed as it was sent. (The pool can still serve a call from another
    /// connection than the one it opened; the call is then not resent, the safe way round.)
    /// </summary>
    private sealed class ConnectionOpening
    {
        public volatile bool Opened;
    }
}
