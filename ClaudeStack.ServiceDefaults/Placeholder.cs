namespace ClaudeStack.ServiceDefaults; public static class Placeholder { }
