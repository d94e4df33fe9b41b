using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Rank1.Inference;
using Rank1.Inference.Model;
using Rank1.Testing;

namespace Rank1.SearchBridge.IntegrationTests;

/// <summary>
/// Fair queueing through the proxy (#13 item 3): the searches of one <c>_msearch</c> reach the engine as one caller
/// (one sub-queue and one <c>Rank1:Model:MaxQueuedPassagesPerCaller</c>), another msearch as another, and a plain
/// search as a caller of its own. The engine's side (turns, caps) is <c>FairQueueingTests</c>.
/// </summary>
public sealed class EngineCallerTests
{
    private static string Line(string query) => new JsonObject { ["query"] = new JsonObject { ["match"] = new JsonObject { ["text"] = query } } }.ToJsonString();

    private static string Msearch(params string[] queries) => string.Concat(queries.Select(q => $"{{\"index\":\"{ProxyStack.Index}\"}}\n{Line(q)}\n"));

    [Fact]
    public async Task MsearchItems_ShareOneCaller_OtherRequestsAreCallersOfTheirOwn()
    {
        using var engine = Rank1Engine.Load(new Rank1EngineOptions { Path = TestPaths.TinyModel, ExecutionProvider = ExecutionProviderKind.Cpu });
        var judge = new CallerRecordingJudge(engine);
        await using var stack = await ProxyStack.StartAsync(services: s => s.AddSingleton<IPassageJudge>(judge));

        // Every query is new, so no passage comes from the reasoning store and each search asks the model.
        var first = await stack.SendAsync(HttpMethod.Post, "_msearch", Msearch("onion tears", "onion soup", "onion bread"), "application/x-ndjson");
        var firstCallers = judge.Take();
        var second = await stack.SendAsync(HttpMethod.Post, "_msearch", Msearch("onion eyes", "onion history"), "application/x-ndjson");
        var secondCallers = judge.Take();
        var single = await stack.SearchAsync(Line("onion festival"));
        var singleCallers = judge.Take();

        Assert.All(first.Json["responses"]!.AsArray().Concat(second.Json["responses"]!.AsArray()), r => Assert.Equal("applied", r!["_rank1"]!["rerank"]!.GetValue<string>()));
        Assert.Equal("applied", single.Rerank);
        Assert.Equal(3, firstCallers.Count);
        Assert.NotNull(firstCallers[0]);
        Assert.All(firstCallers, c => Assert.Same(firstCallers[0], c));
        Assert.Equal(2, secondCallers.Count);
        Assert.NotNull(secondCallers[0]);
        Assert.Same(secondCallers[0], secondCallers[1]);
        Assert.NotSame(firstCallers[0], secondCallers[0]);
        Assert.Equal([null], singleCallers);
    }

    /// <summary>The real engine, noting the <see cref="JudgeSettings.Caller"/> of every window it is asked to judge.</summary>
    private sealed class CallerRecordingJudge(Rank1Engine engine) : IPassageJudge
    {
        private readonly List<object?> _callers = [];

        public string ModelId => engine.ModelId;

        public List<object?> Take()
        {
            lock (_callers)
            {
                var taken = _callers.ToList();
                _callers.Clear();
                return taken;
            }
        }

        public ValueTask<IReadOnlyList<PassageResult>> JudgeWindowAsync(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages,
            JudgeSettings? settings = null, CancellationToken cancellationToken = default)
        {
            lock (_callers)
            {
                _callers.Add(settings?.Caller);
            }

            return engine.JudgeWindowAsync(query, instructions, passages, settings, cancellationToken);
        }
    }
}
