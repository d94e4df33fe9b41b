using Rank1.Inference.Model;
using Rank1.Testing;
using Xunit.Abstractions;

namespace Rank1.Inference.Tests.Model;

/// <summary>
/// The engine on the provider under test against the CPU provider: the provider is
/// <c>RANK1_PARITY_EXECUTION_PROVIDER</c> (default Cpu; <c>tools/gpu-check.sh</c> sets Cuda on a CUDA build), and a
/// provider that is not in the build or cannot start fails the test, never skips it. The reference judges each passage
/// alone on the CPU; the engine under test judges the window as one batch (MaxBatch 8), so even on the CPU the test
/// compares two different computations. Stated tolerances: greedy reasoning tokens equal, verdicts equal, and a score
/// moves by at most <see cref="ScoreTolerance"/> (fp32 and fp16 kernels of another device accumulate in another order).
/// <c>RANK1_PARITY_MODELS</c> (colon-separated model folders) adds models, e.g. the 0.5B-shaped ones on a GPU machine.
/// </summary>
[Trait(TestCategory.Name, TestCategory.Model)]
public sealed class ProviderParityTests(ITestOutputHelper output)
{
    private const double ScoreTolerance = 0.02;
    private const int ThinkTokens = 12;

    public static TheoryData<string> Models()
    {
        var models = new TheoryData<string> { ".rank1/models/tiny", ".rank1/models/tiny-fp16", ".rank1/models/tiny-smooth-int4" };
        foreach (var extra in (Environment.GetEnvironmentVariable("RANK1_PARITY_MODELS") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            models.Add(extra);
        }

        return models;
    }

    private static ExecutionProviderKind ProviderUnderTest() =>
        Environment.GetEnvironmentVariable("RANK1_PARITY_EXECUTION_PROVIDER") is { Length: > 0 } v ? Enum.Parse<ExecutionProviderKind>(v, ignoreCase: true) : ExecutionProviderKind.Cpu;

    [Theory]
    [MemberData(nameof(Models))]
    public void JudgeAll_OnTheProviderUnderTest_MatchesTheCpuPassageByPassage(string model)
    {
        var path = Path.GetFullPath(Path.Combine(TestPaths.RepoRoot, model));
        Assert.True(Directory.Exists(path), $"{path} is missing: ./build.sh setup generates the tiny models");
        var provider = ProviderUnderTest();
        using var cpu = Rank1Engine.Load(new Rank1EngineOptions { Path = path, ExecutionProvider = ExecutionProviderKind.Cpu, MaxBatch = 1 });
        using var tested = Rank1Engine.Load(new Rank1EngineOptions
        {
            Path = path, ExecutionProvider = provider, MaxBatch = 8, RequireAccelerator = provider != ExecutionProviderKind.Cpu,
        });
        Assert.Equal(new ExecutionProviderChoice(provider, provider, null), tested.ProviderChoice);

        const string Query = "why do onions make people cry";
        var passages = File.ReadAllLines(Path.Combine(TestPaths.RepoRoot, "samples", "demo", "passages.jsonl")).Take(6)
            .Select(l => System.Text.Json.Nodes.JsonNode.Parse(l)!["text"]!.GetValue<string>()).ToArray();
        var settings = new JudgeSettings { MaxThinkTokens = ThinkTokens };
        var batched = tested.JudgeAll(Query, null, passages.Select(p => ((string?)null, p)).ToArray(), settings);
        var maxDiff = 0.0;
        for (var i = 0; i < passages.Length; i++)
        {
            var alone = cpu.Judge(new Rank1Input(Query, passages[i]), settings);
            Assert.Equal(alone.Reasoning, batched[i].Reasoning);
            Assert.Equal(alone.ReasoningTokens, batched[i].ReasoningTokens);
            Assert.Equal(alone.Relevant, batched[i].Relevant);
            maxDiff = Math.Max(maxDiff, Math.Abs(alone.Score - batched[i].Score));
        }

        output.WriteLine($"{model} on {provider}: max |score - CPU score| = {maxDiff:E2} over {passages.Length} passages");
        Assert.True(maxDiff <= ScoreTolerance, $"{model} on {provider}: max |score - CPU score| = {maxDiff}");
    }
}
