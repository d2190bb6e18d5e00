using System.Text.Json.Nodes;
using ClaudeStack.Gateway.Routing;
using ClaudeStack.Gateway.Tests.Support;
using ClaudeStack.ScriptedUpstream;
using ClaudeStack.Stack;
using Microsoft.Extensions.Configuration;
using Names = ClaudeStack.Gateway.Telemetry.TelemetryNames.Attributes;

namespace ClaudeStack.Gateway.Tests;

/// <summary>The real Claude Code CLI, headless, against the gateway in front of a scripted upstream.</summary>
public sealed class ClaudeCodeCliTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static bool CarriesToolResult(UpstreamRequest request) =>
        request.Json?["messages"]?.AsArray().LastOrDefault()?["content"] is JsonArray blocks
        && blocks.Any(b => (string?)b?["type"] == "tool_result");

    /// <summary>
    /// A model that calls one tool, then answers once the tool's result comes back. The call is streamed as Ollama
    /// v0.32.15 streams one (anthropic/anthropic.go): a tool_use block whose whole input comes in one input_json_delta,
    /// and stop_reason tool_use.
    /// </summary>
    private static ScriptedReply ToolCallThenAnswer(UpstreamRequest request, string tool, string input, string answer) =>
        CarriesToolResult(request) ? ScriptedReply.Text(answer) : ScriptedReply.ToolUse(tool, input);

    /// <summary>The tool result in the last message of a model call.</summary>
    private static JsonNode LastToolResult(UpstreamRequest call) =>
        call.Json!["messages"]!.AsArray().Last()!["content"]!.AsArray().Single(b => (string?)b!["type"] == "tool_result")!;

    [Fact]
    public async Task TheCliUnderTest_IsThePinnedVersion()
    {
        // CLAUDE_CODE_CLI may point anywhere: these tests speak for the version the repository pins, or fail.
        var run = await ClaudeCodeCli.RunAsync(new Uri("http://127.0.0.1:9/"), GatewayHost.StackToken, ["--version"], Ct);

        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.StartsWith($"{ClaudeCodeCli.Version} ", run.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HeadlessPrompt_PrintsAnswerAndTracesOneSpanPerCall()
    {
        await using var rig = await Rig.StartAsync(_ => ScriptedReply.Text("Hello from the local model."), null, Ct, new OllamaEmulation());
        var (upstream, gateway, spans) = (rig.Upstream!, rig.Gateway, rig.Spans);

        var run = await ClaudeCodeCli.RunAsync(gateway.BaseAddress, GatewayHost.StackToken, ["-p", "Say hello", "--model", "llama3.1:8b"], Ct);

        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.Contains("Hello from the local model.", run.StandardOutput);
        var calls = upstream.MessageRequests;
        Assert.NotEmpty(calls);
        Assert.All(calls, c => Assert.False(ModelRouter.IsClaudeName(c.Model!), $"upstream saw {c.Model}"));
        var recorded = await spans.WaitForAsync(calls.Count, Ct);
        Assert.Equal(calls.Count, recorded.Count);
        var span = recorded[0];
        Assert.Equal("chat llama3.1:8b", span.DisplayName);
        Assert.Equal("ollama", span.GetTagItem(Names.ProviderName));
        Assert.Equal("llama3.1:8b", span.GetTagItem(Names.ResponseModel));
        Assert.Equal(12L, span.GetTagItem(Names.UsageInputTokens));
        Assert.Equal(5L, span.GetTagItem(Names.UsageOutputTokens));
        Assert.Equal(true, span.GetTagItem(Names.RequestStream));
        Assert.Equal(calls[0].Header("x-claude-code-session-id"), span.GetTagItem(Names.ConversationId));
        Assert.NotNull(span.GetTagItem(Names.ResponseId));
    }

    [Fact]
    public async Task ToolRoundTrip_RunsTheToolAndSendsItsResult()
    {
        await using var rig = await Rig.StartAsync(request => ToolCallThenAnswer(request, "Bash", "{\"command\":\"echo hi > out.txt\",\"description\":\"Write hi to out.txt\"}", "Done: wrote out.txt"), null, Ct);
        var (upstream, gateway, spans) = (rig.Upstream!, rig.Gateway, rig.Spans);

        var run = await ClaudeCodeCli.RunAsync(gateway.BaseAddress, GatewayHost.StackToken, ["-p", "Write hi to out.txt", "--model", "llama3.1:8b", "--allowedTools", "Bash"], Ct);

        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.Contains("Done: wrote out.txt", run.StandardOutput);
        Assert.Equal("hi\n", await File.ReadAllTextAsync(Path.Combine(run.Workspace, "out.txt"), Ct));
        var calls = upstream.MessageRequests;
        Assert.Equal(2, calls.Count);
        var toolResult = calls[1].Json!["messages"]!.AsArray().Last()!["content"]!.AsArray().Single(b => (string?)b!["type"] == "tool_result")!;
        Assert.Equal("toolu_scripted_1", (string?)toolResult["tool_use_id"]);
        var recorded = await spans.WaitForAsync(2, Ct);
        Assert.Equal(2, recorded.Count);
        Assert.Contains(recorded, s => (s.GetTagItem(Names.ResponseFinishReasons) as string[])?.Single() == "tool_call");
    }

    [Fact]
    public async Task ToolSearch_LoadedToolReachesTheModelAsText_AndThePlaceholderIsNeverOffered()
    {
        // With a custom base URL Claude Code defers tools such as WebFetch behind ToolSearch, whose result is
        // tool_reference blocks, and offers a "never call this tool" placeholder with defer_loading. The scripted model
        // answers as Ollama would without the gateway's help only in what it is sent: Ollama keeps the text and images
        // of a tool result (anthropic/anthropic.go convertToolResultContent) and has no defer_loading.
        await using var rig = await Rig.StartAsync(request => ToolCallThenAnswer(request, "ToolSearch", "{\"query\":\"select:WebFetch\",\"max_results\":5}", "WebFetch is ready."), null, Ct);
        var upstream = rig.Upstream!;

        var run = await ClaudeCodeCli.RunAsync(rig.Gateway.BaseAddress, GatewayHost.StackToken, ["-p", "Load the WebFetch tool", "--model", "llama3.1:8b", "--allowedTools", "ToolSearch"], Ct);

        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.Contains("WebFetch is ready.", run.StandardOutput);
        var calls = upstream.MessageRequests;
        Assert.Equal(2, calls.Count);
        static IEnumerable<string> Tools(UpstreamRequest call) => call.Json!["tools"]!.AsArray().Select(t => (string)t!["name"]!);
        Assert.Contains("ToolSearch", Tools(calls[0]));
        Assert.DoesNotContain("WebFetch", Tools(calls[0]));
        Assert.Contains("WebFetch", Tools(calls[1]));
        Assert.All(calls, call => Assert.DoesNotContain("DeferredToolPlaceholder", Tools(call)));
        var text = Assert.Single(LastToolResult(calls[1])["content"]!.AsArray())!;
        Assert.Equal("text", (string?)text["type"]);
        Assert.Equal("Tool loaded: WebFetch (it can be called now)", (string?)text["text"]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ImageRead_ByAModelWithoutVision_ReachesItAsANote_AndTheSessionGoesOn(bool visionListedButNoProjector)
    {
        // Claude Code's Read returns an image file as an image block in the tool result. Like Ollama v0.32.15 in front
        // of llama-server without a projector, the emulated Ollama answers a call holding an image with a 500, which
        // Claude Code retries with the same conversation until it gives up. Its /api/show lists no "vision" for the
        // model, or lists it for a model whose runner still has no projector (the gateway learns from the first 500).
        var pictures = Directory.CreateTempSubdirectory("claudestack-image-");
        var screenshot = Path.Combine(pictures.FullName, "screenshot.png");
        await File.WriteAllBytesAsync(screenshot, OnePixelPng, Ct);
        var model = new OllamaModel("llama3.1:8b") { LoadedContextLength = 65536 };
        var ollama = new OllamaEmulation { Models = [visionListedButNoProjector ? model with { Capabilities = ["completion", "tools", "vision"], ProjectorMissing = true } : model] };
        await using var rig = await Rig.StartAsync(request => ToolCallThenAnswer(request, "Read", new JsonObject { ["file_path"] = screenshot }.ToJsonString(), "I cannot see that image."), null, Ct, ollama);
        var upstream = rig.Upstream!;

        var run = await ClaudeCodeCli.RunAsync(rig.Gateway.BaseAddress, GatewayHost.StackToken, ["-p", "What does the screenshot show?", "--model", "llama3.1:8b", "--allowedTools", "Read"], Ct);

        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.Contains("I cannot see that image.", run.StandardOutput);
        var calls = upstream.MessageRequests;
        Assert.Equal(visionListedButNoProjector ? 3 : 2, calls.Count);
        var parts = LastToolResult(calls[^1])["content"]!.AsArray();
        Assert.All(parts, part => Assert.Equal("text", (string?)part!["type"]));
        Assert.Contains(parts, part => ((string?)part!["text"])!.Contains("[An image (image/png) is not shown: the model llama3.1:8b cannot see images.", StringComparison.Ordinal));
        pictures.Delete(recursive: true);
    }

    [Fact]
    public async Task McpToolTakingAnyJsonValue_IsCallableThroughOllama()
    {
        // An MCP server written in Rust (schemars) describes a serde_json::Value argument as the boolean schema true,
        // and Claude Code offers the schema as the server gave it. Ollama v0.32.15 cannot decode that (the emulation
        // answers 400 as anthropic/anthropic.go convertTool does), so without the gateway's rewrite no call of the
        // session would get through.
        var calls = new List<JsonNode>();
        await using var rig = await Rig.StartAsync(request => request.Path == "/mcp"
            ? McpServer(request, calls)
            : ToolCallThenAnswer(request, "mcp__store__put", "{\"key\":\"k\",\"value\":{\"a\":1}}", "Stored it."), null, Ct, new OllamaEmulation());
        var config = Path.Combine(Directory.CreateTempSubdirectory("claudestack-mcp-").FullName, "mcp.json");
        await File.WriteAllTextAsync(config, new JsonObject
        {
            ["mcpServers"] = new JsonObject { ["store"] = new JsonObject { ["type"] = "http", ["url"] = new Uri(rig.UpstreamUri, "/mcp").ToString() } },
        }.ToJsonString(), Ct);

        // Without tool search the MCP tool is offered from the first call on (with it, once ToolSearch has loaded it).
        var run = await ClaudeCodeCli.RunAsync(rig.Gateway.BaseAddress, GatewayHost.StackToken, ["-p", "Store k", "--model", "llama3.1:8b", "--mcp-config", config, "--strict-mcp-config", "--allowedTools", "mcp__store__put"], Ct,
            new Dictionary<string, string> { ["ENABLE_TOOL_SEARCH"] = "false" });

        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.Contains("Stored it.", run.StandardOutput);
        var tool = rig.Upstream!.MessageRequests[0].Json!["tools"]!.AsArray().Single(t => (string?)t!["name"] == "mcp__store__put")!;
        Assert.Equal("{}", tool["input_schema"]!["properties"]!["value"]!.ToJsonString());
        lock (calls)
        {
            Assert.Equal("""{"key":"k","value":{"a":1}}""", Assert.Single(calls).ToJsonString());
        }

        // Ollama's convertToolResultContent concatenates a result's text parts as they come: not "storedkey k".
        var result = rig.Upstream.MessageRequests[1].Json!["messages"]!.AsArray()
            .SelectMany(m => m!["content"] as JsonArray ?? [])
            .Single(b => (string?)b!["type"] == "tool_result")!;
        Assert.Equal("stored\nkey k", string.Concat(((JsonArray)result["content"]!).Select(p => (string?)p!["text"])));
    }

    /// <summary>
    /// An MCP server over streamable HTTP with one tool whose argument takes any JSON value; answers each JSON-RPC
    /// request with JSON, notifications with 202, and has no server-to-client stream (405 for GET).
    /// </summary>
    private static ScriptedReply McpServer(UpstreamRequest request, List<JsonNode> calls)
    {
        if (request.Method != "POST")
        {
            return ScriptedReply.Status(405, "", "text/plain");
        }

        if (request.Json?["id"]?.DeepClone() is not { } id)
        {
            return ScriptedReply.Status(202, "", "text/plain");
        }

        var result = (string?)request.Json["method"] switch
        {
            "initialize" => new JsonObject
            {
                ["protocolVersion"] = request.Json["params"]?["protocolVersion"]?.DeepClone(),
                ["capabilities"] = new JsonObject { ["tools"] = new JsonObject() },
                ["serverInfo"] = new JsonObject { ["name"] = "store", ["version"] = "1.0.0" },
            },
            "tools/list" => JsonNode.Parse("""
                {"tools":[{"name":"put","description":"Stores a JSON value under a key.",
                  "inputSchema":{"type":"object","properties":{"key":{"type":"string"},"value":true},"required":["key","value"]}}]}
                """)!,
            "tools/call" => Called(request.Json["params"]?["arguments"]),
            _ => new JsonObject(),
        };
        return ScriptedReply.Status(200, new JsonObject { ["jsonrpc"] = "2.0", ["id"] = id, ["result"] = result }.ToJsonString());

        JsonNode Called(JsonNode? arguments)
        {
            lock (calls)
            {
                calls.Add(arguments?.DeepClone() ?? new JsonObject());
            }

            // Two text items, as MCP servers answer with a result and a status.
            return JsonNode.Parse("""{"content":[{"type":"text","text":"stored"},{"type":"text","text":"key k"}]}""")!;
        }
    }

    /// <summary>A 1×1 PNG.</summary>
    private static readonly byte[] OnePixelPng = Convert.FromBase64String(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==");

    [Theory]
    [InlineData(null, "medium")]
    [InlineData("high", "medium")]
    [InlineData("low", "low")]
    public async Task EffortChosenInClaudeCode_SetsTheLevelAThinkingModelRunsAt(string? effort, string level)
    {
        // Claude Code asks for effort "high" by default, which Ollama would run at its maximum thinking level.
        var qwen = new OllamaModel("qwen3:8b") { Architecture = "qwen3", Capabilities = ["completion", "tools", "thinking"], LoadedContextLength = 65536 };
        await using var rig = await Rig.StartAsync(_ => ScriptedReply.Text("hello", "qwen3:8b"), null, Ct, new OllamaEmulation { Models = [qwen] });
        string[] effortArguments = effort is null ? [] : ["--effort", effort];

        var run = await ClaudeCodeCli.RunAsync(rig.Gateway.BaseAddress, GatewayHost.StackToken, ["-p", "Say hello", "--model", "qwen3:8b", .. effortArguments], Ct);

        Assert.True(run.ExitCode == 0, run.Describe());
        var calls = rig.Upstream!.MessageRequests;
        Assert.NotEmpty(calls);
        Assert.All(calls, call => Assert.Equal(level, OllamaEmulation.ThinkingLevel(call.Json, modelThinks: true)));
    }

    [Fact]
    public async Task SubagentAskingForHaiku_IsRoutedToTheLocalHaikuModel()
    {
        // A subagent with model "haiku" asks for claude-haiku-*; the upstream must only ever see local names.
        await using var rig = await Rig.StartAsync(request =>
        {
            if ((string?)request.Json?["messages"]?[0]?["content"]?.AsArray().LastOrDefault()?["text"] == "Say hi")
            {
                return ScriptedReply.Text("hi from the subagent", request.Model!);
            }

            return ToolCallThenAnswer(request, "Agent", "{\"description\":\"greet\",\"prompt\":\"Say hi\",\"subagent_type\":\"general-purpose\",\"model\":\"haiku\",\"run_in_background\":false}", "The subagent answered.");
        }, new Dictionary<string, string?> { ["Gateway:Models:Haiku"] = "qwen2.5-coder:1.5b" }, Ct);
        var (upstream, gateway, spans) = (rig.Upstream!, rig.Gateway, rig.Spans);

        var run = await ClaudeCodeCli.RunAsync(gateway.BaseAddress, GatewayHost.StackToken, ["-p", "Use a subagent to say hi", "--model", "llama3.1:8b", "--allowedTools", "Agent"], Ct);

        Assert.True(run.ExitCode == 0, run.Describe());
        var models = upstream.MessageRequests.Select(r => r.Model!).ToList();
        Assert.Contains("qwen2.5-coder:1.5b", models);
        Assert.All(models, m => Assert.False(ModelRouter.IsClaudeName(m), $"upstream saw {m}"));
        var recorded = await spans.WaitForAsync(models.Count, Ct);
        Assert.Contains(recorded, s => ModelRouter.IsClaudeName((string)s.GetTagItem(Names.ModelRequested)!) && (string?)s.GetTagItem(Names.RequestModel) == "qwen2.5-coder:1.5b");
    }

    [Fact]
    public async Task ContextCommand_IsAnsweredByTheGatewayWithoutUpstreamCalls()
    {
        // /context sends ~24 count_tokens requests; Ollama has none (a plain-text 404), so the gateway answers them.
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(_ => ScriptedReply.Status(404, "404 page not found", "text/plain"), Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, cancellationToken: Ct);

        var run = await ClaudeCodeCli.RunAsync(gateway.BaseAddress, GatewayHost.StackToken, ["-p", "/context", "--model", "llama3.1:8b"], Ct);

        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.Contains("Context Usage", run.StandardOutput);
        Assert.Empty(upstream.Requests);
    }

    [Fact]
    public async Task StacksLocalModelEnvironment_StartsClaudeCodeWithoutWarnings_InTheModelsWindow()
    {
        var run = await RunContextInStackEnvironmentAsync(new() { ["ClaudeStack:Model"] = "llama3.1:8b" });

        Assert.True(run.ExitCode == 0, run.Describe());
        // The window Claude Code plans and auto-compacts in is the one Ollama is given (ContextLength 65536).
        Assert.Contains("**Model:** llama3.1:8b", run.StandardOutput);
        Assert.Contains("/ 65.5k", run.StandardOutput);
        // Claude Code names the variable it disagrees with, e.g. an auto-compact window below its 100K minimum.
        Assert.DoesNotContain("CLAUDE_CODE_", run.StandardOutput + run.StandardError);
        Assert.DoesNotContain("doesn't recognize the model", run.StandardOutput + run.StandardError);
    }

    [Fact]
    public async Task StacksAnthropicEnvironment_CapsClaudesWindow_AtMaxContextTokens()
    {
        // Claude Code knows a Claude model's window (200K for this one) and ignores CLAUDE_CODE_MAX_CONTEXT_TOKENS for
        // it; the cap the AppHost gives the claude-code container in Anthropic mode must still take effect.
        var run = await RunContextInStackEnvironmentAsync(new()
        {
            ["ClaudeStack:Provider"] = "Anthropic",
            ["ClaudeStack:Model"] = "claude-sonnet-4-6",
            ["ClaudeStack:ClaudeCode:MaxContextTokens"] = "150000",
        });

        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.Contains("**Model:** claude-sonnet-4-6", run.StandardOutput);
        Assert.Contains("/ 150k", run.StandardOutput);
        Assert.DoesNotContain("CLAUDE_CODE_", run.StandardOutput + run.StandardError);
    }

    [Fact]
    public async Task StacksLocalModelEnvironment_PrintModeWritesTheAnswerAlone_AndOneNoticeOnStderr()
    {
        // A local model's name is unknown to Claude Code, which in print mode says so once on stderr (the README quotes
        // the line); stdout, which scripts read, holds the answer alone.
        var run = await RunInStackEnvironmentAsync(
            new() { ["ClaudeStack:Model"] = "llama3.1:8b" },
            ["-p", "Say hello"],
            new OllamaEmulation(),
            _ => ScriptedReply.Text("Hello from the local model."));

        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.Equal("Hello from the local model.", run.StandardOutput.Trim());
        Assert.Equal("""[claude-code:unrecognized_model] {"model":"llama3.1:8b","query_source":"sdk"}""", run.StandardError.Trim());
    }

    [Fact]
    public async Task StacksLocalModelEnvironment_ClaudeCodePricesTheLocalModelAtADefaultRate()
    {
        // Claude Code has no price for a name it does not know and uses a default one (the README warns that its cost
        // figures for local models are not real). The token counts are the model's own: Ollama sends the real input
        // count only in message_delta, after an estimate (here 0) in message_start.
        var run = await RunInStackEnvironmentAsync(
            new() { ["ClaudeStack:Model"] = "llama3.1:8b" },
            ["-p", "Say hello", "--output-format", "json"],
            new OllamaEmulation(),
            _ => ScriptedReply.Text("Hello from the local model."));

        Assert.True(run.ExitCode == 0, run.Describe());
        var usage = JsonNode.Parse(run.StandardOutput)!["modelUsage"]!["llama3.1:8b"]!;
        Assert.Equal("unknown", (string?)usage["costBasis"]);
        Assert.True((double)usage["costUSD"]! > 0, usage.ToJsonString());
        Assert.Equal(12, (int)usage["inputTokens"]!);
        Assert.Equal(5, (int)usage["outputTokens"]!);
    }

    /// <summary>
    /// Runs <c>/context</c> with the literal environment the AppHost gives the claude-code container for these
    /// settings; the gateway address, the token and the OTLP endpoint, which Aspire fills in, come from the test.
    /// </summary>
    private static Task<ClaudeCodeRun> RunContextInStackEnvironmentAsync(Dictionary<string, string?> settings) =>
        RunInStackEnvironmentAsync(settings, ["-p", "/context"], ollama: null, _ => ScriptedReply.Status(404, "404 page not found", "text/plain"));

    /// <summary>
    /// Runs Claude Code with the literal environment the AppHost gives the claude-code container for these settings;
    /// the gateway address, the token and the OTLP endpoint, which Aspire fills in, come from the test.
    /// </summary>
    private static async Task<ClaudeCodeRun> RunInStackEnvironmentAsync(Dictionary<string, string?> settings, string[] arguments, OllamaEmulation? ollama, Func<UpstreamRequest, ScriptedReply> script)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var options = StackOptionsReader.Read(configuration, new LaunchContext(Path.GetTempPath(), Directory.Exists));
        var environment = StackEnvironment.ForClaudeCode(options)
            .Where(e => e.Literal is not null)
            .ToDictionary(e => e.Name, e => e.Literal!);
        await using var otlp = await OtlpReceiver.StartAsync(Ct);
        foreach (var (name, value) in otlp.ExporterSettings("claude-code"))
        {
            environment[name] = value ?? "";
        }

        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(new ScriptedUpstreamOptions { Script = script, Ollama = ollama }, Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, cancellationToken: Ct);
        return await ClaudeCodeCli.RunAsync(gateway.BaseAddress, GatewayHost.StackToken, arguments, Ct, environment);
    }

    [Fact]
    public async Task OverloadedOnce_IsRetriedByClaudeCode()
    {
        // The Anthropic API's 529 overloaded_error (Ollama answers 503 when its queue is full, in the fault table).
        var calls = 0;
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(_ => Interlocked.Increment(ref calls) == 1
            ? ScriptedReply.AnthropicError(529, "overloaded_error", "Overloaded")
            : ScriptedReply.Text("second time lucky"), Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, GatewayHost.AnthropicProfile(), Ct);

        var run = await ClaudeCodeCli.RunAsync(gateway.BaseAddress, GatewayHost.StackToken, ["-p", "Say hello", "--model", "claude-sonnet-4-5"], Ct);

        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.Contains("second time lucky", run.StandardOutput);
        Assert.Equal(2, upstream.MessageRequests.Count);
    }

    [Fact]
    public async Task StreamCutByOllama_IsRecoveredByClaudeCodesNonStreamingResend()
    {
        // Ollama ends the stream without message_stop on a mid-generation failure; the gateway ends it with an
        // error event, and Claude Code retries, falling back to a non-streamed request.
        await using var rig = await Rig.StartAsync(request => request.Stream
            ? ScriptedReply.StreamEndingEarly(ScriptedMessage.Text("lost"), 3)
            : ScriptedReply.Text("recovered without streaming"), null, Ct);
        var (upstream, gateway, spans) = (rig.Upstream!, rig.Gateway, rig.Spans);

        var run = await ClaudeCodeCli.RunAsync(gateway.BaseAddress, GatewayHost.StackToken, ["-p", "Say hello", "--model", "llama3.1:8b"], Ct);

        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.Contains("recovered without streaming", run.StandardOutput);
        Assert.False(upstream.MessageRequests[^1].Stream);
        var recorded = await spans.WaitForAsync(upstream.MessageRequests.Count, Ct);
        Assert.Contains(recorded, s => (string?)s.GetTagItem(Names.ErrorType) == "stream_incomplete");
    }

    [Fact]
    public async Task BadRequest_IsNotRetriedAsTheSameRequest()
    {
        // Ollama v0.32.15 middleware/anthropic.go refusing a request anthropic.FromMessagesRequest cannot convert (a
        // tool_use block without an id): a 400 invalid_request_error written by gin's AbortWithStatusJSON.
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(_ => ScriptedReply.OllamaRouteError(400, "tool_use block missing required 'id' field", byMiddleware: true), Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, cancellationToken: Ct);

        var run = await ClaudeCodeCli.RunAsync(gateway.BaseAddress, GatewayHost.StackToken, ["-p", "Say hello", "--model", "llama3.1:8b"], Ct);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("tool_use block missing required 'id' field", run.StandardOutput);
        // Claude Code answers a 400 with at most its feature-downgrade ladder (6 variants), not with its
        // 10 backed-off retries of the same request as for 5xx.
        Assert.InRange(upstream.MessageRequests.Count, 1, 6);
    }

    [Fact]
    public async Task CloudModelWithCloudOff_ShowsWhatToDo_NotAnAuthenticationFailure()
    {
        // Ollama's own Claude Code guide suggests cloud models (glm-4.6:cloud); the stack's Ollama runs with
        // OLLAMA_NO_CLOUD=1, whose 403 Claude Code would print as "Failed to authenticate. API Error: 403 …".
        await using var rig = await Rig.StartAsync(_ => ScriptedReply.Text("unused"), null, Ct, new OllamaEmulation());

        var run = await ClaudeCodeCli.RunAsync(rig.Gateway.BaseAddress, GatewayHost.StackToken, ["-p", "Say hello", "--model", "glm-4.6:cloud"], Ct);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("model 'glm-4.6:cloud' runs on ollama.com", run.StandardOutput);
        Assert.Contains("ClaudeStack:OllamaCloud=true", run.StandardOutput);
        Assert.DoesNotContain("authenticate", run.StandardOutput + run.StandardError, StringComparison.OrdinalIgnoreCase);
        Assert.NotEmpty(rig.Upstream!.MessageRequests);
    }

    [Fact]
    public async Task WrongStackToken_FailsWithoutReachingTheUpstream()
    {
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(_ => ScriptedReply.Text("unreachable"), Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, cancellationToken: Ct);

        var run = await ClaudeCodeCli.RunAsync(gateway.BaseAddress, "not-the-stack-token", ["-p", "Say hello", "--model", "llama3.1:8b"], Ct,
            new Dictionary<string, string> { ["CLAUDE_CODE_MAX_RETRIES"] = "0" });

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("Not logged in", run.StandardOutput);
        Assert.Empty(upstream.Requests);
    }

    [Fact]
    public async Task PromptTooLongForTheLocalWindow_GivesClaudeCodesClearError()
    {
        // Without the guard Ollama would cut the prompt silently (server/prompt.go) and the model would answer nonsense.
        var ollama = new OllamaEmulation { Models = [new OllamaModel("llama3.1:8b") { LoadedContextLength = 4096 }] };
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(new ScriptedUpstreamOptions { Script = _ => ScriptedReply.Text("nonsense"), Ollama = ollama }, Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, cancellationToken: Ct);

        var run = await ClaudeCodeCli.RunAsync(gateway.BaseAddress, GatewayHost.StackToken, ["-p", "Say hello", "--model", "llama3.1:8b"], Ct);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("Prompt is too long", run.StandardOutput);
        Assert.Contains("(limit 4096)", run.StandardOutput);
        Assert.Empty(upstream.MessageRequests);
    }

    [Fact]
    public async Task HallucinatedToolName_ShowsUpAsASpanEvent()
    {
        await using var rig = await Rig.StartAsync(request => ToolCallThenAnswer(request, "run_shell_command", "{\"cmd\":\"ls\"}", "Sorry, that tool does not exist."), null, Ct);
        var (upstream, gateway, spans) = (rig.Upstream!, rig.Gateway, rig.Spans);

        var run = await ClaudeCodeCli.RunAsync(gateway.BaseAddress, GatewayHost.StackToken, ["-p", "List the files", "--model", "llama3.1:8b"], Ct);

        Assert.True(run.ExitCode == 0, run.Describe());
        var recorded = await spans.WaitForAsync(upstream.MessageRequests.Count, Ct);
        var invalid = recorded.SelectMany(s => s.Events).Single(e => e.Name == ClaudeStack.Gateway.Telemetry.TelemetryNames.Events.InvalidToolCall);
        Assert.Equal("run_shell_command", invalid.Tags.Single(t => t.Key == Names.ToolName).Value);
    }

    [Fact]
    public async Task SilentPrefill_IsBridgedWithMessageStartAndPings()
    {
        // Ollama sends nothing until the first token (middleware/anthropic.go); a 20K-token prefill on a CPU takes minutes.
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(_ => ScriptedReply.Message(ScriptedMessage.Text("worth the wait"), firstEventDelay: TimeSpan.FromSeconds(4)), Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, new Dictionary<string, string?>
        {
            ["Gateway:Streaming:KeepAliveAfter"] = "00:00:00.500",
            ["Gateway:Streaming:KeepAliveInterval"] = "00:00:01",
        }, Ct);

        // Claude Code gives up on a request whose response has not begun within API_TIMEOUT_MS: here well before the
        // first token, so only the gateway's early headers keep the call alive.
        var run = await ClaudeCodeCli.RunAsync(gateway.BaseAddress, GatewayHost.StackToken, ["-p", "Say hello", "--model", "llama3.1:8b"], Ct, new Dictionary<string, string> { ["API_TIMEOUT_MS"] = "2500" });

        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.Contains("worth the wait", run.StandardOutput);
        Assert.Single(upstream.MessageRequests);
    }
}
