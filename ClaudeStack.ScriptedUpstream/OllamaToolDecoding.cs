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

    /// <summary>api.ToolFunctionParameters: type string, required []string, properties of ToolProperty.</summary>
    private static string? ParametersError(JsonNode? schema)
    {
        if (schema is null)
        {
            return null;
        }

        if (schema is not JsonObject fields)
        {
            return $"json: cannot unmarshal {Kind(schema)} into Go value of type api.ToolFunctionParameters";
        }

        return FieldError(fields, "ToolFunctionParameters", "type", IsString, "string")
            ?? FieldError(fields, "ToolFunctionParameters", "required", IsStringList, "[]string")
            ?? PropertiesError(fields["properties"], "ToolFunctionParameters");
    }

    /// <summary>
    /// A properties map goes through the ordered map's UnmarshalJSON, which decodes each value on its own, so a bad
    /// value is reported against api.ToolProperty itself.
    /// </summary>
    private static string? PropertiesError(JsonNode? properties, string owner)
    {
        return properties switch
        {
            null => null,
            JsonObject map => map.Select(p => PropertyError(p.Value)).FirstOrDefault(e => e is not null),
            _ => $"json: cannot unmarshal {Kind(properties)} into Go struct field {owner}.properties of type api.ToolPropertiesMap",
        };
    }

    /// <summary>api.ToolProperty: anyOf []ToolProperty, type string or []string, description string, enum []any, properties, required []string.</summary>
    private static string? PropertyError(JsonNode? property)
    {
        if (property is null)
        {
            return null;
        }

        if (property is not JsonObject fields)
        {
            return $"json: cannot unmarshal {Kind(property)} into Go value of type api.ToolProperty";
        }

        if (fields["anyOf"] is { } anyOf)
        {
            if (anyOf is not JsonArray options)
            {
                return $"json: cannot unmarshal {Kind(anyOf)} into Go struct field ToolProperty.anyOf of type []api.ToolProperty";
            }

            if (options.Select(PropertyError).FirstOrDefault(e => e is not null) is { } nested)
            {
                return nested;
            }
        }

        return FieldError(fields, "ToolProperty", "type", n => IsString(n) || IsStringList(n), "api.PropertyType")
            ?? FieldError(fields, "ToolProperty", "description", IsString, "string")
            ?? FieldError(fields, "ToolProperty", "enum", n => n is null or JsonArray, "[]interface {}")
            ?? FieldError(fields, "ToolProperty", "required", IsStringList, "[]string")
            ?? PropertiesError(fields["properties"], "ToolProperty");
    }

    private static string? FieldError(JsonObject fields, string owner, string name, Func<JsonNode?, bool> fits, string goType) =>
        fields.TryGetPropertyValue(name, out var value) && !fits(value)
            ? $"json: cannot unmarshal {Kind(value)} into Go struct field {owner}.{name} of type {goType}"
            : null;

    // JSON null leaves a Go field as it is, so it fits every field.
    private static bool IsString(JsonNode? node) => node is null || (node is JsonValue value && value.GetValueKind() == JsonValueKind.String);

    private static bool IsStringList(JsonNode? node) => node is null || (node is JsonArray items && items.All(IsString));

    /// <summary>The kind Go's errors name.</summary>
    private static string Kind(JsonNode? node) => node?.GetValueKind() switch
    {
        JsonValueKind.True or JsonValueKind.False => "bool",
        JsonValueKind.Number => "number",
        JsonValueKind.String => "string",
        JsonValueKind.Array => "array",
        _ => "object",
    };
}
