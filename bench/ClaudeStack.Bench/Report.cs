using System.Globalization;
using System.Text;

namespace ClaudeStack.Bench;

/// <summary>One line of the results table.</summary>
public sealed record Row(string Figure, string Direct, string Gateway, string Ratio, string Target, string Result);

public static class Report
{
    public static string Ms(double value) => value.ToString(value < 10 ? "0.000" : "0.0", CultureInfo.InvariantCulture) + " ms";

    public static string Number(double value, string unit = "") =>
        value.ToString(value >= 100 ? "N0" : "0.00", CultureInfo.InvariantCulture) + (unit.Length > 0 ? " " + unit : "");

    public static string Mb(double bytes) => (bytes / (1024 * 1024)).ToString("0.0", CultureInfo.InvariantCulture) + " MB";

    public static string Ratio(double gateway, double direct) =>
        direct > 0 ? (gateway / direct).ToString("0.00", CultureInfo.InvariantCulture) + "×" : "—";

    public static string Verdict(bool met, string measured) => $"{measured} {(met ? "✅ met" : "❌ missed")}";

    public static string Markdown(IReadOnlyList<Row> rows, string header)
    {
        var builder = new StringBuilder();
        builder.AppendLine(header).AppendLine();
        builder.AppendLine("| Figure | Direct | Gateway | Ratio | Target | Measured |");
        builder.AppendLine("|---|---:|---:|---:|---|---|");
        foreach (var row in rows)
        {
            builder.Append("| ").Append(row.Figure)
                .Append(" | ").Append(row.Direct)
                .Append(" | ").Append(row.Gateway)
                .Append(" | ").Append(row.Ratio)
                .Append(" | ").Append(row.Target)
                .Append(" | ").Append(row.Result)
                .AppendLine(" |");
        }

        return builder.ToString();
    }
}

/// <summary>Percentiles of a set of measurements.</summary>
public sealed class Samples
{
    private readonly List<double> _values = [];
    private bool _sorted;

    public int Count => _values.Count;

    public void Add(double value)
    {
        _values.Add(value);
        _sorted = false;
    }

    /// <summary>Nearest-rank percentile (0–100).</summary>
    public double Percentile(double p)
    {
        if (_values.Count == 0)
        {
            return double.NaN;
        }

        if (!_sorted)
        {
            _values.Sort();
            _sorted = true;
        }

        var rank = (int)Math.Ceiling(p / 100 * _values.Count);
        return _values[Math.Clamp(rank - 1, 0, _values.Count - 1)];
    }

    public double Min => Percentile(0);

    public double Max => Percentile(100);

    public int CountAbove(double limit) => _values.Count(v => v > limit);

    public double Median => Percentile(50);
}
