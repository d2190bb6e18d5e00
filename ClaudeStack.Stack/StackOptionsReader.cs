using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;

namespace ClaudeStack.Stack;

/// <summary>Thrown at AppHost start when the <c>ClaudeStack</c> section is invalid; lists every problem and what to change.</summary>
public sealed class StackConfigurationException(IReadOnlyList<string> errors)
    : Exception(FormatMessage(errors))
{
    public IReadOnlyList<string> Errors { get; } = errors;

    private static string FormatMessage(IReadOnlyList<string> errors) =>
        "The ClaudeStack configuration is invalid (AppHost appsettings.json, user secrets, environment variables ClaudeStack__*, or command line ClaudeStack:*=...):"
        + string.Concat(errors.Select(e => Environment.NewLine + " - " + e));
}

/// <summary>
/// Where the user launched the stack from, how to check folders, the host user the Claude Code image is
/// built for when <c>ClaudeCode:UserId</c>/<c>GroupId</c> are not set (replaceable in tests; <c>null</c> means 1000:1000),
/// the hosts the user's proxy settings already exempt (comma-separated), and the user's home folder.
/// </summary>
public sealed record LaunchContext(string LaunchDirectory, Func<string, bool> DirectoryExists, ContainerUser? HostUser = null, string? NoProxy = null, string? HomeDirectory = null)
{
    /// <summary>
    /// The folder the user launched from. <c>dotnet run --project</c> starts the AppHost in its project
    /// folder, so the shell's <c>PWD</c> (inherited through dotnet run and the Aspire CLI) is preferred
    /// over the process's current directory, which is the fallback (e.g. on Windows).
    /// </summary>
    /// <remarks>The host user is the process's own (<see cref="ContainerUser.FromProcess"/>).</remarks>
    public static LaunchContext FromProcess()
    {
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return FromEnvironment(Environment.GetEnvironmentVariable("PWD"), Environment.CurrentDirectory, Directory.Exists, ContainerUser.FromProcess())
            with { NoProxy = HostProxyExemptions.Read(Environment.GetEnvironmentVariable, home), HomeDirectory = home };
    }

    public static LaunchContext FromEnvironment(string? pwd, string currentDirectory, Func<string, bool> directoryExists, ContainerUser? hostUser = null)
    {
        ArgumentNullException.ThrowIfNull(directoryExists);
        var launch = !string.IsNullOrWhiteSpace(pwd) && Path.IsPathRooted(pwd) && directoryExists(pwd) ? pwd : currentDirectory;
        return new LaunchContext(launch, directoryExists, hostUser);
    }
}

/// <summary>Reads and validates the <c>ClaudeStack</c> configuration section.</summary>
public static partial class StackOptionsReader
{
    /// <summary>Claude Code's print-mode output formats.</summary>
    public static readonly IReadOnlyList<string> OutputFormats = ["text", "json", "stream-json"];

    /// <summary>Reads <c>ClaudeStack</c> from <paramref name="configuration"/>; throws <see cref="StackConfigurationException"/> listing every error.</summary>
    public static StackOptions Read(IConfiguration configuration, LaunchContext launch)
    {
        var (options, errors) = TryRead(configuration, launch);
        return errors.Count > 0 ? throw new StackConfigurationException(errors) : options!;
    }

    /// <summary>Reads <c>ClaudeStack</c>; returns the options, or <c>null</c> and the error messages.</summary>
    public static (StackOptions? Options, IReadOnlyList<string> Errors) TryRead(IConfiguration configuration, LaunchContext launch)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(launch);

        var section = configuration.GetSection(StackConstants.ConfigurationSection);
        var errors = new List<string>();

        var provider = ReadEnum(section, "Provider", ModelProvider.Ollama, errors);
        var useHostOllama = ReadBool(section, "UseHostOllama", false, errors);
        var ollamaCloud = ReadBool(section, "OllamaCloud", false, errors);
        var gpu = ReadEnum(section, "Gpu", GpuVendor.None, errors);
        var external = provider == ModelProvider.External ? ReadExternal(section, errors) : null;

        var configuredModel = ReadModelName(section, "Model", errors);
        var model = configuredModel ?? (provider == ModelProvider.Anthropic ? null : StackConstants.Defaults.Model);
        var extraModels = ReadList(section, "ExtraModels", errors);

        var overrides = new Dictionary<ModelFamily, string>();
        foreach (var family in Enum.GetValues<ModelFamily>())
        {
            if (ReadModelName(section, $"ModelMap:{family}", errors) is { } mapped)
            {
                overrides[family] = mapped;
            }
        }

        var contextLength = ReadInt(section, "ContextLength", StackConstants.Defaults.ContextLength, errors);
        if (contextLength is < StackConstants.Defaults.MinimumContextLength or > StackConstants.Defaults.MaximumContextLength)
        {
            errors.Add($"{Key("ContextLength")} is {contextLength}; set it between {StackConstants.Defaults.MinimumContextLength} and {StackConstants.Defaults.MaximumContextLength} tokens. Agents need at least 64K: Claude Code's first request alone is about 20K tokens.");
        }

        var keepAlive = Value(section, "KeepAlive") ?? StackConstants.Defaults.KeepAlive;
        if (!KeepAlivePattern().IsMatch(keepAlive))
        {
            errors.Add($"{Key("KeepAlive")} is '{keepAlive}'; use an Ollama duration such as 30m, 1h, 1h30m, 300 (seconds), 0 (unload at once) or -1 (keep loaded).");
        }

        var workspace = ReadWorkspace(section, launch, errors);
        var claudeCode = ReadClaudeCode(section, launch, errors);

        if (claudeCode?.MaxContextTokens is { } maxContextTokens && provider != ModelProvider.Anthropic && maxContextTokens > contextLength)
        {
            errors.Add($"{Key("ClaudeCode:MaxContextTokens")} is {maxContextTokens} but {Key("ContextLength")} is {contextLength}; with local models Claude Code must not assume a larger window than the model is given. Lower MaxContextTokens, raise ContextLength, or leave MaxContextTokens empty (it then equals ContextLength).");
        }

        if (claudeCode?.MaxContextTokens is { } autoCompactWindow && provider == ModelProvider.Anthropic && autoCompactWindow < StackConstants.Defaults.MinimumAutoCompactWindow)
        {
            errors.Add($"{Key("ClaudeCode:MaxContextTokens")} is {autoCompactWindow} but {Key("Provider")} is Anthropic; there it caps Claude's window as Claude Code's auto-compact window (CLAUDE_CODE_AUTO_COMPACT_WINDOW), which Claude Code raises to {StackConstants.Defaults.MinimumAutoCompactWindow} when smaller. Set it to at least {StackConstants.Defaults.MinimumAutoCompactWindow} tokens, or leave it empty for the model's full window.");
        }

        if (useHostOllama && provider != ModelProvider.Ollama)
        {
            errors.Add($"{Key("UseHostOllama")} is true but {Key("Provider")} is {provider}; the host's Ollama is used only with Provider Ollama. Set UseHostOllama to false, or Provider to Ollama.");
        }

        if (gpu != GpuVendor.None && (provider != ModelProvider.Ollama || useHostOllama))
        {
            errors.Add($"{Key("Gpu")} is {gpu} but there is no Ollama container (Provider {provider}{(useHostOllama ? ", UseHostOllama true" : "")}); GPU access applies only to the Ollama container. Set Gpu to None.");
        }

        if (provider != ModelProvider.Ollama && extraModels.Count > 0)
        {
            errors.Add($"{Key("ExtraModels")} lists models to pull, but {Key("Provider")} is {provider}; models are pulled only into the stack's Ollama. Remove ExtraModels, or set Provider to Ollama.");
        }

        if (ollamaCloud && provider != ModelProvider.Ollama)
        {
            errors.Add($"{Key("OllamaCloud")} is true but {Key("Provider")} is {provider}; it applies only to the Ollama the stack runs (an external server keeps its own setting). Set OllamaCloud to false.");
        }

        if (provider == ModelProvider.Ollama && !ollamaCloud)
        {
            ReportCloudModels(model, extraModels, overrides, errors);
        }

        if (errors.Count > 0)
        {
            return (null, errors);
        }

        var options = new StackOptions
        {
            Provider = provider,
            External = external,
            Model = model,
            ExtraModels = extraModels,
            ModelOverrides = overrides,
            Gpu = gpu,
            ContextLength = contextLength,
            KeepAlive = keepAlive,
            Workspace = workspace!,
            ClaudeCode = claudeCode!,
            UseHostOllama = useHostOllama,
            OllamaCloud = ollamaCloud,
            ExtraNoProxyHosts = ReadNoProxyHosts(configuration, launch),
        };
        return (options, errors);
    }

    /// <summary>The host's own proxy exemptions (from the launch, and as configuration) and Aspire's container host name.</summary>
    private static List<string> ReadNoProxyHosts(IConfiguration configuration, LaunchContext launch) =>
        [.. new[] { launch.NoProxy, configuration["NO_PROXY"], configuration["AppHost:ContainerHostname"] }
            .SelectMany(value => (value ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Distinct(StringComparer.OrdinalIgnoreCase)];

    /// <summary>The full key of a setting, for messages: <c>ClaudeStack:Provider</c>.</summary>
    public static string Key(string relative) => $"{StackConstants.ConfigurationSection}:{relative}";

    /// <summary>With cloud features off, Ollama refuses a cloud model at its first request (403): say so at start instead.</summary>
    private static void ReportCloudModels(string? model, IReadOnlyList<string> extraModels, IReadOnlyDictionary<ModelFamily, string> overrides, List<string> errors)
    {
        IEnumerable<(string Key, string Model)> configured =
        [
            .. model is null ? [] : new[] { ("Model", model) },
            .. overrides.Select(o => ($"ModelMap:{o.Key}", o.Value)),
            .. extraModels.Select(m => ("ExtraModels", m)),
        ];
        foreach (var (key, name) in configured.Where(c => OllamaCloudModels.IsCloudModel(c.Model)))
        {
            errors.Add($"{Key(key)} names '{name}', an Ollama cloud model (it runs on ollama.com, so prompts leave this machine), but {Key("OllamaCloud")} is false. Choose a local model, or set OllamaCloud to true and sign the stack's Ollama in to ollama.com (ollama signin; see OllamaCloud in the README).");
        }
    }

    private static ExternalServerOptions? ReadExternal(IConfigurationSection section, List<string> errors)
    {
        var kind = ReadEnum(section, "External:Kind", ExternalServerKind.Ollama, errors);
        var useApiKey = ReadBool(section, "External:UseApiKey", false, errors);
        var url = Value(section, "External:Url");
        if (url is null)
        {
            errors.Add($"{Key("Provider")} is External but {Key("External:Url")} is not set; set it to the server's base URL, e.g. http://localhost:11434 (Ollama) or http://localhost:8080 (Anthropic-compatible).");
            return null;
        }

        var parsed = Uri.TryCreate(url, UriKind.Absolute, out var uri);
        if (parsed && uri!.UserInfo.Length > 0)
        {
            // Named without them: the URL would reach the dashboard and a published compose file as plain text.
            errors.Add($"{Key("External:Url")} ({WithoutCredentials(uri)}) carries credentials in its URL, which would show in the dashboard and a published compose file. Give the URL without them; for an AnthropicCompatible server set {Key("External:UseApiKey")} to true and the key in Parameters:upstream-api-key.");
            return null;
        }

        if (!parsed || (uri!.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
            || !string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment))
        {
            errors.Add($"{Key("External:Url")} is '{url}'; use an absolute http:// or https:// URL without query string or fragment, e.g. http://localhost:11434.");
            return null;
        }

        if (useApiKey && kind != ExternalServerKind.AnthropicCompatible)
        {
            errors.Add($"{Key("External:UseApiKey")} is true but {Key("External:Kind")} is {kind}; an API key is sent only to AnthropicCompatible servers. Set UseApiKey to false, or Kind to AnthropicCompatible.");
        }

        return new ExternalServerOptions(kind, uri, useApiKey);
    }

    /// <summary>A URL as an error message may show it: without the user name and password.</summary>
    private static string WithoutCredentials(Uri uri) => uri.GetComponents(UriComponents.AbsoluteUri & ~UriComponents.UserInfo, UriFormat.UriEscaped);

    private static string? ReadWorkspace(IConfigurationSection section, LaunchContext launch, List<string> errors)
    {
        var configured = Value(section, "Workspace");
        string path;
        try
        {
            // One spelling per folder (separators, a trailing one): the guard below and the state volume's name compare it.
            path = Path.TrimEndingDirectorySeparator(configured is null ? Path.GetFullPath(launch.LaunchDirectory) : Path.GetFullPath(configured, launch.LaunchDirectory));
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            errors.Add($"{Key("Workspace")} is '{configured}', which is not a valid path; set it to an existing folder.");
            return null;
        }

        if (!launch.DirectoryExists(path))
        {
            errors.Add(configured is null
                ? $"The launch folder '{path}' does not exist, so there is no workspace to mount; set {Key("Workspace")} to an existing folder."
                : $"{Key("Workspace")} is '{configured}', but the folder '{path}' does not exist; set it to an existing folder (relative paths are taken from the folder you launched from).");
            return null;
        }

        if (configured is null && TooBroadToMount(path, launch.HomeDirectory) is { } what)
        {
            // Mounted writable: a stack started from ~ by mistake (or from PowerShell on macOS and Linux, whose PWD does
            // not follow cd and often still names the home folder) would hand Claude Code every file the user has.
            errors.Add($"The launch folder '{path}' is {what}, and Claude Code would get write access to all of it; start the stack from your project's folder, or set {Key("Workspace")} to it (in PowerShell on macOS and Linux, PWD does not follow cd: set {Key("Workspace")} there).");
            return null;
        }

        return path;
    }

    /// <summary>What makes a folder too broad to mount unasked: the file system's root, the user's home folder, or one holding it.</summary>
    private static string? TooBroadToMount(string folder, string? home)
    {
        var comparison = StackConstants.PathComparison;
        if (string.Equals(folder, Path.TrimEndingDirectorySeparator(Path.GetPathRoot(folder) ?? ""), comparison))
        {
            return "the file system's root";
        }

        if (string.IsNullOrEmpty(home))
        {
            return null;
        }

        home = Path.TrimEndingDirectorySeparator(Path.GetFullPath(home));
        return string.Equals(folder, home, comparison) ? "your home folder"
            : home.StartsWith(folder + Path.DirectorySeparatorChar, comparison) ? "a folder that holds your home folder"
            : null;
    }

    private static ClaudeCodeOptions? ReadClaudeCode(IConfigurationSection section, LaunchContext launch, List<string> errors)
    {
        var count = errors.Count;
        var mode = ReadEnum(section, "ClaudeCode:Mode", ClaudeCodeMode.Idle, errors);
        var prompt = Value(section, "ClaudeCode:Prompt");
        var allowedTools = Value(section, "ClaudeCode:AllowedTools");
        var outputFormat = Value(section, "ClaudeCode:OutputFormat");
        var containerName = Value(section, "ClaudeCode:ContainerName") ?? StackConstants.Defaults.ContainerName;
        var terminal = ReadBool(section, "ClaudeCode:Terminal", false, errors);
        var trustWorkspace = ReadBool(section, "ClaudeCode:TrustWorkspace", false, errors);
        var hostUser = launch.HostUser is { UserId: > 0 } user ? user : ContainerUser.Default;
        var userId = ReadId(section, "ClaudeCode:UserId", hostUser.UserId, errors);
        var groupId = ReadId(section, "ClaudeCode:GroupId", hostUser.GroupId, errors);
        var maxContextTokens = ReadOptionalInt(section, "ClaudeCode:MaxContextTokens", errors);
        var baseImage = Value(section, "ClaudeCode:BaseImage");
        var npmRegistry = Value(section, "ClaudeCode:NpmRegistry");
        Uri? npmRegistryUri = null;
        if (baseImage is not null && !ImageReferencePattern().IsMatch(baseImage))
        {
            errors.Add($"{Key("ClaudeCode:BaseImage")} is '{baseImage}'; use an image reference such as mirror.example.com/library/node:22-bookworm-slim, or leave it empty for node:22-bookworm-slim.");
        }

        if (npmRegistry is not null && (!Uri.TryCreate(npmRegistry, UriKind.Absolute, out npmRegistryUri) || (npmRegistryUri.Scheme != Uri.UriSchemeHttp && npmRegistryUri.Scheme != Uri.UriSchemeHttps)))
        {
            // A URL that parsed (ftp://…) is shown without its user part.
            var shown = npmRegistryUri is null ? npmRegistry : WithoutCredentials(npmRegistryUri);
            errors.Add($"{Key("ClaudeCode:NpmRegistry")} is '{shown}'; use an absolute http:// or https:// URL, e.g. https://npm.example.com/, or leave it empty for registry.npmjs.org.");
            npmRegistryUri = null;
        }
        else if (npmRegistryUri is { UserInfo.Length: > 0 })
        {
            // Named without them: the message goes to the console and the dashboard.
            errors.Add($"{Key("ClaudeCode:NpmRegistry")} ({WithoutCredentials(npmRegistryUri)}) carries credentials in its URL; a build argument stays in the image's history (`docker history`) for anyone with the image to read. Give a registry that needs none, without them.");
            npmRegistryUri = null;
        }

        if (userId == 0)
        {
            errors.Add($"{Key("ClaudeCode:UserId")} is 0; the Claude Code image does not run as root. Set the uid that should own the files written into the workspace (e.g. the output of 'id -u'), or leave it empty.");
        }

        if (maxContextTokens is < StackConstants.Defaults.MinimumContextLength or > StackConstants.Defaults.MaximumContextLength)
        {
            errors.Add($"{Key("ClaudeCode:MaxContextTokens")} is {maxContextTokens}; set it between {StackConstants.Defaults.MinimumContextLength} and {StackConstants.Defaults.MaximumContextLength} tokens, or leave it empty.");
        }

        if (mode == ClaudeCodeMode.Task && prompt is null)
        {
            errors.Add($"{Key("ClaudeCode:Mode")} is Task but {Key("ClaudeCode:Prompt")} is empty; set the prompt to run, or set Mode to Idle.");
        }

        if (outputFormat is not null && !OutputFormats.Contains(outputFormat, StringComparer.Ordinal))
        {
            errors.Add($"{Key("ClaudeCode:OutputFormat")} is '{outputFormat}'; allowed values: {string.Join(", ", OutputFormats)} (or leave it empty for text).");
        }

        if (!ContainerNamePattern().IsMatch(containerName))
        {
            errors.Add($"{Key("ClaudeCode:ContainerName")} is '{containerName}'; a container name starts with a letter or digit and contains only letters, digits, '_', '.' and '-'.");
        }

        return errors.Count > count
            ? null
            : new ClaudeCodeOptions(mode, prompt, allowedTools, outputFormat, containerName, terminal)
            {
                User = new ContainerUser(userId, groupId),
                TrustWorkspace = trustWorkspace,
                MaxContextTokens = maxContextTokens,
                BaseImage = baseImage,
                NpmRegistry = npmRegistryUri,
            };
    }

    private static string? Value(IConfigurationSection section, string key) =>
        section[key] is { } value && !string.IsNullOrWhiteSpace(value) ? value.Trim() : null;

    private static TEnum ReadEnum<TEnum>(IConfigurationSection section, string key, TEnum fallback, List<string> errors)
        where TEnum : struct, Enum
    {
        var value = Value(section, key);
        if (value is null)
        {
            return fallback;
        }

        foreach (var name in Enum.GetNames<TEnum>())
        {
            if (string.Equals(name, value, StringComparison.OrdinalIgnoreCase))
            {
                return Enum.Parse<TEnum>(name);
            }
        }

        errors.Add($"{Key(key)} is '{value}'; allowed values: {string.Join(", ", Enum.GetNames<TEnum>())}.");
        return fallback;
    }

    private static bool ReadBool(IConfigurationSection section, string key, bool fallback, List<string> errors)
    {
        var value = Value(section, key);
        if (value is null)
        {
            return fallback;
        }

        if (bool.TryParse(value, out var result))
        {
            return result;
        }

        errors.Add($"{Key(key)} is '{value}'; use true or false.");
        return fallback;
    }

    private static int ReadInt(IConfigurationSection section, string key, int fallback, List<string> errors)
    {
        var value = Value(section, key);
        if (value is null)
        {
            return fallback;
        }

        if (int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var result))
        {
            return result;
        }

        errors.Add($"{Key(key)} is '{value}'; use a whole number of tokens, e.g. {StackConstants.Defaults.ContextLength}.");
        return fallback;
    }

    private static int? ReadOptionalInt(IConfigurationSection section, string key, List<string> errors)
    {
        var value = Value(section, key);
        if (value is null)
        {
            return null;
        }

        if (int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var result))
        {
            return result;
        }

        errors.Add($"{Key(key)} is '{value}'; use a whole number of tokens, e.g. {StackConstants.Defaults.ContextLength}, or leave it empty.");
        return null;
    }

    /// <summary>A uid or gid: a non-negative whole number up to 4294967294.</summary>
    private static long ReadId(IConfigurationSection section, string key, long fallback, List<string> errors)
    {
        var value = Value(section, key);
        if (value is null)
        {
            return fallback;
        }

        if (long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var result) && ContainerUser.IsValidId(result))
        {
            return result;
        }

        errors.Add($"{Key(key)} is '{value}'; use a non-negative whole number up to {StackConstants.Defaults.MaximumUserOrGroupId} (on Linux: the output of 'id -u' or 'id -g'), or leave it empty for the user running the AppHost.");
        return fallback;
    }

    private static string? ReadModelName(IConfigurationSection section, string key, List<string> errors)
    {
        var value = Value(section, key);
        if (value is not null && !ModelNamePattern().IsMatch(value))
        {
            errors.Add($"{Key(key)} is '{value}'; a model name looks like llama3.1:8b or qwen3-coder:30b (letters, digits and . _ : / @ + -, no spaces).");
            return null;
        }

        return value;
    }

    /// <summary>A list as a JSON array (<c>ExtraModels:0</c>, <c>ExtraModels:1</c>…) or one comma-separated value (environment, command line).</summary>
    private static IReadOnlyList<string> ReadList(IConfigurationSection section, string key, List<string> errors)
    {
        var child = section.GetSection(key);
        var raw = child.Value is { } single
            ? single.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            : child.GetChildren().Select(c => c.Value?.Trim()).Where(v => !string.IsNullOrEmpty(v)).Select(v => v!).ToArray();

        var result = new List<string>();
        foreach (var item in raw)
        {
            if (ModelNamePattern().IsMatch(item))
            {
                result.Add(item);
            }
            else
            {
                errors.Add($"{Key(key)} contains '{item}'; a model name looks like llama3.1:8b or qwen3-coder:30b (letters, digits and . _ : / @ + -, no spaces).");
            }
        }

        return result.Distinct(StringComparer.Ordinal).ToArray();
    }

    [GeneratedRegex(@"^(-?\d+|(\d+(\.\d+)?(ns|us|ms|s|m|h))+)$")]
    private static partial Regex KeepAlivePattern();

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    private static partial Regex ContainerNamePattern();

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$")]
    private static partial Regex ModelNamePattern();

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._:/@-]*$")]
    private static partial Regex ImageReferencePattern();
}
