using ClaudeStack.Gateway.Adaptation;
using ClaudeStack.Gateway.Configuration;
using ClaudeStack.Gateway.Forwarding;
using ClaudeStack.Gateway.Requests;
using ClaudeStack.Gateway.Streaming;
using ClaudeStack.Gateway.Telemetry;
using ClaudeStack.Gateway.Tokens;
using Microsoft.Extensions.Options;

namespace ClaudeStack.Gateway.Api;

/// <summary>
/// <c>/v1/messages/count_tokens</c>: forwarded when the upstream has it, otherwise answered with the per-model
/// calibrated estimate. Ollama has none, and without an answer Claude Code's <c>/context</c> falls back to local guesses
/// (older versions to <c>max_tokens: 1</c> generations, each evicting the conversation's cache).
/// </summary>
public sealed class CountTokensHandler(
    UpstreamForwarder forwarder,
    IncomingRequestReader reader,
    TokenCalibration calibration,
    SecretRedactor redactor,
    LocalModelOptions localModel,
    IOptions<GatewayOptions> options,
    OllamaModelCatalog? catalog = null)
{
    public async Task HandleAsync(HttpContext context)
    {
        var aborted = context.RequestAborted;
        var (request, route) = await reader.ReadAsync(context);
        if (request is null)
        {
            return;
        }

        using var _ = request;
        var upstream = forwarder.Upstream;
        if (upstream.Profile != UpstreamProfile.Ollama)
        {
            var edits = route.WasMapped ? new RequestEdits().Set("model", route.Routed) : new RequestEdits();
            var result = await forwarder.SendAsync(HttpMethod.Post, "/v1/messages/count_tokens", context.Request.QueryString.Value, context.Request.Headers, edits.Apply(request.Root, request.Body), options.Value.Upstream.ResponseTimeout, aborted);
            switch (result)
            {
                case { Failure: ForwardFailure.ClientClosed }:
                    return;
                case { Response: null }:
                    // The Anthropic API counts exactly; a guess would mislead. A local server that is down gets the estimate.
                    if (upstream.Profile == UpstreamProfile.Anthropic)
                    {
                        await AnthropicError.ForStatus(result.Failure == ForwardFailure.Timeout ? 504 : 502, result.Message!).WriteAsync(context.Response, aborted);
                        return;
                    }

                    break;
                case { Response: { } response }:
                    using (response)
                    {
                        // Servers without count_tokens answer 404 (or 405/501); those get the estimate. Any other
                        // answer (a count, a rejected key, a rate limit) is the upstream's to give.
                        if (upstream.Profile == UpstreamProfile.Anthropic || !LacksEndpoint((int)response.StatusCode))
                        {
                            await CopyAsync(response, context.Response, aborted);
                            return;
                        }
                    }

                    break;
            }
        }

        // Counted as the model call would be: a model without vision gets a note in place of each image. Only images
        // need the model's facts, so a count without them asks Ollama nothing.
        var modelInfo = catalog is not null && request.Prompt.Images > 0 ? await catalog.GetAsync(route.Routed, aborted) : null;
        var prompt = OllamaRequestAdapter.PromptAsGiven(request.Prompt, localModel.Adaptation, modelInfo);
        var estimate = calibration.Estimate(route.Routed, prompt, request.MessageCount);
        context.Response.Headers["x-claudestack-token-estimate"] = calibration.Observations(route.Routed) > 0 ? "calibrated" : "uncalibrated";
        await Results.Json(new { input_tokens = estimate }).ExecuteAsync(context);
    }

    private static bool LacksEndpoint(int status) =>
        status is StatusCodes.Status404NotFound or StatusCodes.Status405MethodNotAllowed or StatusCodes.Status501NotImplemented;

    private async Task CopyAsync(HttpResponseMessage upstream, HttpResponse client, CancellationToken aborted)
    {
        var status = (int)upstream.StatusCode;
        // A count or an error, both small: read whole so configured secrets can be masked (an error may quote the
        // key it rejected, which is the gateway's, not the client's). Masked as it came, before an error is re-wrapped
        // (JSON escaping could hide a secret from the search).
        var (read, failure) = await BoundedBody.ReadAsync(upstream, ResponseRelay.MaxErrorBody, options.Value.Upstream.IdleTimeout, aborted);
        if (failure is { Error: var error })
        {
            await error.WriteAsync(client, aborted);
            return;
        }

        var body = redactor.Redact(read);
        client.StatusCode = status;

        // As for a model call: request ids, rate limits and the retry advice (retry-after, x-should-retry) the client's SDK acts on.
        ResponseRelay.CopyHeaders(upstream, client, redactor);

        if (upstream.IsSuccessStatusCode)
        {
            client.ContentType = upstream.Content.Headers.ContentType?.ToString() ?? "application/json";
            await client.Body.WriteAsync(body, aborted);
            return;
        }

        // A proxy's HTML page or a server's own error shape still reaches the client as an Anthropic error.
        var requestId = RequestIds.Of(client.HttpContext);
        var (normalized, _, message) = AnthropicError.NormalizeUpstream(status, body.Span, requestId);
        client.ContentType = "application/json";
        await client.Body.WriteAsync(MissingUpstreamKey.Explain(forwarder.Upstream, status, message)?.ToJsonBytes(requestId) ?? normalized, aborted);
    }
}
