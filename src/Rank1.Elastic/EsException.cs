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

    /// <summary>
    /// Creates an error caused by <paramref name="causedBy"/>, rendered as its <c>caused_by</c>, as Elasticsearch renders
    /// an exception's cause.
    /// </summary>
    /// <param name="status">HTTP status.</param>
    /// <param name="type">Elasticsearch error type.</param>
    /// <param name="reason">The reason.</param>
    /// <param name="extra">Extra fields of the error object (<c>index_uuid</c>, <c>index</c>, ...).</param>
    /// <param name="causedBy">The cause.</param>
    public EsException(int status, string type, string reason, IReadOnlyDictionary<string, string>? extra, EsException? causedBy)
        : base(reason, causedBy)
    {
        Status = status;
        Type = type;
        Extra = extra ?? new Dictionary<string, string>();
    }

    // A search-phase failure (Elasticsearch's SearchPhaseExecutionException): its shard failures, and the cause it
    // renders as caused_by (null: none).
    private EsException(int status, string phase, IReadOnlyList<ShardFailure> failures, EsException? searchCause)
        : this(status, "search_phase_execution_exception", "all shards failed")
    {
        Phase = phase;
        ShardFailures = failures;
        SearchCause = searchCause;
    }

    private string? Phase { get; }

    private IReadOnlyList<ShardFailure>? ShardFailures { get; }

    private EsException? SearchCause { get; }

    // False for what Elasticsearch reports but did not make itself (a Java or Lucene exception such as
    // illegal_argument_exception or number_format_exception): its root-cause guess stops above it.
    private bool OwnType { get; init; } = true;

    /// <summary>HTTP status.</summary>
    public int Status { get; }

    /// <summary>Elasticsearch error type, e.g. <c>index_not_found_exception</c>.</summary>
    public string Type { get; }

    /// <summary>Extra fields of the error object (<c>index</c>, <c>resource.id</c>, ...).</summary>
    public IReadOnlyDictionary<string, string> Extra { get; }

    /// <summary>Extra fields of the error object that are numbers, written before <see cref="Extra"/> (a circuit breaker's <c>bytes_wanted</c>, <c>bytes_limit</c>).</summary>
    public IReadOnlyDictionary<string, long> Numbers { get; init; } = new Dictionary<string, long>();

    /// <summary>
    /// Extra fields of the error object that are lists, written after <see cref="Extra"/> (Elasticsearch's metadata of
    /// several values, as <c>IndexNotFoundException</c>'s <c>resource.id</c> for several expressions).
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Lists { get; init; } = new Dictionary<string, IReadOnlyList<string>>();

    /// <summary>The cause, rendered as <c>caused_by</c>.</summary>
    public EsException? CausedBy => InnerException as EsException;

    /// <summary>
    /// The same error as OpenSearch words it, where its words differ (a JSON syntax error: <see cref="RequestJson.ParseFailure"/>);
    /// null where they are the same. Set once, where the error is made.
    /// </summary>
    internal EsException? OpenSearchForm { get; set; }

    /// <summary>This error as the engine of the flavour answers it: <see cref="OpenSearchForm"/> for OpenSearch where there is one.</summary>
    /// <param name="openSearch">Whether the engine is OpenSearch.</param>
    internal EsException For(bool openSearch) => openSearch && OpenSearchForm is { } form ? form : this;

    /// <summary>The <c>error</c> object (without the outer <c>status</c>).</summary>
    public JsonObject ToErrorObject()
    {
        if (ShardFailures is { } failures)
        {
            // SearchPhaseExecutionException: root causes are the grouped shard failures' guessed root causes; then its
            // metadataToXContent (phase, grouped, failed_shards) and its cause, if any.
            var grouped = Grouped(failures);
            var error = new JsonObject
            {
                ["root_cause"] = new JsonArray(grouped.SelectMany(f => RootCauses(f.Reason)).Select(r => (JsonNode)r.Object(withCause: false)).ToArray()),
                ["type"] = Type,
                ["reason"] = Message,
                ["phase"] = Phase,
                ["grouped"] = true,
                ["failed_shards"] = new JsonArray(grouped.Select(f => (JsonNode)f.ToJson()).ToArray()),
            };
            if (SearchCause is { } cause)
            {
                error["caused_by"] = cause.Object(withCause: true);
            }

            return error;
        }

        var body = Object(withCause: true);
        body.Insert(0, "root_cause", new JsonArray(RootCauses(this).Select(r => (JsonNode)r.Object(withCause: false)).ToArray()));
        return body;
    }

    /// <summary>The error as a cause (<c>caused_by</c>, a shard failure's <c>reason</c>): type, reason, extra fields, and its own cause.</summary>
    internal JsonObject ToCauseObject() => Object(withCause: true);

    private JsonObject Object(bool withCause)
    {
        var o = new JsonObject { ["type"] = Type, ["reason"] = Message };
        foreach (var (k, v) in Numbers)
        {
            o[k] = v;
        }

        foreach (var (k, v) in Extra)
        {
            o[k] = v;
        }

        foreach (var (k, v) in Lists)
        {
            o[k] = new JsonArray(v.Select(x => (JsonNode?)x).ToArray());
        }

        if (withCause && CausedBy is { } cause)
        {
            o["caused_by"] = cause.Object(withCause: true);
        }

        return o;
    }

    // ElasticsearchException.guessRootCauses: down the causes while they are Elasticsearch's own; an exception that is
    // not is reported by a wrapper of its type and reason, whose cause it is.
    private static IEnumerable<EsException> RootCauses(EsException e)
    {
        if (!e.OwnType)
        {
            // An XContentParseException is unwrapped down to its cause when that is another one or Elasticsearch's own.
            return e.Type is "x_content_parse_exception" or "named_object_not_found_exception" && e.CausedBy is { } cause
                && (cause.OwnType || cause.Type is "x_content_parse_exception" or "named_object_not_found_exception" or "x_content_e_o_f_exception")
                ? RootCauses(cause)
                : [Wrapper(e)];
        }

        var root = e;
        while (root.CausedBy is { OwnType: true } deeper)
        {
            root = deeper;
        }

        return [root];
    }

    private static EsException Wrapper(EsException e) => new(e.Status, e.Type, e.Message, null, e);

    // ExceptionsHelper.groupBy: one failure per index, reason and cause type, in order.
    private static List<ShardFailure> Grouped(IReadOnlyList<ShardFailure> failures) =>
        failures.DistinctBy(f => (f.Index ?? f.Reason.Extra.GetValueOrDefault("index"), f.Reason.Message, f.Reason.Type, f.Reason.OwnType)).ToList();

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

    /// <summary>
    /// A search whose every shard failed with <paramref name="cause"/>, on no shard it could name (a scroll or point in
    /// time that is gone): <c>failed_shards</c> with shard -1, the cause as <c>caused_by</c>, and the cause's status.
    /// </summary>
    /// <param name="cause">What failed.</param>
    public static EsException AllShardsFailed(EsException cause)
    {
        ArgumentNullException.ThrowIfNull(cause);
        return new(cause.Status, "query", [new ShardFailure(-1, null, null, cause)], cause);
    }

    /// <summary>
    /// Elasticsearch's <c>search_phase_execution_exception</c> "all shards failed" for a search whose every shard
    /// failed (<c>AbstractSearchAsyncAction.executeNextPhase</c>): the grouped failures' root causes, <c>phase</c>,
    /// <c>grouped</c>, <c>failed_shards</c>, <c>caused_by</c> when the first failure's root cause is not that failure's
    /// reason itself, and the status <c>SearchPhaseExecutionException.status()</c> computes from the failures.
    /// </summary>
    /// <param name="phase">The phase that failed (<c>query</c>).</param>
    /// <param name="failures">Each shard's failure, in shard order.</param>
    internal static EsException AllShardsFailed(string phase, IReadOnlyList<ShardFailure> failures)
    {
        ArgumentNullException.ThrowIfNull(failures);
        if (failures.Count == 0)
        {
            throw new ArgumentException("a search phase fails with at least one shard failure", nameof(failures));
        }

        // The cause is the first grouped failure's first guessed root cause, left out (deduplicateCause) when it is that
        // failure's reason itself.
        var first = failures[0].Reason;
        var root = RootCauses(first).First();
        return new(SearchStatus(failures), phase, failures, ReferenceEquals(root, first) ? null : root);
    }

    // SearchPhaseExecutionException.status(): a retryable 502-504 first, else the last 5xx, else the first failure's.
    private static int SearchStatus(IReadOnlyList<ShardFailure> failures)
    {
        int? status = null;
        foreach (var failure in failures)
        {
            var code = failure.Reason.Status;
            if (code is >= 502 and <= 504)
            {
                return code;
            }

            if (code >= 500)
            {
                status = code;
            }
        }

        return status ?? failures[0].Reason.Status;
    }

    /// <summary>
    /// An exception Elasticsearch reports but that is not one of its own (a Java or Lucene exception:
    /// <c>number_format_exception</c>, Lucene's <c>parse_exception</c>): a root-cause guess stops above it, and reports it
    /// through a wrapper of its type and reason, as <c>ElasticsearchException.guessRootCauses</c> does.
    /// </summary>
    /// <param name="status">HTTP status (<c>ExceptionsHelper.status</c>: 400 for an illegal argument, else 500).</param>
    /// <param name="type">Its type, as Elasticsearch names the class.</param>
    /// <param name="reason">Its message.</param>
    /// <param name="causedBy">Its cause, if any.</param>
    internal static EsException Foreign(int status, string type, string reason, EsException? causedBy = null) =>
        new(status, type, reason, null, causedBy) { OwnType = false };

    /// <summary>
    /// An exception the host did not anticipate (a fault of its own), as Elasticsearch's REST layer answers one that is
    /// none of its own (<c>RestResponse</c>, <c>ElasticsearchException.generateThrowableXContent</c>): a 500 whose type is
    /// the exception's class name in underscore case (<see cref="ExceptionName"/>), whose reason is its message, and whose
    /// <c>caused_by</c> is its inner exception, rendered alike; a root-cause guess reports it through a wrapper of its type
    /// and reason (<see cref="Foreign"/>). Its stack trace only with <c>error_trace</c>, as Elasticsearch's.
    /// </summary>
    /// <param name="exception">What was thrown.</param>
    internal static EsException Unanticipated(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return Foreign(500, ExceptionName(exception.GetType()), exception.Message, exception.InnerException is { } inner ? Unanticipated(inner) : null);
    }

    /// <summary>
    /// <c>ElasticsearchException.getExceptionName</c>: the class's simple name (a generic one's without its arity), each
    /// upper-case letter but a leading one turned into an underscore and its lower case (<c>toUnderscoreCase</c>):
    /// <c>InvalidOperationException</c> is <c>invalid_operation_exception</c>, <c>IOException</c> <c>i_o_exception</c>.
    /// </summary>
    /// <param name="type">The exception's type.</param>
    internal static string ExceptionName(Type type)
    {
        ArgumentNullException.ThrowIfNull(type);
        var name = type.Name;
        var arity = name.IndexOf('`', StringComparison.Ordinal);
        var simple = arity < 0 ? name : name[..arity];
        var underscored = new System.Text.StringBuilder(simple.Length + 8);
        for (var i = 0; i < simple.Length; i++)
        {
            if (char.IsUpper(simple[i]))
            {
                if (i > 0)
                {
                    underscored.Append('_');
                }

                underscored.Append(char.ToLowerInvariant(simple[i]));
            }
            else
            {
                underscored.Append(simple[i]);
            }
        }

        return underscored.ToString();
    }

    /// <summary><c>parsing_exception</c> (400).</summary>
    public static EsException Parsing(string reason) => new(400, "parsing_exception", reason);

    /// <summary>
    /// <c>parsing_exception</c> (400) raised at the token <paramref name="at"/>: <c>ParsingException.metadataToXContent</c>
    /// writes its <c>line</c> and <c>col</c> after the reason (and in each root cause it is), none when unknown.
    /// </summary>
    /// <param name="reason">The reason.</param>
    /// <param name="at">Where the parser stood, or null.</param>
    /// <param name="causedBy">Its cause, if any.</param>
    internal static EsException Parsing(string reason, Location? at, EsException? causedBy = null) =>
        new(400, "parsing_exception", reason, null, causedBy)
        {
            Numbers = at is { } l ? new Dictionary<string, long> { ["line"] = l.Line, ["col"] = l.Column } : new Dictionary<string, long>(),
        };

    /// <summary>
    /// An <c>x_content_parse_exception</c> (400) raised at <paramref name="at"/>: Jackson's or <c>ObjectParser</c>'s error,
    /// whose reason starts with the place (<c>[1:23] [bool] unknown field [x]</c>). Not one of Elasticsearch's own
    /// exceptions: a root-cause guess goes down through it to a cause that is (<see cref="RootCauses"/>).
    /// </summary>
    /// <param name="reason">The reason, without the place.</param>
    /// <param name="at">Where the parser stood, or null.</param>
    /// <param name="causedBy">Its cause, if any.</param>
    /// <param name="type">Its type: <c>x_content_parse_exception</c>, or a subclass's (<c>named_object_not_found_exception</c>).</param>
    internal static EsException XContentParse(string reason, Location? at, EsException? causedBy = null, string type = "x_content_parse_exception") =>
        Foreign(400, type, at is { } l ? $"{l} {reason}" : reason, causedBy);

    /// <summary>
    /// A field an <c>ObjectParser</c> declares whose value failed to parse, as <c>ObjectParser.parseValue</c> wraps the
    /// failure in Elasticsearch and OpenSearch alike: an <c>x_content_parse_exception</c> "[terms] failed to parse field
    /// [size]" where the parser stands (on the value), caused by <paramref name="inner"/>. Its OpenSearch form is caused by
    /// <paramref name="inner"/>'s (Jackson's own error, unwrapped: <see cref="JacksonSyntax.AccessorFailure"/>), a 400 as
    /// the wrapper is, not the 500 OpenSearch 2.19.1 answers for a bare <c>input_coercion_exception</c>.
    /// </summary>
    /// <param name="parser">The ObjectParser's name.</param>
    /// <param name="field">The field.</param>
    /// <param name="at">Where the parser stood, or null.</param>
    /// <param name="inner">What failed.</param>
    internal static EsException FailedToParseField(string parser, string field, Location? at, EsException inner)
    {
        var reason = $"[{parser}] failed to parse field [{field}]";
        var wrapped = XContentParse(reason, at, inner);
        wrapped.OpenSearchForm = XContentParse(reason, at, inner.For(openSearch: true));
        return wrapped;
    }

    /// <summary>
    /// A value an <c>ObjectParser</c> read that the builder's setter it calls refused (TermsAggregationBuilder's
    /// <c>size</c>, AbstractHighlighterBuilder's <c>maxAnalyzedOffset</c>): <c>ObjectParser.parseValue</c> wraps the
    /// setter's <c>IllegalArgumentException</c> as "[terms] failed to parse field [size]" where the parser stands, on the
    /// value (<see cref="FailedToParseField"/>).
    /// </summary>
    /// <param name="parser">The ObjectParser's name.</param>
    /// <param name="spec">The object it reads.</param>
    /// <param name="key">The field, present in <paramref name="spec"/>.</param>
    /// <param name="refusal">The setter's message.</param>
    internal static EsException SetterRefused(string parser, JsonObject spec, string key, string refusal) =>
        FailedToParseField(parser, key, JsonLocations.OfValue(spec, key), IllegalArgument(refusal));

    /// <summary>Where a <see cref="Parsing(string, Location?, EsException?)"/> error was raised, or null.</summary>
    internal Location? At => Numbers.TryGetValue("line", out var line) && Numbers.TryGetValue("col", out var col) ? new Location((int)line, (int)col) : null;

    /// <summary><c>illegal_argument_exception</c> (400).</summary>
    public static EsException IllegalArgument(string reason) => Foreign(400, "illegal_argument_exception", reason);
}

/// <summary>One shard's failure in a search, as Elasticsearch's <c>ShardSearchFailure</c> reports it.</summary>
/// <param name="Shard">The shard number (-1 when there is no shard to name).</param>
/// <param name="Index">The index (null when there is no shard to name).</param>
/// <param name="Node">The node that ran the shard (null: left out).</param>
/// <param name="Reason">What failed.</param>
internal sealed record ShardFailure(int Shard, string? Index, string? Node, EsException Reason)
{
    /// <summary><c>ShardSearchFailure.toXContent</c>: <c>shard</c>, <c>index</c>, <c>node</c> when there is one, <c>reason</c>.</summary>
    public JsonObject ToJson()
    {
        var o = new JsonObject { ["shard"] = Shard, ["index"] = Index };
        if (Node is not null)
        {
            o["node"] = Node;
        }

        o["reason"] = Reason.ToCauseObject();
        return o;
    }
}
