using System.Text.Json.Nodes;
using ClaudeStack.ScriptedUpstream;

namespace ClaudeStack.Gateway.Tests.Logic;

/// <summary>The emulation's own fidelity, so the tests that lean on it fail where Ollama would fail them.</summary>
public sealed class OllamaEmulationTests
{
    /// <summary>
    /// Each expected message is what Go's encoding/json (1.19) gives when the schema is decoded into Go types shaped as
    /// api.ToolFunctionParameters and api.ToolProperty are at v0.32.15, with a properties map that decodes each value on
    /// its own as internal/orderedmap does: a wrong kind at one level is remembered and reading goes on, an error from a
    /// type's own UnmarshalJSON (PropertyType, the map) ends the decode, and the outermost struct field is the one named.
    /// </summary>
    [Theory]
    [InlineData("""{"type":"object","properties":{"key":{"type":"string"},"value":true},"required":["key","value"]}""", "bool into Go struct field ToolFunctionParameters.properties of type api.ToolProperty")]
    [InlineData("""{"properties":{"a":{"type":5}}}""", "number into Go struct field ToolFunctionParameters.properties of type []string")]
    [InlineData("""{"properties":{"a":{"type":["x",1]}}}""", "number into Go struct field ToolFunctionParameters.properties of type string")]
    [InlineData("""{"properties":{"a":{"description":5}}}""", "number into Go struct field ToolFunctionParameters.properties of type string")]
    [InlineData("""{"required":[1]}""", "number into Go struct field ToolFunctionParameters.required of type string")]
    [InlineData("""{"required":5,"type":3}""", "number into Go struct field ToolFunctionParameters.required of type []string")]
    [InlineData("""{"type":3,"required":[1]}""", "number into Go struct field ToolFunctionParameters.type of type string")]
    [InlineData("""{"type":3,"properties":{"a":true}}""", "bool into Go struct field ToolFunctionParameters.properties of type api.ToolProperty")]
    [InlineData("""{"Properties":{"a":{"Type":5}}}""", "number into Go struct field ToolFunctionParameters.properties of type []string")]
    [InlineData("""{"properties":{"a":{"description":5,"type":5}}}""", "number into Go struct field ToolFunctionParameters.properties of type []string")]
    [InlineData("""{"properties":{"a":{"anyOf":["x"]}}}""", "string into Go struct field ToolFunctionParameters.properties of type api.ToolProperty")]
    [InlineData("""{"properties":{"a":{"anyOf":[{"description":5},{"type":5}]}}}""", "number into Go struct field ToolFunctionParameters.properties of type []string")]
    [InlineData("""{"properties":{"a":{"anyOf":5}}}""", "number into Go struct field ToolFunctionParameters.properties of type []api.ToolProperty")]
    [InlineData("""{"properties":{"a":{"enum":"x"}}}""", "string into Go struct field ToolFunctionParameters.properties of type []interface {}")]
    [InlineData("""{"properties":{"a":{"properties":{"b":{"required":"x"}}}}}""", "string into Go struct field ToolFunctionParameters.properties of type []string")]
    [InlineData("true", "bool into Go value of type api.ToolFunctionParameters")]
    public void ToolSchemaOllamaCannotDecode_IsRefusedInGosWords(string schema, string expected)
    {
        var body = new JsonObject { ["tools"] = new JsonArray(new JsonObject { ["name"] = "t", ["input_schema"] = JsonNode.Parse(schema) }) };

        Assert.Equal($"invalid input_schema for tool \"t\": json: cannot unmarshal {expected}", OllamaToolDecoding.Refusal(body));
    }

    [Theory]
    [InlineData("""{"properties":5}""")]
    [InlineData("""{"properties":{"a":{"properties":[]}}}""")]
    public void PropertiesThatAreNoObject_FailInTheMapReader(string schema)
    {
        // jsonparser.ObjectEach's MalformedObjectError, which carries no Go type or field.
        var body = new JsonObject { ["tools"] = new JsonArray(new JsonObject { ["name"] = "t", ["input_schema"] = JsonNode.Parse(schema) }) };

        Assert.Equal("invalid input_schema for tool \"t\": Value looks like object, but can't find closing '}' symbol", OllamaToolDecoding.Refusal(body));
    }

    [Theory]
    [InlineData("""{"type":"object","properties":{"a":{"type":["string","null"],"items":5,"enum":[1,"x"]}},"$defs":7}""")]
    [InlineData("""{"type":null,"required":null,"properties":null}""")]
    public void SchemaOllamaDecodes_IsNotRefused(string schema)
    {
        var body = new JsonObject { ["tools"] = new JsonArray(new JsonObject { ["name"] = "t", ["input_schema"] = JsonNode.Parse(schema) }) };

        Assert.Null(OllamaToolDecoding.Refusal(body));
    }
}
