using System.Buffers;

namespace ClaudeStack.Gateway.Streaming;

/// <summary>One server-sent event: its name (empty when none was given) and its data lines joined by LF.</summary>
public readonly record struct SseEvent(string Name, ReadOnlyMemory<byte> Data);

/// <summary>
/// Splits a byte stream into server-sent events incrementally: events may be split across reads at any byte,
/// lines may end in LF, CRLF or CR, data may span several lines, comments are skipped.
/// It only reads; the bytes themselves are forwarded untouched by the caller.
/// </summary>
public sealed class SseParser
{
    private readonly int _maxEventBytes;
    private readonly ArrayBufferWriter<byte> _line = new(256);
    private readonly ArrayBufferWriter<byte> _data = new(1024);
    private string _eventName = "";
    private bool _hasData;
    private bool _skipLeadingLf;
    private bool _oversized;

    /// <param name="maxEventBytes">Data beyond this size is not kept (the event is still reported, marked oversized).</param>
    public SseParser(int maxEventBytes = 16 * 1024 * 1024) => _maxEventBytes = maxEventBytes;

    /// <summary>Events whose data exceeded the size limit; their data is dropped.</summary>
    public int OversizedEvents { get; private set; }

    /// <summary>Feeds a chunk and appends each event it completes to <paramref name="events"/>.</summary>
    public void Feed(ReadOnlySpan<byte> chunk, List<SseEvent> events)
    {
        while (!chunk.IsEmpty)
        {
            if (_skipLeadingLf)
            {
                _skipLeadingLf = false;
                if (chunk[0] == (byte)'\n')
                {
                    chunk = chunk[1..];
                    continue;
                }
            }

            var end = chunk.IndexOfAny((byte)'\n', (byte)'\r');
            if (end < 0)
            {
                AppendToLine(chunk);
                return;
            }

            AppendToLine(chunk[..end]);
            _skipLeadingLf = chunk[end] == (byte)'\r';
            chunk = chunk[(end + 1)..];
            CompleteLine(events);
        }
    }

    private void AppendToLine(ReadOnlySpan<byte> bytes)
    {
        // A line longer than the event limit is cut; its event is reported as oversized.
        var room = _maxEventBytes - _line.WrittenCount;
        if (bytes.Length > room)
        {
            _oversized = true;
            bytes = bytes[..Math.Max(0, room)];
        }

        _line.Write(bytes);
    }

    private void CompleteLine(List<SseEvent> events)
    {
        var line = _line.WrittenSpan;
        if (line.IsEmpty)
        {
            Dispatch(events);
            return;
        }

        if (line[0] != (byte)':')
        {
            var colon = line.IndexOf((byte)':');
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? [] : line[(colon + 1)..];
            if (!value.IsEmpty && value[0] == (byte)' ')
            {
                value = value[1..];
            }

            if (field.SequenceEqual("data"u8))
            {
                if (_hasData)
                {
                    _data.Write("\n"u8);
                }

                if (_data.WrittenCount + value.Length > _maxEventBytes)
                {
                    _oversized = true;
                }
                else
                {
                    _data.Write(value);
                }

                _hasData = true;
            }
            else if (field.SequenceEqual("event"u8))
            {
                _eventName = System.Text.Encoding.UTF8.GetString(value);
            }
        }

        _line.ResetWrittenCount();
    }

    private void Dispatch(List<SseEvent> events)
    {
        if (_hasData || _eventName.Length > 0)
        {
            if (_oversized)
            {
                OversizedEvents++;
            }

            events.Add(new SseEvent(_eventName, _oversized ? ReadOnlyMemory<byte>.Empty : _data.WrittenSpan.ToArray()));
        }

        _eventName = "";
        _hasData = false;
        _oversized = false;
        _data.ResetWrittenCount();
    }
}
