using System.Text.Json.Nodes;

namespace Rank1.Elastic.Tests;

public sealed class BackendWindowTests
{
    // The window (100 here) is asked for within a compound retriever's rank_window_size (10 when not given), which
    // Elasticsearch refuses a size past; never below the client's from + size; a standard or knn retriever has none.
    [Theory]
    [InlineData("""{"query":{"match":{"text":"x"}}}""", 0, 10, 100)]
    [InlineData("""{"query":{"match":{"text":"x"}}}""", 95, 10, 105)]
    [InlineData("""{"retriever":{"standard":{"query":{"match":{"text":"x"}}}}}""", 0, 10, 100)]
    [InlineData("""{"retriever":{"knn":{"field":"v","k":10,"num_candidates":50,"query_vector":[1]}}}""", 0, 10, 100)]
    [InlineData("""{"retriever":{"rrf":{"retrievers":[],"rank_window_size":50}}}""", 0, 10, 50)]
    [InlineData("""{"retriever":{"rrf":{"retrievers":[]}}}""", 0, 10, 10)]
    [InlineData("""{"retriever":{"rrf":{"retrievers":[]}}}""", 0, 5, 10)]
    [InlineData("""{"retriever":{"rrf":{"retrievers":[]}}}""", 20, 10, 30)]
    [InlineData("""{"retriever":{"linear":{"retrievers":[],"rank_window_size":200}}}""", 0, 10, 100)]
    [InlineData("""{"retriever":{"text_similarity_reranker":{"retriever":{"standard":{}},"field":"text","inference_id":"rank1","inference_text":"x","rank_window_size":30}}}""", 0, 10, 30)]
    [InlineData("""{"retriever":{"rule":{"retriever":{"standard":{}},"match_criteria":{},"ruleset_ids":["r"],"rank_window_size":"bad"}}}""", 0, 10, 10)]
    public void Size_IsTheWindowWithinACompoundRetrieversRankWindow(string body, int from, int size, int expected) =>
        Assert.Equal(expected, BackendWindow.Size(100, from, size, JsonNode.Parse(body)!.AsObject()));
}
