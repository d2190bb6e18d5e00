using System.Text.Json;
using System.Text.Json.Nodes;
using ClaudeStack.Gateway.Requests;
using ClaudeStack.Gateway.Streaming;

namespace ClaudeStack.Gateway.Telemetry;

/// <summary>
/// Message content as JSON in the shape of the GenAI conventions, which the Aspire dashboard's GenAI view reads:
/// messages with a role and parts of type text, tool_call{id,name,arguments}, tool_call_response{id,response}, reasoning.
/// Only built when content capture is on.
/// </summary>
public static class GenAiContent
{
    /// <summary>Longest text kept per part; Claude Code's system prompt alone is ~80 KB.</summary>
    public const int MaxPartChars = 128 * 1024;

    private static readonly JsonSerializerOptions Compact = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string SystemInstructions(JsonElement system)
    {
        var parts = new JsonArray();
        if (system.ValueKind == JsonValueKind.String)
        {
            parts.Add(TextPart(system.GetString()));
        }
        else if (system.ValueKind == JsonValueKind.Array)
        {
            foreach (var block in system.EnumerateArray())
            {
                if (block.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String)
                {
                    parts.Add(TextPart(text.GetString()));
                }
            }
        }

        return parts.ToJsonString(Compact);
    }

    public static string InputMessages(JsonElement messages)
    {
        var result = new JsonArray();
        foreach (var message in messages.EnumerateArray())
        {
            var role = message.GetProperty("role").GetString() ?? "user";
            var parts = new JsonArray();
            var content = message.GetProperty("content");
            if (content.ValueKind == JsonValueKind.String)
            {
                parts.Add(TextPart(content.GetString()));
            }
            else
            {
                foreach (var block in content.EnumerateArray())
                {
                    if (InputPart(block) is { } part)
                    {
                        parts.Add(part);
                    }
                }
            }

            result.Add(new JsonObject { ["role"] = role, ["parts"] = parts });
        }

        return result.ToJsonString(Compact);
    }

    public static string OutputMessages(ModelResponse response)
    {
        var parts = new JsonArray();
        foreach (var block in response.Blocks)
        {
            var content = block.Content.ToString();
            parts.Add(block.Type switch
            {
                "tool_use" => new JsonObject
                {
                    ["type"] = "tool_call",
                    ["id"] = block.ToolUseId,
                    ["name"] = block.ToolName,
                    ["arguments"] = ParseOrText(content),
                },
                "thinking" => new JsonObject { ["type"] = "reasoning", ["content"] = Truncate(content) },
                _ => TextPart(content),
            });
        }

        var message = new JsonObject { ["role"] = "assistant", ["parts"] = parts };
        if (response.StopReason is { } stopReason)
        {
            message["finish_reason"] = stopReason;
        }

        return new JsonArray(message).ToJsonString(Compact);
    }

    public static string ToolDefinitions(JsonElement tools)
    {
        var result = new JsonArray();
        foreach (var tool in tools.EnumerateArray())
        {
            if (tool.ValueKind != JsonValueKind.Object)
            {
                continue;
            }

            var definition = new JsonObject { ["type"] = "function" };
            if (tool.TryGetProperty("name", out var name))
            {
                definition["name"] = JsonNode.Parse(name.GetRawText());
            }

            if (tool.TryGetProperty("description", out var description) && description.ValueKind == JsonValueKind.String)
            {
                definition["description"] = Truncate(description.GetString());
            }

            if (tool.TryGetProperty("input_schema", out var schema))
            {
                definition["parameters"] = JsonNode.Parse(schema.GetRawText());
            }

            result.Add(definition);
        }

        return result.ToJsonString(Compact);
    }

    private static JsonObject? InputPart(JsonElement block)
    {
        var type = block.TryGetProperty("type", out var t) ? t.GetString() : null;
        return type switch
        {
            "text" => TextPart(block.TryGetProperty("text", out var text) ? text.GetString() : null),
            "thinking" => new JsonObject { ["type"] = "reasoning", ["content"] = Truncate(block.TryGetProperty("thinking", out var thinking) ? thinking.GetString() : null) },
            "tool_use" => new JsonObject
            {
                ["type"] = "tool_call",
                ["id"] = block.TryGetProperty("id", out var id) ? id.GetString() : null,
                ["name"] = block.TryGetProperty("name", out var name) ? name.GetString() : null,
                ["arguments"] = block.TryGetProperty("input", out var input) ? JsonNode.Parse(input.GetRawText()) : null,
            },
            "tool_result" => new JsonObject
            {
                ["type"] = "tool_call_response",
                ["id"] = block.TryGetProperty("tool_use_id", out var toolUseId) ? toolUseId.GetString() : null,
                ["response"] = ToolResultText(block),
            },
            "image" or "document" => TextPart($"[{type}]"),
            "redacted_thinking" => null,
            _ => TextPart(block.GetRawText()),
        };
    }

    private static string ToolResultText(JsonElement block)
    {
        if (!block.TryGetProperty("content", out var content))
        {
            return "";
        }

        if (content.ValueKind == JsonValueKind.String)
        {
            return Truncate(content.GetString());
        }

        var pieces = content.ValueKind == JsonValueKind.Array
            ? content.EnumerateArray().Select(part => part.TryGetProperty("text", out var text) ? text.GetString() : $"[{(part.TryGetProperty("type", out var type) ? type.GetString() : "part")}]")
            : [content.GetRawText()];
        return Truncate(string.Join("\n", pieces));
    }

    private static JsonObject TextPart(string? text) => new() { ["type"] = "text", ["content"] = Truncate(text) };

    private static JsonNode? ParseOrText(string json)
    {
        try
        {
            return JsonNode.Parse(json);
        }
        catch (JsonException)
        {
            return Truncate(json);
        }
    }

    private static string Truncate(string? text) =>
        text is null ? "" : text.Length <= MaxPartChars ? text : string.Concat(text.AsSpan(0, MaxPartChars), "…[truncated]");
}
