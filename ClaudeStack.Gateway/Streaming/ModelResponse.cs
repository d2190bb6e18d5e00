using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace ClaudeStack.Gateway.Streaming;

/// <summary>A content block of the model's answer, as far as the gateway observed it.</summary>
public sealed class ObservedBlock
{
    public required int Index { get; init; }

    /// <summary><c>text</c>, <c>thinking</c>, <c>tool_use</c>, ...</summary>
    public required string Type { get; init; }

    /// <summary>A tool call's id, or for a server tool's result the id of the call it answers.</summary>
    public string? ToolUseId { get; init; }

    public string? ToolName { get; init; }

    /// <summary>Text, thinking, the tool input JSON as streamed, or a server tool's result (kept up to a limit).</summary>
    public StringBuilder Content { get; } = new();

    public bool Truncated { get; set; }

    /// <summary>The tool input came whole in content_block_start; input deltas, should any follow, replace it.</summary>
    internal bool InputFromStartEvent { get; set; }

    public bool Complete { get; set; }

    /// <summary>A call of a tool the upstream runs itself: a server tool (web search, code execution) or an MCP connector's.</summary>
    public static bool IsServerToolCall([NotNullWhen(true)] string? type) => type is "server_tool_use" or "mcp_tool_use";

    /// <summary>What such a tool returned (web_search_tool_result, mcp_tool_result, ...); <c>tool_result</c> is the client's own.</summary>
    public static bool IsServerToolResult([NotNullWhen(true)] string? type) =>
        type is not null && type.EndsWith("_tool_result", StringComparison.Ordinal) && type != "tool_result";
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
