using ClaudeStack.Gateway.Adaptation;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ClaudeStack.Gateway.Guards;

/// <summary>
/// Degraded when a loaded model sits partly in CPU memory (/api/ps size_vram &lt; size): every token then
/// takes the slow path, and the dashboard should say so.
/// </summary>
public sealed class GpuOffloadHealthCheck(OllamaModelCatalog catalog) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var partial = catalog.Current.Where(m => m.GpuShare is < 0.999).ToList();
        if (partial.Count == 0)
        {
            return Task.FromResult(HealthCheckResult.Healthy("Every loaded model runs fully on the GPU (or none is loaded yet)."));
        }

        var detail = string.Join("; ", partial.Select(m => $"{m.Model} is {m.GpuShare:P0} on the GPU, the rest on the CPU"));
        return Task.FromResult(HealthCheckResult.Degraded($"{detail}. Use a smaller model or context, or give the container the GPU (ClaudeStack:Gpu)."));
    }
}
