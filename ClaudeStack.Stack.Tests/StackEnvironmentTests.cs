using Microsoft.Extensions.Configuration;

namespace ClaudeStack.Stack.Tests;

public class StackEnvironmentTests
{
    private const string StackNoProxy = "localhost,127.0.0.1,::1,host.docker.internal,host.containers.internal,aspire.dev.internal,.dev.internal,model-gateway,ollama,compose-dashboard";

    // Every Claude Code container gets these, in this order, after its model settings.
    private static readonly string[] ProxyAndTelemetryVariables =
    [
        $"NO_PROXY={StackNoProxy}",
        $"no_proxy={StackNoProxy}",
        "CLAUDE_CODE_ENABLE_TELEMETRY=1",
        "OTEL_METRICS_EXPORTER=otlp",
        "OTEL_LOGS_EXPORTER=otlp",
        "OTEL_TRACES_EXPORTER=otlp",
        "CLAUDE_CODE_ENHANCED_TELEMETRY_BETA=1",
        "CLAUDE_CODE_PROPAGATE_TRACEPARENT=1",
    ];

    public static TheoryData<string[], string[]> ClaudeCodeCases => new()
    {
        {
            [],
            [
                "ANTHROPIC_BASE_URL=<GatewayUrl>", "ANTHROPIC_AUTH_TOKEN=<StackToken>", "CLAUDE_CONFIG_DIR=/home/node/.claude",
                "ANTHROPIC_MODEL=llama3.1:8b", "ANTHROPIC_DEFAULT_OPUS_MODEL=llama3.1:8b", "ANTHROPIC_DEFAULT_SONNET_MODEL=llama3.1:8b",
                "ANTHROPIC_DEFAULT_HAIKU_MODEL=llama3.1:8b", "ANTHROPIC_DEFAULT_FABLE_MODEL=llama3.1:8b",
                "CLAUDE_CODE_SUBAGENT_MODEL=llama3.1:8b", "CLAUDE_STREAM_IDLE_TIMEOUT_MS=600000", "CLAUDE_CODE_MAX_CONTEXT_TOKENS=65536",
                .. ProxyAndTelemetryVariables,
            ]
        },
        {
            ["Model=qwen3:8b", "ModelMap:Opus=qwen3-coder:30b", "ModelMap:Haiku=qwen3:1.7b", "ModelMap:Fable=gemma3:27b", "ContextLength=131072"],
            [
                "ANTHROPIC_BASE_URL=<GatewayUrl>", "ANTHROPIC_AUTH_TOKEN=<StackToken>", "CLAUDE_CONFIG_DIR=/home/node/.claude",
                "ANTHROPIC_MODEL=qwen3:8b", "ANTHROPIC_DEFAULT_OPUS_MODEL=qwen3-coder:30b", "ANTHROPIC_DEFAULT_SONNET_MODEL=qwen3:8b",
                "ANTHROPIC_DEFAULT_HAIKU_MODEL=qwen3:1.7b", "ANTHROPIC_DEFAULT_FABLE_MODEL=gemma3:27b",
                "CLAUDE_CODE_SUBAGENT_MODEL=qwen3:8b", "CLAUDE_STREAM_IDLE_TIMEOUT_MS=600000", "CLAUDE_CODE_MAX_CONTEXT_TOKENS=131072",
                .. ProxyAndTelemetryVariables,
            ]
        },
        {
            ["Provider=External", "External:Kind=AnthropicCompatible", "External:Url=http://gpu-box:8080", "External:UseApiKey=true", "Model=gpt-oss:20b"],
            [
                "ANTHROPIC_BASE_URL=<GatewayUrl>", "ANTHROPIC_AUTH_TOKEN=<StackToken>", "CLAUDE_CONFIG_DIR=/home/node/.claude",
                "ANTHROPIC_MODEL=gpt-oss:20b", "ANTHROPIC_DEFAULT_OPUS_MODEL=gpt-oss:20b", "ANTHROPIC_DEFAULT_SONNET_MODEL=gpt-oss:20b",
                "ANTHROPIC_DEFAULT_HAIKU_MODEL=gpt-oss:20b", "ANTHROPIC_DEFAULT_FABLE_MODEL=gpt-oss:20b",
                "CLAUDE_CODE_SUBAGENT_MODEL=gpt-oss:20b", "CLAUDE_STREAM_IDLE_TIMEOUT_MS=600000", "CLAUDE_CODE_MAX_CONTEXT_TOKENS=65536",
                .. ProxyAndTelemetryVariables,
            ]
        },
        {
            ["Provider=Anthropic"],
            ["ANTHROPIC_BASE_URL=<GatewayUrl>", "ANTHROPIC_AUTH_TOKEN=<StackToken>", "CLAUDE_CONFIG_DIR=/home/node/.claude", .. ProxyAndTelemetryVariables]
        },
        {
            ["Provider=Anthropic", "ClaudeCode:MaxContextTokens=200000"],
            ["ANTHROPIC_BASE_URL=<GatewayUrl>", "ANTHROPIC_AUTH_TOKEN=<StackToken>", "CLAUDE_CONFIG_DIR=/home/node/.claude", "CLAUDE_CODE_AUTO_COMPACT_WINDOW=200000", .. ProxyAndTelemetryVariables]
        },
        {
            ["Provider=External", "External:Url=http://gpu-box:11434", "ContextLength=131072", "ClaudeCode:MaxContextTokens=98304"],
            [
                "ANTHROPIC_BASE_URL=<GatewayUrl>", "ANTHROPIC_AUTH_TOKEN=<StackToken>", "CLAUDE_CONFIG_DIR=/home/node/.claude",
                "ANTHROPIC_MODEL=llama3.1:8b", "ANTHROPIC_DEFAULT_OPUS_MODEL=llama3.1:8b", "ANTHROPIC_DEFAULT_SONNET_MODEL=llama3.1:8b",
                "ANTHROPIC_DEFAULT_HAIKU_MODEL=llama3.1:8b", "ANTHROPIC_DEFAULT_FABLE_MODEL=llama3.1:8b",
                "CLAUDE_CODE_SUBAGENT_MODEL=llama3.1:8b", "CLAUDE_STREAM_IDLE_TIMEOUT_MS=600000", "CLAUDE_CODE_MAX_CONTEXT_TOKENS=98304",
                .. ProxyAndTelemetryVariables,
            ]
        },
        {
            ["Provider=Anthropic", "Model=claude-sonnet-4-5", "ModelMap:Haiku=claude-haiku-4-5", "ModelMap:Fable=claude-fable-5"],
            [
                "ANTHROPIC_BASE_URL=<GatewayUrl>", "ANTHROPIC_AUTH_TOKEN=<StackToken>", "CLAUDE_CONFIG_DIR=/home/node/.claude",
                "ANTHROPIC_MODEL=claude-sonnet-4-5", "ANTHROPIC_DEFAULT_HAIKU_MODEL=claude-haiku-4-5", "ANTHROPIC_DEFAULT_FABLE_MODEL=claude-fable-5",
                "CLAUDE_CODE_SUBAGENT_MODEL=claude-sonnet-4-5",
                .. ProxyAndTelemetryVariables,
            ]
        },
        {
            ["ClaudeCode:Mode=Task", "ClaudeCode:Prompt=write hello.txt", "ClaudeCode:OutputFormat=json", "ClaudeCode:AllowedTools=Write"],
            [
                "ANTHROPIC_BASE_URL=<GatewayUrl>", "ANTHROPIC_AUTH_TOKEN=<StackToken>", "CLAUDE_CONFIG_DIR=/home/node/.claude",
                "ANTHROPIC_MODEL=llama3.1:8b", "ANTHROPIC_DEFAULT_OPUS_MODEL=llama3.1:8b", "ANTHROPIC_DEFAULT_SONNET_MODEL=llama3.1:8b",
                "ANTHROPIC_DEFAULT_HAIKU_MODEL=llama3.1:8b", "ANTHROPIC_DEFAULT_FABLE_MODEL=llama3.1:8b",
                "CLAUDE_CODE_SUBAGENT_MODEL=llama3.1:8b", "CLAUDE_STREAM_IDLE_TIMEOUT_MS=600000", "CLAUDE_CODE_MAX_CONTEXT_TOKENS=65536",
                .. ProxyAndTelemetryVariables,
                "CLAUDE_TASK_PROMPT=write hello.txt", "CLAUDE_TASK_OUTPUT_FORMAT=json", "CLAUDE_TASK_ALLOWED_TOOLS=Write",
            ]
        },
        {
            ["ClaudeCode:Mode=Task", "ClaudeCode:Prompt=summarize"],
            [
                "ANTHROPIC_BASE_URL=<GatewayUrl>", "ANTHROPIC_AUTH_TOKEN=<StackToken>", "CLAUDE_CONFIG_DIR=/home/node/.claude",
                "ANTHROPIC_MODEL=llama3.1:8b", "ANTHROPIC_DEFAULT_OPUS_MODEL=llama3.1:8b", "ANTHROPIC_DEFAULT_SONNET_MODEL=llama3.1:8b",
                "ANTHROPIC_DEFAULT_HAIKU_MODEL=llama3.1:8b", "ANTHROPIC_DEFAULT_FABLE_MODEL=llama3.1:8b",
                "CLAUDE_CODE_SUBAGENT_MODEL=llama3.1:8b", "CLAUDE_STREAM_IDLE_TIMEOUT_MS=600000", "CLAUDE_CODE_MAX_CONTEXT_TOKENS=65536",
                .. ProxyAndTelemetryVariables,
                "CLAUDE_TASK_PROMPT=summarize",
            ]
        },
        {
            ["ClaudeCode:Prompt=ignored in idle mode", "ClaudeCode:OutputFormat=json"],
            [
                "ANTHROPIC_BASE_URL=<GatewayUrl>", "ANTHROPIC_AUTH_TOKEN=<StackToken>", "CLAUDE_CONFIG_DIR=/home/node/.claude",
                "ANTHROPIC_MODEL=llama3.1:8b", "ANTHROPIC_DEFAULT_OPUS_MODEL=llama3.1:8b", "ANTHROPIC_DEFAULT_SONNET_MODEL=llama3.1:8b",
                "ANTHROPIC_DEFAULT_HAIKU_MODEL=llama3.1:8b", "ANTHROPIC_DEFAULT_FABLE_MODEL=llama3.1:8b",
                "CLAUDE_CODE_SUBAGENT_MODEL=llama3.1:8b", "CLAUDE_STREAM_IDLE_TIMEOUT_MS=600000", "CLAUDE_CODE_MAX_CONTEXT_TOKENS=65536",
                .. ProxyAndTelemetryVariables,
            ]
        },
    };

    [Theory]
    [MemberData(nameof(ClaudeCodeCases))]
    public void ClaudeCode_HasExactlyTheseVariables(string[] settings, string[] expected)
    {
        var entries = StackEnvironment.ForClaudeCode(TestConfig.Read(settings));

        Assert.Equal(expected, entries.Select(e => e.ToString()));
    }

    [Fact]
    public void ClaudeCode_NeverReachesTheStackThroughAProxy_AndKeepsTheHostsOwnExceptions()
    {
        // Docker's "proxies" in ~/.docker/config.json put HTTP_PROXY and HTTPS_PROXY into every container; a corporate
        // proxy cannot reach the gateway on the host. The AppHost reads its environment as configuration.
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["NO_PROXY"] = "intranet.corp, .corp.example",
            ["AppHost:ContainerHostname"] = "docker-host.lan",
        }).Build();

        // What the docker CLI's own "noProxy" and the other spelling of the variable held, read at launch.
        var launch = TestConfig.Launch with { NoProxy = "mcp.corp,intranet.corp" };

        var variables = TestConfig.ByName(StackEnvironment.ForClaudeCode(StackOptionsReader.Read(configuration, launch)));

        Assert.Equal($"{StackNoProxy},mcp.corp,intranet.corp,.corp.example,docker-host.lan", variables["NO_PROXY"].Literal);
        Assert.Equal(variables["NO_PROXY"].Literal, variables["no_proxy"].Literal);
    }

    [Fact]
    public void HostProxyExemptions_ComeFromBothSpellingsAndTheDockerCliConfig()
    {
        var dockerConfig = Directory.CreateTempSubdirectory("claudestack-docker-config-");
        try
        {
            File.WriteAllText(Path.Combine(dockerConfig.FullName, "config.json"), """{"auths":{},"proxies":{"default":{"httpProxy":"http://proxy.corp:3128","noProxy":"mcp.corp,*.internal"}}}""");
            var environment = new Dictionary<string, string?> { ["NO_PROXY"] = "intranet.corp", ["no_proxy"] = "wiki.corp", ["DOCKER_CONFIG"] = dockerConfig.FullName };

            Assert.Equal("intranet.corp,wiki.corp,mcp.corp,*.internal", HostProxyExemptions.Read(name => environment.GetValueOrDefault(name), "/nonexistent"));
            // No config at all, or one that is not JSON: the variables alone.
            Assert.Equal("", HostProxyExemptions.Read(_ => null, "/nonexistent"));
            File.WriteAllText(Path.Combine(dockerConfig.FullName, "config.json"), "{ not json");
            Assert.Equal("intranet.corp,wiki.corp", HostProxyExemptions.Read(name => environment.GetValueOrDefault(name), "/nonexistent"));
        }
        finally
        {
            dockerConfig.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData("Provider=Anthropic")]
    [InlineData("Provider=External", "External:Kind=AnthropicCompatible", "External:Url=http://gpu-box:8080", "External:UseApiKey=true")]
    [InlineData("Provider=Ollama")]
    public void ClaudeCode_NeverGetsTheUpstreamApiKey(params string[] settings)
    {
        var entries = StackEnvironment.ForClaudeCode(TestConfig.Read(settings));

        Assert.DoesNotContain(entries, e => e.Reference == StackReference.UpstreamApiKey);
        Assert.DoesNotContain(entries, e => e.Name == StackConstants.ClaudeCodeVariables.ApiKey);
        Assert.Equal(StackReference.StackToken, TestConfig.ByName(entries)["ANTHROPIC_AUTH_TOKEN"].Reference);
    }

    [Theory]
    [InlineData("Provider=Ollama")]
    [InlineData("Provider=External", "External:Url=http://localhost:11434")]
    [InlineData("Provider=External", "External:Kind=AnthropicCompatible", "External:Url=http://localhost:8080")]
    public void ClaudeCode_WithLocalModels_NeverAsksForAClaudeName(params string[] settings)
    {
        var variables = TestConfig.ByName(StackEnvironment.ForClaudeCode(TestConfig.Read(settings)));

        foreach (var name in new[] { "ANTHROPIC_MODEL", "ANTHROPIC_DEFAULT_OPUS_MODEL", "ANTHROPIC_DEFAULT_SONNET_MODEL", "ANTHROPIC_DEFAULT_HAIKU_MODEL", "ANTHROPIC_DEFAULT_FABLE_MODEL", "CLAUDE_CODE_SUBAGENT_MODEL" })
        {
            Assert.False(string.IsNullOrEmpty(variables[name].Literal), name);
            Assert.DoesNotContain("claude", variables[name].Literal!, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Theory]
    [InlineData(new string[0], 65536)]
    [InlineData(new[] { "ContextLength=131072" }, 131072)]
    [InlineData(new[] { "UseHostOllama=true", "ContextLength=98304" }, 98304)]
    [InlineData(new[] { "Provider=External", "External:Url=http://localhost:11434", "ContextLength=262144" }, 262144)]
    [InlineData(new[] { "Provider=External", "External:Kind=AnthropicCompatible", "External:Url=http://localhost:8080" }, 65536)]
    [InlineData(new[] { "Provider=Anthropic" }, null)]
    [InlineData(new[] { "Provider=Anthropic", "ContextLength=131072" }, null)]
    [InlineData(new[] { "ContextLength=131072", "ClaudeCode:MaxContextTokens=65536" }, 65536)]
    public void ClaudeCode_IsToldTheContextWindow_WhenTheModelIsLocal(string[] settings, int? expected)
    {
        var options = TestConfig.Read(settings);
        var variables = TestConfig.ByName(StackEnvironment.ForClaudeCode(options));

        Assert.Equal(expected, StackEnvironment.ClaudeCodeMaxContextTokens(options));
        Assert.Equal(expected?.ToString(System.Globalization.CultureInfo.InvariantCulture), variables.GetValueOrDefault(StackConstants.ClaudeCodeVariables.MaxContextTokens)?.Literal);
    }

    /// <summary>
    /// Claude Code 2.1.329 takes CLAUDE_CODE_MAX_CONTEXT_TOKENS only for model names it does not know: for Claude the
    /// configured cap goes out as CLAUDE_CODE_AUTO_COMPACT_WINDOW, the variable it honours for every model. Local models
    /// never get that one (their windows are mostly below its 100K minimum).
    /// </summary>
    [Theory]
    [InlineData(new[] { "Provider=Anthropic", "ClaudeCode:MaxContextTokens=150000" }, 150000)]
    [InlineData(new[] { "Provider=Anthropic", "ClaudeCode:MaxContextTokens=100000" }, 100000)]
    [InlineData(new[] { "Provider=Anthropic", "ClaudeCode:MaxContextTokens=1000000" }, 1000000)]
    [InlineData(new[] { "Provider=Anthropic" }, null)]
    [InlineData(new[] { "ContextLength=262144", "ClaudeCode:MaxContextTokens=200000" }, null)]
    [InlineData(new[] { "Provider=External", "External:Kind=AnthropicCompatible", "External:Url=http://localhost:8080", "ContextLength=262144", "ClaudeCode:MaxContextTokens=200000" }, null)]
    public void ClaudeCode_AnthropicProvider_CapsClaudesWindowWithTheAutoCompactWindow(string[] settings, int? expected)
    {
        var options = TestConfig.Read(settings);
        var variables = TestConfig.ByName(StackEnvironment.ForClaudeCode(options));

        Assert.Equal(expected, StackEnvironment.ClaudeCodeAutoCompactWindow(options));
        Assert.Equal(expected?.ToString(System.Globalization.CultureInfo.InvariantCulture), variables.GetValueOrDefault(StackConstants.ClaudeCodeVariables.AutoCompactWindow)?.Literal);
        if (options.Provider == ModelProvider.Anthropic)
        {
            Assert.DoesNotContain(StackConstants.ClaudeCodeVariables.MaxContextTokens, variables.Keys);
        }
    }

    [Theory]
    [InlineData(new string[0], "1000", "1000")]
    [InlineData(new[] { "ClaudeCode:UserId=1001", "ClaudeCode:GroupId=20" }, "1001", "20")]
    [InlineData(new[] { "ClaudeCode:UserId=4294967294", "ClaudeCode:GroupId=0" }, "4294967294", "0")]
    public void ClaudeCodeBuildArguments_PinTheVersionAndTheUser(string[] settings, string uid, string gid)
    {
        var arguments = StackEnvironment.ClaudeCodeBuildArguments(TestConfig.Read(settings), "2.1.329");

        Assert.Equal(
            [new("CLAUDE_CODE_VERSION", "2.1.329"), new("USER_UID", uid), new("USER_GID", gid)],
            arguments);
    }

    [Fact]
    public void ClaudeCodeBuildArguments_NameTheMirrorsWhenSet()
    {
        // Behind a corporate proxy both downloads of the image build go to mirrors; unset, the Dockerfile's defaults apply.
        var options = TestConfig.Read(["ClaudeCode:BaseImage=mirror.example.com:5000/library/node:22-bookworm-slim", "ClaudeCode:NpmRegistry=https://npm.example.com/repository/npm"]);

        var arguments = StackEnvironment.ClaudeCodeBuildArguments(options, "2.1.329").ToDictionary();

        Assert.Equal("mirror.example.com:5000/library/node:22-bookworm-slim", arguments["BASE_IMAGE"]);
        Assert.Equal("https://npm.example.com/repository/npm", arguments["NPM_CONFIG_REGISTRY"]);
    }

    [Fact]
    public void ClaudeCodeBuildArguments_DefaultToTheHostUser()
    {
        var launch = TestConfig.Launch with { HostUser = new ContainerUser(1234, 5678) };
        var options = StackOptionsReader.Read(TestConfig.Build(), launch);

        var arguments = StackEnvironment.ClaudeCodeBuildArguments(options, "2.1.329").ToDictionary();

        Assert.Equal("1234", arguments["USER_UID"]);
        Assert.Equal("5678", arguments["USER_GID"]);
    }

    public static TheoryData<string[], string[]> GatewayCases => new()
    {
        {
            [],
            [
                "Gateway__Upstream__Profile=ollama", "Gateway__Upstream__ConnectionName=ollama", "Gateway__StackToken=<StackToken>",
                "Gateway__Models__Default=llama3.1:8b", "Gateway__Models__Opus=llama3.1:8b", "Gateway__Models__Sonnet=llama3.1:8b",
                "Gateway__Models__Haiku=llama3.1:8b", "Gateway__Models__Fable=llama3.1:8b", "Gateway__ContextLength=65536",
                $"NO_PROXY={StackNoProxy}", $"no_proxy={StackNoProxy}",
            ]
        },
        {
            ["Model=qwen3:8b", "ModelMap:Fable=gemma3:27b", "ContextLength=98304", "UseHostOllama=true"],
            [
                "Gateway__Upstream__Profile=ollama", "Gateway__Upstream__ConnectionName=ollama", "Gateway__StackToken=<StackToken>",
                "Gateway__Models__Default=qwen3:8b", "Gateway__Models__Opus=qwen3:8b", "Gateway__Models__Sonnet=qwen3:8b",
                "Gateway__Models__Haiku=qwen3:8b", "Gateway__Models__Fable=gemma3:27b", "Gateway__ContextLength=98304",
                $"NO_PROXY={StackNoProxy}", $"no_proxy={StackNoProxy}",
            ]
        },
        {
            ["Provider=External", "External:Url=http://gpu-box:11434"],
            [
                "Gateway__Upstream__Profile=ollama", "Gateway__Upstream__Url=http://gpu-box:11434/", "Gateway__StackToken=<StackToken>",
                "Gateway__Models__Default=llama3.1:8b", "Gateway__Models__Opus=llama3.1:8b", "Gateway__Models__Sonnet=llama3.1:8b",
                "Gateway__Models__Haiku=llama3.1:8b", "Gateway__Models__Fable=llama3.1:8b", "Gateway__ContextLength=65536",
            ]
        },
        {
            ["Provider=External", "External:Kind=AnthropicCompatible", "External:Url=https://llm.internal/anthropic", "Model=gpt-oss:20b"],
            [
                "Gateway__Upstream__Profile=anthropic-compatible", "Gateway__Upstream__Url=https://llm.internal/anthropic", "Gateway__StackToken=<StackToken>",
                "Gateway__Models__Default=gpt-oss:20b", "Gateway__Models__Opus=gpt-oss:20b", "Gateway__Models__Sonnet=gpt-oss:20b",
                "Gateway__Models__Haiku=gpt-oss:20b", "Gateway__Models__Fable=gpt-oss:20b", "Gateway__ContextLength=65536",
            ]
        },
        {
            ["Provider=External", "External:Kind=AnthropicCompatible", "External:Url=http://gpu-box:8080", "External:UseApiKey=true"],
            [
                "Gateway__Upstream__Profile=anthropic-compatible", "Gateway__Upstream__Url=http://gpu-box:8080/", "Gateway__Upstream__ApiKey=<UpstreamApiKey>",
                "Gateway__StackToken=<StackToken>",
                "Gateway__Models__Default=llama3.1:8b", "Gateway__Models__Opus=llama3.1:8b", "Gateway__Models__Sonnet=llama3.1:8b",
                "Gateway__Models__Haiku=llama3.1:8b", "Gateway__Models__Fable=llama3.1:8b", "Gateway__ContextLength=65536",
            ]
        },
        {
            ["Provider=Anthropic"],
            ["Gateway__Upstream__Profile=anthropic", "Gateway__Upstream__ApiKey=<UpstreamApiKey>", "Gateway__StackToken=<StackToken>"]
        },
        {
            ["Provider=Anthropic", "ModelMap:Opus=claude-sonnet-4-5"],
            ["Gateway__Upstream__Profile=anthropic", "Gateway__Upstream__ApiKey=<UpstreamApiKey>", "Gateway__StackToken=<StackToken>", "Gateway__Models__Opus=claude-sonnet-4-5"]
        },
    };

    [Theory]
    [MemberData(nameof(GatewayCases))]
    public void Gateway_HasExactlyTheseVariables(string[] settings, string[] expected)
    {
        var entries = StackEnvironment.ForGateway(TestConfig.Read(settings));

        Assert.Equal(expected, entries.Select(e => e.ToString()));
    }

    [Theory]
    [InlineData(new[] { "KeepAlive=1h" }, new[] { "OLLAMA_CONTEXT_LENGTH=65536", "OLLAMA_KEEP_ALIVE=1h", "OLLAMA_NO_CLOUD=1" })]
    [InlineData(new[] { "ContextLength=131072" }, new[] { "OLLAMA_CONTEXT_LENGTH=131072", "OLLAMA_KEEP_ALIVE=30m", "OLLAMA_NO_CLOUD=1" })]
    [InlineData(new[] { "OllamaCloud=true" }, new[] { "OLLAMA_CONTEXT_LENGTH=65536", "OLLAMA_KEEP_ALIVE=30m" })]
    public void Ollama_GetsContextLengthKeepAliveAndCloudSwitch(string[] settings, string[] expected)
    {
        Assert.Equal(expected, StackEnvironment.ForOllama(TestConfig.Read(settings)).Select(e => e.ToString()));
    }

    [Theory]
    [InlineData(new string[0], new[] { "idle" })]
    [InlineData(new[] { "ClaudeCode:Mode=Task", "ClaudeCode:Prompt=go" }, new[] { "task" })]
    [InlineData(new[] { "ClaudeCode:Terminal=true" }, new[] { "claude" })]
    [InlineData(new[] { "ClaudeCode:Mode=Task", "ClaudeCode:Prompt=go", "ClaudeCode:Terminal=true" }, new[] { "task" })]
    public void ClaudeCodeArguments_SelectTheEntrypointMode(string[] settings, string[] expected)
    {
        var options = TestConfig.Read(settings);

        Assert.Equal(expected, StackEnvironment.ClaudeCodeArguments(options));

        // The AppHost gives the container the dashboard's terminal on the same condition.
        Assert.Equal(expected is ["claude"], options.ClaudeCode.InDashboardTerminal);
    }

    [Theory]
    [InlineData(new string[0], false)]
    [InlineData(new[] { "ClaudeCode:TrustWorkspace=true" }, true)]
    public void ClaudeCode_IsToldToTrustTheWorkspaceOnlyWhenAsked(string[] settings, bool trusted)
    {
        var variables = TestConfig.ByName(StackEnvironment.ForClaudeCode(TestConfig.Read(settings)));

        Assert.Equal(trusted, variables.TryGetValue("CLAUDESTACK_TRUST_WORKSPACE", out var value) && value.ToString() == "CLAUDESTACK_TRUST_WORKSPACE=1");
    }

    [Fact]
    public void ClaudeCodeConfigVolume_IsOnePerWorkspaceAndUser()
    {
        var volume = StackEnvironment.ClaudeCodeConfigVolume(TestConfig.Read());

        Assert.Matches("^claudestack-claude-code-config-[0-9a-f]{12}$", volume);
        Assert.Equal(volume, StackEnvironment.ClaudeCodeConfigVolume(TestConfig.Read()));
        Assert.NotEqual(volume, StackEnvironment.ClaudeCodeConfigVolume(TestConfig.Read("Workspace=/home/dev/other")));
        Assert.Equal(volume, StackEnvironment.ClaudeCodeConfigVolume(TestConfig.Read("Workspace=/home/dev/project/")));
        Assert.Equal(volume, StackEnvironment.ClaudeCodeConfigVolume(TestConfig.Read("Workspace=../project")));
        Assert.NotEqual(volume, StackEnvironment.ClaudeCodeConfigVolume(TestConfig.Read("ClaudeCode:UserId=1234", "ClaudeCode:GroupId=1234")));
        Assert.StartsWith("mine-config-", StackEnvironment.ClaudeCodeConfigVolume(TestConfig.Read("ClaudeCode:ContainerName=mine")), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new string[0], "docker exec -it claudestack-claude-code claude", "scripts/claude")]
    [InlineData(new[] { "ClaudeCode:ContainerName=mine" }, "docker exec -it mine claude", "CLAUDE_STACK_CONTAINER=mine scripts/claude")]
    public void AttachInstructions_NameTheContainer(string[] settings, string docker, string script)
    {
        var text = StackEnvironment.AttachInstructions(TestConfig.Read(settings));

        Assert.Contains(docker, text, StringComparison.Ordinal);
        Assert.Contains(script, text, StringComparison.Ordinal);
    }
}
