using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Elastic.Clients.Elasticsearch;

namespace Rank1.EmbeddedSearch.Tests;

internal sealed record EsResponse(int Status, JsonNode? Body, HttpResponseHeaders Headers, HttpContentHeaders? ContentHeaders)
{
    public JsonNode Json => Body ?? throw new InvalidOperationException("empty body");

    public string? ErrorType => Body?["error"]?["type"]?.GetValue<string>();

    public string? ErrorReason => Body?["error"]?["reason"]?.GetValue<string>();

    /// <summary>Asserts Elasticsearch's error answer: its status, type and reason, exactly.</summary>
    public void AssertError(int status, string type, string reason)
    {
        Assert.Equal(status, Status);
        Assert.Equal(type, ErrorType);
        Assert.Equal(reason, ErrorReason);
    }
}

/// <summary>The official Elastic.Clients.Elasticsearch client, keeping request and response bytes for its debug information.</summary>
internal static class OfficialClient
{
    public static ElasticsearchClient For(Uri url) => new(new ElasticsearchClientSettings(url).DisableDirectStreaming());
}

/// <summary>Plain HTTP calls against a server, for asserting on exact JSON and status codes.</summary>
internal sealed class EsClient(Uri baseUrl) : IDisposable
{
    private readonly HttpClient _http = new() { BaseAddress = baseUrl };

    public async Task<EsResponse> SendAsync(HttpMethod method, string path, object? body = null, string contentType = "application/json")
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            var text = body as string ?? ((JsonNode)body).ToJsonString();
            request.Content = new StringContent(text, Encoding.UTF8);
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }

        using var response = await _http.SendAsync(request);
        var raw = await response.Content.ReadAsStringAsync();
        return new EsResponse((int)response.StatusCode, raw.Length == 0 ? null : JsonNode.Parse(raw), response.Headers, response.Content.Headers);
    }

    public Task<EsResponse> GetAsync(string path) => SendAsync(HttpMethod.Get, path);

    public Task<EsResponse> PutAsync(string path, object? body = null) => SendAsync(HttpMethod.Put, path, body);

    public Task<EsResponse> PostAsync(string path, object? body = null) => SendAsync(HttpMethod.Post, path, body);

    public Task<EsResponse> DeleteAsync(string path) => SendAsync(HttpMethod.Delete, path);

    public Task<EsResponse> SearchAsync(string index, JsonNode body) => PostAsync($"/{index}/_search", body);

    public Task<EsResponse> BulkAsync(string ndjson, string query = "?refresh=true") => SendAsync(HttpMethod.Post, "/_bulk" + query, ndjson, "application/x-ndjson");

    public void Dispose() => _http.Dispose();
}

/// <summary>An in-memory embedded server on a free loopback port, shared by a test class.</summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public EmbeddedSearchServer Server { get; private set; } = null!;

    internal EsClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        // No periodic refresh while a test runs: the tests here assert Elasticsearch's near-real-time semantics (a
        // document is searchable after an explicit refresh, not before), which a 1 s timer firing on a loaded machine
        // would make flaky. The periodic refresh itself is tested in ServerTests with its own server.
        Server = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0, RefreshInterval = TimeSpan.FromHours(1) });
        Client = new EsClient(Server.Url);
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Server.DisposeAsync();
    }
}
