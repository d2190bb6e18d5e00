using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using ClaudeStack.Gateway.Telemetry;
using ClaudeStack.Gateway.Tests.Support;
using ClaudeStack.ScriptedUpstream;
using Xunit;

namespace ClaudeStack.Gateway.Tests.Reliability;

/// <summary>
/// Issue 6, secrets: with content capture on, neither the stack token nor the upstream API key reaches any exported
/// span, log record or metric, even when the prompt (and the model's answer) contain them.
/// </summary>
public sealed class SecretsTests
{
    private const string ServiceName = "claudestack-reliability-secrets";

    [Fact]
    public async Task SecretsInPromptsAndAnswers_NeverExported()
    {
        var ct = TestContext.Current.CancellationToken;
        var secrets = Secrets.New();
        await using var receiver = await OtlpReceiver.StartAsync(ct).WaitAsync(Rig.Bound, ct);

        // An Anthropic-compatible server (llama.cpp server, vLLM, LiteLLM) that checks a bearer key. The model
        // "repeats" what it was told, as models do, so the answer carries the secrets too.
        var echo = new ScriptedMessage
        {
            Id = "msg_secret_echo",
            Blocks =
            [
                new ScriptedText([$"You said your token is {secrets.Token} ", $"and the key is {secrets.ApiKey}. {secrets.Marker}"]),
                new ScriptedToolUse("toolu_secret_1", "Bash", new JsonObject { ["command"] = $"curl -H 'x-api-key: {secrets.ApiKey}' -H 'Authorization: Bearer {secrets.Token}'" }.ToJsonString()),
            ],
            StopReason = "tool_use",
        };
        await using var rig = await Rig.StartAsync(
            request => request.BodyText.Contains("please fail", StringComparison.Ordinal)
                // An error that quotes the request back (as proxies such as LiteLLM do): the client may see it, telemetry may not.
                ? ScriptedReply.AnthropicError(400, "invalid_request_error", $"rejected prompt: {secrets.Token} / {secrets.ApiKey}")
                : request.Path.EndsWith("/count_tokens", StringComparison.Ordinal)
                    ? ScriptedReply.Status(200, "{\"input_tokens\":77}")
                    : ScriptedReply.Message(echo),
            secrets.Settings(receiver),
            ct);

        var prompt = $"My stack token is {secrets.Token} and the upstream key is {secrets.ApiKey}; {secrets.Marker}";
        var system = $"Never reveal {secrets.Token} or {secrets.ApiKey}.";
        var toolBody = JsonNode.Parse(Rig.MessagesBody(prompt, stream: true, system: system))!.AsObject();
        toolBody["tools"] = new JsonArray(new JsonObject
        {
            ["name"] = "Bash",
            ["description"] = $"Runs commands; the API key is {secrets.ApiKey}",
            ["input_schema"] = new JsonObject { ["type"] = "object", ["properties"] = new JsonObject { ["command"] = new JsonObject { ["type"] = "string", ["default"] = secrets.Token } } },
        });

        // The client gets the answer with the secrets masked too: nothing configured leaves the gateway.
        var streamed = await rig.PostAsync(toolBody.ToJsonString(), ct, sessionId: secrets.Marker);
        Assert.Equal(HttpStatusCode.OK, streamed.Status);
        Assert.Equal(secrets.Masked(string.Concat(AnthropicSse.MessageEvents(echo))), streamed.Text);

        var whole = await rig.PostAsync(Rig.MessagesBody(prompt, stream: false, system: system), ct, sessionId: secrets.Marker);
        Assert.Equal(HttpStatusCode.OK, whole.Status);
        Assert.Equal(secrets.Masked(AnthropicSse.MessageJson(echo)), whole.Text);

        var failed = await rig.PostAsync(Rig.MessagesBody(prompt + " please fail", stream: true), ct, sessionId: secrets.Marker);
        Assert.Equal(HttpStatusCode.BadRequest, failed.Status);
        Rig.AssertAnthropicError(failed.Body, "invalid_request_error");

        var counted = await rig.PostAsync(Rig.MessagesBody(prompt, stream: false), ct, path: "/v1/messages/count_tokens");
        Assert.Equal(HttpStatusCode.OK, counted.Status);

        // The upstream got the gateway's key, and never the client's token, in any header.
        var upstreamRequests = rig.Upstream!.Requests;
        Assert.Equal(4, upstreamRequests.Count);
        Assert.All(upstreamRequests, request =>
        {
            Assert.Equal(secrets.ApiKey, request.Header("x-api-key"));
            Assert.Equal($"Bearer {secrets.ApiKey}", request.Header("authorization"));
            Assert.DoesNotContain(request.Headers, h => h.Value.Contains(secrets.Token, StringComparison.Ordinal));
        });

        // Content capture is on and recorded the prompt, with both secrets masked.
        var spans = await rig.Spans.WaitForAsync(4 - 1, ct, Rig.Bound); // count_tokens is not a model call span
        var captured = spans.Select(s => s.GetTagItem(TelemetryNames.Attributes.InputMessages) as string).Where(s => s is not null).ToList();
        Assert.NotEmpty(captured);
        Assert.All(captured, text => Assert.Contains(SecretRedactor.Mask, text!, StringComparison.Ordinal));

        // Let at least one periodic metric export happen, then stop the gateway: stopping flushes all three providers.
        await receiver.WaitForSpansAsync(s => s.Attributes.GetString(TelemetryNames.Attributes.ConversationId) == secrets.Marker, 3, Rig.Bound, ct);
        await receiver.WaitForMetricsAsync(m => m.ServiceName == ServiceName && m.Name == TelemetryNames.Metrics.TokenUsage, 1, Rig.Bound, ct);
        await rig.DisposeAsync();
        await receiver.WaitForLogsAsync(l => l.ServiceName == ServiceName && l.CategoryName.StartsWith("ClaudeStack.Gateway", StringComparison.Ordinal), 1, Rig.Bound, ct);

        AssertNothingExported(receiver, secrets);

        // The exported span still carries the (masked) content and the marker, so the search above saw real content.
        var exported = receiver.Spans.Where(s => s.Attributes.GetString(TelemetryNames.Attributes.ConversationId) == secrets.Marker).ToList();
        Assert.Contains(exported, s => s.Attributes.GetString(TelemetryNames.Attributes.InputMessages)?.Contains(secrets.Marker, StringComparison.Ordinal) == true);
        Assert.Contains(exported, s => s.Attributes.GetString(TelemetryNames.Attributes.OutputMessages)?.Contains(SecretRedactor.Mask, StringComparison.Ordinal) == true);
        Assert.Contains(exported, s => s.Attributes.GetString(TelemetryNames.Attributes.SystemInstructions)?.Contains(SecretRedactor.Mask, StringComparison.Ordinal) == true);
        Assert.Contains(exported, s => s.Attributes.GetString(TelemetryNames.Attributes.ToolDefinitions)?.Contains(SecretRedactor.Mask, StringComparison.Ordinal) == true);
    }

    /// <summary>
    /// An upstream whose mid-stream <c>event: error</c> quotes a secret (an auth proxy echoing the key it rejected,
    /// or a server quoting the prompt): the message becomes the span status and the failure log, so it must be masked
    /// there and in what the client receives; a type that is not one of the Messages API's is recorded as api_error.
    /// </summary>
    [Fact]
    public async Task UpstreamErrorEventQuotingSecrets_NotExported()
    {
        var ct = TestContext.Current.CancellationToken;
        var secrets = Secrets.New();
        await using var receiver = await OtlpReceiver.StartAsync(ct).WaitAsync(Rig.Bound, ct);
        var start = AnthropicSse.MessageEvents(ScriptedMessage.Text("partial"));
        // Even the error's type, which the span and the metrics record, quotes the key.
        var errorEvent = AnthropicSse.Event("error", JsonNode.Parse(AnthropicSse.ErrorJson($"key_error {secrets.ApiKey}", $"upstream failed for key {secrets.ApiKey} on prompt '{secrets.Token}'"))!);
        await using var rig = await Rig.StartAsync(_ => ScriptedReply.Events([.. start.Take(3), errorEvent]), secrets.Settings(receiver), ct);

        var answer = await rig.PostAsync(Rig.MessagesBody($"{secrets.Token} {secrets.Marker}"), ct, sessionId: secrets.Marker);
        Assert.Equal(HttpStatusCode.OK, answer.Status);

        // The client gets the error event too, masked: the key is the gateway's, never the client's to see.
        Assert.EndsWith(secrets.Masked(errorEvent), answer.Text, StringComparison.Ordinal);
        var span = await rig.SingleSpanAsync(ct);
        Rig.AssertFailedSpan(span, "api_error");

        await receiver.WaitForSpansAsync(s => s.Attributes.GetString(TelemetryNames.Attributes.ConversationId) == secrets.Marker, 1, Rig.Bound, ct);
        await rig.DisposeAsync();
        await receiver.WaitForLogsAsync(l => l.ServiceName == ServiceName && l.CategoryName.StartsWith("ClaudeStack.Gateway", StringComparison.Ordinal), 1, Rig.Bound, ct);
        AssertNothingExported(receiver, secrets);
    }

    /// <summary>
    /// An upstream that rejects the gateway's key and quotes it back (auth proxies and some compatible servers do), in
    /// whatever shape, or a model that repeats a key it was shown: the client never gets the gateway's upstream key,
    /// whether it asked for a stream, a whole answer or a token count. The key holds a '+', which JSON writers escape.
    /// </summary>
    [Theory]
    [InlineData("anthropic-error", "/v1/messages", true)]
    [InlineData("anthropic-error", "/v1/messages", false)]
    [InlineData("anthropic-error", "/v1/messages/count_tokens", false)]
    [InlineData("foreign-json-error", "/v1/messages", true)]
    [InlineData("foreign-json-error", "/v1/messages", false)]
    [InlineData("long-text-error", "/v1/messages", false)]
    [InlineData("error-event-with-string-error", "/v1/messages", true)]
    [InlineData("error-event-with-text", "/v1/messages", true)]
    [InlineData("model-echo", "/v1/messages", true)]
    [InlineData("model-echo", "/v1/messages", false)]
    [InlineData("gzipped-model-echo", "/v1/messages", true)]
    [InlineData("gzipped-model-echo", "/v1/messages", false)]
    [InlineData("header-echo", "/v1/messages", true)]
    [InlineData("header-echo", "/v1/messages", false)]
    [InlineData("header-echo", "/v1/messages/count_tokens", false)]
    [InlineData("header-echo-on-answer", "/v1/messages", true)]
    [InlineData("header-name-echo", "/v1/messages", false)]
    [InlineData("header-name-echo", "/v1/messages/count_tokens", false)]
    [InlineData("header-name-echo-recased", "/v1/messages", false)]
    [InlineData("oversized-event-echo", "/v1/messages", true)]
    [InlineData("json-answer-with-escaped-key", "/v1/messages", true)]
    [InlineData("json-answer-with-escaped-key", "/v1/messages", false)]
    public async Task UpstreamKey_NeverReachesTheClient(string reply, string path, bool stream)
    {
        var ct = TestContext.Current.CancellationToken;
        var secrets = Secrets.New() with { ApiKey = "sk-up+" + Guid.NewGuid().ToString("N") };
        await using var receiver = await OtlpReceiver.StartAsync(ct).WaitAsync(Rig.Bound, ct);
        var settings = secrets.Settings(receiver);

        // The anthropic profile: count_tokens errors are passed on rather than answered with an estimate.
        settings["Gateway:Upstream:Profile"] = "anthropic";
        var key = secrets.ApiKey;
        var start = AnthropicSse.MessageEvents(ScriptedMessage.Text("partial")).Take(3);
        ScriptedReply Script(UpstreamRequest request) => reply switch
        {
            "anthropic-error" => ScriptedReply.AnthropicError(401, "authentication_error", $"invalid x-api-key: {request.Header("x-api-key")}"),
            "foreign-json-error" => ScriptedReply.Status(401, $"{{\"error\":{{\"message\":\"Incorrect API key provided: {key}\"}}}}"),
            "long-text-error" => ScriptedReply.Status(403, new string('x', 1970) + " bad key " + key, "text/plain"),
            "error-event-with-string-error" => ScriptedReply.Events([.. start, $"event: error\ndata: {{\"type\":\"error\",\"error\":\"invalid x-api-key: {key}\"}}\n\n"]),
            "error-event-with-text" => ScriptedReply.Events([.. start, $"event: error\ndata: invalid x-api-key: {key}\n\n"]),
            "gzipped-model-echo" => ScriptedReply.Gzipped(ScriptedMessage.Text($"The key you pasted is {key}.")),
            "header-echo" => ScriptedReply.AnthropicError(401, "authentication_error", "invalid x-api-key", ("www-authenticate", $"Bearer error_description=\"invalid key {key}\""), ("request-id", key)),
            "header-name-echo" => ScriptedReply.AnthropicError(401, "authentication_error", $"invalid x-api-key: {key}", ($"x-rejected-{key}", "1")),
            "header-name-echo-recased" => ScriptedReply.AnthropicError(401, "authentication_error", $"invalid x-api-key: {key}", ($"X-Rejected-{key.ToUpperInvariant()}", "1")),
            "header-echo-on-answer" => ScriptedReply.Custom(async (context, _, token) =>
            {
                context.Response.Headers["x-debug-key"] = key;
                context.Response.ContentType = "text/event-stream";
                foreach (var sseEvent in AnthropicSse.MessageEvents(ScriptedMessage.Text("hello")))
                {
                    await context.Response.Body.WriteAsync(System.Text.Encoding.UTF8.GetBytes(sseEvent), token);
                }
            }),
            // A compatible server that ignores "stream" and whose JSON writer escapes '+' in lowercase hex (Go's does),
            // the key in a tool's input: a streaming client gets that input as a string of JSON, escaped once more.
            "json-answer-with-escaped-key" => ScriptedReply.Status(200, AnthropicSse.MessageJson(ScriptedMessage.ToolUse("Bash", "{\"command\":\"echo KEY\"}")).Replace("KEY", key.Replace("+", "\\u002b", StringComparison.Ordinal), StringComparison.Ordinal)),
            "oversized-event-echo" => ScriptedReply.Chunks(CutInsideEachKey(OversizedEcho(key), key), interval: TimeSpan.FromMilliseconds(2)),
            _ => ScriptedReply.Message(ScriptedMessage.Text($"The key you pasted is {key}.")),
        };
        await using var rig = await Rig.StartAsync(Script, settings, ct);

        var answer = await rig.PostAsync(Rig.MessagesBody("hello", stream: stream), ct, path: path);

        var headers = string.Join("\n", answer.Headers.Concat(answer.ContentHeaders).Select(h => $"{h.Key}: {string.Join(", ", h.Value)}"));
        var seen = answer.Text + "\n" + headers;
        Assert.NotEqual(HttpStatusCode.InternalServerError, answer.Status);
        Assert.Contains(SecretRedactor.Mask, seen, StringComparison.Ordinal);
        Assert.DoesNotContain(key, Unescaped(seen), StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(key[..12], seen, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(key, rig.Upstream!.Requests.Single().Header("x-api-key"));
    }

    /// <summary>
    /// The stack token typed where the client controls more than the prompt: the model name, the session id, the URL's
    /// path and query, the Host, the user agent, an extra header. The gateway exports none of it and forwards none of
    /// it in a header or the URL; only the body (the user's own content, for the user's own model server) goes as sent.
    /// </summary>
    [Fact]
    public async Task TokenInModelNameUrlAndHeaders_NeitherExportedNorForwarded()
    {
        var ct = TestContext.Current.CancellationToken;
        var secrets = Secrets.New();
        await using var receiver = await OtlpReceiver.StartAsync(ct).WaitAsync(Rig.Bound, ct);
        var modelWithToken = $"llama3.1:{secrets.Token}";

        // A model server that names the model it ran, as Ollama and compatible servers do (so the answer's model is the token too).
        await using var rig = await Rig.StartAsync(
            request => request.BodyText.Contains("please fail", StringComparison.Ordinal)
                ? ScriptedReply.AnthropicError(404, "not_found_error", "model not found")
                : ScriptedReply.Message(ScriptedMessage.Text("done") with { Model = modelWithToken }),
            secrets.Settings(receiver),
            ct);

        // This client runs in the gateway's process: its own HttpClient spans (url.full as typed) would be the test's
        // telemetry, not the gateway's, so it makes none.
        using var client = new HttpClient(new SocketsHttpHandler { ActivityHeadersPropagator = null }) { BaseAddress = rig.Gateway.BaseAddress };
        client.DefaultRequestHeaders.Authorization = rig.Client.DefaultRequestHeaders.Authorization;
        HttpRequestMessage Request(string path, string body)
        {
            var request = Rig.Post(path, body, sessionId: $"session-{secrets.Token}");
            request.Headers.UserAgent.ParseAdd($"claude-cli/2.1.329 ({secrets.Token})");
            request.Headers.Add("anthropic-beta", $"fine-grained-tool-streaming-2025-05-14,{secrets.Token}");
            return request;
        }

        var streamed = await Rig.SendAsync(client, Request($"/v1/messages?beta=true&key={secrets.Token}", Rig.MessagesBody(secrets.Marker, stream: true, model: modelWithToken)), ct);
        Assert.Equal(HttpStatusCode.OK, streamed.Status);
        var whole = await Rig.SendAsync(client, Request("/v1/messages?beta=true", Rig.MessagesBody(secrets.Marker, stream: false, model: modelWithToken)), ct);
        Assert.Equal(HttpStatusCode.OK, whole.Status);
        var failed = await Rig.SendAsync(client, Request("/v1/messages", Rig.MessagesBody(secrets.Marker + " please fail", stream: false, model: modelWithToken)), ct);
        Assert.Equal(HttpStatusCode.NotFound, failed.Status);
        var unknownPath = await Rig.SendAsync(client, Request($"/v1/{secrets.Token}/messages", Rig.MessagesBody(secrets.Marker)), ct);
        Assert.Equal(HttpStatusCode.NotFound, unknownPath.Status);
        // The Host header too (sent raw: HttpClient's own metrics would record it as the server it called).
        var hostBody = Rig.MessagesBody(secrets.Marker, stream: false, model: modelWithToken);
        var (hostStatus, _) = await RawHttp.SendAsync(rig.Gateway.BaseAddress, Encoding.UTF8.GetBytes(
            $"POST /v1/messages HTTP/1.1\r\nHost: {secrets.Token}.localhost\r\nAuthorization: Bearer {secrets.Token}\r\nContent-Type: application/json\r\n" +
            $"x-claude-code-session-id: session-{secrets.Token}\r\nContent-Length: {Encoding.UTF8.GetByteCount(hostBody)}\r\nConnection: close\r\n\r\n{hostBody}"), ct);
        Assert.Equal(200, hostStatus);
        var counted = await Rig.SendAsync(client, Request($"/v1/messages/count_tokens?key={secrets.Token}", Rig.MessagesBody(secrets.Marker, stream: false, model: modelWithToken)), ct);
        Assert.Equal(HttpStatusCode.OK, counted.Status);

        // Headers and URL reach the upstream masked; the masked query still carries the client's other parameters.
        var upstreamRequests = rig.Upstream!.Requests;
        Assert.NotEmpty(upstreamRequests);
        Assert.All(upstreamRequests, request =>
        {
            Assert.DoesNotContain(secrets.Token, request.PathAndQuery, StringComparison.Ordinal);
            Assert.DoesNotContain(request.Headers, h => h.Value.Contains(secrets.Token, StringComparison.Ordinal));
        });
        Assert.Contains(upstreamRequests, request => request.PathAndQuery.StartsWith("/v1/messages?beta=true&key=", StringComparison.Ordinal));
        Assert.Contains(upstreamRequests, request => request.Header("anthropic-beta") == $"fine-grained-tool-streaming-2025-05-14,{SecretRedactor.Mask}");

        // The chat spans are there, named after the masked model, and carry the (masked) session as the conversation.
        await receiver.WaitForSpansAsync(s => s.Attributes.GetString(TelemetryNames.Attributes.ConversationId) == $"session-{SecretRedactor.Mask}", 4, Rig.Bound, ct);
        await receiver.WaitForMetricsAsync(m => m.ServiceName == ServiceName && m.Name == TelemetryNames.Metrics.TokenUsage, 1, Rig.Bound, ct);
        await rig.DisposeAsync();
        await receiver.WaitForLogsAsync(l => l.ServiceName == ServiceName && l.CategoryName.StartsWith("ClaudeStack.Gateway", StringComparison.Ordinal), 1, Rig.Bound, ct);
        AssertNothingExported(receiver, secrets);
        Assert.Contains(receiver.Spans, s => s.Name == $"chat llama3.1:{SecretRedactor.Mask}");
    }

    private static void AssertNothingExported(OtlpReceiver receiver, Secrets secrets)
    {
        var requests = receiver.Requests;
        Assert.Contains(requests, r => r.Signal == OtlpSignal.Traces);
        Assert.Contains(requests, r => r.Signal == OtlpSignal.Logs);
        Assert.Contains(requests, r => r.Signal == OtlpSignal.Metrics);
        foreach (var secret in new[] { secrets.Token, secrets.ApiKey })
        {
            var leaks = requests.Where(r => r.Body.AsSpan().IndexOf(Encoding.UTF8.GetBytes(secret)) >= 0).ToList();
            Assert.True(leaks.Count == 0, $"{(secret == secrets.Token ? "stack token" : "upstream API key")} exported in {leaks.Count} {string.Join(", ", leaks.Select(l => l.Signal))} request(s): " +
                string.Join(" | ", leaks.Select(l => Around(l.Body, secret))));
        }
    }

    /// <summary>
    /// A streamed answer whose one text delta repeats the key every 64 KB for 1.5 MiB: more than the gateway holds of an
    /// unfinished event, so the rest of it is relayed piece by piece as it arrives.
    /// </summary>
    private static byte[] OversizedEcho(string key)
    {
        var filler = new string('x', (64 * 1024) - key.Length);
        var text = string.Concat(Enumerable.Repeat(filler + key, 24));
        return Encoding.UTF8.GetBytes(string.Concat(AnthropicSse.MessageEvents(ScriptedMessage.Text(text))));
    }

    /// <summary>The stream cut into writes that each end halfway through a copy of the key (as JSON spells it).</summary>
    private static IEnumerable<byte[]> CutInsideEachKey(byte[] stream, string key)
    {
        // The part after the '+' is spelled the same whatever the JSON writer escapes.
        var tail = Encoding.UTF8.GetBytes(key[(key.IndexOf('+', StringComparison.Ordinal) + 1)..]);
        var from = 0;
        while (stream.AsSpan(from).IndexOf(tail) is var at and >= 0)
        {
            var cut = from + at + (tail.Length / 2);
            yield return stream[from..cut];
            from = cut;
        }

        yield return stream[from..];
    }

    /// <summary>The text with every level of JSON escaping of '+' undone, as a client decoding it (once or twice) reads it.</summary>
    private static string Unescaped(string text)
    {
        for (var previous = ""; previous != text;)
        {
            previous = text;
            text = text.Replace("\\\\", "\\", StringComparison.Ordinal).Replace("\\u002B", "+", StringComparison.OrdinalIgnoreCase);
        }

        return text;
    }

    /// <summary>The printable text around the first occurrence, to say where the leak is.</summary>
    private static string Around(byte[] body, string secret)
    {
        var at = body.AsSpan().IndexOf(Encoding.UTF8.GetBytes(secret));
        var from = Math.Max(0, at - 120);
        var text = Encoding.UTF8.GetString(body, from, Math.Min(body.Length - from, 120 + secret.Length + 40));
        return new string([.. text.Select(c => char.IsControl(c) ? '.' : c)]);
    }

    private sealed record Secrets(string Token, string ApiKey, string Marker)
    {
        public static Secrets New() => new(
            "stack-token-" + Guid.NewGuid().ToString("N"),
            "sk-upstream-" + Guid.NewGuid().ToString("N"),
            "marker-" + Guid.NewGuid().ToString("N"));

        /// <summary>What the client gets of a text holding both secrets.</summary>
        public string Masked(string text) => text
            .Replace(this.ApiKey, SecretRedactor.Mask, StringComparison.Ordinal)
            .Replace(this.Token, SecretRedactor.Mask, StringComparison.Ordinal);

        public Dictionary<string, string?> Settings(OtlpReceiver receiver)
        {
            var settings = receiver.ExporterSettings(ServiceName);
            settings["Gateway:Upstream:Profile"] = "anthropic-compatible";
            settings["Gateway:Upstream:ApiKey"] = this.ApiKey;
            settings["Gateway:StackToken"] = this.Token;
            settings[TelemetryNames.CaptureMessageContentKey] = "true";

            // The SDK reads these from IConfiguration: a metric export every 500 ms and quick batches.
            settings["OTEL_METRIC_EXPORT_INTERVAL"] = "500";
            settings["OTEL_BSP_SCHEDULE_DELAY"] = "250";
            settings["OTEL_BLRP_SCHEDULE_DELAY"] = "250";
            settings["OTEL_BSP_MAX_QUEUE_SIZE"] = "65536";
            return settings;
        }
    }
}
