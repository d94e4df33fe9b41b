using System.Text.Json.Nodes;
using Lucene.Net.Index;
using Lucene.Net.Search;
using Rank1.EmbeddedSearch.Indexing;

namespace Rank1.EmbeddedSearch.Querying;

/// <summary>
/// The queries of a search named with <c>_name</c> (in its <c>query</c> and <c>post_filter</c>), and which of them each
/// hit matches: Elasticsearch's <c>MatchedQueriesPhase</c>, answered as the hit's <c>matched_queries</c>, an array of
/// names, or with <c>include_named_queries_score</c> an object of each name's score for the hit.
/// </summary>
internal sealed class NamedQueries
{
    // The field queries whose _name sits in the field's options ({"match":{"title":{"query":..,"_name":..}}}); the
    // others carry it beside their options ({"bool":{..,"_name":..}}, {"terms":{"topic":[..],"_name":..}}).
    private static readonly HashSet<string> FieldQueries = new(StringComparer.Ordinal) { "match", "match_phrase", "term", "range" };

    private readonly IReadOnlyList<(string Name, JsonNode Query)> _named;
    private readonly bool _withScores;
    private readonly Dictionary<IndexSearcher, Weight[]> _weights = new(ReferenceEqualityComparer.Instance);

    private NamedQueries(IReadOnlyList<(string Name, JsonNode Query)> named, bool withScores)
    {
        _named = named;
        _withScores = withScores;
    }

    /// <summary>
    /// The named queries of <paramref name="query"/> and <paramref name="postFilter"/>, or null when there are none.
    /// Elasticsearch keeps a name given twice once, with its last query (<c>HashMap.put</c>, then the post_filter's
    /// <c>putAll</c>), and answers the names in the order of its <c>HashMap</c>s of them (<c>MatchedQueriesPhase</c>): by
    /// the bucket of Java's <c>String.hashCode</c>, in a table of 16 doubled whenever it holds more than three quarters
    /// (<c>putAll</c> presizes to the same since JDK 19), which is followed here. Within one bucket its order is not
    /// defined: <c>SearchExecutionContext.copyNamedQueries</c> hands the query's names over as <c>Map.copyOf</c>, whose
    /// iteration order is randomised per JVM; only the post_filter's own names come after the query's. Those are
    /// ordered by name here.
    /// </summary>
    /// <param name="query">The search's query, or null.</param>
    /// <param name="postFilter">Its post_filter, or null.</param>
    /// <param name="withScores">Whether <c>include_named_queries_score</c> asks for each match's score.</param>
    public static NamedQueries? Of(JsonNode? query, JsonNode? postFilter, bool withScores)
    {
        var found = new List<(string Name, JsonNode Query)>();
        Collect(query, found);
        var fromQuery = found.Count;
        Collect(postFilter, found);
        if (found.Count == 0)
        {
            return null;
        }

        // Each name's last query, and whether the query (0) or only the post_filter (1) names it.
        var last = new Dictionary<string, (JsonNode Query, int Source)>(StringComparer.Ordinal);
        for (var i = 0; i < found.Count; i++)
        {
            var (name, node) = found[i];
            last[name] = (node, last.TryGetValue(name, out var seen) ? seen.Source : i < fromQuery ? 0 : 1);
        }

        // A HashMap filled one entry at a time: 16 buckets, doubled whenever it holds more than three quarters of them.
        var buckets = 16;
        while (last.Count > buckets * 3 / 4)
        {
            buckets *= 2;
        }

        var ordered = last.OrderBy(p => JavaBucket(p.Key, buckets)).ThenBy(p => p.Value.Source).ThenBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => (p.Key, p.Value.Query)).ToList();
        return new NamedQueries(ordered, withScores);
    }

    /// <summary>The <c>matched_queries</c> of one hit, or null when it matches none of the named queries.</summary>
    /// <param name="index">The hit's index.</param>
    /// <param name="searcher">The searcher it was found with.</param>
    /// <param name="doc">Its document in that searcher.</param>
    public JsonNode? Matched(SearchIndex index, IndexSearcher searcher, int doc)
    {
        if (!_weights.TryGetValue(searcher, out var weights))
        {
            var translator = new QueryTranslator(index);
            weights = _named.Select(n => searcher.CreateNormalizedWeight(translator.Translate(n.Query))).ToArray();
            _weights[searcher] = weights;
        }

        var leaves = searcher.IndexReader.Leaves;
        var leaf = leaves[ReaderUtil.SubIndex(doc, leaves)];
        var target = doc - leaf.DocBase;
        var names = new JsonArray();
        var scores = new JsonObject();
        for (var i = 0; i < _named.Count; i++)
        {
            var scorer = weights[i].GetScorer(leaf, leaf.AtomicReader.LiveDocs);
            if (scorer is null || scorer.Advance(target) != target)
            {
                continue;
            }

            if (_withScores)
            {
                scores[_named[i].Name] = scorer.GetScore();
            }
            else
            {
                names.Add(_named[i].Name);
            }
        }

        return _withScores ? scores.Count > 0 ? scores : null : names.Count > 0 ? names : null;
    }

    // Post-order, as AbstractQueryBuilder.toQuery registers a name after its query (and a bool's clauses) is built.
    private static void Collect(JsonNode? node, List<(string Name, JsonNode Query)> found)
    {
        if (node is not JsonObject { Count: 1 } query)
        {
            return;
        }

        var (type, body) = query.First();
        if (body is not JsonObject spec)
        {
            return;
        }

        if (type == "bool")
        {
            // BoolQueryBuilder.doToQuery adds must, must_not, should, then filter clauses.
            foreach (var occur in new[] { "must", "must_not", "should", "filter" })
            {
                foreach (var clause in spec[occur] is JsonArray clauses ? clauses.ToArray() : [spec[occur]])
                {
                    Collect(clause, found);
                }
            }
        }

        if (type == "pinned")
        {
            // PinnedQueryBuilder.doToQuery makes its organic query, whose names are added, before its own name is.
            Collect(spec["organic"], found);
        }

        var name = spec["_name"] ?? (FieldQueries.Contains(type) ? spec.Select(p => p.Value).OfType<JsonObject>().Select(o => o["_name"]).FirstOrDefault(n => n is not null) : null);
        if (name is JsonValue value)
        {
            found.Add((value.ToString(), query));
        }
    }

    // java.util.HashMap's bucket for a String key: String.hashCode (31 * h + c over UTF-16 units), spread by h ^ (h >>> 16).
    private static int JavaBucket(string key, int buckets)
    {
        var h = 0;
        foreach (var c in key)
        {
            h = unchecked((31 * h) + c);
        }

        return (h ^ (int)((uint)h >> 16)) & (buckets - 1);
    }
}
