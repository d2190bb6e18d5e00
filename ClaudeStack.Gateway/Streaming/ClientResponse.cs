namespace ClaudeStack.Gateway.Streaming;

/// <summary>
/// The client side of a call: one place that writes and flushes, knows whether headers went out,
/// and keeps the silent stream alive with <c>ping</c> events while the model has not answered yet.
/// </summary>
public sealed class ClientResponse(HttpResponse response) : IAsyncDisposable
{
    private CancellationTokenSource? _keepAliveStop;
    private Task? _keepAlive;

    public HttpResponse Response => response;

    public bool HeadersSent => response.HasStarted;

    /// <summary>
    /// After <paramref name="delay"/> without an upstream answer, sends 200 with SSE headers, a <c>message_start</c> and a
    /// ping, then a ping every <paramref name="interval"/>: Ollama sends nothing until the first token, which can take
    /// minutes on a CPU.
    /// </summary>
    /// <param name="messageStart">When given, sent once before the first ping, so the client sees the message begin.</param>
    public void StartKeepAlive(TimeSpan delay, TimeSpan interval, Func<byte[]>? messageStart, CancellationToken clientAborted)
    {
        if (delay <= TimeSpan.Zero)
        {
            return;
        }

        _keepAliveStop = CancellationTokenSource.CreateLinkedTokenSource(clientAborted);
        _keepAlive = PingWhileSilentAsync(delay, interval, messageStart, _keepAliveStop.Token, clientAborted);
    }

    /// <summary>The gateway sent its own <c>message_start</c>; the upstream's must not follow it.</summary>
    public bool SentMessageStart { get; private set; }

    // Called directly, not queued: it yields at its first delay, so a fast upstream costs only a timer.
    // Every other write first stops and awaits this loop, so the two never write at once. Stopping interrupts the
    // waits, never a write, so what was written is known.
    private async Task PingWhileSilentAsync(TimeSpan delay, TimeSpan interval, Func<byte[]>? messageStart, CancellationToken stop, CancellationToken clientAborted)
    {
        // Stopping is the common case (the model answered in time): waits end quietly rather than by an exception.
        await Task.Delay(delay, stop).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        try
        {
            while (!stop.IsCancellationRequested)
            {
                if (!response.HasStarted)
                {
                    SetEventStreamHeaders();
                    if (messageStart is not null)
                    {
                        await response.BodyWriter.WriteAsync(messageStart(), clientAborted);
                        SentMessageStart = true;
                    }
                }

                await response.BodyWriter.WriteAsync(SseEvents.Ping, clientAborted);
                await Task.Delay(interval, stop).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
        catch (Exception exception) when (exception is OperationCanceledException or IOException or ObjectDisposedException)
        {
            // Stopped, or the client left; the call itself notices that.
        }
    }

    /// <summary>A 200 answered in SSE events, whatever headers the upstream's answer had.</summary>
    public void SetEventStreamHeaders()
    {
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
    }

    /// <summary>Stops the keep-alive pings and waits for the last one to finish.</summary>
    public async Task StopKeepAliveAsync()
    {
        if (_keepAlive is null)
        {
            return;
        }

        // Cancel inline, not CancelAsync: the pending delay then ends on this thread, with no thread-pool hop
        // in front of the first byte of the answer.
        _keepAliveStop!.Cancel();
        await _keepAlive;
        _keepAlive = null;
    }

    /// <summary>An error in whichever form the response still allows: a JSON response, or an SSE event once streaming.</summary>
    public async Task WriteErrorAsync(Api.AnthropicError error, CancellationToken clientAborted)
    {
        await StopKeepAliveAsync();
        if (HeadersSent)
        {
            await WriteAsync(error.ToSseEvent(Api.RequestIds.Of(response.HttpContext)), clientAborted);
        }
        else
        {
            await error.WriteAsync(response, clientAborted);
        }
    }

    /// <summary>Writes and flushes. Returns false when the client is gone.</summary>
    public async Task<bool> WriteAsync(ReadOnlyMemory<byte> bytes, CancellationToken clientAborted)
    {
        await StopKeepAliveAsync();
        try
        {
            // One call writes and flushes: each chunk reaches the client as soon as it arrived.
            var result = await response.BodyWriter.WriteAsync(bytes, clientAborted);
            return !result.IsCanceled && !result.IsCompleted;
        }
        catch (Exception exception) when (exception is OperationCanceledException or IOException or ObjectDisposedException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopKeepAliveAsync();
        _keepAliveStop?.Dispose();
    }
}
