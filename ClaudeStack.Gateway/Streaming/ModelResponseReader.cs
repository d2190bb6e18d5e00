using System.Text.Json;

namespace ClaudeStack.Gateway.Streaming;

/// <summary>Reads a whole (non-streamed) Messages API response into a <see cref="ModelResponse"/>.</summary>
public static class ModelResponseReader
{
    /// <summary>
    /// How deep an answer is read, and written when the gateway folds one: a request's depth plus the message around a
    /// tool input.
    /// </summary>
    public const int MaxDepth = Requests.MessagesRequest.MaxDepth + 4;

    public static ModelResponse Read(ReadOnlySpan<byte> body)
    {
        var response = new ModelResponse();
        try
        {
            var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = MaxDepth });
            using var document = JsonDocument.ParseValue(ref reader);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                response.MalformedEvents++;
                return response;
            }

            response.IsMessage = String(root, "type") == "message";
            response.Id = String(root, "id");
            response.Model = String(root, "model");
            response.StopReason = String(root, "stop_reason");
            if (root.TryGetProperty("usage", out var usage))
            {
                MessageStreamObserver.ReadUsage(usage, response);
            }

            response.NullContent = root.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.Null;
            if (content.ValueKind == JsonValueKind.Array)
            {
                var index = 0;
                foreach (var block in content.EnumerateArray())
                {
                    var observed = new ObservedBlock
                    {
                        Index = index++,
                        Type = String(block, "type") ?? "",
                        ToolUseId = String(block, "id") ?? String(block, "tool_use_id"),
                        ToolName = String(block, "name"),
                        Complete = true,
                    };
                    observed.Content.Append(observed.Type switch
                    {
                        "text" => String(block, "text"),
                        "thinking" => String(block, "thinking"),
                        var call when (call == "tool_use" || ObservedBlock.IsServerToolCall(call)) && block.TryGetProperty("input", out var input) => input.GetRawText(),
                        var type when ObservedBlock.IsServerToolResult(type) && block.TryGetProperty("content", out var result) => result.GetRawText(),
                        _ => null,
                    });
                    response.Blocks.Add(observed);
                }
            }

            response.Completed = true;
        }
        catch (Exception exception) when (exception is JsonException or InvalidOperationException)
        {
            // Reading is observation: an answer of an unexpected shape is still relayed as the upstream sent it.
            response.MalformedEvents++;
        }

        return response;
    }

    private static string? String(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;
}
