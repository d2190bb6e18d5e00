using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ClaudeStack.Bench;

/// <summary>Sees the body of a response as it arrives; returns false to stop reading (and drop the connection).</summary>
public interface IBodyObserver
{
    bool OnBody(ReadOnlySpan<byte> data);
}

public readonly record struct RawResponse(int Status, long BodyBytes, bool Completed);

/// <summary>
/// A minimal keep-alive HTTP/1.1 client on a raw socket. The same client talks to the upstream and to the gateway,
/// and costs far less CPU than HttpClient, so the figures show the servers rather than the client.
/// Handles Content-Length and chunked bodies, which is all the two servers send.
/// </summary>
public sealed class RawHttpConnection : IDisposable
{
    private readonly Socket _socket;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    private RawHttpConnection(Socket socket) => _socket = socket;

    public bool IsOpen { get; private set; } = true;

    public static async Task<RawHttpConnection> ConnectAsync(Uri server, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, server.Port), cancellationToken);
        return new RawHttpConnection(socket);
    }

    /// <summary>Sends one request (already serialized) and reads the response, body passed to the observer.</summary>
    public async Task<RawResponse> SendAsync(ReadOnlyMemory<byte> request, IBodyObserver? observer, CancellationToken cancellationToken)
    {
        _start = _end = 0;
        while (!request.IsEmpty)
        {
            var sent = await _socket.SendAsync(request, SocketFlags.None, cancellationToken);
            request = request[sent..];
        }

        var statusLine = await ReadLineAsync(cancellationToken);
        if (statusLine.Length < 12 || !statusLine.StartsWith("HTTP/1.1 ", StringComparison.Ordinal))
        {
            throw new InvalidDataException($"Unexpected status line '{statusLine}'.");
        }

        var status = int.Parse(statusLine.AsSpan(9, 3), provider: System.Globalization.CultureInfo.InvariantCulture);
        long contentLength = -1;
        var chunked = false;
        var close = false;
        while (true)
        {
            var line = await ReadLineAsync(cancellationToken);
            if (line.Length == 0)
            {
                break;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                continue;
            }

            var name = line.AsSpan(0, colon).Trim();
            var value = line.AsSpan(colon + 1).Trim();
            if (name.Equals("content-length", StringComparison.OrdinalIgnoreCase))
            {
                contentLength = long.Parse(value, provider: System.Globalization.CultureInfo.InvariantCulture);
            }
            else if (name.Equals("transfer-encoding", StringComparison.OrdinalIgnoreCase) && value.Contains("chunked", StringComparison.OrdinalIgnoreCase))
            {
                chunked = true;
            }
            else if (name.Equals("connection", StringComparison.OrdinalIgnoreCase) && value.Equals("close", StringComparison.OrdinalIgnoreCase))
            {
                close = true;
            }
        }

        long total = 0;
        var completed = true;
        if (chunked)
        {
            while (true)
            {
                var sizeLine = await ReadLineAsync(cancellationToken);
                var semicolon = sizeLine.IndexOf(';', StringComparison.Ordinal);
                var hex = semicolon >= 0 ? sizeLine[..semicolon] : sizeLine;
                var size = long.Parse(hex.Trim(), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture);
                if (size == 0)
                {
                    while ((await ReadLineAsync(cancellationToken)).Length > 0)
                    {
                        // Trailers: none expected.
                    }

                    break;
                }

                if (!await ReadBodyAsync(size, observer, cancellationToken))
                {
                    completed = false;
                    break;
                }

                total += size;
                _ = await ReadLineAsync(cancellationToken);
            }
        }
        else if (contentLength >= 0)
        {
            completed = await ReadBodyAsync(contentLength, observer, cancellationToken);
            total = contentLength;
        }
        else
        {
            throw new InvalidDataException("Response without Content-Length or chunked encoding.");
        }

        if (!completed || close || _end > _start)
        {
            Close();
        }

        return new RawResponse(status, total, completed);
    }

    /// <summary>Drops the connection (a FIN, as a client that quits or is interrupted sends).</summary>
    public void Close()
    {
        if (!IsOpen)
        {
            return;
        }

        IsOpen = false;
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // Already reset.
        }

        _socket.Close();
    }

    public void Dispose() => Close();

    private async Task<bool> ReadBodyAsync(long length, IBodyObserver? observer, CancellationToken cancellationToken)
    {
        while (length > 0)
        {
            if (_end == _start && !await FillAsync(cancellationToken))
            {
                throw new IOException("Connection closed in the middle of a body.");
            }

            var take = (int)Math.Min(length, _end - _start);
            var keepGoing = observer?.OnBody(_buffer.AsSpan(_start, take)) ?? true;
            _start += take;
            length -= take;
            if (!keepGoing)
            {
                return false;
            }
        }

        return true;
    }

    private async Task<string> ReadLineAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var index = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n"u8);
            if (index >= 0)
            {
                var line = Encoding.ASCII.GetString(_buffer, _start, index);
                _start += index + 2;
                return line;
            }

            if (!await FillAsync(cancellationToken))
            {
                throw new IOException("Connection closed while reading a line.");
            }
        }
    }

    private async Task<bool> FillAsync(CancellationToken cancellationToken)
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            throw new InvalidDataException("Header line longer than the read buffer.");
        }

        var read = await _socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cancellationToken);
        _end += read;
        return read > 0;
    }

    /// <summary>Serializes a POST with the headers Claude Code sends.</summary>
    public static byte[] Post(Uri server, string path, byte[] body)
    {
        var head = new StringBuilder()
            .Append("POST ").Append(path).Append(" HTTP/1.1\r\n")
            .Append("Host: 127.0.0.1:").Append(server.Port).Append("\r\n")
            .Append("Accept: application/json\r\n")
            .Append("Content-Type: application/json\r\n")
            .Append("Authorization: Bearer ").Append(Workload.StackToken).Append("\r\n")
            .Append("anthropic-version: 2023-06-01\r\n")
            .Append("anthropic-beta: claude-code-20250219,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14\r\n")
            .Append("anthropic-dangerous-direct-browser-access: true\r\n")
            .Append("User-Agent: claude-cli/2.0.0 (external, cli)\r\n")
            .Append("x-app: cli\r\n")
            .Append("x-stainless-lang: js\r\n")
            .Append("x-stainless-package-version: 0.60.0\r\n")
            .Append("x-stainless-os: Linux\r\n")
            .Append("x-stainless-arch: x64\r\n")
            .Append("x-stainless-runtime: node\r\n")
            .Append("x-stainless-runtime-version: v22.11.0\r\n")
            .Append("x-stainless-retry-count: 0\r\n")
            .Append("x-stainless-timeout: 600\r\n")
            .Append("x-claude-code-session-id: 6f1c1f9e-0c5e-4d55-9b7e-2f5f3f6f2b11\r\n")
            .Append("Content-Length: ").Append(body.Length).Append("\r\n\r\n")
            .ToString();
        var headBytes = Encoding.ASCII.GetBytes(head);
        return [.. headBytes, .. body];
    }
}

/// <summary>Counts SSE events (blank-line terminated) and notes when a marker first appears.</summary>
public sealed class SseCounter(ReadOnlyMemory<byte> marker, int keepBytes = 0) : IBodyObserver
{
    private readonly byte[] _carry = new byte[Math.Max(marker.Length - 1, 0)];
    private readonly MemoryStream? _kept = keepBytes > 0 ? new MemoryStream() : null;
    private int _carryLength;
    private byte _previous;

    public int Events { get; private set; }

    /// <summary>Stopwatch timestamp of the first marker, 0 until seen.</summary>
    public long MarkerSeenAt { get; private set; }

    /// <summary>Stop reading as soon as the marker was seen.</summary>
    public bool StopAtMarker { get; init; }

    public long Bytes { get; private set; }

    public byte[] Kept => _kept?.ToArray() ?? [];

    public bool OnBody(ReadOnlySpan<byte> data)
    {
        Bytes += data.Length;
        if (_kept is not null && _kept.Length < keepBytes)
        {
            _kept.Write(data[..(int)Math.Min(data.Length, keepBytes - _kept.Length)]);
        }

        foreach (var b in data)
        {
            if (b == (byte)'\n' && _previous == (byte)'\n')
            {
                Events++;
            }

            _previous = b;
        }

        if (MarkerSeenAt == 0 && !marker.IsEmpty)
        {
            var found = data.IndexOf(marker.Span) >= 0;
            if (!found && _carryLength > 0)
            {
                var joined = new byte[_carryLength + Math.Min(data.Length, marker.Length - 1)];
                _carry.AsSpan(0, _carryLength).CopyTo(joined);
                data[..(joined.Length - _carryLength)].CopyTo(joined.AsSpan(_carryLength));
                found = joined.AsSpan().IndexOf(marker.Span) >= 0;
            }

            if (found)
            {
                MarkerSeenAt = System.Diagnostics.Stopwatch.GetTimestamp();
                return !StopAtMarker;
            }

            if (data.Length >= _carry.Length)
            {
                data[(data.Length - _carry.Length)..].CopyTo(_carry);
                _carryLength = _carry.Length;
            }
            else
            {
                var keep = Math.Min(_carryLength, _carry.Length - data.Length);
                _carry.AsSpan(_carryLength - keep, keep).CopyTo(_carry);
                data.CopyTo(_carry.AsSpan(keep));
                _carryLength = keep + data.Length;
            }
        }

        return true;
    }
}

/// <summary>Discards the body.</summary>
public sealed class Discard : IBodyObserver
{
    public static readonly Discard Instance = new();

    public bool OnBody(ReadOnlySpan<byte> data) => true;
}
