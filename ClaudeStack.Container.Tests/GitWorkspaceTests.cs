using ClaudeStack.Container.Tests.Support;

namespace ClaudeStack.Container.Tests;

/// <summary>
/// Git refuses a repository whose owner is not the user running it ("detected dubious ownership"), and Claude Code
/// runs git in /workspace. The mounted project often belongs to someone else as the container sees it: Docker Desktop
/// on macOS and Windows shows bind-mounted files with owners of its own (root, or the host user's uid), and a Linux workspace may
/// belong to another uid than the image was built for.
/// </summary>
public sealed class GitWorkspaceTests(ClaudeCodeImage image)
{
    /// <summary>Neither container user below, nor root.</summary>
    private const string RepositoryOwner = "4321:4321";

    /// <param name="user">The container user: the image's own (<c>node</c>, 1000), or <c>docker run --user</c>.</param>
    [Theory]
    [InlineData(null)]
    [InlineData("1234:1234")]
    public async Task Git_WorkspaceOwnedByAnotherUser_IsTrusted(string? user)
    {
        image.Require();
        var cancellationToken = TestContext.Current.CancellationToken;
        var workspace = Containers.NewWorkspace();
        var testOwner = await Containers.OwnerAsync(workspace.FullName, cancellationToken);
        var name = Containers.NewName("git-owner");
        try
        {
            (await ProcessRunner.RunAsync("git", ["init", "-q", workspace.FullName], Containers.CommandTimeout, cancellationToken)).EnsureSuccess();
            // A workspace may hold more than one repository (a folder of projects, submodules).
            (await ProcessRunner.RunAsync("git", ["init", "-q", Path.Combine(workspace.FullName, "nested")], Containers.CommandTimeout, cancellationToken)).EnsureSuccess();
            await ChangeOwnerAsync(workspace, RepositoryOwner, cancellationToken);

            Assert.Equal(RepositoryOwner, await Containers.OwnerAsync(Path.Combine(workspace.FullName, ".git"), cancellationToken));
            string[] userOption = user is null ? [] : ["--user", user];

            // No home at all: the trust must not hang on a per-user config (with --user the entrypoint moves HOME to a
            // private folder, and a config written for node at build time is not there).
            var run = await ProcessRunner.DockerAsync(
                Containers.CommandTimeout, cancellationToken,
                [
                    "run", "--name", name, "--network", "none", .. userOption, "-e", "HOME=/nonexistent",
                    "-v", workspace.FullName + ":/workspace", "--entrypoint", "bash", image.Tag,
                    "-c", "git -C /workspace rev-parse --show-toplevel && git -C /workspace status --short && git -C /workspace/nested rev-parse --show-toplevel",
                ]);

            Assert.True(run.ExitCode == 0, run.Describe());
            Assert.Equal("/workspace\n?? nested/\n/workspace/nested\n", run.Stdout);
        }
        finally
        {
            await Containers.RemoveAsync(name);
            await ChangeOwnerAsync(workspace, testOwner, CancellationToken.None);
            workspace.Delete(recursive: true);
        }
    }

    /// <summary>Gives the folder and everything in it another owner, as root in a container (the test itself need not be root).</summary>
    private async Task ChangeOwnerAsync(DirectoryInfo folder, string owner, CancellationToken cancellationToken) =>
        (await ProcessRunner.DockerAsync(
            Containers.CommandTimeout, cancellationToken,
            "run", "--rm", "--network", "none", "--user", "0", "-v", folder.FullName + ":/target",
            "--entrypoint", "chown", image.Tag, "-R", owner, "/target")).EnsureSuccess();
}
