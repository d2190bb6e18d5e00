using System.Net.Sockets;

namespace ClaudeStack.Gateway.Forwarding;

/// <summary>
/// An upstream connection that receives in large pieces. HttpClient reads a plain-HTTP connection through a 4 KB
/// buffer, so a fast stream costs one receive call per 4 KB; here one call takes whatever has arrived, up to
/// <see cref="ReceiveSize"/>, and HttpClient's reads are served from memory. Writes pass straight through.
/// </summary>
public sealed class ReadAheadStream(Stream connection) : Stream
{
    /// <summary>The most one receive call takes.</summary>
    public const int ReceiveSize = 64 * 1024;

    private readonly byte[] _received = new byte[ReceiveSize];
    private int _start;
    private int _end;

    /// <summary>
    /// Connects as SocketsHttpHandler does by default (every address of the name in turn, no Nagle delay) and
    /// returns the connection wrapped.
    /// </summary>
    public static async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
            return new ReadAheadStream(new NetworkStream(socket, ownsSocket: true));
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public override bool CanRead => true;

    public override bool CanWrite => connection.CanWrite;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (_start < _end)
        {
            return Take(buffer);
        }

        if (buffer.IsEmpty)
        {
            return connection.Read(buffer);
        }

        _start = 0;
        _end = 0;
        _end = connection.Read(_received);
        return Take(buffer);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_start < _end)
        {
            return new ValueTask<int>(Take(buffer.Span));
        }

        // A zero-byte read waits for data without holding a buffer; it is passed on as it is.
        return buffer.IsEmpty ? connection.ReadAsync(buffer, cancellationToken) : ReceiveAsync(buffer, cancellationToken);
    }

    private async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        _start = 0;
        _end = 0;
        _end = await connection.ReadAsync(_received, cancellationToken);
        return Take(buffer.Span);
    }

    private int Take(Span<byte> buffer)
    {
        var count = Math.Min(buffer.Length, _end - _start);
        _received.AsSpan(_start, count).CopyTo(buffer);
        _start += count;
        return count;
    }

    public override void Write(byte[] buffer, int offset, int count) => connection.Write(buffer, offset, count);

    public override void Write(ReadOnlySpan<byte> buffer) => connection.Write(buffer);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        connection.WriteAsync(buffer, offset, count, cancellationToken);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        connection.WriteAsync(buffer, cancellationToken);

    public override void Flush() => connection.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => connection.FlushAsync(cancellationToken);

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            connection.Dispose();
        }

        base.Dispose(disposing);
    }

    public override ValueTask DisposeAsync() => connection.DisposeAsync();
}
