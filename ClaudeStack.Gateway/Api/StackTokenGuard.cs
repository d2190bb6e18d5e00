using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Primitives;

namespace ClaudeStack.Gateway.Api;

/// <summary>
/// Checks the caller's stack token. Ollama trusts anyone who asks; the gateway does not.
/// Accepts <c>Authorization: Bearer &lt;token&gt;</c> (ANTHROPIC_AUTH_TOKEN) or <c>x-api-key</c> (ANTHROPIC_API_KEY).
/// </summary>
public sealed class StackTokenGuard
{
    private readonly byte[]? _expectedHash;

    public StackTokenGuard(string? token) =>
        _expectedHash = string.IsNullOrEmpty(token) ? null : SHA256.HashData(Encoding.UTF8.GetBytes(token));

    public bool IsAuthorized(StringValues authorization, StringValues apiKey)
    {
        if (_expectedHash is null)
        {
            return true;
        }

        var presented = BearerToken(authorization) ?? (apiKey.Count == 1 ? apiKey[0] : null);
        if (string.IsNullOrEmpty(presented))
        {
            return false;
        }

        // Comparing fixed-length hashes keeps the comparison constant-time whatever the lengths.
        return CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), _expectedHash);
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
