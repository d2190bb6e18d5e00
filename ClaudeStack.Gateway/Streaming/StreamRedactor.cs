using System.Buffers;
using ClaudeStack.Gateway.Telemetry;

namespace ClaudeStack.Gateway.Streaming;

/// <summary>
/// Masks secrets in the bytes a stream relays, one piece at a time. A piece that ends where an event ends is masked as
/// it is. A piece that ends inside an event (one too large to hold whole) keeps back its last bytes, one fewer than the
/// longest secret, until the next piece: a secret split between the two is then found whole. Pure: bytes in, bytes out.
/// </summary>
public sealed class StreamRedactor(SecretRedactor redactor)
{
    private readonly int _keptBack = Math.Max(0, redactor.LongestSecretBytes - 1);
    private readonly ArrayBufferWriter<byte> _held = new();
    private readonly ArrayBufferWriter<byte> _joined = new();

    /// <summary>
    /// Returns the masked bytes to forward now, valid until the next call. Bytes kept back from a piece that ends
    /// inside an event are never returned if the stream stops there; the client would drop that unfinished event anyway.
    /// </summary>
    public ReadOnlyMemory<byte> Redact(ReadOnlyMemory<byte> piece, bool endsInsideEvent)
    {
        if (_held.WrittenCount > 0)
        {
            _joined.ResetWrittenCount();
            _joined.Write(_held.WrittenSpan);
            _joined.Write(piece.Span);
            _held.ResetWrittenCount();
            piece = _joined.WrittenMemory;
        }

        var masked = redactor.Redact(piece);
        if (!endsInsideEvent || _keptBack == 0)
        {
            return masked;
        }

        var cut = Math.Max(0, masked.Length - _keptBack);
        _held.Write(masked.Span[cut..]);
        return masked[..cut];
    }
}
