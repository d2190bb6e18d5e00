using System.Diagnostics;

namespace ClaudeStack.Gateway.Api;

/// <summary>
/// The id the gateway's own errors carry as <c>request_id</c>, as Anthropic's do: the call's trace id, which finds the
/// call in the dashboard and its log records, or the server's request id when nothing traces the call.
/// </summary>
public static class RequestIds
{
    /// <summary>The response header Anthropic's API sends the same id in.</summary>
    public const string Header = "request-id";

    // The current span is the model call's or the server's, which share their trace; with nothing listening there is none.
    public static string Of(HttpContext context) =>
        Activity.Current is { } activity ? activity.TraceId.ToHexString() : context.TraceIdentifier;
}
