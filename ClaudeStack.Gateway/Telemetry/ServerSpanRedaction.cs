using System.Diagnostics;
using Microsoft.AspNetCore.Http.Features;
using Names = ClaudeStack.Gateway.Telemetry.TelemetryNames.Attributes;

namespace ClaudeStack.Gateway.Telemetry;

/// <summary>
/// ASP.NET Core records the request's path, query, user agent and Host on its server span as the client sent them. A
/// configured secret typed into one of them (a token pasted into a URL) is masked there, as everywhere else.
/// </summary>
public static class ServerSpanRedaction
{
    private static readonly string[] ClientTextAttributes = [Names.UrlPath, Names.UrlQuery, Names.UserAgentOriginal, Names.ServerAddress];

    /// <summary>First in the pipeline: the attributes are set when the span starts, before any middleware runs.</summary>
    public static IApplicationBuilder UseServerSpanRedaction(this IApplicationBuilder app)
    {
        var redactor = app.ApplicationServices.GetRequiredService<SecretRedactor>();
        return app.Use((context, next) =>
        {
            Mask(context.Features.Get<IHttpActivityFeature>()?.Activity, redactor);
            return next(context);
        });
    }

    public static void Mask(Activity? activity, SecretRedactor redactor)
    {
        if (activity is not { IsAllDataRequested: true })
        {
            return;
        }

        foreach (var name in ClientTextAttributes)
        {
            if (activity.GetTagItem(name) is string value && redactor.Holds(value))
            {
                activity.SetTag(name, redactor.Redact(value));
            }
        }
    }
}
