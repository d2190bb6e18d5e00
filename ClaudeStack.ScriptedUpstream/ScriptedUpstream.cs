using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ClaudeStack.ScriptedUpstream;

/// <summary>
/// A model server on real Kestrel (127.0.0.1) whose answers a test scripts. It stands in for Ollama,
/// the Anthropic API or any Anthropic-compatible server; it records every request it receives.
/// </summary>
public sealed class ScriptedUpstream : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<UpstreamRequest> _requests = new();

    private ScriptedUpstream(WebApplication app) => _app = app;

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>Every request received, in arrival order.</summary>
    public IReadOnlyList<UpstreamRequest> Requests => [.. _requests];

    /// <summary>Requests to the Messages API only (not Ollama's /api/* or probes).</summary>
    public IReadOnlyList<UpstreamRequest> MessageRequests => [.. _requests.Where(r => r.Path.EndsWith("/v1/messages", StringComparison.Ordinal))];

    public static Task<ScriptedUpstream> StartAsync(Func<UpstreamRequest, ScriptedReply> script, CancellationToken cancellationToken) =>
        StartAsync(new ScriptedUpstreamOptions { Script = script }, cancellationToken);

    public static async Task<ScriptedUpstream> StartAsync(ScriptedUpstreamOptions options, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls(options.Url);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = null;

            // Lets a script send the non-ASCII header values some proxies add, which Kestrel refuses by default.
            kestrel.ResponseHeaderEncodingSelector = _ => System.Text.Encoding.UTF8;
        });
        var app = builder.Build();
        var upstream = new ScriptedUpstream(app);
        app.Run(context => upstream.HandleAsync(context, options));
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        upstream.BaseAddress = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
        return upstream;
    }

    private async Task HandleAsync(HttpContext context, ScriptedUpstreamOptions options)
    {
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body, context.RequestAborted);
        var request = new UpstreamRequest
        {
            Method = context.Request.Method,
            PathAndQuery = context.Request.Path + context.Request.QueryString,
            Headers = context.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString()),
            Body = body.ToArray(),
        };
        if (options.RecordRequests)
        {
            _requests.Enqueue(request);
        }

        using var aborted = context.RequestAborted.Register(request.MarkAborted);
        try
        {
            // Without the emulation this is not an Ollama server: its native API does not exist.
            var reply = options.Ollama?.TryAnswer(request)
                ?? (request.Path.StartsWith("/api/", StringComparison.Ordinal) ? ScriptedReply.Status(404, "404 page not found", "text/plain") : options.Script(request));
            await reply.WriteAsync(context, request, options.Ollama is null ? MessageWire.Anthropic : MessageWire.Ollama, context.RequestAborted);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; that is what some scripts wait for.
        }
        finally
        {
            // A script awaiting on the token can resume on the cancelling thread and dispose the registration above
            // before its callback's turn comes; the abort is then recorded here.
            if (context.RequestAborted.IsCancellationRequested)
            {
                request.MarkAborted();
            }
        }
    }

    /// <summary>Completes once the server has stopped: on Ctrl+C or SIGTERM, or when stopped in code.</summary>
    public Task WaitForShutdownAsync() => _app.WaitForShutdownAsync();

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(timeout.Token);
        await _app.DisposeAsync();
    }
}

public sealed class ScriptedUpstreamOptions
{
    /// <summary>Where to listen; port 0 picks a free port.</summary>
    public string Url { get; init; } = "http://127.0.0.1:0";

    /// <summary>Answers the Messages API (and anything the Ollama emulation does not answer).</summary>
    public required Func<UpstreamRequest, ScriptedReply> Script { get; init; }

    /// <summary>
    /// When set, the upstream also behaves like Ollama's native API and Host check, and writes scripted messages the way
    /// Ollama writes them (<see cref="MessageWire.Ollama"/>).
    /// </summary>
    public OllamaEmulation? Ollama { get; init; }

    /// <summary>
    /// Keep every request for <see cref="ScriptedUpstream.Requests"/>. A stand-alone process has no reader for
    /// them, and under sustained load they would grow its heap, and its GC work, without bound.
    /// </summary>
    public bool RecordRequests { get; init; } = true;
}
