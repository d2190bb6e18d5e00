using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// ASP.NET Core's built-in server activity carries no attributes and is named
/// "Microsoft.AspNetCore.Hosting.HttpRequestIn"; without the instrumentation package nothing else fills it in.
/// This outermost middleware adds the stable HTTP server semantic-convention attributes and names the span
/// "{method} {route}" so the dashboard can group requests. The query string is left out: it may carry secrets.
/// </summary>
internal sealed class HttpServerSpanEnricher : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) =>
        app =>
        {
            app.Use(EnrichAsync);
            next(app);
        };

    private static async Task EnrichAsync(HttpContext context, RequestDelegate next)
    {
        var activity = context.Features.Get<IHttpActivityFeature>()?.Activity;
        if (activity is null || !activity.IsAllDataRequested)
        {
            await next(context);
            return;
        }

        var request = context.Request;
        activity.SetTag("http.request.method", request.Method);
        activity.SetTag("url.scheme", request.Scheme);
        activity.SetTag("url.path", request.PathBase.Add(request.Path).Value);
        activity.SetTag("server.address", request.Host.Host);
        if (request.Host.Port is { } port)
        {
            activity.SetTag("server.port", port);
        }

        activity.SetTag("network.protocol.version", ProtocolVersion(request.Protocol));
        if (request.Headers.UserAgent is { Count: > 0 } userAgent)
        {
            activity.SetTag("user_agent.original", userAgent.ToString());
        }

        try
        {
            await next(context);
        }
        catch (Exception exception)
        {
            // Hosting turns this into a 500 only after we return, so record the failure here.
            activity.SetTag("error.type", exception.GetType().FullName);
            activity.SetStatus(ActivityStatusCode.Error, exception.Message);
            Complete(activity, context, request.Method);
            throw;
        }

        var statusCode = context.Response.StatusCode;
        activity.SetTag("http.response.status_code", statusCode);
        if (statusCode >= StatusCodes.Status500InternalServerError)
        {
            // Semantic conventions: only 5xx is a server-side error; 4xx stays unset on server spans.
            activity.SetTag("error.type", statusCode.ToString(System.Globalization.CultureInfo.InvariantCulture));
            activity.SetStatus(ActivityStatusCode.Error);
        }

        Complete(activity, context, request.Method);
    }

    private static void Complete(Activity activity, HttpContext context, string method)
    {
        var route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText;
        if (string.IsNullOrEmpty(route))
        {
            activity.DisplayName = method;
            return;
        }

        activity.SetTag("http.route", route);
        activity.DisplayName = $"{method} {route}";
    }

    private static string ProtocolVersion(string protocol) => protocol switch
    {
        "HTTP/1.0" => "1.0",
        "HTTP/1.1" => "1.1",
        "HTTP/2" => "2",
        "HTTP/3" => "3",
        _ => protocol,
    };
}
