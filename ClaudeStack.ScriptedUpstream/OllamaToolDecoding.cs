using System.Text.Json;
using System.Text.Json.Nodes;

namespace ClaudeStack.ScriptedUpstream;

/// <summary>
/// How Ollama v0.32.15 reads a tool's <c>input_schema</c>: anthropic/anthropic.go convertTool decodes it with Go's
/// encoding/json into api.ToolFunctionParameters (api/types.go), whose <c>properties</c> map (and each property's
/// <c>anyOf</c> and nested <c>properties</c>) holds api.ToolProperty structs. A JSON value of the wrong kind for one of
/// those Go fields fails the decode, and FromMessagesRequest turns that into a 400 for the whole request. Keywords the
/// structs do not name are ignored, and <c>items</c> and <c>$defs</c> take anything.
/// </summary>
/// <remarks>
/// The words follow encoding/json's UnmarshalTypeError. A properties map is read by internal/orderedmap over
/// wk8/go-ordered-map, which decodes each value with a json.Unmarshal of its own, so an error inside a property names
/// the Go type that failed there but the struct field of the outermost decode (<c>ToolFunctionParameters.properties</c>);
/// Go 1.20 and later (Ollama builds with 1.26) append the rest of the path to that field. A map that is not an object
/// fails in jsonparser, with its own words. The gateway reads only the status and the error type, never these words.
/// </remarks>
public static class OllamaToolDecoding
{
    /// <returns>Ollama's error message for the first tool it cannot decode; null when it decodes them all.</returns>
    public static string? Refusal(JsonNode? body)
    {
        foreach (var tool in (body?["tools"] as JsonArray ?? []).OfType<JsonObject>())
        {
            // convertTool: a web_search server tool's schema is not read.
            if (tool["type"] is JsonValue type && type.GetValueKind() == JsonValueKind.String && type.GetValue<string>().StartsWith("web_search", StringComparison.Ordinal))
            {
                continue;
            }

            if (ParametersError(tool["input_schema"]) is { } error)
            {
                return $"invalid input_schema for tool \"{(tool["name"] as JsonValue)?.ToString()}\": {error}";
            }
        }

        return null;
    }

    /// <summary>
    /// How one decode failed: a value of the wrong kind for a Go type (<paramref name="GoType"/>), or a message of its own
    /// (<paramref name="Text"/>). <paramref name="Ends"/>: returned by a type's own UnmarshalJSON, which ends the decode at
    /// once; otherwise encoding/json remembers the first such failure and reads on.
    /// </summary>
    private sealed record Failure(string? Kind, string? GoType, string? Text, bool Ends)
    {
        public static Failure WrongKind(JsonNode? value, string goType, bool ends = false) => new(KindOf(value), goType, null, ends);
    }

    /// <summary>api.ToolFunctionParameters: type string, required []string, properties of ToolProperty.</summary>
    private static string? ParametersError(JsonNode? schema)
    {
        if (schema is null)
        {
            return null;
        }

        if (schema is not JsonObject fields)
        {
            return $"json: cannot unmarshal {KindOf(schema)} into Go value of type api.ToolFunctionParameters";
        }

        // Every type error names the outermost struct field it happened under: each decode that returns one through an
        // UnmarshalJSON sets its own field on it, and the outermost sets it last.
        var (failure, field) = FirstFailure(fields, (name, value) => name switch
        {
            "type" => IsString(value) ? null : Failure.WrongKind(Failing(value), "string"),
            "required" => StringListFailure(value),
            "properties" => MapFailure(value),
            _ => null,
        });
        return failure switch
        {
            null => null,
            { Text: { } text } => text,
            _ => $"json: cannot unmarshal {failure.Kind} into Go struct field ToolFunctionParameters.{field} of type {failure.GoType}",
        };
    }

    /// <summary>api.ToolProperty, decoded on its own or as an element of <c>anyOf</c>.</summary>
    private static Failure? PropertyFailure(JsonNode? property)
    {
        if (property is null)
        {
            return null;
        }

        if (property is not JsonObject fields)
        {
            return Failure.WrongKind(property, "api.ToolProperty");
        }

        return FirstFailure(fields, (name, value) => name switch
        {
            "anyOf" => value is null ? null : value is JsonArray options ? FirstOf(options.Select(PropertyFailure)) : Failure.WrongKind(value, "[]api.ToolProperty"),

            // api.PropertyType's UnmarshalJSON reads a string, or else a []string, and returns that decode's error.
            "type" => IsString(value) ? null : StringListFailure(value, ends: true),
            "description" => IsString(value) ? null : Failure.WrongKind(value, "string"),
            "enum" => value is null or JsonArray ? null : Failure.WrongKind(value, "[]interface {}"),
            "required" => StringListFailure(value),
            "properties" => MapFailure(value),
            _ => null,
        }).Failure;
    }

    /// <summary>
    /// A properties map (internal/orderedmap over wk8/go-ordered-map): jsonparser walks the object, and each value is
    /// decoded with a json.Unmarshal of its own, whose error, whatever it is, ends the walk.
    /// </summary>
    private static Failure? MapFailure(JsonNode? properties) => properties switch
    {
        null => null,
        JsonObject map => map.Select(p => PropertyFailure(p.Value)).FirstOrDefault(f => f is not null) is { } failure ? failure with { Ends = true } : null,
        _ => new Failure(null, null, "Value looks like object, but can't find closing '}' symbol", Ends: true),
    };

    private static Failure? StringListFailure(JsonNode? value, bool ends = false) =>
        IsStringList(value) ? null : Failure.WrongKind(Failing(value), value is JsonArray ? "string" : "[]string", ends);

    /// <summary>
    /// The fields in the order they came, as encoding/json reads them (names matched without regard to case): the first
    /// failure that ends the decode, or else the first one remembered, with the field it happened in.
    /// </summary>
    private static (Failure? Failure, string? Field) FirstFailure(JsonObject fields, Func<string, JsonNode?, Failure?> read) =>
        First(fields.Select(pair =>
        {
            var field = pair.Key.ToLowerInvariant() switch { "anyof" => "anyOf", var lower => lower };
            return (read(field, pair.Value), (string?)field);
        }));

    private static Failure? FirstOf(IEnumerable<Failure?> failures) => First(failures.Select(failure => (failure, (string?)null))).Failure;

    /// <summary>
    /// The failure a decode returns, reading in order: the first that ends it, or else the first one remembered. Read
    /// lazily, so nothing after an ending failure is looked at.
    /// </summary>
    private static (Failure? Failure, string? Where) First(IEnumerable<(Failure? Failure, string? Where)> failures)
    {
        (Failure? Failure, string? Where) remembered = (null, null);
        foreach (var found in failures)
        {
            if (found.Failure is { Ends: true })
            {
                return found;
            }

            if (remembered.Failure is null)
            {
                remembered = found;
            }
        }

        return remembered;
    }

    /// <summary>The value the decoder failed on: a list's first element of the wrong kind, or the value itself.</summary>
    private static JsonNode? Failing(JsonNode? value) => value is JsonArray items ? items.First(item => !IsString(item)) : value;

    // JSON null leaves a Go field as it is, so it fits every field.
    private static bool IsString(JsonNode? node) => node is null || (node is JsonValue value && value.GetValueKind() == JsonValueKind.String);

    private static bool IsStringList(JsonNode? node) => node is null || (node is JsonArray items && items.All(IsString));

    /// <summary>The kind Go's errors name.</summary>
    private static string KindOf(JsonNode? node) => node?.GetValueKind() switch
    {
        JsonValueKind.True or JsonValueKind.False => "bool",
        JsonValueKind.Number => "number",
        JsonValueKind.String => "string",
        JsonValueKind.Array => "array",
        _ => "object",
    };
}
