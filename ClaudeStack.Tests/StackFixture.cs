using System.Diagnostics;
using ClaudeStack.Stack;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClaudeStack.Tests;

/// <summary>Creates the AppHost's model with settings, and reads resources, annotations and environments from it.</summary>
internal static class StackFixture
{
    /// <summary>Every wait in these tests is bounded.</summary>
    public static readonly TimeSpan ModelTimeout = TimeSpan.FromMinutes(2);

    public const string TestToken = "test-stack-token";
    public const string TestApiKey = "test-upstream-api-key";

    /// <summary>
    /// The AppHost with <paramref name="settings"/> (relative to <c>ClaudeStack</c>), a fixed workspace and
    /// fixed secrets, so nothing is generated into user secrets.
    /// </summary>
    public static Task<IDistributedApplicationTestingBuilder> CreateAsync(params string[] settings) =>
        CreateWithArgsAsync([.. settings.Select(s => $"{StackConstants.ConfigurationSection}:{s}")]);

    public static async Task<IDistributedApplicationTestingBuilder> CreateWithArgsAsync(string[] args)
    {
        using var cts = new CancellationTokenSource(ModelTimeout);
        string[] defaults =
        [
            $"{StackConstants.ConfigurationSection}:Workspace={Path.GetTempPath()}",
            $"Parameters:{StackConstants.Resources.StackTokenParameter}={TestToken}",
            $"Parameters:{StackConstants.Resources.UpstreamApiKeyParameter}={TestApiKey}",
        ];
        return await DistributedApplicationTestingBuilder.CreateAsync<Projects.ClaudeStack_AppHost>([.. defaults, .. args], cts.Token);
    }

    public static T Resource<T>(this IDistributedApplicationTestingBuilder builder, string name)
        where T : IResource =>
        Assert.IsType<T>(Assert.Single(builder.Resources, r => r.Name == name), exactMatch: false);

    /// <summary>
    /// Runs the resource's environment callbacks in run mode and returns the unprocessed values: strings for
    /// literals, <see cref="EndpointReference"/>, <see cref="ParameterResource"/>, connection string references.
    /// No endpoint has to be allocated and no container engine is asked.
    /// </summary>
    public static async Task<Dictionary<string, object>> UnresolvedEnvironmentAsync(IResource resource, IServiceProvider services)
    {
        var executionContext = new DistributedApplicationExecutionContext(
            new DistributedApplicationExecutionContextOptions(DistributedApplicationOperation.Run) { Services = services });
        var context = new EnvironmentCallbackContext(executionContext, resource);
        Assert.True(resource.TryGetEnvironmentVariables(out var callbacks));
        foreach (var callback in callbacks!)
        {
            await callback.Callback(context);
        }

        return context.EnvironmentVariables;
    }

    /// <summary>Resolves the resource's environment to strings, as DCP would receive it (endpoints must be allocated first).</summary>
    public static async Task<Dictionary<string, string>> ResolvedEnvironmentAsync(IResource resource, IServiceProvider services)
    {
        using var cts = new CancellationTokenSource(ModelTimeout);
        var executionContext = new DistributedApplicationExecutionContext(
            new DistributedApplicationExecutionContextOptions(DistributedApplicationOperation.Run) { Services = services });
        var configuration = await ExecutionConfigurationBuilder.Create(resource)
            .WithEnvironmentVariablesConfig()
            .BuildAsync(executionContext, NullLogger.Instance, cts.Token);
        Assert.Null(configuration.Exception);
        return configuration.EnvironmentVariables.ToDictionary();
    }

    /// <summary>Gives an endpoint an address, as DCP would at start.</summary>
    public static void Allocate(IResourceWithEndpoints resource, string endpointName, string address, int port, NetworkIdentifier network)
    {
        var annotation = resource.Annotations.OfType<EndpointAnnotation>().Single(e => e.Name == endpointName);
        // Proxied endpoints have no fixed target port; DCP gives an expression for it (ASPNETCORE_URLS uses it).
        var targetPort = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        annotation.AllAllocatedEndpoints.AddOrUpdateAllocatedEndpoint(network, new AllocatedEndpoint(annotation, address, port, EndpointBindingMode.SingleAddress, targetPortExpression: targetPort, networkId: network));
    }

    /// <summary>The container runtime arguments (e.g. <c>--gpus all</c>) the resource's callbacks add.</summary>
    public static async Task<IReadOnlyList<string>> ContainerRuntimeArgumentsAsync(IResource resource)
    {
        var args = new List<object>();
        var context = new ContainerRuntimeArgsCallbackContext(args);
        foreach (var callback in resource.Annotations.OfType<ContainerRuntimeArgsCallbackAnnotation>())
        {
            await callback.Callback(context);
        }

        return args.Select(a => a.ToString()!).ToArray();
    }

    /// <summary>The container arguments the resource's callbacks add.</summary>
    public static async Task<IReadOnlyList<string>> ArgumentsAsync(IResource resource)
    {
        var args = new List<object>();
        var context = new CommandLineArgsCallbackContext(args, resource);
        foreach (var callback in resource.Annotations.OfType<CommandLineArgsCallbackAnnotation>())
        {
            await callback.Callback(context);
        }

        return args.Select(a => a.ToString()!).ToArray();
    }
}

/// <summary>Whether a Docker engine answers (<c>docker info</c> within 20 seconds).</summary>
internal static class DockerEngine
{
    public const string SkipReason = "requires a running Docker engine ('docker info' failed or timed out)";

    private static readonly Lazy<bool> Available = new(() =>
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo("docker", "info") { RedirectStandardOutput = true, RedirectStandardError = true });
            if (process is null)
            {
                return false;
            }

            if (!process.WaitForExit(TimeSpan.FromSeconds(20)))
            {
                process.Kill(entireProcessTree: true);
                return false;
            }

            return process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    });

    public static bool IsAvailable => Available.Value;
}
