using Microsoft.Extensions.Primitives;

namespace ClaudeStack.Gateway.Forwarding;

/// <summary>
/// The headers a message's <c>Connection</c> header names: like <c>Connection</c> itself they are for the next hop
/// only, and a proxy removes them (RFC 9110 §7.6.1).
/// </summary>
public static class HopByHopHeaders
{
    /// <returns>The names, or null when the header names none beyond the usual <c>keep-alive</c> or <c>close</c>.</returns>
    public static HashSet<string>? NominatedBy(StringValues connection)
    {
        HashSet<string>? names = null;
        foreach (var value in connection)
        {
            foreach (var token in (value ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                // Both are options, not header names to drop (Keep-Alive is dropped anyway): no set for the usual case.
                if (!token.Equals("keep-alive", StringComparison.OrdinalIgnoreCase) && !token.Equals("close", StringComparison.OrdinalIgnoreCase))
                {
                    (names ??= new HashSet<string>(StringComparer.OrdinalIgnoreCase)).Add(token);
                }
            }
        }

        return names;
    }
}
