using Microsoft.ML.OnnxRuntime;
using Rank1.Inference.Decoding;
using Rank1.Inference.Model;
using Rank1.Testing;

namespace Rank1.Inference.Tests;

/// <summary>The tiny generated model loaded once per test class, with the Hugging Face tokenizer as oracle.</summary>
public sealed class TinyEngineFixture : IDisposable
{
    public TinyEngineFixture()
    {
        Engine = Rank1Engine.Load(new Rank1EngineOptions { Path = TestPaths.TinyModel, ExecutionProvider = ExecutionProviderKind.Cpu, MaxThinkTokens = 16 });
        Oracle = new Tokenizers.DotNet.Tokenizer(Path.Combine(TestPaths.TinyModel, "tokenizer.json"));
    }

    public Rank1Engine Engine { get; }

    public Tokenizers.DotNet.Tokenizer Oracle { get; }

    public void Dispose()
    {
        Engine.Dispose();
        Oracle.Dispose();
    }
}

internal static class ModelRuns
{
    /// <summary>Logits of the last position after feeding <paramref name="sequence"/> in ONE step (a plain prefill, no cache reuse).</summary>
    public static float[] LogitsInOneStep(CausalLm lm, IReadOnlyList<int> sequence)
    {
        using var options = new RunOptions();
        using var state = lm.Begin(options);
        state.Step(sequence.ToArray());
        return (float[])state.Logits.Clone();
    }

    /// <summary>Greedy decoding token by token through the KV cache; returns the tokens and the final logits.</summary>
    public static (int[] Tokens, float[] Logits) Greedy(CausalLm lm, IReadOnlyList<int> prompt, int steps)
    {
        using var options = new RunOptions();
        using var state = lm.Begin(options);
        state.Step(prompt.ToArray());
        var tokens = new List<int>();
        for (var i = 0; i < steps; i++)
        {
            var next = System.Numerics.Tensors.TensorPrimitives.IndexOfMax<float>(state.Logits);
            tokens.Add(next);
            state.Step([next]);
        }

        return (tokens.ToArray(), (float[])state.Logits.Clone());
    }

    public static double MaxAbsDiff(float[] a, float[] b)
    {
        Assert.Equal(a.Length, b.Length);
        var max = 0.0;
        for (var i = 0; i < a.Length; i++)
        {
            max = Math.Max(max, Math.Abs((double)a[i] - b[i]));
        }

        return max;
    }

    /// <summary>A copy of a model folder, removed when the test disposes it (20 to 90 MB each).</summary>
    public static TestTemp.ScopedFolder CopyFolder(string source)
    {
        var target = TestTemp.Scoped("rank1-model-");
        foreach (var file in Directory.GetFiles(source))
        {
            File.Copy(file, Path.Combine(target.Path, Path.GetFileName(file)));
        }

        return target;
    }
}
