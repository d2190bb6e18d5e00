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

    /// <summary>Shorter values are not masked: they would mask ordinary words; real tokens and keys are long.</summary>
    public const int MinimumLength = 8;

    private static ReadOnlySpan<byte> MaskUtf8 => "[REDACTED]"u8;

    private readonly string[] _secrets;
    private readonly byte[][] _utf8Secrets;
    private readonly SearchValues<string> _search;
    private readonly SearchValues<string> _searchInAnyCase;

    public SecretRedactor(IEnumerable<string?> secrets)
    {
        _secrets = [.. secrets.Where(s => s is { Length: >= MinimumLength }).SelectMany(s => Spellings(s!)).Distinct().OrderByDescending(s => s.Length)];
        _utf8Secrets = [.. _secrets.Select(Encoding.UTF8.GetBytes)];
        LongestSecretBytes = _utf8Secrets.Length == 0 ? 0 : _utf8Secrets.Max(s => s.Length);
        _search = SearchValues.Create(_secrets, StringComparison.Ordinal);
        _searchInAnyCase = SearchValues.Create(_secrets, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Whether any secret, in any spelling, occurs in the text: one pass, however many secrets.</summary>
    public bool Holds(ReadOnlySpan<char> text) => _secrets.Length > 0 && text.ContainsAny(_search);

    /// <summary>Whether any secret occurs in the text whatever the case: for a header name, which hops may re-case.</summary>
    public bool HoldsInAnyCase(ReadOnlySpan<char> text) => _secrets.Length > 0 && text.ContainsAny(_searchInAnyCase);

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

    /// <summary>
    /// The same for UTF-8 bytes; returns them untouched, without a copy, when no secret occurs in them. Replaced byte
    /// by byte, never decoded: a piece of a stream may end inside a character, or hold bytes that are not UTF-8, and
    /// both must reach the client as they came. A secret's bytes can only match on whole characters, as UTF-8 never
    /// starts a character inside another.
    /// </summary>
    public ReadOnlyMemory<byte> Redact(ReadOnlyMemory<byte> utf8)
    {
        foreach (var secret in _utf8Secrets)
        {
            if (utf8.Span.IndexOf(secret) >= 0)
            {
                utf8 = Replace(utf8.Span, secret);
            }
        }

        return utf8;
    }

    /// <summary>The length in UTF-8 bytes of the longest secret in any spelling, 0 when there are none.</summary>
    public int LongestSecretBytes { get; }

    private static byte[] Replace(ReadOnlySpan<byte> text, ReadOnlySpan<byte> secret)
    {
        var result = new ArrayBufferWriter<byte>(text.Length);
        for (var at = text.IndexOf(secret); at >= 0; at = text.IndexOf(secret))
        {
            result.Write(text[..at]);
            result.Write(MaskUtf8);
            text = text[(at + secret.Length)..];
        }

        result.Write(text);
        return result.WrittenSpan.ToArray();
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
