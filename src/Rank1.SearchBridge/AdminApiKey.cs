using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Rank1.Elastic;

namespace Rank1.SearchBridge;

/// <summary>
/// The optional protection of the proxy's and the worker's own endpoints (<c>/_rank1/*</c>): with
/// <see cref="Configuration.ProxyOptions.AdminApiKey"/> set, a request must carry <c>Authorization: ApiKey &lt;key&gt;</c>
/// (Elasticsearch's scheme for API keys, which Prometheus and curl can send); anything else is Elasticsearch's 401.
/// </summary>
internal static class AdminApiKey
{
    public const string Scheme = "ApiKey";

    /// <summary>The path under which the hosts' own endpoints are.</summary>
    public const string Prefix = "/_rank1";

    /// <summary>
    /// Guards <c>/_rank1/*</c> of a host without the proxy's error handling (the worker): a request refused by
    /// <see cref="Demand"/> is answered with its Elasticsearch-shaped 401 here, then its channel's flags are read as the
    /// proxy reads them (<see cref="ChannelCheckedAsync"/>).
    /// </summary>
    public static void Use(IApplicationBuilder app, string? key) => app.Use(async (context, next) =>
    {
        try
        {
            Demand(context, key);
        }
        catch (EsException e)
        {
            var body = EsAnswers.RenderError(e, e, context.Request.Query);
            context.Response.StatusCode = e.Status;
            context.Response.ContentType = "application/json";
            await context.Response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
            return;
        }

        await ChannelCheckedAsync(context, next).ConfigureAwait(false);
    });

    /// <summary>
    /// Runs <paramref name="next"/> unless the request to <c>/_rank1/*</c> has a <c>pretty</c>, <c>human</c> or
    /// <c>error_trace</c> the cluster refuses on any route (<see cref="ChannelParameters.Refusal"/>): that 400 instead, as
    /// the searches answer it, with <c>X-Elastic-Product</c> in front of Elasticsearch. The proxy's and the worker's own
    /// endpoints, after the admin key (<see cref="Demand"/>).
    /// </summary>
    /// <param name="context">The request.</param>
    /// <param name="next">What answers it otherwise.</param>
    public static Task ChannelCheckedAsync(HttpContext context, RequestDelegate next)
    {
        if (!context.Request.Path.StartsWithSegments(Prefix, StringComparison.Ordinal))
        {
            return next(context);
        }

        // The cluster's engine, whose words the refusal takes: looked up only for the product's own endpoints.
        var flavor = context.RequestServices.GetRequiredService<BackendClient>().Flavor;
        if (ChannelParameters.Refusal(EsAnswers.Param(context.Request.Query), flavor == BackendFlavor.OpenSearch) is not { } refused)
        {
            return next(context);
        }

        var response = context.Response;
        if (flavor != BackendFlavor.OpenSearch)
        {
            response.Headers["X-Elastic-Product"] = "Elasticsearch";
        }

        var body = Encoding.UTF8.GetBytes(refused.Body.ToJsonString(refused.Pretty ? EsAnswers.Pretty : EsAnswers.Compact));
        response.StatusCode = StatusCodes.Status400BadRequest;
        response.ContentType = "application/json";
        response.ContentLength = body.Length;
        return response.Body.WriteAsync(body, context.RequestAborted).AsTask();
    }

    /// <summary>Throws an Elasticsearch-shaped 401 unless the request may reach <c>/_rank1/*</c>.</summary>
    public static void Demand(HttpContext context, string? key)
    {
        if (key is null || !context.Request.Path.StartsWithSegments(Prefix, StringComparison.Ordinal))
        {
            return;
        }

        var header = context.Request.Headers.Authorization.ToString();
        var path = context.Request.Path.Value;
        if (!header.StartsWith(Scheme + " ", StringComparison.OrdinalIgnoreCase))
        {
            context.Response.Headers.WWWAuthenticate = Scheme;
            throw new EsException(401, "security_exception", $"missing authentication credentials for REST request [{path}]");
        }

        // Constant-time comparison: the time to refuse says nothing about how much of the key was right.
        var given = Encoding.UTF8.GetBytes(header[(Scheme.Length + 1)..].Trim());
        if (!CryptographicOperations.FixedTimeEquals(given, Encoding.UTF8.GetBytes(key)))
        {
            context.Response.Headers.WWWAuthenticate = Scheme;
            throw new EsException(401, "security_exception", $"unable to authenticate with provided credentials for REST request [{path}]");
        }
    }
}
