using System.Text.Json;
using System.Text.Json.Nodes;
using ClaudeStack.Gateway.Requests;
using ClaudeStack.Gateway.Tokens;

namespace ClaudeStack.Gateway.Adaptation;

/// <summary>Settings of the <c>ollama</c> profile's request adaptation (<c>Gateway:Adaptation</c>).</summary>
public sealed class AdaptationOptions
{
    /// <summary>Drop the per-request <c>x-anthropic-billing-header</c> system block and join system text with blank lines.</summary>
    public bool NormalizeSystemPrompt { get; set; } = true;

    /// <summary>Fold <c>role: "system"</c> messages into the neighbouring user message.</summary>
    public bool FoldSystemMessages { get; set; } = true;

    /// <summary>
    /// <c>auto</c> (the request's own <c>disabled</c>, otherwise by the model's thinking capability), <c>enabled</c>,
    /// <c>disabled</c> or <c>passthrough</c> (leave the request's own, effort included).
    /// </summary>
    public string Thinking { get; set; } = "auto";

    /// <summary>Thinking budget sent when the gateway turns thinking on (kept below the request's max_tokens).</summary>
    public int ThinkingBudgetTokens { get; set; } = 4096;

    /// <summary>Put <c>is_error</c> into the tool_result text, since Ollama drops the flag.</summary>
    public bool MarkToolErrors { get; set; } = true;

    /// <summary>Put a line break between texts that Ollama would join with nothing between them (a message's, a tool result's).</summary>
    public bool SeparateTextBlocks { get; set; } = true;

    /// <summary>
    /// Give the model text for what does not reach it: what Ollama drops silently (tool search's <c>tool_reference</c>
    /// results, documents, search results) and images when the model has no vision; offer a deferred tool only once
    /// tool search has loaded it.
    /// </summary>
    public bool ReplaceDroppedBlocks { get; set; } = true;

    /// <summary>
    /// Rewrite what Ollama's decoder refuses in a tool's input_schema (a boolean schema, a keyword of another kind), which
    /// would fail every call that offers the tool, and say what it drops ($ref, oneOf, allOf, const) in what it keeps.
    /// </summary>
    public bool NormalizeToolSchemas { get; set; } = true;

    /// <summary>Lower max_tokens to what the context window leaves after the prompt.</summary>
    public bool ClampMaxTokens { get; set; } = true;

    /// <summary>Never clamp below this: a reply needs some room even when the estimate is pessimistic.</summary>
    public int MinMaxTokens { get; set; } = 1024;
}

/// <summary>What the adapter changed, for the span.</summary>
/// <param name="MaxTokens">The max_tokens sent, when the adapter lowered it.</param>
/// <param name="ToolChoiceNotEnforced">A <c>tool_choice</c> (<c>any</c> or <c>tool</c>) the model may still answer in text.</param>
public sealed record AdaptationReport(IReadOnlyList<string> Changes, bool StructuredOutputIgnored, int? MaxTokens, string? ToolChoiceNotEnforced = null);

/// <summary>
/// Rewrites a Claude Code request so Ollama (anthropic/anthropic.go, v0.32.15) handles it as Anthropic would.
/// Pure: it reads the request and returns edits; it sends nothing.
/// </summary>
public static class OllamaRequestAdapter
{
    public const string BillingHeaderPrefix = "x-anthropic-billing-header:";

    /// <summary>Inlined references can nest a schema deeper than the request itself was.</summary>
    private static readonly JsonSerializerOptions DeepSchemas = new() { MaxDepth = 4 * MessagesRequest.MaxDepth };

    /// <param name="model">What Ollama says of the model (capabilities from /api/show); null when unknown.</param>
    /// <param name="maxTokensLimit">What the context window leaves after the prompt; null when unknown.</param>
    public static AdaptationReport Adapt(MessagesRequest request, AdaptationOptions options, ModelInfo? model, int? maxTokensLimit, RequestEdits edits)
    {
        var changes = new List<string>();
        var root = request.Root;

        var modelWithoutVision = ImagesBecomeNotes(options, model) ? model!.Model : null;

        // Ollama glues system blocks with no separator and this per-session line comes first, so the
        // ~20K-token prefix never matches the prompt cache.
        if (options.NormalizeSystemPrompt && request.System is { ValueKind: JsonValueKind.Array } system && NormalizeSystem(system) is { } joined)
        {
            // Nothing left but the billing line: an empty text block is not a valid one.
            if (joined.Count == 0)
            {
                edits.Remove("system");
            }
            else
            {
                edits.Set("system", joined);
            }

            changes.Add("system");
        }

        // Ollama hands a role:system message to the chat template where it stands (and moves it to the top when it
        // truncates), while templates expect one system prompt first, and those that expect a final user message then
        // render no assistant header; it also drops is_error and the blocks DroppedBlocks names, and glues texts (GluedText).
        if (NeedsMessageRewrite(request.Messages, options, modelWithoutVision is not null))
        {
            var rewritten = new List<string>();
            var messages = RewriteMessages(request.Messages, options, modelWithoutVision, rewritten);
            if (rewritten.Count > 0)
            {
                edits.Set("messages", messages);
                changes.AddRange(rewritten);
            }
        }

        var hasTools = root.TryGetProperty("tools", out var tools) && tools.ValueKind == JsonValueKind.Array;

        // A tool defined by a tool change is sent even when the request lists none.
        var adaptedTools = hasTools || (options.ReplaceDroppedBlocks && request.ToolChanges.Defined.Count > 0)
            ? AdaptTools(tools, request.ToolChanges, options, changes)
            : null;

        // Ollama parses tool_choice and never reads it (anthropic.go FromMessagesRequest): "none" would still offer every
        // tool, and "tool" every tool besides the one. Neither can make the model call one; the span says so.
        var (choice, chosenTool) = ToolChoiceOf(root);
        string? toolChoiceNotEnforced = null;
        if (hasTools && choice == "none")
        {
            edits.Remove("tools");
            edits.Remove("tool_choice");
            changes.Add("tool_choice");
            adaptedTools = null;
        }
        else if (hasTools && choice is "any" or "tool")
        {
            toolChoiceNotEnforced = choice;
            var offered = choice == "tool"
                ? adaptedTools ?? JsonArray.Create(tools)!
                : null;
            if (offered is { Count: > 1 } && offered.Any(tool => IsNamed(tool, chosenTool)))
            {
                adaptedTools = [.. offered.Where(tool => IsNamed(tool, chosenTool)).Select(tool => tool!.DeepClone())];
                changes.Add("tool_choice");
            }
        }

        if (adaptedTools is not null)
        {
            edits.Set("tools", adaptedTools);
        }

        // Ollama passes max_tokens through and lets context shift throw away the start of the prompt.
        int? loweredMaxTokens = null;
        if (options.ClampMaxTokens && maxTokensLimit is { } limit && request.MaxTokens is { } maxTokens)
        {
            var clamped = Math.Max(options.MinMaxTokens, limit);
            if (clamped < maxTokens)
            {
                edits.Set("max_tokens", clamped);
                changes.Add("max_tokens");
                loweredMaxTokens = clamped;
            }
        }

        // Ollama knows no "adaptive", and runs output_config.effort "high" (Claude Code's default, on every call) as its
        // high level, the longest a model with levels thinks; a level above Ollama's default cannot be told from it.
        var requestedThinking = root.TryGetProperty("thinking", out var thinkingConfig) && thinkingConfig.ValueKind == JsonValueKind.Object
            && thinkingConfig.TryGetProperty("type", out var thinkingType) && thinkingType.ValueKind == JsonValueKind.String
            ? thinkingType.GetString()
            : null;
        var thinking = DecideThinking(options.Thinking, model?.SupportsThinking, requestedThinking);
        var outputConfig = root.TryGetProperty("output_config", out var config) && config.ValueKind == JsonValueKind.Object ? config : (JsonElement?)null;
        var requestedEffort = outputConfig?.TryGetProperty("effort", out var effort) == true && effort.ValueKind == JsonValueKind.String ? effort.GetString() : null;

        // A level at or below Ollama's default ("medium", what "enabled" runs at) is the client's choice (--effort low):
        // Ollama runs it when no thinking type overrides it, so that effort goes as sent and thinking goes.
        var keepEffort = thinking == "enabled" && IsEffortUpToDefault(requestedEffort);
        if (keepEffort)
        {
            if (root.TryGetProperty("thinking", out _))
            {
                edits.Remove("thinking");
                changes.Add("thinking");
            }
        }
        else if (thinking is not null && thinking != requestedThinking)
        {
            edits.Set("thinking", thinking == "enabled"
                ? new JsonObject { ["type"] = "enabled", ["budget_tokens"] = ThinkingBudget(options.ThinkingBudgetTokens, loweredMaxTokens ?? request.MaxTokens) }
                : new JsonObject { ["type"] = "disabled" });
            changes.Add("thinking");
        }

        var structuredOutput = false;
        if (outputConfig is { } sentConfig)
        {
            structuredOutput = sentConfig.TryGetProperty("format", out _);

            // The explicit thinking decided above is what counts; passthrough leaves the request as the client wrote it.
            if (thinking is not null && !keepEffort && sentConfig.TryGetProperty("effort", out _))
            {
                var kept = new JsonObject();
                foreach (var property in sentConfig.EnumerateObject().Where(p => p.Name != "effort"))
                {
                    // As deep as the request itself may be: a structured-output schema can nest far.
                    kept[property.Name] = JsonNode.Parse(property.Value.GetRawText(), documentOptions: new JsonDocumentOptions { MaxDepth = MessagesRequest.MaxDepth });
                }

                if (kept.Count == 0)
                {
                    edits.Remove("output_config");
                }
                else
                {
                    edits.Set("output_config", kept);
                }

                changes.Add("output_config.effort");
            }
        }

        return new AdaptationReport(changes, structuredOutput, loweredMaxTokens, toolChoiceNotEnforced);
    }

    private static (string? Type, string? Name) ToolChoiceOf(JsonElement root) =>
        root.TryGetProperty("tool_choice", out var choice) && choice.ValueKind == JsonValueKind.Object
        && choice.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String
            ? (type.GetString(), choice.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String ? name.GetString() : null)
            : (null, null);

    private static bool IsNamed(JsonNode? tool, string? name) =>
        name is not null && tool is JsonObject entry && entry["name"] is JsonValue value && value.TryGetValue<string>(out var toolName) && toolName == name;

    /// <returns>The tools to send; null when they go as the client sent them.</returns>
    private static JsonArray? AdaptTools(JsonElement tools, ToolChanges toolChanges, AdaptationOptions options, List<string> changes)
    {
        // Ollama knows no defer_loading, so a deferred tool not loaded yet (Claude Code's DeferredToolPlaceholder,
        // which says "never call this tool") would be offered as callable.
        var offered = options.ReplaceDroppedBlocks ? DroppedBlocks.OfferedTools(tools, toolChanges) : null;
        if (offered is not null)
        {
            changes.Add("tools.defer_loading");
        }

        if (offered is null && !(options.NormalizeToolSchemas && AnySchemaToRewrite(tools)))
        {
            return null;
        }

        // Backed by the request's document: only a tool whose schema changes is materialised.
        var sent = new JsonArray();
        foreach (var tool in offered ?? (IEnumerable<JsonElement>)tools.EnumerateArray())
        {
            var node = JsonObject.Create(tool);
            if (node is not null && options.NormalizeToolSchemas && SchemaForOllama(tool) is { } schema)
            {
                node["input_schema"] = schema;
                Note(changes, "tools.input_schema");
            }

            sent.Add(node);
        }

        return sent;
    }

    /// <summary>The per-call check, read-only and without allocating: the rewrite below runs only when it would change something.</summary>
    private static bool AnySchemaToRewrite(JsonElement tools)
    {
        foreach (var tool in tools.EnumerateArray())
        {
            if (tool.ValueKind == JsonValueKind.Object && tool.TryGetProperty("input_schema", out var schema)
                && (OllamaSchemaKeywords.Uses(schema) || !OllamaToolSchema.DecodesAsIs(schema)))
            {
                return true;
            }
        }

        return false;
    }

    /// <returns>The tool's schema as Ollama should get it; null when it goes as sent.</returns>
    private static JsonNode? SchemaForOllama(JsonElement tool)
    {
        if (tool.ValueKind != JsonValueKind.Object || !tool.TryGetProperty("input_schema", out var schema))
        {
            return null;
        }

        // Keywords first: what a reference points to may itself need the decodable rewrite.
        if (OllamaSchemaKeywords.Rewrite(schema) is not { } rewritten)
        {
            return OllamaToolSchema.Decodable(schema);
        }

        return OllamaToolSchema.Decodable(JsonSerializer.SerializeToElement(rewritten, DeepSchemas)) ?? rewritten;
    }

    /// <summary>
    /// auto → the client's own "disabled" stands; otherwise by capability (off when unknown: the cheap choice for a
    /// local model; on /v1/messages Ollama drops thinking for a model without it rather than refusing the call, so the
    /// choice costs no call). The other settings are the operator's.
    /// </summary>
    /// <param name="requested">The request's own <c>thinking.type</c>, if any.</param>
    public static string? DecideThinking(string setting, bool? supportsThinking, string? requested) => setting.ToLowerInvariant() switch
    {
        "enabled" => supportsThinking == false ? "disabled" : "enabled",
        "disabled" => "disabled",
        "passthrough" => null,
        _ when requested == "disabled" => "disabled",
        _ => supportsThinking == true ? "enabled" : "disabled",
    };

    /// <summary>
    /// Whether each image goes to the model as a note that it cannot see it. Only when Ollama has said so: an unknown
    /// model may well see images.
    /// </summary>
    public static bool ImagesBecomeNotes(AdaptationOptions options, ModelInfo? model) =>
        options.ReplaceDroppedBlocks && model is { SupportsVision: false };

    /// <summary>What the model is given to read once the request is adapted, for token estimates.</summary>
    public static PromptSize PromptAsGiven(PromptSize sent, AdaptationOptions options, ModelInfo? model) =>
        ImagesBecomeNotes(options, model) ? sent.WithImagesAsNotes() : sent;

    /// <summary>Ollama trims and lower-cases the effort before it reads it (anthropic/anthropic.go).</summary>
    private static bool IsEffortUpToDefault(string? effort) =>
        effort?.Trim().ToLowerInvariant() is "low" or "medium";

    /// <summary>The Messages API wants the budget below max_tokens.</summary>
    private static int ThinkingBudget(int configured, int? maxTokens) =>
        maxTokens is > 1 and var max && configured >= max ? max - 1 : configured;

    /// <summary>A read-only scan, so the common request (nothing to fold or mark) costs no copy of the conversation.</summary>
    private static bool NeedsMessageRewrite(JsonElement messages, AdaptationOptions options, bool replaceImages)
    {
        foreach (var message in messages.EnumerateArray())
        {
            if (options.FoldSystemMessages && message.GetProperty("role").ValueEquals("system"))
            {
                return true;
            }

            var content = message.GetProperty("content");

            // Any role: Ollama reads images (and drops the rest) in assistant messages too.
            if (options.ReplaceDroppedBlocks && DroppedBlocks.AnyIn(content, replaceImages))
            {
                return true;
            }

            if (options.SeparateTextBlocks && GluedText.AnyIn(content))
            {
                return true;
            }

            if (options.MarkToolErrors && content is { ValueKind: JsonValueKind.Array } blocks)
            {
                foreach (var block in blocks.EnumerateArray())
                {
                    if (block.ValueKind == JsonValueKind.Object && block.TryGetProperty("is_error", out var isError) && isError.ValueKind == JsonValueKind.True)
                    {
                        return true;
                    }
                }
            }
        }

        return false;
    }

    private static JsonArray? NormalizeSystem(JsonElement system)
    {
        var texts = new List<string>();
        var changed = false;
        foreach (var block in system.EnumerateArray())
        {
            if (block.ValueKind != JsonValueKind.Object || !block.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String)
            {
                changed = true;
                continue;
            }

            var value = text.GetString()!;
            if (value.StartsWith(BillingHeaderPrefix, StringComparison.Ordinal))
            {
                changed = true;
                continue;
            }

            texts.Add(value);
        }

        if (!changed && texts.Count <= 1)
        {
            return null;
        }

        var joined = string.Join("\n\n", texts.Select(t => t.Trim('\n')));
        return joined.Length == 0 ? [] : [new JsonObject { ["type"] = "text", ["text"] = joined }];
    }

    /// <param name="changes">Gets the name of each kind of change made, once.</param>
    /// <param name="modelWithoutVision">The model's name when its images are to be replaced; otherwise null.</param>
    private static JsonArray RewriteMessages(JsonElement messages, AdaptationOptions options, string? modelWithoutVision, List<string> changes)
    {
        var result = new JsonArray();
        var pendingSystem = new List<string>();
        foreach (var message in messages.EnumerateArray())
        {
            var role = message.GetProperty("role").GetString();
            if (options.FoldSystemMessages && role == "system")
            {
                Note(changes, "messages.system");
                var text = ContentText.Of(JsonObject.Create(message)!["content"]) ?? "";
                if (string.IsNullOrWhiteSpace(text))
                {
                    // Nothing to read (Claude Code's empty ones, or only tool changes, which the tools sent carry).
                    continue;
                }

                if (result.LastOrDefault() is JsonObject previous && (string?)previous["role"] == "user")
                {
                    // Into the user message before it: the same place on every turn, so the prompt cache holds.
                    Append(previous, [text]);
                }
                else
                {
                    pendingSystem.Add(text);
                }

                continue;
            }

            // Backed by the parsed document: only a message that is changed is materialised; the others are
            // written straight from the request's bytes.
            var node = JsonObject.Create(message) ?? throw new FormatException("a message is not an object");
            if (options.ReplaceDroppedBlocks)
            {
                var replaced = DroppedBlocks.Replace(node, modelWithoutVision);
                if (replaced.HasFlag(ReplacedBlocks.ToolReferences))
                {
                    Note(changes, "messages.tool_reference");
                }

                if (replaced.HasFlag(ReplacedBlocks.Documents))
                {
                    Note(changes, "messages.document");
                }

                if (replaced.HasFlag(ReplacedBlocks.Images))
                {
                    Note(changes, "messages.image");
                }

                if (replaced.HasFlag(ReplacedBlocks.SearchResults))
                {
                    Note(changes, "messages.search_result");
                }
            }

            if (options.MarkToolErrors && role == "user" && MarkToolErrors(node))
            {
                Note(changes, "messages.tool_result.is_error");
            }

            if (options.SeparateTextBlocks && GluedText.Separate(node))
            {
                Note(changes, "messages.text_separated");
            }

            if (pendingSystem.Count > 0)
            {
                if (role == "user")
                {
                    // Prepend to the next user message: it stays in place and the conversation still ends on a user turn.
                    Prepend(node, pendingSystem);
                }
                else
                {
                    // Before the assistant's turn: a user turn of its own, where the system message was.
                    result.Add(ReminderMessage(pendingSystem));
                }

                pendingSystem.Clear();
            }

            result.Add(node);
        }

        if (pendingSystem.Count > 0)
        {
            // Last, after the assistant's turn: a user turn of its own. Folded into an earlier user message it would move
            // back in time, and a conversation ending on the assistant's turn asks the model to continue that answer.
            result.Add(ReminderMessage(pendingSystem));
        }

        return result;
    }

    private static JsonObject ReminderMessage(List<string> systemTexts) =>
        new() { ["role"] = "user", ["content"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = Reminder(systemTexts) }) };

    private static string Reminder(List<string> systemTexts) => $"<system-reminder>\n{string.Join("\n\n", systemTexts)}\n</system-reminder>";

    private static void Note(List<string> changes, string change)
    {
        if (!changes.Contains(change))
        {
            changes.Add(change);
        }
    }

    private static bool MarkToolErrors(JsonObject message)
    {
        if (message["content"] is not JsonArray blocks)
        {
            return false;
        }

        var marked = false;
        foreach (var block in blocks.OfType<JsonObject>())
        {
            if ((string?)block["type"] != "tool_result" || block["is_error"]?.GetValueKind() != JsonValueKind.True)
            {
                continue;
            }

            const string prefix = ContentText.ToolErrorMark;
            switch (block["content"])
            {
                case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                    block["content"] = prefix + value.GetValue<string>();
                    break;
                case JsonArray parts:
                    // With its space: Ollama joins the parts with no separator.
                    parts.Insert(0, new JsonObject { ["type"] = "text", ["text"] = prefix });
                    break;
                default:
                    block["content"] = prefix.Trim();
                    break;
            }

            marked = true;
        }

        return marked;
    }

    private static void Prepend(JsonObject message, List<string> systemTexts) => Insert(message, systemTexts, atStart: true);

    private static void Append(JsonObject message, List<string> systemTexts) => Insert(message, systemTexts, atStart: false);

    private static void Insert(JsonObject message, List<string> systemTexts, bool atStart)
    {
        // Ollama joins a message's text blocks with no separator, so the reminder brings its own blank line.
        var wrapped = Reminder(systemTexts);
        var reminder = new JsonObject { ["type"] = "text", ["text"] = atStart ? wrapped + "\n\n" : "\n\n" + wrapped };
        var blocks = message["content"] switch
        {
            JsonArray array => array,
            JsonValue text => new JsonArray(new JsonObject { ["type"] = "text", ["text"] = text.GetValue<string>() }),
            _ => [],
        };
        if (atStart)
        {
            blocks.Insert(0, reminder);
        }
        else
        {
            blocks.Add(reminder);
        }

        message["content"] = blocks;
    }
}
