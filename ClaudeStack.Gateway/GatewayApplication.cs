using ClaudeStack.Gateway.Adaptation;
using ClaudeStack.Gateway.Api;
using ClaudeStack.Gateway.Configuration;
using ClaudeStack.Gateway.Forwarding;
using ClaudeStack.Gateway.Guards;
using ClaudeStack.Gateway.Routing;
using ClaudeStack.Gateway.Telemetry;
using ClaudeStack.Gateway.Tokens;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.Extensions.Options;

namespace ClaudeStack.Gateway;

/// <summary>Builds the gateway application; Program.cs, the tests and the benchmark all start it this way.</summary>
public static class GatewayApplication
{
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        // The slim builder leaves out what a loopback HTTP proxy never uses (IIS, HTTPS certificate loading, regex
        // route constraints, extra log providers) and the memory those assemblies take.
        var builder = WebApplication.CreateSlimBuilder(args);
        configure?.Invoke(builder);

        builder.AddServiceDefaults();
        builder.AddGateway();

        var app = builder.Build();
        if (app.Services.GetRequiredService<UpstreamEndpoint>().ApiKey is { Length: < SecretRedactor.MinimumLength })
        {
            Log.SecretTooShortToMask(app.Logger, "Gateway:Upstream:ApiKey", SecretRedactor.MinimumLength);
        }

        app.UseServerSpanRedaction();
        app.UseGatewayErrors();
        var pathBase = app.Services.GetRequiredService<IOptions<GatewayOptions>>().Value.PathBase;
        if (!string.IsNullOrWhiteSpace(pathBase))
        {
            app.UsePathBase(pathBase);
        }

        // Routing runs after the path base is stripped.
        app.UseRouting();

        app.MapDefaultEndpoints();
        app.MapMessagesApi();
        return app;
    }

    /// <summary>Registers the gateway's services; fails start-up with a message naming the setting to fix.</summary>
    public static WebApplicationBuilder AddGateway(this WebApplicationBuilder builder)
    {
        var options = GatewayOptions.Read(builder.Configuration.GetSection(GatewayOptions.SectionName));
        var (upstream, error) = UpstreamEndpoint.Resolve(options.Upstream, builder.Configuration);
        var problems = options.Problems().ToList();
        if (upstream is null)
        {
            problems.Insert(0, error!);
        }

        if (upstream is null || problems.Count > 0)
        {
            throw new OptionsValidationException(GatewayOptions.SectionName, typeof(GatewayOptions), problems);
        }

        // Bound once: what start-up validated is what the handlers use.
        builder.Services.AddSingleton(Options.Create(options));
        builder.Services.AddSingleton(upstream);
        builder.Services.AddSingleton(GatewayFeatures.From(builder.Configuration, upstream.Profile));
        builder.Services.AddSingleton(new ModelRouter(options.Models, upstream.Profile.MapsClaudeNames()));
        builder.Services.AddSingleton(new StackTokenGuard(options.StackToken));
        builder.Services.AddSingleton(new BrowserOriginGuard(options.AllowedOrigins));
        builder.Services.AddSingleton(new SecretRedactor([options.StackToken, options.Upstream.ApiKey]));
        builder.Services.AddSingleton(new TokenCalibration(upstream.Profile == UpstreamProfile.Ollama ? OllamaModelFacts.SameModel : null));
        builder.Services.AddSingleton(services => new UpstreamForwarder(new HttpClient(UpstreamForwarder.CreateForwardingHandler(upstream)) { Timeout = Timeout.InfiniteTimeSpan }, upstream, services.GetRequiredService<SecretRedactor>()));
        builder.Services.AddSingleton(LocalModelOptions.From(builder.Configuration));
        builder.Services.AddSingleton<IncomingRequestReader>();
        builder.Services.AddSingleton<ModelCallHandler>();
        builder.Services.AddSingleton<CountTokensHandler>();
        if (upstream.Profile == UpstreamProfile.Ollama)
        {
            builder.Services.AddSingleton(services => new OllamaModelCatalog(
                new HttpClient(UpstreamForwarder.CreateHandler(upstream)) { Timeout = TimeSpan.FromSeconds(10) },
                upstream,
                services.GetRequiredService<LocalModelOptions>().Context.ContextLength,
                services.GetRequiredService<ILogger<OllamaModelCatalog>>(),
                services.GetRequiredService<SecretRedactor>()));
            builder.Services.AddHealthChecks().AddCheck<GpuOffloadHealthCheck>("model-gpu");
        }

        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes);
        return builder;
    }

    /// <summary>An unexpected exception still answers in Anthropic form (when nothing was sent yet), never a stack trace.</summary>
    private static void UseGatewayErrors(this WebApplication app) =>
        app.UseExceptionHandler(errorApp => errorApp.Run(async context =>
        {
            var exception = context.Features.Get<IExceptionHandlerFeature>()?.Error;
            var status = exception is BadHttpRequestException bad ? bad.StatusCode : StatusCodes.Status500InternalServerError;
            var error = AnthropicError.ForStatus(status, status == 500 ? "The gateway failed unexpectedly; see its log." : exception!.Message);
            await error.WriteAsync(context.Response, context.RequestAborted);
        }));
}
