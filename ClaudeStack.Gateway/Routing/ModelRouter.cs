using System.Buffers;
using ClaudeStack.Gateway.Configuration;

namespace ClaudeStack.Gateway.Routing;

/// <summary>How a requested model name was turned into the one sent upstream.</summary>
public enum RouteReason
{
    /// <summary>Not a Claude name: sent as asked.</summary>
    PassThrough,

    /// <summary>A Claude name of a family with its own mapping.</summary>
    Family,

    /// <summary>A Claude name mapped to the main local model.</summary>
    Default,

    /// <summary>A Claude name with no local model configured: the call must be refused, not forwarded.</summary>
    Unmapped,
}

public readonly record struct ModelRoute(string Requested, string Routed, RouteReason Reason)
{
    public bool WasMapped => Reason is RouteReason.Family or RouteReason.Default;
}

/// <summary>
/// Maps Claude model names and aliases (opus, sonnet, haiku, fable, claude-*) to local models, so the upstream
/// never sees a model it does not have. Claude Code asks for Claude names even with --model set
/// (its Explore subagent asks for claude-haiku-*).
/// </summary>
public sealed class ModelRouter(ModelMapOptions map, bool mapClaudeNames)
{
    private static readonly string[] Families = ["opus", "sonnet", "haiku", "fable"];
    private static readonly SearchValues<char> RegionChars = SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-");

    public ModelRoute Route(string requested)
    {
        if (!mapClaudeNames || !IsClaudeName(requested))
        {
            return new ModelRoute(requested, requested, RouteReason.PassThrough);
        }

        var family = FamilyOf(requested);
        var familyModel = family switch
        {
            "opus" => map.Opus,
            "sonnet" => map.Sonnet,
            "haiku" => map.Haiku,
            "fable" => map.Fable,
            _ => null,
        };

        if (!string.IsNullOrWhiteSpace(familyModel))
        {
            return new ModelRoute(requested, familyModel, RouteReason.Family);
        }

        return string.IsNullOrWhiteSpace(map.Default)
            ? new ModelRoute(requested, requested, RouteReason.Unmapped)
            : new ModelRoute(requested, map.Default, RouteReason.Default);
    }

    /// <summary>
    /// A <c>claude-*</c> id, as Anthropic, Bedrock (<c>anthropic.claude-*</c>, with a region's inference profile
    /// <c>us.anthropic.claude-*</c>) or a router (<c>anthropic/claude-*</c>) spells it, or a Claude Code alias; with or
    /// without a <c>[1m]</c>-style suffix. A local model whose name only starts with the letters (<c>claudette</c>) is not one.
    /// </summary>
    public static bool IsClaudeName(string model)
    {
        var name = StripSuffix(model);
        return IsClaudeId(name)
            || Families.Contains(name, StringComparer.OrdinalIgnoreCase)
            || name.Equals("opusplan", StringComparison.OrdinalIgnoreCase)
            || IsClaudeId(WithoutProvider(name));
    }

    private static bool IsClaudeId(string name) =>
        name.StartsWith("claude-", StringComparison.OrdinalIgnoreCase) || name.Equals("claude", StringComparison.OrdinalIgnoreCase);

    /// <summary>The name after an <c>anthropic.</c> or <c>anthropic/</c> prefix (itself after a region's, as in <c>eu.</c> or <c>us-gov.</c>), or empty.</summary>
    private static string WithoutProvider(string name)
    {
        const string provider = "anthropic";
        var at = name.IndexOf(provider, StringComparison.OrdinalIgnoreCase);
        var end = at + provider.Length;
        if (at < 0 || end >= name.Length || name[end] is not ('.' or '/'))
        {
            return "";
        }

        var region = name.AsSpan(0, at);
        return region.IsEmpty || (region[^1] == '.' && region.Length > 1 && !region[..^1].ContainsAnyExcept(RegionChars))
            ? name[(end + 1)..]
            : "";
    }

    /// <summary>The family a Claude name belongs to, or null.</summary>
    public static string? FamilyOf(string model)
    {
        var name = StripSuffix(model).ToLowerInvariant();
        if (name == "opusplan")
        {
            return "opus";
        }

        return Families.FirstOrDefault(name.Contains);
    }

    private static string StripSuffix(string model)
    {
        var bracket = model.IndexOf('[');
        return (bracket >= 0 ? model[..bracket] : model).Trim();
    }
}
