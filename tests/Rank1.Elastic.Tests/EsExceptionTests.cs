using System.Text.Json;

namespace Rank1.Elastic.Tests;

/// <summary>
/// The one Elasticsearch error body, as proxy and embedded backend write it: field order, extras, a search-phase
/// failure's shard cause, and <c>error_trace</c>'s <c>stack_trace</c> on the error and each root cause only.
/// </summary>
public sealed class EsExceptionTests
{
    private const string IndexNotFound =
        """{"type":"index_not_found_exception","reason":"no such index [ghost]","resource.type":"index_or_alias","resource.id":"ghost","index_uuid":"_na_","index":"ghost"}""";

    [Fact]
    public void Body_IsElasticsearchsShape()
    {
        Assert.Equal(
            """{"error":{"root_cause":[{"type":"parsing_exception","reason":"bad [size]"}],"type":"parsing_exception","reason":"bad [size]"},"status":400}""",
            EsException.Parsing("bad [size]").ToBody().ToJsonString());
        Assert.Equal(
            $$"""{"root_cause":[{{IndexNotFound}}],{{IndexNotFound[1..^1]}}}""",
            EsException.IndexNotFound("ghost").ToErrorObject().ToJsonString());
    }

    [Theory]
    // ElasticsearchException.getExceptionName: the simple class name through Strings.toUnderscoreCase (every upper-case
    // letter but a leading one an underscore and its lower case), as ES names NullPointerException null_pointer_exception.
    [InlineData(typeof(InvalidOperationException), "invalid_operation_exception")]
    [InlineData(typeof(IOException), "i_o_exception")]
    [InlineData(typeof(NullReferenceException), "null_reference_exception")]
    [InlineData(typeof(Dictionary<string, int>), "dictionary")]
    public void ExceptionName_IsTheClassNameInUnderscoreCase(Type type, string expected) =>
        Assert.Equal(expected, EsException.ExceptionName(type));

    [Fact]
    public void Unanticipated_ItsInnerIsTheCause_AndItselfTheRootCause()
    {
        // generateThrowableXContent of an exception that is none of Elasticsearch's: its cause as caused_by; guessRootCauses
        // unwraps only Elasticsearch's wrappers, so the root cause is the exception itself, not its inner one.
        var body = EsException.Unanticipated(new InvalidOperationException("outer", new IOException("disk"))).ToBody().ToJsonString();
        Assert.Equal(
            """{"error":{"root_cause":[{"type":"invalid_operation_exception","reason":"outer"}],"type":"invalid_operation_exception","reason":"outer","caused_by":{"type":"i_o_exception","reason":"disk"}},"status":500}""",
            body);
    }

    [Fact]
    public void ErrorTrace_AddsTheStackTraceLastToTheErrorAndEachRootCause()
    {
        var error = Thrown(EsException.IllegalArgument("no"));
        var trace = JsonSerializer.Serialize(error.ToString());
        Assert.Equal(
            $$"""{"error":{"root_cause":[{"type":"illegal_argument_exception","reason":"no","stack_trace":{{trace}}}],"type":"illegal_argument_exception","reason":"no","stack_trace":{{trace}}},"status":400}""",
            error.ToBody(error).ToJsonString());
    }

    [Fact]
    public void ErrorTrace_CarriesTheExceptionThatFailed()
    {
        // The proxy answers a backend outage as an EsException; the trace is that of the outage.
        var outage = Thrown(new TimeoutException("the backend did not answer"));
        var body = new EsException(504, "rank1_backend_timeout_exception", "the backend did not answer").ToBody(outage);
        Assert.Equal(outage.ToString(), body["error"]!["stack_trace"]!.GetValue<string>());
        Assert.Equal(outage.ToString(), body["error"]!["root_cause"]![0]!["stack_trace"]!.GetValue<string>());
        Assert.StartsWith("System.TimeoutException: the backend did not answer", outage.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void AllShardsFailed_ReportsTheShardCause_WithTheTraceOnTheRootCauseOnly()
    {
        var missing = new EsException(404, "search_context_missing_exception", "No search context found for id [7]");
        var error = Thrown(EsException.AllShardsFailed(missing));
        Assert.Equal(404, error.Status);
        const string cause = """{"type":"search_context_missing_exception","reason":"No search context found for id [7]"}""";
        Assert.Equal(
            $$"""{"error":{"root_cause":[{{cause}}],"type":"search_phase_execution_exception","reason":"all shards failed","phase":"query","grouped":true,"failed_shards":[{"shard":-1,"index":null,"reason":{{cause}}}],"caused_by":{{cause}}},"status":404}""",
            error.ToBody().ToJsonString());

        var trace = JsonSerializer.Serialize(error.ToString());
        var traced = $$"""{"type":"search_context_missing_exception","reason":"No search context found for id [7]","stack_trace":{{trace}}}""";
        Assert.Equal(
            $$"""{"error":{"root_cause":[{{traced}}],"type":"search_phase_execution_exception","reason":"all shards failed","phase":"query","grouped":true,"failed_shards":[{"shard":-1,"index":null,"reason":{{cause}}}],"caused_by":{{cause}},"stack_trace":{{trace}}},"status":404}""",
            error.ToBody(error).ToJsonString());
    }

    [Fact]
    public void AllShardsFailed_OfShardFailures_IsSearchPhaseExecutionException()
    {
        // SearchPhaseExecutionException.status(): a retryable 502-504 wins, else the last 5xx, else the first failure's.
        var bad = new EsException(400, "query_shard_exception", "bad", new Dictionary<string, string> { ["index_uuid"] = "u", ["index"] = "a" });
        var down = new EsException(503, "node_not_connected_exception", "down");
        var broken = new EsException(500, "exception", "broken");
        Assert.Equal(400, EsException.AllShardsFailed("query", [new ShardFailure(0, "a", "n", bad)]).Status);
        Assert.Equal(500, EsException.AllShardsFailed("query", [new ShardFailure(0, "a", "n", bad), new ShardFailure(0, "b", "n", broken)]).Status);
        Assert.Equal(503, EsException.AllShardsFailed("query", [new ShardFailure(0, "a", "n", down), new ShardFailure(0, "b", "n", broken)]).Status);

        // ExceptionsHelper.groupBy: the same index, reason and type are one failure; guessRootCauses goes down to the
        // deepest cause of Elasticsearch's own (a parse_exception here), which is then the caused_by.
        var parse = new EsException(400, "parse_exception", "no date", null, EsException.Foreign(400, "illegal_argument_exception", "no date"));
        var shard = new EsException(400, "query_shard_exception", "failed to create query: no date", null, parse);
        var error = EsException.AllShardsFailed("query", [new ShardFailure(0, "a", "n", shard), new ShardFailure(0, "a", "n", shard), new ShardFailure(0, "b", "n", shard)]).ToErrorObject();
        Assert.Equal(["a", "b"], error["failed_shards"]!.AsArray().Select(f => f!["index"]!.GetValue<string>()));
        Assert.Equal("""[{"type":"parse_exception","reason":"no date"},{"type":"parse_exception","reason":"no date"}]""", error["root_cause"]!.ToJsonString());
        Assert.Equal("""{"type":"parse_exception","reason":"no date","caused_by":{"type":"illegal_argument_exception","reason":"no date"}}""", error["caused_by"]!.ToJsonString());
    }

    // A thrown exception, so that its ToString carries a stack trace as the ones the hosts render.
    private static T Thrown<T>(T exception)
        where T : Exception
    {
        try
        {
            throw exception;
        }
        catch (T caught)
        {
            return caught;
        }
    }
}
