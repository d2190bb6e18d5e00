using Microsoft.Extensions.Configuration;

namespace ClaudeStack.Stack.Tests;

public class StackOptionsReaderTests
{
    [Fact]
    public void EmptySection_UsesDefaults()
    {
        var options = TestConfig.Read();

        Assert.Equal(ModelProvider.Ollama, options.Provider);
        Assert.Null(options.External);
        Assert.Equal("llama3.1:8b", options.Model);
        Assert.Empty(options.ExtraModels);
        Assert.Empty(options.ModelOverrides);
        Assert.Equal(GpuVendor.None, options.Gpu);
        Assert.Equal(65536, options.ContextLength);
        Assert.Equal("30m", options.KeepAlive);
        Assert.Equal(TestConfig.LaunchDirectory, options.Workspace);
        Assert.Equal(ClaudeCodeMode.Idle, options.ClaudeCode.Mode);
        Assert.Equal("claudestack-claude-code", options.ClaudeCode.ContainerName);
        Assert.False(options.ClaudeCode.Terminal);
        Assert.False(options.ClaudeCode.TrustWorkspace);
        Assert.False(options.UseHostOllama);
        Assert.False(options.OllamaCloud);
        Assert.False(options.NeedsUpstreamApiKey);
        Assert.Equal(new ContainerUser(1000, 1000), options.ClaudeCode.User);
        Assert.Null(options.ClaudeCode.MaxContextTokens);
    }

    [Fact]
    public void EverySetting_IsBound()
    {
        var options = TestConfig.Read(
            "Provider=ollama",
            "Model=qwen3:8b",
            "ExtraModels:0=gemma3:4b",
            "ExtraModels:1=qwen3:8b",
            "ModelMap:Opus=qwen3-coder:30b",
            "ModelMap:Haiku=qwen3:1.7b",
            "Gpu=nvidia",
            "ContextLength=131072",
            "KeepAlive=-1",
            "Workspace=sub",
            "ClaudeCode:Mode=task",
            "ClaudeCode:Prompt=fix the build",
            "ClaudeCode:AllowedTools=Write Bash(dotnet:*)",
            "ClaudeCode:OutputFormat=stream-json",
            "ClaudeCode:ContainerName=my-claude",
            "ClaudeCode:Terminal=true",
            "ClaudeCode:TrustWorkspace=true",
            "ClaudeCode:UserId=1001",
            "ClaudeCode:GroupId=20",
            "ClaudeCode:MaxContextTokens=98304",
            "OllamaCloud=true");

        Assert.Equal("qwen3:8b", options.Model);
        Assert.Equal(["gemma3:4b", "qwen3:8b"], options.ExtraModels);
        Assert.Equal(["qwen3:8b", "qwen3-coder:30b", "qwen3:1.7b", "gemma3:4b"], options.ModelsToPull);
        Assert.Equal("qwen3-coder:30b", options.ModelOverrides[ModelFamily.Opus]);
        Assert.Equal("qwen3:1.7b", options.ModelOverrides[ModelFamily.Haiku]);
        Assert.Equal(GpuVendor.Nvidia, options.Gpu);
        Assert.Equal(131072, options.ContextLength);
        Assert.Equal("-1", options.KeepAlive);
        Assert.True(options.OllamaCloud);
        Assert.Equal("/home/dev/project/sub", options.Workspace);
        Assert.Equal(
            new ClaudeCodeOptions(ClaudeCodeMode.Task, "fix the build", "Write Bash(dotnet:*)", "stream-json", "my-claude", true)
            {
                User = new ContainerUser(1001, 20),
                TrustWorkspace = true,
                MaxContextTokens = 98304,
            },
            options.ClaudeCode);
    }

    [Fact]
    public void ContainerUser_DefaultsToTheHostUser()
    {
        var launch = TestConfig.Launch with { HostUser = new ContainerUser(1234, 5678) };

        Assert.Equal(new ContainerUser(1234, 5678), StackOptionsReader.Read(TestConfig.Build(), launch).ClaudeCode.User);
        Assert.Equal(new ContainerUser(1234, 20), StackOptionsReader.Read(TestConfig.Build("ClaudeCode:GroupId=20"), launch).ClaudeCode.User);
        Assert.Equal(new ContainerUser(1001, 5678), StackOptionsReader.Read(TestConfig.Build("ClaudeCode:UserId=1001"), launch).ClaudeCode.User);
    }

    [Fact]
    public void ContainerUser_FallsBackTo1000WhenTheHostUserIsRoot()
    {
        var launch = TestConfig.Launch with { HostUser = new ContainerUser(0, 0) };

        Assert.Equal(ContainerUser.Default, StackOptionsReader.Read(TestConfig.Build(), launch).ClaudeCode.User);
    }

    [Fact]
    public void LaunchFromEnvironment_CarriesTheHostUser()
    {
        var launch = LaunchContext.FromEnvironment("/home/dev/project", "/somewhere/apphost", _ => true, new ContainerUser(1001, 1001));

        Assert.Equal(new ContainerUser(1001, 1001), launch.HostUser);
        Assert.Null(LaunchContext.FromEnvironment("/home/dev/project", "/somewhere/apphost", _ => true).HostUser);
    }

    [Theory]
    [InlineData("gemma3:4b,qwen3:8b")]
    [InlineData(" gemma3:4b , qwen3:8b ,")]
    public void ExtraModelsAsCommaList_IsSplit(string value)
    {
        var options = TestConfig.Read($"ExtraModels={value}");

        Assert.Equal(["gemma3:4b", "qwen3:8b"], options.ExtraModels);
    }

    [Fact]
    public void ExternalProvider_ReadsServer()
    {
        var options = TestConfig.Read("Provider=External", "External:Kind=AnthropicCompatible", "External:Url=http://gpu-box:8080", "External:UseApiKey=true");

        Assert.Equal(new ExternalServerOptions(ExternalServerKind.AnthropicCompatible, new Uri("http://gpu-box:8080"), true), options.External);
        Assert.True(options.NeedsUpstreamApiKey);
        Assert.Empty(options.ModelsToPull);
    }

    [Fact]
    public void ExternalKind_DefaultsToOllama()
    {
        var options = TestConfig.Read("Provider=External", "External:Url=http://localhost:11434");

        Assert.Equal(ExternalServerKind.Ollama, options.External!.Kind);
        Assert.False(options.NeedsUpstreamApiKey);
    }

    [Fact]
    public void AnthropicProvider_HasNoDefaultModel()
    {
        var options = TestConfig.Read("Provider=Anthropic");

        Assert.Null(options.Model);
        Assert.True(options.NeedsUpstreamApiKey);
        Assert.False(options.UsesLocalModels);
        Assert.Empty(options.ModelsToPull);
    }

    [Fact]
    public void WorkspaceAbsolute_IsUsedAsIs()
    {
        Assert.Equal("/home/dev/other", TestConfig.Read("Workspace=/home/dev/other").Workspace);
    }

    [Theory]
    [InlineData("/home/dev/project", "/somewhere/apphost", "/home/dev/project")]
    [InlineData(null, "/somewhere/apphost", "/somewhere/apphost")]
    [InlineData("", "/somewhere/apphost", "/somewhere/apphost")]
    [InlineData("relative/pwd", "/somewhere/apphost", "/somewhere/apphost")]
    [InlineData("/gone", "/somewhere/apphost", "/somewhere/apphost")]
    public void LaunchDirectory_PrefersShellPwd(string? pwd, string currentDirectory, string expected)
    {
        var launch = LaunchContext.FromEnvironment(pwd, currentDirectory, p => p is "/home/dev/project" or "/somewhere/apphost");

        Assert.Equal(expected, launch.LaunchDirectory);
    }

    public static TheoryData<string[], string> InvalidSettings => new()
    {
        { ["Provider=OpenAI"], "ClaudeStack:Provider is 'OpenAI'; allowed values: Ollama, Anthropic, External." },
        { ["Provider=1"], "ClaudeStack:Provider is '1'; allowed values: Ollama, Anthropic, External." },
        { ["Gpu=Intel"], "ClaudeStack:Gpu is 'Intel'; allowed values: None, Nvidia, Amd." },
        { ["Provider=External"], "ClaudeStack:Provider is External but ClaudeStack:External:Url is not set; set it to the server's base URL, e.g. http://localhost:11434 (Ollama) or http://localhost:8080 (Anthropic-compatible)." },
        { ["Provider=External", "External:Url=localhost:11434"], "ClaudeStack:External:Url is 'localhost:11434'; use an absolute http:// or https:// URL without query string or fragment, e.g. http://localhost:11434." },
        { ["Provider=External", "External:Url=http://admin:s3cret@gpu-box:8080/?x=1"], "ClaudeStack:External:Url (http://gpu-box:8080/?x=1) carries credentials in its URL, which would show in the dashboard and a published compose file. Give the URL without them; for an AnthropicCompatible server set ClaudeStack:External:UseApiKey to true and the key in Parameters:upstream-api-key." },
        { ["Provider=External", "External:Url=http://admin:s3cret@gpu-box:8080/"], "ClaudeStack:External:Url (http://gpu-box:8080/) carries credentials in its URL, which would show in the dashboard and a published compose file. Give the URL without them; for an AnthropicCompatible server set ClaudeStack:External:UseApiKey to true and the key in Parameters:upstream-api-key." },
        { ["Provider=External", "External:Url=http://host/?a=1"], "ClaudeStack:External:Url is 'http://host/?a=1'; use an absolute http:// or https:// URL without query string or fragment, e.g. http://localhost:11434." },
        { ["Provider=External", "External:Url=http://host", "External:Kind=OpenAI"], "ClaudeStack:External:Kind is 'OpenAI'; allowed values: Ollama, AnthropicCompatible." },
        { ["Provider=External", "External:Url=http://host", "External:UseApiKey=true"], "ClaudeStack:External:UseApiKey is true but ClaudeStack:External:Kind is Ollama; an API key is sent only to AnthropicCompatible servers. Set UseApiKey to false, or Kind to AnthropicCompatible." },
        { ["Provider=External", "External:Url=http://host", "External:UseApiKey=yes"], "ClaudeStack:External:UseApiKey is 'yes'; use true or false." },
        { ["Model=llama 3"], "ClaudeStack:Model is 'llama 3'; a model name looks like llama3.1:8b or qwen3-coder:30b (letters, digits and . _ : / @ + -, no spaces)." },
        { ["ModelMap:Sonnet=:bad"], "ClaudeStack:ModelMap:Sonnet is ':bad'; a model name looks like llama3.1:8b or qwen3-coder:30b (letters, digits and . _ : / @ + -, no spaces)." },
        { ["ExtraModels:0=ok:1b", "ExtraModels:1=not ok"], "ClaudeStack:ExtraModels contains 'not ok'; a model name looks like llama3.1:8b or qwen3-coder:30b (letters, digits and . _ : / @ + -, no spaces)." },
        { ["ContextLength=32768"], "ClaudeStack:ContextLength is 32768; set it between 65536 and 1048576 tokens. Agents need at least 64K: Claude Code's first request alone is about 20K tokens." },
        { ["ContextLength=2000000"], "ClaudeStack:ContextLength is 2000000; set it between 65536 and 1048576 tokens. Agents need at least 64K: Claude Code's first request alone is about 20K tokens." },
        { ["ContextLength=64k"], "ClaudeStack:ContextLength is '64k'; use a whole number of tokens, e.g. 65536." },
        { ["KeepAlive=forever"], "ClaudeStack:KeepAlive is 'forever'; use an Ollama duration such as 30m, 1h, 1h30m, 300 (seconds), 0 (unload at once) or -1 (keep loaded)." },
        { ["Workspace=missing"], "ClaudeStack:Workspace is 'missing', but the folder '/home/dev/project/missing' does not exist; set it to an existing folder (relative paths are taken from the folder you launched from)." },
        { ["ClaudeCode:Mode=Interactive"], "ClaudeStack:ClaudeCode:Mode is 'Interactive'; allowed values: Idle, Task." },
        { ["ClaudeCode:Mode=Task"], "ClaudeStack:ClaudeCode:Mode is Task but ClaudeStack:ClaudeCode:Prompt is empty; set the prompt to run, or set Mode to Idle." },
        { ["ClaudeCode:Mode=Task", "ClaudeCode:Prompt=  "], "ClaudeStack:ClaudeCode:Mode is Task but ClaudeStack:ClaudeCode:Prompt is empty; set the prompt to run, or set Mode to Idle." },
        { ["ClaudeCode:OutputFormat=yaml"], "ClaudeStack:ClaudeCode:OutputFormat is 'yaml'; allowed values: text, json, stream-json (or leave it empty for text)." },
        { ["ClaudeCode:ContainerName=-bad name"], "ClaudeStack:ClaudeCode:ContainerName is '-bad name'; a container name starts with a letter or digit and contains only letters, digits, '_', '.' and '-'." },
        { ["ClaudeCode:Terminal=on"], "ClaudeStack:ClaudeCode:Terminal is 'on'; use true or false." },
        { ["ClaudeCode:BaseImage=node 22"], "ClaudeStack:ClaudeCode:BaseImage is 'node 22'; use an image reference such as mirror.example.com/library/node:22-bookworm-slim, or leave it empty for node:22-bookworm-slim." },
        { ["ClaudeCode:NpmRegistry=npm.example.com"], "ClaudeStack:ClaudeCode:NpmRegistry is 'npm.example.com'; use an absolute http:// or https:// URL, e.g. https://npm.example.com/, or leave it empty for registry.npmjs.org." },
        { ["ClaudeCode:NpmRegistry=ftp://npm.example.com/"], "ClaudeStack:ClaudeCode:NpmRegistry is 'ftp://npm.example.com/'; use an absolute http:// or https:// URL, e.g. https://npm.example.com/, or leave it empty for registry.npmjs.org." },
        { ["ClaudeCode:NpmRegistry=ftp://ci:s3cr3t-t0ken@npm.example.com/"], "ClaudeStack:ClaudeCode:NpmRegistry is 'ftp://npm.example.com/'; use an absolute http:// or https:// URL, e.g. https://npm.example.com/, or leave it empty for registry.npmjs.org." },
        { ["ClaudeCode:NpmRegistry=https://ci:s3cr3t-t0ken@npm.example.com/repository/npm/"], "ClaudeStack:ClaudeCode:NpmRegistry (https://npm.example.com/repository/npm/) carries credentials in its URL; a build argument stays in the image's history (`docker history`) for anyone with the image to read. Give a registry that needs none, without them." },
        { ["UseHostOllama=1"], "ClaudeStack:UseHostOllama is '1'; use true or false." },
        { ["ClaudeCode:UserId=-1"], "ClaudeStack:ClaudeCode:UserId is '-1'; use a non-negative whole number up to 4294967294 (on Linux: the output of 'id -u' or 'id -g'), or leave it empty for the user running the AppHost." },
        { ["ClaudeCode:UserId=me"], "ClaudeStack:ClaudeCode:UserId is 'me'; use a non-negative whole number up to 4294967294 (on Linux: the output of 'id -u' or 'id -g'), or leave it empty for the user running the AppHost." },
        { ["ClaudeCode:UserId=1.5"], "ClaudeStack:ClaudeCode:UserId is '1.5'; use a non-negative whole number up to 4294967294 (on Linux: the output of 'id -u' or 'id -g'), or leave it empty for the user running the AppHost." },
        { ["ClaudeCode:GroupId=4294967295"], "ClaudeStack:ClaudeCode:GroupId is '4294967295'; use a non-negative whole number up to 4294967294 (on Linux: the output of 'id -u' or 'id -g'), or leave it empty for the user running the AppHost." },
        { ["ClaudeCode:GroupId=+20"], "ClaudeStack:ClaudeCode:GroupId is '+20'; use a non-negative whole number up to 4294967294 (on Linux: the output of 'id -u' or 'id -g'), or leave it empty for the user running the AppHost." },
        { ["ClaudeCode:UserId=0"], "ClaudeStack:ClaudeCode:UserId is 0; the Claude Code image does not run as root. Set the uid that should own the files written into the workspace (e.g. the output of 'id -u'), or leave it empty." },
        { ["ClaudeCode:MaxContextTokens=lots"], "ClaudeStack:ClaudeCode:MaxContextTokens is 'lots'; use a whole number of tokens, e.g. 65536, or leave it empty." },
        { ["ClaudeCode:MaxContextTokens=1000"], "ClaudeStack:ClaudeCode:MaxContextTokens is 1000; set it between 65536 and 1048576 tokens, or leave it empty." },
        { ["ClaudeCode:MaxContextTokens=131072"], "ClaudeStack:ClaudeCode:MaxContextTokens is 131072 but ClaudeStack:ContextLength is 65536; with local models Claude Code must not assume a larger window than the model is given. Lower MaxContextTokens, raise ContextLength, or leave MaxContextTokens empty (it then equals ContextLength)." },
        { ["Provider=Anthropic", "ClaudeCode:MaxContextTokens=65536"], "ClaudeStack:ClaudeCode:MaxContextTokens is 65536 but ClaudeStack:Provider is Anthropic; there it caps Claude's window as Claude Code's auto-compact window (CLAUDE_CODE_AUTO_COMPACT_WINDOW), which Claude Code raises to 100000 when smaller. Set it to at least 100000 tokens, or leave it empty for the model's full window." },
        { ["Provider=Anthropic", "ClaudeCode:MaxContextTokens=1000"], "ClaudeStack:ClaudeCode:MaxContextTokens is 1000; set it between 65536 and 1048576 tokens, or leave it empty." },
        { ["Provider=Anthropic", "ClaudeCode:MaxContextTokens=99999"], "ClaudeStack:ClaudeCode:MaxContextTokens is 99999 but ClaudeStack:Provider is Anthropic; there it caps Claude's window as Claude Code's auto-compact window (CLAUDE_CODE_AUTO_COMPACT_WINDOW), which Claude Code raises to 100000 when smaller. Set it to at least 100000 tokens, or leave it empty for the model's full window." },
        { ["Provider=Anthropic", "UseHostOllama=true"], "ClaudeStack:UseHostOllama is true but ClaudeStack:Provider is Anthropic; the host's Ollama is used only with Provider Ollama. Set UseHostOllama to false, or Provider to Ollama." },
        { ["Gpu=Nvidia", "UseHostOllama=true"], "ClaudeStack:Gpu is Nvidia but there is no Ollama container (Provider Ollama, UseHostOllama true); GPU access applies only to the Ollama container. Set Gpu to None." },
        { ["Gpu=Amd", "Provider=Anthropic"], "ClaudeStack:Gpu is Amd but there is no Ollama container (Provider Anthropic); GPU access applies only to the Ollama container. Set Gpu to None." },
        { ["OllamaCloud=yes"], "ClaudeStack:OllamaCloud is 'yes'; use true or false." },
        { ["Provider=Anthropic", "OllamaCloud=true"], "ClaudeStack:OllamaCloud is true but ClaudeStack:Provider is Anthropic; it applies only to the Ollama the stack runs (an external server keeps its own setting). Set OllamaCloud to false." },
        { ["Provider=External", "External:Url=http://gpu-box:11434", "OllamaCloud=true"], "ClaudeStack:OllamaCloud is true but ClaudeStack:Provider is External; it applies only to the Ollama the stack runs (an external server keeps its own setting). Set OllamaCloud to false." },
        { ["Model=gpt-oss:120b-cloud"], "ClaudeStack:Model names 'gpt-oss:120b-cloud', an Ollama cloud model (it runs on ollama.com, so prompts leave this machine), but ClaudeStack:OllamaCloud is false. Choose a local model, or set OllamaCloud to true and sign the stack's Ollama in to ollama.com (ollama signin; see OllamaCloud in the README)." },
        { ["ModelMap:Haiku=qwen3-coder:CLOUD"], "ClaudeStack:ModelMap:Haiku names 'qwen3-coder:CLOUD', an Ollama cloud model (it runs on ollama.com, so prompts leave this machine), but ClaudeStack:OllamaCloud is false. Choose a local model, or set OllamaCloud to true and sign the stack's Ollama in to ollama.com (ollama signin; see OllamaCloud in the README)." },
        { ["UseHostOllama=true", "ExtraModels=llama3.1:8b,deepseek-v3.1:671b-cloud"], "ClaudeStack:ExtraModels names 'deepseek-v3.1:671b-cloud', an Ollama cloud model (it runs on ollama.com, so prompts leave this machine), but ClaudeStack:OllamaCloud is false. Choose a local model, or set OllamaCloud to true and sign the stack's Ollama in to ollama.com (ollama signin; see OllamaCloud in the README)." },
        { ["Provider=Anthropic", "ExtraModels=qwen3:8b"], "ClaudeStack:ExtraModels lists models to pull, but ClaudeStack:Provider is Anthropic; models are pulled only into the stack's Ollama. Remove ExtraModels, or set Provider to Ollama." },
    };

    [Theory]
    [MemberData(nameof(InvalidSettings))]
    public void InvalidSetting_ReportsWhatToChange(string[] settings, string expected)
    {
        var errors = TestConfig.Errors(settings);

        Assert.Equal([expected], errors);
    }

    [Fact]
    public void MissingLaunchFolder_AsksForWorkspace()
    {
        var launch = new LaunchContext("/nowhere", _ => false);

        var (_, errors) = StackOptionsReader.TryRead(TestConfig.Build(), launch);

        Assert.Equal(["The launch folder '/nowhere' does not exist, so there is no workspace to mount; set ClaudeStack:Workspace to an existing folder."], errors);
    }

    [Theory]
    [InlineData("/home/dev", "/home/dev", "your home folder")]
    [InlineData("/home/dev/", "/home/dev", "your home folder")]
    [InlineData("/home//dev", "/home/dev", "your home folder")]
    [InlineData("/home/dev/project/..", "/home/dev", "your home folder")]
    [InlineData("/home", "/home", "a folder that holds your home folder")]
    [InlineData("/", "/", "the file system's root")]
    public void LaunchFolderTooBroadToMount_AsksForWorkspace(string launchFolder, string shown, string what)
    {
        // The workspace is mounted writable; PowerShell on macOS and Linux passes on a PWD that does not follow cd.
        var launch = new LaunchContext(launchFolder, _ => true, HomeDirectory: "/home/dev/");

        var (_, errors) = StackOptionsReader.TryRead(TestConfig.Build(), launch);

        var error = Assert.Single(errors);
        Assert.StartsWith($"The launch folder '{shown}' is {what}, and Claude Code would get write access to all of it;", error, StringComparison.Ordinal);
        Assert.Contains("set ClaudeStack:Workspace", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/home/dev/project", null)]
    [InlineData("/home/devices", null)]
    [InlineData("/home/dev", "/home/dev")]
    [InlineData("/home/dev", ".")]
    public void HomeFolder_IsMountedWhenAskedForOrAProjectBelowIt(string launchFolder, string? workspace)
    {
        var launch = new LaunchContext(launchFolder, _ => true, HomeDirectory: "/home/dev");
        var settings = workspace is null ? new ConfigurationBuilder().Build() : TestConfig.Build($"Workspace={workspace}");

        var options = StackOptionsReader.Read(settings, launch);

        Assert.Equal(launchFolder, options.Workspace);
    }

    [Fact]
    public void SeveralErrors_AreAllReportedInTheException()
    {
        var exception = Assert.Throws<StackConfigurationException>(() => TestConfig.Read("Provider=Nope", "Gpu=Nope", "ContextLength=1"));

        Assert.Equal(3, exception.Errors.Count);
        Assert.StartsWith("The ClaudeStack configuration is invalid", exception.Message, StringComparison.Ordinal);
        Assert.All(exception.Errors, e => Assert.Contains(e, exception.Message, StringComparison.Ordinal));
    }

    [Fact]
    public void AppHostAppSettings_IsAValidDefinition()
    {
        var appSettings = Path.Combine(TestConfig.RepositoryRoot, "ClaudeStack.AppHost", "appsettings.json");
        var configuration = new ConfigurationBuilder().AddJsonFile(appSettings, optional: false).Build();

        var options = StackOptionsReader.Read(configuration, TestConfig.Launch);

        Assert.Equal(ModelProvider.Ollama, options.Provider);
        Assert.Equal(StackConstants.Defaults.Model, options.Model);
        Assert.Equal(StackConstants.Defaults.ContextLength, options.ContextLength);
        Assert.Equal(StackConstants.Defaults.ContainerName, options.ClaudeCode.ContainerName);
        Assert.Equal(ClaudeCodeMode.Idle, options.ClaudeCode.Mode);
        Assert.Null(options.ClaudeCode.BaseImage);
        Assert.Null(options.ClaudeCode.NpmRegistry);
    }
}
