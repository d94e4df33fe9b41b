using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Rank1.Elastic;
using Rank1.SearchBridge.Http.Search;

namespace Rank1.SearchBridge.Tests;

/// <summary>_msearch takes the URL parameters of the backend flavour's own REST spec and refuses any other, as that backend does.</summary>
public sealed class MsearchParameterTests
{
    private static QueryCollection Query(string name) => new(new Dictionary<string, StringValues> { [name] = "1" });

    [Theory]
    [InlineData(BackendFlavor.Elasticsearch, "include_named_queries_score")]
    [InlineData(BackendFlavor.OpenSearch, "cancel_after_time_interval")]
    [InlineData(BackendFlavor.OpenSearch, "coordinator_timeout")]
    [InlineData(BackendFlavor.OpenSearch, "max_concurrent_searches")]
    [InlineData(BackendFlavor.OpenSearch, "typed_keys")]
    [InlineData(BackendFlavor.Elasticsearch, "format")]
    [InlineData(BackendFlavor.OpenSearch, "format")]
    public void FlavoursOwnParameter_IsAccepted(BackendFlavor flavor, string name)
    {
        // Accepted is not refused: the refusal is the EsException below, which the other flavour gets for some of these.
        Assert.Null(Record.Exception(() => MsearchFraming.CheckParameters("/_msearch", Query(name), flavor)));
    }

    [Theory]
    [InlineData(BackendFlavor.Elasticsearch, "cancel_after_time_interval")]
    [InlineData(BackendFlavor.Elasticsearch, "coordinator_timeout")]
    [InlineData(BackendFlavor.OpenSearch, "include_named_queries_score")]
    [InlineData(BackendFlavor.Elasticsearch, "source")]
    [InlineData(BackendFlavor.OpenSearch, "source")]
    [InlineData(BackendFlavor.Elasticsearch, "source_content_type")]
    public void OtherParameter_IsRefusedInElasticsearchsWords(BackendFlavor flavor, string name)
    {
        var e = Assert.Throws<EsException>(() => MsearchFraming.CheckParameters("/_msearch", Query(name), flavor));
        Assert.Equal($"request [/_msearch] contains unrecognized parameter: [{name}]", e.Message);
    }
}
