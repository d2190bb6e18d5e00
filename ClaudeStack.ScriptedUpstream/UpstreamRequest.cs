using System.Text;
using System.Text.Json.Nodes;

namespace ClaudeStack.ScriptedUpstream;

/// <summary>One request as the scripted upstream received it.</summary>
public sealed class UpstreamRequest
{
    private JsonNode? _json;
    private bool _jsonParsed;

    public required string Method { get; init; }

    /// <summary>Path and query string exactly as received, e.g. <c>/v1/messages?beta=true</c>.</summary>
    public required string PathAndQuery { get; init; }

    public required IReadOnlyDictionary<string, string> Headers { get; init; }

    public required byte[] Body { get; init; }

    private readonly Lock _abortLock = new();

    /// <summary>Set when the client went away before the reply was complete.</summary>
    public bool Aborted { get; private set; }

    public DateTimeOffset ReceivedAt { get; init; } = DateTimeOffset.UtcNow;

    public DateTimeOffset? AbortedAt { get; private set; }

    public string Path => PathAndQuery.Split('?', 2)[0];

    /// <summary>Records the abort once, at the first sign of it (<see cref="AbortedAt"/> is set before <see cref="Aborted"/>).</summary>
    internal void MarkAborted()
    {
        lock (_abortLock)
        {
            if (Aborted)
            {
                return;
            }

            AbortedAt = DateTimeOffset.UtcNow;
            Aborted = true;
        }
    }

    public string BodyText => Encoding.UTF8.GetString(Body);

    /// <summary>The body parsed as JSON, or null when it is not JSON.</summary>
    public JsonNode? Json
    {
        get
        {
            if (!_jsonParsed)
            {
                _jsonParsed = true;
                try
                {
                    _json = Body.Length == 0 ? null : JsonNode.Parse(Body);
                }
                catch (System.Text.Json.JsonException)
                {
                    _json = null;
                }
            }

            return _json;
        }
    }

    public string? Model => Json?["model"]?.GetValue<string>();

    public bool Stream => Json?["stream"]?.GetValue<bool>() ?? false;

    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;
}
