using System.Text.Json.Nodes;

namespace Rank1.Elastic.Tests;

public sealed class BackendWindowTests
{
    // The window (100 here) or the client's page, asked for within what Elasticsearch checks the search's size against:
    // a compound retriever's rank_window_size (10 when not given; a sent size only, CompoundRetrieverBuilder.validate),
    // the smallest window_size of a rescorer retriever's rescores, a top-level rank's rank_window_size (an unsent size
    // counting as 10, SearchSourceBuilder.validate). A page past the cap is answered from within it; a sent size past it
    // goes as sent, for the backend to refuse as it would refuse the client. A standard or knn retriever has no cap.
    [Theory]
    [InlineData("""{"query":{"match":{"text":"x"}}}""", 10, 10, 100)]
    [InlineData("""{"query":{"match":{"text":"x"}}}""", 105, 10, 105)]
    [InlineData("""{"retriever":{"standard":{"query":{"match":{"text":"x"}}}}}""", 10, 10, 100)]
    [InlineData("""{"retriever":{"knn":{"field":"v","k":10,"num_candidates":50,"query_vector":[1]}}}""", 10, 10, 100)]
    [InlineData("""{"retriever":{"rrf":{"retrievers":[],"rank_window_size":50}}}""", 10, 10, 50)]
    [InlineData("""{"retriever":{"rrf":{"retrievers":[]}}}""", 10, 10, 10)]
    [InlineData("""{"retriever":{"rrf":{"retrievers":[]}}}""", 5, 5, 10)]
    // from 10, size 10: Elasticsearch answers it (no hits past its window of 10); size 20 would be refused.
    [InlineData("""{"retriever":{"rrf":{"retrievers":[]}}}""", 20, 10, 10)]
    // No size sent: not checked by a retriever, so a window of 5 is asked for, not a default size of 10.
    [InlineData("""{"retriever":{"rrf":{"retrievers":[],"rank_window_size":5}}}""", 10, null, 5)]
    // A sent size past the cap goes as sent: the backend refuses it with its own error, as it would refuse the client.
    [InlineData("""{"retriever":{"rrf":{"retrievers":[],"rank_window_size":5}}}""", 20, 20, 20)]
    [InlineData("""{"retriever":{"linear":{"retrievers":[],"rank_window_size":200}}}""", 10, 10, 100)]
    [InlineData("""{"retriever":{"linear":{"retrievers":[],"rank_window_size":"50"}}}""", 10, 10, 50)]
    [InlineData("""{"retriever":{"text_similarity_reranker":{"retriever":{"standard":{}},"field":"text","inference_id":"rank1","inference_text":"x","rank_window_size":30}}}""", 10, 10, 30)]
    [InlineData("""{"retriever":{"rule":{"retriever":{"standard":{}},"match_criteria":{},"ruleset_ids":["r"],"rank_window_size":"bad"}}}""", 10, 10, 10)]
    // rescorer: its rescores' smallest window_size (rank_window_size is not its field).
    [InlineData("""{"retriever":{"rescorer":{"retriever":{"standard":{}},"rescore":{"window_size":40,"query":{}}}}}""", 10, 10, 40)]
    [InlineData("""{"retriever":{"rescorer":{"retriever":{"standard":{}},"rescore":[{"window_size":40},{"window_size":25},{"query":{}}]}}}""", 10, 10, 10)]
    [InlineData("""{"retriever":{"rescorer":{"retriever":{"standard":{}},"rescore":[{"window_size":40},{"window_size":25}]}}}""", 10, 10, 25)]
    [InlineData("""{"retriever":{"rescorer":{"retriever":{"standard":{}},"rank_window_size":100,"rescore":{"query":{}}}}}""", 10, 10, 10)]
    // A top-level rank (8.8 to 8.15): rank_window_size (window_size before 8.14); an unsent size counts as 10.
    [InlineData("""{"query":{"match":{"text":"x"}},"knn":{},"rank":{"rrf":{"rank_window_size":60}}}""", 10, 10, 60)]
    [InlineData("""{"query":{"match":{"text":"x"}},"knn":{},"rank":{"rrf":{"window_size":30}}}""", 10, null, 30)]
    [InlineData("""{"query":{"match":{"text":"x"}},"knn":{},"rank":{"rrf":{"rank_window_size":5}}}""", 10, null, 10)]
    public void Size_IsTheWindowWithinWhatElasticsearchChecksTheSizeAgainst(string body, int page, int? size, int expected) =>
        Assert.Equal(expected, BackendWindow.Size(100, page, size, JsonNode.Parse(body)!.AsObject()));

    [Theory]
    // KnnSearchBuilder.Builder.build(requestSize): a knn search without k takes the request's size as its k.
    [InlineData("""{"knn":{"field":"v","query_vector":[1],"num_candidates":50}}""", 20, """{"knn":{"field":"v","query_vector":[1],"num_candidates":50,"k":20},"from":0,"size":100}""")]
    [InlineData("""{"knn":{"field":"v","query_vector":[1]}}""", null, """{"knn":{"field":"v","query_vector":[1],"k":10},"from":0,"size":100}""")]
    [InlineData("""{"knn":[{"field":"v","k":3},{"field":"w"}]}""", 7, """{"knn":[{"field":"v","k":3},{"field":"w","k":7}],"from":0,"size":100}""")]
    [InlineData("""{"from":5,"query":{"match":{"text":"x"}}}""", 10, """{"from":0,"query":{"match":{"text":"x"}},"size":100}""")]
    public void Apply_AsksFromZeroForTheWindow_AndPinsAKnnSearchsKToTheClientsSize(string body, int? size, string expected)
    {
        var json = JsonNode.Parse(body)!.AsObject();
        BackendWindow.Apply(json, 100, 15, size);
        Assert.Equal(expected, json.ToJsonString());
    }
}
