using ClaudeStack.Gateway;
using Microsoft.Extensions.Options;

WebApplication app;
try
{
    app = GatewayApplication.Build(args);
}
catch (Exception exception) when (exception is OptionsValidationException or InvalidOperationException)
{
    // A setting to fix, not a crash: one clear message and exit code 1 (an unhandled exception aborts, and may dump core).
    Console.Error.WriteLine($"ClaudeStack.Gateway cannot start: {exception.Message}");
    return 1;
}

app.Run();
return 0;
