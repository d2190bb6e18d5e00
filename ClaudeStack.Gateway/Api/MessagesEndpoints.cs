using ClaudeStack.Gateway.Configuration;

namespace ClaudeStack.Gateway.Api;

/// <summary>The Anthropic Messages API surface of the gateway.</summary>
public static class MessagesEndpoints
{
    public static WebApplication MapMessagesApi(this WebApplication app)
    {
        // Claude Code checks its base URL is reachable before the first call (HEAD /, or HEAD /api/hello when
        // nonessential traffic is not disabled).
        app.MapMethods("/", [HttpMethods.Head, HttpMethods.Get], () => Results.Text("ClaudeStack model gateway"))
            .WithName("Root")
            .WithSummary("Answers the client's reachability check.");
        app.MapMethods("/api/hello", [HttpMethods.Head, HttpMethods.Get], () => Results.Text("ClaudeStack model gateway"))
            .WithName("Hello")
            .WithSummary("Answers Claude Code's connectivity probe.");

        var api = app.MapGroup("/v1").AddEndpointFilter<StackTokenFilter>();

        api.MapPost("/messages", (HttpContext context, ModelCallHandler handler) => handler.HandleMessagesAsync(context))
            .WithName("CreateMessage")
            .WithSummary("Forwards a Messages API call to the upstream, traced as one GenAI span.");

        api.MapPost("/messages/count_tokens", (HttpContext context, CountTokensHandler handler) => handler.HandleAsync(context))
            .WithName("CountTokens")
            .WithSummary("Counts a request's input tokens: forwarded when the upstream can, estimated otherwise.");

        app.MapFallback((HttpContext context) =>
            AnthropicError.ForStatus(404, $"No route for {context.Request.Method} {context.Request.Path}; the gateway serves /v1/messages and /v1/messages/count_tokens."));

        return app;
    }
}

/// <summary>Refuses callers without the stack token, in Anthropic error form.</summary>
public sealed class StackTokenFilter(StackTokenGuard guard) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var headers = context.HttpContext.Request.Headers;
        if (guard.IsAuthorized(headers.Authorization, headers["x-api-key"]))
        {
            return await next(context);
        }

        return new AnthropicError(StatusCodes.Status401Unauthorized, AnthropicError.Authentication, "invalid x-api-key: the gateway expects the stack token (ANTHROPIC_AUTH_TOKEN or ANTHROPIC_API_KEY).");
    }
}
