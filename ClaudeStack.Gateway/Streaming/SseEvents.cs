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
    /// A whole (non-streamed) message as the events a stream would have carried, for a client whose stream
    /// had already started when the upstream answered with JSON.
    /// </summary>
    public static byte[] FromWholeMessage(ModelResponse message, bool includeStart)
    {
        using var buffer = new MemoryStream();
        if (includeStart)
        {
            buffer.Write(MessageStart(message.Id ?? NewMessageId(), message.Model ?? "", (int)(message.InputTokens ?? 0)));
        }

        foreach (var block in message.Blocks)
        {
            Write(buffer, "content_block_start", writer =>
            {
                writer.WriteNumber("index", block.Index);
                writer.WriteStartObject("content_block");
                writer.WriteString("type", block.Type);
                switch (block.Type)
                {
                    case "tool_use":
                        writer.WriteString("id", block.ToolUseId);
                        writer.WriteString("name", block.ToolName);
                        writer.WriteStartObject("input");
                        writer.WriteEndObject();
                        break;
                    case "thinking":
                        writer.WriteString("thinking", "");
                        break;
                    default:
                        writer.WriteString("text", "");
                        break;
                }

                writer.WriteEndObject();
            });
            Write(buffer, "content_block_delta", writer =>
            {
                writer.WriteNumber("index", block.Index);
                writer.WriteStartObject("delta");
                var (deltaType, field) = block.Type switch
                {
                    "tool_use" => ("input_json_delta", "partial_json"),
                    "thinking" => ("thinking_delta", "thinking"),
                    _ => ("text_delta", "text"),
                };
                writer.WriteString("type", deltaType);
                writer.WriteString(field, block.Content.ToString());
                writer.WriteEndObject();
            });
            Write(buffer, "content_block_stop", writer => writer.WriteNumber("index", block.Index));
        }

        Write(buffer, "message_delta", writer =>
        {
            writer.WriteStartObject("delta");
            writer.WriteString("stop_reason", message.StopReason);
            writer.WriteNull("stop_sequence");
            writer.WriteEndObject();
            writer.WriteStartObject("usage");
            writer.WriteNumber("input_tokens", message.InputTokens ?? 0);
            writer.WriteNumber("output_tokens", message.OutputTokens ?? 0);
            writer.WriteEndObject();
        });
        Write(buffer, "message_stop", _ => { });
        return buffer.ToArray();
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
