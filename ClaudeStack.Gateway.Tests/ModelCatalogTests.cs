using System.Diagnostics;
using System.Text.Json;
using ClaudeStack.Gateway.Adaptation;
using ClaudeStack.Gateway.Configuration;
using ClaudeStack.Gateway.Telemetry;
using ClaudeStack.Gateway.Tests.Support;
using ClaudeStack.ScriptedUpstream;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClaudeStack.Gateway.Tests;

/// <summary>The model-facts cache against an emulated Ollama on Kestrel, on a clock the test moves.</summary>
public sealed class ModelCatalogTests : IDisposable
{
    private readonly HttpClient _client = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _client.Dispose();

    [Fact]
    public async Task Facts_AreAskedForOncePerLifetime()
    {
        await using var ollama = await StartOllamaAsync();
        var clock = new ManualClock();
        var catalog = NewCatalog(ollama, clock);

        var first = await catalog.GetAsync("llama3.1:8b", Ct);
        await catalog.GetAsync("llama3.1:8b", Ct);
        clock.Advance(OllamaModelCatalog.CacheLifetime - TimeSpan.FromSeconds(1));
        await catalog.GetAsync("llama3.1:8b", Ct);
        Assert.Equal(1, ShowRequests(ollama));
        Assert.Equal((65536, "api/ps"), (first.ContextLength, first.ContextSource));

        clock.Advance(TimeSpan.FromSeconds(1));
        await catalog.GetAsync("llama3.1:8b", Ct);
        Assert.Equal(2, ShowRequests(ollama));
    }

    [Fact]
    public async Task ModelNamesPastTheBound_AreAnsweredButNotKept_UntilEarlierOnesExpire()
    {
        // Model names are the client's to choose; Ollama answers 404 to /api/show for each unknown one.
        await using var ollama = await StartOllamaAsync();
        var clock = new ManualClock();
        var catalog = NewCatalog(ollama, clock);
        for (var i = 0; i < OllamaModelCatalog.MaxCachedModels; i++)
        {
            await catalog.GetAsync($"made-up-{i}", Ct);
        }

        var filled = ShowRequests(ollama);
        var extra = await catalog.GetAsync("one-more", Ct);
        await catalog.GetAsync("one-more", Ct);
        await catalog.GetAsync("made-up-0", Ct);

        Assert.Equal(OllamaModelCatalog.MaxCachedModels, filled);
        Assert.Equal((65536, "configured"), (extra.ContextLength, extra.ContextSource));
        Assert.Equal(filled + 2, ShowRequests(ollama));
        Assert.Equal(OllamaModelCatalog.MaxCachedModels, catalog.Current.Count);

        clock.Advance(OllamaModelCatalog.CacheLifetime);
        await catalog.GetAsync("one-more", Ct);
        await catalog.GetAsync("one-more", Ct);

        Assert.Equal(filled + 3, ShowRequests(ollama));
        Assert.Equal(["one-more"], catalog.Current.Select(info => info.Model));
    }

    [Fact]
    public async Task ALookUpBeforeOllamaListens_IsRetriedSoon()
    {
        // Ollama does not listen until it has started: the first look-up is refused, and its fallback is kept only briefly.
        var port = Rig.ClosedPort();
        var clock = new ManualClock();
        var catalog = new OllamaModelCatalog(_client, new UpstreamEndpoint(UpstreamProfile.Ollama, new Uri($"http://127.0.0.1:{port}/"), null, "ollama"), 65536, NullLogger<OllamaModelCatalog>.Instance, new SecretRedactor([]), clock);

        var beforeStart = await catalog.GetAsync("llama3.1:8b", Ct);
        var loaded = new OllamaEmulation { Models = [new OllamaModel("llama3.1:8b") { LoadedContextLength = 8192 }] };
        await using var ollama = await ScriptedUpstream.ScriptedUpstream.StartAsync(
            new ScriptedUpstreamOptions { Url = $"http://127.0.0.1:{port}", Script = _ => ScriptedReply.Text("unused"), Ollama = loaded },
            Ct);
        clock.Advance(OllamaModelCatalog.FailureLifetime - TimeSpan.FromMilliseconds(1));
        var stillCached = await catalog.GetAsync("llama3.1:8b", Ct);
        clock.Advance(TimeSpan.FromMilliseconds(1));
        var started = await catalog.GetAsync("llama3.1:8b", Ct);

        Assert.Equal((65536, "configured"), (beforeStart.ContextLength, beforeStart.ContextSource));
        Assert.Same(beforeStart, stillCached);
        Assert.Equal((8192, "api/ps"), (started.ContextLength, started.ContextSource));
    }

    [Fact]
    public async Task WhileAModelLoads_WhatApiShowSaysStillCounts_AndApiPsIsAskedAgainSoon()
    {
        // While any model loads, Ollama's /api/ps waits for the load to end (OllamaEmulation.Loading); /api/show does not.
        var qwen = new OllamaModel("qwen3:8b") { Architecture = "qwen3", TrainedContextLength = 40960, Capabilities = ["completion", "tools", "thinking", "vision"] };
        await using var ollama = await ScriptedUpstream.ScriptedUpstream.StartAsync(
            new ScriptedUpstreamOptions { Script = _ => ScriptedReply.Text("unused"), Ollama = new OllamaEmulation { Models = [qwen], Loading = true } },
            Ct);
        var clock = new ManualClock();
        var catalog = NewCatalog(ollama, clock);

        var started = Stopwatch.StartNew();
        var facts = await catalog.GetAsync("qwen3:8b", Ct);
        var waited = started.Elapsed;
        clock.Advance(OllamaModelCatalog.FailureLifetime);
        await catalog.GetAsync("qwen3:8b", Ct);

        Assert.Equal((40960, "configured"), (facts.ContextLength, facts.ContextSource));
        Assert.Equal((true, true), (facts.SupportsThinking, facts.SupportsVision));
        Assert.True(waited < OllamaModelCatalog.ShowTimeout, $"the look-up waited {waited} for /api/ps");
        Assert.Equal(2, ollama.Requests.Count(r => r.Path == "/api/ps"));
    }

    [Fact]
    public async Task AModelOllamaUnloaded_KeepsTheWindowItLastRanWith_AndAWindowOtherThanConfiguredIsWarnedOfOnce()
    {
        // Ollama unloads an idle model after OLLAMA_KEEP_ALIVE (5 min) and /api/ps stops listing it; the next call loads it
        // again the same way. Here the server runs it with 8192 although the stack was configured for 65536 (its
        // OLLAMA_CONTEXT_LENGTH unset, the window chosen by Ollama's own default).
        var loaded = new OllamaModel("llama3.1:8b") { LoadedContextLength = 8192 };
        var emulation = new OllamaEmulation { Models = [loaded] };
        await using var ollama = await StartOllamaAsync(emulation);
        var clock = new ManualClock();
        var log = new WarningLog();
        var catalog = new OllamaModelCatalog(_client, new UpstreamEndpoint(UpstreamProfile.Ollama, ollama.BaseAddress, null, "ollama"), 65536, log, new SecretRedactor([]), clock);

        var whileLoaded = await catalog.GetAsync("llama3.1:8b", Ct);
        clock.Advance(OllamaModelCatalog.CacheLifetime);
        await catalog.GetAsync("llama3.1:8b", Ct);
        emulation.Models = [loaded with { LoadedContextLength = null }];
        clock.Advance(OllamaModelCatalog.CacheLifetime);
        var afterUnload = await catalog.GetAsync("llama3.1:8b", Ct);
        var showsBefore = ShowRequests(ollama);
        clock.Advance(OllamaModelCatalog.FailureLifetime);
        await catalog.GetAsync("llama3.1:8b", Ct);

        Assert.Equal((8192, "api/ps"), (whileLoaded.ContextLength, whileLoaded.ContextSource));
        Assert.Equal((8192, "api/ps earlier"), (afterUnload.ContextLength, afterUnload.ContextSource));
        // Not loaded: asked again soon, as the call that loads it will have made /api/ps say more.
        Assert.Equal(showsBefore + 1, ShowRequests(ollama));
        var warning = Assert.Single(log.Warnings);
        Assert.Contains("8192-token context window, not the configured 65536", warning, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnAnswerWithoutEnd_IsReadNoFurtherThanTheBound()
    {
        // A server that is not Ollama, or a broken one, answering /api/show with more than any model's facts: read
        // whole, three such look-ups at once held gigabytes. (Under a base path, so the script answers the native API.)
        await using var server = await ScriptedUpstream.ScriptedUpstream.StartAsync(request => request.Path == "/proxy/api/show"
            ? ScriptedReply.Custom(async (context, _, ct) =>
            {
                context.Response.ContentType = "application/json";
                await context.Response.Body.WriteAsync("{\"license\":\""u8.ToArray(), ct);
                var filler = new byte[64 * 1024];
                filler.AsSpan().Fill((byte)'x');
                for (var written = 0; written <= OllamaModelCatalog.MaxAnswerBytes; written += filler.Length)
                {
                    await context.Response.Body.WriteAsync(filler, ct);
                }
            })
            : ScriptedReply.Status(200, """{"models":[]}"""), Ct);
        var log = new WarningLog();
        var catalog = new OllamaModelCatalog(_client, new UpstreamEndpoint(UpstreamProfile.Ollama, new Uri(server.BaseAddress, "/proxy/"), null, "ollama"), 65536, log, new SecretRedactor([]), new ManualClock());

        var info = await catalog.GetAsync("llama3.1:8b", Ct);

        Assert.Equal((65536, "configured"), (info.ContextLength, info.ContextSource));
        var warning = Assert.Single(log.Warnings);
        Assert.Contains("/api/show: the upstream's response is larger than 8 MiB", warning, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("llama3.1:8b", "llama3.1:8b")]
    [InlineData("registry.ollama.ai/library/llama3.1:8b", "llama3.1:8b")]
    [InlineData("library/llama3.1", "llama3.1:latest")]
    [InlineData("llama3.1", "llama3.1:latest")]
    [InlineData("someone/coder:7b", "someone/coder:7b")]
    [InlineData("registry.ollama.ai/someone/coder", "someone/coder:latest")]
    [InlineData("localhost:5000/coder", "localhost:5000/coder:latest")]
    public void ModelNames_AreComparedAsApiPsWritesThem(string name, string shortest)
    {
        // /api/ps lists a running model by its shortest name; a client may ask for it by any spelling Ollama accepts,
        // and would otherwise never match it (and be looked up again every 2 s).
        Assert.Equal(shortest, OllamaModelFacts.ShortestName(name));
        var facts = OllamaModelFacts.Combine(name, null, JsonDocument.Parse($$"""{"models":[{"name":"{{shortest}}","model":"{{shortest}}","context_length":8192}]}"""), 65536);
        Assert.Equal((8192, "api/ps"), (facts.ContextLength, facts.ContextSource));
    }

    [Fact]
    public void ModelNames_AreComparedWithoutCase()
    {
        // Ollama matches each part of a name to the models it has without regard to case (server/routes.go
        // getExistingName): asking for Llama3.1:8B runs llama3.1:8b, which /api/ps then lists.
        var facts = OllamaModelFacts.Combine("Llama3.1:8B", null, JsonDocument.Parse("""{"models":[{"name":"llama3.1:8b","model":"llama3.1:8b","context_length":8192}]}"""), 65536);

        Assert.Equal((8192, "api/ps"), (facts.ContextLength, facts.ContextSource));
        Assert.Equal(OllamaModelFacts.SameModel("registry.ollama.ai/library/llama3.1:8b"), OllamaModelFacts.SameModel("Llama3.1:8B"));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ALearnedCannotSeeImages_LastsUntilTheModelIsPulledAgain(bool showAnsweredTheRefusedCall)
    {
        // /api/show lists vision for llava-phi3, but its runner refused an image; a later pull brings the projector and
        // rewrites the manifest, which /api/show reports as a new modified_at. When /api/show did not answer for the
        // refused call, the files seen next are the ones that refused.
        var listed = new OllamaModel("llava-phi3") { Capabilities = ["completion", "tools", "vision"], ProjectorMissing = true };
        var emulation = new OllamaEmulation { Models = [listed] };
        await using var ollama = await StartOllamaAsync(emulation);
        var clock = new ManualClock();
        var catalog = NewCatalog(ollama, clock);

        var refused = showAnsweredTheRefusedCall ? await catalog.GetAsync("llava-phi3", Ct) : new ModelInfo { Model = "llava-phi3" };
        Assert.True(catalog.LearnCannotSeeImages(refused));
        var learned = await catalog.GetAsync("llava-phi3", Ct);
        clock.Advance(OllamaModelCatalog.CacheLifetime);
        var stillTheSameFiles = await catalog.GetAsync("llava-phi3", Ct);
        emulation.Models = [listed with { ProjectorMissing = false, ModifiedAt = listed.ModifiedAt.AddHours(1) }];
        clock.Advance(OllamaModelCatalog.CacheLifetime);
        var pulledAgain = await catalog.GetAsync("llava-phi3", Ct);

        Assert.Equal(showAnsweredTheRefusedCall, refused.ModifiedAt is not null);
        Assert.False(learned.SupportsVision);
        Assert.False(stillTheSameFiles.SupportsVision);
        Assert.True(pulledAgain.SupportsVision);
        Assert.NotEqual(learned.ModifiedAt, pulledAgain.ModifiedAt);
    }

    [Fact]
    public void CannotSeeImages_PastTheBound_IsNotKept_AndSaysSo()
    {
        var catalog = new OllamaModelCatalog(_client, new UpstreamEndpoint(UpstreamProfile.Ollama, new Uri("http://127.0.0.1:9"), null, "ollama"), 65536, NullLogger<OllamaModelCatalog>.Instance, new SecretRedactor([]));
        for (var i = 0; i < OllamaModelCatalog.MaxCachedModels; i++)
        {
            Assert.True(catalog.LearnCannotSeeImages(new ModelInfo { Model = $"made-up-{i}" }));
        }

        Assert.False(catalog.LearnCannotSeeImages(new ModelInfo { Model = "one-more" }));
        Assert.True(catalog.LearnCannotSeeImages(new ModelInfo { Model = "made-up-0" }));
    }

    [Fact]
    public async Task LookUps_PresentTheUpstreamKey_AsModelCallsDo()
    {
        // A proxy in front of Ollama that checks a key lets through only requests that carry it; without it the
        // look-ups would fail quietly and the model's context length, thinking and vision would never be learned.
        await using var ollama = await StartOllamaAsync();
        var upstream = new UpstreamEndpoint(UpstreamProfile.Ollama, ollama.BaseAddress, "proxy-key-0123456789", "ollama");
        var catalog = new OllamaModelCatalog(_client, upstream, 65536, NullLogger<OllamaModelCatalog>.Instance, new SecretRedactor([]));

        await catalog.GetAsync("llama3.1:8b", Ct);

        var lookUps = ollama.Requests.Where(r => r.Path is "/api/show" or "/api/ps").ToList();
        Assert.Equal(["/api/ps", "/api/show"], lookUps.Select(r => r.Path).Order());
        Assert.All(lookUps, r => Assert.Equal(("proxy-key-0123456789", "Bearer proxy-key-0123456789"), (r.Header("x-api-key"), r.Header("authorization"))));
    }

    [Theory]
    [InlineData("""{"model_info":null,"capabilities":"thinking","modified_at":7}""", """{"models":{}}""")]
    [InlineData("[]", "[]")]
    [InlineData("""{"model_info":{"general.architecture":1}}""", """{"models":[{"name":5,"context_length":"8192"}]}""")]
    [InlineData("""{"model_info":{"general.architecture":"llama","llama.context_length":"8192"},"parameters":3}""", """{"models":["llama3.1:8b"]}""")]
    [InlineData("""{"modified_at":"\ud800","model_info":{"general.architecture":"\ud800"},"parameters":"\ud800"}""", """{"models":[{"name":"\ud800"}]}""")]
    public void FactsOfAnotherShape_AreLeftUnknown_NeverAFailure(string show, string ps)
    {
        // Another server run under the ollama profile may answer /api/show and /api/ps in its own way: what is not
        // there in Ollama's shape is not known, and the configured length applies.
        var info = OllamaModelFacts.Combine("llama3.1:8b", JsonDocument.Parse(show), JsonDocument.Parse(ps), 65536);

        Assert.Equal((65536, "configured"), (info.ContextLength, info.ContextSource));
        Assert.Null(info.SupportsThinking);
        Assert.Null(info.SupportsVision);
        Assert.Null(info.ModifiedAt);
        Assert.Null(info.GpuShare);
    }

    private static Task<ScriptedUpstream.ScriptedUpstream> StartOllamaAsync(OllamaEmulation? emulation = null) =>
        ScriptedUpstream.ScriptedUpstream.StartAsync(
            new ScriptedUpstreamOptions { Script = _ => ScriptedReply.Text("unused"), Ollama = emulation ?? new OllamaEmulation() },
            Ct);

    private OllamaModelCatalog NewCatalog(ScriptedUpstream.ScriptedUpstream ollama, TimeProvider clock) =>
        new(_client, new UpstreamEndpoint(UpstreamProfile.Ollama, ollama.BaseAddress, null, "ollama"), 65536, NullLogger<OllamaModelCatalog>.Instance, new SecretRedactor([]), clock);

    private static int ShowRequests(ScriptedUpstream.ScriptedUpstream ollama) => ollama.Requests.Count(r => r.Path == "/api/show");

    private sealed class WarningLog : ILogger<OllamaModelCatalog>
    {
        public List<string> Warnings { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                Warnings.Add(formatter(state, exception));
            }
        }
    }

    private sealed class ManualClock : TimeProvider
    {
        private DateTimeOffset _now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}
