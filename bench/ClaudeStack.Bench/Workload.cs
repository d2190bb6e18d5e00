using System.Text;
using System.Text.Json.Nodes;

namespace ClaudeStack.Bench;

/// <summary>The request bodies the bench sends. Everything is synthetic and deterministic.</summary>
public static class Workload
{
    public const string StackToken = "bench-stack-token-0123456789abcdef";

    /// <summary>What Claude Code asks for; the gateway maps it to <see cref="LocalModel"/>, so the body is rewritten on the way.</summary>
    public const string ClaudeModel = "claude-sonnet-4-5-20250929";

    public const string LocalModel = "llama3.1:8b";

    /// <summary>Size of the Claude Code-sized request.</summary>
    public const int LargeBodyBytes = 85 * 1024;

    public static readonly string[] ToolNames =
    [
        "Task", "Bash", "Glob", "Grep", "LS", "ExitPlanMode", "Read", "Edit", "MultiEdit", "Write", "NotebookEdit",
        "NotebookRead", "WebFetch", "TodoWrite", "WebSearch", "BashOutput", "KillShell", "SlashCommand", "Skill",
        "AskUserQuestion", "EnterPlanMode", "ListMcpResourcesTool", "ReadMcpResourceTool", "mcp__ide__getDiagnostics",
        "mcp__ide__executeCode",
    ];

    /// <summary>A one-line question: the smallest realistic call.</summary>
    public static byte[] Small(bool stream) => Serialize(new JsonObject
    {
        ["model"] = ClaudeModel,
        ["max_tokens"] = 1024,
        ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Say hello in one short sentence." }),
        ["stream"] = stream,
    });

    /// <summary>
    /// A Claude Code-sized call: system prompt, 25 tools with JSON-schema inputs, a conversation with a tool call
    /// and a file-sized tool result, padded to exactly <see cref="LargeBodyBytes"/>.
    /// </summary>
    public static byte[] Large(bool stream, int? maxTokens = 32000, bool countTokens = false)
    {
        var text = new TextSource(20250929);
        var body = BuildLarge(text, stream, maxTokens, countTokens, padding: "");
        var missing = LargeBodyBytes - body.Length;
        if (missing > 0)
        {
            body = BuildLarge(new TextSource(20250929), stream, maxTokens, countTokens, padding: text.Ascii(missing));
        }

        return body;
    }

    private static byte[] BuildLarge(TextSource text, bool stream, int? maxTokens, bool countTokens, string padding)
    {
        var tools = new JsonArray();
        foreach (var name in ToolNames)
        {
            tools.Add(Tool(name, text));
        }

        var fileContent = new StringBuilder();
        for (var line = 1; line <= 120; line++)
        {
            fileContent.Append(line).Append('\t').Append(text.Sentence(8)).Append('\n');
        }

        var messages = new JsonArray(
            new JsonObject
            {
                ["role"] = "user",
                // Claude Code ends its reminder block with a line break, as its captured requests show.
                ["content"] = new JsonArray(
                    new JsonObject { ["type"] = "text", ["text"] = "<system-reminder>\n" + text.Paragraphs(3, 40) + "\n</system-reminder>\n" },
                    new JsonObject { ["type"] = "text", ["text"] = "Read src/Parser.cs and fix the off-by-one error in the tokenizer." }),
            },
            new JsonObject
            {
                ["role"] = "assistant",
                ["content"] = new JsonArray(
                    new JsonObject { ["type"] = "text", ["text"] = "I'll read the file first." },
                    new JsonObject
                    {
                        ["type"] = "tool_use",
                        ["id"] = "toolu_01A09q90qw90lq917835lq9",
                        ["name"] = "Read",
                        ["input"] = new JsonObject { ["file_path"] = "/workspace/src/Parser.cs" },
                    }),
            },
            new JsonObject
            {
                ["role"] = "user",
                ["content"] = new JsonArray(
                    new JsonObject
                    {
                        ["type"] = "tool_result",
                        ["tool_use_id"] = "toolu_01A09q90qw90lq917835lq9",
                        ["content"] = fileContent.ToString() + padding,
                    },
                    new JsonObject
                    {
                        ["type"] = "text",
                        ["text"] = "Continue.",
                        ["cache_control"] = new JsonObject { ["type"] = "ephemeral" },
                    }),
            });

        var request = new JsonObject { ["model"] = ClaudeModel };
        request["messages"] = messages;
        request["system"] = new JsonArray(
            new JsonObject { ["type"] = "text", ["text"] = "You are Claude Code, Anthropic's official CLI for Claude." },
            new JsonObject
            {
                ["type"] = "text",
                ["text"] = text.Paragraphs(12, 60),
                ["cache_control"] = new JsonObject { ["type"] = "ephemeral" },
            });
        request["tools"] = tools;
        if (!countTokens)
        {
            request["metadata"] = new JsonObject { ["user_id"] = "user_bench_account__session_6f1c1f9e-0c5e-4d55-9b7e-2f5f3f6f2b11" };
            if (maxTokens is { } max)
            {
                request["max_tokens"] = max;
            }

            request["temperature"] = 1;
            request["stream"] = stream;
        }

        return Serialize(request);
    }

    private static JsonObject Tool(string name, TextSource text)
    {
        var properties = new JsonObject();
        var required = new JsonArray();
        var count = 2 + (name.Length % 4);
        for (var i = 0; i < count; i++)
        {
            var property = text.Identifier();
            properties[property] = i switch
            {
                0 => new JsonObject { ["type"] = "string", ["description"] = text.Sentence(14) },
                1 => new JsonObject { ["type"] = "number", ["description"] = text.Sentence(10) },
                2 => new JsonObject { ["type"] = "boolean", ["description"] = text.Sentence(10) },
                3 => new JsonObject
                {
                    ["type"] = "array",
                    ["items"] = new JsonObject
                    {
                        ["type"] = "object",
                        ["properties"] = new JsonObject
                        {
                            ["content"] = new JsonObject { ["type"] = "string", ["minLength"] = 1 },
                            ["status"] = new JsonObject { ["type"] = "string", ["enum"] = new JsonArray("pending", "in_progress", "completed") },
                        },
                        ["required"] = new JsonArray("content", "status"),
                        ["additionalProperties"] = false,
                    },
                    ["description"] = text.Sentence(8),
                },
                _ => new JsonObject { ["type"] = "string", ["enum"] = new JsonArray("content", "files_with_matches", "count"), ["description"] = text.Sentence(12) },
            };
            if (i < 2)
            {
                required.Add(property);
            }
        }

        return new JsonObject
        {
            ["name"] = name,
            ["description"] = text.Paragraphs(2, 45),
            ["input_schema"] = new JsonObject
            {
                ["type"] = "object",
                ["properties"] = properties,
                ["required"] = required,
                ["additionalProperties"] = false,
                ["$schema"] = "http://json-schema.org/draft-07/schema#",
            },
        };
    }

    private static byte[] Serialize(JsonNode node) => Encoding.UTF8.GetBytes(node.ToJsonString());

    /// <summary>Deterministic English-looking text.</summary>
    private sealed class TextSource(uint seed)
    {
        private static readonly string[] Words =
        [
            "the", "file", "tool", "use", "when", "you", "need", "to", "search", "for", "a", "pattern", "in", "code", "and",
            "return", "matching", "lines", "path", "must", "be", "absolute", "not", "relative", "command", "output",
            "directory", "before", "running", "verify", "parent", "exists", "quote", "paths", "with", "spaces", "task",
            "list", "track", "progress", "user", "request", "edit", "replace", "exact", "string", "unique", "context",
            "read", "write", "shell", "timeout", "optional", "milliseconds", "description", "clear", "concise",
        ];

        private uint _state = seed;

        private int Next(int max)
        {
            _state = (_state * 1664525) + 1013904223;
            return (int)((_state >> 8) % (uint)max);
        }

        public string Identifier() => Words[Next(Words.Length)] + "_" + Words[Next(Words.Length)];

        public string Sentence(int words)
        {
            var builder = new StringBuilder();
            for (var i = 0; i < words; i++)
            {
                builder.Append(i == 0 ? "" : " ").Append(Words[Next(Words.Length)]);
            }

            builder[0] = char.ToUpperInvariant(builder[0]);
            return builder.Append('.').ToString();
        }

        public string Paragraphs(int paragraphs, int wordsPerSentence)
        {
            var builder = new StringBuilder();
            for (var p = 0; p < paragraphs; p++)
            {
                for (var s = 0; s < 3; s++)
                {
                    builder.Append(Sentence(wordsPerSentence / 3)).Append(' ');
                }

                builder.Append("\n\n");
            }

            return builder.ToString().TrimEnd();
        }

        public string Ascii(int length)
        {
            var builder = new StringBuilder(length + 64);
            while (builder.Length < length)
            {
                builder.Append(Sentence(10)).Append(' ');
            }

            return builder.ToString(0, length);
        }
    }
}
