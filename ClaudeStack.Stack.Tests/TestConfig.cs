using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace ClaudeStack.Stack.Tests;

/// <summary>Builds <c>ClaudeStack</c> configurations and launch contexts for the tests.</summary>
internal static class TestConfig
{
    public const string LaunchDirectory = "/home/dev/project";

    public static readonly HashSet<string> ExistingFolders = new(StringComparer.Ordinal)
    {
        LaunchDirectory,
        "/home/dev/other",
        "/home/dev/project/sub",
    };

    public static LaunchContext Launch => new(LaunchDirectory, ExistingFolders.Contains);

    /// <summary>Settings given as <c>"Provider=Anthropic"</c> (relative to <c>ClaudeStack</c>).</summary>
    public static IConfiguration Build(params string[] settings)
    {
        var values = settings.Select(s => s.Split('=', 2)).ToDictionary(
            p => $"{StackConstants.ConfigurationSection}:{p[0]}",
            p => (string?)p[1]);
        return new ConfigurationBuilder().AddInMemoryCollection(values).Build();
    }

    public static StackOptions Read(params string[] settings) => StackOptionsReader.Read(Build(settings), Launch);

    public static IReadOnlyList<string> Errors(params string[] settings)
    {
        var (options, errors) = StackOptionsReader.TryRead(Build(settings), Launch);
        Assert.Null(options);
        return errors;
    }

    public static Dictionary<string, EnvironmentEntry> ByName(IEnumerable<EnvironmentEntry> entries) =>
        entries.ToDictionary(e => e.Name, StringComparer.Ordinal);

    public static string RepositoryRoot =>
        typeof(TestConfig).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "RepositoryRoot").Value!;

    public static string ClaudeCodeVersion =>
        typeof(TestConfig).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "ClaudeCodeVersion").Value!;
}
