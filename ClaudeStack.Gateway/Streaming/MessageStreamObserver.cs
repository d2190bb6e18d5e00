using System.Text.Json;

namespace ClaudeStack.Gateway.Streaming;

/// <summary>
/// Watches an Anthropic Messages SSE stream as it passes through and builds a <see cref="ModelResponse"/>.
/// It writes nothing: the bytes go to the client untouched; this only reads events for telemetry and guards.
/// </summary>
public sealed class MessageStreamObserver
{
    /// <summary>Text kept per block without content capture: enough to spot a tool call printed as text.</summary>
    private const int TextKeptWithoutCapture = 4096;

    private readonly SseParser _parser = new();
    private readonly List<SseEvent> _events = [];
    private readonly bool _keepText;
    private readonly int _maxBlockChars;

    /// <param name="keepText">Keep text and thinking (for content capture); tool input is always kept, for the guards.</param>
    /// <param name="maxBlockChars">Content kept per block; beyond it the block is marked truncated.</param>
    public MessageStreamObserver(bool keepText, int maxBlockChars = 256 * 1024)
    {
        _keepText = keepText;
        _maxBlockChars = maxBlockChars;
    }

    public ModelResponse Response { get; } = new();

    /// <summary>Observes a chunk of the stream; nothing is kept pointing into it after the call.</summary>
    /// <returns>Blocks that this chunk completed (for example a finished tool call to check).</returns>
    public IReadOnlyList<ObservedBlock> Observe(ReadOnlyMemory<byte> chunk)
    {
        try
        {
            _parser.Feed(chunk, _events);
            List<ObservedBlock>? completed = null;
            foreach (var sseEvent in _events)
            {
                if (Apply(sseEvent) is { } block)
                {
                    (completed ??= []).Add(block);
                }
            }

            return completed ?? (IReadOnlyList<ObservedBlock>)[];
        }
        finally
        {
            // The events may point into the chunk, whose buffer the caller reuses (or returns to its pool).
            _events.Clear();
        }
    }

    private ObservedBlock? Apply(SseEvent sseEvent)
    {
        if (sseEvent.Name == "ping" || IsUnneededTextDelta(sseEvent))
        {
            return null;
        }

        try
        {
            var reader = new Utf8JsonReader(sseEvent.Data.Span);
            using var document = JsonDocument.ParseValue(ref reader);
            var data = document.RootElement;
            var type = sseEvent.Name.Length > 0 ? sseEvent.Name : data.TryGetProperty("type", out var t) ? t.GetString() ?? "" : "";
            switch (type)
            {
                case "message_start" when data.TryGetProperty("message", out var message):
                    Response.Id = message.TryGetProperty("id", out var id) ? id.GetString() : null;
                    Response.Model = message.TryGetProperty("model", out var model) ? model.GetString() : null;
                    if (message.TryGetProperty("usage", out var startUsage))
                    {
                        ReadUsage(startUsage, Response);
                    }

                    break;
                case "content_block_start":
                    StartBlock(data);
                    break;
                case "content_block_delta":
                    AppendDelta(data);
                    break;
                case "content_block_stop":
                    return StopBlock(data);
                case "message_delta":
                    if (data.TryGetProperty("delta", out var delta) && delta.TryGetProperty("stop_reason", out var stop) && stop.ValueKind == JsonValueKind.String)
                    {
                        Response.StopReason = stop.GetString();
                    }

                    // The final usage lives here: Ollama reports input tokens only in message_delta.
                    if (data.TryGetProperty("usage", out var usage))
                    {
                        ReadUsage(usage, Response);
                    }

                    break;
                case "message_stop":
                    Response.Completed = true;
                    break;
                case "error" when data.TryGetProperty("error", out var error):
                    Response.ErrorType = error.TryGetProperty("type", out var errorType) && errorType.ValueKind == JsonValueKind.String ? errorType.GetString() : "error";
                    Response.ErrorMessage = error.TryGetProperty("message", out var errorMessage) && errorMessage.ValueKind == JsonValueKind.String ? errorMessage.GetString() : null;
                    break;
            }
        }
        catch (Exception exception) when (exception is JsonException or InvalidOperationException or KeyNotFoundException or FormatException or ArgumentException)
        {
            Response.MalformedEvents++;
        }

        return null;
    }

    /// <summary>
    /// Text deltas are most of a stream. Without content capture only a block's first few KB are kept,
    /// so later ones need no parsing at all.
    /// </summary>
    private bool IsUnneededTextDelta(SseEvent sseEvent) =>
        !_keepText
        && sseEvent.Name == "content_block_delta"
        && Response.Blocks.Count > 0
        && Response.Blocks[^1] is { Type: "text", Content.Length: >= TextKeptWithoutCapture }
        && sseEvent.Data.Span.IndexOf("\"text_delta\""u8) >= 0;

    /// <summary>Reads usage numbers present in <paramref name="usage"/>; absent ones keep their earlier value.</summary>
    public static void ReadUsage(JsonElement usage, ModelResponse response)
    {
        if (usage.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        response.InputTokens = Number(usage, "input_tokens") ?? response.InputTokens;
        response.OutputTokens = Number(usage, "output_tokens") ?? response.OutputTokens;
        response.CacheReadInputTokens = Number(usage, "cache_read_input_tokens") ?? response.CacheReadInputTokens;
        response.CacheCreationInputTokens = Number(usage, "cache_creation_input_tokens") ?? response.CacheCreationInputTokens;
    }

    /// <summary>A whole number, or null: some compatible servers send <c>null</c> for counts they do not keep.</summary>
    private static long? Number(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var number) ? number : null;

    private void StartBlock(JsonElement data)
    {
        var index = data.GetProperty("index").GetInt32();
        var block = data.GetProperty("content_block");
        var type = block.GetProperty("type").GetString() ?? "";
        var observed = new ObservedBlock
        {
            Index = index,
            Type = type,
            ToolUseId = block.TryGetProperty("id", out var id) || block.TryGetProperty("tool_use_id", out id) ? id.GetString() : null,
            ToolName = block.TryGetProperty("name", out var name) ? name.GetString() : null,
        };

        // Some servers put the text or a complete tool input in the start event itself (Anthropic sends "" and {}).
        if (block.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String)
        {
            Append(observed, text.GetString());
        }
        else if ((type == "tool_use" || ObservedBlock.IsServerToolCall(type)) && block.TryGetProperty("input", out var input) && input.ValueKind == JsonValueKind.Object && input.EnumerateObject().Any())
        {
            Append(observed, input.GetRawText());
            observed.InputFromStartEvent = true;
        }
        else if (_keepText && ObservedBlock.IsServerToolResult(type) && block.TryGetProperty("content", out var result))
        {
            // A server tool's result arrives whole in this event; only content capture records it.
            Append(observed, result.GetRawText());
        }

        Response.Blocks.Add(observed);
    }

    private void AppendDelta(JsonElement data)
    {
        var index = data.GetProperty("index").GetInt32();
        var block = Response.Blocks.FindLast(b => b.Index == index);
        if (block is null || !data.TryGetProperty("delta", out var delta))
        {
            Response.MalformedEvents++;
            return;
        }

        switch (delta.TryGetProperty("type", out var type) ? type.GetString() : null)
        {
            case "text_delta":
                Append(block, delta.GetProperty("text").GetString());
                break;
            case "thinking_delta":
                Append(block, delta.GetProperty("thinking").GetString());
                break;
            case "input_json_delta":
                if (block.InputFromStartEvent)
                {
                    block.InputFromStartEvent = false;
                    block.Content.Clear();
                    block.Truncated = false;
                }

                Append(block, delta.GetProperty("partial_json").GetString());
                break;
        }
    }

    private ObservedBlock? StopBlock(JsonElement data)
    {
        var index = data.GetProperty("index").GetInt32();
        var block = Response.Blocks.FindLast(b => b.Index == index);
        if (block is null)
        {
            Response.MalformedEvents++;
            return null;
        }

        block.Complete = true;
        return block;
    }

    private void Append(ObservedBlock block, string? text)
    {
        if (string.IsNullOrEmpty(text) || (!_keepText && block.Type is "text" or "thinking" && block.Content.Length >= TextKeptWithoutCapture))
        {
            // Without content capture only the first few KB of text are kept (enough to spot a tool call printed as text).
            return;
        }

        var room = _maxBlockChars - block.Content.Length;
        if (text.Length > room)
        {
            block.Truncated = true;
            text = text[..Math.Max(0, room)];
        }

        block.Content.Append(text);
    }
}
