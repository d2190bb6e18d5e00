using System.Diagnostics;
using System.Text.Json.Nodes;
using ClaudeStack.Container.Tests.Support;
using ClaudeStack.ScriptedUpstream;

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
            var logs = await StartIdleAsync(name, stack, cancellationToken);
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

    [Fact]
    public async Task AttachScript_EngineUnreachable_SaysSoRatherThanBlamingTheContainer()
    {
        // A user outside the docker group, or an engine not started: the stack may well be running.
        RequireShell("bash");
        var cancellationToken = TestContext.Current.CancellationToken;
        var socket = Path.Combine(Path.GetTempPath(), $"claudestack-no-engine-{Guid.NewGuid():N}.sock");

        var run = await RunScriptAsync("bash", Containers.NewName("any"), ["-p", "hello"], cancellationToken, dockerHost: "unix://" + socket);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("claude: cannot reach the Docker engine: ", run.Stderr, StringComparison.Ordinal);
        Assert.Contains(socket, run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("is not running", run.Stderr, StringComparison.Ordinal);
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

    /// <summary>
    /// Without a terminal docker exec passes no signal on. A caller stopping scripts/claude must stop Claude Code in
    /// the container too, or it goes on calling the model and editing the workspace after the user thinks it stopped:
    /// a kill from an editor (TERM to the script), and Ctrl+C in a pipeline (INT to the terminal's whole process group,
    /// docker exec included, which would take it and exit 0 without passing it on).
    /// </summary>
    /// <param name="slowEngine">
    /// The engine takes 2 s to start the exec session (Docker Desktop can), and the signal comes before Claude Code
    /// has started: the script must still stop it once it has.
    /// </param>
    [Theory]
    [InlineData("TERM", false, false)]
    [InlineData("INT", true, false)]
    [InlineData("TERM", false, true)]
    [InlineData("INT", true, true)]
    public async Task AttachScript_StoppedWithoutATerminal_StopsClaudeInTheContainer(string signal, bool toProcessGroup, bool slowEngine)
    {
        image.Require();
        var cancellationToken = TestContext.Current.CancellationToken;

        await using var stack = await LocalStack.StartAsync(Scripts.NeverAnswers, "127.0.0.1", cancellationToken);
        var name = Containers.NewName("attach-stop");
        var slowDocker = slowEngine ? SlowExecSessions() : null;
        try
        {
            await StartIdleAsync(name, stack, cancellationToken);
            using var script = StartBashScript(name, ["-p", "Take your time."], inPipeline: toProcessGroup, pathFirst: slowDocker?.FullName);
            script.StandardInput.Close();
            _ = script.StandardOutput.ReadToEndAsync(cancellationToken);
            var stderr = script.StandardError.ReadToEndAsync(cancellationToken);
            if (slowEngine)
            {
                await Task.Delay(500, cancellationToken);
                Assert.Equal(1, (await ClaudeProcessesAsync(name, cancellationToken)).ExitCode);
            }
            else
            {
                await Until(() => stack.Upstream.MessageRequests.Count > 0, ReadyTimeout, cancellationToken);
                Assert.Equal(0, (await ClaudeProcessesAsync(name, cancellationToken)).ExitCode);
            }

            var target = (toProcessGroup ? "-" : "") + script.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
            (await ProcessRunner.RunAsync("kill", ["-" + signal, "--", target], Containers.CommandTimeout, cancellationToken)).EnsureSuccess();

            await script.WaitForExitAsync(cancellationToken).WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);
            var stopped = Stopwatch.StartNew();
            while ((await ClaudeProcessesAsync(name, cancellationToken)).ExitCode != 1 && stopped.Elapsed < TimeSpan.FromSeconds(15))
            {
                await Task.Delay(200, cancellationToken);
            }

            var processes = await ProcessRunner.DockerAsync(Containers.CommandTimeout, cancellationToken, "exec", name, "ps", "-eo", "pid,ppid,stat,etime,comm,args");
            Assert.True(
                (await ClaudeProcessesAsync(name, cancellationToken)).ExitCode == 1,
                $"Claude Code still runs {stopped.Elapsed.TotalSeconds:0} s after the script ended (exit code {script.ExitCode}).\nIn the container:\n{processes.Stdout}\nThe script's stderr:\n{await stderr}");

            // An interrupted run must not look like a finished one (`scripts/claude -p ... && git commit ...`).
            Assert.NotEqual(0, script.ExitCode);

            // The script waited for the session and cleaned up after it, rather than leaving on the signal.
            var pidFiles = await ProcessRunner.DockerAsync(Containers.CommandTimeout, cancellationToken, "exec", name, "sh", "-c", "ls /tmp/claudestack-attach-*.pid");
            Assert.True(pidFiles.ExitCode != 0, "left behind: " + pidFiles.Stdout);
        }
        finally
        {
            await Containers.RemoveAsync(name);
            slowDocker?.Delete(recursive: true);
        }
    }

    /// <summary>A folder with a <c>docker</c> that starts the session running Claude Code 2 s late, and passes everything else on at once.</summary>
    private static DirectoryInfo SlowExecSessions()
    {
        var docker = OnPath("docker") ?? throw new InvalidOperationException("docker is not on PATH");
        var folder = Directory.CreateTempSubdirectory("claudestack-slow-docker-");
        var wrapper = Path.Combine(folder.FullName, "docker");
        File.WriteAllText(wrapper, $"#!/bin/sh\ncase \"$*\" in *claudestack-entrypoint*) sleep 2 ;; esac\nexec '{docker}' \"$@\"\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(wrapper, (UnixFileMode)0b111_101_101);
        }

        return folder;
    }

    [Fact]
    public async Task AttachScript_TerminalClosed_StopsClaudeInTheContainer()
    {
        image.Require();
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var stack = await LocalStack.StartAsync(Scripts.NeverAnswers, "127.0.0.1", cancellationToken);
        var name = Containers.NewName("attach-hup");
        try
        {
            await StartIdleAsync(name, stack, cancellationToken);

            // `script` (util-linux) runs the attach script on a terminal of its own, as a terminal window does; killed,
            // it closes that terminal, and the kernel hangs up everything running on it, as when a window is closed
            // or an SSH connection drops.
            var attach = Path.Combine(ClaudeCodeImage.RepositoryRoot, "scripts", "claude");
            // Through env: a test run under nohup would pass SIGHUP on ignored, and a shell cannot trap what it inherits ignored.
            var start = new ProcessStartInfo("env") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in new[] { "--default-signal=HUP", "script", "-q", "-f", "-e", "-c", $"bash '{attach}' -p 'Take your time.'", "/dev/null" })
            {
                start.ArgumentList.Add(argument);
            }

            start.Environment["CLAUDE_STACK_CONTAINER"] = name;
            // script runs the command with $SHELL; bash execs it, so the attach script leads the terminal's session and
            // the hang-up reaches it alone, not the docker client it waits for.
            start.Environment["SHELL"] = "/bin/bash";
            using var terminal = Process.Start(start)!;
            _ = terminal.StandardOutput.ReadToEndAsync(cancellationToken);
            _ = terminal.StandardError.ReadToEndAsync(cancellationToken);
            await Until(() => stack.Upstream.MessageRequests.Count > 0, ReadyTimeout, cancellationToken);
            Assert.Equal(0, (await ClaudeProcessesAsync(name, cancellationToken)).ExitCode);

            terminal.Kill();
            await terminal.WaitForExitAsync(cancellationToken);

            await Until(async () => (await ClaudeProcessesAsync(name, cancellationToken)).ExitCode == 1, TimeSpan.FromSeconds(15), cancellationToken);
        }
        finally
        {
            await Containers.RemoveAsync(name);
        }
    }

    [Fact]
    public async Task IdleMode_DockerStop_LetsAttachedSessionsEndBeforeTheContainerDoes()
    {
        // When the container's main process ends, the kernel kills every `docker exec` session with SIGKILL at once.
        image.Require();
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var stack = await LocalStack.StartAsync(Scripts.NeverAnswers, "127.0.0.1", cancellationToken);
        var name = Containers.NewName("stop-attached");
        try
        {
            await StartIdleAsync(name, stack, cancellationToken);
            var session = ProcessRunner.DockerAsync(Containers.TaskTimeout, cancellationToken, "exec", name, "claude", "-p", "Take your time.");
            await Until(() => stack.Upstream.MessageRequests.Count > 0, ReadyTimeout, cancellationToken);

            var stopwatch = Stopwatch.StartNew();
            (await ProcessRunner.DockerAsync(Containers.CommandTimeout, cancellationToken, "stop", "-t", "10", name)).EnsureSuccess();
            stopwatch.Stop();
            var ended = await session;

            // 137 is 128 + SIGKILL: the session got no TERM first.
            Assert.NotEqual(137, ended.ExitCode);
            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(9), $"docker stop took {stopwatch.Elapsed.TotalSeconds:F1}s: the session did not end on TERM. {ended.Describe()}");
        }
        finally
        {
            await Containers.RemoveAsync(name);
        }
    }

    /// <summary>
    /// `docker run --user` (another way to match the host user) leaves HOME=/home/node, which that uid cannot write.
    /// The entrypoint gives the container's own process a private home; a session attached with the script gets the same.
    /// </summary>
    [Fact]
    public async Task AttachScript_ContainerRunAsAnotherUser_GivesClaudeAWritableHome()
    {
        image.Require();
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var stack = await LocalStack.StartAsync(Scripts.AnswerOnly, "127.0.0.1", cancellationToken);
        var name = Containers.NewName("attach-user");
        try
        {
            await StartIdleAsync(name, stack, cancellationToken, "--user", "1234:1234");

            var run = await RunScriptAsync("bash", name, ["-p", "Report the completion code."], cancellationToken);
            Assert.True(run.ExitCode == 0, run.Describe());
            Assert.Contains(Scripts.FinalAnswer, run.Stdout, StringComparison.Ordinal);

            // Claude Code keeps the session under its home: the private one, not the unwritable /home/node.
            var sessions = await ProcessRunner.DockerAsync(Containers.CommandTimeout, cancellationToken, "exec", name, "sh", "-c", "ls -A /tmp/claude-home-1234/.claude/projects");
            Assert.True(sessions.ExitCode == 0 && sessions.Stdout.Trim().Length > 0, sessions.Describe());
        }
        finally
        {
            await Containers.RemoveAsync(name);
        }
    }

    /// <summary>Input piped into the script reaches Claude Code, as piped into claude itself (it is part of the prompt).</summary>
    [Fact]
    public async Task AttachScript_PipedInput_ReachesClaude()
    {
        image.Require();
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var stack = await LocalStack.StartAsync(Scripts.AnswerOnly, "127.0.0.1", cancellationToken);
        var name = Containers.NewName("attach-pipe");
        try
        {
            await StartIdleAsync(name, stack, cancellationToken);
            using var script = StartBashScript(name, ["-p", "Summarize the notes."]);
            await script.StandardInput.WriteAsync("notes: the build is red since PIPED-7d1f".AsMemory(), cancellationToken);
            script.StandardInput.Close();
            var stdout = await script.StandardOutput.ReadToEndAsync(cancellationToken).WaitAsync(Containers.TaskTimeout, cancellationToken);
            await script.WaitForExitAsync(cancellationToken);

            Assert.Equal(0, script.ExitCode);
            Assert.Contains(Scripts.FinalAnswer, stdout, StringComparison.Ordinal);
            Assert.Contains(stack.Upstream.MessageRequests, r => r.BodyText.Contains("PIPED-7d1f", StringComparison.Ordinal));
        }
        finally
        {
            await Containers.RemoveAsync(name);
        }
    }

    /// <param name="inPipeline">
    /// Run as `scripts/claude ... | cat` in a process group of its own (setsid), as a terminal runs a pipeline: a
    /// signal to the group reaches every process in it, as Ctrl+C does.
    /// </param>
    /// <remarks>
    /// Through env with the signals' default actions restored: a test run started in the background of a
    /// non-interactive shell inherits SIGINT ignored (and under nohup SIGHUP), which a shell cannot trap, so the
    /// script would never see the Ctrl+C a user's terminal delivers.
    /// </remarks>
    /// <param name="pathFirst">A folder searched before the others on PATH.</param>
    private static Process StartBashScript(string container, string[] arguments, bool inPipeline = false, string? pathFirst = null)
    {
        var script = Path.Combine(ClaudeCodeImage.RepositoryRoot, "scripts", "claude");
        var start = new ProcessStartInfo("env") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("--default-signal=INT,TERM,HUP");
        start.ArgumentList.Add(inPipeline ? "setsid" : "bash");
        if (inPipeline)
        {
            start.ArgumentList.Add("bash");
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add("set -o pipefail; bash \"$0\" \"$@\" | cat");
        }

        start.ArgumentList.Add(script);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["CLAUDE_STACK_CONTAINER"] = container;
        if (pathFirst is not null)
        {
            start.Environment["PATH"] = pathFirst + Path.PathSeparator + Environment.GetEnvironmentVariable("PATH");
        }

        return Process.Start(start)!;
    }

    private static Task<ProcessResult> ClaudeProcessesAsync(string container, CancellationToken cancellationToken) =>
        ProcessRunner.DockerAsync(Containers.CommandTimeout, cancellationToken, "exec", container, "pgrep", "-x", "claude");

    private static Task Until(Func<bool> condition, TimeSpan timeout, CancellationToken cancellationToken) =>
        Until(() => Task.FromResult(condition()), timeout, cancellationToken);

    private static async Task Until(Func<Task<bool>> condition, TimeSpan timeout, CancellationToken cancellationToken, string? context = null)
    {
        var stopwatch = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(stopwatch.Elapsed < timeout, $"condition not met within {timeout.TotalSeconds:0} s. {context}");
            await Task.Delay(200, cancellationToken);
        }
    }

    /// <summary>Starts the image in idle mode, as the AppHost does, and waits until it says it is ready; returns its log.</summary>
    private async Task<string> StartIdleAsync(string name, LocalStack stack, CancellationToken cancellationToken, params string[] runOptions)
    {
        (await ProcessRunner.DockerAsync(
            Containers.CommandTimeout,
            cancellationToken,
            ["run", "-d", "--name", name, .. runOptions, "--network", "host", .. Containers.ClaudeEnvironment(stack.GatewayAddress), image.Tag, "idle"])).EnsureSuccess();
        return await Containers.WaitForLogAsync(name, "Waiting", ReadyTimeout, cancellationToken);
    }

    /// <summary>
    /// PowerShell is optional on Linux (and not installable everywhere): without pwsh the .ps1 variants are skipped, also
    /// on CI. bash is not optional: under CI its absence fails the test.
    /// </summary>
    private static void RequireShell(string shell)
    {
        if (OnPath(shell) is not null)
        {
            return;
        }

        var reason = $"{shell} is not installed; scripts/claude{(shell == "pwsh" ? ".ps1" : string.Empty)} is not exercised.";
        if (shell != "pwsh" && ClaudeCodeImage.InCi)
        {
            Assert.Fail(reason);
        }

        Assert.Skip(reason);
    }

    /// <summary>Where a program is found on PATH, or null.</summary>
    private static string? OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, program))
            .FirstOrDefault(File.Exists);

    private static Task<ProcessResult> RunScriptAsync(string shell, string container, string[] arguments, CancellationToken cancellationToken, string? dockerHost = null)
    {
        var environment = new Dictionary<string, string?> { ["CLAUDE_STACK_CONTAINER"] = container };
        if (dockerHost is not null)
        {
            environment["DOCKER_HOST"] = dockerHost;
        }

        return ProcessRunner.RunAsync(
            shell,
            shell == "pwsh"
                ? ["-NoProfile", "-NonInteractive", "-File", Path.Combine(ClaudeCodeImage.RepositoryRoot, "scripts", "claude.ps1"), .. arguments]
                : [Path.Combine(ClaudeCodeImage.RepositoryRoot, "scripts", "claude"), .. arguments],
            Containers.TaskTimeout,
            cancellationToken,
            environment);
    }
}
