namespace Rank1.Elastic;

/// <summary>
/// The headers of a request the product itself sends to a cluster (the reasoning store, the worker's search, the
/// CLI's init and seed): the body's Content-Type and, when configured, the Authorization value. Client requests the
/// proxy passes on keep their own headers.
/// </summary>
public static class ClusterRequest
{
    /// <summary>The Content-Type of a JSON body.</summary>
    public const string Json = "application/json";

    /// <summary>The Content-Type of a newline-delimited body (<c>_bulk</c>, <c>_msearch</c>).</summary>
    public const string Ndjson = "application/x-ndjson";

    /// <summary>Content-Type <paramref name="contentType"/>, plus Authorization <paramref name="authorization"/> when given.</summary>
    public static IReadOnlyList<KeyValuePair<string, string[]>> Headers(string? authorization, string contentType = Json) =>
        authorization is null
            ? [new("Content-Type", [contentType])]
            : [new("Content-Type", [contentType]), new("Authorization", [authorization])];
}
