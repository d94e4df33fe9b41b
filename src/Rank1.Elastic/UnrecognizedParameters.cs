namespace Rank1.Elastic;

/// <summary>
/// Elasticsearch's refusal of URL parameters a handler did not read (<c>BaseRestHandler.handleRequest</c>, once the
/// handler has parsed the request, with <c>BaseRestHandler.unrecognized</c>'s words; the same in OpenSearch): one home
/// for its message and for the parameters every endpoint takes.
/// </summary>
internal static class UnrecognizedParameters
{
    /// <summary>
    /// The parameters every endpoint reads before its handler runs: <c>format</c>, <c>filter_path</c>, <c>pretty</c> and
    /// <c>human</c> (<c>AbstractRestChannel</c>) and <c>error_trace</c> (<c>RestController</c>).
    /// </summary>
    public static readonly string[] EveryEndpoint = ["error_trace", "filter_path", "human", "pretty", "format"];

    /// <summary>
    /// The 400 <c>illegal_argument_exception</c> for the <paramref name="unknown"/> parameters, or null when there are
    /// none: "request [/i/_search] contains unrecognized parameter: [foo]" (sorted, "parameters" for several), each
    /// followed by "-> did you mean [..]?" (or "any of [..]") naming the <paramref name="read"/> parameters close to it
    /// (<see cref="Suggestions.Near"/>).
    /// </summary>
    /// <param name="path">The request's path, named in the error.</param>
    /// <param name="unknown">The parameters the handler did not read.</param>
    /// <param name="read">The parameters it read (given or not) and its response parameters: the suggestions' candidates.</param>
    public static EsException? Error(string path, IEnumerable<string> unknown, IEnumerable<string> read)
    {
        var sorted = unknown.Order(StringComparer.Ordinal).ToArray();
        if (sorted.Length == 0)
        {
            return null;
        }

        var candidates = read.Distinct(StringComparer.Ordinal).ToArray();
        return EsException.IllegalArgument($"request [{path}] contains unrecognized parameter{(sorted.Length > 1 ? "s" : "")}: {string.Join(", ", sorted.Select(k => $"[{k}]{DidYouMean(k, candidates)}"))}");
    }

    private static string DidYouMean(string invalid, IEnumerable<string> candidates) =>
        Suggestions.Near(invalid, candidates) is { Length: > 0 } near ? $" -> did you mean {(near.Length > 1 ? "any of " : "")}[{string.Join(", ", near)}]?" : "";
}
