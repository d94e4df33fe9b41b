using System.Text;

namespace Rank1.Inference.Tests.Tokenization;

/// <summary>
/// A deterministic set of varied strings for tokenizer parity: CJK, combining marks, Unicode spaces, emoji (ZWJ
/// sequences, skin tones, flags), CRLF and tabs, digits, code, markup, astral letters, contractions, many scripts,
/// and random mixes of them.
/// </summary>
internal static class TokenizerCorpus
{
    private static readonly string[][] Categories =
    [
        // English, punctuation, contractions and case
        ["The quick brown fox jumps over the lazy dog.", "I'LL be there; you'Re late, it's fine, they'd've gone.", "Don't stop—keep going… (really?)",
         "'s 't 're 've 'm 'll 'd", "rock'n'roll O'Neil can't", "ALL CAPS SENTENCE WITH NUMBERS 42", "mixedCase camelCase snake_case kebab-case",
         "Hello,world!How are you?", "  leading and trailing spaces  ", "a", " ", "", "!!!???...", "e.g. i.e. etc. U.S.A."],
        // CJK and full-width
        ["日本語のテキストです。", "中文测试：这是一个句子，包括标点符号。", "한국어 문장입니다.", "東京都渋谷区、２０２５年", "ｆｕｌｌ　ｗｉｄｔｈ　ＡＢＣ",
         "漢字かなカナ混じり文", "我爱北京天安门", "「引用」『二重』【括弧】", "ㄅㄆㄇㄈ 注音", "ｶﾀｶﾅ半角"],
        // Combining marks, decomposed forms (NFC matters), other scripts
        ["e\u0301 cafe\u0301 nai\u0308ve", "A\u030A ångström Å", "Vie\u0323\u0302t Nam Việt", "\u0915\u094D\u0937 क्ष हिन्दी देवनागरी",
         "عَرَبِيّ العربية", "עִבְרִית עברית", "Ελληνικά ΑΒΓ αβγ", "Русский текст Ёё", "ภาษาไทย", "தமிழ்", "x\u0301\u0302\u0303\u0304",
         "Z\u0351\u0352\u0353a\u0354\u0355l\u0356g\u0357o", "ﬁ ﬂ ligatures", "Ⅻ ⅷ roman", "ǅ titlecase"],
        // Unicode spaces, zero-width characters
        ["nbsp\u00A0here", "em\u2003space", "ideographic\u3000space", "thin\u2009and\u202Fnarrow", "zero\u200Bwidth", "joiner\u200Dhere",
         "bom\uFEFFinside", "en\u2002quad\u2000", "\u205Fmath space", "tab\u000Bvertical\u000Cform"],
        // Emoji
        ["😀😃😄", "👍🏽 thumbs", "👨‍👩‍👧‍👦 family", "🇫🇷🇯🇵🇺🇸", "❤️ red heart", "🏳️‍🌈 flag", "1️⃣ keycap", "🤖🧠💡", "☕ coffee ☀", "a😀b"],
        // CR, LF, CRLF, tabs
        ["line one\r\nline two\r\n", "unix\nlines\n\n\nmany", "\ttabbed\t\tcolumns\t", "carriage\ronly", "trailing spaces   \nnext",
         "\r\n\r\n", "mixed \t \n \r\n end", "   \n   indented", "\n", "a\n\n\n\nb"],
        // Digits and numbers
        ["12345678901234567890", "3.14159 2.71828", "1,234,567.89", "2025-02-25T12:34:56Z", "+1 (555) 010-9999", "١٢٣ ٤٥٦", "１２３４",
         "x² y³ 10⁻⁶", "v1.2.3-beta.4", "0x1F 0b1010 1e-9", "42nd 3rd 1st"],
        // Code
        ["def f(x):\n    return x ** 2\n", "public static int Add(int a, int b) => a + b;", "for (let i = 0; i < n; i++) { sum += a[i]; }",
         "SELECT id, name FROM users WHERE age >= 18 ORDER BY name;", "^(?:[a-z0-9!#$%&'*+/=?^_`{|}~-]+)$", "{\"key\": [1, 2, {\"n\": null}]}",
         "grep -rn \"TODO\" src/ | wc -l", "#include <stdio.h>\nint main(void) { return 0; }", "x => x?.Value ?? default", "if x != nil && err == nil {"],
        // Markup
        ["<div class=\"a\">Hi &amp; bye</div>", "<?xml version=\"1.0\"?><root attr='v'/>", "# Title\n\n- item *one*\n- item **two**",
         "| a | b |\n|---|---|\n| 1 | 2 |", "\\frac{a}{b} + \\sqrt{x^2}", "[link](https://example.org/path?q=1&r=2#frag)", "<br/><hr>",
         "<!-- comment -->", "user@example.com", "C:\\Windows\\System32\\drivers"],
        // Astral letters and digits (outside the BMP)
        ["𠀀𠀁𠀂 extension B", "𝐀𝐁𝐂 bold math", "𝔄𝔅ℭ fraktur", "𐌰𐌱𐌲 gothic", "𒀀𒀁 cuneiform", "𝟏𝟐𝟑 math digits", "'𝐬 apostrophe", "a𠀀b𝐀c", "𝒳 script"],
        // Added-token text (recognised by Encode, ordinary text in EncodeText)
        ["<think>", "</think> true", "reasoning</think> false", "<|im_start|>user\nhi<|im_end|>", "<|endoftext|>tail", "<think>x</think>"],
    ];

    private static readonly string[] Separators = [" ", "", "\n", "\r\n", "\t", "  ", "\u00A0", "\u3000", " \n", ". "];

    // Code point ranges for random "soup" strings (BMP and astral, no surrogates, no noncharacters).
    private static readonly (int From, int To)[] SoupRanges =
    [
        (0x20, 0x7E), (0xA0, 0x24F), (0x300, 0x36F), (0x370, 0x3FF), (0x400, 0x4FF), (0x590, 0x6FF), (0x900, 0x97F), (0xE00, 0xE7F),
        (0x2000, 0x206F), (0x2190, 0x22FF), (0x3000, 0x30FF), (0x4E00, 0x4FFF), (0xAC00, 0xAD00), (0xFF00, 0xFFEF),
        (0x1D400, 0x1D7FF), (0x1F300, 0x1F64F), (0x1F900, 0x1F9FF), (0x20000, 0x200FF), (0x9, 0xD),
    ];

    public static IReadOnlyList<string> Build(int randomMixes = 2000, int soup = 600, int seed = 1234)
    {
        var rng = new Random(seed);
        var result = new List<string>();
        foreach (var category in Categories)
        {
            result.AddRange(category);
        }

        var all = Categories.SelectMany(c => c).ToArray();
        for (var i = 0; i < randomMixes; i++)
        {
            var sb = new StringBuilder();
            var parts = rng.Next(1, 7);
            for (var p = 0; p < parts; p++)
            {
                if (p > 0)
                {
                    sb.Append(Separators[rng.Next(Separators.Length)]);
                }

                var fragment = all[rng.Next(all.Length)];
                // Take a random slice sometimes, at code point boundaries.
                if (rng.Next(3) == 0 && fragment.Length > 2)
                {
                    var start = rng.Next(fragment.Length - 1);
                    var length = rng.Next(1, fragment.Length - start + 1);
                    fragment = SafeSlice(fragment, start, length);
                }

                sb.Append(fragment);
            }

            result.Add(sb.ToString());
        }

        for (var i = 0; i < soup; i++)
        {
            var sb = new StringBuilder();
            var length = rng.Next(1, 40);
            for (var c = 0; c < length; c++)
            {
                var (from, to) = SoupRanges[rng.Next(SoupRanges.Length)];
                sb.Append(char.ConvertFromUtf32(rng.Next(from, to + 1)));
            }

            result.Add(sb.ToString());
        }

        return result;
    }

    private static string SafeSlice(string s, int start, int length)
    {
        if (start > 0 && char.IsLowSurrogate(s[start]))
        {
            start--;
            length++;
        }

        var end = Math.Min(s.Length, start + length);
        if (end < s.Length && char.IsLowSurrogate(s[end]))
        {
            end++;
        }

        return s[start..end];
    }
}
