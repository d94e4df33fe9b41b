using System.Text.Json.Nodes;
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
    /// <paramref name="mapping"/>, named by the class Elasticsearch 9 picks for it.
    /// </summary>
    public Aggregator For(string name, string type, FieldMapping? mapping)
    {
        var aggregator = new Aggregator(time, AggregatorClass(type, mapping), name);
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

    // The aggregator class Elasticsearch 9's factories build for a mapped field (ValuesSourceRegistry): terms over a keyword
    // field's ordinals GlobalOrdinalsStringTermsAggregator (TermsAggregatorFactory's default execution for a top-level
    // terms), over numbers, dates and booleans (a numeric values source) NumericTermsAggregator; the metrics their own
    // classes (AvgAggregatorFactory: AvgAggregator, ...).
    private static string AggregatorClass(string type, FieldMapping? mapping) => type switch
    {
        "terms" => mapping is { Kind: FieldKind.Keyword } or null ? "GlobalOrdinalsStringTermsAggregator" : "NumericTermsAggregator",
        "min" => "MinAggregator",
        "max" => "MaxAggregator",
        "avg" => "AvgAggregator",
        "sum" => "SumAggregator",
        _ => "ValueCountAggregator",
    };

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
            var breakdown = new JsonObject();
            foreach (var key in BreakdownOrder)
            {
                breakdown[key] = key.EndsWith("_count", StringComparison.Ordinal)
                    ? timers[key[..^"_count".Length]]?.Count ?? 0
                    : timers[key]?.Nanos ?? 0;
            }

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
