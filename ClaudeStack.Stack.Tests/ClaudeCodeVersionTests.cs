namespace ClaudeStack.Stack.Tests;

public class ClaudeCodeVersionTests
{
    [Fact]
    public void RepositoryVersionFile_IsTheBuildsVersion()
    {
        var file = Path.Combine(TestConfig.RepositoryRoot, "containers", "claude-code", StackConstants.Paths.ClaudeCodeVersionFile);

        Assert.Equal(TestConfig.ClaudeCodeVersion, ClaudeCodeVersion.Read(file));
    }

    [Theory]
    [InlineData("2.1.329\n", "2.1.329")]
    [InlineData("  2.1.0 \r\n", "2.1.0")]
    [InlineData("2.2.0-beta.1", "2.2.0-beta.1")]
    public void Content_IsTrimmed(string content, string expected)
    {
        Assert.Equal(expected, ClaudeCodeVersion.Parse(content, "claude-code.version"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("latest")]
    [InlineData("2.1")]
    [InlineData("2.1.0 2.1.1")]
    public void InvalidContent_NamesTheFile(string content)
    {
        var exception = Assert.Throws<StackConfigurationException>(() => ClaudeCodeVersion.Parse(content, "claude-code.version"));

        Assert.Equal([$"The Claude Code version file 'claude-code.version' contains '{content.Trim()}'; it must hold one pinned version such as 2.1.0 (not 'latest')."], exception.Errors);
    }

    [Fact]
    public void MissingFile_NamesTheFile()
    {
        var path = Path.Combine(Path.GetTempPath(), Guid.NewGuid().ToString("N"), "claude-code.version");

        var exception = Assert.Throws<StackConfigurationException>(() => ClaudeCodeVersion.Read(path));

        Assert.Equal([$"The Claude Code version file '{path}' does not exist; it must contain the pinned version, e.g. 2.1.0."], exception.Errors);
    }
}
