using System.Text;

namespace ClaudeStack.Stack;

/// <summary>A <c>deploy.resources.reservations.devices</c> entry of a Docker Compose service.</summary>
public sealed record ComposeDeviceReservation(string Driver, string Count, IReadOnlyList<string> Capabilities);

/// <summary>
/// GPU access for the published Ollama service. Container runtime arguments (<c>--gpus all</c>,
/// <c>--device</c>) that <c>WithGPUSupport</c> adds are not carried into a compose file, so the
/// compose form is declared here: NVIDIA through a device reservation, AMD (ROCm) through the
/// <c>/dev/kfd</c> and <c>/dev/dri</c> devices, mirroring what the toolkit passes to <c>docker run</c>.
/// </summary>
public sealed record ComposeGpuAccess(ComposeDeviceReservation? Reservation, IReadOnlyList<string> Devices)
{
    public static readonly ComposeDeviceReservation NvidiaAllGpus = new("nvidia", "all", ["gpu"]);

    public static readonly IReadOnlyList<string> AmdDevices = ["/dev/kfd", "/dev/dri"];

    public static ComposeGpuAccess For(GpuVendor vendor) => vendor switch
    {
        GpuVendor.None => new ComposeGpuAccess(null, []),
        GpuVendor.Nvidia => new ComposeGpuAccess(NvidiaAllGpus, []),
        GpuVendor.Amd => new ComposeGpuAccess(null, AmdDevices),
        _ => throw new ArgumentOutOfRangeException(nameof(vendor), vendor, "Unknown GPU vendor."),
    };
}

/// <summary>
/// Adds a device reservation to one service of a compose file. Aspire 13.5's compose model
/// (<c>ResourceSpec</c>) has only <c>cpus</c> and <c>memory</c>, so the reservation is written into
/// the YAML the publisher produced (two-space indentation, services under <c>services:</c>).
/// </summary>
public static class ComposeFilePatcher
{
    public static string AddDeviceReservation(string yaml, string serviceName, ComposeDeviceReservation reservation)
    {
        ArgumentNullException.ThrowIfNull(yaml);
        ArgumentException.ThrowIfNullOrWhiteSpace(serviceName);
        ArgumentNullException.ThrowIfNull(reservation);

        var newline = yaml.Contains("\r\n", StringComparison.Ordinal) ? "\r\n" : "\n";
        var lines = yaml.Split(newline).ToList();

        var servicesIndex = lines.FindIndex(l => l.TrimEnd() == "services:");
        if (servicesIndex < 0)
        {
            throw new InvalidOperationException("The compose file has no top-level 'services:' section.");
        }

        var serviceIndex = -1;
        for (var i = servicesIndex + 1; i < lines.Count && !IsTopLevel(lines[i]); i++)
        {
            if (lines[i].TrimEnd() == $"  {serviceName}:")
            {
                serviceIndex = i;
                break;
            }
        }

        if (serviceIndex < 0)
        {
            throw new InvalidOperationException($"The compose file has no service '{serviceName}'.");
        }

        var end = serviceIndex + 1;
        while (end < lines.Count && (lines[end].Length == 0 || lines[end].StartsWith("    ", StringComparison.Ordinal)))
        {
            end++;
        }

        for (var i = serviceIndex + 1; i < end; i++)
        {
            if (lines[i].StartsWith("    deploy:", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"The service '{serviceName}' already has a 'deploy' section; add the GPU reservation to it by hand.");
            }
        }

        // Insert after the service's last non-empty line.
        var insertAt = end;
        while (insertAt > serviceIndex + 1 && lines[insertAt - 1].Length == 0)
        {
            insertAt--;
        }

        lines.InsertRange(insertAt, DeployBlock(reservation));
        return string.Join(newline, lines);
    }

    /// <summary>The <c>deploy:</c> block at service level (four spaces).</summary>
    public static IReadOnlyList<string> DeployBlock(ComposeDeviceReservation reservation)
    {
        ArgumentNullException.ThrowIfNull(reservation);
        var capabilities = new StringBuilder();
        foreach (var capability in reservation.Capabilities)
        {
            capabilities.Append(capabilities.Length == 0 ? "" : ", ").Append('"').Append(capability).Append('"');
        }

        return
        [
            "    deploy:",
            "      resources:",
            "        reservations:",
            "          devices:",
            $"            - driver: \"{reservation.Driver}\"",
            $"              count: {reservation.Count}",
            $"              capabilities: [{capabilities}]",
        ];
    }

    private static bool IsTopLevel(string line) => line.Length > 0 && !char.IsWhiteSpace(line[0]);
}
