using System.Buffers;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ClaudeStack.Gateway.Requests;

/// <summary>
/// Changes to the top-level properties of a request body. Unchanged properties are copied as they are,
/// so a request that needs no change is forwarded byte for byte.
/// </summary>
public sealed class RequestEdits
{
    private readonly Dictionary<string, JsonNode?> _set = new(StringComparer.Ordinal);
    private readonly HashSet<string> _removed = new(StringComparer.Ordinal);

    public bool IsEmpty => _set.Count == 0 && _removed.Count == 0;

    /// <summary>Names of the properties changed, for telemetry.</summary>
    public IEnumerable<string> ChangedProperties => _set.Keys.Concat(_removed).Order(StringComparer.Ordinal);

    public RequestEdits Set(string property, JsonNode? value)
    {
        _removed.Remove(property);
        _set[property] = value;
        return this;
    }

    public RequestEdits Remove(string property)
    {
        _set.Remove(property);
        _removed.Add(property);
        return this;
    }

    /// <summary>Writes the edited body; returns the original bytes when there is nothing to change.</summary>
    public ReadOnlyMemory<byte> Apply(JsonElement root, ReadOnlyMemory<byte> original)
    {
        if (IsEmpty)
        {
            return original;
        }

        var buffer = new ArrayBufferWriter<byte>(original.Length + 256);
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true }))
        {
            writer.WriteStartObject();
            var written = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in root.EnumerateObject())
            {
                if (_removed.Contains(property.Name) || !written.Add(property.Name))
                {
                    continue;
                }

                if (_set.TryGetValue(property.Name, out var replacement))
                {
                    writer.WritePropertyName(property.Name);
                    WriteNode(writer, replacement);
                }
                else
                {
                    // The original bytes, copied as they are: the document already validated them.
                    writer.WritePropertyName(property.Name);
                    writer.WriteRawValue(JsonMarshal.GetRawUtf8Value(property.Value), skipInputValidation: true);
                }
            }

            foreach (var (name, value) in _set)
            {
                if (!written.Contains(name))
                {
                    writer.WritePropertyName(name);
                    WriteNode(writer, value);
                }
            }

            writer.WriteEndObject();
        }

        return buffer.WrittenMemory;
    }

    private static void WriteNode(Utf8JsonWriter writer, JsonNode? node)
    {
        if (node is null)
        {
            writer.WriteNullValue();
        }
        else
        {
            node.WriteTo(writer);
        }
    }
}
