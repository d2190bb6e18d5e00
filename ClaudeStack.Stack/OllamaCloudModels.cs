namespace ClaudeStack.Stack;

/// <summary>
/// Model names that mark a cloud model by themselves. Ollama v0.32.15 reads a model's source from the name's last
/// <c>:</c> part: <c>:cloud</c>, or a tag ending in <c>-cloud</c> (<c>qwen3-coder:480b-cloud</c>), case-insensitively; a
/// name with two source parts (<c>x:local:cloud</c>) is invalid rather than cloud.
/// </summary>
/// <remarks>
/// A local-looking name can still stand for a cloud model (<c>ollama cp</c> of one, or <c>FROM x:cloud</c>); with cloud
/// features off Ollama refuses such a model itself (403 "ollama cloud is disabled"), so this check only answers earlier.
/// </remarks>
public static class OllamaCloudModels
{
    private const string CloudSource = "cloud";
    private const string LocalSource = "local";
    private const string CloudTagSuffix = "-cloud";

    /// <summary>True when the name asks Ollama for a model that runs on ollama.com.</summary>
    public static bool IsCloudModel(string model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var (source, baseName) = ParseSource(model.Trim());
        return source == CloudSource && ParseSource(baseName).Source is null;
    }

    /// <summary>The explicit source (<c>cloud</c> or <c>local</c>) and the name without it, or no source and the name.</summary>
    private static (string? Source, string Base) ParseSource(string name)
    {
        var colon = name.LastIndexOf(':');
        if (colon < 0)
        {
            return (null, name);
        }

        var tag = name[(colon + 1)..].Trim();
        if (tag.Equals(CloudSource, StringComparison.OrdinalIgnoreCase) || tag.Equals(LocalSource, StringComparison.OrdinalIgnoreCase))
        {
            return (tag.ToLowerInvariant(), name[..colon]);
        }

        return !tag.Contains('/') && tag.EndsWith(CloudTagSuffix, StringComparison.OrdinalIgnoreCase)
            ? (CloudSource, name[..(colon + 1)] + tag[..^CloudTagSuffix.Length])
            : (null, name);
    }
}
