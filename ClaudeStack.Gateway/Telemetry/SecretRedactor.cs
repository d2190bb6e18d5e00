namespace ClaudeStack.Gateway.Telemetry;

/// <summary>
/// Removes configured secrets (the stack token, upstream API keys) from text before it reaches a span or a log.
/// Content capture records what users typed; a pasted key must not end up in the dashboard.
/// </summary>
public sealed class SecretRedactor
{
    public const string Mask = "[REDACTED]";

    private readonly string[] _secrets;

    public SecretRedactor(IEnumerable<string?> secrets) =>
        // Very short values would mask ordinary words; real tokens and keys are long.
        _secrets = [.. secrets.Where(s => s is { Length: >= 8 }).Select(s => s!).Distinct().OrderByDescending(s => s.Length)];

    public string Redact(string text)
    {
        foreach (var secret in _secrets)
        {
            if (text.Contains(secret, StringComparison.Ordinal))
            {
                text = text.Replace(secret, Mask, StringComparison.Ordinal);
            }
        }

        return text;
    }
}
