using System.Text.Json;
using System.Text.Json.Nodes;

namespace ClaudeStack.Gateway.Adaptation;

/// <summary>Kinds of block <see cref="DroppedBlocks.Replace"/> turned into text.</summary>
[Flags]
public enum ReplacedBlocks
{
    None = 0,
    ToolReferences = 1,
    Documents = 2,
    Images = 4,
    SearchResults = 8,
}

/// <summary>
/// Content that Ollama (anthropic/anthropic.go, v0.32.15) cannot give the model, and what the model gets instead.
/// <c>convertToolResultContent</c> keeps only text and images of a tool result, so tool search's
/// <c>tool_reference</c> results arrive empty; a <c>document</c> block is an unknown block in a message and dropped in a
/// tool result, so a PDF Claude Code read never reaches the model; and <c>defer_loading</c> is not a field Ollama
/// knows, so every deferred tool, loaded or not, is offered as callable. A <c>search_result</c> (WebFetch's page and
/// WebSearch's hits when Claude Code runs with CLAUDE_CODE_WEBSEARCH_CITATIONS) is dropped from a tool result like a
/// document, and in a message its string <c>source</c> does not decode into Ollama's image source. Images are passed
/// on, but a model without vision has no projector to read them and the call fails; since Claude Code sends the whole
/// conversation each turn, every later call of the session would fail too.
/// </summary>
public static class DroppedBlocks
{
    public const string ToolReferenceType = "tool_reference";
    public const string DocumentType = "document";
    public const string ImageType = "image";
    public const string SearchResultType = "search_result";

    /// <summary>A read-only scan of one message's content: does it hold a block to replace?</summary>
    /// <param name="images">Whether images count (the model has no vision).</param>
    public static bool AnyIn(JsonElement content, bool images)
    {
        if (content.ValueKind != JsonValueKind.Array)
        {
            return false;
        }

        return content.EnumerateArray().Any(block => ContentText.IsType(block, DocumentType) || ContentText.IsType(block, SearchResultType) || (images && ContentText.IsType(block, ImageType)))
            || ToolResultParts(content).Any(part => ContentText.IsType(part, ToolReferenceType) || ContentText.IsType(part, DocumentType) || ContentText.IsType(part, SearchResultType) || (images && ContentText.IsType(part, ImageType)));
    }

    /// <summary>
    /// The tools to offer when some are deferred and not loaded yet (as the Messages API does, where a deferred tool
    /// reaches the model only through a <c>tool_reference</c>), or when the conversation took one away or defined one;
    /// null when the listed tools go as they are.
    /// </summary>
    public static List<JsonElement>? OfferedTools(JsonElement tools, ToolChanges changes)
    {
        var listed = tools.ValueKind == JsonValueKind.Array ? tools.EnumerateArray().ToList() : [];
        if (!listed.Any(IsDeferred) && !changes.ReshapesTools)
        {
            return null;
        }

        var offered = listed.Where(changes.Offers).ToList();

        // A definition of a tool the client lists already is that tool: the listed one stays.
        var defined = changes.Defined.Where(tool => !listed.Any(known => ToolChanges.ToolName(known) == tool.Key)).Select(tool => tool.Value).ToList();
        offered.AddRange(defined);
        return offered.Count == listed.Count && defined.Count == 0 ? null : offered;
    }

    /// <summary>Replaces, in one message, every block the model would not get by text; reports what it replaced.</summary>
    /// <param name="modelWithoutVision">The model's name when it has no vision and images are to be replaced too; otherwise null.</param>
    public static ReplacedBlocks Replace(JsonObject message, string? modelWithoutVision)
    {
        if (message["content"] is not JsonArray blocks)
        {
            return ReplacedBlocks.None;
        }

        var replaced = ReplaceIn(blocks, modelWithoutVision);
        foreach (var block in blocks.OfType<JsonObject>())
        {
            if (ContentText.StringOf(block["type"]) == "tool_result" && block["content"] is JsonArray parts)
            {
                replaced |= ReplaceIn(parts, modelWithoutVision);
            }
        }

        return replaced;
    }

    private static ReplacedBlocks ReplaceIn(JsonArray blocks, string? modelWithoutVision)
    {
        var replaced = ReplacedBlocks.None;
        for (var i = 0; i < blocks.Count; i++)
        {
            if (blocks[i] is not JsonObject block)
            {
                continue;
            }

            var (kind, text) = ContentText.StringOf(block["type"]) switch
            {
                ToolReferenceType => (ReplacedBlocks.ToolReferences, $"Tool loaded: {ContentText.StringOf(block["tool_name"])} (it can be called now)"),
                DocumentType => (ReplacedBlocks.Documents, DocumentText(block)),
                SearchResultType => (ReplacedBlocks.SearchResults, SearchResultText(block)),
                ImageType when modelWithoutVision is not null => (ReplacedBlocks.Images, ImageNote(block, modelWithoutVision)),
                _ => (ReplacedBlocks.None, null),
            };
            if (text is null)
            {
                continue;
            }

            replaced |= kind;

            // Ollama joins text blocks with no separator.
            blocks[i] = new JsonObject { ["type"] = "text", ["text"] = i > 0 ? "\n\n" + text : text };
        }

        return replaced;
    }

    /// <summary>Says what was there, so the model can tell the user rather than guess at what the image shows.</summary>
    private static string ImageNote(JsonObject image, string model)
    {
        var mediaType = ContentText.StringOf((image["source"] as JsonObject)?["media_type"]);
        var what = mediaType is null ? "An image" : $"An image ({mediaType})";
        return $"[{what} is not shown: the model {model} cannot see images. Ask for a description of it, or use a model with vision.]";
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

    /// <summary>Where it came from, then its text; WebFetch names the page by its address twice.</summary>
    private static string SearchResultText(JsonObject result)
    {
        var source = ContentText.StringOf(result["source"]);
        var title = ContentText.StringOf(result["title"]);
        var heading = title is null || title == source ? source : source is null ? title : $"{title} ({source})";

        // WebFetch cuts one page into chunks at whitespace: joined as they were cut, they are the page again.
        var text = string.Concat((result["content"] as JsonArray ?? []).OfType<JsonObject>()
            .Where(part => ContentText.StringOf(part["type"]) == "text")
            .Select(part => ContentText.StringOf(part["text"])));
        return heading is null ? text : $"{heading}\n\n{text}";
    }

    /// <summary>The blocks inside every tool result of a message's content.</summary>
    internal static IEnumerable<JsonElement> ToolResultParts(JsonElement content) =>
        content.ValueKind != JsonValueKind.Array
            ? []
            : content.EnumerateArray()
                .Where(block => ContentText.IsType(block, "tool_result") && block.TryGetProperty("content", out var parts) && parts.ValueKind == JsonValueKind.Array)
                .SelectMany(block => block.GetProperty("content").EnumerateArray());

    /// <summary>A tool the model sees only once tool search has loaded it (<c>defer_loading</c>).</summary>
    public static bool IsDeferred(JsonElement tool) =>
        tool.ValueKind == JsonValueKind.Object && tool.TryGetProperty("defer_loading", out var deferred) && deferred.ValueKind == JsonValueKind.True;
}
