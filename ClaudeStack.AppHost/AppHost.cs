using ClaudeStack.AppHost;
using ClaudeStack.Stack;

// The stack, top-down: model server → model-gateway → claude-code.
// Every decision (validation, environments, model map, GPU access) lives in ClaudeStack.Stack.
var builder = DistributedApplication.CreateBuilder(args);
var stack = builder.ReadStackOptions();

// Secrets: the stack token (generated) and, for Anthropic, the API key (only the gateway gets it)
var stackToken = builder.AddStackToken();
var upstreamApiKey = builder.AddUpstreamApiKey(stack);

// Infrastructure: Ollama and its models (Provider Ollama), or the external model server (Provider External)
var ollama = builder.AddStackOllama(stack);
var models = ollama.AddStackModels(stack);
var externalServer = builder.AddStackExternalServer(stack);

// Gateway: the only way to the models; traces every call
var gateway = builder.AddModelGateway()
    .WithModelUpstream(stack, ollama, models, externalServer)
    .WithStackEnvironment(StackEnvironment.ForGateway(stack), new StackReferences(stackToken, upstreamApiKey));

// Claude Code: talks only to the gateway, with the stack token; its telemetry goes to the dashboard
var claudeCode = builder.AddClaudeCode(stack)
    .WaitFor(gateway)
    .WithStackEnvironment(StackEnvironment.ForClaudeCode(stack), new StackReferences(stackToken, null, gateway.GetEndpoint(StackConstants.Endpoints.Http)))
    .WithOtlpExporter();

// Run only: dashboard helpers for the interactive container
if (builder.ExecutionContext.IsRunMode)
{
    claudeCode.WithAttachCommand(stack)
        .WithOptionalTerminal(stack);
}

// Publish only: a Docker Compose file, with the GPU reservation for Ollama and a TTY for Claude Code
if (builder.ExecutionContext.IsPublishMode)
{
    builder.AddDockerComposeEnvironment(StackConstants.Resources.ComposeEnvironment);
    ollama.PublishWithGpuAccess(stack);
    claudeCode.PublishWithTty();
}

builder.Build().Run();
