using Rank1.Inference.Prompt;

namespace Rank1.Inference.Tests.Prompt;

public sealed class Rank1PromptTests
{
    [Fact]
    public void Render_IsTheExactRank1Template()
    {
        Assert.Equal(
            "Determine if the following passage is relevant to the query. Answer only with 'true' or 'false'.\nQuery: q1\nPassage: p1\n<think>",
            Rank1Prompt.Render("q1", "p1"));
    }

    [Fact]
    public void QueryText_AppendsInstructionsWithOneSpace()
    {
        Assert.Equal("capital of france Only passages in French count.", Rank1Prompt.QueryText("capital of france", "Only passages in French count."));
        Assert.Equal("capital of france", Rank1Prompt.QueryText("capital of france", null));
        Assert.Equal("capital of france", Rank1Prompt.QueryText("capital of france", "  "));
    }

    [Theory]
    [InlineData(" capital of france ", "Only French.", "capital of france  Only French.")] // f"{q} {i}".strip(): inner spaces kept
    [InlineData("capital of france\n", "", "capital of france")] // stripped even with empty instructions
    [InlineData("\u001fq", "i\u001c", "q i")] // Python strips the separators U+001C..U+001F too
    [InlineData("Find a proof.", "Find a proof.", "Find a proof.")] // instructions equal to the query are not repeated
    [InlineData(" q ", null, " q ")] // no instructions: the query as given
    public void QueryText_IsTheReferenceJoin(string query, string? instructions, string expected) =>
        Assert.Equal(expected, Rank1Prompt.QueryText(query, instructions));

    [Fact]
    public void PassageText_JoinsTitleAndTextWithOneSpace()
    {
        Assert.Equal("Paris Paris is the capital.", Rank1Prompt.PassageText("Paris", "Paris is the capital."));
        Assert.Equal("Paris is the capital.", Rank1Prompt.PassageText(null, "Paris is the capital."));
        // A title that is present is joined even when empty or blank, as the reference's f"{title} {text}".
        Assert.Equal(" Paris is the capital.", Rank1Prompt.PassageText("", "Paris is the capital."));
        Assert.Equal("   Paris is the capital.", Rank1Prompt.PassageText("  ", "Paris is the capital."));
    }

    [Fact]
    public void ApplyTemplate_ReplacesEveryPlaceholder_AndRefusesATemplateWithout()
    {
        Assert.Equal("Claim: q i\n\nq i?", Rank1Prompt.ApplyTemplate("q i", "Claim: FILL_QUERY_HERE\n\nFILL_QUERY_HERE?"));
        Assert.Equal("q i", Rank1Prompt.ApplyTemplate("q i", null));
        Assert.Throws<ArgumentException>(() => Rank1Prompt.ApplyTemplate("q", "no placeholder"));
    }

    [Theory]
    [InlineData("First. Second! Third? unfinished thou", "First. Second! Third?")]
    [InlineData("One sentence. And then", "One sentence.")]
    [InlineData("no sentence end at all", "no sentence end at all")]
    [InlineData("ends exactly.", "ends exactly.")]
    [InlineData("", "")]
    public void CutToLastSentence_CutsAfterTheLastSentenceEnd(string reasoning, string expected) =>
        Assert.Equal(expected, Rank1Prompt.CutToLastSentence(reasoning));
}

public sealed class ReasoningEndsTests
{
    [Theory]
    [InlineData(ReasoningEnd.Finished, "finished")]
    [InlineData(ReasoningEnd.Budget, "budget")]
    [InlineData(ReasoningEnd.Deadline, "deadline")]
    [InlineData(ReasoningEnd.EndOfText, "eos")]
    public void Name_RoundTrips(ReasoningEnd end, string name)
    {
        Assert.Equal(name, ReasoningEnds.Name(end));
        Assert.True(ReasoningEnds.TryParse(name, out var back));
        Assert.Equal(end, back);
    }

    [Fact]
    public void TryParse_AcceptsTheEnumNamesAndRejectsOthers()
    {
        Assert.True(ReasoningEnds.TryParse("endoftext", out var e));
        Assert.Equal(ReasoningEnd.EndOfText, e);
        Assert.False(ReasoningEnds.TryParse("gave-up", out _));
        Assert.False(ReasoningEnds.TryParse("7", out _));
        Assert.False(ReasoningEnds.TryParse(null, out _));
    }
}
