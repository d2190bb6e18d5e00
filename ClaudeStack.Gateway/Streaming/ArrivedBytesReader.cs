namespace ClaudeStack.Gateway.Streaming;

/// <summary>
/// Reads a stream in the largest pieces that have already arrived: it waits for the first bytes, then takes whatever
/// more the connection has buffered without waiting. A burst of SSE events (Ollama flushes every event on its own)
/// then reaches the client in one write instead of one per event, and nothing is ever held back waiting for more.
/// </summary>
public sealed class ArrivedBytesReader(Stream body, byte[] buffer)
{
    /// <summary>Below this much free room no read is started ahead: the buffer starts over instead.</summary>
    private const int MinimumRoom = 4096;

    private int _filled;
    private ValueTask<int>? _pending;
    private bool _ended;

    /// <summary>The next bytes, or empty at the end of the stream. Valid until the next call.</summary>
    public async ValueTask<ReadOnlyMemory<byte>> ReadAsync(CancellationToken cancellationToken)
    {
        if (_ended)
        {
            return ReadOnlyMemory<byte>.Empty;
        }

        if (_pending is null && buffer.Length - _filled < MinimumRoom)
        {
            _filled = 0;
        }

        var start = _filled;

        // Taken before awaiting: a read that fails must not be awaited a second time by AbandonAsync.
        var pending = _pending;
        _pending = null;
        var read = pending is { } started ? await started : await body.ReadAsync(buffer.AsMemory(_filled), cancellationToken);
        if (read == 0)
        {
            _ended = true;
            return ReadOnlyMemory<byte>.Empty;
        }

        _filled += read;
        while (buffer.Length - _filled >= MinimumRoom)
        {
            // A read that completes at once had its bytes already; any other is kept for the next call, its target
            // (the buffer beyond what is returned now) untouched by the caller meanwhile.
            var next = body.ReadAsync(buffer.AsMemory(_filled), cancellationToken);
            if (!next.IsCompletedSuccessfully)
            {
                // Not there yet, or failed already (a reset right behind the data): either way the next call
                // awaits it, and the bytes read so far go out first.
                _pending = next;
                break;
            }

            var more = next.Result;
            if (more == 0)
            {
                _ended = true;
                break;
            }

            _filled += more;
        }

        return buffer.AsMemory(start, _filled - start);
    }

    /// <summary>Cancels a read started ahead (through the token source it was given) and waits it out.</summary>
    public async Task AbandonAsync(CancellationTokenSource readCancellation)
    {
        if (_pending is not { } pending)
        {
            return;
        }

        _pending = null;
        readCancellation.Cancel();
        try
        {
            await pending;
        }
        catch (Exception exception) when (exception is OperationCanceledException or ObjectDisposedException || UpstreamBodyFailure.Is(exception))
        {
            // Expected: the read was cancelled or the connection went with it.
        }
    }
}
