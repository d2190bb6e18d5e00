using ClaudeStack.ScriptedUpstream;

// A stand-alone scripted model server for manual runs and the benchmark:
//   dotnet run --project ClaudeStack.ScriptedUpstream -- --url http://127.0.0.1:11434 --events 200 --event-interval-ms 5
UpstreamCommandLine settings;
try
{
    settings = UpstreamCommandLine.Parse(args);
}
catch (ArgumentException exception)
{
    Console.Error.WriteLine(exception.Message);
    return 2;
}

await using var upstream = await ScriptedUpstream.StartAsync(settings.ToOptions(), CancellationToken.None);
Console.WriteLine($"Scripted upstream listening on {upstream.BaseAddress}");
Console.Out.Flush();

// The host stops on Ctrl+C and on SIGTERM (kill, docker stop); the process ends with it.
await upstream.WaitForShutdownAsync();
return 0;
