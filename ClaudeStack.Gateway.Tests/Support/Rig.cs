using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ClaudeStack.Gateway.Telemetry;
using ClaudeStack.ScriptedUpstream;
using Xunit;
using Upstream = ClaudeStack.ScriptedUpstream.ScriptedUpstream;

namespace ClaudeStack.Gateway.Tests.Support;

/// <summary>
/// One scripted upstream, one gateway in front of it and a span collector for that upstream's port.
/// Every test starts its own, so tests stay independent when xunit runs them in parallel.
/// </summary>
internal sealed class Rig : IAsyncDisposable
{
    /// <summary>The bound for any single await on the network in these tests.</summary>
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    private Rig(Upstream? upstream, Uri upstreamUri, GatewayHost gateway, SpanCollector spans)
    {
        this.Upstream = upstream;
        this.UpstreamUri = upstreamUri;
        this.Gateway = gateway;
        this.Spans = spans;
    }

    /// <summary>Null when the gateway points at a closed port.</summary>
    public Upstream? Upstream { get; }

    public Uri UpstreamUri { get; }

    public GatewayHost Gateway { get; }

    public SpanCollector Spans { get; }

    public HttpClient Client => this.Gateway.Client;

    public static async Task<Rig> StartAsync(
        Func<UpstreamRequest, ScriptedReply> script,
        IDictionary<string, string?>? settings,
        CancellationToken cancellationToken,
        OllamaEmulation? ollama = null)
    {
        var upstream = await Upstream.StartAsync(new ScriptedUpstreamOptions { Script = script, Ollama = ollama }, cancellationToken)
            .WaitAsync(Bound, cancellationToken);
        var spans = new SpanCollector(upstream.BaseAddress);
        var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, settings, cancellationToken).WaitAsync(Bound, cancellationToken);
        return new Rig(upstream, upstream.BaseAddress, gateway, spans);
    }

    /// <summary>A gateway whose upstream URL is a loopback port nobody listens on.</summary>
    public static async Task<Rig> StartAgainstClosedPortAsync(IDictionary<string, string?>? settings, CancellationToken cancellationToken)
    {
        var closed = new Uri($"http://127.0.0.1:{ClosedPort()}/");
        var spans = new SpanCollector(closed);
        var gateway = await GatewayHost.StartAsync(closed, settings, cancellationToken).WaitAsync(Bound, cancellationToken);
        return new Rig(null, closed, gateway, spans);
    }

    /// <summary>A port that was free a moment ago (bound, then released; nothing listens on it).</summary>
    public static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>Posts a Messages API body and reads the whole answer.</summary>
    public Task<ClientAnswer> PostAsync(string body, CancellationToken cancellationToken, string path = "/v1/messages", string? sessionId = null) =>
        SendAsync(this.Client, Post(path, body, sessionId), cancellationToken);

    public async Task<Activity> SingleSpanAsync(CancellationToken cancellationToken)
    {
        await this.Spans.WaitForAsync(1, cancellationToken, Bound);
        // Give a (wrong) second span a moment to show up before asserting there is exactly one.
        await Task.Delay(100, cancellationToken);
        return Assert.Single(this.Spans.Spans);
    }

    private bool disposed;

    /// <summary>Stops everything; stopping the gateway also flushes its telemetry providers. Safe to call twice.</summary>
    public async ValueTask DisposeAsync()
    {
        if (this.disposed)
        {
            return;
        }

        this.disposed = true;
        this.Spans.Dispose();
        await this.Gateway.DisposeAsync();
        if (this.Upstream is not null)
        {
            await this.Upstream.DisposeAsync();
        }
    }

    public static HttpRequestMessage Post(string path, string body, string? sessionId = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative))
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("anthropic-version", "2023-06-01");
        if (sessionId is not null)
        {
            request.Headers.Add("x-claude-code-session-id", sessionId);
        }

        return request;
    }

    /// <summary>Sends and reads the body to its end, each step bounded.</summary>
    public static async Task<ClientAnswer> SendAsync(HttpClient client, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(Bound);
        using (request)
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, bounded.Token);
            var body = await response.Content.ReadAsByteArrayAsync(bounded.Token);
            return new ClientAnswer(response.StatusCode, response.Headers, response.Content.Headers, body);
        }
    }

    /// <summary>A Messages API body in the shape Claude Code sends.</summary>
    public static string MessagesBody(string prompt = "hello", bool stream = true, string model = "llama3.1:8b", int maxTokens = 256, string? system = null)
    {
        var body = new JsonObject
        {
            ["model"] = model,
            ["max_tokens"] = maxTokens,
            ["stream"] = stream,
            ["messages"] = new JsonArray(new JsonObject
            {
                ["role"] = "user",
                ["content"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = prompt }),
            }),
        };
        if (system is not null)
        {
            body["system"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = system });
        }

        return body.ToJsonString();
    }

    public static byte[] Utf8(IEnumerable<string> events) => Encoding.UTF8.GetBytes(string.Concat(events));

    /// <summary>Asserts the Anthropic error shape and returns (error.type, error.message).</summary>
    public static (string Type, string Message) AssertAnthropicError(ReadOnlySpan<byte> json, string? expectedType = null)
    {
        using var document = JsonDocument.Parse(json.ToArray());
        var root = document.RootElement;
        Assert.Equal(JsonValueKind.Object, root.ValueKind);
        Assert.Equal("error", root.GetProperty("type").GetString());
        var error = root.GetProperty("error");
        Assert.Equal(JsonValueKind.Object, error.ValueKind);
        var type = error.GetProperty("type").GetString();
        var message = error.GetProperty("message").GetString();
        Assert.False(string.IsNullOrEmpty(type));
        Assert.False(string.IsNullOrEmpty(message));
        if (expectedType is not null)
        {
            Assert.Equal(expectedType, type);
        }

        return (type!, message!);
    }

    /// <summary>Asserts the span says the call failed with <paramref name="errorType"/>.</summary>
    public static void AssertFailedSpan(Activity span, string errorType, int? statusCode = null)
    {
        Assert.Equal(ActivityKind.Client, span.Kind);
        Assert.StartsWith("chat ", span.DisplayName, StringComparison.Ordinal);
        Assert.Equal(ActivityStatusCode.Error, span.Status);
        Assert.False(string.IsNullOrEmpty(span.StatusDescription));
        Assert.Equal(errorType, span.GetTagItem(TelemetryNames.Attributes.ErrorType));
        if (statusCode is { } status)
        {
            Assert.Equal(status, span.GetTagItem(TelemetryNames.Attributes.HttpResponseStatusCode));
        }
    }

    public static void AssertSucceededSpan(Activity span)
    {
        Assert.Equal(ActivityStatusCode.Unset, span.Status);
        Assert.Null(span.GetTagItem(TelemetryNames.Attributes.ErrorType));
    }
}

/// <summary>What the client received.</summary>
internal sealed record ClientAnswer(HttpStatusCode Status, HttpResponseHeaders Headers, HttpContentHeaders ContentHeaders, byte[] Body)
{
    public string Text => Encoding.UTF8.GetString(this.Body);

    public string? MediaType => this.ContentHeaders.ContentType?.MediaType;

    /// <summary>The body split into SSE events (each ending in a blank line), as text.</summary>
    public IReadOnlyList<string> Events => SplitEvents(this.Text);

    public static IReadOnlyList<string> SplitEvents(string text)
    {
        var events = new List<string>();
        var start = 0;
        while (start < text.Length)
        {
            var end = text.IndexOf("\n\n", start, StringComparison.Ordinal);
            if (end < 0)
            {
                events.Add(text[start..]);
                break;
            }

            events.Add(text[start..(end + 2)]);
            start = end + 2;
        }

        return events;
    }

    /// <summary>The JSON of an <c>event: error</c> SSE event.</summary>
    public static byte[] ErrorEventData(string sseEvent)
    {
        Assert.StartsWith("event: error\ndata: ", sseEvent, StringComparison.Ordinal);
        return Encoding.UTF8.GetBytes(sseEvent["event: error\ndata: ".Length..].TrimEnd('\n'));
    }
}

/// <summary>An HTTP/1.1 exchange over a raw socket, for requests HttpClient refuses to send.</summary>
internal static class RawHttp
{
    /// <summary>Sends <paramref name="request"/> verbatim and returns the status code of the answer (0 when the connection closed without one).</summary>
    public static async Task<(int Status, string Response)> SendAsync(Uri gateway, byte[] request, CancellationToken cancellationToken)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(Rig.Bound);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(gateway.Host, gateway.Port, bounded.Token);
        var stream = tcp.GetStream();
        try
        {
            await stream.WriteAsync(request, bounded.Token);
            await stream.FlushAsync(bounded.Token);
        }
        catch (IOException)
        {
            // The server may answer and close before it read everything; read what it said.
        }

        using var received = new MemoryStream();
        var buffer = new byte[16 * 1024];
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer, bounded.Token)) > 0)
            {
                received.Write(buffer, 0, read);
                if (HasCompleteResponse(received))
                {
                    break;
                }
            }
        }
        catch (IOException)
        {
            // Reset after the answer: what arrived is what counts.
        }

        var text = Encoding.Latin1.GetString(received.ToArray());
        var status = text.StartsWith("HTTP/1.1 ", StringComparison.Ordinal) && text.Length >= 12 && int.TryParse(text.AsSpan(9, 3), out var code) ? code : 0;
        return (status, text);
    }

    private static bool HasCompleteResponse(MemoryStream received)
    {
        var text = Encoding.Latin1.GetString(received.GetBuffer(), 0, (int)received.Length);
        var headerEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (headerEnd < 0)
        {
            return false;
        }

        var headers = text[..headerEnd];
        foreach (var line in headers.Split("\r\n"))
        {
            if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase)
                && int.TryParse(line["Content-Length:".Length..].Trim(), out var length))
            {
                return text.Length - (headerEnd + 4) >= length;
            }
        }

        return headers.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase)
            ? text.EndsWith("0\r\n\r\n", StringComparison.Ordinal)
            : false;
    }
}
