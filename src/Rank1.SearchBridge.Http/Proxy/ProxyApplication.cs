using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Rank1.Elastic;
using Rank1.Inference;
using Rank1.SearchBridge.Configuration;
using Rank1.SearchBridge.HotQueries;
using Rank1.SearchBridge.Http.Search;
using Rank1.SearchBridge.Http.Service;
using Rank1.SearchBridge.Messages;
using Rank1.SearchBridge.Messaging;
using Rank1.SearchBridge.Telemetry;

namespace Rank1.SearchBridge.Http.Proxy;

/// <summary>Wires the Rank1 proxy into an ASP.NET Core application: <c>AddRank1Proxy</c>, then <c>MapRank1Proxy</c>.</summary>
public static class ProxyApplication
{
    /// <summary>
    /// Registers the proxy. Options come from <c>Rank1:Proxy</c> and <c>Rank1:Model</c> and are validated at start-up,
    /// when the model is loaded too, so bad configuration stops the host at boot with the key's name. An
    /// <see cref="IPassageJudge"/> registered before this call is used instead of loading the model.
    /// </summary>
    public static IServiceCollection AddRank1Proxy(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<ProxyOptions, ProxyOptionsValidator>(configuration, ProxyOptions.SectionName);
        services.AddValidatedOptions<HotQueryOptions, HotQueryOptionsValidator>(configuration, HotQueryOptions.SectionName);
        services.AddRank1ModelBackendAndStore(configuration);
        if (services.AddRank1Broker(configuration))
        {
            services.TryAddSingleton<IPrecomputePublisher, BrokerPrecomputePublisher>();
        }

        services.TryAddSingleton<IPrecomputePublisher, NoBrokerPublisher>();
        services.AddHttpForwarder();
        services.AddSingleton<RuleSet>();
        services.AddRank1RerankService(configuration);
        services.AddSingleton<HotQueryDetector>();
        services.AddSingleton<HotQueryPublisher>();
        services.AddSingleton<SearchWindowRerank>();
        services.TryAddSingleton<InFlightBudget>();
        services.AddSingleton<SearchProxy>();
        services.AddSingleton<PassThrough>();
        services.AddHostedService<ProxyStartup>();
        services.AddHealthChecks().AddCheck<BackendHealthCheck>(BackendHealthCheck.Name);
        services.AddExceptionHandler<EsExceptionHandler>();
        // Elasticsearch's http.max_content_length, enforced by Kestrel for bodies without a length too.
        services.AddOptions<KestrelServerOptions>().Configure<IOptions<ProxyOptions>>((kestrel, proxy) =>
        {
            kestrel.Limits.MaxRequestBodySize = proxy.Value.MaxContentLength;
            // Elasticsearch bounds the headers' size (http.max_header_size, 16 KB), not their number: a request with many
            // tracing or gateway headers that it accepts must pass here too (Kestrel refused more than 100 with a bare 431).
            kestrel.Limits.MaxRequestHeaderCount = int.MaxValue;
            // The request line and the headers' size are the backend's to judge (http.max_initial_line_length,
            // http.max_header_size): Kestrel's defaults (8 KB, 32 KB) refused with a bare 414/431 long URLs that a
            // cluster with raised limits takes. Over the proxy's own limits the answer is Elasticsearch's 400
            // (HttpLimits, in MapRank1Proxy); Kestrel, which refuses before any middleware runs, with a bare 414/431,
            // only past twice them.
            kestrel.Limits.MaxRequestLineSize = 2 * proxy.Value.MaxInitialLineLength;
            kestrel.Limits.MaxRequestHeadersTotalSize = 2 * proxy.Value.MaxHeaderSize;
            // Kestrel holds a connection's unread input up to this bound, which must take a whole line and header block
            // (at least Kestrel's default buffer, 1 MB).
            kestrel.Limits.MaxRequestBufferSize = Math.Max(1024 * 1024, 2 * Math.Max(proxy.Value.MaxInitialLineLength, proxy.Value.MaxHeaderSize));
        });
        GracefulShutdown.Add(services);
        return services;
    }

    /// <summary>Maps the proxy's routes: health, metrics, searches, node discovery, the rerank service, and everything else passed through.</summary>
    public static IEndpointRouteBuilder MapRank1Proxy(this WebApplication app)
    {
        var limits = app.Services.GetRequiredService<IOptions<ProxyOptions>>().Value;
        var maxContentLength = limits.MaxContentLength;
        // The exception handler middleware marks every answer it makes uncacheable (Cache-Control: no-cache,no-store,
        // Pragma: no-cache, Expires: -1, from an OnStarting callback: ExceptionHandlerMiddlewareImpl.ClearCacheHeaders);
        // Elasticsearch's errors carry none of these. Registered before it, this callback runs after its (Kestrel runs them
        // last registered first) and takes them off again.
        app.Use((context, next) =>
        {
            context.Response.OnStarting(static state => WithoutCacheHeaders((HttpContext)state), context);
            return next(context);
        });

        // Errors in Elasticsearch's shape (EsExceptionHandler), every one. The middleware demands a handler of its own,
        // which never runs. Since .NET 10 it records no diagnostics for an exception an IExceptionHandler handled: the
        // proxy's own faults, answered as Elasticsearch answers them, are still logged as errors (with the exception).
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            ExceptionHandler = _ => Task.CompletedTask,
            SuppressDiagnosticsCallback = c => c.ExceptionHandledBy == ExceptionHandledType.ExceptionHandlerService && !EsExceptionHandler.Unanticipated(c.HttpContext),
        });
        app.Use((context, next) =>
        {
            // A request line or header block over the proxy's limits is answered as Elasticsearch answers one over its own.
            var request = context.Request;
            HttpLimits.Check(request.Method, context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? $"{request.PathBase}{request.Path}{request.QueryString}", request.Protocol,
                request.Headers.SelectMany(h => h.Value.Select(v => (h.Key, v))), limits.MaxInitialLineLength, limits.MaxHeaderSize);
            if (HttpMethods.IsConnect(context.Request.Method))
            {
                // Elasticsearch has no CONNECT handler; the proxy is no tunnel.
                throw new EsException(405, "method_not_allowed_exception", $"Incorrect HTTP method for uri [{context.Request.Path}] and method [CONNECT]");
            }

            if (context.Request.ContentLength > maxContentLength)
            {
                throw SearchHttp.TooLarge(context.Request.ContentLength.Value, maxContentLength);
            }

            // Elasticsearch refuses a malformed percent escape in the URL parameters before any handler runs; the search
            // routes read the parameters and send them on encoded anew, which would turn ?q=% into a search for "%". They
            // read them as Elasticsearch decodes them (%% a percent sign, ; a separator, a repeated name's last value);
            // the query string passed through stays as the client sent it.
            context.Features.Set<IQueryFeature>(new QueryFeature(new QueryCollection(
                UrlParameters.Decode(context.Request.QueryString.Value).ToDictionary(p => p.Key, p => new Microsoft.Extensions.Primitives.StringValues(p.Value)))));
            return next(context);
        });

        GracefulShutdown.Use(app);

        app.Use((context, next) =>
        {
            AdminApiKey.Demand(context, context.RequestServices.GetRequiredService<IOptions<ProxyOptions>>().Value.AdminApiKey);
            // The proxy's own endpoints read the flags every request's channel reads as the cluster reads them on any
            // route, strictly, in the words of the searches' refusal (a pretty=maybe was taken as off, and answered 200).
            return AdminApiKey.ChannelCheckedAsync(context, next);
        });

        // Only the backend decides the status: a broker outage only delays precomputation (MassTransit's own checks,
        // registered with the bus, are left out), and the broker's state is shown in the body.
        app.MapHealthChecks(HealthPath, new HealthCheckOptions { Predicate = c => c.Name == BackendHealthCheck.Name, ResponseWriter = WriteHealthAsync })
            .WithMetadata(new HttpMethodMetadata(ReadMethods));
        // Liveness: the process answers, whatever the cluster's state (no check runs). A liveness probe on the backend's
        // health would restart every proxy during a cluster outage; /_rank1/health is the readiness probe.
        app.MapHealthChecks(LivePath, new HealthCheckOptions { Predicate = _ => false }).WithMetadata(new HttpMethodMetadata(ReadMethods));
        app.MapRank1Metrics();
        foreach (var path in new[] { HealthPath, LivePath, Rank1Telemetry.MetricsPath })
        {
            // The proxy's own endpoints take GET (and HEAD); another method is answered as Elasticsearch answers one that
            // a path's handlers do not take, not passed through to the cluster, which has no such path.
            app.MapMethods(path, OtherMethods, WrongMethodAsync);
        }

        string[] read = ["GET", "POST"];
        app.MapMethods("/_search", read, (HttpContext c, SearchProxy p) => p.HandleSearchAsync(c, null));
        app.MapMethods("/{index}/_search", read, (HttpContext c, string index, SearchProxy p) => p.HandleSearchAsync(c, index));
        app.MapMethods("/_search/template", read, (HttpContext c, SearchProxy p) => p.HandleSearchTemplateAsync(c, null));
        app.MapMethods("/{index}/_search/template", read, (HttpContext c, string index, SearchProxy p) => p.HandleSearchTemplateAsync(c, index));
        app.MapMethods("/_msearch", read, (HttpContext c, SearchProxy p) => p.HandleMsearchAsync(c, null));
        app.MapMethods("/{index}/_msearch", read, (HttpContext c, string index, SearchProxy p) => p.HandleMsearchAsync(c, index));
        app.MapMethods("/_msearch/template", read, (HttpContext c, SearchProxy p) => p.HandleMsearchAsync(c, null, templates: true));
        app.MapMethods("/{index}/_msearch/template", read, (HttpContext c, string index, SearchProxy p) => p.HandleMsearchAsync(c, index, templates: true));
        app.MapMethods("/_nodes/{**rest}", ["GET", "HEAD"], (HttpContext c, PassThrough p, IOptions<ProxyOptions> o) => p.SniffAsync(c, o.Value.PublicAddress));
        app.MapMethods("/_nodes", ["GET", "HEAD"], (HttpContext c, PassThrough p, IOptions<ProxyOptions> o) => p.SniffAsync(c, o.Value.PublicAddress));
        app.MapRank1RerankService();
        app.Map("/{**catch-all}", (HttpContext c, PassThrough p) => p.ForwardAsync(c));
        return app;
    }

    private const string HealthPath = "/_rank1/health";

    private const string LivePath = "/_rank1/live";

    // HEAD is answered as GET, as Elasticsearch's RestController answers it with a GET handler.
    private static readonly string[] ReadMethods = [HttpMethods.Get, HttpMethods.Head];

    // Elasticsearch's RestRequest.Method, less GET and HEAD, and CONNECT, refused before routing.
    private static readonly string[] OtherMethods = [HttpMethods.Post, HttpMethods.Put, HttpMethods.Delete, HttpMethods.Options, HttpMethods.Patch, HttpMethods.Trace];

    /// <summary>
    /// A method other than GET or HEAD on one of the proxy's own endpoints, answered as Elasticsearch's
    /// <c>RestController</c> answers a method a path's handlers do not take: OPTIONS a 200 with <c>Allow: GET</c> and no
    /// body (<c>handleOptionsRequest</c>), any other a 405 <c>{"error":"Incorrect HTTP method for uri [/_rank1/health]
    /// and method [POST], allowed: [GET]","status":405}</c> with <c>Allow: GET</c> (<c>handleUnsupportedHttpMethod</c>).
    /// </summary>
    private static Task WrongMethodAsync(HttpContext context)
    {
        var response = context.Response;
        response.Headers.Allow = HttpMethods.Get;
        if (context.RequestServices.GetRequiredService<BackendClient>().Flavor != BackendFlavor.OpenSearch)
        {
            response.Headers["X-Elastic-Product"] = "Elasticsearch";
        }

        if (HttpMethods.IsOptions(context.Request.Method))
        {
            response.ContentType = "text/plain; charset=UTF-8";
            response.ContentLength = 0;
            return Task.CompletedTask;
        }

        var uri = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? $"{context.Request.PathBase}{context.Request.Path}{context.Request.QueryString}";
        var body = System.Text.Encoding.UTF8.GetBytes(new JsonObject
        {
            ["error"] = $"Incorrect HTTP method for uri [{uri}] and method [{context.Request.Method}], allowed: [GET]",
            ["status"] = StatusCodes.Status405MethodNotAllowed,
        }.ToJsonString());
        response.StatusCode = StatusCodes.Status405MethodNotAllowed;
        response.ContentType = "application/json";
        response.ContentLength = body.Length;
        return response.Body.WriteAsync(body, context.RequestAborted).AsTask();
    }

    // Only on an answer the exception handler made: what the backend or an endpoint sets is theirs.
    private static Task WithoutCacheHeaders(HttpContext context)
    {
        if (context.Features.Get<IExceptionHandlerFeature>() is not null)
        {
            var headers = context.Response.Headers;
            headers.Remove(HeaderNames.CacheControl);
            headers.Remove(HeaderNames.Pragma);
            headers.Remove(HeaderNames.Expires);
        }

        return Task.CompletedTask;
    }

    private static Task WriteHealthAsync(HttpContext context, HealthReport report)
    {
        var backend = context.RequestServices.GetRequiredService<BackendClient>();
        var judge = context.RequestServices.GetRequiredService<IPassageJudge>();
        var broker = context.RequestServices.GetRequiredService<IOptions<BrokerOptions>>();
        // A check that threw has no data: the backend's flavor is not known then.
        var flavor = report.Entries.TryGetValue(BackendHealthCheck.Name, out var entry) && entry.Data.TryGetValue(BackendHealthCheck.Flavor, out var f) && f is BackendFlavor known
            ? known
            : BackendFlavor.Unknown;
        var reachable = flavor != BackendFlavor.Unknown;
        var body = new JsonObject
        {
            ["status"] = reachable ? "green" : "red",
            ["model"] = ModelHealth.Describe(judge),
            ["backend"] = new JsonObject { ["url"] = backend.DisplayUri.ToString(), ["reachable"] = reachable, ["flavor"] = flavor.ToString().ToLowerInvariant() },
            ["broker"] = Rank1Services.BrokerHealth(context.RequestServices, broker.Value, (context.RequestServices.GetService<IPrecomputePublisher>() as BrokerPrecomputePublisher)?.Refused),
        };
        return context.Response.WriteAsJsonAsync(body, context.RequestAborted);
    }

    /// <summary>The proxy's health: whether the backend answers <c>GET /</c> (unhealthy, so 503, when it does not), and its flavor.</summary>
    private sealed class BackendHealthCheck(BackendClient backend) : IHealthCheck
    {
        public const string Name = "backend";

        public const string Flavor = "flavor";

        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            var flavor = await backend.ProbeAsync(cancellationToken).ConfigureAwait(false);
            var data = new Dictionary<string, object> { [Flavor] = flavor };
            return flavor == BackendFlavor.Unknown ? HealthCheckResult.Unhealthy("the backend does not answer", data: data) : HealthCheckResult.Healthy(data: data);
        }
    }

    /// <summary>At start: load the model (bad model folder = no boot) and learn what the backend is.</summary>
    private sealed class ProxyStartup(IServiceProvider services, BackendClient backend) : IHostedService
    {
        public async Task StartAsync(CancellationToken cancellationToken)
        {
            _ = services.GetRequiredService<IPassageJudge>();
            await backend.ProbeAsync(cancellationToken).ConfigureAwait(false);
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
