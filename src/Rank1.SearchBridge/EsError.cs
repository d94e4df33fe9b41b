using System.Text.Json.Nodes;

namespace Rank1.SearchBridge;

/// <summary>
/// An error the proxy itself answers, in Elasticsearch's shape:
/// <c>{"error":{"root_cause":[..],"type":..,"reason":..},"status":N}</c>.
/// </summary>
public sealed class EsError : Exception
{
    /// <summary>Creates the error.</summary>
    public EsError(int status, string type, string reason)
        : base(reason)
    {
        Status = status;
        Type = type;
    }

    /// <summary>Creates a 500 error.</summary>
    public EsError()
        : this(500, "exception", "error")
    {
    }

    /// <summary>Creates a 500 error.</summary>
    public EsError(string message)
        : this(500, "exception", message)
    {
    }

    /// <summary>Creates a 500 error with a cause.</summary>
    public EsError(string message, Exception innerException)
        : base(message, innerException)
    {
        Status = 500;
        Type = "exception";
    }

    /// <summary>HTTP status.</summary>
    public int Status { get; }

    /// <summary>Error type.</summary>
    public string Type { get; }

    /// <summary>The <c>error</c> object; with <paramref name="stackTrace"/> (Elasticsearch's <c>error_trace</c>), each cause carries it as <c>stack_trace</c>.</summary>
    public JsonObject ErrorObject(string? stackTrace = null)
    {
        var error = Cause(stackTrace);
        error.Insert(0, "root_cause", new JsonArray(Cause(stackTrace)));
        return error;
    }

    /// <summary>The whole body; <paramref name="stackTrace"/> as in <see cref="ErrorObject"/>.</summary>
    public JsonObject Body(string? stackTrace = null) => new() { ["error"] = ErrorObject(stackTrace), ["status"] = Status };

    private JsonObject Cause(string? stackTrace)
    {
        var cause = new JsonObject { ["type"] = Type, ["reason"] = Message };
        if (stackTrace is not null)
        {
            cause["stack_trace"] = stackTrace;
        }

        return cause;
    }

    internal static EsError BadRequest(string reason) => new(400, "illegal_argument_exception", reason);

    internal static EsError Parsing(string reason) => new(400, "parsing_exception", reason);
}
