using System.Buffers;
using ClaudeStack.Gateway.Api;
using ClaudeStack.Gateway.Telemetry;

namespace ClaudeStack.Gateway.Streaming;

/// <summary>Reads a whole upstream body (a non-streamed answer, an error, a count) within a size and a silence bound.</summary>
public static class BoundedBody
{
    /// <summary>
    /// Reads a whole body under the idle timeout. A client that leaves cancels it (the caller sees the cancellation);
    /// an upstream that resets, stalls or sends too much is a typed failure.
    /// </summary>
    public static async Task<(ReadOnlyMemory<byte> Body, (AnthropicError Error, string ErrorType)? Failure)> ReadAsync(HttpResponseMessage upstream, int limit, TimeSpan idleTimeout, CancellationToken clientAborted)
    {
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(clientAborted);
        using var buffer = new MemoryStream(upstream.Content.Headers.ContentLength is { } length && length < limit ? (int)length : 0);
        var chunk = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            idle.CancelAfter(idleTimeout);
            await using var stream = await upstream.Content.ReadAsStreamAsync(idle.Token);
            int read;
            while ((read = await stream.ReadAsync(chunk, idle.Token)) > 0)
            {
                if (buffer.Length + read > limit)
                {
                    return (buffer.ToArray(), (AnthropicError.ForStatus(502, $"the upstream's response is larger than {limit / (1024 * 1024)} MiB"), AnthropicError.Api));
                }

                buffer.Write(chunk, 0, read);
                idle.CancelAfter(idleTimeout);
            }
        }
        catch (OperationCanceledException) when (!clientAborted.IsCancellationRequested)
        {
            return (buffer.ToArray(), (AnthropicError.ForStatus(504, $"the upstream's response was silent for {idleTimeout.TotalSeconds:0.#} s"), TelemetryNames.ErrorTypes.UpstreamTimeout));
        }
        catch (Exception exception) when (UpstreamBodyFailure.Is(exception))
        {
            return (buffer.ToArray(), UpstreamBodyFailure.Describe(exception, "response"));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }

        return (buffer.GetBuffer().AsMemory(0, (int)buffer.Length), null);
    }
}
