namespace ClaudeStack.Gateway.Api;

/// <summary>The Anthropic Messages API surface of the gateway.</summary>
/// <remarks>
/// Endpoints are plain <see cref="RequestDelegate"/>s: the handlers read the request themselves, so minimal-API
/// parameter binding (compiled expression trees, per-request filter contexts) would only cost memory and time.
/// </remarks>
public static class MessagesEndpoints
{
    private const string Banner = "ClaudeStack model gateway";

    public static WebApplication MapMessagesApi(this WebApplication app)
    {
        // Claude Code checks its base URL is reachable before the first call (HEAD /, or HEAD /api/hello when
        // nonessential traffic is not disabled).
        app.MapMethods("/", [HttpMethods.Head, HttpMethods.Get], WriteBanner)
            .WithName("Root")
            .WithSummary("Answers the client's reachability check.");
        app.MapMethods("/api/hello", [HttpMethods.Head, HttpMethods.Get], WriteBanner)
            .WithName("Hello")
            .WithSummary("Answers Claude Code's connectivity probe.");

        var token = app.Services.GetRequiredService<StackTokenGuard>();
        var origin = app.Services.GetRequiredService<BrowserOriginGuard>();
        var messages = app.Services.GetRequiredService<ModelCallHandler>();
        var countTokens = app.Services.GetRequiredService<CountTokensHandler>();
        RequestDelegate Guarded(RequestDelegate endpoint) => origin.Protect(token.Protect(endpoint));

        app.MapPost("/v1/messages", Guarded(messages.HandleMessagesAsync))
            .WithName("CreateMessage")
            .WithSummary("Forwards a Messages API call to the upstream, traced as one GenAI span.");

        app.MapPost("/v1/messages/count_tokens", Guarded(countTokens.HandleAsync))
            .WithName("CountTokens")
            .WithSummary("Counts a request's input tokens: forwarded when the upstream can, estimated otherwise.");

        // "{*path}" rather than the default pattern, which leaves paths that look like files (/favicon.ico,
        // /v1/models/claude-sonnet-4.5) to an empty 404.
        app.MapFallback("{*path}", context => NoRoute(context.Request).WriteAsync(context.Response, context.RequestAborted));

        return app;
    }

    private static AnthropicError NoRoute(HttpRequest request)
    {
        // Routing matches with or without a trailing slash, and in any case.
        var path = request.Path.Value?.TrimEnd('/') ?? "";
        if (path.Equals("/v1/messages", StringComparison.OrdinalIgnoreCase) || path.Equals("/v1/messages/count_tokens", StringComparison.OrdinalIgnoreCase))
        {
            request.HttpContext.Response.Headers.Allow = HttpMethods.Post;
            return AnthropicError.ForStatus(405, $"{request.Method} is not allowed on {request.Path}; use POST.");
        }

        return AnthropicError.ForStatus(404, $"No route for {request.Method} {request.Path}; the gateway serves POST /v1/messages and /v1/messages/count_tokens.");
    }

    private static Task WriteBanner(HttpContext context)
    {
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(Banner, context.RequestAborted);
    }
}
