using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace ClaudeStack.Bench;

/// <summary>
/// A proxy that only copies bytes, run as a process of its own (the bench started with <see cref="Option"/>): the
/// floor under any relay's streaming figures on this machine. A third process on the path shares the same cores as
/// the client and the upstream, whatever it does with the bytes.
/// </summary>
public static class TcpRelay
{
    /// <summary>The bench's command line for a relay: <c>--tcp-relay LISTEN_URL TARGET_URL</c>.</summary>
    public const string Option = "--tcp-relay";

    /// <summary>Relays every connection to <paramref name="target"/> until SIGTERM.</summary>
    public static async Task RunAsync(Uri listen, Uri target)
    {
        using var stop = new CancellationTokenSource();
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            stop.Cancel();
        });
        using var listener = new TcpListener(IPAddress.Loopback, listen.Port);
        listener.Start();
        try
        {
            while (true)
            {
                _ = RelayAsync(await listener.AcceptTcpClientAsync(stop.Token), target, stop.Token);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Stopped.
        }
    }

    private static async Task RelayAsync(TcpClient client, Uri target, CancellationToken ct)
    {
        using (client)
        using (var upstream = new TcpClient())
        {
            client.NoDelay = true;
            upstream.NoDelay = true;
            try
            {
                await upstream.ConnectAsync(target.Host, target.Port, ct);
            }
            catch (Exception exception) when (exception is SocketException or OperationCanceledException)
            {
                return;
            }

            await Task.WhenAll(
                PumpAsync(client.GetStream(), upstream.GetStream(), upstream.Client, ct),
                PumpAsync(upstream.GetStream(), client.GetStream(), client.Client, ct));
        }
    }

    /// <summary>Copies one direction, then passes the end of it on; a broken one closes the other side as well.</summary>
    private static async Task PumpAsync(NetworkStream from, NetworkStream to, Socket toSocket, CancellationToken ct)
    {
        try
        {
            await from.CopyToAsync(to, 64 * 1024, ct);
            toSocket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception exception) when (exception is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The other side went away: closing this one ends the copy in the other direction too.
            toSocket.Dispose();
        }
    }
}
