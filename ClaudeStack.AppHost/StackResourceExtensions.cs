using Aspire.Hosting.Docker;
using Aspire.Hosting.Docker.Resources.ComposeNodes;
using Aspire.Hosting.Pipelines;
using ClaudeStack.Stack;
using Microsoft.Extensions.DependencyInjection;

namespace ClaudeStack.AppHost;

/// <summary>The run-time values the environment plans of <see cref="StackEnvironment"/> refer to.</summary>
internal sealed record StackReferences(
    IResourceBuilder<ParameterResource> StackToken,
    IResourceBuilder<ParameterResource>? UpstreamApiKey,
    EndpointReference? GatewayUrl = null);

/// <summary>The AppHost's building blocks; the decisions behind them live in ClaudeStack.Stack.</summary>
internal static class StackResourceExtensions
{
    /// <summary>Reads and validates the <c>ClaudeStack</c> section; the exception lists every key to change.</summary>
    public static StackOptions ReadStackOptions(this IDistributedApplicationBuilder builder) =>
        StackOptionsReader.Read(builder.Configuration, LaunchContext.FromProcess());

    /// <summary>
    /// Adds the stack token: a secret parameter with a generated default, kept in the AppHost's user
    /// secrets so it survives restarts. Override with <c>Parameters:stack-token</c>.
    /// </summary>
    public static IResourceBuilder<ParameterResource> AddStackToken(this IDistributedApplicationBuilder builder) =>
        builder.AddParameter(
            StackConstants.Resources.StackTokenParameter,
            new GenerateParameterDefault { MinLength = 32, Special = false },
            secret: true,
            persist: true);

    /// <summary>Adds the upstream API key (<c>Parameters:upstream-api-key</c>) when the provider needs one; it is given only to the gateway.</summary>
    public static IResourceBuilder<ParameterResource>? AddUpstreamApiKey(this IDistributedApplicationBuilder builder, StackOptions stack) =>
        stack.NeedsUpstreamApiKey
            ? builder.AddParameter(StackConstants.Resources.UpstreamApiKeyParameter, secret: true)
            : null;

    /// <summary>
    /// Adds Ollama when the provider is Ollama: the pinned container with its data volume, GPU access
    /// and the context length / keep-alive environment, or with <c>UseHostOllama</c> (run only) an <c>ollama serve</c>
    /// of the host's Ollama installation, on a port of its own. Returns <c>null</c> for the other providers.
    /// </summary>
    public static IResourceBuilder<IOllamaResource>? AddStackOllama(this IDistributedApplicationBuilder builder, StackOptions stack)
    {
        if (stack.Provider != ModelProvider.Ollama)
        {
            return null;
        }

        // A published stack runs on machines that need not have Ollama installed: it always gets the container.
        if (stack.UseHostOllama && builder.ExecutionContext.IsRunMode)
        {
            // Next to, not instead of, an Ollama app already serving on 11434: the models directory is shared, and
            // this server gets the stack's context length and keep-alive.
            return builder.AddOllamaLocal(StackConstants.Resources.Ollama, targetPort: StackConstants.Endpoints.HostOllamaPort)
                .WithStackEnvironment(StackEnvironment.ForOllama(stack));
        }

        // The tag is pinned before WithGPUSupport, which appends "-rocm" for AMD.
        var ollama = builder.AddOllama(StackConstants.Resources.Ollama)
            .WithImageTag(StackConstants.OllamaImage.Tag)
            .WithDataVolume()
            .WithStackEnvironment(StackEnvironment.ForOllama(stack));

        return stack.Gpu switch
        {
            GpuVendor.Nvidia => ollama.WithGPUSupport(OllamaGpuVendor.Nvidia),
            GpuVendor.Amd => ollama.WithGPUSupport(OllamaGpuVendor.AMD),
            _ => ollama,
        };
    }

    /// <summary>Adds one model resource per model to pull (main model first), so the dashboard shows each pull's progress.</summary>
    public static IReadOnlyList<IResourceBuilder<OllamaModelResource>> AddStackModels(this IResourceBuilder<IOllamaResource>? ollama, StackOptions stack) =>
        ollama is null
            ? []
            : ModelResourceNames.ForAll(stack.ModelsToPull).Select(m => ollama.AddModel(m.ResourceName, m.Model)).ToArray();

    /// <summary>Adds the external model server as a dashboard resource (its URL reaches the gateway as <c>Gateway__Upstream__Url</c>).</summary>
    public static IResourceBuilder<ExternalServiceResource>? AddStackExternalServer(this IDistributedApplicationBuilder builder, StackOptions stack) =>
        stack.External is { } external
            ? builder.AddExternalService(StackConstants.Resources.ExternalModelServer, external.Url)
            : null;

    /// <summary>
    /// Adds the gateway with its own HTTP endpoint (no launch profile, so the endpoint does not depend on the
    /// gateway's launchSettings and stays plain HTTP, reachable from the Claude Code container without a certificate).
    /// Healthy once <c>/alive</c> answers, so whatever waits for it starts when it listens, not when its process starts.
    /// Published, it listens on a fixed port (<see cref="StackConstants.Endpoints.PublishedGatewayPort"/>).
    /// </summary>
    public static IResourceBuilder<ProjectResource> AddModelGateway(this IDistributedApplicationBuilder builder) =>
        builder.AddProject<Projects.ClaudeStack_Gateway>(StackConstants.Resources.Gateway, launchProfileName: null)
            .WithHttpEndpoint(
                targetPort: builder.ExecutionContext.IsPublishMode ? StackConstants.Endpoints.PublishedGatewayPort : null,
                name: StackConstants.Endpoints.Http)
            .WithHttpHealthCheck(StackConstants.Endpoints.GatewayAlivePath, endpointName: StackConstants.Endpoints.Http);

    /// <summary>
    /// Points the gateway at its upstream: Ollama by reference (ConnectionStrings__ollama), waiting for every model
    /// Claude Code calls (extras may still be downloading); an external server as a relationship.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithModelUpstream(
        this IResourceBuilder<ProjectResource> gateway,
        StackOptions stack,
        IResourceBuilder<IOllamaResource>? ollama,
        IReadOnlyList<IResourceBuilder<OllamaModelResource>> models,
        IResourceBuilder<ExternalServiceResource>? externalServer)
    {
        if (ollama is not null)
        {
            // Waiting for a model waits for its Ollama too.
            gateway.WithReference(ollama);
            var inUse = models.Where(m => stack.ModelsInUse.Contains(m.Resource.ModelName, StringComparer.Ordinal)).ToArray();
            if (inUse.Length == 0)
            {
                gateway.WaitFor(ollama);
            }

            foreach (var model in inUse)
            {
                gateway.WaitFor(model);
            }
        }

        if (externalServer is not null)
        {
            gateway.WithReferenceRelationship(externalServer);
        }

        return gateway;
    }

    /// <summary>
    /// Adds the Claude Code container: built from containers/claude-code with the pinned version and the
    /// host user's uid/gid (so files written into the workspace belong to that user), the workspace at
    /// /workspace, its state (settings, sessions to resume) in a volume of the workspace's own, a fixed container
    /// name, and the entrypoint mode as argument.
    /// </summary>
    public static IResourceBuilder<ContainerResource> AddClaudeCode(this IDistributedApplicationBuilder builder, StackOptions stack)
    {
        var versionFile = Path.GetFullPath(Path.Combine(builder.AppHostDirectory, StackConstants.Paths.ClaudeCodeContext, StackConstants.Paths.ClaudeCodeVersionFile));

        var claudeCode = builder.AddDockerfile(StackConstants.Resources.ClaudeCode, StackConstants.Paths.ClaudeCodeContext);
        foreach (var (name, value) in StackEnvironment.ClaudeCodeBuildArguments(stack, ClaudeCodeVersion.Read(versionFile)))
        {
            claudeCode.WithBuildArg(name, value);
        }

        return claudeCode
            .WithBindMount(stack.Workspace, StackConstants.Paths.ContainerWorkspace)
            .WithVolume(StackEnvironment.ClaudeCodeConfigVolume(stack), StackConstants.Paths.ContainerClaudeConfig)
            .WithContainerName(stack.ClaudeCode.ContainerName)
            .WithArgs(StackEnvironment.ClaudeCodeArguments(stack).ToArray());
    }

    /// <summary>Applies an environment plan from ClaudeStack.Stack, resolving its references to Aspire values.</summary>
    public static IResourceBuilder<T> WithStackEnvironment<T>(this IResourceBuilder<T> builder, IEnumerable<EnvironmentEntry> entries, StackReferences? references = null)
        where T : IResourceWithEnvironment
    {
        foreach (var entry in entries)
        {
            _ = entry.Reference switch
            {
                null => builder.WithEnvironment(entry.Name, entry.Literal),
                StackReference.GatewayUrl => builder.WithEnvironment(entry.Name, Require(references?.GatewayUrl, entry)),
                StackReference.StackToken => builder.WithEnvironment(entry.Name, Require(references?.StackToken, entry)),
                StackReference.UpstreamApiKey => builder.WithEnvironment(entry.Name, Require(references?.UpstreamApiKey, entry)),
                _ => throw new InvalidOperationException($"Unknown reference {entry.Reference} for {entry.Name}."),
            };
        }

        return builder;
    }

    /// <summary>Adds a dashboard command on the idle container that shows how to attach to Claude Code.</summary>
    public static IResourceBuilder<ContainerResource> WithAttachCommand(this IResourceBuilder<ContainerResource> claudeCode, StackOptions stack)
    {
        if (stack.ClaudeCode.Mode != ClaudeCodeMode.Idle)
        {
            return claudeCode;
        }

        var instructions = StackEnvironment.AttachInstructions(stack);
        return claudeCode.WithCommand(
            StackConstants.Commands.ShowAttach,
            StackConstants.Commands.ShowAttachDisplayName,
            _ => Task.FromResult(CommandResults.Success("Attach to Claude Code from a terminal on this machine", instructions, CommandResultFormat.Text)),
            new CommandOptions
            {
                Description = instructions,
                IconName = StackConstants.Commands.ShowAttachIcon,
                IsHighlighted = true,
                UpdateState = context => context.ResourceSnapshot.State?.Text == KnownResourceStates.Running
                    ? ResourceCommandState.Enabled
                    : ResourceCommandState.Disabled,
            });
    }

    /// <summary>Opt-in interactive terminal in the dashboard (experimental in Aspire 13.5), for the idle container only.</summary>
    public static IResourceBuilder<ContainerResource> WithOptionalTerminal(this IResourceBuilder<ContainerResource> claudeCode, StackOptions stack)
    {
        if (!stack.ClaudeCode.InDashboardTerminal)
        {
            return claudeCode;
        }

#pragma warning disable ASPIRETERMINAL001 // WithTerminal is experimental in Aspire 13.5; used only when ClaudeStack:ClaudeCode:Terminal is true.
        return claudeCode.WithTerminal();
#pragma warning restore ASPIRETERMINAL001
    }

    /// <summary>Publishes Claude Code with a TTY and open stdin, so <c>docker compose exec</c>/<c>attach</c> get an interactive session.</summary>
    public static IResourceBuilder<ContainerResource> PublishWithTty(this IResourceBuilder<ContainerResource> claudeCode) =>
        claudeCode.PublishAsDockerComposeService((_, service) =>
        {
            service.Tty = true;
            service.StdinOpen = true;
        });

    /// <summary>
    /// Carries GPU access into the compose file, where <c>WithGPUSupport</c>'s runtime arguments do not
    /// go: AMD as <c>devices</c> on the service, NVIDIA as a <c>deploy.resources.reservations.devices</c>
    /// entry written by a pipeline step after the compose file is published (Aspire 13.5's compose
    /// model has no type for device reservations).
    /// </summary>
    public static IResourceBuilder<IOllamaResource>? PublishWithGpuAccess(this IResourceBuilder<IOllamaResource>? ollama, StackOptions stack)
    {
        if (ollama?.Resource is not OllamaResource container)
        {
            return ollama;
        }

        var access = ComposeGpuAccess.For(stack.Gpu);
        ollama.ApplicationBuilder.CreateResourceBuilder(container)
            .PublishAsDockerComposeService((_, service) => AddDevices(service, access));

        if (access.Reservation is { } reservation)
        {
            ollama.ApplicationBuilder.AddComposeDeviceReservation(container.Name, reservation);
        }

        return ollama;
    }

    private static void AddDevices(Service service, ComposeGpuAccess access) => service.Devices.AddRange(access.Devices);

#pragma warning disable ASPIREPIPELINES001 // The pipeline API is experimental in Aspire 13.5.
#pragma warning disable ASPIREPIPELINES004 // IPipelineOutputService is experimental in Aspire 13.5.
    private static void AddComposeDeviceReservation(this IDistributedApplicationBuilder builder, string serviceName, ComposeDeviceReservation reservation)
    {
        var publishStep = $"publish-{StackConstants.Resources.ComposeEnvironment}";
        builder.Pipeline.AddStep(
            $"gpu-reservation-{serviceName}",
            async context =>
            {
                var outputDirectory = context.Services.GetRequiredService<IPipelineOutputService>().GetOutputDirectory();
                var composeFile = Path.Combine(outputDirectory, StackConstants.Paths.ComposeFile);
                var yaml = await File.ReadAllTextAsync(composeFile, context.CancellationToken).ConfigureAwait(false);
                var patched = ComposeFilePatcher.AddDeviceReservation(yaml, serviceName, reservation);
                await File.WriteAllTextAsync(composeFile, patched, context.CancellationToken).ConfigureAwait(false);
            },
            dependsOn: publishStep,
            requiredBy: WellKnownPipelineSteps.Publish);
    }
#pragma warning restore ASPIREPIPELINES004
#pragma warning restore ASPIREPIPELINES001

    private static TValue Require<TValue>(TValue? value, EnvironmentEntry entry)
        where TValue : class =>
        value ?? throw new InvalidOperationException($"{entry.Name} needs {entry.Reference}, which this resource was not given.");
}
