using System.Text;
using ClaudeStack.Gateway.Streaming;
using ClaudeStack.Gateway.Telemetry;
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
            completed.AddRange(observer.Observe(bytes.AsMemory(offset, Math.Min(chunkSize, bytes.Length - offset))));
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

    /// <summary>
    /// The relay reads every chunk into the same buffer. An event's data may point into the chunk it came in, so whatever
    /// a chunk leaves unfinished must be kept before the buffer is written over.
    /// </summary>
    [Theory]
    [InlineData("\n")]
    [InlineData("\r\n")]
    public void ChunksReadIntoOneReusedBuffer_YieldTheEventsAsSent(string newline)
    {
        var text = (Stream + "event: message_delta\ndata: {\"a\":1,\ndata: \"b\":2}\n\n").Replace("\n", newline, StringComparison.Ordinal);
        var bytes = Encoding.UTF8.GetBytes(text);
        var expected = new List<SseEvent>();
        new SseParser().Feed(bytes, expected);

        for (var split = 1; split < bytes.Length; split += 3)
        {
            var reused = new byte[bytes.Length];
            var parser = new SseParser();
            var seen = new List<(string Name, string Data)>();
            var events = new List<SseEvent>();

            // Two pieces, and three with a middle one a data line can span from end to end.
            var third = Math.Min(split + 5, bytes.Length);
            (int Start, int Length)[] pieces = split % 2 == 0
                ? [(0, split), (split, bytes.Length - split)]
                : [(0, split), (split, third - split), (third, bytes.Length - third)];
            foreach (var (start, length) in pieces)
            {
                bytes.AsSpan(start, length).CopyTo(reused);
                events.Clear();
                parser.Feed(reused.AsMemory(0, length), events);
                seen.AddRange(events.Select(e => (e.Name, Encoding.UTF8.GetString(e.Data.Span))));
                reused.AsSpan().Fill((byte)'#');
            }

            Assert.Equal(expected.Select(e => (e.Name, Encoding.UTF8.GetString(e.Data.Span))), seen);
        }

        Assert.Equal("{\"a\":1,\n\"b\":2}", Encoding.UTF8.GetString(expected[^1].Data.Span));
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
            parser.Feed(new[] { b }, events);
        }

        Assert.Equal(AnthropicSse.MessageEvents(Message).Count, events.Count);
        Assert.Equal("message_start", events[0].Name);
        Assert.Equal("message_stop", events[^1].Name);
    }

    [Fact]
    public void MultiLineDataAndComments_AreJoinedAndSkipped()
    {
        var events = new List<SseEvent>();
        new SseParser().Feed(": keep-alive comment\nevent: message_delta\ndata: {\"type\":\"message_delta\",\ndata: \"usage\":{\"output_tokens\":3}}\n\n"u8.ToArray(), events);

        var single = Assert.Single(events);
        Assert.Equal("message_delta", single.Name);
        Assert.Equal("{\"type\":\"message_delta\",\n\"usage\":{\"output_tokens\":3}}", Encoding.UTF8.GetString(single.Data.Span));
    }

    [Fact]
    public void MalformedEventData_IsCountedNotThrown()
    {
        var observer = new MessageStreamObserver(keepText: false);

        observer.Observe("event: content_block_delta\ndata: {not json\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"u8.ToArray());

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

    [Theory]
    [InlineData(100_000)]
    [InlineData(7)]
    [InlineData(1)]
    public void OversizedEvent_IsReportedWithoutKeepingItsData_HoweverItArrives(int chunkSize)
    {
        var parser = new SseParser(maxEventBytes: 16);
        var events = new List<SseEvent>();
        var bytes = Encoding.UTF8.GetBytes("event: big\ndata: " + new string('x', 100) + "\n\nevent: small\ndata: {\"a\":1}\n\n: " + new string('c', 40) + "\ndata: 1\n\n");

        for (var offset = 0; offset < bytes.Length; offset += chunkSize)
        {
            parser.Feed(bytes.AsMemory(offset, Math.Min(chunkSize, bytes.Length - offset)), events);
        }

        // A line longer than the limit marks its event, whatever the line (a comment too), and whether it came whole or in pieces.
        Assert.Equal(2, parser.OversizedEvents);
        Assert.Equal(["big", "small", ""], events.Select(e => e.Name));
        Assert.True(events[0].Data.IsEmpty);
        Assert.Equal("{\"a\":1}", Encoding.UTF8.GetString(events[1].Data.Span));
        Assert.True(events[2].Data.IsEmpty);
    }
}

public sealed class LeadingEventFilterTests
{
    [Theory]
    [InlineData(1, "")]
    [InlineData(5, "")]
    [InlineData(4096, "")]
    // A proxy's opening comment, or a ping, ahead of the message: passed on, and the message_start after them dropped.
    [InlineData(1, ": stream opened\n\n")]
    [InlineData(4096, ": stream opened\n\n")]
    [InlineData(3, "event: ping\ndata: {\"type\": \"ping\"}\n\n")]
    [InlineData(4096, ": a\r\n\r\nevent: ping\r\ndata: {}\r\n\r\ndata: {\"type\":\"ping\"}\r\n\r\n")]
    public void UpstreamMessageStart_IsDroppedAtAnySplit(int chunkSize, string leading)
    {
        var events = AnthropicSse.MessageEvents(ScriptedMessage.Text("hi"));
        var bytes = Encoding.UTF8.GetBytes(leading + string.Concat(events));
        var filter = new LeadingEventFilter();
        var forwarded = new List<byte>();

        for (var offset = 0; offset < bytes.Length; offset += chunkSize)
        {
            forwarded.AddRange(filter.Filter(bytes.AsMemory(offset, Math.Min(chunkSize, bytes.Length - offset))).Span);
        }

        Assert.Equal(leading + string.Concat(events.Skip(1)), Encoding.UTF8.GetString([.. forwarded]));
    }

    [Fact]
    public void OtherFirstEvent_IsKept()
    {
        var bytes = "event: ping\r\ndata: {}\r\n\r\nevent: message_stop\r\ndata: {}\r\n\r\n"u8.ToArray();

        Assert.Equal(bytes, new LeadingEventFilter().Filter(bytes).ToArray());
    }
}

public sealed class WholeMessageEventsTests
{
    [Fact]
    public void EveryBlockAndField_GoesOutAsTheApiStreamsIt()
    {
        // What an Anthropic-compatible server that ignores "stream": true answers. Claude Code sends thinking blocks
        // back with their signature and redacted thinking with its data next turn; the API refuses them without.
        const string message = """
            {"id":"msg_1","type":"message","role":"assistant","model":"m","content":[
             {"type":"thinking","thinking":"hmm","signature":"SIG_abc"},
             {"type":"redacted_thinking","data":"OPAQUE_xyz"},
             {"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{"query":"q"}},
             {"type":"text","text":"hi","citations":[{"type":"char_location","cited_text":"c"}]},
             {"type":"tool_use","id":"toolu_1","name":"Bash","input":{"command":"ls"}}],
             "stop_reason":"stop_sequence","stop_sequence":"###","usage":{"input_tokens":3,"output_tokens":4,"cache_read_input_tokens":100}}
            """;

        var events = new List<SseEvent>();
        new SseParser().Feed(SseEvents.FromWholeMessage(Encoding.UTF8.GetBytes(message), includeStart: true), events);
        string[] data = [.. events.Select(e => $"{e.Name} {Encoding.UTF8.GetString(e.Data.Span)}")];

        Assert.Equal(
            [
                """message_start {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":4,"cache_read_input_tokens":100}}}""",
                """content_block_start {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}""",
                """content_block_delta {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hmm"}}""",
                """content_block_delta {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"SIG_abc"}}""",
                """content_block_stop {"type":"content_block_stop","index":0}""",
                """content_block_start {"type":"content_block_start","index":1,"content_block":{"type":"redacted_thinking","data":"OPAQUE_xyz"}}""",
                """content_block_stop {"type":"content_block_stop","index":1}""",
                """content_block_start {"type":"content_block_start","index":2,"content_block":{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{}}}""",
                """content_block_delta {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\u0022query\u0022:\u0022q\u0022}"}}""",
                """content_block_stop {"type":"content_block_stop","index":2}""",
                """content_block_start {"type":"content_block_start","index":3,"content_block":{"type":"text","text":""}}""",
                """content_block_delta {"type":"content_block_delta","index":3,"delta":{"type":"text_delta","text":"hi"}}""",
                """content_block_delta {"type":"content_block_delta","index":3,"delta":{"type":"citations_delta","citation":{"type":"char_location","cited_text":"c"}}}""",
                """content_block_stop {"type":"content_block_stop","index":3}""",
                """content_block_start {"type":"content_block_start","index":4,"content_block":{"type":"tool_use","id":"toolu_1","name":"Bash","input":{}}}""",
                """content_block_delta {"type":"content_block_delta","index":4,"delta":{"type":"input_json_delta","partial_json":"{\u0022command\u0022:\u0022ls\u0022}"}}""",
                """content_block_stop {"type":"content_block_stop","index":4}""",
                """message_delta {"type":"message_delta","delta":{"stop_reason":"stop_sequence","stop_sequence":"###"},"usage":{"input_tokens":3,"output_tokens":4,"cache_read_input_tokens":100}}""",
                """message_stop {"type":"message_stop"}""",
            ],
            data);
    }

    [Fact]
    public void WithoutStart_OrId_TheClientStillGetsAWholeMessage()
    {
        var withoutId = """{"type":"message","role":"assistant","content":[{"type":"text","text":"x"}],"stop_reason":"end_turn"}"""u8;

        var events = new List<SseEvent>();
        new SseParser().Feed(SseEvents.FromWholeMessage(withoutId, includeStart: true), events);
        var resumed = new List<SseEvent>();
        new SseParser().Feed(SseEvents.FromWholeMessage(withoutId, includeStart: false), resumed);

        Assert.StartsWith("""{"type":"message_start","message":{"id":"msg_gateway_""", Encoding.UTF8.GetString(events[0].Data.Span), StringComparison.Ordinal);
        Assert.Equal(events.Skip(1).Select(e => e.Name), resumed.Select(e => e.Name));
        Assert.Equal("content_block_start", resumed[0].Name);
    }
}

public sealed class WholeEventFramerTests
{
    [Theory]
    [InlineData(1, "\n")]
    [InlineData(2, "\r\n")]
    [InlineData(3, "\r")]
    [InlineData(7, "\r\n")]
    [InlineData(64, "\n")]
    [InlineData(100_000, "\r\n")]
    public void AnySplit_ForwardsWholeEventsOnly_AndAllOfThem(int chunkSize, string newline)
    {
        var text = string.Concat(AnthropicSse.MessageEvents(ScriptedMessage.Text("Hello, framing"))).Replace("\n", newline, StringComparison.Ordinal);
        var bytes = Encoding.UTF8.GetBytes(text);
        var eventEnds = EventEnds(text, newline);
        var framer = new WholeEventFramer();
        var forwarded = new List<byte>();

        for (var offset = 0; offset < bytes.Length; offset += chunkSize)
        {
            forwarded.AddRange(framer.Frame(bytes.AsMemory(offset, Math.Min(chunkSize, bytes.Length - offset))).Span);

            // Whatever the split, the client has only ever been given whole events.
            Assert.Contains(forwarded.Count, eventEnds);
        }

        Assert.Equal(bytes, forwarded.ToArray());
    }

    [Fact]
    public void UnfinishedEvent_IsHeldUntilItEnds()
    {
        var framer = new WholeEventFramer();

        var first = framer.Frame("event: a\ndata: 1\n\nevent: b\ndata: {\"te"u8.ToArray());
        Assert.Equal("event: a\ndata: 1\n\n", Encoding.UTF8.GetString(first.Span));

        var second = framer.Frame("xt\":2}\n\nevent: c"u8.ToArray());
        Assert.Equal("event: b\ndata: {\"text\":2}\n\n", Encoding.UTF8.GetString(second.Span));

        // The stream may end here: "event: c" is never handed on, as an SSE client would drop it.
        Assert.True(framer.Frame(ReadOnlyMemory<byte>.Empty).IsEmpty);
    }

    [Fact]
    public void OversizedEvent_PassesAsItArrives_ThenFramingResumes()
    {
        var framer = new WholeEventFramer();
        var piece = Encoding.UTF8.GetBytes(new string('x', 64 * 1024));
        var forwarded = framer.Frame("data: "u8.ToArray()).Length;

        // Held while it fits, then passed on: memory stays bounded by the limit, not by what the upstream sends.
        var pieces = WholeEventFramer.MaxHeldBytes / piece.Length + 4;
        for (var i = 0; i < pieces; i++)
        {
            forwarded += framer.Frame(piece).Length;
        }

        Assert.True(forwarded > 0);
        Assert.True("data: ".Length + (pieces * piece.Length) - forwarded <= WholeEventFramer.MaxHeldBytes);

        var end = framer.Frame("\n\nevent: next\ndata: {"u8.ToArray());
        Assert.Equal("data: ".Length + (pieces * piece.Length) + 2, forwarded + end.Length);
        Assert.Equal("event: next\ndata: {}\n\n", Encoding.UTF8.GetString(framer.Frame("}\n\n"u8.ToArray()).Span));
    }

    [Fact]
    public void StreamRedactor_FindsSecretsSplitAnywhereBetweenPiecesOfAnOversizedEvent()
    {
        // The key as typed and as System.Text.Json spells it; the event cut into three pieces at every two places.
        var bytes = Encoding.UTF8.GetBytes("data: {\"text\":\"key sk-up+0123456789 and sk-up\\u002B0123456789.\"}\n\n");
        const string Expected = "data: {\"text\":\"key [REDACTED] and [REDACTED].\"}\n\n";
        var secrets = new SecretRedactor(["sk-up+0123456789"]);

        for (var first = 0; first <= bytes.Length; first++)
        {
            for (var second = first; second <= bytes.Length; second++)
            {
                var redactor = new StreamRedactor(secrets);
                var forwarded = Encoding.UTF8.GetString(redactor.Redact(bytes[..first], endsInsideEvent: true).Span)
                    + Encoding.UTF8.GetString(redactor.Redact(bytes[first..second], endsInsideEvent: true).Span)
                    + Encoding.UTF8.GetString(redactor.Redact(bytes[second..], endsInsideEvent: false).Span);

                Assert.Equal(Expected, forwarded);
            }
        }
    }

    [Fact]
    public void StreamRedactor_HoldsNothingBackAtAnEventEnd_OrWithoutSecrets()
    {
        var piece = "data: {\"text\":\"sk-up+0123456789\"}\n\n"u8.ToArray();

        Assert.Equal("data: {\"text\":\"[REDACTED]\"}\n\n", Encoding.UTF8.GetString(new StreamRedactor(new SecretRedactor(["sk-up+0123456789"])).Redact(piece, endsInsideEvent: false).Span));
        Assert.Equal(piece, new StreamRedactor(new SecretRedactor([])).Redact(piece, endsInsideEvent: true).ToArray());
    }

    [Fact]
    public void Framer_SaysWhetherWhatItReturnedEndsInsideAnEvent()
    {
        var framer = new WholeEventFramer();
        framer.Frame(Encoding.UTF8.GetBytes("data: " + new string('x', WholeEventFramer.MaxHeldBytes)));
        Assert.True(framer.EndsInsideEvent);

        framer.Frame("x\n\ndata: {"u8.ToArray());
        Assert.False(framer.EndsInsideEvent);
    }

    /// <summary>Offsets just past each event's blank line (and 0).</summary>
    private static HashSet<int> EventEnds(string text, string newline)
    {
        var ends = new HashSet<int> { 0 };
        var blankLine = newline + newline;
        for (var at = text.IndexOf(blankLine, StringComparison.Ordinal); at >= 0; at = text.IndexOf(blankLine, at + 1, StringComparison.Ordinal))
        {
            var end = Encoding.UTF8.GetByteCount(text[..(at + blankLine.Length)]);
            ends.Add(end);
            if (newline == "\r\n")
            {
                // The CR of the blank line already ends the event; its LF may follow in the next write.
                ends.Add(end - 1);
            }
        }

        return ends;
    }
}

public sealed class ArrivedBytesReaderTests
{
    [Fact]
    public async Task BytesBeforeAFailure_ComeFirst_ThenTheFailure()
    {
        var ct = TestContext.Current.CancellationToken;
        var reader = new ArrivedBytesReader(
            // A connection whose reset arrived right behind the last bytes: the read after them fails at once, as
            // SocketsHttpHandler's does once the socket has reported ECONNRESET.
            new BytesThen("event: message_stop\ndata: {}\n\n"u8.ToArray(), () => ValueTask.FromException<int>(new IOException("connection reset by peer"))),
            new byte[64 * 1024]);

        var first = await reader.ReadAsync(ct);

        Assert.Equal("event: message_stop\ndata: {}\n\n", Encoding.UTF8.GetString(first.Span));
        await Assert.ThrowsAsync<IOException>(async () => await reader.ReadAsync(ct));
    }

    /// <summary>A body that gives its bytes in the first read, and every later read what <paramref name="next"/> says.</summary>
    private sealed class BytesThen(byte[] bytes, Func<ValueTask<int>> next) : Stream
    {
        private bool _read;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_read)
            {
                return next();
            }

            _read = true;
            bytes.CopyTo(buffer);
            return ValueTask.FromResult(bytes.Length);
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override void Flush() => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

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

    [Fact]
    public async Task AbandonedReadAhead_StillGoing_IsWaitedOut()
    {
        // A read that does not stop at once when cancelled still writes into the buffer the relay then returns to its
        // pool: abandoning must wait for it to end.
        var ct = TestContext.Current.CancellationToken;
        var readEnds = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var cancellation = new CancellationTokenSource();
        var reader = new ArrivedBytesReader(new BytesThen("event: a\n\n"u8.ToArray(), () => new ValueTask<int>(readEnds.Task)), new byte[64 * 1024]);
        await reader.ReadAsync(cancellation.Token);

        var abandoned = reader.AbandonAsync(cancellation);

        Assert.True(cancellation.IsCancellationRequested);
        Assert.False(abandoned.IsCompleted);
        readEnds.SetResult(0);
        await abandoned.WaitAsync(TimeSpan.FromSeconds(5), ct);
    }
}
