using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Rank1.Inference.Tokenization;

/// <summary>
/// The Hugging Face <c>Split</c> pre-tokenizer (behaviour <c>Isolated</c>) with the pattern that tokenizer.json
/// gives, preceded by the added-token split that Hugging Face performs before pre-tokenization.
/// </summary>
/// <remarks>
/// Why not Microsoft.ML.Tokenizers' <c>RegexPreTokenizer</c> as is: .NET regular expressions work on UTF-16 code units, so a letter
/// outside the BMP (CJK extension B, mathematical alphanumerics) is two surrogates that <c>\p{L}</c> does not match,
/// whereas the Rust regex in Hugging Face sees one letter. We run the same pattern over a shadow string in which
/// every astral code point is replaced by one BMP character of the same class (letter, number, mark or other) and
/// map the match offsets back, which gives Hugging Face's splits for every code point.
/// </remarks>
internal sealed class SplitPreTokenizer
{
    private readonly Regex _regex;
    private readonly string[] _addedTokens; // longest first, so "<|im_end|>" wins over any prefix of it

    public SplitPreTokenizer(string pattern, IEnumerable<string>? addedTokens)
    {
        _regex = new Regex(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);
        _addedTokens = addedTokens?.Where(t => t.Length > 0).OrderByDescending(t => t.Length).ToArray() ?? [];
    }

    /// <summary>True when added tokens are split out whole (each piece equal to one of them is that token).</summary>
    public bool HasAddedTokens => _addedTokens.Length > 0;

    /// <summary>The pieces of <paramref name="text"/>, in order, as offsets and lengths.</summary>
    public List<(int Offset, int Length)> Split(string text)
    {
        var result = new List<(int, int)>();
        var start = 0;
        if (_addedTokens.Length > 0)
        {
            var i = 0;
            while (i < text.Length)
            {
                var token = MatchAddedToken(text, i);
                if (token is null)
                {
                    i++;
                    continue;
                }

                SplitPlain(text, start, i - start, result);
                result.Add((i, token.Length));
                i += token.Length;
                start = i;
            }
        }

        SplitPlain(text, start, text.Length - start, result);
        return result;
    }

    private string? MatchAddedToken(string text, int index)
    {
        foreach (var token in _addedTokens)
        {
            if (string.CompareOrdinal(text, index, token, 0, token.Length) == 0)
            {
                return token;
            }
        }

        return null;
    }

    private void SplitPlain(string text, int offset, int length, List<(int, int)> result)
    {
        if (length == 0)
        {
            return;
        }

        var segment = text.AsSpan(offset, length);
        if (!segment.ContainsAnyInRange('\uD800', '\uDFFF'))
        {
            foreach (var m in _regex.EnumerateMatches(segment))
            {
                result.Add((offset + m.Index, m.Length));
            }

            return;
        }

        // Shadow string: one char per code point; map[k] = offset of shadow char k in the original.
        var shadow = new StringBuilder(length);
        var map = new List<int>(length + 1);
        var i = 0;
        while (i < segment.Length)
        {
            map.Add(offset + i);
            if (Rune.DecodeFromUtf16(segment[i..], out var rune, out var consumed) == System.Buffers.OperationStatus.Done && consumed == 2)
            {
                shadow.Append(StandIn(Rune.GetUnicodeCategory(rune)));
            }
            else
            {
                shadow.Append(segment[i]);
                consumed = 1;
            }

            i += consumed;
        }

        map.Add(offset + segment.Length);
        foreach (var m in _regex.EnumerateMatches(shadow.ToString()))
        {
            var from = map[m.Index];
            result.Add((from, map[m.Index + m.Length] - from));
        }
    }

    // One BMP character per class that a byte-level BPE split pattern distinguishes (letter, number, other; there
    // is no astral white space). 'x' is a letter that no case-insensitive contraction ('s, 't, 're, 've, 'm, 'll,
    // 'd) starts with; U+00A4 is a currency symbol, neither letter, number nor space.
    private static char StandIn(UnicodeCategory category) => category switch
    {
        UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => 'x',
        UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => '0',
        _ => '\u00A4',
    };
}
