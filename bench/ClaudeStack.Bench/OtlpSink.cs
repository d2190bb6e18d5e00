using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace ClaudeStack.Bench;

/// <summary>
/// A loopback OTLP/HTTP endpoint that accepts and discards exports, so "telemetry on" pays for the real
/// serialization and export rather than for an exporter that fails to connect. It runs as a process of its own
/// (the bench started with <see cref="Option"/>), standing in for the dashboard: its CPU is measured apart, not
/// billed to the client, and it does not share the client's thread pool.
/// </summary>
public static class OtlpSink
{
    /// <summary>The bench's command line for a sink: <c>--otlp-sink URL</c>.</summary>
    public const string Option = "--otlp-sink";

    /// <summary>Answers <c>requests bytes</c> received so far.</summary>
    public const string StatsPath = "/stats";

    /// <summary>Serves until the process is stopped (SIGTERM, Ctrl+C).</summary>
    public static async Task RunAsync(string url)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls(url);
        var app = builder.Build();
        long requests = 0;
        long bytes = 0;
        app.MapGet(StatsPath, () => string.Create(CultureInfo.InvariantCulture, $"{Interlocked.Read(ref requests)} {Interlocked.Read(ref bytes)}"));
        app.MapGet("/", () => Results.Ok());
        app.MapPost("/{**path}", async context =>
        {
            var buffer = new byte[16 * 1024];
            int read;
            while ((read = await context.Request.Body.ReadAsync(buffer, context.RequestAborted)) > 0)
            {
                Interlocked.Add(ref bytes, read);
            }

            Interlocked.Increment(ref requests);
            context.Response.StatusCode = StatusCodes.Status200OK;
            context.Response.ContentType = "application/x-protobuf";
            context.Response.ContentLength = 0;
        });
        await app.RunAsync();
    }

    /// <summary>What a running sink has received: export requests and bytes.</summary>
    public static async Task<(long Requests, long Bytes)> StatsAsync(Uri sink, CancellationToken cancellationToken)
    {
        using var client = new HttpClient { BaseAddress = sink };
        var parts = (await client.GetStringAsync(StatsPath, cancellationToken)).Split(' ');
        return (long.Parse(parts[0], CultureInfo.InvariantCulture), long.Parse(parts[1], CultureInfo.InvariantCulture));
    }
}
