using System.Buffers;

namespace ClaudeStack.Gateway.Api;

/// <summary>Reads a request body whole, up to the configured limit; a larger body is a 413, not a crash.</summary>
public static class RequestBodyReader
{
    public static async Task<(ReadOnlyMemory<byte> Body, AnthropicError? Error)> ReadAsync(HttpRequest request, long limit, CancellationToken cancellationToken)
    {
        if (request.ContentLength > limit)
        {
            return (default, TooLarge(limit));
        }

        // Without this a compressed body would be reported as invalid JSON.
        var encoding = request.Headers.ContentEncoding;
        if (encoding.Count > 0 && !encoding.SelectMany(value => (value ?? "").Split(',')).All(coding => coding.Trim().Equals("identity", StringComparison.OrdinalIgnoreCase)))
        {
            return (default, AnthropicError.ForStatus(StatusCodes.Status415UnsupportedMediaType, $"Content-Encoding '{encoding}' is not supported: send the request body uncompressed."));
        }

        // With a Content-Length up to 1 MiB the buffer is the body's size (plus the byte that sees the end): nothing
        // grows or is copied. A larger claim is trusted no further before its bytes arrive; a chunked body starts at
        // 16 KB. Either grows as it is read.
        var expected = request.ContentLength;
        var buffer = new ArrayBufferWriter<byte>((int)Math.Min(expected ?? 16 * 1024, Math.Min(limit, 1024 * 1024)) + 1);
        var readSize = expected is null ? 16 * 1024 : 1;
        try
        {
            while (true)
            {
                var memory = buffer.GetMemory(readSize);
                var read = await request.Body.ReadAsync(memory, cancellationToken);
                if (read == 0)
                {
                    break;
                }

                buffer.Advance(read);
                if (buffer.WrittenCount > limit)
                {
                    return (default, TooLarge(limit));
                }
            }
        }
        catch (BadHttpRequestException exception) when (exception.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (default, TooLarge(limit));
        }
        catch (BadHttpRequestException exception)
        {
            // Kestrel's status says what went wrong: 408 for a body arriving too slowly, which a client may retry.
            var status = exception.StatusCode is >= 400 and < 500 ? exception.StatusCode : StatusCodes.Status400BadRequest;
            return (default, AnthropicError.ForStatus(status, $"The request body could not be read: {exception.Message}"));
        }

        return (buffer.WrittenMemory, null);
    }

    private static AnthropicError TooLarge(long limit) =>
        new(StatusCodes.Status413PayloadTooLarge, AnthropicError.RequestTooLarge, $"Request body exceeds the gateway's limit of {limit} bytes (Gateway:MaxRequestBodyBytes).");
}
