using System.Buffers;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.Json;
using ClaudeStack.Gateway.Api;
using ClaudeStack.Gateway.Forwarding;
using ClaudeStack.Gateway.Telemetry;

namespace ClaudeStack.Gateway.Streaming;

/// <summary>
/// Copies an upstream response to the client. Streams are forwarded chunk by chunk as they arrive and flushed
/// each time, never buffered whole; an observer reads the events on the way for telemetry and guards. Configured
/// secrets are masked in everything passed on: an upstream that quotes the key it rejected, in whatever shape, must
/// not hand the gateway's key to the client.
/// </summary>
public sealed class ResponseRelay(ClientResponse client, ModelCallTelemetry call, TimeSpan idleTimeout, SecretRedactor redactor)
{
    /// <summary>Largest non-streamed body the gateway reads; model answers are far smaller.</summary>
    public const int MaxBufferedBody = 64 * 1024 * 1024;

    /// <summary>Largest error body the gateway reads.</summary>
    public const int MaxErrorBody = 1024 * 1024;

    /// <summary>Response headers not copied to the client: hop-by-hop, and those Kestrel sets itself.</summary>
    private static readonly HashSet<string> DroppedHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Transfer-Encoding", "Trailer", "Upgrade", "Proxy-Connection", "Proxy-Authenticate", "Content-Length", "Server", "Date",

        // Meant for a browser talking to the upstream's own site, not for the gateway's client.
        "Set-Cookie", "Alt-Svc", "Strict-Transport-Security", "Content-MD5",

        // Whose key the gateway calls with is not its clients' business.
        "anthropic-organization-id",
    };

    private static readonly SearchValues<char> HeaderValueChars = SearchValues.Create(
        "\t !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~");

    /// <summary>Called for each content block the model finished (tool calls are checked there).</summary>
    public Action<ObservedBlock>? OnBlockComplete { get; init; }

    /// <summary>
    /// Given the upstream's status, its error message and the model (as telemetry names it), an error that tells the
    /// client better what went wrong, or null to pass the upstream's on.
    /// </summary>
    public Func<int, string, string, AnthropicError?>? ExplainError { get; init; }

    /// <summary>Relays a successful SSE stream and returns what it observed.</summary>
    public async Task<ModelResponse> RelayStreamAsync(HttpResponseMessage upstream, bool keepText, CancellationToken clientAborted)
    {
        var observer = new MessageStreamObserver(keepText);
        if (!client.HeadersSent)
        {
            // Not flushed on their own: the headers leave with the first chunk, one packet sooner.
            CopyHeaders(upstream, client.Response);
        }

        var framer = new WholeEventFramer();
        var streamRedactor = new StreamRedactor(redactor);

        // The client already has the gateway's message_start; the upstream's would be a second one.
        var startFilter = client.SentMessageStart ? new LeadingEventFilter() : null;
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(clientAborted);
        var buffer = ArrayPool<byte>.Shared.Rent(32 * 1024);

        // Re-arming the timer on every read of a fast stream costs more than the read, so it is re-armed at most every
        // tenth of the timeout, for a tenth longer: silence ends the stream after 100–110% of the timeout, never sooner.
        var rearmEvery = idleTimeout / 10;
        long armedAt = 0;
        await using var body = await upstream.Content.ReadAsStreamAsync(clientAborted);
        var reader = new ArrivedBytesReader(body, buffer);
        try
        {
            while (true)
            {
                if (armedAt == 0 || Stopwatch.GetElapsedTime(armedAt) >= rearmEvery)
                {
                    idle.CancelAfter(idleTimeout + rearmEvery);
                    armedAt = Stopwatch.GetTimestamp();
                }

                ReadOnlyMemory<byte> chunk;
                try
                {
                    chunk = await reader.ReadAsync(idle.Token);
                }
                catch (OperationCanceledException) when (clientAborted.IsCancellationRequested)
                {
                    call.Fail(TelemetryNames.ErrorTypes.ClientClosed, "the client closed the connection during the stream");
                    return observer.Response;
                }
                catch (Exception exception) when ((exception is OperationCanceledException || UpstreamBodyFailure.Is(exception)) && observer.Response.Completed)
                {
                    // The message is whole (message_stop went out): a stall or reset after it fails nothing.
                    break;
                }
                catch (OperationCanceledException)
                {
                    await EndWithErrorAsync(AnthropicError.ForStatus(504, $"the upstream stream was silent for {idleTimeout.TotalSeconds:0.#} s"), TelemetryNames.ErrorTypes.UpstreamTimeout, clientAborted);
                    return observer.Response;
                }
                catch (Exception exception) when (UpstreamBodyFailure.Is(exception))
                {
                    var (error, errorType) = UpstreamBodyFailure.Describe(exception, "stream");
                    await EndWithErrorAsync(error, errorType, clientAborted);
                    return observer.Response;
                }

                if (chunk.IsEmpty)
                {
                    break;
                }

                call.MarkFirstChunk();
                Observe(observer, chunk);

                chunk = framer.Frame(chunk);
                chunk = streamRedactor.Redact(chunk, framer.EndsInsideEvent);
                if (startFilter is not null)
                {
                    chunk = startFilter.Filter(chunk);
                }

                if (!chunk.IsEmpty)
                {
                    var write = client.WriteAsync(chunk, clientAborted);
                    if (!write.IsCompleted)
                    {
                        // The client is not keeping up. While its write waits, the silence is not the upstream's:
                        // the timer stops (it would cancel the read already started) and restarts before the next read.
                        idle.CancelAfter(Timeout.InfiniteTimeSpan);
                        armedAt = 0;
                    }

                    if (!await write)
                    {
                        call.Fail(TelemetryNames.ErrorTypes.ClientClosed, "the client closed the connection during the stream");
                        return observer.Response;
                    }
                }
            }
        }
        finally
        {
            // A read started ahead must not outlive the call (nor the buffer it writes into).
            await reader.AbandonAsync(idle);
            ArrayPool<byte>.Shared.Return(buffer);
        }

        var response = observer.Response;
        if (response.ErrorType is { } upstreamError)
        {
            call.Fail(AnthropicError.KnownTypeOr(upstreamError, AnthropicError.Api), response.ErrorMessage ?? "the upstream sent an error event");
        }
        else if (!response.Completed)
        {
            await EndIncompleteAsync(clientAborted);
        }

        return response;
    }

    /// <summary>Observation serves telemetry and guards; whatever the upstream sends, it never stops the bytes.</summary>
    private void Observe(MessageStreamObserver observer, ReadOnlyMemory<byte> chunk)
    {
        IReadOnlyList<ObservedBlock> completed;
        try
        {
            completed = observer.Observe(chunk);
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            observer.Response.MalformedEvents++;
            return;
        }

        foreach (var block in completed)
        {
            Check(block);
        }
    }

    /// <summary>Runs the block check; a fault in a guard is the gateway's, reported as such, and never stops the call.</summary>
    private void Check(ObservedBlock block)
    {
        try
        {
            OnBlockComplete?.Invoke(block);
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            // Guards parse the model's output, which an exception's message may quote.
            call.AddEvent(TelemetryNames.Events.GuardFailed, (TelemetryNames.Attributes.ExceptionMessage, redactor.Redact(exception.Message)));
        }
    }

    /// <summary>
    /// Relays a whole JSON response and returns what it said. When the client asked for a stream (the upstream
    /// ignored "stream"), the answer goes out as SSE events, as a streaming client can only read those.
    /// </summary>
    public async Task<ModelResponse> RelayWholeAsync(HttpResponseMessage upstream, bool streamRequested, CancellationToken clientAborted)
    {
        if (await ReadWholeAsync(upstream, clientAborted) is not { } body)
        {
            return new ModelResponse();
        }

        var response = ReadAndCheck(body);

        // Keep-alive may already have opened the SSE stream; either way a streaming client gets events, and events can
        // only say what a message says: anything else (an error object, another API's answer) is the upstream's failure.
        if (client.HeadersSent || streamRequested)
        {
            if (!response.IsMessage)
            {
                await EndWithErrorAsync(
                    AnthropicError.ForStatus(502, "the upstream answered a streamed request with JSON that is not a Messages API message (check Gateway:Upstream:Url and the profile)"),
                    TelemetryNames.ErrorTypes.UpstreamNotAMessage,
                    clientAborted);
                return response;
            }

            if (!client.HeadersSent)
            {
                CopyHeaders(upstream, client.Response);
                client.SetEventStreamHeaders();
            }

            // Masked before converting too: a tool's input goes on as a string of JSON, escaped once more, where no
            // spelling of a secret would be found any longer.
            await client.WriteAsync(redactor.Redact(SseEvents.FromWholeMessage(redactor.Redact(body).Span, includeStart: !client.SentMessageStart)), clientAborted);
            return response;
        }

        await WriteAsItCameAsync(upstream, response.NullContent ? WithEmptyContent(body) : body, clientAborted);
        return response;
    }

    /// <summary>
    /// Relays a stream to a client that asked for a whole message (a compatible server that streams anyway): the
    /// events are read whole and folded into the message; an error event becomes an error response with its status.
    /// A stream holding something the gateway cannot fold in goes on as it came, so nothing is lost.
    /// </summary>
    public async Task<ModelResponse> RelayStreamAsWholeAsync(HttpResponseMessage upstream, bool keepText, CancellationToken clientAborted)
    {
        if (await ReadWholeAsync(upstream, clientAborted) is not { } body)
        {
            return new ModelResponse();
        }

        var (outcome, json) = StreamedMessageAssembler.Assemble(body);
        switch (outcome)
        {
            case StreamedOutcome.Message:
                // Masked once rewritten: text and tool input pieces are joined only now, and written in the spelling the mask looks for.
                var message = redactor.Redact(json);
                var response = ReadAndCheck(message);

                await WriteWholeAsync(upstream, (int)upstream.StatusCode, message, clientAborted);
                return response;
            case StreamedOutcome.Error:
                // Its type decides the status, as it would have had the error come before the stream.
                var (normalized, errorType, errorMessage) = AnthropicError.NormalizeUpstream(500, redactor.Redact(json).Span, RequestIds.Of(client.Response.HttpContext));
                var status = AnthropicError.StatusForType(errorType);
                call.Fail(errorType, $"the upstream streamed an error: {errorMessage}", status);
                await WriteWholeAsync(upstream, status, normalized, clientAborted);
                return new ModelResponse();
            case StreamedOutcome.Incomplete:
                await EndIncompleteAsync(clientAborted);
                return new ModelResponse();
            default:
                var observer = new MessageStreamObserver(keepText);
                Observe(observer, body);
                await WriteAsItCameAsync(upstream, body, clientAborted);
                return observer.Response;
        }
    }

    /// <summary>A whole upstream body within the buffered limit, or null once the client has been told why not.</summary>
    private async Task<ReadOnlyMemory<byte>?> ReadWholeAsync(HttpResponseMessage upstream, CancellationToken clientAborted)
    {
        var (body, failure) = await BoundedBody.ReadAsync(upstream, MaxBufferedBody, idleTimeout, clientAborted);
        if (failure is not null)
        {
            await EndWithErrorAsync(failure.Value.Error, failure.Value.ErrorType, clientAborted);
            return null;
        }

        return body;
    }

    /// <summary>What a whole answer said, its tool calls checked.</summary>
    private ModelResponse ReadAndCheck(ReadOnlyMemory<byte> message)
    {
        var response = ModelResponseReader.Read(message.Span);
        foreach (var block in response.Blocks)
        {
            Check(block);
        }

        return response;
    }

    /// <summary>The upstream's body with its status and headers, masked.</summary>
    private async Task WriteAsItCameAsync(HttpResponseMessage upstream, ReadOnlyMemory<byte> body, CancellationToken clientAborted)
    {
        var masked = redactor.Redact(body);
        CopyHeaders(upstream, client.Response);
        client.Response.StatusCode = (int)upstream.StatusCode;
        client.Response.ContentLength = masked.Length;
        await client.WriteAsync(masked, clientAborted);
    }

    /// <summary>A JSON body of the gateway's making, with the upstream's headers (request ids, retry-after) kept.</summary>
    private async Task WriteWholeAsync(HttpResponseMessage upstream, int status, ReadOnlyMemory<byte> json, CancellationToken clientAborted)
    {
        CopyHeaders(upstream, client.Response);
        client.Response.Headers.ContentEncoding = default;
        client.Response.StatusCode = status;
        client.Response.ContentType = "application/json";
        client.Response.ContentLength = json.Length;
        await client.WriteAsync(json, clientAborted);
    }

    /// <summary>
    /// A client's SDK reads <c>content</c> as an array; null would fail it. Rewritten property by property, so every other
    /// property stays, a key the upstream repeated included (which a JsonNode would refuse to hold).
    /// </summary>
    private static byte[] WithEmptyContent(ReadOnlyMemory<byte> message)
    {
        // Read as the response reader read it: the message, and nothing after it.
        var reader = new Utf8JsonReader(message.Span, new JsonReaderOptions { MaxDepth = ModelResponseReader.MaxDepth });
        using var document = JsonDocument.ParseValue(ref reader);
        var output = new ArrayBufferWriter<byte>(message.Length + 2);
        using (var writer = new Utf8JsonWriter(output, new JsonWriterOptions { SkipValidation = true }))
        {
            writer.WriteStartObject();
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (property.NameEquals("content"))
                {
                    writer.WritePropertyName(property.Name);
                    writer.WriteStartArray();
                    writer.WriteEndArray();
                }
                else
                {
                    property.WriteTo(writer);
                }
            }

            writer.WriteEndObject();
        }

        return output.WrittenSpan.ToArray();
    }

    /// <summary>Relays an error response, in Anthropic form whatever form the upstream used.</summary>
    public async Task RelayErrorAsync(HttpResponseMessage upstream, CancellationToken clientAborted)
    {
        var status = (int)upstream.StatusCode;

        // Whatever arrived before a failure still says what went wrong. Masked as it came, before re-wrapping (JSON
        // escaping) or shortening could hide a secret from the search.
        var (body, _) = await BoundedBody.ReadAsync(upstream, MaxErrorBody, idleTimeout, clientAborted);
        var requestId = RequestIds.Of(client.Response.HttpContext);
        var (normalized, errorType, message) = AnthropicError.NormalizeUpstream(status, redactor.Redact(body).Span, requestId);
        call.Fail(errorType, $"the upstream answered {status}: {message}", status);
        if (ExplainError?.Invoke(status, message, call.Model) is { } explained)
        {
            (status, normalized) = (explained.StatusCode, explained.ToJsonBytes(requestId));
        }

        if (client.HeadersSent)
        {
            await client.WriteAsync(SseEvents.Error(normalized), clientAborted);
            return;
        }

        // Keep retry-after and request ids: Claude Code's retry logic reads them. The body is new, so is its type.
        await WriteWholeAsync(upstream, status, normalized, clientAborted);
    }

    /// <summary>Ollama ends the stream without message_stop when generation fails; say so instead of leaving the client guessing.</summary>
    private async Task EndIncompleteAsync(CancellationToken clientAborted)
    {
        call.AddTag(TelemetryNames.Attributes.StreamIncomplete, true);
        await EndWithErrorAsync(
            AnthropicError.ForStatus(502, "the upstream ended the stream before message_stop (the model server failed mid-generation)"),
            TelemetryNames.ErrorTypes.StreamIncomplete,
            clientAborted);
    }

    private async Task EndWithErrorAsync(AnthropicError error, string errorType, CancellationToken clientAborted)
    {
        call.Fail(errorType, error.Message, error.StatusCode);
        await client.WriteErrorAsync(error, clientAborted);
    }

    private void CopyHeaders(HttpResponseMessage upstream, HttpResponse response) => CopyHeaders(upstream, response, redactor);

    /// <summary>Copies the upstream's end-to-end response headers, masked.</summary>
    public static void CopyHeaders(HttpResponseMessage upstream, HttpResponse response, SecretRedactor redactor)
    {
        // Unvalidated: the values are passed on as sent, without parsing them into typed headers first.
        var nominated = upstream.Headers.NonValidated.TryGetValues("Connection", out var connection)
            ? HopByHopHeaders.NominatedBy(connection.ToArray())
            : null;
        CopyHeaders(upstream.Headers.NonValidated, response.Headers, nominated, redactor);
        CopyHeaders(upstream.Content.Headers.NonValidated, response.Headers, nominated, redactor);
    }

    private static void CopyHeaders(HttpHeadersNonValidated from, IHeaderDictionary to, HashSet<string>? nominated, SecretRedactor redactor)
    {
        foreach (var (name, values) in from)
        {
            // A name is not masked, so a header named with a secret, in any case (hops re-case names), is left out whole.
            if (!DroppedHeaders.Contains(name) && nominated?.Contains(name) != true && !redactor.HoldsInAnyCase(name) && values.All(IsSendable))
            {
                // Masked like the body: a server may quote the key it rejected in a header too (WWW-Authenticate).
                to[name] = values.Count == 1 ? redactor.Redact(values.ToString()) : values.Select(redactor.Redact).ToArray();
            }
        }
    }

    /// <summary>
    /// HttpClient accepts any byte above 0x7F in a response header; Kestrel refuses to send one (or a control
    /// character), and the whole answer would fail. Such a header is left out instead.
    /// </summary>
    public static bool IsSendable(string headerValue) => !headerValue.AsSpan().ContainsAnyExcept(HeaderValueChars);
}
