using System.Collections.Concurrent;
using System.Globalization;

namespace ClaudeStack.ScriptedUpstream;

/// <summary>Command-line settings of the stand-alone scripted upstream.</summary>
public sealed record UpstreamCommandLine
{
    public string Url { get; init; } = "http://127.0.0.1:0";

    /// <summary>Number of text deltas in each streamed answer.</summary>
    public int Events { get; init; } = 8;

    /// <summary>Characters of text in each delta.</summary>
    public int EventBytes { get; init; } = 16;

    public int EventIntervalMs { get; init; }

    public int FirstEventDelayMs { get; init; }

    /// <summary>Also answer Ollama's native endpoints.</summary>
    public bool Ollama { get; init; }

    /// <summary>Reads <c>--option value</c> pairs; a bad option or value throws an <see cref="ArgumentException"/> saying which.</summary>
    public static UpstreamCommandLine Parse(string[] args)
    {
        var settings = new UpstreamCommandLine();
        for (var i = 0; i < args.Length; i += 2)
        {
            var option = args[i];
            if (i + 1 == args.Length)
            {
                throw new ArgumentException($"Option {option} needs a value.");
            }

            var value = args[i + 1];
            settings = option switch
            {
                "--url" => settings with { Url = value },
                "--events" => settings with { Events = Count(option, value) },
                "--event-bytes" => settings with { EventBytes = Count(option, value) },
                "--event-interval-ms" => settings with { EventIntervalMs = Count(option, value) },
                "--first-event-delay-ms" => settings with { FirstEventDelayMs = Count(option, value) },
                "--ollama" => settings with { Ollama = bool.TryParse(value, out var ollama) ? ollama : throw new ArgumentException($"Option --ollama takes true or false, not '{value}'.") },
                _ => throw new ArgumentException($"Unknown option {option}. Options: --url, --events, --event-bytes, --event-interval-ms, --first-event-delay-ms, --ollama true|false."),
            };
        }

        return settings;
    }

    public ScriptedUpstreamOptions ToOptions()
    {
        var piece = new string('x', EventBytes);
        var pieces = Enumerable.Repeat(piece, Events).ToArray();

        // One rendering per model name asked for: the answer names the model it was asked for.
        var replies = new ConcurrentDictionary<string, ScriptedReply>(StringComparer.Ordinal);
        return new ScriptedUpstreamOptions
        {
            Url = Url,
            Ollama = Ollama ? new OllamaEmulation() : null,
            RecordRequests = false,
            Script = request => replies.GetOrAdd(request.Model ?? "scripted", model => ScriptedReply.Prerendered(
                new ScriptedMessage { Model = model, Blocks = [new ScriptedText(pieces)], OutputTokens = Events },
                TimeSpan.FromMilliseconds(FirstEventDelayMs),
                TimeSpan.FromMilliseconds(EventIntervalMs))),
        };
    }

    private static int Count(string option, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var count)
            ? count
            : throw new ArgumentException($"Option {option} takes a whole number of zero or more, not '{value}'.");
}
