using System.Text;

namespace ClaudeStack.Gateway.Streaming;

/// <summary>A content block of the model's answer, as far as the gateway observed it.</summary>
public sealed class ObservedBlock
{
    public required int Index { get; init; }

    /// <summary><c>text</c>, <c>thinking</c>, <c>tool_use</c>, ...</summary>
    public required string Type { get; init; }

    public string? ToolUseId { get; init; }

    public string? ToolName { get; init; }

    /// <summary>Text, thinking, or the tool input JSON as streamed (kept up to a limit).</summary>
    public StringBuilder Content { get; } = new();

    public bool Truncated { get; set; }

    /// <summary>The tool input came whole in content_block_start; input deltas, should any follow, replace it.</summary>
    internal bool InputFromStartEvent { get; set; }

    public bool Complete { get; set; }
}

/// <summary>What the gateway learned about one model response, streamed or not.</summary>
public sealed class ModelResponse
{
    public string? Id { get; set; }

    public string? Model { get; set; }

    public string? StopReason { get; set; }

    public long? InputTokens { get; set; }

    public long? OutputTokens { get; set; }

    public long? CacheReadInputTokens { get; set; }

    public long? CacheCreationInputTokens { get; set; }

    /// <summary>
    /// All input tokens of the prompt, cached ones included: Anthropic reports <c>input_tokens</c> apart from the two
    /// cache counts, and the GenAI conventions count all three as input. Null when the response reported none.
    /// </summary>
    public long? TotalInputTokens => InputTokens is null && CacheReadInputTokens is null && CacheCreationInputTokens is null
        ? null
        : (InputTokens ?? 0) + (CacheReadInputTokens ?? 0) + (CacheCreationInputTokens ?? 0);

    public List<ObservedBlock> Blocks { get; } = [];

    /// <summary>The stream ended with message_stop, or a whole JSON response was read.</summary>
    public bool Completed { get; set; }

    /// <summary>A whole JSON response was a Messages API message (<c>"type": "message"</c>), not some other object.</summary>
    public bool IsMessage { get; set; }

    /// <summary>
    /// A whole message said <c>"content": null</c>, as Ollama writes an answer with no blocks (ToMessagesResponse's
    /// empty slice); the Messages API always has an array there.
    /// </summary>
    public bool NullContent { get; set; }

    /// <summary>The upstream sent an <c>event: error</c>.</summary>
    public string? ErrorType { get; set; }

    public string? ErrorMessage { get; set; }

    /// <summary>Events the gateway could not read; the bytes were relayed all the same.</summary>
    public int MalformedEvents { get; set; }
}
