using Rank1.Inference.Model;
using Rank1.Inference.Tokenization;

namespace Rank1.Inference;

/// <summary>The token ids Rank1 needs, read from the model folder (never hard-coded).</summary>
internal sealed record Rank1TokenIds(int ThinkStart, int ThinkEnd, int True, int False, IReadOnlySet<int> EndOfText)
{
    public static Rank1TokenIds From(ModelTokenizer tokenizer, ModelFolder folder, ModelSignature signature)
    {
        var file = folder.TokenizerPath;
        var thinkStart = tokenizer.FindAddedToken("<think>")
            ?? throw new ModelLoadException($"{file}: no added token \"<think>\" (a Rank1 checkpoint adds <think> and </think> to the tokenizer).");
        var thinkEnd = tokenizer.FindAddedToken("</think>")
            ?? throw new ModelLoadException($"{file}: no added token \"</think>\" (a Rank1 checkpoint adds <think> and </think> to the tokenizer).");
        var yes = tokenizer.FindSingleToken(" true") ?? throw new ModelLoadException($"{file}: \" true\" is not a single token (Rank1 scores the single tokens \" true\" and \" false\").");
        var no = tokenizer.FindSingleToken(" false") ?? throw new ModelLoadException($"{file}: \" false\" is not a single token (Rank1 scores the single tokens \" true\" and \" false\").");
        var eos = new HashSet<int>(folder.EosTokenIds);
        foreach (var t in new[] { "<|endoftext|>", "<|im_end|>" })
        {
            if (tokenizer.FindAddedToken(t) is { } id)
            {
                eos.Add(id);
            }
        }

        if (signature.VocabularySize is { } v && tokenizer.VocabularySize > v)
        {
            throw new ModelLoadException($"{file}: the tokenizer has ids up to {tokenizer.VocabularySize - 1} but the model's logits have {v} entries: tokenizer and graph do not belong together.");
        }

        eos.ExceptWith([thinkStart, thinkEnd, yes, no]);
        return new Rank1TokenIds(thinkStart, thinkEnd, yes, no, eos);
    }
}
