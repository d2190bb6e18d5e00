using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ClaudeStack.ScriptedUpstream;

/// <summary>
/// How a server writes a Messages answer. Ollama v0.32.15 builds its answers from Go structs (anthropic/anthropic.go)
/// whose <c>omitempty</c> fields leave out what the Anthropic API writes as null or empty.
/// </summary>
public enum MessageWire
{
    /// <summary>The Anthropic API's shape: <c>stop_reason</c> and <c>stop_sequence</c> always present, null until known.</summary>
    Anthropic,

    /// <summary>
    /// Ollama's: no <c>stop_reason</c> or <c>stop_sequence</c> in <c>message_start</c> nor <c>stop_sequence</c> anywhere
    /// (MessagesResponse, MessageDelta), usage with input and output tokens only (Usage, DeltaUsage), a thinking block
    /// without <c>signature</c>, <c>"content":null</c> for a whole answer with no blocks (a nil slice), Go's JSON
    /// escaping (json.Marshal), and the line break json.Encoder ends a whole answer with (AnthropicWriter.writeResponse).
    /// </summary>
    Ollama,
}

/// <summary>Builds Anthropic Messages API responses, streamed (SSE events) or whole (JSON).</summary>
public static class AnthropicSse
{
    private static readonly JsonSerializerOptions Compact = new() { WriteIndented = false };

    /// <summary>Formats one SSE event the way Anthropic and Ollama write them (middleware/anthropic.go writeSSE).</summary>
    public static string Event(string name, JsonNode data, MessageWire wire = MessageWire.Anthropic) =>
        $"event: {name}\ndata: {Write(data, wire)}\n\n";

    /// <summary>The events of a complete streamed message with the given content blocks.</summary>
    public static IReadOnlyList<string> MessageEvents(ScriptedMessage message, MessageWire wire = MessageWire.Anthropic)
    {
        var started = new JsonObject
        {
            ["id"] = message.Id,
            ["type"] = "message",
            ["role"] = "assistant",
            ["model"] = message.Model,
            ["content"] = new JsonArray(),
        };
        if (wire == MessageWire.Anthropic)
        {
            started["stop_reason"] = null;
            started["stop_sequence"] = null;
        }

        // The Anthropic API counts the prompt here. Ollama's count comes only at the end (message_delta); its
        // message_start carries an estimate, a quarter of the request's characters (anthropic/anthropic.go
        // EstimateInputTokens), which a test sets where it matters.
        started["usage"] = new JsonObject { ["input_tokens"] = message.StartInputTokens, ["output_tokens"] = 0 };
        var events = new List<string> { Event("message_start", new JsonObject { ["type"] = "message_start", ["message"] = started }, wire) };

        void Add(string name, JsonObject data) => events.Add(Event(name, data, wire));

        var index = 0;
        foreach (var block in message.Blocks)
        {
            switch (block)
            {
                // Ollama writes text only when the model produced some (StreamConverter.Process: Content != "").
                case ScriptedText text when wire == MessageWire.Ollama && text.Pieces.All(p => p.Length == 0):
                    continue;
                case ScriptedText text:
                    Add("content_block_start", new JsonObject
                    {
                        ["type"] = "content_block_start",
                        ["index"] = index,
                        ["content_block"] = new JsonObject { ["type"] = "text", ["text"] = "" },
                    });
                    foreach (var piece in text.Pieces.Where(p => wire == MessageWire.Anthropic || p.Length > 0))
                    {
                        Add("content_block_delta", new JsonObject
                        {
                            ["type"] = "content_block_delta",
                            ["index"] = index,
                            ["delta"] = new JsonObject { ["type"] = "text_delta", ["text"] = piece },
                        });
                    }

                    break;
                case ScriptedThinking thinking:
                    Add("content_block_start", new JsonObject
                    {
                        ["type"] = "content_block_start",
                        ["index"] = index,
                        ["content_block"] = new JsonObject { ["type"] = "thinking", ["thinking"] = "" },
                    });
                    Add("content_block_delta", new JsonObject
                    {
                        ["type"] = "content_block_delta",
                        ["index"] = index,
                        ["delta"] = new JsonObject { ["type"] = "thinking_delta", ["thinking"] = thinking.Text },
                    });
                    break;
                case ScriptedToolUse tool:
                    Add("content_block_start", new JsonObject
                    {
                        ["type"] = "content_block_start",
                        ["index"] = index,
                        ["content_block"] = new JsonObject
                        {
                            ["type"] = "tool_use",
                            ["id"] = tool.Id,
                            ["name"] = tool.Name,
                            ["input"] = new JsonObject(),
                        },
                    });
                    Add("content_block_delta", new JsonObject
                    {
                        ["type"] = "content_block_delta",
                        ["index"] = index,
                        ["delta"] = new JsonObject { ["type"] = "input_json_delta", ["partial_json"] = tool.InputJson },
                    });
                    break;
            }

            Add("content_block_stop", new JsonObject { ["type"] = "content_block_stop", ["index"] = index });
            index++;
        }

        var delta = new JsonObject();
        if (wire == MessageWire.Anthropic || message.StopReason.Length > 0)
        {
            delta["stop_reason"] = message.StopReason;
        }

        if (wire == MessageWire.Anthropic)
        {
            delta["stop_sequence"] = null;
        }

        Add("message_delta", new JsonObject
        {
            ["type"] = "message_delta",
            ["delta"] = delta,
            ["usage"] = Usage(message, wire),
        });
        Add("message_stop", new JsonObject { ["type"] = "message_stop" });
        return events;
    }

    /// <summary>The same message as one non-streamed JSON response.</summary>
    public static string MessageJson(ScriptedMessage message, MessageWire wire = MessageWire.Anthropic)
    {
        var ollama = wire == MessageWire.Ollama;
        var content = new JsonArray();
        foreach (var block in message.Blocks)
        {
            switch (block)
            {
                // ToMessagesResponse adds a text block only for text the model produced.
                case ScriptedText text when ollama && text.Pieces.All(p => p.Length == 0):
                    break;
                case ScriptedText text:
                    content.Add(new JsonObject { ["type"] = "text", ["text"] = string.Concat(text.Pieces) });
                    break;
                case ScriptedThinking thinking:
                    var thought = new JsonObject { ["type"] = "thinking", ["thinking"] = thinking.Text };
                    if (!ollama)
                    {
                        thought["signature"] = "";
                    }

                    content.Add(thought);
                    break;
                case ScriptedToolUse tool:
                    content.Add(new JsonObject
                    {
                        ["type"] = "tool_use",
                        ["id"] = tool.Id,
                        ["name"] = tool.Name,
                        ["input"] = JsonNode.Parse(tool.InputJson),
                    });
                    break;
                default:
                    throw new InvalidOperationException($"Unknown block {block.GetType().Name}");
            }
        }

        var answer = new JsonObject
        {
            ["id"] = message.Id,
            ["type"] = "message",
            ["role"] = "assistant",
            ["model"] = message.Model,
            ["content"] = ollama && content.Count == 0 ? null : content,
        };
        if (!ollama || message.StopReason.Length > 0)
        {
            answer["stop_reason"] = message.StopReason;
        }

        if (!ollama)
        {
            answer["stop_sequence"] = null;
        }

        answer["usage"] = Usage(message, wire);
        return ollama ? GoJson.Write(answer) + "\n" : answer.ToJsonString(Compact);
    }

    /// <summary>The final usage; Ollama's counts only input and output tokens (Usage, DeltaUsage).</summary>
    private static JsonObject Usage(ScriptedMessage message, MessageWire wire)
    {
        var usage = new JsonObject { ["input_tokens"] = message.InputTokens, ["output_tokens"] = message.OutputTokens };
        if (wire == MessageWire.Anthropic && message.CacheReadInputTokens is { } cacheRead)
        {
            usage["cache_read_input_tokens"] = cacheRead;
        }

        return usage;
    }

    private static string Write(JsonNode data, MessageWire wire) => wire == MessageWire.Ollama ? GoJson.Write(data) : data.ToJsonString(Compact);

    /// <summary>
    /// An Anthropic error body, with a <c>request_id</c> as the Anthropic API writes one, and Ollama v0.32.15 too
    /// (anthropic/anthropic.go NewError: <c>generateID("req")</c>).
    /// </summary>
    public static string ErrorJson(string type, string message) =>
        new JsonObject
        {
            ["type"] = "error",
            ["error"] = new JsonObject { ["type"] = type, ["message"] = message },
            ["request_id"] = "req_scripted_error",
        }.ToJsonString(Compact);

    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);
}
