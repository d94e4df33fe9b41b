using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Rank1.Inference;
using Rank1.SearchBridge.Telemetry;
using Rank1.Testing;

namespace Rank1.SearchBridge.Tests.Telemetry;

/// <summary>
/// <c>rank1.tokens.generated</c> (Prometheus <c>rank1_tokens_generated_total</c>) is the model's work: every reasoning
/// token decoded, whether or not the caller stayed for the judgement. It used to be summed from finished judgements, so
/// a search abandoned mid-reasoning (a client timeout, a closed connection) cost CPU that the metric never showed.
/// </summary>
public sealed class TokensGeneratedMetricTests
{
    [Fact]
    public async Task TokensOfARowWhoseCallerLeft_AreCounted_AsTheyAreDecoded()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Rank1:Model:Path"] = TestPaths.TinyModel,
            ["Rank1:Model:ExecutionProvider"] = "Cpu",
            ["Rank1:Model:MaxBatch"] = "2",
        }).Build();
        await using var services = new ServiceCollection().AddLogging().AddMetrics().AddRank1Model(configuration).BuildServiceProvider();
        using var tokens = new MetricCollector<long>(services.GetRequiredService<IMeterFactory>(), Rank1Metrics.MeterName, "rank1.tokens.generated");
        var engine = (Rank1Engine)services.GetRequiredService<IPassageJudge>();

        // The caller leaves once the batch has run five steps: five reasoning tokens decoded (the tiny model writes no
        // </think> or end of text this early: the budget is far off).
        using var leave = new CancellationTokenSource();
        engine.Scheduler.Stepped = steps =>
        {
            if (steps == 5)
            {
                leave.Cancel();
            }
        };
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => engine.JudgeWindowAsync("why do onions make people cry", null,
            [(null, "Cutting an onion releases a gas that irritates the eyes.")], new JudgeSettings { MaxThinkTokens = 500 }, leave.Token).AsTask());

        tokens.RecordObservableInstruments();
        Assert.Equal(5, tokens.LastMeasurement?.Value);
        Assert.Equal(5, engine.ReasoningTokensGenerated);
    }
}
