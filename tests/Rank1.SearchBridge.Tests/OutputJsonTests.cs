using System.Text;
using System.Text.Json;
using Rank1.SearchBridge.Http;

namespace Rank1.SearchBridge.Tests;

/// <summary>
/// The product's own JSON output (service answers, <c>rerank --json</c>, <c>eval --json</c>): UTF-8 with only what JSON
/// requires escaped, as TEI's serde_json writes it. .NET's relaxed encoder still wrote an emoji as its surrogate pair's two
/// escapes and a backtick as <c>\u0060</c>.
/// </summary>
public sealed class OutputJsonTests
{
    [Theory]
    [InlineData("onion 🧅 tears 😢", "\"onion 🧅 tears 😢\"")]
    [InlineData("`inputs` cannot be empty", "\"`inputs` cannot be empty\"")]
    [InlineData("日本語 café <b>&'+", "\"日本語 café <b>&'+\"")]

    // What JSON requires stays escaped: a quote, a backslash, control characters (as the encoder writes them).
    [InlineData("a \"quoted\" \\ path\nline\ttab\u0001\u001f", "\"a \\\"quoted\\\" \\\\ path\\nline\\ttab\\u0001\\u001F\"")]

    // A backslash before text that looks like an escape is an escaped backslash: the text after it is left alone.
    [InlineData("\\uD83D\\uDE00 \\u0060", "\"\\\\uD83D\\\\uDE00 \\\\u0060\"")]
    public void Utf8_WritesWhatJsonDoesNotRequireEscapedAsItself(string text, string expected)
    {
        var written = JsonSerializer.SerializeToUtf8Bytes(text, OutputJson.Indented);
        var output = OutputJson.Utf8(written);

        Assert.Equal(expected, Encoding.UTF8.GetString(output));
        Assert.Equal(text, JsonSerializer.Deserialize<string>(output));
        Assert.Equal(expected, OutputJson.Utf8(JsonSerializer.Serialize(text, OutputJson.Indented)));
    }

    [Fact]
    public void Utf8_LeavesALoneSurrogateEscaped_AndEveryTextReadsBackTheSame()
    {
        // Half a pair cannot be UTF-8: it stays the escape it was (here as JSON text written by another writer).
        Assert.Equal("\"a \\uD83D b \\uDE00\\uD83D\"", Encoding.UTF8.GetString(OutputJson.Utf8("\"a \\uD83D b \\uDE00\\uD83D\""u8.ToArray())));
        Assert.Equal("\"🧅\\uD83D\"", Encoding.UTF8.GetString(OutputJson.Utf8("\"\\uD83E\\uDDC5\\uD83D\""u8.ToArray())));

        // Every character from U+0000 to U+FFFF and some past it, through the writer and back.
        var all = string.Concat(Enumerable.Range(0, 0x10000).Where(c => !char.IsSurrogate((char)c)).Select(c => (char)c)) + "🧅😢\U0010FFFF";
        var output = OutputJson.Utf8(JsonSerializer.SerializeToUtf8Bytes(all, OutputJson.Indented));
        Assert.Equal(all, JsonSerializer.Deserialize<string>(output));
        Assert.DoesNotContain("\\uD", Encoding.UTF8.GetString(output), StringComparison.OrdinalIgnoreCase);
    }
}
