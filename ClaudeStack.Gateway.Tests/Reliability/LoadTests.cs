using System.Net;
using System.Text.RegularExpressions;
using ClaudeStack.Gateway.Telemetry;
using ClaudeStack.Gateway.Tests.Support;
using ClaudeStack.ScriptedUpstream;
using Xunit;

namespace ClaudeStack.Gateway.Tests.Reliability;

/// <summary>Issue 6, load: many concurrent streams, each relayed exactly and traced exactly once, none lost on export.</summary>
public sealed partial class LoadTests
{
    private const int Calls = 64;

    [Fact]
    public async Task SixtyFourConcurrentStreams_EachClientGetsItsBytesAndOneExportedSpan()
    {
        var ct = TestContext.Current.CancellationToken;
        var run = Guid.NewGuid().ToString("N");
        await using var receiver = await OtlpReceiver.StartAsync(ct).WaitAsync(Rig.Bound, ct);
        var settings = receiver.ExporterSettings("claudestack-reliability-load");

        // Listeners are process-wide: other tests' spans go through this exporter too; a roomy queue keeps
        // them from crowding ours out, a short delay keeps the test quick.
        settings["OTEL_BSP_MAX_QUEUE_SIZE"] = "65536";
        settings["OTEL_BSP_SCHEDULE_DELAY"] = "250";

        // Ollama v0.32.15 anthropic/anthropic.go (*StreamConverter).Process: message_start, one text_delta per
        // upstream chunk, message_delta with the usage, message_stop; the size depends on the call's marker.
        await using var rig = await Rig.StartAsync(
            request => ScriptedReply.Message(LoadMessage(CallOf(request)), eventInterval: TimeSpan.FromMilliseconds(CallOf(request) % 16 == 0 ? 0 : CallOf(request) % 3)),
            settings,
            ct);

        var calls = Enumerable.Range(0, Calls).Select(async call =>
        {
            var answer = await rig.PostAsync(Rig.MessagesBody($"load-call:{call}:"), ct, sessionId: $"{run}-{call}");
            return (call, answer);
        });
        var answers = await Task.WhenAll(calls).WaitAsync(TimeSpan.FromSeconds(60), ct);

        foreach (var (call, answer) in answers)
        {
            Assert.Equal(HttpStatusCode.OK, answer.Status);
            Assert.Equal("text/event-stream", answer.MediaType);
            var expected = Rig.Utf8(AnthropicSse.MessageEvents(LoadMessage(call)));
            Assert.True(expected.AsSpan().SequenceEqual(answer.Body), $"call {call}: {answer.Body.Length} bytes received, {expected.Length} expected");
        }

        Assert.Equal(Calls, rig.Upstream!.MessageRequests.Count);

        // In process: exactly one span per call, each complete and successful.
        var spans = await rig.Spans.WaitForAsync(Calls, ct, Rig.Bound);
        await Task.Delay(200, ct);
        spans = rig.Spans.Spans;
        Assert.Equal(Calls, spans.Count);
        Assert.Equal(
            Enumerable.Range(0, Calls).Select(call => $"{run}-{call}").Order(),
            spans.Select(s => (string)s.GetTagItem(TelemetryNames.Attributes.ConversationId)!).Order());
        Assert.All(spans, span =>
        {
            Rig.AssertSucceededSpan(span);
            var call = int.Parse(((string)span.GetTagItem(TelemetryNames.Attributes.ConversationId)!)[(run.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(LoadMessage(call).Id, span.GetTagItem(TelemetryNames.Attributes.ResponseId));
            Assert.Equal((long)LoadMessage(call).OutputTokens, span.GetTagItem(TelemetryNames.Attributes.UsageOutputTokens));
        });

        // Exported: the receiver ends up with exactly 64 "chat ..." spans of this run, none lost, none doubled.
        bool OfThisRun(OtlpSpan span) =>
            span.Name.StartsWith("chat ", StringComparison.Ordinal)
            && span.Attributes.GetInt(TelemetryNames.Attributes.ServerPort) == rig.UpstreamUri.Port
            && span.Attributes.GetString(TelemetryNames.Attributes.ConversationId)?.StartsWith(run, StringComparison.Ordinal) == true;

        await receiver.WaitForSpansAsync(OfThisRun, Calls, TimeSpan.FromSeconds(30), ct);
        await Task.Delay(600, ct); // longer than the schedule delay: a duplicate would have arrived by now
        var exported = receiver.Spans.Where(OfThisRun).ToList();
        Assert.Equal(Calls, exported.Count);
        Assert.Equal(Calls, exported.Select(s => s.Attributes.GetString(TelemetryNames.Attributes.ConversationId)).Distinct().Count());
        Assert.All(exported, span =>
        {
            Assert.Equal(OtlpSpanKind.Client, span.Kind);
            Assert.Equal(OtlpStatusCode.Unset, span.StatusCode);
            Assert.Equal(TelemetryNames.SourceName, span.ScopeName);
            Assert.Equal("claudestack-reliability-load", span.ServiceName);
        });
    }

    /// <summary>The message the upstream streams for a call: 1 to 4,096 deltas (up to about 400 KB).</summary>
    internal static ScriptedMessage LoadMessage(int call)
    {
        var deltas = call % 16 == 0 ? 4096 : 1 + (call * 37 % 200);
        return new ScriptedMessage
        {
            Id = $"msg_load_{call:D3}",
            Blocks = [new ScriptedText([.. Enumerable.Range(0, deltas).Select(i => $"call {call} piece {i} " + new string((char)('a' + (call % 26)), call % 64))])],
            InputTokens = 100 + call,
            OutputTokens = deltas,
        };
    }

    private static int CallOf(UpstreamRequest request) =>
        int.Parse(CallMarker().Match(request.BodyText).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);

    [GeneratedRegex("load-call:(\\d+):")]
    private static partial Regex CallMarker();
}
