using System.Text.Json.Nodes;

namespace Rank1.Elastic;

/// <summary>How a reranked search (the proxy's, a precompute job's) asks the backend for its window: from 0, how many hits.</summary>
internal static class BackendWindow
{
    /// <summary>
    /// <c>rank_window_size</c> of a compound retriever or a <c>rank</c> that does not give one, and a rescorer's
    /// <c>window_size</c>: <c>RankBuilder.DEFAULT_RANK_WINDOW_SIZE</c> (<c>SearchService.DEFAULT_SIZE</c>) and
    /// <c>RescorerBuilder.DEFAULT_WINDOW_SIZE</c>, both 10.
    /// </summary>
    internal const int DefaultRankWindowSize = 10;

    /// <summary>A search's <c>size</c> when it sends none (<c>SearchService.DEFAULT_SIZE</c>).</summary>
    internal const int DefaultSize = 10;

    /// <summary>
    /// Rewrites <paramref name="body"/> to ask for the window from 0 (<c>from</c> 0, <c>size</c> <see cref="Size"/>), and
    /// pins what the client's own <c>size</c> decided without naming it: a top-level <c>knn</c> search without <c>k</c>
    /// takes the request's <c>size</c> as its <c>k</c> (<c>KnnSearchBuilder.Builder.build(requestSize)</c>), so it is
    /// given the client's, and the window's <c>size</c> neither widens the kNN search nor trips "[num_candidates] cannot
    /// be less than [k]" against the client's <c>num_candidates</c>.
    /// </summary>
    /// <param name="body">The search body, rewritten in place.</param>
    /// <param name="window">The rerank window.</param>
    /// <param name="page">The client's <c>from + size</c> (0 for a precompute job).</param>
    /// <param name="size">The client's <c>size</c> as sent (URL parameter or body), null when not sent.</param>
    public static void Apply(JsonObject body, int window, int page, int? size)
    {
        var k = size ?? DefaultSize;
        foreach (var knn in body["knn"] switch { JsonObject one => [one], JsonArray many => many.OfType<JsonObject>(), _ => [] })
        {
            if (!knn.ContainsKey("k"))
            {
                knn["k"] = k;
            }
        }

        body["from"] = 0;
        body["size"] = Size(window, page, size, body);
    }

    /// <summary>
    /// The rerank window or the client's page, whichever reaches further (<c>max(window, from + size)</c>). But
    /// Elasticsearch refuses a search whose <c>size</c> passes the <c>rank_window_size</c> of its compound retriever
    /// (<c>rrf</c>, <c>linear</c>, <c>text_similarity_reranker</c>, <c>rule</c>, ...; <c>CompoundRetrieverBuilder.validate</c>:
    /// "[rrf] requires [rank_window_size: 10] be greater than or equal to [size: 100]"), the smallest <c>window_size</c>
    /// of a <c>rescorer</c> retriever's rescores, or the <c>rank_window_size</c> of a top-level <c>rank</c>
    /// (<c>SearchSourceBuilder.validate</c>, where an unsent <c>size</c> counts as 10; a retriever checks only a sent
    /// one). So the window is asked for within that cap; the client's page past it is answered from the hits within it,
    /// as Elasticsearch pages within the retriever's window. A client <c>size</c> Elasticsearch itself would refuse is
    /// sent as it came, for the backend to refuse as it would have refused the client.
    /// </summary>
    /// <param name="window">The rerank window.</param>
    /// <param name="page">The client's <c>from + size</c> (0 for a precompute job).</param>
    /// <param name="size">The client's <c>size</c> as sent, null when not sent.</param>
    /// <param name="body">The search body.</param>
    public static int Size(int window, int page, int? size, JsonObject body)
    {
        var wanted = Math.Max(window, page);
        if (Cap(body) is not var (cap, rank))
        {
            return wanted;
        }

        var checkedSize = rank ? size ?? DefaultSize : size;
        return checkedSize > cap ? checkedSize.Value : Math.Min(wanted, cap);
    }

    // The window Elasticsearch checks size against, and whether it is a top-level rank's (which counts an unsent size).
    private static (int Cap, bool Rank)? Cap(JsonObject body)
    {
        if (body["retriever"] is JsonObject { Count: 1 } retriever && retriever.First() is var (type, spec) && type is not ("standard" or "knn"))
        {
            return (type == "rescorer" ? RescorerWindow((spec as JsonObject)?["rescore"]) : IntOr((spec as JsonObject)?["rank_window_size"], DefaultRankWindowSize), false);
        }

        // rank.rrf (8.8 to 8.15): rank_window_size, window_size before 8.14.
        return body["rank"] is JsonObject { Count: 1 } rank && rank.First().Value is JsonObject method
            ? (IntOr(method["rank_window_size"] ?? method["window_size"], DefaultRankWindowSize), true)
            : null;
    }

    // RescorerRetrieverBuilder.extractMinWindowSize: the smallest window_size of its rescores (an object or a list).
    private static int RescorerWindow(JsonNode? rescore) => rescore switch
    {
        JsonObject one => IntOr(one["window_size"], DefaultRankWindowSize),
        JsonArray { Count: > 0 } many => many.Min(r => IntOr((r as JsonObject)?["window_size"], DefaultRankWindowSize)),
        _ => DefaultRankWindowSize,
    };

    // A window read as Elasticsearch reads an int ("50" is 50); one it would refuse leaves the default, for the backend to
    // refuse the search with its own error.
    private static int IntOr(JsonNode? value, int fallback)
    {
        if (value is null)
        {
            return fallback;
        }

        try
        {
            var n = XContentInt.Read("window", value);
            return n > 0 ? n : fallback;
        }
        catch (EsException)
        {
            return fallback;
        }
    }
}
