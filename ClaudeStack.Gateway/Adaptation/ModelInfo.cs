namespace ClaudeStack.Gateway.Adaptation;

/// <summary>What the gateway knows about a local model, and where each fact came from.</summary>
public sealed record ModelInfo
{
    public required string Model { get; init; }

    /// <summary>The context window the model runs with.</summary>
    public int? ContextLength { get; init; }

    /// <summary><c>api/ps</c>, <c>api/show num_ctx</c>, <c>api/show model_info</c>, <c>configured</c>.</summary>
    public string? ContextSource { get; init; }

    public bool? SupportsThinking { get; init; }

    /// <summary>Whether the model reads images; without a projector Ollama's runner refuses any request holding one.</summary>
    public bool? SupportsVision { get; init; }

    /// <summary>
    /// /api/show's <c>modified_at</c>: when Ollama last wrote the model's manifest, so a new value means the model was
    /// pulled, created or copied again.
    /// </summary>
    public string? ModifiedAt { get; init; }

    /// <summary>Share of the loaded model in GPU memory (0..1); below 1 the rest runs on the CPU.</summary>
    public double? GpuShare { get; init; }
}
