using System.Text;
using System.Text.Json;
using ClaudeStack.Gateway.Adaptation;
using ClaudeStack.Gateway.Guards;
using ClaudeStack.Gateway.Requests;
using ClaudeStack.Gateway.Streaming;
using ClaudeStack.Gateway.Tests.Support;
using ClaudeStack.Gateway.Tokens;

namespace ClaudeStack.Gateway.Tests.Logic;

public sealed class GuardTests
{
    private static readonly JsonElement BashSchema = JsonDocument.Parse("""
        {"type":"object","properties":{"command":{"type":"string"},"timeout":{"type":"number","maximum":600000},
        "run_in_background":{"type":"boolean"},"mode":{"type":"string","enum":["a","b"]},
        "todos":{"type":"array","items":{"type":"object","properties":{"content":{"type":"string","minLength":1},
        "status":{"type":"string","enum":["pending","completed"]}},"required":["content","status"],"additionalProperties":false}}},
        "required":["command"],"additionalProperties":false}
        """).RootElement;

    [Theory]
    [InlineData("""{"command":"ls"}""", null)]
    [InlineData("""{"command":"ls","timeout":1000,"run_in_background":false,"mode":"a"}""", null)]
    [InlineData("""{"timeout":1}""", "missing required property 'command'")]
    [InlineData("""{"command":42}""", "$.command: expected string, got integer")]
    [InlineData("""{"command":"ls","timeout":"soon"}""", "$.timeout: expected number")]
    [InlineData("""{"command":"ls","timeout":9999999}""", "above the maximum")]
    [InlineData("""{"command":"ls","mode":"c"}""", "is not one of")]
    [InlineData("""{"command":"ls","cmd":"ls"}""", "unexpected property 'cmd'")]
    [InlineData("""{"command":"ls","todos":[{"content":"x","status":"pending"}]}""", null)]
    [InlineData("""{"command":"ls","todos":[{"content":"","status":"done"}]}""", "$.todos[0].content: shorter than 1")]
    [InlineData("""{"command":"ls","todos":[{"status":"pending"}]}""", "$.todos[0]: missing required property 'content'")]
    public void Schema_SubsetClaudeCodeToolsUse(string input, string? problem)
    {
        var problems = ToolSchemaValidator.Validate(JsonDocument.Parse(input).RootElement, BashSchema);

        if (problem is null)
        {
            Assert.Empty(problems);
        }
        else
        {
            Assert.Contains(problems, p => p.Contains(problem, StringComparison.Ordinal));
        }
    }

    [Theory]
    // Keywords whose values are not of their kind, as a hand-written MCP schema may hold (the gateway sends Ollama a
    // decodable rewrite, but checks the model's calls against what the client sent): ignored, not thrown over.
    [InlineData("""{"type":"object","properties":{"n":{"type":"number","minimum":"0","maximum":"9"}}}""", """{"n":-1}""", null)]
    [InlineData("""{"type":"object","properties":{"s":{"type":"string","minLength":"2"}}}""", """{"s":"a"}""", null)]
    [InlineData("""{"type":"object","required":[1,"s"],"properties":{"s":{"type":"string"}}}""", """{}""", "missing required property 's'")]
    [InlineData("""{"type":"object","properties":{"s":{"type":["string",1]}}}""", """{"s":true}""", "expected string or 1, got boolean")]
    public void Schema_KeywordOfTheWrongKind_IsIgnoredNotThrownOver(string schema, string input, string? problem)
    {
        var problems = ToolSchemaValidator.Validate(JsonDocument.Parse(input).RootElement, JsonDocument.Parse(schema).RootElement);

        Assert.Equal(problem is null ? [] : [$"$: {problem}"], problems.Select(p => p.Replace("$.s: ", "$: ", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData("""{"n":2}""", true)]
    [InlineData("""{"n":2.0}""", true)]
    [InlineData("""{"n":1e2}""", true)]
    [InlineData("""{"n":2.5}""", false)]
    [InlineData("""{"n":1e400}""", false)]
    public void Schema_IntegerIsAnyNumberWithoutAFraction(string input, bool valid)
    {
        // JSON Schema (draft 6 on) counts 2.0 as an integer; servers that re-serialize the model's output write it so.
        var schema = JsonDocument.Parse("""{"type":"object","properties":{"n":{"type":"integer"}}}""").RootElement;

        Assert.Equal(valid, ToolSchemaValidator.Validate(JsonDocument.Parse(input).RootElement, schema).Count == 0);
    }

    [Theory]
    [InlineData("")]
    [InlineData("""{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"command\":\"pwd\"}"}}""")]
    public void ToolInputInTheStartEvent_IsWhatIsChecked_UnlessDeltasFollow(string delta)
    {
        // Some servers send the whole input in content_block_start ("input":{...}) and no deltas; Anthropic sends {} there.
        var stream = "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"Bash\",\"input\":{\"command\":\"ls\"}}}\n\n"
            + (delta.Length == 0 ? "" : $"event: content_block_delta\ndata: {delta}\n\n")
            + "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n";
        var observer = new MessageStreamObserver(keepText: false);

        var block = Assert.Single(observer.Observe(Encoding.UTF8.GetBytes(stream)));

        Assert.Equal(delta.Length == 0 ? """{"command":"ls"}""" : """{"command":"pwd"}""", block.Content.ToString());
        Assert.Empty(new ToolCallGuard([new OfferedTool("Bash", BashSchema)]).Check(block));
    }

    [Fact]
    public void Schema_AllClaudeCodeToolsAcceptTheirOwnFixtureCalls()
    {
        // The assistant turn in the captured tool-result request is a tool call Claude Code itself accepted.
        var (request, _) = MessagesRequest.Parse(Encoding.UTF8.GetBytes(Fixtures.ToolResultRequest));
        using (request)
        {
            var guard = new ToolCallGuard(request!.Tools);
            var call = request.Messages.EnumerateArray().Single(m => m.GetProperty("role").GetString() == "assistant")
                .GetProperty("content").EnumerateArray().Single(b => b.GetProperty("type").GetString() == "tool_use");
            var block = new ObservedBlock { Index = 0, Type = "tool_use", ToolName = call.GetProperty("name").GetString(), Complete = true };
            block.Content.Append(call.GetProperty("input").GetRawText());

            Assert.Empty(guard.Check(block));
            Assert.Equal(12, request.Tools.Count);
        }
    }

    [Theory]
    [InlineData("{\"text\":\"buy milk\"}", 0)]
    [InlineData("{\"text\":7}", 1)]
    public void ToolDefinedByAToolChange_IsCheckedAgainstItsSchema(string input, int problems)
    {
        // A tool a system message added mid-conversation (ToolChanges) is one the model may call.
        var json = """
            {"model":"m","max_tokens":8,"tools":[],"messages":[
             {"role":"system","content":[{"type":"tool_addition","tool":{"type":"tool_definition","definition":{"name":"mcp__notes__add","input_schema":{"type":"object","properties":{"text":{"type":"string"}}}}}}]},
             {"role":"user","content":"note it"}]}
            """;
        var (request, _) = MessagesRequest.Parse(Encoding.UTF8.GetBytes(json));
        using (request)
        {
            var block = new ObservedBlock { Index = 0, Type = "tool_use", ToolName = "mcp__notes__add", Complete = true };
            block.Content.Append(input);

            var found = new ToolCallGuard(request!.Tools).Check(block);

            Assert.Equal(problems, found.Count);
            Assert.All(found, problem => Assert.Equal(ToolCallProblems.SchemaViolation, problem.Kind));
        }
    }

    [Fact]
    public void ToolRemovedByAToolChange_IsUnknownToTheGuard()
    {
        var json = """
            {"model":"m","max_tokens":8,"tools":[{"name":"Read","input_schema":{"type":"object"}},{"name":"Bash","input_schema":{"type":"object"}}],"messages":[
             {"role":"system","content":[{"type":"tool_removal","tool":{"type":"tool_reference","name":"Read"}}]},
             {"role":"user","content":"read it"}]}
            """;
        var (request, _) = MessagesRequest.Parse(Encoding.UTF8.GetBytes(json));
        using (request)
        {
            var block = new ObservedBlock { Index = 0, Type = "tool_use", ToolName = "Read", Complete = true };

            Assert.Equal(ToolCallProblems.UnknownTool, Assert.Single(new ToolCallGuard(request!.Tools).Check(block)).Kind);
        }
    }

    [Theory]
    [InlineData("tool_use", "RunShell", "{}", ToolCallProblems.UnknownTool)]
    [InlineData("tool_use", "Bash", "{\"command\":", ToolCallProblems.InvalidJson)]
    [InlineData("tool_use", "Bash", "[\"ls\"]", ToolCallProblems.InvalidJson)]
    [InlineData("tool_use", "Bash", "{\"cmd\":\"ls\"}", ToolCallProblems.SchemaViolation)]
    [InlineData("text", null, "I'll run it: {\"name\": \"Bash\", \"arguments\": {\"command\": \"ls\"}}", ToolCallProblems.CallAsText)]
    [InlineData("text", null, "<tool_call>{\"name\":\"Bash\",\"parameters\":{\"command\":\"ls\"}}</tool_call>", ToolCallProblems.CallAsText)]
    public void BrokenToolCalls_AreNamed(string type, string? tool, string content, string kind)
    {
        var guard = new ToolCallGuard([new OfferedTool("Bash", BashSchema)]);
        var block = new ObservedBlock { Index = 0, Type = type, ToolName = tool, Complete = true };
        block.Content.Append(content);

        var violation = Assert.Single(guard.Check(block).Take(1));

        Assert.Equal(kind, violation.Kind);
    }

    [Fact]
    public void PlainText_IsNotAToolCall()
    {
        var guard = new ToolCallGuard([new OfferedTool("Bash", BashSchema)]);
        var block = new ObservedBlock { Index = 0, Type = "text" };
        block.Content.Append("Run `ls` in Bash to see the files; the JSON is {\"name\": \"value\"}.");

        Assert.Empty(guard.Check(block));
    }

    [Theory]
    [InlineData(1000, 8192, "reject", ContextVerdict.Fits)]
    [InlineData(9000, 8192, "reject", ContextVerdict.TooLongRejected)]
    [InlineData(9000, 8192, "warn", ContextVerdict.TooLongForwarded)]
    [InlineData(9000, 8192, "off", ContextVerdict.Fits)]
    [InlineData(9000, null, "reject", ContextVerdict.Fits)]
    public void ContextGuard_AppliesThePolicy(int estimate, int? window, string policy, ContextVerdict verdict) =>
        Assert.Equal(verdict, ContextGuard.Check(estimate, window, new ContextGuardOptions { Policy = policy }));

    [Theory]
    [InlineData(8192, 20000, 8192, false, true)]
    [InlineData(5000, 20000, 65536, true, true)]
    [InlineData(5000, 20000, 65536, false, false)]
    [InlineData(19000, 20000, 65536, true, false)]
    public void Truncation_IsSpottedAfterTheFact(long reported, int estimate, int window, bool calibrated, bool truncated) =>
        Assert.Equal(truncated, ContextGuard.LooksTruncated(reported, estimate, window, calibrated, 0.8));

    [Fact]
    public void PromptChars_CountWhatTheModelIsGiven()
    {
        static long Chars(string tools, string content) => TokenEstimator.CountPrompt(JsonDocument.Parse(
            $$"""{"messages":[{"role":"user","content":{{content}}}],"tools":{{tools}}}""").RootElement).TextChars;
        const string bash = """{"name":"Bash","input_schema":{"type":"object"}}""";
        const string deferred = """{"name":"mcp__x__search","input_schema":{"type":"object"},"defer_loading":true}""";
        const string hello = "[{\"type\":\"text\",\"text\":\"hello\"}]";
        var loadedBySearch = """[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"tool_reference","tool_name":"mcp__x__search"}]}]""";
        var textDocument = $$$"""[{"type":"document","title":"notes","source":{"type":"text","media_type":"text/plain","data":"{{{new string('a', 1000)}}}"}}]""";
        var contentDocument = """[{"type":"document","source":{"type":"content","content":[{"type":"text","text":"twelve chars"}]}}]""";
        const string pdf = """[{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0xLjQK"}}]""";

        Assert.Equal(Chars($"[{bash}]", hello), Chars($"[{bash},{deferred}]", hello));
        Assert.Equal(Chars($"[{bash},{deferred}]", hello) - 5 + deferred.Length, Chars($"[{bash},{deferred}]", loadedBySearch));
        Assert.Equal(Chars($"[{bash}]", "[]") + 1000 + "notes".Length, Chars($"[{bash}]", textDocument));
        Assert.Equal(Chars($"[{bash}]", "[]") + "twelve chars".Length, Chars($"[{bash}]", contentDocument));
        Assert.Equal(Chars($"[{bash}]", "[]"), Chars($"[{bash}]", pdf));
    }

    [Fact]
    public void Images_CountAsTheirEncodersTokens_OrAsTheNoteThatReplacesThem()
    {
        // Claude Code's Read of an image and an MCP screenshot both arrive inside tool results; a pasted one in a
        // message. A document is given to the model as its text, without its images.
        const string image = """{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}""";
        var json = $$$"""{"messages":[{"role":"user","content":[{{{image}}},{"type":"text","text":"what is this?"},{"type":"document","source":{"type":"content","content":[{{{image}}}]}}]},{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"Read","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":[{{{image}}}]}]}]}""";

        var prompt = TokenEstimator.CountPrompt(JsonDocument.Parse(json).RootElement);

        Assert.Equal(new PromptSize("what is this?".Length + "Read".Length + "{}".Length, 2), prompt);
        Assert.Equal(new PromptSize(prompt.TextChars + (2 * TokenEstimator.ImageNoteChars), 0), prompt.WithImagesAsNotes());

        // Whatever the tokenizer's ratio, an image costs its encoder's tokens.
        Assert.Equal(10 + (2 * TokenEstimator.ImageTokens), TokenEstimator.Estimate(prompt with { TextChars = 20 }, 0, 2.0));
        Assert.Equal(5 + (2 * TokenEstimator.ImageTokens), TokenEstimator.Estimate(prompt with { TextChars = 20 }, 0, 4.0));
    }

    [Fact]
    public void TooLongMessage_UsesAnthropicsWording() =>
        Assert.Equal("prompt is too long: 30000 tokens > 8192 maximum", ContextGuard.TooLongMessage(30000, 8192));

    [Fact]
    public void TooLongMessage_CountsTheRoomSetAsideForTheAnswerWithThePrompt() =>
        Assert.Equal("prompt is too long: 8200 tokens > 8192 maximum", ContextGuard.TooLongMessage(7176, 8192, 1024));

    [Theory]
    [InlineData(8192, 1024, 7168)]
    [InlineData(8192, 0, 8192)]
    [InlineData(512, 1024, 1)]
    [InlineData(null, 1024, null)]
    public void PromptWindow_SetsTheLeastRoomForAnAnswerAside(int? window, int reserved, int? expected) =>
        Assert.Equal(expected, ContextGuard.PromptWindow(window, reserved));

    [Fact]
    public void Calibration_ConvergesWithinFifteenPercentAfterFiveCalls()
    {
        // A tokenizer at 4.3 characters per token plus template overhead, as the upstream would report it.
        var calibration = new TokenCalibration();
        var (request, _) = MessagesRequest.Parse(Encoding.UTF8.GetBytes(Fixtures.MainRequest));
        using (request)
        {
            var chars = request!.Prompt.TextChars;
            var messages = request.MessageCount;
            long Reported(long c) => (long)(c / 4.3) + (messages * TokenEstimator.TokensPerMessage) + 12;

            foreach (var extra in new[] { 0, 1200, 2400, 3600, 4800 })
            {
                calibration.Observe("llama3.1:8b", new PromptSize(chars + extra, 0), messages, Reported(chars + extra));
            }

            var estimate = calibration.Estimate("llama3.1:8b", new PromptSize(chars + 6000, 0), messages);
            var actual = Reported(chars + 6000);
            Assert.InRange(estimate, actual * 0.85, actual * 1.15);
            Assert.Equal(5, calibration.Observations("llama3.1:8b"));
        }
    }

    [Fact]
    public void Calibration_LearnsOnceForEverySpellingOfAModel_WhenToldWhichAreOne()
    {
        var prompt = new PromptSize(40_000, 0);
        var ollama = new TokenCalibration(OllamaModelFacts.SameModel);
        var asGiven = new TokenCalibration();

        foreach (var calibration in new[] { ollama, asGiven })
        {
            calibration.Observe("qwen3", prompt, 2, 10_000);
            calibration.Observe("Qwen3:latest", prompt, 2, 10_000);
        }

        Assert.Equal(2, ollama.Observations("registry.ollama.ai/library/qwen3:latest"));
        Assert.NotEqual(TokenEstimator.DefaultCharsPerToken, ollama.CharsPerToken("library/qwen3"));
        Assert.Equal(1, asGiven.Observations("qwen3"));
        Assert.Equal(1, asGiven.Observations("Qwen3:latest"));
    }

    [Fact]
    public void Calibration_LearnsNothingFromCallsItsTextDoesNotExplain()
    {
        // An image's real cost depends on its size and the encoder, and a short prompt is mostly template: a count
        // above what the text explains would read as a denser tokenizer.
        var calibration = new TokenCalibration();

        calibration.Observe("gemma3:12b", new PromptSize(30_000, 4), 2, 10_000 + (4 * 1500));
        calibration.Observe("gemma3:12b", new PromptSize(TokenCalibration.MinCharsToLearn - 1, 0), 2, 2_000);

        Assert.Equal(0, calibration.Observations("gemma3:12b"));
        Assert.Equal(TokenEstimator.DefaultCharsPerToken, calibration.CharsPerToken("gemma3:12b"));
    }

    [Fact]
    public void Calibration_OneCallMovesTheRatioOnlyPartWay()
    {
        var calibration = new TokenCalibration();

        calibration.Observe("llama3.1:8b", new PromptSize(40_000, 0), 2, 40_000 + (2 * TokenEstimator.TokensPerMessage));

        // Observed 1.0 character per token: bounded to half the default, then averaged with the default.
        Assert.Equal((TokenEstimator.DefaultCharsPerToken + (TokenEstimator.DefaultCharsPerToken / TokenCalibration.MaxStep)) / 2, calibration.CharsPerToken("llama3.1:8b"), 6);
    }

    [Fact]
    public void Calibration_RecoversFromACallThatCountedTooMuch()
    {
        // One call counted far more than its text (a template the gateway cannot see); afterwards a tokenizer at 4.0
        // characters per token, as the upstream reports it. The correct counts first look like cuts against the
        // estimate learned too dense, not against the default ratio's: the ratio walks back, then learns again.
        var calibration = new TokenCalibration();
        const int window = 65_536;
        calibration.Observe("qwen3:8b", new PromptSize(9_000, 0), 2, 6_000);
        var cuts = 0;

        for (var call = 0; call < 20; call++)
        {
            var prompt = new PromptSize(160_000 + (call * 1_000), 0);
            var reported = (prompt.TextChars / 4) + (2 * TokenEstimator.TokensPerMessage);
            cuts += calibration.LearnOrDetectCut("qwen3:8b", prompt, 2, reported, window, 0.8) ? 1 : 0;
        }

        var next = new PromptSize(170_000, 0);
        Assert.InRange(calibration.Estimate("qwen3:8b", next, 2), 42_508 * 0.9, 42_508 * 1.15);
        Assert.InRange(cuts, 1, 10);
    }

    [Fact]
    public void Calibration_AReportCutAgainstTheCalibratedEstimate_IsACut()
    {
        // A dense tokenizer (2 characters per token), learned; then a prompt the upstream cut. The default ratio's
        // smaller estimate would not call the count a cut; the calibrated one does, and nothing is learned from it.
        var calibration = new TokenCalibration();
        for (var call = 0; call < 8; call++)
        {
            calibration.Observe("qwen3:8b", new PromptSize(40_000, 0), 2, 20_000 + (2 * TokenEstimator.TokensPerMessage));
        }

        var ratio = calibration.CharsPerToken("qwen3:8b");
        var cut = calibration.LearnOrDetectCut("qwen3:8b", new PromptSize(60_000, 0), 2, 21_000, 32_768, 0.8);

        Assert.True(ratio < 2.5);
        Assert.True(cut);
        Assert.Equal(8, calibration.Observations("qwen3:8b"));
    }

    [Fact]
    public void Calibration_KeepsABoundedNumberOfModels()
    {
        var calibration = new TokenCalibration();
        var prompt = new PromptSize(40_000, 0);
        for (var model = 0; model <= TokenCalibration.MaxModels; model++)
        {
            calibration.Observe($"m{model}", prompt, 0, 10_000);
        }

        Assert.Equal(1, calibration.Observations($"m{TokenCalibration.MaxModels - 1}"));
        Assert.Equal(0, calibration.Observations($"m{TokenCalibration.MaxModels}"));
    }

    [Fact]
    public void PromptChars_CountThinkingOnlyWhereTheModelIsGivenIt()
    {
        // Thinking of earlier turns is stripped (Anthropic's rule; Ollama's thinking templates render it only after
        // the last question); within the current turn Ollama keeps a message's last thinking block.
        static string Thinking(string text) => $$"""{"type":"thinking","thinking":"{{text}}","signature":""}""";
        const string toolUse = """{"type":"tool_use","id":"t1","name":"Bash","input":{}}""";
        var json = $$"""
            {"messages":[
              {"role":"user","content":"first question"},
              {"role":"assistant","content":[{{Thinking("old old old")}},{"type":"text","text":"answer"}]},
              {"role":"user","content":"second"},
              {"role":"assistant","content":[{{Thinking("dropped")}},{{Thinking("kept")}},{{toolUse}}]},
              {"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"ok"}]},
              {"role":"assistant","content":[{{Thinking("also kept")}}]}]}
            """;

        var chars = TokenEstimator.CountPrompt(JsonDocument.Parse(json).RootElement).TextChars;

        Assert.Equal("first question".Length + "answer".Length + "second".Length + "kept".Length + "Bash".Length + "{}".Length + "ok".Length + "also kept".Length, chars);
    }

    [Fact]
    public void PromptChars_CountToolJsonInCharactersLikeText()
    {
        const string tool = """{"name":"найти","input_schema":{"type":"object"}}""";
        var json = $$"""{"messages":[{"role":"user","content":"hi"}],"tools":[{{tool}}]}""";

        Assert.Equal("hi".Length + tool.Length, TokenEstimator.CountPrompt(JsonDocument.Parse(json).RootElement).TextChars);
    }

    [Fact]
    public void PromptChars_LeaveOutAToolTheConversationTookAway()
    {
        const string kept = """{"name":"Bash","input_schema":{"type":"object"}}""";
        var json = """
            {"messages":[{"role":"system","content":[{"type":"tool_removal","tool":{"type":"tool_reference","name":"Read"}}]},{"role":"user","content":"hi"}],
             "tools":[{"name":"Read","input_schema":{"type":"object"}},KEPT]}
            """.Replace("KEPT", kept, StringComparison.Ordinal);

        Assert.Equal("hi".Length + kept.Length, TokenEstimator.CountPrompt(JsonDocument.Parse(json).RootElement).TextChars);
    }
}
