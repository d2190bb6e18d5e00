using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using ClaudeStack.Gateway.Tests.Support;
using ClaudeStack.ScriptedUpstream;
using Xunit;

namespace ClaudeStack.Gateway.Tests.Reliability;

/// <summary>
/// Issue 6, bad input: a few hundred malformed or hostile requests. Each must get a 4xx (in Anthropic error form when
/// the gateway answers, a bare 400/4xx when Kestrel refuses malformed HTTP), never a 5xx; afterwards a valid call works.
/// </summary>
public sealed class BadInputTests
{
    private const int BodyLimit = 64 * 1024;
    private const string Model = "llama3.1:8b";
    private const string ValidMessages = "[{\"role\":\"user\",\"content\":\"hi\"}]";

    /// <summary>How far a request is expected to get.</summary>
    private enum Reach
    {
        /// <summary>The gateway (or Kestrel) refuses it; the upstream must not see it.</summary>
        Refused,

        /// <summary>Well-formed JSON, so the gateway may forward it; then the upstream refuses it (4xx) or, when the
        /// gateway's adaptation repaired it, accepts it (2xx).</summary>
        MayForward,
    }

    [Fact]
    public async Task HostileRequests_AllAnswered4xxAndGatewayStillServes()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await Rig.StartAsync(OllamaLikeScript, Settings, ct);

        var cases = Cases().ToList();
        Assert.True(cases.Count >= 200, $"only {cases.Count} cases");
        Assert.Equal(cases.Count, cases.Select(c => c.Name).Distinct().Count());

        var problems = new List<string>();
        foreach (var @case in cases)
        {
            var before = ModelRequests(rig);
            int status;
            string detail;
            try
            {
                (status, detail) = await @case.Send(rig, ct);
            }
            catch (Exception exception) when (exception is HttpRequestException or IOException or TaskCanceledException)
            {
                problems.Add($"{@case.Name}: no answer ({exception.GetType().Name}: {exception.Message})");
                continue;
            }

            var reached = ModelRequests(rig) > before;
            if (@case.Reach == Reach.MayForward && reached && status is >= 200 and < 300)
            {
                // Well-formed enough that the gateway's adaptation repaired it (e.g. folded a system message) and the
                // Ollama-like upstream accepted what it received: fine, as long as nothing failed.
                continue;
            }

            if (status is < 400 or > 499)
            {
                problems.Add($"{@case.Name}: status {status} {Shorten(detail)}");
            }
            else if (detail.Length == 0 && !KestrelAnswersWithoutBody(@case.Name))
            {
                problems.Add($"{@case.Name}: {status} with an empty body, where the gateway answers with an Anthropic error");
            }
            else if (detail.Length > 0 && CheckAnthropicShape(detail) is { } shapeProblem)
            {
                problems.Add($"{@case.Name}: {status} body is not an Anthropic error ({shapeProblem}): {Shorten(detail)}");
            }
            else if (reached && @case.Reach == Reach.Refused)
            {
                problems.Add($"{@case.Name}: {status}, but the gateway forwarded it upstream");
            }
        }

        Assert.True(problems.Count == 0, $"{problems.Count} of {cases.Count} cases misbehaved:\n" + string.Join("\n", problems));

        // Still serving.
        var answer = await rig.PostAsync(Rig.MessagesBody("still alive?"), ct);
        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal(Rig.Utf8(AnthropicSse.MessageEvents(Survivor)), answer.Body);
    }

    /// <summary>
    /// Requests that are odd but legal (or that Kestrel lets through): whatever the gateway does, it must not fail
    /// with a 5xx because of what the client sent.
    /// </summary>
    [Fact]
    public async Task OddButLegalRequests_NeverAnswered5xx()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await Rig.StartAsync(OllamaLikeScript, Settings, ct);
        var token = GatewayHost.StackToken;
        var body = Rig.MessagesBody(stream: false);

        var cases = new List<(string Name, Func<Task<(int, string)>> Send)>
        {
            ("garbage traceparent", () => Headers(("traceparent", "00-zzzz-yyyy-01"))),
            ("traceparent all zero ids", () => Headers(("traceparent", "00-00000000000000000000000000000000-0000000000000000-01"))),
            ("traceparent future version", () => Headers(("traceparent", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), ("tracestate", new string('=', 600)))),
            ("8 KB session id", () => Headers(("x-claude-code-session-id", new string('s', 8 * 1024)))),
            ("16 KB anthropic-beta", () => Headers(("anthropic-beta", new string('b', 16 * 1024)))),
            ("60 anthropic-beta headers", () => Headers([.. Enumerable.Range(0, 60).Select(i => ("anthropic-beta", $"feature-{i}"))])),
            ("client x-api-key and bearer both", () => Headers(("x-api-key", "sk-client-key-that-must-not-go-upstream"))),
            ("query junk", () => Path("/v1/messages?beta=true&x=%00%ff%0d%0a&&==")),
            ("path with encoded slash", () => Path("/v1%2Fmessages")),
            ("dot segments resolved by Kestrel", () => Path("/%2e%2e/v1/messages")),
            ("utf-8 session id header (raw)", () => Raw(Encoding.UTF8.GetBytes("x-claude-code-session-id: s\u00e9ance-\u2603\r\n"))),
            ("utf-8 anthropic-beta header (raw)", () => Raw(Encoding.UTF8.GetBytes("anthropic-beta: b\u00eata\r\n"))),
            ("latin-1 anthropic-beta header (raw)", () => Raw([.. "anthropic-beta: b"u8, 0xea, .. "ta\r\n"u8])),
            ("obs-text in user-agent (raw)", () => Raw([.. "user-agent: claude-cli/2 "u8, 0xc3, 0xa9, .. "\r\n"u8])),
            // A custom method token; ASP.NET Core routing matches methods case-insensitively, so this is a POST.
            ("lowercase method (raw)", () => RawVerbatim(Encoding.ASCII.GetBytes($"post /v1/messages HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\nConnection: close\r\n\r\n{body}"))),
            // JSON escapes for lone surrogates: valid JSON syntax, not valid text (Go decodes them to U+FFFD).
            ("lone surrogate escape in content", () => Json(Rig.MessagesBody("\\ud800 lone", stream: false).Replace("\\\\ud800", "\\ud800", StringComparison.Ordinal))),
            ("lone surrogate escape in system", () => Json(Rig.MessagesBody("hi", stream: false, system: "x").Replace("\"text\":\"x\"", "\"text\":\"\\udfff\"", StringComparison.Ordinal))),
            ("lf-only line endings (raw)", () => RawVerbatim(Encoding.ASCII.GetBytes($"POST /v1/messages HTTP/1.1\nHost: localhost\nAuthorization: Bearer {token}\nContent-Type: application/json\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\n\n{body}"))),
        };

        var problems = new List<string>();
        foreach (var (name, send) in cases)
        {
            var (status, detail) = await send();
            if (status is >= 500 or 0)
            {
                problems.Add($"{name}: {status} {Shorten(detail)}");
            }
        }

        Assert.True(problems.Count == 0, string.Join("\n", problems));
        var answer = await rig.PostAsync(Rig.MessagesBody("still alive?"), ct);
        Assert.Equal(HttpStatusCode.OK, answer.Status);

        // The client's own key was accepted alongside the stack token, and went no further than the gateway.
        Assert.DoesNotContain(rig.Upstream!.Requests, received => received.Headers.Values.Any(value => value.Contains("sk-client-key", StringComparison.Ordinal)));

        async Task<(int, string)> Headers(params (string Name, string Value)[] headers)
        {
            var request = Rig.Post("/v1/messages", body);
            foreach (var (name, value) in headers)
            {
                request.Headers.TryAddWithoutValidation(name, value);
            }

            var result = await Rig.SendAsync(rig.Client, request, ct);
            return ((int)result.Status, result.Text);
        }

        async Task<(int, string)> Json(string json)
        {
            var result = await Rig.SendAsync(rig.Client, Rig.Post("/v1/messages", json), ct);
            return ((int)result.Status, result.Text);
        }

        async Task<(int, string)> Path(string path)
        {
            var result = await Rig.SendAsync(rig.Client, Rig.Post(path, body), ct);
            return ((int)result.Status, result.Text);
        }

        Task<(int, string)> Raw(byte[] extraHeaders) =>
            RawVerbatim([.. Encoding.ASCII.GetBytes($"POST /v1/messages HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\nConnection: close\r\n"), .. extraHeaders, .. "\r\n"u8, .. Encoding.UTF8.GetBytes(body)]);

        async Task<(int, string)> RawVerbatim(byte[] request)
        {
            var (status, response) = await RawHttp.SendAsync(rig.Gateway.BaseAddress, request, ct);
            return (status, response);
        }
    }

    /// <summary>A small body limit, and content capture on so the content paths read every hostile value too.</summary>
    private static Dictionary<string, string?> Settings => new()
    {
        ["Gateway:MaxRequestBodyBytes"] = BodyLimit.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "true",
    };

    private static readonly ScriptedMessage Survivor = ScriptedMessage.Text("still here") with { Id = "msg_survivor" };

    /// <summary>
    /// Ollama v0.32.15 middleware/anthropic.go AnthropicMessagesMiddleware: decode errors, "model is required",
    /// "max_tokens is required and must be positive" and "messages is required" are 400 invalid_request_error; an
    /// unknown model is 404 not_found_error (server/routes.go ChatHandler, converted by the Anthropic writer).
    /// </summary>
    private static ScriptedReply OllamaLikeScript(UpstreamRequest request)
    {
        try
        {
            if (request.Json is not JsonObject json)
            {
                return ScriptedReply.AnthropicError(400, "invalid_request_error", "invalid character looking for beginning of value");
            }

            var model = json["model"]?.GetValue<string>();
            if (string.IsNullOrEmpty(model))
            {
                return ScriptedReply.AnthropicError(400, "invalid_request_error", "model is required");
            }

            if (json["max_tokens"]?.GetValue<long>() is not > 0)
            {
                return ScriptedReply.AnthropicError(400, "invalid_request_error", "max_tokens is required and must be positive");
            }

            if (json["messages"] is not JsonArray { Count: > 0 } messages)
            {
                return ScriptedReply.AnthropicError(400, "invalid_request_error", "messages is required");
            }

            // encoding/json into the typed anthropic.MessagesRequest: a wrong type anywhere is a decode error.
            if (DecodeError(json, messages) is { } decodeError)
            {
                return ScriptedReply.AnthropicError(400, "invalid_request_error", decodeError);
            }

            return model == Model
                ? ScriptedReply.Message(Survivor)
                : ScriptedReply.AnthropicError(404, "not_found_error", $"model '{model}' not found");
        }
        catch (Exception exception) when (exception is InvalidOperationException or FormatException or ArgumentException or System.Text.Json.JsonException)
        {
            // Go's encoding/json: "json: cannot unmarshal ... into Go value of type ...".
            return ScriptedReply.AnthropicError(400, "invalid_request_error", "json: cannot unmarshal " + exception.GetType().Name);
        }
    }

    /// <summary>Requests that reached the upstream's model API (not the catalog's /api/show and /api/ps).</summary>
    private static int ModelRequests(Rig rig) =>
        rig.Upstream!.Requests.Count(r => !r.Path.StartsWith("/api/", StringComparison.Ordinal));

    private static string? DecodeError(JsonObject json, JsonArray messages)
    {
        static bool IsString(JsonNode? node) => node is JsonValue value && value.GetValueKind() == System.Text.Json.JsonValueKind.String;
        static bool IsNumber(JsonNode? node) => node is JsonValue value && value.GetValueKind() == System.Text.Json.JsonValueKind.Number;
        static bool BlocksOk(JsonNode? content) => IsString(content) || (content is JsonArray blocks && blocks.All(b =>
            b is JsonObject block && IsString(block["type"])
            && (block["text"] is null || IsString(block["text"])) && (block["thinking"] is null || IsString(block["thinking"]))
            && (block["id"] is null || IsString(block["id"])) && (block["name"] is null || IsString(block["name"]))
            && (block["tool_use_id"] is null || IsString(block["tool_use_id"]))
            && (block["input"] is null || block["input"] is JsonObject)
            && (block["source"] is null || (block["source"] is JsonObject source && IsString(source["type"]) && (source["data"] is null || IsString(source["data"]))))
            && (block["type"]!.GetValue<string>() != "tool_result" || block["content"] is null || BlocksOk(block["content"]))));

        const string Error = "json: cannot unmarshal into Go value of type anthropic.MessagesRequest";
        if (!messages.All(m => m is JsonObject message && IsString(message["role"]) && BlocksOk(message["content"])))
        {
            return Error;
        }

        if (json["system"] is { } system && !BlocksOk(system))
        {
            return Error;
        }

        if (json["tools"] is { } tools && (tools is not JsonArray toolList || !toolList.All(t => t is JsonObject tool && IsString(tool["name"])
            && (tool["description"] is null || IsString(tool["description"])) && (tool["input_schema"] is null || tool["input_schema"] is JsonObject))))
        {
            return Error;
        }

        foreach (var name in new[] { "thinking", "tool_choice", "metadata" })
        {
            if (json[name] is { } value && value is not JsonObject)
            {
                return Error;
            }
        }

        foreach (var name in new[] { "temperature", "top_p", "top_k" })
        {
            if (json[name] is { } value && !IsNumber(value))
            {
                return Error;
            }
        }

        return json["stop_sequences"] is { } stops && (stops is not JsonArray stopList || !stopList.All(IsString)) ? Error : null;
    }

    private static string? CheckAnthropicShape(string body)
    {
        try
        {
            var root = JsonNode.Parse(body);
            if (root?["type"]?.GetValue<string>() != "error")
            {
                return "type is not \"error\"";
            }

            if (root["error"]?["type"]?.GetValue<string>() is not { Length: > 0 } || root["error"]?["message"]?.GetValue<string>() is not { Length: > 0 })
            {
                return "error.type or error.message missing";
            }

            return null;
        }
        catch (Exception exception) when (exception is System.Text.Json.JsonException or InvalidOperationException)
        {
            return "not JSON";
        }
    }

    private static string Shorten(string text) => text.Length <= 300 ? text : text[..300] + "…";

    private sealed record Case(string Name, Reach Reach, Func<Rig, CancellationToken, Task<(int Status, string Body)>> Send);

    private static string Body(string model = $"\"{Model}\"", string messages = ValidMessages, string extra = "") =>
        $"{{\"model\":{model},\"max_tokens\":64,\"messages\":{messages}{extra}}}";

    private static IEnumerable<Case> Cases()
    {
        // 1. Not JSON, or not the JSON of an object.
        string[] invalidJson =
        [
            "{", "}", "[", "{\"model\":", "{\"model\":\"m\",}", "{'model':'x'}", "{model:\"x\"}", "nul", "tru", "fals",
            "{\"a\":NaN}", "{\"a\":Infinity}", "{\"a\":-Infinity}", "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":-}", "{\"a\":1e}",
            "{\"a\":\"\\x41\"}", "{\"a\":\"\\u12\"}", "{\"a\":\"\\ud800\"}", "{\"a\":\"unterminated}", "{\"a\":\"tab\there\"}", "{\"a\":\"nl\nhere\"}",
            "{\"a\":1}{\"b\":2}", "{\"a\":1} x", "/* comment */ {}", "// line\n{}", "{\"a\":[1,2,]}", "{\"a\" 1}", "{,}", "{\"a\":1,,\"b\":2}",
            "\u0000", "{\"model\":\"llama3.1:8b\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]", "<xml/>", "model=llama&messages=hi",
            "null", "true", "false", "123", "-1", "\"a string\"", "[]", "[{}]", "{}", "{\"model\":null}", "[" + Body() + "]",
        ];
        foreach (var (text, i) in invalidJson.Select((t, i) => (t, i)))
        {
            yield return Json($"invalid json #{i} {Printable(text)}", text);
            if (i % 4 == 0)
            {
                yield return Json($"invalid json #{i} count_tokens", text, "/v1/messages/count_tokens");
            }
        }

        // 2. Wrong types for the fields the gateway reads.
        var wrongValues = new Dictionary<string, string[]>
        {
            ["model"] = ["1", "true", "null", "{}", "[]", "\"\"", "1.5", "[\"llama3.1:8b\"]", "{\"name\":\"llama3.1:8b\"}"],
            ["messages"] = ["1", "\"hi\"", "true", "null", "{}", "{\"role\":\"user\",\"content\":\"hi\"}", "[1]", "[\"hi\"]", "[null]", "[{}]", "[[]]",
                "[{\"role\":1,\"content\":\"x\"}]", "[{\"role\":\"user\"}]", "[{\"content\":\"x\"}]", "[{\"role\":\"user\",\"content\":1}]",
                "[{\"role\":\"user\",\"content\":null}]", "[{\"role\":\"user\",\"content\":{}}]", "[{\"role\":null,\"content\":\"x\"}]",
                "[{\"role\":\"user\",\"content\":\"hi\"},7]"],
            ["stream"] = ["1", "0", "\"true\"", "null", "{}", "[]", "\"yes\""],
            ["max_tokens"] = ["\"100\"", "true", "null", "{}", "[]", "-1", "1.5", "1e309", "2147483648", "-2147483649", new string('9', 5000)],
            ["tools"] = ["1", "\"bash\"", "true", "null", "{}", "{\"name\":\"bash\"}"],
            ["system"] = ["1", "true", "null", "{}", "2.5"],
        };
        foreach (var (field, values) in wrongValues)
        {
            foreach (var (value, i) in values.Select((v, i) => (v, i)))
            {
                var body = field switch
                {
                    "model" => Body(model: value),
                    "messages" => Body(messages: value),
                    _ => Body(extra: $",\"{field}\":{value}"),
                };
                yield return Json($"wrong type {field} #{i} {Printable(value)}", body);
                if (i % 3 == 0)
                {
                    yield return Json($"wrong type {field} #{i} count_tokens", body, "/v1/messages/count_tokens");
                }
            }
        }

        // Missing fields.
        yield return Json("missing model", $"{{\"max_tokens\":64,\"messages\":{ValidMessages}}}");
        yield return Json("missing messages", $"{{\"model\":\"{Model}\",\"max_tokens\":64}}");
        yield return Json("duplicate model, last one a number", $"{{\"model\":\"{Model}\",\"model\":5,\"max_tokens\":64,\"messages\":{ValidMessages}}}", reach: Reach.MayForward);

        // Valid shape, refused by the upstream the way Ollama refuses it.
        yield return Json("empty messages array", Body(messages: "[]"), reach: Reach.MayForward);
        yield return Json("max_tokens zero", Body(extra: ",\"max_tokens\":0").Replace("\"max_tokens\":64,", "", StringComparison.Ordinal), reach: Reach.MayForward);
        yield return Json("unknown model", Body(model: "\"no-such-model:latest\""), reach: Reach.MayForward);

        // Well-formed JSON with hostile values inside: the gateway reads these for token estimates, content capture
        // and adaptation, so none may crash it; Ollama's typed decoding refuses them with 400.
        string[] hostileContent =
        [
            "[1]", "[\"x\"]", "[null]", "[[]]", "[{}]", "[{\"type\":5}]", "[{\"type\":null}]", "[{\"type\":\"text\"}]", "[{\"type\":\"text\",\"text\":5}]",
            "[{\"type\":\"text\",\"text\":null}]", "[{\"type\":\"text\",\"text\":{\"a\":1}}]", "[{\"type\":\"image\",\"source\":null}]",
            "[{\"type\":\"image\",\"source\":\"x\"}]", "[{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"data\":5}}]",
            "[{\"type\":\"tool_use\",\"id\":5,\"name\":null,\"input\":\"x\"}]", "[{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"n\",\"input\":[1,2]}]",
            "[{\"type\":\"tool_result\",\"tool_use_id\":\"t\",\"content\":5}]", "[{\"type\":\"tool_result\",\"tool_use_id\":7,\"content\":[1,{\"type\":\"text\",\"text\":7}]}]",
            "[{\"type\":\"thinking\",\"thinking\":5}]", "[{\"type\":\"text\",\"text\":\"ok\"},{\"type\":\"tool_result\",\"content\":{}}]",
        ];
        foreach (var (content, i) in hostileContent.Select((c, i) => (c, i)))
        {
            yield return Json($"hostile content #{i} {Printable(content)}", Body(messages: $"[{{\"role\":\"user\",\"content\":{content}}}]"), reach: Reach.MayForward);
            yield return Json($"hostile content #{i} as system role", Body(messages: $"[{{\"role\":\"system\",\"content\":{content}}},{{\"role\":\"user\",\"content\":\"hi\"}}]"), reach: Reach.MayForward);
        }

        string[] hostileFields =
        [
            ",\"system\":[1]", ",\"system\":[null]", ",\"system\":[{\"type\":\"text\",\"text\":5}]", ",\"system\":[{\"type\":\"text\"}]", ",\"system\":[{\"text\":\"x-anthropic-billing-header: a\"},5]",
            ",\"tools\":[1]", ",\"tools\":[null]", ",\"tools\":[{\"name\":5}]", ",\"tools\":[{\"name\":\"t\",\"input_schema\":\"x\"}]", ",\"tools\":[{\"name\":\"t\",\"description\":5}]",
            ",\"thinking\":5", ",\"thinking\":\"enabled\"", ",\"tool_choice\":5", ",\"temperature\":\"hot\"", ",\"top_k\":[]", ",\"stop_sequences\":5", ",\"stop_sequences\":[1]", ",\"metadata\":5",
            ",\"thinking\":{\"type\":5,\"budget_tokens\":\"x\"}", ",\"output_config\":5,\"temperature\":\"x\"", ",\"output_config\":{\"effort\":5,\"format\":7},\"metadata\":[]",
        ];
        foreach (var (field, i) in hostileFields.Select((f, i) => (f, i)))
        {
            yield return Json($"hostile field #{i} {Printable(field)}", Body(extra: field), reach: Reach.MayForward);
        }

        // 3. Huge strings and numbers (below the body limit).
        var big = BodyLimit - 1024;
        // Refused by the gateway: a model name ends up in span names, metric tags and log lines.
        yield return Json("huge model name", Body(model: $"\"{new string('m', big)}\""));
        yield return Json("model name one character too long", Body(model: $"\"{new string('m', Requests.MessagesRequest.MaxModelLength + 1)}\""));
        yield return Json("huge stream string", Body(extra: $",\"stream\":\"{new string('s', big)}\""));
        yield return Json("huge key name only", $"{{\"{new string('k', big)}\":1}}");
        yield return Json("huge escaped model", Body(model: $"\"{string.Concat(Enumerable.Repeat("\\u0041", big / 6))}\""));
        yield return Json("huge max_tokens digits", Body(extra: $",\"max_tokens\":{new string('7', big)}").Replace("\"max_tokens\":64,", "", StringComparison.Ordinal));
        yield return Json("huge unterminated string", $"{{\"model\":\"{new string('u', big)}");
        yield return Json("huge role", Body(messages: $"[{{\"role\":{new string('1', big)},\"content\":\"x\"}}]"));
        yield return Json("many tiny messages of wrong type", Body(messages: "[" + string.Join(",", Enumerable.Repeat("0", big / 2)) + "]"));

        // 4. Deep nesting, far beyond the gateway's MaxDepth of 128.
        foreach (var depth in new[] { 129, 1000, 10_000 })
        {
            yield return Json($"nested arrays {depth}", new string('[', depth) + new string(']', depth));
            yield return Json($"nested objects {depth}", string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth));
            yield return Json($"nested content {depth}", Body(messages: $"[{{\"role\":\"user\",\"content\":{new string('[', depth)}{new string(']', depth)}}}]"));
            yield return Json($"nested system {depth}", Body(extra: $",\"system\":{new string('[', depth)}{new string(']', depth)}"));
        }

        yield return Json("nested unclosed 10000", new string('[', 10_000));
        yield return Json("nested tools 10000", Body(extra: $",\"tools\":[{{\"name\":\"t\",\"input_schema\":{string.Concat(Enumerable.Repeat("{\"a\":", 8000))}1{new string('}', 8000)}}}]"));

        // 5. Bytes that are not UTF-8 (or not UTF-8 JSON).
        byte[][] badBytes =
        [
            [0xff], [0xfe], [0xc0, 0x80], [0xc1, 0xbf], [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf], [0xf8, 0x88, 0x80, 0x80, 0x80],
            [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0xc3], [0x80], [0xe9], [0xf0, 0x9f, 0x98], [0xef, 0xbf, 0xbe, 0xff],
        ];
        foreach (var (bytes, i) in badBytes.Select((b, i) => (b, i)))
        {
            yield return Bytes($"invalid utf-8 #{i} in model", [.. "{\"model\":\"llama"u8, .. bytes, .. "\",\"max_tokens\":64,\"messages\":"u8, .. Encoding.UTF8.GetBytes(ValidMessages), .. "}"u8]);
            yield return Bytes($"invalid utf-8 #{i} in content", [.. "{\"model\":\"llama3.1:8b\",\"max_tokens\":64,\"messages\":[{\"role\":\"user\",\"content\":\"h"u8, .. bytes, .. "i\"}]}"u8]);
            yield return Bytes($"invalid utf-8 #{i} outside strings", [.. "{\"model\":\"llama3.1:8b\","u8, .. bytes, .. "\"max_tokens\":64,\"messages\":[]}"u8]);
        }

        yield return Bytes("utf-16le body with bom", [0xff, 0xfe, .. Encoding.Unicode.GetBytes(Body())]);
        yield return Bytes("utf-16be body with bom", [0xfe, 0xff, .. Encoding.BigEndianUnicode.GetBytes(Body())]);
        yield return Bytes("utf-32 body", Encoding.UTF32.GetBytes(Body()));
        yield return Bytes("nul bytes between tokens", [.. "{\"model\":\"llama3.1:8b\",\0\"max_tokens\":64}"u8]);
        yield return Bytes("gzip body without content-encoding", Gzip(Encoding.UTF8.GetBytes(Body())));
        yield return new Case("gzip body with content-encoding gzip", Reach.Refused, (rig, ct) =>
        {
            var content = new ByteArrayContent(Gzip(Encoding.UTF8.GetBytes(Body())));
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            content.Headers.ContentEncoding.Add("gzip");
            return SendHttp(rig, HttpMethod.Post, "/v1/messages", content, ct);
        });

        // 6. Bodies above Gateway:MaxRequestBodyBytes (413 request_too_large).
        foreach (var size in new[] { BodyLimit + 1, BodyLimit * 2, 1024 * 1024 })
        {
            var padded = Body(extra: $",\"metadata\":{{\"pad\":\"{new string('p', size)}\"}}");
            // Answered 413 before the body is read; Kestrel then closes the connection, which HttpClient reports as a
            // failed send for bodies larger than the socket buffers, so the larger ones go over a raw socket.
            yield return size <= BodyLimit * 2
                ? Json($"oversized {size} with content-length", padded)
                : new Case($"oversized {size} with content-length", Reach.Refused, (rig, ct) =>
                    RawRequest(rig, "POST", "/v1/messages", ["Content-Type: application/json"], Encoding.UTF8.GetBytes(padded), ct));
            yield return new Case($"oversized {size} chunked", Reach.Refused, (rig, ct) =>
                RawRequest(rig, "POST", "/v1/messages", ["Content-Type: application/json", "Transfer-Encoding: chunked"], Chunked(Encoding.UTF8.GetBytes(padded)), ct, contentLength: false));
        }

        yield return new Case("content-length claims 100 MB", Reach.Refused, (rig, ct) =>
            RawRequest(rig, "POST", "/v1/messages", ["Content-Type: application/json", "Content-Length: 100000000"], "{\"model\""u8.ToArray(), ct));
        yield return new Case("expect 100-continue with 10 MB length", Reach.Refused, (rig, ct) =>
            RawRequest(rig, "POST", "/v1/messages", ["Content-Type: application/json", "Content-Length: 10000000", "Expect: 100-continue"], [], ct));

        // 7. Missing content.
        yield return Json("empty body", "");
        yield return Json("whitespace body", "   \r\n\t ");
        yield return Bytes("bom only", [0xef, 0xbb, 0xbf]);
        yield return new Case("post without content", Reach.Refused, (rig, ct) => SendHttp(rig, HttpMethod.Post, "/v1/messages", null, ct));
        yield return new Case("post without content count_tokens", Reach.Refused, (rig, ct) => SendHttp(rig, HttpMethod.Post, "/v1/messages/count_tokens", null, ct));
        yield return new Case("content-length shorter than body", Reach.Refused, (rig, ct) =>
            RawRequest(rig, "POST", "/v1/messages", ["Content-Type: application/json", "Content-Length: 10"], Encoding.UTF8.GetBytes(Body()), ct));

        // 8. Wrong content types, with bodies in those types.
        (string Type, byte[] Body)[] wrongTypes =
        [
            ("text/plain", "please answer: hello"u8.ToArray()),
            ("application/xml", "<messages><message role=\"user\">hi</message></messages>"u8.ToArray()),
            ("application/x-www-form-urlencoded", "model=llama3.1%3A8b&max_tokens=64&messages=hi"u8.ToArray()),
            ("multipart/form-data; boundary=xyz", "--xyz\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nllama3.1:8b\r\n--xyz--\r\n"u8.ToArray()),
            ("application/octet-stream", [0x00, 0x01, 0x02, 0xff, 0xfe, 0x7b]),
            ("image/png", [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d]),
            ("application/json; charset=utf-16", Encoding.Unicode.GetBytes(Body())),
            ("application/cbor", [0xa1, 0x65, 0x6d, 0x6f, 0x64, 0x65, 0x6c, 0x01]),
        ];
        foreach (var (type, bytes) in wrongTypes)
        {
            yield return new Case($"content-type {type}", Reach.Refused, (rig, ct) =>
            {
                var content = new ByteArrayContent(bytes);
                content.Headers.TryAddWithoutValidation("Content-Type", type);
                return SendHttp(rig, HttpMethod.Post, "/v1/messages", content, ct);
            });
        }

        // 9. Methods other than POST.
        foreach (var method in new[] { "GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "PROPFIND", "FOO" })
        {
            foreach (var path in new[] { "/v1/messages", "/v1/messages/count_tokens" })
            {
                yield return new Case($"{method} {path}", Reach.Refused, (rig, ct) =>
                    SendHttp(rig, new HttpMethod(method), path, method is "GET" or "HEAD" or "TRACE" ? null : new StringContent(Body(), Encoding.UTF8, "application/json"), ct));
            }
        }

        // 10. Missing or wrong credentials.
        foreach (var (name, header, value) in new[]
        {
            ("no credentials", "", ""),
            ("wrong bearer", "Authorization", "Bearer not-the-stack-token"),
            ("empty bearer", "Authorization", "Bearer "),
            ("basic auth", "Authorization", "Basic " + Convert.ToBase64String("user:stack-token-for-tests-0123456789"u8.ToArray())),
            ("wrong x-api-key", "x-api-key", "sk-ant-wrong"),
            ("token with suffix", "Authorization", $"Bearer {GatewayHost.StackToken}x"),
            ("token prefix", "Authorization", $"Bearer {GatewayHost.StackToken[..^1]}"),
        })
        {
            yield return new Case($"auth: {name}", Reach.Refused, async (rig, ct) =>
            {
                using var client = new HttpClient { BaseAddress = rig.Gateway.BaseAddress, Timeout = Rig.Bound };
                var request = Rig.Post("/v1/messages", Body());
                if (header.Length > 0)
                {
                    request.Headers.TryAddWithoutValidation(header, value);
                }

                var answer = await Rig.SendAsync(client, request, ct);
                return ((int)answer.Status, answer.Text);
            });
        }

        yield return new Case("auth: two x-api-key values", Reach.Refused, (rig, ct) =>
            RawRequest(rig, "POST", "/v1/messages", ["Content-Type: application/json", "x-api-key: a", $"x-api-key: {GatewayHost.StackToken}"], Encoding.UTF8.GetBytes(Body()), ct, withToken: false));

        // 11. Paths the gateway does not serve.
        foreach (var path in new[] { "/v1/message", "/v2/messages", "/v1/messages/batches", "/v1/complete", "/api/chat", "/v1/models", "/v1/messages/count_tokens/x", "/v1/messages%00", "/v1/messages/..%2f..%2fapi/chat" })
        {
            yield return new Case($"path {path}", Reach.Refused, (rig, ct) =>
                SendHttp(rig, HttpMethod.Post, path, new StringContent(Body(), Encoding.UTF8, "application/json"), ct));
        }

        // 12. Malformed HTTP and header injection, over a raw socket (HttpClient refuses to send these).
        var json = Encoding.UTF8.GetBytes(Body());
        foreach (var (name, head) in new (string, string)[]
        {
            ("bare CR in header value", "anthropic-beta: a\rx-api-key: injected\r\n"),
            ("bare CR in session id", "x-claude-code-session-id: abc\rdef\r\n"),
            ("NUL in header value", "anthropic-version: 2023-06-01\0evil\r\n"),
            ("obs-fold continuation", "anthropic-beta: a\r\n  folded: value\r\n"),
            ("space in header name", "Bad Header: x\r\n"),
            ("header without colon", "NoColonHere\r\n"),
            ("empty header name", ": value\r\n"),
            ("CR in Host", "X-Forwarded-Host: a\rb\r\n"),
            ("CL and TE both", "Transfer-Encoding: chunked\r\n"),
            ("two different content-lengths", "Content-Length: 5\r\nContent-Length: 6\r\n"),
            ("transfer-encoding gzip only", "Transfer-Encoding: gzip\r\n"),
            ("negative content-length", "Content-Length: -1\r\n"),
            ("non-numeric content-length", "Content-Length: abc\r\n"),
            ("header 40 KB", $"anthropic-beta: {new string('x', 40 * 1024)}\r\n"),
            ("150 headers", string.Concat(Enumerable.Range(0, 150).Select(i => $"x-h{i}: v\r\n"))),
        })
        {
            yield return new Case($"raw: {name}", Reach.Refused, (rig, ct) =>
                RawRequest(rig, "POST", "/v1/messages", ["Content-Type: application/json", head.TrimEnd('\n').TrimEnd('\r')], json, ct,
                    contentLength: !name.StartsWith("negative", StringComparison.Ordinal) && !name.StartsWith("non-numeric", StringComparison.Ordinal)));
        }

        yield return new Case("raw: invalid chunk size", Reach.Refused, (rig, ct) =>
            RawRequest(rig, "POST", "/v1/messages", ["Content-Type: application/json", "Transfer-Encoding: chunked"], "zz\r\nabc\r\n0\r\n\r\n"u8.ToArray(), ct, contentLength: false));
        yield return new Case("raw: chunk longer than declared", Reach.Refused, (rig, ct) =>
            RawRequest(rig, "POST", "/v1/messages", ["Content-Type: application/json", "Transfer-Encoding: chunked"], "2\r\nabcdef\r\n0\r\n\r\n"u8.ToArray(), ct, contentLength: false));
        foreach (var (name, requestLine) in new[]
        {
            ("request line extra token", "POST /v1/messages HTTP/1.1 extra"),
            ("request line double space", "POST  /v1/messages HTTP/1.1"),
            // (An unknown version such as HTTP/1.x gets Kestrel's 505 before the gateway sees it: not part of this table.)
            ("request target not absolute", "POST v1/messages HTTP/1.1"),
            ("request target with CR", "POST /v1/mes\rsages HTTP/1.1"),
            ("request target 20 KB", $"POST /v1/messages?{new string('q', 20 * 1024)} HTTP/1.1"),
            ("no Host header", "POST /v1/messages HTTP/1.1"),
        })
        {
            yield return new Case($"raw: {name}", Reach.Refused, (rig, ct) =>
            {
                var host = name == "no Host header" ? "" : "Host: localhost\r\n";
                var text = $"{requestLine}\r\n{host}Authorization: Bearer {GatewayHost.StackToken}\r\nContent-Type: application/json\r\nContent-Length: {json.Length}\r\nConnection: close\r\n\r\n";
                return RawVerbatim(rig, [.. Encoding.Latin1.GetBytes(text), .. json], ct);
            });
        }
    }

    private static Case Json(string name, string body, string path = "/v1/messages", Reach reach = Reach.Refused) =>
        Bytes(name, Encoding.UTF8.GetBytes(body), path, reach);

    private static Case Bytes(string name, byte[] body, string path = "/v1/messages", Reach reach = Reach.Refused) =>
        new(name, reach, (rig, ct) =>
        {
            var content = new ByteArrayContent(body);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            return SendHttp(rig, HttpMethod.Post, path, content, ct);
        });

    private static async Task<(int, string)> SendHttp(Rig rig, HttpMethod method, string path, HttpContent? content, CancellationToken ct)
    {
        var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative)) { Content = content };
        request.Headers.Add("anthropic-version", "2023-06-01");
        var answer = await Rig.SendAsync(rig.Client, request, ct);
        return ((int)answer.Status, answer.Text);
    }

    private static async Task<(int, string)> RawRequest(Rig rig, string method, string path, string[] headers, byte[] body, CancellationToken ct, bool withToken = true, bool contentLength = true)
    {
        var head = new StringBuilder($"{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
        if (withToken)
        {
            head.Append("Authorization: Bearer ").Append(GatewayHost.StackToken).Append("\r\n");
        }

        var declaresLength = headers.Any(h => h.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
        if (contentLength && !declaresLength)
        {
            head.Append("Content-Length: ").Append(body.Length).Append("\r\n");
        }

        foreach (var header in headers)
        {
            head.Append(header).Append("\r\n");
        }

        head.Append("\r\n");
        return await RawVerbatim(rig, [.. Encoding.Latin1.GetBytes(head.ToString()), .. body], ct);
    }

    /// <summary>
    /// Malformed HTTP is refused by Kestrel before any of the gateway's code runs (an empty 400, 414 or 431), and a HEAD
    /// answer has no body by HTTP's rules; every other refusal is the gateway's and carries an Anthropic error.
    /// </summary>
    private static bool KestrelAnswersWithoutBody(string caseName) =>
        caseName.StartsWith("raw: ", StringComparison.Ordinal) || caseName.StartsWith("HEAD ", StringComparison.Ordinal) || caseName == "path /v1/messages%00";

    /// <summary>Status and body of a raw exchange (the body is what follows the header block).</summary>
    private static async Task<(int, string)> RawVerbatim(Rig rig, byte[] request, CancellationToken ct)
    {
        var (status, response) = await RawHttp.SendAsync(rig.Gateway.BaseAddress, request, ct);
        var split = response.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var body = split < 0 ? "" : response[(split + 4)..];
        if (response.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase))
        {
            body = Unchunk(body);
        }

        return (status, Encoding.UTF8.GetString(Encoding.Latin1.GetBytes(body)));
    }

    private static string Unchunk(string chunked)
    {
        var result = new StringBuilder();
        var position = 0;
        while (position < chunked.Length)
        {
            var lineEnd = chunked.IndexOf("\r\n", position, StringComparison.Ordinal);
            if (lineEnd < 0 || !int.TryParse(chunked.AsSpan(position, lineEnd - position), System.Globalization.NumberStyles.HexNumber, null, out var size) || size == 0)
            {
                break;
            }

            result.Append(chunked, lineEnd + 2, Math.Min(size, chunked.Length - lineEnd - 2));
            position = lineEnd + 2 + size + 2;
        }

        return result.ToString();
    }

    private static byte[] Chunked(byte[] body)
    {
        using var buffer = new MemoryStream();
        for (var offset = 0; offset < body.Length; offset += 8192)
        {
            var size = Math.Min(8192, body.Length - offset);
            buffer.Write(Encoding.ASCII.GetBytes($"{size:x}\r\n"));
            buffer.Write(body, offset, size);
            buffer.Write("\r\n"u8);
        }

        buffer.Write("0\r\n\r\n"u8);
        return buffer.ToArray();
    }

    private static byte[] Gzip(byte[] bytes)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest))
        {
            gzip.Write(bytes);
        }

        return buffer.ToArray();
    }

    private static string Printable(string text)
    {
        var shown = text.Length > 40 ? text[..40] + "…" : text;
        return string.Concat(shown.Select(c => c < 0x20 ? $"\\x{(int)c:x2}" : c.ToString()));
    }
}
