using Microsoft.AspNetCore.Http;
using Rank1.SearchBridge.Reranking;
using Yarp.ReverseProxy.Forwarder;

namespace Rank1.SearchBridge.Http.Search;

/// <summary>
/// A search the proxy does not rerank, forwarded by the pass-through forwarder and streamed back: sent to
/// <paramref name="pathAndQuery"/> under the backend (the search's own path: for a search template, the <c>_search</c> it
/// renders to), with the backend's own authority; answered with the backend's status, headers and body as they come,
/// plus the rerank status headers (<c>skipped</c> and why).
/// </summary>
/// <param name="pathAndQuery">The backend path and query string, relative to the backend's URL.</param>
/// <param name="reason">Why the search is not reranked.</param>
internal sealed class SkippedSearchTransformer(string pathAndQuery, string? reason) : HttpTransformer
{
    public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken).ConfigureAwait(false);
        proxyRequest.RequestUri = new Uri(destinationPrefix.TrimEnd('/') + "/" + pathAndQuery.TrimStart('/'), UriKind.Absolute);
        proxyRequest.Headers.Host = null; // the backend's own authority, never the client's Host
    }

    public override async ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
    {
        var copy = await base.TransformResponseAsync(httpContext, proxyResponse, cancellationToken).ConfigureAwait(false);
        if (proxyResponse is not null)
        {
            SearchHttp.SetRerankHeaders(httpContext.Response, RerankStatus.Skipped.ToHeaderValue(), reason);
        }

        return copy;
    }
}
