using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.Configuration;

namespace ClaudeStack.Gateway.Configuration;

/// <summary>The resolved upstream: where to send, and how to present the gateway to it.</summary>
public sealed record UpstreamEndpoint(UpstreamProfile Profile, Uri BaseAddress, string? ApiKey, string ProviderName)
{
    public const string AnthropicApiUrl = "https://api.anthropic.com";

    public bool IsLoopback => BaseAddress.IsLoopback || (IPAddress.TryParse(BaseAddress.Host, out var ip) && IPAddress.IsLoopback(ip));

    /// <summary>
    /// Resolves the upstream from options and configuration. The URL comes, in order, from
    /// <c>ConnectionStrings:&lt;ConnectionName&gt;</c> (Aspire's <c>Endpoint=http://host:port;Model=x</c> form or a plain URL),
    /// <c>Gateway:Upstream:Url</c>, and for the anthropic profile the public API.
    /// </summary>
    /// <returns>The endpoint, or an error message that says which setting to change.</returns>
    public static (UpstreamEndpoint? Endpoint, string? Error) Resolve(UpstreamOptions options, IConfiguration configuration)
    {
        if (!UpstreamProfiles.TryParse(options.Profile, out var profile))
        {
            return (null, $"Gateway:Upstream:Profile is '{options.Profile}'; use 'ollama', 'anthropic' or 'anthropic-compatible'.");
        }

        var raw = configuration.GetConnectionString(options.ConnectionName) is { Length: > 0 } connectionString
            ? ParseConnectionString(connectionString)
            : options.Url;
        if (string.IsNullOrWhiteSpace(raw))
        {
            if (profile != UpstreamProfile.Anthropic)
            {
                return (null, $"No upstream URL: set ConnectionStrings:{options.ConnectionName} or Gateway:Upstream:Url (for example http://localhost:11434).");
            }

            raw = AnthropicApiUrl;
        }

        // The value is not repeated: a connection string, or a URL's user part, may hold a key.
        var source = raw == options.Url ? "Gateway:Upstream:Url" : $"ConnectionStrings:{options.ConnectionName}";
        if (!Uri.TryCreate(raw, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            return (null, $"The upstream URL ({source}) is not an absolute http(s) URL, e.g. http://localhost:11434.");
        }

        // HttpClient would send no credentials from the URL: the upstream would only answer 401.
        if (uri.UserInfo.Length > 0)
        {
            return (null, $"The upstream URL ({source}) has a user name or password in it; put the key in Gateway:Upstream:ApiKey instead.");
        }

        if (profile == UpstreamProfile.Anthropic && string.IsNullOrWhiteSpace(options.ApiKey))
        {
            return (null, "The anthropic profile needs an API key: set Gateway:Upstream:ApiKey (in the environment, Gateway__Upstream__ApiKey, never in appsettings).");
        }

        var provider = string.IsNullOrWhiteSpace(options.ProviderName) ? profile.DefaultProviderName() : options.ProviderName;
        return (new UpstreamEndpoint(profile, uri, string.IsNullOrWhiteSpace(options.ApiKey) ? null : options.ApiKey, provider), null);
    }

    /// <summary>Reads the URL out of <c>Endpoint=http://host:port;Model=name</c>; a plain URL is returned as is.</summary>
    public static string ParseConnectionString(string connectionString)
    {
        foreach (var part in connectionString.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var separator = part.IndexOf('=');
            if (separator > 0 && part[..separator].Trim().Equals("Endpoint", StringComparison.OrdinalIgnoreCase))
            {
                return part[(separator + 1)..].Trim();
            }
        }

        return connectionString.Trim();
    }

    /// <summary>A loopback-bound Ollama answers 403 to Host names it does not know; localhost is always allowed.</summary>
    public string? HostHeader => Profile == UpstreamProfile.Ollama && IsLoopback ? $"localhost:{BaseAddress.Port}" : null;

    /// <summary>
    /// Presents the gateway to the upstream: its key, and the Host a loopback-bound Ollama accepts. Every request the
    /// gateway makes of the upstream carries both, so a proxy in front of Ollama lets the model look-ups through too.
    /// </summary>
    public void Present(HttpRequestMessage message)
    {
        if (ApiKey is { } key)
        {
            message.Headers.TryAddWithoutValidation("x-api-key", key);
            if (Profile != UpstreamProfile.Anthropic)
            {
                // Anthropic-compatible servers and proxies in front of Ollama mostly check a bearer token.
                message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            }
        }

        if (HostHeader is { } host)
        {
            message.Headers.Host = host;
        }
    }

    /// <summary>The upstream URL for a gateway path (the upstream's own base path kept), query string preserved.</summary>
    public Uri Target(string path, string? query)
    {
        var basePath = BaseAddress.AbsolutePath.TrimEnd('/');
        var builder = new UriBuilder(BaseAddress) { Path = basePath + path, Query = query?.TrimStart('?') ?? "" };
        return builder.Uri;
    }
}
