using System.Collections.Concurrent;
using ClaudeStack.Gateway.Adaptation;
using ClaudeStack.Gateway.Guards;

namespace ClaudeStack.Gateway.Tokens;

/// <summary>
/// Learns each model's characters-per-token ratio from observed pairs (characters sent, input tokens the upstream
/// reported), so estimates for count_tokens and the context guard track the model's real tokenizer.
/// </summary>
/// <remarks>
/// A ratio learned too low makes every estimate too high, and the guard then refuses the very prompts whose counts
/// would correct it. So one call moves the ratio only so far, a call whose count the text does not explain (images,
/// a short prompt under its template) teaches nothing, and a ratio whose estimates keep looking like cuts where the
/// default's do not is walked back (<see cref="LearnOrDetectCut"/>).
/// </remarks>
/// <param name="sameModel">
/// One key for the names the upstream reads as one model (Ollama: <see cref="OllamaModelFacts.SameModel"/>), so
/// <c>qwen3</c> and <c>qwen3:latest</c> learn together; by default names are kept as given.
/// </param>
public sealed class TokenCalibration(Func<string, string>? sameModel = null)
{
    /// <summary>
    /// Shorter prompts say more about the template around them than about the tokenizer: a few hundred template
    /// tokens are a tenth of a prompt this long.
    /// </summary>
    public const long MinCharsToLearn = 8_000;

    /// <summary>The most one observation may pull the ratio: to half or to twice where it is.</summary>
    public const double MaxStep = 2.0;

    /// <summary>Models whose ratio is kept; a name past these is estimated at the default ratio.</summary>
    public const int MaxModels = 256;

    /// <summary>The default ratio counts as this many observations, so the first call cannot set the ratio alone.</summary>
    private const int PriorObservations = 1;

    private readonly ConcurrentDictionary<string, Ratio> _ratios = new(StringComparer.Ordinal);

    private readonly Func<string, string> _sameModel = sameModel ?? (static model => model);

    public double CharsPerToken(string model) => CharsPerTokenOf(_sameModel(model));

    public int Observations(string model) => ObservationsOf(_sameModel(model));

    public int Estimate(string model, PromptSize prompt, int messageCount) =>
        TokenEstimator.Estimate(prompt, messageCount, CharsPerToken(model));

    /// <summary>
    /// Learns from a completed call, unless its count says the upstream cut the prompt (<see cref="ContextGuard.LooksTruncated"/>
    /// against the calibrated estimate): a cut prompt would teach a wrong ratio.
    /// </summary>
    /// <returns>True when the count looks cut.</returns>
    public bool LearnOrDetectCut(string model, PromptSize prompt, int messageCount, long reportedInputTokens, int? contextLength, double truncationFraction)
    {
        var key = _sameModel(model);
        var calibrated = ObservationsOf(key) > 0;
        var estimate = TokenEstimator.Estimate(prompt, messageCount, CharsPerTokenOf(key));
        if (!ContextGuard.LooksTruncated(reportedInputTokens, estimate, contextLength, calibrated, truncationFraction))
        {
            Learn(key, prompt, messageCount, reportedInputTokens);
            return false;
        }

        // A ratio learned too dense takes every correct count for a cut and would never hear otherwise. Where the
        // default ratio sees no cut, the ratio moves an eighth of the way back to the default: a dense tokenizer's
        // uncut calls teach it again, a ratio learned wrong walks back.
        var defaultEstimate = TokenEstimator.Estimate(prompt, messageCount, TokenEstimator.DefaultCharsPerToken);
        if (!ContextGuard.LooksTruncated(reportedInputTokens, defaultEstimate, contextLength, calibrated, truncationFraction)
            && _ratios.TryGetValue(key, out var current))
        {
            _ratios.TryUpdate(key, current.TowardDefault(), current);
        }

        return true;
    }

    /// <summary>Learns from a call: <paramref name="reportedInputTokens"/> includes cached tokens.</summary>
    public void Observe(string model, PromptSize prompt, int messageCount, long reportedInputTokens) =>
        Learn(_sameModel(model), prompt, messageCount, reportedInputTokens);

    private double CharsPerTokenOf(string key) =>
        _ratios.TryGetValue(key, out var ratio) ? ratio.Value : TokenEstimator.DefaultCharsPerToken;

    private int ObservationsOf(string key) => _ratios.TryGetValue(key, out var ratio) ? ratio.Count : 0;

    private void Learn(string key, PromptSize prompt, int messageCount, long reportedInputTokens)
    {
        // What an image really costs depends on its size and the encoder; taken at the estimate, a dearer one would
        // be read as a denser tokenizer.
        var textTokens = reportedInputTokens - (messageCount * TokenEstimator.TokensPerMessage);
        if (prompt.Images > 0 || prompt.TextChars < MinCharsToLearn || textTokens <= 0
            || (_ratios.Count >= MaxModels && !_ratios.ContainsKey(key)))
        {
            return;
        }

        var observed = Math.Clamp(prompt.TextChars / (double)textTokens, 1.0, 12.0);
        _ratios.AddOrUpdate(key, static (_, observed) => Ratio.Default.With(observed), static (_, current, observed) => current.With(observed), observed);
    }

    /// <summary>
    /// A running ratio: starting from the default, the first observations are averaged equally, later ones weigh 1/8
    /// so the ratio follows the kind of requests a session is sending now.
    /// </summary>
    private sealed record Ratio(double Value, int Count)
    {
        public static readonly Ratio Default = new(TokenEstimator.DefaultCharsPerToken, 0);

        public Ratio TowardDefault() => this with { Value = Value + ((Default.Value - Value) * 0.125) };

        public Ratio With(double observed)
        {
            var bounded = Math.Clamp(observed, Value / MaxStep, Value * MaxStep);
            var weight = Math.Max(1.0 / (Count + PriorObservations + 1), 0.125);
            return new Ratio(Value + ((bounded - Value) * weight), Count + 1);
        }
    }
}
