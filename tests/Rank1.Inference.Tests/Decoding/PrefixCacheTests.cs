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
        using var cache = new PrefixCache(signature);
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

        Assert.Equal((long)PrefixCache.Entries * PrefixCache.MaxPositions, cache.Positions);
        var (found, length) = cache.Find(prompts[3]);
        Assert.Equal(PrefixCache.MaxPositions, length);
        Assert.All(found!, v => Assert.Equal(PrefixCache.MaxPositions, v.GetTensorTypeAndShape().Shape[2]));
    }
}
