using ClaudeStack.Container.Tests.Support;

namespace ClaudeStack.Container.Tests;

/// <summary>
/// Local mode sends nothing anywhere but the gateway. `--network host` cannot show that, so the task runs in a
/// network namespace the test builds (see <see cref="EgressSandbox"/>): the gateway and a stub DNS server listen on
/// the host end of a veth pair; iptables counters in the namespace see every packet that tries to leave it.
/// </summary>
public sealed class ZeroEgressTests(ClaudeCodeImage image)
{
    [Fact]
    public async Task LocalMode_IsolatedNamespace_ReachesOnlyTheGatewayAndResolvesNoNames()
    {
        image.Require();
        ClaudeCodeImage.RequireRoot("the test creates a veth pair and iptables rules in a container's network namespace");
        var cancellationToken = TestContext.Current.CancellationToken;

        await using var sandbox = await EgressSandbox.CreateAsync(image.Tag, cancellationToken);
        await using var dns = new StubDns(sandbox.HostIPAddress);
        await using var stack = await LocalStack.StartAsync(Scripts.WriteThenAnswer, sandbox.HostAddress, cancellationToken);
        await sandbox.InstallRulesAsync(stack.GatewayAddress.Port, cancellationToken);
        var workspace = Containers.NewWorkspace();
        var name = Containers.NewName("egress-task");
        try
        {
            var run = await ProcessRunner.DockerAsync(
                Containers.TaskTimeout,
                cancellationToken,
                [
                    "run", "--name", name, "--network", "container:" + sandbox.Holder,
                    "-v", workspace.FullName + ":/workspace",
                    .. Containers.ClaudeEnvironment(stack.GatewayAddress),
                    "-e", "CLAUDE_TASK_PROMPT=Create the greeting file, then report the completion code.",
                    "-e", "CLAUDE_TASK_ALLOWED_TOOLS=Write",
                    image.Tag, "task",
                ]);
            var counters = await sandbox.CountersAsync(cancellationToken);
            var report = $"{run.Describe()}\nIPv6 in the namespace: {(sandbox.Ipv6Enabled ? "enabled, counted" : "disabled by Docker")}\ncounters: {string.Join(", ", counters.Select(c => $"{c.Key}={c.Value}"))}\n" +
                         $"DNS queries: {string.Join(", ", dns.Queries)}\nsockets:\n{await sandbox.SocketsAsync(cancellationToken)}";

            TestContext.Current.TestOutputHelper?.WriteLine(report);
            Assert.True(run.ExitCode == 0, report);
            Assert.Contains(Scripts.FinalAnswer, run.Stdout, StringComparison.Ordinal);
            Assert.Contains(stack.Upstream.MessageRequests, r => Scripts.CarriesToolResult(r, Scripts.ToolUseId));

            Assert.True(counters.GetValueOrDefault("cs-gateway") > 0, "the gateway rule saw no packets, so the counters prove nothing.\n" + report);
            Assert.True(dns.Queries.Count == 0, "Claude Code looked up names.\n" + report);
            Assert.True(counters.GetValueOrDefault("cs-dns") + counters.GetValueOrDefault("cs-dns-tcp") == 0, report);
            Assert.True(counters.GetValueOrDefault("cs-other") == 0, "IPv4 packets to somewhere other than the gateway.\n" + report);
            Assert.True(counters.GetValueOrDefault("cs-other6") == 0, "IPv6 packets left the namespace.\n" + report);

            // Control: the same namespace's attempts do show up: a name lookup and a connection elsewhere.
            await ProcessRunner.DockerAsync(Containers.CommandTimeout, cancellationToken, "exec", sandbox.Holder, "getent", "hosts", "example.com");
            await ProcessRunner.DockerAsync(
                Containers.CommandTimeout, cancellationToken, "exec", sandbox.Holder, "node", "-e",
                "require('net').connect(443, '192.0.2.1').on('error', () => process.exit(0)).setTimeout(3000, () => process.exit(0))");
            var after = await sandbox.CountersAsync(cancellationToken);
            Assert.True(dns.Queries.Count > 0, "the stub DNS server did not see the control lookup");
            Assert.True(after.GetValueOrDefault("cs-other") > 0, "the counters did not see the control connection: " + string.Join(", ", after.Select(c => $"{c.Key}={c.Value}")));
        }
        finally
        {
            await Containers.RemoveAsync(name);
            workspace.Delete(recursive: true);
        }
    }
}
