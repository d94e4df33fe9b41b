using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Rank1.Elastic;
using Rank1.Inference;
using Rank1.SearchBridge.Configuration;
using Rank1.SearchBridge.Reranking;
using Rank1.SearchBridge.Telemetry;

namespace Rank1.SearchBridge.Http.Service;

/// <summary>
/// Wires the rerank service: <c>AddRank1RerankService</c> and <c>MapRank1RerankService</c> inside the proxy host
/// (sharing its model, batching, queue and reasoning store), or <c>AddRank1StandaloneRerankService</c> for
/// <c>rank1-bridge serve</c>, which needs no cluster.
/// </summary>
public static class RerankServiceApplication
{
    /// <summary>
    /// The endpoints and the protocol each speaks. <c>/reranking</c> is llama.cpp's name for its <c>/rerank</c> (served
    /// alike: TEI's <c>texts</c> or Jina's <c>documents</c>); llama.cpp's <c>/v1/reranking</c> is not taken, since on the
    /// proxy's port it is an Elasticsearch path (<c>POST /{index}/{type}</c>, indexing a document under REST API
    /// compatibility with 7.x; docs/rerank-service.md).
    /// </summary>
    internal static readonly (string Path, RerankProtocol Protocol)[] Endpoints =
        [("/v1/rerank", RerankProtocol.CohereV1), ("/v2/rerank", RerankProtocol.CohereV2), ("/rerank", RerankProtocol.Tei), ("/reranking", RerankProtocol.Tei)];

    /// <summary>Registers the service (options <c>Rank1:Service</c>, validated at start-up) on top of the model registrations of the host.</summary>
    public static IServiceCollection AddRank1RerankService(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<RerankServiceOptions, RerankServiceOptionsValidator>(configuration, RerankServiceOptions.SectionName);
        services.TryAddSingleton<RerankExecutor>();
        services.TryAddSingleton<StoredWindowJudge>();
        services.TryAddSingleton<RerankService>();
        services.TryAddSingleton<Search.InFlightBudget>();
        GracefulShutdown.Add(services);
        return services;
    }

    /// <summary>
    /// Maps <c>POST /v1/rerank</c>, <c>/v2/rerank</c>, <c>/rerank</c> and <c>/reranking</c> unless <c>Rank1:Service:Enabled</c>
    /// is false (in the proxy host; <paramref name="always"/>: the standalone service, which is nothing else).
    /// </summary>
    public static IEndpointRouteBuilder MapRank1RerankService(this IEndpointRouteBuilder app, bool always = false)
    {
        if (!always && !app.ServiceProvider.GetRequiredService<IOptions<RerankServiceOptions>>().Value.Enabled)
        {
            return app;
        }

        foreach (var (path, protocol) in Endpoints)
        {
            app.MapPost(path, (HttpContext c, RerankService s) => s.HandleAsync(c, protocol));
        }

        return app;
    }

    /// <summary>
    /// The service alone: the model, the model limits of <c>Rank1:Proxy</c> (<c>MaxConcurrentReranks</c>,
    /// <c>MaxQueuedReranks</c>, <c>ModelFailuresBeforeBreak</c>, <c>ModelBreakDuration</c>; the section validated as in
    /// the proxy) and, when
    /// <c>Rank1:Backend:Url</c> names a cluster, the reasoning store on it (<c>Rank1:Store</c>).
    /// </summary>
    public static IServiceCollection AddRank1StandaloneRerankService(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<ProxyOptions, ProxyOptionsValidator>(configuration, ProxyOptions.SectionName);
        if (!string.IsNullOrEmpty(configuration[$"{BackendOptions.SectionName}:{nameof(BackendOptions.Url)}"]))
        {
            services.AddRank1ModelBackendAndStore(configuration);
        }
        else
        {
            services.AddRank1Model(configuration);
        }

        services.AddRank1RerankService(configuration);
        services.AddHostedService<ServiceStartup>();
        services.AddHealthChecks().AddCheck<ModelHealthCheck>(ModelHealthCheck.Name);
        return services;
    }

    /// <summary>
    /// The standalone service's routes: the rerank endpoints, <c>/health</c> (as TEI has it) and <c>/_rank1/health</c>
    /// (ASP.NET Core health checks over the model: 200 green, or 503 red when the model is not there) and
    /// <c>/_rank1/metrics</c>.
    /// </summary>
    public static IEndpointRouteBuilder MapRank1StandaloneRerankService(this WebApplication app)
    {
        GracefulShutdown.Use(app);
        // Always: one configuration file serves every host, and Enabled: false there turns the proxy's endpoints off,
        // not the service's own.
        app.MapRank1RerankService(always: true);
        // Another method on Cohere's paths is a 405 in Cohere's shape (the POST route, order 0, takes POST first). TEI's
        // paths keep the empty 405 with Allow: POST that TEI's axum router answers (router/src/http/server.rs: post(rerank)
        // alone). In the proxy host these paths are the cluster's for every other method, and pass through.
        foreach (var (path, _) in Endpoints.Where(e => e.Protocol is RerankProtocol.CohereV1 or RerankProtocol.CohereV2))
        {
            app.Map(path, (HttpContext c) => RerankService.WrongMethodAsync(c, path)).WithOrder(1);
        }

        var health = new HealthCheckOptions { Predicate = c => c.Name == ModelHealthCheck.Name, ResponseWriter = WriteHealthAsync };
        // GET (and HEAD) only, as the routes were before AddHealthChecks: another method is a 405.
        app.MapHealthChecks("/health", health).WithMetadata(new HttpMethodMetadata(["GET", "HEAD"]));
        app.MapHealthChecks("/_rank1/health", health).WithMetadata(new HttpMethodMetadata(["GET", "HEAD"]));
        app.MapRank1Metrics();
        return app;
    }

    private static Task WriteHealthAsync(HttpContext context, HealthReport report)
    {
        var healthy = report.Status == HealthStatus.Healthy;
        var judge = healthy ? context.RequestServices.GetRequiredService<IPassageJudge>() : null;
        var options = context.RequestServices.GetRequiredService<IOptions<RerankServiceOptions>>();
        var body = new JsonObject
        {
            ["status"] = healthy ? "green" : "red",
            ["model"] = ModelHealth.Describe(judge),
            ["service"] = new JsonObject
            {
                ["endpoints"] = new JsonArray(Endpoints.Select(e => (JsonNode)e.Path).ToArray()),
                ["auth"] = options.Value.ApiKeys.Count > 0,
                ["reasoning_store"] = context.RequestServices.GetService<Store.ReasoningStore>()?.Enabled ?? false,
            },
        };
        return context.Response.WriteAsJsonAsync(body, context.RequestAborted);
    }

    /// <summary>
    /// The model is there: resolving it loads it once (at start-up, <see cref="ServiceStartup"/>); a model that cannot
    /// load throws, which the health check service reports as unhealthy.
    /// </summary>
    private sealed class ModelHealthCheck(IServiceProvider services) : IHealthCheck
    {
        public const string Name = "model";

        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            _ = services.GetRequiredService<IPassageJudge>();
            return Task.FromResult(HealthCheckResult.Healthy());
        }
    }

    /// <summary>At start: load the model, so a bad model folder stops the boot.</summary>
    private sealed class ServiceStartup(IServiceProvider services) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            _ = services.GetRequiredService<IPassageJudge>();
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
