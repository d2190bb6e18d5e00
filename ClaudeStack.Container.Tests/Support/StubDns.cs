using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ClaudeStack.Container.Tests.Support;

/// <summary>
/// A DNS server that resolves nothing: it records each query's name and answers REFUSED, over UDP and TCP.
/// A container whose resolv.conf points here shows every name it tries to look up.
/// </summary>
public sealed class StubDns : IAsyncDisposable
{
    private readonly UdpClient udp;
    private readonly TcpListener tcp;
    private readonly CancellationTokenSource stop = new();
    private readonly ConcurrentQueue<string> queries = new();
    private readonly Task udpLoop;
    private readonly Task tcpLoop;

    public StubDns(IPAddress address, int port = 53)
    {
        udp = new UdpClient(new IPEndPoint(address, port));
        tcp = new TcpListener(address, port);
        tcp.Start();
        udpLoop = Task.Run(ServeUdpAsync);
        tcpLoop = Task.Run(ServeTcpAsync);
    }

    /// <summary>Query names received, e.g. "statsig.anthropic.com (udp)".</summary>
    public IReadOnlyList<string> Queries => [.. queries];

    private async Task ServeUdpAsync()
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                var received = await udp.ReceiveAsync(stop.Token);
                queries.Enqueue(QueryName(received.Buffer) + " (udp)");
                var reply = Refused(received.Buffer);
                if (reply is not null)
                {
                    await udp.SendAsync(reply, received.RemoteEndPoint, stop.Token);
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (SocketException)
            {
                // A client went away; keep serving.
            }
        }
    }

    private async Task ServeTcpAsync()
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                using var client = await tcp.AcceptTcpClientAsync(stop.Token);
                var stream = client.GetStream();
                var length = new byte[2];
                using var readTimeout = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
                readTimeout.CancelAfter(TimeSpan.FromSeconds(5));
                await stream.ReadExactlyAsync(length, readTimeout.Token);
                var message = new byte[(length[0] << 8) | length[1]];
                await stream.ReadExactlyAsync(message, readTimeout.Token);
                queries.Enqueue(QueryName(message) + " (tcp)");
                var reply = Refused(message);
                if (reply is not null)
                {
                    await stream.WriteAsync(new[] { (byte)(reply.Length >> 8), (byte)reply.Length }, stop.Token);
                    await stream.WriteAsync(reply, stop.Token);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or IOException or EndOfStreamException)
            {
                // A broken client; keep serving.
            }
        }
    }

    /// <summary>The query echoed back with QR=1 and RCODE=5 (REFUSED).</summary>
    private static byte[]? Refused(byte[] query)
    {
        if (query.Length < 12)
        {
            return null;
        }

        var reply = (byte[])query.Clone();
        reply[2] = (byte)(0x80 | (query[2] & 0x79)); // QR, opcode, RD kept
        reply[3] = 0x05;
        return reply;
    }

    private static string QueryName(byte[] message)
    {
        var name = new StringBuilder();
        var i = 12;
        while (i < message.Length && message[i] != 0 && (message[i] & 0xC0) == 0)
        {
            int length = message[i];
            if (i + 1 + length > message.Length)
            {
                break;
            }

            name.Append(Encoding.ASCII.GetString(message, i + 1, length)).Append('.');
            i += 1 + length;
        }

        return name.Length == 0 ? "(unparsed)" : name.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        udp.Dispose();
        tcp.Stop();
        await Task.WhenAny(Task.WhenAll(udpLoop, tcpLoop), Task.Delay(TimeSpan.FromSeconds(5)));
        stop.Dispose();
    }
}
