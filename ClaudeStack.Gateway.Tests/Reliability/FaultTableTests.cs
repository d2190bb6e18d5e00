using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using ClaudeStack.Gateway.Telemetry;
using ClaudeStack.Gateway.Tests.Support;
using ClaudeStack.ScriptedUpstream;
using Xunit;

namespace ClaudeStack.Gateway.Tests.Reliability;

/// <summary>
/// Issue 6, fault table: every way the upstream can fail, what the client sees (status, Anthropic error JSON or an
/// SSE <c>event: error</c>) and what the span records (status Error and <c>error.type</c>).
/// </summary>
public sealed class FaultTableTests
{
    private const string PingEvent = "event: ping\ndata: {\"type\": \"ping\"}\n\n";

    private static readonly ScriptedMessage FaultMessage = new()
    {
        Id = "msg_fault_table",
        Blocks = [new ScriptedText(["The ", "quick ", "brown ", "fox ", "jumps ", "over ", "the ", "dog."])],
        InputTokens = 42,
        OutputTokens = 8,
    };

    public static TheoryData<string> Faults => [.. Cases.Keys];

    // Loopback and closed: should a redirect ever be relayed, the test client follows it nowhere.
    private static readonly string RedirectTarget = $"http://127.0.0.1:{Rig.ClosedPort()}/v1/messages";

    private static readonly Dictionary<string, FaultCase> Cases = new FaultCase[]
    {
        // Nothing listens on the upstream port (Ollama not started yet). 502 is what Claude Code retries.
        new("ConnectionRefused", null, Stream: false, [], (answer, span, _) =>
        {
            Assert.Equal(HttpStatusCode.BadGateway, answer.Status);
            var (_, message) = Rig.AssertAnthropicError(answer.Body, "api_error");
            Assert.Contains("connection refused", message, StringComparison.Ordinal);
            Rig.AssertFailedSpan(span, TelemetryNames.ErrorTypes.UpstreamUnreachable, 502);
        }),

        // Same with a streamed request: the refusal comes before any keep-alive, so still a plain 502.
        new("ConnectionRefusedStreamed", null, Stream: true, [], (answer, span, _) =>
        {
            Assert.Equal(HttpStatusCode.BadGateway, answer.Status);
            Assert.Equal("application/json", answer.MediaType);
            Rig.AssertAnthropicError(answer.Body, "api_error");
            Rig.AssertFailedSpan(span, TelemetryNames.ErrorTypes.UpstreamUnreachable, 502);
        }),

        // Ollama v0.32.15 server/routes.go ChatHandler "model runner has unexpectedly stopped", turned into the
        // Anthropic shape with a request_id by middleware/anthropic.go (*AnthropicWriter).writeError.
        new("Upstream500", _ => ScriptedReply.Status(500, RunnerCrashedBody), Stream: true, [], (answer, span, _) =>
        {
            Assert.Equal(HttpStatusCode.InternalServerError, answer.Status);
            Rig.AssertAnthropicError(answer.Body, "api_error");
            Assert.Equal(RunnerCrashedBody, answer.Text); // already Anthropic-shaped: kept byte for byte
            Rig.AssertFailedSpan(span, "api_error", 500);
        }),

        // A reverse proxy in front of the model server answering 500 with an HTML page (not JSON at all).
        new("Upstream500Html", _ => ScriptedReply.Status(500, "<html><body>Internal Server Error</body></html>", "text/html"), Stream: false, [], (answer, span, _) =>
        {
            Assert.Equal(HttpStatusCode.InternalServerError, answer.Status);
            Assert.Equal("application/json", answer.MediaType);
            var (_, message) = Rig.AssertAnthropicError(answer.Body, "api_error");
            Assert.Contains("Internal Server Error", message, StringComparison.Ordinal);
            Rig.AssertFailedSpan(span, "api_error", 500);
        }),

        // The Anthropic API's 529 overloaded_error (docs.anthropic.com/en/api/errors); Claude Code retries it.
        new("Overloaded529", _ => ScriptedReply.Status(529, OverloadedBody, "application/json", ("request-id", "req_overloaded_1")), Stream: true, [], (answer, span, _) =>
        {
            Assert.Equal(529, (int)answer.Status);
            Assert.Equal(OverloadedBody, answer.Text);
            Rig.AssertAnthropicError(answer.Body, "overloaded_error");
            Assert.Equal("req_overloaded_1", Assert.Single(answer.Headers.GetValues("request-id")));
            Rig.AssertFailedSpan(span, "overloaded_error", 529);
        }),

        // The Anthropic API's 429 with retry-after (docs.anthropic.com/en/api/rate-limits); Ollama v0.32.15
        // anthropic/anthropic.go NewError maps 429 to rate_limit_error the same way.
        new("RateLimited429", _ => ScriptedReply.AnthropicError(429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit", ("retry-after", "7")), Stream: false, [], (answer, span, _) =>
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, answer.Status);
            Assert.Equal("7", Assert.Single(answer.Headers.GetValues("retry-after")));
            Rig.AssertAnthropicError(answer.Body, "rate_limit_error");
            Rig.AssertFailedSpan(span, "rate_limit_error", 429);
        }),

        // Ollama v0.32.15 server/cloud_proxy.go cloudPassthroughMiddleware writes its own errors in the plain
        // {"error":"..."} shape (api/types.go StatusError) because the Anthropic writer is not installed yet.
        new("OllamaShapeError502", _ => ScriptedReply.OllamaError(502, "cloud proxy: upstream ollama.com unavailable"), Stream: true, [], (answer, span, _) =>
        {
            Assert.Equal(HttpStatusCode.BadGateway, answer.Status);
            var (_, message) = Rig.AssertAnthropicError(answer.Body, "api_error");
            Assert.Equal("cloud proxy: upstream ollama.com unavailable", message);
            Rig.AssertFailedSpan(span, "api_error", 502);
        }),

        // Ollama's "server busy" when OLLAMA_MAX_QUEUE is full (server/sched.go ErrMaxQueue, written by server/routes.go
        // handleScheduleError behind the Anthropic route, so in the Anthropic shape: overloaded_error with a request_id).
        new("OllamaQueueFull503", _ => ScriptedReply.OllamaRouteError(503, "server busy, please try again.  maximum pending requests exceeded"), Stream: false, [], (answer, span, _) =>
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, answer.Status);
            var (_, message) = Rig.AssertAnthropicError(answer.Body, "overloaded_error");
            Assert.Equal("server busy, please try again.  maximum pending requests exceeded", message);
            Rig.AssertFailedSpan(span, "overloaded_error", 503);
        }),

        // A crashed or killed model server (Ollama v0.32.15 llm/llama_server.go: the runner process dies mid-generation):
        // some events, then the connection drops with no terminal chunk. ScriptedReply.StreamThenReset aborts right after
        // its last flush, and Kestrel's Abort can drop bytes still queued for the socket (headers included), which makes
        // it a reset *before* headers at random; the bytes are given time to leave first so the reset is mid-stream.
        new("StreamReset", _ => ResetAfterDelivery(FaultMessage, 3), Stream: true, [], (answer, span, _) =>
        {
            AssertEventsThenError(answer, [.. AnthropicSse.MessageEvents(FaultMessage).Take(3)], "api_error");
            Rig.AssertFailedSpan(span, TelemetryNames.ErrorTypes.StreamReset);
        }),

        // The same crash before anything was written: no response at all, so a plain 502 like a refused connection.
        // The call opened its connection, so nothing raced an idle close: it is not sent again.
        new("ResetBeforeHeaders", _ => AbortWithoutAnswer(), Stream: true, [], (answer, span, rig) =>
        {
            Assert.Equal(HttpStatusCode.BadGateway, answer.Status);
            var (_, message) = Rig.AssertAnthropicError(answer.Body, "api_error");
            Assert.EndsWith("the connection without answering", message, StringComparison.Ordinal);
            Rig.AssertFailedSpan(span, TelemetryNames.ErrorTypes.UpstreamUnreachable, 502);
            Assert.Single(rig.Upstream!.MessageRequests);
            Assert.Null(span.GetTagItem(TelemetryNames.Attributes.HttpRequestResendCount));
        }),

        // Ollama v0.32.15 routes.go streamResponse + middleware/anthropic.go AnthropicWriter.Write: a mid-stream
        // error ends the SSE body cleanly with no message_delta/message_stop and no event: error.
        new("StreamEndingEarly", _ => ScriptedReply.StreamEndingEarly(FaultMessage, 4), Stream: true, [], (answer, span, _) =>
        {
            AssertEventsThenError(answer, [.. AnthropicSse.MessageEvents(FaultMessage).Take(4)], "api_error");
            Rig.AssertFailedSpan(span, TelemetryNames.ErrorTypes.StreamIncomplete);
            Assert.Equal(true, span.GetTagItem(TelemetryNames.Attributes.StreamIncomplete));
        }),

        // A model server that finishes the message and then drops the connection (a runner exiting, a proxy closing
        // with RST, the reset right behind the last bytes): the message is whole, so the client gets all of it and nothing else.
        new("ResetAfterMessageStop", _ => ResetAfterDelivery(FaultMessage, int.MaxValue), Stream: true, [], (answer, span, _) =>
        {
            Assert.Equal(HttpStatusCode.OK, answer.Status);
            Assert.Equal(Rig.Utf8(AnthropicSse.MessageEvents(FaultMessage)), answer.Body);
            Rig.AssertSucceededSpan(span);
        }),

        // A stream that ends inside an event (a proxy closing cleanly mid-write): the client gets the whole events before
        // it, then the gateway's error as an event of its own, never glued onto half an upstream event.
        new("StreamEndingMidEvent", _ => ScriptedReply.Chunks([Encoding.UTF8.GetBytes(string.Concat(AnthropicSse.MessageEvents(FaultMessage).Take(4)) + HalfEvent)]), Stream: true, [], (answer, span, _) =>
        {
            AssertEventsThenError(answer, [.. AnthropicSse.MessageEvents(FaultMessage).Take(4)], "api_error");
            Rig.AssertFailedSpan(span, TelemetryNames.ErrorTypes.StreamIncomplete);
        }),

        // The same with a crash in the middle of an event.
        new("ResetMidEvent", _ => ResetAfterDelivery(FaultMessage, 3, HalfEvent), Stream: true, [], (answer, span, _) =>
        {
            AssertEventsThenError(answer, [.. AnthropicSse.MessageEvents(FaultMessage).Take(3)], "api_error");
            Rig.AssertFailedSpan(span, TelemetryNames.ErrorTypes.StreamReset);
        }),

        // A proxy whose compression is broken (Content-Encoding: gzip over bytes that do not inflate): the gateway's
        // decoding fails, which is the upstream's failure, a 502 saying so, not the gateway's own 500.
        new("CorruptCompressedAnswer", _ => CorruptlyCompressed(FaultMessage, goodEvents: 0), Stream: false, [], (answer, span, _) =>
        {
            Assert.Equal(HttpStatusCode.BadGateway, answer.Status);
            var (_, message) = Rig.AssertAnthropicError(answer.Body, "api_error");
            Assert.Contains("could not be decoded", message, StringComparison.Ordinal);
            Rig.AssertFailedSpan(span, TelemetryNames.ErrorTypes.UpstreamUndecodable, 502);
        }),

        // The same breaking mid-stream: the events that inflated reach the client, then an error event, on a connection
        // the gateway still holds.
        new("CorruptCompressedStream", _ => CorruptlyCompressed(FaultMessage, goodEvents: 3), Stream: true, [], (answer, span, _) =>
        {
            AssertEventsThenError(answer, [.. AnthropicSse.MessageEvents(FaultMessage).Take(3)], "api_error");
            var (_, message) = Rig.AssertAnthropicError(ClientAnswer.ErrorEventData(answer.Events[^1]), "api_error");
            Assert.Contains("could not be decoded", message, StringComparison.Ordinal);
            Rig.AssertFailedSpan(span, TelemetryNames.ErrorTypes.UpstreamUndecodable);
        }),

        // A stream whose media type is spelled in capitals (media types are case-insensitive): relayed as a stream.
        new("CapitalizedEventStreamType", _ => ScriptedReply.Chunks([Rig.Utf8(AnthropicSse.MessageEvents(FaultMessage))], "Text/Event-Stream"), Stream: true, [], (answer, span, _) =>
        {
            Assert.Equal(HttpStatusCode.OK, answer.Status);
            Assert.Equal(Rig.Utf8(AnthropicSse.MessageEvents(FaultMessage)), answer.Body);
            Rig.AssertSucceededSpan(span);
        }),

        // A whole answer whose null content is followed by stray bytes (a server writing a newline-and-junk trailer):
        // content becomes [] as for any null content, never a 500.
        new("NullContentWithTrailer", _ => ScriptedReply.Status(200, NullContentBody + "x"), Stream: false, [], (answer, span, _) =>
        {
            Assert.Equal(HttpStatusCode.OK, answer.Status);
            Assert.Equal(NullContentBody.Replace("\"content\":null", "\"content\":[]", StringComparison.Ordinal), answer.Text);
            Rig.AssertSucceededSpan(span);
        }),

        // A null content beside a field nested deeper than a request may be, yet within what the gateway reads of an
        // answer (a server's own metadata): content becomes [], as for any null content, never a 500.
        new("NullContentBesideDeepField", _ => ScriptedReply.Status(200, DeepNullContentBody), Stream: false, [], (answer, span, _) =>
        {
            Assert.Equal(HttpStatusCode.OK, answer.Status);
            Assert.Equal(DeepNullContentBody.Replace("\"content\":null", "\"content\":[]", StringComparison.Ordinal), answer.Text);
            Rig.AssertSucceededSpan(span);
        }),

        // A compatible server that streams whatever "stream" says, to a client that asked for a whole message (an SDK's
        // messages.create): the events are folded into the message that client can read, usage and all.
        new("StreamToWholeRequest", _ => ScriptedReply.Events(AnthropicSse.MessageEvents(FaultMessage)), Stream: false, [], (answer, span, _) =>
        {
            Assert.Equal(HttpStatusCode.OK, answer.Status);
            Assert.Equal("application/json", answer.MediaType);
            Assert.True(System.Text.Json.Nodes.JsonNode.DeepEquals(System.Text.Json.Nodes.JsonNode.Parse(AnthropicSse.MessageJson(FaultMessage)), System.Text.Json.Nodes.JsonNode.Parse(answer.Text)), answer.Text);
            Rig.AssertSucceededSpan(span);
            Assert.Equal((long)FaultMessage.OutputTokens, span.GetTagItem(TelemetryNames.Attributes.UsageOutputTokens));
        }),

        // The same server failing mid-stream with an error event: the whole-message client gets that error with the
        // status its type has (529 for overloaded, which Claude Code and the SDKs retry).
        new("StreamedErrorToWholeRequest", _ => ScriptedReply.Events([.. AnthropicSse.MessageEvents(FaultMessage).Take(3), "event: error\ndata: " + OverloadedBody + "\n\n"]), Stream: false, [], (answer, span, _) =>
        {
            Assert.Equal(529, (int)answer.Status);
            Assert.Equal(OverloadedBody, answer.Text);
            Rig.AssertFailedSpan(span, "overloaded_error", 529);
        }),

        // Some Anthropic-compatible servers send null for the usage counts they do not keep: the answer is relayed as
        // sent and the counts they do give are recorded.
        new("NullUsageCount", _ => ScriptedReply.Status(200, NullUsageBody), Stream: false, [], (answer, span, _) =>
        {
            Assert.Equal(HttpStatusCode.OK, answer.Status);
            Assert.Equal(NullUsageBody, answer.Text);
            Rig.AssertSucceededSpan(span);
            Assert.Equal(5L, span.GetTagItem(TelemetryNames.Attributes.UsageInputTokens));
            Assert.Null(span.GetTagItem(TelemetryNames.Attributes.UsageCacheReadInputTokens));
        }),

        // A proxy adding a header whose value is not ASCII (HttpClient takes it; Kestrel will not send it): the answer
        // is relayed without that header.
        new("NonAsciiHeader", _ => ScriptedReply.Status(200, AnthropicSse.MessageJson(FaultMessage), "application/json", ("x-upstream-note", "café"), ("request-id", "req_note_1")), Stream: false, [], (answer, span, _) =>
        {
            Assert.Equal(HttpStatusCode.OK, answer.Status);
            Assert.Equal(AnthropicSse.MessageJson(FaultMessage), answer.Text);
            Assert.False(answer.Headers.Contains("x-upstream-note"));
            Assert.Equal("req_note_1", Assert.Single(answer.Headers.GetValues("request-id")));
            Rig.AssertSucceededSpan(span);
        }),

        // An upstream URL that redirects (http to https, a path moved): a 502 naming the setting to fix, never the
        // redirect itself, which would send the client and its key to wherever the upstream points.
        new("UpstreamRedirect", _ => ScriptedReply.Status(307, "", "text/plain", ("location", RedirectTarget)), Stream: false, [], (answer, span, _) =>
        {
            Assert.Equal(HttpStatusCode.BadGateway, answer.Status);
            Assert.Null(answer.Headers.Location);
            var (_, message) = Rig.AssertAnthropicError(answer.Body, "api_error");
            Assert.Contains($"307 to {RedirectTarget}", message, StringComparison.Ordinal);
            Assert.Contains("Gateway:Upstream:Url", message, StringComparison.Ordinal);
            Rig.AssertFailedSpan(span, TelemetryNames.ErrorTypes.UpstreamRedirect, 502);
        }),

        // An upstream that is not a Messages API at all (LM Studio answers an unknown route 200 with
        // {"error":"Unexpected endpoint or method. ..."}) to a streamed request: events can only carry a message, so
        // the client gets an error naming the setting to check, not an empty message that looks like success.
        new("JsonNotAMessage", _ => ScriptedReply.Status(200, """{"error":"Unexpected endpoint or method. (POST /v1/messages)"}"""), Stream: true, [], (answer, span, _) =>
        {
            Assert.Equal(HttpStatusCode.BadGateway, answer.Status);
            var (_, message) = Rig.AssertAnthropicError(answer.Body, "api_error");
            Assert.Contains("Gateway:Upstream:Url", message, StringComparison.Ordinal);
            Rig.AssertFailedSpan(span, TelemetryNames.ErrorTypes.UpstreamNotAMessage, 502);
        }),

        // The same after keep-alive opened the stream (with the gateway's message_start): it ends in an event: error,
        // not in a made-up empty message.
        new("JsonNotAMessageAfterKeepAlive", _ => ScriptedReply.Custom(async (context, _, ct) =>
        {
            await Task.Delay(800, ct);
            context.Response.ContentType = "application/json";
            await context.Response.Body.WriteAsync("""{"object":"chat.completion","choices":[]}"""u8.ToArray(), ct);
        }), Stream: true, Timeouts(keepAliveAfter: "00:00:00.200"), (answer, span, _) =>
        {
            Assert.Equal(HttpStatusCode.OK, answer.Status);
            Assert.DoesNotContain("event: message_stop", answer.Text, StringComparison.Ordinal);
            Rig.AssertAnthropicError(ClientAnswer.ErrorEventData(answer.Events[^1]), "api_error");
            Rig.AssertFailedSpan(span, TelemetryNames.ErrorTypes.UpstreamNotAMessage, 502);
        }),

        // A non-conforming server (or a proxy) mixing junk lines into the stream: relayed untouched, the call completes.
        new("MalformedSse", _ => ScriptedReply.Chunks(MalformedStream()), Stream: true, [], (answer, span, _) =>
        {
            Assert.Equal(HttpStatusCode.OK, answer.Status);
            Assert.Equal("text/event-stream", answer.MediaType);
            Assert.Equal(MalformedStream().SelectMany(c => c).ToArray(), answer.Body);
            Assert.DoesNotContain("event: error", answer.Text, StringComparison.Ordinal);

            // What the span says: a normal completed call, usage and finish reason from the valid events.
            Rig.AssertSucceededSpan(span);
            Assert.Equal(FaultMessage.Id, span.GetTagItem(TelemetryNames.Attributes.ResponseId));
            Assert.Equal(new[] { "stop" }, (string[])span.GetTagItem(TelemetryNames.Attributes.ResponseFinishReasons)!);
            Assert.Equal((long)FaultMessage.OutputTokens, span.GetTagItem(TelemetryNames.Attributes.UsageOutputTokens));
            Assert.Null(span.GetTagItem(TelemetryNames.Attributes.StreamIncomplete));
        }),

        // Junk whose values are hostile to a JSON reader: invalid UTF-8, an index beyond Int32, huge numbers.
        new("MalformedSseHostileValues", _ => ScriptedReply.Chunks(HostileStream()), Stream: true, [], (answer, span, _) =>
        {
            Assert.Equal(HttpStatusCode.OK, answer.Status);
            Assert.Equal(HostileStream().SelectMany(c => c).ToArray(), answer.Body);
            Rig.AssertSucceededSpan(span);
            Assert.Equal(new[] { "stop" }, (string[])span.GetTagItem(TelemetryNames.Attributes.ResponseFinishReasons)!);
        }),

        // Ollama v0.32.15 middleware/anthropic.go: nothing, not even headers, until the first token (model load,
        // prompt evaluation). With keep-alive off the gateway gives up after ResponseTimeout with a 504.
        new("HangStreamedNoKeepAlive", _ => ScriptedReply.Hang(), Stream: true, Timeouts(responseTimeout: "00:00:01", keepAliveAfter: "00:00:00"), (answer, span, rig) =>
        {
            Assert.Equal(HttpStatusCode.GatewayTimeout, answer.Status);
            Assert.Equal("application/json", answer.MediaType);
            Rig.AssertAnthropicError(answer.Body, "timeout_error");
            Rig.AssertFailedSpan(span, TelemetryNames.ErrorTypes.UpstreamTimeout, 504);
        }),

        new("HangNotStreamed", _ => ScriptedReply.Hang(), Stream: false, Timeouts(responseTimeout: "00:00:01"), (answer, span, rig) =>
        {
            Assert.Equal(HttpStatusCode.GatewayTimeout, answer.Status);
            Rig.AssertAnthropicError(answer.Body, "timeout_error");
            Rig.AssertFailedSpan(span, TelemetryNames.ErrorTypes.UpstreamTimeout, 504);
        }),

        // Same hang, but keep-alive pings already sent 200 and SSE headers: the timeout becomes an event: error.
        new("HangAfterKeepAlive", _ => ScriptedReply.Hang(), Stream: true, Timeouts(responseTimeout: "00:00:01.5", keepAliveAfter: "00:00:00.3"), (answer, span, rig) =>
        {
            Assert.Equal(HttpStatusCode.OK, answer.Status);
            Assert.Equal("text/event-stream", answer.MediaType);
            var events = answer.Events;
            Assert.True(events.Count >= 3, answer.Text);
            Assert.StartsWith("event: message_start\n", events[0], StringComparison.Ordinal);
            Assert.All(events.Skip(1).Take(events.Count - 2), e => Assert.Equal(PingEvent, e));
            Rig.AssertAnthropicError(ClientAnswer.ErrorEventData(events[^1]), "timeout_error");
            Rig.AssertFailedSpan(span, TelemetryNames.ErrorTypes.UpstreamTimeout, 504);
        }),

        // A stalled stream (llama-server wedged mid-generation): headers and events, then silence.
        new("StalledStream", _ => ScriptedReply.StreamThenHang(FaultMessage, 3), Stream: true, Timeouts(idleTimeout: "00:00:01"), (answer, span, rig) =>
        {
            AssertEventsThenError(answer, [.. AnthropicSse.MessageEvents(FaultMessage).Take(3)], "timeout_error");
            Rig.AssertFailedSpan(span, TelemetryNames.ErrorTypes.UpstreamTimeout);
        }),

        // A slow CPU model: one event every 200 ms. Slow is not stalled: every byte arrives and the call completes.
        new("SlowTrickle", _ => ScriptedReply.Message(FaultMessage, eventInterval: TimeSpan.FromMilliseconds(200)), Stream: true, Timeouts(idleTimeout: "00:00:01"), (answer, span, rig) =>
        {
            Assert.Equal(HttpStatusCode.OK, answer.Status);
            Assert.Equal(Rig.Utf8(AnthropicSse.MessageEvents(FaultMessage)), answer.Body);
            Rig.AssertSucceededSpan(span);
            Assert.Equal((long)FaultMessage.OutputTokens, span.GetTagItem(TelemetryNames.Attributes.UsageOutputTokens));
        }),
    }.ToDictionary(c => c.Name);

    private const string RunnerCrashedBody =
        "{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"model runner has unexpectedly stopped, this may be due to resource limitations or an internal error, check ollama server logs for details\"},\"request_id\":\"req_0123456789abcdef01234567\"}";

    private const string HalfEvent = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_de";

    private const string NullUsageBody =
        "{\"id\":\"msg_null_usage\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"llama3.1:8b\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"}],\"stop_reason\":\"end_turn\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":5,\"output_tokens\":1,\"cache_read_input_tokens\":null}}";

    private const string NullContentBody =
        "{\"id\":\"msg_null_content\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"llama3.1:8b\",\"content\":null,\"stop_reason\":\"end_turn\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":5,\"output_tokens\":0}}";

    private static string DeepNullContentBody =>
        NullContentBody[..^1] + ",\"metadata\":" + new string('[', Requests.MessagesRequest.MaxDepth + 1) + new string(']', Requests.MessagesRequest.MaxDepth + 1) + "}";

    private const string OverloadedBody = "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"},\"request_id\":\"req_overloaded_1\"}";

    [Theory]
    [MemberData(nameof(Faults))]
    public async Task Fault_ClientAndSpanReportIt(string fault)
    {
        var ct = TestContext.Current.CancellationToken;
        var @case = Cases[fault];
        await using var rig = @case.Script is null
            ? await Rig.StartAgainstClosedPortAsync(@case.Settings, ct)
            : await Rig.StartAsync(@case.Script, @case.Settings, ct);

        var answer = await rig.PostAsync(Rig.MessagesBody(stream: @case.Stream), ct);
        var span = await rig.SingleSpanAsync(ct);
        @case.Verify(answer, span, rig);
        AssertErrorNamesItsCall(answer, span);

        if (rig.Upstream is { } upstream && @case.Name.StartsWith("Hang", StringComparison.Ordinal))
        {
            // Giving up also releases the upstream request instead of leaving it hanging.
            var request = Assert.Single(upstream.MessageRequests);
            await Until(() => request.Aborted, ct);
        }
    }

    /// <summary>
    /// A server that closes idle kept-alive connections on its own (uvicorn's 5 s keep-alive in front of vLLM or
    /// LiteLLM) can close one just as the gateway sends a call on it. Scripted here as the upstream dropping the
    /// second call's connection, which the first call left in the gateway's pool, without an answer.
    /// </summary>
    [Fact]
    public async Task PooledConnectionClosedAsACallGoesOut_TheCallIsSentAgain_AndItsSpanSaysSo()
    {
        var ct = TestContext.Current.CancellationToken;
        var calls = 0;
        await using var rig = await Rig.StartAsync(_ => Interlocked.Increment(ref calls) == 2 ? AbortWithoutAnswer() : ScriptedReply.Message(FaultMessage), null, ct);

        var first = await rig.PostAsync(Rig.MessagesBody(stream: false), ct);
        await rig.Spans.WaitForAsync(1, ct, Rig.Bound);
        var second = await rig.PostAsync(Rig.MessagesBody(stream: false), ct);
        var spans = await rig.Spans.WaitForAsync(2, ct, Rig.Bound);

        Assert.Equal(HttpStatusCode.OK, first.Status);
        Assert.Equal(HttpStatusCode.OK, second.Status);
        Assert.Equal(3, rig.Upstream!.MessageRequests.Count);
        Assert.Null(spans[0].GetTagItem(TelemetryNames.Attributes.HttpRequestResendCount));
        Assert.Equal(1, spans[1].GetTagItem(TelemetryNames.Attributes.HttpRequestResendCount));
        Rig.AssertSucceededSpan(spans[1]);
    }

    /// <summary>
    /// A client that stops reading (a terminal paused, a laptop lid closed) blocks the gateway's writes; the upstream
    /// is not silent meanwhile, so the stream must carry on once the client reads again, not end as upstream_timeout.
    /// </summary>
    [Fact]
    public async Task SlowReader_IsNotMistakenForASilentUpstream()
    {
        var ct = TestContext.Current.CancellationToken;

        // 12 MB of text deltas, sent as fast as the connection takes them (Ollama v0.32.15 anthropic/anthropic.go
        // writes one text_delta per generated chunk and waits only on the socket).
        var piece = new string('x', 4096);
        var message = FaultMessage with { Blocks = [new ScriptedText([.. Enumerable.Repeat(piece, 3000)])], OutputTokens = 3000 };
        await using var rig = await Rig.StartAsync(_ => ScriptedReply.Message(message), Timeouts(idleTimeout: "00:00:01"), ct);

        // A small receive window, so the gateway's writes block long before 12 MB have left it.
        using var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, token) =>
            {
                var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp) { ReceiveBufferSize = 8 * 1024 };
                await socket.ConnectAsync(context.DnsEndPoint, token);
                return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
            },
        };
        using var client = new HttpClient(handler) { BaseAddress = rig.Gateway.BaseAddress, Timeout = Rig.Bound };
        client.DefaultRequestHeaders.Authorization = rig.Client.DefaultRequestHeaders.Authorization;
        using var response = await client.SendAsync(Rig.Post("/v1/messages", Rig.MessagesBody()), HttpCompletionOption.ResponseHeadersRead, ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        // Three idle timeouts without reading a byte.
        await Task.Delay(TimeSpan.FromSeconds(3), ct);
        var text = await response.Content.ReadAsStringAsync(ct).WaitAsync(Rig.Bound, ct);

        Assert.DoesNotContain("event: error", text, StringComparison.Ordinal);
        Assert.EndsWith(string.Concat(AnthropicSse.MessageEvents(message).TakeLast(1)), text, StringComparison.Ordinal);
        Rig.AssertSucceededSpan(await rig.SingleSpanAsync(ct));
    }

    /// <summary>
    /// The idle timer is re-armed at most every tenth of the timeout. Bytes that arrive just before a re-arm is due
    /// must still buy a whole timeout of silence: a gap shorter than the timeout is a healthy, slow model.
    /// </summary>
    [Fact]
    public async Task GapShorterThanTheIdleTimeout_IsNotATimeout()
    {
        var ct = TestContext.Current.CancellationToken;

        // IdleTimeout 4 s, re-armed at most every 0.4 s: events at 0 and 0.3 s, then 3.85 s of silence (Ollama v0.32.15
        // server/routes.go sends nothing while its parser holds back a tool call being generated). A timer armed
        // at 0 for exactly 4 s would fire 0.15 s before the next event.
        var events = AnthropicSse.MessageEvents(FaultMessage).ToList();
        await using var rig = await Rig.StartAsync(_ => ScriptedReply.Custom(async (context, _, cancellationToken) =>
        {
            context.Response.ContentType = "text/event-stream";
            foreach (var (part, pauseAfter) in new[] { (events.Take(1), 300), (events.Skip(1).Take(1), 3850), (events.Skip(2), 0) })
            {
                await context.Response.Body.WriteAsync(Encoding.UTF8.GetBytes(string.Concat(part)), cancellationToken);
                await context.Response.Body.FlushAsync(cancellationToken);
                await Task.Delay(pauseAfter, cancellationToken);
            }
        }), Timeouts(idleTimeout: "00:00:04"), ct);

        var answer = await rig.PostAsync(Rig.MessagesBody(), ct);

        Assert.DoesNotContain("event: error", answer.Text, StringComparison.Ordinal);
        Assert.EndsWith(events[^1], answer.Text, StringComparison.Ordinal);
        Rig.AssertSucceededSpan(await rig.SingleSpanAsync(ct));
    }

    internal static async Task Until(Func<bool> condition, CancellationToken cancellationToken, double seconds = 5)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(seconds), $"condition not met within {seconds} s");
            await Task.Delay(25, cancellationToken);
        }
    }

    /// <summary>
    /// Every error names its call as Anthropic's do, by <c>request_id</c>: an upstream's own Anthropic error keeps its
    /// id (Ollama writes one too), any other carries the call's trace id, which finds it in the dashboard. A
    /// <c>request-id</c> header, the upstream's or the gateway's, names the same.
    /// </summary>
    private static void AssertErrorNamesItsCall(ClientAnswer answer, Activity span)
    {
        var error = (int)answer.Status >= 400 ? answer.Body
            : answer.MediaType == "text/event-stream" && answer.Events is [.., var last] && last.StartsWith("event: error", StringComparison.Ordinal) ? ClientAnswer.ErrorEventData(last)
            : null;
        if (error is null)
        {
            return;
        }

        var requestId = JsonNode.Parse(error)!["request_id"]?.GetValue<string>();
        Assert.NotNull(requestId);
        if (!requestId.StartsWith("req_", StringComparison.Ordinal))
        {
            Assert.Equal(span.TraceId.ToHexString(), requestId);
        }

        if (answer.Headers.TryGetValues("request-id", out var header))
        {
            Assert.Equal(requestId, Assert.Single(header));
        }
    }

    private static void AssertEventsThenError(ClientAnswer answer, IReadOnlyList<string> expectedFirst, string errorType)
    {
        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal("text/event-stream", answer.MediaType);
        var events = answer.Events;
        Assert.Equal(expectedFirst.Count + 1, events.Count);
        Assert.Equal(expectedFirst, events.Take(expectedFirst.Count));
        Rig.AssertAnthropicError(ClientAnswer.ErrorEventData(events[^1]), errorType);
    }

    /// <summary>The upstream takes the call and drops its connection without a byte of answer (a crash, a restart).</summary>
    private static ScriptedReply AbortWithoutAnswer() => ScriptedReply.Custom((context, _, _) =>
    {
        context.Abort();
        return Task.CompletedTask;
    });

    /// <summary>The first events of a message and any trailing bytes, then (once they reached the socket) a connection reset.</summary>
    private static ScriptedReply ResetAfterDelivery(ScriptedMessage message, int eventCount, string trailing = "") =>
        ScriptedReply.Custom(async (context, _, cancellationToken) =>
        {
            context.Response.StatusCode = 200;
            context.Response.ContentType = "text/event-stream";
            await context.Response.StartAsync(cancellationToken);
            foreach (var sseEvent in AnthropicSse.MessageEvents(message).Take(eventCount).Append(trailing))
            {
                await context.Response.Body.WriteAsync(Encoding.UTF8.GetBytes(sseEvent), cancellationToken);
                await context.Response.Body.FlushAsync(cancellationToken);
            }

            await Task.Delay(300, cancellationToken);
            context.Abort();
        });

    /// <summary>
    /// <c>Content-Encoding: gzip</c> over the first events of a message (or its JSON, when none), flushed so they
    /// inflate on their own, then bytes that are not deflate data.
    /// </summary>
    private static ScriptedReply CorruptlyCompressed(ScriptedMessage message, int goodEvents) =>
        ScriptedReply.Custom(async (context, _, cancellationToken) =>
        {
            context.Response.StatusCode = 200;
            context.Response.ContentType = goodEvents > 0 ? "text/event-stream" : "application/json";
            context.Response.Headers.ContentEncoding = "gzip";
            using var compressed = new MemoryStream();
            using (var gzip = new System.IO.Compression.GZipStream(compressed, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
            {
                gzip.Write(goodEvents > 0 ? Rig.Utf8(AnthropicSse.MessageEvents(message).Take(goodEvents)) : [.. "{\"id\":"u8]);
                gzip.Flush();
                await context.Response.Body.WriteAsync(compressed.ToArray(), cancellationToken);
                await context.Response.Body.FlushAsync(cancellationToken);
                await Task.Delay(200, cancellationToken);
                await context.Response.Body.WriteAsync(new byte[] { 0xff, 0xfe, 0xfd, 0x00, 0x11, 0x22, 0x33, 0x44 }, cancellationToken);
                await context.Response.Body.FlushAsync(cancellationToken);
            }
        });

    /// <summary>Timeouts short only where a case is about them: a loaded machine must not turn a slow start into a 504.</summary>
    private static Dictionary<string, string?> Timeouts(string responseTimeout = "00:00:30", string idleTimeout = "00:05:00", string? keepAliveAfter = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Gateway:Upstream:ResponseTimeout"] = responseTimeout,
            ["Gateway:Upstream:IdleTimeout"] = idleTimeout,
        };
        if (keepAliveAfter is not null)
        {
            settings["Gateway:Streaming:KeepAliveAfter"] = keepAliveAfter;
        }

        return settings;
    }

    /// <summary>Valid events of <see cref="FaultMessage"/> with junk between them, in odd chunk boundaries.</summary>
    private static IEnumerable<byte[]> MalformedStream()
    {
        var events = AnthropicSse.MessageEvents(FaultMessage);
        string[] junk =
        [
            "data: this is not json\n\n",
            ": a comment line the parser must skip\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":\n\n",
            "event: mystery_event\ndata: {}\n\n",
            "data: [1,2,3]\n\n",
            "a line with no field name at all\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":7,\"delta\":{\"type\":\"text_delta\",\"text\":\"orphan\"}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":\"zero\",\"delta\":{}}\n\n",
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":\"not an object\"}\n\n",
        ];
        var text = new StringBuilder();
        for (var i = 0; i < events.Count; i++)
        {
            text.Append(events[i]);
            if (i < events.Count - 1)
            {
                text.Append(junk[i % junk.Length]);
            }
        }

        // Cut at fixed odd offsets so events and junk straddle reads.
        var bytes = Encoding.UTF8.GetBytes(text.ToString());
        for (var offset = 0; offset < bytes.Length; offset += 37)
        {
            yield return bytes[offset..Math.Min(bytes.Length, offset + 37)];
        }
    }

    private static IEnumerable<byte[]> HostileStream()
    {
        var events = AnthropicSse.MessageEvents(FaultMessage);
        byte[][] junk =
        [
            [.. "data: {\"type\":\"ping\",\"x\":\""u8, 0xff, 0xfe, .. "\"}\n\n"u8],
            [.. "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":99999999999,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n\n"u8],
            [.. "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1.5}\n\n"u8],
            [.. "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\""u8, 0xc3, 0x28, .. "\"}}\n\n"u8],
            [.. "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":7},\"usage\":{\"output_tokens\":1e400}}\n\n"u8],
            [.. "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":-1,\"content_block\":{\"type\":null}}\n\n"u8],
        ];
        for (var i = 0; i < events.Count; i++)
        {
            yield return Encoding.UTF8.GetBytes(events[i]);
            if (i > 0 && i < events.Count - 2)
            {
                yield return junk[(i - 1) % junk.Length];
            }
        }
    }

    private sealed record FaultCase(
        string Name,
        Func<UpstreamRequest, ScriptedReply>? Script,
        bool Stream,
        Dictionary<string, string?> Settings,
        Action<ClientAnswer, Activity, Rig> Verify);
}
