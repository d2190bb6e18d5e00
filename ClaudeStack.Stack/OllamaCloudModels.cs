namespace ClaudeStack.Stack;

/// <summary>
/// Which model names Ollama runs on ollama.com rather than on this machine. Ollama v0.32.15 reads the source from the
/// name's last <c>:</c> part: <c>:cloud</c>, or a tag ending in <c>-cloud</c> (<c>qwen3-coder:480b-cloud</c>), case-insensitively.
/// </summary>
public static class OllamaCloudModels
{
    private const string CloudTag = "cloud";
    private const string CloudTagSuffix = "-cloud";

    /// <summary>True when Ollama would send this model's prompts to ollama.com.</summary>
    public static bool IsCloudModel(string model)
    {
        ArgumentNullException.ThrowIfNull(model);

        var colon = model.LastIndexOf(':');
        if (colon < 0)
        {
            return false;
        }

        var tag = model.AsSpan(colon + 1).Trim();
        return tag.Equals(CloudTag, StringComparison.OrdinalIgnoreCase)
            || (!tag.Contains('/') && tag.EndsWith(CloudTagSuffix, StringComparison.OrdinalIgnoreCase));
    }
}
