using System.Buffers;
using System.Text;
using System.Text.Json;

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
    private readonly SearchValues<string> _search;

    public SecretRedactor(IEnumerable<string?> secrets)
    {
        // Very short values would mask ordinary words; real tokens and keys are long.
        _secrets = [.. secrets.Where(s => s is { Length: >= 8 }).SelectMany(s => Spellings(s!)).Distinct().OrderByDescending(s => s.Length)];
        _utf8Secrets = [.. _secrets.Select(Encoding.UTF8.GetBytes)];
        _search = SearchValues.Create(_secrets, StringComparison.Ordinal);
    }

    /// <summary>Whether any secret, in any spelling, occurs in the text: one pass, however many secrets.</summary>
    public bool Holds(ReadOnlySpan<char> text) => _secrets.Length > 0 && text.ContainsAny(_search);

    public string Redact(string text)
    {
        if (!Holds(text))
        {
            return text;
        }

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

    /// <summary>
    /// A secret as typed and as JSON writers may spell it inside a string, where it is searched for in bodies and raw
    /// JSON: System.Text.Json writes '+' as \u002B, Go writes '&lt;' as \u003c, PHP writes '/' as \/.
    /// </summary>
    private static IEnumerable<string> Spellings(string secret)
    {
        yield return secret;
        var escaped = JsonEncodedText.Encode(secret).Value;
        if (escaped != secret)
        {
            yield return escaped;
            yield return LowercaseHex(escaped);
        }

        if (secret.Contains('/', StringComparison.Ordinal))
        {
            yield return secret.Replace("/", "\\/", StringComparison.Ordinal);
        }
    }

    /// <summary>The same escapes with lowercase hex digits (\u002b), as Go and others write them.</summary>
    private static string LowercaseHex(string escaped)
    {
        var chars = escaped.ToCharArray();
        for (var i = 0; i + 6 <= chars.Length; i++)
        {
            if (chars[i] == '\\' && chars[i + 1] == 'u')
            {
                for (var digit = i + 2; digit < i + 6; digit++)
                {
                    chars[digit] = char.ToLowerInvariant(chars[digit]);
                }

                i += 5;
            }
        }

        return new string(chars);
    }
}
