using System.Text;

namespace Rank1.Elastic.Tests;

/// <summary><see cref="SearchBody"/>: a search body read as Elasticsearch's <c>SearchSourceBuilder.parseXContent</c> reads it.</summary>
public sealed class SearchBodyTests
{
    [Theory]
    [InlineData("")]
    [InlineData(" \t\r\n")]
    public void ReadOptional_NoBody_IsNull(string body) => Assert.Null(SearchBody.ReadOptional(Encoding.UTF8.GetBytes(body)));

    [Fact]
    public void ReadOptional_ABody_IsReadAsReadReadsIt()
    {
        Assert.Equal(3, SearchBody.ReadOptional("\n{\"size\":3}\n"u8)!["size"]!.GetValue<int>());
        var e = Assert.Throws<EsException>(() => SearchBody.ReadOptional("[1]"u8));
        Assert.Equal("Expected [START_OBJECT] but found [START_ARRAY]", e.Message);
    }

    // AbstractXContentParser.intValue(coerce: true): a number is Jackson's getIntValue() (-1.0 is -1), a string holds one.
    [Theory]
    [InlineData("-1", -1)]
    [InlineData("-1.0", -1)]
    [InlineData("2E1", 20)]
    [InlineData("\"-1\"", -1)]
    [InlineData("\"7\"", 7)]
    public void Int_AWholeNumberOrAStringHoldingOne_IsRead(string json, int expected) =>
        Assert.Equal(expected, SearchBody.Int(RequestJson.Parse(Encoding.UTF8.GetBytes(json))));

    [Theory]
    [InlineData("1.5")]
    [InlineData("\"abc\"")]
    [InlineData("true")]
    [InlineData("2147483648")]
    [InlineData("1e400")]
    [InlineData("null")]
    public void Int_AnythingElse_IsNull(string json) => Assert.Null(SearchBody.Int(RequestJson.Parse(Encoding.UTF8.GetBytes(json))));

    [Fact]
    public void CheckField_NegativeWholeNumber_IsRefusedAsNegative_AnyOtherValueIsLeft()
    {
        var e = Assert.Throws<EsException>(() => SearchBody.CheckField("from", RequestJson.Parse("-1.0"u8)));
        Assert.Equal("[from] parameter cannot be negative but was [-1]", e.Message);
        SearchBody.CheckField("from", RequestJson.Parse("-1.5"u8));
        SearchBody.CheckField("query", RequestJson.Parse("-1"u8));
    }
}
