namespace ClaudeStack.Stack;

/// <summary>
/// Every name the stack definition uses: resource names, images, tags, ports, paths,
/// configuration keys and environment variable names. The AppHost chain refers only to these.
/// </summary>
public static class StackConstants
{
    /// <summary>The configuration section of the stack (AppHost appsettings.json, user secrets, environment, command line).</summary>
    public const string ConfigurationSection = "ClaudeStack";

    /// <summary>Resource names as shown in the dashboard (kebab-case).</summary>
    public static class Resources
    {
        public const string Ollama = "ollama";
        public const string ExternalModelServer = "external-model-server";
        public const string Gateway = "model-gateway";
        public const string ClaudeCode = "claude-code";
        public const string ComposeEnvironment = "compose";

        /// <summary>The generated token callers present to the gateway (Bearer or x-api-key).</summary>
        public const string StackTokenParameter = "stack-token";

        /// <summary>The upstream API key (Anthropic mode, or an Anthropic-compatible server that needs one). Given only to the gateway.</summary>
        public const string UpstreamApiKeyParameter = "upstream-api-key";

        /// <summary>Prefix of the per-model resources (<c>model-llama3-1-8b</c>).</summary>
        public const string ModelPrefix = "model-";
    }

    /// <summary>The gateway's HTTP endpoint as declared by the AppHost.</summary>
    public static class Endpoints
    {
        public const string Http = "http";

        /// <summary>The gateway's liveness endpoint (ServiceDefaults' <c>/alive</c>): answering means it is listening.</summary>
        public const string GatewayAlivePath = "/alive";

        /// <summary>
        /// The port the stack's own <c>ollama serve</c> listens on with <c>UseHostOllama</c>: not Ollama's default 11434,
        /// where the Ollama app (macOS, Windows) or service (Linux) already listens on most machines that have Ollama.
        /// </summary>
        public const int HostOllamaPort = 11435;

        /// <summary>
        /// The gateway's port in a published compose file, where it runs from its container image (8080 is ASP.NET
        /// Core's default there). Without a fixed port the file leaves <c>${MODEL_GATEWAY_PORT}</c> to fill in, and
        /// Claude Code's <c>ANTHROPIC_BASE_URL</c> would end in a bare colon.
        /// </summary>
        public const int PublishedGatewayPort = 8080;
    }

    /// <summary>The Ollama image. CommunityToolkit.Aspire.Hosting.Ollama 13.5.0 pins the same tag; it is pinned here too so a toolkit update cannot silently move to an Ollama without the Anthropic API.</summary>
    public static class OllamaImage
    {
        /// <summary>0.32.15 serves <c>/v1/messages</c>; 0.13.0, which older toolkit versions pinned, has no Anthropic-compatible API.</summary>
        public const string Tag = "0.32.15";

        /// <summary>The ROCm variant the toolkit's AMD support switches to (<c>0.32.15-rocm</c>).</summary>
        public const string RocmTagSuffix = "-rocm";
    }

    /// <summary>How host paths compare: without regard to case where the usual file systems ignore it (Windows, macOS).</summary>
    public static StringComparison PathComparison =>
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

    /// <summary>Paths relative to the AppHost project directory, and paths inside containers.</summary>
    public static class Paths
    {
        /// <summary>Docker build context of the Claude Code image, relative to the AppHost directory.</summary>
        public const string ClaudeCodeContext = "../containers/claude-code";

        /// <summary>The single source of the Claude Code version, inside the build context.</summary>
        public const string ClaudeCodeVersionFile = "claude-code.version";

        /// <summary>Where the workspace is mounted in the Claude Code container.</summary>
        public const string ContainerWorkspace = "/workspace";

        /// <summary>
        /// Claude Code's state in its container (<c>CLAUDE_CONFIG_DIR</c>: settings, sessions, history and
        /// <c>.claude.json</c>), kept in a volume.
        /// </summary>
        public const string ContainerClaudeConfig = "/home/node/.claude";

        /// <summary>The file the compose publisher writes.</summary>
        public const string ComposeFile = "docker-compose.yaml";
    }

    /// <summary>Docker build arguments of containers/claude-code/Dockerfile.</summary>
    public static class BuildArgs
    {
        public const string ClaudeCodeVersion = "CLAUDE_CODE_VERSION";

        /// <summary>uid of the image's <c>node</c> user, so files written into the mounted workspace belong to the host user.</summary>
        public const string UserId = "USER_UID";

        /// <summary>gid of the image's <c>node</c> user.</summary>
        public const string GroupId = "USER_GID";

        /// <summary>The image the Claude Code image is built on (the Dockerfile's default: node:22-bookworm-slim).</summary>
        public const string BaseImage = "BASE_IMAGE";

        /// <summary>The npm registry Claude Code is installed from (a mirror behind a corporate proxy).</summary>
        public const string NpmRegistry = "NPM_CONFIG_REGISTRY";
    }

    /// <summary>First argument of the Claude Code image's entrypoint.</summary>
    public static class EntrypointModes
    {
        public const string Idle = "idle";
        public const string Task = "task";

        /// <summary>Runs <c>claude</c> as the main process (interactive when a terminal is attached).</summary>
        public const string Claude = "claude";
    }

    /// <summary>Defaults of the <c>ClaudeStack</c> section.</summary>
    public static class Defaults
    {
        public const string Model = "llama3.1:8b";
        public const int ContextLength = 65536;

        /// <summary>Agents (and Claude Code's ~20K-token first request plus room to work) need at least 64K tokens.</summary>
        public const int MinimumContextLength = 65536;

        public const int MaximumContextLength = 1048576;

        /// <summary>The smallest auto-compact window Claude Code accepts (<c>CLAUDE_CODE_AUTO_COMPACT_WINDOW</c>; it raises a smaller one to this).</summary>
        public const int MinimumAutoCompactWindow = 100000;

        public const string KeepAlive = "30m";

        /// <summary>
        /// Claude Code's stream idle timeout with local models, as long as the gateway's own waits for a first token and
        /// for the next bytes (its <c>Gateway:Upstream:ResponseTimeout</c> and <c>IdleTimeout</c> defaults): the gateway
        /// opens the stream with its own <c>message_start</c> after seconds, while a CPU prefill, or a tool call Ollama
        /// holds back until it is whole, can stay silent longer than Claude Code's 5 minutes.
        /// </summary>
        public const int LocalModelStreamIdleTimeoutMs = 10 * 60 * 1000;
        public const string ContainerName = "claudestack-claude-code";

        /// <summary>The image's own default uid/gid (<c>node</c> in the official Node images), used where the host user cannot be read.</summary>
        public const long ContainerUserId = 1000;

        public const long ContainerGroupId = 1000;

        /// <summary>The largest uid/gid; <c>(uid_t)-1</c> (4294967295) is reserved.</summary>
        public const long MaximumUserOrGroupId = 4294967294;
    }

    /// <summary>Host commands shown to the user.</summary>
    public static class Attach
    {
        public const string ScriptPath = "scripts/claude";

        /// <summary>The environment variable scripts/claude reads the container name from.</summary>
        public const string ScriptContainerVariable = "CLAUDE_STACK_CONTAINER";
    }

    /// <summary>Environment variables of Ollama.</summary>
    public static class OllamaVariables
    {
        public const string ContextLength = "OLLAMA_CONTEXT_LENGTH";
        public const string KeepAlive = "OLLAMA_KEEP_ALIVE";

        /// <summary>"1" turns off cloud models, web search through ollama.com and the model recommendations Ollama fetches from it.</summary>
        public const string NoCloud = "OLLAMA_NO_CLOUD";
    }

    /// <summary>The gateway's configuration keys in environment form (<c>__</c> for <c>:</c>).</summary>
    public static class GatewayVariables
    {
        public const string UpstreamProfile = "Gateway__Upstream__Profile";
        public const string UpstreamConnectionName = "Gateway__Upstream__ConnectionName";
        public const string UpstreamUrl = "Gateway__Upstream__Url";
        public const string UpstreamApiKey = "Gateway__Upstream__ApiKey";
        public const string StackToken = "Gateway__StackToken";
        public const string ModelsDefault = "Gateway__Models__Default";
        public const string ModelsOpus = "Gateway__Models__Opus";
        public const string ModelsSonnet = "Gateway__Models__Sonnet";
        public const string ModelsHaiku = "Gateway__Models__Haiku";
        public const string ModelsFable = "Gateway__Models__Fable";
        public const string ContextLength = "Gateway__ContextLength";
    }

    /// <summary>Values of <c>Gateway:Upstream:Profile</c>.</summary>
    public static class GatewayProfiles
    {
        public const string Ollama = "ollama";
        public const string Anthropic = "anthropic";
        public const string AnthropicCompatible = "anthropic-compatible";
    }

    /// <summary>Hosts never sent through a proxy; both spellings, as tools read one or the other.</summary>
    public static class ProxyVariables
    {
        public const string NoProxy = "NO_PROXY";
        public const string NoProxyLowercase = "no_proxy";
    }

    /// <summary>Environment variables read by Claude Code and by the image's entrypoint.</summary>
    public static class ClaudeCodeVariables
    {
        public const string BaseUrl = "ANTHROPIC_BASE_URL";
        public const string AuthToken = "ANTHROPIC_AUTH_TOKEN";
        public const string Model = "ANTHROPIC_MODEL";
        public const string DefaultOpusModel = "ANTHROPIC_DEFAULT_OPUS_MODEL";
        public const string DefaultSonnetModel = "ANTHROPIC_DEFAULT_SONNET_MODEL";
        public const string DefaultHaikuModel = "ANTHROPIC_DEFAULT_HAIKU_MODEL";

        /// <summary>The Fable family's model (Claude Code 2.1.329 reads one per family: Opus, Sonnet, Haiku, Fable).</summary>
        public const string DefaultFableModel = "ANTHROPIC_DEFAULT_FABLE_MODEL";
        public const string SubagentModel = "CLAUDE_CODE_SUBAGENT_MODEL";

        /// <summary>
        /// Where Claude Code keeps all of its state, <c>.claude.json</c> included (otherwise in the home folder, beside
        /// <c>~/.claude</c>): one folder, so one volume keeps it.
        /// </summary>
        public const string ConfigDir = "CLAUDE_CONFIG_DIR";

        /// <summary>Read by the image's entrypoint: <c>1</c> seeds the workspace's trust into a new config.</summary>
        public const string TrustWorkspace = "CLAUDESTACK_TRUST_WORKSPACE";

        /// <summary>
        /// How long Claude Code waits for the next stream event before it aborts the call (at least, and by default, 5
        /// minutes in 2.1.329; <c>ping</c> events do not count).
        /// </summary>
        public const string StreamIdleTimeoutMs = "CLAUDE_STREAM_IDLE_TIMEOUT_MS";

        /// <summary>
        /// The context window Claude Code assumes for a model name it does not know, and so the window it auto-compacts
        /// in. Without it Claude Code warns that it does not recognize a local model name and assumes a 1M-token window
        /// (observed with 2.1.329). For a Claude model, whose window it knows, 2.1.329 ignores it (unless compaction is
        /// disabled), so with the Anthropic provider the stack sets <see cref="AutoCompactWindow"/> instead.
        /// </summary>
        public const string MaxContextTokens = "CLAUDE_CODE_MAX_CONTEXT_TOKENS";

        /// <summary>
        /// Caps the window Claude Code auto-compacts in, for any model: the smaller of the model's window and this value,
        /// raised to 100K tokens when below (with a warning on every start; 2.1.329). Set only with the Anthropic
        /// provider: a local model's window is usually below 100K, which this variable cannot express.
        /// </summary>
        public const string AutoCompactWindow = "CLAUDE_CODE_AUTO_COMPACT_WINDOW";
        public const string EnableTelemetry = "CLAUDE_CODE_ENABLE_TELEMETRY";
        public const string EnhancedTelemetryBeta = "CLAUDE_CODE_ENHANCED_TELEMETRY_BETA";
        public const string PropagateTraceparent = "CLAUDE_CODE_PROPAGATE_TRACEPARENT";
        public const string MetricsExporter = "OTEL_METRICS_EXPORTER";
        public const string LogsExporter = "OTEL_LOGS_EXPORTER";
        public const string TracesExporter = "OTEL_TRACES_EXPORTER";
        public const string TaskPrompt = "CLAUDE_TASK_PROMPT";
        public const string TaskOutputFormat = "CLAUDE_TASK_OUTPUT_FORMAT";
        public const string TaskAllowedTools = "CLAUDE_TASK_ALLOWED_TOOLS";

        /// <summary>The API key variable Claude Code would also read; the stack never sets it in the container.</summary>
        public const string ApiKey = "ANTHROPIC_API_KEY";
    }

    /// <summary>Dashboard command of the claude-code resource.</summary>
    public static class Commands
    {
        public const string ShowAttach = "show-attach-command";
        public const string ShowAttachDisplayName = "How to attach";
        public const string ShowAttachIcon = "WindowConsole";
    }
}
