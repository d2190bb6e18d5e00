namespace ClaudeStack.Stack;

/// <summary>Where the model calls go.</summary>
public enum ModelProvider
{
    /// <summary>An Ollama container in the stack (or the host's Ollama with <c>UseHostOllama</c>).</summary>
    Ollama,

    /// <summary>The Anthropic API; the API key is a secret parameter given only to the gateway.</summary>
    Anthropic,

    /// <summary>A model server outside the stack.</summary>
    External,
}

/// <summary>What the external model server speaks.</summary>
public enum ExternalServerKind
{
    /// <summary>An Ollama server (gateway profile <c>ollama</c>).</summary>
    Ollama,

    /// <summary>Any server with an Anthropic <c>/v1/messages</c> API (gateway profile <c>anthropic-compatible</c>).</summary>
    AnthropicCompatible,
}

/// <summary>GPU access for the Ollama container.</summary>
public enum GpuVendor
{
    None,
    Nvidia,
    Amd,
}

/// <summary>How the Claude Code container runs.</summary>
public enum ClaudeCodeMode
{
    /// <summary>Stays up; the user attaches with <c>docker exec -it &lt;name&gt; claude</c> or <c>scripts/claude</c>.</summary>
    Idle,

    /// <summary>Runs one prompt (<c>claude -p</c>) and exits with Claude Code's exit code.</summary>
    Task,
}

/// <summary>The Claude model families the gateway maps to local models.</summary>
public enum ModelFamily
{
    Opus,
    Sonnet,
    Haiku,
    Fable,
}

/// <summary>The external model server (<c>ClaudeStack:External</c>).</summary>
public sealed record ExternalServerOptions(ExternalServerKind Kind, Uri Url, bool UseApiKey);

/// <summary>The Claude Code container (<c>ClaudeStack:ClaudeCode</c>).</summary>
public sealed record ClaudeCodeOptions(
    ClaudeCodeMode Mode,
    string? Prompt,
    string? AllowedTools,
    string? OutputFormat,
    string ContainerName,
    bool Terminal)
{
    /// <summary>
    /// Whether Claude Code runs in the dashboard's terminal: <c>Terminal</c> asks for it, and only an idle container has
    /// one to give; a task runs headless whatever the setting.
    /// </summary>
    public bool InDashboardTerminal => Terminal && Mode == ClaudeCodeMode.Idle;

    /// <summary>
    /// The uid/gid the image's user is built with (<c>ClaudeCode:UserId</c>/<c>GroupId</c>); by default the user
    /// running the AppHost on Linux, 1000:1000 elsewhere.
    /// </summary>
    public ContainerUser User { get; init; } = ContainerUser.Default;

    /// <summary>
    /// <c>ClaudeCode:TrustWorkspace</c>: answer Claude Code's "do you trust this folder" for the workspace in advance.
    /// Off by default: trust lets the project's own <c>.claude/settings.json</c> run hooks and point Claude Code at
    /// another server without a word, so a cloned repository must not get it unasked. Print mode never asks.
    /// </summary>
    public bool TrustWorkspace { get; init; }

    /// <summary>
    /// <c>ClaudeCode:MaxContextTokens</c>: the context window Claude Code plans and auto-compacts in. With local models it
    /// is passed as <c>CLAUDE_CODE_MAX_CONTEXT_TOKENS</c> (at most <c>ContextLength</c>, which it defaults to). With the
    /// Anthropic provider it caps Claude's own window as <c>CLAUDE_CODE_AUTO_COMPACT_WINDOW</c> (the smaller of the two
    /// wins; at least 100000, Claude Code's minimum); not set, Claude Code uses the model's full window.
    /// </summary>
    public int? MaxContextTokens { get; init; }

    /// <summary><c>ClaudeCode:BaseImage</c>: the image to build on instead of the Dockerfile's (a registry mirror's copy).</summary>
    public string? BaseImage { get; init; }

    /// <summary><c>ClaudeCode:NpmRegistry</c>: the npm registry to install Claude Code from instead of npmjs.org.</summary>
    public Uri? NpmRegistry { get; init; }
}

/// <summary>
/// The validated <c>ClaudeStack</c> section. Build it with <see cref="StackOptionsReader.Read"/>;
/// every value here is already checked and defaulted.
/// </summary>
public sealed record StackOptions
{
    public required ModelProvider Provider { get; init; }

    /// <summary>Set only when <see cref="Provider"/> is <see cref="ModelProvider.External"/>.</summary>
    public ExternalServerOptions? External { get; init; }

    /// <summary>The main model; <c>null</c> only in Anthropic mode when none is configured (Claude Code then picks its own).</summary>
    public string? Model { get; init; }

    /// <summary>Further models to pull into Ollama next to the main one (Ollama provider only).</summary>
    public IReadOnlyList<string> ExtraModels { get; init; } = [];

    /// <summary>The configured per-family overrides (unresolved; see <see cref="ModelMap"/>).</summary>
    public IReadOnlyDictionary<ModelFamily, string> ModelOverrides { get; init; } = new Dictionary<ModelFamily, string>();

    public GpuVendor Gpu { get; init; }

    public int ContextLength { get; init; } = StackConstants.Defaults.ContextLength;

    public string KeepAlive { get; init; } = StackConstants.Defaults.KeepAlive;

    /// <summary>The absolute, existing host folder mounted at /workspace.</summary>
    public required string Workspace { get; init; }

    public required ClaudeCodeOptions ClaudeCode { get; init; }

    /// <summary>
    /// Ollama's cloud features: cloud models, Claude Code's WebSearch run through ollama.com, and the model
    /// recommendations Ollama fetches from it. Off by default, so prompts and searches stay on this machine.
    /// </summary>
    public bool OllamaCloud { get; init; }

    /// <summary>Use the host's Ollama (<c>ollama serve</c>, e.g. on macOS where Docker has no GPU) instead of a container.</summary>
    public bool UseHostOllama { get; init; }

    /// <summary>
    /// Hosts reached without a proxy besides the stack's own: the user's exemptions (<c>NO_PROXY</c>, the docker CLI's
    /// <c>noProxy</c>) and a configured <c>AppHost:ContainerHostname</c>.
    /// </summary>
    public IReadOnlyList<string> ExtraNoProxyHosts { get; init; } = [];

    /// <summary>True when the models are local (Ollama or an external server), so Claude names must never reach the upstream.</summary>
    public bool UsesLocalModels => Provider != ModelProvider.Anthropic;

    /// <summary>
    /// Main model first, then the models mapped to Claude families (Claude Code calls them, e.g. Haiku for small
    /// tasks), then the extras, without duplicates (Ollama provider only; empty otherwise).
    /// </summary>
    public IReadOnlyList<string> ModelsToPull =>
        Provider == ModelProvider.Ollama && Model is not null
            ? ModelsInUse.Concat(ExtraModels).Distinct(StringComparer.Ordinal).ToArray()
            : [];

    /// <summary>
    /// The models Claude Code calls: the main model, then the ones mapped to Claude families, without duplicates. The
    /// gateway waits until each is pulled (a Haiku call for a model still downloading would fail); extras may still be.
    /// </summary>
    public IReadOnlyList<string> ModelsInUse =>
        Model is null
            ? []
            : new[] { Model }
                .Concat(Enum.GetValues<ModelFamily>().Where(ModelOverrides.ContainsKey).Select(family => ModelOverrides[family]))
                .Distinct(StringComparer.Ordinal)
                .ToArray();

    /// <summary>The resolved model map.</summary>
    public ModelMap ModelMap => ModelMap.Resolve(this);

    /// <summary>Whether the gateway receives the upstream API key parameter.</summary>
    public bool NeedsUpstreamApiKey =>
        Provider == ModelProvider.Anthropic
        || (Provider == ModelProvider.External && External is { Kind: ExternalServerKind.AnthropicCompatible, UseApiKey: true });
}
