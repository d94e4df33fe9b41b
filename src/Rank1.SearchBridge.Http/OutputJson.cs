using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Rank1.SearchBridge.Http;

/// <summary>
/// How the product writes the JSON it makes for people and programs to read: the rerank service's answers
/// (<see cref="HttpJson.Answers"/>) and the CLI's <c>rerank --json</c> and <c>eval --json</c> (and <c>eval</c>'s run
/// manifest). Text is UTF-8, with only what JSON requires escaped (a quote, a backslash, a control character), as TEI's
/// serde_json writes it: .NET's relaxed encoder (<see cref="Encoder"/>) still writes a character past U+FFFF, an emoji,
/// as its <c>\uD83D\uDE00</c> pair, and a few below it (<c>`</c>, U+FFFE) as escapes, which <see cref="Utf8(byte[])"/>
/// writes as their UTF-8 again. Before, the three places each had their own settings.
/// </summary>
public static class OutputJson
{
    /// <summary>The encoder the writers start with: no <c>\uXXXX</c> for text past ASCII (the default's HTML-safe one wrote them all).</summary>
    public static JavaScriptEncoder Encoder => JavaScriptEncoder.UnsafeRelaxedJsonEscaping;

    /// <summary>Indented, for a document a person may read (<c>eval --json</c>, a run manifest); then <see cref="Utf8(string)"/>.</summary>
    public static JsonSerializerOptions Indented { get; } = new() { WriteIndented = true, Encoder = Encoder };

    /// <summary>The same for a <see cref="Utf8JsonWriter"/> (<c>rerank --json</c>); then <see cref="Utf8(byte[])"/>.</summary>
    public static JsonWriterOptions IndentedWriter { get; } = new() { Indented = true, Encoder = Encoder };

    /// <summary>
    /// <paramref name="json"/>, written with <see cref="Encoder"/>, with each <c>\uXXXX</c> escape that JSON does not
    /// require written as the character's UTF-8: a surrogate pair's two escapes as the one character they make, any other
    /// character from U+0020 on but a quote and a backslash as itself. A control character, a quote, a backslash and a
    /// lone surrogate stay escaped. A backslash stands only inside a string in JSON, so every escape is found.
    /// </summary>
    /// <remarks>The array itself when it holds no <c>\u</c> (no escape to write again; an escaped backslash before a
    /// <c>u</c> holds one too, so it is never missed), as most answers are.</remarks>
    public static byte[] Utf8(byte[] json) => json.AsSpan().IndexOf("\\u"u8) < 0 ? json : WrittenAgain(json);

    private static byte[] WrittenAgain(ReadOnlySpan<byte> json)
    {
        var at = json.IndexOf((byte)'\\');
        var output = new ArrayBufferWriter<byte>(json.Length);
        while (at >= 0)
        {
            output.Write(json[..at]);
            json = json[at..];
            var taken = Rank1.Elastic.LoneSurrogates.Unit(json, 0) is { } unit ? Unescaped(json, unit, output) : 0;
            if (taken == 0)
            {
                // An escape JSON requires (\n, \", \\, \u0001, a lone surrogate): as written.
                taken = json.Length >= 6 && json[1] == (byte)'u' ? 6 : Math.Min(2, json.Length);
                output.Write(json[..taken]);
            }

            json = json[taken..];
            at = json.IndexOf((byte)'\\');
        }

        output.Write(json);
        return output.WrittenSpan.ToArray();
    }

    /// <summary><see cref="Utf8(byte[])"/> of a string.</summary>
    public static string Utf8(string json) => Encoding.UTF8.GetString(Utf8(Encoding.UTF8.GetBytes(json)));

    // The escape at the start of json (\u and the code unit) written as UTF-8 when JSON does not require it: how many bytes it took, or 0.
    private static int Unescaped(ReadOnlySpan<byte> json, char unit, ArrayBufferWriter<byte> output)
    {
        Rune rune;
        int taken;
        if (char.IsHighSurrogate(unit) && Rank1.Elastic.LoneSurrogates.Unit(json, 6) is { } low && char.IsLowSurrogate(low))
        {
            (rune, taken) = (new Rune(unit, low), 12);
        }
        else if (unit >= ' ' && unit is not ('"' or '\\') && !char.IsSurrogate(unit))
        {
            (rune, taken) = (new Rune(unit), 6);
        }
        else
        {
            return 0;
        }

        var written = rune.EncodeToUtf8(output.GetSpan(4));
        output.Advance(written);
        return taken;
    }
}
