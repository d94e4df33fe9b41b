using System.Text.Json.Nodes;

namespace Rank1.Elastic;

/// <summary>How many hits a reranked search (the proxy's, a precompute job's) asks the backend for, from 0.</summary>
internal static class BackendWindow
{
    /// <summary>
    /// <c>rank_window_size</c> of a compound retriever that does not give one: <c>RankBuilder.DEFAULT_RANK_WINDOW_SIZE</c>
    /// (<c>SearchService.DEFAULT_SIZE</c>, 10).
    /// </summary>
    internal const int DefaultRankWindowSize = 10;

    /// <summary>
    /// The rerank window or the client's page, whichever reaches further (<c>max(window, from + size)</c>); but a
    /// search through a compound retriever (<c>rrf</c>, <c>linear</c>, <c>text_similarity_reranker</c>, <c>rule</c>, ...)
    /// is refused by Elasticsearch when its <c>size</c> passes the retriever's <c>rank_window_size</c>
    /// (<c>CompoundRetrieverBuilder.validate</c>: "[rrf] requires [rank_window_size: 10] be greater than or equal to
    /// [size: 100]"), so the window is asked for within that, never below the client's own <c>from + size</c> (which the
    /// backend then refuses as it would have refused the client).
    /// </summary>
    /// <param name="window">The rerank window.</param>
    /// <param name="from">The client's <c>from</c>.</param>
    /// <param name="size">The client's <c>size</c>.</param>
    /// <param name="body">The search body.</param>
    public static int Size(int window, int from, int size, JsonObject body)
    {
        var page = from + size;
        var wanted = Math.Max(window, page);
        return RankWindowSize(body) is { } cap ? Math.Max(Math.Min(wanted, cap), page) : wanted;
    }

    // The top-level retriever's rank_window_size when it is a compound one (every retriever but standard and knn).
    private static int? RankWindowSize(JsonObject body) =>
        body["retriever"] is JsonObject { Count: 1 } retriever && retriever.First() is var (type, spec) && type is not ("standard" or "knn")
            ? (spec as JsonObject)?["rank_window_size"] is JsonValue v && v.TryGetValue<int>(out var n) && n > 0 ? n : DefaultRankWindowSize
            : null;
}
