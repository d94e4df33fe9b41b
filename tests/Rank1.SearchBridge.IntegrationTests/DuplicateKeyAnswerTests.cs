using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Rank1.Inference;
using Rank1.SearchBridge.Http.Proxy;
using Rank1.Testing;

namespace Rank1.SearchBridge.IntegrationTests;

/// <summary>A backend's answer whose objects hold a key twice, as a backend or gateway that is not Elasticsearch may write one.</summary>
public sealed class DuplicateKeyAnswerTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AHitWhoseSourceHoldsAKeyTwice_IsRerankedOnItsLastValue_NotA500(bool msearch)
    {
        // A backend that is not Elasticsearch (or a gateway before it) may return a _source with a key twice;
        // Elasticsearch returns _source as it holds it. The proxy read such a hit's passage with an ArgumentException (an
        // empty 500). It reads the key as Jackson's tree model and the clients' JSON readers do: the last value, at the
        // first one's place.
        const string answer = """{"took":1,"timed_out":false,"_shards":{"total":1,"successful":1,"skipped":0,"failed":0},"hits":{"total":{"value":2,"relation":"eq"},"max_score":2.0,"hits":[{"_index":"docs","_id":"twice","_score":2.0,"_source":{"text":"first onion","topic":"food","text":"last onion"}},{"_index":"docs","_id":"once","_score":1.0,"_source":{"text":"onion soup"}}]}}""";
        var (backend, url) = await LoopbackApp.StartAsync(context =>
        {
            context.Response.ContentType = "application/json";
            context.Response.Headers["X-Elastic-Product"] = "Elasticsearch";
            return context.Response.WriteAsync(context.Request.Path == "/"
                ? """{"version":{"number":"9.0.0"},"tagline":"You Know, for Search"}"""
                : context.Request.Path.Value!.EndsWith("_msearch", StringComparison.Ordinal) ? "{\"took\":1,\"responses\":[" + answer[..^1] + ",\"status\":200}]}" : answer);
        });
        await using (backend)
        {
            var judge = new PassageRecordingJudge();
            await using var proxy = await ProxyServer.StartAsync(new Dictionary<string, string?>
            {
                ["Urls"] = "http://127.0.0.1:0",
                ["Rank1:Backend:Url"] = url.ToString(),
                ["Rank1:Model:Path"] = TestPaths.TinyModel,
                ["Rank1:Model:ExecutionProvider"] = "Cpu",
            }, configureServices: s => s.AddSingleton<IPassageJudge>(judge));
            using var http = new HttpClient { BaseAddress = proxy.Url };
            using var response = msearch
                ? await http.PostAsync("_msearch", new StringContent("{\"index\":\"docs\"}\n{\"query\":{\"match\":{\"text\":\"onion\"}}}\n", Encoding.UTF8, "application/x-ndjson"))
                : await http.PostAsync("docs/_search", new StringContent("""{"query":{"match":{"text":"onion"}}}""", Encoding.UTF8, "application/json"));
            var text = await response.Content.ReadAsStringAsync();

            Assert.True(response.StatusCode == System.Net.HttpStatusCode.OK, text);
            var json = JsonNode.Parse(text)!;
            var result = msearch ? json["responses"]![0]! : json;
            Assert.Equal("applied", msearch ? result["_rank1"]!["rerank"]!.GetValue<string>() : response.Headers.GetValues("X-Rank1-Rerank").Single());
            Assert.Equal(["last onion", "onion soup"], judge.Texts.Order(StringComparer.Ordinal));
            var twice = result["hits"]!["hits"]!.AsArray().Single(h => h!["_id"]!.GetValue<string>() == "twice")!;
            Assert.Equal("""{"text":"last onion","topic":"food"}""", twice["_source"]!.ToJsonString());
        }
    }
}
