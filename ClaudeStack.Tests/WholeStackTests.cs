using System.Text;
using System.Text.Json;
using ClaudeStack.Gateway.Tests.Support;
using ClaudeStack.Stack;
using Microsoft.Extensions.DependencyInjection;

namespace ClaudeStack.Tests;

/// <summary>The real stack: Ollama, the gateway and a Claude Code task. Needs Docker and pulls a small model.</summary>
public class WholeStackTests
{
    /// <summary>Small and tool-capable, so Claude Code's tool definitions are accepted.</summary>
    private const string SmallToolModel = "qwen3:0.6b";

    /// <summary>How long the gateway's span may take to arrive after Claude Code exits (batch export runs every 1-5 s).</summary>
    private static readonly TimeSpan SpanExportTimeout = TimeSpan.FromMinutes(1);

    [Fact]
    [Trait("Category", "RequiresDocker")]
    public async Task TaskPrompt_ExitsZeroThroughTheGatewayWithTokenUsage()
    {
        Assert.SkipUnless(DockerEngine.IsAvailable, DockerEngine.SkipReason);
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(30));
        var ct = cts.Token;
        await using var receiver = await OtlpReceiver.StartAsync(ct);
        await using var builder = await StackFixture.CreateAsync(
            $"Model={SmallToolModel}",
            "ClaudeCode:Mode=Task",
            "ClaudeCode:Prompt=Reply with the single word OK and nothing else.",
            "ClaudeCode:OutputFormat=json",
            "ClaudeCode:ContainerName=claudestack-claude-code-test");
        ExportGatewayTelemetryTo(builder, receiver);
        await using var app = await builder.BuildAsync(ct);
        var logs = new StringBuilder();
        var gatewayLogs = new StringBuilder();

        await app.StartAsync(ct);
        var collecting = CollectLogsAsync(app, StackConstants.Resources.ClaudeCode, logs, ct);
        _ = CollectLogsAsync(app, StackConstants.Resources.Gateway, gatewayLogs, ct);
        var finished = await app.ResourceNotifications.WaitForResourceAsync(
            StackConstants.Resources.ClaudeCode,
            e => e.Snapshot.State?.Text is { } state && KnownResourceStates.TerminalStates.Contains(state),
            ct);
        await Task.WhenAny(collecting, Task.Delay(TimeSpan.FromSeconds(5), ct));

        // Claude Code finished its task with exit code 0, and its own result reports token usage.
        Assert.True(finished.Snapshot.ExitCode == 0, $"claude-code exited with {finished.Snapshot.ExitCode}:{Environment.NewLine}{logs}");
        var result = FindJsonResult(logs.ToString());
        Assert.True(result.GetProperty("usage").GetProperty("input_tokens").GetInt32() > 0, logs.ToString());
        Assert.True(result.GetProperty("usage").GetProperty("output_tokens").GetInt32() > 0, logs.ToString());

        // The gateway traced the model call, with token usage, to the OTLP receiver.
        var span = await WaitForModelCallSpanAsync(receiver, gatewayLogs, ct);
        Assert.Equal(OtlpSpanKind.Client, span.Kind);
        Assert.Equal("chat", span.Attributes.GetString("gen_ai.operation.name"));
        Assert.Equal(SmallToolModel, span.Attributes.GetString("gen_ai.request.model"));
    }

    /// <summary>Waits (bounded) for the gateway's span of a model call; on timeout the message lists the spans received and the gateway's log.</summary>
    private static async Task<OtlpSpan> WaitForModelCallSpanAsync(OtlpReceiver receiver, StringBuilder gatewayLogs, CancellationToken ct)
    {
        try
        {
            var spans = await receiver.WaitForSpansAsync(IsTracedModelCall, timeout: SpanExportTimeout, cancellationToken: ct);
            return spans[0];
        }
        catch (TimeoutException e)
        {
            string log;
            lock (gatewayLogs)
            {
                log = gatewayLogs.ToString();
            }

            throw new TimeoutException($"The gateway traced no '{ExpectedSpanName}' span with token usage: {e.Message}{Environment.NewLine}model-gateway log:{Environment.NewLine}{log}", e);
        }
    }

    /// <summary>A span of the gateway's model call: <c>chat {model}</c> from Ollama with input and output token counts.</summary>
    private static bool IsTracedModelCall(OtlpSpan span) =>
        span.Name == ExpectedSpanName
        && span.ScopeName == GatewaySource
        && span.Attributes.GetString("gen_ai.provider.name") == "ollama"
        && span.Attributes.GetInt("gen_ai.usage.input_tokens") > 0
        && span.Attributes.GetInt("gen_ai.usage.output_tokens") > 0;

    /// <summary>The gateway's ActivitySource.</summary>
    private const string GatewaySource = "ClaudeStack.Gateway";

    /// <summary>The gateway names a model call's span <c>chat {routed model}</c>; every family maps to the one small model here.</summary>
    private const string ExpectedSpanName = $"chat {SmallToolModel}";

    /// <summary>
    /// Points the gateway's OTLP exporter at <paramref name="receiver"/>. The testing builder disables the dashboard, so
    /// the exporter callback Aspire adds to every project (<c>WithOtlpExporter</c>) falls back to the configured
    /// <c>http://localhost:4317</c> (gRPC) where nothing listens. Environment callbacks run in annotation order on one
    /// dictionary, so these, added after the AppHost's, replace its endpoint and protocol; the gateway's ServiceDefaults
    /// record telemetry whenever the endpoint is set. Only the gateway is redirected: Claude Code keeps its own exporter.
    /// </summary>
    private static void ExportGatewayTelemetryTo(IDistributedApplicationTestingBuilder builder, OtlpReceiver receiver)
    {
        var gateway = builder.Resource<ProjectResource>(StackConstants.Resources.Gateway);
        builder.CreateResourceBuilder(gateway)
            .WithEnvironment("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.Endpoint.ToString())
            .WithEnvironment("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf");
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
