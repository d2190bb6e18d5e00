using System.Diagnostics;
using ClaudeStack.Container.Tests.Support;

namespace ClaudeStack.Container.Tests;

/// <summary>The image's `task` mode against the real gateway, Claude Code talking to a scripted local model.</summary>
public sealed class TaskModeTests(ClaudeCodeImage image)
{
    [Fact]
    public async Task TaskMode_WriteToolRoundTrip_PrintsAnswerWritesFileAsUserAndGatewayTraces()
    {
        image.Require();
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var stack = await LocalStack.StartAsync(Scripts.WriteThenAnswer, "127.0.0.1", cancellationToken);
        var workspace = Containers.NewWorkspace();
        var name = Containers.NewName("task");
        try
        {
            var run = await ProcessRunner.DockerAsync(
                Containers.TaskTimeout,
                cancellationToken,
                [
                    "run", "--name", name, "--network", "host",
                    "-v", workspace.FullName + ":/workspace",
                    .. Containers.ClaudeEnvironment(stack.GatewayAddress),
                    "-e", "CLAUDE_TASK_PROMPT=Create the greeting file, then report the completion code.",
                    "-e", "CLAUDE_TASK_ALLOWED_TOOLS=Write",
                    image.Tag, "task",
                ]);

            Assert.True(run.ExitCode == 0, run.Describe());
            Assert.Contains(Scripts.FinalAnswer, run.Stdout, StringComparison.Ordinal);

            // The tool round trip: a later Messages request carries the tool_result of the scripted tool_use.
            var messages = stack.Upstream.MessageRequests;
            Assert.Contains(messages, r => Scripts.OffersTool(r, "Write") && !Scripts.CarriesToolResult(r));
            var followUp = Assert.Single(messages, r => Scripts.CarriesToolResult(r, Scripts.ToolUseId));
            var toolResult = Scripts.ToolResultText(followUp, Scripts.ToolUseId);
            Assert.False(string.IsNullOrEmpty(toolResult), "the tool_result is empty");
            Assert.DoesNotContain("error", toolResult, StringComparison.OrdinalIgnoreCase);

            // The gateway authenticated the stack token and mapped nothing away from the local model.
            Assert.All(messages, r => Assert.Equal(LocalStack.LocalModel, r.Model));

            // The file landed in the mounted workspace, owned by the container user (uid 1000), not root.
            var written = Path.Combine(workspace.FullName, Scripts.FileName);
            Assert.True(File.Exists(written), $"{Scripts.FileName} was not written.\n{run.Describe()}");
            Assert.Equal(Scripts.FileContent, await File.ReadAllTextAsync(written, cancellationToken));
            Assert.Equal("1000:1000", await Containers.OwnerAsync(written, cancellationToken));

            // One server span per model call at least.
            var spans = stack.Spans;
            Assert.True(spans.Count >= messages.Count, $"{spans.Count} gateway spans for {messages.Count} Messages requests: {string.Join(", ", spans.Select(s => s.DisplayName))}");
            Assert.Contains(spans, s => s.Status != ActivityStatusCode.Error);
        }
        finally
        {
            await Containers.RemoveAsync(name);
            workspace.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task TaskMode_WithAProxyForContainers_ReachesTheGatewayDirectly()
    {
        // Docker's "proxies" in ~/.docker/config.json put HTTP_PROXY and HTTPS_PROXY into every container. Here the
        // proxy is a closed port: a call through it would fail, so the answer proves Claude Code went past it, as told
        // by the NO_PROXY the stack sets.
        image.Require();
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var stack = await LocalStack.StartAsync(Scripts.AnswerOnly, "127.0.0.1", cancellationToken);
        var noProxy = ClaudeStack.Stack.StackEnvironment.NoProxy(
            ClaudeStack.Stack.StackOptionsReader.Read(new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build(), ClaudeStack.Stack.LaunchContext.FromProcess() with { LaunchDirectory = Path.GetTempPath() }));
        using var closed = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        closed.Start();
        var proxy = $"http://127.0.0.1:{((System.Net.IPEndPoint)closed.LocalEndpoint).Port}";
        closed.Stop();
        var name = Containers.NewName("proxy");
        try
        {
            var run = await ProcessRunner.DockerAsync(
                Containers.TaskTimeout,
                cancellationToken,
                [
                    "run", "--name", name, "--network", "host",
                    .. Containers.ClaudeEnvironment(stack.GatewayAddress),
                    "-e", "HTTP_PROXY=" + proxy, "-e", "HTTPS_PROXY=" + proxy, "-e", "http_proxy=" + proxy, "-e", "https_proxy=" + proxy,
                    "-e", "NO_PROXY=" + noProxy, "-e", "no_proxy=" + noProxy,
                    "-e", "CLAUDE_TASK_PROMPT=Report the completion code.",
                    image.Tag, "task",
                ]);

            Assert.True(run.ExitCode == 0, run.Describe());
            Assert.Contains(Scripts.FinalAnswer, run.Stdout, StringComparison.Ordinal);
        }
        finally
        {
            await Containers.RemoveAsync(name);
        }
    }

    /// <summary>
    /// The stack makes the container anew on every start and keeps Claude Code's state in a volume at the
    /// CLAUDE_CONFIG_DIR it sets: a conversation begun in one container goes on in the next (<c>--continue</c>).
    /// </summary>
    [Fact]
    public async Task ConfigVolume_KeepsTheSessionForTheNextContainer()
    {
        image.Require();
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var stack = await LocalStack.StartAsync(Scripts.AnswerOnly, "127.0.0.1", cancellationToken);
        var workspace = Containers.NewWorkspace();
        var volume = Containers.NewName("config");
        string[] names = [Containers.NewName("first"), Containers.NewName("next")];
        const string FirstPrompt = "Remember the word PERSIST-91c4.";
        try
        {
            string[][] commands =
            [
                ["-e", "CLAUDE_TASK_PROMPT=" + FirstPrompt, image.Tag, "task"],
                [image.Tag, "-p", "--continue", "Which word was it?"],
            ];
            for (var i = 0; i < names.Length; i++)
            {
                var run = await ProcessRunner.DockerAsync(
                    Containers.TaskTimeout,
                    cancellationToken,
                    [
                        "run", "--name", names[i], "--network", "host",
                        "-v", workspace.FullName + ":/workspace",
                        "-v", volume + ":" + ClaudeStack.Stack.StackConstants.Paths.ContainerClaudeConfig,
                        "-e", ClaudeStack.Stack.StackConstants.ClaudeCodeVariables.ConfigDir + "=" + ClaudeStack.Stack.StackConstants.Paths.ContainerClaudeConfig,
                        .. Containers.ClaudeEnvironment(stack.GatewayAddress),
                        .. commands[i],
                    ]);
                Assert.True(run.ExitCode == 0, run.Describe());
            }

            // The second container's conversation starts with the first one's prompt.
            Assert.Contains(stack.Upstream.MessageRequests, r =>
                r.Json?["messages"]?.ToJsonString() is { } messages
                && messages.Contains("PERSIST-91c4", StringComparison.Ordinal)
                && messages.Contains("Which word was it?", StringComparison.Ordinal));

            // The whole state is in the volume, the global config (project settings, MCP servers) with the sessions.
            var listing = await ProcessRunner.DockerAsync(
                Containers.CommandTimeout, cancellationToken,
                "run", "--rm", "--network", "none", "-v", volume + ":/state", "--entrypoint", "ls", image.Tag, "-A", "/state");
            Assert.True(listing.ExitCode == 0, listing.Describe());
            Assert.Contains(".claude.json", listing.Stdout.Split('\n', StringSplitOptions.TrimEntries));
            Assert.Contains("projects", listing.Stdout.Split('\n', StringSplitOptions.TrimEntries));
        }
        finally
        {
            foreach (var name in names)
            {
                await Containers.RemoveAsync(name);
            }

            await ProcessRunner.DockerAsync(TimeSpan.FromSeconds(45), CancellationToken.None, "volume", "rm", "-f", volume);
            workspace.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task TaskMode_PromptThatLooksLikeAnOption_IsAPrompt()
    {
        // A prompt taken from elsewhere (an issue title, a CI variable) must not pass options to Claude Code.
        image.Require();
        var cancellationToken = TestContext.Current.CancellationToken;
        await using var stack = await LocalStack.StartAsync(Scripts.AnswerOnly, "127.0.0.1", cancellationToken);
        var name = Containers.NewName("task-dash");
        try
        {
            var run = await ProcessRunner.DockerAsync(
                Containers.TaskTimeout,
                cancellationToken,
                ["run", "--name", name, "--network", "host", .. Containers.ClaudeEnvironment(stack.GatewayAddress), "-e", "CLAUDE_TASK_PROMPT=--version", image.Tag, "task"]);

            Assert.True(run.ExitCode == 0, run.Describe());
            Assert.Contains(Scripts.FinalAnswer, run.Stdout, StringComparison.Ordinal);
            Assert.DoesNotContain("(Claude Code)", run.Stdout, StringComparison.Ordinal);
        }
        finally
        {
            await Containers.RemoveAsync(name);
        }
    }

    [Fact]
    public async Task TaskMode_EmptyPrompt_ExitsWith2AndExplains()
    {
        image.Require();
        var cancellationToken = TestContext.Current.CancellationToken;
        var name = Containers.NewName("task-empty");
        try
        {
            var run = await ProcessRunner.DockerAsync(
                Containers.CommandTimeout,
                cancellationToken,
                "run", "--name", name, "--network", "none", "-e", "CLAUDE_TASK_PROMPT=", image.Tag, "task");

            Assert.Equal(2, run.ExitCode);
            Assert.Contains("CLAUDE_TASK_PROMPT", run.Stderr, StringComparison.Ordinal);
        }
        finally
        {
            await Containers.RemoveAsync(name);
        }
    }

    [Fact]
    public async Task DefaultMode_Arguments_GoToClaude()
    {
        image.Require();
        var cancellationToken = TestContext.Current.CancellationToken;
        var name = Containers.NewName("default");
        try
        {
            var run = await ProcessRunner.DockerAsync(
                Containers.CommandTimeout, cancellationToken,
                "run", "--name", name, "--network", "none", image.Tag, "--version");

            Assert.True(run.ExitCode == 0, run.Describe());
            Assert.StartsWith(ClaudeCodeImage.ClaudeCodeVersion + " ", run.Stdout.Trim(), StringComparison.Ordinal);
        }
        finally
        {
            await Containers.RemoveAsync(name);
        }
    }

    [Fact]
    public async Task Image_Configuration_IsPinnedNonRootAndQuiet()
    {
        image.Require();
        var cancellationToken = TestContext.Current.CancellationToken;
        var inspect = (await ProcessRunner.DockerAsync(
            Containers.CommandTimeout, cancellationToken,
            "image", "inspect", "-f", "{{.Config.User}}|{{.Config.WorkingDir}}|{{json .Config.Env}}|{{json .Config.Entrypoint}}", image.Tag)).EnsureSuccess().Stdout.Trim();

        var parts = inspect.Split('|');
        Assert.Equal("node", parts[0]);
        Assert.Equal("/workspace", parts[1]);
        foreach (var variable in new[]
                 {
                     "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "DISABLE_AUTOUPDATER=1",
                     "CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL=1", "CLAUDE_CODE_ATTRIBUTION_HEADER=0",
                     "NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt",
                 })
        {
            Assert.Contains($"\"{variable}\"", parts[2], StringComparison.Ordinal);
        }

        Assert.Contains("tini", parts[3], StringComparison.Ordinal);
    }

    [Fact]
    public async Task CustomUserIds_MacStyleUidAndGid_WritesWorkspaceFilesAsThem()
    {
        image.Require();
        var cancellationToken = TestContext.Current.CancellationToken;
        // 501:20 is the first macOS user; gid 20 is an existing group (dialout) in Debian.
        var tag = image.Tag + "-uid501";
        var workspace = Containers.NewWorkspace();
        var name = Containers.NewName("uid");
        try
        {
            (await image.BuildAsync(tag, ["USER_UID=501", "USER_GID=20"], cancellationToken)).EnsureSuccess();
            var run = await ProcessRunner.DockerAsync(
                Containers.CommandTimeout, cancellationToken,
                "run", "--name", name, "--network", "none", "-v", workspace.FullName + ":/workspace",
                "--entrypoint", "bash", tag, "-c", "id -u; id -g; echo hi > /workspace/made-by-container.txt; claude --version");

            Assert.True(run.ExitCode == 0, run.Describe());
            Assert.StartsWith("501\n20\n", run.Stdout, StringComparison.Ordinal);
            Assert.Equal("501:20", await Containers.OwnerAsync(Path.Combine(workspace.FullName, "made-by-container.txt"), cancellationToken));
        }
        finally
        {
            await Containers.RemoveAsync(name);
            await ProcessRunner.DockerAsync(Containers.CommandTimeout, CancellationToken.None, "rmi", "-f", tag);
            workspace.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task FirstRun_NoConfig_SeedsOnboardingAndTrustOnlyWhenAskedButKeepsExistingConfig()
    {
        image.Require();
        var cancellationToken = TestContext.Current.CancellationToken;
        string[] names = [Containers.NewName("seed"), Containers.NewName("seed-trust")];
        var home = Containers.NewWorkspace();
        try
        {
            // Fresh containers: the entrypoint writes the seed before running claude. Trust in the workspace is seeded
            // only when asked for: it lets a cloned project's own settings run hooks unasked.
            for (var i = 0; i < names.Length; i++)
            {
                string[] trust = i == 0 ? [] : ["-e", ClaudeStack.Stack.StackConstants.ClaudeCodeVariables.TrustWorkspace + "=1"];
                var seeded = await ProcessRunner.DockerAsync(
                    Containers.CommandTimeout, cancellationToken,
                    ["run", "--name", names[i], "--network", "none", .. trust, image.Tag, "--version"]);
                Assert.True(seeded.ExitCode == 0, seeded.Describe());
                var copied = Path.Combine(home.FullName, $"seeded{i}.json");
                (await ProcessRunner.DockerAsync(Containers.CommandTimeout, cancellationToken, "cp", names[i] + ":/home/node/.claude.json", copied)).EnsureSuccess();
                var json = System.Text.Json.Nodes.JsonNode.Parse(await File.ReadAllTextAsync(copied, cancellationToken))!;
                Assert.True(json["hasCompletedOnboarding"]!.GetValue<bool>());
                Assert.Equal(i == 1, json["projects"]?["/workspace"]?["hasTrustDialogAccepted"]?.GetValue<bool>() ?? false);
            }

            // A mounted config is left exactly as it is.
            var mine = Path.Combine(home.FullName, "mine.json");
            const string original = "{\"numStartups\": 3}\n";
            await File.WriteAllTextAsync(mine, original, cancellationToken);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(mine, (UnixFileMode)0b110_110_110);
            }
            var kept = await ProcessRunner.DockerAsync(
                Containers.CommandTimeout, cancellationToken,
                "run", "--rm", "--network", "none", "-v", mine + ":/home/node/.claude.json", image.Tag, "--version");
            Assert.True(kept.ExitCode == 0, kept.Describe());
            Assert.Equal(original, await File.ReadAllTextAsync(mine, cancellationToken));
        }
        finally
        {
            foreach (var name in names)
            {
                await Containers.RemoveAsync(name);
            }

            home.Delete(recursive: true);
        }
    }
}
