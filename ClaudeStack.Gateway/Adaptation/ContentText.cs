using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ClaudeStack.Gateway.Adaptation;

/// <summary>The text of some content: a string as it is, the text blocks of an array joined with blank lines.</summary>
public static class ContentText
{
    /// <summary>How a failed tool result starts where its <c>is_error</c> does not travel (Ollama drops it).</summary>
    public const string ToolErrorMark = "[tool error] ";

    /// <returns>Null when the content is neither a string nor an array.</returns>
    public static string? Of(JsonNode? content)
    {
        if (content is not JsonArray blocks)
        {
            return StringOf(content);
        }

        var text = new StringBuilder();
        foreach (var block in blocks.OfType<JsonObject>())
        {
            if (StringOf(block["type"]) == "text" && StringOf(block["text"]) is { } value)
            {
                text.Append(text.Length > 0 ? "\n\n" : "").Append(value);
            }
        }

        return text.ToString();
    }

    /// <summary>Whether a block of the request is an object of the given <c>type</c>.</summary>
    public static bool IsType(JsonElement block, string type) =>
        block.ValueKind == JsonValueKind.Object && block.TryGetProperty("type", out var value) && value.ValueKind == JsonValueKind.String && value.ValueEquals(type);

    /// <summary>Nested blocks are not validated like a message's own: anything but a string reads as absent.</summary>
    public static string? StringOf(JsonNode? node) =>
        node is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : null;
}
