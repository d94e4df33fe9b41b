using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Rank1.Inference;

namespace Rank1.SearchBridge.IntegrationTests;

/// <summary>Issue #18 through the proxy over loopback, with the tiny model: long text has a bounded cost and cannot take reranking down.</summary>
public sealed class HostileInputTests : IAsyncLifetime
{
    private ProxyStack _stack = null!;

    public async Task InitializeAsync()
    {
        _stack = await ProxyStack.StartAsync();
        using var backend = new HttpClient { BaseAddress = _stack.Backend.Url };
        // One word of 300,000 characters after "onion": a single pre-token for the tokenizer.
        var put = await backend.PutAsJsonAsync($"{ProxyStack.Index}/_doc/huge?refresh=true", new JsonObject
        {
            ["title"] = "Onion essay",
            ["text"] = "onion " + string.Concat(Enumerable.Repeat("tearsgasonion", 23_077)),
            ["topic"] = "food",
        });
        put.EnsureSuccessStatusCode();
    }

    public async Task DisposeAsync() => await _stack.DisposeAsync();

    [Fact]
    public async Task Search_HugeDocumentInTheWindow_IsRerankedWithTheDocumentTruncated()
    {
        var backendOrder = await _stack.BackendIdsAsync("""{"query":{"match":{"text":"onion"}},"size":10}""");
        Assert.Contains("huge", backendOrder);

        var r = await _stack.SearchAsync("""{"query":{"match":{"text":"onion"}},"size":10,"ext":{"rank1":{"window":10}}}""");
        Assert.Equal(200, r.Status);
        Assert.Equal("applied", r.Rerank);
        Assert.Equal(backendOrder.Order(), r.Ids.Order());
        foreach (var hit in r.Json["hits"]!["hits"]!.AsArray())
        {
            var fields = hit!["fields"]!.AsObject();
            Assert.Equal("computed", fields["_rank1.source"]![0]!.GetValue<string>());
            if (hit["_id"]!.GetValue<string>() == "huge")
            {
                Assert.True(fields["_rank1.truncated"]![0]!.GetValue<bool>());
            }
            else
            {
                Assert.False(fields.ContainsKey("_rank1.truncated"));
            }
        }
    }

    [Fact]
    public async Task Search_PassageTokenLimitInExt_CutsLongerPassagesAndBadValuesAre400()
    {
        var r = await _stack.SearchAsync("""{"query":{"match":{"text":"eyes"}},"ext":{"rank1":{"max_passage_tokens":4}}}""");
        Assert.Equal("applied", r.Rerank);
        var hits = r.Json["hits"]!["hits"]!.AsArray();
        Assert.NotEmpty(hits);
        Assert.All(hits, h => Assert.True(h!["fields"]!["_rank1.truncated"]![0]!.GetValue<bool>()));

        var bad = await _stack.SearchAsync("""{"query":{"match":{"text":"eyes"}},"ext":{"rank1":{"max_passage_tokens":0}}}""");
        Assert.Equal(400, bad.Status);
        Assert.Contains("[ext.rank1.max_passage_tokens]", bad.Json["error"]!["reason"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    // ext.rank1 is always removed before the backend sees the search: Elasticsearch refuses an ext key it has no
    // extension for ("Unknown NamedObject [search_ext_builder][rank1]"). A null one, as a client's serializer writes an
    // unset settings object, went to the backend, and the search came back as that 400.
    [Fact]
    public async Task Search_ExtRank1Null_IsRemovedAndTheSearchRerankedAsWithoutIt()
    {
        var withNull = await _stack.SearchAsync("""{"query":{"match":{"text":"onion soup stock"}},"ext":{"rank1":null}}""");
        Assert.Equal((200, "applied"), (withNull.Status, withNull.Rerank));
        var without = await _stack.SearchAsync("""{"query":{"match":{"text":"onion soup stock"}}}""");
        Assert.Equal(200, without.Status);
        Assert.Equal(without.Ids, withNull.Ids);
        Assert.Equal(
            without.Json["hits"]!["hits"]!.AsArray().Select(h => h!["_score"]!.GetValue<double>()),
            withNull.Json["hits"]!["hits"]!.AsArray().Select(h => h!["_score"]!.GetValue<double>()));
    }

    // Elasticsearch decodes the URL parameters before any handler runs (RestUtils.decodeQueryString): a malformed percent
    // escape is a 400 bad_parameter_exception (its Netty4BadRequestTests: "?pretty=%"). The proxy read ?q=% as the text
    // "%", sent it on encoded anew, and answered the search.
    [Theory]
    [InlineData("docs/_search?q=%", "unterminated escape sequence at end of string: %")]
    [InlineData("docs/_search?q=onion%4", "partial escape sequence at end of string: onion%4")]
    [InlineData("docs/_search?q=a%zzb&size=1", "invalid escape sequence `%zz' at index 1 of: a%zzb")]
    [InlineData("_msearch?max_concurrent_searches=1&pretty=%", "unterminated escape sequence at end of string: %")]
    public async Task Search_MalformedPercentEscapeInTheUrl_IsElasticsearchsBadParameter(string path, string cause)
    {
        // Sent as raw bytes: HttpClient's Uri would escape the stray % itself.
        var answer = await RawHttp.ExchangeAsync(_stack.Proxy.Url,
            $"POST /{path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-ndjson\r\nContent-Length: 6\r\nConnection: close\r\n\r\n{{}}\n{{}}\n");
        Assert.StartsWith("HTTP/1.1 400 ", answer, StringComparison.Ordinal);
        var error = JsonNode.Parse(answer[(answer.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..])!["error"]!;
        Assert.Equal(("bad_parameter_exception", $"java.lang.IllegalArgumentException: {cause}"), (error["type"]!.GetValue<string>(), error["reason"]!.GetValue<string>()));
        Assert.Equal(("illegal_argument_exception", cause), (error["caused_by"]!["type"]!.GetValue<string>(), error["caused_by"]!["reason"]!.GetValue<string>()));
        Assert.Equal("bad_parameter_exception", error["root_cause"]![0]!["type"]!.GetValue<string>());

        // "%%" is a percent sign, and a well-formed escape is what it encodes.
        var fine = await RawHttp.ExchangeAsync(_stack.Proxy.Url, "GET /docs/_search?q=onion%20%%&size=1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200 ", fine, StringComparison.Ordinal);
    }

    // RestRequest's constructor reads Accept and Content-Type before anything else (parseHeaderWithMediaType): a header
    // line sent twice, or sent empty, is the 400 media_type_header_exception caused by an illegal_argument_exception.
    // The proxy answered two Content-Type lines with its 406 "Content-Type header [...] is not supported", and took an
    // empty Accept; the backend (the oracle here, as Elasticsearch) and the proxy now answer alike.
    [Theory]
    [InlineData("docs/_search", "Content-Type: application/json\r\nContent-Type: application/json\r\n", "Content-Type", "Incorrect header [Content-Type]. Only one value should be provided")]
    [InlineData("_msearch", "Content-Type: application/x-ndjson\r\nContent-Type: application/x-ndjson\r\n", "Content-Type", "Incorrect header [Content-Type]. Only one value should be provided")]
    [InlineData("docs/_search", "Content-Type: application/json\r\nAccept: application/json\r\nAccept: application/json\r\n", "Accept", "Incorrect header [Accept]. Only one value should be provided")]
    [InlineData("docs/_search", "Content-Type: application/json\r\nAccept: \r\n", "Accept", "Header [Accept] cannot be empty.")]
    // ParsedMediaType.parseMediaType: a value that is no type/subtype, or a parameter without its '=' value; before, the
    // proxy and the backend answered these with the 406 meant for a media type the cluster does not read.
    [InlineData("docs/_search", "Content-Type: foo\r\n", "Content-Type", "invalid media-type [foo]")]
    [InlineData("_msearch", "Content-Type: application/x-ndjson; charset\r\n", "Content-Type", "invalid parameters for header [application/x-ndjson; charset]")]
    [InlineData("docs/_search", "Content-Type: application/json\r\nAccept: json\r\n", "Accept", "invalid media-type [json]")]
    public async Task Search_MediaTypeHeaderSentTwiceOrEmpty_IsElasticsearchsMediaTypeHeaderException(string path, string headers, string header, string cause)
    {
        await AssertHeaderRefusedAsync([_stack.Backend.Url, _stack.Proxy.Url], path, headers, "media_type_header_exception", $"Invalid media-type value on headers [{header}]", cause);
    }

    // Each server answers the request to path with these header lines with the 400 type and reason, caused by the
    // illegal_argument_exception cause.
    private static async Task AssertHeaderRefusedAsync(Uri[] servers, string path, string headers, string type, string reason, string cause)
    {
        var request = $"POST /{path} HTTP/1.1\r\nHost: localhost\r\n{headers}Content-Length: 6\r\nConnection: close\r\n\r\n{{}}\n{{}}\n";
        foreach (var server in servers)
        {
            var answer = await RawHttp.ExchangeAsync(server, request);
            Assert.StartsWith("HTTP/1.1 400 ", answer, StringComparison.Ordinal);
            var error = JsonNode.Parse(RawHttp.Body(answer))!["error"]!;
            Assert.Equal((type, reason), (error["type"]!.GetValue<string>(), error["reason"]!.GetValue<string>()));
            Assert.Equal(type, error["root_cause"]![0]!["type"]!.GetValue<string>());
            Assert.Equal(("illegal_argument_exception", cause), (error["caused_by"]!["type"]!.GetValue<string>(), error["caused_by"]!["reason"]!.GetValue<string>()));
        }
    }

    // OpenSearch reads only the Content-Type as it makes the request (RestRequest.parseContentType) and words its faults
    // otherwise: a ContentTypeHeaderException, dispatched as a bad request (AbstractHttpServerTransport.handleIncomingRequest,
    // RestController.dispatchBadRequest), the 400 content_type_header_exception whose reason is its cause's toString().
    // In front of OpenSearch the proxy (and the backend in its OpenSearch flavour) answered these with the 406
    // "Content-Type header [application/json,application/json] is not supported".
    [Theory]
    [InlineData("docs/_search", "Content-Type: application/json\r\nContent-Type: application/json\r\n", "only one Content-Type header should be provided")]
    [InlineData("_msearch", "Content-Type: application/x-ndjson\r\nContent-Type: application/x-ndjson\r\n", "only one Content-Type header should be provided")]
    [InlineData("docs/_search", "Content-Type: foo\r\n", "invalid Content-Type header [foo]")]
    [InlineData("docs/_search", "Content-Type: \r\n", "invalid Content-Type header []")]
    public async Task Search_InFrontOfOpenSearch_ContentTypeSentTwiceOrMalformed_IsOpenSearchsContentTypeHeaderException(string path, string headers, string cause)
    {
        await using var stack = await ProxyStack.StartAsync(flavor: Rank1.EmbeddedSearch.SearchFlavor.OpenSearch);
        await AssertHeaderRefusedAsync([stack.Backend.Url, stack.Proxy.Url], path, headers, "content_type_header_exception", $"java.lang.IllegalArgumentException: {cause}", cause);

        // OpenSearch does not read a media type's parameters: this one is taken.
        var taken = await RawHttp.ExchangeAsync(stack.Proxy.Url,
            "POST /docs/_search?size=1 HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json; charset\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
        Assert.StartsWith("HTTP/1.1 200 ", taken, StringComparison.Ordinal);
    }

    // In front of OpenSearch a body that is no JSON is OpenSearch's answer, not Elasticsearch 9's: its JsonXContentParser
    // does not wrap Jackson's exception (a JsonParseException is a 400 of its own, ExceptionsHelper.status) and Jackson
    // 2.16+ names no source (INCLUDE_SOURCE_IN_LOCATION off, as OpenSearch's JsonXContent leaves it); Jackson 2.17+
    // (jackson-core #1173) places an unexpected character at its own column. Before, the proxy answered
    // x_content_parse_exception "[1:11] ..." quoting the body, caused by json_parse_exception.
    [Theory]
    [InlineData("{\"query\":}", "json_parse_exception", "Unexpected character ('}' (code 125)): expected a value\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 1, column: 10]")]
    [InlineData("{\"query\":{", "json_e_o_f_exception", "Unexpected end-of-input: expected close marker for Object (start marker at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 1, column: 10])\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 1, column: 11]")]
    // A repeated field likewise: OpenSearch's JsonXContent turns on Jackson's STRICT_DUPLICATE_DETECTION and its parser
    // does not wrap the JsonParseException (JsonReadContext._checkDup), whose location is the parser's current one, just
    // past the name's closing quote. Before, the proxy answered Elasticsearch's x_content_parse_exception "[1:11] Duplicate field 'size'".
    [InlineData("{\"size\":1,\"size\":2,\"query\":{\"match\":{\"text\":\"x\"}}}", "json_parse_exception", "Duplicate field 'size'\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 1, column: 17]")]
    [InlineData("{\"query\":{\"match\":{\"text\":\"x\",\"text\":\"y\"}}}", "json_parse_exception", "Duplicate field 'text'\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 1, column: 37]")]
    [InlineData("{\"query\":{\"match\":{\"text\":\"x\"}},\n \"size\":1,\"size\":2}", "json_parse_exception", "Duplicate field 'size'\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 2, column: 17]")]
    public async Task Search_InFrontOfOpenSearch_MalformedJson_IsOpenSearchsJsonParseException(string body, string type, string reason)
    {
        await using var stack = await ProxyStack.StartAsync(flavor: Rank1.EmbeddedSearch.SearchFlavor.OpenSearch);
        var r = await stack.SearchAsync(body);
        var error = r.Body!["error"]!;
        Assert.Equal((400, type, reason), (r.Status, error["type"]!.GetValue<string>(), error["reason"]!.GetValue<string>()));
        Assert.Equal((type, reason), (error["root_cause"]![0]!["type"]!.GetValue<string>(), error["root_cause"]![0]!["reason"]!.GetValue<string>()));
        Assert.Null(error["caused_by"]);
        Assert.False(r.Headers.Contains("X-Elastic-Product"));
    }

    // An _msearch/template item whose template renders to JSON that does not parse fails alone, in the flavour's words:
    // in front of OpenSearch its json_parse_exception with the source redacted. Before, the item got Elasticsearch 9's
    // x_content_parse_exception quoting the rendered source.
    [Fact]
    public async Task MsearchTemplate_InFrontOfOpenSearch_ATemplateRenderedToBadJson_IsOpenSearchsJsonParseException()
    {
        await using var stack = await ProxyStack.StartAsync(flavor: Rank1.EmbeddedSearch.SearchFlavor.OpenSearch);
        var lines = string.Join('\n', "{}", """{"source":"{\"size\": {{size}} }","params":{}}""") + "\n";
        var answer = await stack.SendAsync(HttpMethod.Post, $"{ProxyStack.Index}/_msearch/template", lines, "application/x-ndjson");
        Assert.Equal(200, answer.Status);
        var error = answer.Json["responses"]![0]!["error"]!;
        Assert.Equal("json_parse_exception", error["type"]!.GetValue<string>());
        Assert.StartsWith("Unexpected character ('}' (code 125)): expected a value\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 1, column: ", error["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Null(error["caused_by"]);
    }

    // RestRequest decodes the URL parameters with RestUtils.decodeQueryString (Elasticsearch and OpenSearch alike):
    // ';' separates parameters as '&' does, a repeated name keeps its last value (params.put), "%%" is a percent sign,
    // and a name after a leading '=' is that name. The proxy read them as ASP.NET Core does: "1,2" for a repeated size
    // (a 400), "onion;size=1" as the q text, and "1%%" as two percent signs.
    [Theory]
    [InlineData("docs/_search?q=onion&size=1&size=2", 2)]
    [InlineData("docs/_search?q=onion;size=1", 1)]
    [InlineData("docs/_search?q=onion&size=3;size=1", 1)]
    public async Task Search_UrlParameters_AreDecodedAsElasticsearchDecodesThem(string path, int hits)
    {
        // The embedded backend (the cluster here) reads them alike: the proxy re-encodes what it forwards, so the raw
        // request must reach the backend too.
        foreach (var server in new[] { _stack.Backend.Url, _stack.Proxy.Url })
        {
            var answer = await RawHttp.ExchangeAsync(server, $"GET /{path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
            Assert.StartsWith("HTTP/1.1 200 ", answer, StringComparison.Ordinal);
            Assert.Equal(hits, JsonNode.Parse(RawHttp.Body(answer))!["hits"]!["hits"]!.AsArray().Count);
        }
    }

    [Theory]
    [InlineData("docs/_search?q=onion&size=1%%", "Failed to parse int parameter [size] with value [1%]")]
    [InlineData("docs/_search?q=onion&=size", "Failed to parse int parameter [size] with value []")]
    [InlineData("docs/_search?q=onion&from=+2%2B", "Failed to parse int parameter [from] with value [ 2+]")]
    public async Task Search_UrlParameterValue_IsReadAsElasticsearchDecodesIt(string path, string reason)
    {
        foreach (var server in new[] { _stack.Backend.Url, _stack.Proxy.Url })
        {
            var answer = await RawHttp.ExchangeAsync(server, $"GET /{path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
            Assert.StartsWith("HTTP/1.1 400 ", answer, StringComparison.Ordinal);
            var error = JsonNode.Parse(RawHttp.Body(answer))!["error"]!;
            Assert.Equal(("illegal_argument_exception", reason), (error["type"]!.GetValue<string>(), error["reason"]!.GetValue<string>()));
        }
    }

    // RestMultiSearchAction (and RestMultiSearchTemplateAction) read max_concurrent_searches with paramAsInt and hand it to
    // MultiSearchRequest.maxConcurrentSearchRequests, which refuses one below 1: Elasticsearch's words, not the proxy's own.
    [Theory]
    [InlineData("_msearch", "0", "maxConcurrentSearchRequests must be positive")]
    [InlineData("_msearch", "-1", "maxConcurrentSearchRequests must be positive")]
    [InlineData("_msearch", "abc", "Failed to parse int parameter [max_concurrent_searches] with value [abc]")]
    [InlineData("_msearch", "99999999999", "Failed to parse int parameter [max_concurrent_searches] with value [99999999999]")]
    [InlineData("_msearch/template", "0", "maxConcurrentSearchRequests must be positive")]
    public async Task Msearch_MaxConcurrentSearchesNotAPositiveInt_IsElasticsearchs400(string path, string value, string reason)
    {
        var line = path == "_msearch" ? """{"query":{"match":{"text":"onion"}}}""" : """{"source":{"query":{"match":{"text":"{{q}}"}}},"params":{"q":"onion"}}""";
        var r = await _stack.SendAsync(HttpMethod.Post, $"{path}?max_concurrent_searches={value}", $"{{\"index\":\"{ProxyStack.Index}\"}}\n{line}\n", "application/x-ndjson");
        Assert.Equal((400, "illegal_argument_exception", reason),
            (r.Status, r.Json["error"]!["type"]!.GetValue<string>(), r.Json["error"]!["reason"]!.GetValue<string>()));
    }

    // Elasticsearch's HTTP layer undoes gzip and deflate (Netty's HttpContentDecompressor) and leaves a body in any other
    // Content-Encoding as it came, for its parser to read or refuse. The proxy answered such a search, the client's
    // own request, with a 502 "the backend answered with an unsupported Content-Encoding [zstd]".
    [Theory]
    [InlineData("zstd")]
    [InlineData("compress")]
    [InlineData("gzip, gzip")]
    public async Task Search_BodyInAnEncodingNotUndone_IsReadAsItCame(string encoding)
    {
        async Task<(int Status, string? Rerank, string Body)> SendAsync(string path, string body, string contentType)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, System.Text.Encoding.UTF8, contentType) };
            request.Content.Headers.TryAddWithoutValidation("Content-Encoding", encoding);
            using var response = await _stack.Http.SendAsync(request);
            return ((int)response.StatusCode, response.Headers.TryGetValues("X-Rank1-Rerank", out var v) ? v.Single() : null, await response.Content.ReadAsStringAsync());
        }

        const string Search = """{"query":{"match":{"text":"onion"}},"size":3}""";
        var plain = await _stack.SearchAsync(Search);
        var search = await SendAsync($"{ProxyStack.Index}/_search", Search, "application/json");
        Assert.True(search.Status == 200, search.Body);
        Assert.Equal(plain.Ids, JsonNode.Parse(search.Body)!["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()));

        var msearch = await SendAsync("_msearch", "{\"index\":\"" + ProxyStack.Index + "\"}\n" + Search + "\n", "application/x-ndjson");
        Assert.True(msearch.Status == 200, msearch.Body);
        Assert.Equal(plain.Ids, JsonNode.Parse(msearch.Body)!["responses"]![0]!["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()));

        // What it says is not JSON is refused as such, as Elasticsearch's parser refuses it: the client's 400.
        var garbage = await SendAsync($"{ProxyStack.Index}/_search", "(compressed bytes)", "application/json");
        Assert.Equal(400, garbage.Status);
        Assert.Equal("x_content_parse_exception", JsonNode.Parse(garbage.Body)!["error"]!["type"]!.GetValue<string>());
    }

    // Elasticsearch keeps and returns a document as deep as its JSON parser reads (Jackson's StreamReadConstraints
    // default, 1000 levels): index.mapping.depth.limit (20) bounds mapped objects only, not an unmapped one under
    // "dynamic": false. One such hit in the window made the proxy's reading of the answer (System.Text.Json's default
    // depth of 64) fail the whole search with a 502, and the embedded backend's reading of its stored source a 500.
    [Fact]
    public async Task Search_HitWhoseSourceNestsPast64Levels_IsRerankedAndAnsweredWhole()
    {
        const int Depth = 200;
        var blob = string.Concat(Enumerable.Repeat("""{"a":""", Depth)) + "1" + new string('}', Depth);
        using (var backend = new HttpClient { BaseAddress = _stack.Backend.Url })
        {
            (await backend.PutAsync("deep", ProxyStack.Json("""{"mappings":{"dynamic":false,"properties":{"title":{"type":"text"},"text":{"type":"text"}}}}"""))).EnsureSuccessStatusCode();
            (await backend.PutAsync("deep/_doc/nested", ProxyStack.Json($$"""{"title":"Onion layers","text":"onion layers all the way down","blob":{{blob}}}"""))).EnsureSuccessStatusCode();
            (await backend.PutAsync("deep/_doc/flat?refresh=true", ProxyStack.Json("""{"title":"Onion soup","text":"onion soup"}"""))).EnsureSuccessStatusCode();
        }

        var search = await _stack.Http.PostAsync("deep/_search", ProxyStack.Json("""{"query":{"match":{"text":"onion"}}}"""));
        var text = await search.Content.ReadAsStringAsync();
        Assert.True(search.StatusCode == System.Net.HttpStatusCode.OK, text);
        Assert.Equal("applied", search.Headers.GetValues("X-Rank1-Rerank").Single());
        var hits = ProxyStack.ParseDeep(text)["hits"]!["hits"]!.AsArray();
        Assert.Equal(["flat", "nested"], hits.Select(h => h!["_id"]!.GetValue<string>()).Order());
        Assert.Equal(Depth, ProxyStack.NestedLevels(hits.Single(h => h!["_id"]!.GetValue<string>() == "nested")!["_source"]!["blob"]));

        var msearch = await _stack.Http.PostAsync("_msearch", new StringContent("""
            {"index":"deep"}
            {"query":{"match":{"text":"onion"}}}

            """, System.Text.Encoding.UTF8, "application/x-ndjson"));
        text = await msearch.Content.ReadAsStringAsync();
        Assert.True(msearch.StatusCode == System.Net.HttpStatusCode.OK, text);
        var item = ProxyStack.ParseDeep(text)["responses"]![0]!;
        Assert.Equal((200, "applied"), (item["status"]!.GetValue<int>(), item["_rank1"]!["rerank"]!.GetValue<string>()));
        Assert.Equal(Depth, ProxyStack.NestedLevels(item["hits"]!["hits"]!.AsArray().Single(h => h!["_id"]!.GetValue<string>() == "nested")!["_source"]!["blob"]));
    }
}

/// <summary>Failure isolation and the model circuit (issue #18 items 3 and 4), with a judge whose input errors are chosen by the test.</summary>
public sealed class InputErrorIsolationTests
{
    private const string Body = """{"query":{"match":{"text":"onion"}}}""";

    [Fact]
    public async Task Search_OnePassageCannotBeJudged_KeepsItsBackendPlaceAndTheRestIsReranked()
    {
        var judge = new InputFailingJudge("soup");
        await using var stack = await ProxyStack.StartAsync(services: s => s.AddSingleton<IPassageJudge>(judge));
        var backendOrder = await stack.BackendIdsAsync(Body);
        Assert.Contains("d02", backendOrder.Take(5)); // "French onion soup ..." is in the window

        var r = await stack.SearchAsync(Body);

        Assert.Equal(200, r.Status);
        Assert.Equal("partial", r.Rerank);
        var window = backendOrder.Take(5).ToArray();
        var judged = window.Where(id => id != "d02")
            .Select((id, i) => (Id: id, Score: InputFailingJudge.Score(ProxyStack.Corpus.Single(c => c.Id == id).Text), Index: Array.IndexOf(window, id)))
            .OrderByDescending(x => x.Score).ThenBy(x => x.Index).Select(x => x.Id);
        Assert.Equal(judged.Append("d02").Concat(backendOrder.Skip(5)).Take(10), r.Ids);
        var failed = r.Json["hits"]!["hits"]!.AsArray().Single(h => h!["_id"]!.GetValue<string>() == "d02")!["fields"]!;
        Assert.Equal("failed", failed["_rank1.source"]![0]!.GetValue<string>());
        Assert.Contains("context", failed["_rank1.error"]![0]!.GetValue<string>(), StringComparison.Ordinal);
    }

    /// <summary>
    /// A window answer too big to read and rewrite (about ten times its size in memory: a 200 MB answer took the proxy
    /// to 2.2 GB) is not reranked: the search goes to the backend again as the client sent it, and that answer is passed
    /// on. Before, every window answer was parsed whole, however big.
    /// </summary>
    [Fact]
    public async Task Search_WindowAnswerOverMaxHeldAnswerBytes_IsSentAgainAsSentAndItsAnswerPassedOn()
    {
        await using var stack = await ProxyStack.StartAsync(new() { ["Rank1:Proxy:MaxHeldAnswerBytes"] = "512" });
        const string Window = """{"query":{"match":{"text":"onion"}},"size":5}""";
        using (var backend = new HttpClient { BaseAddress = stack.Backend.Url })
        {
            var windowAnswer = await backend.PostAsync($"{ProxyStack.Index}/_search", new StringContent(Window, System.Text.Encoding.UTF8, "application/json"));
            Assert.InRange((await windowAnswer.Content.ReadAsByteArrayAsync()).Length, 513, int.MaxValue); // the window's answer is over the cap
        }

        const string Page = """{"query":{"match":{"text":"onion"}},"size":2,"ext":{"rank1":{"window":5}}}""";
        var r = await stack.SearchAsync(Page);
        Assert.Equal((200, "skipped"), (r.Status, r.Rerank));
        Assert.Equal("the backend's answer to the rerank window is over 512 bytes (Rank1:Proxy:MaxHeldAnswerBytes)", r.Headers.GetValues("X-Rank1-Reason").Single());
        // The backend's own answer to the page as sent (ext.rank1 left out, as Elasticsearch refuses unknown ext keys).
        Assert.Equal(await stack.BackendIdsAsync("""{"query":{"match":{"text":"onion"}},"size":2}"""), r.Ids);
        Assert.Null(r.Json["hits"]!["hits"]![0]!["fields"]);

        // Asked with Accept-Encoding: gzip (as the official clients ask by default), the backend's window answer comes
        // compressed, under the cap: it is the decoded size that counts.
        using (var backend = new HttpClient { BaseAddress = stack.Backend.Url })
        using (var request = new HttpRequestMessage(HttpMethod.Post, $"{ProxyStack.Index}/_search") { Content = new StringContent(Window, System.Text.Encoding.UTF8, "application/json") })
        {
            request.Headers.AcceptEncoding.ParseAdd("gzip");
            using var compressed = await backend.SendAsync(request);
            Assert.Equal("gzip", compressed.Content.Headers.ContentEncoding.Single());
            Assert.InRange((await compressed.Content.ReadAsByteArrayAsync()).Length, 1, 512);
        }

        using var gzipClient = new HttpClient(new HttpClientHandler { AutomaticDecompression = System.Net.DecompressionMethods.All }) { BaseAddress = stack.Proxy.Url };
        using var gzipped = await gzipClient.PostAsync($"{ProxyStack.Index}/_search", new StringContent(Page, System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal("skipped", gzipped.Headers.GetValues("X-Rank1-Rerank").Single());
        Assert.Equal(r.Ids, System.Text.Json.Nodes.JsonNode.Parse(await gzipped.Content.ReadAsStringAsync())!["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()));
    }

    /// <summary>
    /// In an <c>_msearch</c>, whose items are held to be joined, a window answer over the cap is sent again as the client
    /// sent it, and that answer is held only within the same cap: an item whose own page is over it too is that item's
    /// error, naming the setting and the way out (a lone <c>_search</c>, which is streamed), never held whole. So is an
    /// item that is not reranked (sorted by a field) whose answer is over the cap: before, it was held whatever its size
    /// (a size-0 aggregation answering 200 MB took the proxy to 2.2 GB).
    /// </summary>
    [Fact]
    public async Task Msearch_WindowAnswerOverTheCap_ItsPageWithinTheCapIsPassedOn_APageOverItIsTheItemsError()
    {
        await using var stack = await ProxyStack.StartAsync(new() { ["Rank1:Proxy:MaxHeldAnswerBytes"] = "512" });
        using (var backend = new HttpClient { BaseAddress = stack.Backend.Url })
        {
            async Task<int> Size(string body) => (await (await backend.PostAsync($"{ProxyStack.Index}/_search", new StringContent(body, System.Text.Encoding.UTF8, "application/json")))
                .Content.ReadAsByteArrayAsync()).Length;
            Assert.InRange(await Size("""{"query":{"match":{"text":"onion"}},"size":5}"""), 513, int.MaxValue); // the window's answer, and the second item's page
            Assert.InRange(await Size("""{"query":{"match":{"text":"onion"}},"size":1}"""), 1, 512); // the first item's page
        }

        var lines = "{}\n" + """{"query":{"match":{"text":"onion"}},"size":1}""" + "\n{}\n" + """{"query":{"match":{"text":"onion"}},"size":5}""" + "\n{}\n"
            + """{"query":{"match":{"text":"onion"}},"size":5,"sort":[{"topic":"asc"}]}""" + "\n";
        var r = await stack.SendAsync(HttpMethod.Post, $"{ProxyStack.Index}/_msearch", lines, "application/x-ndjson");

        Assert.Equal(200, r.Status);
        var items = r.Json["responses"]!.AsArray();
        Assert.Equal([200, 502, 502], items.Select(i => i!["status"]!.GetValue<int>()));
        Assert.Equal("the backend's answer to the rerank window is over 512 bytes (Rank1:Proxy:MaxHeldAnswerBytes)", items[0]!["_rank1"]!["reason"]!.GetValue<string>());
        Assert.Equal(await stack.BackendIdsAsync("""{"query":{"match":{"text":"onion"}},"size":1}"""), items[0]!["hits"]!["hits"]!.AsArray().Select(h => h!["_id"]!.GetValue<string>()));
        Assert.Equal("rank1_backend_response_exception", items[1]!["error"]!["type"]!.GetValue<string>());
        Assert.All(items.Skip(1), i => Assert.Equal("the backend's answer to this search is over 512 bytes (Rank1:Proxy:MaxHeldAnswerBytes), more than the proxy holds for an item of a multi search: send it alone (_search, _search/template), whose answer is streamed",
            i!["error"]!["reason"]!.GetValue<string>()));
        Assert.Equal("skipped", items[2]!["_rank1"]!["rerank"]!.GetValue<string>());
    }

    [Fact]
    public async Task Search_RepeatedInputErrors_NeverOpenTheModelCircuitForOthers()
    {
        var judge = new InputFailingJudge("toolong");
        await using var stack = await ProxyStack.StartAsync(new() { ["Rank1:Proxy:ModelFailuresBeforeBreak"] = "2" }, s => s.AddSingleton<IPassageJudge>(judge));
        for (var i = 0; i < 5; i++)
        {
            var bad = await stack.SearchAsync("""{"query":{"match":{"text":"onion toolong"}}}""");
            Assert.Equal("fallback-error", bad.Rerank);
            Assert.Contains("no passage of the window could be judged", bad.Headers.GetValues("X-Rank1-Reason").Single(), StringComparison.Ordinal);
        }

        var good = await stack.SearchAsync(Body);
        Assert.Equal("applied", good.Rerank);
        Assert.Equal(Math.Min(5, (await stack.BackendIdsAsync(Body)).Length), judge.Judged);
    }

    [Fact]
    public async Task Search_ModelCallStillRunningPastTheDeadline_IsCutAtDeadlinePlusGraceAndAnswersInBackendOrder()
    {
        // A model call that only ends when cancelled, as a prefill begun just before the deadline looks to the caller.
        // The proxy's clock is a FakeTimeProvider that only the judge moves: to the deadline, to just before the
        // grace (Rank1:Proxy:DeadlineGrace) is over, then to its end. A proxy that never cuts the call gets the judge's
        // answer (applied), one that cuts it early or late is seen by the judge; no wall time is measured.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var judge = new EndlessJudge(clock, TimeSpan.FromMilliseconds(500));
        await using var stack = await ProxyStack.StartAsync(services: s => s.AddSingleton<TimeProvider>(clock).AddSingleton<IPassageJudge>(judge));
        var r = await stack.SearchAsync("""{"query":{"match":{"text":"onion"}},"ext":{"rank1":{"deadline_ms":300}}}""");
        Assert.Equal(200, r.Status);
        Assert.Equal("fallback-timeout", r.Rerank);
        Assert.Contains("still reading", r.Headers.GetValues("X-Rank1-Reason").Single(), StringComparison.Ordinal);
        Assert.Equal(await stack.BackendIdsAsync(Body), r.Ids);
        Assert.Equal((false, false, true), (judge.CancelledAtDeadline, judge.CancelledJustBeforeTheGraceEnds, judge.CancelledWhenTheGraceEnds));
    }

    private sealed class EndlessJudge(FakeTimeProvider clock, TimeSpan grace) : IPassageJudge
    {
        public string ModelId => "endless";

        public bool CancelledAtDeadline { get; private set; }

        public bool CancelledJustBeforeTheGraceEnds { get; private set; }

        public bool CancelledWhenTheGraceEnds { get; private set; }

        public async ValueTask<IReadOnlyList<PassageResult>> JudgeWindowAsync(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages,
            JudgeSettings? settings = null, CancellationToken cancellationToken = default)
        {
            clock.Advance(settings!.Deadline!.Value - clock.GetUtcNow());
            CancelledAtDeadline = cancellationToken.IsCancellationRequested;
            clock.Advance(grace - TimeSpan.FromMilliseconds(1));
            CancelledJustBeforeTheGraceEnds = cancellationToken.IsCancellationRequested;
            clock.Advance(TimeSpan.FromMilliseconds(1));
            CancelledWhenTheGraceEnds = cancellationToken.IsCancellationRequested;
            if (!CancelledWhenTheGraceEnds)
            {
                // Not cut: the call ends after all, so a proxy that never cuts it answers with this judgement instead of hanging.
                return passages.Select(_ => PassageResult.Judged(new Rank1Judgement(0.9, true, "finished", 1, ReasoningEnd.Finished, 1, TimeSpan.Zero, TimeSpan.Zero))).ToArray();
            }

            await Task.Delay(Timeout.Infinite, cancellationToken);
            throw new InvalidOperationException("unreachable");
        }
    }
}

/// <summary>A judge for which the inputs <c>fails</c> picks (by default any query or passage containing a marker) are input errors; others get a score from their length.</summary>
internal sealed class InputFailingJudge(Func<Rank1Input, bool> fails) : IPassageJudge
{
    public InputFailingJudge(string marker)
        : this(input => input.Query.Contains(marker, StringComparison.Ordinal) || input.Text.Contains(marker, StringComparison.Ordinal))
    {
    }

    private int _judged;
    private int _windows;

    /// <summary>Passages judged (input errors not counted).</summary>
    public int Judged => _judged;

    /// <summary>Windows the judge was asked for: one per attempt at a window with passages left to judge.</summary>
    public int Windows => _windows;

    public string ModelId => "input-failing";

    public static double Score(string text) => text.Length % 100 / 100.0;

    public ValueTask<IReadOnlyList<PassageResult>> JudgeWindowAsync(string query, string? instructions, IReadOnlyList<(string? Title, string Text)> passages,
        JudgeSettings? settings = null, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _windows);
        return PassageJudge.JudgeEachAsync(query, instructions, passages, settings, (input, _) => JudgeOne(input), TimeProvider.System, cancellationToken);
    }

    private ValueTask<Rank1Judgement> JudgeOne(Rank1Input input)
    {
        if (fails(input))
        {
            throw new Rank1InputException("The prompt has 5000 tokens, which leaves less than 16 of the model's context of 4096 for reasoning.");
        }

        Interlocked.Increment(ref _judged);
        var score = Score(input.Text);
        return ValueTask.FromResult(new Rank1Judgement(score, score >= 0.5, "reasoned.", 1, ReasoningEnd.Finished, 10, TimeSpan.Zero, TimeSpan.Zero));
    }
}
