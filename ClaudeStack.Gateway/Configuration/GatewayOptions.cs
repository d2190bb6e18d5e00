using ClaudeStack.Gateway.Telemetry;

namespace ClaudeStack.Gateway.Configuration;

/// <summary>The gateway's settings, bound from the <c>Gateway</c> configuration section.</summary>
public sealed class GatewayOptions
{
    public const string SectionName = "Gateway";

    public UpstreamOptions Upstream { get; set; } = new();

    /// <summary>When set, callers must present it as <c>Authorization: Bearer</c> or <c>x-api-key</c>.</summary>
    public string? StackToken { get; set; }

    /// <summary>Web page origins, besides this machine's, whose calls the gateway takes (<c>*</c> as a wildcard).</summary>
    public string[] AllowedOrigins { get; set; } = [];

    /// <summary>
    /// The section's settings as the gateway uses them: the upstream key without the spaces or line break a paste
    /// leaves around it (a server quoting the key back would quote it trimmed, past the masking), and origins given as
    /// one value (<c>Gateway__AllowedOrigins="https://a.example https://b.example"</c>), which the binder ignores for a list.
    /// </summary>
    public static GatewayOptions Read(IConfigurationSection section)
    {
        var options = section.Get<GatewayOptions>() ?? new GatewayOptions();
        options.Upstream.ApiKey = options.Upstream.ApiKey?.Trim();
        options.AllowedOrigins =
        [
            .. options.AllowedOrigins,
            .. section[nameof(AllowedOrigins)]?.Split([',', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [],
        ];
        return options;
    }

    public ModelMapOptions Models { get; set; } = new();

    /// <summary>Requests with a larger body are refused with 413 (default 32 MiB).</summary>
    public long MaxRequestBodyBytes { get; set; } = 32 * 1024 * 1024;

    /// <summary>The largest <see cref="MaxRequestBodyBytes"/>: a body is read whole into one buffer.</summary>
    public const long MaxRequestBodyLimit = 1024L * 1024 * 1024;

    /// <summary>A path prefix the gateway is served under, e.g. <c>/claude</c> when ANTHROPIC_BASE_URL carries one.</summary>
    public string? PathBase { get; set; }

    /// <summary>
    /// Longest wait any timeout setting may ask for: .NET timers take at most ~49 days, and a value meant as
    /// "never" must fail at start-up, not on every call.
    /// </summary>
    public static readonly TimeSpan MaxTimeout = TimeSpan.FromDays(30);

    /// <summary>What makes these settings unusable, one message per setting, each naming its key.</summary>
    public IEnumerable<string> Problems()
    {
        // Set but empty is a token lost on the way (a published stack's STACK_TOKEN left unset), not a wish for an
        // open gateway: that is asked for by leaving the setting out.
        if (StackToken?.Trim().Length is { } tokenLength && tokenLength < SecretRedactor.MinimumLength)
        {
            yield return tokenLength == 0
                ? $"{SectionName}:StackToken is set but empty, so the stack's token did not reach the gateway (a published Docker Compose stack needs STACK_TOKEN in its .env). Leave the setting out to run the gateway without a token."
                : $"{SectionName}:StackToken is {tokenLength} characters; use at least {SecretRedactor.MinimumLength} (the stack generates 32): a shorter one is not masked where it appears in telemetry or answers.";
        }

        // Sent in a header on every call, where a line break or a character beyond ASCII fails the call: such a key
        // would otherwise pass start-up and then fail every call with a 500. The key is not shown.
        if (Upstream.ApiKey is { } apiKey && apiKey.AsSpan().ContainsAnyExceptInRange((char)0x20, (char)0x7E))
        {
            yield return $"{SectionName}:Upstream:ApiKey holds a line break, a control character or a character beyond ASCII inside it, which no header can carry; set it to the key alone.";
        }

        // "null" is the origin of sandboxed frames and redirected requests from any site, and a lone "*" any page at all.
        foreach (var origin in AllowedOrigins.Select(origin => origin.Trim()).Where(origin => origin is "*" || origin.Equals("null", StringComparison.OrdinalIgnoreCase)))
        {
            yield return $"{SectionName}:AllowedOrigins holds '{origin}', which would let pages of any web site use the gateway; list the pages' origins (https://chat.example.com, https://*.example.com).";
        }

        if (!string.IsNullOrWhiteSpace(PathBase) && !PathBase.StartsWith('/'))
        {
            yield return $"{SectionName}:PathBase must start with '/', e.g. /claude (got '{PathBase}').";
        }

        if (MaxRequestBodyBytes is <= 0 or > MaxRequestBodyLimit)
        {
            yield return $"{SectionName}:MaxRequestBodyBytes must be positive and at most {MaxRequestBodyLimit} (1 GiB) (got {MaxRequestBodyBytes}).";
        }

        if (TimeoutProblem($"{SectionName}:Upstream:ResponseTimeout", Upstream.ResponseTimeout, "00:10:00") is { } response)
        {
            yield return response;
        }

        if (TimeoutProblem($"{SectionName}:Upstream:IdleTimeout", Upstream.IdleTimeout, "00:10:00") is { } idle)
        {
            yield return idle;
        }
    }

    /// <summary>Null when <paramref name="value"/> is a usable timeout; otherwise the message naming <paramref name="key"/>.</summary>
    public static string? TimeoutProblem(string key, TimeSpan value, string example, bool zeroAllowed = false) =>
        (zeroAllowed ? value >= TimeSpan.Zero : value > TimeSpan.Zero) && value <= MaxTimeout
            ? null
            : $"{key} must be {(zeroAllowed ? "0 (off) or more" : "positive")} and at most {MaxTimeout.TotalDays:0} days, e.g. {example} (got {value}).";
}

public sealed class UpstreamOptions
{
    /// <summary><c>ollama</c>, <c>anthropic</c> or <c>anthropic-compatible</c>.</summary>
    public string Profile { get; set; } = "ollama";

    /// <summary>The connection string name Aspire injects (<c>ConnectionStrings:&lt;name&gt;</c>).</summary>
    public string ConnectionName { get; set; } = "ollama";

    /// <summary>A plain URL, used when no connection string is present.</summary>
    public string? Url { get; set; }

    /// <summary>Injected as <c>x-api-key</c> upstream; whatever key the client sent is dropped.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Reported as <c>gen_ai.provider.name</c>; defaults by profile.</summary>
    public string? ProviderName { get; set; }

    /// <summary>How long to wait for the upstream's response headers. Local models on a CPU can take minutes.</summary>
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// How long a started response may stay silent before the call is failed. As long as the wait for the first
    /// token: Ollama sends nothing while it generates a tool call (its parser holds the call back until it is whole),
    /// and on a CPU a large one takes minutes.
    /// </summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(10);
}

/// <summary>Local models that stand in for Claude model names, per family.</summary>
public sealed class ModelMapOptions
{
    /// <summary>The main local model; Claude names of a family with no entry of its own go here.</summary>
    public string? Default { get; set; }

    public string? Opus { get; set; }

    public string? Sonnet { get; set; }

    public string? Haiku { get; set; }

    public string? Fable { get; set; }
}
