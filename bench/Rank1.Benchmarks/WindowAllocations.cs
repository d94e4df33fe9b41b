using System.Diagnostics;
using Rank1.Inference;

/// <summary>
/// A window judged as the service judges one (<see cref="Rank1Engine.JudgeWindowAsync"/>): --passages short passages
/// of about 20 words for one query, --decode reasoning tokens each, after one window of warm-up. Per window: the wall
/// time, the managed bytes allocated (every thread) and the collections they cost, and how the measured windows' rows
/// ended (by their budget, scored after a forced end, or by &lt;/think&gt;, scored from the batch's logits). The engine
/// batches <see cref="Rank1EngineOptions.MaxBatch"/> rows (its default, 8). The allocations do not depend on the
/// machine's load; the times do. The allocations by type are the runtime's own sample (<see cref="AllocationSampler"/>).
/// </summary>
internal static class WindowAllocations
{
    private const int Windows = 3;

    public static async Task RunAsync(Args options)
    {
        var engineOptions = new Rank1EngineOptions
        {
            Path = options.Model,
            ExecutionProvider = options.Provider,
            IntraOpThreads = options.Threads,
            MaxThinkTokens = options.DecodeTokens,
            MaxQueuedPassages = Math.Max(256, options.Passages),
            MaxQueuedPassagesPerCaller = Math.Max(64, options.Passages),
        };
        using var engine = Rank1Engine.Load(engineOptions);
        var words = "onion garlic bridge river cable tower soup stock tears eyes gas water steel deck span bay".Split(' ');
        var passages = Enumerable.Range(0, options.Passages)
            .Select(i => ((string?)null, $"Passage {i}: " + string.Join(' ', Enumerable.Range(0, 20).Select(j => words[((i * 7) + (j * 3)) % words.Length])) + "."))
            .ToArray();
        var settings = new JudgeSettings { MaxThinkTokens = options.DecodeTokens };
        await Judge(engine, "why do onions make you cry", passages, settings);
        var ends = new Dictionary<ReasoningEnd, int>();

        using var sampler = new AllocationSampler();
        var gen0 = GC.CollectionCount(0);
        var gen1 = GC.CollectionCount(1);
        var gen2 = GC.CollectionCount(2);
        var paused = GC.GetTotalPauseDuration();
        var allocated = GC.GetTotalAllocatedBytes(precise: true);
        var endings = engine.BatchEndingTime;
        var clock = Stopwatch.StartNew();
        for (var w = 0; w < Windows; w++)
        {
            // A query of its own per window, as windows of different searches are (the prefix cache keeps the last ones).
            foreach (var result in await Judge(engine, $"why do onions make you cry {w}", passages, settings))
            {
                var end = result.Judgement!.End;
                ends[end] = ends.GetValueOrDefault(end) + 1;
            }
        }

        Console.WriteLine($"| window of {options.Passages} passages, {options.DecodeTokens} reasoning tokens each ({options.Threads} threads; per window, mean of {Windows}) | ms | MiB allocated | gen0 collections | gen1 collections | gen2 collections | GC pause, ms |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        Console.WriteLine($"| {Path.GetFileName(Path.TrimEndingDirectorySeparator(options.Model))} | {clock.Elapsed.TotalMilliseconds / Windows:0} | "
            + $"{(GC.GetTotalAllocatedBytes(precise: true) - allocated) / (double)Windows / (1 << 20):0.00} | {(GC.CollectionCount(0) - gen0) / (double)Windows:0.0} | "
            + $"{(GC.CollectionCount(1) - gen1) / (double)Windows:0.0} | "
            + $"{(GC.CollectionCount(2) - gen2) / (double)Windows:0.0} | {(GC.GetTotalPauseDuration() - paused).TotalMilliseconds / Windows:0.0} |");
        Console.WriteLine($"MaxBatch {engineOptions.MaxBatch}; rows of the {Windows} windows that ended: "
            + string.Join(", ", ends.OrderBy(e => e.Key).Select(e => $"{e.Value} by {(e.Key == ReasoningEnd.Finished ? "</think>" : e.Key.ToString().ToLowerInvariant())}")));
        Console.WriteLine($"The batch thread on rows' endings (computing those no pool thread had started, waiting for those under way): {(engine.BatchEndingTime - endings).TotalMilliseconds / Windows:0} ms a window");
        sampler.Print(Windows);
    }

    private static async Task<IReadOnlyList<PassageResult>> Judge(Rank1Engine engine, string query, (string?, string)[] passages, JudgeSettings settings)
    {
        var results = await engine.JudgeWindowAsync(query, null, passages, settings);
        if (results.Any(r => r.Judgement is null))
        {
            throw new InvalidOperationException($"a passage of the window was not judged: {results.First(r => r.Judgement is null).Error}");
        }

        return results;
    }
}
