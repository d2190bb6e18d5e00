using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using ClaudeStack.Gateway.Api;
using ClaudeStack.Gateway.Telemetry;
using ClaudeStack.Gateway.Tests.Support;
using ClaudeStack.ScriptedUpstream;
using Names = ClaudeStack.Gateway.Telemetry.TelemetryNames.Attributes;

namespace ClaudeStack.Gateway.Tests;

/// <summary>The ollama profile's guards on Kestrel, each against the Ollama behaviour it exists for.</summary>
public sealed class LocalModelGuardTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static StringContent Body(string json) => new(json, Encoding.UTF8, "application/json");

    [Fact]
    public async Task PromptLargerThanTheLoadedContext_Is400PromptTooLongAndNeverForwarded()
    {
        // server/prompt.go chatPrompt drops the oldest messages silently when the prompt exceeds num_ctx;
        // /api/ps reports the loaded runner's context_length (here a small 8192).
        var ollama = new OllamaEmulation { Models = [new OllamaModel("llama3.1:8b") { LoadedContextLength = 8192 }] };
        var captureContent = new Dictionary<string, string?> { [TelemetryNames.CaptureMessageContentKey] = "true" };
        await using var rig = await Rig.StartAsync(_ => ScriptedReply.Text("unused"), captureContent, Ct, ollama);
        var (upstream, gateway, spans) = (rig.Upstream!, rig.Gateway, rig.Spans);

        using var response = await gateway.Client.PostAsync("/v1/messages", Body(Fixtures.MainRequest), Ct);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!;

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("invalid_request_error", (string?)error["error"]!["type"]);
        Assert.Matches(@"^prompt is too long: \d+ tokens > 8192 maximum$", (string?)error["error"]!["message"]);
        Assert.Empty(upstream.MessageRequests);
        var span = Assert.Single(await spans.WaitForAsync(1, Ct));
        Assert.Equal(true, span.GetTagItem(Names.PromptTooLong));
        Assert.Equal(8192, span.GetTagItem(Names.ContextLength));
        Assert.Equal("api/ps", span.GetTagItem(Names.ContextSource));
        Assert.Contains(span.Events, e => e.Name == TelemetryNames.Events.PromptTooLong);
        // The dashboard shows the prompt that was refused, not only that one was.
        Assert.NotNull(span.GetTagItem(Names.InputMessages));
        Assert.NotNull(span.GetTagItem(Names.ToolDefinitions));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Screenshots_CountAsImagesOnlyForAModelThatSeesThem(bool vision)
    {
        // Twelve screenshots (an MCP browser's, say) in tool results of an 8192-token window: a vision encoder spends
        // about 800 tokens on each, more than the window holds; a model without vision reads a short note for each.
        var model = new OllamaModel("llama3.1:8b") { LoadedContextLength = 8192, Capabilities = vision ? ["completion", "tools", "vision"] : ["completion", "tools"] };
        await using var rig = await Rig.StartAsync(_ => ScriptedReply.Text("twelve pages"), null, Ct, new OllamaEmulation { Models = [model] });
        var screenshot = new JsonObject { ["type"] = "image", ["source"] = new JsonObject { ["type"] = "base64", ["media_type"] = "image/png", ["data"] = "iVBORw0KGgo=" } };
        var messages = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Look at each page" });
        for (var i = 0; i < 12; i++)
        {
            messages.Add(new JsonObject { ["role"] = "assistant", ["content"] = new JsonArray(new JsonObject { ["type"] = "tool_use", ["id"] = $"t{i}", ["name"] = "mcp__browser__screenshot", ["input"] = new JsonObject() }) });
            messages.Add(new JsonObject { ["role"] = "user", ["content"] = new JsonArray(new JsonObject { ["type"] = "tool_result", ["tool_use_id"] = $"t{i}", ["content"] = new JsonArray(screenshot.DeepClone()) }) });
        }

        var body = new JsonObject { ["model"] = "llama3.1:8b", ["max_tokens"] = 1024, ["messages"] = messages }.ToJsonString();

        var counted = await rig.PostAsync(body, Ct, "/v1/messages/count_tokens");
        var called = await rig.PostAsync(body, Ct);

        var estimate = (int)JsonNode.Parse(counted.Body)!["input_tokens"]!;
        var span = Assert.Single(await rig.Spans.WaitForAsync(1, Ct));
        Assert.Equal(estimate, span.GetTagItem(Names.EstimatedInputTokens));
        if (vision)
        {
            Assert.InRange(estimate, 12 * 800, 12 * 800 + 200);
            Assert.Equal(HttpStatusCode.BadRequest, called.Status);
            Assert.Empty(rig.Upstream!.MessageRequests);
        }
        else
        {
            Assert.InRange(estimate, 1, 1000);
            Assert.Equal(HttpStatusCode.OK, called.Status);
            Assert.Contains("cannot see images", rig.Upstream!.MessageRequests.Single().Json!.ToJsonString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task PromptThatFitsButLeavesNoRoomToAnswer_Is400PromptTooLong()
    {
        // Ollama starts runners with context shift on (server/sched.go): an answer that grows past the window throws
        // away half of the prompt after its first tokens, system prompt and tools included, and says nothing.
        var estimate = await EstimateOfTheMainRequestAsync();
        var window = estimate + 100;
        var ollama = new OllamaEmulation { Models = [new OllamaModel("llama3.1:8b") { LoadedContextLength = window }] };
        await using var rig = await Rig.StartAsync(_ => ScriptedReply.Text("unused"), null, Ct, ollama);

        using var response = await rig.Gateway.Client.PostAsync("/v1/messages", Body(Fixtures.MainRequest), Ct);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!;

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        // The limit Claude Code shows is the model's window; the excess counts the 1024 tokens set aside for the answer.
        Assert.Equal($"prompt is too long: {estimate + 1024} tokens > {window} maximum", (string?)error["error"]!["message"]);
        Assert.Empty(rig.Upstream!.MessageRequests);
        var refused = Assert.Single(await rig.Spans.WaitForAsync(1, Ct)).Events.Single(e => e.Name == TelemetryNames.Events.PromptTooLong);
        Assert.Equal(1024, refused.Tags.Single(tag => tag.Key == Names.ReservedForOutput).Value);

        // An answer asked to be one token long needs room for one: such a probe goes through.
        using var probe = await rig.Gateway.Client.PostAsync("/v1/messages", Body(Fixtures.MainRequest.Replace("\"max_tokens\": 32000", "\"max_tokens\": 1", StringComparison.Ordinal)), Ct);
        await probe.Content.ReadAsByteArrayAsync(Ct);
        Assert.Equal(HttpStatusCode.OK, probe.StatusCode);
        Assert.Single(rig.Upstream!.MessageRequests);
    }

    [Fact]
    public async Task OllamasOwnPromptTooLong_ReachesClaudeCodeInTheWordsThatMakeItCompact()
    {
        // A runner without context shift (the deepseek2 family) refuses a prompt over its window itself: llm/llama_server.go
        // answers 400, which middleware/anthropic.go writes as an Anthropic invalid_request_error. Here the gateway's
        // estimate fit the 200000 /api/ps reports, so only Ollama could tell.
        const string OllamasWords = "the prompt is longer than the context length currently available to the model; shorten the prompt, adjust the context length in settings, or use a model with a longer context length";
        var ollama = new OllamaEmulation { Models = [new OllamaModel("llama3.1:8b") { LoadedContextLength = 200_000 }] };
        await using var rig = await Rig.StartAsync(_ => ScriptedReply.OllamaRouteError(400, OllamasWords), null, Ct, ollama);

        using var response = await rig.Gateway.Client.PostAsync("/v1/messages", Body(Fixtures.MainRequest), Ct);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!;

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        // Ollama counted more than the window, so the excess Claude Code reads is at least one token.
        Assert.Equal("prompt is too long: 200001 tokens > 200000 maximum", (string?)error["error"]!["message"]);
    }

    private static async Task<int> EstimateOfTheMainRequestAsync()
    {
        var ollama = new OllamaEmulation { Models = [new OllamaModel("llama3.1:8b") { LoadedContextLength = 200_000 }] };
        await using var rig = await Rig.StartAsync(_ => ScriptedReply.Text("ok"), null, Ct, ollama);
        using var response = await rig.Gateway.Client.PostAsync("/v1/messages", Body(Fixtures.MainRequest), Ct);
        await response.Content.ReadAsByteArrayAsync(Ct);
        return (int)(await rig.Spans.WaitForAsync(1, Ct))[0].GetTagItem(Names.EstimatedInputTokens)!;
    }

    [Fact]
    public async Task WarnPolicy_ForwardsTheTooLongPromptAndFlagsIt()
    {
        var ollama = new OllamaEmulation { Models = [new OllamaModel("llama3.1:8b") { LoadedContextLength = 8192 }] };
        await using var rig = await Rig.StartAsync(_ => ScriptedReply.Text("ok"), new Dictionary<string, string?> { ["Gateway:Context:Policy"] = "warn" }, Ct, ollama);
        var (upstream, gateway, spans) = (rig.Upstream!, rig.Gateway, rig.Spans);

        using var response = await gateway.Client.PostAsync("/v1/messages", Body(Fixtures.MainRequest), Ct);
        await response.Content.ReadAsByteArrayAsync(Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Single(upstream.MessageRequests);
        Assert.Equal(true, (await spans.WaitForAsync(1, Ct))[0].GetTagItem(Names.PromptTooLong));
    }

    [Fact]
    public async Task ClaudeCodeRequest_IsAdaptedForOllama()
    {
        // A 20K window leaves less room than Claude Code's max_tokens of 32000 (anthropic/anthropic.go passes it
        // through as num_predict and lets context shift drop the start of the prompt).
        var ollama = new OllamaEmulation { Models = [new OllamaModel("llama3.1:8b") { LoadedContextLength = 20000 }] };
        await using var rig = await Rig.StartAsync(_ => ScriptedReply.Text("ok"), null, Ct, ollama);
        var (upstream, gateway, spans) = (rig.Upstream!, rig.Gateway, rig.Spans);

        using var response = await gateway.Client.PostAsync("/v1/messages?beta=true", Body(Fixtures.MainRequest), Ct);
        await response.Content.ReadAsByteArrayAsync(Ct);

        var sent = upstream.MessageRequests.Single().Json!;
        var span = Assert.Single(await spans.WaitForAsync(1, Ct));
        Assert.Single(sent["system"]!.AsArray());
        Assert.DoesNotContain(sent["messages"]!.AsArray(), m => (string?)m!["role"] == "system");
        Assert.Equal("disabled", (string?)sent["thinking"]!["type"]);
        Assert.Equal(20000 - (int)span.GetTagItem(Names.EstimatedInputTokens)!, (int)sent["max_tokens"]!);
        // The captured request offers Claude Code's deferred-tool placeholder, which Ollama would offer as callable.
        Assert.DoesNotContain(sent["tools"]!.AsArray(), t => (string?)t!["name"] == "DeferredToolPlaceholder");
        Assert.Equal(["system", "messages.system", "tools.defer_loading", "max_tokens", "thinking", "output_config.effort"], (string[])span.GetTagItem(Names.RequestAdapted)!);

        // The span describes the call the model received, not the 32000 the client asked for.
        Assert.Equal((int)sent["max_tokens"]!, span.GetTagItem(Names.RequestMaxTokens));
    }

    [Fact]
    public async Task HallucinatedToolName_IsASpanEventAndTheAnswerStillPasses()
    {
        await using var rig = await Rig.StartAsync(_ => ScriptedReply.ToolUse("run_shell_command", "{\"cmd\":\"ls\"}"), null, Ct);
        var (upstream, gateway, spans) = (rig.Upstream!, rig.Gateway, rig.Spans);

        using var response = await gateway.Client.PostAsync("/v1/messages", Body(Fixtures.MainRequest), Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);

        Assert.Contains("run_shell_command", text);
        var span = Assert.Single(await spans.WaitForAsync(1, Ct));
        var invalid = Assert.Single(span.Events, e => e.Name == TelemetryNames.Events.InvalidToolCall);
        Assert.Equal("run_shell_command", invalid.Tags.Single(t => t.Key == Names.ToolName).Value);
        Assert.Equal("unknown_tool", invalid.Tags.Single(t => t.Key == Names.ToolCallProblemKind).Value);
    }

    [Theory]
    [InlineData(true, "glm-4.6:cloud")]
    [InlineData(false, "gpt-oss:120b-cloud")]
    public async Task CloudModelWithCloudOff_IsA400SayingWhatToDo_AndTheSpanKeepsOllamasAnswer(bool stream, string model)
    {
        // The emulated Ollama runs with OLLAMA_NO_CLOUD=1, as the stack's does: cloudPassthroughMiddleware answers 403.
        await using var rig = await Rig.StartAsync(_ => ScriptedReply.Text("unused"), null, Ct, new OllamaEmulation());

        var answer = await rig.PostAsync(Rig.MessagesBody(stream: stream, model: model), Ct);

        Assert.Equal(HttpStatusCode.BadRequest, answer.Status);
        var (_, message) = Rig.AssertAnthropicError(answer.Body, "invalid_request_error");
        Assert.Equal(
            $"model '{model}' runs on ollama.com, and this Ollama keeps to local models (ollama cloud is disabled: remote model is unavailable); nothing was sent. " +
            "Pick a local model (/model), or turn Ollama's cloud models on: ClaudeStack:OllamaCloud=true for the stack's Ollama, OLLAMA_NO_CLOUD unset on another Ollama server.",
            message);
        var span = await rig.SingleSpanAsync(Ct);
        Rig.AssertFailedSpan(span, "permission_error", 403);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ModelWithoutTools_IsA400SayingWhatClaudeCodeNeeds_WhileItsToollessCallsStillRun(bool stream)
    {
        // gemma3's /api/show capabilities are completion and vision: Ollama refuses every request that offers tools.
        var ollama = new OllamaEmulation { Models = [new OllamaModel("gemma3") { Architecture = "gemma3", LoadedContextLength = 65536, Capabilities = ["completion", "vision"] }] };
        await using var rig = await Rig.StartAsync(_ => ScriptedReply.Text("A title"), null, Ct, ollama);
        // Claude Code's main turn offers its tools; its title request sends "tools": [].
        var (mainTurn, titleRequest) = (JsonNode.Parse(Fixtures.MainRequest)!, JsonNode.Parse(Fixtures.TitleRequest)!);
        (mainTurn["model"], mainTurn["stream"], titleRequest["model"], titleRequest["stream"]) = ("gemma3", stream, "gemma3", stream);

        var refused = await rig.PostAsync(mainTurn.ToJsonString(), Ct);
        var titled = await rig.PostAsync(titleRequest.ToJsonString(), Ct);

        Assert.Equal(HttpStatusCode.BadRequest, refused.Status);
        var (_, message) = Rig.AssertAnthropicError(refused.Body, "invalid_request_error");
        Assert.Equal(
            "model 'gemma3' cannot call tools (registry.ollama.ai/library/gemma3:latest does not support tools), and Claude Code works through tools; the model was not run. " +
            "Pick a model whose `ollama show <model>` lists the tools capability (/model), and set it as ClaudeStack:Model or ClaudeStack:ModelMap:* for the stack.",
            message);
        Assert.Equal(HttpStatusCode.OK, titled.Status);
        var spans = await rig.Spans.WaitForAsync(2, Ct);
        Rig.AssertFailedSpan(spans[0], "invalid_request_error", 400);
        Assert.Equal(ActivityStatusCode.Unset, spans[1].Status);
    }

    [Fact]
    public async Task ModelListingVisionWhoseRunnerHasNoProjector_FailsOneImageCall_ThenGetsNotes()
    {
        // /api/show lists vision for any GGUF with vision blocks; llama-server started without a projector answers 500
        // to any image. Claude Code retries a 500 with the same conversation: that retry must not fail again.
        var ollama = new OllamaEmulation { Models = [new OllamaModel("llava-phi3") { LoadedContextLength = 65536, Capabilities = ["completion", "tools", "vision"], ProjectorMissing = true }] };
        await using var rig = await Rig.StartAsync(_ => ScriptedReply.Text("A red pixel."), null, Ct, ollama);
        var body = new JsonObject
        {
            ["model"] = "llava-phi3",
            ["max_tokens"] = 100,
            ["messages"] = new JsonArray(new JsonObject
            {
                ["role"] = "user",
                ["content"] = new JsonArray(
                    new JsonObject { ["type"] = "image", ["source"] = new JsonObject { ["type"] = "base64", ["media_type"] = "image/png", ["data"] = "iVBORw0KGgo=" } },
                    new JsonObject { ["type"] = "text", ["text"] = "What is this?" }),
            }),
        }.ToJsonString();

        var failed = await rig.PostAsync(body, Ct);
        var retried = await rig.PostAsync(body, Ct);

        Assert.Equal(HttpStatusCode.InternalServerError, failed.Status);
        var (_, message) = Rig.AssertAnthropicError(failed.Body, "api_error");
        Assert.StartsWith("model 'llava-phi3' cannot see images in this Ollama (", message, StringComparison.Ordinal);
        Assert.EndsWith("until the model is pulled again the gateway sends it a note in place of each image, so the call can be sent again.", message, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, retried.Status);
        var sent = rig.Upstream!.MessageRequests[^1].Json!["messages"]![0]!["content"]!.AsArray();
        Assert.Equal(["text", "text"], sent.Select(b => (string?)b!["type"]));
        Assert.Contains("cannot see images", (string?)sent[0]!["text"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task ModelWhoseRunnerHasNoProjector_WithImageNotesTurnedOff_Gets400s_NotRetried500s()
    {
        // With ReplaceDroppedBlocks off the gateway sends images as they are, so a resend would fail the same way.
        var ollama = new OllamaEmulation { Models = [new OllamaModel("llava-phi3") { LoadedContextLength = 65536, Capabilities = ["completion", "tools", "vision"], ProjectorMissing = true }] };
        await using var rig = await Rig.StartAsync(_ => ScriptedReply.Text("A red pixel."), new Dictionary<string, string?> { ["Gateway:Adaptation:ReplaceDroppedBlocks"] = "false" }, Ct, ollama);
        var body = """{"model":"llava-phi3","max_tokens":100,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},{"type":"text","text":"What is this?"}]}]}""";

        var first = await rig.PostAsync(body, Ct);
        var second = await rig.PostAsync(body, Ct);

        foreach (var answer in new[] { first, second })
        {
            Assert.Equal(HttpStatusCode.BadRequest, answer.Status);
            var (_, message) = Rig.AssertAnthropicError(answer.Body, "invalid_request_error");
            Assert.EndsWith("or pick a model with vision (/model).", message, StringComparison.Ordinal);
        }

        Assert.Equal(2, rig.Upstream!.MessageRequests.Count);
    }

    [Fact]
    public async Task Other403s_AndOtherProfiles_PassTheUpstreamsAnswerOn()
    {
        // An Anthropic-compatible server saying the same words is not Ollama's refusal to explain.
        const string cloudWords = "ollama cloud is disabled: remote model is unavailable";
        await using var compatible = await Rig.StartAsync(_ => ScriptedReply.AnthropicError(403, "permission_error", cloudWords), new Dictionary<string, string?> { ["Gateway:Upstream:Profile"] = "anthropic-compatible" }, Ct);
        var passed = await compatible.PostAsync(Rig.MessagesBody(stream: false), Ct);
        Assert.Equal(HttpStatusCode.Forbidden, passed.Status);
        Assert.Equal((AnthropicError.Permission, cloudWords), Rig.AssertAnthropicError(passed.Body));

        // An Ollama behind a proxy that refuses for its own reasons.
        await using var proxied = await Rig.StartAsync(_ => ScriptedReply.OllamaError(403, "forbidden by policy"), null, Ct);
        var refused = await proxied.PostAsync(Rig.MessagesBody(stream: false), Ct);
        Assert.Equal(HttpStatusCode.Forbidden, refused.Status);
        Assert.Equal((AnthropicError.Permission, "forbidden by policy"), Rig.AssertAnthropicError(refused.Body));
    }

    [Fact]
    public async Task ModelPartlyOnCpu_TurnsHealthDegradedAndTagsTheSpan()
    {
        // /api/ps size_vram < size: layers were offloaded to the CPU (the "go make coffee" case).
        var ollama = new OllamaEmulation { Models = [new OllamaModel("llama3.1:8b") { LoadedContextLength = 65536, Size = 8_000, SizeVram = 2_000 }] };
        await using var rig = await Rig.StartAsync(_ => ScriptedReply.Text("slow"), null, Ct, ollama);
        var (upstream, gateway, spans) = (rig.Upstream!, rig.Gateway, rig.Spans);

        using var response = await gateway.Client.PostAsync("/v1/messages", Body("""{"model":"llama3.1:8b","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}"""), Ct);
        await response.Content.ReadAsByteArrayAsync(Ct);
        var health = await gateway.Client.GetAsync("/health", Ct);

        Assert.Equal(0.25, (await spans.WaitForAsync(1, Ct))[0].GetTagItem(Names.GpuShare));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Contains("Degraded", await health.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task ReportedTokensFarBelowTheEstimate_AreFlaggedAsTruncation()
    {
        // Ollama reports at most num_ctx input tokens after cutting the prompt (server/prompt.go); here it claims 100.
        var calls = 0;
        await using var rig = await Rig.StartAsync(_ =>
        {
            var truncated = Interlocked.Increment(ref calls) > 1;
            return ScriptedReply.Message(new ScriptedMessage { Blocks = [new ScriptedText("ok")], InputTokens = truncated ? 100 : 14000 });
        }, null, Ct);
        var (upstream, gateway, spans) = (rig.Upstream!, rig.Gateway, rig.Spans);

        for (var i = 0; i < 2; i++)
        {
            using var response = await gateway.Client.PostAsync("/v1/messages", Body(Fixtures.MainRequest), Ct);
            await response.Content.ReadAsByteArrayAsync(Ct);
        }

        var recorded = await spans.WaitForAsync(2, Ct);
        Assert.Null(recorded[0].GetTagItem(Names.PromptTruncated));
        Assert.Equal(true, recorded[1].GetTagItem(Names.PromptTruncated));
        Assert.Contains(recorded[1].Events, e => e.Name == TelemetryNames.Events.PromptTruncated);
    }

    [Fact]
    public async Task WhatACallTeachesUnderOneSpellingOfAModel_CountsUnderItsOthers()
    {
        // Ollama reads llama3.1 and registry.ollama.ai/library/Llama3.1:latest as one model (types/model ParseName fills
        // in the default registry, namespace and tag; getExistingName matches without case), so one tokenizer learns
        // from both.
        var ollama = new OllamaEmulation { Models = [new OllamaModel("llama3.1:latest")] };
        await using var rig = await Rig.StartAsync(
            _ => ScriptedReply.Message(new ScriptedMessage { Blocks = [new ScriptedText("ok")], InputTokens = 9000 }), null, Ct, ollama);
        var request = JsonNode.Parse(Fixtures.MainRequest)!;
        string Spelled(string model)
        {
            request["model"] = model;
            return request.ToJsonString();
        }

        string? Estimate(ClientAnswer counted) =>
            counted.Headers.TryGetValues("x-claudestack-token-estimate", out var values) ? values.Single() : null;

        var before = await rig.PostAsync(Spelled("registry.ollama.ai/library/Llama3.1:latest"), Ct, "/v1/messages/count_tokens");
        var called = await rig.PostAsync(Spelled("llama3.1"), Ct);
        var after = await rig.PostAsync(Spelled("registry.ollama.ai/library/Llama3.1:latest"), Ct, "/v1/messages/count_tokens");

        Assert.Equal(HttpStatusCode.OK, called.Status);
        Assert.Equal("uncalibrated", Estimate(before));
        Assert.Equal("calibrated", Estimate(after));
        Assert.NotEqual((int)JsonNode.Parse(before.Body)!["input_tokens"]!, (int)JsonNode.Parse(after.Body)!["input_tokens"]!);
    }

    [Fact]
    public async Task DeferredToolsNotLoaded_DoNotCountTowardsTheContext()
    {
        // Claude Code offers MCP tools with defer_loading; the model sees one only after tool search loads it, and
        // the adaptation offers Ollama only those. Sixty unloaded ones (~15K tokens) must not make an 8K prompt too long.
        var ollama = new OllamaEmulation { Models = [new OllamaModel("llama3.1:8b") { LoadedContextLength = 8192 }] };
        await using var rig = await Rig.StartAsync(_ => ScriptedReply.Text("ok"), null, Ct, ollama);
        var body = JsonNode.Parse(Rig.MessagesBody("list the files"))!;
        var tools = new JsonArray(new JsonObject { ["name"] = "Bash", ["description"] = "Runs a command", ["input_schema"] = new JsonObject { ["type"] = "object" } });
        for (var i = 0; i < 60; i++)
        {
            tools.Add(new JsonObject { ["name"] = $"mcp__server__tool_{i}", ["description"] = new string('d', 1000), ["input_schema"] = new JsonObject { ["type"] = "object" }, ["defer_loading"] = true });
        }

        body["tools"] = tools;
        var answer = await rig.PostAsync(body.ToJsonString(), Ct);

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal(["Bash"], rig.Upstream!.MessageRequests.Single().Json!["tools"]!.AsArray().Select(t => (string?)t!["name"]));
    }

    [Fact]
    public async Task ATextDocument_CountsTowardsTheContext()
    {
        // The adaptation gives Ollama a text document as text (Ollama itself drops document blocks): ~25K tokens here,
        // which Ollama would cut silently to fit 8K.
        var ollama = new OllamaEmulation { Models = [new OllamaModel("llama3.1:8b") { LoadedContextLength = 8192 }] };
        await using var rig = await Rig.StartAsync(_ => ScriptedReply.Text("unused"), null, Ct, ollama);
        var body = JsonNode.Parse(Rig.MessagesBody("summarize this"))!;
        body["messages"]![0]!["content"] = new JsonArray(
            new JsonObject { ["type"] = "document", ["source"] = new JsonObject { ["type"] = "text", ["media_type"] = "text/plain", ["data"] = string.Concat(Enumerable.Repeat("word ", 20000)) } },
            new JsonObject { ["type"] = "text", ["text"] = "summarize this" });

        var counted = JsonNode.Parse((await rig.PostAsync(body.ToJsonString(), Ct, path: "/v1/messages/count_tokens")).Text)!;
        var answer = await rig.PostAsync(body.ToJsonString(), Ct);

        Assert.InRange((int)counted["input_tokens"]!, 20000, 40000);
        Assert.Equal(HttpStatusCode.BadRequest, answer.Status);
        Assert.Empty(rig.Upstream!.MessageRequests);
    }
}
