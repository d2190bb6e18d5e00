using System.Diagnostics;
using System.Text.Json.Nodes;
using ClaudeStack.Container.Tests.Support;

namespace ClaudeStack.Container.Tests;

/// <summary>The image's `idle` mode (how the AppHost runs it) and the attach scripts.</summary>
public sealed class IdleModeTests(ClaudeCodeImage image)
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task IdleMode_ExecThenStop_AnswersAndEndsWithinSeconds()
    {
        image.Require();
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var stack = await LocalStack.StartAsync(Scripts.AnswerOnly, "127.0.0.1", cancellationToken);
        var name = Containers.NewName("idle");
        try
        {
            await StartIdleAsync(name, stack, cancellationToken);
            var logs = await Containers.WaitForLogAsync(name, "Waiting", ReadyTimeout, cancellationToken);
            Assert.Contains("docker exec -it", logs, StringComparison.Ordinal);
            Assert.Contains("scripts/claude", logs, StringComparison.Ordinal);

            // Still up after a moment: idle means idle, not "exit because there is no TTY".
            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            Assert.Equal("true", (await ProcessRunner.DockerAsync(Containers.CommandTimeout, cancellationToken, "inspect", "-f", "{{.State.Running}}", name)).Stdout.Trim());

            var exec = await ProcessRunner.DockerAsync(Containers.TaskTimeout, cancellationToken, "exec", name, "claude", "-p", "Report the completion code.");
            Assert.True(exec.ExitCode == 0, exec.Describe());
            Assert.Contains(Scripts.FinalAnswer, exec.Stdout, StringComparison.Ordinal);

            var stopwatch = Stopwatch.StartNew();
            var stop = await ProcessRunner.DockerAsync(Containers.CommandTimeout, cancellationToken, "stop", "-t", "30", name);
            stopwatch.Stop();
            Assert.True(stop.ExitCode == 0, stop.Describe());
            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"docker stop took {stopwatch.Elapsed.TotalSeconds:F1}s: SIGTERM was not handled.");
            var exitCode = (await ProcessRunner.DockerAsync(Containers.CommandTimeout, cancellationToken, "inspect", "-f", "{{.State.ExitCode}}", name)).Stdout.Trim();
            Assert.Equal("0", exitCode);
        }
        finally
        {
            await Containers.RemoveAsync(name);
        }
    }

    [Theory]
    [InlineData("bash")]
    [InlineData("pwsh")]
    public async Task AttachScript_RunningContainer_RunsClaudeWithTheArguments(string shell)
    {
        image.Require();
        RequireShell(shell);
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var stack = await LocalStack.StartAsync(Scripts.AnswerOnly, "127.0.0.1", cancellationToken);
        var name = Containers.NewName("attach");
        try
        {
            await StartIdleAsync(name, stack, cancellationToken);
            await Containers.WaitForLogAsync(name, "Waiting", ReadyTimeout, cancellationToken);

            // --output-format json only changes the output if the arguments reach claude.
            var run = await RunScriptAsync(shell, name, ["-p", "Report the completion code.", "--output-format", "json"], cancellationToken);

            Assert.True(run.ExitCode == 0, run.Describe());
            var result = JsonNode.Parse(run.Stdout.Trim())!;
            Assert.Equal("result", result["type"]?.GetValue<string>());
            Assert.Contains(Scripts.FinalAnswer, result["result"]?.GetValue<string>() ?? string.Empty, StringComparison.Ordinal);
            Assert.NotEmpty(stack.Upstream.MessageRequests);
        }
        finally
        {
            await Containers.RemoveAsync(name);
        }
    }

    [Theory]
    [InlineData("bash")]
    [InlineData("pwsh")]
    public async Task AttachScript_NoSuchContainer_ExplainsHowToStartTheStackAndFails(string shell)
    {
        image.Require();
        RequireShell(shell);
        var cancellationToken = TestContext.Current.CancellationToken;

        var run = await RunScriptAsync(shell, Containers.NewName("missing"), ["-p", "hello"], cancellationToken);

        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("is not running", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("dotnet run --project ClaudeStack.AppHost", run.Stderr, StringComparison.Ordinal);
        Assert.Equal(string.Empty, run.Stdout);
    }

    private async Task StartIdleAsync(string name, LocalStack stack, CancellationToken cancellationToken) =>
        (await ProcessRunner.DockerAsync(
            Containers.CommandTimeout,
            cancellationToken,
            ["run", "-d", "--name", name, "--network", "host", .. Containers.ClaudeEnvironment(stack.GatewayAddress), image.Tag, "idle"])).EnsureSuccess();

    /// <summary>PowerShell is optional on Linux: without pwsh the .ps1 variants are skipped, also on CI.</summary>
    private static void RequireShell(string shell)
    {
        var found = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Any(directory => File.Exists(Path.Combine(directory, shell)));
        if (!found)
        {
            Assert.Skip($"{shell} is not installed; scripts/claude{(shell == "pwsh" ? ".ps1" : string.Empty)} is not exercised.");
        }
    }

    private static Task<ProcessResult> RunScriptAsync(string shell, string container, string[] arguments, CancellationToken cancellationToken) =>
        ProcessRunner.RunAsync(
            shell,
            shell == "pwsh"
                ? ["-NoProfile", "-NonInteractive", "-File", Path.Combine(ClaudeCodeImage.RepositoryRoot, "scripts", "claude.ps1"), .. arguments]
                : [Path.Combine(ClaudeCodeImage.RepositoryRoot, "scripts", "claude"), .. arguments],
            Containers.TaskTimeout,
            cancellationToken,
            new Dictionary<string, string?> { ["CLAUDE_STACK_CONTAINER"] = container });
}
