namespace ClaudeStack.Gateway.Streaming;

/// <summary>
/// Drops the upstream's first SSE event when it is a <c>message_start</c> and the gateway already sent its own
/// (while the model was silent). Everything after it passes through untouched. Pure: bytes in, bytes out.
/// </summary>
public sealed class LeadingEventFilter
{
    private static readonly byte[] MessageStartName = "event: message_start"u8.ToArray();
    private static readonly byte[] MessageStartType = "\"type\":\"message_start\""u8.ToArray();

    private readonly List<byte> _pending = [];
    private bool _done;

    /// <summary>Returns what to forward from this chunk (possibly nothing while the first event is incomplete).</summary>
    public ReadOnlyMemory<byte> Filter(ReadOnlyMemory<byte> chunk)
    {
        if (_done)
        {
            return chunk;
        }

        _pending.AddRange(chunk.Span);
        var buffered = _pending.ToArray();
        var end = EventEnd(buffered);
        if (end < 0)
        {
            return ReadOnlyMemory<byte>.Empty;
        }

        _done = true;
        _pending.Clear();
        var first = buffered.AsSpan(0, end);
        var isMessageStart = first.IndexOf(MessageStartName) >= 0 || first.IndexOf(MessageStartType) >= 0;
        return isMessageStart ? buffered.AsMemory(end) : buffered;
    }

    /// <summary>The index just past the blank line that ends the first event, or -1.</summary>
    private static int EventEnd(ReadOnlySpan<byte> bytes)
    {
        for (var i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] != (byte)'\n' && bytes[i] != (byte)'\r')
            {
                continue;
            }

            // A line break followed by another line break is the blank line that ends an event.
            var next = i + (bytes[i] == (byte)'\r' && i + 1 < bytes.Length && bytes[i + 1] == (byte)'\n' ? 2 : 1);
            if (next < bytes.Length && (bytes[next] == (byte)'\n' || bytes[next] == (byte)'\r'))
            {
                return next + (bytes[next] == (byte)'\r' && next + 1 < bytes.Length && bytes[next + 1] == (byte)'\n' ? 2 : 1);
            }
        }

        return -1;
    }
}
