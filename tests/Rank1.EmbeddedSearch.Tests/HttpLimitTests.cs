using System.Net;
using System.Text.Json.Nodes;
using Elastic.Clients.Elasticsearch;

namespace Rank1.EmbeddedSearch.Tests;

/// <summary>
/// Elasticsearch's HTTP decoder limits, <c>http.max_initial_line_length</c> (4 KB) and <c>http.max_header_size</c>
/// (16 KB): over them a 400 in its shape (Elasticsearch's Netty4BadRequestIT: <c>too_long_http_line_exception</c>, "An
/// HTTP line is larger than N bytes."); Kestrel's defaults (8 KB, 32 KB) answered a bare 414 or 431, and a line between
/// 4 and 8 KB that Elasticsearch refuses was served.
/// </summary>
public sealed class HttpLimitTests(ServerFixture fx) : IClassFixture<ServerFixture>
{
    [Theory]
    [InlineData(4096, HttpStatusCode.NotFound, "index_not_found_exception")]
    [InlineData(4097, HttpStatusCode.BadRequest, "too_long_http_line_exception")]
    [InlineData(9000, HttpStatusCode.BadRequest, "too_long_http_line_exception")]
    public async Task ARequestLine_IsJudgedByElasticsearchsLimit_InItsShape(int lineBytes, HttpStatusCode status, string type)
    {
        // "GET /aaa… HTTP/1.1": the line without its CRLF, as Netty counts it.
        var target = "/" + new string('a', lineBytes - "GET / HTTP/1.1".Length);
        using var client = new HttpClient { BaseAddress = fx.Server.Url };
        using var response = await client.GetAsync(new Uri(target, UriKind.Relative));
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal((status, type, (int)status), (response.StatusCode, body["error"]!["type"]!.GetValue<string>(), body["status"]!.GetValue<int>()));
        if (status == HttpStatusCode.BadRequest)
        {
            Assert.Equal("An HTTP line is larger than 4096 bytes.", body["error"]!["reason"]!.GetValue<string>());
            Assert.Equal(type, body["error"]!["root_cause"]![0]!["type"]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task TheOfficialClient_SearchingALongIndexList_GetsElasticsearchsError_AndWithinTheLimitItsHits()
    {
        Assert.Equal(200, (await fx.Client.PutAsync("/limits-books", """{"mappings":{"properties":{"body":{"type":"text"}}}}""")).Status);
        Assert.Equal(201, (await fx.Client.PutAsync("/limits-books/_doc/1?refresh=true", """{"body":"a dragon guards gold"}""")).Status);
        var client = new ElasticsearchClient(new ElasticsearchClientSettings(fx.Server.Url));

        // Patterns that match nothing widen the list, as a caller naming one index per day does.
        static Indices List(int patterns) => Indices.Parse(string.Join(',', Enumerable.Range(0, patterns).Select(i => $"limits-none-{i:D5}-*").Prepend("limits-books")));
        var within = await client.SearchAsync<JsonObject>(s => s.Indices(List(100)).Query(q => q.Match(m => m.Field("body").Query("dragon"))));
        Assert.True(within.IsValidResponse, within.DebugInformation);
        Assert.Equal(["1"], within.Hits.Select(h => h.Id));

        var over = await client.SearchAsync<JsonObject>(s => s.Indices(List(400)).Query(q => q.Match(m => m.Field("body").Query("dragon"))));
        Assert.False(over.IsValidResponse);
        Assert.Equal((400, "too_long_http_line_exception"), (over.ApiCallDetails?.HttpStatusCode, over.ElasticsearchServerError?.Error?.Type));
    }

    [Theory]
    [InlineData(8 * 1024, HttpStatusCode.OK)]
    [InlineData(16 * 1024, HttpStatusCode.BadRequest)]
    [InlineData(40 * 1024, HttpStatusCode.BadRequest)]
    public async Task Headers_AreJudgedByTheirTotalSize_InElasticsearchsShape(int padBytes, HttpStatusCode status)
    {
        using var client = new HttpClient { BaseAddress = fx.Server.Url };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        // Two headers of half the size each: the limit is on all the header lines together, not on one.
        request.Headers.Add("X-Pad-A", new string('p', padBytes / 2));
        request.Headers.Add("X-Pad-B", new string('p', padBytes / 2));
        using var response = await client.SendAsync(request);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(status, response.StatusCode);
        if (status == HttpStatusCode.BadRequest)
        {
            Assert.Equal(("too_long_http_header_exception", "HTTP header is larger than 16384 bytes."), (body["error"]!["type"]!.GetValue<string>(), body["error"]!["reason"]!.GetValue<string>()));
        }
        else
        {
            Assert.Equal("You Know, for Search", body["tagline"]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task RaisedLimits_TakeWhatTheDefaultsRefuse()
    {
        // A cluster run with http.max_initial_line_length and http.max_header_size raised, as users of long index lists do.
        await using var server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, MaxInitialLineLength = 64 * 1024, MaxHeaderSize = 64 * 1024 });
        using var client = new HttpClient { BaseAddress = server.Url };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/_search?q=" + string.Join('+', Enumerable.Repeat("dragon", 5000)));
        request.Headers.Add("X-Pad", new string('p', 40 * 1024));
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotNull(JsonNode.Parse(await response.Content.ReadAsStringAsync())!["hits"]);
    }

    [Fact]
    public async Task LimitsOutOfRange_AreRefusedAtStart()
    {
        var error = await Assert.ThrowsAsync<System.ComponentModel.DataAnnotations.ValidationException>(
            () => EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, MaxInitialLineLength = 2 * EmbeddedSearchOptions.MaxHttpLimit }));
        Assert.Contains(nameof(EmbeddedSearchOptions.MaxInitialLineLength), error.Message, StringComparison.Ordinal);
    }
}
