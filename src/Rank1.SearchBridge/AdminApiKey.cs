using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
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
    /// <see cref="Demand"/> is answered with its Elasticsearch-shaped 401 here.
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

        await next(context).ConfigureAwait(false);
    });

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
