using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ClaudeStack.Gateway.Adaptation;

/// <summary>
/// Ollama (anthropic/anthropic.go, v0.32.15) writes a message's text blocks into one string with nothing between them,
/// and a tool result's text parts likewise (<c>convertMessage</c>, <c>convertToolResultContent</c>): an MCP tool's two
/// results "### Result" and "### Page" reach the model as "…last line### Page". Where one text ends and the next
/// begins without white space, a line break goes at the end of the first.
/// </summary>
public static class GluedText
{
    /// <summary>The read-only check, without allocating: whether <see cref="Separate"/> would change the content.</summary>
    public static bool AnyIn(JsonElement content)
    {
        if (content.ValueKind != JsonValueKind.Array)
        {
            return false;
        }

        if (AnyGlued(content))
        {
            return true;
        }

        foreach (var block in content.EnumerateArray())
        {
            if (ContentText.IsType(block, "tool_result") && block.TryGetProperty("content", out var parts) &&
                parts.ValueKind == JsonValueKind.Array && AnyGlued(parts))
            {
                return true;
            }
        }

        return false;
    }

    /// <returns>Whether a line break was added to any text of the message or of its tool results.</returns>
    public static bool Separate(JsonObject message)
    {
        if (message["content"] is not JsonArray blocks)
        {
            return false;
        }

        var separated = SeparateTexts(blocks);
        foreach (var block in blocks.OfType<JsonObject>())
        {
            if (ContentText.StringOf(block["type"]) == "tool_result" && block["content"] is JsonArray parts)
            {
                separated |= SeparateTexts(parts);
            }
        }

        return separated;
    }

    private static bool AnyGlued(JsonElement blocks)
    {
        var previousEndsBare = false;
        foreach (var block in blocks.EnumerateArray())
        {
            if (!ContentText.IsType(block, "text") || !block.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String)
            {
                continue;
            }

            // The raw JSON string, quotes and escapes included: a leading or trailing "\n" is written as two characters.
            var raw = JsonMarshal.GetRawUtf8Value(text);
            if (raw.Length <= 2)
            {
                continue;
            }

            if (previousEndsBare && !StartsWithSpace(raw))
            {
                return true;
            }

            previousEndsBare = !EndsWithSpace(raw);
        }

        return false;
    }

    private static bool SeparateTexts(JsonArray blocks)
    {
        JsonObject? previous = null;
        var separated = false;
        foreach (var block in blocks.OfType<JsonObject>())
        {
            if (ContentText.StringOf(block["type"]) != "text" || ContentText.StringOf(block["text"]) is not { Length: > 0 } text)
            {
                continue;
            }

            if (previous is not null && !char.IsWhiteSpace(text[0]))
            {
                previous["text"] = ContentText.StringOf(previous["text"]) + "\n";
                separated = true;
            }

            previous = char.IsWhiteSpace(text[^1]) ? null : block;
        }

        return separated;
    }

    private static bool StartsWithSpace(ReadOnlySpan<byte> raw) =>
        raw[1] is (byte)' ' or (byte)'\t' || (raw[1] == '\\' && raw.Length > 3 && raw[2] is (byte)'n' or (byte)'r' or (byte)'t');

    private static bool EndsWithSpace(ReadOnlySpan<byte> raw) =>
        raw[^2] is (byte)' ' or (byte)'\t' || (raw.Length > 3 && raw[^3] == '\\' && raw[^2] is (byte)'n' or (byte)'r' or (byte)'t');
}
