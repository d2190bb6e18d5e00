using System.Text.Json;

namespace ClaudeStack.Gateway.Streaming;

/// <summary>The few SSE events the gateway writes itself; everything else is the upstream's own bytes.</summary>
public static class SseEvents
{
    public static readonly byte[] Ping = "event: ping\ndata: {\"type\": \"ping\"}\n\n"u8.ToArray();

    /// <summary>An <c>event: error</c> carrying an Anthropic error body.</summary>
    public static byte[] Error(ReadOnlySpan<byte> errorJson) => [.. "event: error\ndata: "u8, .. errorJson, .. "\n\n"u8];

    /// <summary>The start of a message, sent while the model is still silent; the upstream's own one is dropped later.</summary>
    public static byte[] MessageStart(string model, int estimatedInputTokens)
    {
        using var buffer = new MemoryStream();
        buffer.Write("event: message_start\ndata: "u8);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("type", "message_start");
            writer.WriteStartObject("message");
            writer.WriteString("id", $"msg_gateway_{Guid.NewGuid():N}");
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
}
