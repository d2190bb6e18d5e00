namespace ClaudeStack.Gateway.Requests;

/// <summary>
/// Replaces JSON escapes of unpaired UTF-16 surrogates (<c>\ud83d</c> with no low half after it) by <c>\ufffd</c>.
/// JavaScript strings are UTF-16, so a client that cuts one inside an emoji sends such an escape (Claude Code users
/// meet it as the Messages API's "no low surrogate in string" 400, on every later turn). Go's JSON decoder, and so
/// Ollama, reads it as U+FFFD, while .NET refuses to read or write it. Doing here what the model server would do keeps
/// the call, and the session, going.
/// </summary>
public static class LoneSurrogates
{
    private const int EscapeLength = 6; // \uXXXX

    /// <returns>The body itself when it holds none; otherwise a patched copy (same length) and how many were replaced.</returns>
    public static (ReadOnlyMemory<byte> Body, int Replaced) Replace(ReadOnlyMemory<byte> body)
    {
        // Claude Code escapes nothing with \u but control characters and lone surrogates: usually there is none.
        if (body.Span.IndexOf("\\u"u8) < 0)
        {
            return (body, 0);
        }

        byte[]? copy = null;
        var replaced = 0;
        var span = body.Span;
        var i = span.IndexOf((byte)'\\');
        while (i >= 0 && i + 1 < span.Length)
        {
            if (span[i + 1] != (byte)'u')
            {
                i = Next(span, i + 2); // \n, \", \\ ...: the escaped character is never the start of another escape
                continue;
            }

            var unit = CodeUnit(span, i);
            var isHigh = unit is >= 0xD800 and <= 0xDBFF;
            var isLow = unit is >= 0xDC00 and <= 0xDFFF;
            if (isHigh && CodeUnit(span, i + EscapeLength) is >= 0xDC00 and <= 0xDFFF)
            {
                i = Next(span, i + (2 * EscapeLength));
                continue;
            }

            if (isHigh || isLow)
            {
                copy ??= body.ToArray();
                "\\ufffd"u8.CopyTo(copy.AsSpan(i));
                replaced++;
            }

            i = Next(span, i + EscapeLength);
        }

        return copy is null ? (body, 0) : (copy, replaced);
    }

    private static int Next(ReadOnlySpan<byte> span, int from)
    {
        if (from >= span.Length)
        {
            return -1;
        }

        var offset = span[from..].IndexOf((byte)'\\');
        return offset < 0 ? -1 : from + offset;
    }

    /// <summary>The code unit of a <c>\uXXXX</c> escape at <paramref name="at"/>; -1 when there is none (the parser will say why).</summary>
    private static int CodeUnit(ReadOnlySpan<byte> span, int at)
    {
        if (at + EscapeLength > span.Length || span[at] != (byte)'\\' || span[at + 1] != (byte)'u')
        {
            return -1;
        }

        var value = 0;
        foreach (var digit in span.Slice(at + 2, 4))
        {
            var nibble = digit switch
            {
                >= (byte)'0' and <= (byte)'9' => digit - '0',
                >= (byte)'a' and <= (byte)'f' => digit - 'a' + 10,
                >= (byte)'A' and <= (byte)'F' => digit - 'A' + 10,
                _ => -1,
            };
            if (nibble < 0)
            {
                return -1;
            }

            value = (value << 4) | nibble;
        }

        return value;
    }
}
