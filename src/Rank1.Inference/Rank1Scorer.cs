using System.Numerics.Tensors;
using Rank1.Inference.Prompt;
using Rank1.Inference.Tokenization;

namespace Rank1.Inference;

/// <summary>
/// The one home of how Rank1 reasons and scores, used alike by the single decoding path (<see cref="Rank1Engine"/>) and
/// the batch (<c>Decoding/BatchRun</c>): the greedy next token, the stopping rule (&lt;/think&gt;, end of text, the
/// budget, the deadline, in that order), the forced end of reasoning that was cut short, and the score
/// sigmoid(logit(" true") - logit(" false")).
/// </summary>
internal sealed class Rank1Scorer(ModelTokenizer tokenizer, Rank1TokenIds ids, TimeProvider time)
{
    public ModelTokenizer Tokenizer { get; } = tokenizer;

    public Rank1TokenIds Ids { get; } = ids;

    private long _taken;

    /// <summary>
    /// Reasoning tokens taken so far by every judgement this scorer serves, on any thread: counted as each is decoded,
    /// so a row whose caller left before its judgement (or that failed) still counts the work it cost.
    /// </summary>
    public long TokensTaken => Interlocked.Read(ref _taken);

    /// <summary>Takes <paramref name="token"/> as the next reasoning token of <paramref name="generated"/> (<see cref="Stop"/> said null) and counts it.</summary>
    public void Take(List<int> generated, int token)
    {
        generated.Add(token);
        Interlocked.Increment(ref _taken);
    }

    /// <summary>The greedy choice: the token with the highest logit.</summary>
    public static int Next(ReadOnlySpan<float> logits) => TensorPrimitives.IndexOfMax(logits);

    /// <summary>
    /// Whether reasoning ends instead of taking <paramref name="token"/> after <paramref name="generated"/> reasoning
    /// tokens, and why: the model wrote &lt;/think&gt;, or an end of text, or the budget is spent, or the deadline passed.
    /// Null: the token is taken and reasoning goes on.
    /// </summary>
    public ReasoningEnd? Stop(int token, int generated, int budget, DateTimeOffset? deadline) =>
        token == Ids.ThinkEnd ? ReasoningEnd.Finished
        : Ids.EndOfText.Contains(token) ? ReasoningEnd.EndOfText
        : generated >= budget ? ReasoningEnd.Budget
        : deadline is { } d && time.GetUtcNow() >= d ? ReasoningEnd.Deadline
        : null;

    /// <summary>
    /// The reasoning to report and the tokens to feed after it for the score: &lt;/think&gt; when the model wrote it
    /// (fed after the whole reasoning), else the forced end (fed after the prompt alone, <see cref="ForcedEnd"/>).
    /// </summary>
    /// <param name="end">Why the reasoning ended.</param>
    /// <param name="generated">The reasoning tokens.</param>
    /// <param name="room">Positions of the model's context left after the prompt.</param>
    public (string Reasoning, int[] Scored) Ending(ReasoningEnd end, IReadOnlyList<int> generated, int room) =>
        end == ReasoningEnd.Finished ? (Tokenizer.Decode(generated), [Ids.ThinkEnd]) : ForcedEnd(generated, room);

    /// <summary>
    /// Reasoning that did not end with &lt;/think&gt;, as the reference scores it: the prompt is followed by "\n", the
    /// reasoning cut to its last sentence, "\n" and a forced &lt;/think&gt; ("\n\n" when nothing was generated).
    /// Returns the cut reasoning and the tokens to feed. The reasoning is fed re-encoded from its text, which can take
    /// more tokens than were generated (a token that is part of a character decodes to U+FFFD, three bytes re-encoded);
    /// when the forced end would not fit the <paramref name="room"/> the context leaves after the prompt, the fed
    /// reasoning is cut at its end to fit, and its closing "\n" and &lt;/think&gt; are kept (the reported reasoning is the
    /// whole cut-to-sentence text).
    /// </summary>
    /// <param name="generated">The reasoning tokens.</param>
    /// <param name="room">Positions of the model's context left after the prompt.</param>
    public (string Reasoning, int[] Scored) ForcedEnd(IReadOnlyList<int> generated, int room)
    {
        ForcedEndEncoding?.Invoke();
        var reasoning = Rank1Prompt.CutToLastSentence(Tokenizer.Decode(generated)).Trim();
        int[] scored = [.. Tokenizer.EncodeText(Rank1Prompt.ForcedEndText(reasoning)), Ids.ThinkEnd];
        if (scored.Length <= room)
        {
            return (reasoning, scored);
        }

        int[] close = [.. Tokenizer.EncodeText("\n"), Ids.ThinkEnd];
        return (reasoning, [.. scored.AsSpan(0, Math.Max(0, room - close.Length)), .. close]);
    }

    /// <summary>Tests: called on the thread that computes a forced end (<see cref="ForcedEnd"/>), before it does.</summary>
    internal Action? ForcedEndEncoding { get; set; }

    /// <summary>
    /// The judgement from the logits that follow the scored tokens: P(" true") against P(" false"), relevant at 0.5 or
    /// more; the decoding time counts from <paramref name="decodeStarted"/> (a <see cref="TimeProvider"/> timestamp).
    /// </summary>
    public JudgeTrace Score(ReadOnlySpan<float> logits, IReadOnlyList<int> prompt, IReadOnlyList<int> generated, ReasoningEnd end, string reasoning, int[] scored,
        TimeSpan prefill, long decodeStarted, bool truncated)
    {
        var logitTrue = logits[Ids.True];
        var logitFalse = logits[Ids.False];
        var score = Sigmoid((double)logitTrue - logitFalse);
        var judgement = new Rank1Judgement(score, score >= 0.5, reasoning, generated.Count, end, prompt.Count, prefill, time.GetElapsedTime(decodeStarted), truncated);
        return new JudgeTrace(judgement, prompt, generated, scored, logitTrue, logitFalse);
    }

    /// <summary>P(true) / (P(true) + P(false)) = sigmoid(lt - lf), computed without overflow for any logit gap.</summary>
    public static double Sigmoid(double x)
    {
        if (x >= 0)
        {
            return 1.0 / (1.0 + Math.Exp(-x));
        }

        var e = Math.Exp(x);
        return e / (1.0 + e);
    }
}

/// <summary>What one judgement fed the model, for tests and diagnostics.</summary>
internal sealed record JudgeTrace(Rank1Judgement Judgement, IReadOnlyList<int> Prompt, IReadOnlyList<int> Generated, IReadOnlyList<int> Scored, float LogitTrue, float LogitFalse);
