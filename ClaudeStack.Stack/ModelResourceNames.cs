using System.Text;

namespace ClaudeStack.Stack;

/// <summary>Dashboard resource names for Ollama models: <c>llama3.1:8b</c> becomes <c>model-llama3-1-8b</c>.</summary>
public static class ModelResourceNames
{
    /// <summary>Aspire resource names are at most 64 characters.</summary>
    public const int MaximumLength = 64;

    /// <summary>A kebab-case resource name for one model.</summary>
    public static string For(string model)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(model);

        var builder = new StringBuilder(StackConstants.Resources.ModelPrefix);
        foreach (var c in model.ToLowerInvariant())
        {
            var next = char.IsAsciiLetterOrDigit(c) ? c : '-';
            if (next == '-' && builder[^1] == '-')
            {
                continue;
            }

            builder.Append(next);
        }

        var name = builder.ToString().TrimEnd('-');
        if (name.Length > MaximumLength)
        {
            name = name[..MaximumLength].TrimEnd('-');
        }

        return name;
    }

    /// <summary>Names for several models; models that sanitize to the same name get <c>-2</c>, <c>-3</c>… suffixes.</summary>
    public static IReadOnlyList<(string Model, string ResourceName)> ForAll(IEnumerable<string> models)
    {
        ArgumentNullException.ThrowIfNull(models);

        var used = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<(string, string)>();
        foreach (var model in models)
        {
            var baseName = For(model);
            var name = baseName;
            for (var i = 2; !used.Add(name); i++)
            {
                var suffix = $"-{i}";
                // Cut before the suffix, without a trailing hyphen: Aspire refuses two in a row.
                name = (baseName.Length + suffix.Length > MaximumLength ? baseName[..(MaximumLength - suffix.Length)].TrimEnd('-') : baseName) + suffix;
            }

            result.Add((model, name));
        }

        return result;
    }
}
