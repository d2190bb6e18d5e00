using System.Net.Http.Headers;
using ClaudeStack.Gateway;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ClaudeStack.Gateway.Tests.Support;

/// <summary>The real gateway on Kestrel (127.0.0.1, a free port), configured for one test.</summary>
public sealed class GatewayHost : IAsyncDisposable
{
    public const string StackToken = "stack-token-for-tests-0123456789";

    /// <summary>Settings for a gateway in front of the Anthropic API (the profile needs a key).</summary>
    public static Dictionary<string, string?> AnthropicProfile() =>
        new() { ["Gateway:Upstream:Profile"] = "anthropic", ["Gateway:Upstream:ApiKey"] = "sk-ant-test-0123456789" };

    private readonly WebApplication _app;

    private GatewayHost(WebApplication app, Uri baseAddress, string? token)
    {
        _app = app;
        BaseAddress = baseAddress;
        Client = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60) };
        if (token is not null)
        {
            Client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
    }

    public Uri BaseAddress { get; }

    /// <summary>A client that presents the stack token.</summary>
    public HttpClient Client { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>Starts the gateway in front of <paramref name="upstream"/> with the <c>ollama</c> profile unless settings say otherwise.</summary>
    /// <param name="listenHost">The address to bind: loopback, or the host end of a network a test made.</param>
    public static async Task<GatewayHost> StartAsync(Uri upstream, IDictionary<string, string?>? settings = null, CancellationToken cancellationToken = default, string listenHost = "127.0.0.1")
    {
        var configuration = new Dictionary<string, string?>
        {
            ["Gateway:Upstream:Profile"] = "ollama",
            ["Gateway:Upstream:Url"] = upstream.ToString(),
            ["Gateway:StackToken"] = StackToken,
            ["Gateway:Models:Default"] = "llama3.1:8b",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            configuration[key] = value;
        }

        var app = GatewayApplication.Build([], builder =>
        {
            builder.Configuration.AddInMemoryCollection(configuration);
            builder.WebHost.UseUrls($"http://{listenHost}:0");
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
        });
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        await app.StartAsync(timeout.Token);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new GatewayHost(app, new Uri(address), string.IsNullOrEmpty(configuration["Gateway:StackToken"]) ? null : configuration["Gateway:StackToken"]);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await _app.StopAsync(timeout.Token);
        await _app.DisposeAsync();
    }
}
