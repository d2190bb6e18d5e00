using ClaudeStack.Gateway;

GatewayApplication.Build(args).Run();
