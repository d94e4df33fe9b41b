using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Yarp.ReverseProxy.Forwarder;

namespace Rank1.SearchBridge.Http.Proxy;

/// <summary>
/// Forwards the request path byte for byte as the client sent it. YARP's default transformer rebuilds the path from
/// the decoded <see cref="HttpRequest.Path"/>, in which Kestrel leaves an encoded slash as the text <c>%2F</c>; encoding
/// that again sends <c>%252F</c>, so a document id containing <c>/</c> would be written and read under another id on a
/// cluster that decodes once. The raw target is used only in origin form and without dot-segments (literal or
/// percent-encoded); anything else keeps the normalized path, so the destination stays under the backend prefix.
/// </summary>
internal sealed class RawPathTransformer : HttpTransformer
{
    public static readonly RawPathTransformer Instance = new();

    public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken).ConfigureAwait(false);
        if (RawPath(httpContext) is { } raw)
        {
            proxyRequest.RequestUri = new Uri(destinationPrefix.TrimEnd('/') + raw + httpContext.Request.QueryString.Value, UriKind.Absolute);
        }

        // The backend's own authority, never the client's Host (as with YARP's default for a forwarder call).
        proxyRequest.Headers.Host = null;
    }

    /// <summary>The path part of the raw request target, or null when the normalized path must be used.</summary>
    internal static string? RawPath(HttpContext context)
    {
        var target = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (target is null || !target.StartsWith('/') || target.StartsWith("//", StringComparison.Ordinal))
        {
            return null;
        }

        var query = target.IndexOf('?', StringComparison.Ordinal);
        var path = query < 0 ? target : target[..query];
        foreach (var segment in path.Split('/'))
        {
            if (Uri.UnescapeDataString(segment) is "." or "..")
            {
                return null;
            }
        }

        // Only what a URI path may hold (RFC 3986 pchar and "/"); anything else takes the normalized path.
        return path.All(c => c is > ' ' and < (char)0x7F && c is not ('"' or '<' or '>' or '\\' or '^' or '`' or '{' or '|' or '}' or '#')) ? path : null;
    }
}
