using System.Buffers;
using System.Text;

namespace ClaudeStack.Gateway.Streaming;

/// <summary>
/// One server-sent event: its name (empty when none was given) and its data lines joined by LF. The data may point
/// into the chunk it was parsed from, so it is read before that chunk's memory is used again.
/// </summary>
public readonly record struct SseEvent(string Name, ReadOnlyMemory<byte> Data);

/// <summary>
/// Splits a byte stream into server-sent events incrementally: events may be split across reads at any byte,
/// lines may end in LF, CRLF or CR, data may span several lines, comments are skipped.
/// It only reads; the bytes themselves are forwarded untouched by the caller.
/// </summary>
/// <remarks>
/// A stream is mostly small events that each arrive whole within one read, so the common event costs no copy and no
/// allocation: its data is a slice of the chunk, its name one of the Messages API's names. Only what a chunk leaves
/// unfinished, or data spread over several lines, is copied.
/// </remarks>
public sealed class SseParser
{
    private static readonly string[] KnownNames =
    [
        "content_block_delta", "content_block_start", "content_block_stop", "message_start", "message_delta", "message_stop", "ping", "error",
    ];

    private readonly int _maxEventBytes;
    private readonly ArrayBufferWriter<byte> _line = new(256);
    private readonly ArrayBufferWriter<byte> _data = new(1024);

    // The event's only data line so far, still inside the chunk being fed: no copy unless a second line or the chunk's end comes first.
    private ReadOnlyMemory<byte>? _dataInChunk;
    private string _eventName = "";
    private bool _hasData;
    private bool _skipLeadingLf;
    private bool _oversized;

    /// <param name="maxEventBytes">Data beyond this size is not kept (the event is still reported, marked oversized).</param>
    public SseParser(int maxEventBytes = 16 * 1024 * 1024) => _maxEventBytes = maxEventBytes;

    /// <summary>Events whose data exceeded the size limit; their data is dropped.</summary>
    public int OversizedEvents { get; private set; }

    /// <summary>
    /// Feeds a chunk and appends each event it completes to <paramref name="events"/>. An event's data may be a slice of
    /// <paramref name="chunk"/>: read the events before reusing the chunk's memory.
    /// </summary>
    public void Feed(ReadOnlyMemory<byte> chunk, List<SseEvent> events)
    {
        var bytes = chunk.Span;
        var position = 0;
        while (position < bytes.Length)
        {
            if (_skipLeadingLf)
            {
                _skipLeadingLf = false;
                if (bytes[position] == (byte)'\n')
                {
                    position++;
                    continue;
                }
            }

            var end = bytes[position..].IndexOfAny((byte)'\n', (byte)'\r');
            if (end < 0)
            {
                AppendToLine(bytes[position..]);
                break;
            }

            _skipLeadingLf = bytes[position + end] == (byte)'\r';
            if (_line.WrittenCount == 0)
            {
                // The whole line is in this chunk: read in place, cut as a line gathered across chunks is.
                CompleteLine(chunk.Slice(position, Kept(end)), inChunk: true, events);
            }
            else
            {
                AppendToLine(bytes.Slice(position, end));
                CompleteLine(_line.WrittenMemory, inChunk: false, events);
                _line.ResetWrittenCount();
            }

            position += end + 1;
        }

        // The chunk's memory is the caller's again after this call; data of an event still open is kept as a copy.
        if (_dataInChunk is { } pending)
        {
            _data.Write(pending.Span);
            _dataInChunk = null;
        }
    }

    private void AppendToLine(ReadOnlySpan<byte> bytes) => _line.Write(bytes[..Kept(bytes.Length)]);

    /// <summary>
    /// How many of <paramref name="length"/> more bytes of the current line are kept: a line longer than the event limit
    /// is cut, and its event reported as oversized.
    /// </summary>
    private int Kept(int length)
    {
        var room = Math.Max(0, _maxEventBytes - _line.WrittenCount);
        if (length <= room)
        {
            return length;
        }

        _oversized = true;
        return room;
    }

    private void CompleteLine(ReadOnlyMemory<byte> line, bool inChunk, List<SseEvent> events)
    {
        var span = line.Span;
        if (span.IsEmpty)
        {
            Dispatch(events);
            return;
        }

        if (span[0] == (byte)':')
        {
            return;
        }

        var colon = span.IndexOf((byte)':');
        var field = colon < 0 ? span : span[..colon];
        var valueStart = colon < 0 ? span.Length : colon + 1 < span.Length && span[colon + 1] == (byte)' ' ? colon + 2 : colon + 1;
        var value = line[valueStart..];
        if (field.SequenceEqual("data"u8))
        {
            AppendData(value, inChunk);
        }
        else if (field.SequenceEqual("event"u8))
        {
            _eventName = NameOf(value.Span);
        }
    }

    private void AppendData(ReadOnlyMemory<byte> value, bool inChunk)
    {
        if (_oversized || _data.WrittenCount + (_dataInChunk?.Length ?? 0) + value.Length > _maxEventBytes)
        {
            _oversized = true;
            _hasData = true;
            return;
        }

        if (!_hasData && inChunk)
        {
            _dataInChunk = value;
            _hasData = true;
            return;
        }

        if (_dataInChunk is { } first)
        {
            _data.Write(first.Span);
            _dataInChunk = null;
        }

        if (_hasData)
        {
            _data.Write("\n"u8);
        }

        _data.Write(value.Span);
        _hasData = true;
    }

    private void Dispatch(List<SseEvent> events)
    {
        if (_hasData || _eventName.Length > 0)
        {
            if (_oversized)
            {
                OversizedEvents++;
            }

            var data = _oversized ? ReadOnlyMemory<byte>.Empty
                : _dataInChunk ?? (_data.WrittenCount == 0 ? ReadOnlyMemory<byte>.Empty : _data.WrittenSpan.ToArray());
            events.Add(new SseEvent(_eventName, data));
        }

        _eventName = "";
        _hasData = false;
        _oversized = false;
        _dataInChunk = null;
        _data.ResetWrittenCount();
    }

    /// <summary>The event's name; one the Messages API uses is the same string every time, not a new one per event.</summary>
    private static string NameOf(ReadOnlySpan<byte> value)
    {
        foreach (var known in KnownNames)
        {
            if (value.Length == known.Length && Ascii.Equals(value, known))
            {
                return known;
            }
        }

        return Encoding.UTF8.GetString(value);
    }
}
