using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using ClaudeStack.Gateway.Tests.Support;
using ClaudeStack.ScriptedUpstream;

namespace ClaudeStack.Gateway.Tests;

/// <summary>
/// The Ollama emulation answering as Ollama v0.32.15 does, so the tests that lean on it fail where Ollama would fail
/// them; each test names the code it reproduces.
/// </summary>
public sealed class OllamaEmulationFidelityTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static StringContent Body(JsonObject json) => new(json.ToJsonString(), Encoding.UTF8, "application/json");

    private static JsonObject Call(string model, JsonArray? tools = null)
    {
        var call = new JsonObject
        {
            ["model"] = model,
            ["max_tokens"] = 64,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "hi" }),
        };
        if (tools is not null)
        {
            call["tools"] = tools;
        }

        return call;
    }

    private static async Task<ScriptedUpstream.ScriptedUpstream> StartAsync(params OllamaModel[] models) =>
        await ScriptedUpstream.ScriptedUpstream.StartAsync(new ScriptedUpstreamOptions
        {
            Script = _ => ScriptedReply.Text("ok"),
            Ollama = models.Length == 0 ? new OllamaEmulation() : new OllamaEmulation { Models = models },
        }, Ct);

    [Theory]
    [InlineData("gemma3")]
    [InlineData("gemma3:latest")]
    [InlineData("GEMMA3:Latest")]
    [InlineData("library/gemma3")]
    [InlineData("registry.ollama.ai/library/gemma3:latest")]
    public async Task ModelNames_MatchAsGetExistingNameMatchesThem(string asked)
    {
        // server/routes.go getExistingName compares names without regard to case, with the default registry,
        // namespace and tag filled in (types/model ParseName); /api/tags lists each as DisplayShortest, tag and all.
        await using var upstream = await StartAsync(new OllamaModel("gemma3"));
        using var client = new HttpClient { BaseAddress = upstream.BaseAddress };

        using var call = await client.PostAsync("/v1/messages", Body(Call(asked)), Ct);
        var tags = JsonNode.Parse(await client.GetStringAsync("/api/tags", Ct))!;

        Assert.Equal(HttpStatusCode.OK, call.StatusCode);
        Assert.Equal("gemma3:latest", (string?)tags["models"]![0]!["name"]);
    }

    [Fact]
    public async Task UnknownModel_IsNamedAsEachRouteNamesIt()
    {
        // ChatHandler names the model as asked, wrapped by the Anthropic middleware's writeError (anthropic.NewError, with
        // a request_id, through Go's JSON encoder, which ends in a line break); ShowHandler names it by DisplayShortest.
        await using var upstream = await StartAsync();
        using var client = new HttpClient { BaseAddress = upstream.BaseAddress };

        using var call = await client.PostAsync("/v1/messages", Body(Call("nothere")), Ct);
        var callBody = await call.Content.ReadAsStringAsync(Ct);
        using var show = await client.PostAsync("/api/show", Body(new JsonObject { ["model"] = "nothere" }), Ct);

        Assert.Equal(HttpStatusCode.NotFound, call.StatusCode);
        var error = JsonNode.Parse(callBody)!;
        Assert.Equal("not_found_error", (string?)error["error"]!["type"]);
        Assert.Equal("model 'nothere' not found", (string?)error["error"]!["message"]);
        Assert.StartsWith("req_", (string?)error["request_id"], StringComparison.Ordinal);
        Assert.EndsWith("\n", callBody, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, show.StatusCode);
        Assert.Equal("""{"error":"model 'nothere:latest' not found"}""", await show.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task ToolSchemaRefusal_IsTheMiddlewaresOwn()
    {
        // middleware/anthropic.go refuses what FromMessagesRequest cannot convert with gin's AbortWithStatusJSON:
        // anthropic.NewError (a request_id), and no line break after it.
        await using var upstream = await StartAsync();
        using var client = new HttpClient { BaseAddress = upstream.BaseAddress };
        var tools = new JsonArray(new JsonObject { ["name"] = "t", ["input_schema"] = JsonNode.Parse("""{"properties":{"a":true}}""") });

        using var call = await client.PostAsync("/v1/messages", Body(Call("llama3.1:8b", tools)), Ct);
        var body = await call.Content.ReadAsStringAsync(Ct);

        Assert.Equal(HttpStatusCode.BadRequest, call.StatusCode);
        Assert.StartsWith("req_", (string?)JsonNode.Parse(body)!["request_id"], StringComparison.Ordinal);
        Assert.EndsWith("}", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CountTokens_IsARouteOllamaDoesNotHave()
    {
        // Ollama registers POST /v1/messages only; gin answers any other path with its plain-text 404.
        await using var upstream = await StartAsync();
        using var client = new HttpClient { BaseAddress = upstream.BaseAddress };

        using var count = await client.PostAsync("/v1/messages/count_tokens", Body(Call("llama3.1:8b")), Ct);

        Assert.Equal(HttpStatusCode.NotFound, count.StatusCode);
        Assert.Equal("404 page not found", await count.Content.ReadAsStringAsync(Ct));
        Assert.Empty(upstream.MessageRequests);
    }

    [Theory]
    [InlineData(false, "ollama cloud is disabled: remote model is unavailable", null)]
    [InlineData(true, "ollama cloud is disabled: web search is unavailable", "permission_error")]
    public async Task CloudModelWithCloudOff_IsRefusedWhereOllamaRefusesIt(bool withWebSearch, string message, string? anthropicType)
    {
        // server/cloud_proxy.go answers a cloud model in Ollama's own shape, except a call offering web_search, which it
        // lets through to the Anthropic middleware; that refuses it as an Anthropic permission_error.
        await using var upstream = await StartAsync();
        using var client = new HttpClient { BaseAddress = upstream.BaseAddress };
        var tools = withWebSearch ? new JsonArray(new JsonObject { ["type"] = "web_search_20250305", ["name"] = "web_search" }) : null;

        using var call = await client.PostAsync("/v1/messages", Body(Call("glm-4.6:cloud", tools)), Ct);
        var error = JsonNode.Parse(await call.Content.ReadAsStringAsync(Ct))!;

        Assert.Equal(HttpStatusCode.Forbidden, call.StatusCode);
        Assert.Equal(message, anthropicType is null ? (string?)error["error"] : (string?)error["error"]!["message"]);
        Assert.Equal(anthropicType, anthropicType is null ? null : (string?)error["error"]!["type"]);

        // Either shape reaches Claude Code as the gateway's explanation, not as a 403 it would blame on its login.
        await using var gateway = await GatewayHost.StartAsync(upstream.BaseAddress, cancellationToken: Ct);
        using var throughGateway = await gateway.Client.PostAsync("/v1/messages", Body(Call("glm-4.6:cloud", tools?.DeepClone().AsArray())), Ct);
        var explained = JsonNode.Parse(await throughGateway.Content.ReadAsStringAsync(Ct))!;
        Assert.Equal(HttpStatusCode.BadRequest, throughGateway.StatusCode);
        Assert.Contains(message, (string?)explained["error"]!["message"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task StreamedAnswer_IsWrittenAsTheStreamConverterWritesIt()
    {
        // anthropic/anthropic.go StreamConverter.Process, written by middleware/anthropic.go writeSSE (json.Marshal, which
        // escapes <, > and &): message_start has no stop_reason or stop_sequence (omitempty), usage counts input and
        // output tokens only, an empty text piece is never sent, and the response carries no Cache-Control.
        var message = new ScriptedMessage
        {
            Id = "msg_0a1b",
            Blocks = [new ScriptedThinking("hmm"), new ScriptedText(["a <b> ", "", "& c"]), new ScriptedToolUse("call_1", "Read", """{"path":"x"}""")],
            StopReason = "tool_use",
            StartInputTokens = 3,
            CacheReadInputTokens = 7,
        };
        await using var upstream = await StartAnsweringAsync(message);
        using var client = new HttpClient { BaseAddress = upstream.BaseAddress };
        var call = Call("llama3.1:8b");
        call["stream"] = true;

        using var response = await client.PostAsync("/v1/messages", Body(call), Ct);
        var body = await response.Content.ReadAsStringAsync(Ct);

        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Null(response.Headers.CacheControl);
        string[] expected =
        [
            """{"type":"message_start","message":{"id":"msg_0a1b","type":"message","role":"assistant","model":"llama3.1:8b","content":[],"usage":{"input_tokens":3,"output_tokens":0}}}""",
            """{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}""",
            """{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hmm"}}""",
            """{"type":"content_block_stop","index":0}""",
            """{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}""",
            """{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"a \u003cb\u003e "}}""",
            """{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"\u0026 c"}}""",
            """{"type":"content_block_stop","index":1}""",
            """{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"call_1","name":"Read","input":{}}}""",
            """{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"path\":\"x\"}"}}""",
            """{"type":"content_block_stop","index":2}""",
            """{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"input_tokens":12,"output_tokens":5}}""",
            """{"type":"message_stop"}""",
        ];
        Assert.Equal(string.Concat(expected.Select(data => $"event: {JsonNode.Parse(data)!["type"]}\ndata: {data}\n\n")), body);
    }

    [Theory]
    [InlineData(true, """{"id":"msg_0a1b","type":"message","role":"assistant","model":"llama3.1:8b","content":[{"type":"thinking","thinking":"hmm"},{"type":"text","text":"a \u003cb\u003e"}],"stop_reason":"end_turn","usage":{"input_tokens":12,"output_tokens":5}}""")]
    [InlineData(false, """{"id":"msg_0a1b","type":"message","role":"assistant","model":"llama3.1:8b","content":null,"stop_reason":"end_turn","usage":{"input_tokens":12,"output_tokens":5}}""")]
    public async Task WholeAnswer_IsWrittenAsToMessagesResponseWritesIt(bool withContent, string expected)
    {
        // anthropic/anthropic.go ToMessagesResponse through json.Encoder (AnthropicWriter.writeResponse): a thinking block
        // without signature, no stop_sequence, usage without cache counts, a nil content slice for an answer with no
        // blocks (written as null), and the encoder's closing line break.
        var message = new ScriptedMessage
        {
            Id = "msg_0a1b",
            Blocks = withContent ? [new ScriptedThinking("hmm"), new ScriptedText("a <b>")] : [new ScriptedText("")],
            CacheReadInputTokens = 7,
        };
        await using var upstream = await StartAnsweringAsync(message);
        using var client = new HttpClient { BaseAddress = upstream.BaseAddress };

        using var response = await client.PostAsync("/v1/messages", Body(Call("llama3.1:8b")), Ct);

        Assert.Equal(expected + "\n", await response.Content.ReadAsStringAsync(Ct));
    }

    private static async Task<ScriptedUpstream.ScriptedUpstream> StartAnsweringAsync(ScriptedMessage message) =>
        await ScriptedUpstream.ScriptedUpstream.StartAsync(new ScriptedUpstreamOptions
        {
            Script = _ => ScriptedReply.Message(message),
            Ollama = new OllamaEmulation(),
        }, Ct);

    [Theory]
    [InlineData("GET", "/api/show", "POST")]
    [InlineData("GET", "/api/pull", "POST")]
    [InlineData("POST", "/api/tags", "HEAD, GET")]
    [InlineData("HEAD", "/api/ps", "GET")]
    [InlineData("GET", "/v1/messages", "POST")]
    public async Task WrongMethod_IsGinsMethodNotAllowed(string method, string path, string allow)
    {
        // server/routes.go turns gin's HandleMethodNotAllowed on: a path Ollama has, asked with a method it does not
        // have there, gets 405, the methods it has in Allow (gin.go handleHTTPRequest) and gin's plain-text body.
        await using var upstream = await StartAsync();
        using var client = new HttpClient { BaseAddress = upstream.BaseAddress };

        using var response = await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path), Ct);

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Equal(allow, string.Join(", ", response.Content.Headers.Allow));
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        if (method != "HEAD")
        {
            Assert.Equal("405 method not allowed", await response.Content.ReadAsStringAsync(Ct));
        }
    }

    [Theory]
    [InlineData("""{"name":"gemma3"}""", 200, "application/x-ndjson", """{"status":"success"}""")]
    [InlineData("""{"model":"gemma3","stream":false}""", 200, "application/json", """{"status":"success"}""")]
    [InlineData("""{"model":"nothere","stream":false}""", 500, "application/json", """{"error":"pull model manifest: file does not exist"}""")]
    [InlineData("""{"model":"nothere"}""", 200, "application/x-ndjson", """{"error":"pull model manifest: file does not exist"}""")]
    public async Task Pull_AnswersAsPullHandlerAnswers(string request, int status, string mediaType, string last)
    {
        // PullHandler reads the model from "model", else "name" (cmp.Or). Streamed (streamResponse), a failure after the
        // first progress line is the stream's last line under a 200; with "stream": false (waitForStream) the answer is
        // the last progress alone, or the failure as a 500.
        await using var upstream = await StartAsync(new OllamaModel("gemma3"));
        using var client = new HttpClient { BaseAddress = upstream.BaseAddress };

        using var response = await client.PostAsync("/api/pull", new StringContent(request, Encoding.UTF8, "application/json"), Ct);
        var lines = (await response.Content.ReadAsStringAsync(Ct)).Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal(mediaType, response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(last, lines[^1]);
        Assert.Equal(mediaType == "application/json", lines.Length == 1);
    }

    [Fact]
    public async Task ModifiedAt_IsWrittenAsGoWritesATime()
    {
        // A time.Time marshals as RFC3339Nano: trailing zeros of the fraction dropped (with the point when none is left),
        // the offset as +hh:mm, and Z for a zero offset (the layout's Z07:00), as an Ollama in a UTC container writes it.
        await using var upstream = await StartAsync(
            new OllamaModel("gemma3") { ModifiedAt = new DateTimeOffset(2026, 11, 2, 10, 30, 0, TimeSpan.Zero) },
            new OllamaModel("qwen3") { ModifiedAt = new DateTimeOffset(2026, 11, 2, 10, 30, 0, 500, TimeSpan.FromHours(2)) });
        using var client = new HttpClient { BaseAddress = upstream.BaseAddress };

        var tags = JsonNode.Parse(await client.GetStringAsync("/api/tags", Ct))!["models"]!.AsArray();

        Assert.Equal(["2026-11-02T10:30:00Z", "2026-11-02T10:30:00.5+02:00"], tags.Select(model => (string?)model!["modified_at"]));
    }

    [Theory]
    [InlineData(32768, "32768")]
    [InlineData(1048576, "1.048576e+06")]
    [InlineData(2000000, "2e+06")]
    public async Task NumCtx_IsWrittenAsShowHandlerWritesIt(int numCtx, string written)
    {
        // ShowHandler: fmt "%-*s %#v" with a width of 30, and a float64 value (the options come from JSON), which %#v
        // writes in strconv's shortest 'g' form, with an exponent from a million up. The gateway reads either form.
        await using var upstream = await StartAsync(new OllamaModel("gemma3") { NumCtxParameter = numCtx });
        using var client = new HttpClient { BaseAddress = upstream.BaseAddress };

        using var show = await client.PostAsync("/api/show", Body(new JsonObject { ["model"] = "gemma3" }), Ct);
        var parameters = (string?)JsonNode.Parse(await show.Content.ReadAsStringAsync(Ct))!["parameters"];

        Assert.Equal("num_ctx" + new string(' ', 24) + written, parameters);
        Assert.Equal(numCtx, ClaudeStack.Gateway.Adaptation.OllamaModelFacts.NumCtx(parameters!));
    }

    [Fact]
    public async Task ModelLists_CarryTheFieldsOfOllamasTypes()
    {
        // api/types.go: ListModelResponse (/api/tags) and ProcessModelResponse (/api/ps) in field order, each with its
        // ModelDetails and a hex digest; ShowResponse leaves parameters out when the model sets no options (omitempty).
        await using var upstream = await StartAsync(new OllamaModel("gemma3") { LoadedContextLength = 8192 });
        using var client = new HttpClient { BaseAddress = upstream.BaseAddress };

        var listed = JsonNode.Parse(await client.GetStringAsync("/api/tags", Ct))!["models"]![0]!.AsObject();
        var running = JsonNode.Parse(await client.GetStringAsync("/api/ps", Ct))!["models"]![0]!.AsObject();
        using var show = await client.PostAsync("/api/show", Body(new JsonObject { ["model"] = "gemma3" }), Ct);
        var shown = JsonNode.Parse(await show.Content.ReadAsStringAsync(Ct))!.AsObject();

        Assert.Equal(["name", "model", "modified_at", "size", "digest", "details"], listed.Select(p => p.Key));
        Assert.Equal(["name", "model", "size", "digest", "details", "expires_at", "size_vram", "context_length"], running.Select(p => p.Key));
        string[] details = ["parent_model", "format", "family", "families", "parameter_size", "quantization_level"];
        Assert.All([listed, running, shown], model => Assert.Equal(details, model["details"]!.AsObject().Select(p => p.Key)));
        Assert.Matches("^[0-9a-f]{64}$", (string?)listed["digest"]);
        Assert.Equal((string?)listed["digest"], (string?)running["digest"]);
        Assert.EndsWith("Z", (string?)running["expires_at"], StringComparison.Ordinal);
        Assert.False(shown.ContainsKey("parameters"));
    }
}
