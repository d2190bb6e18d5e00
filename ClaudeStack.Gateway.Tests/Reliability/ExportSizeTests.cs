using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using ClaudeStack.Gateway.Telemetry;
using ClaudeStack.Gateway.Tests.Support;
using ClaudeStack.ScriptedUpstream;
using Xunit;

namespace ClaudeStack.Gateway.Tests.Reliability;

/// <summary>
/// With content captured, every model call's span carries its conversation so far. The receiver refuses an export
/// request over 4 MiB, as the Aspire dashboard does: the calls' spans must all reach it anyway.
/// </summary>
[Collection(ExportLimitCollection.Name)]
public sealed class ExportSizeTests
{
    private const string ServiceName = "claudestack-export-size";

    [Fact]
    public async Task LongConversationsEndingTogether_EverySpanIsExported()
    {
        var ct = TestContext.Current.CancellationToken;
        var run = Guid.NewGuid().ToString("N");
        await using var receiver = await OtlpReceiver.StartAsync(ct).WaitAsync(Rig.Bound, ct);
        var settings = receiver.ExporterSettings(ServiceName);
        settings[TelemetryNames.CaptureMessageContentKey] = "true";
        // Aspire's development setting: one batch a second, so calls ending within it share an export request.
        settings["OTEL_BSP_SCHEDULE_DELAY"] = "1000";

        await using var rig = await Rig.StartAsync(_ => ScriptedReply.Message(new ScriptedMessage { Blocks = [new ScriptedText(["done"])] }), settings, ct);

        // Six subagents 700 KB into their sessions (4.2 MB of spans together), and one session of 6 MB.
        var sizes = new[] { 700, 700, 700, 700, 700, 700, 6 * 1024 };
        var answers = await Task.WhenAll(sizes.Select((kilobytes, call) =>
            rig.PostAsync(LongConversation(kilobytes), ct, sessionId: $"{run}-{call}")));
        Assert.All(answers, answer => Assert.Equal(HttpStatusCode.OK, answer.Status));

        bool OfThisRun(OtlpSpan span) =>
            span.Name.StartsWith("chat ", StringComparison.Ordinal) &&
            span.Attributes.GetString(TelemetryNames.Attributes.ConversationId)?.StartsWith(run, StringComparison.Ordinal) == true;

        var spans = await receiver.WaitForSpansAsync(OfThisRun, sizes.Length, TimeSpan.FromSeconds(30), ct);
        Assert.Empty(receiver.RejectedRequests);
        Assert.All(receiver.Requests, request => Assert.InRange(request.Body.Length, 1, OtlpReceiver.MaxRequestBytes));

        foreach (var span in spans)
        {
            var call = int.Parse(span.Attributes.GetString(TelemetryNames.Attributes.ConversationId)![(run.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            var messages = JsonDocument.Parse(span.Attributes.GetString(TelemetryNames.Attributes.InputMessages)!).RootElement;
            var texts = messages.EnumerateArray().Select(m => m.GetProperty("parts")[0].GetProperty("content").GetString()!).ToList();
            Assert.Equal("the task", texts[0]);
            Assert.Equal("the latest turn", texts[^1]);
            // The 6 MB session's span keeps its newest turns and says how many older ones it left out.
            Assert.Equal(sizes[call] > 2048, texts[1].Contains("earlier messages", StringComparison.Ordinal));
        }
    }

    /// <summary>A Messages body whose conversation is about <paramref name="kilobytes"/> long, in 10 KB turns.</summary>
    private static string LongConversation(int kilobytes)
    {
        var messages = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "the task" });
        for (var turn = 0; turn < kilobytes / 10; turn++)
        {
            messages.Add(new JsonObject
            {
                ["role"] = turn % 2 == 0 ? "assistant" : "user",
                ["content"] = $"turn {turn} " + new string('w', 10 * 1024),
            });
        }

        messages.Add(new JsonObject { ["role"] = messages.Count % 2 == 0 ? "assistant" : "user", ["content"] = "the latest turn" });
        var body = JsonNode.Parse(Rig.MessagesBody())!.AsObject();
        body["messages"] = messages;
        return body.ToJsonString();
    }
}
