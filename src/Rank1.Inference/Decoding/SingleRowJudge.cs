using Microsoft.ML.OnnxRuntime;

namespace Rank1.Inference.Decoding;

/// <summary>A prompt to judge: its token ids, whether the query or passage was cut to its limit, and its reasoning budget.</summary>
internal readonly record struct EncodedPrompt(int[] Ids, bool Truncated, int Budget);

/// <summary>
/// The single-row decoding path: one <see cref="DecodeState"/> per judgement, greedy reasoning by the
/// <see cref="Rank1Scorer"/>'s stopping rule, a forced end continued from the pinned prompt cache; several passages of
/// one query prefill the prompt tokens they share once and restore that pinned cache for each.
/// </summary>
internal sealed class SingleRowJudge(CausalLm lm, Rank1Scorer scorer, TimeProvider time)
{
    /// <summary>Judges one prompt on the calling thread.</summary>
    public JudgeTrace Judge(EncodedPrompt prompt, DateTimeOffset? deadline, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        using var runOptions = new RunOptions();
        // Terminate stops a step that is already running inside ONNX Runtime, not just the next one.
        using var registration = cancellationToken.Register(static o => ((RunOptions)o!).Terminate = true, runOptions);
        using var state = lm.Begin(runOptions);

        var started = time.GetTimestamp();
        Run(state, prompt.Ids, cancellationToken, keepLogits: false);
        return Reason(state, prompt.Ids, time.GetElapsedTime(started), prompt.Budget, deadline, prompt.Truncated, cancellationToken);
    }

    /// <summary>
    /// Judges the prompts one at a time after prefilling the tokens they all share once (each one alone when they share
    /// fewer than <see cref="SharedPrefix.MinLength"/>); returns the traces in order and the shared tokens (0: none).
    /// </summary>
    public (IReadOnlyList<JudgeTrace> Traces, int SharedTokens) JudgeAll(IReadOnlyList<EncodedPrompt> prompts, DateTimeOffset? deadline, CancellationToken cancellationToken)
    {
        var shared = SharedPrefix.Length(prompts.Select(p => p.Ids).ToArray());
        if (prompts.Count < 2 || shared < SharedPrefix.MinLength)
        {
            return (prompts.Select(p => Judge(p, deadline, cancellationToken)).ToArray(), 0);
        }

        using var runOptions = new RunOptions();
        using var registration = cancellationToken.Register(static o => ((RunOptions)o!).Terminate = true, runOptions);
        using var state = lm.Begin(runOptions);
        var sharedStarted = time.GetTimestamp();
        Run(state, prompts[0].Ids[..shared], cancellationToken, keepLogits: false);
        var sharedPrefill = time.GetElapsedTime(sharedStarted) / prompts.Count;
        var prefix = state.Pin();
        var traces = new List<JudgeTrace>(prompts.Count);
        try
        {
            foreach (var prompt in prompts)
            {
                cancellationToken.ThrowIfCancellationRequested();
                state.Restore(prefix);
                var started = time.GetTimestamp();
                Run(state, prompt.Ids[shared..], cancellationToken, keepLogits: false);
                traces.Add(Reason(state, prompt.Ids, time.GetElapsedTime(started) + sharedPrefill, prompt.Budget, deadline, prompt.Truncated, cancellationToken));
            }
        }
        finally
        {
            state.Unpin(prefix);
        }

        return (traces, shared);
    }

    /// <summary>From a fed prompt: reason greedily until the scorer's stopping rule ends it, then score.</summary>
    private JudgeTrace Reason(DecodeState state, IReadOnlyList<int> prompt, TimeSpan prefill, int budget, DateTimeOffset? deadline, bool truncated, CancellationToken cancellationToken)
    {
        var decodeStarted = time.GetTimestamp();
        var afterPrompt = state.Pin();
        try
        {
            var generated = new List<int>();
            ReasoningEnd end;
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var next = state.Greedy;
                if (scorer.Stop(next, generated.Count, budget, deadline) is { } stop)
                {
                    end = stop;
                    break;
                }

                scorer.Take(generated, next);
                Run(state, [next], cancellationToken, keepLogits: false);
            }

            var (reasoning, scored) = scorer.Ending(end, generated, lm.ContextLength - prompt.Count);
            if (end != ReasoningEnd.Finished)
            {
                // A forced end follows the prompt: we continue from the pinned prompt cache rather than re-encoding the prompt.
                state.Restore(afterPrompt);
            }

            Run(state, scored, cancellationToken, keepLogits: true); // the one step whose logits are read: the score's
            return scorer.Score(state.Logits, prompt, generated, end, reasoning, scored, prefill, decodeStarted, truncated);
        }
        finally
        {
            state.Unpin(afterPrompt);
        }
    }

    /// <summary>Feeds <paramref name="tokens"/>; only the scoring step keeps its logits, the others need their greedy token only.</summary>
    private static void Run(DecodeState state, int[] tokens, CancellationToken cancellationToken, bool keepLogits) =>
        BatchRun.Guard(() => state.Step(tokens, keepLogits), cancellationToken);
}
