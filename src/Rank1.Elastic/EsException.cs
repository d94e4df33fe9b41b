using System.Text.Json.Nodes;

namespace Rank1.Elastic;

/// <summary>
/// An error as Elasticsearch reports it: an HTTP status and
/// <c>{"error":{"root_cause":[..],"type":..,"reason":..,..},"status":N}</c>. The one error type of the proxy's own
/// answers and of the embedded backend's, and the one place that renders the body (<see cref="ToBody"/>), with
/// <c>error_trace</c>'s <c>stack_trace</c>.
/// </summary>
public sealed class EsException : Exception
{
    /// <summary>Creates the error.</summary>
    public EsException(int status, string type, string reason, IReadOnlyDictionary<string, string>? extra = null)
        : base(reason)
    {
        Status = status;
        Type = type;
        Extra = extra ?? new Dictionary<string, string>();
    }

    /// <summary>Creates an error with no details.</summary>
    public EsException()
        : this(500, "exception", "error")
    {
    }

    /// <summary>Creates an error with a message.</summary>
    public EsException(string message)
        : this(500, "exception", message)
    {
    }

    /// <summary>Creates an error with a message and cause.</summary>
    public EsException(string message, Exception innerException)
        : base(message, innerException)
    {
        Status = 500;
        Type = "exception";
        Extra = new Dictionary<string, string>();
    }

    // A search-phase failure: Elasticsearch reports the shard-level cause as root cause, caused_by and failed_shards.
    private EsException(int status, string type, string reason, EsException shardCause)
        : this(status, type, reason)
    {
        ShardCause = shardCause;
    }

    private EsException? ShardCause { get; }

    /// <summary>HTTP status.</summary>
    public int Status { get; }

    /// <summary>Elasticsearch error type, e.g. <c>index_not_found_exception</c>.</summary>
    public string Type { get; }

    /// <summary>Extra fields of the error object (<c>index</c>, <c>resource.id</c>, ...).</summary>
    public IReadOnlyDictionary<string, string> Extra { get; }

    /// <summary>The <c>error</c> object (without the outer <c>status</c>).</summary>
    public JsonObject ToErrorObject()
    {
        JsonObject Cause()
        {
            var o = new JsonObject { ["type"] = Type, ["reason"] = Message };
            foreach (var (k, v) in Extra)
            {
                o[k] = v;
            }

            return o;
        }

        if (ShardCause is { } shard)
        {
            var cause = shard.ToErrorObject();
            cause.Remove("root_cause");
            return new JsonObject
            {
                ["root_cause"] = new JsonArray(cause.DeepClone()),
                ["type"] = Type,
                ["reason"] = Message,
                ["phase"] = "query",
                ["grouped"] = true,
                ["failed_shards"] = new JsonArray(new JsonObject { ["shard"] = -1, ["index"] = null, ["reason"] = cause.DeepClone() }),
                ["caused_by"] = cause,
            };
        }

        var error = Cause();
        error.Insert(0, "root_cause", new JsonArray(Cause()));
        return error;
    }

    /// <summary>
    /// The full body: <c>{"error":{..},"status":N}</c>. With <paramref name="trace"/> (Elasticsearch's
    /// <c>error_trace</c>: the exception that really failed, this one or another the error stands for), the error and
    /// each root cause carry its <see cref="Exception.ToString"/> as their last field, <c>stack_trace</c>.
    /// </summary>
    public JsonObject ToBody(Exception? trace = null)
    {
        var error = ToErrorObject();
        if (trace is not null)
        {
            var stackTrace = trace.ToString();
            foreach (var cause in (error["root_cause"] as JsonArray ?? []).OfType<JsonObject>().Append(error))
            {
                cause["stack_trace"] = stackTrace;
            }
        }

        return new JsonObject { ["error"] = error, ["status"] = Status };
    }

    /// <summary><c>index_not_found_exception</c> (404) for <paramref name="index"/>.</summary>
    public static EsException IndexNotFound(string index) => new(404, "index_not_found_exception", $"no such index [{index}]",
        new Dictionary<string, string> { ["resource.type"] = "index_or_alias", ["resource.id"] = index, ["index_uuid"] = "_na_", ["index"] = index });

    /// <summary>A search whose every shard failed with <paramref name="cause"/>, with the cause's status.</summary>
    public static EsException AllShardsFailed(EsException cause)
    {
        ArgumentNullException.ThrowIfNull(cause);
        return new(cause.Status, "search_phase_execution_exception", "all shards failed", cause);
    }

    /// <summary><c>parsing_exception</c> (400).</summary>
    public static EsException Parsing(string reason) => new(400, "parsing_exception", reason);

    /// <summary><c>illegal_argument_exception</c> (400).</summary>
    public static EsException IllegalArgument(string reason) => new(400, "illegal_argument_exception", reason);
}
