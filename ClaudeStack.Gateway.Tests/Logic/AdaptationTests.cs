using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ClaudeStack.Gateway.Adaptation;
using ClaudeStack.Gateway.Requests;
using ClaudeStack.Gateway.Tests.Support;
using ClaudeStack.ScriptedUpstream;

namespace ClaudeStack.Gateway.Tests.Logic;

/// <summary>The ollama profile's request adaptation, on requests captured from Claude Code.</summary>
public sealed class AdaptationTests
{
    private static (JsonNode Adapted, AdaptationReport Report) Adapt(string json, AdaptationOptions? options = null, bool? thinking = false, int? room = null, bool? vision = null)
    {
        var model = new ModelInfo { Model = "qwen3-coder:30b", SupportsThinking = thinking, SupportsVision = vision };
        var (request, error) = MessagesRequest.Parse(Encoding.UTF8.GetBytes(json));
        Assert.Null(error);
        using (request)
        {
            var edits = new RequestEdits();
            var report = OllamaRequestAdapter.Adapt(request!, options ?? new AdaptationOptions(), model, room, edits);
            var adapted = JsonNode.Parse(edits.Apply(request!.Root, request.Body).Span, documentOptions: new JsonDocumentOptions { MaxDepth = MessagesRequest.MaxDepth })!;
            return (adapted, report);
        }
    }

    [Fact]
    public void SystemOfOnlyTheBillingHeader_IsRemoved_NotLeftAsAnEmptyTextBlock()
    {
        var (adapted, report) = Adapt("""{"model":"m","system":[{"type":"text","text":"x-anthropic-billing-header: cc_version=2.1.329"}],"messages":[{"role":"user","content":"hi"}]}""");

        Assert.Null(adapted["system"]);
        Assert.Contains("system", report.Changes);
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
        // Ollama joins a message's text blocks with nothing between them: the reminder starts on its own line.
        Assert.StartsWith("\n\n<system-reminder>\n# Environment", reminder);
        Assert.EndsWith("</system-reminder>", reminder);
    }

    [Fact]
    public void SystemMessageBeforeAUserMessage_IsPrependedWithItsOwnBlankLine()
    {
        var json = """{"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"read the files"}]}""";

        var (adapted, _) = Adapt(json);

        var blocks = adapted["messages"]!.AsArray().Single()!["content"]!.AsArray();
        Assert.Equal("<system-reminder>\nbe brief\n</system-reminder>\n\n", (string?)blocks[0]!["text"]);
        Assert.Equal("read the files", (string?)blocks[1]!["text"]);
    }

    [Theory]
    [InlineData("""[{"role":"assistant","content":"hi"},{"role":"system","content":"be brief"}]""", "assistant,user")]
    // A hook's note after the model's answer: moved into the first user message, the request would end on the
    // assistant's turn, which asks the model to continue its answer rather than read the note.
    [InlineData("""[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"},{"role":"system","content":"be brief"}]""", "user,assistant,user")]
    [InlineData("""[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"},{"role":"system","content":"be brief"},{"role":"assistant","content":"again"}]""", "user,assistant,user,assistant")]
    public void SystemMessageAfterTheAssistant_BecomesAUserTurnWhereItWas(string messages, string roles)
    {
        var json = $$"""{"model":"m","messages":{{messages}}}""";

        var (adapted, _) = Adapt(json);

        var result = adapted["messages"]!.AsArray();
        Assert.Equal(roles, string.Join(",", result.Select(m => (string)m!["role"]!)));
        var reminder = Assert.Single(result, m => m!.ToJsonString().Contains("be brief", StringComparison.Ordinal))!;
        Assert.Equal("<system-reminder>\nbe brief\n</system-reminder>", (string?)Assert.Single(reminder["content"]!.AsArray())!["text"]);
        Assert.Equal("user", (string?)reminder["role"]);
    }

    [Theory]
    [InlineData("auto", true, "enabled")]
    [InlineData("auto", false, "disabled")]
    [InlineData("auto", null, "disabled")]
    [InlineData("enabled", true, "enabled")]
    [InlineData("enabled", false, "disabled")]
    [InlineData("disabled", true, "disabled")]
    public void Thinking_ForClaudeCodesDefaultEffort_IsExplicit(string setting, bool? capable, string expected)
    {
        // Ollama does not know "adaptive" and maps effort "high" to maximum thinking (anthropic/anthropic.go).
        var (adapted, _) = Adapt(Fixtures.MainRequest, new AdaptationOptions { Thinking = setting }, capable);

        Assert.Equal(expected, (string?)adapted["thinking"]!["type"]);
        Assert.Null(adapted["output_config"]);
    }

    [Theory]
    [InlineData("high", "high", "medium")]
    [InlineData("xhigh", "high", "medium")]
    [InlineData("max", "max", "medium")]
    [InlineData("medium", "medium", "medium")]
    [InlineData("low", "low", "low")]
    [InlineData(" Low ", "low", "low")]
    public void Effort_BelowOllamasDefaultLevel_IsWhatTheModelThinksAt(string effort, string levelAsSent, string level)
    {
        // Claude Code sends effort "high" unless told otherwise (--effort); sent as is, Ollama would think at its
        // maximum level, so the gateway asks for Ollama's default ("medium") instead. A lower level is the user's choice.
        var json = $$"""{"model":"m","max_tokens":8000,"thinking":{"type":"adaptive"},"output_config":{"effort":"{{effort}}"},"messages":[{"role":"user","content":"hi"}]}""";
        Assert.Equal(levelAsSent, OllamaEmulation.ThinkingLevel(JsonNode.Parse(json), modelThinks: true));

        var (adapted, report) = Adapt(json, thinking: true);

        Assert.Equal(level, OllamaEmulation.ThinkingLevel(adapted, modelThinks: true));
        Assert.Contains("thinking", report.Changes);
        Assert.Equal(levelAsSent == level, adapted["output_config"] is not null);
    }

    [Theory]
    [InlineData("auto", "")]
    [InlineData("auto", ""","thinking":{"type":"enabled","budget_tokens":2048}""")]
    [InlineData("enabled", ""","thinking":{"type":"disabled"}""")]
    public void EffortLow_ForAThinkingModel_GoesWithoutAThinkingTypeToOverrideIt(string setting, string thinking)
    {
        // Any thinking type Ollama reads ("enabled", "disabled") would win over the effort; the setting "enabled" is the
        // operator's, over a client's own "disabled".
        var json = $$"""{"model":"m","max_tokens":8000{{thinking}},"output_config":{"effort":"low"},"messages":[{"role":"user","content":"hi"}]}""";

        var (adapted, report) = Adapt(json, new AdaptationOptions { Thinking = setting }, thinking: true);

        Assert.Equal("low", OllamaEmulation.ThinkingLevel(adapted, modelThinks: true));
        Assert.Null(adapted["thinking"]);
        Assert.Equal(thinking.Length > 0, report.Changes.Contains("thinking"));
        Assert.DoesNotContain("output_config.effort", report.Changes);
    }

    [Theory]
    [InlineData("auto", false, """{"type":"adaptive"}""")]
    [InlineData("auto", true, """{"type":"disabled"}""")]
    [InlineData("disabled", true, """{"type":"adaptive"}""")]
    public void EffortLow_WhereThinkingIsOff_StaysOff(string setting, bool capable, string thinking)
    {
        // Ollama reads any effort level as "think", and on /v1/messages drops it for a model without the capability.
        var json = $$"""{"model":"m","max_tokens":8000,"thinking":{{thinking}},"output_config":{"effort":"low"},"messages":[{"role":"user","content":"hi"}]}""";

        var (adapted, _) = Adapt(json, new AdaptationOptions { Thinking = setting }, capable);

        Assert.Equal("disabled", (string?)adapted["thinking"]!["type"]);
        Assert.Null(adapted["output_config"]);
    }

    [Theory]
    [InlineData("""{"type":"disabled"}""", true, "disabled", null)]
    [InlineData("""{"type":"enabled","budget_tokens":2048}""", true, "enabled", 2048)]
    [InlineData("""{"type":"enabled","budget_tokens":2048}""", false, "disabled", null)]
    [InlineData("""{"type":"enabled","budget_tokens":2048}""", null, "disabled", null)]
    public void Thinking_Auto_KeepsTheClientsOwnChoiceWhereTheModelAllowsIt(string thinking, bool? capable, string expected, int? budget)
    {
        // A client that turned thinking off means it; an explicit "enabled" is kept only for a model known to think,
        // since Ollama drops thinking on /v1/messages for a model without the capability.
        var json = $$"""{"model":"m","max_tokens":8000,"thinking":{{thinking}},"messages":[{"role":"user","content":"hi"}]}""";

        var (adapted, report) = Adapt(json, new AdaptationOptions { Thinking = "auto" }, capable);

        Assert.Equal(expected, (string?)adapted["thinking"]!["type"]);
        Assert.Equal(budget, (int?)adapted["thinking"]!["budget_tokens"]);
        Assert.Equal(expected != JsonNode.Parse(thinking)!["type"]!.GetValue<string>(), report.Changes.Contains("thinking"));
    }

    [Fact]
    public void Thinking_TurnedOnByTheGateway_StaysBelowMaxTokens()
    {
        // The Messages API wants budget_tokens < max_tokens; the clamp can bring max_tokens under the configured budget.
        var json = """{"model":"m","max_tokens":32000,"messages":[{"role":"user","content":"hi"}]}""";

        var (adapted, report) = Adapt(json, new AdaptationOptions { ThinkingBudgetTokens = 4096 }, thinking: true, room: 1500);

        Assert.Equal(1500, (int)adapted["max_tokens"]!);
        Assert.Equal(1499, (int)adapted["thinking"]!["budget_tokens"]!);
        Assert.Equal(1500, report.MaxTokens);
    }

    [Fact]
    public void Thinking_Passthrough_LeavesThinkingAndEffortAsSent()
    {
        var json = """{"model":"m","max_tokens":8000,"thinking":{"type":"adaptive"},"output_config":{"effort":"low"},"messages":[{"role":"user","content":"hi"}]}""";

        var (adapted, report) = Adapt(json, new AdaptationOptions { Thinking = "passthrough" }, thinking: true);

        Assert.Equal("adaptive", (string?)adapted["thinking"]!["type"]);
        Assert.Equal("low", (string?)adapted["output_config"]!["effort"]);
        Assert.Empty(report.Changes);
    }

    [Fact]
    public void OutputConfig_AsDeepAsTheRequestMayBe_KeepsItsSchema()
    {
        // The request is read with a depth limit of 128; the part kept beside a removed effort must be too.
        var depth = 100;
        var format = string.Concat(Enumerable.Repeat("""{"a":""", depth)) + "1" + new string('}', depth);
        var json = $$"""{"model":"m","max_tokens":10,"output_config":{"effort":"high","format":{{format}}},"messages":[{"role":"user","content":"hi"}]}""";

        var (adapted, report) = Adapt(json);

        Assert.Null(adapted["output_config"]!["effort"]);
        Assert.Equal(format, adapted["output_config"]!["format"]!.ToJsonString());
        Assert.True(report.StructuredOutputIgnored);
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

    [Theory]
    [InlineData("""{"type":"none"}""", null, "none", null)]
    [InlineData("""{"type":"tool","name":"Read"}""", "Read", "tool", "tool")]
    [InlineData("""{"type":"tool","name":"Nope"}""", "Bash,Read", null, "tool")]
    [InlineData("""{"type":"any"}""", "Bash,Read", null, "any")]
    [InlineData("""{"type":"auto"}""", "Bash,Read", null, null)]
    public void ToolChoice_WhichOllamaNeverReads_IsKeptToWhatTheToolsCanSay(string toolChoice, string? offered, string? changed, string? notEnforced)
    {
        // anthropic/anthropic.go parses tool_choice into the request and FromMessagesRequest never reads it.
        var json = $$$"""{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"name":"Bash","input_schema":{"type":"object"}},{"name":"Read","input_schema":{"type":"object"}}],"tool_choice":{{{toolChoice}}}}""";

        var (adapted, report) = Adapt(json);

        var tools = adapted["tools"]?.AsArray().Select(tool => (string?)tool!["name"]);
        Assert.Equal(offered, tools is null ? null : string.Join(",", tools));
        Assert.Equal(changed is not null, report.Changes.Contains("tool_choice"));
        Assert.Equal(notEnforced, report.ToolChoiceNotEnforced);
        if (changed == "none")
        {
            Assert.Null(adapted["tool_choice"]);
        }
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

    [Fact]
    public void ToolErrorFlag_BeforeContentBlocks_KeepsItsSpace()
    {
        var json = """{"model":"m","messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"text","text":"Exit code 1"}],"is_error":true}]}]}""";

        var (adapted, _) = Adapt(json);

        // Ollama concatenates the parts: "[tool error] Exit code 1".
        var parts = adapted["messages"]![0]!["content"]![0]!["content"]!.AsArray();
        Assert.Equal(["[tool error] ", "Exit code 1"], parts.Select(p => (string)p!["text"]!));
    }

    [Fact]
    public void ToolResultParts_AreNotGluedTogether()
    {
        // An MCP tool's result with two text items (Playwright MCP answers "### Result" and "### Page state" that way):
        // convertToolResultContent writes them into one string with nothing between.
        var json = """{"model":"m","messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"text","text":"### Result\nClicked"},{"type":"text","text":"### Page state\n- button"},{"type":"text","text":"\nlast"}]}]}]}""";

        var (adapted, report) = Adapt(json);

        var parts = adapted["messages"]![0]!["content"]![0]!["content"]!.AsArray();
        Assert.Equal(["### Result\nClicked\n", "### Page state\n- button", "\nlast"], parts.Select(p => (string)p!["text"]!));
        Assert.Contains("messages.text_separated", report.Changes);
    }

    [Fact]
    public void MessageTexts_AreNotGluedTogether_EvenWithOtherBlocksBetween()
    {
        // convertMessage appends every text block of a message to one builder; images and tool calls go elsewhere.
        var json = """{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"Compare"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}},{"type":"text","text":"with the spec"}]}]}""";

        var (adapted, report) = Adapt(json, vision: true);

        var blocks = adapted["messages"]![0]!["content"]!.AsArray();
        Assert.Equal("Compare\n", (string)blocks[0]!["text"]!);
        Assert.Equal("with the spec", (string)blocks[2]!["text"]!);
        Assert.Contains("messages.text_separated", report.Changes);
    }

    [Theory]
    [InlineData("""[{"type":"text","text":"ends with a newline\n"},{"type":"text","text":"next"}]""")]
    [InlineData("""[{"type":"text","text":"first"},{"type":"text","text":" starts with a space"}]""")]
    [InlineData("""[{"type":"text","text":"first"},{"type":"text","text":""},{"type":"text","text":"\tafter an empty one"}]""")]
    [InlineData("""[{"type":"text","text":"only one"}]""")]
    [InlineData(""" "a string" """)]
    public void TextsAlreadyApart_AreLeftAsSent(string content)
    {
        var json = $$"""{"model":"m","messages":[{"role":"user","content":{{content}}}]}""";

        var (adapted, report) = Adapt(json);

        Assert.DoesNotContain("messages.text_separated", report.Changes);
        Assert.Equal(JsonNode.Parse(content)!.ToJsonString(), adapted["messages"]![0]!["content"]!.ToJsonString());
    }

    [Fact]
    public void ClaudeCodesOwnRequests_NeedNoSeparation()
    {
        // Its reminder blocks end with a newline: the main request's prompt and cache prefix stay as sent.
        foreach (var request in new[] { Fixtures.MainRequest, Fixtures.ToolResultRequest, Fixtures.TitleRequest })
        {
            Assert.DoesNotContain("messages.text_separated", Adapt(request).Report.Changes);
        }
    }

    [Fact]
    public void SeparateTextBlocksOff_LeavesTextsGlued()
    {
        var json = """{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]}""";

        var (adapted, report) = Adapt(json, new AdaptationOptions { SeparateTextBlocks = false });

        Assert.DoesNotContain(report.Changes, change => change.StartsWith("messages", StringComparison.Ordinal));
        Assert.Equal("a", (string)adapted["messages"]![0]!["content"]![0]!["text"]!);
    }

    // Claude Code 2.1.329 with a custom base URL: WebFetch and WebSearch deferred behind ToolSearch, a placeholder tool
    // that must never be called, and ToolSearch's result as tool_reference blocks (captured from the CLI).
    private const string ToolSearchTools = """
        [{"name":"Read","input_schema":{"type":"object"}},{"name":"ToolSearch","input_schema":{"type":"object"}},
         {"name":"WebFetch","input_schema":{"type":"object"},"defer_loading":true},
         {"name":"WebSearch","input_schema":{"type":"object"},"defer_loading":true},
         {"name":"DeferredToolPlaceholder","description":"never call this tool","input_schema":{"type":"object"},"defer_loading":true}]
        """;

    [Fact]
    public void ToolSearchResult_ReachesTheModelAsText_AndOnlyLoadedDeferredToolsAreOffered()
    {
        // anthropic/anthropic.go convertToolResultContent keeps text and images only, so the result would be empty,
        // and Ollama knows no defer_loading, so the placeholder would be a callable tool.
        var json = $$$"""
            {"model":"m","tools":{{{ToolSearchTools}}},"messages":[
             {"role":"user","content":"fetch example.com"},
             {"role":"assistant","content":[{"type":"tool_use","id":"toolu_01","name":"ToolSearch","input":{"query":"select:WebFetch"}}]},
             {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01","content":[{"type":"tool_reference","tool_name":"WebFetch"},{"type":"tool_reference","tool_name":"WebSearch"}]}]}]}
            """;

        var (adapted, report) = Adapt(json);

        Assert.Equal(["Read", "ToolSearch", "WebFetch", "WebSearch"], adapted["tools"]!.AsArray().Select(t => (string)t!["name"]!));
        var parts = adapted["messages"]![2]!["content"]![0]!["content"]!.AsArray();
        Assert.Equal(
            ["Tool loaded: WebFetch (it can be called now)", "\n\nTool loaded: WebSearch (it can be called now)"],
            parts.Select(p => (string)p!["text"]!));
        Assert.All(parts, p => Assert.Equal("text", (string?)p!["type"]));
        Assert.Contains("messages.tool_reference", report.Changes);
        Assert.Contains("tools.defer_loading", report.Changes);
    }

    [Fact]
    public void DeferredToolsNotLoadedYet_AreNotOffered_AndTheRestIsUntouched()
    {
        var json = $$$"""{"model":"m","tools":{{{ToolSearchTools}}},"messages":[{"role":"user","content":"hi"}]}""";

        var (adapted, report) = Adapt(json);

        var tools = adapted["tools"]!.AsArray();
        Assert.Equal(["Read", "ToolSearch"], tools.Select(t => (string)t!["name"]!));
        Assert.Equal("""{"name":"Read","input_schema":{"type":"object"}}""", tools[0]!.ToJsonString());
        Assert.Equal("hi", (string?)adapted["messages"]![0]!["content"]);
        Assert.DoesNotContain("messages.tool_reference", report.Changes);
    }

    [Fact]
    public void ToolChangesAnnouncedInSystemMessages_ShapeTheToolsSent()
    {
        // Claude Code's mid-conversation tool changes (its anthropic-beta mid-conversation-tool-changes): a deferred
        // tool loaded by reference, a new one brought whole, one taken away. Folded into text, they would be lost.
        var json = """
            {"model":"m","tools":TOOLS,"messages":[
             {"role":"user","content":"hi"},
             {"role":"assistant","content":"hello"},
             {"role":"system","content":[
              {"type":"tool_addition","tool":{"type":"tool_reference","name":"WebFetch"}},
              {"type":"tool_addition","tool":{"type":"tool_definition","definition":{"name":"mcp__notes__add","description":"Add a note","input_schema":{"type":"object"}}}},
              {"type":"tool_removal","tool":{"type":"tool_reference","name":"Read"}}]},
             {"role":"system","content":[]},
             {"role":"user","content":"go on"}]}
            """.Replace("TOOLS", ToolSearchTools, StringComparison.Ordinal);

        var (adapted, _) = Adapt(json);

        Assert.Equal(["ToolSearch", "WebFetch", "mcp__notes__add"], adapted["tools"]!.AsArray().Select(t => (string)t!["name"]!));
        // Nothing left to read in those system messages: no empty reminder.
        Assert.DoesNotContain("system-reminder", adapted["messages"]!.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal("go on", (string?)adapted["messages"]![2]!["content"]);
    }

    [Theory]
    // Taken away, then added again.
    [InlineData("""
        [{"role":"system","content":[{"type":"tool_removal","tool":{"type":"tool_reference","name":"Read"}}]},
         {"role":"system","content":[{"type":"tool_addition","tool":{"type":"tool_reference","name":"Read"}}]},
         {"role":"user","content":"hi"}]
        """, "Read")]
    // Taken away, then loaded again by tool search: the order of the conversation decides.
    [InlineData("""
        [{"role":"system","content":[{"type":"tool_removal","tool":{"type":"tool_reference","name":"Read"}}]},
         {"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"tool_reference","tool_name":"Read"}]}]}]
        """, "Read")]
    // Loaded, then taken away.
    [InlineData("""
        [{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"tool_reference","tool_name":"Read"}]}]},
         {"role":"system","content":[{"type":"tool_removal","tool":{"type":"tool_reference","name":"Read"}}]},
         {"role":"user","content":"hi"}]
        """, "")]
    public void ToolChanges_ApplyInTheConversationsOrder(string messages, string offered)
    {
        var json = """{"model":"m","tools":[{"name":"Read","input_schema":{"type":"object"}}],"messages":MESSAGES}""".Replace("MESSAGES", messages, StringComparison.Ordinal);

        var (adapted, _) = Adapt(json);

        Assert.Equal(offered, string.Join(",", adapted["tools"]!.AsArray().Select(t => (string)t!["name"]!)));
    }

    [Fact]
    public void ToolDefinedByAToolChange_IsSentWhenTheRequestListsNone()
    {
        var json = """
            {"model":"m","messages":[
             {"role":"system","content":[{"type":"tool_addition","tool":{"type":"tool_definition","definition":{"name":"mcp__notes__add","input_schema":{"type":"object"}}}}]},
             {"role":"user","content":"note it"}]}
            """;

        var (adapted, _) = Adapt(json);

        Assert.Equal(["mcp__notes__add"], adapted["tools"]!.AsArray().Select(t => (string)t!["name"]!));
    }

    [Fact]
    public void ReplaceDroppedBlocksOff_LeavesToolsAndResultsAsSent()
    {
        var json = $$$"""{"model":"m","tools":{{{ToolSearchTools}}},"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"tool_reference","tool_name":"WebFetch"}]}]}]}""";

        var (adapted, report) = Adapt(json, new AdaptationOptions { ReplaceDroppedBlocks = false });

        Assert.Equal(5, adapted["tools"]!.AsArray().Count);
        Assert.Equal("tool_reference", (string?)adapted["messages"]![0]!["content"]![0]!["content"]![0]!["type"]);
        Assert.DoesNotContain("tools.defer_loading", report.Changes);
    }

    [Theory]
    // Rust's schemars writes a serde_json::Value argument as the boolean schema true.
    [InlineData("""{"type":"object","properties":{"value":true}}""", """{"type":"object","properties":{"value":{}}}""")]
    // No value fits false: the model cannot give the property, so it goes.
    [InlineData("""{"type":"object","properties":{"a":{"type":"string"},"never":false}}""", """{"type":"object","properties":{"a":{"type":"string"}}}""")]
    [InlineData("""{"type":"object","properties":{"v":{"anyOf":[{"type":"string"},true,false]}}}""", """{"type":"object","properties":{"v":{"anyOf":[{"type":"string"},{}]}}}""")]
    [InlineData("""{"type":"object","properties":{"o":{"type":"object","properties":{"deep":true},"required":["deep"]}}}""", """{"type":"object","properties":{"o":{"type":"object","properties":{"deep":{}},"required":["deep"]}}}""")]
    // Keywords of a kind api.ToolProperty has another type for: dropped, the rest kept.
    [InlineData("""{"type":"object","properties":{"n":{"type":"integer","description":{"text":"x"},"enum":"a","required":true,"title":"N"}}}""", """{"type":"object","properties":{"n":{"type":"integer","title":"N"}}}""")]
    [InlineData("""{"type":["object"],"required":"a","properties":{"a":{"type":["string",null]}}}""", """{"type":"object","properties":{"a":{"type":["string",null]}}}""")]
    [InlineData("""true""", """{"type":"object","properties":{}}""")]
    public void ToolSchema_OllamaCannotDecode_IsRewrittenSoItDoes(string schema, string expected)
    {
        var json = $$"""{"model":"m","tools":[{"name":"mcp__s__t","description":"d","input_schema":{{schema}}}],"messages":[{"role":"user","content":"hi"}]}""";

        var (adapted, report) = Adapt(json);

        Assert.Equal($$"""{"name":"mcp__s__t","description":"d","input_schema":{{expected}}}""", adapted["tools"]![0]!.ToJsonString());
        Assert.Contains("tools.input_schema", report.Changes);
    }

    [Theory]
    // pydantic (Python MCP servers) types an Enum parameter by a definition; Ollama's api.ToolProperty has no $ref.
    [InlineData(
        """{"$defs":{"Color":{"enum":["red","green"],"title":"Color","type":"string"}},"properties":{"color":{"$ref":"#/$defs/Color","description":"Pick one"}},"required":["color"],"type":"object"}""",
        """{"properties":{"color":{"enum":["red","green"],"title":"Color","type":"string","description":"Pick one"}},"required":["color"],"type":"object"}""")]
    [InlineData(
        """{"type":"object","properties":{"at":{"anyOf":[{"$ref":"#/definitions/Point"},{"type":"null"}]}},"definitions":{"Point":{"type":"object","properties":{"x":{"type":"integer"}},"required":["x"]}}}""",
        """{"type":"object","properties":{"at":{"anyOf":[{"type":"object","properties":{"x":{"type":"integer"}},"required":["x"]},{"type":"null"}]}}}""")]
    // zod-to-json-schema points at the first use of a schema it meets again.
    [InlineData(
        """{"type":"object","properties":{"from":{"type":"string","description":"a path"},"to":{"$ref":"#/properties/from"}}}""",
        """{"type":"object","properties":{"from":{"type":"string","description":"a path"},"to":{"type":"string","description":"a path"}}}""")]
    // A recursive type is inlined once; the repeat keeps its type and description.
    [InlineData(
        """{"$defs":{"Node":{"type":"object","description":"A node","properties":{"kids":{"type":"array","items":{"$ref":"#/$defs/Node"}}}}},"type":"object","properties":{"root":{"$ref":"#/$defs/Node"}}}""",
        """{"type":"object","properties":{"root":{"type":"object","description":"A node","properties":{"kids":{"type":"array","items":{"type":"object","description":"A node"}}}}}}""")]
    [InlineData(
        """{"type":"object","properties":{"mode":{"oneOf":[{"const":"fast"},{"const":"slow"}]}}}""",
        """{"type":"object","properties":{"mode":{"anyOf":[{"const":"fast","enum":["fast"]},{"const":"slow","enum":["slow"]}]}}}""")]
    [InlineData(
        """{"type":"object","properties":{"p":{"allOf":[{"$ref":"#/$defs/Base"},{"properties":{"b":{"type":"string"}},"required":["b"]}],"description":"both"}},"$defs":{"Base":{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}}}""",
        """{"type":"object","properties":{"p":{"description":"both","type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}},"required":["a","b"]}}}""")]
    // What a reference points to is made decodable too.
    [InlineData(
        """{"type":"object","properties":{"v":{"$ref":"#/$defs/Any"}},"$defs":{"Any":{"type":"object","properties":{"value":true}}}}""",
        """{"type":"object","properties":{"v":{"type":"object","properties":{"value":{}}}}}""")]
    // pydantic's list[dict[str, Model]]: a reference under additionalProperties, which the rewrite does not reach and
    // Ollama passes on inside items, keeps the definitions it points to.
    [InlineData(
        """{"type":"object","properties":{"a":{"$ref":"#/$defs/M"},"b":{"type":"array","items":{"type":"object","additionalProperties":{"$ref":"#/$defs/M"}}}},"$defs":{"M":{"type":"object","properties":{"x":{"type":"integer"}}}}}""",
        """{"type":"object","properties":{"a":{"type":"object","properties":{"x":{"type":"integer"}}},"b":{"type":"array","items":{"type":"object","additionalProperties":{"$ref":"#/$defs/M"}}}},"$defs":{"M":{"type":"object","properties":{"x":{"type":"integer"}}}}}""")]
    // A "$ref" that is a value (in a default) or points elsewhere keeps nothing; one under a property named "default" does.
    [InlineData(
        """{"type":"object","properties":{"a":{"$ref":"#/$defs/M"},"b":{"type":"object","default":{"$ref":"#/$defs/M"}}},"$defs":{"M":{"type":"string"}}}""",
        """{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"object","default":{"$ref":"#/$defs/M"}}}}""")]
    [InlineData(
        """{"type":"object","properties":{"a":{"$ref":"#/$defs/M"},"default":{"type":"object","additionalProperties":{"$ref":"#/$defs/M"}}},"$defs":{"M":{"type":"string"}}}""",
        """{"type":"object","properties":{"a":{"type":"string"},"default":{"type":"object","additionalProperties":{"$ref":"#/$defs/M"}}},"$defs":{"M":{"type":"string"}}}""")]
    // A property named like a keyword is a name, not a keyword.
    [InlineData(
        """{"type":"object","properties":{"const":{"type":"string"},"$ref":{"$ref":"#/properties/const"}}}""",
        """{"type":"object","properties":{"const":{"type":"string"},"$ref":{"type":"string"}}}""")]
    public void ToolSchema_KeywordsOllamaDrops_AreSaidInOnesItKeeps(string schema, string expected)
    {
        var json = $$"""{"model":"m","tools":[{"name":"mcp__s__t","input_schema":{{schema}}}],"messages":[{"role":"user","content":"hi"}]}""";

        var (adapted, report) = Adapt(json);

        Assert.Equal(expected, adapted["tools"]![0]!["input_schema"]!.ToJsonString());
        Assert.Contains("tools.input_schema", report.Changes);
    }

    [Fact]
    public void ToolSchema_ReferencesThatMultiplyPerLevel_StopAtTheBudget()
    {
        // Each level refers to the next twice: inlined whole, 20 levels would be a million copies.
        var definitions = new JsonObject { ["L20"] = new JsonObject { ["type"] = "string" } };
        for (var level = 0; level < 20; level++)
        {
            definitions[$"L{level}"] = new JsonObject
            {
                ["type"] = "object",
                ["properties"] = new JsonObject { ["a"] = new JsonObject { ["$ref"] = $"#/$defs/L{level + 1}" }, ["b"] = new JsonObject { ["$ref"] = $"#/$defs/L{level + 1}" } },
            };
        }

        var schema = new JsonObject { ["type"] = "object", ["properties"] = new JsonObject { ["top"] = new JsonObject { ["$ref"] = "#/$defs/L0" } }, ["$defs"] = definitions };
        var json = $$"""{"model":"m","tools":[{"name":"t","input_schema":{{schema.ToJsonString()}}}],"messages":[{"role":"user","content":"hi"}]}""";

        var (adapted, _) = Adapt(json);

        var sent = adapted["tools"]![0]!["input_schema"]!.ToJsonString();
        Assert.DoesNotContain("$ref", sent, StringComparison.Ordinal);
        Assert.InRange(sent.Length, 1, 64 * 1024);
    }

    [Theory]
    [InlineData("""{"$ref":5,"oneOf":{},"allOf":[true,5,{"$ref":"#/nowhere"}],"properties":{"a":{"$ref":"#"},"b":{"$ref":"#/properties/a/$ref"},"c":{"items":[true,{"$ref":"#/properties/c"}]}}}""")]
    [InlineData("""{"type":"object","properties":{"x":{"$ref":"#/$defs/A"}},"$defs":{"A":{"$ref":"#/$defs/B"},"B":{"$ref":"#/$defs/A"}}}""")]
    [InlineData("""{"type":"object","properties":{"x":{"$ref":"#/$defs/A~1B"},"y":{"$ref":"#/$defs/A%7EB"}},"$defs":{"A/B":{"type":"string"},"A~B":true}}""")]
    [InlineData("""{"type":"object","properties":{"x":{"allOf":[{"properties":5,"required":"no"},{"properties":{"p":false},"required":[1]}]}}}""")]
    public void ToolSchemas_OfOddShapes_ComeOutDecodable_WithoutAnException(string schema)
    {
        var json = $$"""{"model":"m","tools":[{"name":"t","input_schema":{{schema}}}],"messages":[{"role":"user","content":"hi"}]}""";

        var (adapted, _) = Adapt(json);

        Assert.Null(ClaudeStack.ScriptedUpstream.OllamaToolDecoding.Refusal(adapted));
    }

    [Fact]
    public void ToolSchema_AChainOfReferences_StopsNestingAtTheDepth()
    {
        var definitions = new JsonObject();
        for (var level = 0; level < 200; level++)
        {
            definitions[$"L{level}"] = new JsonObject { ["type"] = "object", ["properties"] = new JsonObject { ["next"] = new JsonObject { ["$ref"] = $"#/$defs/L{level + 1}" } } };
        }

        definitions["L200"] = new JsonObject { ["type"] = "string" };
        var schema = new JsonObject { ["type"] = "object", ["properties"] = new JsonObject { ["top"] = new JsonObject { ["$ref"] = "#/$defs/L0" } }, ["$defs"] = definitions };
        var json = $$"""{"model":"m","tools":[{"name":"t","input_schema":{{schema.ToJsonString()}}}],"messages":[{"role":"user","content":"hi"}]}""";

        var (adapted, _) = Adapt(json);

        var sent = adapted["tools"]![0]!["input_schema"]!.ToJsonString();
        Assert.DoesNotContain("$ref", sent, StringComparison.Ordinal);
        Assert.InRange(sent.Count(c => c == '{'), 1, 2 * (OllamaSchemaKeywords.MaxInliningDepth + 2));
    }

    [Fact]
    public void ToolSchemas_OfClaudeCodesOwnTools_AreLeftAsSent()
    {
        // Decodable as they are (checked against api.ToolFunctionParameters): nothing to copy, nothing to change.
        var (adapted, report) = Adapt(Fixtures.MainRequest);

        using var sent = JsonDocument.Parse(Fixtures.MainRequest);
        Assert.Equal(sent.RootElement.GetProperty("tools").EnumerateArray().Count(t => !DroppedBlocks.IsDeferred(t)), adapted["tools"]!.AsArray().Count);
        Assert.DoesNotContain("tools.input_schema", report.Changes);
    }

    [Fact]
    public void ToolSchemaRewrite_AndToolSearch_WorkTogether()
    {
        var json = $$$"""{"model":"m","tools":{{{ToolSearchTools}}},"messages":[{"role":"user","content":"hi"}]}""".Replace("""{"name":"Read","input_schema":{"type":"object"}}""", """{"name":"Read","input_schema":{"type":"object","properties":{"x":true}}}""", StringComparison.Ordinal);

        var (adapted, report) = Adapt(json);

        var tools = adapted["tools"]!.AsArray();
        Assert.Equal(["Read", "ToolSearch"], tools.Select(t => (string)t!["name"]!));
        Assert.Equal("""{"type":"object","properties":{"x":{}}}""", tools[0]!["input_schema"]!.ToJsonString());
        Assert.Contains("tools.defer_loading", report.Changes);
        Assert.Contains("tools.input_schema", report.Changes);
    }

    [Fact]
    public void NormalizeToolSchemasOff_LeavesSchemasAsSent()
    {
        var json = """{"model":"m","tools":[{"name":"t","input_schema":{"type":"object","properties":{"x":true}}}],"messages":[{"role":"user","content":"hi"}]}""";

        var (adapted, report) = Adapt(json, new AdaptationOptions { NormalizeToolSchemas = false });

        Assert.Equal("""{"type":"object","properties":{"x":true}}""", adapted["tools"]![0]!["input_schema"]!.ToJsonString());
        Assert.DoesNotContain("tools.input_schema", report.Changes);
    }

    [Fact]
    public void Documents_BecomeTheirTextOrANoteThatTheyAreMissing()
    {
        // Claude Code's Read of a PDF returns [text, document(base64 PDF)]; anthropic/anthropic.go drops documents in a
        // tool result and counts them as unknown blocks in a message, so the model would invent the contents.
        var json = """
            {"model":"m","messages":[{"role":"user","content":[
              {"type":"document","title":"notes.txt","source":{"type":"text","media_type":"text/plain","data":"Line one."}},
              {"type":"document","source":{"type":"content","content":[{"type":"text","text":"A"},{"type":"text","text":"B"}]}},
              {"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"PDF file read: /workspace/doc.pdf (393 bytes)"},
                {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0xLjQK"}}]}]}]}
            """;

        var (adapted, report) = Adapt(json);

        var blocks = adapted["messages"]![0]!["content"]!.AsArray();
        Assert.Equal(["text", "text", "tool_result"], blocks.Select(b => (string)b!["type"]!));
        Assert.Equal("notes.txt\n\nLine one.", (string?)blocks[0]!["text"]);
        Assert.Equal("\n\nA\n\nB", (string?)blocks[1]!["text"]);
        var note = (string)blocks[2]!["content"]![1]!["text"]!;
        Assert.StartsWith("\n\n[The PDF is not shown: this model server reads no documents.", note);
        Assert.DoesNotContain("JVBERi0xLjQK", adapted.ToJsonString());
        Assert.Contains("messages.document", report.Changes);
    }

    [Fact]
    public void SearchResults_BecomeTheirText()
    {
        // With CLAUDE_CODE_WEBSEARCH_CITATIONS Claude Code returns WebFetch's page (cut into chunks of at most 500
        // characters) and WebSearch's hits as search_result blocks; anthropic/anthropic.go convertToolResultContent keeps
        // only text and images, so the model would get an empty result, and in a message the block's string source does
        // not decode into ContentBlock.Source.
        var json = """
            {"model":"m","messages":[{"role":"user","content":[
              {"type":"tool_result","tool_use_id":"t","content":[
                {"type":"search_result","source":"https://example.com/notes","title":"https://example.com/notes","content":[{"type":"text","text":"Version 7 adds "},{"type":"text","text":"widgets."}],"citations":{"enabled":true}},
                {"type":"search_result","source":"https://example.com/b","title":"Gadgets","content":[{"type":"text","text":"Version 8 removes gadgets."}],"citations":{"enabled":true}}]},
              {"type":"search_result","source":"https://example.com/c","title":"C","content":[{"type":"text","text":"c"}],"citations":{"enabled":false}}]}]}
            """;

        var (adapted, report) = Adapt(json);

        var blocks = adapted["messages"]![0]!["content"]!.AsArray();
        Assert.Equal(["tool_result", "text"], blocks.Select(b => (string)b!["type"]!));
        var parts = blocks[0]!["content"]!.AsArray();
        Assert.All(parts, p => Assert.Equal("text", (string?)p!["type"]));
        // The chunks are slices of one text: joined as they were cut.
        Assert.Equal("https://example.com/notes\n\nVersion 7 adds widgets.", (string?)parts[0]!["text"]);
        Assert.Equal("\n\nGadgets (https://example.com/b)\n\nVersion 8 removes gadgets.", (string?)parts[1]!["text"]);
        Assert.Equal("\n\nC (https://example.com/c)\n\nc", (string?)blocks[1]!["text"]);
        Assert.Contains("messages.search_result", report.Changes);
    }

    [Fact]
    public void MalformedNestedBlocks_AreLeftOrDescribed_NeverAnException()
    {
        // Parsing checks a nested block's type only: odd fields inside must not throw.
        var json = """
            {"model":"m","messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[
              {"type":"text","text":"x"},{"type":"tool_reference","tool_name":7},{"type":"document","source":7,"title":["x"]},{"type":"document","source":{"type":"text","data":5}},{"type":"image","source":null}]}]}]}
            """;

        var (adapted, _) = Adapt(json, vision: false);

        var parts = adapted["messages"]![0]!["content"]![0]!["content"]!.AsArray();
        Assert.Equal("x", (string?)parts[0]!["text"]);
        Assert.Equal("\n\nTool loaded:  (it can be called now)", (string?)parts[1]!["text"]);
        Assert.StartsWith("\n\n[The document is not shown", (string?)parts[2]!["text"]);
        Assert.StartsWith("\n\n[The document is not shown", (string?)parts[3]!["text"]);
        Assert.StartsWith("\n\n[An image is not shown", (string?)parts[4]!["text"]);
    }

    private const string ImagesRequest = """
        {"model":"m","messages":[
         {"role":"user","content":[{"type":"text","text":"what is wrong here?"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}]},
         {"role":"assistant","content":[{"type":"tool_use","id":"toolu_01","name":"Read","input":{"file_path":"/workspace/shot.png"}}]},
         {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}]}]}]}
        """;

    [Fact]
    public void Images_ForAModelWithoutVision_BecomeANoteSayingSo()
    {
        // Ollama passes images to its runner, which has no projector for a text-only model and refuses the call; Claude
        // Code sends the whole conversation each turn, so one pasted screenshot would fail every later call.
        var (adapted, report) = Adapt(ImagesRequest, vision: false);

        var pasted = adapted["messages"]![0]!["content"]!.AsArray();
        Assert.Equal("what is wrong here?", (string?)pasted[0]!["text"]);
        Assert.Equal(
            "\n\n[An image (image/png) is not shown: the model qwen3-coder:30b cannot see images. Ask for a description of it, or use a model with vision.]",
            (string?)pasted[1]!["text"]);
        var read = adapted["messages"]![2]!["content"]![0]!["content"]![0]!;
        Assert.Equal("text", (string?)read["type"]);
        Assert.StartsWith("[An image (image/png) is not shown", (string?)read["text"]);
        Assert.DoesNotContain("iVBORw0KGgo=", adapted.ToJsonString());
        Assert.Contains("messages.image", report.Changes);
    }

    [Fact]
    public void Images_InAnAssistantMessage_AreReplacedToo()
    {
        // anthropic/anthropic.go convertMessage collects images whatever the role.
        var (adapted, report) = Adapt("""{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"image","source":{"type":"base64","media_type":"image/gif","data":"R0lGOD=="}}]}]}""", vision: false);

        Assert.StartsWith("[An image (image/gif) is not shown", (string?)adapted["messages"]![1]!["content"]![0]!["text"]);
        Assert.Contains("messages.image", report.Changes);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(null)]
    public void Images_ForAModelWithVisionOrUnknown_AreLeftAsSent(bool? vision)
    {
        var (adapted, report) = Adapt(ImagesRequest, vision: vision);

        Assert.Equal("image", (string?)adapted["messages"]![0]!["content"]![1]!["type"]);
        Assert.Equal("image", (string?)adapted["messages"]![2]!["content"]![0]!["content"]![0]!["type"]);
        Assert.DoesNotContain("messages.image", report.Changes);
    }

    [Fact]
    public void Images_WithReplaceDroppedBlocksOff_AreLeftAsSent()
    {
        var (adapted, _) = Adapt(ImagesRequest, new AdaptationOptions { ReplaceDroppedBlocks = false }, vision: false);

        Assert.Contains("iVBORw0KGgo=", adapted.ToJsonString());
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
            OllamaRequestAdapter.Adapt(request!, new AdaptationOptions { Thinking = "passthrough" }, new ModelInfo { Model = "m", SupportsVision = false }, 5000, edits);

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

    [Theory]
    [InlineData("num_ctx                        8192", 8192)]
    // Ollama prints parameters decoded from JSON as Go floats (%#v): from a million on, in exponent form.
    [InlineData("num_ctx                        1.048576e+06", 1048576)]
    [InlineData("stop                           \"<|im_end|>\"\nnum_ctx                        262144", 262144)]
    [InlineData("num_ctx                        0", null)]
    [InlineData("num_ctx                        lots", null)]
    [InlineData("temperature                    0.7", null)]
    public void NumCtx_IsReadAsOllamaPrintsIt(string parameters, int? expected) =>
        Assert.Equal(expected, OllamaModelFacts.NumCtx(parameters));

    [Fact]
    public void ModelFacts_NumCtxPastTheTrainedLength_IsCapped()
    {
        // effectiveContext (server/sched.go): the runner never starts with more than the model was trained for.
        var show = JsonDocument.Parse("""{"parameters":"num_ctx 131072","model_info":{"general.architecture":"qwen3","qwen3.context_length":40960}}""");

        var facts = OllamaModelFacts.Combine("qwen3:8b", show, null, 65536);

        Assert.Equal((40960, "api/show num_ctx"), (facts.ContextLength!.Value, facts.ContextSource!));
    }

    [Fact]
    public void ModelFacts_VisionIsKnownOnlyFromCapabilities()
    {
        // server/images.go: "vision" is among the capabilities when the model has a vision encoder or a projector.
        static ModelInfo Facts(string show) => OllamaModelFacts.Combine("m", JsonDocument.Parse(show), null, null);

        Assert.True(Facts("""{"capabilities":["completion","vision"]}""").SupportsVision);
        Assert.False(Facts("""{"capabilities":["completion","tools"]}""").SupportsVision);
        Assert.Null(Facts("""{"parameters":""}""").SupportsVision);
        Assert.False(Facts("""{"capabilities":["completion",7,null]}""").SupportsVision);
    }
}
