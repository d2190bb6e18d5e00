using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;
using ClaudeStack.Gateway;
using ClaudeStack.ScriptedUpstream;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ClaudeStack.Container.Tests.Support;

/// <summary>
/// The stack's local mode without Aspire: a scripted Ollama (Anthropic API plus native endpoints) on 127.0.0.1
/// and the real gateway in front of it, listening where the container can reach it.
/// Records the gateway's spans (ActivitySource "ClaudeStack.Gateway").
/// </summary>
public sealed class LocalStack : IAsyncDisposable
{
    public const string StackToken = "stack-token-for-container-tests";
    public const string LocalModel = "llama3.1:8b";

    private readonly ConcurrentQueue<Activity> spans = new();
    private readonly ActivityListener listener;
    private WebApplication? gateway;

    private LocalStack(ScriptedUpstream.ScriptedUpstream upstream)
    {
        Upstream = upstream;
        listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "ClaudeStack.Gateway",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
    }

    public ScriptedUpstream.ScriptedUpstream Upstream { get; }

    /// <summary>Where Claude Code is pointed (ANTHROPIC_BASE_URL).</summary>
    public Uri GatewayAddress { get; private set; } = null!;

    public IReadOnlyList<Activity> Spans => [.. spans];

    /// <param name="listenHost">The address the gateway binds, e.g. 127.0.0.1 or the host end of a veth pair.</param>
    public static async Task<LocalStack> StartAsync(Func<UpstreamRequest, ScriptedReply> script, string listenHost, CancellationToken cancellationToken)
    {
        var upstream = await ScriptedUpstream.ScriptedUpstream.StartAsync(
            new ScriptedUpstreamOptions { Script = script, Ollama = new OllamaEmulation() },
            cancellationToken);
        var stack = new LocalStack(upstream);
        try
        {
            var settings = new Dictionary<string, string?>
            {
                ["Gateway:Upstream:Profile"] = "ollama",
                ["Gateway:Upstream:Url"] = upstream.BaseAddress.ToString(),
                ["Gateway:StackToken"] = StackToken,
                ["Gateway:Models:Default"] = LocalModel,
            };
            var app = GatewayApplication.Build([], builder =>
            {
                builder.Configuration.AddInMemoryCollection(settings);
                builder.WebHost.UseUrls($"http://{listenHost}:0");
            });
            stack.gateway = app;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(30));
            await app.StartAsync(timeout.Token);
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            stack.GatewayAddress = new Uri(address);
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
        listener.Dispose();
        if (gateway is not null)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await gateway.StopAsync(timeout.Token);
            }
            finally
            {
                await gateway.DisposeAsync();
            }
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
