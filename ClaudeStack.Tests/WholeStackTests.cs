using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;

namespace ClaudeStack.Tests;

/// <summary>The real stack: Ollama, the gateway and a Claude Code task. Needs Docker and pulls a small model.</summary>
public class WholeStackTests
{
    /// <summary>Small and tool-capable, so Claude Code's tool definitions are accepted.</summary>
    private const string SmallToolModel = "qwen3:0.6b";

    [Fact]
    [Trait("Category", "RequiresDocker")]
    public async Task TaskPrompt_ExitsZeroThroughTheGatewayWithTokenUsage()
    {
        Assert.SkipUnless(DockerEngine.IsAvailable, DockerEngine.SkipReason);
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(30));
        var ct = cts.Token;
        await using var builder = await StackFixture.CreateAsync(
            $"Model={SmallToolModel}",
            "ClaudeCode:Mode=Task",
            "ClaudeCode:Prompt=Reply with the single word OK and nothing else.",
            "ClaudeCode:OutputFormat=json",
            "ClaudeCode:ContainerName=claudestack-claude-code-test");
        await using var app = await builder.BuildAsync(ct);
        var logs = new StringBuilder();

        await app.StartAsync(ct);
        var collecting = CollectLogsAsync(app, "claude-code", logs, ct);
        var finished = await app.ResourceNotifications.WaitForResourceAsync(
            "claude-code",
            e => e.Snapshot.State?.Text is { } state && KnownResourceStates.TerminalStates.Contains(state),
            ct);
        await Task.WhenAny(collecting, Task.Delay(TimeSpan.FromSeconds(5), ct));

        Assert.True(finished.Snapshot.ExitCode == 0, $"claude-code exited with {finished.Snapshot.ExitCode}:{Environment.NewLine}{logs}");
        var result = FindJsonResult(logs.ToString());
        Assert.True(result.GetProperty("usage").GetProperty("input_tokens").GetInt32() > 0, logs.ToString());
        Assert.True(result.GetProperty("usage").GetProperty("output_tokens").GetInt32() > 0, logs.ToString());
    }

    private static async Task CollectLogsAsync(DistributedApplication app, string resource, StringBuilder sink, CancellationToken ct)
    {
        await foreach (var batch in app.Services.GetRequiredService<ResourceLoggerService>().WatchAsync(resource).WithCancellation(ct))
        {
            foreach (var line in batch)
            {
                lock (sink)
                {
                    sink.AppendLine(line.Content);
                }
            }
        }
    }

    /// <summary>Claude Code's <c>--output-format json</c> result line.</summary>
    private static JsonElement FindJsonResult(string logs)
    {
        foreach (var line in logs.Split('\n').Reverse())
        {
            var start = line.IndexOf('{', StringComparison.Ordinal);
            if (start < 0)
            {
                continue;
            }

            try
            {
                using var document = JsonDocument.Parse(line[start..]);
                if (document.RootElement.TryGetProperty("usage", out _))
                {
                    return document.RootElement.Clone();
                }
            }
            catch (JsonException)
            {
            }
        }

        Assert.Fail($"no JSON result with usage in the claude-code log:{Environment.NewLine}{logs}");
        return default;
    }
}
