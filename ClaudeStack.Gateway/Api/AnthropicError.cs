using System.Collections.Frozen;
using System.Text;
using System.Text.Json;

namespace ClaudeStack.Gateway.Api;

/// <summary>
/// An error in the Anthropic form <c>{"type":"error","error":{"type":..,"message":..},"request_id":..}</c>.
/// </summary>
public sealed record AnthropicError(int StatusCode, string Type, string Message) : IResult
{
    public const string InvalidRequest = "invalid_request_error";
    public const string Authentication = "authentication_error";
    public const string Permission = "permission_error";
    public const string NotFound = "not_found_error";
    public const string Conflict = "conflict_error";
    public const string RequestTooLarge = "request_too_large";
    public const string RateLimit = "rate_limit_error";
    public const string Api = "api_error";
    public const string Timeout = "timeout_error";
    public const string Overloaded = "overloaded_error";
    public const string Billing = "billing_error";

    private static readonly FrozenSet<string> Types =
        new[] { InvalidRequest, Authentication, Permission, NotFound, Conflict, RequestTooLarge, RateLimit, Api, Timeout, Overloaded, Billing }.ToFrozenSet(StringComparer.Ordinal);

    /// <summary>
    /// An upstream's error type as telemetry records it: one of the Messages API's, otherwise <paramref name="fallback"/>.
    /// The type is the upstream's text, and as a metric tag it must stay one of a few.
    /// </summary>
    public static string KnownTypeOr(string? type, string fallback) => type is not null && Types.Contains(type) ? type : fallback;

    /// <summary>
    /// The error type Anthropic uses for a status. Claude Code retries 408, 409, 429 and 5xx (529 included)
    /// and gives up on other 4xx, so the status matters more than the type.
    /// </summary>
    public static string TypeForStatus(int statusCode) => statusCode switch
    {
        400 or 422 => InvalidRequest,
        401 => Authentication,
        403 => Permission,
        404 => NotFound,
        409 => Conflict,
        413 => RequestTooLarge,
        429 => RateLimit,
        504 => Timeout,
        503 or 529 => Overloaded,
        _ when statusCode >= 500 => Api,
        _ => InvalidRequest,
    };

    /// <summary>The status Anthropic answers with for an error type, for an error that came as an event.</summary>
    public static int StatusForType(string? type) => type switch
    {
        InvalidRequest => 400,
        Authentication => 401,
        Billing => 402,
        Permission => 403,
        NotFound => 404,
        Conflict => 409,
        RequestTooLarge => 413,
        RateLimit => 429,
        Timeout => 504,
        Overloaded => 529,
        _ => 500,
    };

    public static AnthropicError ForStatus(int statusCode, string message) => new(statusCode, TypeForStatus(statusCode), message);

    public static AnthropicError BadRequest(string message) => new(400, InvalidRequest, message);

    /// <param name="requestId">The call's id (<see cref="RequestIds"/>), left out when null.</param>
    public byte[] ToJsonBytes(string? requestId)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("type", "error");
            writer.WriteStartObject("error");
            writer.WriteString("type", Type);
            writer.WriteString("message", Message);
            writer.WriteEndObject();
            if (requestId is not null)
            {
                writer.WriteString("request_id", requestId);
            }

            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }

    /// <summary>The same error as an SSE event, for streams whose headers are already sent.</summary>
    public byte[] ToSseEvent(string? requestId) => Streaming.SseEvents.Error(ToJsonBytes(requestId));

    public Task ExecuteAsync(HttpContext httpContext) => WriteAsync(httpContext.Response, httpContext.RequestAborted);

    public Task WriteAsync(HttpResponse response, CancellationToken cancellationToken)
    {
        var requestId = RequestIds.Of(response.HttpContext);
        var body = ToJsonBytes(requestId);
        response.StatusCode = StatusCode;
        response.Headers[RequestIds.Header] = requestId;
        response.ContentType = "application/json";
        response.ContentLength = body.Length;
        return response.Body.WriteAsync(body, cancellationToken).AsTask();
    }

    /// <summary>
    /// Turns an upstream error body into Anthropic form. Anthropic-shaped bodies are kept as they are;
    /// Ollama's <c>{"error":"..."}</c>, OpenAI-style <c>{"error":{"message":..}}</c> and plain text are wrapped.
    /// </summary>
    /// <param name="requestId">The gateway's id for the call, given to a body it wraps (the upstream's own is kept).</param>
    /// <returns>The body to send, its error type (for telemetry) and its message.</returns>
    public static (byte[] Body, string ErrorType, string Message) NormalizeUpstream(int statusCode, ReadOnlySpan<byte> body, string? requestId)
    {
        string? message = null;
        try
        {
            var reader = new Utf8JsonReader(body);
            using var document = JsonDocument.ParseValue(ref reader);
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("error", out var error))
            {
                if (root.TryGetProperty("type", out var type) && type.ValueEquals("error")
                    && error.ValueKind == JsonValueKind.Object && error.TryGetProperty("type", out var errorType)
                    && errorType.ValueKind == JsonValueKind.String)
                {
                    var text = error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString()! : "";
                    return (body.ToArray(), KnownTypeOr(errorType.GetString(), TypeForStatus(statusCode)), text);
                }

                message = error.ValueKind switch
                {
                    JsonValueKind.String => error.GetString(),
                    JsonValueKind.Object when error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String => m.GetString(),
                    _ => error.GetRawText(),
                };
            }
        }
        catch (Exception exception) when (exception is JsonException or InvalidOperationException)
        {
            // Not JSON (or not readable): use the text itself.
        }

        message ??= body.IsEmpty ? $"upstream answered {statusCode} with no body" : Truncate(Encoding.UTF8.GetString(body), 2000);
        var normalized = ForStatus(statusCode, message);
        return (normalized.ToJsonBytes(requestId), normalized.Type, message);
    }

    private static string Truncate(string text, int max) => text.Length <= max ? text : text[..max] + "…";
}
