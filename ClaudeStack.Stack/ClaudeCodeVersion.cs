using System.Text.RegularExpressions;

namespace ClaudeStack.Stack;

/// <summary>The pinned Claude Code version, read from containers/claude-code/claude-code.version (the repository's one source).</summary>
public static partial class ClaudeCodeVersion
{
    /// <summary>Reads and checks the version file; the error says which file to fix.</summary>
    public static string Read(string versionFile)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(versionFile);
        if (!File.Exists(versionFile))
        {
            throw new StackConfigurationException([$"The Claude Code version file '{versionFile}' does not exist; it must contain the pinned version, e.g. 2.1.0."]);
        }

        return Parse(File.ReadAllText(versionFile), versionFile);
    }

    /// <summary>Trims and validates the file's content (a version, never 'latest').</summary>
    public static string Parse(string content, string source)
    {
        ArgumentNullException.ThrowIfNull(content);
        var version = content.Trim();
        if (!VersionPattern().IsMatch(version))
        {
            throw new StackConfigurationException([$"The Claude Code version file '{source}' contains '{version}'; it must hold one pinned version such as 2.1.0 (not 'latest')."]);
        }

        return version;
    }

    [GeneratedRegex(@"^\d+\.\d+\.\d+([-+][0-9A-Za-z.+-]+)?$")]
    private static partial Regex VersionPattern();
}
