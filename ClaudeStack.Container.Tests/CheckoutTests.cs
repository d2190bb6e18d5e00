using ClaudeStack.Container.Tests.Support;

namespace ClaudeStack.Container.Tests;

/// <summary>
/// A Windows checkout: Git for Windows converts text files to CRLF unless told otherwise, and a script whose first
/// line ends in "bash\r" names no interpreter. The repository says LF for its scripts, and the image copes regardless.
/// </summary>
public sealed class CheckoutTests(ClaudeCodeImage image)
{
    [Theory]
    [InlineData("containers/claude-code/entrypoint.sh")]
    [InlineData("containers/claude-code/install-ca-certificates.sh")]
    [InlineData("containers/claude-code/Dockerfile")]
    [InlineData("containers/claude-code/claude-code.version")]
    [InlineData("containers/test-base/build-node-base.sh")]
    [InlineData("scripts/claude")]
    [InlineData(".ci/run")]
    public async Task Scripts_AreCheckedOutWithLfOnEveryPlatform(string path)
    {
        var attribute = await ProcessRunner.RunAsync(
            "git", ["-C", ClaudeCodeImage.RepositoryRoot, "check-attr", "eol", "--", path], Containers.CommandTimeout, TestContext.Current.CancellationToken);

        Assert.True(attribute.ExitCode == 0, attribute.Describe());
        Assert.Equal($"{path}: eol: lf", attribute.Stdout.Trim());
    }

    [Fact]
    public async Task Image_BuiltFromACrlfCheckout_StillStarts()
    {
        image.Require();
        var cancellationToken = TestContext.Current.CancellationToken;
        var tag = image.Tag + "-crlf";
        var name = Containers.NewName("crlf");
        try
        {
            // What an older clone (or one with core.autocrlf forced) hands the build.
            var build = await image.BuildChangedCopyAsync(tag, context =>
            {
                var entrypoint = Path.Combine(context, "entrypoint.sh");
                File.WriteAllText(entrypoint, File.ReadAllText(entrypoint).ReplaceLineEndings("\r\n"));
            }, cancellationToken);
            build.EnsureSuccess();

            var run = await ProcessRunner.DockerAsync(Containers.CommandTimeout, cancellationToken, "run", "--name", name, "--network", "none", tag, "--version");

            Assert.True(run.ExitCode == 0, run.Describe());
            Assert.StartsWith(ClaudeCodeImage.ClaudeCodeVersion, run.Stdout.Trim(), StringComparison.Ordinal);
        }
        finally
        {
            await Containers.RemoveAsync(name);
            await ProcessRunner.DockerAsync(Containers.CommandTimeout, CancellationToken.None, "rmi", "-f", tag);
        }
    }
}
