using System.Text.Json;
using System.Text.Json.Nodes;

namespace ClaudeStack.Gateway.Adaptation;

/// <summary>
/// A tool's <c>input_schema</c> in a shape Ollama (v0.32.15) can decode. anthropic/anthropic.go convertTool reads it
/// with Go's decoder into api.ToolFunctionParameters, whose properties (and their <c>anyOf</c> and nested properties)
/// are api.ToolProperty structs with typed fields (api/types.go). JSON Schema allows more: a boolean schema
/// (<c>true</c>, any value, is how Rust's schemars describes a <c>serde_json::Value</c> argument), a keyword of
/// another kind. One such value in one MCP tool fails the decode, and Ollama answers every call of the session 400.
/// </summary>
public static class OllamaToolSchema
{
    /// <returns>The schema rewritten so Ollama decodes it; null when it decodes as it is.</returns>
    public static JsonNode? Decodable(JsonElement schema)
    {
        if (DecodesAsIs(schema))
        {
            return null;
        }

        if (schema.ValueKind != JsonValueKind.Object)
        {
            // Not a schema Anthropic takes for a tool either: the tool keeps its name and description.
            return new JsonObject { ["type"] = "object", ["properties"] = new JsonObject() };
        }

        var rewritten = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        var removed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var field in schema.EnumerateObject())
        {
            switch (field.Name)
            {
                case "type" when !IsStringOrNull(field.Value):
                    rewritten["type"] = "object";
                    break;
                case "required" when !IsStringListOrNull(field.Value):
                    removed.Add(field.Name);
                    break;
                case "properties":
                    Note(field, Properties(field.Value), rewritten, removed);
                    break;
            }
        }

        return Rebuild(schema, rewritten, removed);
    }

    /// <summary>
    /// A read-only scan, without allocating, for the per-call path: does the schema hold anything
    /// <see cref="Decodable"/> would rewrite? Claude Code's own tools never do.
    /// </summary>
    public static bool DecodesAsIs(JsonElement schema)
    {
        if (schema.ValueKind == JsonValueKind.Null)
        {
            return true;
        }

        if (schema.ValueKind != JsonValueKind.Object)
        {
            return false;
        }

        // NameEquals rather than Name: the scan reads every keyword of every tool on every call.
        foreach (var field in schema.EnumerateObject())
        {
            var fits = field.NameEquals("type") ? IsStringOrNull(field.Value)
                : field.NameEquals("required") ? IsStringListOrNull(field.Value)
                : !field.NameEquals("properties") || PropertiesDecode(field.Value);
            if (!fits)
            {
                return false;
            }
        }

        return true;
    }

    private static bool PropertiesDecode(JsonElement properties)
    {
        if (properties.ValueKind != JsonValueKind.Object)
        {
            return properties.ValueKind == JsonValueKind.Null;
        }

        foreach (var property in properties.EnumerateObject())
        {
            if (!PropertyDecodes(property.Value))
            {
                return false;
            }
        }

        return true;
    }

    private static bool PropertyDecodes(JsonElement schema)
    {
        if (schema.ValueKind != JsonValueKind.Object)
        {
            return schema.ValueKind == JsonValueKind.Null;
        }

        foreach (var field in schema.EnumerateObject())
        {
            var fits = KeywordFits(field)
                && (!field.NameEquals("properties") || PropertiesDecode(field.Value))
                && (!field.NameEquals("anyOf") || AnyOfDecodes(field.Value));
            if (!fits)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Whether a keyword of a property schema has the JSON kind api.ToolProperty's field for it takes.</summary>
    private static bool KeywordFits(JsonProperty field) =>
        field.NameEquals("type") ? IsStringOrNull(field.Value) || IsStringListOrNull(field.Value)
        : field.NameEquals("description") ? IsStringOrNull(field.Value)
        : field.NameEquals("enum") ? field.Value.ValueKind is JsonValueKind.Array or JsonValueKind.Null
        : !field.NameEquals("required") || IsStringListOrNull(field.Value);

    private static bool AnyOfDecodes(JsonElement options) => IsListOrNull(options, static option => PropertyDecodes(option));

    /// <summary>What becomes of one schema where Ollama reads an api.ToolProperty.</summary>
    private readonly record struct Change(bool Drop, JsonNode? Replacement)
    {
        public static readonly Change None = default;

        public bool Any => Drop || Replacement is not null;
    }

    private static Change Property(JsonElement schema)
    {
        switch (schema.ValueKind)
        {
            case JsonValueKind.Null:
                return Change.None;
            case JsonValueKind.True:
                // Any value: the empty schema says the same.
                return new Change(false, new JsonObject());
            case JsonValueKind.False:
                // No value fits, so the model has nothing to give: the property goes.
                return new Change(true, null);
            case not JsonValueKind.Object:
                return new Change(false, new JsonObject());
        }

        var rewritten = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        var removed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var field in schema.EnumerateObject())
        {
            if (!KeywordFits(field))
            {
                removed.Add(field.Name);
            }
            else if (field.Name == "properties")
            {
                Note(field, Properties(field.Value), rewritten, removed);
            }
            else if (field.Name == "anyOf")
            {
                Note(field, AnyOf(field.Value), rewritten, removed);
            }
        }

        return new Change(false, Rebuild(schema, rewritten, removed));
    }

    /// <summary>A properties map, each value a property schema.</summary>
    private static Change Properties(JsonElement properties)
    {
        if (properties.ValueKind == JsonValueKind.Null)
        {
            return Change.None;
        }

        if (properties.ValueKind != JsonValueKind.Object)
        {
            return new Change(true, null);
        }

        var changes = properties.EnumerateObject().Select(property => (Property: property, Change: Property(property.Value))).ToList();
        if (!changes.Any(c => c.Change.Any))
        {
            return Change.None;
        }

        var result = new JsonObject();
        foreach (var (property, change) in changes.Where(c => !c.Change.Drop))
        {
            result[property.Name] = change.Replacement ?? NodeOf(property.Value);
        }

        return new Change(false, result);
    }

    /// <summary>An anyOf list, each entry a property schema.</summary>
    private static Change AnyOf(JsonElement options)
    {
        if (options.ValueKind == JsonValueKind.Null)
        {
            return Change.None;
        }

        if (options.ValueKind != JsonValueKind.Array)
        {
            return new Change(true, null);
        }

        var changes = options.EnumerateArray().Select(option => (Option: option, Change: Property(option))).ToList();
        if (!changes.Any(c => c.Change.Any))
        {
            return Change.None;
        }

        return new Change(false, new JsonArray([.. changes.Where(c => !c.Change.Drop).Select(c => c.Change.Replacement ?? NodeOf(c.Option))]));
    }

    private static void Note(JsonProperty field, Change change, Dictionary<string, JsonNode?> rewritten, HashSet<string> removed)
    {
        if (change.Drop)
        {
            removed.Add(field.Name);
        }
        else if (change.Replacement is not null)
        {
            rewritten[field.Name] = change.Replacement;
        }
    }

    /// <returns>The object with its rewritten and removed fields; null when there are none.</returns>
    private static JsonObject? Rebuild(JsonElement schema, Dictionary<string, JsonNode?> rewritten, HashSet<string> removed)
    {
        if (rewritten.Count == 0 && removed.Count == 0)
        {
            return null;
        }

        var result = new JsonObject();
        foreach (var field in schema.EnumerateObject())
        {
            if (!removed.Contains(field.Name))
            {
                result[field.Name] = rewritten.TryGetValue(field.Name, out var replacement) ? replacement : NodeOf(field.Value);
            }
        }

        return result;
    }

    /// <summary>A part of a schema as a node, backed by the request's document rather than copied.</summary>
    internal static JsonNode? NodeOf(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => JsonObject.Create(element),
        JsonValueKind.Array => JsonArray.Create(element),
        _ => JsonValue.Create(element),
    };

    // Go's decoder leaves a field as it is for a JSON null, so null fits every field.
    private static bool IsStringOrNull(JsonElement value) => value.ValueKind is JsonValueKind.String or JsonValueKind.Null;

    private static bool IsStringListOrNull(JsonElement value) => IsListOrNull(value, static item => IsStringOrNull(item));

    /// <summary>A JSON null, or an array whose every item fits (the lambdas are static, so nothing is allocated per call).</summary>
    private static bool IsListOrNull(JsonElement value, Func<JsonElement, bool> itemFits)
    {
        if (value.ValueKind != JsonValueKind.Array)
        {
            return value.ValueKind == JsonValueKind.Null;
        }

        foreach (var item in value.EnumerateArray())
        {
            if (!itemFits(item))
            {
                return false;
            }
        }

        return true;
    }
}
