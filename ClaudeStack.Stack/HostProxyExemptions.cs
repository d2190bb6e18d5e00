using System.Text.Json;

namespace ClaudeStack.Stack;

/// <summary>
/// The hosts the user's proxy settings already exempt: both spellings of <c>NO_PROXY</c> (configuration sees only
/// one, its keys ignoring case), and the docker CLI's <c>proxies.default.noProxy</c>, which a container's own
/// <c>NO_PROXY</c> replaces.
/// </summary>
public static class HostProxyExemptions
{
    /// <returns>The exemptions, comma-separated; empty when there are none.</returns>
    public static string Read(Func<string, string?> environment, string userProfile)
    {
        ArgumentNullException.ThrowIfNull(environment);
        var values = new List<string?> { environment("NO_PROXY"), environment("no_proxy") };
        var dockerConfig = environment("DOCKER_CONFIG") is { Length: > 0 } folder
            ? Path.Combine(folder, "config.json")
            : Path.Combine(userProfile, ".docker", "config.json");
        try
        {
            using var config = JsonDocument.Parse(File.ReadAllBytes(dockerConfig));
            if (config.RootElement.ValueKind == JsonValueKind.Object
                && config.RootElement.TryGetProperty("proxies", out var proxies) && proxies.ValueKind == JsonValueKind.Object
                && proxies.TryGetProperty("default", out var defaults) && defaults.ValueKind == JsonValueKind.Object
                && defaults.TryGetProperty("noProxy", out var noProxy) && noProxy.ValueKind == JsonValueKind.String)
            {
                values.Add(noProxy.GetString());
            }
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or JsonException)
        {
            // No docker config, or one the CLI could not read either: nothing to keep from it.
        }

        return string.Join(',', values.Where(value => !string.IsNullOrWhiteSpace(value)));
    }
}
