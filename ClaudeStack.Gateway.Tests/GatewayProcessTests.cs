using System.Net.Http.Headers;
using System.Text;
using ClaudeStack.Gateway.Tests.Support;
using ClaudeStack.ScriptedUpstream;

namespace ClaudeStack.Gateway.Tests;

/// <summary>The gateway as its own process: how it starts, refuses to start, and stops.</summary>
public sealed class GatewayProcessTests
{
    private const string Gateway = "ClaudeStack.Gateway.dll";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task BadSetting_EndsWithExitCode1AndOneMessage()
    {
        using var process = DotnetProcess.Start(Gateway, ["--Gateway:Upstream:Profile=vllm", "--Gateway:Upstream:Url=http://127.0.0.1:9"]);

        var stderr = process.StandardError.ReadToEndAsync(Ct);
        await DotnetProcess.WaitForExitAsync(process, TimeSpan.FromSeconds(60), Ct);

        // Before, an unhandled exception: exit code 134 (abort, which may dump core) and a stack trace.
        Assert.Equal(1, process.ExitCode);
        Assert.StartsWith("ClaudeStack.Gateway cannot start: ", await stderr, StringComparison.Ordinal);
        Assert.Contains("Gateway:Upstream:Profile is 'vllm'", await stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", await stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sigterm_WithACallInFlightAndTelemetryOn_EndsCleanly()
    {
        // The call never ends, so draining it uses up the whole shutdown timeout.
        var (exitCode, stderr, spans) = await StopWithACallInFlightAsync(shutdownTimeoutSeconds: "1", killAfter: TimeSpan.FromSeconds(60));

        // Before, the flush after shutdown waited on the host's spent token: "Unhandled exception.
        // System.Threading.Tasks.TaskCanceledException" and exit code 134.
        Assert.DoesNotContain("Unhandled exception", stderr, StringComparison.Ordinal);
        Assert.Equal(0, exitCode);

        // The flush ran: the call cut short by the shutdown was still exported.
        Assert.Contains(spans, span => span.Name == "chat llama3.1:8b");
    }

    [Fact]
    public async Task DockerStop_WithACallInFlight_EndsAndFlushesWithinItsGracePeriod()
    {
        // What docker stop does with the gateway's container: SIGTERM, then SIGKILL 10 s later. The host's default
        // 30 s wait for the open call was cut off by the kill, and the call's span with it.
        var (exitCode, _, spans) = await StopWithACallInFlightAsync(shutdownTimeoutSeconds: null, killAfter: TimeSpan.FromSeconds(10));

        Assert.Equal(0, exitCode);
        Assert.Contains(spans, span => span.Name == "chat llama3.1:8b");
    }

    /// <summary>
    /// Starts the gateway exporting telemetry, leaves a streamed call waiting on an upstream that never answers, sends
    /// SIGTERM and kills the gateway if it has not ended after <paramref name="killAfter"/>.
    /// </summary>
    private static async Task<(int ExitCode, string Stderr, IReadOnlyList<OtlpSpan> Spans)> StopWithACallInFlightAsync(string? shutdownTimeoutSeconds, TimeSpan killAfter)
    {
        Assert.SkipUnless(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS(), "SIGTERM is a POSIX signal.");
        await using var receiver = await OtlpReceiver.StartAsync(Ct);
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(_ => ScriptedReply.Hang(), Ct);
        var environment = new Dictionary<string, string?>(receiver.ExporterSettings("claudestack-gateway-process"))
        {
            ["Gateway__Upstream__Profile"] = "anthropic-compatible",
            ["Gateway__Upstream__Url"] = upstream.BaseAddress.ToString(),
            ["Gateway__StackToken"] = GatewayHost.StackToken,
            ["ASPNETCORE_URLS"] = "http://127.0.0.1:0",
            ["Logging__LogLevel__Default"] = "Information",
            ["shutdownTimeoutSeconds"] = shutdownTimeoutSeconds,
        };
        using var process = DotnetProcess.Start(Gateway, [], environment);
        var stderr = process.StandardError.ReadToEndAsync(Ct);
        try
        {
            var address = await ListeningAddressAsync(process);
            using var client = new HttpClient { BaseAddress = address };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", GatewayHost.StackToken);
            using var content = new StringContent("""{"model":"llama3.1:8b","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json");
            var call = client.PostAsync("/v1/messages", content, Ct);
            await WaitUntilAsync(() => upstream.MessageRequests.Count > 0);

            DotnetProcess.Terminate(process);
            try
            {
                await DotnetProcess.WaitForExitAsync(process, killAfter, Ct);
            }
            catch (OperationCanceledException) when (!Ct.IsCancellationRequested)
            {
                // Killed, as docker would: the exit code tells.
                await process.WaitForExitAsync(Ct);
            }

            await Assert.ThrowsAnyAsync<Exception>(() => call);
            return (process.ExitCode, await stderr, receiver.Spans);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    /// <summary>The address from Kestrel's "Now listening on:" log line.</summary>
    private static async Task<Uri> ListeningAddressAsync(System.Diagnostics.Process process)
    {
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        bound.CancelAfter(TimeSpan.FromSeconds(60));
        const string marker = "Now listening on: ";
        while (await process.StandardOutput.ReadLineAsync(bound.Token) is { } line)
        {
            var at = line.IndexOf(marker, StringComparison.Ordinal);
            if (at >= 0)
            {
                // Keep reading in the background, so a full pipe never blocks the gateway's logging.
                _ = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
                return new Uri(line[(at + marker.Length)..].Trim());
            }
        }

        throw new InvalidOperationException("The gateway ended before it listened.");
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var limit = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < limit, "timed out waiting");
            await Task.Delay(20, Ct);
        }
    }
}
