using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Reflection;

namespace ClaudeStack.Bench;

/// <summary>
/// A server the bench runs as a child process (<c>dotnet &lt;dll&gt;</c>) on a free loopback port, with its CPU time
/// and resident memory read from <c>/proc</c> (Linux only).
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private static readonly List<ServerProcess> Running = [];
    private readonly Queue<string> _output = new();
    private Process _process = null!;

    private ServerProcess(string name, Uri baseAddress, ProcessStartInfo startInfo, string readyPath)
    {
        Name = name;
        BaseAddress = baseAddress;
        StartInfo = startInfo;
        ReadyPath = readyPath;
    }

    private ProcessStartInfo StartInfo { get; }

    private string ReadyPath { get; }

    public string Name { get; }

    public Uri BaseAddress { get; }

    public int Pid => _process.Id;

    /// <summary>The last lines the process wrote, for error messages.</summary>
    public string RecentOutput
    {
        get
        {
            lock (_output)
            {
                return string.Join('\n', _output);
            }
        }
    }

    /// <summary>Starts the scripted upstream with its command-line options.</summary>
    public static Task<ServerProcess> StartUpstreamAsync(string name, int events, int eventBytes, CancellationToken cancellationToken)
    {
        var port = FreePort();
        var url = $"http://127.0.0.1:{port}";
        string[] args =
        [
            "--url", url, "--events", Invariant(events), "--event-bytes", Invariant(eventBytes),
            "--event-interval-ms", "0", "--first-event-delay-ms", "0", "--ollama", "false",
        ];
        return StartAsync(name, Artifacts.Upstream, args, [], new Uri(url), "/", cancellationToken);
    }

    /// <summary>Starts an OTLP sink (<see cref="OtlpSink"/>): this bench's own program in its sink mode.</summary>
    public static Task<ServerProcess> StartOtlpSinkAsync(string name, CancellationToken cancellationToken)
    {
        var url = $"http://127.0.0.1:{FreePort()}";
        return StartAsync(name, Artifacts.Bench, [OtlpSink.Option, url], [], new Uri(url), "/", cancellationToken);
    }

    /// <summary>Starts a byte-copying relay (<see cref="TcpRelay"/>) in front of an upstream.</summary>
    public static Task<ServerProcess> StartTcpRelayAsync(string name, Uri upstream, CancellationToken cancellationToken)
    {
        var url = $"http://127.0.0.1:{FreePort()}";
        return StartAsync(name, Artifacts.Bench, [TcpRelay.Option, url, upstream.ToString()], [], new Uri(url), "/", cancellationToken);
    }

    /// <summary>Starts the gateway (ollama profile, Claude names mapped, stack token on) in front of an upstream.</summary>
    public static Task<ServerProcess> StartGatewayAsync(string name, Uri upstream, IEnumerable<KeyValuePair<string, string>> environment, CancellationToken cancellationToken)
    {
        var port = FreePort();
        var url = $"http://127.0.0.1:{port}";
        var env = new List<KeyValuePair<string, string>>
        {
            new("Gateway__Upstream__Profile", "ollama"),
            new("Gateway__Upstream__Url", upstream.ToString()),
            new("Gateway__StackToken", Workload.StackToken),
            new("Gateway__Models__Default", Workload.LocalModel),
        };
        env.AddRange(environment);
        return StartAsync(name, Artifacts.Gateway, ["--urls", url], env, new Uri(url), "/alive", cancellationToken);
    }

    private static async Task<ServerProcess> StartAsync(string name, string dll, string[] args, IEnumerable<KeyValuePair<string, string>> environment, Uri baseAddress, string readyPath, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            // The content root is the working directory: run from the app's own folder, as a deployment would.
            WorkingDirectory = Path.GetDirectoryName(dll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(dll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        // Nothing inherited from the bench's own environment should switch telemetry or logging on or off.
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("OTEL_", StringComparison.Ordinal) || k.StartsWith("Gateway__", StringComparison.Ordinal) || k.StartsWith("ASPNETCORE_URLS", StringComparison.Ordinal)).ToList())
        {
            info.Environment.Remove(key);
        }

        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        var server = new ServerProcess(name, baseAddress, info, readyPath);
        lock (Running)
        {
            Running.Add(server);
        }

        await server.LaunchAsync(cancellationToken);
        return server;
    }

    private async Task LaunchAsync(CancellationToken cancellationToken)
    {
        var process = Process.Start(StartInfo) ?? throw new InvalidOperationException($"Could not start {Name}.");
        _process = process;
        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await WaitReadyAsync(ReadyPath, cancellationToken);
    }

    private async Task StopAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                // Left to the operating system.
            }
        }

        _process.Dispose();
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.Enqueue(line);
            while (_output.Count > 40)
            {
                _output.Dequeue();
            }
        }
    }

    private async Task WaitReadyAsync(string path, CancellationToken cancellationToken)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{Name} exited with code {_process.ExitCode} during start-up:\n{RecentOutput}");
            }

            try
            {
                using var response = await client.GetAsync(new Uri(BaseAddress, path), cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // Slow first answer; try again.
            }

            await Task.Delay(50, cancellationToken);
        }

        throw new TimeoutException($"{Name} was not ready within 60 s:\n{RecentOutput}");
    }

    /// <summary>User plus system CPU time of the whole process (all threads): utime+stime of /proc/&lt;pid&gt;/stat.</summary>
    public TimeSpan CpuTime => ProcStats.CpuTime(Pid);

    /// <summary>Resident set size (VmRSS of /proc/&lt;pid&gt;/status), in bytes.</summary>
    public long Rss => ProcStats.Rss(Pid);

    public async ValueTask DisposeAsync()
    {
        lock (Running)
        {
            Running.Remove(this);
        }

        await StopAsync();
    }

    /// <summary>Kills whatever is still running (Ctrl+C, unhandled failure).</summary>
    public static void KillAll()
    {
        List<ServerProcess> servers;
        lock (Running)
        {
            servers = [.. Running];
        }

        foreach (var server in servers)
        {
            try
            {
                // Null when starting it failed.
                if (server._process is { HasExited: false })
                {
                    server._process.Kill(entireProcessTree: true);
                }
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>Where the built gateway and upstream are: their own bin folders, same configuration as the bench.</summary>
public static class Artifacts
{
    public static string Configuration { get; } =
        typeof(Artifacts).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "BuildConfiguration")?.Value ?? "Release";

    public static string RepositoryRoot { get; } = FindRoot();

    public static string Gateway => Find("ClaudeStack.Gateway");

    public static string Upstream => Find("ClaudeStack.ScriptedUpstream");

    public static string Bench => typeof(Artifacts).Assembly.Location;

    private static string Find(string project)
    {
        var dll = Path.Combine(RepositoryRoot, project, "bin", Configuration, "net10.0", project + ".dll");
        return File.Exists(dll)
            ? dll
            : throw new FileNotFoundException($"{project}.dll not found for configuration {Configuration}; build with `dotnet build bench/ClaudeStack.Bench -c {Configuration}`.", dll);
    }

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "ClaudeStack.sln")))
            {
                return directory.FullName;
            }
        }

        throw new DirectoryNotFoundException("Run the bench from its build output inside the repository (ClaudeStack.sln not found above it).");
    }
}

/// <summary>Reads CPU time and memory of a process from /proc.</summary>
public static class ProcStats
{
    /// <summary>USER_HZ: 100 on every Linux architecture .NET runs on (x64, arm64, arm).</summary>
    private const double TicksPerSecond = 100.0;

    public static TimeSpan CpuTime(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        // The command name may contain spaces; fields after it start at field 3 (state).
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var utime = long.Parse(fields[11], CultureInfo.InvariantCulture);
        var stime = long.Parse(fields[12], CultureInfo.InvariantCulture);
        return TimeSpan.FromSeconds((utime + stime) / TicksPerSecond);
    }

    /// <summary>CPU time the whole machine spent busy (all cores, first line of /proc/stat minus idle and iowait).</summary>
    public static TimeSpan MachineBusy()
    {
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        long busy = 0;
        for (var i = 1; i < fields.Length && i <= 8; i++)
        {
            if (i is 4 or 5)
            {
                continue;
            }

            busy += long.Parse(fields[i], CultureInfo.InvariantCulture);
        }

        return TimeSpan.FromSeconds(busy / TicksPerSecond);
    }

    public static long Rss(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                var kb = line["VmRSS:".Length..].Trim().Split(' ')[0];
                return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
            }
        }

        return 0;
    }
}
