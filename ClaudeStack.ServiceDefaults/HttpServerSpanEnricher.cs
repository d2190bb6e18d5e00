using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// ASP.NET Core 10 gives its server span the request's semantic-convention attributes when it starts (method, scheme,
/// path, server address and port, user agent), but leaves the outcome to the OpenTelemetry instrumentation package,
/// which this stack does without. This outermost middleware adds the outcome: status code, route, protocol version,
/// error type, and the name "{method} {route}" the dashboard groups requests by.
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

        try
        {
            await next(context);
        }
        catch (Exception exception)
        {
            // Hosting turns this into a 500 only after we return, so record the failure here. Its type, not its
            // message: a message can quote what the request carried, and the service's log has it.
            activity.SetTag("error.type", exception.GetType().FullName);
            activity.SetStatus(ActivityStatusCode.Error);
            Complete(activity, context);
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

        Complete(activity, context);
    }

    private static void Complete(Activity activity, HttpContext context)
    {
        var method = context.Request.Method;
        activity.SetTag("network.protocol.version", ProtocolVersion(context.Request.Protocol));
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
