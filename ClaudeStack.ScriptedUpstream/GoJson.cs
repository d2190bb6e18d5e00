using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ClaudeStack.ScriptedUpstream;

/// <summary>
/// JSON as Go's encoding/json writes it, as Ollama's server does: compact, quotes and non-ASCII text as they are, and
/// only <c>&lt;</c>, <c>&gt;</c> and <c>&amp;</c> escaped (json.Marshal's HTML escaping; outside strings JSON never holds them).
/// </summary>
public static class GoJson
{
    private static readonly JsonSerializerOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string Write(JsonNode node) =>
        node.ToJsonString(Options).Replace("<", "\\u003c", StringComparison.Ordinal).Replace(">", "\\u003e", StringComparison.Ordinal).Replace("&", "\\u0026", StringComparison.Ordinal);
}
