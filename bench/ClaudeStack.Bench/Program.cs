using ClaudeStack.Bench;

// Measures what the gateway adds on top of a direct connection to the same scripted upstream.
// Client (this process), gateway and upstream are separate processes on loopback; Linux only (/proc).
// The helpers the bench starts as processes of their own.
switch (args)
{
    case [OtlpSink.Option, var sinkUrl]:
        await OtlpSink.RunAsync(sinkUrl);
        return 0;
    case [TcpRelay.Option, var listenUrl, var targetUrl]:
        await TcpRelay.RunAsync(new Uri(listenUrl), new Uri(targetUrl));
        return 0;
}

BenchSettings settings;
try
{
    settings = BenchSettings.Parse(args);
}
catch (ArgumentException exception)
{
    Console.Error.WriteLine(exception.Message);
    return 2;
}

if (!OperatingSystem.IsLinux())
{
    Console.Error.WriteLine("The bench reads process CPU and memory from /proc and runs on Linux only.");
    return 2;
}

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};

// SIGTERM (kill, timeout) stops the run as Ctrl+C does, so the servers are stopped on the way out.
using var terminate = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    stop.Cancel();
});
AppDomain.CurrentDomain.ProcessExit += (_, _) => ServerProcess.KillAll();

var started = System.Diagnostics.Stopwatch.StartNew();
try
{
    var (header, rows) = await new BenchRun(settings, Console.Out).RunAsync(stop.Token);
    var table = Report.Markdown(rows, header);
    Console.WriteLine();
    Console.WriteLine(table);
    Console.WriteLine($"Wall time: {started.Elapsed.TotalSeconds:0.0} s");
    if (settings.Out is { } path)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        await File.WriteAllTextAsync(path, table);
    }

    return 0;
}
catch (Exception exception) when (exception is not OutOfMemoryException)
{
    Console.Error.WriteLine($"The bench failed to run: {exception}");
    return 1;
}
finally
{
    ServerProcess.KillAll();
}
