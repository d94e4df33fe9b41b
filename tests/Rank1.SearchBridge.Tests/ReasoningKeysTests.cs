using Rank1.SearchBridge.Store;

namespace Rank1.SearchBridge.Tests;

public sealed class ReasoningKeysTests
{
    private static string F(string query, string? instructions = null, int budget = 256, string[]? fields = null, string? title = null) =>
        ReasoningKeys.Fingerprint(query, instructions, budget, fields ?? ["text"], title);

    [Fact]
    public void Fingerprint_NormalisesCaseWhitespaceAndCompatibilityForms()
    {
        Assert.Equal(F("why do onions make people cry"), F("  Why DO\tonions\n make   people cry "));
        Assert.Equal(F("ｆｕｌｌ width"), F("full width")); // NFKC
        Assert.Equal(F("q", "Answer  in French."), F("q", "answer in french."));
    }

    [Fact]
    public void Fingerprint_ChangesWithEverySettingThatChangesAJudgement()
    {
        var baseline = F("q");
        Assert.NotEqual(baseline, F("q2"));
        Assert.NotEqual(baseline, F("q", "instructions"));
        Assert.NotEqual(baseline, F("q", budget: 512));
        Assert.NotEqual(baseline, F("q", fields: ["body"]));
        Assert.NotEqual(baseline, F("q", title: "title"));
        Assert.Equal(64, baseline.Length);
    }

    [Fact]
    public void DocumentId_IsDeterministicAndDependsOnEveryKeyPart()
    {
        var id = ReasoningKeys.DocumentId("model", "mfp", "v1", "docs", "d1", "fp", "h");
        Assert.Equal(id, ReasoningKeys.DocumentId("model", "mfp", "v1", "docs", "d1", "fp", "h"));
        Assert.NotEqual(id, ReasoningKeys.DocumentId("model2", "mfp", "v1", "docs", "d1", "fp", "h"));
        // Another model under the same id (another folder's content at the same path) looks up other ids.
        Assert.NotEqual(id, ReasoningKeys.DocumentId("model", "mfp2", "v1", "docs", "d1", "fp", "h"));
        Assert.NotEqual(id, ReasoningKeys.DocumentId("model", "mfp", "v2", "docs", "d1", "fp", "h"));
        Assert.NotEqual(id, ReasoningKeys.DocumentId("model", "mfp", "v1", "docs-copy", "d1", "fp", "h"));
        Assert.NotEqual(id, ReasoningKeys.DocumentId("model", "mfp", "v1", "docs", "d2", "fp", "h"));
        Assert.NotEqual(id, ReasoningKeys.DocumentId("model", "mfp", "v1", "docs", "d1", "fp2", "h"));
        // A changed document's judgement has an id of its own: it never collides with the stale one's.
        Assert.NotEqual(id, ReasoningKeys.DocumentId("model", "mfp", "v1", "docs", "d1", "fp", "h2"));
        // Parts are separated, so shifting text between them changes the id.
        Assert.NotEqual(ReasoningKeys.DocumentId("ab", "c", "d", "x", "y", "z", "h"), ReasoningKeys.DocumentId("a", "bc", "d", "x", "y", "z", "h"));
        Assert.NotEqual(ReasoningKeys.DocumentId("m", "ab", "c", "x", "y", "z", "h"), ReasoningKeys.DocumentId("m", "a", "bc", "x", "y", "z", "h"));
    }

    [Theory]
    [InlineData(null, null, true, null)]
    [InlineData(null, 2048, true, null)] // the model's own limit, or above it: judged as none, keyed as none
    [InlineData(null, 4096, true, null)]
    [InlineData(512, null, true, null)]
    [InlineData(600, 100_000, true, null)]
    [InlineData(null, 2047, true, "qp2047")]
    [InlineData(511, 512, true, "q511p512")]
    [InlineData(511, 4096, true, "q511p")]
    [InlineData(null, null, false, "qp!cut")]
    [InlineData(null, 4096, false, "qp!cut")]
    public void Limits_AtOrAboveTheModelsOwn_CountAsNone(int? maxQueryTokens, int? maxPassageTokens, bool truncate, string? expected) =>
        Assert.Equal(expected, ReasoningKeys.Limits(maxQueryTokens, maxPassageTokens, new ModelTokenLimits(512, 2048), truncate));

    /// <summary>
    /// The model's own limits (<c>Rank1:Model:MaxQueryTokens</c>, <c>MaxPassageTokens</c>) count as well: a host that cuts
    /// every passage at 256 tokens judges other text than one that reads 2048 of it, so the two never share a key (they
    /// did, as no limit set counted as none whatever the model's own). Keys stay those of the engine's defaults (512,
    /// 2048) wherever the limit in effect is one of them.
    /// </summary>
    [Theory]
    [InlineData(null, null, 512, 256, "qp256")] // the model's own limit is in effect: keyed, as a rule's 256 is
    [InlineData(null, 256, 512, 2048, "qp256")]
    [InlineData(null, 1000, 512, 256, "qp256")] // a rule above the model's own is capped there
    [InlineData(null, null, 512, 4096, "qp4096")]
    [InlineData(null, 2048, 512, 4096, null)] // in effect the default: judged as a default host judges
    [InlineData(null, null, 100, 2048, "q100p")]
    [InlineData(null, null, 1000, 2048, "q1000p")]
    [InlineData(512, null, 1000, 2048, null)]
    public void Limits_KeyTheModelsOwnLimits_WhereTheyAreNotTheEnginesDefaults(int? maxQueryTokens, int? maxPassageTokens, int modelQuery, int modelPassage, string? expected) =>
        Assert.Equal(expected, ReasoningKeys.Limits(maxQueryTokens, maxPassageTokens, new ModelTokenLimits(modelQuery, modelPassage)));

    [Fact]
    public void PassageHash_ChangesWithAnyEdit()
    {
        Assert.Equal(ReasoningKeys.PassageHash("Title text"), ReasoningKeys.PassageHash("Title text"));
        Assert.NotEqual(ReasoningKeys.PassageHash("Title text"), ReasoningKeys.PassageHash("Title text."));
    }
}
