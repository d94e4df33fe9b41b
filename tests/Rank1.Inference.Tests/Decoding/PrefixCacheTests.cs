using Microsoft.ML.OnnxRuntime;
using Rank1.Inference.Decoding;
using Rank1.Inference.Model;
using Rank1.Testing;

namespace Rank1.Inference.Tests.Decoding;

public sealed class PrefixCacheTests
{
    [Fact]
    public void LongSharedPrefixes_AreKeptUpToMaxPositionsEach_SoTheCacheIsBoundedWhateverTheInput()
    {
        using var lm = CausalLm.Load(ModelFolder.Open(TestPaths.TinyModel), ExecutionProviderKind.Cpu);
        var signature = lm.Signature;
        const int Cap = 600;
        using var cache = new PrefixCache(signature, Cap);
        const int Long = 2_000; // identical passage text runs a window's shared prefix far past the query
        var prompts = Enumerable.Range(0, PrefixCache.Entries).Select(p => Enumerable.Range(0, Long).Select(i => i == 0 ? 1_000 + p : i).ToArray()).ToArray();
        foreach (var prompt in prompts)
        {
            var kv = KvTensors.Allocate(signature, 1, Long);
            try
            {
                cache.Remember(prompt, kv);
            }
            finally
            {
                KvTensors.Dispose(kv);
            }
        }

        Assert.Equal((long)PrefixCache.Entries * Cap, cache.Positions);
        var (found, length) = cache.Find(prompts[3]);
        Assert.Equal(Cap, length);
        Assert.All(found!, v => Assert.Equal(Cap, v.GetTensorTypeAndShape().Shape[2]));
    }

    /// <summary>
    /// An operator who raises <c>MaxQueryTokens</c> past its default: a window whose query is at that cap shares its whole
    /// prompt start (instruction and query), and a later admission of the same query takes all of it from the prefix
    /// cache. With the cap fixed at the default query cap plus the template (560), only 560 of its positions were kept.
    /// </summary>
    [Fact]
    public void TheCap_FollowsTheQueryTokenCap_SoAQueryAtARaisedCapIsReusedWhole()
    {
        const int QueryCap = 1_024;
        using var engine = Rank1Engine.Load(new Rank1EngineOptions
        {
            Path = TestPaths.TinyModel, ExecutionProvider = ExecutionProviderKind.Cpu, MaxThinkTokens = 2, MaxQueryTokens = QueryCap,
        });
        var query = string.Join(' ', Enumerable.Range(0, 2 * QueryCap).Select(i => $"word{i % 97}")); // cut to the cap
        (string? Title, string Text)[] passages = [("Onions", "Cutting an onion releases a gas."), (null, "Soup is made from onions."), ("Tears", "People cry when sad.")];
        var rows = passages.Select(p =>
        {
            var (ids, truncated) = engine.EncodePrompt(new Rank1Input(query, p.Text, p.Title), null, CancellationToken.None);
            Assert.True(truncated, "the query must be at its cap");
            return new BatchRow(ids, 2, null, false, CancellationToken.None);
        }).ToArray();
        var shared = SharedPrefix.Length(rows.Select(r => r.Prompt).ToArray());
        Assert.True(shared > QueryCap, $"the rows share the instruction and the whole query ({shared} tokens)");

        using var runOptions = new RunOptions();
        using var run = new BatchRun(engine.Model, engine.Scorer, runOptions, TimeProvider.System, engine.SharedPrefixCap);
        run.Admit(rows[..2], CancellationToken.None);
        Assert.Equal(SharedPrefix.Length([rows[0].Prompt, rows[1].Prompt]), run.LastSharedPrefix);
        while (run.Count > 0)
        {
            run.Step(CancellationToken.None);
        }

        run.Admit(rows[2..], CancellationToken.None);
        Assert.Equal(shared, run.LastReusedPrefix);
    }
}
