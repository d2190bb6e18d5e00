using System.Text.Json;

namespace ClaudeStack.Gateway.Streaming;

/// <summary>The few SSE events the gateway writes itself; everything else is the upstream's own bytes.</summary>
public static class SseEvents
{
    public static readonly byte[] Ping = "event: ping\ndata: {\"type\": \"ping\"}\n\n"u8.ToArray();

    /// <summary>An <c>event: error</c> carrying an Anthropic error body.</summary>
    public static byte[] Error(ReadOnlySpan<byte> errorJson) => [.. "event: error\ndata: "u8, .. errorJson, .. "\n\n"u8];

    /// <summary>An id for a message the gateway starts itself, in the form of Anthropic's own (<c>msg_...</c>).</summary>
    public static string NewMessageId() => $"msg_gateway_{Guid.NewGuid():N}";

    /// <summary>The start of a message, sent while the model is still silent; the upstream's own one is dropped later.</summary>
    public static byte[] MessageStart(string id, string model, int estimatedInputTokens)
    {
        using var buffer = new MemoryStream();
        buffer.Write("event: message_start\ndata: "u8);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("type", "message_start");
            writer.WriteStartObject("message");
            writer.WriteString("id", id);
            writer.WriteString("type", "message");
            writer.WriteString("role", "assistant");
            writer.WriteString("model", model);
            writer.WriteStartArray("content");
            writer.WriteEndArray();
            writer.WriteNull("stop_reason");
            writer.WriteNull("stop_sequence");
            writer.WriteStartObject("usage");
            writer.WriteNumber("input_tokens", estimatedInputTokens);
            writer.WriteNumber("output_tokens", 0);
            writer.WriteEndObject();
            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        buffer.Write("\n\n"u8);
        return buffer.ToArray();
    }

    /// <summary>
    /// A whole (non-streamed) message as the events a stream would have carried, for a streaming client of an upstream
    /// that answered with JSON. Every block goes out as the upstream wrote it: text, thinking (and its signature),
    /// tool input and citations as their deltas, any other block (redacted thinking, server tool results) whole in its
    /// start; the stop sequence and all usage counts in message_delta.
    /// </summary>
    /// <param name="messageJson">A Messages API message (<c>"type": "message"</c>).</param>
    /// <param name="includeStart">False when the client already has the gateway's own message_start.</param>
    public static byte[] FromWholeMessage(ReadOnlySpan<byte> messageJson, bool includeStart)
    {
        var reader = new Utf8JsonReader(messageJson);
        using var document = JsonDocument.ParseValue(ref reader);
        var message = document.RootElement;
        using var buffer = new MemoryStream();
        if (includeStart)
        {
            Write(buffer, "message_start", writer =>
            {
                writer.WriteStartObject("message");
                if (!message.TryGetProperty("id", out _))
                {
                    writer.WriteString("id", NewMessageId());
                }

                foreach (var property in message.EnumerateObject())
                {
                    switch (property.Name)
                    {
                        case "content":
                            writer.WriteStartArray("content");
                            writer.WriteEndArray();
                            break;
                        case "stop_reason" or "stop_sequence":
                            writer.WriteNull(property.Name);
                            break;
                        default:
                            property.WriteTo(writer);
                            break;
                    }
                }

                writer.WriteEndObject();
            });
        }

        if (message.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.Array)
        {
            var index = 0;
            foreach (var block in content.EnumerateArray().Where(block => block.ValueKind == JsonValueKind.Object))
            {
                WriteBlock(buffer, index++, block);
            }
        }

        Write(buffer, "message_delta", writer =>
        {
            writer.WriteStartObject("delta");
            foreach (var name in (string[])["stop_reason", "stop_sequence"])
            {
                if (message.TryGetProperty(name, out var value))
                {
                    writer.WritePropertyName(name);
                    value.WriteTo(writer);
                }
                else
                {
                    writer.WriteNull(name);
                }
            }

            writer.WriteEndObject();
            if (message.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
            {
                writer.WritePropertyName("usage");
                usage.WriteTo(writer);
            }
        });
        Write(buffer, "message_stop", _ => { });
        return buffer.ToArray();
    }

    /// <summary>One content block as its start, its deltas (in the order the API streams them) and its stop.</summary>
    private static void WriteBlock(MemoryStream buffer, int index, JsonElement block)
    {
        var type = block.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "";
        var isToolCall = type is "tool_use" or "server_tool_use" or "mcp_tool_use";
        var deltas = new List<(string Type, string Field, JsonElement Value)>();
        Write(buffer, "content_block_start", writer =>
        {
            writer.WriteNumber("index", index);
            writer.WriteStartObject("content_block");
            foreach (var property in block.EnumerateObject())
            {
                switch (type, property.Name)
                {
                    case ("text", "text"):
                        writer.WriteString("text", "");
                        deltas.Add(("text_delta", "text", property.Value));
                        break;
                    case ("text", "citations") when property.Value.ValueKind == JsonValueKind.Array:
                        deltas.AddRange(property.Value.EnumerateArray().Select(citation => ("citations_delta", "citation", citation)));
                        break;
                    case ("thinking", "thinking"):
                        writer.WriteString("thinking", "");
                        deltas.Insert(0, ("thinking_delta", "thinking", property.Value));
                        break;
                    case ("thinking", "signature"):
                        writer.WriteString("signature", "");
                        deltas.Add(("signature_delta", "signature", property.Value));
                        break;
                    case (_, "input") when isToolCall:
                        writer.WriteStartObject("input");
                        writer.WriteEndObject();
                        deltas.Add(("input_json_delta", "partial_json", property.Value));
                        break;
                    default:
                        property.WriteTo(writer);
                        break;
                }
            }

            writer.WriteEndObject();
        });

        foreach (var (deltaType, field, value) in deltas)
        {
            Write(buffer, "content_block_delta", writer =>
            {
                writer.WriteNumber("index", index);
                writer.WriteStartObject("delta");
                writer.WriteString("type", deltaType);
                if (deltaType == "input_json_delta")
                {
                    // The input as JSON text, the way the API streams it.
                    writer.WriteString(field, value.GetRawText());
                }
                else
                {
                    writer.WritePropertyName(field);
                    value.WriteTo(writer);
                }

                writer.WriteEndObject();
            });
        }

        Write(buffer, "content_block_stop", writer => writer.WriteNumber("index", index));
    }

    private static void Write(MemoryStream buffer, string name, Action<Utf8JsonWriter> body)
    {
        buffer.Write(System.Text.Encoding.UTF8.GetBytes($"event: {name}\ndata: "));
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("type", name);
            body(writer);
            writer.WriteEndObject();
        }

        buffer.Write("\n\n"u8);
    }
}
