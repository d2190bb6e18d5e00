namespace ClaudeStack.ScriptedUpstream;

/// <summary>A content block of a scripted assistant message.</summary>
public abstract record ScriptedBlock;

/// <summary>Text, streamed as one <c>text_delta</c> per piece.</summary>
public sealed record ScriptedText(IReadOnlyList<string> Pieces) : ScriptedBlock
{
    public ScriptedText(string text)
        : this([text])
    {
    }
}

public sealed record ScriptedThinking(string Text) : ScriptedBlock;

/// <summary>A tool call; <paramref name="InputJson"/> is sent as one <c>input_json_delta</c>, as Ollama does.</summary>
public sealed record ScriptedToolUse(string Id, string Name, string InputJson) : ScriptedBlock;

/// <summary>An assistant message the scripted upstream answers with.</summary>
public sealed record ScriptedMessage
{
    private static int s_counter;

    public string Id { get; init; } = $"msg_scripted_{Interlocked.Increment(ref s_counter):D6}";

    public string Model { get; init; } = "llama3.1:8b";

    public IReadOnlyList<ScriptedBlock> Blocks { get; init; } = [];

    public string StopReason { get; init; } = "end_turn";

    public int InputTokens { get; init; } = 12;

    public int OutputTokens { get; init; } = 5;

    /// <summary>Tokens read from the prompt cache, as the Anthropic API reports them; Ollama reports none.</summary>
    public int? CacheReadInputTokens { get; init; }

    /// <summary>
    /// Input tokens in <c>message_start</c>. Ollama sends its estimate there (a quarter of the request's characters,
    /// anthropic.EstimateInputTokens) and the real count in <c>message_delta</c>; the real API sends the count in both.
    /// </summary>
    public int StartInputTokens { get; init; }

    public static ScriptedMessage Text(string text, string model = "llama3.1:8b") =>
        new() { Model = model, Blocks = [new ScriptedText(text)] };

    public static ScriptedMessage ToolUse(string name, string inputJson, string id = "toolu_scripted_1", string model = "llama3.1:8b") =>
        new() { Model = model, Blocks = [new ScriptedToolUse(id, name, inputJson)], StopReason = "tool_use" };
}
