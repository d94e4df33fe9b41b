namespace Rank1.Elastic;

/// <summary>
/// The URL's indices options as both engines read them (<c>IndicesOptions.fromRequest</c>), in the proxy (an
/// <c>_msearch</c>, before its lines) and the embedded backend alike.
/// </summary>
internal static class IndicesOptionsParameters
{
    /// <summary>
    /// The URL's indices options as <c>IndicesOptions.fromParameters</c> reads them: <c>expand_wildcards</c> first
    /// (each of <c>open</c>, <c>closed</c>, <c>hidden</c>, <c>all</c>, <c>none</c>, or "No valid expand wildcard
    /// value [x]"), then Elasticsearch 9's <c>allow_no_indices</c> (a wildcard matching nothing is no error here either
    /// way), the deprecated <c>ignore_throttled</c> (no index is throttled here) and <c>ignore_unavailable</c>, whose
    /// value (default false) it answers: each with <c>nodeBooleanValue(value, name)</c>, so exactly <c>true</c> or
    /// <c>false</c>, an empty one too being "Could not convert [ignore_unavailable] to boolean". OpenSearch 2.x reads
    /// them with a default (empty is the default), <c>ignore_unavailable</c> first. A handler reads them first of
    /// all (<c>RestCountAction</c> before its query): call it there.
    /// </summary>
    /// <param name="param">The request's URL parameters.</param>
    /// <param name="openSearch">Whether OpenSearch 2.x's reading applies.</param>
    public static bool Read(Func<string, string?> param, bool openSearch)
    {
        ArgumentNullException.ThrowIfNull(param);

        // Strings.splitStringByCommaToArray is Java's split(","): an empty value gives none, and empty entries are kept
        // but for the trailing ones (",open" and "open,,closed" name the empty state).
        var states = (param("expand_wildcards") ?? "").Split(',');
        var count = states.Length;
        while (count > 0 && states[count - 1].Length == 0)
        {
            count--;
        }

        foreach (var state in states.Take(count))
        {
            if (state is not ("open" or "closed" or "hidden" or "all" or "none"))
            {
                throw EsException.IllegalArgument($"No valid expand wildcard value [{state}]");
            }
        }

        if (openSearch)
        {
            var ignoreUnavailable = RequestJson.NodeBooleanValue(param("ignore_unavailable"), "ignore_unavailable") ?? false;
            _ = RequestJson.NodeBooleanValue(param("allow_no_indices"), "allow_no_indices");
            _ = RequestJson.NodeBooleanValue(param("ignore_throttled"), "ignore_throttled");
            return ignoreUnavailable;
        }

        _ = RequestJson.NodeBooleanValue(param("allow_no_indices"), "allow_no_indices", withDefault: false);
        _ = RequestJson.NodeBooleanValue(param("ignore_throttled"), "ignore_throttled", withDefault: false);
        return RequestJson.NodeBooleanValue(param("ignore_unavailable"), "ignore_unavailable", withDefault: false) ?? false;
    }
}
