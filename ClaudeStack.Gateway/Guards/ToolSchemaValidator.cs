using System.Text.Json;

namespace ClaudeStack.Gateway.Guards;

/// <summary>
/// Checks a tool input against a tool's <c>input_schema</c>: the JSON-schema subset Claude Code's tools use
/// (type — also as a list —, properties, required, enum, const, items, additionalProperties:false, nested objects and arrays,
/// minimum/maximum, minLength, anyOf/oneOf). Unknown keywords are ignored rather than failed, and so is a keyword whose
/// value is not of its kind (<c>"minimum": "0"</c>): the schema is the client's, and Ollama was sent a rewritten one.
/// </summary>
public static class ToolSchemaValidator
{
    public const int MaxProblems = 5;

    /// <returns>Problems found, each naming the JSON path; empty when the input fits.</returns>
    public static IReadOnlyList<string> Validate(JsonElement input, JsonElement schema)
    {
        var problems = new List<string>();
        Check(input, schema, "$", problems, depth: 0);
        return problems;
    }

    private static void Check(JsonElement value, JsonElement schema, string path, List<string> problems, int depth)
    {
        if (problems.Count >= MaxProblems || depth > 32 || schema.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        if (schema.TryGetProperty("anyOf", out var anyOf) || schema.TryGetProperty("oneOf", out anyOf))
        {
            if (anyOf.ValueKind == JsonValueKind.Array && !anyOf.EnumerateArray().Any(option => Validate(value, option).Count == 0))
            {
                problems.Add($"{path}: matches none of the allowed shapes");
                return;
            }
        }

        if (schema.TryGetProperty("type", out var type) && !MatchesType(value, type))
        {
            problems.Add($"{path}: expected {TypeText(type)}, got {Describe(value)}");
            return;
        }

        if (schema.TryGetProperty("enum", out var allowed) && allowed.ValueKind == JsonValueKind.Array
            && !allowed.EnumerateArray().Any(option => JsonElement.DeepEquals(option, value)))
        {
            problems.Add($"{path}: {value.GetRawText()} is not one of {allowed.GetRawText()}");
        }

        if (schema.TryGetProperty("const", out var constant) && !JsonElement.DeepEquals(constant, value))
        {
            problems.Add($"{path}: must be {constant.GetRawText()}");
        }

        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                CheckObject(value, schema, path, problems, depth);
                break;
            case JsonValueKind.Array when schema.TryGetProperty("items", out var items):
                var index = 0;
                foreach (var item in value.EnumerateArray())
                {
                    Check(item, items, $"{path}[{index++}]", problems, depth + 1);
                }

                break;
            case JsonValueKind.Number:
                if (schema.TryGetProperty("minimum", out var minimum) && minimum.ValueKind == JsonValueKind.Number && minimum.TryGetDouble(out var min) && value.GetDouble() < min)
                {
                    problems.Add($"{path}: {value.GetRawText()} is below the minimum {min}");
                }

                if (schema.TryGetProperty("maximum", out var maximum) && maximum.ValueKind == JsonValueKind.Number && maximum.TryGetDouble(out var max) && value.GetDouble() > max)
                {
                    problems.Add($"{path}: {value.GetRawText()} is above the maximum {max}");
                }

                break;
            case JsonValueKind.String when schema.TryGetProperty("minLength", out var minLength) && minLength.ValueKind == JsonValueKind.Number && minLength.TryGetInt32(out var length):
                if (value.GetString()!.Length < length)
                {
                    problems.Add($"{path}: shorter than {length} characters");
                }

                break;
        }
    }

    private static void CheckObject(JsonElement value, JsonElement schema, string path, List<string> problems, int depth)
    {
        var properties = schema.TryGetProperty("properties", out var p) && p.ValueKind == JsonValueKind.Object ? p : default;
        if (schema.TryGetProperty("required", out var required) && required.ValueKind == JsonValueKind.Array)
        {
            foreach (var name in required.EnumerateArray())
            {
                if (name.ValueKind == JsonValueKind.String && name.GetString() is { } property && !value.TryGetProperty(property, out _))
                {
                    problems.Add($"{path}: missing required property '{property}'");
                }
            }
        }

        var closed = schema.TryGetProperty("additionalProperties", out var additional) && additional.ValueKind == JsonValueKind.False;
        foreach (var property in value.EnumerateObject())
        {
            if (properties.ValueKind == JsonValueKind.Object && properties.TryGetProperty(property.Name, out var propertySchema))
            {
                Check(property.Value, propertySchema, $"{path}.{property.Name}", problems, depth + 1);
            }
            else if (closed)
            {
                problems.Add($"{path}: unexpected property '{property.Name}'");
            }
        }
    }

    private static bool MatchesType(JsonElement value, JsonElement type) => type.ValueKind switch
    {
        JsonValueKind.String => MatchesType(value, type.GetString()!),
        JsonValueKind.Array => type.EnumerateArray().Any(t => t.ValueKind == JsonValueKind.String && MatchesType(value, t.GetString()!)),
        _ => true,
    };

    private static bool MatchesType(JsonElement value, string type) => type switch
    {
        "object" => value.ValueKind == JsonValueKind.Object,
        "array" => value.ValueKind == JsonValueKind.Array,
        "string" => value.ValueKind == JsonValueKind.String,
        "boolean" => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
        "number" => value.ValueKind == JsonValueKind.Number,
        "integer" => value.ValueKind == JsonValueKind.Number && IsInteger(value),
        "null" => value.ValueKind == JsonValueKind.Null,
        _ => true,
    };

    /// <summary>JSON Schema counts any number without a fractional part as an integer: 2.0 and 1e2 are.</summary>
    private static bool IsInteger(JsonElement number) =>
        number.TryGetInt64(out _) || (number.TryGetDouble(out var value) && double.IsFinite(value) && Math.Floor(value) == value);

    private static string TypeText(JsonElement type) => type.ValueKind == JsonValueKind.Array
        ? string.Join(" or ", type.EnumerateArray().Select(t => t.ValueKind == JsonValueKind.String ? t.GetString() : t.GetRawText()))
        : type.ValueKind == JsonValueKind.String ? type.GetString()! : type.GetRawText();

    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.True or JsonValueKind.False => "boolean",
        JsonValueKind.Number => IsInteger(value) ? "integer" : "number",
        _ => value.ValueKind.ToString().ToLowerInvariant(),
    };
}
