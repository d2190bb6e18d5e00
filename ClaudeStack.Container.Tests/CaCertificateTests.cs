using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
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

    [Fact]
    public async Task ProxyCaFileWithItsKey_OnlyTheCertificateIsInTheImage_InNoLayerTheKey()
    {
        image.Require();
        var cancellationToken = TestContext.Current.CancellationToken;
        var tag = image.Tag + "-ca-key";
        using var key = RSA.Create(2048);
        using var proxyRoot = NewCertificate("Proxy Root With Its Key");
        var keyPem = key.ExportPkcs8PrivateKeyPem();
        // A line of the key's own base64: nothing else in the image holds it.
        var keyLine = Encoding.ASCII.GetBytes(keyPem.Split('\n')[1]);
        var saved = Path.Combine(Path.GetTempPath(), $"claudestack-image-{Guid.NewGuid():N}.tar");
        try
        {
            // mitmproxy writes its CA's key and certificate into one mitmproxy-ca.pem, the file its docs say to trust.
            var build = await image.BuildChangedCopyAsync(tag, context => File.WriteAllText(Path.Combine(context, "certs", "mitmproxy-ca.pem"), keyPem + "\n" + proxyRoot.ExportCertificatePem() + "\n"), cancellationToken);
            build.EnsureSuccess();

            var trusted = await ProcessRunner.DockerAsync(
                Containers.CommandTimeout, cancellationToken,
                "run", "--rm", "--network", "none", "--entrypoint", "cat", tag, "/usr/local/share/ca-certificates/claudestack/mitmproxy-ca.crt", "/etc/ssl/certs/ca-certificates.crt");
            Assert.True(trusted.ExitCode == 0, trusted.Describe());
            // Installed as a certificate of its own, and in the bundle Node, git and apt read.
            Assert.StartsWith(proxyRoot.ExportCertificatePem() + "\n", trusted.Stdout, StringComparison.Ordinal);
            Assert.Equal(2, trusted.Stdout.Split(proxyRoot.ExportCertificatePem()).Length - 1);

            (await ProcessRunner.DockerAsync(Containers.CommandTimeout, cancellationToken, "save", "-o", saved, tag)).EnsureSuccess();
            var layersWithKey = LayersHolding(saved, keyLine);
            Assert.True(layersWithKey.Count == 0, "the proxy CA's private key is in the image: " + string.Join(", ", layersWithKey));
        }
        finally
        {
            File.Delete(saved);
            await ProcessRunner.DockerAsync(Containers.CommandTimeout, CancellationToken.None, "rmi", "-f", tag);
        }
    }

    /// <summary>The entries of a <c>docker save</c> archive (each layer, compressed or not, and the metadata) holding <paramref name="bytes"/>.</summary>
    private static List<string> LayersHolding(string archive, byte[] bytes)
    {
        var found = new List<string>();
        using var reader = new TarReader(File.OpenRead(archive));
        while (reader.GetNextEntry() is { } entry)
        {
            if (entry.DataStream is not { } data)
            {
                continue;
            }

            using var content = new MemoryStream();
            data.CopyTo(content);
            var raw = content.GetBuffer().AsSpan(0, (int)content.Length);
            if (raw.IndexOf(bytes) >= 0 || (raw is [0x1f, 0x8b, ..] && Gunzipped(content).AsSpan().IndexOf(bytes) >= 0))
            {
                found.Add(entry.Name);
            }
        }

        return found;
    }

    private static byte[] Gunzipped(MemoryStream compressed)
    {
        compressed.Position = 0;
        using var gzip = new GZipStream(compressed, CompressionMode.Decompress, leaveOpen: true);
        using var plain = new MemoryStream();
        gzip.CopyTo(plain);
        return plain.ToArray();
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
