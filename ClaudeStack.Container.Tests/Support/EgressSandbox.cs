using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace ClaudeStack.Container.Tests.Support;

/// <summary>
/// A network namespace, owned by a "holder" container started with <c>--network none</c>, wired to the host by a
/// veth pair the test creates: the host end has <see cref="HostAddress"/> (where the gateway and the stub DNS
/// listen), the namespace end a default route through it (IPv4 and IPv6), so every connection attempt to any
/// address leaves the namespace's OUTPUT chain as a packet. Counting iptables rules there accept the gateway port
/// and DNS, and reject everything else; their counters tell what the namespace tried to reach.
/// A task container joins with <c>--network container:&lt;holder&gt;</c>.
/// </summary>
public sealed partial class EgressSandbox : IAsyncDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private readonly string hostVeth;
    private int pid;

    private EgressSandbox(string holder, int subnet)
    {
        Holder = holder;
        HostAddress = $"10.254.{subnet}.1";
        NamespaceAddress = $"10.254.{subnet}.2";
        HostAddress6 = $"fd0c:5a:{subnet:x}::1";
        NamespaceAddress6 = $"fd0c:5a:{subnet:x}::2";
        var suffix = Guid.NewGuid().ToString("N")[..8];
        hostVeth = "csh" + suffix;
        NamespaceVeth = "csc" + suffix;
    }

    /// <summary>The container that owns the namespace; its resolv.conf names <see cref="HostAddress"/>.</summary>
    public string Holder { get; }

    public string HostAddress { get; }

    public string NamespaceAddress { get; }

    public string HostAddress6 { get; }

    public string NamespaceAddress6 { get; }

    public string NamespaceVeth { get; }

    /// <summary>False when Docker disabled IPv6 in the namespace (its default): nothing can leave over IPv6.</summary>
    public bool Ipv6Enabled { get; private set; }

    public static async Task<EgressSandbox> CreateAsync(string image, CancellationToken cancellationToken)
    {
        var used = (await Run("ip", ["-4", "-o", "addr", "show"], cancellationToken)).Stdout;
        var subnet = Enumerable.Range(0, 50).Select(_ => Random.Shared.Next(1, 250)).First(s => !used.Contains($"10.254.{s}.", StringComparison.Ordinal));
        var sandbox = new EgressSandbox(Containers.NewName("egress-holder"), subnet);
        try
        {
            await sandbox.SetUpAsync(image, cancellationToken);
            return sandbox;
        }
        catch
        {
            await sandbox.DisposeAsync();
            throw;
        }
    }

    private async Task SetUpAsync(string image, CancellationToken cancellationToken)
    {
        (await ProcessRunner.DockerAsync(Timeout, cancellationToken,
            "run", "-d", "--name", Holder, "--network", "none", "--dns", HostAddress,
            "--entrypoint", "/usr/bin/tini", image, "--", "sleep", "infinity")).EnsureSuccess();
        pid = int.Parse((await ProcessRunner.DockerAsync(Timeout, cancellationToken, "inspect", "-f", "{{.State.Pid}}", Holder)).EnsureSuccess().Stdout.Trim(), CultureInfo.InvariantCulture);

        // Docker disables IPv6 in a container's namespace unless the daemon enables it; then no IPv6 packet
        // can leave at all. Otherwise IPv6 gets a default route too, so its attempts are counted like IPv4's.
        var disabled = await InNamespace(cancellationToken, "cat", "/proc/sys/net/ipv6/conf/all/disable_ipv6");
        Ipv6Enabled = disabled.Stdout.Trim() == "0";

        await Ip(cancellationToken, "link", "add", hostVeth, "type", "veth", "peer", "name", NamespaceVeth);
        await Ip(cancellationToken, "addr", "add", HostAddress + "/30", "dev", hostVeth);
        if (Ipv6Enabled)
        {
            await Ip(cancellationToken, "-6", "addr", "add", HostAddress6 + "/64", "dev", hostVeth, "nodad");
        }

        await Ip(cancellationToken, "link", "set", hostVeth, "up");
        await Ip(cancellationToken, "link", "set", NamespaceVeth, "netns", pid.ToString(CultureInfo.InvariantCulture));
        await InNamespace(cancellationToken, "ip", "addr", "add", NamespaceAddress + "/30", "dev", NamespaceVeth);
        await InNamespace(cancellationToken, "ip", "link", "set", NamespaceVeth, "up");
        await InNamespace(cancellationToken, "ip", "route", "add", "default", "via", HostAddress);
        if (Ipv6Enabled)
        {
            await InNamespace(cancellationToken, "ip", "-6", "addr", "add", NamespaceAddress6 + "/64", "dev", NamespaceVeth, "nodad");
            await InNamespace(cancellationToken, "ip", "-6", "route", "add", "default", "via", HostAddress6);
        }
    }

    /// <summary>Installs the counting rules; call once the gateway's port is known.</summary>
    public async Task InstallRulesAsync(int gatewayPort, CancellationToken cancellationToken)
    {
        var port = gatewayPort.ToString(CultureInfo.InvariantCulture);
        string[][] rules =
        [
            ["-o", "lo", "-m", "comment", "--comment", "cs-loopback", "-j", "ACCEPT"],
            ["-d", HostAddress, "-p", "tcp", "--dport", port, "-m", "comment", "--comment", "cs-gateway", "-j", "ACCEPT"],
            ["-d", HostAddress, "-p", "udp", "--dport", "53", "-m", "comment", "--comment", "cs-dns", "-j", "ACCEPT"],
            ["-d", HostAddress, "-p", "tcp", "--dport", "53", "-m", "comment", "--comment", "cs-dns-tcp", "-j", "ACCEPT"],
            ["-m", "comment", "--comment", "cs-other", "-j", "REJECT"],
        ];
        foreach (var rule in rules)
        {
            await InNamespace(cancellationToken, ["iptables", "-A", "OUTPUT", .. rule]);
        }

        if (!Ipv6Enabled)
        {
            return;
        }

        // IPv6: neighbour discovery is the kernel's own traffic; any other packet is an attempt to go somewhere.
        await InNamespace(cancellationToken, "ip6tables", "-A", "OUTPUT", "-o", "lo", "-m", "comment", "--comment", "cs-loopback6", "-j", "ACCEPT");
        await InNamespace(cancellationToken, "ip6tables", "-A", "OUTPUT", "-p", "ipv6-icmp", "-m", "comment", "--comment", "cs-icmp6", "-j", "ACCEPT");
        await InNamespace(cancellationToken, "ip6tables", "-A", "OUTPUT", "-m", "comment", "--comment", "cs-other6", "-j", "REJECT");
    }

    /// <summary>Packets counted per rule comment (cs-gateway, cs-dns, cs-other, cs-other6, ...).</summary>
    public async Task<IReadOnlyDictionary<string, long>> CountersAsync(CancellationToken cancellationToken)
    {
        var counters = new Dictionary<string, long>();
        foreach (var tool in new[] { "iptables-save", "ip6tables-save" })
        {
            var saved = await InNamespace(cancellationToken, tool, "-c");
            foreach (Match match in CounterLine().Matches(saved.Stdout))
            {
                counters[match.Groups["name"].Value] = long.Parse(match.Groups["packets"].Value, CultureInfo.InvariantCulture);
            }
        }

        return counters;
    }

    /// <summary>The namespace's current TCP/UDP sockets (for failure messages).</summary>
    public async Task<string> SocketsAsync(CancellationToken cancellationToken) =>
        (await InNamespace(cancellationToken, "ss", "-tuanp")).Stdout;

    public async ValueTask DisposeAsync()
    {
        await Containers.RemoveAsync(Holder);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            // Removing the namespace deletes the pair; this covers a failure before the move.
            await ProcessRunner.RunAsync("ip", ["link", "del", hostVeth], TimeSpan.FromSeconds(20), timeout.Token);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            // Best effort.
        }
    }

    private Task<ProcessResult> InNamespace(CancellationToken cancellationToken, params string[] command) =>
        Run("nsenter", ["-t", pid.ToString(CultureInfo.InvariantCulture), "-n", .. command], cancellationToken);

    private static Task<ProcessResult> Ip(CancellationToken cancellationToken, params string[] arguments) =>
        Run("ip", arguments, cancellationToken);

    private static async Task<ProcessResult> Run(string command, string[] arguments, CancellationToken cancellationToken) =>
        (await ProcessRunner.RunAsync(command, arguments, Timeout, cancellationToken)).EnsureSuccess();

    public IPAddress HostIPAddress => IPAddress.Parse(HostAddress);

    [GeneratedRegex(@"^\[(?<packets>\d+):\d+\] -A OUTPUT .*--comment ""?(?<name>cs-[a-z0-9-]+)", RegexOptions.Multiline)]
    private static partial Regex CounterLine();
}
