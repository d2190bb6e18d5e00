using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ClaudeStack.ScriptedUpstream;

/// <summary>Builds Anthropic Messages API responses, streamed (SSE events) or whole (JSON).</summary>
public static class AnthropicSse
{
    private static readonly JsonSerializerOptions Compact = new() { WriteIndented = false };

    /// <summary>Formats one SSE event the way Anthropic and Ollama write them.</summary>
    public static string Event(string name, JsonNode data) => $"event: {name}\ndata: {data.ToJsonString(Compact)}\n\n";

    /// <summary>The events of a complete streamed message with the given content blocks.</summary>
    public static IReadOnlyList<string> MessageEvents(ScriptedMessage message)
    {
        var events = new List<string>
        {
            Event("message_start", new JsonObject
            {
                ["type"] = "message_start",
                ["message"] = new JsonObject
                {
                    ["id"] = message.Id,
                    ["type"] = "message",
                    ["role"] = "assistant",
                    ["model"] = message.Model,
                    ["content"] = new JsonArray(),
                    ["stop_reason"] = null,
                    ["stop_sequence"] = null,
                    // The Anthropic API counts the prompt here. Ollama's count comes only at the end (message_delta);
                    // its message_start carries an estimate, a quarter of the request's characters
                    // (anthropic/anthropic.go EstimateInputTokens), which a test sets where it matters.
                    ["usage"] = new JsonObject { ["input_tokens"] = message.StartInputTokens, ["output_tokens"] = 0 },
                },
            }),
        };

        for (var index = 0; index < message.Blocks.Count; index++)
        {
            var block = message.Blocks[index];
            switch (block)
            {
                case ScriptedText text:
                    events.Add(Event("content_block_start", new JsonObject
                    {
                        ["type"] = "content_block_start",
                        ["index"] = index,
                        ["content_block"] = new JsonObject { ["type"] = "text", ["text"] = "" },
                    }));
                    foreach (var piece in text.Pieces)
                    {
                        events.Add(Event("content_block_delta", new JsonObject
                        {
                            ["type"] = "content_block_delta",
                            ["index"] = index,
                            ["delta"] = new JsonObject { ["type"] = "text_delta", ["text"] = piece },
                        }));
                    }

                    break;
                case ScriptedThinking thinking:
                    events.Add(Event("content_block_start", new JsonObject
                    {
                        ["type"] = "content_block_start",
                        ["index"] = index,
                        ["content_block"] = new JsonObject { ["type"] = "thinking", ["thinking"] = "" },
                    }));
                    events.Add(Event("content_block_delta", new JsonObject
                    {
                        ["type"] = "content_block_delta",
                        ["index"] = index,
                        ["delta"] = new JsonObject { ["type"] = "thinking_delta", ["thinking"] = thinking.Text },
                    }));
                    break;
                case ScriptedToolUse tool:
                    events.Add(Event("content_block_start", new JsonObject
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
                    }));
                    events.Add(Event("content_block_delta", new JsonObject
                    {
                        ["type"] = "content_block_delta",
                        ["index"] = index,
                        ["delta"] = new JsonObject { ["type"] = "input_json_delta", ["partial_json"] = tool.InputJson },
                    }));
                    break;
            }

            events.Add(Event("content_block_stop", new JsonObject { ["type"] = "content_block_stop", ["index"] = index }));
        }

        var usage = new JsonObject
        {
            ["input_tokens"] = message.InputTokens,
            ["output_tokens"] = message.OutputTokens,
        };
        if (message.CacheReadInputTokens is { } cacheRead)
        {
            usage["cache_read_input_tokens"] = cacheRead;
        }

        events.Add(Event("message_delta", new JsonObject
        {
            ["type"] = "message_delta",
            ["delta"] = new JsonObject { ["stop_reason"] = message.StopReason, ["stop_sequence"] = null },
            ["usage"] = usage,
        }));
        events.Add(Event("message_stop", new JsonObject { ["type"] = "message_stop" }));
        return events;
    }

    /// <summary>The same message as one non-streamed JSON response.</summary>
    public static string MessageJson(ScriptedMessage message)
    {
        var content = new JsonArray();
        foreach (var block in message.Blocks)
        {
            content.Add(block switch
            {
                ScriptedText text => new JsonObject { ["type"] = "text", ["text"] = string.Concat(text.Pieces) },
                ScriptedThinking thinking => new JsonObject { ["type"] = "thinking", ["thinking"] = thinking.Text, ["signature"] = "" },
                ScriptedToolUse tool => new JsonObject
                {
                    ["type"] = "tool_use",
                    ["id"] = tool.Id,
                    ["name"] = tool.Name,
                    ["input"] = JsonNode.Parse(tool.InputJson),
                },
                _ => throw new InvalidOperationException($"Unknown block {block.GetType().Name}"),
            });
        }

        var usage = new JsonObject { ["input_tokens"] = message.InputTokens, ["output_tokens"] = message.OutputTokens };
        if (message.CacheReadInputTokens is { } cacheRead)
        {
            usage["cache_read_input_tokens"] = cacheRead;
        }

        return new JsonObject
        {
            ["id"] = message.Id,
            ["type"] = "message",
            ["role"] = "assistant",
            ["model"] = message.Model,
            ["content"] = content,
            ["stop_reason"] = message.StopReason,
            ["stop_sequence"] = null,
            ["usage"] = usage,
        }.ToJsonString(Compact);
    }

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
