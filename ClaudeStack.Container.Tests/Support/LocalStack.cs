using System.Diagnostics;
using System.Text.Json.Nodes;
using ClaudeStack.Gateway.Tests.Support;
using ClaudeStack.ScriptedUpstream;

namespace ClaudeStack.Container.Tests.Support;

/// <summary>
/// The stack's local mode without Aspire: a scripted Ollama (Anthropic API plus native endpoints) on 127.0.0.1
/// and the real gateway in front of it, listening where the container can reach it. Records the gateway's spans.
/// </summary>
public sealed class LocalStack : IAsyncDisposable
{
    public const string StackToken = "stack-token-for-container-tests";
    public const string LocalModel = "llama3.1:8b";

    private GatewayHost? _gateway;
    private SpanCollector? _spans;

    private LocalStack(ScriptedUpstream.ScriptedUpstream upstream) => Upstream = upstream;

    public ScriptedUpstream.ScriptedUpstream Upstream { get; }

    /// <summary>Where Claude Code is pointed (ANTHROPIC_BASE_URL).</summary>
    public Uri GatewayAddress => _gateway!.BaseAddress;

    public IReadOnlyList<Activity> Spans => _spans!.Spans;

    /// <param name="listenHost">The address the gateway binds, e.g. 127.0.0.1 or the host end of a veth pair.</param>
    public static async Task<LocalStack> StartAsync(Func<UpstreamRequest, ScriptedReply> script, string listenHost, CancellationToken cancellationToken)
    {
        var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(
            new ScriptedUpstreamOptions { Script = script, Ollama = new OllamaEmulation() },
            cancellationToken);
        var stack = new LocalStack(upstream);
        try
        {
            stack._spans = new SpanCollector(upstream.BaseAddress);
            stack._gateway = await GatewayHost.StartAsync(
                upstream.BaseAddress,
                new Dictionary<string, string?> { ["Gateway:StackToken"] = StackToken, ["Gateway:Models:Default"] = LocalModel },
                cancellationToken,
                listenHost);
            return stack;
        }
        catch
        {
            await stack.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _spans?.Dispose();
        if (_gateway is not null)
        {
            await _gateway.DisposeAsync();
        }

        await Upstream.DisposeAsync();
    }
}

/// <summary>A scripted model that makes Claude Code use one tool, then answers.</summary>
public static class Scripts
{
    public const string FinalAnswer = "CONTAINER-TASK-DONE-7f3a";
    public const string ToolUseId = "toolu_container_write_1";
    public const string FileName = "hello-from-container.txt";
    public const string FileContent = "written by Claude Code inside the container\n";

    /// <summary>A model that never answers (a long CPU prefill): Claude Code is surely still waiting when a test stops it.</summary>
    public static ScriptedReply NeverAnswers(UpstreamRequest request) => ScriptedReply.Custom((_, _, ct) => Task.Delay(Timeout.Infinite, ct));

    /// <summary>
    /// Main-loop requests (those offering the Write tool) get a Write tool_use first; once the conversation carries
    /// the tool_result, the final answer. Side requests (no tools) get the final answer text.
    /// </summary>
    public static ScriptedReply WriteThenAnswer(UpstreamRequest request)
    {
        if (CarriesToolResult(request))
        {
            return ScriptedReply.Text(FinalAnswer, LocalStack.LocalModel);
        }

        if (OffersTool(request, "Write"))
        {
            var input = new JsonObject { ["file_path"] = "/workspace/" + FileName, ["content"] = FileContent };
            return ScriptedReply.ToolUse("Write", input.ToJsonString(), ToolUseId, LocalStack.LocalModel);
        }

        return ScriptedReply.Text(FinalAnswer, LocalStack.LocalModel);
    }

    /// <summary>Every request gets the same text answer.</summary>
    public static ScriptedReply AnswerOnly(UpstreamRequest request) => ScriptedReply.Text(FinalAnswer, LocalStack.LocalModel);

    public static bool OffersTool(UpstreamRequest request, string name) =>
        request.Json?["tools"] is JsonArray tools && tools.Any(t => t?["name"]?.GetValue<string>() == name);

    public static bool CarriesToolResult(UpstreamRequest request, string? toolUseId = null) =>
        request.Json?["messages"] is JsonArray messages
        && messages.Any(m => m?["content"] is JsonArray blocks
            && blocks.Any(b => b?["type"]?.GetValue<string>() == "tool_result"
                && (toolUseId is null || b["tool_use_id"]?.GetValue<string>() == toolUseId)));

    /// <summary>The text of the tool_result block for <paramref name="toolUseId"/>, or null.</summary>
    public static string? ToolResultText(UpstreamRequest request, string toolUseId)
    {
        if (request.Json?["messages"] is not JsonArray messages)
        {
            return null;
        }

        foreach (var block in messages.SelectMany(m => m?["content"] as JsonArray ?? []))
        {
            if (block?["type"]?.GetValue<string>() == "tool_result" && block["tool_use_id"]?.GetValue<string>() == toolUseId)
            {
                return block["content"] switch
                {
                    JsonValue value => value.ToString(),
                    JsonArray parts => string.Concat(parts.Select(p => p?["text"]?.GetValue<string>())),
                    _ => string.Empty,
                };
            }
        }

        return null;
    }
}
