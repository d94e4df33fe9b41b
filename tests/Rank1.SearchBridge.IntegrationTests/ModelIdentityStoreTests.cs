using Rank1.Testing;

namespace Rank1.SearchBridge.IntegrationTests;

/// <summary>
/// The reasoning store knows a model by its content, not its name: every compose file mounts the model at
/// <c>/models/rank1</c>, so a re-export or a new quantization keeps the folder name. Before, the store keyed on the name
/// alone, and a second model at the same path was served the first model's judgements as <c>cached</c>.
/// </summary>
public sealed class ModelIdentityStoreTests
{
    private const string Query = """{"query":{"match":{"text":"onion eyes"}}}""";

    /// <summary>
    /// A copy of <paramref name="model"/> in a new folder named <c>rank1</c>, as compose mounts every model, removed when
    /// the test disposes it (a model copy is big: TestTemp.Scoped).
    /// </summary>
    private static (TestTemp.ScopedFolder Folder, string Path) AsRank1(string model)
    {
        var folder = TestTemp.Scoped("model-");
        var target = Directory.CreateDirectory(Path.Combine(folder.Path, "rank1")).FullName;
        foreach (var file in Directory.GetFiles(model))
        {
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        }

        return (folder, target);
    }

    private static double[] Scores(HttpResult r) => r.Json["hits"]!["hits"]!.AsArray().Take(5).Select(h => h!["_score"]!.GetValue<double>()).ToArray();

    private static string[] Sources(HttpResult r) =>
        r.Json["hits"]!["hits"]!.AsArray().Take(5).Select(h => h!["fields"]!["_rank1.source"]![0]!.GetValue<string>()).ToArray();

    private static bool[] Truncated(HttpResult r) =>
        r.Json["hits"]!["hits"]!.AsArray().Take(5).Select(h => h!["fields"]!["_rank1.truncated"]?[0]?.GetValue<bool>() ?? false).ToArray();

    [Fact]
    public async Task AnotherModelInAFolderOfTheSameName_IsNotServedTheFirstModelsJudgements_AndItsOwnAreStoredAndServed()
    {
        var (tinyFolder, tiny) = AsRank1(TestPaths.TinyModel);
        using var tinyCopy = tinyFolder;
        var (smoothFolder, smooth) = AsRank1(TestPaths.TinySmoothModel);
        using var smoothCopy = smoothFolder;
        await using var first = await ProxyStack.StartAsync(new() { ["Rank1:Model:Path"] = tiny });
        var byFirst = await first.SearchAsync(Query);
        Assert.Equal("applied", byFirst.Rerank);
        Assert.Equal(5, await ReasoningStoreTests.StoredCountAsync(first, 5));
        Assert.Equal("cached", (await first.SearchAsync(Query)).Rerank);

        // The second proxy uses the first one's backend, so both read and write one reasoning index.
        await using var second = await ProxyStack.StartAsync(new() { ["Rank1:Model:Path"] = smooth }, inFront: _ => Task.FromResult(first.Backend.Url));
        var bySecond = await second.SearchAsync(Query);
        Assert.Equal("applied", bySecond.Rerank);
        Assert.All(Sources(bySecond), s => Assert.Equal("computed", s));
        Assert.NotEqual(Scores(byFirst), Scores(bySecond)); // the other weights judge differently: what it would have been served was wrong

        // Its own judgements are stored beside the first model's, and its next search is answered from them.
        await second.StoreWritesAsync(5);
        Assert.Equal(10, await ReasoningStoreTests.StoredCountAsync(first, 5)); // its 5 beside the first's 5, in the first's backend
        var again = await second.SearchAsync(Query);
        Assert.Equal("cached", again.Rerank);
        Assert.Equal(Scores(bySecond), Scores(again));
        Assert.Equal("cached", (await first.SearchAsync(Query)).Rerank); // and the first model still finds its own

        // Both are "rank1" to people; health tells them apart by content.
        var a = (await first.SendAsync(HttpMethod.Get, "_rank1/health")).Json["model"]!;
        var b = (await second.SendAsync(HttpMethod.Get, "_rank1/health")).Json["model"]!;
        Assert.Equal("rank1", a["id"]!.GetValue<string>());
        Assert.Equal("rank1", b["id"]!.GetValue<string>());
        Assert.Matches("^[0-9a-f]{32}$", a["fingerprint"]!.GetValue<string>());
        Assert.NotEqual(a["fingerprint"]!.GetValue<string>(), b["fingerprint"]!.GetValue<string>());
    }

    /// <summary>
    /// Two replicas of one deployment, the same model and the same rule, but one with a lower
    /// <c>Rank1:Model:MaxPassageTokens</c> (set on one replica's environment and not the other's): it cuts every passage
    /// there, so its judgements are of other text. The store keyed only the limits a rule or request set, so the two
    /// shared one key, and each replica served the other's judgements as <c>cached</c>, as its own.
    /// </summary>
    [Fact]
    public async Task AReplicaWithAnotherModelPassageLimit_IsNotServedTheOthersJudgements_AndItsOwnAreStoredAndServed()
    {
        await using var first = await ProxyStack.StartAsync();
        var byFirst = await first.SearchAsync(Query);
        Assert.Equal("applied", byFirst.Rerank);
        Assert.Equal(5, await ReasoningStoreTests.StoredCountAsync(first, 5));
        Assert.All(Truncated(byFirst), Assert.False);

        // The second replica reads and writes the first one's reasoning index.
        await using var second = await ProxyStack.StartAsync(new() { ["Rank1:Model:MaxPassageTokens"] = "4" }, inFront: _ => Task.FromResult(first.Backend.Url));
        var bySecond = await second.SearchAsync(Query);
        Assert.Equal("applied", bySecond.Rerank);
        Assert.All(Sources(bySecond), s => Assert.Equal("computed", s));
        Assert.All(Truncated(bySecond), Assert.True); // every passage cut to 4 tokens: not what the first replica judged
        Assert.NotEqual(Scores(byFirst), Scores(bySecond));

        // Its own judgements are stored beside the first replica's, and each replica is answered from its own.
        await second.StoreWritesAsync(5);
        Assert.Equal(10, await ReasoningStoreTests.StoredCountAsync(first, 5));
        var again = await second.SearchAsync(Query);
        Assert.Equal("cached", again.Rerank);
        Assert.Equal(Scores(bySecond), Scores(again));
        var firstAgain = await first.SearchAsync(Query);
        Assert.Equal("cached", firstAgain.Rerank);
        Assert.Equal(Scores(byFirst), Scores(firstAgain));
    }
}
