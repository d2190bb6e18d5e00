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

    public static UpstreamCommandLine Parse(string[] args)
    {
        var settings = new UpstreamCommandLine();
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            var value = args[i + 1];
            settings = args[i] switch
            {
                "--url" => settings with { Url = value },
                "--events" => settings with { Events = int.Parse(value, CultureInfo.InvariantCulture) },
                "--event-bytes" => settings with { EventBytes = int.Parse(value, CultureInfo.InvariantCulture) },
                "--event-interval-ms" => settings with { EventIntervalMs = int.Parse(value, CultureInfo.InvariantCulture) },
                "--first-event-delay-ms" => settings with { FirstEventDelayMs = int.Parse(value, CultureInfo.InvariantCulture) },
                "--ollama" => settings with { Ollama = bool.Parse(value) },
                _ => throw new ArgumentException($"Unknown option {args[i]}. Options: --url, --events, --event-bytes, --event-interval-ms, --first-event-delay-ms, --ollama true|false."),
            };
        }

        return settings;
    }

    public ScriptedUpstreamOptions ToOptions()
    {
        var piece = new string('x', EventBytes);
        var pieces = Enumerable.Repeat(piece, Events).ToArray();
        return new ScriptedUpstreamOptions
        {
            Url = Url,
            Ollama = Ollama ? new OllamaEmulation() : null,
            RecordRequests = false,
            Script = request => ScriptedReply.Message(
                new ScriptedMessage { Model = request.Model ?? "scripted", Blocks = [new ScriptedText(pieces)], OutputTokens = Events },
                TimeSpan.FromMilliseconds(FirstEventDelayMs),
                TimeSpan.FromMilliseconds(EventIntervalMs)),
        };
    }
}
