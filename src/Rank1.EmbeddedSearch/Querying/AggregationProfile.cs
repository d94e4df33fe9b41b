using System.Text.Json.Nodes;
using Lucene.Net.Index;
using Lucene.Net.Search;
using Rank1.EmbeddedSearch.Indexing;

namespace Rank1.EmbeddedSearch.Querying;

/// <summary>
/// One shard's aggregations in a <c>"profile": true</c> search, as Elasticsearch 9 profiles them: the
/// <c>AggregatorCollector</c> child of the <c>QueryPhaseCollector</c> (reason <c>aggregation</c>) and the shard's
/// <c>aggregations</c> array, one <c>AggregationProfileBreakdown</c> per aggregator; as OpenSearch 2.19 does with the
/// OpenSearch flavor, the collector being the aggregators themselves, beside the chain in its <c>MultiCollector</c>
/// (<see cref="SearchProfile.AggregatedBeside"/>). This backend aggregates in a pass of
/// its own after the query phase (<see cref="Aggregations.Compute"/>): the collector's time is that pass's, reading the
/// matches and each aggregator's values, and each aggregator's <c>collect</c> is its values read from each match.
/// </summary>
/// <param name="time">The clock.</param>
/// <param name="names">The top-level aggregations' names, in the request's order.</param>
/// <param name="flavor">The engine whose profile is written.</param>
internal sealed class AggregationProfile(TimeProvider time, IReadOnlyList<string> names, SearchFlavor flavor)
{
    // AggregationTimingType (Elasticsearch 9, and OpenSearch 2.19 alike), in its order; Elasticsearch's
    // AbstractProfileBreakdown.toBreakdownMap puts each and its _count into Maps.newMapWithExpectedSize(12), a
    // java.util.HashMap of capacity 17 (32 buckets), written as it iterates. OpenSearch's puts its _start_time too (18
    // entries, 32 buckets), which ProfileResult removes: the same order.
    private static readonly string[] Timings = ["initialize", "build_leaf_collector", "collect", "post_collection", "build_aggregation", "reduce"];

    private static readonly string[] BreakdownOrder = JavaHashMap.Order([.. Timings.SelectMany(t => new[] { t, t + "_count" })], initialCapacity: 17);

    private readonly SearchProfile.Timer collecting = new(time);
    private readonly List<Aggregator> aggregators = [];

    /// <summary>The collection of this shard's matches for the aggregations (its documents found and read), timed.</summary>
    public SearchProfile.Timer Collecting => collecting;

    /// <summary>
    /// The collector's time: the matches collected and each aggregator's values read from them (its <c>collect</c>s), as
    /// Elasticsearch's <c>InternalProfileCollector</c> times the aggregators' collection inside its own.
    /// </summary>
    public long CollectorNanos => collecting.Nanos + aggregators.Sum(a => a.Collect.Nanos);

    /// <summary>
    /// The aggregator of the aggregation <paramref name="name"/> of <paramref name="type"/> over a field this shard maps as
    /// <paramref name="mapping"/>, named by the class the flavor's engine picks for it on this shard (<paramref name="shard"/>).
    /// </summary>
    public Aggregator For(string name, string type, FieldMapping? mapping, TermsShard shard)
    {
        var aggregator = new Aggregator(time, AggregatorClass(type, mapping, shard), name);
        aggregators.Add(aggregator);
        return aggregator;
    }

    /// <summary>
    /// The aggregations' collector: <c>InternalProfileCollector.deriveCollectorName</c> appends <c>": [" + toString() + "]"</c>
    /// to the class name for reason <c>aggregation</c>. Elasticsearch 9's is the <c>AggregatorCollector</c>, whose
    /// <c>toString</c> is <c>Arrays.toString</c> of its top-level aggregators' names; OpenSearch 2.19's
    /// (<c>AggregationCollectorManager</c>: <c>MultiBucketCollector.wrap</c>) the one aggregator itself, a
    /// <c>ProfilingAggregator</c> whose <c>toString</c> is its name, or a <c>MultiBucketCollector</c> of several,
    /// <c>Arrays.toString</c> of them.
    /// </summary>
    public JsonObject CollectorJson() => new()
    {
        ["name"] = flavor == SearchFlavor.OpenSearch
            ? names.Count == 1 ? $"ProfilingAggregator: [{names[0]}]" : $"MultiBucketCollector: [[{string.Join(", ", names)}]]"
            : $"AggregatorCollector: [[{string.Join(", ", names)}]]",
        ["reason"] = "aggregation",
        ["time_in_nanos"] = CollectorNanos,
    };

    /// <summary>The shard's <c>aggregations</c> array (<c>AggregationProfileShardResult</c>), in the request's order.</summary>
    public JsonArray ToJson() => new([.. aggregators.Select(a => (JsonNode)a.ToJson())]);

    // The aggregator class the factories build for a field (ValuesSourceRegistry), as the profile names it
    // (InternalAggregationProfileTree.typeFromAggregator: a nested class as "Enclosing.Nested", an anonymous one as its
    // superclass). Terms over a field this shard does not map: TermsAggregatorFactory.createUnmapped's anonymous
    // NonCollectingAggregator; over numbers, dates and booleans (a numeric values source) NumericTermsAggregator; over a
    // keyword field's ordinals, ExecutionMode.MAP's MapStringTermsAggregator for execution_hint "map", else
    // GLOBAL_ORDINALS.create (KeywordTermsClass). The metrics their own classes (AvgAggregatorFactory: AvgAggregator, ...).
    private string AggregatorClass(string type, FieldMapping? mapping, TermsShard shard) => type switch
    {
        "terms" => mapping switch
        {
            null => "NonCollectingAggregator",
            { Kind: not FieldKind.Keyword } => "NumericTermsAggregator",
            _ when shard.ExecutionHint == "map" => "MapStringTermsAggregator",
            _ => KeywordTermsClass(shard),
        },
        "min" => "MinAggregator",
        "max" => "MaxAggregator",
        "avg" => "AvgAggregator",
        "sum" => "SumAggregator",
        _ => "ValueCountAggregator",
    };

    // TermsAggregatorFactory.ExecutionMode.GLOBAL_ORDINALS.create (Elasticsearch 9), maxOrd the shard's distinct terms of
    // the field: with 0 < maxOrd <= MAX_ORDS_TO_TRY_FILTERS (1000), StringTermsAggregatorFromFilters.adaptIntoFiltersOrNull
    // makes it "filter by filter" where FilterByFilterAggregator.AdapterBuilder keeps it valid: a top-level aggregation
    // whose term filters QueryToFilterAdapter.union merges with the top-level query (rewritten in a ConstantScoreQuery,
    // unwrapped) without an inefficient union, that is, a query matching all documents (any other becomes a
    // BooleanQuery of both, isInefficientUnion). (This backend has no _doc_count field, no runtime field, no sub-aggregation
    // needing scores.) Else, as OpenSearch 2.19 always, GlobalOrdinalsStringTermsAggregator.LowCardinality when
    // maxOrd / numDocs <= 0.5 and maxOrd <= 2048 (no sub-aggregations, no include/exclude: this backend refuses them),
    // else GlobalOrdinalsStringTermsAggregator.
    private string KeywordTermsClass(TermsShard shard)
    {
        var reader = shard.Searcher.IndexReader;
        // The distinct terms counted up to 2049: past the 1000 and 2048 thresholds the count does not matter.
        long maxOrd = 0;
        if (MultiFields.GetTerms(reader, shard.Field) is { } terms)
        {
            var each = terms.GetEnumerator();
            while (maxOrd <= 2048 && each.MoveNext())
            {
                maxOrd++;
            }
        }

        if (flavor != SearchFlavor.OpenSearch && maxOrd is > 0 and <= 1000 && FiltersUnionEfficient(shard.Searcher, shard.Query))
        {
            return "StringTermsAggregatorFromFilters";
        }

        return maxOrd / (double)reader.NumDocs <= 0.5 && maxOrd <= 2048
            ? "GlobalOrdinalsStringTermsAggregator.LowCardinality"
            : "GlobalOrdinalsStringTermsAggregator";
    }

    // QueryToFilterAdapter.union's query is no inefficient union where the top-level query matches every document or
    // none: a match_none (here an empty BooleanQuery, Elasticsearch's MatchNoDocsQuery) makes the union's BooleanQuery
    // rewrite to a MatchNoDocsQuery.
    private static bool FiltersUnionEfficient(IndexSearcher searcher, Query query) =>
        TerminateAfterCollector.MatchesAll(searcher, query) || TerminateAfterCollector.MatchesNone(searcher, query);

    /// <summary>What picks a terms aggregator's class on a shard: its searcher, top-level query, field and execution_hint.</summary>
    internal sealed record TermsShard(IndexSearcher Searcher, Query Query, string Field, string? ExecutionHint);

    /// <summary>One aggregator's timers, as <c>AggregationProfileBreakdown</c> keeps them.</summary>
    internal sealed class Aggregator(TimeProvider time, string type, string description)
    {
        /// <summary>Its field resolved on this shard.</summary>
        public SearchProfile.Timer Initialize { get; } = new(time);

        /// <summary>Its values read from each of this shard's matches.</summary>
        public SearchProfile.Timer Collect { get; } = new(time);

        /// <summary>Its result built.</summary>
        public SearchProfile.Timer Build { get; } = new(time);

        // ProfileResult.toXContent: type, description, time_in_nanos (the timings summed), breakdown; debug and children
        // only when there are some (this backend writes no debug, and runs no sub-aggregation).
        public JsonObject ToJson()
        {
            // build_leaf_collector, post_collection and reduce are no step here (the matches are read through the
            // top-level reader; reduce is "reserved for future use" in Elasticsearch): 0, as are their counts.
            var timers = new Dictionary<string, SearchProfile.Timer?>
            {
                ["initialize"] = Initialize,
                ["build_leaf_collector"] = null,
                ["collect"] = Collect,
                ["post_collection"] = null,
                ["build_aggregation"] = Build,
                ["reduce"] = null,
            };
            var breakdown = SearchProfile.Breakdown(BreakdownOrder, timing => timers[timing]);
            return new JsonObject
            {
                ["type"] = type,
                ["description"] = description,
                ["time_in_nanos"] = Initialize.Nanos + Collect.Nanos + Build.Nanos,
                ["breakdown"] = breakdown,
            };
        }
    }
}
