namespace ClaudeStack.Stack;

/// <summary>
/// Which model answers for each Claude model family. With local models every family resolves
/// (its own setting, else the main model), so no Claude name is ever sent upstream; in Anthropic
/// mode only what is configured is set, and Claude Code keeps its own defaults for the rest.
/// </summary>
public sealed record ModelMap(string? Default, IReadOnlyDictionary<ModelFamily, string> Families)
{
    /// <summary>The model for a family, or <c>null</c> when it is left to Claude Code.</summary>
    public string? For(ModelFamily family) => Families.TryGetValue(family, out var model) ? model : null;

    public static ModelMap Resolve(StackOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);

        var families = new Dictionary<ModelFamily, string>();
        foreach (var family in Enum.GetValues<ModelFamily>())
        {
            if (options.ModelOverrides.TryGetValue(family, out var configured))
            {
                families[family] = configured;
            }
            else if (options.UsesLocalModels && options.Model is not null)
            {
                families[family] = options.Model;
            }
        }

        return new ModelMap(options.Model, families);
    }
}
