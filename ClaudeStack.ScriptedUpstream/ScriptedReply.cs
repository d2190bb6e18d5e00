using System.Text;
using Microsoft.AspNetCore.Http;

namespace ClaudeStack.ScriptedUpstream;

/// <summary>
/// How the scripted upstream answers one request. Each factory reproduces a behaviour of a real model server;
/// the tests that use them say which.
/// </summary>
public sealed class ScriptedReply
{
    private readonly Func<HttpContext, UpstreamRequest, MessageWire, CancellationToken, Task> _write;

    private ScriptedReply(Func<HttpContext, UpstreamRequest, MessageWire, CancellationToken, Task> write) => _write = write;

    /// <param name="wire">The shape a scripted message is written in: the server's, Ollama's when it emulates Ollama.</param>
    internal Task WriteAsync(HttpContext context, UpstreamRequest request, MessageWire wire, CancellationToken cancellationToken) =>
        _write(context, request, wire, cancellationToken);

    /// <summary>Full control over the response.</summary>
    public static ScriptedReply Custom(Func<HttpContext, UpstreamRequest, CancellationToken, Task> write) =>
        new((context, request, _, cancellationToken) => write(context, request, cancellationToken));

    /// <summary>
    /// A complete message: SSE when the request asked for a stream, JSON otherwise.
    /// <paramref name="firstEventDelay"/> reproduces a model server that sends nothing until the first token
    /// (Ollama writes headers and message_start only once the model produced output).
    /// </summary>
    public static ScriptedReply Message(ScriptedMessage message, TimeSpan firstEventDelay = default, TimeSpan eventInterval = default) =>
        Answer(wire => JsonBytes(message, wire), wire => EventBytes(message, wire), firstEventDelay, eventInterval);

    /// <summary>
    /// <see cref="Message"/> rendered once, on first use, and sent as the same bytes on every call: for the
    /// benchmark's upstream, whose own cost must stay out of the figures (rendering a 100 MB stream took longer than
    /// sending it).
    /// </summary>
    public static ScriptedReply Prerendered(ScriptedMessage message, TimeSpan firstEventDelay = default, TimeSpan eventInterval = default)
    {
        var json = OncePerWire(wire => JsonBytes(message, wire));
        var events = OncePerWire<byte[][]>(wire => [.. EventBytes(message, wire)]);
        return Answer(json, events, firstEventDelay, eventInterval);
    }

    /// <summary>A message as the request asked for it: SSE events when it asked for a stream, JSON otherwise.</summary>
    private static ScriptedReply Answer(Func<MessageWire, byte[]> json, Func<MessageWire, IEnumerable<byte[]>> events, TimeSpan firstEventDelay, TimeSpan eventInterval) =>
        new(async (context, request, wire, cancellationToken) =>
        {
            if (!request.Stream)
            {
                await Task.Delay(firstEventDelay, cancellationToken);
                await WriteBodyAsync(context, 200, "application/json", json(wire), cancellationToken);
                return;
            }

            await WriteEventsAsync(context, wire, events(wire), firstEventDelay, eventInterval, cancellationToken);
        });

    private static Func<MessageWire, T> OncePerWire<T>(Func<MessageWire, T> render)
    {
        Lazy<T>[] rendered = [.. Enum.GetValues<MessageWire>().Select(wire => new Lazy<T>(() => render(wire)))];
        return wire => rendered[(int)wire].Value;
    }

    private static byte[] JsonBytes(ScriptedMessage message, MessageWire wire) => Encoding.UTF8.GetBytes(AnthropicSse.MessageJson(message, wire));

    private static IEnumerable<byte[]> EventBytes(ScriptedMessage message, MessageWire wire) => AnthropicSse.MessageEvents(message, wire).Select(Encoding.UTF8.GetBytes);

    public static ScriptedReply Text(string text, string model = "llama3.1:8b") => Message(ScriptedMessage.Text(text, model));

    public static ScriptedReply ToolUse(string name, string inputJson, string id = "toolu_scripted_1", string model = "llama3.1:8b") =>
        Message(ScriptedMessage.ToolUse(name, inputJson, id, model));

    /// <summary>
    /// A complete message compressed with gzip (<c>Content-Encoding: gzip</c>), SSE or JSON as the request asked: a
    /// server, or a proxy in front of it (nginx with gzip on for the type), compresses what it sends, asked to or not.
    /// </summary>
    public static ScriptedReply Gzipped(ScriptedMessage message) =>
        new(async (context, request, wire, cancellationToken) =>
        {
            var (body, contentType) = request.Stream
                ? (string.Concat(AnthropicSse.MessageEvents(message, wire)), "text/event-stream")
                : (AnthropicSse.MessageJson(message, wire), "application/json");
            using var compressed = new MemoryStream();
            using (var gzip = new System.IO.Compression.GZipStream(compressed, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
            {
                gzip.Write(Encoding.UTF8.GetBytes(body));
            }

            context.Response.StatusCode = 200;
            context.Response.ContentType = contentType;
            context.Response.Headers.ContentEncoding = "gzip";
            context.Response.ContentLength = compressed.Length;
            await context.Response.Body.WriteAsync(compressed.ToArray(), cancellationToken);
        });

    /// <summary>Raw SSE text events, written and flushed one by one.</summary>
    public static ScriptedReply Events(IEnumerable<string> events, TimeSpan firstEventDelay = default, TimeSpan eventInterval = default) =>
        new((context, _, wire, cancellationToken) => WriteEventsAsync(context, wire, events, firstEventDelay, eventInterval, cancellationToken));

    /// <summary>Raw bytes written in the given chunks (to split events across reads).</summary>
    public static ScriptedReply Chunks(IEnumerable<byte[]> chunks, string contentType = "text/event-stream", TimeSpan interval = default) =>
        new(async (context, _, _, cancellationToken) =>
        {
            context.Response.StatusCode = 200;
            context.Response.ContentType = contentType;
            await context.Response.StartAsync(cancellationToken);
            foreach (var chunk in chunks)
            {
                await Task.Delay(interval, cancellationToken);
                await context.Response.Body.WriteAsync(chunk, cancellationToken);
                await context.Response.Body.FlushAsync(cancellationToken);
            }
        });

    /// <summary>
    /// The first <paramref name="eventCount"/> events of a message, then a clean end of the body:
    /// Ollama's Anthropic middleware does this when generation fails mid-stream (no message_stop).
    /// </summary>
    public static ScriptedReply StreamEndingEarly(ScriptedMessage message, int eventCount) =>
        new((context, _, wire, cancellationToken) =>
            WriteEventsAsync(context, wire, AnthropicSse.MessageEvents(message, wire).Take(eventCount), default, default, cancellationToken));

    /// <summary>The first events of a message, then the connection is reset (a crashed or killed server).</summary>
    public static ScriptedReply StreamThenReset(ScriptedMessage message, int eventCount) =>
        new(async (context, _, wire, cancellationToken) =>
        {
            await WriteEventsAsync(context, wire, AnthropicSse.MessageEvents(message, wire).Take(eventCount), default, default, cancellationToken);

            // Let the flushed events leave the socket first; an immediate abort can drop them.
            await Task.Delay(300, cancellationToken);
            context.Abort();
        });

    /// <summary>A status with a body, e.g. Ollama's <c>{"error":"..."}</c>.</summary>
    public static ScriptedReply Status(int statusCode, string body, string contentType = "application/json", params (string Name, string Value)[] headers) =>
        new(async (context, _, _, cancellationToken) =>
        {
            foreach (var (name, value) in headers)
            {
                context.Response.Headers[name] = value;
            }

            await WriteBodyAsync(context, statusCode, contentType, body, cancellationToken);
        });

    /// <summary>Ollama's native error shape: <c>{"error":"message"}</c> (api/types.go StatusError).</summary>
    public static ScriptedReply OllamaError(int statusCode, string message) =>
        Status(statusCode, GoJson.Write(new System.Text.Json.Nodes.JsonObject { ["error"] = message }));

    /// <summary>
    /// An error from behind Ollama's Anthropic route, as it writes one (middleware/anthropic.go writeError with
    /// anthropic/anthropic.go NewError): the Anthropic shape, the type its status maps to, a <c>request_id</c>, and the
    /// line break Go's JSON encoder ends with. <paramref name="byMiddleware"/>: refused by the middleware itself before
    /// the handler ran (gin's AbortWithStatusJSON), which writes no line break.
    /// </summary>
    public static ScriptedReply OllamaRouteError(int statusCode, string message, bool byMiddleware = false)
    {
        var type = statusCode switch
        {
            400 => "invalid_request_error",
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            429 => "rate_limit_error",
            503 or 529 => "overloaded_error",
            _ => "api_error",
        };
        var body = new System.Text.Json.Nodes.JsonObject
        {
            ["type"] = "error",
            ["error"] = new System.Text.Json.Nodes.JsonObject { ["type"] = type, ["message"] = message },
            ["request_id"] = "req_" + Guid.NewGuid().ToString("N")[..24],
        };
        return Status(statusCode, GoJson.Write(body) + (byMiddleware ? "" : "\n"), byMiddleware ? "application/json; charset=utf-8" : "application/json");
    }

    public static ScriptedReply AnthropicError(int statusCode, string type, string message, params (string Name, string Value)[] headers) =>
        Status(statusCode, AnthropicSse.ErrorJson(type, message), "application/json", headers);

    /// <summary>Accepts the request and never answers until the client gives up (a hung server).</summary>
    public static ScriptedReply Hang() =>
        new(async (_, _, _, cancellationToken) => await Task.Delay(Timeout.Infinite, cancellationToken));

    /// <summary>Headers and the given events, then silence until the client gives up (a stalled stream).</summary>
    public static ScriptedReply StreamThenHang(ScriptedMessage message, int eventCount) =>
        new(async (context, _, wire, cancellationToken) =>
        {
            await WriteEventsAsync(context, wire, AnthropicSse.MessageEvents(message, wire).Take(eventCount), default, default, cancellationToken);
            await Task.Delay(Timeout.Infinite, cancellationToken);
        });

    internal static Task WriteBodyAsync(HttpContext context, int statusCode, string contentType, string body, CancellationToken cancellationToken) =>
        WriteBodyAsync(context, statusCode, contentType, Encoding.UTF8.GetBytes(body), cancellationToken);

    private static async Task WriteBodyAsync(HttpContext context, int statusCode, string contentType, byte[] bytes, CancellationToken cancellationToken)
    {
        context.Response.StatusCode = statusCode;
        context.Response.ContentType = contentType;
        context.Response.ContentLength = bytes.Length;
        await context.Response.Body.WriteAsync(bytes, cancellationToken);
    }

    private static Task WriteEventsAsync(HttpContext context, MessageWire wire, IEnumerable<string> events, TimeSpan firstEventDelay, TimeSpan eventInterval, CancellationToken cancellationToken) =>
        WriteEventsAsync(context, wire, events.Select(Encoding.UTF8.GetBytes), firstEventDelay, eventInterval, cancellationToken);

    private static async Task WriteEventsAsync(HttpContext context, MessageWire wire, IEnumerable<byte[]> events, TimeSpan firstEventDelay, TimeSpan eventInterval, CancellationToken cancellationToken)
    {
        await Task.Delay(firstEventDelay, cancellationToken);
        context.Response.StatusCode = 200;
        context.Response.ContentType = "text/event-stream";

        // Ollama sets the type alone (AnthropicWriter.writeResponse).
        if (wire == MessageWire.Anthropic)
        {
            context.Response.Headers.CacheControl = "no-cache";
        }

        await context.Response.StartAsync(cancellationToken);
        var first = true;
        foreach (var sseEvent in events)
        {
            if (!first)
            {
                await Task.Delay(eventInterval, cancellationToken);
            }

            first = false;
            await context.Response.Body.WriteAsync(sseEvent, cancellationToken);
            await context.Response.Body.FlushAsync(cancellationToken);
        }
    }
}
