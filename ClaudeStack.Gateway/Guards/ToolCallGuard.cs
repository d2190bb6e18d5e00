using System.Text.Json;
using System.Text.RegularExpressions;
using ClaudeStack.Gateway.Requests;
using ClaudeStack.Gateway.Streaming;

namespace ClaudeStack.Gateway.Guards;

/// <summary>Kinds of broken tool calls local models make.</summary>
public static class ToolCallProblems
{
    public const string UnknownTool = "unknown_tool";
    public const string InvalidJson = "invalid_json";
    public const string SchemaViolation = "schema_violation";
    public const string CallAsText = "call_as_text";
}

public sealed record ToolCallViolation(string Kind, string Tool, string Problem);

/// <summary>
/// Checks the model's tool calls against the tools the request offered: a known name, a JSON object input that fits
/// the tool's schema. Also spots a tool call printed as plain JSON text instead of a tool_use block. Pure.
/// </summary>
public sealed partial class ToolCallGuard(IReadOnlyList<OfferedTool> offered)
{
    public IReadOnlyList<ToolCallViolation> Check(ObservedBlock block)
    {
        if (block.Type == "tool_use")
        {
            return CheckToolUse(block);
        }

        if (block.Type == "text" && offered.Count > 0 && CallPrintedAsText(block.Content.ToString()) is { } tool)
        {
            return [new ToolCallViolation(ToolCallProblems.CallAsText, tool, "the model wrote a tool call as text instead of a tool_use block")];
        }

        return [];
    }

    private IReadOnlyList<ToolCallViolation> CheckToolUse(ObservedBlock block)
    {
        var name = block.ToolName ?? "";
        var tool = offered.FirstOrDefault(t => t.Name == name);
        if (tool is null)
        {
            return [new ToolCallViolation(ToolCallProblems.UnknownTool, name, $"'{name}' is not among the {offered.Count} tools the request offered")];
        }

        var json = block.Content.Length == 0 ? "{}" : block.Content.ToString();
        if (block.Truncated)
        {
            return [];
        }

        try
        {
            using var input = JsonDocument.Parse(json);
            if (input.RootElement.ValueKind != JsonValueKind.Object)
            {
                return [new ToolCallViolation(ToolCallProblems.InvalidJson, name, $"the input is a JSON {input.RootElement.ValueKind.ToString().ToLowerInvariant()}, not an object")];
            }

            if (tool.InputSchema is not { } schema)
            {
                return [];
            }

            return [.. ToolSchemaValidator.Validate(input.RootElement, schema).Select(problem => new ToolCallViolation(ToolCallProblems.SchemaViolation, name, problem))];
        }
        catch (JsonException exception)
        {
            return [new ToolCallViolation(ToolCallProblems.InvalidJson, name, $"the input is not valid JSON: {exception.Message}")];
        }
    }

    /// <summary>
    /// A text block that holds <c>{"name": "&lt;offered tool&gt;", "arguments"|"parameters"|"input": {...}}</c>
    /// (often inside a code fence or &lt;tool_call&gt; tags): the model meant to call a tool.
    /// </summary>
    private string? CallPrintedAsText(string text)
    {
        // A model that means to call a tool says so early; the same prefix is all a stream keeps without content capture.
        var head = text.Length > TextScanned ? text[..TextScanned] : text;
        try
        {
            foreach (Match match in ToolNamePattern().Matches(head))
            {
                var name = match.Groups["name"].Value;
                if (offered.Any(t => t.Name == name))
                {
                    return name;
                }
            }
        }
        catch (RegexMatchTimeoutException)
        {
            // Pathological text: no verdict rather than a stalled call.
        }

        return null;
    }

    private const int TextScanned = 4096;

    [GeneratedRegex("""\{\s*"(?:name|tool|function)"\s*:\s*"(?<name>[A-Za-z0-9_\-]+)"\s*,\s*"(?:arguments|parameters|input)"\s*:\s*\{""", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 200)]
    private static partial Regex ToolNamePattern();
}
