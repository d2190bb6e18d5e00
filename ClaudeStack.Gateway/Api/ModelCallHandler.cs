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
/// Steps: (1) read, validate and route the request, (2) start the span, (3) check the context window,
/// (4) adapt the request for the upstream, (5) forward, (6) relay the response while checking tool calls,
/// (7) record usage and detect silent truncation. Failures before the response starts become Anthropic error
/// responses; after, an SSE error event. Anything unexpected still marks the span failed.
/// </remarks>
public sealed class ModelCallHandler(
    UpstreamForwarder forwarder,
    IncomingRequestReader reader,
    GatewayFeatures features,
    SecretRedactor redactor,
    TokenCalibration calibration,
    LocalModelOptions localModel,
    IOptions<GatewayOptions> options,
    ILogger<ModelCallHandler> logger,
    OllamaModelCatalog? catalog = null)
{
    private readonly UpstreamOptions _upstreamOptions = options.Value.Upstream;

    private UpstreamEndpoint Upstream => forwarder.Upstream;

    public async Task HandleMessagesAsync(HttpContext context)
    {
        var aborted = context.RequestAborted;

        // (1) Read, validate, route.
        var (request, route) = await reader.ReadAsync(context);
        if (request is null)
        {
            return;
        }

        using var _ = request;

        // (2) The span, child of the caller's trace.
        var headers = context.Request.Headers;
        using var call = ModelCallTelemetry.Start(
            Upstream, route, request.Stream, request.MaxTokens, headers["x-claude-code-session-id"].FirstOrDefault(),
            headers.TraceParent.FirstOrDefault(), headers.TraceState.FirstOrDefault(), logger, redactor);
        try
        {
            await CallAsync(context, request, route, call);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            call.Fail(TelemetryNames.ErrorTypes.ClientClosed, "the client closed the connection");
        }
        catch (Exception exception)
        {
            call.Fail(TelemetryNames.ErrorTypes.GatewayError, exception.Message);
            throw;
        }
    }

    private async Task CallAsync(HttpContext context, MessagesRequest request, ModelRoute route, ModelCallTelemetry call)
    {
        var aborted = context.RequestAborted;
        await using var client = new ClientResponse(context.Response);

        // Recorded before any check, so a call the gateway refuses still shows what it refused.
        RecordInputContent(call, request);

        // (3) The context window: a prompt that cannot fit is refused here rather than silently cut upstream.
        var guardsLocalModel = Upstream.Profile != UpstreamProfile.Anthropic;
        var modelInfo = catalog is null ? null : await catalog.GetAsync(route.Routed, aborted);
        var prompt = OllamaRequestAdapter.PromptAsGiven(request.Prompt, localModel.Adaptation, modelInfo);
        var estimatedTokens = calibration.Estimate(route.Routed, prompt, request.MessageCount);
        var contextLength = guardsLocalModel ? modelInfo?.ContextLength ?? localModel.Context.ContextLength : null;
        call.RecordModelFacts(modelInfo, contextLength, estimatedTokens);
        // An answer asked to be shorter (a one-token probe) needs no more room than it asked for.
        var reservedForOutput = Math.Min(localModel.Adaptation.MinMaxTokens, request.MaxTokens ?? int.MaxValue);
        var verdict = ContextGuard.Check(estimatedTokens, ContextGuard.PromptWindow(contextLength, reservedForOutput), localModel.Context);
        if (verdict != ContextVerdict.Fits)
        {
            call.ReportPromptTooLong(estimatedTokens, reservedForOutput, contextLength!.Value, verdict == ContextVerdict.TooLongRejected ? "reject" : "warn");
            if (verdict == ContextVerdict.TooLongRejected)
            {
                await FailAsync(client, call, AnthropicError.BadRequest(ContextGuard.TooLongMessage(estimatedTokens, contextLength.Value, reservedForOutput)), AnthropicError.InvalidRequest, aborted);
                return;
            }
        }

        // (4) Adapt.
        var (forwardBody, adaptError) = Adapt(request, route, call, modelInfo, ContextGuard.RoomForOutput(estimatedTokens, contextLength));
        if (adaptError is not null)
        {
            await FailAsync(client, call, adaptError, adaptError.Type, aborted);
            return;
        }

        // (5) Forward; keep a silent stream alive while the model prefills.
        string? gatewayMessageId = null;
        if (request.Stream)
        {
            // Only for Ollama does the gateway speak first with its own message_start (its id made only then);
            // pass-through upstreams keep their own, and get pings alone.
            Func<byte[]>? messageStart = Upstream.Profile == UpstreamProfile.Ollama
                ? () => SseEvents.MessageStart(gatewayMessageId = SseEvents.NewMessageId(), route.Routed, estimatedTokens)
                : null;

            client.StartKeepAlive(features.KeepAliveAfter, features.KeepAliveInterval, messageStart, aborted);
        }

        var result = await forwarder.SendAsync(HttpMethod.Post, "/v1/messages", context.Request.QueryString.Value, context.Request.Headers, forwardBody, _upstreamOptions.ResponseTimeout, aborted);
        await client.StopKeepAliveAsync();
        if (result.Response is null)
        {
            await FailBeforeResponseAsync(client, call, result, aborted);
            return;
        }

        // (6) Relay.
        using var upstreamResponse = result.Response;
        var toolCalls = new ToolCallGuard(request.Tools);
        var relay = new ResponseRelay(client, call, _upstreamOptions.IdleTimeout, redactor)
        {
            OnBlockComplete = block => ReportToolCalls(call, toolCalls, block),
            ExplainError = Upstream.Profile == UpstreamProfile.Ollama
                ? (status, message, model) => ExplainOllamaRefusal(status, message, model, modelInfo, PromptTooLongWords(estimatedTokens, reservedForOutput, contextLength)) ?? MissingUpstreamKey.Explain(Upstream, status, message)
                : (status, message, _) => MissingUpstreamKey.Explain(Upstream, status, message),
        };
        call.SetStatusCode((int)upstreamResponse.StatusCode);
        if (!upstreamResponse.IsSuccessStatusCode)
        {
            await relay.RelayErrorAsync(upstreamResponse, aborted);
            return;
        }

        // Media types compare without regard to case (RFC 9110).
        var streamed = string.Equals(upstreamResponse.Content.Headers.ContentType?.MediaType, "text/event-stream", StringComparison.OrdinalIgnoreCase);
        var response = (streamed, request.Stream) switch
        {
            (true, true) => await relay.RelayStreamAsync(upstreamResponse, features.CaptureMessageContent, aborted),
            (true, false) => await relay.RelayStreamAsWholeAsync(upstreamResponse, features.CaptureMessageContent, aborted),
            _ => await relay.RelayWholeAsync(upstreamResponse, request.Stream, aborted),
        };

        // (7) Record.
        if (client.SentMessageStart)
        {
            // The client, and the transcript it keeps, know the message by the id the gateway gave it.
            response.Id = gatewayMessageId;
        }

        call.RecordResponse(response);
        RecordOutputContent(call, response);
        if (response.InputTokens is not null && response.TotalInputTokens is { } reported && response.Completed && guardsLocalModel)
        {
            if (calibration.LearnOrDetectCut(route.Routed, prompt, request.MessageCount, reported, contextLength, localModel.Context.TruncationFraction))
            {
                call.ReportPromptTruncated(reported, estimatedTokens);
            }
        }
    }

    /// <summary>
    /// The gateway's refusal words for a prompt the upstream found too long although the estimate fit: at least one
    /// token over, since the upstream counted more than the gateway did.
    /// </summary>
    private static string? PromptTooLongWords(int estimatedTokens, int reservedForOutput, int? contextLength) =>
        contextLength is { } window
            ? ContextGuard.TooLongMessage(Math.Max(estimatedTokens, window - reservedForOutput + 1), window, reservedForOutput)
            : null;

    private AnthropicError? ExplainOllamaRefusal(int status, string message, string model, ModelInfo? modelInfo, string? promptTooLong)
    {
        // Ollama lists vision for any model whose file has vision blocks, but starts some without a projector.
        var imagesBecomeNotes = false;
        if (modelInfo is not null && catalog is not null && OllamaRefusal.IsMissingProjector(status, message))
        {
            imagesBecomeNotes = catalog.LearnCannotSeeImages(modelInfo) && localModel.Adaptation.ReplaceDroppedBlocks;
        }

        return OllamaRefusal.Explain(status, message, model, imagesBecomeNotes, promptTooLong);
    }

    /// <returns>The body to forward, or a 400 for valid JSON of a shape the adaptation cannot read.</returns>
    private (ReadOnlyMemory<byte> Body, AnthropicError? Error) Adapt(MessagesRequest request, ModelRoute route, ModelCallTelemetry call, ModelInfo? modelInfo, int? roomForOutput)
    {
        var edits = new RequestEdits();
        var changes = new List<string>();
        if (request.ReplacedLoneSurrogates > 0)
        {
            changes.Add("text.lone_surrogate");
        }

        if (route.WasMapped)
        {
            edits.Set("model", route.Routed);
            changes.Add("model");
        }

        if (Upstream.Profile == UpstreamProfile.Ollama)
        {
            try
            {
                var report = OllamaRequestAdapter.Adapt(request, localModel.Adaptation, modelInfo, roomForOutput, edits);
                changes.AddRange(report.Changes);
                if (report.MaxTokens is { } sentMaxTokens)
                {
                    call.RecordSentMaxTokens(sentMaxTokens);
                }

                if (report.StructuredOutputIgnored)
                {
                    call.AddTag(TelemetryNames.Attributes.StructuredOutputIgnored, true);
                }

                call.AddTag(TelemetryNames.Attributes.ToolChoiceNotEnforced, report.ToolChoiceNotEnforced);
            }
            catch (Exception exception) when (exception is InvalidOperationException or FormatException or KeyNotFoundException or ArgumentException or System.Text.Json.JsonException)
            {
                return (default, AnthropicError.BadRequest($"The request has a part of an unexpected shape: {exception.Message}"));
            }
        }

        if (changes.Count > 0)
        {
            call.AddTag(TelemetryNames.Attributes.RequestAdapted, changes.ToArray());
        }

        return (edits.Apply(request.Root, request.Body), null);
    }

    private void ReportToolCalls(ModelCallTelemetry call, ToolCallGuard guard, ObservedBlock block)
    {
        foreach (var violation in guard.Check(block))
        {
            call.ReportInvalidToolCall(violation);
        }
    }

    /// <summary>Content capture is telemetry: whatever the request holds, it never changes the call's outcome.</summary>
    private void RecordInputContent(ModelCallTelemetry call, MessagesRequest request)
    {
        if (!features.CaptureMessageContent || !call.RecordsContent)
        {
            return;
        }

        try
        {
            if (request.System is { } system)
            {
                call.AddTag(TelemetryNames.Attributes.SystemInstructions, GenAiContent.SystemInstructions(system, redactor));
            }

            call.AddTag(TelemetryNames.Attributes.InputMessages, GenAiContent.InputMessages(request.Messages, redactor));
            if (request.Root.TryGetProperty("tools", out var tools) && tools.ValueKind == System.Text.Json.JsonValueKind.Array)
            {
                call.AddTag(TelemetryNames.Attributes.ToolDefinitions, GenAiContent.ToolDefinitions(tools, redactor));
            }
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            Log.ContentNotCaptured(logger, call.Model, redactor.Redact(exception.Message));
        }
    }

    private void RecordOutputContent(ModelCallTelemetry call, ModelResponse response)
    {
        if (!features.CaptureMessageContent || !call.RecordsContent)
        {
            return;
        }

        try
        {
            call.AddTag(TelemetryNames.Attributes.OutputMessages, GenAiContent.OutputMessages(response, redactor));
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            Log.ContentNotCaptured(logger, call.Model, redactor.Redact(exception.Message));
        }
    }

    private static async Task FailBeforeResponseAsync(ClientResponse client, ModelCallTelemetry call, ForwardResult result, CancellationToken aborted)
    {
        switch (result.Failure)
        {
            case ForwardFailure.ClientClosed:
                call.Fail(TelemetryNames.ErrorTypes.ClientClosed, result.Message!);
                break;
            case ForwardFailure.Timeout:
                await FailAsync(client, call, AnthropicError.ForStatus(504, result.Message!), TelemetryNames.ErrorTypes.UpstreamTimeout, aborted);
                break;
            case ForwardFailure.Redirected:
                await FailAsync(client, call, AnthropicError.ForStatus(502, result.Message!), TelemetryNames.ErrorTypes.UpstreamRedirect, aborted);
                break;
            default:
                // 502 is retried by Claude Code, which is right for a model server that is still starting.
                await FailAsync(client, call, AnthropicError.ForStatus(502, result.Message!), TelemetryNames.ErrorTypes.UpstreamUnreachable, aborted);
                break;
        }
    }

    /// <summary>Reports a failure on the span and tells the client, in whichever form the response still allows.</summary>
    private static async Task FailAsync(ClientResponse client, ModelCallTelemetry call, AnthropicError error, string errorType, CancellationToken aborted)
    {
        call.Fail(errorType, error.Message, error.StatusCode);
        await client.WriteErrorAsync(error, aborted);
    }
}
