using System.Text.Json;
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

    public IReadOnlyList<OfferedTool> Tools { get; private init; } = [];

    /// <summary>Characters of prompt text, for token estimates.</summary>
    public long PromptChars { get; private init; }

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

        JsonDocument document;
        try
        {
            // Duplicate keys would let the gateway read one value while the upstream reads another.
            document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = MaxDepth, AllowDuplicateProperties = false });
        }
        catch (JsonException exception)
        {
            return (null, $"The request body is not valid JSON: {exception.Message}");
        }
        catch (ArgumentException exception)
        {
            // Invalid UTF-8 surfaces as an ArgumentException from the reader.
            return (null, $"The request body is not valid UTF-8 JSON: {exception.Message}");
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
            return (new MessagesRequest(document, body)
            {
                Model = root.GetProperty("model").GetString()!,
                Stream = root.TryGetProperty("stream", out var stream) && stream.ValueKind == JsonValueKind.True,
                MaxTokens = root.TryGetProperty("max_tokens", out var maxTokens) && maxTokens.TryGetInt32(out var value) ? value : null,
                Tools = ReadTools(root),
                PromptChars = TokenEstimator.CountPromptChars(root),
                MessageCount = TokenEstimator.MessageCount(root),
            }, null);
        }
        catch (InvalidOperationException exception)
        {
            // The reader checks UTF-8 inside strings only when they are read.
            document.Dispose();
            return (null, $"The request body is not valid UTF-8 JSON: {exception.Message}");
        }
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
            return "max_tokens: Input should be a non-negative integer.";
        }

        if (root.TryGetProperty("tools", out var tools) && tools.ValueKind != JsonValueKind.Array)
        {
            return "tools: Input should be a valid list.";
        }

        if (root.TryGetProperty("system", out var system) && system.ValueKind is not (JsonValueKind.String or JsonValueKind.Array))
        {
            return "system: Input should be a string or an array of text blocks.";
        }

        return system.ValueKind == JsonValueKind.Array ? BlockError(system, "system") : null;
    }

    /// <summary>Every block of an array must be an object with a string <c>type</c>, as Anthropic requires.</summary>
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

            index++;
        }

        return null;
    }

    private static IReadOnlyList<OfferedTool> ReadTools(JsonElement root)
    {
        if (!root.TryGetProperty("tools", out var tools))
        {
            return [];
        }

        var result = new List<OfferedTool>();
        foreach (var tool in tools.EnumerateArray())
        {
            if (tool.ValueKind == JsonValueKind.Object && tool.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String)
            {
                result.Add(new OfferedTool(name.GetString()!, tool.TryGetProperty("input_schema", out var schema) ? schema : null));
            }
        }

        return result;
    }

    public void Dispose() => _document.Dispose();
}
