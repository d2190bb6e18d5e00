using System.Globalization;

namespace ClaudeStack.Bench;

/// <summary>How much work each figure does; <c>--smoke</c> keeps the whole run well under a minute.</summary>
public sealed record BenchSettings
{
    public bool Smoke { get; init; }

    /// <summary>Markdown table is also written here when set.</summary>
    public string? Out { get; init; }

    /// <summary>Extra environment for every gateway process (KEY=VALUE), for experiments.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> GatewayEnvironment { get; init; } = [];

    /// <summary>Groups of figures to run; empty runs all (requests, streaming, memory, cancellation).</summary>
    public IReadOnlySet<string> Only { get; init; } = new HashSet<string>();

    public static readonly string[] Groups = ["requests", "streaming", "memory", "cancellation"];

    public bool Runs(string group) => Only.Count == 0 || Only.Contains(group);

    public int WarmupRequests => Smoke ? 300 : 3000;

    public int SmallLatencyPairs => Smoke ? 300 : 4000;

    public int LargeLatencyPairs => Smoke ? 60 : 1000;

    public int Concurrency => 16;

    public TimeSpan ThroughputDuration => Smoke ? TimeSpan.FromSeconds(1.5) : TimeSpan.FromSeconds(5);

    public int ThroughputRounds => Smoke ? 1 : 5;

    public int TtftPairs => Smoke ? 200 : 2000;

    /// <summary>Text deltas in the stream whose events/s is measured.</summary>
    public int RateStreamEvents => Smoke ? 5_000 : 50_000;

    /// <summary>Odd, so the median is a run's own figure.</summary>
    public int RateStreamRuns => Smoke ? 3 : 9;

    /// <summary>Size of the large streamed response (100 MB in the full run).</summary>
    public long LargeStreamBytes => Smoke ? 10L * 1024 * 1024 : 100L * 1024 * 1024;

    public int LargeStreamEventBytes => 16 * 1024;

    public int LargeStreamRuns => Smoke ? 1 : 3;

    public int CountTokensPairs => Smoke ? 60 : 500;

    public int CancelPairs => Smoke ? 10 : 50;

    public static BenchSettings Parse(string[] args)
    {
        var settings = new BenchSettings();
        var environment = new List<KeyValuePair<string, string>>();
        var only = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--smoke":
                    settings = settings with { Smoke = true };
                    break;
                case "--out" when i + 1 < args.Length:
                    settings = settings with { Out = args[++i] };
                    break;
                case "--gateway-env" when i + 1 < args.Length:
                    var pair = args[++i];
                    var separator = pair.IndexOf('=', StringComparison.Ordinal);
                    if (separator <= 0)
                    {
                        throw new ArgumentException($"--gateway-env expects KEY=VALUE, got '{pair}'.");
                    }

                    environment.Add(new(pair[..separator], pair[(separator + 1)..]));
                    break;
                case "--only" when i + 1 < args.Length:
                    foreach (var group in args[++i].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    {
                        only.Add(Groups.Contains(group) ? group : throw new ArgumentException($"--only takes {string.Join(", ", Groups)}; got '{group}'."));
                    }

                    break;
                case "--help" or "-h":
                    throw new ArgumentException(Usage);
                default:
                    throw new ArgumentException($"Unknown option '{args[i]}'.\n{Usage}");
            }
        }

        return settings with { GatewayEnvironment = environment, Only = only };
    }

    public const string Usage =
        "Usage: ClaudeStack.Bench [--smoke] [--out FILE] [--only GROUP[,GROUP]] [--gateway-env KEY=VALUE]...\n" +
        "  --smoke        a short run (a few hundred requests, small streams) for CI\n" +
        "  --out FILE     also write the Markdown table to FILE\n" +
        "  --only GROUPS  run only some figures: requests, streaming, memory, cancellation\n" +
        "  --gateway-env  extra environment for the gateway processes (repeatable), e.g. Logging__LogLevel__Default=Warning";

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{(Smoke ? "smoke" : "full")} run");
}
