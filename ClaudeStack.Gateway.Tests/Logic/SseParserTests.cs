using System.Text;
using ClaudeStack.Gateway.Streaming;
using ClaudeStack.ScriptedUpstream;

namespace ClaudeStack.Gateway.Tests.Logic;

public sealed class SseParserTests
{
    private static readonly ScriptedMessage Message = new()
    {
        Blocks = [new ScriptedText(["Hel", "lo"]), new ScriptedToolUse("toolu_1", "Bash", "{\"command\":\"ls\"}")],
        StopReason = "tool_use",
        InputTokens = 321,
        OutputTokens = 9,
    };

    private static readonly string Stream = string.Concat(AnthropicSse.MessageEvents(Message));

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(64)]
    [InlineData(100_000)]
    public void AnyChunkSplit_YieldsTheSameResponse(int chunkSize)
    {
        var bytes = Encoding.UTF8.GetBytes(Stream);
        var observer = new MessageStreamObserver(keepText: true);
        var completed = new List<ObservedBlock>();
        for (var offset = 0; offset < bytes.Length; offset += chunkSize)
        {
            completed.AddRange(observer.Observe(bytes.AsSpan(offset, Math.Min(chunkSize, bytes.Length - offset))));
        }

        var response = observer.Response;
        Assert.True(response.Completed);
        Assert.Equal("tool_use", response.StopReason);
        Assert.Equal(321, response.InputTokens);
        Assert.Equal(9, response.OutputTokens);
        Assert.Equal(2, completed.Count);
        Assert.Equal("Hello", completed[0].Content.ToString());
        Assert.Equal("Bash", completed[1].ToolName);
        Assert.Equal("{\"command\":\"ls\"}", completed[1].Content.ToString());
        Assert.Equal(0, response.MalformedEvents);
    }

    [Theory]
    [InlineData("\r\n")]
    [InlineData("\r")]
    [InlineData("\n")]
    public void LineEndings_AreAllUnderstood(string newline)
    {
        var text = Stream.Replace("\n", newline, StringComparison.Ordinal);
        var events = new List<SseEvent>();
        var parser = new SseParser();

        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            parser.Feed([b], events);
        }

        Assert.Equal(AnthropicSse.MessageEvents(Message).Count, events.Count);
        Assert.Equal("message_start", events[0].Name);
        Assert.Equal("message_stop", events[^1].Name);
    }

    [Fact]
    public void MultiLineDataAndComments_AreJoinedAndSkipped()
    {
        var events = new List<SseEvent>();
        new SseParser().Feed(": keep-alive comment\nevent: message_delta\ndata: {\"type\":\"message_delta\",\ndata: \"usage\":{\"output_tokens\":3}}\n\n"u8, events);

        var single = Assert.Single(events);
        Assert.Equal("message_delta", single.Name);
        Assert.Equal("{\"type\":\"message_delta\",\n\"usage\":{\"output_tokens\":3}}", Encoding.UTF8.GetString(single.Data.Span));
    }

    [Fact]
    public void MalformedEventData_IsCountedNotThrown()
    {
        var observer = new MessageStreamObserver(keepText: false);

        observer.Observe("event: content_block_delta\ndata: {not json\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"u8);

        Assert.Equal(1, observer.Response.MalformedEvents);
        Assert.True(observer.Response.Completed);
    }

    [Fact]
    public void UpstreamErrorEvent_IsRecorded()
    {
        var observer = new MessageStreamObserver(keepText: false);

        observer.Observe(Encoding.UTF8.GetBytes("event: error\ndata: " + AnthropicSse.ErrorJson("overloaded_error", "busy") + "\n\n"));

        Assert.Equal("overloaded_error", observer.Response.ErrorType);
        Assert.Equal("busy", observer.Response.ErrorMessage);
    }

    [Fact]
    public void OversizedEvent_IsReportedWithoutKeepingItsData()
    {
        var parser = new SseParser(maxEventBytes: 16);
        var events = new List<SseEvent>();

        parser.Feed(Encoding.UTF8.GetBytes("event: big\ndata: " + new string('x', 100) + "\n\n"), events);

        Assert.Equal(1, parser.OversizedEvents);
        Assert.True(Assert.Single(events).Data.IsEmpty);
    }
}

public sealed class LeadingEventFilterTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(4096)]
    public void UpstreamMessageStart_IsDroppedAtAnySplit(int chunkSize)
    {
        var events = AnthropicSse.MessageEvents(ScriptedMessage.Text("hi"));
        var bytes = Encoding.UTF8.GetBytes(string.Concat(events));
        var filter = new LeadingEventFilter();
        var forwarded = new List<byte>();

        for (var offset = 0; offset < bytes.Length; offset += chunkSize)
        {
            forwarded.AddRange(filter.Filter(bytes.AsMemory(offset, Math.Min(chunkSize, bytes.Length - offset))).Span);
        }

        Assert.Equal(string.Concat(events.Skip(1)), Encoding.UTF8.GetString([.. forwarded]));
    }

    [Fact]
    public void OtherFirstEvent_IsKept()
    {
        var bytes = "event: ping\r\ndata: {}\r\n\r\nevent: message_stop\r\ndata: {}\r\n\r\n"u8.ToArray();

        Assert.Equal(bytes, new LeadingEventFilter().Filter(bytes).ToArray());
    }
}

public sealed class ArrivedBytesReaderTests
{
    [Fact]
    public async Task BytesAlreadyThere_ComeInOnePiece()
    {
        var pipe = new System.IO.Pipelines.Pipe();
        foreach (var part in new[] { "event: a\n\n", "event: b\n\n", "event: c\n\n" })
        {
            await pipe.Writer.WriteAsync(Encoding.UTF8.GetBytes(part), TestContext.Current.CancellationToken);
        }

        var reader = new ArrivedBytesReader(pipe.Reader.AsStream(), new byte[64 * 1024]);

        var first = await reader.ReadAsync(TestContext.Current.CancellationToken);

        Assert.Equal("event: a\n\nevent: b\n\nevent: c\n\n", Encoding.UTF8.GetString(first.Span));
    }

    [Fact]
    public async Task LaterBytes_AreNotWaitedForButReadNextTime()
    {
        var ct = TestContext.Current.CancellationToken;
        var pipe = new System.IO.Pipelines.Pipe();
        await pipe.Writer.WriteAsync("event: a\n\n"u8.ToArray(), ct);
        var reader = new ArrivedBytesReader(pipe.Reader.AsStream(), new byte[64 * 1024]);

        var first = await reader.ReadAsync(ct);
        Assert.Equal("event: a\n\n", Encoding.UTF8.GetString(first.Span));

        await pipe.Writer.WriteAsync("event: b\n\n"u8.ToArray(), ct);
        await pipe.Writer.CompleteAsync();
        var second = await reader.ReadAsync(ct);
        var end = await reader.ReadAsync(ct);

        Assert.Equal("event: b\n\n", Encoding.UTF8.GetString(second.Span));
        Assert.True(end.IsEmpty);
    }

    [Fact]
    public async Task AbandonedReadAhead_IsCancelledAndAwaited()
    {
        var ct = TestContext.Current.CancellationToken;
        var pipe = new System.IO.Pipelines.Pipe();
        await pipe.Writer.WriteAsync("event: a\n\n"u8.ToArray(), ct);
        using var cancellation = new CancellationTokenSource();
        var reader = new ArrivedBytesReader(pipe.Reader.AsStream(), new byte[64 * 1024]);
        await reader.ReadAsync(cancellation.Token);

        await reader.AbandonAsync(cancellation).WaitAsync(TimeSpan.FromSeconds(5), ct);

        Assert.True(cancellation.IsCancellationRequested);
    }
}
