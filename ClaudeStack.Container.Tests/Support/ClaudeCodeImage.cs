using System.Reflection;

[assembly: Xunit.AssemblyFixture(typeof(ClaudeStack.Container.Tests.Support.ClaudeCodeImage))]

// The tests share one Docker engine, the gateway's ActivitySource and host network state; one at a time.
[assembly: Xunit.CollectionBehavior(DisableTestParallelization = true)]

namespace ClaudeStack.Container.Tests.Support;

/// <summary>
/// Builds the claude-code image once per test run: containers/claude-code/Dockerfile with the host's CA certificates
/// added to a temporary copy of the build context, on the first base image of: CLAUDESTACK_TEST_BASE_IMAGE, the
/// Dockerfile's own base when the engine already has it, or a stand-in built by containers/test-base/build-node-base.sh
/// (no container registry needed; root and debootstrap are). The tests never pull.
/// When Docker is not usable the tests are skipped, except with CI=true, where they fail.
/// </summary>
public sealed class ClaudeCodeImage : IAsyncLifetime
{
    public const string StandInBaseTag = "claudestack-test/node:22-bookworm-slim";

    private static readonly TimeSpan BaseBuildTimeout = TimeSpan.FromMinutes(15);
    private static readonly TimeSpan ImageBuildTimeout = TimeSpan.FromMinutes(20);

    private string? unavailable;
    private string? failure;
    private DirectoryInfo? context;

    public static string RepositoryRoot { get; } = Metadata("RepositoryRoot").TrimEnd('/', '\\');

    public static string ClaudeCodeVersion { get; } = Metadata("ClaudeCodeVersion");

    public static bool InCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    public string Tag { get; } = $"claudestack-test/claude-code:{ClaudeCodeVersion}";

    public string BaseImage { get; private set; } = StandInBaseTag;

    public TimeSpan BaseBuildTime { get; private set; }

    public TimeSpan ImageBuildTime { get; private set; }

    public async ValueTask InitializeAsync()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        try
        {
            var info = await ProcessRunner.DockerAsync(TimeSpan.FromSeconds(60), cancellationToken, "info", "--format", "{{.ServerVersion}}");
            if (info.ExitCode != 0)
            {
                unavailable = "Docker is not usable (`docker info` failed): " + info.Stderr.Trim();
                return;
            }
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or TimeoutException)
        {
            unavailable = "Docker is not usable: " + e.Message;
            return;
        }

        try
        {
            var baseImage = Environment.GetEnvironmentVariable("CLAUDESTACK_TEST_BASE_IMAGE");
            if (string.IsNullOrWhiteSpace(baseImage) && await IsPresentAsync(DockerfileBaseImage, cancellationToken))
            {
                // A developer machine that pulled the real base once needs no stand-in (and the tests pull nothing).
                baseImage = DockerfileBaseImage;
            }

            if (string.IsNullOrWhiteSpace(baseImage))
            {
                baseImage = StandInBaseTag;
                var script = Path.Combine(RepositoryRoot, "containers", "test-base", "build-node-base.sh");
                var built = await ProcessRunner.RunAsync("bash", [script, baseImage], BaseBuildTimeout, cancellationToken);
                BaseBuildTime = built.Elapsed;
                if (built.ExitCode != 0)
                {
                    throw new InvalidOperationException(
                        $"no base image: `docker pull {DockerfileBaseImage}` once (the tests then use it), or set CLAUDESTACK_TEST_BASE_IMAGE " +
                        $"to an image you have; building the stand-in failed (it needs root and debootstrap): {built.Describe()}");
                }
            }

            BaseImage = baseImage;
            context = Directory.CreateTempSubdirectory("claudestack-image-context-");
            CopyDirectory(Path.Combine(RepositoryRoot, "containers", "claude-code"), context.FullName);
            AddHostCertificates(Path.Combine(context.FullName, "certs"));
            var build = await BuildAsync(Tag, [], cancellationToken);
            ImageBuildTime = build.Elapsed;
            build.EnsureSuccess();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            failure = "Building the claude-code image failed: " + e.Message;
        }
    }

    /// <summary>The Dockerfile's default <c>BASE_IMAGE</c>, read from it.</summary>
    public static string DockerfileBaseImage { get; } = File.ReadLines(Path.Combine(RepositoryRoot, "containers", "claude-code", "Dockerfile"))
        .Select(line => line.Trim())
        .First(line => line.StartsWith("ARG BASE_IMAGE=", StringComparison.Ordinal))["ARG BASE_IMAGE=".Length..];

    private static async Task<bool> IsPresentAsync(string image, CancellationToken cancellationToken) =>
        (await ProcessRunner.DockerAsync(TimeSpan.FromSeconds(60), cancellationToken, "image", "inspect", "--format", "{{.Id}}", image)).ExitCode == 0;

    public ValueTask DisposeAsync()
    {
        context?.Delete(recursive: true);
        return ValueTask.CompletedTask;
    }

    /// <summary>Builds the Dockerfile (same base, same certificates) with extra build arguments.</summary>
    public Task<ProcessResult> BuildAsync(string tag, IEnumerable<string> buildArgs, CancellationToken cancellationToken) =>
        BuildAsync(tag, buildArgs, context!.FullName, cancellationToken);

    /// <summary>Builds a copy of the build context that <paramref name="change"/> edited first (same base, same certificates).</summary>
    public async Task<ProcessResult> BuildChangedCopyAsync(string tag, Action<string> change, CancellationToken cancellationToken)
    {
        var copy = Directory.CreateTempSubdirectory("claudestack-image-context-");
        try
        {
            CopyDirectory(context!.FullName, copy.FullName);
            change(copy.FullName);
            return await BuildAsync(tag, [], copy.FullName, cancellationToken);
        }
        finally
        {
            copy.Delete(recursive: true);
        }
    }

    private Task<ProcessResult> BuildAsync(string tag, IEnumerable<string> buildArgs, string contextDirectory, CancellationToken cancellationToken) =>
        ProcessRunner.DockerAsync(
            ImageBuildTimeout,
            cancellationToken,
            [
                "build", "--network", "host",
                "--build-arg", "BASE_IMAGE=" + BaseImage,
                .. buildArgs.SelectMany(a => new[] { "--build-arg", a }),
                "-t", tag,
                contextDirectory,
            ]);

    /// <summary>Call first in every test: skips without Docker (fails on CI), fails when the build failed.</summary>
    public void Require()
    {
        if (unavailable is not null)
        {
            if (InCi)
            {
                Assert.Fail(unavailable + " (CI=true, so this is a failure, not a skip).");
            }

            Assert.Skip(unavailable);
        }

        if (failure is not null)
        {
            Assert.Fail(failure);
        }
    }

    /// <summary>Skips (fails on CI) unless the tests run as root, which network namespaces and iptables need.</summary>
    public static void RequireRoot(string why)
    {
        if (Environment.IsPrivilegedProcess)
        {
            return;
        }

        var reason = $"Needs root: {why}.";
        if (InCi)
        {
            Assert.Fail(reason + " (CI=true)");
        }

        Assert.Skip(reason);
    }

    private static void AddHostCertificates(string certs)
    {
        // The machine's own extra roots (a TLS-inspecting proxy) and its whole bundle: whatever lets the host
        // reach the npm and Debian registries lets the build reach them too.
        var local = "/usr/local/share/ca-certificates";
        if (Directory.Exists(local))
        {
            foreach (var file in Directory.EnumerateFiles(local, "*.crt", SearchOption.AllDirectories))
            {
                File.Copy(file, Path.Combine(certs, "host-" + Path.GetFileName(file)), overwrite: true);
            }
        }

        var bundle = "/etc/ssl/certs/ca-certificates.crt";
        if (File.Exists(bundle))
        {
            File.Copy(bundle, Path.Combine(certs, "host-bundle.crt"), overwrite: true);
        }
    }

    private static void CopyDirectory(string source, string destination)
    {
        Directory.CreateDirectory(destination);
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(destination, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    private static string Metadata(string key) =>
        typeof(ClaudeCodeImage).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value
        ?? throw new InvalidOperationException($"Assembly metadata {key} is missing.");
}
