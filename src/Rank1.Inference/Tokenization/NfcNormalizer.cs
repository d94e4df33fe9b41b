using System.Text;
using Microsoft.ML.Tokenizers;

namespace Rank1.Inference.Tokenization;

/// <summary>Unicode NFC, as the Qwen tokenizer.json's <c>normalizer</c> asks. Microsoft.ML.Tokenizers has none built in.</summary>
internal sealed class NfcNormalizer : Normalizer
{
    public static readonly NfcNormalizer Instance = new();

    public override string Normalize(string original) => original.Normalize(NormalizationForm.FormC);

    public override string Normalize(ReadOnlySpan<char> original) => original.ToString().Normalize(NormalizationForm.FormC);
}
