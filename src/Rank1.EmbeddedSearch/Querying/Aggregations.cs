using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lucene.Net.Index;
using Lucene.Net.Search;
using Rank1.EmbeddedSearch.Indexing;
using Rank1.Elastic;

namespace Rank1.EmbeddedSearch.Querying;

/// <summary>
/// A small subset of Elasticsearch aggregations over the documents a query matches: <c>terms</c> (keyword, numeric,
/// boolean fields) and the metrics <c>min</c>, <c>max</c>, <c>avg</c>, <c>sum</c>, <c>value_count</c>. Enough for
/// the demo and for proving that the proxy preserves aggregations; sub-aggregations are refused with a 400.
/// </summary>
internal static class Aggregations
{
    private static readonly string[] Supported = ["terms", "min", "max", "avg", "sum", "value_count"];

    // ValuesSourceAggregationBuilder.declareFields(parser, scriptable, formattable, false): what the metrics' ObjectParsers
    // (min, max, avg, sum, value_count) declare.
    private static readonly string[] ValuesSourceFields = ["field", "missing", "value_type", "format", "script"];

    // TermsAggregationBuilder's ObjectParser ("terms"): those, and its own options.
    private static readonly string[] TermsFields =
    [
        .. ValuesSourceFields, "show_term_doc_count_error", "shard_size", "min_doc_count", "shard_min_doc_count", "size", "execution_hint",
        "collect_mode", "order", "include", "exclude",
    ];

    // The numbers TermsAggregationBuilder's ObjectParser reads while the search is parsed: size and shard_size
    // (declareInt), min_doc_count and shard_min_doc_count (declareLong, XContentInt.DeclaredLong).
    private static readonly string[] TermsInts = ["size", "shard_size", "min_doc_count", "shard_min_doc_count"];

    /// <summary>
    /// The aggregations' names checked as Elasticsearch's parsers check them while the body is read
    /// (<c>AggregatorFactories.parseAggregators</c>): a field the <c>terms</c> aggregation's <c>ObjectParser</c> does not
    /// declare is its 400 <c>x_content_parse_exception</c> "[1:45] [terms] unknown field [sise] did you mean [size]?", at
    /// the field's name (it was taken and ignored); so is a value its <c>declareInt</c> refuses
    /// (<see cref="XContentInt.Declared"/>), even when nothing matches. The rest is read when the aggregations run
    /// (<see cref="Compute"/>).
    /// </summary>
    /// <param name="spec">The search's <c>aggs</c>.</param>
    public static void CheckNames(JsonObject spec)
    {
        foreach (var (name, node) in spec)
        {
            if (node is JsonObject agg && agg.FirstOrDefault(p => p.Key is not ("meta" or "aggs" or "aggregations")) is ({ } type, JsonObject body)
                && Supported.Contains(type))
            {
                QueryTranslator.ReadFields(type, body, type == "terms" ? TermsFields : ValuesSourceFields, (key, _) =>
                {
                    if (type == "terms" && TermsInts.Contains(key) && TermsSetterRefusal(key, key.EndsWith("min_doc_count", StringComparison.Ordinal) ? XContentInt.DeclaredLong(type, body, key) : XContentInt.Declared(type, body, key), name) is { } refusal)
                    {
                        throw EsException.SetterRefused(type, body, key, refusal);
                    }
                });
            }
        }
    }

    // TermsAggregationBuilder's setters, which ObjectParser.parseValue calls with the value read (their
    // IllegalArgumentException wrapped as "[terms] failed to parse field [size]"): size and shardSize above 0,
    // minDocCount and shardMinDocCount not below 0; null when the value is taken.
    private static string? TermsSetterRefusal(string key, long value, string aggregation) => key switch
    {
        "size" when value <= 0 => $"[size] must be greater than 0. Found [{value}] in [{aggregation}]",
        "shard_size" when value <= 0 => $"[shardSize] must be greater than 0. Found [{value}] in [{aggregation}]",
        "min_doc_count" when value < 0 => $"[minDocCount] must be greater than or equal to 0. Found [{value}] in [{aggregation}]",
        "shard_min_doc_count" when value < 0 => $"[shardMinDocCount] must be greater than or equal to 0. Found [{value}] in [{aggregation}]",
        _ => null,
    };

    /// <summary>
    /// What Elasticsearch finds on each shard while it builds the aggregators (<c>ValuesSourceConfig.resolve</c> asks
    /// the field for its fielddata): an aggregation on a field <paramref name="index"/> maps as text fails that shard.
    /// The rest of the aggregations is read by <see cref="Compute"/>.
    /// </summary>
    /// <param name="spec">The search's <c>aggs</c>, or null.</param>
    /// <param name="index">The index searched.</param>
    public static void CheckFielddata(JsonObject? spec, SearchIndex index)
    {
        foreach (var (_, node) in spec ?? [])
        {
            if (node is JsonObject agg && agg.FirstOrDefault(p => p.Key != "meta").Value is JsonObject body
                && body["field"] is JsonValue field && field.GetValueKind() == JsonValueKind.String
                && index.Mapping.Get(field.GetValue<string>())?.Kind == FieldKind.Text)
            {
                throw ShardSearchException.FielddataDisabled(field.GetValue<string>(), index);
            }
        }
    }

    /// <summary>
    /// The aggregations over the matches of each target's query that score at least <paramref name="minScore"/>:
    /// Elasticsearch's <c>QueryPhaseCollector</c> applies <c>min_score</c> to the aggregations as to the hits (and the
    /// <c>post_filter</c> to the hits alone), and only those before the document where <c>terminate_after</c> stopped the
    /// index, as that stops both.
    /// </summary>
    /// <param name="spec">The search's <c>aggs</c>.</param>
    /// <param name="targets">Each index searched, its searcher, its query (without the post_filter) and the document at
    /// which terminate_after stopped it, if it did.</param>
    /// <param name="typedKeys">Whether the answer's names carry their types (<c>typed_keys</c>).</param>
    /// <param name="minScore">The search's <c>min_score</c>, or null.</param>
    /// <remarks>
    /// Profiled (each target's <see cref="AggregationProfile"/>), a target's matches are collected and read under its
    /// collector's timer, and each aggregator's steps under its own: its field resolved on the index (<c>initialize</c>),
    /// its values read from each of the index's matches (<c>collect</c>), and its result built (<c>build_aggregation</c>)
    /// when one index was searched; over several, the result is built once from all their values, which is
    /// Elasticsearch's reduce on the coordinating node, not a shard's step.
    /// </remarks>
    public static JsonObject Compute(JsonObject spec, IReadOnlyList<(SearchIndex Index, IndexSearcher Searcher, Query Query, int? StoppedAt, AggregationProfile? Profile)> targets, bool typedKeys, float? minScore)
    {
        var matches = new List<(SearchIndex Index, JsonNode? Source)>();
        foreach (var (index, searcher, query, stoppedAt, profile) in targets)
        {
            void CollectMatches()
            {
                var collector = new AllDocs();
                searcher.Search(query, minScore is { } min ? new MinScoreCollector(collector, min) : collector);
                matches.AddRange(collector.Docs.Where(d => d < (stoppedAt ?? int.MaxValue)).Select(d => (index, AnswerJson.Parse(searcher.Doc(d).Get(DocumentFields.SourceField)))));
            }

            if (profile is null)
            {
                CollectMatches();
            }
            else
            {
                profile.Collecting.Time(CollectMatches);
            }
        }

        var result = new JsonObject();
        foreach (var (name, node) in spec)
        {
            if (node is not JsonObject agg)
            {
                throw EsException.Parsing($"Expected [START_OBJECT] under [{name}], but got a [{node?.GetValueKind()}] in [{name}]");
            }

            if (agg.ContainsKey("aggs") || agg.ContainsKey("aggregations"))
            {
                throw EsException.Parsing($"[{name}]: sub-aggregations are not supported by the embedded search backend");
            }

            var (type, body) = agg.First(p => p.Key != "meta");
            if (!Supported.Contains(type))
            {
                throw EsException.Parsing($"Unknown aggregation type [{type}] did you mean one of {string.Join(", ", Supported)}? (the embedded search backend supports only these)");
            }

            var field = (body as JsonObject)?["field"] switch
            {
                null => throw EsException.Parsing($"[{type}] aggregation [{name}] requires a [field]"),
                JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
                var other => throw new EsException(400, "x_content_parse_exception", $"[{type}] field doesn't support values of type: {RequestJson.TokenName(other)}"),
            };
            // A text field failed its index's shard before (CheckFielddata): none of these indices maps it as text.
            var hint = (body as JsonObject)?["execution_hint"] is JsonValue h && h.GetValueKind() == JsonValueKind.String ? h.GetValue<string>() : null;
            var resolved = targets.Select(t => Resolve(t.Index, field, t.Profile, name, type, new(t.Searcher, t.Query, field, hint))).ToList();
            var mapping = resolved.Select(r => r.Mapping).FirstOrDefault(m => m is not null);
            var sourcePath = resolved.Select(r => r.SourcePath).FirstOrDefault(p => p is not null) ?? field;
            var aggregators = resolved.Where(r => r.Aggregator is not null).ToDictionary(r => r.Index, r => r.Aggregator!);
            var values = matches.Select(m => aggregators.TryGetValue(m.Index, out var aggregator)
                ? aggregator.Collect.Time(() => JsonPaths.Values(m.Source, sourcePath).ToArray())
                : JsonPaths.Values(m.Source, sourcePath).ToArray()).ToArray();
            (string, JsonObject) Build() => type == "terms"
                ? Terms(mapping, values, (JsonObject)body!)
                : Metric(type, mapping, values, (JsonObject)body!);
            // One index searched: its shard's build is the result's (over several, the result is their reduce).
            var (typedName, value) = targets.Count == 1 && aggregators.Count == 1 ? aggregators.Values.Single().Build.Time(Build) : Build();
            result[typedKeys ? $"{typedName}#{name}" : name] = value;
        }

        return result;
    }

    // An index's mapping of the aggregation's field and its _source path; profiled, resolved under a new aggregator's
    // initialize timer (ValuesSourceConfig.resolve, as the shard's aggregator is made).
    private static (SearchIndex Index, FieldMapping? Mapping, string? SourcePath, AggregationProfile.Aggregator? Aggregator) Resolve(
        SearchIndex index, string field, AggregationProfile? profile, string name, string type, AggregationProfile.TermsShard shard)
    {
        if (profile is null)
        {
            return (index, index.Mapping.Get(field), index.Mapping.SourcePath(field), null);
        }

        var aggregator = profile.For(name, type, index.Mapping.Get(field), shard);
        var (mapping, path) = aggregator.Initialize.Time(() => (index.Mapping.Get(field), index.Mapping.SourcePath(field)));
        return (index, mapping, path, aggregator);
    }

    // The terms options this backend does not apply, whose answer would differ from Elasticsearch's: refused, not ignored.
    // (shard_size, shard_min_doc_count, execution_hint and collect_mode change nothing on its one shard.)
    private static readonly string[] TermsNotApplied = ["missing", "value_type", "format", "script", "include", "exclude"];

    private static (string, JsonObject) Terms(FieldMapping? mapping, string[][] perDoc, JsonObject body)
    {
        ThrowIfNotApplied("terms", TermsNotApplied.FirstOrDefault(body.ContainsKey)
            ?? (body["show_term_doc_count_error"] is JsonValue show && show.ToString() == "true" ? "show_term_doc_count_error" : null));

        var size = body.ContainsKey("size") ? XContentInt.Declared("terms", body, "size") : 10; // declareInt: "5" too
        // min_doc_count (default 1): the buckets with fewer documents are left out, and out of sum_other_doc_count, as
        // InternalTerms' reduce drops them; 0, every term of the index, is not applied here.
        var minDocCount = body.ContainsKey("min_doc_count") ? XContentInt.DeclaredLong("terms", body, "min_doc_count") : 1;
        if (minDocCount < 1)
        {
            throw EsException.IllegalArgument("the embedded search backend does not apply [min_doc_count] below 1 in the [terms] aggregation");
        }

        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var values in perDoc)
        {
            foreach (var v in values.Distinct(StringComparer.Ordinal))
            {
                counts[v] = counts.GetValueOrDefault(v) + 1;
            }
        }

        var ordered = Order(counts.Where(c => c.Value >= minDocCount), body["order"], mapping);
        var buckets = new JsonArray();
        foreach (var (key, count) in ordered.Take(size))
        {
            var bucket = new JsonObject();
            switch (mapping?.Kind)
            {
                case FieldKind.Long or FieldKind.Integer:
                    bucket["key"] = long.Parse(key, CultureInfo.InvariantCulture);
                    break;
                case FieldKind.Float or FieldKind.Double:
                    bucket["key"] = double.Parse(key, CultureInfo.InvariantCulture);
                    break;
                case FieldKind.Boolean:
                    bucket["key"] = key == "true" ? 1 : 0;
                    bucket["key_as_string"] = key;
                    break;
                default:
                    bucket["key"] = key;
                    break;
            }

            bucket["doc_count"] = count;
            buckets.Add(bucket);
        }

        var typed = mapping?.Kind switch
        {
            FieldKind.Long or FieldKind.Integer or FieldKind.Boolean or FieldKind.Date => "lterms",
            FieldKind.Float or FieldKind.Double => "dterms",
            _ => "sterms",
        };
        return (typed, new JsonObject
        {
            ["doc_count_error_upper_bound"] = 0,
            ["sum_other_doc_count"] = ordered.Skip(size).Sum(c => c.Value),
            ["buckets"] = buckets,
        });
    }

    // The bucket order: InternalOrder.Parser.parseOrderParam's {"_count": "asc"|"desc"} or {"_key": ..} (or an array of
    // them), ties broken by the key ascending as BucketOrder.compound adds it; by default the count descending. A key
    // orders as its field's values do (numbers by value). An order by a sub-aggregation, which this backend does not run,
    // is refused.
    private static List<KeyValuePair<string, long>> Order(IEnumerable<KeyValuePair<string, long>> counts, JsonNode? order, FieldMapping? mapping)
    {
        IComparer<string> keys = mapping?.IsNumeric == true
            ? Comparer<string>.Create((a, b) => double.Parse(a, CultureInfo.InvariantCulture).CompareTo(double.Parse(b, CultureInfo.InvariantCulture)))
            : StringComparer.Ordinal;
        var criteria = order switch
        {
            null => [new KeyValuePair<string, JsonNode?>("_count", "desc")],
            JsonObject one => one.ToList(),
            JsonArray many => many.OfType<JsonObject>().SelectMany(o => o).ToList(),
            _ => throw EsException.IllegalArgument("the embedded search backend does not apply this [order] in the [terms] aggregation"),
        };
        IOrderedEnumerable<KeyValuePair<string, long>>? sorted = null;
        foreach (var (by, direction) in criteria)
        {
            var descending = (direction as JsonValue)?.ToString() switch
            {
                "desc" => true,
                "asc" => false,
                _ => throw EsException.IllegalArgument($"the embedded search backend does not apply this [order] in the [terms] aggregation"),
            };
            sorted = by switch
            {
                "_count" => sorted is null ? (descending ? counts.OrderByDescending(c => c.Value) : counts.OrderBy(c => c.Value))
                    : descending ? sorted.ThenByDescending(c => c.Value) : sorted.ThenBy(c => c.Value),
                "_key" => sorted is null ? (descending ? counts.OrderByDescending(c => c.Key, keys) : counts.OrderBy(c => c.Key, keys))
                    : descending ? sorted.ThenByDescending(c => c.Key, keys) : sorted.ThenBy(c => c.Key, keys),
                _ => throw EsException.IllegalArgument($"the embedded search backend does not apply an [order] by [{by}] in the [terms] aggregation: it runs no sub-aggregations"),
            };
        }

        return [.. (sorted ?? counts.OrderByDescending(c => c.Value)).ThenBy(c => c.Key, keys)];
    }

    private static void ThrowIfNotApplied(string type, string? option)
    {
        if (option is not null)
        {
            throw EsException.IllegalArgument($"the embedded search backend does not apply [{option}] in the [{type}] aggregation");
        }
    }

    private static (string, JsonObject) Metric(string type, FieldMapping? mapping, string[][] perDoc, JsonObject body)
    {
        // What ValuesSourceAggregationBuilder reads besides the field changes the value: refused, not ignored.
        ThrowIfNotApplied(type, ValuesSourceFields.Skip(1).FirstOrDefault(body.ContainsKey));
        var all = perDoc.SelectMany(v => v).ToArray();
        if (type == "value_count")
        {
            return ("value_count", new JsonObject { ["value"] = all.Length });
        }

        if (mapping is not null && !mapping.IsNumeric)
        {
            throw EsException.IllegalArgument($"Field of type [{mapping.TypeName}] is not supported for aggregation [{type}]");
        }

        var numbers = all.Select(s => double.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        double? value = type switch
        {
            "min" => numbers.Length == 0 ? null : numbers.Min(),
            "max" => numbers.Length == 0 ? null : numbers.Max(),
            "avg" => numbers.Length == 0 ? null : numbers.Average(),
            _ => numbers.Sum(),
        };
        return (type, new JsonObject { ["value"] = value });
    }

    private sealed class AllDocs : ICollector
    {
        private int _base;

        public List<int> Docs { get; } = [];

        public bool AcceptsDocsOutOfOrder => true;

        public void Collect(int doc) => Docs.Add(_base + doc);

        public void SetNextReader(AtomicReaderContext context) => _base = context.DocBase;

        public void SetScorer(Scorer scorer)
        {
        }
    }
}
