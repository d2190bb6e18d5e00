using ClaudeStack.Gateway.Configuration;
using ClaudeStack.Gateway.Requests;
using ClaudeStack.Gateway.Routing;
using Microsoft.Extensions.Options;

namespace ClaudeStack.Gateway.Api;

/// <summary>
/// The first step of both Messages endpoints: read the body within the limit, validate it, route the model.
/// Each failure is answered here in Anthropic form.
/// </summary>
public sealed class IncomingRequestReader(ModelRouter router, IOptions<GatewayOptions> options)
{
    private readonly long _maxBodyBytes = options.Value.MaxRequestBodyBytes;

    /// <returns>The request and its route, or no request when an error was already written.</returns>
    public async Task<(MessagesRequest? Request, ModelRoute Route)> ReadAsync(HttpContext context)
    {
        var aborted = context.RequestAborted;
        var (body, readError) = await RequestBodyReader.ReadAsync(context.Request, _maxBodyBytes, aborted);
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

        // A Claude name with no local model must never reach an upstream that does not have it.
        var route = router.Route(request.Model);
        if (route.Reason == RouteReason.Unmapped)
        {
            request.Dispose();
            await new AnthropicError(
                StatusCodes.Status404NotFound,
                AnthropicError.NotFound,
                $"model '{route.Requested}' is a Claude model name and no local model is configured for it: set Gateway:Models:Default (or the family's Gateway:Models entry).")
                .WriteAsync(context.Response, aborted);
            return (null, default);
        }

        return (request, route);
    }
}
