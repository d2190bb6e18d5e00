using Aspire.Hosting.Docker;
using ClaudeStack.Stack;

namespace ClaudeStack.Tests;

/// <summary>The AppHost's application model, checked without a container engine.</summary>
public class AppModelTests
{
    [Fact]
    public async Task DefaultStack_HasEveryResourceByName()
    {
        await using var builder = await StackFixture.CreateAsync();

        Assert.IsType<OllamaResource>(builder.Resource<IResource>("ollama"));
        Assert.Equal("llama3.1:8b", builder.Resource<OllamaModelResource>("model-llama3-1-8b").ModelName);
        builder.Resource<ProjectResource>("model-gateway");
        builder.Resource<ContainerResource>("claude-code");
        Assert.True(builder.Resource<ParameterResource>("stack-token").Secret);
        Assert.DoesNotContain(builder.Resources, r => r.Name is "upstream-api-key" or "external-model-server" or "compose");
    }

    [Fact]
    public async Task ExtraModels_AreModelResourcesOfOllama()
    {
        await using var builder = await StackFixture.CreateAsync("ExtraModels=qwen3:8b,gemma3:4b");

        var models = builder.Resources.OfType<OllamaModelResource>().ToArray();
        Assert.Equal(["model-llama3-1-8b", "model-qwen3-8b", "model-gemma3-4b"], models.Select(m => m.Name));
        Assert.All(models, m => Assert.Equal("ollama", m.Parent.Name));
    }

    [Fact]
    public async Task Waits_FollowTheStack()
    {
        await using var builder = await StackFixture.CreateAsync();

        var gatewayWaits = builder.Resource<ProjectResource>("model-gateway").Annotations.OfType<WaitAnnotation>().Select(w => w.Resource.Name);
        var claudeWaits = builder.Resource<ContainerResource>("claude-code").Annotations.OfType<WaitAnnotation>().Select(w => w.Resource.Name);
        Assert.Equal(["ollama", "model-llama3-1-8b"], gatewayWaits);
        Assert.Equal(["model-gateway"], claudeWaits);

        // Every model Claude Code calls is pulled before the gateway starts; an extra is not waited for.
        await using var mapped = await StackFixture.CreateAsync("ModelMap:Haiku=qwen3:1.7b", "ExtraModels=gemma3:4b");
        // (Each wait for a model adds one for its Ollama, WaitForCore at v13.5.2: the parent may be listed twice.)
        var mappedWaits = mapped.Resource<ProjectResource>("model-gateway").Annotations.OfType<WaitAnnotation>().Select(w => w.Resource.Name).Distinct();
        Assert.Equal(["ollama", "model-llama3-1-8b", "model-qwen3-1-7b"], mappedWaits);

        // Claude Code starts once the gateway answers /alive, not merely once its process runs.
        Assert.Single(builder.Resource<ProjectResource>("model-gateway").Annotations.OfType<HealthCheckAnnotation>());
    }

    [Fact]
    public async Task Ollama_IsPinnedWithDataVolumeAndEnvironment()
    {
        await using var builder = await StackFixture.CreateAsync("ContextLength=131072", "KeepAlive=1h");
        await using var app = await builder.BuildAsync();

        var ollama = builder.Resource<OllamaResource>("ollama");
        var image = ollama.Annotations.OfType<ContainerImageAnnotation>().Last();
        var environment = await StackFixture.UnresolvedEnvironmentAsync(ollama, app.Services);

        Assert.Equal("ollama/ollama", image.Image);
        Assert.Equal("0.32.15", image.Tag);
        Assert.Contains(ollama.Annotations.OfType<ContainerMountAnnotation>(), m => m.Type == ContainerMountType.Volume && m.Target == "/root/.ollama");
        Assert.Equal("131072", environment["OLLAMA_CONTEXT_LENGTH"]);
        Assert.Equal("1h", environment["OLLAMA_KEEP_ALIVE"]);
        Assert.Equal("1", environment["OLLAMA_NO_CLOUD"]);
    }

    [Theory]
    [InlineData("None", new string[0], "0.32.15")]
    [InlineData("Nvidia", new[] { "--gpus", "all" }, "0.32.15")]
    [InlineData("Amd", new[] { "--device", "/dev/kfd", "--device", "/dev/dri" }, "0.32.15-rocm")]
    public async Task Gpu_AddsRuntimeArgumentsPerVendor(string gpu, string[] expected, string tag)
    {
        // The toolkit passes NVIDIA GPUs differently to Podman (ASPIRE_CONTAINER_RUNTIME); these are Docker's arguments.
        await using var builder = await StackFixture.CreateWithArgsAsync([$"{StackConstants.ConfigurationSection}:Gpu={gpu}", "ASPIRE_CONTAINER_RUNTIME=docker"]);

        var ollama = builder.Resource<OllamaResource>("ollama");

        Assert.Equal(expected, await StackFixture.ContainerRuntimeArgumentsAsync(ollama));
        Assert.Equal(tag, ollama.Annotations.OfType<ContainerImageAnnotation>().Last().Tag);
    }

    [Fact]
    public async Task HostOllama_IsAnExecutable()
    {
        await using var builder = await StackFixture.CreateAsync("UseHostOllama=true");

        var ollama = Assert.IsType<OllamaExecutableResource>(builder.Resource<IResource>("ollama"));
        // Not 11434, where an installed Ollama app or service already listens.
        Assert.Equal(StackConstants.Endpoints.HostOllamaPort, Assert.Single(ollama.Annotations.OfType<EndpointAnnotation>()).TargetPort);
    }

    [Fact]
    public async Task ClaudeCode_IsBuiltFromTheRepositoryDockerfileWithThePinnedVersion()
    {
        await using var builder = await StackFixture.CreateAsync("ClaudeCode:ContainerName=my-claude");

        var claudeCode = builder.Resource<ContainerResource>("claude-code");
        var build = claudeCode.Annotations.OfType<DockerfileBuildAnnotation>().Single();
        var versionFile = Path.Combine(build.ContextPath, "claude-code.version");

        Assert.EndsWith(Path.Combine("containers", "claude-code"), build.ContextPath.TrimEnd(Path.DirectorySeparatorChar), StringComparison.Ordinal);
        Assert.Equal(File.ReadAllText(versionFile).Trim(), build.BuildArguments["CLAUDE_CODE_VERSION"]);
        // The AppHost runs in the test process, so its host user is this process's user.
        Assert.Equal(ContainerUser.FromProcess().UserIdText, build.BuildArguments["USER_UID"]);
        Assert.Equal(ContainerUser.FromProcess().GroupIdText, build.BuildArguments["USER_GID"]);
        // Without mirrors configured the Dockerfile's own base image and npmjs.org are used.
        Assert.DoesNotContain(StackConstants.BuildArgs.BaseImage, build.BuildArguments.Keys);
        Assert.DoesNotContain(StackConstants.BuildArgs.NpmRegistry, build.BuildArguments.Keys);
        Assert.Equal("my-claude", claudeCode.Annotations.OfType<ContainerNameAnnotation>().Single().Name);
        Assert.Contains(claudeCode.Annotations.OfType<ContainerMountAnnotation>(), m => m.Type == ContainerMountType.BindMount && m.Target == "/workspace");
        // Claude Code's state outlives the container, in a volume at the CLAUDE_CONFIG_DIR its environment names.
        Assert.Contains(claudeCode.Annotations.OfType<ContainerMountAnnotation>(), m => m.Type == ContainerMountType.Volume && m.Target == StackConstants.Paths.ContainerClaudeConfig && m.Source is { } name && name.StartsWith("my-claude-config-", StringComparison.Ordinal));
        Assert.Equal(["idle"], await StackFixture.ArgumentsAsync(claudeCode));
        Assert.Contains(claudeCode.Annotations.OfType<ResourceCommandAnnotation>(), c => c.Name == "show-attach-command");
    }

    [Fact]
    public async Task ClaudeCode_IsBuiltForTheConfiguredUserAndMirrors()
    {
        await using var builder = await StackFixture.CreateAsync(
            "ClaudeCode:UserId=1001",
            "ClaudeCode:GroupId=20",
            "ClaudeCode:BaseImage=mirror.example/library/node:22-bookworm-slim",
            "ClaudeCode:NpmRegistry=https://npm.mirror.example/");

        var build = builder.Resource<ContainerResource>("claude-code").Annotations.OfType<DockerfileBuildAnnotation>().Single();

        Assert.Equal("1001", build.BuildArguments["USER_UID"]);
        Assert.Equal("20", build.BuildArguments["USER_GID"]);
        Assert.Equal("mirror.example/library/node:22-bookworm-slim", build.BuildArguments[StackConstants.BuildArgs.BaseImage]);
        Assert.Equal("https://npm.mirror.example/", build.BuildArguments[StackConstants.BuildArgs.NpmRegistry]);
    }

    [Theory]
    [InlineData(new string[0], "65536")]
    [InlineData(new[] { "ContextLength=98304" }, "98304")]
    [InlineData(new[] { "Provider=External", "External:Url=http://localhost:11434", "ContextLength=131072" }, "131072")]
    [InlineData(new[] { "Provider=Anthropic" }, null)]
    [InlineData(new[] { "Provider=Anthropic", "ClaudeCode:MaxContextTokens=200000" }, null)]
    public async Task ClaudeCode_IsToldTheContextWindowOfLocalModels(string[] settings, string? expected)
    {
        await using var builder = await StackFixture.CreateAsync(settings);
        await using var app = await builder.BuildAsync();

        var environment = await StackFixture.UnresolvedEnvironmentAsync(builder.Resource<ContainerResource>("claude-code"), app.Services);

        Assert.Equal(expected, environment.GetValueOrDefault("CLAUDE_CODE_MAX_CONTEXT_TOKENS") as string);
    }

    [Theory]
    [InlineData("ClaudeCode:UserId=-1", "ClaudeStack:ClaudeCode:UserId is '-1'; use a non-negative whole number")]
    [InlineData("ClaudeCode:GroupId=staff", "ClaudeStack:ClaudeCode:GroupId is 'staff'; use a non-negative whole number")]
    [InlineData("ClaudeCode:UserId=0", "ClaudeStack:ClaudeCode:UserId is 0; the Claude Code image does not run as root.")]
    public async Task InvalidContainerUser_StopsTheAppHost(string setting, string message)
    {
        var exception = await Assert.ThrowsAnyAsync<Exception>(() => StackFixture.CreateAsync(setting));

        Assert.Contains(message, exception.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TaskMode_RunsTheTaskWithoutAttachCommand()
    {
        await using var builder = await StackFixture.CreateAsync("ClaudeCode:Mode=Task", "ClaudeCode:Prompt=say hi");

        var claudeCode = builder.Resource<ContainerResource>("claude-code");

        Assert.Equal(["task"], await StackFixture.ArgumentsAsync(claudeCode));
        Assert.DoesNotContain(claudeCode.Annotations.OfType<ResourceCommandAnnotation>(), c => c.Name == "show-attach-command");
    }

    public static TheoryData<string[]> Providers => new()
    {
        { [] },
        { ["Model=qwen3:8b", "ModelMap:Haiku=qwen3:1.7b", "ContextLength=98304"] },
        { ["Provider=External", "External:Url=http://localhost:11434"] },
        { ["Provider=External", "External:Kind=AnthropicCompatible", "External:Url=http://localhost:8080", "External:UseApiKey=true"] },
        { ["Provider=Anthropic"] },
        { ["Provider=Anthropic", "ClaudeCode:MaxContextTokens=200000"] },
        { ["ClaudeCode:Mode=Task", "ClaudeCode:Prompt=say hi", "ClaudeCode:OutputFormat=json"] },
    };

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task ClaudeCode_GetsExactlyThePlannedEnvironment(string[] settings)
    {
        await using var builder = await StackFixture.CreateAsync(settings);
        await using var app = await builder.BuildAsync();
        var plan = StackEnvironment.ForClaudeCode(ReadOptions(builder));

        var environment = await StackFixture.UnresolvedEnvironmentAsync(builder.Resource<ContainerResource>("claude-code"), app.Services);

        foreach (var entry in plan)
        {
            switch (entry.Reference)
            {
                case null:
                    Assert.Equal(entry.Literal, environment[entry.Name]);
                    break;
                case StackReference.GatewayUrl:
                    var endpoint = Assert.IsType<EndpointReference>(environment[entry.Name]);
                    Assert.Equal("model-gateway", endpoint.Resource.Name);
                    Assert.Equal("http", endpoint.EndpointName);
                    Assert.Null(endpoint.ContextNetworkID); // resolved in the container's network
                    break;
                case StackReference.StackToken:
                    Assert.Equal("stack-token", Assert.IsType<ParameterResource>(environment[entry.Name]).Name);
                    break;
                default:
                    Assert.Fail($"claude-code must not get {entry.Reference}");
                    break;
            }
        }

        static bool IsStackVariable(string name) => name.StartsWith("ANTHROPIC_", StringComparison.Ordinal) || name.StartsWith("CLAUDE_", StringComparison.Ordinal);
        Assert.Equal(plan.Select(e => e.Name).Where(IsStackVariable).Order(), environment.Keys.Where(IsStackVariable).Order());
        Assert.True(environment.ContainsKey("OTEL_EXPORTER_OTLP_ENDPOINT"));
        Assert.True(environment.ContainsKey("OTEL_EXPORTER_OTLP_PROTOCOL"));
        Assert.DoesNotContain(environment.Values, v => v is ParameterResource { Name: "upstream-api-key" });
    }

    [Fact]
    public async Task AnthropicMode_GivesTheApiKeyOnlyToTheGateway()
    {
        await using var builder = await StackFixture.CreateAsync("Provider=Anthropic");
        await using var app = await builder.BuildAsync();

        var gateway = await StackFixture.UnresolvedEnvironmentAsync(builder.Resource<ProjectResource>("model-gateway"), app.Services);
        var claudeCode = await StackFixture.UnresolvedEnvironmentAsync(builder.Resource<ContainerResource>("claude-code"), app.Services);

        Assert.DoesNotContain(builder.Resources, r => r is OllamaResource or OllamaModelResource);
        Assert.True(builder.Resource<ParameterResource>("upstream-api-key").Secret);
        Assert.Equal("upstream-api-key", Assert.IsType<ParameterResource>(gateway["Gateway__Upstream__ApiKey"]).Name);
        Assert.DoesNotContain(claudeCode.Values, v => v is ParameterResource { Name: "upstream-api-key" });
        Assert.DoesNotContain("ANTHROPIC_API_KEY", claudeCode.Keys);
        Assert.DoesNotContain(claudeCode.Values, v => v as string == StackFixture.TestApiKey);
    }

    [Fact]
    public async Task Gateway_EnvironmentResolvesToValues()
    {
        await using var builder = await StackFixture.CreateAsync("Model=qwen3:8b", "ModelMap:Opus=qwen3-coder:30b");
        await using var app = await builder.BuildAsync();
        var ollama = builder.Resource<OllamaResource>("ollama");
        var gateway = builder.Resource<ProjectResource>("model-gateway");
        StackFixture.Allocate(ollama, "http", "localhost", 11434, KnownNetworkIdentifiers.LocalhostNetwork);
        StackFixture.Allocate(gateway, "http", "localhost", 5080, KnownNetworkIdentifiers.LocalhostNetwork);

        var environment = await StackFixture.ResolvedEnvironmentAsync(gateway, app.Services);

        Assert.Equal("Endpoint=http://localhost:11434", environment["ConnectionStrings__ollama"]);
        Assert.Equal("ollama", environment["Gateway__Upstream__Profile"]);
        Assert.Equal("ollama", environment["Gateway__Upstream__ConnectionName"]);
        Assert.Equal(StackFixture.TestToken, environment["Gateway__StackToken"]);
        Assert.Equal("qwen3:8b", environment["Gateway__Models__Default"]);
        Assert.Equal("qwen3-coder:30b", environment["Gateway__Models__Opus"]);
        Assert.Equal("qwen3:8b", environment["Gateway__Models__Sonnet"]);
        Assert.Equal("qwen3:8b", environment["Gateway__Models__Haiku"]);
        Assert.Equal("qwen3:8b", environment["Gateway__Models__Fable"]);
        Assert.Equal("65536", environment["Gateway__ContextLength"]);
        Assert.DoesNotContain("Gateway__Upstream__ApiKey", environment.Keys);
    }

    [Fact]
    public async Task ClaudeCode_TokenAndGatewayUrlResolve()
    {
        await using var builder = await StackFixture.CreateAsync();
        await using var app = await builder.BuildAsync();
        var gateway = builder.Resource<ProjectResource>("model-gateway");
        StackFixture.Allocate(gateway, "http", "host.docker.internal", 5080, KnownNetworkIdentifiers.DefaultAspireContainerNetwork);

        var environment = await StackFixture.UnresolvedEnvironmentAsync(builder.Resource<ContainerResource>("claude-code"), app.Services);
        var url = await Assert.IsType<EndpointReference>(environment["ANTHROPIC_BASE_URL"]).GetValueAsync(
            new ValueProviderContext { Caller = builder.Resource<ContainerResource>("claude-code") }, TestContext.Current.CancellationToken);
        var token = await Assert.IsType<ParameterResource>(environment["ANTHROPIC_AUTH_TOKEN"]).GetValueAsync(TestContext.Current.CancellationToken);

        Assert.Equal("http://host.docker.internal:5080", url);
        Assert.Equal(StackFixture.TestToken, token);
    }

    [Theory]
    [InlineData("Provider=Nope", "ClaudeStack:Provider is 'Nope'; allowed values: Ollama, Anthropic, External.")]
    [InlineData("ContextLength=8192", "ClaudeStack:ContextLength is 8192; set it between 65536 and 1048576 tokens.")]
    [InlineData("ClaudeCode:Mode=Task", "ClaudeStack:ClaudeCode:Mode is Task but ClaudeStack:ClaudeCode:Prompt is empty")]
    public async Task InvalidConfiguration_StopsTheAppHostWithTheKeyToChange(string setting, string message)
    {
        var exception = await Assert.ThrowsAnyAsync<Exception>(() => StackFixture.CreateAsync(setting));

        // The AppHost's StackConfigurationException, possibly wrapped by the testing host.
        Assert.Contains(message, exception.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("None", false)]
    [InlineData("Nvidia", false)]
    [InlineData("Amd", false)]
    [InlineData("None", true)]
    public async Task Publish_WritesComposeWithGpuAccessAndTty(string gpu, bool useHostOllama)
    {
        // UseHostOllama is for `dotnet run` on the developer's machine; the compose file always runs the Ollama container.
        var output = Directory.CreateTempSubdirectory("claudestack-compose-").FullName;
        try
        {
            await using var builder = await StackFixture.CreateWithArgsAsync(
                ["--operation", "publish", "--step", "publish", "--output-path", output, $"ClaudeStack:Gpu={gpu}", $"ClaudeStack:UseHostOllama={useHostOllama}"]);
            Assert.Single(builder.Resources.OfType<DockerComposeEnvironmentResource>(), e => e.Name == "compose");
            await using var app = await builder.BuildAsync();
            using var cts = new CancellationTokenSource(StackFixture.ModelTimeout);

            await app.RunAsync(cts.Token);

            var yaml = await File.ReadAllTextAsync(Path.Combine(output, "docker-compose.yaml"), cts.Token);
            var ollama = ServiceBlock(yaml, "ollama");
            var claudeCode = ServiceBlock(yaml, "claude-code");
            Assert.Contains("tty: true", claudeCode, StringComparison.Ordinal);
            Assert.Contains("stdin_open: true", claudeCode, StringComparison.Ordinal);
            Assert.Equal(gpu == "Nvidia", ollama.Contains("driver: \"nvidia\"", StringComparison.Ordinal));
            Assert.Equal(gpu == "Nvidia", ollama.Contains("capabilities: [\"gpu\"]", StringComparison.Ordinal));
            Assert.Equal(gpu == "Amd", ollama.Contains("/dev/kfd", StringComparison.Ordinal));
            Assert.Equal(gpu == "Amd", ollama.Contains("/dev/dri", StringComparison.Ordinal));
            Assert.DoesNotContain(StackFixture.TestApiKey, yaml, StringComparison.Ordinal);

            // A fixed gateway port: with none, the URL would read http://model-gateway:${MODEL_GATEWAY_PORT}, which
            // `aspire publish` leaves empty in .env.
            Assert.Contains("ANTHROPIC_BASE_URL: \"http://model-gateway:8080\"", claudeCode, StringComparison.Ordinal);
            Assert.Contains("HTTP_PORTS: \"8080\"", ServiceBlock(yaml, "model-gateway"), StringComparison.Ordinal);
            Assert.DoesNotContain("MODEL_GATEWAY_PORT", yaml, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }

    private static StackOptions ReadOptions(IDistributedApplicationTestingBuilder builder) =>
        StackOptionsReader.Read(builder.Configuration, new LaunchContext(Path.GetTempPath(), Directory.Exists));

    /// <summary>The lines of one service in a published compose file.</summary>
    private static string ServiceBlock(string yaml, string service)
    {
        var lines = yaml.ReplaceLineEndings("\n").Split('\n');
        var start = Array.FindIndex(lines, l => l == $"  {service}:");
        Assert.True(start >= 0, $"service {service} not in the compose file");
        var block = lines.Skip(start + 1).TakeWhile(l => l.Length == 0 || l.StartsWith("    ", StringComparison.Ordinal));
        return string.Join('\n', block);
    }
}
