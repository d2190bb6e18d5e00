using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ClaudeStack.Gateway.Adaptation;
using ClaudeStack.Gateway.Requests;
using ClaudeStack.Gateway.Tests.Support;

namespace ClaudeStack.Gateway.Tests.Logic;

/// <summary>The ollama profile's request adaptation, on requests captured from Claude Code.</summary>
public sealed class AdaptationTests
{
    private static (JsonNode Adapted, AdaptationReport Report) Adapt(string json, AdaptationOptions? options = null, bool? thinking = false, int? room = null)
    {
        var (request, error) = MessagesRequest.Parse(Encoding.UTF8.GetBytes(json));
        Assert.Null(error);
        using (request)
        {
            var edits = new RequestEdits();
            var report = OllamaRequestAdapter.Adapt(request!, options ?? new AdaptationOptions(), thinking, room, edits);
            return (JsonNode.Parse(edits.Apply(request!.Root, request.Body).Span)!, report);
        }
    }

    [Fact]
    public void BillingHeader_IsDroppedAndSystemBlocksJoinedWithBlankLines()
    {
        // anthropic/anthropic.go joins system blocks with no separator, and the billing line changes per request.
        var (adapted, report) = Adapt(Fixtures.MainRequest);

        var system = adapted["system"]!.AsArray();
        var text = (string)Assert.Single(system)!["text"]!;
        Assert.DoesNotContain(OllamaRequestAdapter.BillingHeaderPrefix, text);
        Assert.StartsWith("You are a Claude agent, built on Anthropic's Claude Agent SDK.\n\nYou are an agent", text);
        Assert.Contains("system", report.Changes);
    }

    [Fact]
    public void MidConversationSystemMessage_IsFoldedIntoThePrecedingUserMessage()
    {
        // Claude Code sends [user, system, ...]; Ollama hoists role:system to the top, breaking the prompt cache.
        var (adapted, _) = Adapt(Fixtures.ToolResultRequest);

        var messages = adapted["messages"]!.AsArray();
        Assert.Equal(["user", "assistant", "user"], messages.Select(m => (string)m!["role"]!));
        var firstUser = messages[0]!["content"]!.AsArray();
        var reminder = (string)firstUser.Last()!["text"]!;
        Assert.StartsWith("<system-reminder>\n# Environment", reminder);
        Assert.EndsWith("</system-reminder>", reminder);
    }

    [Fact]
    public void TrailingSystemMessage_StillLeavesAUserMessageLast()
    {
        var json = """{"model":"m","messages":[{"role":"assistant","content":"hi"},{"role":"system","content":"be brief"}]}""";

        var (adapted, _) = Adapt(json);

        var last = adapted["messages"]!.AsArray().Last()!;
        Assert.Equal("user", (string?)last["role"]);
        Assert.Contains("be brief", (string?)last["content"]![0]!["text"]);
    }

    [Theory]
    [InlineData("auto", true, "enabled")]
    [InlineData("auto", false, "disabled")]
    [InlineData("auto", null, "disabled")]
    [InlineData("enabled", true, "enabled")]
    [InlineData("enabled", false, "disabled")]
    [InlineData("disabled", true, "disabled")]
    public void Thinking_IsAlwaysExplicit(string setting, bool? capable, string expected)
    {
        // Ollama does not know "adaptive" and maps effort "high" to maximum thinking (anthropic/anthropic.go).
        var (adapted, _) = Adapt(Fixtures.MainRequest, new AdaptationOptions { Thinking = setting }, capable);

        Assert.Equal(expected, (string?)adapted["thinking"]!["type"]);
        Assert.Null(adapted["output_config"]);
    }

    [Fact]
    public void StructuredOutput_IsFlaggedAndKept()
    {
        // The title request asks for output_config.format, which Ollama's Anthropic route ignores.
        var (adapted, report) = Adapt(Fixtures.TitleRequest);

        Assert.True(report.StructuredOutputIgnored);
        Assert.Equal("json_schema", (string?)adapted["output_config"]!["format"]!["type"]);
        Assert.Null(adapted["output_config"]!["effort"]);
    }

    [Fact]
    public void ToolErrorFlag_IsWrittenIntoTheContent()
    {
        // anthropic/anthropic.go parses is_error and ignores it: a failed tool would look like a success.
        var json = """{"model":"m","messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"Permission denied","is_error":true},{"type":"tool_result","tool_use_id":"t2","content":"fine","is_error":false}]}]}""";

        var (adapted, report) = Adapt(json);

        var blocks = adapted["messages"]![0]!["content"]!.AsArray();
        Assert.Equal("[tool error] Permission denied", (string?)blocks[0]!["content"]);
        Assert.Equal("fine", (string?)blocks[1]!["content"]);
        Assert.Contains("messages.tool_result.is_error", report.Changes);
    }

    [Theory]
    [InlineData(5000, 5000)]
    [InlineData(100, 1024)]
    [InlineData(40000, 32000)]
    public void MaxTokens_IsClampedToTheRoomLeft(int room, int expected)
    {
        // Ollama passes max_tokens 32000 through as num_predict and lets context shift drop the prompt's start.
        var (adapted, _) = Adapt(Fixtures.MainRequest, room: room);

        Assert.Equal(expected, (int)adapted["max_tokens"]!);
    }

    [Fact]
    public void RequestNeedingNoChange_IsForwardedByteForByte()
    {
        var json = """{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":100}""";
        var (request, _) = MessagesRequest.Parse(Encoding.UTF8.GetBytes(json));
        using (request)
        {
            var edits = new RequestEdits();
            OllamaRequestAdapter.Adapt(request!, new AdaptationOptions { Thinking = "passthrough" }, false, 5000, edits);

            Assert.True(edits.IsEmpty);
            Assert.Equal(json, Encoding.UTF8.GetString(edits.Apply(request!.Root, request.Body).Span));
        }
    }

    [Fact]
    public void ModelFacts_PreferApiPsThenNumCtxThenConfigured()
    {
        // /api/ps reports the loaded runner's context_length; /api/show only the trained maximum and Modelfile num_ctx.
        var show = JsonDocument.Parse("""{"parameters":"num_ctx                        8192","model_info":{"general.architecture":"llama","llama.context_length":131072},"capabilities":["completion","tools","thinking"]}""");
        var ps = JsonDocument.Parse("""{"models":[{"name":"llama3.1:8b","size":1000,"size_vram":250,"context_length":65536}]}""");

        var loaded = OllamaModelFacts.Combine("llama3.1:8b", show, ps, 32768);
        var notLoaded = OllamaModelFacts.Combine("llama3.1:8b", JsonDocument.Parse("""{"parameters":"num_ctx 8192"}"""), null, 32768);
        var configured = OllamaModelFacts.Combine("llama3.1:8b", JsonDocument.Parse("""{"model_info":{"general.architecture":"llama","llama.context_length":16384}}"""), null, 32768);

        Assert.Equal((65536, "api/ps"), (loaded.ContextLength!.Value, loaded.ContextSource!));
        Assert.Equal(0.25, loaded.GpuShare);
        Assert.True(loaded.SupportsThinking);
        Assert.Equal((8192, "api/show num_ctx"), (notLoaded.ContextLength!.Value, notLoaded.ContextSource!));
        Assert.Equal((16384, "configured"), (configured.ContextLength!.Value, configured.ContextSource!));
    }
}
