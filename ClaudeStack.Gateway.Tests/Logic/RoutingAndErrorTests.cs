using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;
using ClaudeStack.Gateway.Adaptation;
using ClaudeStack.Gateway.Api;
using ClaudeStack.Gateway.Configuration;
using ClaudeStack.Gateway.Forwarding;
using ClaudeStack.Gateway.Routing;
using ClaudeStack.Gateway.Telemetry;
using Microsoft.Extensions.Configuration;

namespace ClaudeStack.Gateway.Tests.Logic;

public sealed class RoutingAndErrorTests
{
    private static readonly ModelMapOptions Map = new() { Default = "llama3.1:8b", Haiku = "qwen2.5-coder:1.5b", Opus = "qwen2.5-coder:32b" };

    [Theory]
    [InlineData("claude-haiku-4-5-20251001", "qwen2.5-coder:1.5b", RouteReason.Family)]
    [InlineData("claude-haiku-5-5", "qwen2.5-coder:1.5b", RouteReason.Family)]
    [InlineData("haiku", "qwen2.5-coder:1.5b", RouteReason.Family)]
    [InlineData("opus", "qwen2.5-coder:32b", RouteReason.Family)]
    [InlineData("opusplan", "qwen2.5-coder:32b", RouteReason.Family)]
    [InlineData("claude-opus-5-5[1m]", "qwen2.5-coder:32b", RouteReason.Family)]
    [InlineData("claude-sonnet-5-5", "llama3.1:8b", RouteReason.Default)]
    [InlineData("sonnet", "llama3.1:8b", RouteReason.Default)]
    [InlineData("fable", "llama3.1:8b", RouteReason.Default)]
    [InlineData("claude-3-7-sonnet-latest", "llama3.1:8b", RouteReason.Default)]
    [InlineData("llama3.1:8b", "llama3.1:8b", RouteReason.PassThrough)]
    [InlineData("qwen3-coder:30b", "qwen3-coder:30b", RouteReason.PassThrough)]
    [InlineData("claudette:7b", "claudette:7b", RouteReason.PassThrough)]
    [InlineData("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "llama3.1:8b", RouteReason.Default)]
    [InlineData("global.anthropic.claude-haiku-4-5-20251001-v1:0", "qwen2.5-coder:1.5b", RouteReason.Family)]
    [InlineData("us-gov.anthropic.claude-3-5-sonnet-20240620-v1:0", "llama3.1:8b", RouteReason.Default)]
    [InlineData("anthropic.claude-opus-4-1-20250805-v1:0", "qwen2.5-coder:32b", RouteReason.Family)]
    [InlineData("anthropic/claude-sonnet-4.5", "llama3.1:8b", RouteReason.Default)]
    [InlineData("claude-sonnet-4-5@20250929", "llama3.1:8b", RouteReason.Default)]
    [InlineData("hf.co/anthropic.claude-x:q4", "hf.co/anthropic.claude-x:q4", RouteReason.PassThrough)]
    public void Route_MapsClaudeNamesOnly(string requested, string routed, RouteReason reason)
    {
        var route = new ModelRouter(Map, mapClaudeNames: true).Route(requested);

        Assert.Equal(routed, route.Routed);
        Assert.Equal(reason, route.Reason);
    }

    [Fact]
    public void Route_WithoutMapping_KeepsClaudeNames() =>
        Assert.Equal(RouteReason.PassThrough, new ModelRouter(Map, mapClaudeNames: false).Route("claude-sonnet-5-5").Reason);

    [Fact]
    public void Route_ClaudeNameWithNoLocalModel_IsUnmapped() =>
        Assert.Equal(RouteReason.Unmapped, new ModelRouter(new ModelMapOptions(), mapClaudeNames: true).Route("claude-sonnet-5-5").Reason);

    [Theory]
    [InlineData(400, "invalid_request_error")]
    [InlineData(401, "authentication_error")]
    [InlineData(403, "permission_error")]
    [InlineData(404, "not_found_error")]
    [InlineData(409, "conflict_error")]
    [InlineData(413, "request_too_large")]
    [InlineData(429, "rate_limit_error")]
    [InlineData(500, "api_error")]
    [InlineData(502, "api_error")]
    [InlineData(503, "overloaded_error")]
    [InlineData(504, "timeout_error")]
    [InlineData(529, "overloaded_error")]
    public void TypeForStatus_FollowsAnthropic(int status, string type) => Assert.Equal(type, AnthropicError.TypeForStatus(status));

    [Theory]
    [InlineData("{\"error\":\"model 'x' not found\"}", "model 'x' not found")]
    [InlineData("{\"error\":{\"message\":\"context overflow\",\"code\":400}}", "context overflow")]
    [InlineData("upstream exploded", "upstream exploded")]
    [InlineData("", "upstream answered 500 with no body")]
    public void NormalizeUpstream_WrapsForeignBodies(string body, string message)
    {
        var (normalized, type, text) = AnthropicError.NormalizeUpstream(500, Encoding.UTF8.GetBytes(body), "4bf92f3577b34da6a3ce929d0e0e4736");
        var json = JsonNode.Parse(normalized)!;

        Assert.Equal("api_error", type);
        Assert.Equal(message, text);
        Assert.Equal("error", (string?)json["type"]);
        Assert.Equal("api_error", (string?)json["error"]!["type"]);
        Assert.Equal(message, (string?)json["error"]!["message"]);
        Assert.Equal("4bf92f3577b34da6a3ce929d0e0e4736", (string?)json["request_id"]);
    }

    [Fact]
    public void ErrorBody_CarriesTheRequestIdAfterTheError_OnlyWhenThereIsOne()
    {
        var error = AnthropicError.ForStatus(502, "upstream unreachable");

        Assert.Equal("{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"upstream unreachable\"},\"request_id\":\"abc\"}", Encoding.UTF8.GetString(error.ToJsonBytes("abc")));
        Assert.Equal("{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"upstream unreachable\"}}", Encoding.UTF8.GetString(error.ToJsonBytes(null)));
    }

    [Fact]
    public void NormalizeUpstream_KeepsAnthropicBodiesByteForByte()
    {
        var body = Encoding.UTF8.GetBytes("{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"},\"request_id\":\"req_1\"}");

        // Its own request_id is the one the upstream's operators can look up.
        var (normalized, type, text) = AnthropicError.NormalizeUpstream(529, body, "4bf92f3577b34da6a3ce929d0e0e4736");

        Assert.Equal("overloaded_error", type);
        Assert.Equal("Overloaded", text);
        Assert.Equal(body, normalized);
    }

    [Theory]
    [InlineData("Endpoint=http://localhost:11434;Model=llama3.1:8b", "http://localhost:11434")]
    [InlineData("endpoint = http://ollama:11434", "http://ollama:11434")]
    [InlineData("http://10.0.0.5:11434", "http://10.0.0.5:11434")]
    public void ConnectionString_YieldsTheUrl(string connectionString, string url) =>
        Assert.Equal(url, UpstreamEndpoint.ParseConnectionString(connectionString));

    [Fact]
    public void Resolve_PrefersTheConnectionString()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:ollama"] = "Endpoint=http://localhost:5555" }).Build();

        var (endpoint, error) = UpstreamEndpoint.Resolve(new UpstreamOptions { Url = "http://elsewhere:1" }, configuration);

        Assert.Null(error);
        Assert.Equal(new Uri("http://localhost:5555"), endpoint!.BaseAddress);
        Assert.True(endpoint.IsLoopback);
    }

    [Theory]
    [InlineData("vllm", null, null, "Profile")]
    [InlineData("ollama", null, null, "ConnectionStrings:ollama")]
    [InlineData("anthropic", null, null, "ApiKey")]
    [InlineData("ollama", "not a url", null, "not an absolute")]
    public void Resolve_BadSettings_SayWhatToChange(string profile, string? url, string? key, string expected)
    {
        var (endpoint, error) = UpstreamEndpoint.Resolve(new UpstreamOptions { Profile = profile, Url = url, ApiKey = key }, new ConfigurationBuilder().Build());

        Assert.Null(endpoint);
        Assert.Contains(expected, error);
    }

    [Theory]
    [InlineData("http://127.0.0.1:11434", false)]
    [InlineData("http://localhost:8080", false)]
    [InlineData("http://[::1]:8080", false)]
    [InlineData("https://api.anthropic.com", true)]
    [InlineData("http://gpu-box:11434", true)]
    public void Handler_ReachesALoopbackUpstreamWithoutTheProxy(string url, bool useProxy)
    {
        // HTTP_PROXY is for outside traffic: through it, a loopback call would carry prompts and the gateway's key to
        // the proxy, which could not reach this machine's server anyway.
        var endpoint = new UpstreamEndpoint(UpstreamProfile.AnthropicCompatible, new Uri(url), null, "x");

        using var forwarding = UpstreamForwarder.CreateForwardingHandler(endpoint);
        using var lookups = UpstreamForwarder.CreateHandler(endpoint);

        Assert.Equal(useProxy, forwarding.UseProxy);
        Assert.Equal(useProxy, lookups.UseProxy);
    }

    [Theory]
    [InlineData("Endpoint=tcp://db;Password=s3cret-pass", "is not an absolute http(s) URL")]
    [InlineData("http://admin:s3cret-pass@localhost:11434", "has a user name or password in it")]
    public void Resolve_BadUrl_IsNotRepeated(string connectionString, string expected)
    {
        // A connection string, or a URL's user part, may hold a key; the message names the setting instead.
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:ollama"] = connectionString }).Build();

        var (endpoint, error) = UpstreamEndpoint.Resolve(new UpstreamOptions(), configuration);

        Assert.Null(endpoint);
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.Contains("ConnectionStrings:ollama", error, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0", null)]
    [InlineData("-1", null)]
    [InlineData("32768", 32768)]
    public void OllamaContextLength_Zero_IsOllamasByMemoryNotAWindow(string value, int? window)
    {
        // OLLAMA_CONTEXT_LENGTH 0 is Ollama's own default ("choose by the memory there is"), often exported in a
        // shell: it used to stop the gateway's start-up as a window of 0.
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["OLLAMA_CONTEXT_LENGTH"] = value }).Build();

        Assert.Equal(window, LocalModelOptions.From(configuration).Context.ContextLength);
    }

    [Theory]
    [InlineData(UpstreamProfile.Ollama, null, 3)]
    [InlineData(UpstreamProfile.AnthropicCompatible, null, 3)]
    [InlineData(UpstreamProfile.Anthropic, null, 0)]
    [InlineData(UpstreamProfile.Anthropic, "00:00:05", 5)]
    public void KeepAlive_IsOffForTheAnthropicApiUnlessConfigured(UpstreamProfile profile, string? configured, int seconds)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Gateway:Streaming:KeepAliveAfter"] = configured }).Build();

        Assert.Equal(TimeSpan.FromSeconds(seconds), GatewayFeatures.From(configuration, profile).KeepAliveAfter);
    }

    [Theory]
    [InlineData("keep-alive", null)]
    [InlineData("close", null)]
    [InlineData("keep-alive, X-Hop", "X-Hop")]
    [InlineData("Upgrade,  x-a ,x-b", "Upgrade x-a x-b")]
    public void ConnectionHeader_NamesHeadersForTheNextHop(string connection, string? nominated) =>
        Assert.Equal(nominated, HopByHopHeaders.NominatedBy(connection) is { } names ? string.Join(' ', names) : null);

    [Fact]
    public void Target_KeepsTheUpstreamBasePathAndQuery()
    {
        var endpoint = new UpstreamEndpoint(UpstreamProfile.AnthropicCompatible, new Uri("http://host:8080/proxy/"), null, "x");

        Assert.Equal("http://host:8080/proxy/v1/messages?beta=true", endpoint.Target("/v1/messages", "?beta=true").ToString());
    }

    [Theory]
    [InlineData("Bearer s3cret-token", "", true)]
    [InlineData("bearer s3cret-token", "", true)]
    [InlineData("", "s3cret-token", true)]
    [InlineData("Bearer s3cret-tokeN", "", false)]
    [InlineData("Bearer s3cret-toke", "", false)]
    [InlineData("Bearer s3cret-tokenX", "", false)]
    [InlineData("Bearer s3cret-tokens3cret-token", "", false)]
    [InlineData("", "s3cret-tok", false)]
    [InlineData("Basic s3cret-token", "", false)]
    [InlineData("", "", false)]
    public void StackToken_IsCheckedExactly(string authorization, string apiKey, bool authorized) =>
        Assert.Equal(authorized, new StackTokenGuard("s3cret-token").IsAuthorized(
            authorization.Length == 0 ? default : new(authorization), apiKey.Length == 0 ? default : new(apiKey)));

    [Fact]
    public void Redactor_MasksEverySecretButIgnoresShortValues()
    {
        var redactor = new SecretRedactor(["sk-ant-0123456789", "abc", null]);

        Assert.Equal("key [REDACTED] and abc", redactor.Redact("key sk-ant-0123456789 and abc"));
    }

    [Theory]
    [InlineData("sk-up+0123/abcd<ef", "key sk-up+0123/abcd<ef")]
    [InlineData("sk-up+0123/abcd<ef", "key sk-up\\u002B0123/abcd\\u003Cef")] // System.Text.Json's default escaping
    [InlineData("sk-up+0123/abcd<ef", "key sk-up\\u002b0123/abcd\\u003cef")] // lowercase hex (Go, others)
    [InlineData("sk-up0123/abcdef", "key sk-up0123\\/abcdef")] // PHP's escaped slash
    public void Redactor_FindsSecretsAsJsonWritersSpellThem(string secret, string text)
    {
        var redactor = new SecretRedactor([secret]);

        Assert.Equal("key [REDACTED]", redactor.Redact(text));
        Assert.Equal("\"key [REDACTED]\"", Encoding.UTF8.GetString(redactor.Redact(Encoding.UTF8.GetBytes($"\"{text}\"")).Span));
    }

    [Fact]
    public void Redactor_LeavesBytesWithoutSecretsAlone()
    {
        var bytes = "{\"input_tokens\":77}"u8.ToArray();

        Assert.True(MemoryMarshal.TryGetArray(new SecretRedactor(["sk-ant-0123456789"]).Redact(bytes), out var segment) && segment.Array == bytes);
    }

    [Fact]
    public void Redactor_MasksBytesWithoutDecodingThem()
    {
        // A piece of a stream may hold a byte that is not UTF-8 and end inside a character: both stay as they came.
        byte[] bytes = [0xFF, .. "key sk-ant-0123456789 "u8, 0xC3];

        Assert.Equal([0xFF, .. "key [REDACTED] "u8, 0xC3], new SecretRedactor(["sk-ant-0123456789"]).Redact(bytes).ToArray());
    }

    [Theory]
    [InlineData(403, "ollama cloud is disabled: remote model is unavailable", true)]
    [InlineData(403, "ollama cloud is disabled: web search is unavailable", true)]
    [InlineData(403, "ollama cloud is disabled", true)]
    [InlineData(403, "forbidden", false)]
    [InlineData(403, "Ollama cloud is disabled", false)]
    [InlineData(401, "ollama cloud is disabled: remote model is unavailable", false)]
    [InlineData(500, "ollama cloud is disabled: remote model is unavailable", false)]
    public void OllamaCloudRefusal_IsExplainedOnlyForOllamasOwn403(int status, string message, bool explained)
    {
        var error = OllamaRefusal.Explain(status, message, "glm-4.6:cloud", imagesBecomeNotes: true);

        Assert.Equal(explained, error is not null);
        if (error is not null)
        {
            Assert.Equal((400, AnthropicError.InvalidRequest), (error.StatusCode, error.Type));
            Assert.StartsWith($"model 'glm-4.6:cloud' runs on ollama.com, and this Ollama keeps to local models ({message}); ", error.Message, StringComparison.Ordinal);
            Assert.Contains("ClaudeStack:OllamaCloud=true", error.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData(401, "unauthorized", "glm-4.6:cloud", true)]
    [InlineData(401, "unauthorized", "gpt-oss:120b-cloud", true)]
    [InlineData(401, "unauthorized", "llama3.1:8b", false)]
    [InlineData(401, "invalid api key", "glm-4.6:cloud", false)]
    [InlineData(403, "unauthorized", "glm-4.6:cloud", false)]
    public void CloudModelOfAnOllamaNotSignedIn_IsExplainedAsTheServersSignIn(int status, string message, string model, bool explained)
    {
        // server/cloud_proxy.go writeCloudUnauthorized: 401 {"error":"unauthorized","signin_url":…}, which Claude Code
        // would print as its own login failing.
        var error = OllamaRefusal.Explain(status, message, model, imagesBecomeNotes: false);

        Assert.Equal(explained, error is not null);
        if (error is not null)
        {
            Assert.Equal((400, AnthropicError.InvalidRequest), (error.StatusCode, error.Type));
            Assert.Contains("not signed in to an ollama.com account", error.Message, StringComparison.Ordinal);
            Assert.Contains("ollama signin", error.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("prompt is too long: 9000 tokens > 8192 maximum", "prompt is too long: 9000 tokens > 8192 maximum")]
    [InlineData(null, "prompt is too long: the prompt is longer than the context length currently available to the model; shorten the prompt, adjust the context length in settings, or use a model with a longer context length")]
    public void OllamasOwnPromptTooLong_IsInTheWordsThatMakeClaudeCodeCompact(string? promptTooLong, string expected)
    {
        // llm/llama_server.go, for a runner without context shift (deepseek2 family).
        const string message = "the prompt is longer than the context length currently available to the model; shorten the prompt, adjust the context length in settings, or use a model with a longer context length";

        var error = OllamaRefusal.Explain(400, message, "deepseek-coder-v2", imagesBecomeNotes: false, promptTooLong);

        Assert.Equal((400, AnthropicError.InvalidRequest, expected), (error!.StatusCode, error.Type, error.Message));
    }

    [Theory]
    [InlineData(400, "registry.ollama.ai/library/gemma3:latest does not support tools", "cannot call tools")]
    [InlineData(400, "\"nomic-embed-text\" does not support chat", "is not a chat model")]
    [InlineData(400, "registry.ollama.ai/library/gemma3:latest does not support tools.", null)]
    [InlineData(400, "\"qwen3\" does not support thinking", null)]
    [InlineData(500, "registry.ollama.ai/library/gemma3:latest does not support tools", null)]
    [InlineData(400, "ollama cloud is disabled: remote model is unavailable", null)]
    public void OllamaCapabilityRefusal_SaysWhatClaudeCodeNeeds(int status, string message, string? explanation)
    {
        var error = OllamaRefusal.Explain(status, message, "gemma3", imagesBecomeNotes: true);

        Assert.Equal(explanation is not null, error is not null);
        if (error is not null)
        {
            Assert.Equal((400, AnthropicError.InvalidRequest), (error.StatusCode, error.Type));
            Assert.StartsWith($"model 'gemma3' {explanation} ({message})", error.Message, StringComparison.Ordinal);
            Assert.EndsWith("set it as ClaudeStack:Model or ClaudeStack:ModelMap:* for the stack.", error.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData(500, "{\"error\":{\"code\":500,\"message\":\"image input is not supported - hint: if this is unexpected, you may need to provide the mmproj\",\"type\":\"server_error\"}}", true)]
    [InlineData(500, "llama runner process has terminated: exit status 2", false)]
    [InlineData(400, "image input is not supported", false)]
    public void MissingProjector_IsStillA500ForTheRetry_SayingImagesWillBeNotes(int status, string message, bool explained)
    {
        var error = OllamaRefusal.Explain(status, message, "llava-phi3", imagesBecomeNotes: true);

        Assert.Equal(explained, OllamaRefusal.IsMissingProjector(status, message));
        Assert.Equal(explained, error is not null);
        if (error is not null)
        {
            Assert.Equal((500, AnthropicError.Api), (error.StatusCode, error.Type));
            Assert.StartsWith($"model 'llava-phi3' cannot see images in this Ollama ({message}); ", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void MissingProjector_WithoutNotesToFollow_IsA400_SinceTheRetryWouldFailTheSameWay()
    {
        const string message = "image input is not supported - hint: if this is unexpected, you may need to provide the mmproj";

        var error = OllamaRefusal.Explain(500, message, "llava-phi3", imagesBecomeNotes: false)!;

        Assert.Equal((400, AnthropicError.InvalidRequest), (error.StatusCode, error.Type));
        Assert.StartsWith($"model 'llava-phi3' cannot see images in this Ollama ({message}); the model was not run.", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("note", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Redactor_HoldsAnySpellingOfAnySecret_AndNothingWithoutSecrets()
    {
        var redactor = new SecretRedactor(["stack-token-0123456789", "sk-up+0123456789"]);
        const string text = "key stack-token-0123456789 here";

        Assert.True(redactor.Holds("a stack-token-0123456789 b"));
        Assert.True(redactor.Holds("sk-up\\u002B0123456789"));
        Assert.False(redactor.Holds("stack-token-012345678"));
        Assert.False(new SecretRedactor([null, "short"]).Holds(text));
        Assert.Same(text, new SecretRedactor([]).Redact(text));
    }

    [Fact]
    public void ServerSpanRedaction_MasksOnlyClientTextHoldingASecret()
    {
        var redactor = new SecretRedactor(["stack-token-0123456789"]);
        using var span = new Activity("POST").Start();
        span.SetTag(TelemetryNames.Attributes.UrlPath, "/v1/stack-token-0123456789/messages");
        span.SetTag(TelemetryNames.Attributes.UrlQuery, "?beta=true");
        span.SetTag(TelemetryNames.Attributes.UserAgentOriginal, "claude-cli/2.1.329 (stack-token-0123456789)");
        span.SetTag(TelemetryNames.Attributes.ServerAddress, "stack-token-0123456789.localhost");

        ServerSpanRedaction.Mask(span, redactor);

        Assert.Equal("/v1/[REDACTED]/messages", span.GetTagItem(TelemetryNames.Attributes.UrlPath));
        Assert.Equal("?beta=true", span.GetTagItem(TelemetryNames.Attributes.UrlQuery));
        Assert.Equal("claude-cli/2.1.329 ([REDACTED])", span.GetTagItem(TelemetryNames.Attributes.UserAgentOriginal));
        Assert.Equal("[REDACTED].localhost", span.GetTagItem(TelemetryNames.Attributes.ServerAddress));
    }
}
