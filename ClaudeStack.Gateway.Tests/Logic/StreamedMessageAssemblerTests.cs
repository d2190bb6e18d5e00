using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ClaudeStack.Gateway.Streaming;
using ClaudeStack.ScriptedUpstream;

namespace ClaudeStack.Gateway.Tests.Logic;

/// <summary>Folding a streamed answer into the whole message a non-streaming client asked for.</summary>
public sealed class StreamedMessageAssemblerTests
{
    private static readonly ScriptedMessage TextAndTool = new()
    {
        Id = "msg_assembled",
        Blocks = [new ScriptedText(["Let me ", "look ", "at that."]), new ScriptedToolUse("toolu_1", "Bash", "{\"command\":\"ls -la\",\"timeout\":5}")],
        StopReason = "tool_use",
        InputTokens = 321,
        OutputTokens = 17,
        CacheReadInputTokens = 100,
    };

    [Fact]
    public void AStreamedMessage_AddsUpToTheSameMessageAnswered_Whole()
    {
        var (outcome, json) = StreamedMessageAssembler.Assemble(Stream(AnthropicSse.MessageEvents(TextAndTool)));

        Assert.Equal(StreamedOutcome.Message, outcome);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(AnthropicSse.MessageJson(TextAndTool)), JsonNode.Parse(json)), Encoding.UTF8.GetString(json!));
    }

    [Fact]
    public void AFoldedMessage_KeepsItsTextAsTheApiWritesIt_AndReadsBackWithItsDeepestToolInput()
    {
        // Non-ASCII text as UTF-8, not \u escapes; a tool input nested 100 deep (within a request's 128) still reads as
        // a message with its usage, not as a malformed answer.
        var deepInput = string.Concat(Enumerable.Repeat("{\"a\":", 100)) + "1" + new string('}', 100);
        string[] events =
        [
            Event("""{"type":"message_start","message":{"id":"m","type":"message","role":"assistant","model":"x","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":9,"output_tokens":1}}}"""),
            Event("""{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"""),
            Event("""{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Déjà vu ✓ <ok> & 'fine'"}}"""),
            Event("""{"type":"content_block_stop","index":0}"""),
            Event("""{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"t","name":"Deep","input":{}}}"""),
            Event("""{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""" + JsonSerializer.Serialize(deepInput) + """}}"""),
            Event("""{"type":"content_block_stop","index":1}"""),
            Event("""{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":7}}"""),
            Event("""{"type":"message_stop"}"""),
        ];

        var (outcome, json) = StreamedMessageAssembler.Assemble(Stream(events));
        var read = ModelResponseReader.Read(json);

        Assert.Equal(StreamedOutcome.Message, outcome);
        Assert.Contains("Déjà vu ✓ <ok> & 'fine'", Encoding.UTF8.GetString(json!), StringComparison.Ordinal);
        Assert.Equal((true, 0, 7L), (read.IsMessage, read.MalformedEvents, read.OutputTokens));
    }

    [Fact]
    public void ThinkingSignatureCitationsAndToolInputInPieces_AreFoldedAsTheSdksFoldThem()
    {
        // An empty first input delta (as Anthropic streams) keeps the input a block started with; the last tool block is
        // never stopped (a server that goes straight to message_delta), its input still counts; a null usage count
        // (compatible servers send them) keeps the count before it.
        string[] events =
        [
            Event("""{"type":"message_start","message":{"id":"m","type":"message","role":"assistant","model":"x","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":9,"cache_read_input_tokens":5,"output_tokens":1}}}"""),
            Event("""{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}"""),
            Event("""{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Hmm, "}}"""),
            Event("""{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"yes."}}"""),
            Event("""{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"sig=="}}"""),
            Event("""{"type":"content_block_stop","index":0}"""),
            "event: ping\ndata: {\"type\": \"ping\"}\n\n",
            Event("""{"type":"content_block_start","index":1,"content_block":{"type":"text","text":"","citations":null}}"""),
            Event("""{"type":"content_block_delta","index":1,"delta":{"type":"citations_delta","citation":{"type":"char_location","cited_text":"a"}}}"""),
            Event("""{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Cited."}}"""),
            Event("""{"type":"content_block_stop","index":1}"""),
            Event("""{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"t","name":"Read","input":{}}}"""),
            Event("""{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":""}}"""),
            Event("""{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"file_path\":\"/wor"}}"""),
            Event("""{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"kspace/a.txt\"}"}}"""),
            Event("""{"type":"content_block_stop","index":2}"""),
            Event("""{"type":"content_block_start","index":3,"content_block":{"type":"tool_use","id":"u","name":"Done","input":{"kept":true}}}"""),
            Event("""{"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":""}}"""),
            Event("""{"type":"content_block_stop","index":3}"""),
            Event("""{"type":"content_block_start","index":4,"content_block":{"type":"tool_use","id":"v","name":"Bash","input":{}}}"""),
            Event("""{"type":"content_block_delta","index":4,"delta":{"type":"input_json_delta","partial_json":"{\"command\":\"ls\"}"}}"""),
            Event("""{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"input_tokens":null,"cache_read_input_tokens":null,"output_tokens":30},"context_management":{"applied_edits":[]}}"""),
            Event("""{"type":"message_stop"}"""),
        ];

        var (outcome, json) = StreamedMessageAssembler.Assemble(Stream(events));

        Assert.Equal(StreamedOutcome.Message, outcome);
        var expected = JsonNode.Parse("""
            {"id":"m","type":"message","role":"assistant","model":"x","content":[
              {"type":"thinking","thinking":"Hmm, yes.","signature":"sig=="},
              {"type":"text","text":"Cited.","citations":[{"type":"char_location","cited_text":"a"}]},
              {"type":"tool_use","id":"t","name":"Read","input":{"file_path":"/workspace/a.txt"}},
              {"type":"tool_use","id":"u","name":"Done","input":{"kept":true}},
              {"type":"tool_use","id":"v","name":"Bash","input":{"command":"ls"}}],
             "stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":9,"cache_read_input_tokens":5,"output_tokens":30},
             "context_management":{"applied_edits":[]}}
            """);
        Assert.True(JsonNode.DeepEquals(expected, JsonNode.Parse(json)), Encoding.UTF8.GetString(json!));
    }

    [Fact]
    public void AnErrorEvent_IsTheOutcome()
    {
        var error = """{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}""";

        var (outcome, json) = StreamedMessageAssembler.Assemble(Stream([.. AnthropicSse.MessageEvents(TextAndTool).Take(2), Event(error, "error")]));

        Assert.Equal(StreamedOutcome.Error, outcome);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(error), JsonNode.Parse(json)));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(8)]
    public void AStreamEndingBeforeMessageStop_IsIncomplete(int events)
    {
        // Ollama v0.32.15 ends the stream without message_stop when generation fails (middleware/anthropic.go).
        Assert.Equal(StreamedOutcome.Incomplete, StreamedMessageAssembler.Assemble(Stream(AnthropicSse.MessageEvents(TextAndTool).Take(events))).Outcome);
    }

    [Theory]
    [InlineData("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"future_delta\",\"x\":1}}\n\n")]
    [InlineData("event: future_event\ndata: {\"type\":\"future_event\"}\n\n")]
    [InlineData("data: [DONE]\n\n")]
    [InlineData("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"index\":1}\n\n")]
    [InlineData("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":5}}\n\n")]
    [InlineData("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"on a tool block\"}}\n\n")]
    public void WhatCannotBeFoldedIn_LeavesTheStreamAsItCame(string odd)
    {
        var events = AnthropicSse.MessageEvents(TextAndTool);

        var (outcome, json) = StreamedMessageAssembler.Assemble(Stream([.. events.Take(3), odd, .. events.Skip(3)]));

        Assert.Equal(StreamedOutcome.Unknown, outcome);
        Assert.Null(json);
    }

    [Fact]
    public void AToolInputAsDeepAsARequestMayBe_IsFoldedIn()
    {
        // A request may nest 128 levels; the answer's tool input, four levels down in the message, must fit as well.
        var input = "{\"a\":" + new string('[', 120) + new string(']', 120) + "}";
        var tool = new ScriptedMessage { Id = "msg_deep", Blocks = [new ScriptedToolUse("toolu_deep", "Deep", input)], StopReason = "tool_use" };

        var (outcome, json) = StreamedMessageAssembler.Assemble(Stream(AnthropicSse.MessageEvents(tool)));

        Assert.Equal(StreamedOutcome.Message, outcome);
        Assert.Contains(input, Encoding.UTF8.GetString(json!), StringComparison.Ordinal);
    }

    private static string Event(string data, string? name = null) =>
        $"event: {name ?? (string)JsonNode.Parse(data)!["type"]!}\ndata: {data}\n\n";

    private static byte[] Stream(IEnumerable<string> events) => Encoding.UTF8.GetBytes(string.Concat(events));
}
