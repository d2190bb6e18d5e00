namespace ClaudeStack.Gateway.Tests.Support;

/// <summary>
/// Requests captured from Claude Code 2.1.329 (paths, ids and dates replaced): the main streamed request
/// (12 tools, a mid-conversation system message, adaptive thinking), the title request with output_config.format,
/// and a follow-up carrying a tool_result.
/// </summary>
public static class Fixtures
{
    public static string MainRequest => Read("main-request.json");

    public static string TitleRequest => Read("title-request.json");

    public static string ToolResultRequest => Read("tool-result-request.json");

    private static string Read(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", name));
}
