using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.DependencyInjection;

namespace Rank1.EmbeddedSearch.Http;

/// <summary>
/// The methods Elasticsearch's <c>RestController.getValidHandlerMethodSet</c> finds for a path, which a 405 and an
/// OPTIONS answer list in <c>Allow</c>: the routes are held as its <c>PathTrie</c> holds them (a parameter is a wildcard
/// that takes any segment, no constraint applied), and each of the trie's four matching modes
/// (<c>TrieMatchingMode</c>) retrieves at most one path, a literal segment preferred to a wildcard, the wildcard tried
/// where the literal leads nowhere; the methods of the paths retrieved are listed in <c>RestRequest.Method</c>'s order
/// (an <c>EnumSet</c>). The methods are those the routes are mapped with: HEAD is mapped only where Elasticsearch
/// registers it (<c>EmbeddedSearchServer.MapRoutes</c>), so <c>Allow</c> lists it there alone, as
/// <c>MethodHandlers.getValidMethods</c> does.
/// </summary>
internal static class RouteMethods
{
    // Elasticsearch lists allowed methods in its enum's order.
    private static readonly string[] MethodOrder = ["GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH"];

    private enum Mode
    {
        ExplicitNodesOnly,
        WildcardRootNodesAllowed,
        WildcardLeafNodesAllowed,
        WildcardNodesAllowed,
    }

    /// <summary>The methods of the paths the request's path retrieves, in Elasticsearch's order; empty when none.</summary>
    /// <param name="context">The request.</param>
    public static string[] Of(HttpContext context)
    {
        // PathTrie splits as Java's String.split does: no trailing empty segments ("/books/" is "/books").
        var tokens = (context.Request.Path.Value ?? "").Split('/')[1..];
        var length = tokens.Length;
        while (length > 0 && tokens[length - 1].Length == 0)
        {
            length--;
        }

        tokens = tokens[..length];
        var routes = context.RequestServices.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Select(e => new Route(e.RoutePattern.PathSegments.Select(Segment).ToArray(), e))
            .ToList();
        var found = tokens.Length == 0
            ? [routes.Where(r => r.Shape.Length == 0).ToList()]
            : Enum.GetValues<Mode>().Select(mode => Retrieve(routes, tokens, 0, mode)).OfType<List<Route>>();
        return found.SelectMany(matched => matched)
            .SelectMany(r => r.Endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? [])
            .Distinct().OrderBy(m => Array.IndexOf(MethodOrder, m)).ToArray();
    }

    // A segment as PathTrie keys it: its literal, or null for a parameter (a wildcard); another kind never matches.
    private static string? Segment(RoutePatternPathSegment segment) => segment.Parts switch
    {
        [RoutePatternLiteralPart literal] => literal.Content,
        [RoutePatternParameterPart] => null,
        _ => "\0",
    };

    // PathTrie.TrieNode.retrieve, the routes whose first `index` segments matched standing for the node: the routes of
    // the path matched (one node's MethodHandlers), or null. Literals match as ASP.NET's routing does, ignoring case.
    private static List<Route>? Retrieve(List<Route> routes, string[] tokens, int index, Mode mode)
    {
        var token = tokens[index];
        var literal = routes.Where(r => r.Shape.Length > index && r.Shape[index] is { } s && string.Equals(s, token, StringComparison.OrdinalIgnoreCase)).ToList();
        var wildcard = token.Length == 0 ? [] : routes.Where(r => r.Shape.Length > index && r.Shape[index] is null).ToList();
        var last = index + 1 == tokens.Length;
        List<Route> node;
        bool usedWildcard;
        if (literal.Count == 0)
        {
            if (wildcard.Count == 0 || !(mode == Mode.WildcardNodesAllowed || (mode == Mode.WildcardRootNodesAllowed && index == 0) || (mode == Mode.WildcardLeafNodesAllowed && last)))
            {
                return null;
            }

            (node, usedWildcard) = (wildcard, true);
        }
        else
        {
            // A literal node without a value of its own gives way to the wildcard at the path's end (not in the modes that
            // keep to literals there), and at its root in the root mode.
            var literalHasValue = literal.Any(r => r.Shape.Length == index + 1);
            (node, usedWildcard) = wildcard.Count > 0 && !literalHasValue
                && ((last && mode is Mode.WildcardLeafNodesAllowed or Mode.WildcardNodesAllowed) || (index == 0 && mode == Mode.WildcardRootNodesAllowed))
                ? (wildcard, true)
                : (literal, false);
        }

        if (last)
        {
            var value = node.Where(r => r.Shape.Length == index + 1).ToList();
            return value.Count > 0 ? value : null;
        }

        var found = Retrieve(node, tokens, index + 1, mode);
        if (found is null && !usedWildcard && mode != Mode.ExplicitNodesOnly && wildcard.Count > 0)
        {
            found = Retrieve(wildcard, tokens, index + 1, mode);
        }

        return found;
    }

    private sealed record Route(string?[] Shape, RouteEndpoint Endpoint);
}
