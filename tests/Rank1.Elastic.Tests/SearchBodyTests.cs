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
}
