using System.Text.Json;
using ClaudeStack.Gateway.Adaptation;
using ClaudeStack.Gateway.Configuration;
using ClaudeStack.Gateway.Forwarding;
using ClaudeStack.Gateway.Guards;
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
/// Steps: (1) read and validate the body, (2) route the model, (3) start the span, (4) check the context window and
/// adapt the request for the upstream, (5) forward, (6) relay the response while checking tool calls, (7) record usage
/// and detect silent truncation.
/// Failures before the response starts become Anthropic error responses; after, an SSE error event.
/// </remarks>
public sealed class ModelCallHandler(
    UpstreamForwarder forwarder,
    ModelRouter router,
    IOptions<GatewayOptions> options,
    GatewayFeatures features,
    SecretRedactor redactor,
    TokenCalibration calibration,
    LocalModelOptions localModel,
    ILogger<ModelCallHandler> logger,
    OllamaModelCatalog? catalog = null)
{
    private readonly GatewayOptions _options = options.Value;
    private UpstreamEndpoint Upstream => forwarder.Upstream;

    public async Task HandleMessagesAsync(HttpContext context)
    {
        var aborted = context.RequestAborted;

        // (1) Read and validate, (2) route.
        var (request, route) = await ReadAndRouteAsync(context);
        if (request is null)
        {
            return;
        }

        using var _ = request;

        // (3) The span, child of the caller's trace.
        var headers = context.Request.Headers;
        using var call = ModelCallTelemetry.Start(
            Upstream, route, request.Stream, request.MaxTokens, headers["x-claude-code-session-id"].FirstOrDefault(),
            headers.TraceParent.FirstOrDefault(), headers.TraceState.FirstOrDefault(), logger, redactor);

        // (4) Guard the context window, then adapt.
        var modelInfo = catalog is null ? null : await catalog.GetAsync(route.Routed, aborted);
        if (!TryMeasure(request, route, out var promptChars, out var messageCount, out var malformed))
        {
            var error = AnthropicError.BadRequest(malformed!);
            call.Fail(error.Type, error.Message, error.StatusCode);
            await error.WriteAsync(context.Response, aborted);
            return;
        }

        var estimatedTokens = calibration.Estimate(route.Routed, promptChars, messageCount);
        var contextLength = modelInfo?.ContextLength ?? localModel.Context.ContextLength;
        RecordModelFacts(call, modelInfo, contextLength, estimatedTokens);
        if (await GuardContextAsync(context, call, route, estimatedTokens, contextLength))
        {
            return;
        }

        ReadOnlyMemory<byte> forwardBody;
        try
        {
            forwardBody = Adapt(request, route, call, modelInfo, ContextGuard.RoomForOutput(estimatedTokens, contextLength));
        }
        catch (Exception exception) when (exception is InvalidOperationException or FormatException or KeyNotFoundException or JsonException or ArgumentException)
        {
            // Valid JSON of an unexpected shape (a number where a block belongs, a lone surrogate in a string).
            var error = AnthropicError.BadRequest($"The request has a part of an unexpected shape: {exception.Message}");
            call.Fail(error.Type, error.Message, error.StatusCode);
            await error.WriteAsync(context.Response, aborted);
            return;
        }

        // (5) Forward; keep a silent stream alive while the model prefills.
        await using var client = new ClientResponse(context.Response);
        if (request.Stream)
        {
            client.StartKeepAlive(features.KeepAliveAfter, features.KeepAliveInterval, () => SseEvents.MessageStart(route.Routed, estimatedTokens), aborted);
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
        var toolCalls = new ToolCallGuard(request.Tools);
        var relay = new ResponseRelay(client, call, _options.Upstream.IdleTimeout)
        {
            OnBlockComplete = block => ReportToolCallProblems(call, route, toolCalls.Check(block)),
        };
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
        if (!isStream)
        {
            foreach (var block in response.Blocks)
            {
                ReportToolCallProblems(call, route, toolCalls.Check(block));
            }
        }

        // (7) Record.
        call.RecordResponse(response);
        if (features.CaptureMessageContent && call.RecordsContent)
        {
            call.SetTag(TelemetryNames.Attributes.OutputMessages, redactor.Redact(GenAiContent.OutputMessages(response)));
        }

        if (response.InputTokens is { } inputTokens && response.Completed)
        {
            var reported = inputTokens + (response.CacheReadInputTokens ?? 0) + (response.CacheCreationInputTokens ?? 0);
            var calibrated = calibration.Observations(route.Routed) > 0;
            if (ContextGuard.LooksTruncated(reported, estimatedTokens, contextLength, calibrated, localModel.Context.TruncationFraction))
            {
                call.SetTag(TelemetryNames.Attributes.PromptTruncated, true);
                call.AddEvent(TelemetryNames.Events.PromptTruncated, (TelemetryNames.Attributes.EstimatedInputTokens, estimatedTokens), (TelemetryNames.Attributes.UsageInputTokens, reported));
                GatewayTelemetry.PromptsTruncated.Add(1, new KeyValuePair<string, object?>(TelemetryNames.Attributes.RequestModel, route.Routed));
                Log.PromptTruncated(logger, route.Routed, reported, estimatedTokens);
            }
            else
            {
                // A truncated prompt would teach the calibration a wrong ratio.
                calibration.Observe(route.Routed, promptChars, messageCount, reported);
            }
        }
    }

    private ReadOnlyMemory<byte> Adapt(MessagesRequest request, ModelRoute route, ModelCallTelemetry call, ModelInfo? modelInfo, int? roomForOutput)
    {
        var edits = new RequestEdits();
        if (route.WasMapped)
        {
            edits.Set("model", route.Routed);
        }

        if (Upstream.Profile == UpstreamProfile.Ollama)
        {
            var report = OllamaRequestAdapter.Adapt(request, localModel.Adaptation, modelInfo?.SupportsThinking, roomForOutput, edits);
            if (report.StructuredOutputIgnored)
            {
                call.SetTag(TelemetryNames.Attributes.StructuredOutputIgnored, true);
            }
        }

        if (!edits.IsEmpty)
        {
            call.SetTag(TelemetryNames.Attributes.RequestAdapted, edits.ChangedProperties.ToArray());
        }

        if (features.CaptureMessageContent && call.RecordsContent)
        {
            RecordInputContent(call, request);
        }

        return edits.Apply(request.Root, request.Body);
    }

    private static bool TryMeasure(MessagesRequest request, ModelRoute route, out long promptChars, out int messageCount, out string? error)
    {
        (promptChars, messageCount, error) = (0, 0, null);
        try
        {
            promptChars = TokenEstimator.CountPromptChars(request);
            messageCount = TokenEstimator.MessageCount(request);
            return true;
        }
        catch (Exception exception) when (exception is InvalidOperationException or FormatException or KeyNotFoundException)
        {
            error = $"The request for {route.Requested} has a part of an unexpected shape: {exception.Message}";
            return false;
        }
    }

    private static void RecordModelFacts(ModelCallTelemetry call, ModelInfo? modelInfo, int? contextLength, int estimatedTokens)
    {
        call.SetTag(TelemetryNames.Attributes.EstimatedInputTokens, estimatedTokens);
        call.SetTag(TelemetryNames.Attributes.ContextLength, contextLength);
        call.SetTag(TelemetryNames.Attributes.ContextSource, modelInfo?.ContextSource ?? (contextLength is null ? null : "configured"));
        call.SetTag(TelemetryNames.Attributes.GpuShare, modelInfo?.GpuShare);
    }

    /// <summary>Returns true when the call was refused because the prompt cannot fit.</summary>
    private async Task<bool> GuardContextAsync(HttpContext context, ModelCallTelemetry call, ModelRoute route, int estimatedTokens, int? contextLength)
    {
        var verdict = ContextGuard.Check(estimatedTokens, contextLength, localModel.Context);
        if (verdict == ContextVerdict.Fits)
        {
            return false;
        }

        var policy = verdict == ContextVerdict.TooLongRejected ? "reject" : "warn";
        call.SetTag(TelemetryNames.Attributes.PromptTooLong, true);
        call.AddEvent(TelemetryNames.Events.PromptTooLong, (TelemetryNames.Attributes.EstimatedInputTokens, estimatedTokens), (TelemetryNames.Attributes.ContextLength, contextLength), ("claudestack.context.policy", policy));
        GatewayTelemetry.PromptsTooLong.Add(1, new KeyValuePair<string, object?>(TelemetryNames.Attributes.RequestModel, route.Routed), new KeyValuePair<string, object?>("claudestack.context.policy", policy));
        Log.PromptTooLong(logger, route.Routed, estimatedTokens, contextLength!.Value, policy);
        if (verdict == ContextVerdict.TooLongForwarded)
        {
            return false;
        }

        var error = AnthropicError.BadRequest(ContextGuard.TooLongMessage(estimatedTokens, contextLength.Value));
        call.Fail(error.Type, error.Message, error.StatusCode);
        await error.WriteAsync(context.Response, context.RequestAborted);
        return true;
    }

    private void ReportToolCallProblems(ModelCallTelemetry call, ModelRoute route, IReadOnlyList<ToolCallViolation> violations)
    {
        foreach (var violation in violations)
        {
            call.AddEvent(TelemetryNames.Events.InvalidToolCall,
                (TelemetryNames.Attributes.ToolName, violation.Tool),
                (TelemetryNames.Attributes.ToolCallProblemKind, violation.Kind),
                (TelemetryNames.Attributes.ToolCallProblem, redactor.Redact(violation.Problem)));
            GatewayTelemetry.InvalidToolCalls.Add(1,
                new KeyValuePair<string, object?>(TelemetryNames.Attributes.RequestModel, route.Routed),
                new KeyValuePair<string, object?>(TelemetryNames.Attributes.ToolCallProblemKind, violation.Kind));
            Log.BadToolCall(logger, route.Routed, violation.Kind, violation.Tool, redactor.Redact(violation.Problem));
        }
    }

    public async Task HandleCountTokensAsync(HttpContext context)
    {
        var aborted = context.RequestAborted;
        var (request, route) = await ReadAndRouteAsync(context);
        if (request is null)
        {
            return;
        }

        using var _ = request;

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

        if (!TryMeasure(request, route, out var promptChars, out var messageCount, out var malformed))
        {
            await AnthropicError.BadRequest(malformed!).WriteAsync(context.Response, aborted);
            return;
        }

        var estimate = calibration.Estimate(route.Routed, promptChars, messageCount);
        context.Response.Headers["x-claudestack-token-estimate"] = calibration.Observations(route.Routed) > 0 ? "calibrated" : "uncalibrated";
        await Results.Json(new { input_tokens = estimate }).ExecuteAsync(context);
    }

    /// <summary>
    /// Reads, validates and routes a request; on failure writes the Anthropic error and returns no request.
    /// A Claude name with no local model is refused here: it must never reach an upstream that does not have it.
    /// </summary>
    private async Task<(MessagesRequest? Request, ModelRoute Route)> ReadAndRouteAsync(HttpContext context)
    {
        var aborted = context.RequestAborted;
        var (body, readError) = await RequestBodyReader.ReadAsync(context.Request, _options.MaxRequestBodyBytes, aborted);
        if (readError is not null)
        {
            await readError.WriteAsync(context.Response, aborted);
            return (null, default);
        }

        var (request, parseError) = MessagesRequest.Parse(body);
        if (request is null)
        {
            await AnthropicError.BadRequest(parseError!).WriteAsync(context.Response, aborted);
            return (null, default);
        }

        var route = router.Route(request.Model);
        if (route.Reason == RouteReason.Unmapped)
        {
            request.Dispose();
            await UnmappedModel(route).WriteAsync(context.Response, aborted);
            return (null, default);
        }

        return (request, route);
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
