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
}
