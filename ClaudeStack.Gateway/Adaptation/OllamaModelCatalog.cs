using System.Collections.Concurrent;
using System.Text.Json;
using ClaudeStack.Gateway.Configuration;
using ClaudeStack.Gateway.Streaming;
using ClaudeStack.Gateway.Telemetry;

namespace ClaudeStack.Gateway.Adaptation;

/// <summary>
/// Learns each model's context window, capabilities and GPU share from Ollama (/api/ps and /api/show),
/// falling back to the window it last ran the model with, then to the configured context length; caches what it learns.
/// </summary>
public sealed class OllamaModelCatalog(
    HttpClient client,
    UpstreamEndpoint upstream,
    int? configuredContextLength,
    ILogger<OllamaModelCatalog> logger,
    SecretRedactor redactor,
    TimeProvider? clock = null)
{
    /// <summary>/api/ps changes as models load and unload; re-read it after this long.</summary>
    public static readonly TimeSpan CacheLifetime = TimeSpan.FromSeconds(30);

    /// <summary>
    /// After a failed look-up, or one for a model Ollama has not loaded, how soon to ask again: the call about to be
    /// made loads the model, and then /api/ps says the window Ollama really gave it.
    /// </summary>
    public static readonly TimeSpan FailureLifetime = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Model names are the client's to choose: past this many, entries that have expired are let go. A soft bound:
    /// callers that miss at the same moment may each add one.
    /// </summary>
    public const int MaxCachedModels = 256;

    /// <summary>/api/show reads the model's files.</summary>
    public static readonly TimeSpan ShowTimeout = TimeSpan.FromSeconds(5);

    /// <summary>/api/ps answers at once unless a model is loading, which can take minutes: not worth waiting for.</summary>
    public static readonly TimeSpan PsTimeout = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Largest /api/show or /api/ps answer read: a model's facts take tens of KB (its license the most), and a server
    /// answering without end must not fill the gateway's memory on a machine that also runs the model.
    /// </summary>
    public const int MaxAnswerBytes = 8 * 1024 * 1024;

    private readonly ConcurrentDictionary<string, (ModelInfo Info, DateTimeOffset ExpiresAt)> _cache = new(StringComparer.Ordinal);
    /// <summary>The window /api/ps last reported for each model: Ollama loads it the same way again after unloading it.</summary>
    private readonly ConcurrentDictionary<string, int> _lastLoaded = new(StringComparer.Ordinal);
    /// <summary>Models whose runner refused an image, with the <see cref="ModelInfo.ModifiedAt"/> they had then.</summary>
    private readonly ConcurrentDictionary<string, string?> _cannotSeeImages = new(StringComparer.Ordinal);
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;

    /// <summary>Facts still current (read within the cache lifetime), for the health check.</summary>
    public IReadOnlyCollection<ModelInfo> Current => [.. _cache.Values.Where(v => _clock.GetUtcNow() < v.ExpiresAt).Select(v => v.Info)];

    public async Task<ModelInfo> GetAsync(string model, CancellationToken cancellationToken)
    {
        if (_cache.TryGetValue(model, out var cached) && _clock.GetUtcNow() < cached.ExpiresAt)
        {
            return cached.Info;
        }

        // Both at once: /api/show answers at once, but Ollama's /api/ps waits while any model is loading (the
        // scheduler holds each runner's lock until it runs), so a slow /api/ps must not cost what /api/show said.
        var showLookUp = TryGetJsonAsync(HttpMethod.Post, "/api/show", JsonSerializer.SerializeToUtf8Bytes(new { model }), ShowTimeout, cancellationToken);
        var psLookUp = TryGetJsonAsync(HttpMethod.Get, "/api/ps", null, PsTimeout, cancellationToken);
        var (show, showFailure) = await showLookUp;
        var (ps, psFailure) = await psLookUp;
        var psAnswered = ps is not null;
        var info = OllamaModelFacts.Combine(model, show, ps, configuredContextLength, _lastLoaded.TryGetValue(model, out var lastLoaded) ? lastLoaded : null);
        info = WithLearnedVision(info);
        if (info.ContextSource == OllamaModelFacts.LoadedSource)
        {
            RememberLoaded(model, info.ContextLength!.Value);
        }

        var lifetime = CacheLifetime;
        if ((showFailure ?? psFailure) is { } failure)
        {
            // Ollama may still be starting, or loading a model: use what is known, and ask again soon rather than in 30 s.
            // The name is the client's to choose, a pasted secret included.
            Log.ModelInfoUnavailable(logger, redactor.Redact(model), failure);
            lifetime = FailureLifetime;
        }
        else if (psAnswered && info.ContextSource != OllamaModelFacts.LoadedSource)
        {
            lifetime = FailureLifetime;
        }

        if (_cache.Count >= MaxCachedModels)
        {
            var now = _clock.GetUtcNow();
            foreach (var (name, entry) in _cache)
            {
                if (entry.ExpiresAt <= now)
                {
                    _cache.TryRemove(name, out _);
                }
            }
        }

        // Still full of current entries: answer without keeping this one.
        if (_cache.Count < MaxCachedModels)
        {
            _cache[model] = (info, _clock.GetUtcNow() + lifetime);

            // A refusal learned while Ollama was being asked must not be covered by what Ollama said before it.
            if (info.SupportsVision != false && _cannotSeeImages.ContainsKey(model))
            {
                _cache.TryRemove(model, out _);
            }
        }

        return info;
    }

    /// <summary>
    /// Keeps the window Ollama runs the model with, and warns once when it is not the configured one: Claude Code was
    /// told the configured window and plans its compaction by it.
    /// </summary>
    private void RememberLoaded(string model, int contextLength)
    {
        if ((_lastLoaded.TryGetValue(model, out var known) && known == contextLength)
            || (_lastLoaded.Count >= MaxCachedModels && !_lastLoaded.ContainsKey(model)))
        {
            return;
        }

        _lastLoaded[model] = contextLength;
        if (configuredContextLength is { } configured && configured != contextLength)
        {
            Log.LoadedContextDiffers(logger, redactor.Redact(model), contextLength, configured);
        }
    }

    private ModelInfo WithLearnedVision(ModelInfo info)
    {
        if (!_cannotSeeImages.TryGetValue(info.Model, out var learnedOf))
        {
            return info;
        }

        if (learnedOf is null && info.ModifiedAt is not null)
        {
            // Learned while /api/show did not answer: the files seen first since then are the ones that refused.
            _cannotSeeImages.TryUpdate(info.Model, info.ModifiedAt, null);
        }
        else if (learnedOf is not null && info.ModifiedAt is not null && learnedOf != info.ModifiedAt)
        {
            // Pulled or created again since, perhaps with its projector this time: its images go to it again.
            _cannotSeeImages.TryRemove(KeyValuePair.Create<string, string?>(info.Model, learnedOf));
            return info;
        }

        return info with { SupportsVision = false };
    }

    /// <summary>
    /// The model's runner refused an image although /api/show lists vision (or said nothing): from now on it counts as
    /// a model without vision, so the next call, Claude Code's retry included, gets a note in place of each image, until
    /// the model is pulled or created again (its /api/show <c>modified_at</c> changes).
    /// </summary>
    /// <param name="refused">The facts the refused call was sent with.</param>
    /// <returns>Whether it is kept: past <see cref="MaxCachedModels"/> models learned, a new one is not.</returns>
    public bool LearnCannotSeeImages(ModelInfo refused)
    {
        var kept = _cannotSeeImages.Count < MaxCachedModels || _cannotSeeImages.ContainsKey(refused.Model);
        if (kept)
        {
            _cannotSeeImages[refused.Model] = refused.ModifiedAt;
        }

        _cache.TryRemove(refused.Model, out _);
        return kept;
    }

    /// <returns>The answer (null for an error status, such as 404 for a model Ollama does not have), or why there is none.</returns>
    private async Task<(JsonDocument? Answer, string? Failure)> TryGetJsonAsync(HttpMethod method, string path, byte[]? body, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, upstream.Target(path, null));
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
            request.Content.Headers.ContentType = new("application/json");
        }

        upstream.Present(request);
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timer.CancelAfter(timeout);
        try
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timer.Token);
            if (!response.IsSuccessStatusCode)
            {
                return (null, null);
            }

            var (answer, failure) = await BoundedBody.ReadAsync(response, MaxAnswerBytes, timeout, timer.Token);
            return failure is { Error: var error } ? (null, $"{path}: {error.Message}") : (JsonDocument.Parse(answer), null);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (OperationCanceledException)
        {
            return (null, $"{path} did not answer within {timeout.TotalSeconds:0.#} s");
        }
        catch (Exception exception) when (exception is JsonException or InvalidOperationException || UpstreamBodyFailure.Is(exception))
        {
            return (null, $"{path}: {exception.Message}");
        }
    }
}

/// <summary>Reads the facts out of Ollama's /api/show and /api/ps answers. Pure.</summary>
public static class OllamaModelFacts
{
    /// <summary>The context source of a window /api/ps reports for the model as loaded now.</summary>
    public const string LoadedSource = "api/ps";

    /// <summary>
    /// The window, by what says it best: /api/ps for the model as loaded now; the window it was last loaded with;
    /// the Modelfile's num_ctx; the configured length (the server's OLLAMA_CONTEXT_LENGTH, when the stack set it); and
    /// the trained maximum, which Ollama never exceeds, when nothing else is known.
    /// </summary>
    public static ModelInfo Combine(string model, JsonDocument? show, JsonDocument? ps, int? configuredContextLength, int? lastLoadedContextLength = null)
    {
        using (show)
        using (ps)
        {
            int? context = null;
            string? source = null;
            double? gpuShare = null;
            if (ps is not null && Find(ps.RootElement, "models", JsonValueKind.Array, out var running))
            {
                var wanted = SameModel(model);
                foreach (var entry in running.EnumerateArray())
                {
                    if (!Matches(entry, wanted))
                    {
                        continue;
                    }

                    if (Find(entry, "context_length", JsonValueKind.Number, out var loaded) && loaded.TryGetInt32(out var length) && length > 0)
                    {
                        (context, source) = (length, LoadedSource);
                    }

                    if (Find(entry, "size", JsonValueKind.Number, out var size) && size.TryGetInt64(out var total) && total > 0
                        && Find(entry, "size_vram", JsonValueKind.Number, out var vram) && vram.TryGetInt64(out var inGpu))
                    {
                        gpuShare = Math.Clamp(inGpu / (double)total, 0, 1);
                    }
                }
            }

            if (context is null && lastLoadedContextLength is { } lastLoaded)
            {
                (context, source) = (lastLoaded, "api/ps earlier");
            }

            bool? thinking = null;
            bool? vision = null;
            string? modifiedAt = null;
            if (show is not null)
            {
                var root = show.RootElement;
                if (Find(root, "modified_at", JsonValueKind.String, out var modified))
                {
                    modifiedAt = Text(modified);
                }

                // The trained maximum: Ollama starts the runner with no more than this, whatever num_ctx or the
                // configured length ask for (effectiveContext in server/sched.go).
                int? trained = null;
                if (Find(root, "model_info", JsonValueKind.Object, out var info) && Find(info, "general.architecture", JsonValueKind.String, out var arch)
                    && Find(info, $"{Text(arch)}.context_length", JsonValueKind.Number, out var trainedLength) && trainedLength.TryGetInt32(out var value))
                {
                    trained = value;
                }

                if (context is null && Find(root, "parameters", JsonValueKind.String, out var parameters)
                    && Text(parameters) is { } parametersText && NumCtx(parametersText) is { } numCtx)
                {
                    (context, source) = (CappedAt(numCtx, trained), "api/show num_ctx");
                }

                if (context is null && configuredContextLength is { } configured)
                {
                    (context, source) = (CappedAt(configured, trained), "configured");
                }
                else if (context is null && trained is { } t)
                {
                    (context, source) = (t, "api/show model_info");
                }

                if (Find(root, "capabilities", JsonValueKind.Array, out var capabilities))
                {
                    var names = capabilities.EnumerateArray().Where(c => c.ValueKind == JsonValueKind.String).Select(Text).ToHashSet();
                    thinking = names.Contains("thinking");
                    vision = names.Contains("vision");
                }
            }

            if (context is null && configuredContextLength is { } fallback)
            {
                (context, source) = (fallback, "configured");
            }

            return new ModelInfo { Model = model, ContextLength = context, ContextSource = source, SupportsThinking = thinking, SupportsVision = vision, ModifiedAt = modifiedAt, GpuShare = gpuShare };
        }
    }

    /// <param name="wanted">The asked-for model's <see cref="SameModel"/> key.</param>
    private static bool Matches(JsonElement entry, string wanted)
    {
        var name = Find(entry, "name", JsonValueKind.String, out var n) ? Text(n) : Find(entry, "model", JsonValueKind.String, out var m) ? Text(m) : null;
        return name is not null && SameModel(name) == wanted;
    }

    /// <summary>
    /// One key for every spelling Ollama reads as one model: the shortest name, without case, as Ollama matches each
    /// part of a name to the models it has (server/routes.go getExistingName).
    /// </summary>
    public static string SameModel(string name) => ShortestName(name).ToLowerInvariant();

    /// <summary>
    /// A model's name as /api/ps writes it (types/model Name.DisplayShortest): without the default registry and
    /// namespace, with its tag. <c>registry.ollama.ai/library/llama3.1</c>, <c>library/llama3.1:latest</c> and
    /// <c>llama3.1</c> are one model.
    /// </summary>
    public static string ShortestName(string name)
    {
        const string DefaultRegistry = "registry.ollama.ai/";
        const string DefaultNamespace = "library/";
        if (name.StartsWith(DefaultRegistry, StringComparison.OrdinalIgnoreCase))
        {
            name = name[DefaultRegistry.Length..];
        }

        if (name.StartsWith(DefaultNamespace, StringComparison.OrdinalIgnoreCase))
        {
            name = name[DefaultNamespace.Length..];
        }

        return name.LastIndexOf(':') > name.LastIndexOf('/') ? name : name + ":latest";
    }

    /// <summary>
    /// A property of the kind expected, or nothing: servers other than Ollama may answer under the ollama profile, and
    /// an answer of another shape must cost the facts it lacks, never the call.
    /// </summary>
    private static bool Find(JsonElement element, string name, JsonValueKind kind, out JsonElement value)
    {
        value = default;
        return element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out value) && value.ValueKind == kind;
    }

    /// <summary>A string's text, or null for one .NET cannot hold (an unpaired surrogate escape, which Go never writes).</summary>
    private static string? Text(JsonElement value)
    {
        try
        {
            return value.GetString();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private static int CappedAt(int length, int? trained) => trained is { } t ? Math.Min(length, t) : length;

    /// <summary>
    /// Finds <c>num_ctx  8192</c> in the Modelfile parameters text. Ollama prints the values it decoded from JSON as
    /// Go floats, so a million or more reads <c>1.048576e+06</c>.
    /// </summary>
    public static int? NumCtx(string parameters)
    {
        foreach (var line in parameters.Split('\n'))
        {
            var parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 2 && parts[0] == "num_ctx"
                && double.TryParse(parts[1], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var value)
                && value is >= 1 and <= int.MaxValue)
            {
                return (int)value;
            }
        }

        return null;
    }
}
