using System.Text;

namespace Rank1.Elastic.Tests;

/// <summary><see cref="LoneSurrogates"/>: only an unpaired <c>\uD800</c>-<c>\uDFFF</c> escape becomes <c>\uFFFD</c>.</summary>
public sealed class LoneSurrogatesTests
{
    [Theory]
    [InlineData("""{"q":"a\ud83d"}""", """{"q":"a\uFFFD"}""")]
    [InlineData("""{"q":"\ude00b"}""", """{"q":"\uFFFDb"}""")]
    [InlineData("""{"q":"\ud83d\ud83d\ude00"}""", """{"q":"\uFFFD\ud83d\ude00"}""")]
    [InlineData("""{"\ud800":1}""", """{"\uFFFD":1}""")]
    public void Replaced_LoneSurrogateEscape_IsU_FFFD(string json, string expected) =>
        Assert.Equal(expected, Encoding.UTF8.GetString(LoneSurrogates.Replaced(Encoding.UTF8.GetBytes(json))!));

    [Theory]
    [InlineData("""{"q":"\ud83d\ude00"}""")]
    [InlineData("""{"q":"\\ud800"}""")]
    [InlineData("""{"q":"\u00e9\n"}""")]
    [InlineData("""{"q":"plain"}""")]
    public void Replaced_NoLoneSurrogate_IsNull(string json) =>
        Assert.Null(LoneSurrogates.Replaced(Encoding.UTF8.GetBytes(json)));

    [Fact]
    public void Parse_LoneSurrogateEscape_IsReadAsU_FFFD_AndInvalidUtf8IsStill400()
    {
        Assert.Equal("a\uFFFD", RequestJson.Parse("""{"q":"a\ud83d"}"""u8)!["q"]!.GetValue<string>());
        var e = Assert.Throws<EsException>(() => RequestJson.Parse([(byte)'"', 0xC3, 0x28, (byte)'"']));
        Assert.Equal("parsing_exception", e.Type);
    }
}
