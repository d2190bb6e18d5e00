using System.Collections.Concurrent;

namespace ClaudeStack.Gateway.Tokens;

/// <summary>
/// Learns each model's characters-per-token ratio from observed pairs (characters sent, input tokens the upstream
/// reported), so estimates for count_tokens and the context guard track the model's real tokenizer.
/// </summary>
public sealed class TokenCalibration
{
    /// <summary>Pairs with fewer characters say more about template overhead than about the tokenizer.</summary>
    public const long MinCharsToLearn = 400;

    private readonly ConcurrentDictionary<string, Ratio> _ratios = new(StringComparer.Ordinal);

    public double CharsPerToken(string model) =>
        _ratios.TryGetValue(model, out var ratio) ? ratio.Value : TokenEstimator.DefaultCharsPerToken;

    public int Observations(string model) => _ratios.TryGetValue(model, out var ratio) ? ratio.Count : 0;

    public int Estimate(string model, PromptSize prompt, int messageCount) =>
        TokenEstimator.Estimate(prompt, messageCount, CharsPerToken(model));

    /// <summary>Learns from a call: <paramref name="reportedInputTokens"/> includes cached tokens.</summary>
    public void Observe(string model, PromptSize prompt, int messageCount, long reportedInputTokens)
    {
        // Only the text says anything about the tokenizer; images are taken at their estimate.
        var textTokens = reportedInputTokens - (messageCount * TokenEstimator.TokensPerMessage) - prompt.ImageTokens;
        if (prompt.TextChars < MinCharsToLearn || textTokens <= 0)
        {
            return;
        }

        var observed = Math.Clamp(prompt.TextChars / (double)textTokens, 1.0, 12.0);
        _ratios.AddOrUpdate(model, _ => new Ratio(observed, 1), (_, current) => current.With(observed));
    }

    /// <summary>
    /// A running ratio: the first observations are averaged equally, later ones weigh 1/8 so the ratio follows
    /// the kind of requests a session is sending now.
    /// </summary>
    private sealed record Ratio(double Value, int Count)
    {
        public Ratio With(double observed)
        {
            var weight = Math.Max(1.0 / (Count + 1), 0.125);
            return new Ratio(Value + ((observed - Value) * weight), Count + 1);
        }
    }
}
