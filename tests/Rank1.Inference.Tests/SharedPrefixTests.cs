using Rank1.Inference.Decoding;

namespace Rank1.Inference.Tests;

/// <summary>Judging a window with the shared prompt prefix prefilled once equals judging each passage alone.</summary>
public sealed class SharedPrefixTests(TinyEngineFixture fx) : IClassFixture<TinyEngineFixture>
{
    private static readonly (string? Title, string Text)[] Window =
    [
        ("Onion tears", "Cutting an onion releases a gas that irritates the eyes and makes them water."),
        (null, "French onion soup is made from caramelised onions and beef stock."),
        ("Crying", "People cry when they are sad, and tears can also wash irritants from the eyes."),
        ("Eye drops", "Eye drops relieve dry eyes and irritation. 目薬 🧅"),
        (null, "Onions"),
    ];

    [Theory]
    [InlineData(16, null)]
    [InlineData(3, "Only cooking advice counts.")]
    [InlineData(0, null)]
    public void JudgeAll_EqualsEachPassageJudgedAlone(int budget, string? instructions)
    {
        var settings = new JudgeSettings { MaxThinkTokens = budget };
        var (traces, shared) = fx.Engine.JudgeAllTraced("why do onions make people cry", instructions, Window, settings, CancellationToken.None);

        // The prefix really is shared: the instruction line and the query at least.
        Assert.True(shared >= SharedPrefix.MinLength, $"shared {shared} tokens");
        Assert.True(shared > fx.Engine.Tokenizer.EncodeText(Rank1.Inference.Prompt.Rank1Prompt.Instruction).Count, $"shared {shared} tokens");
        Assert.Equal(Window.Length, traces.Count);
        for (var i = 0; i < Window.Length; i++)
        {
            var alone = fx.Engine.JudgeTraced(new Rank1Input("why do onions make people cry", Window[i].Text, Window[i].Title, instructions), settings, CancellationToken.None);
            Assert.Equal(alone.Prompt, traces[i].Prompt);
            Assert.Equal(alone.Generated, traces[i].Generated);     // the same greedy reasoning, token for token
            Assert.Equal(alone.Scored, traces[i].Scored);
            Assert.Equal(alone.Judgement.End, traces[i].Judgement.End);
            Assert.Equal(alone.Judgement.Reasoning, traces[i].Judgement.Reasoning);
            Assert.InRange(Math.Abs(alone.LogitTrue - traces[i].LogitTrue), 0, 1e-3);
            Assert.InRange(Math.Abs(alone.LogitFalse - traces[i].LogitFalse), 0, 1e-3);
            Assert.InRange(Math.Abs(alone.Judgement.Score - traces[i].Judgement.Score), 0, 1e-4);
            Assert.Equal(alone.Judgement.PromptTokens, traces[i].Judgement.PromptTokens);
        }
    }

    [Fact]
    public void SharedPrefixLength_LeavesEveryPromptAToken()
    {
        Assert.Equal(2, SharedPrefix.Length([[1, 2, 3, 4], [1, 2, 9]]));
        Assert.Equal(2, SharedPrefix.Length([[1, 2, 3], [1, 2, 3]]));   // identical prompts: the last token is fed per prompt
        Assert.Equal(0, SharedPrefix.Length([[5, 2], [1, 2]]));
        Assert.Equal(0, SharedPrefix.Length([]));
    }

    [Fact]
    public void JudgeAll_OnePassageOrNoSharedPrefix_FallsBackToSeparateJudgements()
    {
        var (single, shared) = fx.Engine.JudgeAllTraced("onions", null, [Window[0]], new JudgeSettings { MaxThinkTokens = 2 }, CancellationToken.None);
        Assert.Equal(0, shared);
        Assert.Single(single);
        Assert.Empty(fx.Engine.JudgeAll("onions", null, [], new JudgeSettings { MaxThinkTokens = 2 }));
    }

    [Fact]
    public void JudgeAll_Cancelled_Throws()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => fx.Engine.JudgeAll("onions", null, Window, new JudgeSettings { MaxThinkTokens = 4 }, cts.Token));
    }
}
