using System.Diagnostics;
using System.Runtime.InteropServices;

namespace ClaudeStack.Gateway.Tests.Support;

/// <summary>One of the solution's programs run as its own process, as users and the benchmark run it.</summary>
public static class DotnetProcess
{
    private const int SigTerm = 15;

    /// <summary>Environment the gateway and the scripted upstream read their settings from.</summary>
    private static readonly string[] BehaviourPrefixes = ["OTEL_", "Gateway__", "ConnectionStrings__", "OLLAMA_", "ASPNETCORE_", "Logging__"];

    /// <param name="assembly">The program's dll, next to the tests (referenced projects are copied there).</param>
    public static Process Start(string assembly, IEnumerable<string> args, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, assembly));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        // Nothing inherited from the test run's own environment may change what the program does.
        foreach (var name in start.Environment.Keys.Where(IsBehaviourSetting).ToList())
        {
            start.Environment.Remove(name);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            start.Environment[name] = value;
        }

        return Process.Start(start) ?? throw new InvalidOperationException($"Could not start {assembly}.");
    }

    private static bool IsBehaviourSetting(string name) =>
        BehaviourPrefixes.Any(prefix => name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
        || name.Equals("HTTP_PROXY", StringComparison.OrdinalIgnoreCase) || name.Equals("HTTPS_PROXY", StringComparison.OrdinalIgnoreCase);

    /// <summary>Sends SIGTERM, what <c>kill</c>, <c>docker stop</c> and <c>timeout</c> send (.NET itself can only kill).</summary>
    public static void Terminate(Process process)
    {
        if (Kill(process.Id, SigTerm) != 0)
        {
            throw new InvalidOperationException($"kill -TERM {process.Id} failed: errno {Marshal.GetLastPInvokeError()}.");
        }
    }

    /// <summary>Waits for the process to end; kills it if it does not within <paramref name="limit"/>.</summary>
    public static async Task WaitForExitAsync(Process process, TimeSpan limit, CancellationToken cancellationToken)
    {
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(limit);
        try
        {
            await process.WaitForExitAsync(bound.Token);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
