using System.Diagnostics;
using System.Text;

namespace ClaudeStack.Container.Tests.Support;

/// <summary>The outcome of one finished process.</summary>
public sealed record ProcessResult(string Command, int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed)
{
    public string Describe() =>
        $"`{Command}` exited with {ExitCode} after {Elapsed.TotalSeconds:F1}s\n--- stdout ---\n{Tail(Stdout)}\n--- stderr ---\n{Tail(Stderr)}";

    public ProcessResult EnsureSuccess() =>
        ExitCode == 0 ? this : throw new InvalidOperationException(Describe());

    private static string Tail(string text) => text.Length <= 6000 ? text : "…" + text[^6000..];
}

/// <summary>Runs a command with a hard time limit; stdin is closed at once (nothing waits for input).</summary>
public static class ProcessRunner
{
    public static async Task<ProcessResult> RunAsync(
        string fileName,
        IEnumerable<string> arguments,
        TimeSpan timeout,
        CancellationToken cancellationToken,
        IReadOnlyDictionary<string, string?>? environment = null,
        string? workingDirectory = null)
    {
        var startInfo = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                startInfo.Environment.Remove(name);
            }
            else
            {
                startInfo.Environment[name] = value;
            }
        }

        var command = fileName + " " + string.Join(' ', startInfo.ArgumentList.Select(Quote));
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        var stopwatch = Stopwatch.StartNew();
        using var process = new Process { StartInfo = startInfo };
        process.OutputDataReceived += (_, e) => Append(stdout, e.Data);
        process.ErrorDataReceived += (_, e) => Append(stderr, e.Data);
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }

            cancellationToken.ThrowIfCancellationRequested();
            throw new TimeoutException($"`{command}` did not finish within {timeout.TotalSeconds:F0}s.\n--- stdout ---\n{Snapshot(stdout)}\n--- stderr ---\n{Snapshot(stderr)}");
        }

        // Let the asynchronous readers drain (bounded: WaitForExit without a timeout waits for EOF on both pipes).
        process.WaitForExit(TimeSpan.FromSeconds(10));
        return new ProcessResult(command, process.ExitCode, Snapshot(stdout), Snapshot(stderr), stopwatch.Elapsed);
    }

    public static Task<ProcessResult> DockerAsync(TimeSpan timeout, CancellationToken cancellationToken, params string[] arguments) =>
        RunAsync("docker", arguments, timeout, cancellationToken);

    private static void Append(StringBuilder builder, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (builder)
        {
            builder.Append(line).Append('\n');
        }
    }

    private static string Snapshot(StringBuilder builder)
    {
        lock (builder)
        {
            return builder.ToString();
        }
    }

    private static string Quote(string argument) =>
        argument.Length > 0 && argument.All(c => char.IsLetterOrDigit(c) || "-_./:=@,+%".Contains(c)) ? argument : "'" + argument.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
