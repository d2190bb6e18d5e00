using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ClaudeStack.ScriptedUpstream;

/// <summary>A model the emulated Ollama has pulled.</summary>
public sealed record OllamaModel(string Name)
{
    public string Architecture { get; init; } = "llama";

    /// <summary>The model's trained context (<c>model_info["&lt;arch&gt;.context_length"]</c> in /api/show).</summary>
    public int TrainedContextLength { get; init; } = 131072;

    /// <summary>A <c>num_ctx</c> line in the Modelfile parameters, when the model sets one.</summary>
    public int? NumCtxParameter { get; init; }

    /// <summary>When loaded, the context the runner was started with (<c>context_length</c> in /api/ps).</summary>
    public int? LoadedContextLength { get; init; }

    public IReadOnlyList<string> Capabilities { get; init; } = ["completion", "tools"];

    /// <summary>
    /// /api/show lists <c>vision</c> (the GGUF has vision blocks), yet the runner starts without a projector, so an
    /// image still fails the call: Ollama decides the capability and the runner's arguments in different places.
    /// </summary>
    public bool ProjectorMissing { get; init; }

    public long Size { get; init; } = 6_000_000_000;

    /// <summary>Bytes in GPU memory; less than <see cref="Size"/> means layers run on the CPU.</summary>
    public long SizeVram { get; init; } = 6_000_000_000;

    /// <summary>The manifest file's modification time, which a pull or create rewrites (/api/show and /api/tags <c>modified_at</c>).</summary>
    public DateTimeOffset ModifiedAt { get; init; } = new(2026, 5, 4, 10, 20, 30, 123, TimeSpan.FromHours(2));
}

/// <summary>
/// Ollama's native endpoints and checks, as in Ollama v0.32.15 (server/routes.go):
/// /api/version, /api/tags, /api/show, /api/ps, /api/pull, the Host check of a loopback-bound server, the Origin check,
/// gin's 404 for a route it does not have (count_tokens) and its 405 for a method a route does not have,
/// 404 <c>{"error":"model 'x' not found"}</c> for a model it does not have, the refusal of a cloud model with cloud off,
/// the 400 for a tool schema its Go decoder cannot read (<see cref="OllamaToolDecoding"/>), the refusal of a model
/// without the completion or tools capability a call needs, and the failed call of a model without vision that is
/// sent an image.
/// </summary>
public sealed class OllamaEmulation
{
    /// <summary>The models pulled; a test replaces one to reproduce <c>ollama pull</c> or <c>ollama create</c> while the gateway runs.</summary>
    public IReadOnlyList<OllamaModel> Models { get; set; } = [new OllamaModel("llama3.1:8b") { LoadedContextLength = 65536 }];

    public string Version { get; init; } = "0.32.15";

    /// <summary>
    /// Reproduces allowedHostsMiddleware of a server bound to loopback (server/routes.go): a Host that is not a
    /// loopback, private, unspecified or own IP address, nor localhost, this machine's name or a *.localhost / *.local /
    /// *.internal name gets 403 with an empty body. Ollama bound to another address checks nothing: turn it off for that.
    /// </summary>
    public bool CheckHost { get; init; } = true;

    /// <summary>
    /// Whether this Ollama runs with <c>OLLAMA_NO_CLOUD=1</c>, as the stack's does by default. A cloud model name on
    /// /v1/messages then gets 403 <c>{"error":"ollama cloud is disabled: remote model is unavailable"}</c> from
    /// cloudPassthroughMiddleware (server/cloud_proxy.go), which runs before the Anthropic middleware and so answers in
    /// Ollama's own error shape. With cloud on the call would go to ollama.com, which is not emulated: the script answers.
    /// </summary>
    public bool CloudDisabled { get; init; } = true;

    /// <summary>
    /// A model is loading. Ollama's /api/ps then waits until the load ends: the scheduler holds each runner's lock
    /// until the runner is up (load in server/sched.go) and /api/ps takes every runner's lock (loadedModels). Here it
    /// waits until the caller gives up.
    /// </summary>
    public bool Loading { get; init; }

    /// <summary>llama-server's answer to an image for a model started without a projector (mmproj).</summary>
    public const string NoProjectorError = """{"error":{"code":500,"message":"image input is not supported - hint: if this is unexpected, you may need to provide the mmproj","type":"server_error"}}""";

    private static readonly JsonSerializerOptions Compact = new();

    internal ScriptedReply? TryAnswer(UpstreamRequest request)
    {
        if (CheckHost && !IsAllowedHost(request.Header("host")))
        {
            return ScriptedReply.Status(403, "", "text/plain");
        }

        if (!IsAllowedOrigin(request.Header("origin"), request.Header("host")))
        {
            return ScriptedReply.Status(403, "", "text/plain");
        }

        if (MethodsOf(request.Path) is { } methods && !methods.Contains(request.Method, StringComparer.Ordinal))
        {
            // gin with HandleMethodNotAllowed (server/routes.go) answers a path it has under another method with 405
            // and the methods it has there, in the order their routes were first registered (gin.go handleHTTPRequest).
            return ScriptedReply.Status(405, "405 method not allowed", "text/plain", ("Allow", string.Join(", ", methods)));
        }

        return request.Path switch
        {
            "/" => ScriptedReply.Status(200, "Ollama is running", "text/plain; charset=utf-8"),
            "/api/version" => Json(new JsonObject { ["version"] = Version }),
            "/api/tags" => Json(new JsonObject { ["models"] = new JsonArray([.. Models.Select(Listed)]) }),
            "/api/ps" when Loading => ScriptedReply.Hang(),
            "/api/ps" => Json(new JsonObject { ["models"] = new JsonArray([.. Models.Where(m => m.LoadedContextLength is not null).Select(Running)]) }),
            "/api/show" => Show(request),
            "/api/pull" => Pull(request),
            _ when request.Path.EndsWith("/v1/messages", StringComparison.Ordinal) => RefuseMessagesCall(request),

            // Ollama has no count_tokens route: gin's own 404 for a path it does not know.
            _ when request.Path.EndsWith("/v1/messages/count_tokens", StringComparison.Ordinal) => ScriptedReply.Status(404, "404 page not found", "text/plain"),
            _ => null,
        };
    }

    /// <summary>The methods Ollama registers for an emulated path (GenerateRoutes), HEAD before GET before POST as registered.</summary>
    private static string[]? MethodsOf(string path) => path switch
    {
        "/" or "/api/version" or "/api/tags" => ["HEAD", "GET"],
        "/api/ps" => ["GET"],
        "/api/show" or "/api/pull" => ["POST"],
        _ when path.EndsWith("/v1/messages", StringComparison.Ordinal) => ["POST"],
        _ => null,
    };

    /// <summary>What Ollama answers to a Messages call before any model runs, in the order it checks; null when the script answers.</summary>
    private ScriptedReply? RefuseMessagesCall(UpstreamRequest request)
    {
        // cloudPassthroughMiddleware lets a call with a web_search tool through to the Anthropic middleware, which
        // refuses it for a cloud model only after converting the request.
        var searchesTheWeb = OffersWebSearch(request.Json);
        if (CloudDisabled && IsCloudModelName(request.Model) && !searchesTheWeb)
        {
            return ScriptedReply.OllamaError(403, "ollama cloud is disabled: remote model is unavailable");
        }

        if (OllamaToolDecoding.Refusal(request.Json) is { } refusal)
        {
            // The Anthropic middleware converts the request before the chat handler looks the model up.
            return ScriptedReply.OllamaRouteError(400, refusal, byMiddleware: true);
        }

        if (CloudDisabled && IsCloudModelName(request.Model))
        {
            return ScriptedReply.OllamaRouteError(403, "ollama cloud is disabled: web search is unavailable", byMiddleware: true);
        }

        if (Find(request.Model) is not { } model)
        {
            // The Anthropic middleware turns the native 404 into an Anthropic not_found_error, the model named as asked.
            return ScriptedReply.OllamaRouteError(404, $"model '{request.Model}' not found");
        }

        if (!model.Capabilities.Contains("completion"))
        {
            // ChatHandler, when scheduleRunner finds no completion capability (an embedding model).
            return ScriptedReply.OllamaRouteError(400, $"\"{request.Model}\" does not support chat");
        }

        if (!model.Capabilities.Contains("tools") && OffersTools(request.Json))
        {
            // scheduleRunner's CheckCapabilities, before any runner starts; the model is named in full.
            return ScriptedReply.OllamaRouteError(400, $"{FullName(request.Model!)} does not support tools");
        }

        if ((!model.Capabilities.Contains("vision") || model.ProjectorMissing) && HoldsImage(request.Json))
        {
            // Ollama hands the image to llama-server (llm/llama_server.go Chat, the native-template path; most library
            // models render through Completion instead, whose wording lives in the vendored llama.cpp), which has no
            // projector for this model and answers 500 with the body below; Ollama passes the status and the body on.
            return ScriptedReply.OllamaRouteError(500, NoProjectorError);
        }

        return null;
    }

    private static bool OffersTools(JsonNode? body) => body?["tools"] is JsonArray { Count: > 0 };

    /// <summary>hasWebSearchTool (server/cloud_proxy.go): a tool whose type, trimmed, starts with web_search.</summary>
    private static bool OffersWebSearch(JsonNode? body) =>
        (body?["tools"] as JsonArray ?? []).OfType<JsonObject>().Any(tool => StringAt(tool["type"])?.Trim().StartsWith("web_search", StringComparison.Ordinal) == true);

    /// <summary>types/model Name.String with the defaults ParseName fills in: registry.ollama.ai/library/&lt;model&gt;:latest.</summary>
    private static string FullName(string name)
    {
        var parts = name.Split('/');
        var withTag = WithTag(name);
        return parts.Length switch
        {
            1 => "registry.ollama.ai/library/" + withTag,
            2 => "registry.ollama.ai/" + withTag,
            _ => withTag,
        };
    }

    /// <summary>An image block in any message, or inside a tool result (anthropic/anthropic.go keeps both).</summary>
    private static bool HoldsImage(JsonNode? body)
    {
        var blocks = (body?["messages"] as JsonArray ?? []).OfType<JsonObject>()
            .SelectMany(message => message["content"] as JsonArray ?? []).OfType<JsonObject>();
        return blocks.Any(block => IsImage(block) || (block["content"] as JsonArray ?? []).OfType<JsonObject>().Any(IsImage));

        static bool IsImage(JsonObject block) => StringAt(block["type"]) == "image";
    }

    /// <summary>
    /// The thinking level a Messages call runs at, null for none. anthropic/anthropic.go (FromMessagesRequest): a thinking
    /// type "enabled" is <c>think: true</c> and "disabled" is <c>false</c>; any other type leaves the trimmed, lower-cased
    /// output_config.effort ("xhigh" read as "high") to set the level. ChatHandler (server/routes.go) then thinks by
    /// default for a model with the thinking capability, and drops thinking for one without (relax_thinking, set by the
    /// Anthropic middleware). <c>true</c> runs at "medium" (api.ThinkValue.String).
    /// </summary>
    public static string? ThinkingLevel(JsonNode? body, bool modelThinks)
    {
        if (!modelThinks)
        {
            return null;
        }

        var effort = StringAt((body?["output_config"] as JsonObject)?["effort"])?.Trim().ToLowerInvariant();
        return StringAt((body?["thinking"] as JsonObject)?["type"]) switch
        {
            "enabled" => "medium",
            "disabled" => null,
            _ when effort is "high" or "medium" or "low" or "max" => effort,
            _ when effort is "xhigh" => "high",
            _ => "medium",
        };
    }

    /// <summary>A JSON string's value; null for anything else.</summary>
    private static string? StringAt(JsonNode? node) => node is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : null;

    /// <summary>
    /// A Go time.Time in JSON (RFC3339Nano): the fraction's trailing zeros dropped, and the local offset, which the
    /// layout's <c>Z07:00</c> writes as <c>Z</c> when it is zero (as in a container, whose clock is UTC).
    /// </summary>
    private static string GoTime(DateTimeOffset time) =>
        time.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF", System.Globalization.CultureInfo.InvariantCulture)
        + (time.Offset == TimeSpan.Zero ? "Z" : time.ToString("zzz", System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>internal/modelref: the tag is <c>cloud</c>, or ends in <c>-cloud</c> (a tag holds no '/'), in any case.</summary>
    private static bool IsCloudModelName(string? name)
    {
        var colon = name?.LastIndexOf(':') ?? -1;
        if (colon < 0)
        {
            return false;
        }

        var tag = name![(colon + 1)..];
        return tag.Equals("cloud", StringComparison.OrdinalIgnoreCase)
            || (tag.EndsWith("-cloud", StringComparison.OrdinalIgnoreCase) && !tag.Contains('/', StringComparison.Ordinal));
    }

    /// <summary>getExistingName: the model whose name, in any case and with the default registry, namespace and tag filled in, is this one.</summary>
    private OllamaModel? Find(string? name) =>
        name is null ? null : Models.FirstOrDefault(m => string.Equals(DisplayShortest(m.Name), DisplayShortest(name), StringComparison.OrdinalIgnoreCase));

    /// <summary>types/model Name.DisplayShortest: without the default registry and namespace, always with a tag.</summary>
    private static string DisplayShortest(string name)
    {
        foreach (var prefix in (string[])["registry.ollama.ai/", "library/"])
        {
            if (name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                name = name[prefix.Length..];
            }
        }

        return WithTag(name);
    }

    /// <summary>The name with its tag, <c>latest</c> when it has none (a colon before the last '/' is a registry's port).</summary>
    private static string WithTag(string name) => name.LastIndexOf(':') > name.LastIndexOf('/') ? name : name + ":latest";

    /// <summary>
    /// gin-contrib/cors as routes.go sets it up: a request with an <c>Origin</c> header is refused with an empty 403 unless
    /// the origin is the server's own or one of envconfig.AllowedOrigins (localhost, 127.0.0.1 and 0.0.0.0 on any port,
    /// and app, file, tauri and VS Code webview pages).
    /// </summary>
    private static bool IsAllowedOrigin(string? origin, string? host)
    {
        if (string.IsNullOrEmpty(origin) || origin == "http://" + host || origin == "https://" + host)
        {
            return true;
        }

        string[] allowed =
        [
            .. ((string[])["localhost", "127.0.0.1", "0.0.0.0"]).SelectMany(h => (string[])[$"http://{h}", $"https://{h}", $"http://{h}:*", $"https://{h}:*"]),
            "app://*", "file://*", "tauri://*", "vscode-webview://*", "vscode-file://*",
        ];
        return allowed.Any(pattern => pattern.IndexOf('*') is var star and >= 0
            ? origin.StartsWith(pattern[..star], StringComparison.Ordinal) && origin.EndsWith(pattern[(star + 1)..], StringComparison.Ordinal)
            : origin == pattern);
    }

    /// <summary>allowedHostsMiddleware and allowedHost, step by step.</summary>
    private static bool IsAllowedHost(string? hostHeader)
    {
        var host = SplitHost(hostHeader ?? "");
        if (ParseAddr(host) is { } address)
        {
            if (IPAddress.IsLoopback(address) || IsPrivate(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) || IsOwnAddress(address))
            {
                return true;
            }
        }

        host = host.ToLowerInvariant();
        return host is "" or "localhost"
            || host == Dns.GetHostName().ToLowerInvariant()
            || host.EndsWith(".localhost", StringComparison.Ordinal)
            || host.EndsWith(".local", StringComparison.Ordinal)
            || host.EndsWith(".internal", StringComparison.Ordinal);
    }

    /// <summary>Go's net.SplitHostPort, falling back to the whole value when it is not host:port.</summary>
    private static string SplitHost(string hostHeader)
    {
        if (hostHeader.StartsWith('['))
        {
            var end = hostHeader.IndexOf("]:", StringComparison.Ordinal);
            return end > 0 ? hostHeader[1..end] : hostHeader;
        }

        var colon = hostHeader.IndexOf(':', StringComparison.Ordinal);
        return colon >= 0 && colon == hostHeader.LastIndexOf(':') ? hostHeader[..colon] : hostHeader;
    }

    /// <summary>
    /// netip.ParseAddr, which is stricter than IPAddress.TryParse: IPv4 only as four decimal parts (no "127.1", no
    /// integers), IPv6 without brackets. An IPv4-mapped IPv6 address is judged as its IPv4 address, as netip does.
    /// </summary>
    private static IPAddress? ParseAddr(string host)
    {
        var dottedQuad = host.Split('.') is { Length: 4 } parts && parts.All(p => p.Length is > 0 and <= 3 && p.All(char.IsAsciiDigit) && (p.Length == 1 || p[0] != '0'));
        var ipv6 = host.Contains(':', StringComparison.Ordinal) && !host.Contains('[', StringComparison.Ordinal);
        if (!(dottedQuad || ipv6) || !IPAddress.TryParse(host, out var address))
        {
            return null;
        }

        return address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
    }

    /// <summary>netip.Addr.IsPrivate: 10/8, 172.16/12, 192.168/16, fc00::/7.</summary>
    private static bool IsPrivate(IPAddress address)
    {
        var bytes = address.GetAddressBytes();
        return address.AddressFamily == AddressFamily.InterNetwork
            ? bytes[0] == 10 || (bytes[0] == 172 && (bytes[1] & 0xF0) == 16) || (bytes[0] == 192 && bytes[1] == 168)
            : (bytes[0] & 0xFE) == 0xFC;
    }

    /// <summary>isLocalIP: an address of one of this machine's interfaces.</summary>
    private static bool IsOwnAddress(IPAddress address) =>
        NetworkInterface.GetAllNetworkInterfaces()
            .SelectMany(i => i.GetIPProperties().UnicastAddresses)
            .Any(a => a.Address.Equals(address));

    /// <summary>An /api/tags entry (api.ListModelResponse).</summary>
    private static JsonNode Listed(OllamaModel model) => new JsonObject
    {
        ["name"] = DisplayShortest(model.Name),
        ["model"] = DisplayShortest(model.Name),
        ["modified_at"] = GoTime(model.ModifiedAt),
        ["size"] = model.Size,
        ["digest"] = Digest(model),
        ["details"] = Details(model),
    };

    /// <summary>An /api/ps entry (api.ProcessModelResponse), kept loaded for Ollama's default five minutes.</summary>
    private static JsonNode Running(OllamaModel model) => new JsonObject
    {
        ["name"] = DisplayShortest(model.Name),
        ["model"] = DisplayShortest(model.Name),
        ["size"] = model.Size,
        ["digest"] = Digest(model),
        ["details"] = Details(model),
        ["expires_at"] = GoTime(DateTimeOffset.UtcNow.AddMinutes(5)),
        ["size_vram"] = model.SizeVram,
        ["context_length"] = model.LoadedContextLength,
    };

    /// <summary>api.ModelDetails as a GGUF model's config gives it: an 8B model at Ollama's usual quantization.</summary>
    private static JsonObject Details(OllamaModel model) => new()
    {
        ["parent_model"] = "",
        ["format"] = "gguf",
        ["family"] = model.Architecture,
        ["families"] = new JsonArray(JsonValue.Create(model.Architecture)),
        ["parameter_size"] = "8.0B",
        ["quantization_level"] = "Q4_K_M",
    };

    /// <summary>The manifest's sha256, in hex: one per name and modification, as a new pull writes a new manifest.</summary>
    private static string Digest(OllamaModel model) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{DisplayShortest(model.Name)}@{GoTime(model.ModifiedAt)}")));

    private ScriptedReply Show(UpstreamRequest request)
    {
        var name = ModelAskedFor(request);
        if (Find(name) is not { } model)
        {
            return ScriptedReply.OllamaError(404, $"model '{DisplayShortest(name ?? "")}' not found");
        }

        var show = new JsonObject { ["modelfile"] = $"FROM {DisplayShortest(model.Name)}\n" };

        // Without options the field is left out (omitempty). ShowHandler writes each option as fmt's "%-*s %#v" with a
        // width of 30; options are read from JSON, so a number is a float64, which %#v writes in strconv's shortest 'g'
        // form: an exponent from a million up.
        if (model.NumCtxParameter is { } numCtx)
        {
            show["parameters"] = $"{"num_ctx",-30} {(numCtx >= 1_000_000 ? numCtx.ToString("0.################e+00", System.Globalization.CultureInfo.InvariantCulture) : numCtx)}";
        }

        show["template"] = "{{ .Prompt }}";
        show["details"] = Details(model);
        show["model_info"] = new JsonObject
        {
            ["general.architecture"] = model.Architecture,
            [$"{model.Architecture}.context_length"] = model.TrainedContextLength,
        };
        show["capabilities"] = new JsonArray([.. model.Capabilities.Select(c => (JsonNode)JsonValue.Create(c))]);
        show["modified_at"] = GoTime(model.ModifiedAt);
        return Json(show);
    }

    /// <summary>ShowHandler and PullHandler take the model from <c>model</c>, else from the older <c>name</c>.</summary>
    private static string? ModelAskedFor(UpstreamRequest request) =>
        StringAt(request.Json?["model"]) is { Length: > 0 } model ? model : StringAt(request.Json?["name"]);

    /// <summary>
    /// PullModel streams NDJSON progress and has sent <c>pulling manifest</c> before it fetches the manifest, so a model
    /// the registry does not have still gets 200, and the failure is the stream's last line (streamResponse). With
    /// <c>"stream": false</c> the answer is the last progress alone, or the failure as a 500 (waitForStream).
    /// </summary>
    private ScriptedReply Pull(UpstreamRequest request)
    {
        var name = ModelAskedFor(request) ?? "";
        JsonObject[] lines = Find(name) is null
            ?
            [
                new JsonObject { ["status"] = "pulling manifest" },
                new JsonObject { ["error"] = "pull model manifest: file does not exist" },
            ]
            :
            [
                new JsonObject { ["status"] = "pulling manifest" },
                new JsonObject { ["status"] = "pulling 667b0c1932bc", ["digest"] = "sha256:667b0c1932bc", ["total"] = 100, ["completed"] = 50 },
                new JsonObject { ["status"] = "pulling 667b0c1932bc", ["digest"] = "sha256:667b0c1932bc", ["total"] = 100, ["completed"] = 100 },
                new JsonObject { ["status"] = "verifying sha256 digest" },
                new JsonObject { ["status"] = "writing manifest" },
                new JsonObject { ["status"] = "success" },
            ];
        if (request.Json?["stream"] is JsonValue stream && stream.GetValueKind() == JsonValueKind.False)
        {
            return lines[^1]["error"] is { } error
                ? ScriptedReply.Status(500, new JsonObject { ["error"] = error.DeepClone() }.ToJsonString(Compact))
                : Json(lines[^1]);
        }

        return ScriptedReply.Status(200, string.Concat(lines.Select(l => l.ToJsonString(Compact) + "\n")), "application/x-ndjson");
    }

    private static ScriptedReply Json(JsonNode node) => ScriptedReply.Status(200, node.ToJsonString(Compact));
}
