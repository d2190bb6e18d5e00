using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Text;
using ClaudeStack.Gateway.Configuration;
using ClaudeStack.Gateway.Forwarding;

namespace ClaudeStack.Gateway.Tests.Logic;

public sealed class ReadAheadStreamTests
{
    [Fact]
    public async Task BytesThatHaveArrived_AreReceivedInOneCall_AndServedToSmallReads()
    {
        // HttpClient reads a plain-HTTP connection 4 KB at a time; each of those was a receive call of its own.
        await using var pair = await LoopbackPair.OpenAsync();
        var sent = Pattern(20_000);
        await pair.Server.SendAsync(sent);
        await pair.WaitUntilClientHoldsAsync(sent.Length);
        var counting = new CountingStream(new NetworkStream(pair.Client, ownsSocket: false));
        await using var stream = new ReadAheadStream(counting);

        var received = new List<byte>();
        var piece = new byte[4096];
        while (received.Count < sent.Length)
        {
            var read = await stream.ReadAsync(piece, TestContext.Current.CancellationToken);
            Assert.True(read > 0);
            received.AddRange(piece.AsSpan(0, read));
        }

        Assert.Equal(sent, received);
        Assert.Equal(1, counting.Reads);
    }

    [Fact]
    public async Task ZeroByteRead_AnswersAtOnceWhileBytesAreHeld_AndWaitsForTheConnectionOtherwise()
    {
        // HttpClient checks an idle pooled connection with a zero-byte read: it must end when data is there to read.
        await using var pair = await LoopbackPair.OpenAsync();
        await using var stream = new ReadAheadStream(new NetworkStream(pair.Client, ownsSocket: false));
        var ct = TestContext.Current.CancellationToken;

        var waiting = stream.ReadAsync(Memory<byte>.Empty, ct);
        Assert.False(waiting.IsCompleted);
        await pair.Server.SendAsync("abcdef"u8.ToArray());
        Assert.Equal(0, await waiting);

        var two = new byte[2];
        Assert.Equal(2, await stream.ReadAsync(two, ct));
        var held = stream.ReadAsync(Memory<byte>.Empty, ct);
        Assert.True(held.IsCompletedSuccessfully);
        Assert.Equal(0, await held);

        var rest = new byte[16];
        Assert.Equal(4, await stream.ReadAsync(rest, ct));
        Assert.Equal("cdef", Encoding.ASCII.GetString(rest, 0, 4));
    }

    [Fact]
    public async Task Writes_LeaveAtOnce_AndTheEndOfTheConnection_ReadsAsZero()
    {
        await using var pair = await LoopbackPair.OpenAsync();
        var ct = TestContext.Current.CancellationToken;
        await using (var stream = new ReadAheadStream(new NetworkStream(pair.Client, ownsSocket: true)))
        {
            // Nothing flushes HttpClient's request writes but HttpClient itself: a stream holding them back would hang.
            await stream.WriteAsync("GET / HTTP/1.1\r\n\r\n"u8.ToArray(), ct);
            var request = new byte[64];
            var got = await pair.Server.ReceiveAsync(request, ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), ct);
            Assert.Equal("GET / HTTP/1.1\r\n\r\n", Encoding.ASCII.GetString(request, 0, got));

            pair.Server.Shutdown(SocketShutdown.Send);
            Assert.Equal(0, await stream.ReadAsync(new byte[16], ct));
            Assert.Equal(0, stream.Read(new byte[16]));
        }

        // Disposing the stream closed the connection it wraps.
        Assert.Equal(0, await pair.Server.ReceiveAsync(new byte[16], ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), ct));
    }

    [Fact]
    public async Task TheForwardingHandler_ConnectsThroughIt()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var ct = TestContext.Current.CancellationToken;
        var endpoint = new UpstreamEndpoint(UpstreamProfile.Ollama, new Uri($"http://127.0.0.1:{port}"), null, "x");
        using var handler = UpstreamForwarder.CreateForwardingHandler(endpoint);
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint.BaseAddress);

        // SocketsHttpHandler builds the context itself; its constructor is not public.
        var context = (SocketsHttpConnectionContext)Activator.CreateInstance(
            typeof(SocketsHttpConnectionContext),
            BindingFlags.Instance | BindingFlags.NonPublic,
            binder: null,
            [new DnsEndPoint("127.0.0.1", port), request],
            culture: null)!;

        await using var connection = await handler.ConnectCallback!(context, ct);
        using var accepted = await listener.AcceptSocketAsync(ct);

        Assert.IsType<ReadAheadStream>(connection);
    }

    [Fact]
    public async Task HttpClient_ConnectsThroughIt_GetsEveryByte_AndReusesTheConnection()
    {
        // The forwarding handler's own connect: two chunked answers, larger than HttpClient's buffer and than one
        // receive, on one kept-alive connection (the second call passes HttpClient's check of an idle connection).
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var ct = TestContext.Current.CancellationToken;
        var body = Pattern(150_000);
        var accepted = 0;
        var server = Task.Run(async () =>
        {
            using var socket = await listener.AcceptSocketAsync(ct);
            Interlocked.Increment(ref accepted);
            var pending = new List<byte>();
            var buffer = new byte[4096];
            for (var answered = 0; answered < 2;)
            {
                var text = Encoding.ASCII.GetString(pending.ToArray());
                var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
                if (end < 0)
                {
                    var read = await socket.ReceiveAsync(buffer, ct);
                    if (read == 0)
                    {
                        return;
                    }

                    pending.AddRange(buffer.AsSpan(0, read));
                    continue;
                }

                pending.RemoveRange(0, end + 4);
                var answer = new List<byte>(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"));
                foreach (var chunk in body.Chunk(10_000))
                {
                    answer.AddRange(Encoding.ASCII.GetBytes($"{chunk.Length:x}\r\n"));
                    answer.AddRange(chunk);
                    answer.AddRange("\r\n"u8.ToArray());
                }

                answer.AddRange("0\r\n\r\n"u8.ToArray());
                await socket.SendAsync(answer.ToArray(), ct);
                answered++;
            }
        }, ct);

        var endpoint = new UpstreamEndpoint(UpstreamProfile.Ollama, new Uri($"http://127.0.0.1:{port}"), null, "x");
        var handler = UpstreamForwarder.CreateForwardingHandler(endpoint);
        using var client = new HttpClient(handler);
        for (var call = 0; call < 2; call++)
        {
            Assert.Equal(body, await client.GetByteArrayAsync($"http://127.0.0.1:{port}/", ct));
        }

        await server.WaitAsync(TimeSpan.FromSeconds(10), ct);
        Assert.Equal(1, accepted);
    }

    private static byte[] Pattern(int length) => Enumerable.Range(0, length).Select(i => (byte)(i * 7 % 251)).ToArray();

    private sealed class LoopbackPair : IAsyncDisposable
    {
        private LoopbackPair(Socket client, Socket server)
        {
            Client = client;
            Server = server;
        }

        public Socket Client { get; }

        public Socket Server { get; }

        public static async Task<LoopbackPair> OpenAsync()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await client.ConnectAsync(listener.LocalEndpoint);
            return new LoopbackPair(client, await listener.AcceptSocketAsync());
        }

        /// <summary>Waits until the kernel holds this many bytes for the client, so one receive can take them all.</summary>
        public async Task WaitUntilClientHoldsAsync(int count)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (Client.Available < count)
            {
                Assert.True(DateTime.UtcNow < deadline, $"only {Client.Available} of {count} bytes arrived");
                await Task.Delay(10);
            }
        }

        public ValueTask DisposeAsync()
        {
            Client.Dispose();
            Server.Dispose();
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>Counts the reads that reach the connection.</summary>
    private sealed class CountingStream(Stream inner) : Stream
    {
        public int Reads { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Reads++;
            return inner.ReadAsync(buffer, cancellationToken);
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            Reads++;
            return inner.Read(buffer, offset, count);
        }

        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);

        public override void Flush() => inner.Flush();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
