using System.Text;

namespace ClaudeStack.Gateway.Telemetry;

/// <summary>
/// Removes configured secrets (the stack token, upstream API keys) from text before it reaches a span, a log or a
/// client. Content capture records what users typed; a pasted key must not end up in the dashboard, and an upstream
/// that quotes the key it rejected must not hand the gateway's key to the client.
/// </summary>
public sealed class SecretRedactor
{
    public const string Mask = "[REDACTED]";

    private readonly string[] _secrets;
    private readonly byte[][] _utf8Secrets;

    public SecretRedactor(IEnumerable<string?> secrets)
    {
        // Very short values would mask ordinary words; real tokens and keys are long.
        _secrets = [.. secrets.Where(s => s is { Length: >= 8 }).Select(s => s!).Distinct().OrderByDescending(s => s.Length)];
        _utf8Secrets = [.. _secrets.Select(Encoding.UTF8.GetBytes)];
    }

    public string Redact(string text)
    {
        foreach (var secret in _secrets)
        {
            if (text.Contains(secret, StringComparison.Ordinal))
            {
                text = text.Replace(secret, Mask, StringComparison.Ordinal);
            }
        }

        return text;
    }

    /// <summary>The same for UTF-8 bytes; returns them untouched, without a copy, when no secret occurs in them.</summary>
    public ReadOnlyMemory<byte> Redact(ReadOnlyMemory<byte> utf8)
    {
        foreach (var secret in _utf8Secrets)
        {
            if (utf8.Span.IndexOf(secret) >= 0)
            {
                return Encoding.UTF8.GetBytes(Redact(Encoding.UTF8.GetString(utf8.Span)));
            }
        }

        return utf8;
    }
}
