using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using ClaudeStack.Gateway.Telemetry;
using ClaudeStack.Gateway.Tests.Support;
using ClaudeStack.ScriptedUpstream;
using Names = ClaudeStack.Gateway.Telemetry.TelemetryNames.Attributes;

namespace ClaudeStack.Gateway.Tests;

/// <summary>The gateway on real Kestrel in front of a scripted upstream, for the requests Claude Code really sends.</summary>
public sealed class GatewayTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static StringContent Body(string json) => new(json, Encoding.UTF8, "application/json");

    private static string Request(string model = "llama3.1:8b", bool stream = true, string text = "Say hello") =>
        new JsonObject
        {
            ["model"] = model,
            ["max_tokens"] = 1024,
            ["stream"] = stream,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = text }),
        }.ToJsonString();

    [Fact]
    public async Task ReachabilityProbes_Return200()
    {
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(_ => ScriptedReply.Text("unused"), Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, cancellationToken: Ct);
        using var anonymous = new HttpClient { BaseAddress = gateway.BaseAddress };

        using var head = await anonymous.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/"), Ct);
        using var get = await anonymous.GetAsync("/", Ct);
        using var hello = await anonymous.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/api/hello"), Ct);

        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(HttpStatusCode.OK, hello.StatusCode);
        Assert.Empty(upstream.Requests);
    }

    [Fact]
    public async Task HealthAndAlive_Return200()
    {
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(_ => ScriptedReply.Text("unused"), Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, cancellationToken: Ct);

        Assert.Equal(HttpStatusCode.OK, (await gateway.Client.GetAsync("/health", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await gateway.Client.GetAsync("/alive", Ct)).StatusCode);
    }

    [Fact]
    public async Task EachCall_ReachesTheUpstreamWithItsOwnPathAndQuery()
    {
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(_ => ScriptedReply.Message(new ScriptedMessage { Model = "llama3.1:8b" }), Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, cancellationToken: Ct);

        // The forwarder reuses the last target it built; a different query must not reuse it. (The ollama profile
        // also asks /api/ps and /api/show for model facts, which are not what this test is about.)
        foreach (var path in new[] { "/v1/messages?beta=true", "/v1/messages?beta=true", "/v1/messages", "/v1/messages?beta=false" })
        {
            using var response = await gateway.Client.PostAsync(path, Body(Request(stream: false)), Ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal(
            ["/v1/messages?beta=true", "/v1/messages?beta=true", "/v1/messages", "/v1/messages?beta=false"],
            upstream.Requests.Select(request => request.PathAndQuery).Where(path => path.StartsWith("/v1/", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData("anthropic-compatible")]
    [InlineData("anthropic")]
    public async Task PassThroughStream_IsByteForByteAndKeepsQueryAndHeaders(string profile)
    {
        var message = new ScriptedMessage { Model = "claude-sonnet-4-5", Blocks = [new ScriptedText(["Hel", "lo ", "wor", "ld"])], InputTokens = 20, OutputTokens = 4 };
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(_ => ScriptedReply.Message(message), Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, new Dictionary<string, string?>
        {
            ["Gateway:Upstream:Profile"] = profile,
            ["Gateway:Upstream:ApiKey"] = "sk-upstream-key-abcdef",
        }, Ct);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/messages?beta=true") { Content = Body(Request("claude-sonnet-4-5")) };
        request.Headers.Add("anthropic-version", "2023-06-01");
        request.Headers.Add("anthropic-beta", "claude-code-20250219,interleaved-thinking-2025-05-14");

        using var response = await gateway.Client.SendAsync(request, Ct);
        var bytes = await response.Content.ReadAsByteArrayAsync(Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(string.Concat(AnthropicSse.MessageEvents(message with { Id = message.Id })), Encoding.UTF8.GetString(bytes));
        var received = Assert.Single(upstream.Requests);
        Assert.Equal("/v1/messages?beta=true", received.PathAndQuery);
        Assert.Equal("2023-06-01", received.Header("anthropic-version"));
        Assert.Equal("claude-code-20250219,interleaved-thinking-2025-05-14", received.Header("anthropic-beta"));
        Assert.Equal("sk-upstream-key-abcdef", received.Header("x-api-key"));
        Assert.DoesNotContain(GatewayHost.StackToken, string.Join(" ", received.Headers.Values));
    }

    [Fact]
    public async Task AnthropicProfile_KeepsClaudeNamesAndBodyUntouched()
    {
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(_ => ScriptedReply.Text("hi", "claude-haiku-4-5-20251001"), Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, new Dictionary<string, string?>
        {
            ["Gateway:Upstream:Profile"] = "anthropic",
            ["Gateway:Upstream:ApiKey"] = "sk-ant-test-0123456789",
        }, Ct);
        var json = Request("claude-haiku-4-5-20251001");

        using var response = await gateway.Client.PostAsync("/v1/messages", Body(json), Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(json, Assert.Single(upstream.Requests).BodyText);
    }

    [Theory]
    [InlineData("claude-haiku-4-5-20251001", "qwen2.5-coder:1.5b")]
    [InlineData("haiku", "qwen2.5-coder:1.5b")]
    [InlineData("claude-opus-4-1", "llama3.1:8b")]
    [InlineData("sonnet", "llama3.1:8b")]
    [InlineData("qwen2.5-coder:32b", "qwen2.5-coder:32b")]
    public async Task ClaudeNames_AreRoutedToLocalModels(string requested, string expected)
    {
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(r => ScriptedReply.Text("ok", r.Model!), Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, new Dictionary<string, string?>
        {
            ["Gateway:Models:Haiku"] = "qwen2.5-coder:1.5b",
        }, Ct);
        using var spans = new SpanCollector(upstream.BaseAddress);

        using var response = await gateway.Client.PostAsync("/v1/messages", Body(Request(requested)), Ct);
        await response.Content.ReadAsByteArrayAsync(Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(expected, Assert.Single(upstream.MessageRequests).Model);
        var span = Assert.Single(await spans.WaitForAsync(1, Ct));
        Assert.Equal($"chat {expected}", span.DisplayName);
        Assert.Equal(requested, span.GetTagItem(Names.ModelRequested));
        Assert.Equal(expected, span.GetTagItem(Names.RequestModel));
    }

    [Fact]
    public async Task ClaudeNameWithoutLocalModel_Is404AndNeverForwarded()
    {
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(_ => ScriptedReply.Text("unused"), Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, new Dictionary<string, string?> { ["Gateway:Models:Default"] = null }, Ct);

        using var response = await gateway.Client.PostAsync("/v1/messages", Body(Request("claude-sonnet-4-5")), Ct);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!;

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("not_found_error", (string?)error["error"]!["type"]);
        Assert.Contains("Gateway:Models:Default", (string?)error["error"]!["message"]);
        Assert.Empty(upstream.Requests);

        // Named as Anthropic's errors are, in the body and the header; untraced, by the server's own request id.
        var requestId = (string?)error["request_id"];
        Assert.False(string.IsNullOrEmpty(requestId));
        Assert.Equal(requestId, Assert.Single(response.Headers.GetValues("request-id")));
    }

    [Fact]
    public async Task StreamedCall_RecordsGenAiSpanWithUsageFromMessageDelta()
    {
        // Ollama (middleware/anthropic.go) reports input tokens as an estimate in message_start and the real count in message_delta.
        var message = new ScriptedMessage { Model = "llama3.1:8b", Blocks = [new ScriptedText("hi")], StartInputTokens = 3, InputTokens = 1234, OutputTokens = 56, CacheReadInputTokens = 1000 };
        await using var rig = await Rig.StartAsync(_ => ScriptedReply.Message(message), null, Ct);
        var (upstream, gateway, spans) = (rig.Upstream!, rig.Gateway, rig.Spans);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/messages") { Content = Body(Request()) };
        request.Headers.Add("x-claude-code-session-id", "session-42");
        request.Headers.Add("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");

        using var response = await gateway.Client.SendAsync(request, Ct);
        await response.Content.ReadAsByteArrayAsync(Ct);

        var span = Assert.Single(await spans.WaitForAsync(1, Ct));
        Assert.Equal(System.Diagnostics.ActivityKind.Client, span.Kind);
        Assert.Equal("0af7651916cd43dd8448eb211c80319c", span.TraceId.ToHexString());
        Assert.Equal("chat", span.GetTagItem(Names.OperationName));
        Assert.Equal("ollama", span.GetTagItem(Names.ProviderName));
        Assert.Equal("llama3.1:8b", span.GetTagItem(Names.ResponseModel));
        Assert.Equal(message.Id, span.GetTagItem(Names.ResponseId));
        Assert.Equal(new[] { "stop" }, span.GetTagItem(Names.ResponseFinishReasons));
        // The conventions count cached tokens as input too; Anthropic's usage reports them apart.
        Assert.Equal(2234L, span.GetTagItem(Names.UsageInputTokens));
        Assert.Equal(56L, span.GetTagItem(Names.UsageOutputTokens));
        Assert.Equal(1000L, span.GetTagItem(Names.UsageCacheReadInputTokens));
        Assert.Equal(1024, span.GetTagItem(Names.RequestMaxTokens));
        Assert.Equal(true, span.GetTagItem(Names.RequestStream));
        Assert.Equal("session-42", span.GetTagItem(Names.ConversationId));
        Assert.Equal("127.0.0.1", span.GetTagItem(Names.ServerAddress));
        Assert.Equal(upstream.BaseAddress.Port, span.GetTagItem(Names.ServerPort));
        Assert.Null(span.GetTagItem(Names.InputMessages));
        Assert.Equal(System.Diagnostics.ActivityStatusCode.Unset, span.Status);
    }

    [Fact]
    public async Task ModelCall_IsOneClientSpan_WhoseContextReachesTheUpstream()
    {
        const string traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
        var httpClientSpans = new ConcurrentQueue<Activity>();
        using var httpListener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "System.Net.Http",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = httpClientSpans.Enqueue,
        };
        ActivitySource.AddActivityListener(httpListener);
        await using var rig = await Rig.StartAsync(_ => ScriptedReply.Text("hi"), null, Ct);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/messages") { Content = Body(Request()) };
        request.Headers.Add("traceparent", $"00-{traceId}-00f067aa0ba902b7-01");

        using var response = await rig.Client.SendAsync(request, Ct);
        await response.Content.ReadAsByteArrayAsync(Ct);

        // The chat span is the call's CLIENT span: HttpClient adds none of its own under it, and the upstream's
        // spans would hang off the chat span as they would off HttpClient's.
        var span = await rig.SingleSpanAsync(Ct);
        var sent = Assert.Single(rig.Upstream!.MessageRequests);
        Assert.Equal($"00-{traceId}-{span.SpanId.ToHexString()}-01", sent.Headers["traceparent"]);
        Assert.Equal(200, span.GetTagItem(Names.HttpResponseStatusCode));
        Assert.DoesNotContain(httpClientSpans, s => s.GetTagItem("url.full") is string url && url == new Uri(rig.UpstreamUri, "/v1/messages").ToString());
    }

    [Fact]
    public async Task NonStreamingResend_IsRelayedWholeAndTraced()
    {
        // Claude Code re-sends a request without streaming after a failed stream.
        await using var rig = await Rig.StartAsync(_ => ScriptedReply.Text("whole answer"), null, Ct);
        var (upstream, gateway, spans) = (rig.Upstream!, rig.Gateway, rig.Spans);

        using var response = await gateway.Client.PostAsync("/v1/messages", Body(Request(stream: false)), Ct);
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("whole answer", (string?)json["content"]![0]!["text"]);
        var span = Assert.Single(await spans.WaitForAsync(1, Ct));
        Assert.Equal(false, span.GetTagItem(Names.RequestStream));
        Assert.Equal(5L, span.GetTagItem(Names.UsageOutputTokens));
    }

    [Fact]
    public async Task UnknownLocalModel_Is404NotFound()
    {
        // server/routes.go + middleware/anthropic.go: an unknown model is 404 not_found_error "model 'x' not found".
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(new ScriptedUpstreamOptions { Script = _ => ScriptedReply.Text("unused"), Ollama = new OllamaEmulation() }, Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, cancellationToken: Ct);

        using var response = await gateway.Client.PostAsync("/v1/messages", Body(Request("mistral:7b")), Ct);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!;

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("not_found_error", (string?)error["error"]!["type"]);
        Assert.Equal("model 'mistral:7b' not found", (string?)error["error"]!["message"]);
    }

    /// <summary>
    /// A request offering an MCP tool whose schema says "any JSON value" the way Rust's schemars writes it: the
    /// boolean schema <c>true</c>.
    /// </summary>
    private static string RequestWithAnyValueTool() =>
        new JsonObject
        {
            ["model"] = "llama3.1:8b",
            ["max_tokens"] = 1024,
            ["stream"] = true,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Store this" }),
            ["tools"] = new JsonArray(new JsonObject
            {
                ["name"] = "mcp__store__put",
                ["description"] = "Stores a JSON value.",
                ["input_schema"] = JsonNode.Parse("""{"type":"object","properties":{"key":{"type":"string"},"value":true},"required":["key","value"]}"""),
            }),
        }.ToJsonString();

    [Fact]
    public async Task ToolSchemaOllamaCannotDecode_IsRefusedByTheEmulation()
    {
        // The emulation's own check, so the test below can fail: anthropic/anthropic.go convertTool decodes input_schema
        // into api.ToolFunctionParameters, whose property values are api.ToolProperty structs; a boolean there fails the
        // decode and the whole request gets 400.
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(new ScriptedUpstreamOptions { Script = _ => ScriptedReply.Text("unused"), Ollama = new OllamaEmulation() }, Ct);
        using var client = new HttpClient { BaseAddress = upstream.BaseAddress };

        using var response = await client.PostAsync("/v1/messages", Body(RequestWithAnyValueTool()), Ct);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!;

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("invalid_request_error", (string?)error["error"]!["type"]);
        Assert.Equal("invalid input_schema for tool \"mcp__store__put\": json: cannot unmarshal bool into Go struct field ToolFunctionParameters.properties of type api.ToolProperty", (string?)error["error"]!["message"]);
    }

    [Fact]
    public async Task ToolWithABooleanPropertySchema_ReachesOllamaInAShapeItDecodes()
    {
        // Without the rewrite every call of a session with such an MCP server would get Ollama's 400.
        await using var rig = await Rig.StartAsync(_ => ScriptedReply.Text("stored"), null, Ct, new OllamaEmulation());

        using var response = await rig.Client.PostAsync("/v1/messages", Body(RequestWithAnyValueTool()), Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var schema = rig.Upstream!.MessageRequests.Single().Json!["tools"]![0]!["input_schema"]!;
        Assert.Equal("""{"type":"object","properties":{"key":{"type":"string"},"value":{}},"required":["key","value"]}""", schema.ToJsonString());
    }

    [Fact]
    public async Task LoopbackOllama_GetsLocalhostHostHeader()
    {
        // server/routes.go allowedHostsMiddleware: a loopback-bound Ollama answers 403 to Host names it does not know.
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(new ScriptedUpstreamOptions { Script = _ => ScriptedReply.Text("ok"), Ollama = new OllamaEmulation() }, Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, cancellationToken: Ct);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/messages") { Content = Body(Request()) };
        request.Headers.Host = "model-gateway.example";

        using var response = await gateway.Client.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal($"localhost:{upstream.BaseAddress.Port}", upstream.MessageRequests.Single().Header("host"));
    }

    [Theory]
    [InlineData("evil.example.com", HttpStatusCode.Forbidden)]
    [InlineData("evil.example.com:11434", HttpStatusCode.Forbidden)]
    [InlineData("8.8.8.8:11434", HttpStatusCode.Forbidden)]
    [InlineData("127.1:11434", HttpStatusCode.Forbidden)]
    [InlineData("2130706433:11434", HttpStatusCode.Forbidden)]
    [InlineData("[::1]", HttpStatusCode.Forbidden)]
    [InlineData("[::ffff:10.0.0.1]:11434", HttpStatusCode.OK)]
    [InlineData("localhost:11434", HttpStatusCode.OK)]
    [InlineData("LOCALHOST:11434", HttpStatusCode.OK)]
    [InlineData("127.0.0.2:11434", HttpStatusCode.OK)]
    [InlineData("[::1]:11434", HttpStatusCode.OK)]
    [InlineData("0.0.0.0:11434", HttpStatusCode.OK)]
    [InlineData("10.0.0.5:11434", HttpStatusCode.OK)]
    [InlineData("172.20.1.2:11434", HttpStatusCode.OK)]
    [InlineData("192.168.1.20:11434", HttpStatusCode.OK)]
    [InlineData("ollama.internal:11434", HttpStatusCode.OK)]
    [InlineData("host.docker.internal:11434", HttpStatusCode.OK)]
    public async Task HostHeader_IsCheckedAsOllamaChecksIt(string host, HttpStatusCode expected)
    {
        // The emulation's own check, so the test above can fail. server/routes.go allowedHostsMiddleware (v0.32.15) of a
        // loopback-bound server: loopback, private, unspecified and own IP addresses pass (as netip parses them: no
        // "127.1", and "[::1]" without a port is no address), so do localhost (any case), the machine's name and
        // *.localhost / *.local / *.internal; anything else gets 403 with an empty body.
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(new ScriptedUpstreamOptions { Script = _ => ScriptedReply.Text("ok"), Ollama = new OllamaEmulation() }, Ct);
        using var client = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(upstream.BaseAddress, "/api/version"));
        request.Headers.Host = host;

        using var response = await client.SendAsync(request, Ct);

        Assert.Equal(expected, response.StatusCode);
    }

    [Theory]
    [InlineData(null, HttpStatusCode.OK)]
    [InlineData("https://chat.example.com", HttpStatusCode.Forbidden)]
    [InlineData("http://localhost", HttpStatusCode.OK)]
    [InlineData("http://localhost:3000", HttpStatusCode.OK)]
    [InlineData("https://127.0.0.1:8443", HttpStatusCode.OK)]
    [InlineData("http://localhost.example.com", HttpStatusCode.Forbidden)]
    [InlineData("vscode-webview://abc", HttpStatusCode.OK)]
    [InlineData("null", HttpStatusCode.Forbidden)]
    [InlineData("http://ollama.internal:11434", HttpStatusCode.OK)]
    public async Task OriginHeader_IsCheckedAsOllamaChecksIt(string? origin, HttpStatusCode expected)
    {
        // The emulation's own check, so the test below can fail. server/routes.go puts gin-contrib/cors in front of every
        // route (v0.32.15): an Origin that is neither the server's own nor in envconfig.AllowedOrigins gets 403, empty.
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(new ScriptedUpstreamOptions { Script = _ => ScriptedReply.Text("ok"), Ollama = new OllamaEmulation() }, Ct);
        using var client = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(upstream.BaseAddress, "/api/version"));
        request.Headers.Host = "ollama.internal:11434";
        if (origin is not null)
        {
            request.Headers.Add("Origin", origin);
        }

        using var response = await client.SendAsync(request, Ct);

        Assert.Equal(expected, response.StatusCode);
    }

    [Theory]
    [InlineData("Gateway:AllowedOrigins:0", "https://chat.example.com")]
    // As one value, as an environment variable gives it (Gateway__AllowedOrigins), which the binder ignores for a list.
    [InlineData("Gateway:AllowedOrigins", "https://tools.example.org, https://chat.example.com")]
    public async Task BrowserClientTheGatewayAllows_KeepsItsOriginFromTheUpstream(string key, string value)
    {
        // A chat page served from its own site, allowed by the gateway: Ollama would refuse the page's origin.
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(new ScriptedUpstreamOptions { Script = _ => ScriptedReply.Text("ok"), Ollama = new OllamaEmulation() }, Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, new Dictionary<string, string?> { [key] = value }, Ct);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/messages") { Content = Body(Request()) };
        request.Headers.Add("Origin", "https://chat.example.com");

        using var response = await gateway.Client.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Null(upstream.MessageRequests.Single().Header("origin"));
    }

    [Fact]
    public async Task PageWhoseNameWasMadeToPointHere_IsRefused()
    {
        // DNS rebinding: evil.example.com resolves to 127.0.0.1 once its page has loaded, so the browser sends the page's
        // own origin and host name; to the browser the call is same-origin, and needs no preflight.
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(_ => ScriptedReply.Text("ok"), Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, new Dictionary<string, string?> { ["Gateway:StackToken"] = null, ["Gateway:Upstream:Profile"] = "anthropic-compatible" }, Ct);
        var host = $"evil.example.com:{gateway.BaseAddress.Port}";
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/messages") { Content = new StringContent(Request(), Encoding.UTF8, "text/plain") };
        request.Headers.Host = host;
        request.Headers.Add("Origin", "http://" + host);

        using var response = await gateway.Client.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Empty(upstream.Requests);
    }

    [Theory]
    [InlineData("/v1/messages", null)]
    [InlineData("/v1/messages", GatewayHost.StackToken)]
    [InlineData("/v1/messages/count_tokens", null)]
    public async Task PageOfAnotherSite_IsRefusedWithOrWithoutAStackToken(string path, string? stackToken)
    {
        // Any web page may send a browser's "simple" POST (text/plain, no preflight) to a port on 127.0.0.1; a gateway
        // without a stack token would otherwise run it on the user's models and key.
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(_ => ScriptedReply.Text("ok"), Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, new Dictionary<string, string?> { ["Gateway:StackToken"] = stackToken, ["Gateway:Upstream:Profile"] = "anthropic-compatible" }, Ct);
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(Request(), Encoding.UTF8, "text/plain") };
        request.Headers.Add("Origin", "https://evil.example.com");

        using var response = await gateway.Client.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        var (_, message) = Rig.AssertAnthropicError(await response.Content.ReadAsByteArrayAsync(Ct), "permission_error");
        Assert.Contains("Gateway:AllowedOrigins", message, StringComparison.Ordinal);
        Assert.Empty(upstream.Requests);
    }

    [Fact]
    public async Task SilentModel_GetsHeadersAndPingsBeforeFirstToken()
    {
        // Ollama writes nothing, not even headers, until the first token (middleware/anthropic.go); prefill can take minutes.
        var message = ScriptedMessage.Text("late");
        await using var rig = await Rig.StartAsync(_ => ScriptedReply.Message(message, firstEventDelay: TimeSpan.FromSeconds(6)), new Dictionary<string, string?>
        {
            ["Gateway:Streaming:KeepAliveAfter"] = "00:00:00.300",
            ["Gateway:Streaming:KeepAliveInterval"] = "00:00:00.500",
        }, Ct);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/messages") { Content = Body(Request()) };

        var started = System.Diagnostics.Stopwatch.StartNew();
        using var response = await rig.Gateway.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Ct);
        var headersAfter = started.Elapsed;
        var text = await response.Content.ReadAsStringAsync(Ct);

        // Well before the model's first token at 6 s, even on a loaded machine.
        Assert.True(headersAfter < TimeSpan.FromSeconds(4), $"headers took {headersAfter}");
        Assert.StartsWith("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_gateway_", text);
        Assert.Contains("event: ping\n", text);
        // The upstream's own message_start is dropped; everything after it arrives as sent.
        Assert.EndsWith(string.Concat(AnthropicSse.MessageEvents(message).Skip(1)), text);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(text, "event: message_start"));

        // The span names the message by the id the client got (and Claude Code keeps in its transcript).
        Assert.Equal(MessageStartId(text), (await rig.SingleSpanAsync(Ct)).GetTagItem(Names.ResponseId));
    }

    private static string MessageStartId(string sse)
    {
        var data = sse.Split('\n').First(line => line.StartsWith("data: {\"type\":\"message_start\"", StringComparison.Ordinal));
        return (string)JsonNode.Parse(data["data: ".Length..])!["message"]!["id"]!;
    }

    [Theory]
    [InlineData(null, null, HttpStatusCode.Unauthorized, "No stack token")]
    [InlineData("Bearer wrong-token", null, HttpStatusCode.Unauthorized, "neither x-api-key nor Authorization")]
    [InlineData(null, "wrong-token", HttpStatusCode.Unauthorized, "neither x-api-key nor Authorization")]
    [InlineData("Bearer " + GatewayHost.StackToken, null, HttpStatusCode.OK, null)]
    [InlineData(null, GatewayHost.StackToken, HttpStatusCode.OK, null)]
    // A client holding some other credential in one header and the stack token in the other.
    [InlineData("Bearer sk-ant-oat01-someone-elses", GatewayHost.StackToken, HttpStatusCode.OK, null)]
    [InlineData("Bearer " + GatewayHost.StackToken, "sk-ant-api03-someone-elses", HttpStatusCode.OK, null)]
    public async Task CallerAuth_AcceptsOnlyTheStackToken(string? authorization, string? apiKey, HttpStatusCode expected, string? expectedInMessage)
    {
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(_ => ScriptedReply.Text("ok"), Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, cancellationToken: Ct);
        using var client = new HttpClient { BaseAddress = gateway.BaseAddress };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/messages") { Content = Body(Request(stream: false)) };
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        if (apiKey is not null)
        {
            request.Headers.Add("x-api-key", apiKey);
        }

        using var response = await client.SendAsync(request, Ct);

        Assert.Equal(expected, response.StatusCode);
        if (expected == HttpStatusCode.Unauthorized)
        {
            var error = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!;
            Assert.Equal("authentication_error", (string?)error["error"]!["type"]);
            Assert.Contains(expectedInMessage!, (string?)error["error"]!["message"]);
            Assert.Empty(upstream.Requests);
        }
        else
        {
            // No credential of the client's goes on, the stack token least of all: the gateway sends only its own key
            // (none is configured here), on the model call and on its model look-ups alike.
            Assert.Single(upstream.Requests, received => received.Path == "/v1/messages");
            Assert.All(upstream.Requests, received =>
            {
                Assert.False(received.Headers.ContainsKey("x-api-key"));
                Assert.False(received.Headers.ContainsKey("authorization"));
                Assert.DoesNotContain(received.Headers.Values, value => value.Contains(GatewayHost.StackToken, StringComparison.Ordinal) || value.Contains("someone-elses", StringComparison.Ordinal));
            });
        }
    }

    [Theory]
    [InlineData("{not json", "not valid JSON")]
    [InlineData("[]", "JSON object")]
    [InlineData("{\"messages\":[]}", "model")]
    [InlineData("{\"model\":\"llama3.1:8b\"}", "messages")]
    [InlineData("{\"model\":\"llama3.1:8b\",\"messages\":[],\"stream\":\"yes\"}", "stream")]
    [InlineData("{\"model\":\"llama3.1:8b\",\"messages\":[]}", "messages: at least one message is required")]
    [InlineData("{\"model\":\"llama3.1:8b\\r\\nX-Forged: 1\",\"messages\":[]}", "model: String should not contain control characters")]
    [InlineData("{\"model\":\"llama3.1:8b\",\"Model\":\"claude-opus-4\",\"messages\":[]}", "Model: Extra inputs are not permitted (the field is 'model')")]
    [InlineData("{\"model\":\"llama\\u2028x\",\"messages\":[]}", "model: String should not contain control characters")]
    [InlineData("{\"model\":\"llama\\u202ex\",\"messages\":[]}", "model: String should not contain control characters")]
    // Go's folding (Ollama) reads the long s and the Kelvin sign as s and k.
    [InlineData("{\"model\":\"llama3.1:8b\",\"messages\":[],\"\u017Ftream\":true}", "\u017Ftream: Extra inputs are not permitted (the field is 'stream')")]
    [InlineData("{\"model\":\"llama3.1:8b\",\"messages\":[],\"max_to\u212Aens\":9}", "max_to\u212Aens: Extra inputs are not permitted (the field is 'max_tokens')")]
    [InlineData("{\"model\":\"llama3.1:8b\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\",\"Content\":[]}]}", "messages.0.Content: Extra inputs are not permitted (the field is 'content')")]
    [InlineData("{\"model\":\"llama3.1:8b\",\"messages\":[{\"role\":\"User\",\"content\":\"hi\"}]}", "messages.0.role: Input should be 'user', 'assistant' or 'system'")]
    [InlineData("{\"model\":\"llama3.1:8b\",\"messages\":[],\"tools\":[{\"name\":\"a\",\"defer_loading\":true},7]}", "tools.1: each tool must be an object")]
    [InlineData("{\"model\":\"llama3.1:8b\",\"messages\":[],\"max_tokens\":1099511627776}", "max_tokens: Input should be an integer from 0 to 2147483647")]
    [InlineData("{\"model\":\"llama3.1:8b\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t\",\"content\":[{\"type\":[\"text\"]}]}]}]}", "messages.0.content.0.content.0: each content block must be an object with a string 'type'")]
    [InlineData("{\"model\":\"llama3.1:8b\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t\",\"is_error\":true,\"content\":{\"x\":1}}]}]}", "messages.0.content.0.content: a tool result's content must be a string or an array of blocks")]
    public async Task MalformedRequest_Is400InvalidRequest(string body, string expectedInMessage)
    {
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(_ => ScriptedReply.Text("unused"), Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, cancellationToken: Ct);

        using var response = await gateway.Client.PostAsync("/v1/messages", Body(body), Ct);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!;

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("invalid_request_error", (string?)error["error"]!["type"]);
        Assert.Contains(expectedInMessage, (string?)error["error"]!["message"]);
        Assert.Empty(upstream.Requests);
    }

    [Fact]
    public async Task InvalidUtf8_IsA400WhereverItIs_EvenWhereTheGatewayReadsNothing()
    {
        // The gateway reads a few fields; a bad byte in a key it never reads used to surface only when an edit
        // re-wrote the body, as a 500.
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(_ => ScriptedReply.Text("unused"), Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, cancellationToken: Ct);
        byte[] body = [.. "{\"model\":\"claude-sonnet-4-5\",\""u8, 0xFF, .. "\":1,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}"u8];

        foreach (var path in new[] { "/v1/messages", "/v1/messages/count_tokens" })
        {
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new("application/json");
            using var response = await gateway.Client.PostAsync(path, content, Ct);
            var error = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!;

            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("The request body is not valid UTF-8 (at byte 30).", (string?)error["error"]!["message"]);
        }

        Assert.Empty(upstream.Requests);
    }

    [Fact]
    public async Task LoneSurrogateEscapes_ReachTheModelAsReplacementCharacters()
    {
        // A string cut between the halves of an emoji, in a tool input the gateway never reads, in a conversation the
        // adaptation re-writes (a failed tool result): .NET cannot write it back, Go's decoder (Ollama) reads U+FFFD.
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(_ => ScriptedReply.Text("ok"), Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, cancellationToken: Ct);
        const string body = """
            {"model":"llama3.1:8b","max_tokens":50,"\udfff":1,"messages":[{"role":"user","content":"go"},
             {"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"Write","input":{"content":"cut \ud83d"}}]},
             {"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","is_error":true,"content":"failed \ud83d\ude00"}]}]}
            """;

        using var response = await gateway.Client.PostAsync("/v1/messages", Body(body), Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var sent = Assert.Single(upstream.MessageRequests).Json!;
        Assert.Equal(1, (int)sent["\ufffd"]!);
        Assert.Equal("cut \ufffd", (string?)sent["messages"]![1]!["content"]![0]!["input"]!["content"]);
        Assert.Equal("[tool error] failed \U0001F600", (string?)sent["messages"]![2]!["content"]![0]!["content"]);
    }

    [Fact]
    public async Task HttpMistakes_GetTheirOwnStatusInAnthropicForm()
    {
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(_ => ScriptedReply.Text("unused"), Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, cancellationToken: Ct);

        using var gzip = Body(Request(stream: false));
        gzip.Headers.ContentEncoding.Add("gzip");
        await Expect(await gateway.Client.PostAsync("/v1/messages", gzip, Ct), HttpStatusCode.UnsupportedMediaType, "Content-Encoding 'gzip' is not supported");
        foreach (var path in new[] { "/v1/messages", "/v1/messages/", "/v1/messages/count_tokens/" })
        {
            using var wrongMethod = await gateway.Client.GetAsync(path, Ct);
            Assert.Equal(["POST"], wrongMethod.Content.Headers.Allow);
            await Expect(wrongMethod, HttpStatusCode.MethodNotAllowed, $"GET is not allowed on {path}; use POST.");
        }

        // Content codings are case-insensitive; identity is no coding at all.
        using var identity = Body(Request(stream: false));
        identity.Headers.ContentEncoding.Add("Identity");
        using (var accepted = await gateway.Client.PostAsync("/v1/messages", identity, Ct))
        {
            Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        }

        // Paths that look like files fall through to the same Anthropic 404 as any other.
        await Expect(await gateway.Client.GetAsync("/favicon.ico", Ct), HttpStatusCode.NotFound, "No route for GET /favicon.ico");
        await Expect(await gateway.Client.GetAsync("/v1/models/claude-sonnet-4.5", Ct), HttpStatusCode.NotFound, "No route for GET /v1/models/claude-sonnet-4.5");
        Assert.Single(upstream.MessageRequests);

        static async Task Expect(HttpResponseMessage response, HttpStatusCode status, string message)
        {
            using (response)
            {
                var error = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!;
                Assert.Equal(status, response.StatusCode);
                Assert.Equal("error", (string?)error["type"]);
                Assert.Contains(message, (string?)error["error"]!["message"]);
            }
        }
    }

    [Fact]
    public async Task BodyArrivingTooSlowly_Is408_WhichClientsRetry()
    {
        // Kestrel's MinRequestBodyDataRate: 240 bytes/s on average after a 5 s grace period.
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(_ => ScriptedReply.Text("unused"), Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, cancellationToken: Ct);
        using var socket = new System.Net.Sockets.TcpClient();
        await socket.ConnectAsync(IPAddress.Loopback, gateway.BaseAddress.Port, Ct);
        var stream = socket.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"POST /v1/messages HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {GatewayHost.StackToken}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{"), Ct);

        var answer = new StringBuilder();
        var buffer = new byte[4096];
        using var trickle = new PeriodicTimer(TimeSpan.FromSeconds(1));
        var read = stream.ReadAsync(buffer, Ct).AsTask();
        for (var second = 0; second < 20 && !read.IsCompleted; second++)
        {
            await Task.WhenAny(read, trickle.WaitForNextTickAsync(Ct).AsTask());
            if (!read.IsCompleted)
            {
                await stream.WriteAsync(" "u8.ToArray(), Ct);
            }
        }

        answer.Append(Encoding.UTF8.GetString(buffer, 0, await read));
        Assert.StartsWith("HTTP/1.1 408", answer.ToString());
        Assert.Contains("\"type\":\"error\"", answer.ToString());
        Assert.Empty(upstream.Requests);
    }

    [Fact]
    public async Task OversizedBody_Is413()
    {
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(_ => ScriptedReply.Text("unused"), Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, new Dictionary<string, string?> { ["Gateway:MaxRequestBodyBytes"] = "4096" }, Ct);

        using var response = await gateway.Client.PostAsync("/v1/messages", Body(Request(text: new string('x', 10_000))), Ct);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!;

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("request_too_large", (string?)error["error"]!["type"]);
        Assert.Empty(upstream.Requests);
    }

    [Fact]
    public async Task PathBase_ServesTheApiUnderAPrefix()
    {
        // Claude Code keeps the path of ANTHROPIC_BASE_URL: http://gateway/claude → /claude/v1/messages.
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(_ => ScriptedReply.Text("ok"), Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, new Dictionary<string, string?> { ["Gateway:PathBase"] = "/claude" }, Ct);

        using var response = await gateway.Client.PostAsync("/claude/v1/messages?beta=true", Body(Request(stream: false)), Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("/v1/messages?beta=true", upstream.MessageRequests.Single().PathAndQuery);
    }

    [Fact]
    public async Task CountTokens_OnOllama_IsAnsweredWithoutAnUpstreamCall()
    {
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(_ => ScriptedReply.Text("unused"), Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, cancellationToken: Ct);

        using var response = await gateway.Client.PostAsync("/v1/messages/count_tokens?beta=true", Body(Request("claude-sonnet-4-5", text: new string('w', 3600))), Ct);
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.InRange((int)json["input_tokens"]!, 900, 1100);
        Assert.Empty(upstream.Requests);
    }

    [Fact]
    public async Task CountTokens_OnCompatibleUpstream_IsForwardedWithMappedModel()
    {
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(_ => ScriptedReply.Status(200, "{\"input_tokens\":77}"), Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, new Dictionary<string, string?> { ["Gateway:Upstream:Profile"] = "anthropic-compatible" }, Ct);

        using var response = await gateway.Client.PostAsync("/v1/messages/count_tokens", Body(Request("claude-sonnet-4-5")), Ct);

        Assert.Equal("{\"input_tokens\":77}", await response.Content.ReadAsStringAsync(Ct));
        Assert.Equal("llama3.1:8b", upstream.Requests.Single().Model);
    }

    [Theory]
    [InlineData(200)]
    [InlineData(429)]
    public async Task CountTokens_UpstreamHeaderKestrelCannotSend_IsLeftOut(int status)
    {
        // A proxy in front of the Anthropic API adding a non-ASCII request id: the count (or the error) still arrives.
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(_ => ScriptedReply.Status(status, status == 200 ? "{\"input_tokens\":77}" : AnthropicSse.ErrorJson("rate_limit_error", "slow down"), "application/json", ("request-id", "req_café"), ("retry-after", "3")), Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, GatewayHost.AnthropicProfile(), Ct);

        using var response = await gateway.Client.PostAsync("/v1/messages/count_tokens", Body(Request("claude-sonnet-4-5")), Ct);

        Assert.Equal(status, (int)response.StatusCode);
        Assert.False(response.Headers.Contains("request-id"));
        Assert.Equal("3", Assert.Single(response.Headers.GetValues("retry-after")));
    }

    [Theory]
    [InlineData(200)]
    [InlineData(429)]
    public async Task CountTokens_KeepsTheHeadersTheClientActsOn(int status)
    {
        // Anthropic's SDK reads x-should-retry and the rate-limit headers to decide whether, and when, to try again.
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(_ => ScriptedReply.Status(status, status == 200 ? "{\"input_tokens\":77}" : AnthropicSse.ErrorJson("rate_limit_error", "slow down"), "application/json", ("x-should-retry", "true"), ("anthropic-ratelimit-requests-remaining", "0"), ("request-id", "req_1"), ("anthropic-organization-id", "org-of-the-key")), Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, GatewayHost.AnthropicProfile(), Ct);

        using var response = await gateway.Client.PostAsync("/v1/messages/count_tokens", Body(Request("claude-sonnet-4-5")), Ct);

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("true", Assert.Single(response.Headers.GetValues("x-should-retry")));
        Assert.Equal("0", Assert.Single(response.Headers.GetValues("anthropic-ratelimit-requests-remaining")));
        Assert.Equal("req_1", Assert.Single(response.Headers.GetValues("request-id")));
        Assert.False(response.Headers.Contains("anthropic-organization-id"));
    }

    [Theory]
    [InlineData("/v1/messages", null, true)]
    [InlineData("/v1/messages", "sk-gateway-key-0123456789", false)]
    [InlineData("/v1/messages/count_tokens", null, true)]
    [InlineData("/v1/messages/count_tokens", "sk-gateway-key-0123456789", false)]
    public async Task ModelCallOrCount_401FromAnUpstreamGivenNoKey_SaysWhereTheKeyGoes(string path, string? gatewayKey, bool explained)
    {
        // LiteLLM or vLLM --api-key behind the gateway: the client's own key is never passed on, so a user who gave
        // Claude Code one would otherwise read "invalid key" about a key the upstream never saw.
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(_ => ScriptedReply.Status(401, "{\"error\":\"invalid api key\"}"), Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, new Dictionary<string, string?> { ["Gateway:Upstream:Profile"] = "anthropic-compatible", ["Gateway:Upstream:ApiKey"] = gatewayKey }, Ct);

        using var response = await gateway.Client.PostAsync(path, Body(Request("claude-sonnet-4-5")), Ct);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var (_, message) = Rig.AssertAnthropicError(await response.Content.ReadAsByteArrayAsync(Ct), "authentication_error");
        Assert.StartsWith("invalid api key", message, StringComparison.Ordinal);
        Assert.Equal(explained, message.Contains("Set Gateway:Upstream:ApiKey", StringComparison.Ordinal));
    }

    [Fact]
    public async Task KeyPastedWithSpaceAndLineBreak_IsSentAndMaskedTrimmed()
    {
        // A server quotes the key as it received it, without the whitespace around it: masking the untrimmed spelling
        // would miss it.
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(request => ScriptedReply.AnthropicError(401, "authentication_error", $"invalid x-api-key: {request.Header("x-api-key")}"), Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, new Dictionary<string, string?> { ["Gateway:Upstream:Profile"] = "anthropic-compatible", ["Gateway:Upstream:ApiKey"] = " sk-gateway-key-0123456789 \n" }, Ct);

        using var response = await gateway.Client.PostAsync("/v1/messages", Body(Request("claude-sonnet-4-5")), Ct);
        var body = await response.Content.ReadAsStringAsync(Ct);

        Assert.Equal("sk-gateway-key-0123456789", upstream.MessageRequests.Single().Header("x-api-key"));
        Assert.Contains("[REDACTED]", body, StringComparison.Ordinal);
        Assert.DoesNotContain("sk-gateway-key-0123456789", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ModelCall_HeadersForTheNextHopOrTheKeysOwner_GoNoFurther()
    {
        // Headers a Connection header names are for one hop only (RFC 9110 §7.6.1), in both directions; so is
        // Proxy-Authenticate. Which organization owns the gateway's key is not the client's business.
        var reply = """{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","usage":{"input_tokens":3,"output_tokens":1}}""";
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(_ => ScriptedReply.Status(200, reply, "application/json", ("Connection", "X-Upstream-Hop"), ("X-Upstream-Hop", "1"), ("Proxy-Authenticate", "Basic realm=\"proxy\""), ("anthropic-organization-id", "org-of-the-key"), ("request-id", "req_1")), Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, GatewayHost.AnthropicProfile(), Ct);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/messages") { Content = Body(Request("claude-sonnet-4-5")) };
        request.Headers.Connection.Add("X-Client-Hop");
        request.Headers.Add("X-Client-Hop", "1");
        request.Headers.Add("X-End-To-End", "1");

        using var response = await gateway.Client.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var received = Assert.Single(upstream.Requests);
        Assert.Null(received.Header("x-client-hop"));
        Assert.Equal("1", received.Header("x-end-to-end"));
        Assert.False(response.Headers.Contains("X-Upstream-Hop"));
        Assert.False(response.Headers.Contains("Proxy-Authenticate"));
        Assert.False(response.Headers.Contains("anthropic-organization-id"));
        Assert.Equal("req_1", Assert.Single(response.Headers.GetValues("request-id")));
    }

    [Fact]
    public async Task CountTokens_UpstreamRedirect_IsA502NamingTheSetting()
    {
        var target = $"http://127.0.0.1:{Rig.ClosedPort()}/v1/messages/count_tokens";
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(_ => ScriptedReply.Status(308, "", "text/plain", ("location", target)), Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, GatewayHost.AnthropicProfile(), Ct);

        using var response = await gateway.Client.PostAsync("/v1/messages/count_tokens", Body(Request("claude-sonnet-4-5")), Ct);

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Null(response.Headers.Location);
        var (_, message) = Rig.AssertAnthropicError(await response.Content.ReadAsByteArrayAsync(Ct), "api_error");
        Assert.Contains($"308 to {target}", message, StringComparison.Ordinal);
        Assert.Contains("Gateway:Upstream:Url", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CountTokens_OnCompatibleUpstreamWithoutIt_FallsBackToEstimate()
    {
        // Servers without count_tokens answer 404 (Ollama: plain-text "404 page not found"); the others' answers stand.
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(_ => ScriptedReply.Status(404, "404 page not found", "text/plain"), Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, new Dictionary<string, string?> { ["Gateway:Upstream:Profile"] = "anthropic-compatible" }, Ct);

        using var response = await gateway.Client.PostAsync("/v1/messages/count_tokens", Body(Request()), Ct);
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True((int)json["input_tokens"]! > 0);
    }

    [Theory]
    [InlineData("anthropic", 502, "<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html", "api_error")]
    [InlineData("anthropic-compatible", 401, "{\"error\":\"invalid api key\"}", "application/json", "authentication_error")]
    [InlineData("anthropic-compatible", 429, "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"slow down\"}}", "application/json", "rate_limit_error")]
    public async Task CountTokens_UpstreamError_IsRelayedInAnthropicForm(string profile, int status, string body, string contentType, string errorType)
    {
        // A proxy's HTML page, a server's own error shape: the client reads Anthropic errors only. A rejected key or a
        // rate limit is not an absent endpoint, so no estimate hides it.
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(_ => ScriptedReply.Status(status, body, contentType), Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, new Dictionary<string, string?> { ["Gateway:Upstream:Profile"] = profile, ["Gateway:Upstream:ApiKey"] = "sk-ant-test-0123456789" }, Ct);

        using var response = await gateway.Client.PostAsync("/v1/messages/count_tokens", Body(Request("claude-sonnet-4-5")), Ct);

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Rig.AssertAnthropicError(await response.Content.ReadAsByteArrayAsync(Ct), errorType);
        Assert.Single(upstream.Requests);
    }

    [Fact]
    public async Task CountTokens_UpstreamBodyStalling_IsA504AfterTheIdleTimeout()
    {
        // Headers and part of a count, then silence (a server wedged mid-answer): the client gets an answer, not a hang.
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(_ => ScriptedReply.Custom(async (context, _, ct) =>
        {
            context.Response.ContentType = "application/json";
            await context.Response.Body.WriteAsync("{\"input_"u8.ToArray(), ct);
            await context.Response.Body.FlushAsync(ct);
            await Task.Delay(Timeout.Infinite, ct);
        }), Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, new Dictionary<string, string?>
        {
            ["Gateway:Upstream:Profile"] = "anthropic-compatible",
            ["Gateway:Upstream:IdleTimeout"] = "00:00:01",
        }, Ct);

        using var response = await gateway.Client.PostAsync("/v1/messages/count_tokens", Body(Request("claude-sonnet-4-5")), Ct).WaitAsync(Rig.Bound, Ct);

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Rig.AssertAnthropicError(await response.Content.ReadAsByteArrayAsync(Ct), "timeout_error");
    }

    [Fact]
    public async Task ContentCapture_RecordsMessagesInGenAiShapeWithoutSecrets()
    {
        await using var rig = await Rig.StartAsync(_ => ScriptedReply.ToolUse("Bash", "{\"command\":\"ls\"}"), new Dictionary<string, string?> { [TelemetryNames.CaptureMessageContentKey] = "true" }, Ct);
        var (upstream, gateway, spans) = (rig.Upstream!, rig.Gateway, rig.Spans);
        var body = new JsonObject
        {
            ["model"] = "llama3.1:8b",
            ["stream"] = true,
            ["system"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = "You are Claude Code." }),
            ["tools"] = new JsonArray(new JsonObject { ["name"] = "Bash", ["description"] = "Runs a command", ["input_schema"] = new JsonObject { ["type"] = "object" } }),
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = $"my token is {GatewayHost.StackToken}" }),
        };

        using var response = await gateway.Client.PostAsync("/v1/messages", Body(body.ToJsonString()), Ct);
        await response.Content.ReadAsByteArrayAsync(Ct);

        var span = Assert.Single(await spans.WaitForAsync(1, Ct));
        var input = JsonNode.Parse((string)span.GetTagItem(Names.InputMessages)!)!;
        Assert.Equal("user", (string?)input[0]!["role"]);
        Assert.Equal("my token is [REDACTED]", (string?)input[0]!["parts"]![0]!["content"]);
        var output = JsonNode.Parse((string)span.GetTagItem(Names.OutputMessages)!)!;
        Assert.Equal("tool_call", (string?)output[0]!["parts"]![0]!["type"]);
        Assert.Equal("ls", (string?)output[0]!["parts"]![0]!["arguments"]!["command"]);
        Assert.Equal("You are Claude Code.", (string?)JsonNode.Parse((string)span.GetTagItem(Names.SystemInstructions)!)![0]!["content"]);
        Assert.Equal("Bash", (string?)JsonNode.Parse((string)span.GetTagItem(Names.ToolDefinitions)!)![0]!["name"]);
    }

    [Theory]
    [InlineData("main")]
    [InlineData("title")]
    [InlineData("tool-result")]
    public async Task CapturedClaudeCodeRequests_AreForwardedAndTraced(string fixture)
    {
        // The main request (12 tools, a mid-conversation system message, adaptive thinking), the streamed title
        // request with output_config.format, and the follow-up carrying a tool_result, as Claude Code 2.1.329 sent them.
        var body = fixture switch { "main" => Fixtures.MainRequest, "title" => Fixtures.TitleRequest, _ => Fixtures.ToolResultRequest };
        await using var rig = await Rig.StartAsync(_ => ScriptedReply.Text("{\"title\":\"Greeting\"}"), null, Ct, new OllamaEmulation());
        var (upstream, gateway, spans) = (rig.Upstream!, rig.Gateway, rig.Spans);

        using var response = await gateway.Client.PostAsync("/v1/messages?beta=true", Body(body), Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.EndsWith("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n", text);
        var span = Assert.Single(await spans.WaitForAsync(1, Ct));
        Assert.Equal("chat llama3.1:8b", span.DisplayName);
        Assert.Equal(fixture == "title" ? true : null, span.GetTagItem(Names.StructuredOutputIgnored));
        Assert.Equal(System.Diagnostics.ActivityStatusCode.Unset, span.Status);
    }

    [Fact]
    public async Task AnthropicProfile_LateOverload_ArrivesAsItsStatusWithRetryAfter()
    {
        // The Anthropic API may take seconds to refuse a streamed call with 529. Claude Code retries on the status and
        // waits as retry-after says; an error event inside a 200 sent by a keep-alive would hide both.
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(_ => ScriptedReply.Custom(async (context, _, ct) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(4), ct);
            context.Response.StatusCode = 529;
            context.Response.Headers["retry-after"] = "2";
            context.Response.ContentType = "application/json";
            await context.Response.Body.WriteAsync(Encoding.UTF8.GetBytes(AnthropicSse.ErrorJson("overloaded_error", "Overloaded")), ct);
        }), Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, GatewayHost.AnthropicProfile(), Ct);

        using var response = await gateway.Client.PostAsync("/v1/messages", Body(Request("claude-sonnet-4-5")), Ct);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!;

        Assert.Equal(529, (int)response.StatusCode);
        Assert.Equal("2", Assert.Single(response.Headers.GetValues("retry-after")));
        Assert.Equal("overloaded_error", (string?)error["error"]!["type"]);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2000)]
    public async Task WholeJsonAnswerToAStream_ArrivesAsEvents_BeforeOrAfterKeepAlive(int answerAfterMs)
    {
        // Some servers ignore "stream": true. A streaming client reads only events, so the answer must be SSE whether
        // it comes before keep-alive opened the stream (0 ms) or after (2 s).
        var message = ScriptedMessage.Text("whole");
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(_ => ScriptedReply.Custom(async (context, _, ct) =>
        {
            await Task.Delay(answerAfterMs, ct);
            var json = Encoding.UTF8.GetBytes(AnthropicSse.MessageJson(message));
            context.Response.ContentType = "application/json";
            await context.Response.Body.WriteAsync(json, ct);
        }), Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, new Dictionary<string, string?> { ["Gateway:Streaming:KeepAliveAfter"] = "00:00:01" }, Ct);

        using var response = await gateway.Client.PostAsync("/v1/messages", Body(Request()), Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);

        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(text, "event: message_start"));
        // The message keeps the upstream's id, unless the gateway had already started it under its own.
        Assert.StartsWith(answerAfterMs == 0 ? message.Id : "msg_gateway_", MessageStartId(text), StringComparison.Ordinal);
        Assert.Contains("\"text\":\"whole\"", text);
        Assert.EndsWith("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n", text);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task GzippedAnswer_ReachesTheClientDecoded(bool stream)
    {
        // A compressing proxy in front of the model server: the gateway frames, checks and masks what it relays, which
        // it can only do on the bytes as sent, and it must not label what it sends with an encoding it removed.
        var message = ScriptedMessage.Text("Hello from behind a compressing proxy");
        await using var rig = await Rig.StartAsync(_ => ScriptedReply.Gzipped(message), null, Ct);

        var answer = await rig.PostAsync(Rig.MessagesBody(stream: stream), Ct);

        Assert.Equal(stream ? string.Concat(AnthropicSse.MessageEvents(message)) : AnthropicSse.MessageJson(message), answer.Text);
        Assert.Empty(answer.ContentHeaders.ContentEncoding);
        var span = await rig.SingleSpanAsync(Ct);
        Assert.Equal(System.Diagnostics.ActivityStatusCode.Unset, span.Status);
        Assert.Equal((long)message.OutputTokens, span.GetTagItem(Names.UsageOutputTokens));
    }

    [Theory]
    [InlineData("""{"id":"msg_e1","type":"message","role":"assistant","model":"llama3.1:8b","content":null,"stop_reason":"end_turn","usage":{"input_tokens":12,"output_tokens":0}}""")]
    // Go's encoder never repeats a key, but a proxy in front of a server may; the answer must not become a 500.
    [InlineData("""{"id":"msg_e1","id":"msg_e2","type":"message","role":"assistant","model":"llama3.1:8b","content":null,"stop_reason":"end_turn","usage":{"input_tokens":12,"output_tokens":0}}""")]
    public async Task AnswerWithNoBlocks_HasAnEmptyContentArray(string answer)
    {
        // Ollama's ToMessagesResponse (anthropic/anthropic.go) builds content as a Go slice with nothing appended when
        // the model said nothing visible, and encodes it as null; the Messages API, and the SDKs reading it, have an array.
        await using var rig = await Rig.StartAsync(_ => ScriptedReply.Status(200, answer), null, Ct);

        var relayed = await rig.PostAsync(Rig.MessagesBody(stream: false), Ct);

        Assert.Equal(HttpStatusCode.OK, relayed.Status);
        Assert.Equal(answer.Replace("\"content\":null", "\"content\":[]", StringComparison.Ordinal), relayed.Text);
    }

    [Fact]
    public async Task NonObjectJsonAnswer_IsRelayedAndCountedMalformed()
    {
        // No Ollama answers so; a compatible server or a proxy misconfigured in front of one might, and the client
        // must get what it sent rather than a gateway failure.
        await using var rig = await Rig.StartAsync(_ => ScriptedReply.Status(200, "[]"), null, Ct);
        var (upstream, gateway, spans) = (rig.Upstream!, rig.Gateway, rig.Spans);

        using var response = await gateway.Client.PostAsync("/v1/messages", Body(Request(stream: false)), Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("[]", await response.Content.ReadAsStringAsync(Ct));
        Assert.Equal(1, (await spans.WaitForAsync(1, Ct))[0].GetTagItem(Names.MalformedEvents));
    }

    [Fact]
    public async Task DuplicateKeys_Are400()
    {
        // Otherwise the gateway would act on the last "stream" while the upstream might read the first.
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(_ => ScriptedReply.Text("unused"), Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, cancellationToken: Ct);

        using var response = await gateway.Client.PostAsync("/v1/messages", Body("""{"model":"llama3.1:8b","stream":false,"messages":[{"role":"user","content":"hi"}],"stream":true}"""), Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Empty(upstream.MessageRequests);
    }

    [Fact]
    public async Task ContentCaptureOfAnOddBlock_NeverChangesTheOutcome()
    {
        // A tool_use block with a numeric id is the upstream's business to judge, not the telemetry's.
        var body = """{"model":"llama3.1:8b","messages":[{"role":"assistant","content":[{"type":"tool_use","id":7,"name":"Bash","input":{}}]},{"role":"user","content":"go on"}]}""";
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(_ => ScriptedReply.Text("fine"), Ct);
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, new Dictionary<string, string?> { [TelemetryNames.CaptureMessageContentKey] = "true" }, Ct);

        using var response = await gateway.Client.PostAsync("/v1/messages", Body(body), Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Single(upstream.MessageRequests);
    }

    [Theory]
    [InlineData("Gateway:Streaming:KeepAliveInterval", "00:00:00", "KeepAliveInterval")]
    [InlineData("Gateway:Context:Policy", "maybe", "Gateway:Context:Policy")]
    [InlineData("Gateway:Adaptation:Thinking", "sometimes", "Gateway:Adaptation:Thinking")]
    [InlineData("Gateway:Upstream:Profile", "vllm", "Gateway:Upstream:Profile")]
    [InlineData("Gateway:PathBase", "claude", "Gateway:PathBase must start with '/'")]
    [InlineData("Gateway:MaxRequestBodyBytes", "0", "Gateway:MaxRequestBodyBytes")]
    // A body is read whole into one buffer, which .NET cannot make larger than 2 GiB: a limit past that used to pass
    // start-up and then fail a call whose Content-Length matched it with a 500.
    [InlineData("Gateway:MaxRequestBodyBytes", "4294967296", "Gateway:MaxRequestBodyBytes must be positive and at most 1073741824")]
    // .NET timers take at most ~49 days: a "never" like this used to pass start-up and then fail every call with a 500.
    [InlineData("Gateway:Upstream:ResponseTimeout", "60.00:00:00", "Gateway:Upstream:ResponseTimeout must be positive and at most 30 days")]
    [InlineData("Gateway:Upstream:ResponseTimeout", "-00:00:01", "Gateway:Upstream:ResponseTimeout")]
    [InlineData("Gateway:Upstream:IdleTimeout", "00:00:00", "Gateway:Upstream:IdleTimeout")]
    [InlineData("Gateway:Upstream:IdleTimeout", "60.00:00:00", "Gateway:Upstream:IdleTimeout")]
    [InlineData("Gateway:Streaming:KeepAliveAfter", "60.00:00:00", "Gateway:Streaming:KeepAliveAfter must be 0 (off) or more")]
    // A published stack whose STACK_TOKEN was left unset hands the gateway an empty token: it must not run open.
    [InlineData("Gateway:StackToken", "", "Gateway:StackToken is set but empty")]
    [InlineData("Gateway:StackToken", "short", "Gateway:StackToken is 5 characters; use at least 8")]
    // A window of 0 used to refuse every prompt as too long.
    [InlineData("Gateway:ContextLength", "0", "context length (Gateway:Context:ContextLength or Gateway:ContextLength) is 0")]
    [InlineData("Gateway:Adaptation:MinMaxTokens", "-100", "Gateway:Adaptation:MinMaxTokens is -100")]
    [InlineData("Gateway:Adaptation:ThinkingBudgetTokens", "0", "Gateway:Adaptation:ThinkingBudgetTokens is 0")]
    [InlineData("Gateway:Upstream:Url", "http://user:pass-0123456789@127.0.0.1:9", "has a user name or password in it")]
    // A key no header can carry used to pass start-up and then fail every call with a 500.
    [InlineData("Gateway:Upstream:ApiKey", "sk-pass-01234\n56789", "Gateway:Upstream:ApiKey holds a line break")]
    [InlineData("Gateway:Upstream:ApiKey", "sk-pass-0123456789é", "a character beyond ASCII inside it")]
    [InlineData("Gateway:AllowedOrigins:0", "null", "Gateway:AllowedOrigins holds 'null'")]
    [InlineData("Gateway:AllowedOrigins:0", " * ", "Gateway:AllowedOrigins holds '*'")]
    [InlineData("Gateway:AllowedOrigins", "https://chat.example.com *", "Gateway:AllowedOrigins holds '*'")]
    public async Task BadSetting_StopsStartWithAMessageNamingIt(string key, string value, string expected)
    {
        var exception = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() =>
            GatewayHost.StartAsync(new Uri("http://127.0.0.1:9"), new Dictionary<string, string?> { [key] = value }, Ct));

        Assert.Contains(expected, exception.Message);
        Assert.DoesNotContain("pass-0123456789", exception.Message);
    }
}
