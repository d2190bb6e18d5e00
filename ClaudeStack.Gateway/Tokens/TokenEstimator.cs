using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using ClaudeStack.Gateway.Adaptation;

namespace ClaudeStack.Gateway.Tokens;

/// <summary>What a request gives the model to read: characters of text, and images.</summary>
public readonly record struct PromptSize(long TextChars, int Images)
{
    /// <summary>Images cost their encoder's tokens whatever the tokenizer: not scaled by a characters-per-token ratio.</summary>
    public long ImageTokens => Images * (long)TokenEstimator.ImageTokens;

    /// <summary>What a model without vision reads: a note in place of each image.</summary>
    public PromptSize WithImagesAsNotes() => new(TextChars + (Images * (long)TokenEstimator.ImageNoteChars), 0);
}

/// <summary>
/// Estimates a request's prompt tokens without a tokenizer: counts the characters the chat template will render
/// (text, documents, tool inputs and results, the tool definitions the model is offered) and divides by a
/// characters-per-token ratio.
/// The ratio is calibrated per model from the real counts the upstream reports (<see cref="TokenCalibration"/>).
/// </summary>
public static class TokenEstimator
{
    /// <summary>A starting ratio for English prose mixed with JSON, typical of Claude Code requests.</summary>
    public const double DefaultCharsPerToken = 3.6;

    /// <summary>Template tokens around each message (role headers, separators).</summary>
    public const int TokensPerMessage = 4;

    /// <summary>Images cost a fixed amount in most vision encoders: about this many tokens.</summary>
    public const int ImageTokens = 800;

    /// <summary>About the length of the note a model without vision gets in place of an image (<see cref="DroppedBlocks"/>).</summary>
    public const int ImageNoteChars = 160;

    /// <summary>The text that becomes prompt characters (what the ratio divides), and the images, counted apart.</summary>
    /// <param name="toolChanges">What the conversation loaded, when already read; otherwise read if a deferred tool needs it.</param>
    public static PromptSize CountPrompt(JsonElement root, ToolChanges? toolChanges = null)
    {
        long chars = 0;
        var images = 0;
        if (root.TryGetProperty("system", out var system))
        {
            chars += CountContent(system, ref images);
        }

        var messages = root.GetProperty("messages");
        var currentTurn = CurrentTurnStart(messages);
        var index = 0;
        foreach (var message in messages.EnumerateArray())
        {
            chars += message.TryGetProperty("content", out var content) ? CountContent(content, ref images, countThinking: index > currentTurn) : 0;
            index++;
        }

        if (root.TryGetProperty("tools", out var tools) && tools.ValueKind == JsonValueKind.Array)
        {
            chars += CountOfferedTools(tools, root.GetProperty("messages"), toolChanges);
        }

        return new PromptSize(chars, images);
    }

    /// <summary>
    /// The index of the last user message that asks something (not only tool results), or -1. Thinking before it is
    /// not given to the model: Anthropic strips earlier turns' thinking, and Ollama's thinking templates render it
    /// only after the last question.
    /// </summary>
    private static int CurrentTurnStart(JsonElement messages)
    {
        var index = 0;
        var last = -1;
        foreach (var message in messages.EnumerateArray())
        {
            if (message.ValueKind == JsonValueKind.Object && message.TryGetProperty("role", out var role) && role.ValueEquals("user")
                && message.TryGetProperty("content", out var content) && AsksSomething(content))
            {
                last = index;
            }

            index++;
        }

        return last;

        static bool AsksSomething(JsonElement content) =>
            content.ValueKind == JsonValueKind.String
            || (content.ValueKind == JsonValueKind.Array && content.EnumerateArray().Any(block => !ContentText.IsType(block, "tool_result")));
    }

    /// <summary>
    /// Templates render tool definitions as JSON; the raw length (read without a copy, in characters like the text) is a close stand-in.
    /// A deferred tool is not in the model's context until tool search loads it (the Messages API's rule, which the
    /// Ollama adaptation follows), nor one the conversation took away (<see cref="ToolChanges"/>).
    /// </summary>
    private static long CountOfferedTools(JsonElement tools, JsonElement messages, ToolChanges? toolChanges)
    {
        toolChanges ??= ToolChanges.Read(messages);
        long chars = 0;
        foreach (var tool in tools.EnumerateArray())
        {
            if (!toolChanges.Offers(tool))
            {
                continue;
            }

            chars += JsonChars(tool);
        }

        return chars;
    }

    public static int MessageCount(JsonElement root) =>
        root.GetProperty("messages").GetArrayLength() + (root.TryGetProperty("system", out _) ? 1 : 0);

    /// <summary>Estimated prompt tokens at a given ratio.</summary>
    public static int Estimate(PromptSize prompt, int messageCount, double charsPerToken) =>
        (int)Math.Min(int.MaxValue, Math.Ceiling(prompt.TextChars / charsPerToken) + prompt.ImageTokens + (messageCount * TokensPerMessage));

    /// <param name="countThinking">
    /// Whether the model is given this message's thinking; then only its last block, the one Ollama keeps of a message.
    /// </param>
    private static long CountContent(JsonElement content, ref int images, bool countThinking = false)
    {
        switch (content.ValueKind)
        {
            case JsonValueKind.String:
                return content.GetString()!.Length;
            case JsonValueKind.Array:
                long chars = 0;
                long lastThinking = 0;
                foreach (var block in content.EnumerateArray())
                {
                    if (countThinking && ContentText.IsType(block, "thinking"))
                    {
                        lastThinking = StringLength(block, "thinking");
                        continue;
                    }

                    chars += CountBlock(block, ref images);
                }

                return chars + lastThinking;
            default:
                return 0;
        }
    }

    /// <summary>A JSON value's length in characters, escapes as written (templates render tools and inputs as JSON).</summary>
    private static long JsonChars(JsonElement value) => Encoding.UTF8.GetCharCount(JsonMarshal.GetRawUtf8Value(value));

    private static long CountBlock(JsonElement block, ref int images)
    {
        if (block.ValueKind == JsonValueKind.String)
        {
            return block.GetString()!.Length;
        }

        if (block.ValueKind != JsonValueKind.Object || !block.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
        {
            return 0;
        }

        // Counted apart: what an image costs depends on whether the model can see it.
        if (type.ValueEquals("image"))
        {
            images++;
            return 0;
        }

        return type.GetString() switch
        {
            "text" => StringLength(block, "text"),
            "tool_use" => StringLength(block, "name") + (block.TryGetProperty("input", out var input) ? JsonChars(input) : 0),
            "tool_result" or "search_result" => block.TryGetProperty("content", out var content) ? CountContent(content, ref images) : 0,
            "document" => CountDocument(block),
            _ => 0,
        };
    }

    /// <summary>A document given as text is read whole; a PDF or file reference is left out (its size is unknown here).</summary>
    private static long CountDocument(JsonElement document)
    {
        if (!document.TryGetProperty("source", out var source) || source.ValueKind != JsonValueKind.Object
            || !source.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
        {
            return 0;
        }

        // A document's images do not reach the model: it is given the document's text.
        var imagesNotGiven = 0;
        var body = type.ValueEquals("text") ? StringLength(source, "data")
            : type.ValueEquals("content") && source.TryGetProperty("content", out var content) ? CountContent(content, ref imagesNotGiven)
            : 0;
        return body + StringLength(document, "title");
    }

    private static long StringLength(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString()!.Length : 0;
}
