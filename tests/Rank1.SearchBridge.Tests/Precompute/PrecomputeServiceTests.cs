using Rank1.SearchBridge.Messages;
using Rank1.SearchBridge.Precompute;

namespace Rank1.SearchBridge.Tests.Precompute;

public sealed class PrecomputeServiceTests
{
    private static PrecomputeReasoning Job(int maxThinkTokens, int? maxQueryTokens = null, int? maxPassageTokens = null) =>
        new("docs", "onion", null, 5, ["text"], "title", maxThinkTokens, PrecomputeReasoning.HotQuery, MaxQueryTokens: maxQueryTokens, MaxPassageTokens: maxPassageTokens);

    // The problem Validate reports, or null when the request is valid.
    private static string? Problem(PrecomputeReasoning job)
    {
        try
        {
            PrecomputeService.Validate(job, maxWindow: 10);
            return null;
        }
        catch (InvalidPrecomputeRequestException e)
        {
            return e.Message;
        }
    }

    [Theory]
    // Only the passage fields come back (the client's _source filter, if any, is the proxy's to apply): the window's
    // whole documents were fetched, megabytes each where documents are big.
    [InlineData(null, """{"query":{"multi_match":{"query":"onion","fields":["text"]}},"from":0,"size":5,"_source":{"includes":["text","title"]}}""")]
    [InlineData("""{"query":{"match":{"text":"onion"}},"_source":["topic"]}""", """{"query":{"match":{"text":"onion"}},"_source":{"includes":["text","title"]},"from":0,"size":5}""")]
    // As the proxy asks: a knn search without k keeps the search's own size as its k; a compound retriever's window caps the size.
    [InlineData("""{"knn":{"field":"v","query_vector":[1]},"size":3}""", """{"knn":{"field":"v","query_vector":[1],"k":3},"size":5,"from":0,"_source":{"includes":["text","title"]}}""")]
    [InlineData("""{"retriever":{"rrf":{"retrievers":[],"rank_window_size":4}}}""", """{"retriever":{"rrf":{"retrievers":[],"rank_window_size":4}},"from":0,"size":4,"_source":{"includes":["text","title"]}}""")]
    public void SearchBody_AsksForTheWindowAsTheProxyDoes_WithOnlyThePassageFields(string? searchBody, string expected) =>
        Assert.Equal(expected, PrecomputeService.SearchBody(Job(4) with { SearchBody = searchBody }, ["text"]).ToJsonString());

    // The proxy publishes a hot search's body as it read it, up to RequestJson.MaxDepth deep: 30 nested bool queries
    // (Elasticsearch's indices.query.bool.max_nested_depth) are about 92 levels. The worker read it at System.Text.Json's
    // default depth of 64 and sent such a job to the error queue as invalid ("[searchBody] is not valid JSON").
    [Fact]
    public void SearchBody_OfThirtyNestedBoolQueries_IsReadAsTheProxyReadsIt()
    {
        var query = """{"match":{"text":"onion"}}""";
        for (var i = 0; i < 30; i++)
        {
            query = """{"bool":{"must":[""" + query + "]}}";
        }

        var body = PrecomputeService.SearchBody(Job(4) with { SearchBody = """{"query":""" + query + "}" }, ["text"]);
        Assert.True(System.Text.Json.Nodes.JsonNode.DeepEquals(System.Text.Json.Nodes.JsonNode.Parse(query, documentOptions: new System.Text.Json.JsonDocumentOptions { MaxDepth = 256 }), body["query"]));
    }

    [Theory]
    [InlineData(0, null)] // valid for a proxy rule (Rank1:Proxy:*:MaxThinkTokens 0-32768): the worker must take it too
    [InlineData(256, null)]
    [InlineData(-1, "invalid precompute request: [maxThinkTokens] must be at least 0 (got -1)")]
    [InlineData(32_768, null)]
    [InlineData(32_769, "invalid precompute request: [maxThinkTokens] must be at most 32768 (got 32769)")]
    [InlineData(int.MaxValue, "invalid precompute request: [maxThinkTokens] must be at most 32768 (got 2147483647)")]
    public void Validate_ReasoningBudget_ZeroTo32768IsValid_AsARule(int maxThinkTokens, string? problem) =>
        Assert.Equal(problem, Problem(Job(maxThinkTokens)));

    [Theory]
    [InlineData(null, null, null)]
    [InlineData(1, 512, null)]
    [InlineData(0, null, "invalid precompute request: [maxQueryTokens] must be at least 1 (got 0)")]
    [InlineData(null, 0, "invalid precompute request: [maxPassageTokens] must be at least 1 (got 0)")]
    public void Validate_TokenLimits_AbsentOrPositive(int? maxQueryTokens, int? maxPassageTokens, string? problem) =>
        Assert.Equal(problem, Problem(Job(4, maxQueryTokens, maxPassageTokens)));

    // A third-party producer's job whose instructions, title field or a passage field is only white space, control or
    // invisible format characters (PrecomputeReasoning.IsBlankQuery, as the proxy holds ext.rank1's values) is refused
    // as an empty one: "\u0001" instructions were judged as "onion \u0001" and stored under a key no search looks up,
    // and a "\u200B" title field or field named no field.
    [Theory]
    [InlineData("\u0001", null, "text", "invalid precompute request: [instructions] must not be blank")]
    [InlineData(" \u200B\t", null, "text", "invalid precompute request: [instructions] must not be blank")]
    [InlineData(" ", null, "text", "invalid precompute request: [instructions] must not be blank")]
    [InlineData("\u200B", null, "text", "invalid precompute request: [instructions] must not be blank")]
    [InlineData(null, " ", "text", "invalid precompute request: [titleField] must not be blank")]
    // Exactly empty is none, not blank: what older proxies (a rule's Instructions= binds "") and older rank1-bridge
    // precompute runs published, still queued after an upgrade; they went to the error queue.
    [InlineData("", null, "text", null)]
    [InlineData(null, "", "text", null)]
    [InlineData("", "", "text", null)]
    [InlineData(null, "\u200B", "text", "invalid precompute request: [titleField] must not be blank")]
    [InlineData(null, "\u0000", "text", "invalid precompute request: [titleField] must not be blank")]
    [InlineData(null, null, "\u0007", "invalid precompute request: [fields] must name at least one non-empty field")]
    [InlineData(null, null, "\u2060", "invalid precompute request: [fields] must name at least one non-empty field")]
    [InlineData(null, null, " ", "invalid precompute request: [fields] must name at least one non-empty field")]
    [InlineData("Only medical advice counts.", "title", "text", null)]
    public void Validate_BlankInstructionsTitleFieldOrField_RefusedAsAnEmptyOne(string? instructions, string? titleField, string field, string? problem) =>
        Assert.Equal(problem, Problem(Job(4) with { Instructions = instructions, TitleField = titleField, Fields = ["body", field] }));

    // A job of "" instructions and title field is the job without them: judged and stored under the key the proxy looks
    // up for a search with no instructions and no title field (RerankPlan.Fingerprint's null), not refused.
    [Fact]
    public void Validate_ExactlyEmptyInstructionsAndTitleField_AreNone_KeyedAsTheSearchWithout()
    {
        var accepted = PrecomputeService.Validate(Job(4) with { Instructions = "", TitleField = "" }, maxWindow: 10);
        Assert.Equal((null, null), (accepted.Instructions, accepted.TitleField));
        Assert.Equal(Store.ReasoningKeys.Fingerprint("onion", null, 4, ["text"], null), Store.ReasoningKeys.JobFingerprint(accepted, new Store.ModelTokenLimits(512, 2048)));
    }

    [Fact]
    public void Validate_NamesEachFieldAsItTravels()
    {
        // Whoever publishes a job by hand reads the fault's message and fixes the field it names: that name must be the
        // message's own on the wire, as MassTransit's serializer writes it (camelCase). The problems said target_index,
        // max_think_tokens and the like, which a producer then sent and was told again were missing.
        var wire = System.Text.Json.Nodes.JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(
            Job(4) with { Instructions = "x", PromptTemplate = "x", SearchBody = "{}" }, MassTransit.Serialization.SystemTextJsonMessageSerializer.Options))!.AsObject();
        PrecomputeReasoning[] bad =
        [
            Job(4) with { TargetIndex = "" }, Job(4) with { Window = 0 }, Job(4) with { Fields = [] }, Job(-1), Job(4, 0), Job(4, null, 0),
            Job(4) with { PromptTemplate = "no placeholder" }, Job(4) with { Instructions = "\u0001" }, Job(4) with { TitleField = "\u200B" },
        ];
        foreach (var job in bad)
        {
            var problem = Problem(job)!;
            var named = System.Text.RegularExpressions.Regex.Match(problem, @": \[(\w+)\]").Groups[1].Value;
            Assert.True(wire.ContainsKey(named), $"'{problem}' names [{named}], which the message does not carry; it carries {string.Join(", ", wire.Select(p => p.Key))}");
        }
    }
}
