using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Lucene.Net.Search;
using Lucene.Net.Search.Highlight;
using Lucene.Net.Util;
using Rank1.EmbeddedSearch.Indexing;
using Rank1.Elastic;

namespace Rank1.EmbeddedSearch.Querying;

/// <summary>Runs searches and counts over one or more indices and shapes the answers as Elasticsearch does.</summary>
internal sealed class SearchExecutor(IndexCatalog catalog, SearchContexts contexts, string nodeId, TimeProvider time, SearchFlavor flavor)
{
    private sealed record Hit(SearchIndex Index, IndexSearcher Searcher, Query Query, int Doc, float Score, object?[]? SortValues);

    /// <summary>
    /// A search: on a point in time (<c>pit</c> in the body), opening a scroll (<c>scroll</c>), or on the indices' latest
    /// snapshots; what reading it deprecates is added to <paramref name="deprecations"/>.
    /// </summary>
    public JsonObject Search(string? indexExpression, JsonObject? body, Func<string, string?> param, List<string>? deprecations = null) =>
        Search(indexExpression, SearchRequest.Read(body, param, flavor, deprecations), param);

    /// <summary>A search read already (<see cref="SearchRequest.Read"/>): validated, then run as <see cref="Search(string?, JsonObject?, Func{string, string?}, List{string}?)"/> runs it.</summary>
    /// <param name="indexExpression">The indices searched.</param>
    /// <param name="request">The search as read.</param>
    /// <param name="param">The URL parameters.</param>
    public JsonObject Search(string? indexExpression, SearchRequest request, Func<string, string?> param)
    {
        request.Validate();
        var scroll = param("scroll");
        if (request.PitId is { } pitId)
        {
            if (!string.IsNullOrEmpty(indexExpression))
            {
                throw new EsException(400, "action_request_validation_exception",
                    "Validation Failed: 1: [indices] cannot be used with point in time. Do not specify any index with point in time.;");
            }

            if (scroll is not null)
            {
                throw new EsException(400, "action_request_validation_exception", "Validation Failed: 1: using [point in time] is not allowed in a scroll context;");
            }

            var pit = contexts.Use(pitId, isPit: true, request.PitKeepAlive);
            lock (pit.Gate)
            {
                if (pit.Closed)
                {
                    throw SearchContexts.Missing(pitId);
                }

                var answer = Run(pit.Targets, request.WithPitTiebreaker());
                answer.Insert(0, "pit_id", pit.Id);
                return answer;
            }
        }

        var indices = catalog.Resolve(indexExpression, param);
        if (scroll is not null)
        {
            if (request.From > 0)
            {
                throw new EsException(400, "action_request_validation_exception", "Validation Failed: 1: using [from] is not allowed in a scroll context;");
            }

            if (request.SearchAfter is not null)
            {
                throw new EsException(400, "action_request_validation_exception", "Validation Failed: 1: [search_after] cannot be used in a scroll context;");
            }

            var context = contexts.Open(indices, isPit: false, request, SearchContexts.ParseKeepAlive(scroll, "scroll"));
            try
            {
                return NextScrollPage(context, opens: true);
            }
            catch
            {
                // SearchService.processFailure frees a scroll's reader context when its search fails, however it fails: no
                // scroll id names it.
                contexts.Clear([context.Id], isPit: false);
                throw;
            }
        }

        var targets = indices.Select((index, shard) => new SearchTarget(index, index.AcquireSearcher(), shard)).ToArray();
        try
        {
            return Run(targets, request);
        }
        finally
        {
            foreach (var target in targets)
            {
                target.Index.ReleaseSearcher(target.Searcher);
            }
        }
    }

    // TransportSearchAction.resolveIndexBoosts: each entry's expression resolved to its indices (a missing one is the
    // 404 index_not_found_exception), the first entry naming an index giving its boost.
    private Dictionary<string, float> IndexBoosts(SearchRequest request)
    {
        var boosts = new Dictionary<string, float>(StringComparer.Ordinal);
        foreach (var (expression, boost) in request.IndicesBoost)
        {
            foreach (var index in catalog.Resolve(expression))
            {
                boosts.TryAdd(index.Name, boost);
            }
        }

        return boosts;
    }

    /// <summary>The next page of a scroll (<c>POST /_search/scroll</c>).</summary>
    public JsonObject Scroll(string scrollId, TimeSpan? keepAlive) => NextScrollPage(contexts.Use(scrollId, isPit: false, keepAlive), opens: false);

    /// <summary>Opens a point in time on the indices of <paramref name="indexExpression"/>.</summary>
    public SearchContexts.Context OpenPointInTime(string indexExpression, TimeSpan keepAlive, Func<string, string?> param) =>
        contexts.Open(catalog.Resolve(indexExpression, param),
            isPit: true, scroll: null, keepAlive);

    /// <summary>
    /// An answer's <c>hits.total</c> written as a number (<c>rest_total_hits_as_int</c>) or as
    /// <c>{"value":..,"relation":..}</c>; a number is an exact count (Elasticsearch counts exactly when it is asked for one).
    /// </summary>
    public static JsonObject WithTotalHitsAsInt(JsonObject answer, bool asInt)
    {
        if (answer["hits"] is JsonObject hits && hits["total"] is { } total)
        {
            hits["total"] = (total, asInt) switch
            {
                (JsonObject o, true) => JsonValue.Create(o["value"]!.GetValue<long>()),
                (JsonValue v, false) => new JsonObject { ["value"] = v.GetValue<long>(), ["relation"] = "eq" },
                _ => total,
            };
        }

        return answer;
    }

    private JsonObject NextScrollPage(SearchContexts.Context context, bool opens)
    {
        lock (context.Gate)
        {
            if (context.Closed)
            {
                throw SearchContexts.Missing(context.Id);
            }

            var answer = Run(context.Targets, context.Scroll!.Page(context.Position, opens));
            context.Position += answer["hits"]!["hits"]!.AsArray().Count;
            answer.Insert(0, "_scroll_id", context.Id);
            return answer;
        }
    }

    private JsonObject Run(IReadOnlyList<SearchTarget> targets, SearchRequest request)
    {
        var started = Stopwatch.GetTimestamp();
        var hits = new List<Hit>();
        long total = 0;
        var timedOut = false;
        // SearchPhaseController.merge: terminated early when any shard was; false when terminate_after was set and none was.
        var terminatedEarly = request.TerminateAfter is null ? (bool?)null : false;
        var perIndexQueries = new List<(SearchIndex Index, IndexSearcher Searcher, Query Query, int? StoppedAt, AggregationProfile? Profile)>();
        // One clock for the whole search: its timeout bounds the search, not each index (they are searched one after
        // another here, where Elasticsearch's shards run side by side).
        var clock = request.Timeout is null ? null : new ClockCounter(time);
        var failures = new List<ShardFailure>();
        var boosts = IndexBoosts(request);
        // "profile": true: each index's search timed (SearchProfile); a shard that failed has none, as in Elasticsearch.
        var profiles = new Dictionary<SearchIndex, SearchProfile>();
        foreach (var target in targets)
        {
            OnShard(target.Index, failures, () =>
            {
                var translator = new QueryTranslator(target.Index);
                var query = translator.Translate(request.Query);
                if (boosts.TryGetValue(target.Index.Name, out var boost))
                {
                    query.Boost *= boost; // as Elasticsearch boosts the shard's query (SearchService: the index boost as its query boost)
                }

                // The post_filter narrows the hits and their total, not what the aggregations count; it does not score.
                // Profiled, the post_filter is its own query, filtering what is collected (SearchProfile.PostFiltered).
                var postFilterQuery = request.PostFilter is { } postFilter ? translator.Translate(postFilter) : null;
                var profile = request.Profile ? new SearchProfile(time, nodeId, target.Index.Name, request, flavor, postFilterQuery) : null;

                var hitQuery = postFilterQuery is null || profile is not null ? query : new FilteredQuery(query, new QueryWrapperFilter(postFilterQuery));
                Aggregations.CheckFielddata(request.Aggregations, target.Index);
                // search_after pages read past every earlier hit, so each index hands over all its matches.
                var wanted = request.SearchAfter is null ? Math.Max(1, request.From + request.Size) : Math.Max(1, target.Searcher.IndexReader.MaxDoc);
                var (indexHits, indexTotal, indexTimedOut, indexTerminated, stoppedAt) = Collect(target, hitQuery, query, request, wanted, clock, profile);
                if (profile is not null)
                {
                    profiles[target.Index] = profile;
                }

                perIndexQueries.Add((target.Index, target.Searcher, query, stoppedAt, profile?.Aggregating));
                hits.AddRange(indexHits);
                total += indexTotal;
                timedOut |= indexTimedOut;
                terminatedEarly |= indexTerminated;
            });
        }

        ThrowIfAllFailed(failures, targets.Count);

        var ordered = Order(hits, request).ToList();

        var page = (request.SearchAfter is { } after ? ordered.Where(h => IsAfter(h, after, request)) : ordered).Skip(request.From).Take(request.Size).ToList();
        var response = new JsonObject
        {
            ["took"] = 0,
            ["timed_out"] = timedOut,
        };
        if (terminatedEarly is { } terminated)
        {
            response["terminated_early"] = terminated; // SearchResponse writes it after timed_out, when a shard set it
        }

        response["_shards"] = Shards(targets.Count, failures);
        response["hits"] = HitsObject(request, page, total, ordered, NamedQueries.Of(request.Query, request.PostFilter, request.IncludeNamedQueriesScore), profiles);
        if (request.Aggregations is not null)
        {
            response["aggregations"] = Aggregations.Compute(request.Aggregations, perIndexQueries, request.TypedKeys, request.MinScore is { } min ? (float)min : null);
        }

        if (request.Profile)
        {
            // SearchProfileResults.toXContent: after the aggregations, the shards in the order of their ids.
            response["profile"] = new JsonObject
            {
                ["shards"] = new JsonArray([.. profiles.Values.OrderBy(p => p.Id, StringComparer.Ordinal).Select(p => (JsonNode)p.ToJson())]),
            };
        }

        response["took"] = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        return response;
    }

    // Strictly after the cursor in the request's sort order.
    private static bool IsAfter(Hit hit, JsonArray after, SearchRequest request)
    {
        for (var i = 0; i < request.Sort.Count; i++)
        {
            var cursor = CursorValue(after[i]);
            // SearchAfterBuilder.convertValueFromSortType: a score cursor is read as a float, as the score it came from
            // was (read as a double, 1.145896 is past the float 1.145896 it was written from: its hit came back again).
            var c = CompareInOrder(hit.SortValues![i], request.Sort[i].Field == "_score" && cursor is double d ? (float)d : cursor, request.Sort[i]);
            if (c != 0)
            {
                return c > 0;
            }
        }

        return false;
    }

    private static object? CursorValue(JsonNode? value) => value switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == System.Text.Json.JsonValueKind.String => v.GetValue<string>(),
        JsonValue v when v.GetValueKind() == System.Text.Json.JsonValueKind.Number => v.GetValue<double>(),
        JsonValue v when v.GetValueKind() is System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False => v.GetValue<bool>() ? 1.0 : 0.0,
        _ => throw EsException.IllegalArgument($"Failed to parse search_after value [{value.ToJsonString()}]"),
    };

    /// <summary>A count: the documents matching the body's query or <c>q</c>, each index stopping at <paramref name="terminateAfter"/> when given.</summary>
    /// <param name="indexExpression">The indices counted.</param>
    /// <param name="body">The body (its query checked already), or null.</param>
    /// <param name="param">The URL parameters.</param>
    /// <param name="terminateAfter">The <c>terminate_after</c> (<see cref="SearchRequest.TerminateAfterOf"/>), or null.</param>
    /// <param name="minScore">The <c>min_score</c>: only the matches scoring at least that are counted (and count towards <paramref name="terminateAfter"/>), or null.</param>
    public JsonObject Count(string? indexExpression, JsonObject? body, Func<string, string?> param, int? terminateAfter, float? minScore)
    {
        var q = SearchRequest.UrlQuery(param) ?? body?["query"];
        var indices = catalog.Resolve(indexExpression, param);
        long count = 0;
        var failures = new List<ShardFailure>();
        var terminatedEarly = false;
        foreach (var index in indices)
        {
            OnShard(index, failures, () =>
            {
                var query = new QueryTranslator(index).Translate(q);
                count += index.WithSearcher(s =>
                {
                    // RestCountAction runs a size-0 search: without a min_score, the segments Weight#count counts are
                    // counted whole, before and without terminate_after (TerminateAfterCollector).
                    var c = new TotalHitCountCollector();
                    var terminator = terminateAfter is { } most ? new TerminateAfterCollector(c, most, minScore is null ? TerminateAfterCollector.LeafCounter(s, query) : null) : null;
                    ICollector counting = terminator ?? (ICollector)c;
                    terminatedEarly |= TerminateAfterCollector.Run(s, query, minScore is { } min ? new MinScoreCollector(counting, min) : counting);
                    return c.TotalHits + (terminator?.Counted ?? 0);
                });
            });
        }

        ThrowIfAllFailed(failures, indices.Count);
        var answer = new JsonObject();
        if (terminateAfter is not null)
        {
            answer["terminated_early"] = terminatedEarly; // RestCountAction writes it first, when terminate_after is not 0
        }

        answer["count"] = count;
        answer["_shards"] = Shards(indices.Count, failures);
        return answer;
    }

    // One index's part of a search (its one shard, shard 0): a failure found there is that shard's, kept in failures.
    private void OnShard(SearchIndex index, List<ShardFailure> failures, Action search)
    {
        try
        {
            search();
        }
        catch (ShardSearchException ex)
        {
            failures.Add(new ShardFailure(0, index.Name, nodeId, ex.Failure));
        }
        catch (BooleanQuery.TooManyClausesException ex)
        {
            // SearchExecutionContext.toQuery: Lucene's TooManyClauses while the query is built is a 400
            // query_shard_exception "failed to create query: maxClauseCount is set to 1024" (it was a 500 here, which a
            // caller such as the precompute worker retries as transient).
            failures.Add(new ShardFailure(0, index.Name, nodeId, ShardSearchException.QueryShard(index, $"failed to create query: {ex.Message}", EsException.Foreign(500, "too_many_clauses", ex.Message)).Failure));
        }
    }

    // AbstractSearchAsyncAction.executeNextPhase: when every shard failed, the search fails as a whole.
    private static void ThrowIfAllFailed(List<ShardFailure> failures, int shards)
    {
        if (failures.Count > 0 && failures.Count == shards)
        {
            throw EsException.AllShardsFailed("query", failures);
        }
    }

    // The hits of hitQuery (the query, with the post_filter when there is one and the search is not profiled: a profiled
    // search filters what is collected, SearchProfile.PostFiltered); each hit explains and highlights by the
    // query alone, as Elasticsearch's do.
    // With terminate_after, the total is what QueryPhaseCollectorManager takes: without a post_filter or a min_score
    // (QueryPhase's hasFilterCollector), a size-0 search counts the segments Weight#count counts without collecting
    // them, and a search with hits takes shortcutTotalHitCount; otherwise, what was collected before the stop.
    private (List<Hit>, long, bool, bool, int?) Collect(SearchTarget target, Query hitQuery, Query query, SearchRequest request, int wanted, ClockCounter? clock, SearchProfile? profile)
    {
        var (index, searcher) = (target.Index, target.Searcher);
        var result = new List<Hit>();
        var sort = request.Sort.Count == 0 ? null : new Sort(request.Sort.Select(k => SortField(index, k)).ToArray());
        // SearchService.createContext: the shard's query, sort and aggregations are built (parseSource), then its window checked (preProcess).
        request.CheckWindow(index.MaxResultWindow);
        var needScores = request.TrackScores || request.SortsByScore;
        var unfiltered = request.TerminateAfter is not null && request.PostFilter is null && request.MinScore is null;
        var leafCount = unfiltered && request.Size == 0 ? TerminateAfterCollector.LeafCounter(searcher, query) : null;
        var competitive = unfiltered && request.Size > 0 && sort is null && request.Aggregations is null
            ? TerminateAfterCollector.CompetitiveHits(searcher, query, wanted) : null;
        var (docs, timedOut, terminated, counted, stoppedAt) = TopDocs(searcher, hitQuery, sort, wanted, needScores, request.Timeout, clock,
            request.MinScore is { } min ? (float)min : null, request.TerminateAfter, leafCount, competitive, profile);
        var total = unfiltered && request.Size > 0 && TerminateAfterCollector.ShortcutTotal(searcher.IndexReader, searcher.Rewrite(query)) is { } shortcut ? shortcut : docs.TotalHits + counted;
        if (sort is null)
        {
            result.AddRange(docs.ScoreDocs.Select(sd => new Hit(index, searcher, query, sd.Doc, sd.Score, null)));
            return (result, total, timedOut, terminated, stoppedAt);
        }

        foreach (var sd in docs.ScoreDocs)
        {
            var fd = (FieldDoc)sd;
            var values = new object?[request.Sort.Count];
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = request.Sort[i].Field switch
                {
                    "_score" => (object)sd.Score,
                    "_doc" => sd.Doc,
                    "_shard_doc" => ((long)target.Shard << 32) | (uint)sd.Doc,
                    _ => SortValue(fd.Fields[i]),
                };
            }

            result.Add(new Hit(index, searcher, query, sd.Doc, sd.Score, values));
        }

        return (result, total, timedOut, terminated, stoppedAt);
    }

    /// <summary>
    /// The top <paramref name="wanted"/> hits of one index, by score or by <paramref name="sort"/>. With a search
    /// <paramref name="timeout"/> collection stops once it has run that long (Lucene's <see cref="TimeLimitingCollector"/>
    /// on the injected clock), and the hits collected so far are answered with <c>timed_out</c>, as an Elasticsearch
    /// shard does (best effort: the check runs per matching document). <paramref name="clock"/> counts from the start of
    /// the search, so an index searched after others gets only what is left of the timeout. With
    /// <paramref name="terminateAfter"/> it stops once that many documents were collected (<see cref="TerminateAfterCollector"/>,
    /// which counts the segments <paramref name="leafCount"/> counts without collecting them).
    /// </summary>
    private (TopDocs Docs, bool TimedOut, bool TerminatedEarly, long Counted, int? StoppedAt) TopDocs(IndexSearcher searcher, Query query, Sort? sort, int wanted,
        bool needScores, TimeSpan? timeout, ClockCounter? clock, float? minScore, int? terminateAfter, Func<Lucene.Net.Index.AtomicReaderContext, int?>? leafCount,
        int? competitiveHits, SearchProfile? profile)
    {
        // Profiled, the query is rewritten and wrapped to be timed, and collected by the same collectors, timed too.
        query = profile?.Profile(searcher, query) ?? query;
        if (profile is null && minScore is null && terminateAfter is null && (timeout is null || clock is null))
        {
            return (sort is null ? searcher.Search(query, wanted) : searcher.Search(query, null, wanted, sort, needScores, needScores), false, false, 0, null);
        }

        // The same collectors IndexSearcher.Search makes for these calls, so hits and ties come out the same; in document
        // order when terminate_after takes the first documents.
        // (A profiled weight scores in order: asking it would time a weight more.)
        var inOrder = terminateAfter is not null || profile is not null || !searcher.CreateNormalizedWeight(query).ScoresDocsOutOfOrder;
        ITopDocsCollector collector = sort is null ? TopScoreDocCollector.Create(wanted, inOrder)
            : TopFieldCollector.Create(sort, wanted, fillFields: true, trackDocScores: needScores, trackMaxScore: needScores, docsScoredInOrder: inOrder);
        // min_score filters what is collected, as Elasticsearch's MinimumScoreCollector does: a document scoring below it is
        // neither a hit nor counted in the total, whatever the page size. Filtered after collection, the total counted every
        // match less the collected ones below it, so it changed with from + size (13 at size 3, 1 at size 30).
        // terminate_after counts what min_score lets through, as QueryPhaseCollector counts the documents it collects.
        var topHits = profile?.TopHits(collector) ?? collector;
        var terminator = terminateAfter is { } most ? new TerminateAfterCollector(topHits, most, leafCount, competitiveHits) : null;
        ICollector collecting = terminator is null ? topHits : profile?.TerminateAfter(terminator) ?? terminator;
        collecting = profile?.PostFiltered(searcher, collecting) ?? collecting;
        collecting = profile?.AggregatedBeside(collecting) ?? collecting;
        collecting = minScore is { } min ? new MinScoreCollector(collecting, min) : collecting;
        collecting = profile?.QueryPhase(collecting) ?? collecting;
        if (timeout is not { } allowed || clock is null)
        {
            var stopped = TerminateAfterCollector.Run(searcher, query, collecting);
            return (collector.GetTopDocs(), false, stopped, terminator?.Counted ?? 0, terminator?.StoppedAt);
        }

        try
        {
            var limited = new TimeLimitingCollector(collecting, clock, (long)allowed.TotalMilliseconds);
            limited.SetBaseline(0); // the search's start, where the clock reads 0
            var terminated = TerminateAfterCollector.Run(searcher, query, limited);
            return (collector.GetTopDocs(), false, terminated, terminator?.Counted ?? 0, terminator?.StoppedAt);
        }
        catch (TimeLimitingCollector.TimeExceededException)
        {
            return (collector.GetTopDocs(), true, false, terminator?.Counted ?? 0, null);
        }
    }

    /// <summary>Milliseconds of the injected clock since the search started, as the counter <see cref="TimeLimitingCollector"/> reads.</summary>
    private sealed class ClockCounter(TimeProvider time) : Counter
    {
        private readonly long _start = time.GetTimestamp();

        public override long Value => (long)time.GetElapsedTime(_start).TotalMilliseconds;

        public override long AddAndGet(long delta) => throw new NotSupportedException("a clock is read, not added to");
    }

    // Lucene.Net hands numeric sort values back as J2N boxes. A document without the field has the missing value
    // as its sort value, as in Elasticsearch, whose hits carry XFieldComparatorSource.missingObject of the field's
    // reduced sort type: Long.MAX_VALUE or MIN_VALUE on a long or date field, Integer.MAX_VALUE or MIN_VALUE on an
    // integer, short or byte one (IntValuesComparatorSource, INT since 8.19 and 9.1), +/-Infinity on a floating-point
    // one, null on a keyword.
    private static object? SortValue(object? raw) => raw switch
    {
        null => null,
        BytesRef b => b.Utf8ToString(),
        J2N.Numerics.Int64 l => l.ToInt64(),
        J2N.Numerics.Double d => d.ToDouble(),
        J2N.Numerics.Number n => n.ToDouble(),
        _ => raw,
    };

    private static SortField SortField(SearchIndex index, SortKey key)
    {
        switch (key.Field)
        {
            case "_score":
                return new SortField(null, SortFieldType.SCORE, !key.Descending);
            case "_doc" or "_shard_doc":
                return new SortField(null, SortFieldType.DOC, key.Descending);
        }

        var mapping = index.Mapping.Get(key.Field);
        FieldKind kind;
        if (mapping is not null)
        {
            if (mapping.Kind is FieldKind.Text or FieldKind.Boolean)
            {
                throw ShardSearchException.FielddataDisabled(key.Field, index);
            }

            kind = mapping.Kind;
        }
        else
        {
            // FieldSortBuilder.build: an index without the field sorts by its unmapped_type, where no document has it;
            // without one, its QueryShardException (the one above is the field type's IllegalArgumentException).
            kind = key.UnmappedType switch
            {
                null => throw ShardSearchException.QueryShard(index, $"No mapping found for [{key.Field}] in order to sort on"),
                "keyword" or "text" or "match_only_text" or "wildcard" or "constant_keyword" => FieldKind.Keyword,
                "double" or "float" or "half_float" or "scaled_float" => FieldKind.Double,
                "integer" or "short" or "byte" => FieldKind.Integer,
                _ => FieldKind.Long,
            };
        }

        // Missing values sort last in both directions, as Elasticsearch's default "missing": "_last" puts them; first
        // with "_first"; or as the number "missing" names. A multi-valued document sorts by the value its mode picks
        // (MultiValueSort): the lowest ascending, the highest descending, unless mode says otherwise.
        var low = key.Descending ^ key.MissingFirst; // the missing value sorts as the lowest value rather than the highest
        var mode = key.PickMode;
        switch (kind)
        {
            case FieldKind.Keyword when key.MissingValue is not null:
                throw EsException.IllegalArgument($"the embedded search backend sorts documents without the keyword field [{key.Field}] as [_first] or [_last], not a value");
            case FieldKind.Keyword when mode is not ("min" or "max"):
                // FieldSortBuilder.build: a mode other than min or max on a field whose field data is not numeric.
                throw ShardSearchException.QueryShard(index, "we only support AVG, MEDIAN and SUM on number based fields");
            case FieldKind.Keyword:
                return MultiValueSort.Keywords(key.Field, mode == "max", low, key.Descending);
            case FieldKind.Float or FieldKind.Double:
                return MultiValueSort.Doubles(key.Field, mode, key.MissingValue ?? (low ? double.NegativeInfinity : double.PositiveInfinity), key.Descending);
            case FieldKind.Integer:
                return MultiValueSort.Longs(key.Field, mode, key.MissingValue is { } i ? (long)i : low ? int.MinValue : (long)int.MaxValue, key.Descending);
            default:
                return MultiValueSort.Longs(key.Field, mode, key.MissingValue is { } v ? (long)v : low ? long.MinValue : long.MaxValue, key.Descending);
        }
    }

    private static IEnumerable<Hit> Order(List<Hit> hits, SearchRequest request)
    {
        if (request.Sort.Count == 0)
        {
            return hits.OrderByDescending(h => h.Score).ThenBy(h => h.Index.Name, StringComparer.Ordinal).ThenBy(h => h.Doc);
        }

        var comparer = Comparer<Hit>.Create((a, b) =>
        {
            for (var i = 0; i < request.Sort.Count; i++)
            {
                var c = CompareInOrder(a.SortValues![i], b.SortValues![i], request.Sort[i]);
                if (c != 0)
                {
                    return c;
                }
            }

            var byIndex = string.CompareOrdinal(a.Index.Name, b.Index.Name);
            return byIndex != 0 ? byIndex : a.Doc.CompareTo(b.Doc);
        });
        return hits.Order(comparer);
    }

    // Two sort values in a sort key's order. A numeric field's missing value is its sentinel (SortValue), which sorts
    // where the missing setting puts it by value. A missing keyword (null) sorts last in both directions, as Elasticsearch's
    // default "missing": "_last" puts it (FieldSortBuilder; Lucene's own sort here gives it the same place), or first
    // with "_first": it is not reversed with the order, or a descending sort would put the documents without the field
    // first and a search_after past the last valued hit would never reach them.
    private static int CompareInOrder(object? a, object? b, SortKey key) => (a, b) switch
    {
        (null, null) => 0,
        (null, _) => key.MissingFirst ? -1 : 1,
        (_, null) => key.MissingFirst ? 1 : -1,
        (string x, string y) => key.Descending ? string.CompareOrdinal(y, x) : string.CompareOrdinal(x, y),
        _ => key.Descending
            ? Convert.ToDouble(b, CultureInfo.InvariantCulture).CompareTo(Convert.ToDouble(a, CultureInfo.InvariantCulture))
            : Convert.ToDouble(a, CultureInfo.InvariantCulture).CompareTo(Convert.ToDouble(b, CultureInfo.InvariantCulture)),
    };

    private JsonObject HitsObject(SearchRequest request, List<Hit> page, long total, List<Hit> all, NamedQueries? named, Dictionary<SearchIndex, SearchProfile> profiles)
    {
        var hits = new JsonObject();
        if (request.TrackTotalHitsUpTo is { } upTo)
        {
            var capped = total > upTo;
            hits["total"] = request.TotalHitsAsInt
                ? JsonValue.Create(total)
                : new JsonObject { ["value"] = capped ? upTo : total, ["relation"] = capped ? "gte" : "eq" };
        }
        else if (request.TotalHitsAsInt)
        {
            // Not counted, as a number: -1 (SearchHits.toXContent, "totalHits == null ? -1").
            hits["total"] = -1;
        }

        var scored = request.Sort.Count == 0 || request.TrackScores;
        hits["max_score"] = scored && all.Count > 0 && request.Size > 0 ? all.Max(h => h.Score) : null;
        if (profiles.Count == 0)
        {
            hits["hits"] = new JsonArray([.. page.Select(hit => (JsonNode?)HitJson(request, hit, scored, named, null))]);
            return hits;
        }

        // Each shard fetches its hits on the page in one fetch phase, which a profile times from its start to its end
        // (Elasticsearch's FetchProfiler); the hits are answered in the page's order.
        var fetched = new JsonNode?[page.Count];
        foreach (var shard in page.Select((hit, at) => (hit, at)).GroupBy(h => h.hit.Index))
        {
            var fetch = profiles.GetValueOrDefault(shard.Key)?.Fetching;
            void FetchShard()
            {
                foreach (var (hit, at) in shard)
                {
                    fetched[at] = HitJson(request, hit, scored, named, fetch);
                }
            }

            if (fetch is null)
            {
                FetchShard();
            }
            else
            {
                fetch.Phase(shard.Count(), FetchShard);
            }
        }

        hits["hits"] = new JsonArray(fetched);
        return hits;
    }

    private JsonObject HitJson(SearchRequest request, Hit hit, bool scored, NamedQueries? named, SearchProfile.Fetch? fetch)
    {
        var doc = fetch is null ? hit.Searcher.Doc(hit.Doc) : fetch.StoredFields(() => hit.Searcher.Doc(hit.Doc));
        var o = new JsonObject();
        if (request.Explain)
        {
            o["_shard"] = $"[{hit.Index.Name}][0]";
            o["_node"] = nodeId;
        }

        o["_index"] = hit.Index.Name;
        o["_id"] = doc.Get(DocumentFields.IdField);
        // SearchHit.toXContent's order: _version, then _seq_no and _primary_term, before _score.
        if (request.Version)
        {
            o["_version"] = doc.GetField(DocumentFields.VersionField)?.GetInt64Value() ?? 1;
        }

        if (request.SeqNoPrimaryTerm)
        {
            o["_seq_no"] = doc.GetField(DocumentFields.SeqNoField)?.GetInt64Value() ?? 0;
            o["_primary_term"] = 1;
        }

        o["_score"] = scored ? hit.Score : null;
        var sourceJson = doc.Get(DocumentFields.SourceField);
        if (request.Source.Enabled)
        {
            o["_source"] = fetch is null ? request.Source.Apply(sourceJson) : fetch.Source(() => request.Source.Apply(sourceJson));
        }

        if (request.Highlight is not null && Highlight(request.Highlight, hit, sourceJson) is { Count: > 0 } h)
        {
            o["highlight"] = h;
        }

        if (hit.SortValues is not null)
        {
            o["sort"] = new JsonArray(hit.SortValues.Select(v => v switch
            {
                null => null,
                string s => JsonValue.Create(s),
                long l => JsonValue.Create(l),
                int i => JsonValue.Create(i),
                // Jackson writes a non-finite number as Java prints it, quoted: "Infinity", "-Infinity".
                double d when double.IsInfinity(d) => JsonValue.Create(d > 0 ? "Infinity" : "-Infinity"),
                float f => JsonValue.Create(f),
                // Jackson's writeNumber(double) is Double.toString: a whole value keeps its ".0" (2.0, not 2), a large
                // or small one is written in Java's notation (1.0E20).
                double d => JsonNode.Parse(XContentInt.JavaDoubleToString(d)),
                _ => JsonValue.Create(v.ToString()),
            }).ToArray());
        }

        // SearchHit.toXContent: matched_queries after sort, before _explanation.
        if (named?.Matched(hit.Index, hit.Searcher, hit.Doc) is { } matched)
        {
            o["matched_queries"] = matched;
        }

        if (request.Explain)
        {
            o["_explanation"] = ExplanationJson(hit.Searcher.Explain(hit.Query, hit.Doc));
        }

        return o;
    }

    private static JsonObject ExplanationJson(Explanation e) => new()
    {
        ["value"] = e.Value,
        ["description"] = e.Description,
        ["details"] = new JsonArray((e.GetDetails() ?? []).Select(d => (JsonNode)ExplanationJson(d)).ToArray()),
    };

    private static JsonObject Highlight(JsonObject spec, Hit hit, string sourceJson)
    {
        var result = new JsonObject();
        var source = AnswerJson.Parse(sourceJson);
        // declareStringArray: an array, or one value (ObjectParser reads a value as a list of one); "1" as "50" for the ints.
        var pre = FirstTag(spec["pre_tags"]) ?? "<em>";
        var post = FirstTag(spec["post_tags"]) ?? "</em>";
        var fieldSpecs = spec["fields"] switch
        {
            JsonObject o => o.Select(p => (p.Key, p.Value as JsonObject)).ToList(),
            JsonArray a => a.OfType<JsonObject>().SelectMany(o => o.Select(p => (p.Key, p.Value as JsonObject))).ToList(),
            _ => throw EsException.Parsing("[highlight] requires [fields]"),
        };
        var analyzer = hit.Index.QueryAnalyzer();
        foreach (var (pattern, fieldSpec) in fieldSpecs)
        {
            var glob = JsonPaths.Wildcard(pattern);
            foreach (var (field, mapping) in hit.Index.Mapping.AllPaths().Where(p => p.Value.Kind == FieldKind.Text && glob.IsMatch(p.Key)))
            {
                var fragmentSize = IntOption(fieldSpec, spec, "fragment_size") ?? 100;
                var count = IntOption(fieldSpec, spec, "number_of_fragments") ?? 5;
                var scorer = new CappedAwareQueryScorer(hit.Query, field);
                var highlighter = new Highlighter(new SimpleHTMLFormatter(pre, post), scorer)
                {
                    TextFragmenter = count == 0 ? new NullFragmenter() : new SimpleSpanFragmenter(scorer, fragmentSize),
                };
                var fragments = new JsonArray();
                foreach (var text in JsonPaths.Values(source, field))
                {
                    using var stream = analyzer.GetTokenStream(field, text);
                    foreach (var f in highlighter.GetBestFragments(stream, text, count == 0 ? 1 : count))
                    {
                        fragments.Add(f);
                    }
                }

                if (fragments.Count > 0)
                {
                    result[field] = fragments;
                }
            }
        }

        return result;
    }

    private static string? FirstTag(JsonNode? tags) => tags switch
    {
        JsonArray a => QueryTranslator.ValueText(a.FirstOrDefault()),
        JsonValue v => QueryTranslator.ValueText(v),
        _ => null,
    };

    // A highlight int option, the field's own before the highlight's, read as its parser read it when the search was
    // parsed (SearchRequest.CheckHighlightNames refused what it does not take, with its errors).
    private static int? IntOption(JsonObject? field, JsonObject highlight, string name) =>
        field is not null && field.ContainsKey(name) ? XContentInt.Declared("highlight_field", field, name)
        : highlight.ContainsKey(name) ? XContentInt.Declared("highlight", highlight, name)
        : null;

    internal static JsonObject Shards(int total) => Shards(total, []);

    // RestActions.buildBroadcastShardsHeader: the failed shards' grouped failures, when there are any.
    private static JsonObject Shards(int total, IReadOnlyList<ShardFailure> failures)
    {
        var shards = new JsonObject { ["total"] = total, ["successful"] = total - failures.Count, ["skipped"] = 0, ["failed"] = failures.Count };
        if (failures.Count > 0)
        {
            shards["failures"] = new JsonArray(failures.Select(f => (JsonNode)f.ToJson()).ToArray());
        }

        return shards;
    }
}
