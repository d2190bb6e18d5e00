using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using ClaudeStack.Container.Tests.Support;

namespace ClaudeStack.Container.Tests;

/// <summary>
/// The image build's first step, install-ca-certificates.sh, run in the built image (it needs only Node): the extra CA
/// certificates of a corporate TLS proxy arrive as PEM files or bundles, or as DER, which is how Windows' certificate
/// manager exports a <c>.cer</c> by default; update-ca-certificates reads PEM only and skips anything else in silence.
/// </summary>
public sealed class CaCertificateTests(ClaudeCodeImage image)
{
    private static readonly string Script = Path.Combine(ClaudeCodeImage.RepositoryRoot, "containers", "claude-code", "install-ca-certificates.sh");

    [Fact]
    public async Task PemFilesBundlesAndDerCertificates_AllBecomePemForTheTrustStore()
    {
        image.Require();
        var cancellationToken = TestContext.Current.CancellationToken;
        using var proxyRoot = NewCertificate("Corp Proxy Root");
        using var second = NewCertificate("Corp Issuing CA");
        var certs = Directory.CreateTempSubdirectory("claudestack-certs-");
        try
        {
            await File.WriteAllBytesAsync(Path.Combine(certs.FullName, "corp-root.cer"), proxyRoot.Export(X509ContentType.Cert), cancellationToken);
            // A bundle without a final line break, with CRLF line ends, as editors on Windows save it.
            await File.WriteAllTextAsync(Path.Combine(certs.FullName, "Bundle.PEM"), (proxyRoot.ExportCertificatePem() + "\n" + second.ExportCertificatePem()).Replace("\n", "\r\n", StringComparison.Ordinal), cancellationToken);
            await File.WriteAllTextAsync(Path.Combine(certs.FullName, "README.md"), "not a certificate, not read", cancellationToken);
            // A proxy's CA file with its private key first, as mitmproxy writes mitmproxy-ca.pem.
            using var key = RSA.Create(2048);
            await File.WriteAllTextAsync(Path.Combine(certs.FullName, "mitmproxy-ca.pem"), key.ExportPkcs8PrivateKeyPem() + "\n" + second.ExportCertificatePem() + "\n", cancellationToken);

            var run = await RunScriptAsync(certs, cancellationToken);

            Assert.True(run.ExitCode == 0, run.Describe());
            var installed = run.Stdout.Split("==> ", StringSplitOptions.RemoveEmptyEntries).ToDictionary(entry => entry[..entry.IndexOf('\n', StringComparison.Ordinal)], entry => entry[(entry.IndexOf('\n', StringComparison.Ordinal) + 1)..]);
            Assert.Equal(["Bundle.crt", "corp-root.crt", "mitmproxy-ca.crt"], installed.Keys.Order(StringComparer.Ordinal));
            Assert.Equal(proxyRoot.ExportCertificatePem() + "\n", installed["corp-root.crt"]);
            Assert.Equal(proxyRoot.ExportCertificatePem() + "\n" + second.ExportCertificatePem() + "\n", installed["Bundle.crt"]);
            // Only the certificate reaches the image's world-readable trust store.
            Assert.Equal(second.ExportCertificatePem() + "\n", installed["mitmproxy-ca.crt"]);
            Assert.Contains("certs/mitmproxy-ca.pem: its private key is left out", run.Stderr, StringComparison.Ordinal);
        }
        finally
        {
            certs.Delete(recursive: true);
        }
    }

    /// <param name="files">What certs/ holds: "key" is a private key saved under a certificate's name; "twins" are
    /// root.pem and root.cer, which would both be installed as root.crt.</param>
    [Theory]
    [InlineData("key", "certs/proxy.crt is not a PEM or DER certificate")]
    [InlineData("twins", "certs/root.pem: another file of the same name is installed as root.crt already")]
    public async Task FilesTheBuildCannotInstall_StopItNamingThem(string files, string message)
    {
        image.Require();
        var cancellationToken = TestContext.Current.CancellationToken;
        using var root = NewCertificate("Corp Proxy Root");
        var certs = Directory.CreateTempSubdirectory("claudestack-certs-");
        try
        {
            if (files == "key")
            {
                await File.WriteAllTextAsync(Path.Combine(certs.FullName, "proxy.crt"), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", cancellationToken);
            }
            else
            {
                await File.WriteAllBytesAsync(Path.Combine(certs.FullName, "root.cer"), root.Export(X509ContentType.Cert), cancellationToken);
                await File.WriteAllTextAsync(Path.Combine(certs.FullName, "root.pem"), root.ExportCertificatePem(), cancellationToken);
            }

            var run = await RunScriptAsync(certs, cancellationToken);

            Assert.Equal(1, run.ExitCode);
            Assert.Contains(message, run.Stderr, StringComparison.Ordinal);
        }
        finally
        {
            certs.Delete(recursive: true);
        }
    }

    /// <summary>Runs the script over the folder, then prints each installed file after a "==> name" line.</summary>
    private async Task<ProcessResult> RunScriptAsync(DirectoryInfo certs, CancellationToken cancellationToken)
    {
        // Readable by the image's user, as a build context is to the build.
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(certs.FullName, (UnixFileMode)0b111_101_101);
            foreach (var file in certs.EnumerateFiles())
            {
                File.SetUnixFileMode(file.FullName, (UnixFileMode)0b110_100_100);
            }
        }

        return await ProcessRunner.DockerAsync(
            Containers.CommandTimeout, cancellationToken,
            [
                "run", "--rm", "--network", "none",
                "-v", certs.FullName + ":/in:ro", "-v", Script + ":/install-ca-certificates.sh:ro",
                "--entrypoint", "sh", image.Tag,
                "-c", "sh /install-ca-certificates.sh /in /tmp/out && for f in /tmp/out/*; do printf '==> %s\\n' \"${f##*/}\"; cat \"$f\"; done",
            ]);
    }

    private static X509Certificate2 NewCertificate(string name)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: false, 0, critical: true));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
    }
}
