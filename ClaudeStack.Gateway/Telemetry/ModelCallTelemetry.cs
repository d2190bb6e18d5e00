using System.Diagnostics;
using ClaudeStack.Gateway.Adaptation;
using ClaudeStack.Gateway.Configuration;
using ClaudeStack.Gateway.Guards;
using ClaudeStack.Gateway.Routing;
using ClaudeStack.Gateway.Streaming;
using Names = ClaudeStack.Gateway.Telemetry.TelemetryNames.Attributes;

namespace ClaudeStack.Gateway.Telemetry;

/// <summary>
/// The telemetry of one model call: a CLIENT span named <c>chat {model}</c>, tags added as they become known,
/// and the GenAI metrics recorded once at the end. Failures are reported here and nowhere else.
/// </summary>
public sealed class ModelCallTelemetry : IDisposable
{
    private readonly long _startTimestamp = Stopwatch.GetTimestamp();
    private readonly TagList _metricTags;
    private readonly ILogger _logger;
    private readonly SecretRedactor _redactor;
    private string? _errorType;
    private string? _responseModel;
    private long? _firstChunkTimestamp;
    private bool _finished;

    private ModelCallTelemetry(Activity? activity, TagList metricTags, ILogger logger, SecretRedactor redactor, string model)
    {
        Activity = activity;
        _redactor = redactor;
        _metricTags = metricTags;
        _logger = logger;
        Model = model;
    }

    public Activity? Activity { get; }

    /// <summary>
    /// The routed model's name as telemetry records it. Names come from the client (and the upstream's answer), so a
    /// configured secret typed into one is masked like one typed into a prompt.
    /// </summary>
    public string Model { get; }

    /// <summary>Starts the span for a call, as a child of the incoming W3C trace context when there is one.</summary>
    public static ModelCallTelemetry Start(UpstreamEndpoint upstream, ModelRoute route, bool stream, int? maxTokens, string? conversationId, string? traceParent, string? traceState, ILogger logger, SecretRedactor redactor)
    {
        // ASP.NET Core's own span carries the incoming traceparent when something listens to it; otherwise use the header.
        ActivityContext parent = default;
        if (Activity.Current is null && traceParent is not null)
        {
            ActivityContext.TryParse(traceParent, traceState, isRemote: true, out parent);
        }

        var model = redactor.Redact(route.Routed);
        var activity = GatewayTelemetry.Source.HasListeners()
            ? GatewayTelemetry.Source.StartActivity($"{TelemetryNames.OperationChat} {model}", ActivityKind.Client, parent)
            : null;
        var metricTags = new TagList
        {
            { Names.OperationName, TelemetryNames.OperationChat },
            { Names.ProviderName, upstream.ProviderName },
            { Names.RequestModel, model },
            { Names.ServerAddress, upstream.BaseAddress.Host },
            { Names.ServerPort, upstream.BaseAddress.Port },
        };

        if (activity is { IsAllDataRequested: true })
        {
            AddTag(activity, Names.OperationName, TelemetryNames.OperationChat);
            AddTag(activity, Names.ProviderName, upstream.ProviderName);
            AddTag(activity, Names.RequestModel, model);
            AddTag(activity, Names.RequestStream, stream);
            AddTag(activity, Names.RequestMaxTokens, maxTokens);
            AddTag(activity, Names.ServerAddress, upstream.BaseAddress.Host);
            AddTag(activity, Names.ServerPort, upstream.BaseAddress.Port);
            AddTag(activity, Names.ConversationId, conversationId is null ? null : redactor.Redact(conversationId));
            AddTag(activity, Names.ModelRequested, redactor.Redact(route.Requested));
            AddTag(activity, Names.ModelRoute, RouteName(route.Reason));
        }

        return new ModelCallTelemetry(activity, metricTags, logger, redactor, model);
    }

    public bool RecordsContent => Activity is { IsAllDataRequested: true };

    /// <summary>
    /// Adds an attribute the call records once (all but status and error do): appending skips the search for an
    /// existing key that SetTag makes, which over a span of some twenty attributes adds up on every call.
    /// </summary>
    public void AddTag(string name, object? value) => AddTag(Activity, name, value);

    public void AddEvent(string name, params (string Key, object? Value)[] tags)
    {
        if (Activity is null)
        {
            return;
        }

        var tagList = new ActivityTagsCollection();
        foreach (var (key, value) in tags)
        {
            tagList[key] = value;
        }

        Activity.AddEvent(new ActivityEvent(name, tags: tagList));
    }

    /// <summary>What the gateway knows of the model and the prompt's size, before forwarding.</summary>
    public void RecordModelFacts(ModelInfo? modelInfo, int? contextLength, int estimatedTokens)
    {
        AddTag(Names.EstimatedInputTokens, estimatedTokens);
        AddTag(Names.ContextLength, contextLength);
        AddTag(Names.ContextSource, modelInfo?.ContextSource ?? (contextLength is null ? null : "configured"));
        AddTag(Names.GpuShare, modelInfo?.GpuShare);
    }

    /// <summary>
    /// The prompt, with the least room its answer needs, does not fit the window: span event and attribute, counter,
    /// warning.
    /// </summary>
    public void ReportPromptTooLong(int estimatedTokens, int reservedForOutput, int contextLength, string policy)
    {
        AddTag(Names.PromptTooLong, true);
        AddEvent(
            TelemetryNames.Events.PromptTooLong,
            (Names.EstimatedInputTokens, estimatedTokens), (Names.ReservedForOutput, reservedForOutput), (Names.ContextLength, contextLength), (Names.ContextPolicy, policy));
        GatewayTelemetry.PromptsTooLong.Add(1, new KeyValuePair<string, object?>(Names.RequestModel, Model), new KeyValuePair<string, object?>(Names.ContextPolicy, policy));
        Log.PromptTooLong(_logger, Model, estimatedTokens, reservedForOutput, contextLength, policy);
    }

    /// <summary>The upstream evidently cut the prompt: span event and attribute, counter, warning.</summary>
    public void ReportPromptTruncated(long reportedTokens, int estimatedTokens)
    {
        AddTag(Names.PromptTruncated, true);
        AddEvent(TelemetryNames.Events.PromptTruncated, (Names.EstimatedInputTokens, estimatedTokens), (Names.UsageInputTokens, reportedTokens));
        GatewayTelemetry.PromptsTruncated.Add(1, new KeyValuePair<string, object?>(Names.RequestModel, Model));
        Log.PromptTruncated(_logger, Model, reportedTokens, estimatedTokens);
    }

    /// <summary>A broken tool call: span event naming the tool and the problem, counter by model and kind, warning.</summary>
    public void ReportInvalidToolCall(ToolCallViolation violation)
    {
        // The tool's name is the model's output: as open to a pasted secret as its text.
        var tool = _redactor.Redact(violation.Tool);
        var problem = _redactor.Redact(violation.Problem);
        AddEvent(TelemetryNames.Events.InvalidToolCall, (Names.ToolName, tool), (Names.ToolCallProblemKind, violation.Kind), (Names.ToolCallProblem, problem));
        GatewayTelemetry.InvalidToolCalls.Add(1, new KeyValuePair<string, object?>(Names.RequestModel, Model), new KeyValuePair<string, object?>(Names.ToolCallProblemKind, violation.Kind));
        Log.BadToolCall(_logger, Model, violation.Kind, tool, problem);
    }

    /// <summary>The first bytes of a streamed response arrived.</summary>
    public void MarkFirstChunk() => _firstChunkTimestamp ??= Stopwatch.GetTimestamp();

    /// <summary>Records what the response said: ids, model, finish reason and token usage (its words masked, like its text).</summary>
    public void RecordResponse(ModelResponse response)
    {
        var responseModel = _responseModel = response.Model is null ? null : _redactor.Redact(response.Model);
        if (Activity is not null)
        {
            AddTag(Names.ResponseId, response.Id is null ? null : _redactor.Redact(response.Id));
            AddTag(Names.ResponseModel, responseModel);
            // A stream cut short has no stop reason of its own; it ended in error, as its output message says.
            AddTag(Names.ResponseFinishReasons, new[] { _redactor.Redact(FinishReason.Of(response)) });

            AddTag(Names.UsageInputTokens, response.TotalInputTokens);
            AddTag(Names.UsageOutputTokens, response.OutputTokens);
            AddTag(Names.UsageCacheReadInputTokens, response.CacheReadInputTokens);
            AddTag(Names.UsageCacheCreationInputTokens, response.CacheCreationInputTokens);
            if (response.MalformedEvents > 0)
            {
                AddTag(Names.MalformedEvents, response.MalformedEvents);
            }
        }

        var tags = _metricTags;
        if (responseModel is { } model)
        {
            tags.Add(Names.ResponseModel, model);
        }

        if (response.TotalInputTokens is { } input)
        {
            var inputTags = tags;
            inputTags.Add(Names.TokenType, TelemetryNames.TokenTypes.Input);
            GatewayTelemetry.TokenUsage.Record(input, inputTags);
        }

        if (response.OutputTokens is { } output)
        {
            var outputTags = tags;
            outputTags.Add(Names.TokenType, TelemetryNames.TokenTypes.Output);
            GatewayTelemetry.TokenUsage.Record(output, outputTags);
        }
    }

    /// <summary>Marks the call failed: span status, error.type, a warning log. The first failure wins.</summary>
    public void Fail(string errorType, string message, int? statusCode = null)
    {
        if (_errorType is not null)
        {
            return;
        }

        _errorType = errorType;

        // Upstream error text can quote what the client sent, keys included.
        message = _redactor.Redact(message);
        Activity?.SetStatus(ActivityStatusCode.Error, message);
        Activity?.SetTag(Names.ErrorType, errorType);
        if (statusCode is { } status)
        {
            Activity?.SetTag(Names.HttpResponseStatusCode, status);
        }

        // A user pressing Esc is not a fault worth a warning.
        if (errorType == TelemetryNames.ErrorTypes.ClientClosed)
        {
            Log.ClientClosed(_logger, Model);
        }
        else
        {
            Log.CallFailed(_logger, Model, errorType, statusCode, message);
        }
    }

    /// <summary>The adaptation lowered max_tokens: the span describes the call the model received.</summary>
    public void RecordSentMaxTokens(int maxTokens) => Activity?.SetTag(Names.RequestMaxTokens, maxTokens);

    public void SetStatusCode(int statusCode) => Activity?.SetTag(Names.HttpResponseStatusCode, statusCode);

    /// <summary>Ends the span and records duration and time to first chunk (on the span too), once.</summary>
    public void Dispose()
    {
        if (_finished)
        {
            return;
        }

        _finished = true;
        var tags = _metricTags;
        if (_responseModel is not null)
        {
            tags.Add(Names.ResponseModel, _responseModel);
        }

        if (_errorType is not null)
        {
            tags.Add(Names.ErrorType, _errorType);
        }

        GatewayTelemetry.OperationDuration.Record(Stopwatch.GetElapsedTime(_startTimestamp).TotalSeconds, tags);
        if (_firstChunkTimestamp is { } first)
        {
            var timeToFirstChunk = Stopwatch.GetElapsedTime(_startTimestamp, first).TotalSeconds;
            if (Activity is not null)
            {
                AddTag(Names.ResponseTimeToFirstChunk, timeToFirstChunk);
            }

            GatewayTelemetry.TimeToFirstChunk.Record(timeToFirstChunk, tags);
        }

        Activity?.Dispose();
    }

    private static void AddTag(Activity? activity, string name, object? value)
    {
        // Unlike SetTag, AddTag would record a null value; an absent value stays absent.
        if (value is not null)
        {
            activity?.AddTag(name, value);
        }
    }

    private static string RouteName(RouteReason reason) => reason switch
    {
        RouteReason.Family => "family",
        RouteReason.Default => "default",
        RouteReason.Unmapped => "unmapped",
        _ => "pass_through",
    };
}
