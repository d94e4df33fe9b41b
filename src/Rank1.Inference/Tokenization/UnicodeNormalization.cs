using System.Text;

namespace Rank1.Inference.Tokenization;

/// <summary>
/// Unicode normalization of any text .NET holds, as Python's <c>unicodedata</c> and the Hugging Face tokenizers apply it.
/// .NET's <see cref="string.Normalize(NormalizationForm)"/> throws on U+FFFE ("String contains invalid Unicode code
/// points"), a noncharacter that is valid UTF-8 and valid JSON: a document or query holding one failed the model's
/// tokenizer (a failure of the model, toward opening its circuit) and the store key. U+FFFE has no decomposition,
/// combining class 0 and no composition, so it blocks every composition across it: normalizing the text between its
/// U+FFFEs and keeping them where they are is the normalization of the whole.
/// </summary>
public static class UnicodeNormalization
{
    /// <summary><paramref name="text"/> in normalization <paramref name="form"/>, U+FFFE kept as it is.</summary>
    /// <param name="text">Any text without unpaired surrogates.</param>
    /// <param name="form">The normalization form.</param>
    public static string Normalize(string text, NormalizationForm form)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Contains('\uFFFE', StringComparison.Ordinal)
            ? string.Join('\uFFFE', text.Split('\uFFFE').Select(part => part.Normalize(form)))
            : text.Normalize(form);
    }
}
