using System.Text.Json;
using System.Text.Json.Nodes;

namespace ClaudeStack.Gateway.Adaptation;

/// <summary>
/// A tool's <c>input_schema</c> said in the JSON Schema keywords Ollama (v0.32.15) keeps. The model sees the schema as
/// api.ToolProperty re-encodes it (api/types.go): type, description, enum, anyOf, items, properties, required. A
/// <c>$ref</c> is dropped, so a parameter typed by a definition (how pydantic writes an Enum or a nested model, as
/// Python MCP servers do) reaches the model with no type and no allowed values; <c>oneOf</c>, <c>allOf</c> and
/// <c>const</c> are dropped too. Here local references are inlined, <c>oneOf</c> becomes <c>anyOf</c>, <c>allOf</c>
/// is merged into its schema and <c>const</c> gets the one-value <c>enum</c> that says the same.
/// </summary>
public static class OllamaSchemaKeywords
{
    /// <summary>Inlined references per schema: a schema whose definitions refer to each other twice per level would
    /// otherwise double with every level.</summary>
    public const int MaxInlinedReferences = 64;

    /// <summary>Schema nesting past which references are no longer inlined, so a chain of them cannot nest without end.</summary>
    public const int MaxInliningDepth = 32;

    /// <returns>The schema rewritten; null when it uses none of these keywords.</returns>
    public static JsonNode? Rewrite(JsonElement schema)
    {
        if (schema.ValueKind != JsonValueKind.Object || !Uses(schema))
        {
            return null;
        }

        var rewriter = new Rewriter(schema);
        var result = (JsonObject)rewriter.Schema(JsonObject.Create(schema)!, depth: 0)!;
        if (rewriter.Inlined && !HoldsReference(result))
        {
            // Nothing refers to them any more, and Ollama would show the model its $defs as they are. A reference left
            // where the rewrite does not reach (under additionalProperties, say, which Ollama passes on inside items)
            // keeps them: the model must not be shown a name that points nowhere.
            result.Remove("$defs");
            result.Remove("definitions");
        }

        return result;
    }

    /// <summary>A reference into the definitions left somewhere in a schema (values, as in enum or default, are not schemas).</summary>
    private static bool HoldsReference(JsonNode? node) => node switch
    {
        JsonObject schema => schema.Any(keyword => keyword.Key switch
        {
            "$ref" => ContentText.StringOf(keyword.Value) is { } pointer && (pointer.StartsWith("#/$defs/", StringComparison.Ordinal) || pointer.StartsWith("#/definitions/", StringComparison.Ordinal)),
            "enum" or "const" or "default" or "examples" => false,

            // What the references point to, not references left.
            "$defs" or "definitions" => false,

            // Named schemas: a property may be called "default" or "enum".
            "properties" or "patternProperties" => keyword.Value is JsonObject named && named.Any(property => HoldsReference(property.Value)),
            _ => HoldsReference(keyword.Value),
        }),
        JsonArray items => items.Any(HoldsReference),
        _ => false,
    };

    /// <summary>
    /// A read-only scan, without allocating, of the places Ollama reads a schema (not the names of properties): does it
    /// use a keyword <see cref="Rewrite"/> says otherwise? Claude Code's own tools do not.
    /// </summary>
    public static bool Uses(JsonElement schema)
    {
        if (schema.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in schema.EnumerateArray())
            {
                if (Uses(item))
                {
                    return true;
                }
            }

            return false;
        }

        if (schema.ValueKind != JsonValueKind.Object)
        {
            return false;
        }

        if (schema.TryGetProperty("$ref", out _) || schema.TryGetProperty("oneOf", out _) || schema.TryGetProperty("allOf", out _)
            || (schema.TryGetProperty("const", out _) && !schema.TryGetProperty("enum", out _)))
        {
            return true;
        }

        if (schema.TryGetProperty("properties", out var properties) && properties.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in properties.EnumerateObject())
            {
                if (Uses(property.Value))
                {
                    return true;
                }
            }
        }

        return (schema.TryGetProperty("anyOf", out var anyOf) && Uses(anyOf))
            || (schema.TryGetProperty("items", out var items) && Uses(items));
    }

    private sealed class Rewriter(JsonElement root)
    {
        private readonly List<string> _expanding = [];
        private int _budget = MaxInlinedReferences;

        public bool Inlined { get; private set; }

        /// <returns>The schema, changed in place, or a new node where a reference was inlined.</returns>
        public JsonNode? Schema(JsonNode? node, int depth)
        {
            if (node is not JsonObject schema)
            {
                return node;
            }

            var expanded = 0;
            while (schema["$ref"] is JsonValue reference && reference.TryGetValue<string>(out var pointer) && pointer.StartsWith('#'))
            {
                if (Lookup(pointer) is not { } target)
                {
                    // A reference to nothing here: left for Ollama to drop, as before.
                    break;
                }

                schema = Merge(target, schema, expandable: !_expanding.Contains(pointer) && _budget > 0 && depth < MaxInliningDepth);
                Inlined = true;
                _expanding.Add(pointer);
                expanded++;
                _budget--;
            }

            foreach (var keyword in new[] { "anyOf", "oneOf", "allOf" })
            {
                if (schema[keyword] is JsonArray options)
                {
                    ReplaceEach(options, depth);
                }
            }

            if (schema["properties"] is JsonObject properties)
            {
                foreach (var (name, property) in properties.ToList())
                {
                    if (Schema(property, depth + 1) is var rewritten && !ReferenceEquals(rewritten, property))
                    {
                        properties[name] = rewritten;
                    }
                }
            }

            switch (schema["items"])
            {
                case JsonObject items when Schema(items, depth + 1) is var rewritten && !ReferenceEquals(rewritten, items):
                    schema["items"] = rewritten;
                    break;
                case JsonArray tuple:
                    ReplaceEach(tuple, depth);
                    break;
            }

            _expanding.RemoveRange(_expanding.Count - expanded, expanded);
            InOllamasKeywords(schema);
            return schema;
        }

        private void ReplaceEach(JsonArray schemas, int depth)
        {
            for (var i = 0; i < schemas.Count; i++)
            {
                var original = schemas[i];
                if (Schema(original, depth + 1) is var rewritten && !ReferenceEquals(rewritten, original))
                {
                    schemas[i] = rewritten;
                }
            }
        }

        /// <summary>
        /// What a reference points to, with the referring schema's own keywords over it. A reference that would repeat
        /// one being expanded (a recursive type), or past the budget or the depth, keeps only its type and description.
        /// </summary>
        private static JsonObject Merge(JsonElement target, JsonObject referring, bool expandable)
        {
            var merged = new JsonObject();
            if (target.ValueKind == JsonValueKind.Object)
            {
                foreach (var keyword in target.EnumerateObject())
                {
                    if (expandable || keyword.Name is "type" or "description")
                    {
                        merged[keyword.Name] = OllamaToolSchema.NodeOf(keyword.Value);
                    }
                }
            }

            foreach (var (keyword, value) in referring.ToList())
            {
                // Moved, not copied: the referring schema is replaced by the merged one.
                referring.Remove(keyword);
                if (keyword != "$ref")
                {
                    merged[keyword] = value;
                }
            }

            return merged;
        }

        /// <summary>A local JSON pointer (<c>#/$defs/Name</c>, <c>#/definitions/Name</c>, <c>#/properties/a</c>, <c>#</c>).</summary>
        private JsonElement? Lookup(string pointer)
        {
            var current = root;
            foreach (var escaped in pointer.TrimStart('#').Split('/', StringSplitOptions.RemoveEmptyEntries))
            {
                var segment = Uri.UnescapeDataString(escaped).Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
                if (current.ValueKind == JsonValueKind.Object && current.TryGetProperty(segment, out var child))
                {
                    current = child;
                }
                else if (current.ValueKind == JsonValueKind.Array && int.TryParse(segment, out var index) && index >= 0 && index < current.GetArrayLength())
                {
                    current = current[index];
                }
                else
                {
                    return null;
                }
            }

            return current;
        }

        private static void InOllamasKeywords(JsonObject schema)
        {
            if (schema["oneOf"] is JsonArray && !schema.ContainsKey("anyOf"))
            {
                // For a model choosing a value, "exactly one of" and "one of" say the same.
                var options = schema["oneOf"];
                schema.Remove("oneOf");
                schema["anyOf"] = options;
            }

            if (schema["allOf"] is JsonArray parts)
            {
                schema.Remove("allOf");
                foreach (var part in parts.OfType<JsonObject>())
                {
                    MergeInto(schema, part);
                }
            }

            if (schema.TryGetPropertyValue("const", out var constant) && !schema.ContainsKey("enum"))
            {
                schema["enum"] = new JsonArray(constant?.DeepClone());
            }
        }

        /// <summary>One part of an allOf: its properties and required names join the schema's; its other keywords fill gaps.</summary>
        private static void MergeInto(JsonObject schema, JsonObject part)
        {
            foreach (var (keyword, value) in part.ToList())
            {
                switch (keyword)
                {
                    case "properties" when value is JsonObject partProperties:
                        if (schema["properties"] is not JsonObject properties)
                        {
                            schema["properties"] = properties = [];
                        }

                        foreach (var (name, property) in partProperties.Where(p => !properties.ContainsKey(p.Key)).ToList())
                        {
                            properties[name] = property?.DeepClone();
                        }

                        break;
                    case "required" when value is JsonArray partRequired:
                        if (schema["required"] is not JsonArray required)
                        {
                            schema["required"] = required = [];
                        }

                        foreach (var name in partRequired.Where(n => !required.Any(r => JsonNode.DeepEquals(r, n))).ToList())
                        {
                            required.Add(name?.DeepClone());
                        }

                        break;
                    default:
                        if (!schema.ContainsKey(keyword))
                        {
                            schema[keyword] = value?.DeepClone();
                        }

                        break;
                }
            }
        }
    }
}
