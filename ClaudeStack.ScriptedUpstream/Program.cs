using ClaudeStack.ScriptedUpstream;

// A stand-alone scripted model server for manual runs and the benchmark:
//   dotnet run --project ClaudeStack.ScriptedUpstream -- --url http://127.0.0.1:11434 --events 200 --event-interval-ms 5
var settings = UpstreamCommandLine.Parse(args);
await using var upstream = await ScriptedUpstream.StartAsync(settings.ToOptions(), CancellationToken.None);
Console.WriteLine($"Scripted upstream listening on {upstream.BaseAddress}");
Console.Out.Flush();

var stop = new TaskCompletionSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.TrySetResult();
};
AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.TrySetResult();
await stop.Task;
