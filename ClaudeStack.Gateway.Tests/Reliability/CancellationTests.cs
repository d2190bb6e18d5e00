using System.Diagnostics;
using System.Net;
using System.Text;
using ClaudeStack.Gateway.Telemetry;
using ClaudeStack.Gateway.Tests.Support;
using ClaudeStack.ScriptedUpstream;
using Xunit;

namespace ClaudeStack.Gateway.Tests.Reliability;

/// <summary>
/// Issue 6, cancellation: when Claude Code goes away (Esc, Ctrl+C, a closed terminal), the gateway stops the upstream
/// generation at once, so a local model does not keep burning GPU time for nobody, and the span says client_closed.
/// </summary>
public sealed class CancellationTests
{
    private static readonly ScriptedMessage LongAnswer = new()
    {
        Id = "msg_cancelled",
        Blocks = [new ScriptedText([.. Enumerable.Range(0, 200).Select(i => $"token {i} ")])],
        OutputTokens = 200,
    };

    public static TheoryData<string> Stages => ["StalledStream", "SlowStream", "WaitingForFirstTokenAfterPing", "WaitingForHeadersNotStreamed"];

    [Theory]
    [MemberData(nameof(Stages))]
    public async Task ClientDisconnect_AbortsUpstreamAndSpanSaysClientClosed(string stage)
    {
        var ct = TestContext.Current.CancellationToken;
        var (script, stream, eventsBeforeLeaving) = stage switch
        {
            // llama-server wedged mid-generation: events, then silence (Ollama v0.32.15 llm/llama_server.go, no timeout of its own).
            "StalledStream" => (ScriptedReply.StreamThenHang(LongAnswer, 3), true, 3),

            // A CPU model producing a token every 100 ms (Ollama v0.32.15 anthropic/anthropic.go: one text_delta per chunk).
            "SlowStream" => (ScriptedReply.Message(LongAnswer, eventInterval: TimeSpan.FromMilliseconds(100)), true, 4),

            // Ollama v0.32.15 middleware/anthropic.go: no headers until the first token; the gateway's keep-alive ping
            // already answered the client, which then gives up.
            "WaitingForFirstTokenAfterPing" => (ScriptedReply.Hang(), true, 1),

            // Not streamed, nothing back yet; the client times out and closes the connection.
            _ => (ScriptedReply.Hang(), false, 0),
        };

        await using var rig = await Rig.StartAsync(_ => script, new Dictionary<string, string?> { ["Gateway:Streaming:KeepAliveAfter"] = "00:00:00.2" }, ct);

        var left = Stopwatch.StartNew();
        if (eventsBeforeLeaving > 0)
        {
            var received = await ReadEventsThenDisconnectAsync(rig, stream, eventsBeforeLeaving, ct);
            var expected = stage == "WaitingForFirstTokenAfterPing"
                ? "event: message_start\ndata: {\"type\":\"message_start\""
                : string.Concat(AnthropicSse.MessageEvents(LongAnswer).Take(eventsBeforeLeaving));
            Assert.StartsWith(expected, received, StringComparison.Ordinal);
            left.Restart();
        }
        else
        {
            using var giveUp = CancellationTokenSource.CreateLinkedTokenSource(ct);
            // Wait until the upstream has the request, then give up.
            var send = rig.Client.SendAsync(Rig.Post("/v1/messages", Rig.MessagesBody(stream: stream)), HttpCompletionOption.ResponseHeadersRead, giveUp.Token);
            await FaultTableTests.Until(() => rig.Upstream!.MessageRequests.Count == 1, ct);
            await Task.Delay(100, ct);
            await giveUp.CancelAsync();
            left.Restart();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => send.WaitAsync(Rig.Bound, ct));
        }

        // The upstream request is aborted promptly.
        var upstreamRequest = Assert.Single(rig.Upstream!.MessageRequests);
        await FaultTableTests.Until(() => upstreamRequest.Aborted, ct, seconds: 5);
        Assert.NotNull(upstreamRequest.AbortedAt);

        // The span ends as a client_closed failure, not a success or a timeout.
        var span = await rig.SingleSpanAsync(ct);
        Rig.AssertFailedSpan(span, TelemetryNames.ErrorTypes.ClientClosed);
        Assert.True(left.Elapsed < TimeSpan.FromSeconds(5), $"the gateway took {left.Elapsed} to notice the client left");
    }

    /// <summary>Reads until <paramref name="events"/> SSE events arrived, then closes the connection mid-response.</summary>
    private static async Task<string> ReadEventsThenDisconnectAsync(Rig rig, bool stream, int events, CancellationToken ct)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bounded.CancelAfter(Rig.Bound);
        using var request = Rig.Post("/v1/messages", Rig.MessagesBody(stream: stream));
        var response = await rig.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, bounded.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadAsStreamAsync(bounded.Token);
        var text = new StringBuilder();
        var buffer = new byte[4096];
        while (CountEvents(text) < events)
        {
            var read = await body.ReadAsync(buffer, bounded.Token);
            Assert.True(read > 0, "the stream ended before the client meant to leave");
            text.Append(Encoding.UTF8.GetString(buffer, 0, read));
        }

        // Disposing a response whose body was not read to the end closes the connection: the client is gone.
        await body.DisposeAsync();
        response.Dispose();
        return text.ToString();
    }

    private static int CountEvents(StringBuilder text)
    {
        var count = 0;
        var value = text.ToString();
        for (var at = value.IndexOf("\n\n", StringComparison.Ordinal); at >= 0; at = value.IndexOf("\n\n", at + 2, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }
}
