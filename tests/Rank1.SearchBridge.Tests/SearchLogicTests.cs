using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using Rank1.Elastic;
using Rank1.Inference;
using Rank1.SearchBridge.Backend;
using Rank1.SearchBridge.Configuration;
using Rank1.SearchBridge.Http.Search;
using Rank1.SearchBridge.Reranking;
using Rank1.SearchBridge.Store;

namespace Rank1.SearchBridge.Tests;

public sealed class QueryTextTests
{
    [Theory]
    [InlineData("""{"match":{"text":"onion tears"}}""", "onion tears")]
    [InlineData("""{"match":{"text":{"query":"onion tears","operator":"and"}}}""", "onion tears")]
    [InlineData("""{"multi_match":{"query":"capital of france","fields":["a","b"]}}""", "capital of france")]
    [InlineData("""{"query_string":{"query":"title:(rivers AND europe)"}}""", "title:(rivers AND europe)")]
    [InlineData("""{"simple_query_string":{"query":"bread -trout"}}""", "bread -trout")]
    [InlineData("""{"bool":{"must":[{"match":{"a":"first"}}],"should":{"match":{"b":"second"}},"filter":[{"match":{"c":"hidden"}}],"must_not":{"match":{"d":"no"}}}}""", "first second")]
    [InlineData("""{"bool":{"must":[{"match":{"a":"same"}},{"match":{"b":"same"}}]}}""", "same")]
    [InlineData("""{"match_all":{}}""", null)]
    [InlineData("""{"term":{"topic":"x"}}""", null)]
    // A pinned or rule query's organic query is the user's (PinnedQueryBuilder, RuleQueryBuilder: ORGANIC_QUERY_FIELD): it
    // was not read, so such a search, now reranked below its pins, had no query text.
    [InlineData("""{"pinned":{"ids":["1","2"],"organic":{"match":{"text":"onion eyes"}}}}""", "onion eyes")]
    [InlineData("""{"rule":{"organic":{"match":{"text":"onion eyes"}},"match_criteria":{"query_string":"promo"},"ruleset_ids":["r"]}}""", "onion eyes")]
    public void Extract_ReadsTheScoringClauses(string query, string? expected) =>
        Assert.Equal(expected, QueryText.FromBody(new JsonObject { ["query"] = JsonNode.Parse(query) }));

    // The text of the query types and search shapes Elasticsearch's semantic and hybrid search use, in the request
    // syntax of Elasticsearch's reference (8.14 and later retrievers; weighted rrf and linear entries of 9.x).
    [Theory]
    [InlineData("""{"query":{"semantic":{"field":"content","query":"onion tears"}}}""", "onion tears")]
    [InlineData("""{"query":{"sparse_vector":{"field":"ml.tokens","inference_id":"elser","query":"onion tears"}}}""", "onion tears")]
    [InlineData("""{"query":{"text_expansion":{"ml.tokens":{"model_id":".elser_model_2","model_text":"onion tears"}}}}""", "onion tears")]
    [InlineData("""{"query":{"knn":{"field":"v","query_vector_builder":{"text_embedding":{"model_id":"e5","model_text":"onion tears"}}}}}""", "onion tears")]
    [InlineData("""{"query":{"nested":{"path":"chunks","query":{"match":{"chunks.text":"onion tears"}}}}}""", "onion tears")]
    [InlineData("""{"knn":{"field":"v","k":10,"num_candidates":100,"query_vector_builder":{"text_embedding":{"model_id":"e5","model_text":"onion tears"}}}}""", "onion tears")]
    [InlineData("""{"query":{"match":{"text":"onion tears"}},"knn":[{"field":"v","k":5,"num_candidates":50,"query_vector":[0.1,0.2]}]}""", "onion tears")]
    [InlineData("""{"retriever":{"standard":{"query":{"match":{"text":"onion tears"}}}}}""", "onion tears")]
    [InlineData("""{"retriever":{"knn":{"field":"v","k":10,"num_candidates":100,"query_vector_builder":{"text_embedding":{"model_id":"e5","model_text":"onion tears"}}}}}""", "onion tears")]
    [InlineData("""{"retriever":{"rrf":{"retrievers":[{"standard":{"query":{"match":{"text":"onion tears"}}}},{"knn":{"field":"v","k":10,"num_candidates":100,"query_vector":[0.1]}}],"rank_window_size":50}}}""", "onion tears")]
    [InlineData("""{"retriever":{"rrf":{"retrievers":[{"retriever":{"standard":{"query":{"match":{"text":"onion"}}}},"weight":2},{"retriever":{"standard":{"query":{"match":{"title":"tears"}}}},"weight":1}]}}}""", "onion tears")]
    [InlineData("""{"retriever":{"linear":{"retrievers":[{"retriever":{"standard":{"query":{"match":{"text":"onion tears"}}}},"weight":2,"normalizer":"minmax"}]}}}""", "onion tears")]
    [InlineData("""{"retriever":{"rrf":{"query":"onion tears","fields":["text","title"]}}}""", "onion tears")]
    [InlineData("""{"retriever":{"text_similarity_reranker":{"retriever":{"standard":{"query":{"match":{"text":"onions"}}}},"field":"text","inference_id":"rank1","inference_text":"why do onions make you cry"}}}""", "why do onions make you cry")]
    [InlineData("""{"retriever":{"rule":{"retriever":{"standard":{"query":{"match":{"text":"onion tears"}}}},"match_criteria":{"q":"x"},"ruleset_ids":["r"]}}}""", "onion tears")]
    [InlineData("""{"retriever":{"knn":{"field":"v","k":10,"num_candidates":100,"query_vector":[0.1,0.2]}}}""", null)]
    [InlineData("""{"retriever":"standard","knn":[1,{"query_vector_builder":"x"},{"query_vector_builder":{"text_embedding":7}}]}""", null)]
    [InlineData("""{"retriever":{"rrf":{"retrievers":[1,"x",{"standard":7},{"retriever":[]}]},"text_similarity_reranker":{"inference_text":3}}}""", null)]
    public void FromBody_ReadsSemanticQueriesKnnAndRetrievers(string body, string? expected) =>
        Assert.Equal(expected, QueryText.FromBody(JsonNode.Parse(body)!.AsObject()));

    // OpenSearch's semantic and hybrid search, in the request syntax of its neural search plugin's reference (neural,
    // neural_sparse, and the hybrid query a normalization search pipeline combines): these searches were never
    // reranked in front of OpenSearch ("no query text to judge") unless ext.rank1.query was given.
    [Theory]
    [InlineData("""{"query":{"neural":{"passage_embedding":{"query_text":"onion tears","model_id":"m1","k":100}}}}""", "onion tears")]
    [InlineData("""{"query":{"neural_sparse":{"passage_embedding":{"query_text":"onion tears","model_id":"m1"}}}}""", "onion tears")]
    [InlineData("""{"query":{"hybrid":{"queries":[{"match":{"text":"onion tears"}},{"neural":{"passage_embedding":{"query_text":"onion tears","model_id":"m1","k":5}}}]}}}""", "onion tears")]
    [InlineData("""{"query":{"hybrid":{"queries":[{"term":{"topic":"food"}},{"neural":{"v":{"query_image":"aGk=","model_id":"m1","k":5}}}]}}}""", null)]
    public void FromBody_ReadsOpenSearchNeuralAndHybridQueries(string body, string? expected) =>
        Assert.Equal(expected, QueryText.FromBody(JsonNode.Parse(body)!.AsObject()));
}

public sealed class RerankPlanTests
{
    private static readonly RerankRule Rule = new() { Window = 7, MaxThinkTokens = 99, Deadline = TimeSpan.FromMilliseconds(1234), Instructions = "rule instructions", TitleField = "t" };

    [Fact]
    public void From_NoExt_UsesTheRuleAndLeavesTheBodyAlone()
    {
        var body = JsonNode.Parse("""{"query":{"match_all":{}}}""")!.AsObject();
        var plan = RerankPlan.From(body, Rule);
        Assert.True(plan.Enabled);
        Assert.False(plan.RequestedByClient);
        Assert.Equal((7, 99, TimeSpan.FromMilliseconds(1234), "rule instructions", "t"), (plan.Window, plan.MaxThinkTokens, plan.Deadline, plan.Instructions, plan.TitleField));
        Assert.Equal(["text"], plan.Fields);
        Assert.Equal("""{"query":{"match_all":{}}}""", body.ToJsonString());
    }

    [Fact]
    public void From_Ext_OverridesEverySettingAndIsRemoved()
    {
        var body = JsonNode.Parse("""
            {"query":{},"ext":{"other":{"x":1},"rank1":{"enabled":true,"window":3,"fields":["a","b"],"title_field":"h","query":"q",
             "instructions":"i","max_think_tokens":5,"deadline_ms":50,"include_reasoning":false}}}
            """)!.AsObject();
        var plan = RerankPlan.From(body, Rule);
        Assert.Equal((3, 5, TimeSpan.FromMilliseconds(50), "i", "h", "q", false), (plan.Window, plan.MaxThinkTokens, plan.Deadline, plan.Instructions, plan.TitleField, plan.QueryText, plan.IncludeReasoning));
        Assert.Equal(["a", "b"], plan.Fields);
        Assert.True(plan.RequestedByClient);
        Assert.Equal("""{"query":{},"ext":{"other":{"x":1}}}""", body.ToJsonString()); // other ext plugins untouched
    }

    [Fact]
    public void From_ExtOnly_RemovesTheWholeExtSection()
    {
        var body = JsonNode.Parse("""{"ext":{"rank1":{"enabled":false}}}""")!.AsObject();
        var plan = RerankPlan.From(body, Rule);
        Assert.False(plan.Enabled);
        Assert.False(plan.RequestedByClient);
        Assert.Equal("{}", body.ToJsonString());
    }

    [Theory]
    [InlineData("""{"window":51}""", "[ext.rank1.window] must be a whole number from 1 to 50 (got 51)")]
    [InlineData("""{"max_think_tokens":2049}""", "[ext.rank1.max_think_tokens] must be a whole number from 0 to 2048 (got 2049)")]
    [InlineData("""{"deadline_ms":30001}""", "[ext.rank1.deadline_ms] must be a whole number from 1 to 30000 (got 30001)")]
    public void From_ExtAboveTheOperatorsCaps_IsA400NamingTheFieldAndTheCap(string rank1, string message)
    {
        var body = JsonNode.Parse("{\"ext\":{\"rank1\":" + rank1 + "}}")!.AsObject();
        var ex = Assert.Throws<EsException>(() => RerankPlan.From(body, Rule, new RerankCaps { Window = 50, MaxThinkTokens = 2048, Deadline = TimeSpan.FromSeconds(30) }));
        Assert.Equal(400, ex.Status);
        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }

    // Issue #18: an anonymous caller asking for a window of 200, 32,768 reasoning tokens and ten minutes held the engine
    // from everyone else. The default caps refuse that; the operator raises them for trusted callers.
    [Theory]
    [InlineData("""{"window":200}""", "[ext.rank1.window] must be a whole number from 1 to 100 (got 200)")]
    [InlineData("""{"max_think_tokens":32768}""", "[ext.rank1.max_think_tokens] must be a whole number from 0 to 8192 (got 32768)")]
    [InlineData("""{"deadline_ms":600000}""", "[ext.rank1.deadline_ms] must be a whole number from 1 to 60000 (got 600000)")]
    public void From_HeavyCallerAtTheDefaultCaps_IsA400(string rank1, string message)
    {
        var body = JsonNode.Parse("{\"ext\":{\"rank1\":" + rank1 + "}}")!.AsObject();
        var ex = Assert.Throws<EsException>(() => RerankPlan.From(body, Rule, new RerankCaps()));
        Assert.Equal(400, ex.Status);
        Assert.Equal(message, ex.Message);

        // At the caps themselves the search is planned as asked.
        var atCaps = RerankPlan.From(JsonNode.Parse("""{"ext":{"rank1":{"window":100,"max_think_tokens":8192,"deadline_ms":60000}}}""")!.AsObject(), Rule, new RerankCaps());
        Assert.Equal(100, atCaps.Window);
    }

    [Theory]
    [InlineData("""{"window":1001}""", "[ext.rank1.window]")]
    [InlineData("""{"window":2.5}""", "[ext.rank1.window]")]
    [InlineData("""{"enabled":"yes"}""", "[ext.rank1.enabled]")]
    [InlineData("""{"query":""}""", "[ext.rank1.query]")]
    [InlineData("""{"fields":"text"}""", null)]
    [InlineData("""{"fields":[1]}""", "[ext.rank1.fields]")]
    [InlineData("""{"unknown":1}""", "[ext.rank1.unknown]")]
    [InlineData("""[1]""", "[ext.rank1] must be an object")]
    public void From_BadValues_NameTheField(string ext, string? named)
    {
        var body = JsonNode.Parse("{\"ext\":{\"rank1\":" + ext + "}}")!.AsObject();
        if (named is null)
        {
            Assert.Equal(["text"], RerankPlan.From(body, Rule).Fields);
            return;
        }

        var ex = Assert.Throws<EsException>(() => RerankPlan.From(body, Rule));
        Assert.Equal(400, ex.Status);
        Assert.Contains(named, ex.Message, StringComparison.Ordinal);
    }
}

public sealed class RerankPlanTemplateTests
{
    // The model's own token limits (Rank1:Model defaults).
    private static readonly ModelTokenLimits Model = new(512, 2048);

    private const string Template = "Claim: FILL_QUERY_HERE\n\nA relevant passage supports or refutes it.";

    [Fact]
    public void From_ExtPromptTemplate_ReachesTheModelAndTheStoreKey()
    {
        var rule = new RerankRule { PromptTemplate = "Rule: FILL_QUERY_HERE" };
        var plain = RerankPlan.From(new JsonObject(), new RerankRule());
        var fromRule = RerankPlan.From(new JsonObject(), rule);
        var body = new JsonObject { ["ext"] = new JsonObject { ["rank1"] = new JsonObject { ["prompt_template"] = Template } } };
        var fromRequest = RerankPlan.From(body, rule);

        Assert.Null(plain.JudgeSettings().PromptTemplate);
        Assert.Equal("Rule: FILL_QUERY_HERE", fromRule.JudgeSettings().PromptTemplate);
        Assert.Equal(Template, fromRequest.JudgeSettings().PromptTemplate); // the request's own replaces the rule's
        Assert.Null(body["ext"]);

        // Judgements under another template are other judgements: three distinct reasoning-store fingerprints.
        Assert.Equal(3, new[] { plain.Fingerprint("q", Model), fromRule.Fingerprint("q", Model), fromRequest.Fingerprint("q", Model) }.Distinct().Count());
    }

    [Fact]
    public void Fingerprint_TokenLimitAtOrAboveTheModelsOwn_IsTheKeyOfNone()
    {
        string Key(string ext) => RerankPlan.From(JsonNode.Parse("{\"ext\":{\"rank1\":{" + ext + "}}}")!.AsObject(), new RerankRule()).Fingerprint("q", Model);
        var none = RerankPlan.From(new JsonObject(), new RerankRule()).Fingerprint("q", Model);

        // Judged exactly as no limit (the engine caps it at the model's own), so stored and found under the same key.
        Assert.Equal(none, Key("\"max_passage_tokens\":2048"));
        Assert.Equal(none, Key("\"max_passage_tokens\":4096,\"max_query_tokens\":512"));
        Assert.NotEqual(none, Key("\"max_passage_tokens\":2047"));
        Assert.NotEqual(none, Key("\"max_query_tokens\":511"));
    }

    [Fact]
    public void From_TemplateWithoutThePlaceholder_Is400()
    {
        var body = new JsonObject { ["ext"] = new JsonObject { ["rank1"] = new JsonObject { ["prompt_template"] = "no place for the query" } } };
        var ex = Assert.Throws<EsException>(() => RerankPlan.From(body, new RerankRule()));
        Assert.Contains("FILL_QUERY_HERE", ex.Message, StringComparison.Ordinal);
    }
}

public sealed class RuleSetTests
{
    [Theory]
    [InlineData("logs-2025", "logs")]
    [InlineData("docs", "docs")]
    [InlineData("docs,docs-archive", "docs")]
    [InlineData("docs,logs-1", "default")]
    [InlineData(null, "default")]
    [InlineData("other", "default")]
    public void Resolve_FirstRuleCoveringEveryIndexWins(string? expression, string expected)
    {
        var options = new ProxyOptions();
        options.Indices.Add(new RerankRule { Pattern = "logs-*", Instructions = "logs" });
        options.Indices.Add(new RerankRule { Pattern = "docs*", Instructions = "docs" });
        options.Default = new RerankRule { Instructions = "default" };
        Assert.Equal(expected, new RuleSet(Options.Create(options)).Resolve(expression).Instructions);
    }
}

public sealed class HitRewriterTests
{
    private static JsonObject Response(int hits) => new()
    {
        ["took"] = 5,
        ["hits"] = new JsonObject
        {
            ["total"] = new JsonObject { ["value"] = 123, ["relation"] = "eq" },
            ["max_score"] = 9.0,
            ["hits"] = new JsonArray(Enumerable.Range(0, hits).Select(i => (JsonNode)new JsonObject
            {
                ["_id"] = $"h{i}",
                ["_score"] = 9.0 - i,
                ["_source"] = new JsonObject { ["text"] = $"text {i}", ["title"] = new JsonArray($"title {i}", "second") },
            }).ToArray()),
        },
        ["aggregations"] = new JsonObject { ["a"] = new JsonObject { ["value"] = 1 } },
    };

    private static PassageVerdict V(int index, double score, PassageSource source = PassageSource.Computed) =>
        new(index, new Rank1Judgement(score, score >= 0.5, $"why {index}", 3, ReasoningEnd.Budget, 10, TimeSpan.Zero, TimeSpan.Zero), source);

    [Fact]
    public void Apply_Partial_JudgedByScoreThenUnjudgedWindowThenRest_SlicedToThePage()
    {
        var response = Response(6);
        var outcome = new RerankOutcome(RerankStatus.Partial, [V(2, 0.9), V(0, 0.1), V(1, 0.6, PassageSource.Forced)], null, TimeSpan.FromMilliseconds(40));
        HitRewriter.Apply(response, from: 1, size: 4, outcome, includeReasoning: false, explain: false);

        var hits = response["hits"]!["hits"]!.AsArray();
        // Full order: h2 (0.9), h1 (0.6), h0 (0.1), then h3.. in backend order; the page is positions 1..4.
        Assert.Equal(["h1", "h0", "h3", "h4"], hits.Select(h => h!["_id"]!.GetValue<string>()));
        Assert.Equal(0.6, hits[0]!["_score"]!.GetValue<double>());
        Assert.Equal("forced", hits[0]!["fields"]!["_rank1.source"]![0]!.GetValue<string>());
        Assert.Equal(8.0, hits[0]!["fields"]!["_rank1.original_score"]![0]!.GetValue<double>());
        Assert.Null(hits[0]!["fields"]!["_rank1.reasoning"]);
        // Past the window: below the lowest Rank1 score (0.1), the best of these at half of it, its backend score kept.
        Assert.Equal(0.05, hits[2]!["_score"]!.GetValue<double>(), 12);
        Assert.Equal(0.1 * 5 / 12, hits[3]!["_score"]!.GetValue<double>(), 12);
        Assert.Equal(6.0, hits[2]!["fields"]!["_rank1.original_score"]![0]!.GetValue<double>());
        Assert.Null(hits[2]!["fields"]!["_rank1.score"]);
        Assert.Equal(0.9, response["hits"]!["max_score"]!.GetValue<double>());
        Assert.Equal("45", response["took"]!.ToJsonString());
        Assert.Equal(123, response["hits"]!["total"]!["value"]!.GetValue<int>());
        Assert.NotNull(response["aggregations"]);
    }

    // Hits pinned on top (a pinned or rule query's, scored above any organic hit) keep their places, backend scores and the
    // backend's max_score, the first pin's, marked pinned; the organic hits after them are in Rank1's order, and min_score
    // leaves out judged hits only.
    [Theory]
    [InlineData(null, new[] { "h0", "h1", "h3", "h2", "h4" })]
    [InlineData(0.95, new[] { "h0", "h1", "h4" })]
    public void Apply_PinnedOnTop_KeepTheirPlacesAndScores_TheJudgedHitsFollowInRank1Order(double? minScore, string[] expected)
    {
        var response = Response(5);
        var outcome = new RerankOutcome(RerankStatus.Applied, [V(2, 0.4), V(3, 0.9)], null, TimeSpan.Zero);
        HitRewriter.Apply(response, from: 0, size: 5, outcome, includeReasoning: false, explain: false, minScore: minScore, pinned: 2);

        var hits = response["hits"]!["hits"]!.AsArray();
        Assert.Equal(expected, hits.Select(h => h!["_id"]!.GetValue<string>()));
        Assert.Equal((9.0, 8.0), (hits[0]!["_score"]!.GetValue<double>(), hits[1]!["_score"]!.GetValue<double>()));
        Assert.All(hits.Take(2), h => Assert.Equal(("pinned", h!["_score"]!.GetValue<double>()),
            (h!["fields"]!["_rank1.source"]![0]!.GetValue<string>(), h["fields"]!["_rank1.original_score"]![0]!.GetValue<double>())));
        Assert.Equal(9.0, response["hits"]!["max_score"]!.GetValue<double>());
    }

    [Fact]
    public void Apply_CompoundRetrieverHits_TheirRankIsTheirPlaceAfterTheRerank()
    {
        // An rrf (or text_similarity_reranker, rule, ...) retriever's hits carry _rank, their 1-based place in its answer
        // (SearchHit.toXContent writes it; the place counts from, as RRF's rank + 1 + from). Reranked, a hit kept the
        // backend's place: the hit answered first said "_rank": 3.
        var response = Response(5);
        var backendHits = response["hits"]!["hits"]!.AsArray();
        for (var i = 0; i < backendHits.Count; i++)
        {
            backendHits[i]!["_rank"] = i + 1;
        }

        var outcome = new RerankOutcome(RerankStatus.Applied, [V(2, 0.9), V(0, 0.1), V(1, 0.6)], null, TimeSpan.Zero);
        HitRewriter.Apply(response, from: 1, size: 3, outcome, includeReasoning: false, explain: false);

        var hits = response["hits"]!["hits"]!.AsArray();
        Assert.Equal(["h1", "h0", "h3"], hits.Select(h => h!["_id"]!.GetValue<string>()));
        Assert.Equal([2, 3, 4], hits.Select(h => h!["_rank"]!.GetValue<int>()));

        // In backend order (the model could not help) the backend's places stand.
        var fallback = Response(3);
        var fallbackHits = fallback["hits"]!["hits"]!.AsArray();
        for (var i = 0; i < fallbackHits.Count; i++)
        {
            fallbackHits[i]!["_rank"] = i + 1;
        }

        HitRewriter.Apply(fallback, 0, 3, new RerankOutcome(RerankStatus.FallbackTimeout, [], "x", TimeSpan.Zero), false, false);
        Assert.Equal([1, 2, 3], fallback["hits"]!["hits"]!.AsArray().Select(h => h!["_rank"]!.GetValue<int>()));
    }

    [Fact]
    public void Apply_CompoundRetrieverHitsOfAPageTheBackendSliced_TheirRankCountsFromTheClientsFrom()
    {
        // A search that hands out cursors (a point in time, a sort of several keys) is reranked within its own page: the
        // backend is sent the client's from (2) and answers that page alone, so the rewrite slices from 0. Elasticsearch
        // numbers a compound retriever's hits from + position + 1 (3, 4, 5); the proxy answered 1, 2, 3.
        var response = Response(3);
        var backendHits = response["hits"]!["hits"]!.AsArray();
        for (var i = 0; i < backendHits.Count; i++)
        {
            backendHits[i]!["_rank"] = 2 + i + 1;
            backendHits[i]!["sort"] = new JsonArray(9.0 - i, 100L + i);
        }

        var outcome = new RerankOutcome(RerankStatus.Applied, [V(0, 0.2), V(1, 0.7), V(2, 0.9)], null, TimeSpan.Zero);
        HitRewriter.Apply(response, from: 0, size: 3, outcome, includeReasoning: false, explain: false, keepSortPositions: true, rankFrom: 2);

        var hits = response["hits"]!["hits"]!.AsArray();
        Assert.Equal(["h2", "h1", "h0"], hits.Select(h => h!["_id"]!.GetValue<string>()));
        Assert.Equal([3, 4, 5], hits.Select(h => h!["_rank"]!.GetValue<int>()));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // on a point in time, whose sort values are otherwise kept in place as cursors
    public void Apply_CompoundRetrieverHits_TheirSortIsTheirOwnScoreAndShardDoc(bool keepSortPositions)
    {
        // Elasticsearch gives a compound retriever's hit the sort [its score, its shard and doc] (SearchPhaseController.getHits:
        // sortValues(score, ShardDocSortField.encodeShardAndDoc)); such a hit is no cursor (a retriever takes no search_after).
        // Reranked, the sort said the backend's score beside Rank1's _score, and on a point in time another hit's shard and doc.
        var response = Response(4);
        var backendHits = response["hits"]!["hits"]!.AsArray();
        for (var i = 0; i < backendHits.Count; i++)
        {
            backendHits[i]!["_rank"] = i + 1;
            backendHits[i]!["sort"] = new JsonArray(9.0 - i, 100L + i);
        }

        var outcome = new RerankOutcome(RerankStatus.Applied, [V(0, 0.2), V(1, 0.7), V(2, 0.9)], null, TimeSpan.Zero);
        HitRewriter.Apply(response, from: 0, size: 4, outcome, includeReasoning: false, explain: false, keepSortPositions: keepSortPositions);

        var hits = response["hits"]!["hits"]!.AsArray();
        Assert.Equal(["h2", "h1", "h0", "h3"], hits.Select(h => h!["_id"]!.GetValue<string>()));
        Assert.Equal([0.9, 0.7, 0.2], hits.Take(3).Select(h => h!["_score"]!.GetValue<double>()));
        Assert.True(hits[3]!["_score"]!.GetValue<double>() < 0.2); // past the window: scaled below the judged hits
        Assert.Equal(hits.Select(h => (h!["_score"]!.GetValue<double>(), 100L + int.Parse(h["_id"]!.GetValue<string>()[1..]))),
            hits.Select(h => (h!["sort"]![0]!.GetValue<double>(), h!["sort"]![1]!.GetValue<long>())));
    }

    [Theory]
    [InlineData(RerankStatus.FallbackError)]
    [InlineData(RerankStatus.FallbackTimeout)]
    [InlineData(RerankStatus.FallbackOverload)]
    public void Apply_Fallback_KeepsBackendOrderAndScores_AndTookCountsTheTimeSpentOnTheRerank(RerankStatus status)
    {
        // A search answered in backend order after 20 s of waiting for the model said "took": 5, the backend's alone.
        var response = Response(4);
        HitRewriter.Apply(response, 0, 2, new RerankOutcome(status, [], "x", TimeSpan.FromSeconds(20)), true, false);
        var hits = response["hits"]!["hits"]!.AsArray();
        Assert.Equal(["h0", "h1"], hits.Select(h => h!["_id"]!.GetValue<string>()));
        Assert.Equal(9.0, response["hits"]!["max_score"]!.GetValue<double>());
        Assert.Null(hits[0]!["fields"]);
        Assert.Equal("20005", response["took"]!.ToJsonString());
    }

    [Fact]
    public void Apply_HitsAfterTheJudgedOnesWithNullScores_AreAnsweredWithZero_TheirNullKept()
    {
        // A legacy rank.rrf search answers "_score": null on its hits (SearchHit.toXContent writes a NaN score as null).
        var response = Response(4);
        foreach (var hit in response["hits"]!["hits"]!.AsArray())
        {
            hit!["_score"] = null;
        }

        HitRewriter.Apply(response, 0, 4, new RerankOutcome(RerankStatus.Applied, [V(1, 0.8), V(0, 0.4)], null, TimeSpan.Zero), false, false);

        var hits = response["hits"]!["hits"]!.AsArray();
        Assert.Equal(["h1", "h0", "h2", "h3"], hits.Select(h => h!["_id"]!.GetValue<string>()));
        Assert.Equal([0.8, 0.4, 0.0, 0.0], hits.Select(h => h!["_score"]!.GetValue<double>()));
        Assert.Equal("[null]", hits[2]!["fields"]!["_rank1.original_score"]!.ToJsonString());
        Assert.Equal(0.8, response["hits"]!["max_score"]!.GetValue<double>());
    }

    [Fact]
    public void Apply_HitsAfterTheJudgedOnesWithNegativeOrNonNumericScores_AreAnsweredWithZero_InBackendOrder()
    {
        var response = Response(5);
        var backendHits = response["hits"]!["hits"]!.AsArray();
        backendHits[2]!["_score"] = 6.0;
        backendHits[3]!["_score"] = -1.0;
        backendHits[4]!["_score"] = "high";

        HitRewriter.Apply(response, 0, 5, new RerankOutcome(RerankStatus.Applied, [V(0, 0.3), V(1, 0.6)], null, TimeSpan.Zero), false, false);

        var hits = response["hits"]!["hits"]!.AsArray();
        Assert.Equal(["h1", "h0", "h2", "h3", "h4"], hits.Select(h => h!["_id"]!.GetValue<string>()));
        // The best of them at half the lowest Rank1 score (0.3 * 6 / 12); a negative or non-numeric one at 0.
        Assert.Equal([0.6, 0.3, 0.15, 0.0, 0.0], hits.Select(h => h!["_score"]!.GetValue<double>()));
        Assert.Equal(-1.0, hits[3]!["fields"]!["_rank1.original_score"]![0]!.GetValue<double>());
        Assert.Equal("[\"high\"]", hits[4]!["fields"]!["_rank1.original_score"]!.ToJsonString());
    }

    [Fact]
    public void Apply_HitsAfterTheJudgedOnes_AHitWithNoNumericScoreBeforeScoredOnes_TheirScoresNeverRiseDownTheAnswer()
    {
        // The answer's hits are by _score, best first, as Elasticsearch answers a search sorted by score: a hit with no
        // score (0) followed by scored ones was answered 0, then 0.15 and 0.075.
        var response = Response(5);
        var backendHits = response["hits"]!["hits"]!.AsArray();
        backendHits[2]!["_score"] = null;
        backendHits[3]!["_score"] = 6.0;
        backendHits[4]!["_score"] = 3.0;

        HitRewriter.Apply(response, 0, 5, new RerankOutcome(RerankStatus.Applied, [V(0, 0.3), V(1, 0.6)], null, TimeSpan.Zero), false, false);

        var hits = response["hits"]!["hits"]!.AsArray();
        Assert.Equal(["h1", "h0", "h2", "h3", "h4"], hits.Select(h => h!["_id"]!.GetValue<string>()));
        Assert.Equal([0.6, 0.3, 0.0, 0.0, 0.0], hits.Select(h => h!["_score"]!.GetValue<double>()));
        Assert.Equal(6.0, hits[3]!["fields"]!["_rank1.original_score"]![0]!.GetValue<double>());
    }

    [Fact]
    public void Apply_PartialWithNoVerdicts_KeepsBackendOrderAndScores_MaxScoreIsTheBestHitLeft()
    {
        var response = Response(4);
        response["hits"]!["max_score"] = 42.0;

        HitRewriter.Apply(response, 1, 2, new RerankOutcome(RerankStatus.Partial, [], "every passage failed", TimeSpan.Zero), false, false);

        var hits = response["hits"]!["hits"]!.AsArray();
        Assert.Equal(["h1", "h2"], hits.Select(h => h!["_id"]!.GetValue<string>()));
        Assert.Equal([8.0, 7.0], hits.Select(h => h!["_score"]!.GetValue<double>()));
        Assert.Null(hits[0]!["fields"]);
        Assert.Equal(9.0, response["hits"]!["max_score"]!.GetValue<double>());
    }

    [Fact]
    public void Passage_JoinsFieldsAndTakesTheFirstTitleValue()
    {
        var hit = Response(1)["hits"]!["hits"]![0]!.AsObject();
        Assert.Equal(("title 0", "text 0 title 0 second"), SearchHits.Passage(hit, ["text", "title"], "title"));
        Assert.Equal((null, ""), SearchHits.Passage(hit, ["missing"], null));
    }
}
