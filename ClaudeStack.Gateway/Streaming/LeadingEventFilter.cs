using System.Text.Json;

namespace ClaudeStack.Gateway.Streaming;

/// <summary>
/// Drops the upstream's <c>message_start</c> when the gateway already sent its own (while the model was silent). It
/// is the first event that carries a message; comments and pings before it pass, and so does everything after it.
/// Pure: bytes in, bytes out.
/// </summary>
public sealed class LeadingEventFilter
{
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

        // Leading comments and pings, passed on as they are.
        var passed = 0;
        while (true)
        {
            var end = EventEnd(buffered.AsSpan(passed));
            if (end < 0)
            {
                _pending.RemoveRange(0, passed);
                return buffered.AsMemory(0, passed);
            }

            var kind = KindOf(buffered.AsMemory(passed, end));
            if (kind == EventKind.Filler)
            {
                passed += end;
                continue;
            }

            _done = true;
            _pending.Clear();
            return kind == EventKind.MessageStart
                ? (byte[])[.. buffered.AsSpan(0, passed), .. buffered.AsSpan(passed + end)]
                : buffered;
        }
    }

    private enum EventKind
    {
        Filler,
        MessageStart,
        Other,
    }

    private static EventKind KindOf(ReadOnlyMemory<byte> rawEvent)
    {
        var parsed = new List<SseEvent>(1);
        new SseParser().Feed(rawEvent, parsed);
        if (parsed.Count == 0)
        {
            return EventKind.Filler;
        }

        var name = parsed[0].Name;
        var data = parsed[0].Data.Span;
        return name == "ping" || (name.Length == 0 && IsOfType(data, "ping")) ? EventKind.Filler
            : name == "message_start" || (name.Length == 0 && IsOfType(data, "message_start")) ? EventKind.MessageStart
            : EventKind.Other;
    }

    /// <summary>An unnamed event says what it is in its data's <c>type</c>.</summary>
    private static bool IsOfType(ReadOnlySpan<byte> data, string type)
    {
        try
        {
            var reader = new Utf8JsonReader(data);
            using var document = JsonDocument.ParseValue(ref reader);
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("type", out var value)
                && value.ValueKind == JsonValueKind.String
                && value.ValueEquals(type);
        }
        catch (JsonException)
        {
            return false;
        }
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
