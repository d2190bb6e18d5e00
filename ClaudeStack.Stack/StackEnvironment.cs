namespace ClaudeStack.Stack;

/// <summary>Values only the AppHost can supply (they resolve at run time), referred to symbolically here.</summary>
public enum StackReference
{
    /// <summary>The gateway's HTTP endpoint URL, resolved from inside the consumer's network (container network for Claude Code).</summary>
    GatewayUrl,

    /// <summary>The generated secret stack token parameter.</summary>
    StackToken,

    /// <summary>The upstream API key secret parameter.</summary>
    UpstreamApiKey,
}

/// <summary>One environment variable: a literal value or a <see cref="StackReference"/>.</summary>
public sealed record EnvironmentEntry(string Name, string? Literal, StackReference? Reference)
{
    public static EnvironmentEntry Value(string name, string value) => new(name, value, null);

    public static EnvironmentEntry From(string name, StackReference reference) => new(name, null, reference);

    public override string ToString() => Reference is { } r ? $"{Name}=<{r}>" : $"{Name}={Literal}";
}

/// <summary>The environment of each resource, decided from the validated options (no Aspire types).</summary>
public static class StackEnvironment
{
    /// <summary>Environment of the Ollama container or host process.</summary>
    public static IReadOnlyList<EnvironmentEntry> ForOllama(StackOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        EnvironmentEntry[] entries =
        [
            EnvironmentEntry.Value(StackConstants.OllamaVariables.ContextLength, Invariant(options.ContextLength)),
            EnvironmentEntry.Value(StackConstants.OllamaVariables.KeepAlive, options.KeepAlive),
        ];
        return options.OllamaCloud
            ? entries
            : [.. entries, EnvironmentEntry.Value(StackConstants.OllamaVariables.NoCloud, "1")];
    }

    /// <summary>The gateway's profile for the configured provider.</summary>
    public static string GatewayProfile(StackOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.Provider switch
        {
            ModelProvider.Ollama => StackConstants.GatewayProfiles.Ollama,
            ModelProvider.Anthropic => StackConstants.GatewayProfiles.Anthropic,
            ModelProvider.External when options.External?.Kind == ExternalServerKind.AnthropicCompatible => StackConstants.GatewayProfiles.AnthropicCompatible,
            ModelProvider.External => StackConstants.GatewayProfiles.Ollama,
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Provider, "Unknown provider."),
        };
    }

    /// <summary>
    /// Environment of <c>model-gateway</c>. With the Ollama provider the upstream URL arrives as
    /// <c>ConnectionStrings__ollama</c> from the resource reference; an external server is given as a plain URL.
    /// </summary>
    public static IReadOnlyList<EnvironmentEntry> ForGateway(StackOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);

        var entries = new List<EnvironmentEntry>
        {
            EnvironmentEntry.Value(StackConstants.GatewayVariables.UpstreamProfile, GatewayProfile(options)),
        };

        if (options.Provider == ModelProvider.Ollama)
        {
            entries.Add(EnvironmentEntry.Value(StackConstants.GatewayVariables.UpstreamConnectionName, StackConstants.Resources.Ollama));
        }

        if (options is { Provider: ModelProvider.External, External: { } external })
        {
            entries.Add(EnvironmentEntry.Value(StackConstants.GatewayVariables.UpstreamUrl, external.Url.ToString()));
        }

        if (options.NeedsUpstreamApiKey)
        {
            entries.Add(EnvironmentEntry.From(StackConstants.GatewayVariables.UpstreamApiKey, StackReference.UpstreamApiKey));
        }

        entries.Add(EnvironmentEntry.From(StackConstants.GatewayVariables.StackToken, StackReference.StackToken));

        var map = options.ModelMap;
        AddIfSet(entries, StackConstants.GatewayVariables.ModelsDefault, map.Default);
        AddIfSet(entries, StackConstants.GatewayVariables.ModelsOpus, map.For(ModelFamily.Opus));
        AddIfSet(entries, StackConstants.GatewayVariables.ModelsSonnet, map.For(ModelFamily.Sonnet));
        AddIfSet(entries, StackConstants.GatewayVariables.ModelsHaiku, map.For(ModelFamily.Haiku));
        AddIfSet(entries, StackConstants.GatewayVariables.ModelsFable, map.For(ModelFamily.Fable));

        if (options.UsesLocalModels)
        {
            entries.Add(EnvironmentEntry.Value(StackConstants.GatewayVariables.ContextLength, Invariant(options.ContextLength)));
        }

        // The stack's own Ollama is never behind a proxy either (under Compose the docker CLI gives the gateway's
        // container one too); a remote upstream stays the user's environment's to decide.
        if (options.Provider == ModelProvider.Ollama)
        {
            AddNoProxy(entries, options);
        }

        return entries;
    }

    /// <summary>
    /// Environment of the <c>claude-code</c> container: the gateway as its only endpoint, the stack token as
    /// its credential (never the upstream API key), model names so no Claude name is asked for with local
    /// models, and Claude Code's own telemetry. The OTLP endpoint and protocol come from Aspire's
    /// <c>WithOtlpExporter</c>, not from here.
    /// </summary>
    public static IReadOnlyList<EnvironmentEntry> ForClaudeCode(StackOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);

        var entries = new List<EnvironmentEntry>
        {
            EnvironmentEntry.From(StackConstants.ClaudeCodeVariables.BaseUrl, StackReference.GatewayUrl),
            EnvironmentEntry.From(StackConstants.ClaudeCodeVariables.AuthToken, StackReference.StackToken),

            // The folder the AppHost keeps in a volume (ClaudeCodeConfigVolume).
            EnvironmentEntry.Value(StackConstants.ClaudeCodeVariables.ConfigDir, StackConstants.Paths.ContainerClaudeConfig),
        };

        var map = options.ModelMap;
        AddIfSet(entries, StackConstants.ClaudeCodeVariables.Model, map.Default);
        AddIfSet(entries, StackConstants.ClaudeCodeVariables.DefaultOpusModel, map.For(ModelFamily.Opus));
        AddIfSet(entries, StackConstants.ClaudeCodeVariables.DefaultSonnetModel, map.For(ModelFamily.Sonnet));
        AddIfSet(entries, StackConstants.ClaudeCodeVariables.DefaultHaikuModel, map.For(ModelFamily.Haiku));
        AddIfSet(entries, StackConstants.ClaudeCodeVariables.DefaultFableModel, map.For(ModelFamily.Fable));
        AddIfSet(entries, StackConstants.ClaudeCodeVariables.SubagentModel, map.Default);

        if (options.UsesLocalModels)
        {
            entries.Add(EnvironmentEntry.Value(StackConstants.ClaudeCodeVariables.StreamIdleTimeoutMs, Invariant(StackConstants.Defaults.LocalModelStreamIdleTimeoutMs)));
        }

        if (ClaudeCodeMaxContextTokens(options) is { } maxContextTokens)
        {
            entries.Add(EnvironmentEntry.Value(StackConstants.ClaudeCodeVariables.MaxContextTokens, Invariant(maxContextTokens)));
        }

        if (ClaudeCodeAutoCompactWindow(options) is { } autoCompactWindow)
        {
            entries.Add(EnvironmentEntry.Value(StackConstants.ClaudeCodeVariables.AutoCompactWindow, Invariant(autoCompactWindow)));
        }

        AddNoProxy(entries, options);
        entries.Add(EnvironmentEntry.Value(StackConstants.ClaudeCodeVariables.EnableTelemetry, "1"));
        entries.Add(EnvironmentEntry.Value(StackConstants.ClaudeCodeVariables.MetricsExporter, "otlp"));
        entries.Add(EnvironmentEntry.Value(StackConstants.ClaudeCodeVariables.LogsExporter, "otlp"));
        entries.Add(EnvironmentEntry.Value(StackConstants.ClaudeCodeVariables.TracesExporter, "otlp"));
        entries.Add(EnvironmentEntry.Value(StackConstants.ClaudeCodeVariables.EnhancedTelemetryBeta, "1"));
        entries.Add(EnvironmentEntry.Value(StackConstants.ClaudeCodeVariables.PropagateTraceparent, "1"));

        var claudeCode = options.ClaudeCode;
        if (claudeCode.TrustWorkspace)
        {
            entries.Add(EnvironmentEntry.Value(StackConstants.ClaudeCodeVariables.TrustWorkspace, "1"));
        }

        if (claudeCode.Mode == ClaudeCodeMode.Task)
        {
            AddIfSet(entries, StackConstants.ClaudeCodeVariables.TaskPrompt, claudeCode.Prompt);
            AddIfSet(entries, StackConstants.ClaudeCodeVariables.TaskOutputFormat, claudeCode.OutputFormat);
            AddIfSet(entries, StackConstants.ClaudeCodeVariables.TaskAllowedTools, claudeCode.AllowedTools);
        }

        return entries;
    }

    /// <summary>
    /// Where Claude Code (and the gateway, in front of the stack's Ollama) goes without a proxy. A proxy set for
    /// containers (Docker's <c>proxies</c> in ~/.docker/config.json puts HTTP_PROXY and HTTPS_PROXY into every
    /// container) cannot reach the stack's own services, found on the host (Docker's, Podman's or Aspire's tunnel's
    /// name for it), on loopback, or by service name under Compose. The user's own exemptions are kept.
    /// </summary>
    public static string NoProxy(StackOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        string[] stackHosts =
        [
            "localhost", "127.0.0.1", "::1",
            "host.docker.internal", "host.containers.internal", "aspire.dev.internal", ".dev.internal",
            StackConstants.Resources.Gateway, StackConstants.Resources.Ollama, $"{StackConstants.Resources.ComposeEnvironment}-dashboard",
        ];
        return string.Join(',', stackHosts.Concat(options.ExtraNoProxyHosts).Distinct(StringComparer.OrdinalIgnoreCase));
    }

    /// <summary><see cref="NoProxy"/> under both spellings of the variable.</summary>
    private static void AddNoProxy(List<EnvironmentEntry> entries, StackOptions options)
    {
        var noProxy = NoProxy(options);
        entries.Add(EnvironmentEntry.Value(StackConstants.ProxyVariables.NoProxy, noProxy));
        entries.Add(EnvironmentEntry.Value(StackConstants.ProxyVariables.NoProxyLowercase, noProxy));
    }

    /// <summary>
    /// The context window Claude Code is told about for a local model (<c>CLAUDE_CODE_MAX_CONTEXT_TOKENS</c>):
    /// <c>ClaudeCode:MaxContextTokens</c> when set, otherwise the <c>ContextLength</c> the model is given (Ollama, or an
    /// external server), so Claude Code does not assume a 1M-token window for a model name it does not know. Nothing
    /// with the Anthropic provider: Claude Code ignores the variable for Claude models (see <see cref="ClaudeCodeAutoCompactWindow"/>).
    /// </summary>
    public static int? ClaudeCodeMaxContextTokens(StackOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.UsesLocalModels ? options.ClaudeCode.MaxContextTokens ?? options.ContextLength : null;
    }

    /// <summary>
    /// The cap on the window Claude Code auto-compacts in with the Anthropic provider (<c>CLAUDE_CODE_AUTO_COMPACT_WINDOW</c>):
    /// <c>ClaudeCode:MaxContextTokens</c> when set, the one setting that caps Claude's own window. Nothing otherwise,
    /// and nothing with local models, whose window <see cref="ClaudeCodeMaxContextTokens"/> gives.
    /// </summary>
    public static int? ClaudeCodeAutoCompactWindow(StackOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.UsesLocalModels ? null : options.ClaudeCode.MaxContextTokens;
    }

    /// <summary>
    /// The Docker build arguments of the Claude Code image: the pinned Claude Code version, the uid/gid its user is
    /// built with (so files written into the mounted workspace belong to the host user), and the base image and npm
    /// registry when a mirror is configured.
    /// </summary>
    public static IReadOnlyList<KeyValuePair<string, string>> ClaudeCodeBuildArguments(StackOptions options, string claudeCodeVersion)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(claudeCodeVersion);
        var claudeCode = options.ClaudeCode;
        List<KeyValuePair<string, string>> arguments =
        [
            new(StackConstants.BuildArgs.ClaudeCodeVersion, claudeCodeVersion),
            new(StackConstants.BuildArgs.UserId, claudeCode.User.UserIdText),
            new(StackConstants.BuildArgs.GroupId, claudeCode.User.GroupIdText),
        ];

        // Only when set: the Dockerfile's own defaults stay the single source otherwise.
        if (claudeCode.BaseImage is { } baseImage)
        {
            arguments.Add(new(StackConstants.BuildArgs.BaseImage, baseImage));
        }

        if (claudeCode.NpmRegistry is { } registry)
        {
            arguments.Add(new(StackConstants.BuildArgs.NpmRegistry, registry.AbsoluteUri));
        }

        return arguments;
    }

    /// <summary>
    /// The container arguments, i.e. the entrypoint's mode: <c>task</c>, or <c>idle</c> to wait for
    /// <c>docker exec</c>. With the dashboard terminal (idle mode only) Claude Code itself is the
    /// container's main process, so the terminal shows an interactive Claude Code.
    /// </summary>
    public static IReadOnlyList<string> ClaudeCodeArguments(StackOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.ClaudeCode switch
        {
            { Mode: ClaudeCodeMode.Task } => [StackConstants.EntrypointModes.Task],
            { InDashboardTerminal: true } => [StackConstants.EntrypointModes.Claude],
            _ => [StackConstants.EntrypointModes.Idle],
        };
    }

    /// <summary>
    /// The volume that keeps Claude Code's state between runs (the container is made anew on every start): one per
    /// workspace, as Claude Code on a host keeps each project's sessions apart, and per container user, whose files
    /// another uid could not write.
    /// </summary>
    public static string ClaudeCodeConfigVolume(StackOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        // The workspace is one spelling per folder already; where case does not tell folders apart, it must not tell volumes apart.
        var workspace = StackConstants.PathComparison == StringComparison.OrdinalIgnoreCase ? options.Workspace.ToUpperInvariant() : options.Workspace;
        var owner = $"{workspace}\n{options.ClaudeCode.User.UserIdText}:{options.ClaudeCode.User.GroupIdText}";
        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(owner)))[..12];
        return $"{options.ClaudeCode.ContainerName}-config-{hash}";
    }

    /// <summary>How to attach to the idle container from the host.</summary>
    public static string AttachInstructions(StackOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var name = options.ClaudeCode.ContainerName;
        var script = name == StackConstants.Defaults.ContainerName
            ? StackConstants.Attach.ScriptPath
            : $"{StackConstants.Attach.ScriptContainerVariable}={name} {StackConstants.Attach.ScriptPath}";
        return $"docker exec -it {name} claude" + Environment.NewLine
            + $"or, from the repository root: {script}";
    }

    private static void AddIfSet(List<EnvironmentEntry> entries, string name, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            entries.Add(EnvironmentEntry.Value(name, value));
        }
    }

    private static string Invariant(int value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
