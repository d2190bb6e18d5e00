using Microsoft.Extensions.Primitives;

namespace ClaudeStack.Gateway.Api;

/// <summary>
/// Refuses calls a web page of another site makes. A browser lets any page send a simple POST to
/// <c>http://127.0.0.1:&lt;port&gt;</c>, and a gateway without a stack token would run it on the user's models and key;
/// the <c>Origin</c> header says which page sent it. Clients that are not browsers (Claude Code, SDKs, curl) send none.
/// Allowed: pages opened as localhost, 127.0.0.1, [::1] or 0.0.0.0 (any port) and the origins configured
/// in <c>Gateway:AllowedOrigins</c> (<c>*</c> matches any run of characters). Unlike Ollama, whose Host check covers
/// it, the gateway does not take a page whose origin merely names the Host the call was sent to: a site whose name
/// is made to resolve to 127.0.0.1 after its page loaded (DNS rebinding) would pass as the gateway's own.
/// </summary>
public sealed class BrowserOriginGuard(IReadOnlyList<string> allowedOrigins)
{
    /// <summary>Wraps an endpoint so that pages of other web sites cannot reach it.</summary>
    public RequestDelegate Protect(RequestDelegate endpoint) => context =>
    {
        var origin = context.Request.Headers.Origin;
        if (IsAllowed(origin))
        {
            return endpoint(context);
        }

        var refusal = new AnthropicError(
            StatusCodes.Status403Forbidden,
            AnthropicError.Permission,
            $"The gateway refuses calls from web pages of other sites (Origin: {origin}); to let this page use it, add its origin to Gateway:AllowedOrigins.");
        return refusal.WriteAsync(context.Response, context.RequestAborted);
    };

    public bool IsAllowed(StringValues origin)
    {
        if (origin.Count == 0)
        {
            return true;
        }

        if (origin.Count > 1 || origin[0] is not { Length: > 0 } value)
        {
            return false;
        }

        return IsLocalPage(value)
            || allowedOrigins.Any(pattern => Matches(value, pattern.Trim()));
    }

    /// <summary>A page opened on this machine by a loopback name: http or https, a loopback host or 0.0.0.0, any port, nothing else.</summary>
    private static bool IsLocalPage(string origin) =>
        Uri.TryCreate(origin, UriKind.Absolute, out var uri)
        && uri.Scheme is "http" or "https"
        && uri.UserInfo.Length == 0
        && (uri.IsLoopback || uri.Host == "0.0.0.0")
        && string.Equals(origin, uri.GetLeftPart(UriPartial.Authority), StringComparison.OrdinalIgnoreCase);

    /// <summary>An origin against a pattern whose <c>*</c> stands for any run of characters (none included); case-insensitive, as host names are.</summary>
    public static bool Matches(string origin, string pattern)
    {
        var parts = pattern.Split('*');
        if (parts.Length == 1)
        {
            return string.Equals(origin, pattern, StringComparison.OrdinalIgnoreCase);
        }

        if (!origin.StartsWith(parts[0], StringComparison.OrdinalIgnoreCase) || !origin.EndsWith(parts[^1], StringComparison.OrdinalIgnoreCase) || origin.Length < parts[0].Length + parts[^1].Length)
        {
            return false;
        }

        var at = parts[0].Length;
        var end = origin.Length - parts[^1].Length;
        foreach (var middle in parts[1..^1])
        {
            var found = origin.IndexOf(middle, at, end - at, StringComparison.OrdinalIgnoreCase);
            if (found < 0)
            {
                return false;
            }

            at = found + middle.Length;
        }

        return true;
    }
}
