using System.Buffers;

namespace ClaudeStack.Gateway.Streaming;

/// <summary>
/// Lets only whole SSE events through: the bytes of an event still arriving wait until its blank line comes. The client
/// never holds half an upstream event, so an error the gateway adds (stall, reset, early end) starts on an event
/// boundary and reads as an event of its own. Pure: bytes in, bytes out; the input split changes nothing but timing.
/// </summary>
public sealed class WholeEventFramer
{
    /// <summary>
    /// An unfinished event larger than this is passed on as it arrives rather than held, so memory stays bounded
    /// whatever the upstream sends; real events (a text or tool-input delta) are far smaller.
    /// </summary>
    public const int MaxHeldBytes = 1024 * 1024;

    // What an unfinished event has so far, and the bytes last returned when they had to be joined to it.
    private readonly ArrayBufferWriter<byte> _held = new(1024);
    private readonly ArrayBufferWriter<byte> _joined = new(1024);
    private bool _atLineStart = true;
    private bool _afterCr;
    private bool _crEndedEvent;
    private bool _passingOversized;

    /// <summary>
    /// Whether the bytes <see cref="Frame"/> returned last end inside an event: a piece of one too large to hold.
    /// Otherwise they end where an event ends (or are empty).
    /// </summary>
    public bool EndsInsideEvent => _passingOversized;

    /// <summary>
    /// Returns the bytes to forward now (every event this chunk completes, with its held-back beginning), valid until
    /// the next call; often a slice of <paramref name="chunk"/> itself. An event the stream never finishes is never
    /// returned, as an SSE client would drop it too.
    /// </summary>
    public ReadOnlyMemory<byte> Frame(ReadOnlyMemory<byte> chunk)
    {
        var end = LastEventEnd(chunk.Span);
        if (end >= 0)
        {
            _passingOversized = false;
            return Release(chunk[..end], chunk[end..]);
        }

        if (_passingOversized)
        {
            return chunk;
        }

        if (_held.WrittenCount + chunk.Length <= MaxHeldBytes)
        {
            _held.Write(chunk.Span);
            return ReadOnlyMemory<byte>.Empty;
        }

        // Too large to hold: this event goes out as it arrives, and framing resumes after its end.
        _passingOversized = true;
        return Release(chunk, ReadOnlyMemory<byte>.Empty);
    }

    private ReadOnlyMemory<byte> Release(ReadOnlyMemory<byte> completing, ReadOnlyMemory<byte> unfinished)
    {
        var released = completing;
        if (_held.WrittenCount > 0)
        {
            _joined.ResetWrittenCount();
            _joined.Write(_held.WrittenSpan);
            _joined.Write(completing.Span);
            released = _joined.WrittenMemory;
            _held.ResetWrittenCount();
        }

        _held.Write(unfinished.Span);
        return released;
    }

    /// <summary>
    /// Returns the index just past the last blank line in <paramref name="chunk"/>, which ends an event, or -1 when the
    /// chunk ends none. Searches back from the end, so a chunk of many events costs one vectorized search, not one per
    /// line; line breaks are LF, CRLF or CR, and may be split across chunks anywhere.
    /// </summary>
    private int LastEventEnd(ReadOnlySpan<byte> chunk)
    {
        var startedAtLineStart = _atLineStart;
        var startedAfterCr = _afterCr;
        var startedAfterBlankCr = _crEndedEvent;
        if (!chunk.IsEmpty)
        {
            // What the next chunk needs to know: whether it starts a line, and whether a CR it may complete ended an event.
            var last = chunk[^1];
            _atLineStart = IsLineBreak(last);
            _afterCr = last == (byte)'\r';
            _crEndedEvent = _afterCr && EndsBlankLine(chunk, chunk.Length - 1, startedAtLineStart);
        }

        for (var index = chunk.LastIndexOfAny((byte)'\n', (byte)'\r'); index >= 0; index = chunk[..index].LastIndexOfAny((byte)'\n', (byte)'\r'))
        {
            if (index == 0 && chunk[0] == (byte)'\n' && startedAfterCr)
            {
                // The LF of a CRLF whose CR ended the previous chunk.
                return startedAfterBlankCr ? 1 : -1;
            }

            // A line break (CRLF counted as one) ends a blank line when another line break comes right before it.
            var breakStart = chunk[index] == (byte)'\n' && index > 0 && chunk[index - 1] == (byte)'\r' ? index - 1 : index;
            if (EndsBlankLine(chunk, breakStart, startedAtLineStart))
            {
                return index + 1;
            }

            index = breakStart;
        }

        return -1;
    }

    /// <summary>Whether the line break starting at <paramref name="breakStart"/> ends an empty line.</summary>
    private static bool EndsBlankLine(ReadOnlySpan<byte> chunk, int breakStart, bool chunkStartedAtLineStart) =>
        breakStart == 0 ? chunkStartedAtLineStart : IsLineBreak(chunk[breakStart - 1]);

    private static bool IsLineBreak(byte value) => value is (byte)'\n' or (byte)'\r';
}
