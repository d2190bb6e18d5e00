using System.Text.Json;
using System.Text.Json.Nodes;

namespace ClaudeStack.Gateway.Adaptation;

/// <summary>
/// Content that Ollama (anthropic/anthropic.go, v0.32.15) drops without a word, and what the model gets instead.
/// <c>convertToolResultContent</c> keeps only text and images of a tool result, so tool search's
/// <c>tool_reference</c> results arrive empty; a <c>document</c> block is an unknown block in a message and dropped in a
/// tool result, so a PDF Claude Code read never reaches the model; and <c>defer_loading</c> is not a field Ollama
/// knows, so every deferred tool, loaded or not, is offered as callable.
/// </summary>
public static class DroppedBlocks
{
    public const string ToolReferenceType = "tool_reference";
    public const string DocumentType = "document";

    /// <summary>A read-only scan of one message's content: does it hold a block Ollama would drop?</summary>
    public static bool AnyIn(JsonElement content)
    {
        if (content.ValueKind != JsonValueKind.Array)
        {
            return false;
        }

        return content.EnumerateArray().Any(block => IsType(block, DocumentType))
            || ToolResultParts(content).Any(part => IsType(part, ToolReferenceType) || IsType(part, DocumentType));
    }

    /// <summary>Names of the tools that tool search has loaded in this conversation.</summary>
    public static HashSet<string> LoadedTools(JsonElement messages)
    {
        var loaded = new HashSet<string>(StringComparer.Ordinal);
        foreach (var message in messages.EnumerateArray())
        {
            if (!message.TryGetProperty("content", out var content))
            {
                continue;
            }

            foreach (var part in ToolResultParts(content))
            {
                if (IsType(part, ToolReferenceType) && part.TryGetProperty("tool_name", out var name) && name.ValueKind == JsonValueKind.String)
                {
                    loaded.Add(name.GetString()!);
                }
            }
        }

        return loaded;
    }

    /// <summary>
    /// The tools to offer when some are deferred and not loaded yet (as the Messages API does, where a deferred tool
    /// reaches the model only through a <c>tool_reference</c>); null when every tool stays.
    /// </summary>
    public static JsonArray? OfferedTools(JsonElement tools, JsonElement messages)
    {
        if (tools.ValueKind != JsonValueKind.Array || !tools.EnumerateArray().Any(IsDeferred))
        {
            return null;
        }

        var loaded = LoadedTools(messages);
        var offered = tools.EnumerateArray()
            .Where(tool => !IsDeferred(tool) || (tool.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String && loaded.Contains(name.GetString()!)))
            .ToList();
        return offered.Count == tools.GetArrayLength()
            ? null
            : new JsonArray([.. offered.Select(tool => (JsonNode?)JsonObject.Create(tool))]);
    }

    /// <summary>Replaces, in one user message, every block Ollama would drop by text; reports what it replaced.</summary>
    public static (bool ToolReferences, bool Documents) Replace(JsonObject message)
    {
        if (message["content"] is not JsonArray blocks)
        {
            return (false, false);
        }

        var replaced = ReplaceIn(blocks);
        foreach (var block in blocks.OfType<JsonObject>())
        {
            if (ContentText.StringOf(block["type"]) == "tool_result" && block["content"] is JsonArray parts)
            {
                var inResult = ReplaceIn(parts);
                replaced = (replaced.ToolReferences || inResult.ToolReferences, replaced.Documents || inResult.Documents);
            }
        }

        return replaced;
    }

    private static (bool ToolReferences, bool Documents) ReplaceIn(JsonArray blocks)
    {
        var (references, documents) = (false, false);
        for (var i = 0; i < blocks.Count; i++)
        {
            if (blocks[i] is not JsonObject block)
            {
                continue;
            }

            var type = ContentText.StringOf(block["type"]);
            var text = type switch
            {
                ToolReferenceType => $"Tool loaded: {ContentText.StringOf(block["tool_name"])} (it can be called now)",
                DocumentType => DocumentText(block),
                _ => null,
            };
            if (text is null)
            {
                continue;
            }

            references |= type == ToolReferenceType;
            documents |= type == DocumentType;

            // Ollama joins text blocks with no separator.
            blocks[i] = new JsonObject { ["type"] = "text", ["text"] = i > 0 ? "\n\n" + text : text };
        }

        return (references, documents);
    }

    /// <summary>A text document as its text; anything else (a PDF, a URL, a file id) as a note saying it is missing.</summary>
    private static string DocumentText(JsonObject document)
    {
        var title = ContentText.StringOf(document["title"]);
        var source = document["source"] as JsonObject;
        var body = ContentText.StringOf(source?["type"]) switch
        {
            "text" => ContentText.StringOf(source!["data"]),
            "content" => ContentText.Of(source!["content"]),
            _ => null,
        };
        if (body is not null)
        {
            return title is null ? body : $"{title}\n\n{body}";
        }

        var what = ContentText.StringOf(source?["media_type"]) == "application/pdf" ? "PDF" : "document";
        var named = title is null ? "" : $" \"{title}\"";
        return $"[The {what}{named} is not shown: this model server reads no documents. Extract its text with a tool (for a PDF, pdftotext) to read it.]";
    }

    /// <summary>The blocks inside every tool result of a message's content.</summary>
    private static IEnumerable<JsonElement> ToolResultParts(JsonElement content) =>
        content.ValueKind != JsonValueKind.Array
            ? []
            : content.EnumerateArray()
                .Where(block => IsType(block, "tool_result") && block.TryGetProperty("content", out var parts) && parts.ValueKind == JsonValueKind.Array)
                .SelectMany(block => block.GetProperty("content").EnumerateArray());

    private static bool IsDeferred(JsonElement tool) =>
        tool.ValueKind == JsonValueKind.Object && tool.TryGetProperty("defer_loading", out var deferred) && deferred.ValueKind == JsonValueKind.True;

    private static bool IsType(JsonElement block, string type) =>
        block.ValueKind == JsonValueKind.Object && block.TryGetProperty("type", out var value) && value.ValueKind == JsonValueKind.String && value.ValueEquals(type);
}
