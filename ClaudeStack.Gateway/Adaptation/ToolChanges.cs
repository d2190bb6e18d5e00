using System.Text.Json;

namespace ClaudeStack.Gateway.Adaptation;

/// <summary>
/// Which tools a conversation has loaded or taken away, read in order. Tool search loads a deferred tool through a
/// <c>tool_reference</c> in its result. A client may also announce changes as system messages (Claude Code's
/// mid-conversation tool changes): <c>{"role":"system","content":[{"type":"tool_addition","tool":…},{"type":"tool_removal","tool":…}]}</c>.
/// An addition names a tool (<c>{"type":"tool_reference","name":…}</c>) or brings a whole one
/// (<c>{"type":"tool_definition","definition":{…}}</c>); a removal takes one away. Ollama reads none of it, and a
/// system message is folded into text, so the gateway applies the changes to the tools it sends.
/// </summary>
public sealed class ToolChanges
{
    private readonly HashSet<string> _added = new(StringComparer.Ordinal);
    private readonly HashSet<string> _removed = new(StringComparer.Ordinal);
    private readonly Dictionary<string, JsonElement> _defined = new(StringComparer.Ordinal);

    private ToolChanges()
    {
    }

    /// <summary>Tools loaded (by tool search or an addition) and not taken away since.</summary>
    public IReadOnlySet<string> Added => _added;

    /// <summary>Tools taken away, and not added again since.</summary>
    public IReadOnlySet<string> Removed => _removed;

    /// <summary>Definitions brought by an addition, by name: the last one given.</summary>
    public IReadOnlyDictionary<string, JsonElement> Defined => _defined;

    /// <summary>Whether the conversation took a tool away or defined one: the tools sent then differ from those listed.</summary>
    public bool ReshapesTools => Removed.Count > 0 || Defined.Count > 0;

    /// <summary>No change at all (a request not read).</summary>
    public static ToolChanges None { get; } = new();

    /// <summary>Whether a tool the request lists goes to the model: not taken away and, when deferred, loaded.</summary>
    public bool Offers(JsonElement tool) =>
        ToolName(tool) is not { } name || (!_removed.Contains(name) && (!DroppedBlocks.IsDeferred(tool) || _added.Contains(name)));

    /// <summary>The name of a tool as the request lists it.</summary>
    public static string? ToolName(JsonElement tool) =>
        tool.ValueKind == JsonValueKind.Object && tool.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String ? name.GetString() : null;

    public static ToolChanges Read(JsonElement messages)
    {
        var changes = new ToolChanges();
        if (messages.ValueKind != JsonValueKind.Array)
        {
            return changes;
        }

        foreach (var message in messages.EnumerateArray())
        {
            if (message.ValueKind != JsonValueKind.Object || !message.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.Array)
            {
                continue;
            }

            foreach (var part in DroppedBlocks.ToolResultParts(content))
            {
                if (ContentText.IsType(part, DroppedBlocks.ToolReferenceType) && part.TryGetProperty("tool_name", out var loaded) && loaded.ValueKind == JsonValueKind.String)
                {
                    changes.Load(loaded.GetString()!);
                }
            }

            if (!message.TryGetProperty("role", out var role) || !role.ValueEquals("system"))
            {
                continue;
            }

            foreach (var block in content.EnumerateArray())
            {
                if (block.ValueKind != JsonValueKind.Object || !block.TryGetProperty("tool", out var tool) || NameOf(tool) is not { } name)
                {
                    continue;
                }

                if (ContentText.IsType(block, "tool_addition"))
                {
                    changes.Load(name);
                    if (ContentText.IsType(tool, "tool_definition"))
                    {
                        changes._defined[name] = tool.GetProperty("definition");
                    }
                }
                else if (ContentText.IsType(block, "tool_removal"))
                {
                    changes.TakeAway(name);
                }
            }
        }

        return changes;
    }

    /// <summary>A tool loaded, by tool search or an addition: offered again if it had been taken away.</summary>
    private void Load(string name)
    {
        _added.Add(name);
        _removed.Remove(name);
    }

    private void TakeAway(string name)
    {
        _removed.Add(name);
        _added.Remove(name);
        _defined.Remove(name);
    }

    private static string? NameOf(JsonElement tool)
    {
        var named = ContentText.IsType(tool, "tool_reference") ? tool
            : ContentText.IsType(tool, "tool_definition") && tool.TryGetProperty("definition", out var definition) ? definition
            : default;
        return ToolName(named);
    }
}
