using System.Text.Json;
using ClaudeStack.Gateway.Configuration;
using ClaudeStack.Gateway.Forwarding;
using ClaudeStack.Gateway.Requests;
using ClaudeStack.Gateway.Routing;
using ClaudeStack.Gateway.Streaming;
using ClaudeStack.Gateway.Telemetry;
using ClaudeStack.Gateway.Tokens;
using Microsoft.Extensions.Options;

namespace ClaudeStack.Gateway.Api;

/// <summary>
/// Handles one Messages API call from the client to the upstream.
/// </summary>
/// <remarks>
/// Steps: (1) read and validate the body, (2) route the model, (3) start the span, (4) adapt the request for the
/// upstream, (5) forward, (6) relay the response while observing it, (7) record usage.
/// Failures before the response starts become Anthropic error responses; after, an SSE error event.
/// </remarks>
public sealed class ModelCallHandler(
    UpstreamForwarder forwarder,
    ModelRouter router,
    IOptions<GatewayOptions> options,
    GatewayFeatures features,
    SecretRedactor redactor,
    TokenCalibration calibration,
    ILogger<ModelCallHandler> logger)
{
    private readonly GatewayOptions _options = options.Value;
    private UpstreamEndpoint Upstream => forwarder.Upstream;

    public async Task HandleMessagesAsync(HttpContext context)
    {
        var aborted = context.RequestAborted;

        // (1) Read and validate.
        var (body, readError) = await RequestBodyReader.ReadAsync(context.Request, _options.MaxRequestBodyBytes, aborted);
        if (readError is not null)
        {
            await readError.WriteAsync(context.Response, aborted);
            return;
        }

        var (request, parseError) = MessagesRequest.Parse(body);
        if (request is null)
        {
            await AnthropicError.BadRequest(parseError!).WriteAsync(context.Response, aborted);
            return;
        }

        using var _ = request;

        // (2) Route: a Claude name must never reach an upstream that does not have it.
        var route = router.Route(request.Model);
        if (route.Reason == RouteReason.Unmapped)
        {
            await UnmappedModel(route).WriteAsync(context.Response, aborted);
            return;
        }

        // (3) The span, child of the caller's trace.
        var headers = context.Request.Headers;
        using var call = ModelCallTelemetry.Start(
            Upstream, route, request.Stream, request.MaxTokens, headers["x-claude-code-session-id"].FirstOrDefault(),
            headers.TraceParent.FirstOrDefault(), headers.TraceState.FirstOrDefault(), logger);

        // (4) Adapt.
        var edits = new RequestEdits();
        if (route.WasMapped)
        {
            edits.Set("model", route.Routed);
        }

        var promptChars = TokenEstimator.CountPromptChars(request);
        var messageCount = TokenEstimator.MessageCount(request);
        if (!edits.IsEmpty)
        {
            call.SetTag(TelemetryNames.Attributes.RequestAdapted, edits.ChangedProperties.ToArray());
        }

        if (features.CaptureMessageContent && call.RecordsContent)
        {
            RecordInputContent(call, request);
        }

        var forwardBody = edits.Apply(request.Root, request.Body);

        // (5) Forward; keep a silent stream alive while the model prefills.
        await using var client = new ClientResponse(context.Response);
        if (request.Stream)
        {
            client.StartKeepAlive(features.KeepAliveAfter, features.KeepAliveInterval, aborted);
        }

        var result = await forwarder.SendAsync(HttpMethod.Post, "/v1/messages", context.Request.QueryString.Value, headers, forwardBody, _options.Upstream.ResponseTimeout, aborted);
        await client.StopKeepAliveAsync();
        if (result.Response is null)
        {
            await FailBeforeResponseAsync(client, call, result, aborted);
            return;
        }

        // (6) Relay.
        using var upstreamResponse = result.Response;
        var relay = new ResponseRelay(client, call, _options.Upstream.IdleTimeout);
        call.SetStatusCode((int)upstreamResponse.StatusCode);
        if (!upstreamResponse.IsSuccessStatusCode)
        {
            await relay.RelayErrorAsync(upstreamResponse, aborted);
            return;
        }

        var isStream = upstreamResponse.Content.Headers.ContentType?.MediaType == "text/event-stream";
        var response = isStream
            ? await relay.RelayStreamAsync(upstreamResponse, features.CaptureMessageContent, aborted)
            : await relay.RelayWholeAsync(upstreamResponse, aborted);

        // (7) Record.
        call.RecordResponse(response);
        if (features.CaptureMessageContent && call.RecordsContent)
        {
            call.SetTag(TelemetryNames.Attributes.OutputMessages, redactor.Redact(GenAiContent.OutputMessages(response)));
        }

        if (response.InputTokens is { } inputTokens && response.Completed)
        {
            calibration.Observe(route.Routed, promptChars, messageCount, inputTokens + (response.CacheReadInputTokens ?? 0));
        }
    }

    public async Task HandleCountTokensAsync(HttpContext context)
    {
        var aborted = context.RequestAborted;
        var (body, readError) = await RequestBodyReader.ReadAsync(context.Request, _options.MaxRequestBodyBytes, aborted);
        if (readError is not null)
        {
            await readError.WriteAsync(context.Response, aborted);
            return;
        }

        var (request, parseError) = MessagesRequest.Parse(body);
        if (request is null)
        {
            await AnthropicError.BadRequest(parseError!).WriteAsync(context.Response, aborted);
            return;
        }

        using var _ = request;
        var route = router.Route(request.Model);
        if (route.Reason == RouteReason.Unmapped)
        {
            await UnmappedModel(route).WriteAsync(context.Response, aborted);
            return;
        }

        // Ollama has no count_tokens; without an answer Claude Code falls back to max_tokens: 1 generations.
        if (Upstream.Profile != UpstreamProfile.Ollama)
        {
            var edits = route.WasMapped ? new RequestEdits().Set("model", route.Routed) : new RequestEdits();
            var result = await forwarder.SendAsync(HttpMethod.Post, "/v1/messages/count_tokens", context.Request.QueryString.Value, context.Request.Headers, edits.Apply(request.Root, request.Body), _options.Upstream.ResponseTimeout, aborted);
            using var upstreamResponse = result.Response;
            if (upstreamResponse is not null && (upstreamResponse.IsSuccessStatusCode || Upstream.Profile == UpstreamProfile.Anthropic))
            {
                context.Response.StatusCode = (int)upstreamResponse.StatusCode;
                context.Response.ContentType = upstreamResponse.Content.Headers.ContentType?.ToString() ?? "application/json";
                await upstreamResponse.Content.CopyToAsync(context.Response.Body, aborted);
                return;
            }
        }

        var estimate = calibration.Estimate(route.Routed, TokenEstimator.CountPromptChars(request), TokenEstimator.MessageCount(request));
        context.Response.Headers["x-claudestack-token-estimate"] = calibration.Observations(route.Routed) > 0 ? "calibrated" : "uncalibrated";
        await Results.Json(new { input_tokens = estimate }).ExecuteAsync(context);
    }

    private void RecordInputContent(ModelCallTelemetry call, MessagesRequest request)
    {
        if (request.System is { } system)
        {
            call.SetTag(TelemetryNames.Attributes.SystemInstructions, redactor.Redact(GenAiContent.SystemInstructions(system)));
        }

        call.SetTag(TelemetryNames.Attributes.InputMessages, redactor.Redact(GenAiContent.InputMessages(request.Messages)));
        if (request.Root.TryGetProperty("tools", out var tools) && tools.ValueKind == JsonValueKind.Array)
        {
            call.SetTag(TelemetryNames.Attributes.ToolDefinitions, redactor.Redact(GenAiContent.ToolDefinitions(tools)));
        }
    }

    private static async Task FailBeforeResponseAsync(ClientResponse client, ModelCallTelemetry call, ForwardResult result, CancellationToken aborted)
    {
        switch (result.Failure)
        {
            case ForwardFailure.ClientClosed:
                call.Fail(TelemetryNames.ErrorTypes.ClientClosed, result.Message!);
                return;
            case ForwardFailure.Timeout:
                await WriteErrorAsync(client, call, AnthropicError.ForStatus(504, result.Message!), TelemetryNames.ErrorTypes.UpstreamTimeout, aborted);
                return;
            default:
                // 502 is retried by Claude Code, which is right for a model server that is still starting.
                await WriteErrorAsync(client, call, AnthropicError.ForStatus(502, result.Message!), TelemetryNames.ErrorTypes.UpstreamUnreachable, aborted);
                return;
        }
    }

    private static async Task WriteErrorAsync(ClientResponse client, ModelCallTelemetry call, AnthropicError error, string errorType, CancellationToken aborted)
    {
        call.Fail(errorType, error.Message, error.StatusCode);
        if (client.HeadersSent)
        {
            await client.WriteAsync(error.ToSseEvent(), aborted);
        }
        else
        {
            await error.WriteAsync(client.Response, aborted);
        }
    }

    private static AnthropicError UnmappedModel(ModelRoute route) =>
        new(StatusCodes.Status404NotFound, AnthropicError.NotFound,
            $"model '{route.Requested}' is a Claude model name and no local model is configured for it: set Gateway:Models:Default (or the family's Gateway:Models entry).");
}
