using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

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

    /// <summary>An event or delta this assembler cannot fold in (a newer API's, or not JSON): relay the stream as it came.</summary>
    Unknown,
}

/// <summary>
/// Folds the events of a streamed answer into the message a non-streaming client asked for, as the Anthropic SDKs
/// accumulate a stream: text, thinking and signatures appended, a tool's input parsed from its partial JSON,
/// citations collected, <c>message_delta</c> and its usage merged into the message. Pure: bytes in, JSON out.
/// </summary>
public static class StreamedMessageAssembler
{
    public static (StreamedOutcome Outcome, JsonObject? Json) Assemble(ReadOnlySpan<byte> stream)
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
        try
        {
            foreach (var sseEvent in events)
            {
                if (JsonNode.Parse(sseEvent.Data.Span) is not JsonObject data)
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
                        if (!Fold(block, delta, partialInputs, index))
                        {
                            return (StreamedOutcome.Unknown, null);
                        }

                        break;
                    case "content_block_stop" when Index(data) is { } index && blocks.ContainsKey(index):
                        CompleteInput(blocks, partialInputs, index);
                        break;
                    case "message_delta" when message is not null:
                        Merge(message, data["delta"] as JsonObject);
                        if (data["usage"] is JsonObject usage)
                        {
                            message["usage"] ??= new JsonObject();
                            Merge(message["usage"] as JsonObject, usage);
                        }

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
        }
        catch (Exception exception) when (exception is JsonException or InvalidOperationException or ArgumentException)
        {
            // Not JSON, a value of an unexpected kind, or a repeated key (which a JsonObject cannot hold).
            return (StreamedOutcome.Unknown, null);
        }

        return (StreamedOutcome.Incomplete, null);
    }

    /// <summary>A tool's input, parsed from the JSON its deltas streamed (none streamed: the start's input stays).</summary>
    private static void CompleteInput(SortedDictionary<int, JsonObject> blocks, Dictionary<int, StringBuilder> partialInputs, int index)
    {
        if (partialInputs.Remove(index, out var input))
        {
            blocks[index]["input"] = input.Length == 0 ? new JsonObject() : JsonNode.Parse(input.ToString());
        }
    }

    /// <returns>Whether the delta was of a kind this assembler knows.</returns>
    private static bool Fold(JsonObject block, JsonObject delta, Dictionary<int, StringBuilder> partialInputs, int index)
    {
        switch (Text(delta, "type"))
        {
            case "text_delta" when Text(delta, "text") is { } text:
                block["text"] = Text(block, "text") + text;
                return true;
            case "thinking_delta" when Text(delta, "thinking") is { } thinking:
                block["thinking"] = Text(block, "thinking") + thinking;
                return true;
            case "signature_delta" when Text(delta, "signature") is { } signature:
                block["signature"] = signature;
                return true;
            case "input_json_delta" when Text(delta, "partial_json") is { } partial:
                (partialInputs.TryGetValue(index, out var input) ? input : partialInputs[index] = new StringBuilder()).Append(partial);
                return true;
            case "citations_delta" when delta["citation"] is { } citation:
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

    /// <summary>Sets every property of <paramref name="from"/> on <paramref name="into"/>, later values winning.</summary>
    private static void Merge(JsonObject? into, JsonObject? from)
    {
        if (into is null || from is null)
        {
            return;
        }

        foreach (var (name, value) in from)
        {
            into[name] = value?.DeepClone();
        }
    }

    private static int? Index(JsonObject data) =>
        data["index"] is JsonValue value && value.TryGetValue<int>(out var index) ? index : null;

    private static string? Text(JsonObject data, string name) =>
        data[name] is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;
}
