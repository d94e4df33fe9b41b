using System.Text.Json.Nodes;
using Lucene.Net.Index;
using Lucene.Net.Search;
using Lucene.Net.Util;

namespace Rank1.EmbeddedSearch.Querying;

/// <summary>
/// One index's (its one shard's) part of a <c>"profile": true</c> search, written as Elasticsearch 9's
/// <c>SearchProfileResults</c> writes a shard: <c>id</c> (<c>[nodeId][index][0]</c>), <c>node_id</c>, <c>shard_id</c>,
/// <c>index</c>, <c>cluster</c> (<c>(local)</c>), <c>searches</c> (one <c>QueryProfileShardResult</c>: <c>query</c>,
/// <c>rewrite_time</c>, <c>collector</c>), <c>aggregations</c> (always written, as <c>AggregationProfileShardResult</c>
/// writes its array) and <c>fetch</c> (only for a shard with hits on the page, as a shard that was not fetched has no
/// fetch result). Times are measured on the injected clock, in nanoseconds.
/// </summary>
/// <param name="time">The clock.</param>
/// <param name="nodeId">The node's id.</param>
/// <param name="index">The index searched.</param>
/// <param name="count">Whether the search asks for no hits (<c>size</c> 0): its hits are only counted.</param>
/// <param name="paging">Whether it pages with <c>search_after</c>.</param>
/// <param name="trackScores">Whether it asks for <c>track_scores</c>.</param>
internal sealed class SearchProfile(TimeProvider time, string nodeId, string index, bool count, bool paging, bool trackScores)
{
    // QueryTimingType (Elasticsearch 9), in its order; each written with its _count (AbstractProfileBreakdown.toBreakdownMap).
    private static readonly string[] QueryTimings =
    [
        "create_weight", "count_weight", "build_scorer", "next_doc", "advance", "match", "score", "shallow_advance", "compute_max_score",
        "set_min_competitive_score",
    ];

    private readonly Fetch fetch = new(time);
    private ProfiledQuery? root;
    private long rewriteNanos;
    private Timer? collector;
    private Timer? topHits;
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
        var rewrite = new Timer(time);
        rewrite.Start();
        var rewritten = searcher.Rewrite(query);
        rewrite.Stop();
        rewriteNanos = rewrite.Nanos;
        root = Wrap(rewritten);
        return root;
    }

    /// <summary>
    /// What collects for the query phase (<paramref name="collecting"/>: <c>QueryPhaseCollector</c>, <c>search_query_phase</c>),
    /// timed; the top-hits collector inside it is timed by <see cref="TopHits"/>.
    /// </summary>
    public ICollector QueryPhase(ICollector collecting)
    {
        collector = new Timer(time);
        return new TimedCollector(collecting, collector);
    }

    /// <summary>
    /// The top-hits collector, timed; named as Elasticsearch 9's <c>QueryPhaseCollectorManager</c> makes it, by
    /// <c>InternalProfileCollector.deriveCollectorName</c> (the class's simple name): at size 0 <c>EmptyHits</c>'
    /// <c>PartialHitCountCollector</c> (reason <c>search_count</c>); otherwise <c>WithHits</c>' collector, wrapped with a
    /// <c>MaxScoreCollector</c> in a <c>MultiCollector</c> under <c>track_scores</c>, else <c>TopFieldCollectorManager</c>'s
    /// <c>SimpleFieldCollector</c> (or <c>PagingFieldCollector</c> after a <c>search_after</c>) for a sort, and
    /// <c>TopScoreDocCollector</c> by score.
    /// </summary>
    public ICollector TopHits(ITopDocsCollector topDocs)
    {
        topHits = new Timer(time);
        (topHitsName, topHitsReason) = count ? ("PartialHitCountCollector", "search_count")
            : trackScores ? ("MultiCollector", "search_top_hits")
            : topDocs is TopFieldCollector ? (paging ? "PagingFieldCollector" : "SimpleFieldCollector", "search_top_hits")
            : (nameof(TopScoreDocCollector), "search_top_hits");
        return new TimedCollector(topDocs, topHits);
    }

    /// <summary>Times a hit's fetch: the document's stored fields loaded, and its <c>_source</c> filtered.</summary>
    public Fetch Fetching => fetch;

    /// <summary>The shard's entry in <c>profile.shards</c>.</summary>
    public JsonObject ToJson()
    {
        var search = new JsonObject
        {
            ["query"] = root is null ? new JsonArray() : new JsonArray(root.Node.ToJson()),
            ["rewrite_time"] = rewriteNanos,
            ["collector"] = new JsonArray(new JsonObject
            {
                ["name"] = "QueryPhaseCollector",
                ["reason"] = "search_query_phase",
                ["time_in_nanos"] = collector?.Nanos ?? 0,
                ["children"] = new JsonArray(new JsonObject
                {
                    ["name"] = topHitsName,
                    ["reason"] = topHitsReason,
                    ["time_in_nanos"] = topHits?.Nanos ?? 0,
                }),
            }),
        };
        var shard = new JsonObject
        {
            ["id"] = Id,
            ["node_id"] = nodeId,
            ["shard_id"] = 0,
            ["index"] = index,
            ["cluster"] = "(local)",
            ["searches"] = new JsonArray(search),
            ["aggregations"] = new JsonArray(),
        };
        if (fetch.Hits > 0)
        {
            shard["fetch"] = fetch.ToJson();
        }

        return shard;
    }

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
            case FilteredQuery f:
                rebuilt = new FilteredQuery(ProfiledChild(f.Query), f.Filter, f.Strategy) { Boost = f.Boost };
                break;
            case ConstantScoreQuery { Query: { } inner } c:
                rebuilt = new ConstantScoreQuery(ProfiledChild(inner)) { Boost = c.Boost };
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

        public JsonObject ToJson()
        {
            var breakdown = new JsonObject();
            foreach (var name in QueryTimings)
            {
                breakdown[name] = timers[name].Nanos;
                breakdown[name + "_count"] = timers[name].Count;
            }

            // ProfileResult.toXContent: type, description, time_in_nanos (the node's timers summed), breakdown, and
            // children only when there are some.
            var o = new JsonObject
            {
                ["type"] = type,
                ["description"] = description,
                ["time_in_nanos"] = timers.Values.Sum(t => t.Nanos),
                ["breakdown"] = breakdown,
            };
            if (children.Count > 0)
            {
                o["children"] = new JsonArray([.. children.Select(c => (JsonNode)c.ToJson())]);
            }

            return o;
        }
    }

    /// <summary>A time and a count of calls, as Elasticsearch's profile <c>Timer</c> keeps them.</summary>
    /// <remarks>
    /// The clock's own ticks are summed and converted once: a scorer's next_doc or score takes tens of nanoseconds, which
    /// a <see cref="TimeSpan"/> (100 ns ticks) per call would round to 0 each time.
    /// </remarks>
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
    /// A shard's fetch, as <c>FetchProfiler</c> writes it: <c>load_stored_fields</c> (each hit's document read),
    /// <c>load_source</c> and <c>next_reader</c> (not a step here: the document is read whole, through the top-level reader),
    /// and the <c>FetchSourcePhase</c> (its <c>_source</c> filtered) as a child.
    /// </summary>
    internal sealed class Fetch(TimeProvider time)
    {
        private readonly Timer total = new(time);
        private readonly Timer storedFields = new(time);
        private readonly Timer source = new(time);

        public long Hits => total.Count;

        public T Hit<T>(Func<T> fetch) => total.Time(fetch);

        public T StoredFields<T>(Func<T> load) => storedFields.Time(load);

        public T Source<T>(Func<T> filter) => source.Time(filter);

        public JsonObject ToJson()
        {
            var o = new JsonObject
            {
                ["type"] = "fetch",
                ["description"] = "",
                ["time_in_nanos"] = total.Nanos,
                ["breakdown"] = new JsonObject
                {
                    ["load_stored_fields"] = storedFields.Nanos,
                    ["load_stored_fields_count"] = storedFields.Count,
                    ["next_reader"] = 0,
                    ["next_reader_count"] = 0,
                    ["load_source"] = 0,
                    ["load_source_count"] = 0,
                },
            };
            if (source.Count > 0)
            {
                o["children"] = new JsonArray(new JsonObject
                {
                    ["type"] = "FetchSourcePhase",
                    ["description"] = "",
                    ["time_in_nanos"] = source.Nanos,
                    ["breakdown"] = new JsonObject
                    {
                        ["next_reader"] = 0,
                        ["next_reader_count"] = 0,
                        ["process"] = source.Nanos,
                        ["process_count"] = source.Count,
                    },
                });
            }

            return o;
        }
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
