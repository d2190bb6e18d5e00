using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ClaudeStack.Gateway.Requests;

namespace ClaudeStack.Gateway.Streaming;

/// <summary>What the events of a stream add up to, for a client that asked for a whole message.</summary>
public enum StreamedOutcome
{
    /// <summary>A whole message: <c>message_start</c> through <c>message_stop</c>.</summary>
    Message,

    /// <summary>The stream carried an <c>error</c> event; the JSON is its data.</summary>
    Error,

    /// <summary>The stream ended before <c>message_stop</c>.</summary>
    Incomplete,

    /// <summary>Something this assembler cannot fold in (a newer API's event or delta, not JSON): relay the stream as it came.</summary>
    Unknown,
}

/// <summary>
/// Folds the events of a streamed answer into the message a non-streaming client asked for, as the Anthropic SDKs
/// accumulate a stream: text, thinking and signatures appended to their own kind of block, a tool's input parsed from
/// its partial JSON, citations collected, <c>message_delta</c> merged into the message (a null usage count keeps the
/// count before it). Pure: bytes in, JSON out.
/// </summary>
public static class StreamedMessageAssembler
{
    // As deep as a request may be; a tool's input sits three levels deeper in the message than in its event.
    private static readonly JsonDocumentOptions ReadOptions = new() { MaxDepth = MessagesRequest.MaxDepth };
    // Text as the Messages API writes it, UTF-8 rather than \u escapes: the client reads JSON, not HTML.
    private static readonly JsonSerializerOptions WriteOptions = new() { MaxDepth = ModelResponseReader.MaxDepth, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <returns>The outcome, with the message (or the error event's data) as JSON.</returns>
    public static (StreamedOutcome Outcome, byte[]? Json) Assemble(ReadOnlyMemory<byte> stream)
    {
        try
        {
            var (outcome, json) = Fold(stream);
            return (outcome, json is null ? null : JsonSerializer.SerializeToUtf8Bytes(json, WriteOptions));
        }
        catch (Exception exception) when (exception is JsonException or InvalidOperationException or ArgumentException)
        {
            // Not JSON, a value of an unexpected kind, too deep, or a repeated key (which a JsonObject cannot hold).
            return (StreamedOutcome.Unknown, null);
        }
    }

    private static (StreamedOutcome Outcome, JsonObject? Json) Fold(ReadOnlyMemory<byte> stream)
    {
        var parser = new SseParser();
        var events = new List<SseEvent>();
        parser.Feed(stream, events);
        if (parser.OversizedEvents > 0)
        {
            return (StreamedOutcome.Unknown, null);
        }

        JsonObject? message = null;
        var blocks = new SortedDictionary<int, JsonObject>();
        var partialInputs = new Dictionary<int, StringBuilder>();
        foreach (var sseEvent in events)
        {
            if (JsonNode.Parse(sseEvent.Data.Span, documentOptions: ReadOptions) is not JsonObject data)
            {
                return (StreamedOutcome.Unknown, null);
            }

            switch (Text(data, "type"))
            {
                case "ping":
                    break;
                case "error":
                    return (StreamedOutcome.Error, data);
                case "message_start" when data["message"] is JsonObject start && message is null:
                    message = (JsonObject)start.DeepClone();
                    break;
                case "content_block_start" when Index(data) is { } index && data["content_block"] is JsonObject block && !blocks.ContainsKey(index):
                    blocks[index] = (JsonObject)block.DeepClone();
                    break;
                case "content_block_delta" when Index(data) is { } index && blocks.TryGetValue(index, out var block) && data["delta"] is JsonObject delta:
                    if (!FoldDelta(block, delta, partialInputs, index))
                    {
                        return (StreamedOutcome.Unknown, null);
                    }

                    break;
                case "content_block_stop" when Index(data) is { } index && blocks.ContainsKey(index):
                    CompleteInput(blocks, partialInputs, index);
                    break;
                case "message_delta" when message is not null:
                    MergeMessageDelta(message, data);
                    break;
                case "message_stop" when message is not null:
                    // A block the stream never stopped still gets the input it streamed.
                    foreach (var index in partialInputs.Keys.ToList())
                    {
                        CompleteInput(blocks, partialInputs, index);
                    }

                    message["content"] = new JsonArray([.. blocks.Values]);
                    return (StreamedOutcome.Message, message);
                default:
                    return (StreamedOutcome.Unknown, null);
            }
        }

        return (StreamedOutcome.Incomplete, null);
    }

    /// <returns>Whether the delta was of a kind this assembler knows, for a block of the kind it belongs to.</returns>
    private static bool FoldDelta(JsonObject block, JsonObject delta, Dictionary<int, StringBuilder> partialInputs, int index)
    {
        var blockType = Text(block, "type");
        switch (Text(delta, "type"))
        {
            case "text_delta" when blockType == "text" && Text(delta, "text") is { } text:
                block["text"] = Text(block, "text") + text;
                return true;
            case "thinking_delta" when blockType == "thinking" && Text(delta, "thinking") is { } thinking:
                block["thinking"] = Text(block, "thinking") + thinking;
                return true;
            case "signature_delta" when blockType == "thinking" && Text(delta, "signature") is { } signature:
                block["signature"] = signature;
                return true;
            case "input_json_delta" when blockType is "tool_use" or "server_tool_use" or "mcp_tool_use" && Text(delta, "partial_json") is { } partial:
                (partialInputs.TryGetValue(index, out var input) ? input : partialInputs[index] = new StringBuilder()).Append(partial);
                return true;
            case "citations_delta" when blockType == "text" && delta["citation"] is { } citation:
                if (block["citations"] is not JsonArray citations)
                {
                    block["citations"] = citations = [];
                }

                citations.Add(citation.DeepClone());
                return true;
            default:
                return false;
        }
    }

    /// <summary>
    /// A tool's input, parsed from the JSON its deltas streamed. Deltas that streamed nothing (Anthropic starts with an
    /// empty one) leave the input the block started with.
    /// </summary>
    private static void CompleteInput(SortedDictionary<int, JsonObject> blocks, Dictionary<int, StringBuilder> partialInputs, int index)
    {
        if (partialInputs.Remove(index, out var input) && input.Length > 0)
        {
            blocks[index]["input"] = JsonNode.Parse(input.ToString(), documentOptions: ReadOptions);
        }
    }

    /// <summary>
    /// The delta's fields (stop reason, stop sequence) and any other of the event's own (context management) set on the
    /// message; usage counts merged, a null count keeping the one before it, as the SDKs do.
    /// </summary>
    private static void MergeMessageDelta(JsonObject message, JsonObject data)
    {
        foreach (var (name, value) in data)
        {
            switch (name)
            {
                case "type":
                    break;
                case "delta" when value is JsonObject delta:
                    foreach (var (field, fieldValue) in delta)
                    {
                        message[field] = fieldValue?.DeepClone();
                    }

                    break;
                case "usage" when value is JsonObject usage:
                    if (message["usage"] is not JsonObject total)
                    {
                        message["usage"] = total = [];
                    }

                    foreach (var (count, countValue) in usage)
                    {
                        if (countValue is not null)
                        {
                            total[count] = countValue.DeepClone();
                        }
                    }

                    break;
                default:
                    message[name] = value?.DeepClone();
                    break;
            }
        }
    }

    private static int? Index(JsonObject data) =>
        data["index"] is JsonValue value && value.TryGetValue<int>(out var index) ? index : null;

    private static string? Text(JsonObject data, string name) =>
        data[name] is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;
}
