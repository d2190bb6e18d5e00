using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using ClaudeStack.Gateway.Tests.Support;
using ClaudeStack.ScriptedUpstream;

namespace ClaudeStack.Gateway.Tests;

/// <summary>
/// The scripted upstream the benchmark and manual runs start: its command line, its process lifetime, and what it
/// records of a client that hangs up.
/// </summary>
public sealed class ScriptedUpstreamProcessTests
{
    [Fact]
    public void CommandLine_ReadsEveryOption()
    {
        var settings = UpstreamCommandLine.Parse(
            ["--url", "http://127.0.0.1:5601", "--events", "200", "--event-bytes", "32", "--event-interval-ms", "5", "--first-event-delay-ms", "40", "--ollama", "true"]);

        Assert.Equal(
            new UpstreamCommandLine { Url = "http://127.0.0.1:5601", Events = 200, EventBytes = 32, EventIntervalMs = 5, FirstEventDelayMs = 40, Ollama = true },
            settings);
    }

    [Theory]
    [InlineData("Option --events needs a value.", "--events")]
    [InlineData("Option --events takes a whole number of zero or more, not 'x1'.", "--events", "x1")]
    [InlineData("Option --event-interval-ms takes a whole number of zero or more, not '-5'.", "--event-interval-ms", "-5")]
    [InlineData("Option --ollama takes true or false, not 'yes'.", "--ollama", "yes")]
    [InlineData("Unknown option --port. Options: --url, --events, --event-bytes, --event-interval-ms, --first-event-delay-ms, --ollama true|false.", "--port", "1")]
    public void CommandLine_BadOption_SaysWhatIsWrong(string message, params string[] args)
    {
        var error = Assert.Throws<ArgumentException>(() => UpstreamCommandLine.Parse(args));

        Assert.Equal(message, error.Message);
    }

    [Fact]
    public async Task BadOption_ExitsWithUsageErrorAndNoStackTrace()
    {
        using var process = Start("--events", "many");

        var stderr = await process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);

        Assert.Equal(2, process.ExitCode);
        Assert.Equal("Option --events takes a whole number of zero or more, not 'many'.", stderr.Trim());
    }

    [Fact]
    public async Task Sigterm_StopsTheServerAndEndsTheProcess()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS(), "SIGTERM is a POSIX signal.");
        using var process = Start("--url", "http://127.0.0.1:0");
        try
        {
            var banner = await process.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken);
            Assert.StartsWith("Scripted upstream listening on http://127.0.0.1:", banner, StringComparison.Ordinal);

            // Before, the server stopped listening but the process stayed.
            DotnetProcess.Terminate(process);

            await DotnetProcess.WaitForExitAsync(process, TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
            Assert.Equal(0, process.ExitCode);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    [Fact]
    public async Task CommandLineUpstream_RendersAnAnswerOncePerModel()
    {
        // The benchmark's upstream: rendering a long stream per call cost more than sending it, and showed up in both
        // sides of the streaming figures. The answer still names the model it was asked for.
        var ct = TestContext.Current.CancellationToken;
        var options = UpstreamCommandLine.Parse(["--url", "http://127.0.0.1:0", "--events", "3", "--event-bytes", "4"]).ToOptions();
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(options, ct);
        using var client = new HttpClient { BaseAddress = upstream.BaseAddress };
        async Task<string> AskAsync(string model, bool stream)
        {
            using var content = new StringContent($$"""{"model":"{{model}}","max_tokens":8,"stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json");
            using var response = await client.PostAsync("/v1/messages", content, ct);
            return await response.Content.ReadAsStringAsync(ct);
        }

        var first = await AskAsync("model-a", stream: true);
        var again = await AskAsync("model-a", stream: true);
        var other = await AskAsync("model-b", stream: true);

        Assert.Equal(first, again);
        Assert.Equal(3, first.Split("event: content_block_delta").Length - 1);
        Assert.Contains("\"model\":\"model-a\"", first, StringComparison.Ordinal);
        Assert.Contains("\"model\":\"model-b\"", other, StringComparison.Ordinal);
        Assert.Equal(await AskAsync("model-a", stream: false), await AskAsync("model-a", stream: false));
    }

    [Fact]
    public async Task ClientHangingUp_IsAlwaysRecordedAsAnAbort()
    {
        // The benchmark's cancellation figure and the gateway's cancellation tests read AbortedAt. A script waiting
        // between tokens on the request's token could resume on the cancelling thread and drop the abort callback
        // before it ran: about one hang-up in a hundred went unrecorded. Hundreds of hang-ups in a row catch that.
        var ct = TestContext.Current.CancellationToken;
        var pieces = Enumerable.Repeat("token ", 1000).ToArray();
        await using var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(
            _ => ScriptedReply.Message(new ScriptedMessage { Blocks = [new ScriptedText(pieces)] }, eventInterval: TimeSpan.FromMilliseconds(10)),
            ct);
        var body = "{\"model\":\"m\",\"max_tokens\":8,\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"u8.ToArray();
        var request = Encoding.ASCII.GetBytes($"POST /v1/messages HTTP/1.1\r\nHost: {upstream.BaseAddress.Authority}\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n");

        for (var i = 0; i < 300; i++)
        {
            using (var socket = new Socket(SocketType.Stream, ProtocolType.Tcp))
            {
                await socket.ConnectAsync(upstream.BaseAddress.Host, upstream.BaseAddress.Port, ct);
                await socket.SendAsync((byte[])[.. request, .. body], ct);
                var received = new byte[4096];
                var text = new StringBuilder();
                while (!text.ToString().Contains("content_block_delta", StringComparison.Ordinal))
                {
                    var read = await socket.ReceiveAsync(received, ct);
                    Assert.True(read > 0, "the upstream closed the stream");
                    text.Append(Encoding.ASCII.GetString(received, 0, read));
                }
            }

            var recorded = upstream.MessageRequests[i];
            var waited = Stopwatch.StartNew();
            while (!recorded.Aborted && waited.Elapsed < TimeSpan.FromSeconds(5))
            {
                await Task.Delay(5, ct);
            }

            Assert.True(recorded.Aborted, $"hang-up {i + 1} was not recorded as an abort");
            Assert.NotNull(recorded.AbortedAt);
        }
    }

    private static Process Start(params string[] args) => DotnetProcess.Start("ClaudeStack.ScriptedUpstream.dll", args);
}
