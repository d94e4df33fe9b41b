using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Rank1.Inference;
using Rank1.Testing;

namespace Rank1.SearchBridge.IntegrationTests;

/// <summary>
/// The edges of a reranked window, through the proxy over real loopback HTTP in front of the embedded backend: hits with no
/// passage text to judge, and the scores of the hits placed after the judged ones.
/// </summary>
public sealed class ProxyWindowEdgeTests
{
    private const string Gaps = "gaps";

    // Each document's body as its _source holds it (null: no body at all). Every title holds "onion", so all match.
    private static readonly (string Id, string Title, string? Body)[] GapDocs =
    [
        ("g1", "Onion soup", "\"French onion soup is made with beef stock.\""),
        ("g2", "Onion jam", null),
        ("g3", "Onion rings", "null"),
        ("g4", "Onion salt", "\"\""),
        ("g5", "Onion tart", """{"en":"An onion tart with cheese."}"""),
        ("g6", "Onion bread", """["Bread baked","with onions."]"""),
        ("g7", "Onion history", """[{"en":"Onions were grown in Egypt."}]"""),
        ("g8", "Onion dip", "\"   \""),
        ("g9", "Onion pickles", "[]"),
    ];

    // A document whose source writes the field body.en with a dot in its key, as Elasticsearch takes it (the same field).
    private const string DottedKeyDoc = """{"title":"Onion relish","body.en":"Onion relish goes with cheese."}""";

    private static async Task IndexGapsAsync(ProxyStack stack)
    {
        using var http = new HttpClient { BaseAddress = stack.Backend.Url };
        // Text in some documents' body and objects in others' is what an object mapped "enabled": false holds (kept in
        // _source, never parsed: "can also contain non-object data"); mapped as text by its first value, Elasticsearch
        // would refuse the objects (document_parsing_exception), as the embedded backend now does.
        var created = await http.PutAsync(Gaps, new StringContent("""{"mappings":{"properties":{"title":{"type":"text"},"body":{"type":"object","enabled":false}}}}""", Encoding.UTF8, "application/json"));
        Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        var bulk = new StringBuilder();
        foreach (var (id, title, body) in GapDocs)
        {
            bulk.Append(new JsonObject { ["index"] = new JsonObject { ["_index"] = Gaps, ["_id"] = id } }.ToJsonString()).Append('\n');
            var source = new JsonObject { ["title"] = title };
            if (body is not null)
            {
                source["body"] = JsonNode.Parse(body);
            }

            bulk.Append(source.ToJsonString()).Append('\n');
        }

        bulk.Append(new JsonObject { ["index"] = new JsonObject { ["_index"] = Gaps, ["_id"] = "g10" } }.ToJsonString()).Append('\n').Append(DottedKeyDoc).Append('\n');
        var r = await http.PostAsync("_bulk?refresh=true", new StringContent(bulk.ToString(), Encoding.UTF8, "application/x-ndjson"));
        var answer = JsonNode.Parse(await r.Content.ReadAsStringAsync())!;
        Assert.False(answer["errors"]!.GetValue<bool>(), answer.ToJsonString());
    }

    private static async Task<JsonArray> BackendHitsAsync(ProxyStack stack, string index, string body)
    {
        using var http = new HttpClient { BaseAddress = stack.Backend.Url };
        var r = await http.PostAsync($"{index}/_search", ProxyStack.Json(body));
        return JsonNode.Parse(await r.Content.ReadAsStringAsync())!["hits"]!["hits"]!.AsArray();
    }

    // A window hit with no passage text (its field missing, null, empty, blank, an empty array, or an object, whose
    // fields name no text) is never sent to the model: it once was, judged as an empty passage (the model's time spent on
    // nothing, its score meaningless). It follows the judged hits of the window in backend order, marked failed with the
    // reason, and counts as a failed passage; the search is partial.
    [Fact]
    public async Task WindowHitsWithNoPassageText_AreNotJudged_AndFollowTheJudgedHitsMarkedFailed()
    {
        var judge = new PassageRecordingJudge();
        await using var stack = await ProxyStack.StartAsync(services: s => s.AddSingleton<IPassageJudge>(judge));
        await IndexGapsAsync(stack);
        const string query = """{"query":{"match":{"title":"onion"}},"size":10}""";
        var backend = (await BackendHitsAsync(stack, Gaps, query)).Select(h => h!["_id"]!.GetValue<string>()).ToArray();
        Assert.Equal(GapDocs.Select(d => d.Id).Append("g10").Order(), backend.Order());

        var r = await stack.SearchAsync("""{"query":{"match":{"title":"onion"}},"size":10,"ext":{"rank1":{"fields":["body"],"window":10}}}""", $"{Gaps}/_search");

        Assert.Equal(200, r.Status);
        Assert.Equal("partial", r.Rerank);
        Assert.Equal(["Bread baked with onions.", "French onion soup is made with beef stock."], judge.Texts.Order());
        string[] withText = ["g1", "g6"];
        // The judge scores every passage alike: the judged hits keep their backend order, as do those not judged after them.
        Assert.Equal(backend.Where(withText.Contains).Concat(backend.Where(id => !withText.Contains(id))), r.Ids);
        foreach (var hit in r.Json["hits"]!["hits"]!.AsArray().Where(h => !withText.Contains(h!["_id"]!.GetValue<string>())))
        {
            var id = hit!["_id"]!.GetValue<string>();
            Assert.Equal("failed", hit["fields"]!["_rank1.source"]![0]!.GetValue<string>());
            Assert.Null(hit["fields"]!["_rank1.score"]);
            var expected = id is "g5" or "g7"
                ? "no passage text in fields [body]: [body] holds an object, not text; name the text fields inside it, such as [body.en]"
                : "no passage text in fields [body]";
            Assert.Equal(expected, hit["fields"]!["_rank1.error"]![0]!.GetValue<string>());
        }

        var metrics = await stack.Http.GetStringAsync("_rank1/metrics");
        Assert.Equal(8, PrometheusText.Value(metrics, "rank1_passages_failed_total"));

        // Named by their dotted path, the objects' text fields are passages, inside an array of objects too, and so is a
        // key holding the dotted path itself, as Elasticsearch reads a source (XContentMapValues.extractValue).
        var dotted = await stack.SearchAsync("""{"query":{"match":{"title":"onion"}},"size":10,"ext":{"rank1":{"fields":["body.en"],"window":10}}}""", $"{Gaps}/_search");
        Assert.Equal("partial", dotted.Rerank);
        string[] judgedByPath = ["g5", "g7", "g10"];
        Assert.Equal(backend.Where(judgedByPath.Contains).Concat(backend.Where(id => !judgedByPath.Contains(id))), dotted.Ids);
        Assert.Equal(["An onion tart with cheese.", "Onion relish goes with cheese.", "Onions were grown in Egypt."], judge.Texts.Skip(2).Order());
    }

    // Elasticsearch answers a search sorted by score with its hits by _score, best first, and max_score the best of them.
    // The hits after the judged ones (past the window, or in it and not judged) kept their backend scores, BM25 scores
    // above the Rank1 probabilities of the hits before them: they now sit below the lowest Rank1 score shown, in backend
    // order and in proportion to their backend scores, which _rank1.original_score keeps.
    [Fact]
    public async Task HitsAfterTheJudgedOnes_ScoreBelowThem_KeepingTheirOrderAndTheirBackendScore()
    {
        // Boosted, as a query with a boost or a function_score often is: backend scores well above any probability.
        await using var stack = await ProxyStack.StartAsync();
        const string query = """{"query":{"match":{"text":{"query":"onion onions","boost":10}}},"size":20}""";
        var backend = await BackendHitsAsync(stack, ProxyStack.Index, query);
        Assert.True(backend.Count > 3 && backend[3]!["_score"]!.GetValue<double>() > 1, "the corpus needs a hit past the window scoring above 1");
        var backendScores = backend.ToDictionary(h => h!["_id"]!.GetValue<string>(), h => h!["_score"]!.GetValue<double>());

        var r = await stack.SearchAsync("""{"query":{"match":{"text":{"query":"onion onions","boost":10}}},"size":20,"ext":{"rank1":{"window":3}}}""");

        Assert.Equal("applied", r.Rerank);
        var hits = r.Json["hits"]!["hits"]!.AsArray().Select(h => h!.AsObject()).ToArray();
        var scores = hits.Select(h => h["_score"]!.GetValue<double>()).ToArray();
        Assert.Equal(scores.OrderDescending(), scores);
        Assert.Equal(scores[0], r.Json["hits"]!["max_score"]!.GetValue<double>());
        var lowestJudged = scores[2];
        var past = hits.Skip(3).ToArray();
        Assert.Equal(backend.Skip(3).Select(h => h!["_id"]!.GetValue<string>()), past.Select(h => h["_id"]!.GetValue<string>()));
        var first = backendScores[past[0]["_id"]!.GetValue<string>()];
        foreach (var hit in past)
        {
            var original = backendScores[hit["_id"]!.GetValue<string>()];
            Assert.Equal(original, hit["fields"]!["_rank1.original_score"]![0]!.GetValue<double>());
            Assert.Equal(lowestJudged * original / (2 * first), hit["_score"]!.GetValue<double>(), 12);
            Assert.Null(hit["fields"]!["_rank1.score"]);
        }

        // With explain, such a hit's explanation is worth its _score, the backend's explanation nested in it.
        var explained = await stack.SearchAsync("""{"query":{"match":{"text":{"query":"onion onions","boost":10}}},"size":20,"explain":true,"ext":{"rank1":{"window":3}}}""");
        var last = explained.Json["hits"]!["hits"]!.AsArray().Last()!;
        Assert.Equal(last["_score"]!.GetValue<double>(), last["_explanation"]!["value"]!.GetValue<double>());
        Assert.Equal(last["fields"]!["_rank1.original_score"]![0]!.GetValue<double>(), last["_explanation"]!["details"]![0]!["value"]!.GetValue<double>(), 5);
        Assert.StartsWith("rank1: not judged", last["_explanation"]!["description"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    // When min_score leaves out every judged hit, the hits left keep their backend scores, and max_score is the best of them.
    [Fact]
    public async Task MinScoreLeavingNoJudgedHit_MaxScoreIsTheBestHitLeft()
    {
        await using var stack = await ProxyStack.StartAsync(services: s => s.AddSingleton<IPassageJudge>(new PassageRecordingJudge()));
        const string query = """{"query":{"match":{"text":"onion onions"}},"size":20}""";
        var backend = await BackendHitsAsync(stack, ProxyStack.Index, query);

        var r = await stack.SearchAsync("""{"query":{"match":{"text":"onion onions"}},"size":20,"ext":{"rank1":{"window":3,"min_score":0.9}}}""");

        Assert.Equal("applied", r.Rerank);
        Assert.Equal(backend.Skip(3).Select(h => h!["_id"]!.GetValue<string>()), r.Ids);
        Assert.Equal(backend[3]!["_score"]!.GetValue<double>(), r.Json["hits"]!["max_score"]!.GetValue<double>());
        Assert.Equal(backend[3]!["_score"]!.GetValue<double>(), r.Json["hits"]!["hits"]![0]!["_score"]!.GetValue<double>());
    }
}

/// <summary>A judge that scores every passage 0.5 and records each passage text it was given.</summary>
internal sealed class PassageRecordingJudge : IPassageJudge
{
    public System.Collections.Concurrent.ConcurrentQueue<string> Texts { get; } = new();

    public string ModelId => "passage-recording";

    public ValueTask<IReadOnlyList<PassageResult>> JudgeWindowAsync(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages,
        JudgeSettings? settings = null, CancellationToken cancellationToken = default)
    {
        foreach (var (_, text) in passages)
        {
            Texts.Enqueue(text);
        }

        return PassageJudge.JudgeEachAsync(query, instructions, passages, settings,
            (input, ct) => ValueTask.FromResult(new Rank1Judgement(0.5, true, "seen", 1, ReasoningEnd.Finished, 1, TimeSpan.Zero, TimeSpan.Zero)), TimeProvider.System, cancellationToken);
    }
}
