using System.Diagnostics;

namespace ClaudeStack.Container.Tests.Support;

/// <summary>Docker helpers with bounded waits; every container a test starts is removed in its finally.</summary>
public static class Containers
{
    public static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60);
    public static readonly TimeSpan TaskTimeout = TimeSpan.FromMinutes(3);

    public static string NewName(string purpose) => $"claudestack-test-{purpose}-{Guid.NewGuid():N}"[..48];

    /// <summary>A workspace the container user (uid 1000) can write to, like a developer's project folder.</summary>
    public static DirectoryInfo NewWorkspace()
    {
        var workspace = Directory.CreateTempSubdirectory("claudestack-workspace-");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(workspace.FullName, (UnixFileMode)0b111_111_111);
        }
        return workspace;
    }

    /// <summary>Environment for Claude Code in the container, pointed at the stack's gateway.</summary>
    public static string[] ClaudeEnvironment(Uri gateway) =>
    [
        "-e", "ANTHROPIC_BASE_URL=" + gateway.ToString().TrimEnd('/'),
        "-e", "ANTHROPIC_AUTH_TOKEN=" + LocalStack.StackToken,
        "-e", "ANTHROPIC_MODEL=" + LocalStack.LocalModel,
    ];

    public static async Task RemoveAsync(string name)
    {
        // Cleanup must also run when the test was cancelled, so it does not use the test's token.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await ProcessRunner.DockerAsync(TimeSpan.FromSeconds(45), timeout.Token, "rm", "-f", "-v", name);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            // Best effort.
        }
    }

    /// <summary>Waits until the container's log contains <paramref name="text"/>.</summary>
    public static async Task<string> WaitForLogAsync(string name, string text, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        var logs = string.Empty;
        while (stopwatch.Elapsed < timeout)
        {
            var result = await ProcessRunner.DockerAsync(CommandTimeout, cancellationToken, "logs", name);
            logs = result.Stdout + result.Stderr;
            if (logs.Contains(text, StringComparison.Ordinal))
            {
                return logs;
            }

            var state = await ProcessRunner.DockerAsync(CommandTimeout, cancellationToken, "inspect", "-f", "{{.State.Running}}", name);
            if (state.Stdout.Trim() != "true")
            {
                throw new InvalidOperationException($"Container {name} stopped before logging '{text}'. Logs:\n{logs}");
            }

            await Task.Delay(200, cancellationToken);
        }

        throw new TimeoutException($"Container {name} did not log '{text}' within {timeout.TotalSeconds:F0}s. Logs:\n{logs}");
    }

    /// <summary>Owner uid:gid of a file, as the host sees it.</summary>
    public static async Task<string> OwnerAsync(string path, CancellationToken cancellationToken) =>
        (await ProcessRunner.RunAsync("stat", ["-c", "%u:%g", path], CommandTimeout, cancellationToken)).EnsureSuccess().Stdout.Trim();
}
