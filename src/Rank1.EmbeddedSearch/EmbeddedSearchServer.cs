using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.ResponseCompression;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Rank1.EmbeddedSearch.Http;
using Rank1.EmbeddedSearch.Indexing;
using Rank1.EmbeddedSearch.Querying;
using Rank1.EmbeddedSearch.Scripting;
using Rank1.Elastic;

namespace Rank1.EmbeddedSearch;

/// <summary>
/// The embedded search backend: an Elasticsearch-compatible HTTP API over Lucene.Net with BM25, for the demo and
/// the tests. It is not a production search engine: one node, one shard per index, no security.
/// </summary>
public sealed class EmbeddedSearchServer : IAsyncDisposable
{
    /// <summary>The Elasticsearch version the backend reports (the official 9.x clients check the major).</summary>
    public const string ElasticsearchVersion = "9.1.0";

    /// <summary>The OpenSearch version reported with <see cref="SearchFlavor.OpenSearch"/>.</summary>
    public const string OpenSearchVersion = "2.19.1";

    private readonly WebApplication _app;
    private readonly ITimer _refreshTimer;
    private readonly SearchContexts _contexts;

    private readonly TimeProvider _time;

    private EmbeddedSearchServer(WebApplication app, IndexCatalog catalog, SearchContexts contexts, EmbeddedSearchOptions options, ITimer refreshTimer, TimeProvider time)
    {
        _app = app;
        _time = time;
        Catalog = catalog;
        _contexts = contexts;
        Options = options;
        _refreshTimer = refreshTimer;
    }

    /// <summary>The base URL (for example http://127.0.0.1:9200/).</summary>
    public Uri Url { get; private set; } = new("http://127.0.0.1/");

    /// <summary>The settings it runs with.</summary>
    public EmbeddedSearchOptions Options { get; }

    internal IndexCatalog Catalog { get; }

    /// <summary>Starts the server and returns once it listens.</summary>
    public static async Task<EmbeddedSearchServer> StartAsync(EmbeddedSearchOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        System.ComponentModel.DataAnnotations.Validator.ValidateObject(options, new System.ComponentModel.DataAnnotations.ValidationContext(options), validateAllProperties: true);
        var time = timeProvider ?? TimeProvider.System;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (loggerFactory is not null)
        {
            // A start-up error (a port in use) is thrown to the caller, which reports it: not logged as well.
            builder.Services.AddSingleton<ILoggerFactory>(new HostStartupFaultFilter(loggerFactory));
        }

        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = 110 * 1024 * 1024;
            // Elasticsearch bounds the headers' size (http.max_header_size), not their number (Kestrel's default: 100).
            k.Limits.MaxRequestHeaderCount = int.MaxValue;
            // Elasticsearch answers a request line or headers over its limits with a 400 in its shape (TooLongHttpLine-,
            // TooLongHttpHeaderException); Kestrel's own limits, higher, leave that to the check below.
            k.Limits.MaxRequestLineSize = EmbeddedSearchOptions.MaxHttpLimit + 1024;
            k.Limits.MaxRequestHeadersTotalSize = EmbeddedSearchOptions.MaxHttpLimit + 1024;
            k.Limits.MaxRequestBufferSize = 2 * EmbeddedSearchOptions.MaxHttpLimit; // Kestrel: at least either
            k.Listen(IPAddress.Parse(options.Host), options.Port);
        });
        builder.Services.AddRequestDecompression();
        builder.Services.AddResponseCompression(o =>
        {
            o.Providers.Add<GzipCompressionProvider>();
            // Elasticsearch compresses every answer when the client accepts gzip (http.compression), _cat text too.
            o.MimeTypes = ["application/json", "application/vnd.elasticsearch+json", "text/plain"];
        });
        builder.Services.AddRoutingCore().Configure<RouteOptions>(o => o.SetParameterPolicy<IndexRoute>(IndexRoute.Name));

        var catalog = new IndexCatalog(options.DataPath, time, options.Flavor);
        var app = builder.Build();
        var nodeId = Guid.NewGuid().ToString("N")[..22];
        var contexts = new SearchContexts(time);
        var executor = new SearchExecutor(catalog, contexts, nodeId, time, options.Flavor);
        var search = new SearchEndpoints(catalog, executor, contexts, time, options.Flavor);
        var docs = new DocumentEndpoints(catalog, options.Flavor);

        app.UseResponseCompression();
        app.UseRequestDecompression();
        app.Use(async (context, next) =>
        {
            if (options.Flavor == SearchFlavor.Elasticsearch)
            {
                context.Response.Headers["X-Elastic-Product"] = "Elasticsearch";
            }

            if (context.Request.Headers.TryGetValue("X-Opaque-Id", out var opaqueId))
            {
                context.Response.Headers["X-Opaque-Id"] = opaqueId;
            }

            try
            {
                EsHttp.CheckHttpLimits(context, options.MaxInitialLineLength, options.MaxHeaderSize);
                // As RestRequest decodes them (RestUtils.decodeQueryString), before its media types.
                context.Features.Set<IQueryFeature>(new QueryFeature(new QueryCollection(
                    UrlParameters.Decode(context.Request.QueryString.Value).ToDictionary(p => p.Key, p => new Microsoft.Extensions.Primitives.StringValues(p.Value)))));
                if (await EsHttp.RejectedMediaTypeAsync(context, options.Flavor == SearchFlavor.OpenSearch ? null : 9).ConfigureAwait(false)
                    || await EsHttp.RejectedChannelParametersAsync(context, options.Flavor == SearchFlavor.OpenSearch).ConfigureAwait(false)
                    || await EsHttp.RejectedRouteValuesAsync(context, options.Flavor == SearchFlavor.OpenSearch).ConfigureAwait(false))
                {
                    return;
                }

                EsHttp.SourceParameterAsBody(context);

                await next(context).ConfigureAwait(false);
                await EsHttp.AnswerUnroutedAsync(context, options.Flavor == SearchFlavor.OpenSearch).ConfigureAwait(false);
            }
            catch (EsException ex) when (!context.Response.HasStarted)
            {
                await EsHttp.WriteErrorAsync(context, ex.For(options.Flavor == SearchFlavor.OpenSearch)).ConfigureAwait(false);
            }
            catch (BadHttpRequestException ex) when (!context.Response.HasStarted)
            {
                await EsHttp.WriteErrorAsync(context, new EsException(ex.StatusCode, "illegal_argument_exception", ex.Message)).ConfigureAwait(false);
            }
            catch (Exception ex) when (!context.Response.HasStarted && ex is not OperationCanceledException)
            {
                // Never a stack trace: the error shape, with the message.
                await EsHttp.WriteErrorAsync(context, new EsException(500, "exception", ex.Message)).ConfigureAwait(false);
            }
        });

        var server = new EmbeddedSearchServer(app, catalog, contexts, options, time.CreateTimer(_ => RefreshQuietly(catalog, contexts), null, options.RefreshInterval, options.RefreshInterval), time);
        MapRoutes(app, server, search, docs, new CatEndpoints(catalog, options.Flavor), nodeId);
        MapTemplateRoutes(app, new TemplateEndpoints(new StoredScripts(), executor, options.Flavor));
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        server.Url = ServerUrls.Bound(app.Urls);
        return server;
    }

    private static void RefreshQuietly(IndexCatalog catalog, SearchContexts contexts)
    {
        try
        {
            contexts.Sweep();
            catalog.RefreshAll(commit: true);
        }
        catch (ObjectDisposedException)
        {
            // Shutting down.
        }
    }

    // HEAD is taken only where Elasticsearch (and OpenSearch) registers it (RestMainAction's HEAD /, RestGetIndicesAction's
    // HEAD /{index}, RestGetAction's HEAD /{index}/_doc/{id}; RouteMethods lists the mapped methods in Allow), answered as GET without
    // the body: MethodHandlers.getHandler looks the method up as it is, so HEAD on another GET route is the 405.
    private static void MapRoutes(WebApplication app, EmbeddedSearchServer server, SearchEndpoints search, DocumentEndpoints docs, CatEndpoints cat, string nodeId)
    {
        string[] get = ["GET"];
        string[] read = ["GET", "POST"];
        app.MapMethods("/", ["GET", "HEAD"], context =>
        {
            SearchEndpoints.ThrowIfUnknownParameters(context, ParameterApi.Main, server.Options.Flavor);
            return EsHttp.WriteAsync(context, 200, server.Info());
        });
        var health = new ClusterHealth(server.Catalog, server.Options, server._time);
        app.MapMethods("/_cluster/health", get, context => health.AnswerAsync(context, null));
        app.MapMethods("/_cluster/health/{index}", get, (HttpContext c, string index) => health.AnswerAsync(c, index));
        // The sniffers: @elastic/elasticsearch asks /_nodes/_all/http, global::Elastic.Transport /_nodes/http,settings.
        app.MapMethods("/_nodes", get, context => EsHttp.WriteAsync(context, 200, server.Nodes(nodeId, context.Request)));
        app.MapMethods("/_nodes/{selector}", get, context => EsHttp.WriteAsync(context, 200, server.Nodes(nodeId, context.Request)));
        app.MapMethods("/_nodes/{nodes}/{metrics}", get, context => EsHttp.WriteAsync(context, 200, server.Nodes(nodeId, context.Request)));
        app.MapMethods("/_cat/indices", get, context => cat.IndicesAsync(context, null));
        app.MapMethods("/_cat/indices/{index}", get, (HttpContext c, string index) => cat.IndicesAsync(c, index));

        app.MapMethods("/_search", read, context => search.SearchAsync(context, null));
        app.MapMethods("/{index}/_search", read, (HttpContext c, string index) => search.SearchAsync(c, index));
        app.MapMethods("/_search/scroll", read, context => search.ScrollAsync(context, null));
        app.MapMethods("/_search/scroll/{scrollId}", read, (HttpContext c, string scrollId) => search.ScrollAsync(c, scrollId));
        app.MapDelete("/_search/scroll", context => search.ClearScrollAsync(context, null));
        app.MapDelete("/_search/scroll/{scrollIds}", (HttpContext c, string scrollIds) => search.ClearScrollAsync(c, scrollIds));
        if (server.Options.Flavor == SearchFlavor.OpenSearch)
        {
            app.MapPost("/{index}/_search/point_in_time", (HttpContext c, string index) => search.OpenPointInTimeAsync(c, index, openSearch: true));
            app.MapDelete("/_search/point_in_time", context => search.DeletePointInTimesAsync(context, all: false));
            app.MapDelete("/_search/point_in_time/_all", context => search.DeletePointInTimesAsync(context, all: true));
        }
        else
        {
            app.MapPost("/{index}/_pit", (HttpContext c, string index) => search.OpenPointInTimeAsync(c, index, openSearch: false));
            app.MapDelete("/_pit", search.ClosePointInTimeAsync);
        }

        app.MapMethods("/_count", read, context => search.CountAsync(context, null));
        app.MapMethods("/{index}/_count", read, (HttpContext c, string index) => search.CountAsync(c, index));
        app.MapMethods("/_msearch", read, context => search.MsearchAsync(context, null));
        app.MapMethods("/{index}/_msearch", read, (HttpContext c, string index) => search.MsearchAsync(c, index));
        app.MapMethods("/_settings", get, context => search.GetSettingsAsync(context, null));
        app.MapMethods("/{index}/_settings", get, (HttpContext c, string index) => search.GetSettingsAsync(c, index));
        // The official clients' indices.get_settings paths with a setting name (RestGetSettingsAction's routes).
        app.MapMethods("/_settings/{name}", get, (HttpContext c, string name) => search.GetSettingsAsync(c, null, name));
        app.MapMethods("/{index}/_settings/{name}", get, (HttpContext c, string index, string name) => search.GetSettingsAsync(c, index, name));
        app.MapMethods("/{index}/_setting/{name}", get, (HttpContext c, string index, string name) => search.GetSettingsAsync(c, index, name));
        app.MapMethods("/_settings", ["PUT"], context => search.UpdateSettingsAsync(context, null));
        app.MapMethods("/{index}/_settings", ["PUT"], (HttpContext c, string index) => search.UpdateSettingsAsync(c, index));
        app.MapMethods("/_mapping", get, context => search.MappingAsync(context, null));
        app.MapMethods("/{index}/_mapping", get, (HttpContext c, string index) => search.MappingAsync(c, index));
        app.MapMethods("/_refresh", read, context => search.RefreshAsync(context, null));
        app.MapMethods("/{index}/_refresh", read, (HttpContext c, string index) => search.RefreshAsync(c, index));

        app.MapMethods("/_bulk", ["POST", "PUT"], context => docs.BulkAsync(context, null));
        app.MapMethods("/{index}/_bulk", ["POST", "PUT"], (HttpContext c, string index) => docs.BulkAsync(c, index));
        app.MapMethods("/_mget", read, context => docs.MgetAsync(context, null));
        app.MapMethods("/{index}/_mget", read, (HttpContext c, string index) => docs.MgetAsync(c, index));
        app.MapMethods("/{index}/_doc/{id}", ["PUT", "POST"], (HttpContext c, string index, string id) => docs.IndexAsync(c, index, id, createOnly: false));
        app.MapMethods("/{index}/_create/{id}", ["PUT", "POST"], (HttpContext c, string index, string id) => docs.IndexAsync(c, index, id, createOnly: true));
        app.MapPost("/{index}/_doc", (HttpContext c, string index) => docs.IndexAsync(c, index, null, createOnly: false));
        app.MapMethods("/{index}/_doc/{id}", ["GET", "HEAD"], (HttpContext c, string index, string id) => docs.GetAsync(c, index, id));
        app.MapDelete("/{index}/_doc/{id}", (HttpContext c, string index, string id) => docs.DeleteAsync(c, index, id));
        app.MapPost("/{index}/_update/{id}", (HttpContext c, string index, string id) => docs.UpdateAsync(c, index, id));

        // An index name never starts with '_' (but _all): /_alias, /_aliases, /_stats and the other APIs of one segment
        // this backend does not have are unknown endpoints (400 "no handler found"), not "no such index [_alias]" or a 405.
        app.MapPut($"/{{index:{IndexRoute.Name}}}", (HttpContext c, string index) => search.CreateIndexAsync(c, index));
        app.MapDelete($"/{{index:{IndexRoute.Name}}}", (HttpContext c, string index) => search.DeleteIndexAsync(c, index));
        app.MapMethods($"/{{index:{IndexRoute.Name}}}", ["HEAD"], (HttpContext c, string index) => search.IndexExistsAsync(c, index));
        app.MapGet($"/{{index:{IndexRoute.Name}}}", (HttpContext c, string index) => search.GetIndexAsync(c, index));
    }

    // Search templates (lang-mustache's RestRenderSearchTemplateAction, RestSearchTemplateAction, RestMultiSearchTemplateAction) and the stored scripts that hold them.
    private static void MapTemplateRoutes(WebApplication app, TemplateEndpoints templates)
    {
        string[] read = ["GET", "POST"];
        app.MapMethods("/_render/template", read, context => templates.RenderAsync(context, null));
        app.MapMethods("/_render/template/{id}", read, (HttpContext c, string id) => templates.RenderAsync(c, id));
        app.MapMethods("/_search/template", read, context => templates.SearchAsync(context, null));
        app.MapMethods("/{index}/_search/template", read, (HttpContext c, string index) => templates.SearchAsync(c, index));
        app.MapMethods("/_msearch/template", read, context => templates.MsearchAsync(context, null));
        app.MapMethods("/{index}/_msearch/template", read, (HttpContext c, string index) => templates.MsearchAsync(c, index));
        app.MapMethods("/_scripts/{id}", ["PUT", "POST"], (HttpContext c, string id) => templates.PutScriptAsync(c, id));
        app.MapGet("/_scripts/{id}", (HttpContext c, string id) => templates.GetScriptAsync(c, id));
        app.MapDelete("/_scripts/{id}", (HttpContext c, string id) => templates.DeleteScriptAsync(c, id));
    }

    private JsonObject Info()
    {
        var version = Options.Flavor == SearchFlavor.OpenSearch
            ? new JsonObject
            {
                ["distribution"] = "opensearch",
                ["number"] = OpenSearchVersion,
                ["build_type"] = "embedded",
                ["build_hash"] = "rank1-embedded",
                ["build_date"] = "2025-01-01T00:00:00.000Z",
                ["build_snapshot"] = false,
                ["lucene_version"] = "4.8.0",
                ["minimum_wire_compatibility_version"] = "7.10.0",
                ["minimum_index_compatibility_version"] = "7.0.0",
            }
            : new JsonObject
            {
                ["number"] = ElasticsearchVersion,
                ["build_flavor"] = "default",
                ["build_type"] = "embedded",
                ["build_hash"] = "rank1-embedded",
                ["build_date"] = "2025-01-01T00:00:00.000Z",
                ["build_snapshot"] = false,
                ["lucene_version"] = "4.8.0",
                ["minimum_wire_compatibility_version"] = "8.19.0",
                ["minimum_index_compatibility_version"] = "8.0.0",
            };
        return new JsonObject
        {
            ["name"] = "rank1-embedded-node",
            ["cluster_name"] = Options.ClusterName,
            ["cluster_uuid"] = "rank1-embedded-cluster",
            ["version"] = version,
            ["tagline"] = Options.Flavor == SearchFlavor.OpenSearch ? "The OpenSearch Project: https://opensearch.org/" : "You Know, for Search",
        };
    }

    // Elasticsearch's nodes info; the publish address is the one this server is reached on, so that a sniffing
    // client keeps talking to it. Settings come with the "settings" metric (flat with flat_settings).
    private JsonObject Nodes(string nodeId, HttpRequest request)
    {
        SearchEndpoints.ThrowIfUnknownParameters(request.HttpContext, ParameterApi.NodesInfo, Options.Flavor);
        var hostPort = $"{Url.Host}:{Url.Port}";
        // Published as the client reached us ("name/ip:port" for a host name, as Elasticsearch writes it).
        var reached = request.Host.HasValue ? request.Host.Host.Trim('[', ']') : Url.Host;
        var reachedPort = request.Host.Port ?? Url.Port;
        var publish = IPAddress.TryParse(reached, out _) ? $"{request.Host.Host}:{reachedPort}" : $"{reached}/{Url.Host}:{reachedPort}";
        var path = request.Path.Value ?? string.Empty;
        var withSettings = path.Contains("settings", StringComparison.Ordinal) || path.TrimEnd('/') == "/_nodes";
        // Settings.toXContent reads flat_settings with paramAsBoolean, strictly, when it writes the settings.
        var flatSettings = withSettings && (RequestJson.ParamAsBoolean(request.Query.TryGetValue("flat_settings", out var flat) ? flat.ToString() : null) ?? false);
        var answer = new JsonObject
        {
            ["_nodes"] = new JsonObject { ["total"] = 1, ["successful"] = 1, ["failed"] = 0 },
            ["cluster_name"] = Options.ClusterName,
            ["nodes"] = new JsonObject
            {
                [nodeId] = new JsonObject
                {
                    ["name"] = "rank1-embedded-node",
                    ["transport_address"] = hostPort,
                    ["host"] = Url.Host,
                    ["ip"] = Url.Host,
                    ["version"] = Options.Flavor == SearchFlavor.OpenSearch ? OpenSearchVersion : ElasticsearchVersion,
                    ["roles"] = new JsonArray("data", "ingest", "master"),
                    ["http"] = new JsonObject
                    {
                        ["bound_address"] = new JsonArray(hostPort),
                        ["publish_address"] = publish,
                        ["max_content_length_in_bytes"] = 104857600,
                    },
                },
            },
        };
        if (withSettings)
        {
            answer["nodes"]![nodeId]!["settings"] = NodeSettings(flatSettings);
        }

        return answer;
    }

    private JsonObject NodeSettings(bool flat) => flat
        ? new JsonObject
        {
            ["cluster.name"] = Options.ClusterName,
            ["node.name"] = "rank1-embedded-node",
            ["http.port"] = Url.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        }
        : new JsonObject
        {
            ["cluster"] = new JsonObject { ["name"] = Options.ClusterName },
            ["node"] = new JsonObject { ["name"] = "rank1-embedded-node" },
            ["http"] = new JsonObject { ["port"] = Url.Port.ToString(System.Globalization.CultureInfo.InvariantCulture) },
        };

    /// <summary>Bulk-loads JSON Lines documents (<c>{"id":..,...}</c>; the id field becomes <c>_id</c>) into an index and refreshes it.</summary>
    public async Task<int> LoadJsonLinesAsync(string index, string path, JsonObject? mappings = null, CancellationToken cancellationToken = default)
    {
        var target = Catalog.Find(index) ?? Catalog.Create(index, mappings);
        var count = 0;
        await foreach (var line in File.ReadLinesAsync(path, cancellationToken).ConfigureAwait(false))
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            var doc = EsHttp.ParseObject(System.Text.Encoding.UTF8.GetBytes(line), "document_parsing_exception");
            var id = doc["id"]?.ToString() ?? throw new InvalidDataException($"{path}: every line needs an \"id\"");
            target.Index(id, doc, createOnly: false);
            count++;
        }

        target.Refresh(commit: true);
        return count;
    }

    /// <summary>Stops the server and flushes every index.</summary>
    public async ValueTask DisposeAsync()
    {
        await _refreshTimer.DisposeAsync().ConfigureAwait(false);
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        _contexts.Dispose();
        Catalog.Dispose();
    }
}

/// <summary>The route constraint of a path segment that names indices: anything but an API's name (<c>_alias</c>), <c>_all</c> excepted.</summary>
internal sealed class IndexRoute : IRouteConstraint
{
    /// <summary>The constraint's name in route templates.</summary>
    public const string Name = "indices";

    /// <inheritdoc/>
    public bool Match(HttpContext? httpContext, IRouter? route, string routeKey, RouteValueDictionary values, RouteDirection routeDirection) =>
        values.TryGetValue(routeKey, out var value) && value?.ToString() is { } text && (!text.StartsWith('_') || text == "_all");
}
