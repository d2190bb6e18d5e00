namespace ClaudeStack.Stack.Tests;

public class ComposeGpuTests
{
    private const string Published = """
        name: "claudestack"
        services:
          ollama:
            image: "docker.io/ollama/ollama:0.32.15"
            environment:
              OLLAMA_CONTEXT_LENGTH: "65536"
            volumes:
              - type: "volume"
                target: "/root/.ollama"
                source: "ollama-data"
                read_only: false
            networks:
              - "aspire"
          model-gateway:
            image: "${MODEL_GATEWAY_IMAGE}"
            networks:
              - "aspire"
        networks:
          aspire:
            driver: "bridge"
        """;

    [Fact]
    public void NoGpu_NeedsNothing()
    {
        var access = ComposeGpuAccess.For(GpuVendor.None);

        Assert.Null(access.Reservation);
        Assert.Empty(access.Devices);
    }

    [Fact]
    public void Nvidia_ReservesAllGpus()
    {
        var access = ComposeGpuAccess.For(GpuVendor.Nvidia);

        Assert.Equal("nvidia", access.Reservation!.Driver);
        Assert.Equal("all", access.Reservation.Count);
        Assert.Equal(["gpu"], access.Reservation.Capabilities);
        Assert.Empty(access.Devices);
    }

    [Fact]
    public void Amd_MapsKfdAndDri()
    {
        var access = ComposeGpuAccess.For(GpuVendor.Amd);

        Assert.Null(access.Reservation);
        Assert.Equal(["/dev/kfd", "/dev/dri"], access.Devices);
    }

    [Fact]
    public void Patcher_AddsDeployBlockAtTheEndOfTheService()
    {
        var patched = ComposeFilePatcher.AddDeviceReservation(Published, "ollama", ComposeGpuAccess.NvidiaAllGpus);

        var expected = """
              - "aspire"
            deploy:
              resources:
                reservations:
                  devices:
                    - driver: "nvidia"
                      count: all
                      capabilities: ["gpu"]
          model-gateway:
        """;
        Assert.Contains(expected.Replace("\r\n", "\n", StringComparison.Ordinal), patched.Replace("\r\n", "\n", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Equal(Published.Split('\n').Length + 7, patched.Split('\n').Length);
    }

    [Fact]
    public void Patcher_HandlesTheLastServiceAndCrLf()
    {
        var yaml = "services:\r\n  ollama:\r\n    image: \"x\"\r\n";

        var patched = ComposeFilePatcher.AddDeviceReservation(yaml, "ollama", ComposeGpuAccess.NvidiaAllGpus);

        Assert.StartsWith("services:\r\n  ollama:\r\n    image: \"x\"\r\n    deploy:\r\n      resources:\r\n", patched, StringComparison.Ordinal);
        Assert.EndsWith("capabilities: [\"gpu\"]\r\n", patched, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("name: x\n", "ollama", "The compose file has no top-level 'services:' section.")]
    [InlineData("services:\n  other:\n    image: x\n", "ollama", "The compose file has no service 'ollama'.")]
    [InlineData("services:\n  ollama:\n    deploy:\n      replicas: 1\n", "ollama", "The service 'ollama' already has a 'deploy' section; add the GPU reservation to it by hand.")]
    public void Patcher_RefusesWhatItCannotPatch(string yaml, string service, string message)
    {
        var exception = Assert.Throws<InvalidOperationException>(() => ComposeFilePatcher.AddDeviceReservation(yaml, service, ComposeGpuAccess.NvidiaAllGpus));

        Assert.Equal(message, exception.Message);
    }
}
