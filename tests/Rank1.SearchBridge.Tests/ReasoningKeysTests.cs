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
        var id = ReasoningKeys.DocumentId("model", "v1", "docs", "d1", "fp");
        Assert.Equal(id, ReasoningKeys.DocumentId("model", "v1", "docs", "d1", "fp"));
        Assert.NotEqual(id, ReasoningKeys.DocumentId("model2", "v1", "docs", "d1", "fp"));
        Assert.NotEqual(id, ReasoningKeys.DocumentId("model", "v2", "docs", "d1", "fp"));
        Assert.NotEqual(id, ReasoningKeys.DocumentId("model", "v1", "docs-copy", "d1", "fp"));
        Assert.NotEqual(id, ReasoningKeys.DocumentId("model", "v1", "docs", "d2", "fp"));
        Assert.NotEqual(id, ReasoningKeys.DocumentId("model", "v1", "docs", "d1", "fp2"));
        // Parts are separated, so shifting text between them changes the id.
        Assert.NotEqual(ReasoningKeys.DocumentId("ab", "c", "x", "y", "z"), ReasoningKeys.DocumentId("a", "bc", "x", "y", "z"));
    }

    [Fact]
    public void PassageHash_ChangesWithAnyEdit()
    {
        Assert.Equal(ReasoningKeys.PassageHash("Title text"), ReasoningKeys.PassageHash("Title text"));
        Assert.NotEqual(ReasoningKeys.PassageHash("Title text"), ReasoningKeys.PassageHash("Title text."));
    }
}
