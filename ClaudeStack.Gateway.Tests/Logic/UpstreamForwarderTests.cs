using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using ClaudeStack.Gateway.Configuration;
using ClaudeStack.Gateway.Forwarding;
using ClaudeStack.Gateway.Telemetry;
using Microsoft.AspNetCore.Http;

namespace ClaudeStack.Gateway.Tests.Logic;

/// <summary>
/// The forwarder against a raw HTTP/1.1 upstream that closes connections when told to. Servers with a keep-alive
/// timeout (uvicorn's 5 s in front of vLLM or LiteLLM, llama.cpp's server) close an idle connection on their own; a
/// call sent at that moment finds it closed. Ollama v0.32.15 sets no timeout on its <c>http.Server</c>.
/// </summary>
public sealed class UpstreamForwarderTests
{
    private static readonly byte[] Body = """{"model":"m","max_tokens":1,"messages":[]}"""u8.ToArray();

    [Theory]
    [InlineData(Closing.Gracefully)]
    [InlineData(Closing.WithReset)]
    public async Task PooledConnection_ClosedAsTheCallIsSent_IsSentAgainOnANewConnection(Closing closing)
    {
        // The server takes the second call and closes without answering, as an idle-timeout close crossing the call.
        await using var upstream = RawUpstream.Start((connection, call) => connection == 0 && call == 1 ? closing : Closing.No);
        var forwarder = upstream.Forwarder();

        Assert.Equal(HttpStatusCode.OK, await SendAsync(forwarder, traced: null));
        using var span = new Activity("chat").Start();
        Assert.Equal(HttpStatusCode.OK, await SendAsync(forwarder, span));

        Assert.Equal(3, upstream.Calls);
        Assert.Equal(2, upstream.Connections);
        Assert.Equal(1, span.GetTagItem(TelemetryNames.Attributes.HttpRequestResendCount));
    }

    [Fact]
    public async Task ConnectionOpenedForTheCall_ClosedWithoutAnswer_IsNotSentAgain()
    {
        // Nothing raced here: the server took the call on a new connection and dropped it, as a crash does.
        await using var upstream = RawUpstream.Start((_, _) => Closing.Gracefully);
        var forwarder = upstream.Forwarder();

        var result = await forwarder.SendAsync(HttpMethod.Post, "/v1/messages", null, new HeaderDictionary(), Body, TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);

        Assert.Equal(ForwardFailure.Unreachable, result.Failure);
        Assert.Equal($"upstream 127.0.0.1:{upstream.Port} closed the connection without answering", result.Message);
        Assert.Equal(1, upstream.Calls);
    }

    [Fact]
    public async Task SentAgain_AndClosedAgain_IsNotSentAThirdTime()
    {
        await using var upstream = RawUpstream.Start((connection, call) => connection == 0 && call == 0 ? Closing.No : Closing.Gracefully);
        var forwarder = upstream.Forwarder();
        Assert.Equal(HttpStatusCode.OK, await SendAsync(forwarder, traced: null));

        var result = await forwarder.SendAsync(HttpMethod.Post, "/v1/messages", null, new HeaderDictionary(), Body, TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);

        Assert.Equal(ForwardFailure.Unreachable, result.Failure);
        Assert.Equal(3, upstream.Calls);
    }

    private static async Task<HttpStatusCode> SendAsync(UpstreamForwarder forwarder, Activity? traced)
    {
        var result = await forwarder.SendAsync(HttpMethod.Post, "/v1/messages", null, new HeaderDictionary(), Body, TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.True(result.Response is not null, result.Message);
        using var response = result.Response;
        Assert.Equal("{}", await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Same(traced, Activity.Current);
        return response.StatusCode;
    }

    public enum Closing
    {
        /// <summary>Answer and keep the connection.</summary>
        No,

        /// <summary>Read the call, then close with FIN: the client reads the end of the connection.</summary>
        Gracefully,

        /// <summary>Read the call, then close with RST: the client's read fails with a reset.</summary>
        WithReset,
    }

    /// <summary>An HTTP/1.1 server that answers <c>{}</c> to each call, or closes as the script says.</summary>
    private sealed class RawUpstream : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly Func<int, int, Closing> _script;
        private readonly CancellationTokenSource _stopping = new();
        private readonly List<Task> _served = [];
        private int _calls;
        private int _connections;

        private RawUpstream(Func<int, int, Closing> script) => _script = script;

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public int Calls => Volatile.Read(ref _calls);

        public int Connections => Volatile.Read(ref _connections);

        /// <summary>The script is asked, for each call, by connection number and call number on that connection.</summary>
        public static RawUpstream Start(Func<int, int, Closing> script)
        {
            var upstream = new RawUpstream(script);
            upstream._listener.Start();
            upstream._served.Add(upstream.AcceptAsync());
            return upstream;
        }

        public UpstreamForwarder Forwarder()
        {
            var endpoint = new UpstreamEndpoint(UpstreamProfile.AnthropicCompatible, new Uri($"http://127.0.0.1:{Port}"), null, "x");
            return new UpstreamForwarder(new HttpClient(UpstreamForwarder.CreateForwardingHandler(endpoint)), endpoint, new SecretRedactor([]));
        }

        private async Task AcceptAsync()
        {
            try
            {
                while (true)
                {
                    var socket = await _listener.AcceptSocketAsync(_stopping.Token);
                    var connection = Interlocked.Increment(ref _connections) - 1;
                    lock (_served)
                    {
                        _served.Add(ServeAsync(socket, connection));
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        }

        private async Task ServeAsync(Socket socket, int connection)
        {
            using var _ = socket;
            var pending = new List<byte>();
            var buffer = new byte[4096];
            for (var call = 0; ; call++)
            {
                // A call is its headers and a Content-Length body.
                int headersEnd;
                while ((headersEnd = Encoding.ASCII.GetString([.. pending]).IndexOf("\r\n\r\n", StringComparison.Ordinal)) < 0 || pending.Count < headersEnd + 4 + Body.Length)
                {
                    var read = await socket.ReceiveAsync(buffer, _stopping.Token);
                    if (read == 0)
                    {
                        return;
                    }

                    pending.AddRange(buffer.AsSpan(0, read));
                }

                pending.RemoveRange(0, headersEnd + 4 + Body.Length);
                Interlocked.Increment(ref _calls);
                switch (_script(connection, call))
                {
                    case Closing.Gracefully:
                        socket.Shutdown(SocketShutdown.Both);
                        return;
                    case Closing.WithReset:
                        socket.LingerState = new LingerOption(true, 0);
                        return;
                }

                await socket.SendAsync("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"u8.ToArray(), _stopping.Token);
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stopping.CancelAsync();
            _listener.Stop();
            Task[] served;
            lock (_served)
            {
                served = [.. _served];
            }

            await Task.WhenAll(served).ContinueWith(_ => { }, TaskScheduler.Default);
            _stopping.Dispose();
        }
    }
}
