using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using ClaudeStack.Gateway.Adaptation;
using ClaudeStack.Gateway.Tokens;

namespace ClaudeStack.Gateway.Requests;

/// <summary>A tool the request offers the model.</summary>
public sealed record OfferedTool(string Name, JsonElement? InputSchema);

/// <summary>
/// A read-only view of a Messages API request body. Parsing validates the parts the gateway relies on;
/// everything else is left for the upstream to judge.
/// </summary>
public sealed class MessagesRequest : IDisposable
{
    /// <summary>Nesting deeper than this is refused: no real request comes near it.</summary>
    public const int MaxDepth = 128;

    /// <summary>
    /// Longest model name accepted. Ollama's longest (host, namespace, model and tag at their limits) is about 600
    /// characters; the name ends up in span names, metric tags and log lines, so megabytes of it are refused here.
    /// </summary>
    public const int MaxModelLength = 1024;

    /// <summary>The fields the gateway reads; Go's JSON decoder (Ollama) matches names case-insensitively, so a
    /// "Model" next to "model" could be what the model server reads.</summary>
    private static readonly string[] FieldsRead = ["model", "messages", "max_tokens", "system", "stream", "tools", "thinking", "output_config"];

    private static readonly string[] MessageFieldsRead = ["role", "content"];

    private readonly JsonDocument _document;

    private MessagesRequest(JsonDocument document, ReadOnlyMemory<byte> body)
    {
        _document = document;
        Body = body;
    }

    public ReadOnlyMemory<byte> Body { get; }

    public JsonElement Root => _document.RootElement;

    public string Model { get; private init; } = "";

    public bool Stream { get; private init; }

    public int? MaxTokens { get; private init; }

    /// <summary>Unpaired surrogate escapes replaced by U+FFFD (see <see cref="LoneSurrogates"/>).</summary>
    public int ReplacedLoneSurrogates { get; private init; }

    public IReadOnlyList<OfferedTool> Tools { get; private init; } = [];

    /// <summary>The tools the conversation loaded, took away or defined, read once.</summary>
    public ToolChanges ToolChanges { get; private init; } = ToolChanges.None;

    /// <summary>Prompt text and images, for token estimates.</summary>
    public PromptSize Prompt { get; private init; }

    /// <summary>Messages plus the system prompt, for template overhead in token estimates.</summary>
    public int MessageCount { get; private init; }

    public JsonElement Messages => Root.GetProperty("messages");

    public JsonElement? System => Root.TryGetProperty("system", out var system) ? system : null;

    /// <summary>Parses and validates a /v1/messages (or count_tokens) body.</summary>
    /// <returns>The request, or the message of a 400 <c>invalid_request_error</c>.</returns>
    public static (MessagesRequest? Request, string? Error) Parse(ReadOnlyMemory<byte> body)
    {
        if (body.IsEmpty)
        {
            return (null, "The request body is empty; expected a JSON object with 'model' and 'messages'.");
        }

        // The reader checks UTF-8 only in what it reads, and the gateway reads a few fields: checked whole, a bad byte
        // is the same error wherever it is, rather than an exception when an edit re-writes the part that holds it.
        if (!Utf8.IsValid(body.Span))
        {
            return (null, $"The request body is not valid UTF-8 (at byte {FirstInvalidUtf8(body.Span)}).");
        }

        var (text, replacedSurrogates) = LoneSurrogates.Replace(body);

        JsonDocument document;
        try
        {
            // Duplicate keys would let the gateway read one value while the upstream reads another.
            document = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = MaxDepth, AllowDuplicateProperties = false });
        }
        catch (JsonException exception)
        {
            return (null, $"The request body is not valid JSON: {exception.Message}");
        }

        try
        {
            var error = Validate(document.RootElement);
            if (error is not null)
            {
                document.Dispose();
                return (null, error);
            }

            var root = document.RootElement;
            var toolChanges = ToolChanges.Read(root.GetProperty("messages"));
            return (new MessagesRequest(document, text)
            {
                ToolChanges = toolChanges,
                Model = root.GetProperty("model").GetString()!,
                Stream = root.TryGetProperty("stream", out var stream) && stream.ValueKind == JsonValueKind.True,
                MaxTokens = root.TryGetProperty("max_tokens", out var maxTokens) && maxTokens.TryGetInt32(out var value) ? value : null,
                Tools = ReadTools(root, toolChanges),
                Prompt = TokenEstimator.CountPrompt(root, toolChanges),
                MessageCount = TokenEstimator.MessageCount(root),
                ReplacedLoneSurrogates = replacedSurrogates,
            }, null);
        }
        catch (InvalidOperationException exception)
        {
            // Validation reads only what it has checked the kind of; this is the backstop should that ever slip.
            document.Dispose();
            return (null, $"The request has a part of an unexpected shape: {exception.Message}");
        }
    }

    /// <summary>A field the gateway reads, spelled another way that Go's decoder takes for the same field.</summary>
    private static string? OtherSpelling(JsonElement element, string[] fields, string path)
    {
        foreach (var property in element.EnumerateObject())
        {
            // The usual case, a field spelled as it should be, is settled without making a string of the name.
            if (fields.Any(property.NameEquals))
            {
                continue;
            }

            var name = property.Name;
            foreach (var field in fields)
            {
                if (name.Length == field.Length && GoFold(name).Equals(field, StringComparison.OrdinalIgnoreCase))
                {
                    return $"{path}{name}: Extra inputs are not permitted (the field is '{field}').";
                }
            }
        }

        return null;
    }

    /// <summary>Go's case folding also takes the long s (U+017F) for s and the Kelvin sign (U+212A) for k.</summary>
    private static string GoFold(string name) =>
        name.Contains('\u017F', StringComparison.Ordinal) || name.Contains('\u212A', StringComparison.Ordinal)
            ? name.Replace('\u017F', 's').Replace('\u212A', 'k')
            : name;

    private static bool IsControlOrFormat(char c) =>
        char.GetUnicodeCategory(c) is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator;

    private static int FirstInvalidUtf8(ReadOnlySpan<byte> body)
    {
        var offset = 0;
        while (Rune.DecodeFromUtf8(body[offset..], out _, out var consumed) == OperationStatus.Done)
        {
            offset += consumed;
        }

        return offset;
    }

    private static string? Validate(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            return "The request body must be a JSON object.";
        }

        if (!root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.String || model.GetString() is not { Length: > 0 } modelName)
        {
            return "model: Field required (a non-empty string).";
        }

        if (modelName.Length > MaxModelLength)
        {
            return $"model: String should have at most {MaxModelLength} characters.";
        }

        // The name goes into log lines and span names: a line break (or a character that reorders text) there would
        // forge log lines.
        if (modelName.Any(IsControlOrFormat))
        {
            return "model: String should not contain control characters.";
        }

        if (OtherSpelling(root, FieldsRead, "") is { } respelled)
        {
            return respelled;
        }

        if (!root.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array)
        {
            return "messages: Field required (an array of messages).";
        }

        var index = 0;
        foreach (var message in messages.EnumerateArray())
        {
            if (message.ValueKind != JsonValueKind.Object
                || !message.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String
                || !message.TryGetProperty("content", out var content)
                || content.ValueKind is not (JsonValueKind.String or JsonValueKind.Array))
            {
                return $"messages.{index}: each message needs a string 'role' and 'content' (a string or an array of blocks).";
            }

            // The gateway decides by the role (what to fold, what to adapt); Ollama lower-cases it.
            if (!(role.ValueEquals("user") || role.ValueEquals("assistant") || role.ValueEquals("system")))
            {
                return $"messages.{index}.role: Input should be 'user', 'assistant' or 'system'.";
            }

            if (OtherSpelling(message, MessageFieldsRead, $"messages.{index}.") is { } respelledInMessage)
            {
                return respelledInMessage;
            }

            if (BlockError(content, $"messages.{index}.content") is { } blockError)
            {
                return blockError;
            }

            index++;
        }

        if (root.TryGetProperty("stream", out var stream) && stream.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
        {
            return "stream: Input should be a valid boolean.";
        }

        if (root.TryGetProperty("max_tokens", out var maxTokens) && (maxTokens.ValueKind != JsonValueKind.Number || !maxTokens.TryGetInt32(out var max) || max < 0))
        {
            return $"max_tokens: Input should be an integer from 0 to {int.MaxValue}.";
        }

        if (root.TryGetProperty("tools", out var tools) && tools.ValueKind != JsonValueKind.Array)
        {
            return "tools: Input should be a valid list.";
        }

        if (tools.ValueKind == JsonValueKind.Array)
        {
            var toolIndex = 0;
            foreach (var tool in tools.EnumerateArray())
            {
                if (tool.ValueKind != JsonValueKind.Object)
                {
                    return $"tools.{toolIndex}: each tool must be an object.";
                }

                toolIndex++;
            }
        }

        if (root.TryGetProperty("system", out var system) && system.ValueKind is not (JsonValueKind.String or JsonValueKind.Array))
        {
            return "system: Input should be a string or an array of text blocks.";
        }

        if (system.ValueKind == JsonValueKind.Array && BlockError(system, "system") is { } systemError)
        {
            return systemError;
        }

        // Checked last, so a request with no messages yet hears of its other faults first.
        return messages.GetArrayLength() == 0 ? "messages: at least one message is required." : null;
    }

    /// <summary>
    /// Every block of an array, and of a tool result's content, must be an object with a string <c>type</c>, as
    /// Anthropic requires.
    /// </summary>
    private static string? BlockError(JsonElement content, string path)
    {
        if (content.ValueKind != JsonValueKind.Array)
        {
            return null;
        }

        var index = 0;
        foreach (var block in content.EnumerateArray())
        {
            if (block.ValueKind != JsonValueKind.Object || !block.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
            {
                return $"{path}.{index}: each content block must be an object with a string 'type'.";
            }

            if (type.ValueEquals("tool_result") && block.TryGetProperty("content", out var parts))
            {
                if (parts.ValueKind is not (JsonValueKind.String or JsonValueKind.Array))
                {
                    return $"{path}.{index}.content: a tool result's content must be a string or an array of blocks.";
                }

                if (BlockError(parts, $"{path}.{index}.content") is { } nested)
                {
                    return nested;
                }
            }

            index++;
        }

        return null;
    }

    /// <summary>The tools listed, as the conversation's tool changes left them (<see cref="ToolChanges"/>).</summary>
    private static IReadOnlyList<OfferedTool> ReadTools(JsonElement root, ToolChanges changes)
    {
        var result = new List<OfferedTool>();
        if (root.TryGetProperty("tools", out var tools))
        {
            foreach (var tool in tools.EnumerateArray())
            {
                if (ToolChanges.ToolName(tool) is { } name && !changes.Removed.Contains(name))
                {
                    result.Add(Offered(name, tool));
                }
            }
        }

        foreach (var (name, definition) in changes.Defined)
        {
            if (!result.Any(tool => tool.Name == name))
            {
                result.Add(Offered(name, definition));
            }
        }

        return result;

        static OfferedTool Offered(string name, JsonElement tool) =>
            new(name, tool.ValueKind == JsonValueKind.Object && tool.TryGetProperty("input_schema", out var schema) ? schema : null);
    }

    public void Dispose() => _document.Dispose();
}
