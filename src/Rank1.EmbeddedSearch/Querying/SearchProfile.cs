using System.Text.Json.Nodes;
using Lucene.Net.Index;
using Lucene.Net.Search;
using Lucene.Net.Util;

namespace Rank1.EmbeddedSearch.Querying;

/// <summary>
/// One index's (its one shard's) part of a <c>"profile": true</c> search. By default written as Elasticsearch 9's
/// <c>SearchProfileResults</c> writes a shard: <c>id</c> (<c>[nodeId][index][0]</c>), <c>node_id</c>, <c>shard_id</c>,
/// <c>index</c>, <c>cluster</c> (<c>(local)</c>), <c>searches</c> (one <c>QueryProfileShardResult</c>: <c>query</c>,
/// <c>rewrite_time</c>, <c>collector</c>), <c>aggregations</c> (always written, as <c>AggregationProfileShardResult</c>
/// writes its array) and <c>fetch</c> (only for a shard with hits on the page, as a shard that was not fetched has no
/// fetch result). With the OpenSearch flavor, as OpenSearch 2.19's <c>SearchProfileShardResults.toXContent</c> writes a
/// shard of a search that is not concurrent (its default): <c>id</c>, <c>inbound_network_time_in_millis</c> and
/// <c>outbound_network_time_in_millis</c> (0 on the coordinating node's own shard), <c>searches</c> and
/// <c>aggregations</c>; OpenSearch 2.x profiles no fetch. Times are measured on the injected clock, in nanoseconds.
/// </summary>
/// <param name="time">The clock.</param>
/// <param name="nodeId">The node's id.</param>
/// <param name="index">The index searched.</param>
/// <param name="request">The search: what it collects names the collectors.</param>
/// <param name="flavor">The engine whose profile is written.</param>
/// <param name="postFilter">
/// The search's <c>post_filter</c>, or null. The profiled search applies it as the reference does: not inside the query
/// but to what is collected, through a weight of its own made before the search (Elasticsearch 9's
/// <c>QueryPhase.addCollectorsAndSearch</c> postFilterWeight, in <c>QueryPhaseCollector</c>; OpenSearch 2.19's
/// <c>createFilteredCollectorContext</c>, a <c>FilteredCollector</c>), so that its own query tree is profiled, before the
/// query's (<see cref="Profile"/>, <see cref="PostFiltered"/>). The caller leaves the filter out of the query it profiles.
/// </param>
internal sealed class SearchProfile(TimeProvider time, string nodeId, string index, SearchRequest request, SearchFlavor flavor, Query? postFilter)
{
    // QueryTimingType (Elasticsearch 9), in its order; each written with its _count (AbstractProfileBreakdown.toBreakdownMap).
    private static readonly string[] QueryTimings =
    [
        "create_weight", "count_weight", "build_scorer", "next_doc", "advance", "match", "score", "shallow_advance", "compute_max_score",
        "set_min_competitive_score",
    ];

    // OpenSearch 2.19's AbstractProfileBreakdown.toBreakdownMap puts each QueryTimingType (no count_weight), its _count and
    // its _start_time into a java.util.HashMap, and ProfileResult.toXContent writes a LinkedHashMap copy of it less the
    // _start_time keys: the breakdown's keys come in that HashMap's order (27 entries: 64 buckets).
    // Elasticsearch 9's AbstractProfileBreakdown.toBreakdownMap puts each timing and its _count into
    // Maps.newMapWithExpectedSize(timings.length * 2), a java.util.HashMap, which ProfileResult.toXContent writes as it
    // iterates: the breakdown's keys come in that HashMap's order (Maps.newMapWithExpectedSize(n) is new HashMap<>((int)(n / 0.75 + 1))).
    private static readonly string[] ElasticsearchBreakdown = JavaHashMap.Order(
        [.. QueryTimings.SelectMany(t => new[] { t, t + "_count" })], initialCapacity: 27);

    private static readonly string[] OpenSearchBreakdown = JavaHashMap.Order(
        [.. QueryTimings.Where(t => t != "count_weight").SelectMany(t => new[] { t, t + "_count", t + "_start_time" })], initialCapacity: 27)
        .Where(k => !k.EndsWith("_start_time", StringComparison.Ordinal)).ToArray();

    private readonly bool openSearch = flavor == SearchFlavor.OpenSearch;
    // OpenSearch 2.x profiles no fetch: it is not timed.
    private readonly Fetch? fetch = flavor == SearchFlavor.OpenSearch ? null : new(time);
    private readonly AggregationProfile? aggregations = request.Aggregations is { } aggs ? new(time, [.. aggs.Select(a => a.Key)], flavor) : null;
    private ProfiledQuery? root;
    private ProfiledQuery? postFilterRoot;
    private Timer? filtering;
    private long rewriteNanos;
    private Timer? collector;
    private Timer? topHits;
    private Timer? terminating;
    private Timer? multi;
    private string topHitsName = "TopScoreDocCollector";
    private string topHitsReason = "search_top_hits";

    /// <summary>The shard's id as <c>SearchShardTarget.toString</c> writes it, which orders the profile's shards.</summary>
    public string Id => $"[{nodeId}][{index}][0]";

    /// <summary>
    /// The query rewritten (timed as <c>rewrite_time</c>) and wrapped, node by node, so that its weights and scorers are
    /// timed as Elasticsearch's <c>ProfileWeight</c> and <c>ProfileScorer</c> time them.
    /// </summary>
    public Query Profile(IndexSearcher searcher, Query query)
    {
        if (openSearch && request.Size == 0)
        {
            // Named before the query is rewritten: OpenSearch's shortcutTotalHitCount reads the query as parsed.
            topHitsName = OpenSearchCountCollector(searcher.IndexReader, query);
        }

        var rewrite = new Timer(time);
        // The post_filter's weight is made (rewritten, then timed) before the query's search starts: its tree comes first.
        postFilterRoot = postFilter is { } filter ? Wrap(rewrite.Time(() => searcher.Rewrite(filter))) : null;
        var rewritten = rewrite.Time(() => searcher.Rewrite(query));
        rewriteNanos = rewrite.Nanos;
        root = Wrap(rewritten);
        return root;
    }

    /// <summary>
    /// The collector that keeps only the post_filter's matches (<paramref name="collecting"/> when there is none), its
    /// weight made now; timed as OpenSearch's <c>FilteredCollector</c> (<c>search_post_filter</c>) under that flavor
    /// where the aggregations' <c>MultiCollector</c> or a <c>min_score</c> collector wraps it (outermost, it is timed by
    /// <see cref="QueryPhase"/>).
    /// </summary>
    public ICollector PostFiltered(IndexSearcher searcher, ICollector collecting)
    {
        if (postFilterRoot is null)
        {
            return collecting;
        }

        var filtered = new FilteringCollector(collecting, searcher.CreateNormalizedWeight(postFilterRoot));
        filtering = OpenSearchInnerTimer(wrapped: aggregations is not null || request.MinScore is not null);
        return filtering is null ? filtered : new TimedCollector(filtered, filtering);
    }

    /// <summary>
    /// What collects for the query phase (<paramref name="collecting"/>: <c>QueryPhaseCollector</c>, <c>search_query_phase</c>;
    /// under OpenSearch the outermost collector of its chain), timed; the top-hits collector inside it is timed by
    /// <see cref="TopHits"/>.
    /// </summary>
    public ICollector QueryPhase(ICollector collecting)
    {
        collector = new Timer(time);
        return new TimedCollector(collecting, collector);
    }

    /// <summary>
    /// The top-hits collector, timed; named as the flavor's engine makes it, by <c>InternalProfileCollector.deriveCollectorName</c>
    /// (the class's simple name). Elasticsearch 9's <c>QueryPhaseCollectorManager</c>: at size 0 <c>EmptyHits</c>'
    /// <c>PartialHitCountCollector</c> (reason <c>search_count</c>); otherwise <c>WithHits</c>' collector, wrapped with a
    /// <c>MaxScoreCollector</c> in a <c>MultiCollector</c> under <c>track_scores</c>, else <c>TopFieldCollectorManager</c>'s
    /// <c>SimpleFieldCollector</c> (or <c>PagingFieldCollector</c> after a <c>search_after</c> or on a scroll's later
    /// page) for a sort, and
    /// <c>TopScoreDocCollector</c> by score. OpenSearch 2.19's <c>TopDocsCollectorContext</c>: at size 0
    /// <c>EmptyTopDocsCollectorContext</c>'s <c>EarlyTerminatingCollector</c> around a <c>TotalHitCountCollector</c>, or the
    /// bare <c>TotalHitCountCollector</c> when every hit is counted (<c>track_total_hits: true</c>) and
    /// <c>shortcutTotalHitCount</c> cannot count them; otherwise Lucene 9's <c>SimpleTopScoreDocCollector</c>
    /// (<c>PagingTopScoreDocCollector</c> after a <c>search_after</c>) by score, <c>SimpleFieldCollector</c> or
    /// <c>PagingFieldCollector</c> for a sort, in a <c>MultiCollector</c> with the <c>MaxScoreCollector</c> when a sorted
    /// search tracks scores.
    /// </summary>
    public ICollector TopHits(ITopDocsCollector topDocs)
    {
        topHits = new Timer(time);
        // A scroll's later page pages from the last document the scroll emitted (QueryPhaseCollectorManager.forScroll,
        // OpenSearch's ScrollingTopDocsCollectorContext: scrollContext.lastEmittedDoc as the "after").
        var (count, paging, sorted) = (request.Size == 0, request.SearchAfter is not null || request.ContinuesScroll, topDocs is TopFieldCollector);
        (topHitsName, topHitsReason) = openSearch
            ? count ? (topHitsName, "search_count")
            : request.TrackScores && sorted ? ("MultiCollector", "search_top_hits")
            : sorted ? (paging ? "PagingFieldCollector" : "SimpleFieldCollector", "search_top_hits")
            : (paging ? "PagingTopScoreDocCollector" : "SimpleTopScoreDocCollector", "search_top_hits")
            : count ? ("PartialHitCountCollector", "search_count")
            : request.TrackScores ? ("MultiCollector", "search_top_hits")
            : sorted ? (paging ? "PagingFieldCollector" : "SimpleFieldCollector", "search_top_hits")
            : (nameof(TopScoreDocCollector), "search_top_hits");
        return new TimedCollector(topDocs, topHits);
    }

    /// <summary>
    /// The <c>terminate_after</c> collector, timed where it is a collector of its own in the profile: OpenSearch's
    /// <c>EarlyTerminatingCollector</c> (<c>search_terminate_after_count</c>) around the top hits, where a post_filter,
    /// the aggregations' <c>MultiCollector</c> or a <c>min_score</c> collector wraps it (outermost, it is timed by <see cref="QueryPhase"/>). (Elasticsearch 9's
    /// <c>QueryPhaseCollector</c> stops by itself.)
    /// </summary>
    public ICollector TerminateAfter(ICollector terminator)
    {
        terminating = OpenSearchInnerTimer(wrapped: postFilter is not null || aggregations is not null || request.MinScore is not null);
        return terminating is null ? terminator : new TimedCollector(terminator, terminating);
    }

    /// <summary>
    /// Times a hit's fetch: the document's stored fields loaded, and its <c>_source</c> filtered. Null under OpenSearch,
    /// whose profile has no fetch.
    /// </summary>
    public Fetch? Fetching => fetch;

    /// <summary>Times the shard's aggregations, when the search has some.</summary>
    public AggregationProfile? Aggregating => aggregations;

    /// <summary>
    /// Under OpenSearch with aggregations, the chain so far as the <c>MultiCollector</c> (<c>search_multi</c>) that
    /// collects it beside the aggregators (<c>createMultiCollectorContext</c>), timed where <c>min_score</c>'s collector
    /// wraps it (outermost, it is timed by <see cref="QueryPhase"/>). The aggregations' own pass is added to its time.
    /// </summary>
    public ICollector AggregatedBeside(ICollector collecting)
    {
        multi = aggregations is null ? null : OpenSearchInnerTimer(wrapped: request.MinScore is not null);
        return multi is null ? collecting : new TimedCollector(collecting, multi);
    }

    /// <summary>The shard's entry in <c>profile.shards</c>.</summary>
    public JsonObject ToJson() => openSearch ? OpenSearchJson() : ElasticsearchJson();

    private JsonObject ElasticsearchJson()
    {
        var search = new JsonObject
        {
            ["query"] = Query(),
            ["rewrite_time"] = rewriteNanos,
            ["collector"] = new JsonArray(QueryPhaseCollector()),
        };
        var shard = new JsonObject
        {
            ["id"] = Id,
            ["node_id"] = nodeId,
            ["shard_id"] = 0,
            ["index"] = index,
            ["cluster"] = "(local)",
            ["searches"] = new JsonArray(search),
            ["aggregations"] = aggregations?.ToJson() ?? [],
        };
        if (fetch is { Hits: > 0 })
        {
            shard["fetch"] = fetch.ToJson();
        }

        return shard;
    }

    // QueryPhaseCollectorManager.newCollector (Elasticsearch 9): the top docs collector, and with aggregations the
    // AggregatorCollector beside it. This backend collects the aggregations in a pass of their own after the query's
    // (Aggregations.Compute): the QueryPhaseCollector's time is both passes', as it includes both children's in Elasticsearch.
    private JsonObject QueryPhaseCollector()
    {
        var o = Collector("QueryPhaseCollector", "search_query_phase", collector, Collector(topHitsName, topHitsReason, topHits));
        if (aggregations is not null)
        {
            o["time_in_nanos"] = (collector?.Nanos ?? 0) + aggregations.CollectorNanos;
            o["children"]!.AsArray().Add(aggregations.CollectorJson());
        }

        return o;
    }

    // OpenSearch 2.19: QueryPhase chains its QueryCollectorContexts, the top docs first, each later one wrapping the ones
    // before (QueryCollectorContext.createQueryCollectorWithProfiler): terminate_after's EarlyTerminatingCollector, then
    // post_filter's FilteredCollector, then min_score's MinimumScoreCollector outermost, each an InternalProfileCollector
    // written once. The outermost collector is timed around everything it wraps, by QueryPhase's timer (its own is never
    // made: OpenSearchInnerTimer).
    private JsonObject OpenSearchJson()
    {
        var levels = new List<(string Name, string Reason, Timer? Timer)> { (topHitsName, topHitsReason, topHits) };
        if (request.TerminateAfter is not null)
        {
            levels.Add(("EarlyTerminatingCollector", "search_terminate_after_count", terminating));
        }

        if (postFilterRoot is not null)
        {
            levels.Add(("FilteredCollector", "search_post_filter", filtering));
        }

        var multiAt = -1;
        if (aggregations is not null)
        {
            levels.Add(("MultiCollector", "search_multi", multi));
            multiAt = levels.Count - 1;
        }

        if (request.MinScore is not null)
        {
            levels.Add(("MinimumScoreCollector", "search_min_score", null));
        }

        levels[^1] = levels[^1] with { Timer = collector };
        JsonObject? tree = null;
        for (var at = 0; at < levels.Count; at++)
        {
            var (name, reason, timer) = levels[at];
            var level = tree is null ? Collector(name, reason, timer) : Collector(name, reason, timer, tree);
            if (multiAt >= 0 && at >= multiAt)
            {
                // The MultiCollector collects the aggregators beside the chain: its time, and its wrapper's, include
                // the aggregations' pass, which this backend runs after the query's.
                level["time_in_nanos"] = (timer?.Nanos ?? 0) + aggregations!.CollectorNanos;
            }

            if (at == multiAt)
            {
                level["children"]!.AsArray().Add(aggregations!.CollectorJson());
            }

            tree = level;
        }

        // SearchProfileShardResults.toXContent (OpenSearch 2.19): the network times are those ShardSearchRequest measured
        // between nodes, 0 for the coordinating node's own shard.
        return new JsonObject
        {
            ["id"] = Id,
            ["inbound_network_time_in_millis"] = 0,
            ["outbound_network_time_in_millis"] = 0,
            ["searches"] = new JsonArray(new JsonObject
            {
                ["query"] = Query(),
                ["rewrite_time"] = rewriteNanos,
                ["collector"] = new JsonArray(tree),
            }),
            ["aggregations"] = aggregations?.ToJson() ?? [],
        };
    }

    // The query trees in the order their weights were made: the post_filter's, then the query's.
    private JsonArray Query() => new([.. new[] { postFilterRoot, root }.OfType<ProfiledQuery>()
        .Select(q => (JsonNode)q.Node.ToJson(openSearch ? OpenSearchBreakdown : ElasticsearchBreakdown))]);

    // CollectorResult.toXContent: name, reason, time_in_nanos, and children only when there are some.
    private static JsonObject Collector(string name, string reason, Timer? timer, JsonObject? child = null)
    {
        var o = new JsonObject
        {
            ["name"] = name,
            ["reason"] = reason,
            ["time_in_nanos"] = timer?.Nanos ?? 0,
        };
        if (child is not null)
        {
            o["children"] = new JsonArray(child);
        }

        return o;
    }

    // OpenSearch 2.19's EmptyTopDocsCollectorContext: a bare TotalHitCountCollector only when every hit is counted and
    // they cannot be counted without collecting (a filtering collector in the chain, or a query shortcutTotalHitCount
    // does not count, on the query before Lucene rewrites it: searchContext.query()); otherwise an
    // EarlyTerminatingCollector around one.
    private string OpenSearchCountCollector(IndexReader reader, Query query)
    {
        var filters = request.TerminateAfter is not null || postFilter is not null || request.MinScore is not null;
        return request.TrackTotalHitsUpTo == int.MaxValue && (filters || TerminateAfterCollector.ShortcutTotal(reader, query) is null)
            ? "TotalHitCountCollector" : "EarlyTerminatingCollector";
    }

    // Under OpenSearch, a collector of the chain that a later one wraps has a timer of its own; the outermost is timed by
    // QueryPhase's, and Elasticsearch's chain has none of these.
    private Timer? OpenSearchInnerTimer(bool wrapped) => openSearch && wrapped ? new Timer(time) : null;

    // The nodes below which Lucene 4.8 builds its children's weights itself (query.CreateWeight rather than through the
    // searcher, as Lucene 10's do), rebuilt around wrapped children so that each child is timed too.
    private ProfiledQuery Wrap(Query query)
    {
        var children = new List<ProfiledQuery>();
        Query ProfiledChild(Query child)
        {
            var wrapped = Wrap(child);
            children.Add(wrapped);
            return wrapped;
        }

        Query rebuilt;
        switch (query)
        {
            case BooleanQuery b:
                var copy = new BooleanQuery(b.CoordDisabled) { MinimumNumberShouldMatch = b.MinimumNumberShouldMatch, Boost = b.Boost };
                foreach (var clause in b.Clauses)
                {
                    copy.Add(ProfiledChild(clause.Query), clause.Occur);
                }

                rebuilt = copy;
                break;
            case DisjunctionMaxQuery d:
                var max = new DisjunctionMaxQuery(d.TieBreakerMultiplier) { Boost = d.Boost };
                foreach (var disjunct in d.Disjuncts)
                {
                    max.Add(ProfiledChild(disjunct));
                }

                rebuilt = max;
                break;
            case ConstantScoreQuery { Query: { } inner } c:
                rebuilt = new ConstantScoreQuery(ProfiledChild(inner)) { Boost = c.Boost };
                break;
            case CappedScoreQuery p:
                // The pinned query's organic query, a child of its CappedScoreQuery as Elasticsearch profiles it.
                rebuilt = new CappedScoreQuery(ProfiledChild(p.Inner), p.MaxScore) { Boost = p.Boost };
                break;
            default:
                rebuilt = query;
                break;
        }

        // Elasticsearch reports the query's class simple name (Lucene.Net's generic ones without their arity) and its
        // toString, as ProfileWeight's breakdown is keyed.
        var type = query.GetType().Name;
        var node = new Node(time, type.Split('`')[0], query.ToString(), children.Select(c => c.Node).ToList());
        return new ProfiledQuery(rebuilt, node);
    }

    /// <summary>A node's timers, as <c>QueryProfileBreakdown</c> keeps them.</summary>
    internal sealed class Node(TimeProvider time, string type, string description, List<Node> children)
    {
        private readonly Dictionary<string, Timer> timers = QueryTimings.ToDictionary(t => t, _ => new Timer(time));

        public Timer this[string timing] => timers[timing];

        /// <summary>The node and its children, the breakdown's keys (timings and their counts) in <paramref name="keys"/>' order.</summary>
        public JsonObject ToJson(string[] keys)
        {
            var breakdown = Breakdown(keys, timing => timers[timing]);

            // ProfileResult.toXContent: type, description, time_in_nanos (the node's timers summed), breakdown, and
            // children only when there are some.
            var o = new JsonObject
            {
                ["type"] = type,
                ["description"] = description,
                ["time_in_nanos"] = timers.Values.Sum(t => t.Nanos), // count_weight is never timed: 0 under OpenSearch too
                ["breakdown"] = breakdown,
            };
            if (children.Count > 0)
            {
                o["children"] = new JsonArray([.. children.Select(c => (JsonNode)c.ToJson(keys))]);
            }

            return o;
        }
    }

    /// <summary>A time and a count of calls, as Elasticsearch's profile <c>Timer</c> keeps them.</summary>
    /// <remarks>
    /// The clock's own ticks are summed and converted once: a scorer's next_doc or score takes tens of nanoseconds, which
    /// a <see cref="TimeSpan"/> (100 ns ticks) per call would round to 0 each time.
    /// </remarks>
    /// <summary>
    /// A profile's <c>breakdown</c>, its keys in <paramref name="keys"/>' order: a <c>…_count</c> key is its timing's
    /// count, any other the timing's nanoseconds; a timing with no timer (no step here) is 0.
    /// </summary>
    internal static JsonObject Breakdown(IEnumerable<string> keys, Func<string, Timer?> timer)
    {
        var breakdown = new JsonObject();
        foreach (var key in keys)
        {
            breakdown[key] = key.EndsWith("_count", StringComparison.Ordinal) ? timer(key[..^"_count".Length])?.Count ?? 0 : timer(key)?.Nanos ?? 0;
        }

        return breakdown;
    }

    internal sealed class Timer(TimeProvider time)
    {
        private long started;
        private long ticks;

        public long Nanos => (long)((Int128)ticks * 1_000_000_000 / time.TimestampFrequency);

        public long Count { get; private set; }

        public void Start()
        {
            started = time.GetTimestamp();
        }

        public void Stop()
        {
            ticks += time.GetTimestamp() - started;
            Count++;
        }

        public void Time(Action action) => Time(() =>
        {
            action();
            return true;
        });

        public T Time<T>(Func<T> action)
        {
            Start();
            try
            {
                return action();
            }
            finally
            {
                Stop();
            }
        }
    }

    /// <summary>
    /// A shard's fetch, as Elasticsearch 9's <c>FetchProfiler</c> writes it: <c>time_in_nanos</c> from the start of the
    /// shard's fetch to its end (<c>FetchProfileBreakdown.result</c>: stop - start), <c>load_stored_fields</c> (each hit's
    /// document read), <c>load_source</c> and <c>next_reader</c> (not a step here: the document is read whole, through the
    /// top-level reader), and the <c>FetchSourcePhase</c> (its <c>_source</c> filtered) as a child.
    /// </summary>
    internal sealed class Fetch(TimeProvider time)
    {
        // FetchPhaseTiming and FetchSubPhaseTiming, each with its _count, in the order of the HashMap
        // AbstractProfileBreakdown.toBreakdownMap builds them in (Maps.newMapWithExpectedSize(6) and (4): capacity 9 and 6).
        private static readonly string[] PhaseBreakdown = JavaHashMap.Order(
            ["next_reader", "next_reader_count", "load_stored_fields", "load_stored_fields_count", "load_source", "load_source_count"], initialCapacity: 9);

        private static readonly string[] SubPhaseBreakdown = JavaHashMap.Order(["next_reader", "next_reader_count", "process", "process_count"], initialCapacity: 6);

        private readonly Timer total = new(time);
        private readonly Timer storedFields = new(time);
        private readonly Timer source = new(time);

        public long Hits { get; private set; }

        /// <summary>The shard's fetch of <paramref name="hits"/> hits, timed as a whole.</summary>
        public void Phase(int hits, Action fetchAll)
        {
            Hits += hits;
            total.Time(fetchAll);
        }

        public T StoredFields<T>(Func<T> load) => storedFields.Time(load);

        public T Source<T>(Func<T> filter) => source.Time(filter);

        public JsonObject ToJson()
        {
            var values = new Dictionary<string, long>
            {
                ["load_stored_fields"] = storedFields.Nanos,
                ["load_stored_fields_count"] = storedFields.Count,
                ["next_reader"] = 0,
                ["next_reader_count"] = 0,
                ["load_source"] = 0,
                ["load_source_count"] = 0,
            };
            var o = new JsonObject
            {
                ["type"] = "fetch",
                ["description"] = "",
                ["time_in_nanos"] = total.Nanos,
                ["breakdown"] = Breakdown(PhaseBreakdown, values),
            };
            if (source.Count > 0)
            {
                var sourceValues = new Dictionary<string, long>
                {
                    ["next_reader"] = 0,
                    ["next_reader_count"] = 0,
                    ["process"] = source.Nanos,
                    ["process_count"] = source.Count,
                };
                o["children"] = new JsonArray(new JsonObject
                {
                    ["type"] = "FetchSourcePhase",
                    ["description"] = "",
                    ["time_in_nanos"] = source.Nanos,
                    ["breakdown"] = Breakdown(SubPhaseBreakdown, sourceValues),
                });
            }

            return o;
        }

        private static JsonObject Breakdown(string[] keys, Dictionary<string, long> values) =>
            new(keys.Select(k => KeyValuePair.Create(k, (JsonNode?)values[k])));
    }

    // A query node whose weight and scorers are timed. Already rewritten: its Rewrite is itself.
    private sealed class ProfiledQuery(Query inner, Node node) : Query
    {
        public Node Node => node;

        public override Query Rewrite(IndexReader reader) => this;

        public override Weight CreateWeight(IndexSearcher searcher) =>
            new ProfiledWeight(this, node["create_weight"].Time(() => inner.CreateWeight(searcher)), node);

        public override void ExtractTerms(ISet<Term> terms) => inner.ExtractTerms(terms);

        public override string ToString(string field) => inner.ToString(field);

        public override bool Equals(object? obj) => ReferenceEquals(this, obj);

        public override int GetHashCode() => System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(this);
    }

    // ProfileWeight: build_scorer around the inner weight's scorer; the bulk scorer is Lucene's default one over that scorer,
    // as Elasticsearch's ProfileWeight.bulkScorer does, so that matching and scoring are timed one document at a time.
    private sealed class ProfiledWeight(Query query, Weight inner, Node node) : Weight
    {
        public override Query Query => query;

        // In document order, as the default bulk scorer goes.
        public override bool ScoresDocsOutOfOrder => false;

        public override Explanation Explain(AtomicReaderContext context, int doc) => inner.Explain(context, doc);

        public override float GetValueForNormalization() => inner.GetValueForNormalization();

        public override void Normalize(float norm, float topLevelBoost) => inner.Normalize(norm, topLevelBoost);

        public override Scorer? GetScorer(AtomicReaderContext context, IBits? acceptDocs) =>
            node["build_scorer"].Time(() => inner.GetScorer(context, acceptDocs)) is { } scorer ? new ProfiledScorer(this, scorer, node) : null;
    }

    // ProfileScorer: next_doc, advance and score timed; Lucene 4.8 has no two-phase iteration, block-max scoring or
    // minimum competitive score, so match, shallow_advance, compute_max_score and set_min_competitive_score stay 0.
    private sealed class ProfiledScorer(Weight weight, Scorer inner, Node node) : Scorer(weight)
    {
        // Looked up once: these are called once per document.
        private readonly Timer nextDoc = node["next_doc"];
        private readonly Timer advance = node["advance"];
        private readonly Timer score = node["score"];

        public override int DocID => inner.DocID;

        public override int Freq => inner.Freq;

        public override int NextDoc()
        {
            nextDoc.Start();
            try
            {
                return inner.NextDoc();
            }
            finally
            {
                nextDoc.Stop();
            }
        }

        public override int Advance(int target)
        {
            advance.Start();
            try
            {
                return inner.Advance(target);
            }
            finally
            {
                advance.Stop();
            }
        }

        public override float GetScore()
        {
            score.Start();
            try
            {
                return inner.GetScore();
            }
            finally
            {
                score.Stop();
            }
        }

        public override long GetCost() => inner.GetCost();

        public override ICollection<ChildScorer> GetChildren() => inner.GetChildren();
    }

    // Collects only the documents the post_filter's weight matches, advancing its scorer to each collected document (the
    // documents come in order: a profiled weight scores in order), as FilteredCollector reads the filter's Bits.
    private sealed class FilteringCollector(ICollector inner, Weight filter) : ICollector
    {
        private Scorer? matches;

        public bool AcceptsDocsOutOfOrder => false;

        public void SetScorer(Scorer scorer) => inner.SetScorer(scorer);

        public void SetNextReader(AtomicReaderContext context)
        {
            matches = filter.GetScorer(context, context.AtomicReader.LiveDocs);
            inner.SetNextReader(context);
        }

        public void Collect(int doc)
        {
            if (matches is null)
            {
                return;
            }

            var at = matches.DocID < doc ? matches.Advance(doc) : matches.DocID;
            if (at == doc)
            {
                inner.Collect(doc);
            }
        }
    }

    // A collector whose calls are timed, as Lucene's ProfilerCollector times setScorer, collect and the next reader.
    private sealed class TimedCollector(ICollector inner, Timer timer) : ICollector
    {
        public bool AcceptsDocsOutOfOrder => inner.AcceptsDocsOutOfOrder;

        public void SetScorer(Scorer scorer) => timer.Time(() => inner.SetScorer(scorer));

        public void Collect(int doc)
        {
            // Once per document: no closure.
            timer.Start();
            try
            {
                inner.Collect(doc);
            }
            finally
            {
                timer.Stop();
            }
        }

        public void SetNextReader(AtomicReaderContext context) => timer.Time(() => inner.SetNextReader(context));
    }
}
