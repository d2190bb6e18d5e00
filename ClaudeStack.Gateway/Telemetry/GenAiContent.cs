using System.Buffers;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using ClaudeStack.Gateway.Adaptation;
using ClaudeStack.Gateway.Streaming;

namespace ClaudeStack.Gateway.Telemetry;

/// <summary>
/// Message content as JSON in the shape of the GenAI conventions, which the Aspire dashboard's GenAI view reads:
/// messages with a role and parts of type text, tool_call{id,name,arguments}, tool_call_response{id,response}, reasoning,
/// blob, uri and file (images and documents), server_tool_call{id,name,server_tool_call},
/// server_tool_call_response{id,server_tool_call_response}, and any other block as a generic part.
/// Only built when content capture is on. Written straight from the request's JSON: its strings, tool inputs and
/// schemas are copied as the client wrote them rather than parsed into objects or strings first. Each attribute has a
/// budget it stops adding parts at (one part may cross it), so that a span, which travels whole in one export request,
/// stays under the 4 MiB the Aspire dashboard accepts: 2 MB of input messages as the request sent them (2.5 MB as
/// written), 192 KB of system instructions, 384 KB of tool definitions and 384 KB of output messages. With a <see cref="SecretRedactor"/> the result is masked, and a
/// text is masked before it is cut, so a cut never keeps the start of a secret that the mask could no longer match.
/// </summary>
public static class GenAiContent
{
    /// <summary>Longest text (or inline base64 data) kept per part; Claude Code's system prompt alone is ~80 KB.</summary>
    public const int MaxPartChars = 128 * 1024;

    /// <summary>
    /// Most of the request's JSON a span records as input messages. A span travels whole in one export request, which
    /// the Aspire dashboard refuses over 4 MiB: past this, the oldest messages but the opening one are left out.
    /// </summary>
    public const int MaxInputMessagesBytes = 2 * 1024 * 1024;

    // Past this the input messages as written stop, whatever they measured as sent.
    private const int MaxInputMessagesWrittenBytes = MaxInputMessagesBytes * 5 / 4;

    /// <summary>Most of the system prompt a span records.</summary>
    public const int MaxSystemInstructionsBytes = 192 * 1024;

    /// <summary>Most of the tool definitions a span records; Claude Code's own 25 tools take about 60 KB.</summary>
    public const int MaxToolDefinitionsBytes = 384 * 1024;

    /// <summary>Most of the answer a span records.</summary>
    public const int MaxOutputMessagesBytes = 384 * 1024;

    // MaxInputMessagesBytes, in the words a reader of the span sees.
    private const string NotRecorded = "not recorded: a span keeps its input messages under 2 MB";

    // A thread keeps its buffer between calls unless one call made it larger than this.
    private const int KeptBufferBytes = 256 * 1024;

    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    // The redactor of the content being written on this thread, for the cuts made while writing it.
    [ThreadStatic]
    private static SecretRedactor? t_redactor;

    /// <summary>The system prompt's text parts, or <see langword="null"/> when it has none.</summary>
    public static string? SystemInstructions(JsonElement system, SecretRedactor? redactor = null)
    {
        List<JsonElement> texts = system.ValueKind switch
        {
            JsonValueKind.String => [system],
            JsonValueKind.Array => system.EnumerateArray()
                .Select(block => block.ValueKind == JsonValueKind.Object && block.TryGetProperty("text", out var text) ? text : default)
                .Where(text => text.ValueKind == JsonValueKind.String)
                .ToList(),
            _ => [],
        };

        return texts.Count == 0 ? null : Write(texts, redactor, static (writer, texts) =>
        {
            writer.WriteStartArray();
            var left = texts.Count;
            foreach (var text in texts)
            {
                if (OverBudget(writer, MaxSystemInstructionsBytes))
                {
                    WriteTextPart(writer, LeftOut(left, "parts of the system prompt", "system instructions", MaxSystemInstructionsBytes));
                    break;
                }

                WriteTextPart(writer, text);
                left--;
            }

            writer.WriteEndArray();
        });
    }

    public static string InputMessages(JsonElement messages, SecretRedactor? redactor = null) => Write(messages, redactor, static (writer, messages) =>
    {
        var (leaveOutFrom, leaveOutTo, leftOutBytes) = MessagesOverBudget(messages);
        writer.WriteStartArray();
        var index = 0;
        var count = messages.GetArrayLength();
        foreach (var message in messages.EnumerateArray())
        {
            var position = index++;

            // The budget is measured on the request as sent, and the parts' wrapping makes the written form a little
            // larger; text written again (an emoji escaped as two \u escapes takes three times its bytes) can make it
            // much larger, and the span must still fit an export request.
            if (OverBudget(writer, MaxInputMessagesWrittenBytes))
            {
                WriteNoteMessage(writer, $"[{count - position} later messages {NotRecorded}]");
                break;
            }

            if (position == leaveOutFrom)
            {
                WriteNoteMessage(writer, $"[{leaveOutTo - leaveOutFrom} earlier messages ({leftOutBytes / 1024} KB) {NotRecorded}]");
            }

            if (position >= leaveOutFrom && position < leaveOutTo)
            {
                continue;
            }

            var role = message.GetProperty("role").GetString() ?? "user";
            var content = message.GetProperty("content");
            if (content.ValueKind == JsonValueKind.String || content.GetArrayLength() == 0)
            {
                // A message without parts would read as a tool's in the dashboard, which takes all-results for one.
                writer.WriteStartObject();
                writer.WriteString("role", role);
                writer.WriteStartArray("parts");
                if (content.ValueKind == JsonValueKind.String)
                {
                    WriteTextPart(writer, content);
                }
                else
                {
                    WriteTextPart(writer, "");
                }

                writer.WriteEndArray();
                writer.WriteEndObject();
                continue;
            }

            // The dashboard titles a message "Tool" only when every part is a tool's result, and shows a result as text:
            // Claude Code's turns put notes (system reminders) beside the results, and tools return screenshots. The
            // results go first as a message of their own, as Anthropic orders them; the rest, and the results' images
            // as images, follow as a second one.
            var results = content.EnumerateArray().Count(IsToolResult);
            if (results == 0 || (results == content.GetArrayLength() && !content.EnumerateArray().Any(HoldsImages)))
            {
                WriteMessage(writer, role, content.EnumerateArray());
                continue;
            }

            WriteMessage(writer, role, content.EnumerateArray().Where(IsToolResult));
            WriteMessage(writer, role, content.EnumerateArray().SelectMany(block => IsToolResult(block) ? ResultImages(block) : [block]));
        }

        writer.WriteEndArray();
    });

    private static void WriteMessage(Utf8JsonWriter writer, string role, IEnumerable<JsonElement> blocks)
    {
        writer.WriteStartObject();
        writer.WriteString("role", role);
        writer.WriteStartArray("parts");
        var parts = blocks.ToList();
        var left = parts.Count;
        foreach (var block in parts)
        {
            // The messages kept fit the budget as sent; only messages with dozens of large parts get here.
            if (OverBudget(writer, MaxInputMessagesWrittenBytes))
            {
                WriteTextPart(writer, $"[{left} more parts of this message {NotRecorded}]");
                break;
            }

            WriteInputPart(writer, block);
            left--;
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    private static bool IsToolResult(JsonElement block) => ContentText.IsType(block, "tool_result");

    private static bool HoldsImages(JsonElement block) => IsToolResult(block) && ResultImages(block).Any();

    /// <summary>The image blocks in a tool result's content (its text names each as <c>[image]</c>).</summary>
    private static IEnumerable<JsonElement> ResultImages(JsonElement result) =>
        result.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.Array
            ? content.EnumerateArray().Where(part => ContentText.IsType(part, "image"))
            : [];

    public static string OutputMessages(ModelResponse response, SecretRedactor? redactor = null) => Write(response, redactor, static (writer, response) =>
    {
        writer.WriteStartArray();
        writer.WriteStartObject();
        writer.WriteString("role", "assistant");
        writer.WriteStartArray("parts");
        var left = response.Blocks.Count;
        foreach (var block in response.Blocks)
        {
            if (OverBudget(writer, MaxOutputMessagesBytes))
            {
                WriteTextPart(writer, LeftOut(left, "parts of the answer", "output messages", MaxOutputMessagesBytes));
                break;
            }

            left--;
            var content = block.Content.ToString();
            switch (block.Type)
            {
                case "tool_use":
                    WriteToolCallStart(writer, block.ToolUseId, block.ToolName);

                    // No input_json_delta at all is a call without arguments, as Anthropic's own "input": {} says.
                    writer.WritePropertyName("arguments");
                    WriteJsonOrText(writer, content.Length == 0 ? "{}" : content);
                    writer.WriteEndObject();
                    break;
                case "thinking":
                    WriteReasoningPart(writer, content);
                    break;
                case "text":
                    WriteTextPart(writer, content);
                    break;
                case var call when ObservedBlock.IsServerToolCall(call):
                    WriteServerToolCallStart(writer, block.ToolUseId, block.ToolName);
                    WriteJsonOrText(writer, content.Length == 0 ? "{}" : content);
                    EndServerToolPart(writer);
                    break;
                case var result when ObservedBlock.IsServerToolResult(result):
                    WriteServerToolResultStart(writer, block.ToolUseId, result);
                    WriteJsonOrText(writer, content.Length == 0 ? "null" : content);
                    EndServerToolPart(writer);
                    break;
                default:
                    // redacted_thinking, like any block whose content the stream does not carry as text, has nothing to show.
                    if (content.Length > 0)
                    {
                        WriteTextPart(writer, content);
                    }

                    break;
            }
        }

        writer.WriteEndArray();

        // Required by the conventions' schema; a stream cut short has none of its own.
        writer.WriteString("finish_reason", FinishReason.Of(response));

        writer.WriteEndObject();
        writer.WriteEndArray();
    });

    public static string ToolDefinitions(JsonElement tools, SecretRedactor? redactor = null) => Write(tools, redactor, static (writer, tools) =>
    {
        writer.WriteStartArray();
        var left = tools.GetArrayLength();
        foreach (var tool in tools.EnumerateArray())
        {
            if (OverBudget(writer, MaxToolDefinitionsBytes))
            {
                // An entry of the list, so the dashboard's Tools list says what it does not show.
                writer.WriteStartObject();
                writer.WriteString("type", "function");
                writer.WriteString("name", LeftOut(left, "tools", "tool definitions", MaxToolDefinitionsBytes));
                writer.WriteEndObject();
                break;
            }

            left--;
            if (tool.ValueKind != JsonValueKind.Object)
            {
                continue;
            }

            writer.WriteStartObject();
            writer.WriteString("type", "function");

            // The dashboard reads names, descriptions and schemas' strings as strings: one of another kind, in any tool,
            // loses the span's whole Tools list (left out here, as a client's odd tool is no reason to lose the others).
            if (tool.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String)
            {
                writer.WritePropertyName("name");
                WriteBoundedJson(writer, name);
            }

            if (tool.TryGetProperty("description", out var description) && description.ValueKind == JsonValueKind.String)
            {
                writer.WritePropertyName("description");
                WriteRequestString(writer, description);
            }

            // A schema larger than a part may be is left out rather than cut into text that is no schema.
            if (tool.TryGetProperty("input_schema", out var schema) && JsonMarshal.GetRawUtf8Value(schema).Length <= MaxPartChars && DashboardReadsSchema(schema))
            {
                writer.WritePropertyName("parameters");
                WriteRequestJson(writer, schema);
            }

            writer.WriteEndObject();
        }

        writer.WriteEndArray();
    });

    /// <summary>
    /// Whether the dashboard (Aspire 13.5.2, GenAISchemaHelpers) can read the schema: a <c>description</c> and the
    /// <c>required</c> entries as strings, in the schema and in every object under <c>properties</c> and <c>items</c>.
    /// </summary>
    private static bool DashboardReadsSchema(JsonElement schema)
    {
        if (schema.ValueKind != JsonValueKind.Object)
        {
            return true;
        }

        if (schema.TryGetProperty("description", out var description) && description.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
        {
            return false;
        }

        if (schema.TryGetProperty("required", out var required) && required.ValueKind == JsonValueKind.Array
            && required.EnumerateArray().Any(item => item.ValueKind is not (JsonValueKind.String or JsonValueKind.Null)))
        {
            return false;
        }

        var properties = schema.TryGetProperty("properties", out var map) && map.ValueKind == JsonValueKind.Object
            ? map.EnumerateObject().Select(property => property.Value)
            : [];
        var items = schema.TryGetProperty("items", out var itemSchema) ? [itemSchema] : Array.Empty<JsonElement>();
        return properties.Concat(items).All(DashboardReadsSchema);
    }

    /// <summary>
    /// Which messages to leave out, [From, To), so the rest fit the budget: none when the request's messages fit.
    /// The newest messages are what the model answered, so they stay; so does the opening one (the task), when small.
    /// </summary>
    private static (int From, int To, long Bytes) MessagesOverBudget(JsonElement messages)
    {
        if (JsonMarshal.GetRawUtf8Value(messages).Length <= MaxInputMessagesBytes)
        {
            return (-1, -1, 0);
        }

        var sizes = new List<int>();
        foreach (var message in messages.EnumerateArray())
        {
            sizes.Add(JsonMarshal.GetRawUtf8Value(message).Length);
        }

        // Only whitespace made the array that large.
        if (sizes.Count == 0)
        {
            return (-1, -1, 0);
        }

        var from = sizes[0] <= MaxInputMessagesBytes / 4 ? 1 : 0;
        long room = MaxInputMessagesBytes - (from == 1 ? sizes[0] : 0) - sizes[^1];
        var to = sizes.Count - 1;
        while (to > from && sizes[to - 1] <= room)
        {
            room -= sizes[--to];
        }

        return to > from ? (from, to, sizes[from..to].Sum(size => (long)size)) : (-1, -1, 0);
    }

    // A message of its own, from the system role, so it reads as no part of the conversation.
    private static void WriteNoteMessage(Utf8JsonWriter writer, string text)
    {
        writer.WriteStartObject();
        writer.WriteString("role", "system");
        writer.WriteStartArray("parts");
        WriteTextPart(writer, text);
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    private static void WriteInputPart(Utf8JsonWriter writer, JsonElement block)
    {
        var type = block.TryGetProperty("type", out var t) ? t.GetString() : null;
        switch (type)
        {
            case "text":
                WriteTextPart(writer, Property(block, "text"));
                break;
            case "thinking":
                WriteReasoningPart(writer, Property(block, "thinking"));
                break;
            case "tool_use":
                WriteToolCallStart(writer, OptionalString(block, "id"), OptionalString(block, "name"));
                writer.WritePropertyName("arguments");
                if (block.TryGetProperty("input", out var input))
                {
                    WriteRequestJson(writer, input);
                }
                else
                {
                    writer.WriteNullValue();
                }

                writer.WriteEndObject();
                break;
            case "tool_result":
                writer.WriteStartObject();
                writer.WriteString("type", "tool_call_response");
                writer.WriteString("id", OptionalString(block, "tool_use_id"));
                writer.WritePropertyName("response");
                WriteToolResultResponse(writer, block);
                writer.WriteEndObject();
                break;
            case "image" or "document":
                WriteMediaPart(writer, block, type);
                break;
            case "redacted_thinking":
                break;
            case var call when ObservedBlock.IsServerToolCall(call):
                WriteServerToolCallStart(writer, OptionalString(block, "id"), OptionalString(block, "name"));
                WriteBoundedJson(writer, block.TryGetProperty("input", out var serverInput) ? serverInput : default);
                EndServerToolPart(writer);
                break;
            case var result when ObservedBlock.IsServerToolResult(result):
                WriteServerToolResultStart(writer, OptionalString(block, "tool_use_id"), result);
                WriteBoundedJson(writer, block.TryGetProperty("content", out var resultContent) ? resultContent : default);
                EndServerToolPart(writer);
                break;
            default:
                WriteGenericPart(writer, block);
                break;
        }
    }

    /// <summary>
    /// An image or document as the conventions' blob, uri or file part (the dashboard shows an image blob as the image
    /// and offers other blobs for download), a text document as its text. Inline data longer than a part may be is a
    /// note of its type and size instead: the history repeats an image on every later call of the conversation.
    /// </summary>
    private static void WriteMediaPart(Utf8JsonWriter writer, JsonElement block, string modality)
    {
        var source = block.TryGetProperty("source", out var value) && value.ValueKind == JsonValueKind.Object ? value : default;
        var mediaType = StringOrNull(source, "media_type");
        switch (StringOrNull(source, "type"))
        {
            case "base64" when source.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.String:
                // The raw value, quotes included, measured without copying what may be megabytes.
                var base64Chars = JsonMarshal.GetRawUtf8Value(data).Length - 2;
                if (base64Chars > MaxPartChars)
                {
                    var what = mediaType is null ? modality : $"{mediaType} {modality}";
                    WriteTextPart(writer, string.Create(CultureInfo.InvariantCulture, $"[{what}, {base64Chars / 4 * 3 / 1024:N0} KB, too large to record]"));
                    break;
                }

                WriteMediaPartStart(writer, "blob", mediaType, modality);
                writer.WritePropertyName("content");
                WriteRequestJson(writer, data);
                writer.WriteEndObject();
                break;
            case "url" when StringOrNull(source, "url") is { } url:
                // Anthropic's URL sources carry no media type; the dashboard shows a uri part inline only with one.
                WriteMediaPartStart(writer, "uri", mediaType ?? MediaTypeOf(url), modality);
                writer.WriteString("uri", url);
                writer.WriteEndObject();
                break;
            case "file" when StringOrNull(source, "file_id") is { } fileId:
                WriteMediaPartStart(writer, "file", mediaType, modality);
                writer.WriteString("file_id", fileId);
                writer.WriteEndObject();
                break;
            case "text" when source.TryGetProperty("data", out var text) && text.ValueKind == JsonValueKind.String:
                WriteTextPart(writer, text);
                break;
            default:
                WriteGenericPart(writer, block);
                break;
        }
    }

    /// <summary>The media type a URL's file extension names, for the kinds Anthropic takes by URL; null for others.</summary>
    private static string? MediaTypeOf(string url) =>
        (Uri.TryCreate(url, UriKind.Absolute, out var uri) ? Path.GetExtension(uri.AbsolutePath) : "").ToLowerInvariant() switch
        {
            ".png" => "image/png",
            ".jpg" or ".jpeg" => "image/jpeg",
            ".gif" => "image/gif",
            ".webp" => "image/webp",
            ".pdf" => "application/pdf",
            _ => null,
        };

    /// <summary>Opens a blob, uri or file part; the caller writes what it refers to and closes it.</summary>
    private static void WriteMediaPartStart(Utf8JsonWriter writer, string type, string? mediaType, string modality)
    {
        writer.WriteStartObject();
        writer.WriteString("type", type);
        writer.WriteString("mime_type", mediaType);
        writer.WriteString("modality", modality);
    }

    /// <summary>
    /// A block the conventions have no part for is itself a generic part (a type and its fields), which the dashboard
    /// lists field by field; one larger than a part may be is cut as text.
    /// </summary>
    private static void WriteGenericPart(Utf8JsonWriter writer, JsonElement block)
    {
        if (JsonMarshal.GetRawUtf8Value(block).Length <= MaxPartChars)
        {
            WriteRequestJson(writer, block);
        }
        else
        {
            WriteTextPart(writer, block.GetRawText());
        }
    }

    /// <summary>
    /// A tool result's content as one string: its text, other blocks named in brackets. A failed one starts with the
    /// mark the adaptation gives the model: the part has no field for a failure, and the dashboard would show it as a
    /// success.
    /// </summary>
    private static void WriteToolResultResponse(Utf8JsonWriter writer, JsonElement block)
    {
        if (block.TryGetProperty("is_error", out var isError) && isError.ValueKind == JsonValueKind.True)
        {
            writer.WriteStringValue(Truncate(ContentText.ToolErrorMark + ToolResultText(block)));
            return;
        }

        if (block.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String)
        {
            WriteRequestString(writer, content);
            return;
        }

        if (content.ValueKind == JsonValueKind.Array && content.GetArrayLength() == 1
            && content[0].TryGetProperty("text", out var onlyText) && onlyText.ValueKind == JsonValueKind.String)
        {
            WriteRequestString(writer, onlyText);
            return;
        }

        writer.WriteStringValue(Truncate(ToolResultText(block)));
    }

    private static string ToolResultText(JsonElement block)
    {
        if (!block.TryGetProperty("content", out var content))
        {
            return "";
        }

        if (content.ValueKind == JsonValueKind.String)
        {
            return content.GetString()!;
        }

        var pieces = content.ValueKind == JsonValueKind.Array
            ? content.EnumerateArray().Select(part => part.TryGetProperty("text", out var text) ? text.GetString() : $"[{(part.TryGetProperty("type", out var type) ? type.GetString() : "part")}]")
            : [content.GetRawText()];
        return string.Join("\n", pieces);
    }

    private static void WriteTextPart(Utf8JsonWriter writer, string? text) => WriteContentPart(writer, "text", text);

    private static void WriteTextPart(Utf8JsonWriter writer, JsonElement text) => WriteContentPart(writer, "text", text);

    private static void WriteReasoningPart(Utf8JsonWriter writer, string? text) => WriteContentPart(writer, "reasoning", text);

    private static void WriteReasoningPart(Utf8JsonWriter writer, JsonElement text) => WriteContentPart(writer, "reasoning", text);

    /// <summary>A part whose payload is one truncated string: text or reasoning.</summary>
    private static void WriteContentPart(Utf8JsonWriter writer, string type, string? text)
    {
        writer.WriteStartObject();
        writer.WriteString("type", type);
        writer.WriteString("content", Truncate(text));
        writer.WriteEndObject();
    }

    /// <summary>The same for a string of the request (absent or null is empty).</summary>
    private static void WriteContentPart(Utf8JsonWriter writer, string type, JsonElement text)
    {
        writer.WriteStartObject();
        writer.WriteString("type", type);
        writer.WritePropertyName("content");
        WriteRequestString(writer, text);
        writer.WriteEndObject();
    }

    /// <summary>
    /// A string of the request, copied as the client escaped it when it needs no cutting (its escaped UTF-8 is never
    /// shorter than its text); otherwise read, cut and written again. An absent or null value is empty; any other
    /// kind throws, as reading it as a string would.
    /// </summary>
    private static void WriteRequestString(Utf8JsonWriter writer, JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.String && JsonMarshal.GetRawUtf8Value(value).Length - 2 <= MaxPartChars && !HasUnicodeEscape(value))
        {
            writer.WriteRawValue(JsonMarshal.GetRawUtf8Value(value), skipInputValidation: true);
        }
        else
        {
            writer.WriteStringValue(Truncate(value.ValueKind == JsonValueKind.Undefined ? null : value.GetString()));
        }
    }

    /// <summary>
    /// A value of the request copied as the client wrote it: reading and escaping its strings again costs about ten
    /// times the copy. The parsed request is valid JSON, so the copy is too.
    /// </summary>
    private static void WriteRequestJson(Utf8JsonWriter writer, JsonElement value)
    {
        if (HasUnicodeEscape(value))
        {
            value.WriteTo(writer);
        }
        else
        {
            writer.WriteRawValue(JsonMarshal.GetRawUtf8Value(value), skipInputValidation: true);
        }
    }

    /// <summary>
    /// Whether the client wrote a character as a \u escape. Such a value is written again, as the characters themselves,
    /// so that a secret spelled with escapes is masked like one typed plainly. Claude Code writes \u only for control
    /// characters, so this is rare.
    /// </summary>
    private static bool HasUnicodeEscape(JsonElement value) => JsonMarshal.GetRawUtf8Value(value).IndexOf("\\u"u8) >= 0;

    /// <summary>Opens a tool_call part; the caller writes <c>arguments</c> and closes it.</summary>
    private static void WriteToolCallStart(Utf8JsonWriter writer, string? id, string? name)
    {
        writer.WriteStartObject();
        writer.WriteString("type", "tool_call");
        writer.WriteString("id", id);
        writer.WriteString("name", name);
    }

    /// <summary>
    /// Opens a server_tool_call part; the caller writes the tool's input and closes it with <see cref="EndServerToolPart"/>.
    /// The details carry the conventions' required type (the tool's name) and Anthropic's input as it is.
    /// </summary>
    private static void WriteServerToolCallStart(Utf8JsonWriter writer, string? id, string? name)
    {
        writer.WriteStartObject();
        writer.WriteString("type", "server_tool_call");
        writer.WriteString("id", id);
        writer.WriteString("name", name);
        writer.WriteStartObject("server_tool_call");
        writer.WriteString("type", name);
        writer.WritePropertyName("input");
    }

    /// <summary>Opens a server_tool_call_response part typed by Anthropic's block type; the caller writes the content.</summary>
    private static void WriteServerToolResultStart(Utf8JsonWriter writer, string? id, string blockType)
    {
        writer.WriteStartObject();
        writer.WriteString("type", "server_tool_call_response");
        writer.WriteString("id", id);
        writer.WriteStartObject("server_tool_call_response");
        writer.WriteString("type", blockType);
        writer.WritePropertyName("content");
    }

    private static void EndServerToolPart(Utf8JsonWriter writer)
    {
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    /// <summary>
    /// A value from the request as JSON, or as cut text when it is larger than a part may be (a fetched page can be).
    /// An absent value is null.
    /// </summary>
    private static void WriteBoundedJson(Utf8JsonWriter writer, JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.Undefined)
        {
            writer.WriteNullValue();
        }
        else if (JsonMarshal.GetRawUtf8Value(value).Length <= MaxPartChars)
        {
            WriteRequestJson(writer, value);
        }
        else
        {
            writer.WriteStringValue(Truncate(value.GetRawText()));
        }
    }

    /// <summary>
    /// Tool input of the answer as JSON when it is one JSON value no larger than a part may be, else as cut text (a
    /// model can stop mid-argument, and a whole answer keeps a written file's content whole).
    /// </summary>
    private static void WriteJsonOrText(Utf8JsonWriter writer, string content)
    {
        var utf8 = content.Length <= MaxPartChars ? Encoding.UTF8.GetBytes(content) : null;
        if (utf8 is not null && IsSingleJsonValue(utf8))
        {
            writer.WriteRawValue(utf8, skipInputValidation: true);
        }
        else
        {
            writer.WriteStringValue(Truncate(content));
        }
    }

    private static bool IsSingleJsonValue(ReadOnlySpan<byte> utf8)
    {
        var reader = new Utf8JsonReader(utf8);
        try
        {
            return reader.Read() && reader.TrySkip() && !reader.Read();
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>A property of an object, or an undefined element when it has none.</summary>
    private static JsonElement Property(JsonElement block, string property) =>
        block.TryGetProperty(property, out var value) ? value : default;

    /// <summary>A string property of an object, or null when the element is no object or the property no string.</summary>
    private static string? StringOrNull(JsonElement element, string property) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;

    private static string? OptionalString(JsonElement block, string property) =>
        block.TryGetProperty(property, out var value) ? value.GetString() : null;

    /// <summary>The note in place of what an attribute's budget left out, in the words a reader of the span sees.</summary>
    private static string LeftOut(int count, string what, string attribute, int budgetBytes) =>
        string.Create(CultureInfo.InvariantCulture, $"[{count} more {what} not recorded: a span keeps its {attribute} under {budgetBytes / 1024} KB]");

    private static bool OverBudget(Utf8JsonWriter writer, int budgetBytes) => writer.BytesCommitted + writer.BytesPending > budgetBytes;

    private static string Write<TState>(TState state, SecretRedactor? redactor, Action<Utf8JsonWriter, TState> write)
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        var writer = t_writer ??= new Utf8JsonWriter(buffer, WriterOptions);
        // Also clears whatever a call that threw left half-written.
        writer.Reset(buffer);
        t_redactor = redactor;
        try
        {
            write(writer, state);
            writer.Flush();
            var written = Encoding.UTF8.GetString(buffer.WrittenSpan);
            return redactor is null ? written : redactor.Redact(written);
        }
        finally
        {
            t_redactor = null;
            if (buffer.Capacity > KeptBufferBytes)
            {
                t_buffer = null;
                t_writer = null;
            }
        }
    }

    private static string Truncate(string? text)
    {
        if (text is null || text.Length <= MaxPartChars)
        {
            return text ?? "";
        }

        text = t_redactor?.Redact(text) ?? text;
        return text.Length <= MaxPartChars ? text : string.Concat(text.AsSpan(0, MaxPartChars), "…[truncated]");
    }
}
