namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Splits one OTLP export request into several no larger than a limit, keeping every span, log record or metric
/// with its resource and scope. The three export requests share one shape on the wire: entries (field 1) holding a
/// resource and scope entries (field 2), which hold a scope and the items (field 2). Any other field of an entry
/// (its resource, scope, schema URL) is copied into every part that carries the entry.
/// </summary>
internal static class OtlpRequestSplitter
{
    private const int ResourceEntryField = 1;
    private const int NestedEntryField = 2;
    private const int VarintWireType = 0;
    private const int Fixed64WireType = 1;
    private const int LengthDelimitedWireType = 2;
    private const int Fixed32WireType = 5;

    // An entry's tag (one byte for fields 1 and 2) and length (at most five bytes).
    private const int MaxEnvelopeBytes = 6;

    /// <summary>
    /// The parts, each starting with <paramref name="prefixBytes"/> zero bytes for the caller's framing, or
    /// <see langword="null"/> when the request does not parse as an export request or would not be split.
    /// An item larger than <paramref name="maxPartBytes"/> travels alone, so a receiver refuses only that item.
    /// </summary>
    public static List<byte[]>? TrySplit(ReadOnlySpan<byte> request, int maxPartBytes, int prefixBytes = 0)
    {
        if (TryParse(request) is not { } items)
        {
            return null;
        }

        var parts = Pack(items, maxPartBytes);
        if (parts.Count < 2)
        {
            return null;
        }

        List<byte[]> encoded = new(parts.Count);
        foreach (var part in parts)
        {
            encoded.Add(Encode(request, part, prefixBytes));
        }

        return encoded;
    }

    private static List<Item>? TryParse(ReadOnlySpan<byte> request)
    {
        List<Item> items = [];
        var position = 0;
        while (position < request.Length)
        {
            if (!TryReadField(request, ref position, out var field, out var resourcePayload) ||
                field != ResourceEntryField || resourcePayload.Length < 0)
            {
                return null;
            }

            var resource = new Entry();
            if (!TryReadEntry(request, resourcePayload, resource, out var scopeFields))
            {
                return null;
            }

            foreach (var scopeField in scopeFields)
            {
                var scope = new Entry();
                if (!TryReadEntry(request, scopeField.Payload, scope, out var itemFields))
                {
                    return null;
                }

                items.AddRange(itemFields.Select(item => new Item(resource, scope, item.Start, item.Length)));
            }
        }

        return items.Count > 0 ? items : null;
    }

    // Reads a resource or scope entry: its nested entries (field 2) are returned, its other fields kept as its header.
    private static bool TryReadEntry(
        ReadOnlySpan<byte> request, (int Start, int Length) payload, Entry entry, out List<NestedField> nested)
    {
        nested = [];
        var message = request[..(payload.Start + payload.Length)];
        var position = payload.Start;
        while (position < message.Length)
        {
            var start = position;
            if (!TryReadField(message, ref position, out var field, out var fieldPayload))
            {
                return false;
            }

            if (field == NestedEntryField && fieldPayload.Length >= 0)
            {
                nested.Add(new NestedField(start, position - start, fieldPayload));
            }
            else
            {
                entry.AddHeader(start, position);
            }
        }

        return true;
    }

    // Greedy and in order: a part takes items until the next one would take it over the limit, counting every
    // envelope at its largest so the encoded part can only come out smaller.
    private static List<List<Item>> Pack(List<Item> items, int maxPartBytes)
    {
        List<List<Item>> parts = [];
        List<Item> current = [];
        long currentBytes = 0;
        foreach (var item in items)
        {
            var last = current.Count > 0 ? current[^1] : default;
            var added = (long)item.Length;
            added += ReferenceEquals(last.Scope, item.Scope) ? 0 : MaxEnvelopeBytes + item.Scope.HeaderBytes;
            added += ReferenceEquals(last.Resource, item.Resource) ? 0 : MaxEnvelopeBytes + item.Resource.HeaderBytes;
            if (current.Count > 0 && currentBytes + added > maxPartBytes)
            {
                parts.Add(current);
                current = [];
                currentBytes = 0;
                added = item.Length + 2L * MaxEnvelopeBytes + item.Scope.HeaderBytes + item.Resource.HeaderBytes;
            }

            current.Add(item);
            currentBytes += added;
        }

        parts.Add(current);
        return parts;
    }

    private static byte[] Encode(ReadOnlySpan<byte> request, List<Item> part, int prefixBytes)
    {
        // Protobuf writes an entry's length before the entry, so the part is laid out (and measured) first. The items
        // of one scope entry are contiguous, as are the scope entries of one resource entry.
        List<Group> resources = [];
        foreach (var item in part)
        {
            if (resources.Count == 0 || !ReferenceEquals(resources[^1].Entry, item.Resource))
            {
                resources.Add(new Group(item.Resource));
            }

            var scopes = resources[^1].Children;
            if (scopes.Count == 0 || !ReferenceEquals(scopes[^1].Entry, item.Scope))
            {
                scopes.Add(new Group(item.Scope));
            }

            scopes[^1].Items.Add(item);
        }

        var buffer = new byte[prefixBytes + resources.Sum(resource => EnvelopedBytes(resource.Bytes))];
        var position = prefixBytes;
        foreach (var resource in resources)
        {
            WriteEnvelope(buffer, ref position, ResourceEntryField, resource.Bytes);
            resource.Entry.CopyHeader(request, buffer, ref position);
            foreach (var scope in resource.Children)
            {
                WriteEnvelope(buffer, ref position, NestedEntryField, scope.Bytes);
                scope.Entry.CopyHeader(request, buffer, ref position);
                foreach (var item in scope.Items)
                {
                    request.Slice(item.Start, item.Length).CopyTo(buffer.AsSpan(position));
                    position += item.Length;
                }
            }
        }

        return buffer;
    }

    private static int EnvelopedBytes(int length) => 1 + VarintBytes((uint)length) + length;

    private static int VarintBytes(uint value)
    {
        var bytes = 1;
        for (var rest = value >> 7; rest != 0; rest >>= 7)
        {
            bytes++;
        }

        return bytes;
    }

    private static void WriteEnvelope(byte[] buffer, ref int position, int field, int length)
    {
        buffer[position++] = (byte)((field << 3) | LengthDelimitedWireType);
        var value = (uint)length;
        while (value >= 0x80)
        {
            buffer[position++] = (byte)(value | 0x80);
            value >>= 7;
        }

        buffer[position++] = (byte)value;
    }

    // Reads one field; a length-delimited one's payload is where it lies, any other's has a Length of -1.
    private static bool TryReadField(
        ReadOnlySpan<byte> message, ref int position, out int field, out (int Start, int Length) payload)
    {
        payload = (0, -1);
        field = 0;
        if (!TryReadVarint(message, ref position, out var tag) || tag >> 3 is 0 or > int.MaxValue)
        {
            return false;
        }

        field = (int)(tag >> 3);
        switch ((int)(tag & 7))
        {
            case VarintWireType:
                return TryReadVarint(message, ref position, out _);
            case Fixed64WireType:
                return TrySkip(message, ref position, 8);
            case Fixed32WireType:
                return TrySkip(message, ref position, 4);
            case LengthDelimitedWireType:
                if (!TryReadVarint(message, ref position, out var length) || length > (ulong)(message.Length - position))
                {
                    return false;
                }

                payload = (position, (int)length);
                position += (int)length;
                return true;
            default:
                return false;
        }
    }

    private static bool TrySkip(ReadOnlySpan<byte> message, ref int position, int bytes)
    {
        if (message.Length - position < bytes)
        {
            return false;
        }

        position += bytes;
        return true;
    }

    private static bool TryReadVarint(ReadOnlySpan<byte> message, ref int position, out ulong value)
    {
        value = 0;
        for (var shift = 0; shift < 64 && position < message.Length; shift += 7)
        {
            var next = message[position++];
            value |= (ulong)(next & 0x7F) << shift;
            if ((next & 0x80) == 0)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A resource or scope entry of the request: where its own fields lie, to copy into each part.</summary>
    private sealed class Entry
    {
        private readonly List<(int Start, int Length)> header = [];

        public int HeaderBytes { get; private set; }

        public void AddHeader(int start, int end)
        {
            this.header.Add((start, end - start));
            this.HeaderBytes += end - start;
        }

        public void CopyHeader(ReadOnlySpan<byte> request, byte[] buffer, ref int position)
        {
            foreach (var (start, length) in this.header)
            {
                request.Slice(start, length).CopyTo(buffer.AsSpan(position));
                position += length;
            }
        }
    }

    /// <summary>A field 2 of an entry: where the whole field lies (tag, length and payload), and its payload.</summary>
    private readonly record struct NestedField(int Start, int Length, (int Start, int Length) Payload);

    /// <summary>One span, log record or metric: its whole field (tag, length and payload) in the request.</summary>
    private readonly record struct Item(Entry Resource, Entry Scope, int Start, int Length);

    /// <summary>An entry as one part carries it: a resource entry with scope entries, or a scope entry with items.</summary>
    private sealed class Group(Entry entry)
    {
        public Entry Entry => entry;

        public List<Group> Children { get; } = [];

        public List<Item> Items { get; } = [];

        public int Bytes =>
            entry.HeaderBytes + this.Children.Sum(child => EnvelopedBytes(child.Bytes)) + this.Items.Sum(item => item.Length);
    }
}
