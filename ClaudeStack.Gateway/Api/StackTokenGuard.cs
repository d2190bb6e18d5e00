using System.Text;
using Microsoft.Extensions.Primitives;

namespace ClaudeStack.Gateway.Api;

/// <summary>
/// Checks the caller's stack token. Ollama trusts anyone who asks; the gateway does not.
/// Accepts <c>Authorization: Bearer &lt;token&gt;</c> (ANTHROPIC_AUTH_TOKEN) or <c>x-api-key</c> (ANTHROPIC_API_KEY);
/// either one carrying the token is enough, since a client may hold an unrelated credential in the other.
/// </summary>
public sealed class StackTokenGuard
{
    private static readonly AnthropicError Missing = new(
        StatusCodes.Status401Unauthorized,
        AnthropicError.Authentication,
        "No stack token: send it as x-api-key (ANTHROPIC_API_KEY) or Authorization: Bearer (ANTHROPIC_AUTH_TOKEN).");

    private static readonly AnthropicError Wrong = new(
        StatusCodes.Status401Unauthorized,
        AnthropicError.Authentication,
        "invalid x-api-key: neither x-api-key nor Authorization: Bearer carries this gateway's stack token (ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN).");

    private readonly byte[]? _expected;

    public StackTokenGuard(string? token) =>
        _expected = string.IsNullOrEmpty(token) ? null : Encoding.UTF8.GetBytes(token);

    /// <summary>Wraps an endpoint so that only callers presenting the stack token reach it.</summary>
    public RequestDelegate Protect(RequestDelegate endpoint) => context =>
    {
        var headers = context.Request.Headers;
        if (IsAuthorized(headers.Authorization, headers["x-api-key"]))
        {
            return endpoint(context);
        }

        var refusal = headers.Authorization.Count == 0 && headers["x-api-key"].Count == 0 ? Missing : Wrong;
        return refusal.WriteAsync(context.Response, context.RequestAborted);
    };

    public bool IsAuthorized(StringValues authorization, StringValues apiKey)
    {
        if (_expected is null)
        {
            return true;
        }

        // "|", not "||": both are compared, so the time taken does not tell which header held the token.
        return Matches(BearerToken(authorization)) | Matches(apiKey.Count == 1 ? apiKey[0] : null);
    }

    private bool Matches(string? presented) =>
        !string.IsNullOrEmpty(presented) && ConstantTimeEquals(Encoding.UTF8.GetBytes(presented), _expected);

    /// <summary>
    /// Compares every byte whatever the lengths, so the time taken tells nothing about the token (only about the
    /// caller's own input's length).
    /// </summary>
    private static bool ConstantTimeEquals(ReadOnlySpan<byte> presented, ReadOnlySpan<byte> expected)
    {
        var difference = presented.Length ^ expected.Length;
        for (var i = 0; i < presented.Length; i++)
        {
            difference |= presented[i] ^ expected[i % expected.Length];
        }

        return difference == 0;
    }

    private static string? BearerToken(StringValues authorization)
    {
        if (authorization.Count != 1 || authorization[0] is not { } value)
        {
            return null;
        }

        const string scheme = "Bearer ";
        return value.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) ? value[scheme.Length..].Trim() : null;
    }
}
