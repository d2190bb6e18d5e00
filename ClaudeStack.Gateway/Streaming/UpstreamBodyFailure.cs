using ClaudeStack.Gateway.Api;
using ClaudeStack.Gateway.Telemetry;

namespace ClaudeStack.Gateway.Streaming;

/// <summary>How reading an upstream body fails on the upstream's side, and what the client is told.</summary>
public static class UpstreamBodyFailure
{
    /// <summary>
    /// The connection reset or closed mid-body (<see cref="IOException"/>, <see cref="HttpRequestException"/>), or a
    /// compressed body that does not decompress (<see cref="InvalidDataException"/>, from the handler's decoding):
    /// the upstream's failure, never the gateway's.
    /// </summary>
    public static bool Is(Exception exception) => exception is IOException or HttpRequestException or InvalidDataException;

    /// <param name="during">What was being read: "stream", "response".</param>
    public static (AnthropicError Error, string ErrorType) Describe(Exception exception, string during) =>
        exception is InvalidDataException || exception.InnerException is InvalidDataException
            ? (AnthropicError.ForStatus(502, $"the upstream's compressed {during} could not be decoded"), TelemetryNames.ErrorTypes.UpstreamUndecodable)
            : (AnthropicError.ForStatus(502, $"the upstream connection was reset during the {during}"), TelemetryNames.ErrorTypes.StreamReset);
}
