using Rank1.Elastic;

namespace Rank1.EmbeddedSearch.Querying;

/// <summary>
/// A failure Elasticsearch finds on the shard, while it builds the index's Lucene query or sort
/// (<c>SearchExecutionContext.toQuery</c>, <c>SortBuilder.buildSort</c>) or runs it, rather than while it reads the
/// request: the search reports it as that shard's failure (<see cref="ShardFailure"/>), in a 200 with
/// <c>_shards.failures</c> when other shards answered, or in the <c>search_phase_execution_exception</c> "all shards
/// failed" when none did. Never leaves <see cref="SearchExecutor"/>.
/// </summary>
internal sealed class ShardSearchException : Exception
{
    /// <summary>Creates the failure.</summary>
    /// <param name="failure">What the shard reports as its failure's <c>reason</c>.</param>
    public ShardSearchException(EsException failure)
        : base(failure.Message, failure)
    {
        Failure = failure;
    }

    /// <summary>What the shard reports as its failure's <c>reason</c>.</summary>
    public EsException Failure { get; }

    /// <summary>
    /// Elasticsearch's <c>query_shard_exception</c> (400) for <paramref name="index"/>, with its <c>index_uuid</c> and
    /// <c>index</c>, as <c>new QueryShardException(context, ..)</c> reports it.
    /// </summary>
    /// <param name="index">The index searched.</param>
    /// <param name="reason">The reason.</param>
    /// <param name="cause">Its cause, if any.</param>
    public static ShardSearchException QueryShard(Indexing.SearchIndex index, string reason, EsException? cause = null) =>
        new(new EsException(400, "query_shard_exception", reason, new Dictionary<string, string> { ["index_uuid"] = index.Uuid, ["index"] = index.Name }, cause));

    /// <summary>A text field's <c>fielddataBuilder</c> (<c>TextFieldMapper</c>): the <c>illegal_argument_exception</c> of a sort or aggregation on it, on its index's shard.</summary>
    /// <param name="field">The field.</param>
    /// <param name="index">Its index.</param>
    public static ShardSearchException FielddataDisabled(string field, Indexing.SearchIndex index) => new(EsException.IllegalArgument(
        $"Fielddata is disabled on [{field}] in [{index.Name}]. Text fields are not optimised for operations that require per-document field data like aggregations and sorting, so these operations are disabled by default. Please use a keyword field instead. Alternatively, set fielddata=true on [{field}] in order to load field data by uninverting the inverted index. Note that this can use significant memory."));
}
