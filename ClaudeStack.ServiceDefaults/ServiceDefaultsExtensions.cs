using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;

// Same namespace as Aspire's ServiceDefaults template so that hosts get these extensions without a using.
namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Telemetry, health checks and health endpoints shared by every ClaudeStack service, in the shape of
/// Aspire's ServiceDefaults template but without OpenTelemetry.Extensions.Hosting or instrumentation packages:
/// .NET's built-in ActivitySources and Meters are subscribed to directly.
/// </summary>
public static class ServiceDefaultsExtensions
{
    /// <summary>Readiness: every health check must pass.</summary>
    public const string HealthEndpointPath = "/health";

    /// <summary>Liveness: only checks tagged <see cref="LiveTag"/> run.</summary>
    public const string AlivenessEndpointPath = "/alive";

    /// <summary>Tag that puts a health check into the liveness endpoint.</summary>
    public const string LiveTag = "live";

    /// <summary>Prefix of every ActivitySource and Meter the project's own code creates.</summary>
    public const string ProjectTelemetryPrefix = "ClaudeStack.";

    /// <summary>Configuration key (or environment variable) whose presence turns on OTLP export.</summary>
    public const string OtlpEndpointKey = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>The host's own setting for how long stopping may take (<see cref="HostOptions.ShutdownTimeout"/>).</summary>
    public const string ShutdownTimeoutKey = "shutdownTimeoutSeconds";

    /// <summary>
    /// How long stopping waits for calls in flight when <see cref="ShutdownTimeoutKey"/> is not set. <c>docker stop</c>
    /// and compose kill a container 10 s after SIGTERM; the host's default of 30 s would be cut off there, and the
    /// telemetry flush that follows the wait with it. This leaves that flush the rest of the 10 s.
    /// </summary>
    public static readonly TimeSpan DefaultShutdownTimeout = TimeSpan.FromSeconds(5);

    private const string SuppressServerSpanDataSwitch = "Microsoft.AspNetCore.Hosting.SuppressActivityOpenTelemetryData";

    internal static readonly string[] TracingSources =
    [
        "Microsoft.AspNetCore",
        "System.Net.Http",
        ProjectTelemetryPrefix + "*",
    ];

    internal static readonly string[] Meters =
    [
        "Microsoft.AspNetCore.Hosting",
        "Microsoft.AspNetCore.Server.Kestrel",
        "System.Net.Http",
        "System.Runtime",
        ProjectTelemetryPrefix + "*",
    ];

    /// <summary>Adds OpenTelemetry tracing, metrics and logging plus the default health checks.</summary>
    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder)
        where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);

        // A second call would register the OTLP exporter twice, which the exporter rejects at startup.
        if (builder.Services.Any(d => d.ServiceType == typeof(ServiceDefaultsMarker)))
        {
            return builder;
        }

        builder.Services.AddSingleton<ServiceDefaultsMarker>();
        if (builder.Configuration[ShutdownTimeoutKey] is null)
        {
            builder.Services.Configure<HostOptions>(options => options.ShutdownTimeout = DefaultShutdownTimeout);
        }

        builder.ConfigureOpenTelemetry();
        builder.AddDefaultHealthChecks();
        return builder;
    }

    /// <summary>
    /// Registers tracer, meter and logger providers in DI, created at startup and flushed and disposed at shutdown,
    /// when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is configured (otherwise nothing is recorded); the exporter itself reads the
    /// endpoint, protocol, headers and timeout from <see cref="IHostApplicationBuilder.Configuration"/>, and the
    /// resource reads <c>OTEL_SERVICE_NAME</c> and <c>OTEL_RESOURCE_ATTRIBUTES</c> from it too.
    /// </summary>
    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder)
        where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);

        // Touching Sdk runs its static constructor, which installs the W3C trace-context and baggage propagators.
        _ = Sdk.SuppressInstrumentation;

        // With nowhere to export to, recording spans, metrics and log records would be pure cost on every request.
        if (string.IsNullOrWhiteSpace(builder.Configuration[OtlpEndpointKey]))
        {
            return builder;
        }

        // With this switch off (the default from .NET 11 on) ASP.NET Core 10 gives its server span the request's
        // semantic-convention attributes itself, passed at creation rather than set one by one afterwards; the enricher
        // below adds the outcome. An application that set the switch either way keeps its choice.
        if (!AppContext.TryGetSwitch(SuppressServerSpanDataSwitch, out _))
        {
            AppContext.SetSwitch(SuppressServerSpanDataSwitch, false);
        }

        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });

        var applicationName = builder.Environment.ApplicationName;
        // One id for all three providers, so the dashboard sees one instance rather than three.
        var serviceInstanceId = Guid.NewGuid().ToString();

        var telemetry = new ServiceCollectionTelemetryBuilder(builder.Services)
            .ConfigureResource(resource => resource
                // Rebuilt so the application name is only a fallback: the environment detector comes last and
                // OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES (as Aspire injects them) win over it.
                .Clear()
                .AddService(applicationName, serviceInstanceId: serviceInstanceId)
                .AddTelemetrySdk()
                .AddEnvironmentVariableDetector())
            .WithTracing(tracing => tracing.AddSource(TracingSources))
            .WithMetrics(metrics => metrics.AddMeter(Meters));
        telemetry.UseOtlpExporter();
        // Every signal's exporter starts from these options: the trace exporter's batches of model calls with their
        // content can outgrow what the dashboard accepts in one request.
        var configuration = builder.Configuration;
        builder.Services.ConfigureAll<OtlpExporterOptions>(options => OtlpExportSizeLimiter.Install(options, configuration));

        // First in the list so the providers exist before any other hosted service starts emitting telemetry.
        builder.Services.Insert(0, ServiceDescriptor.Singleton<IHostedService, TelemetryLifetimeService>());
        builder.Services.AddSingleton<IStartupFilter, HttpServerSpanEnricher>();
        return builder;
    }

    /// <summary>Adds a trivial "self" check tagged <see cref="LiveTag"/> so <c>/alive</c> has something to run.</summary>
    public static TBuilder AddDefaultHealthChecks<TBuilder>(this TBuilder builder)
        where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);

        builder.Services.AddHealthChecks()
            .AddCheck("self", () => HealthCheckResult.Healthy(), [LiveTag]);
        return builder;
    }

    /// <summary>
    /// Maps <c>/health</c> (all checks) and <c>/alive</c> (checks tagged "live") in every environment, since the
    /// services also run under compose where container health checks probe them. Both answer in plain text and are
    /// left out of traces so probes do not drown the model calls in the dashboard.
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);

        app.MapHealthChecks(HealthEndpointPath).WithoutTracing();
        app.MapHealthChecks(AlivenessEndpointPath, new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(LiveTag),
        }).WithoutTracing();
        return app;
    }

    private static void WithoutTracing(this IEndpointConventionBuilder endpoint) =>
        endpoint.Add(builder =>
        {
            var next = builder.RequestDelegate;
            if (next is null)
            {
                return;
            }

            builder.RequestDelegate = context =>
            {
                // The server span is already started when routing picks the endpoint; un-recording it here makes
                // the SDK skip it on stop, and clears the sampled flag for anything it propagates.
                if (context.Features.Get<IHttpActivityFeature>()?.Activity is { } activity)
                {
                    activity.IsAllDataRequested = false;
                    activity.ActivityTraceFlags &= ~ActivityTraceFlags.Recorded;
                }

                return next(context);
            };
        });

    private sealed class ServiceDefaultsMarker;

    // The SDK's WithTracing/WithMetrics/WithLogging and the exporter's UseOtlpExporter only need the service
    // collection; this stands in for the builder type that OpenTelemetry.Extensions.Hosting would provide.
    private sealed class ServiceCollectionTelemetryBuilder(IServiceCollection services) : IOpenTelemetryBuilder
    {
        public IServiceCollection Services { get; } = services;
    }
}
