using Rank1.Inference.Model;
using Rank1.Inference.Prompt;
using Rank1.Testing;

namespace Rank1.Inference.Tests;

/// <summary>Bounded cost per passage (issue #18): character and token caps before the model, the context clamp, chunked prefill.</summary>
public sealed class InputLimitsTests(TinyEngineFixture fx) : IClassFixture<TinyEngineFixture>
{
    private const string Query = "why do onions make people cry";

    private Rank1Engine Engine => fx.Engine;

    private int[] Oracle(string query, string passage) =>
        fx.Oracle.Encode(Rank1Prompt.Render(query, passage)).Select(i => (int)i).ToArray();

    /// <summary>
    /// A window checked first (<see cref="Rank1Engine.CheckInputs"/>, TEI's <c>"truncate": false</c>) and judged with what the
    /// check returned (<see cref="JudgeSettings.Checked"/>) is tokenized once, and judged as a window not checked; under other
    /// limits, another query, other instructions or another prompt template the kept prompts are not used (each passage encoded again). Before, the check's encodings were thrown away and each passage encoded again.
    /// </summary>
    [Fact]
    public async Task JudgeWindow_CheckedFirst_EncodesEachPassageOnce_SameScores_OtherLimitsEncodeAgain()
    {
        (string? Title, string Text)[] passages = [(null, "Cutting onions releases a gas that makes eyes water."), ("Tears", "Onions hold sulfur."), (null, "Bread rises.")];
        var settings = new JudgeSettings { MaxThinkTokens = 2, Truncate = false };
        var plain = await Engine.JudgeWindowAsync(Query, null, passages, settings);
        var encodings = 0;
        Engine.Encoding = () => Interlocked.Increment(ref encodings);
        try
        {
            var measured = Engine.CheckInputs(Query, null, passages, settings, CancellationToken.None);
            var judged = await Engine.JudgeWindowAsync(Query, null, passages, settings with { Checked = measured });
            Assert.Equal((3, 3), (Volatile.Read(ref encodings), measured.Count));
            Assert.Equal(plain.Select(r => r.Judgement!.Score), judged.Select(r => r.Judgement!.Score));

            await Engine.JudgeWindowAsync(Query, null, passages, settings with { Checked = measured, MaxPassageTokens = 64 });
            await Engine.JudgeWindowAsync("another query", null, passages, settings with { Checked = measured });
            await Engine.JudgeWindowAsync(Query, "other instructions", passages, settings with { Checked = measured });
            await Engine.JudgeWindowAsync(Query, null, passages, settings with { Checked = measured, PromptTemplate = "Dataset prompt: FILL_QUERY_HERE" });
            Assert.Equal(15, Volatile.Read(ref encodings));
        }
        finally
        {
            Engine.Encoding = null;
        }
    }

    [Fact]
    public void Judge_HugePassageWithoutSpaces_IsCutToTheTokenLimitAndMarked()
    {
        // 400k characters of one "word": the old tokenizer spent seconds on it and the prompt overflowed the context.
        var passage = string.Concat(Enumerable.Repeat("onionsreleasegas", 25_000));
        var trace = Engine.JudgeTraced(new Rank1Input(Query, passage), new JudgeSettings { MaxThinkTokens = 2 }, CancellationToken.None);

        Assert.True(trace.Judgement.Truncated);
        var whole = Oracle(Query, "").Length;
        var passageTokens = trace.Prompt.Count - whole;
        Assert.InRange(passageTokens, 2048 - 4, 2048);
        Assert.Equal(trace.Prompt.Count, trace.Judgement.PromptTokens);
        var text = Engine.Tokenizer.Decode(trace.Prompt.Take(trace.Prompt.Count - 1));
        Assert.StartsWith($"{Rank1Prompt.Instruction}\nQuery: {Query}\nPassage: onionsreleasegasonions", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Judge_LongQueryAndCallerLimits_AreCutWithinTheCaps()
    {
        var query = string.Join(' ', Enumerable.Repeat("onion tears", 400));
        const string passage = "Cutting an onion releases a gas that irritates the eyes.";
        var small = Engine.JudgeTraced(new Rank1Input(query, passage), new JudgeSettings { MaxThinkTokens = 1, MaxQueryTokens = 8 }, CancellationToken.None);
        Assert.True(small.Judgement.Truncated);
        Assert.InRange(small.Prompt.Count - Oracle("", passage).Length, 8 - 2, 8);
        var kept = Engine.Tokenizer.Decode(small.Prompt).Split('\n')[1]["Query: ".Length..];
        Assert.StartsWith(kept, query, StringComparison.Ordinal);
        Assert.Equal(Oracle(kept, passage), small.Prompt);

        // Asking above the operator's cap (512 query tokens) gets the cap.
        var big = Engine.JudgeTraced(new Rank1Input(query, passage), new JudgeSettings { MaxThinkTokens = 1, MaxQueryTokens = 100_000 }, CancellationToken.None);
        Assert.True(big.Judgement.Truncated);
        Assert.InRange(big.Prompt.Count - Oracle("", passage).Length, 512 - 4, 512);

        var fits = Engine.JudgeTraced(new Rank1Input("onion tears", passage), new JudgeSettings { MaxThinkTokens = 1 }, CancellationToken.None);
        Assert.False(fits.Judgement.Truncated);
        Assert.Equal(Oracle("onion tears", passage), fits.Prompt);
    }

    [Fact]
    public void Judge_TemplateRepeatingTheQuery_IsCutAsTheReplacedTextIs()
    {
        // The reference's prompt.replace("FILL_QUERY_HERE", query), cut as any query is: the same prompt as that text given as the query.
        var query = string.Join(' ', Enumerable.Repeat("onion tears", 10));
        var template = string.Concat(Enumerable.Repeat("Find: FILL_QUERY_HERE | again FILL_QUERY_HERE; ", 300));
        const string passage = "Cutting an onion releases a gas that irritates the eyes.";
        var templated = Engine.JudgeTraced(new Rank1Input(query, passage), new JudgeSettings { MaxThinkTokens = 1, PromptTemplate = template }, CancellationToken.None);
        var replaced = Engine.JudgeTraced(new Rank1Input(template.Replace("FILL_QUERY_HERE", query, StringComparison.Ordinal), passage), new JudgeSettings { MaxThinkTokens = 1 }, CancellationToken.None);
        Assert.True(templated.Judgement.Truncated);
        Assert.Equal(replaced.Prompt, templated.Prompt);
    }

    [Fact]
    public void Judge_TemplateWhoseTextIsLongerThanAStringHolds_IsCutNotAFailure()
    {
        // 40,000 placeholders around a 60,000-character query: replaced whole, 2.4 billion characters, more than .NET's
        // strings hold ("String length exceeded supported range"), a failure of the model for every search carrying it
        // (five opened the model circuit). Its start, all that is kept, is the query's.
        var query = string.Concat(Enumerable.Repeat("onion tears ", 5_000));
        var template = string.Concat(Enumerable.Repeat("FILL_QUERY_HERE ", 40_000));
        const string passage = "Cutting an onion releases a gas that irritates the eyes.";
        var trace = Engine.JudgeTraced(new Rank1Input(query, passage), new JudgeSettings { MaxThinkTokens = 1, PromptTemplate = template }, CancellationToken.None);
        Assert.True(trace.Judgement.Truncated);
        var kept = Engine.Tokenizer.Decode(trace.Prompt).Split('\n')[1]["Query: ".Length..];
        Assert.StartsWith(kept, query, StringComparison.Ordinal);
        Assert.Equal(Oracle(kept, passage), trace.Prompt);
    }

    [Fact]
    public void Judge_PromptNearTheContext_ClampsTheReasoningBudget()
    {
        // Caps above the model's context (4,096 tokens): only the context clamp keeps prompt + reasoning inside it.
        var engine = new Rank1Engine(Engine.Model, Engine.Tokenizer, Engine.TokenIds, 1000, TimeProvider.System, maxQueryTokens: 512, maxPassageTokens: 8000); // shares the fixture's model
        var passage = string.Concat(Enumerable.Repeat("tear ", 4040));
        var trace = engine.JudgeTraced(new Rank1Input(Query, passage), new JudgeSettings { MaxThinkTokens = 1000 }, CancellationToken.None);

        Assert.Equal(Oracle(Query, passage), trace.Prompt);
        Assert.InRange(trace.Prompt.Count, 4000, 4096 - 16);
        Assert.True(trace.Generated.Count <= 4096 - 16 - trace.Prompt.Count, $"{trace.Generated.Count} reasoning tokens after a prompt of {trace.Prompt.Count}");
        Assert.False(trace.Judgement.Truncated);
        Assert.InRange(trace.Judgement.Score, 0.0, 1.0);
    }

    /// <summary>
    /// A reasoning budget at the context's clamp (prompt + reasoning = context − 16) ends in a forced end, fed
    /// re-encoded from the reasoning's text; the tiny model's random tokens re-encode to more tokens than were generated,
    /// more than the 16 positions left. The forced end is cut to fit and the passage is scored, alone and in a batch
    /// (before: "The sequence would reach N tokens, past the model's context length", a model failure that fell a
    /// search back to backend order and counted towards the model circuit).
    /// </summary>
    [Fact]
    public void Judge_BudgetAtTheContextClamp_ForcedEndLongerThanTheRoomLeft_IsCutToFitAndScored()
    {
        const string passage = "Cutting an onion releases a gas that irritates the eyes and makes them water.";
        var settings = new JudgeSettings { MaxThinkTokens = 100_000 };
        var context = Engine.Model.ContextLength;

        var alone = Engine.JudgeTraced(new Rank1Input("onion eyes", passage, "Onion tears"), settings, CancellationToken.None);
        var batch = Engine.JudgeBatchTraced("onion eyes", null, [("Onion tears", passage), ("Onion soup", "French onion soup is made from caramelised onions and beef stock.")],
            settings, CancellationToken.None);

        foreach (var trace in new[] { alone, batch[0], batch[1] })
        {
            Assert.Equal(ReasoningEnd.Budget, trace.Judgement.End);
            Assert.Equal(context - 16 - trace.Prompt.Count, trace.Generated.Count);
            var reEncoded = Engine.Tokenizer.EncodeText(Rank1Prompt.ForcedEndText(trace.Judgement.Reasoning)).Count + 1;
            Assert.True(reEncoded > context - trace.Prompt.Count, $"the forced end re-encodes to {reEncoded} tokens, within the {context - trace.Prompt.Count} left: nothing to cut");
            Assert.Equal(context - trace.Prompt.Count, trace.Scored.Count);
            Assert.Equal(Engine.TokenIds.ThinkEnd, trace.Scored[^1]);
            Assert.InRange(trace.Judgement.Score, 0.0, 1.0);
        }

        Assert.Equal(alone.Generated, batch[0].Generated);
        Assert.Equal(alone.Scored, batch[0].Scored);
    }

    /// <summary>Truncate false (TEI's <c>"truncate": false</c>): an over-long query or passage is refused in TEI's words with its whole token count, not cut.</summary>
    [Fact]
    public void Judge_TruncateFalse_OverLongInput_IsAnInputErrorWithItsTokenCount()
    {
        var query = string.Join(' ', Enumerable.Repeat("onion tears", 40));
        var passage = string.Join(' ', Enumerable.Repeat("cutting releases a gas", 40));
        var strict = new JudgeSettings { MaxThinkTokens = 1, Truncate = false };

        var longPassage = Assert.Throws<Rank1InputException>(() => Engine.Judge(new Rank1Input("onions", passage), strict with { MaxPassageTokens = 8 }));
        Assert.Equal($"`inputs` must have less than 8 tokens. Given: {Engine.Tokenizer.EncodeText(Rank1Prompt.PassageText(null, passage)).Count}", longPassage.Message);
        var longQuery = Assert.Throws<Rank1InputException>(() => Engine.Judge(new Rank1Input(query, "a gas"), strict with { MaxQueryTokens = 8 }));
        Assert.Equal($"`inputs` must have less than 8 tokens. Given: {Engine.Tokenizer.EncodeText(Rank1Prompt.QueryText(query, null)).Count}", longQuery.Message);

        var withinLimits = Engine.Judge(new Rank1Input("onions", passage), strict);
        Assert.False(withinLimits.Truncated);
    }

    /// <summary>
    /// Truncate false decides on the whole token count only: a text longer in characters than the pre-cut
    /// (limit x <see cref="PromptEncoder.CharsPerToken"/>) whose tokens fit is judged whole, not refused with a count
    /// within the limit ("less than 16 tokens. Given: 15", before).
    /// </summary>
    [Fact]
    public void Judge_TruncateFalse_TextPastTheCharacterPreCutWhoseTokensFit_IsJudgedWhole()
    {
        var ruler = new string('-', 960); // 15 tokens: dashes run together in long tokens
        var query = string.Concat(Enumerable.Repeat("=", 400)); // "=" runs are long tokens too
        var passageTokens = Engine.Tokenizer.EncodeText(Rank1Prompt.PassageText(null, ruler)).Count;
        var queryTokens = Engine.Tokenizer.EncodeText(Rank1Prompt.QueryText(query, null)).Count;
        Assert.True(ruler.Length > 16 * PromptEncoder.CharsPerToken && passageTokens <= 16, $"{passageTokens} tokens");
        Assert.True(query.Length > 16 * PromptEncoder.CharsPerToken && queryTokens <= 16, $"{queryTokens} tokens");
        var strict = new JudgeSettings { MaxThinkTokens = 1, Truncate = false, MaxPassageTokens = 16, MaxQueryTokens = 16 };

        var passage = Engine.JudgeTraced(new Rank1Input("onions", ruler), strict, CancellationToken.None);
        Assert.False(passage.Judgement.Truncated);
        Assert.Equal(Oracle("onions", ruler), passage.Prompt); // the whole text
        var longQuery = Engine.JudgeTraced(new Rank1Input(query, "a gas"), strict, CancellationToken.None);
        Assert.False(longQuery.Judgement.Truncated);
    }

    [Fact]
    public void Judge_PromptPastTheContext_IsAnInputError()
    {
        var engine = new Rank1Engine(Engine.Model, Engine.Tokenizer, Engine.TokenIds, 8, TimeProvider.System, maxQueryTokens: 512, maxPassageTokens: 8000); // shares the fixture's model
        var passage = string.Concat(Enumerable.Repeat("tear ", 4200));
        var ex = Assert.Throws<Rank1InputException>(() => engine.Judge(new Rank1Input(Query, passage)));
        Assert.Contains("4096", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public async Task JudgeWindow_OnePassagePastTheContext_FailsAloneAndTheOthersAreJudged(int maxBatch)
    {
        // Caps above the context (only possible inside the engine) let a passage overflow it: an input error.
        using var engine = new Rank1Engine(Rank1.Inference.Decoding.CausalLm.Load(ModelFolder.Open(TestPaths.TinyModel), ExecutionProviderKind.Cpu), Engine.Tokenizer, Engine.TokenIds, 4,
            TimeProvider.System, maxBatch, maxQueryTokens: 512, maxPassageTokens: 8000);
        (string? Title, string Text)[] window =
        [
            ("Onion tears", "Cutting an onion releases a gas that irritates the eyes."),
            ("Essay", string.Concat(Enumerable.Repeat("tear ", 4200))),
            (null, "Onions were grown in ancient Egypt."),
        ];

        var results = await engine.JudgeWindowAsync(Query, null, window, new JudgeSettings { MaxThinkTokens = 4 });

        Assert.Null(results[1].Judgement);
        Assert.Contains("4096", results[1].Error, StringComparison.Ordinal);
        foreach (var i in new[] { 0, 2 })
        {
            Assert.Null(results[i].Error);
            var alone = engine.Judge(new Rank1Input(Query, window[i].Text, window[i].Title), new JudgeSettings { MaxThinkTokens = 4 });
            Assert.Equal(alone.Reasoning, results[i].Judgement!.Reasoning);
            Assert.InRange(Math.Abs(alone.Score - results[i].Judgement!.Score), 0, 1e-4);
        }
    }

    [Fact]
    public async Task JudgeWindow_DeadlinePassedBeforeTokenizing_StartsNothing()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        var engine = new Rank1Engine(Engine.Model, Engine.Tokenizer, Engine.TokenIds, 4, time, maxBatch: 2); // shares the fixture's model; no row starts, so no batch thread
        var results = await engine.JudgeWindowAsync(Query, null, [(null, new string('a', 30_000)), (null, "Onions.")],
            new JudgeSettings { Deadline = time.GetUtcNow() - TimeSpan.FromSeconds(1) });
        Assert.All(results, r => Assert.Same(PassageResult.NotStarted, r));
    }

    [Fact]
    public void Load_CapsBeyondTheContext_FailNamingTheSetting()
    {
        var ex = Assert.Throws<ModelLoadException>(() => Rank1Engine.Load(new Rank1EngineOptions
        {
            Path = TestPaths.TinyModel, ExecutionProvider = ExecutionProviderKind.Cpu, MaxPassageTokens = 4000,
        }));
        Assert.Contains("Rank1:Model:MaxPassageTokens (4000)", ex.Message, StringComparison.Ordinal);
        Assert.Contains("4096", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Step_LongPromptInChunks_EqualsFeedingItTokenByToken()
    {
        var prompt = Engine.EncodePrompt(new Rank1Input(Query, string.Concat(Enumerable.Repeat("Cutting an onion releases a gas. ", 60))));
        Assert.True(prompt.Count > 3 * Rank1.Inference.Decoding.CausalLm.PrefillChunk);
        var chunked = ModelRuns.LogitsInOneStep(Engine.Model, prompt);

        using var options = new Microsoft.ML.OnnxRuntime.RunOptions();
        using var state = Engine.Model.Begin(options);
        foreach (var token in prompt)
        {
            state.Step([token]);
        }

        Assert.True(ModelRuns.MaxAbsDiff(chunked, state.Logits) < 1e-4, $"max |diff| {ModelRuns.MaxAbsDiff(chunked, state.Logits)}");
    }
}
