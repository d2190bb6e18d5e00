namespace ClaudeStack.Gateway.Guards;

/// <summary>Settings of the context window guard (<c>Gateway:Context</c>).</summary>
public sealed class ContextGuardOptions
{
    /// <summary><c>reject</c> (400 "prompt is too long", which Claude Code understands), <c>warn</c> (forward and flag) or <c>off</c>.</summary>
    public string Policy { get; set; } = "reject";

    /// <summary>Reported input tokens below this share of the calibrated estimate mean the upstream cut the prompt.</summary>
    public double TruncationFraction { get; set; } = 0.8;

    /// <summary>The fallback context window when the upstream does not say (Ollama's OLLAMA_CONTEXT_LENGTH).</summary>
    public int? ContextLength { get; set; }
}

public enum ContextVerdict
{
    Fits,
    TooLongRejected,
    TooLongForwarded,
}

/// <summary>
/// Decides, before forwarding, whether a prompt fits the model's window, and tells afterwards whether the
/// upstream silently truncated it. Ollama drops the oldest messages, then cuts tokens, and says nothing. Pure.
/// </summary>
public static class ContextGuard
{
    public static ContextVerdict Check(int estimatedTokens, int? contextLength, ContextGuardOptions options)
    {
        if (contextLength is not { } window || estimatedTokens <= window || options.Policy.Equals("off", StringComparison.OrdinalIgnoreCase))
        {
            return ContextVerdict.Fits;
        }

        return options.Policy.Equals("warn", StringComparison.OrdinalIgnoreCase) ? ContextVerdict.TooLongForwarded : ContextVerdict.TooLongRejected;
    }

    /// <summary>
    /// How much of the window a prompt may fill: what is left once the least room for an answer is set aside. A prompt
    /// that fits but leaves no room is as lost as one that does not: when the answer grows past the window, Ollama's
    /// context shift throws away the start of the prompt (the system prompt and the tools) without a word.
    /// </summary>
    public static int? PromptWindow(int? contextLength, int reservedForOutput) =>
        contextLength is { } window ? Math.Max(1, window - Math.Max(0, reservedForOutput)) : null;

    /// <summary>
    /// Anthropic's own wording, which Claude Code recognises and reports as "Prompt is too long (… limit N)". The room
    /// set aside for the answer counts with the prompt, so the limit shown is the model's window and the excess is
    /// what has to go.
    /// </summary>
    public static string TooLongMessage(int estimatedTokens, int contextLength, int reservedForOutput = 0) =>
        $"prompt is too long: {estimatedTokens + Math.Max(0, reservedForOutput)} tokens > {contextLength} maximum";

    /// <summary>What the window leaves for the answer after the prompt.</summary>
    public static int? RoomForOutput(int estimatedTokens, int? contextLength) =>
        contextLength is { } window ? Math.Max(0, window - estimatedTokens) : null;

    /// <summary>The upstream reported fewer tokens than it was sent (or exactly its window): it cut the prompt.</summary>
    public static bool LooksTruncated(long reportedInputTokens, int estimatedTokens, int? contextLength, bool calibrated, double fraction) =>
        (contextLength is { } window && reportedInputTokens >= window)
        || (calibrated && reportedInputTokens < estimatedTokens * fraction);
}
