using System.Diagnostics;
using System.Reflection;
using System.Text;

namespace ClaudeStack.Gateway.Tests.Support;

/// <summary>The result of one headless Claude Code run.</summary>
public sealed record ClaudeCodeRun(int ExitCode, string StandardOutput, string StandardError, string Workspace)
{
    /// <summary>What a failed assertion on the run should show: the exit code and everything Claude Code printed.</summary>
    public string Describe() => $"exit {ExitCode}: {StandardOutput} {StandardError}";
}

/// <summary>
/// Runs the real Claude Code CLI (the repository's pinned version, installed by .ci/run into .tools/claude-code)
/// headless against a gateway. Where it is missing the test is skipped, except under CI=true, where it fails.
/// </summary>
public static class ClaudeCodeCli
{
    public static string? Version => Metadata("ClaudeCodeVersion");

    private static string RepositoryRoot => Metadata("RepositoryRoot") ?? ".";

    /// <summary>The CLI's path: CLAUDE_CODE_CLI, else the repository's local install.</summary>
    public static string? Locate()
    {
        var candidates = new[]
        {
            Environment.GetEnvironmentVariable("CLAUDE_CODE_CLI"),
            Path.Combine(RepositoryRoot, ".tools", "claude-code", "node_modules", ".bin", "claude"),
        };
        return candidates.FirstOrDefault(c => !string.IsNullOrEmpty(c) && File.Exists(c));
    }

    /// <summary>Skips (or, under CI, fails) when the CLI is not installed.</summary>
    public static string Require()
    {
        if (Locate() is { } path)
        {
            return path;
        }

        var reason = $"Claude Code {Version} is not installed: run .ci/run, or set CLAUDE_CODE_CLI to a claude binary.";
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
        {
            Assert.Fail(reason);
        }

        Assert.Skip(reason);
        return "";
    }

    /// <summary>
    /// Runs <c>claude -p</c> in a fresh HOME and workspace, talking only to <paramref name="baseUrl"/>.
    /// Retries are limited so failure cases finish quickly.
    /// </summary>
    public static async Task<ClaudeCodeRun> RunAsync(Uri baseUrl, string token, IEnumerable<string> arguments, CancellationToken cancellationToken, IDictionary<string, string>? environment = null, TimeSpan? timeout = null)
    {
        var cli = Require();
        var root = Directory.CreateTempSubdirectory("claudestack-cli-");
        var home = Directory.CreateDirectory(Path.Combine(root.FullName, "home"));
        var workspace = Directory.CreateDirectory(Path.Combine(root.FullName, "workspace"));
        var start = new ProcessStartInfo(cli)
        {
            WorkingDirectory = workspace.FullName,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment.Clear();
        start.Environment["PATH"] = Environment.GetEnvironmentVariable("PATH");
        start.Environment["HOME"] = home.FullName;
        start.Environment["ANTHROPIC_BASE_URL"] = baseUrl.ToString().TrimEnd('/');
        start.Environment["ANTHROPIC_AUTH_TOKEN"] = token;
        // Local means local: no vendor traffic, no self-update, no marketplace.
        start.Environment["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] = "1";
        start.Environment["DISABLE_AUTOUPDATER"] = "1";
        start.Environment["CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL"] = "1";
        start.Environment["CLAUDE_CODE_ATTRIBUTION_HEADER"] = "0";
        start.Environment["CLAUDE_CODE_MAX_RETRIES"] = "2";
        foreach (var certificateVariable in new[] { "NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE" })
        {
            if (Environment.GetEnvironmentVariable(certificateVariable) is { } value)
            {
                start.Environment[certificateVariable] = value;
            }
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(timeout ?? TimeSpan.FromSeconds(120));
        try
        {
            await process.WaitForExitAsync(bounded.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"claude did not finish within {timeout ?? TimeSpan.FromSeconds(120)}; output so far: {(stdout.IsCompleted ? stdout.Result : "")}");
        }

        return new ClaudeCodeRun(process.ExitCode, await stdout, await stderr, workspace.FullName);
    }

    private static string? Metadata(string key) =>
        typeof(ClaudeCodeCli).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == key)?.Value;
}
