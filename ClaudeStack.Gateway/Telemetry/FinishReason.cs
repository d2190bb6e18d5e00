using ClaudeStack.Gateway.Streaming;
using Reasons = ClaudeStack.Gateway.Telemetry.TelemetryNames.FinishReasons;

namespace ClaudeStack.Gateway.Telemetry;

/// <summary>
/// Anthropic's stop reason in the conventions' words, so a query for <c>length</c> finds every answer cut by its
/// token limit whatever the provider. A reason the conventions have no word for is kept as the model server said it.
/// </summary>
public static class FinishReason
{
    public static string Of(ModelResponse response) =>
        response.StopReason is { } stopReason ? FromStopReason(stopReason) : response.Completed ? Reasons.Stop : Reasons.Error;

    public static string FromStopReason(string stopReason) => stopReason switch
    {
        "end_turn" or "stop_sequence" => Reasons.Stop,
        "max_tokens" or "model_context_window_exceeded" => Reasons.Length,
        "tool_use" => Reasons.ToolCall,
        "refusal" => Reasons.ContentFilter,
        _ => stopReason,
    };
}
