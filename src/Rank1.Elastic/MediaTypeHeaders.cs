using System.Text.RegularExpressions;

namespace Rank1.Elastic;

/// <summary>
/// How the cluster reads the <c>Accept</c> and <c>Content-Type</c> headers when it makes a request, before any handler
/// or the media-type checks after it (the 406 for a media type it does not read). Elasticsearch (<c>RestRequest</c>'s
/// constructor, <c>parseHeaderWithMediaType</c>, <c>ParsedMediaType.parseMediaType</c>): a header sent twice, sent
/// empty, or whose value is no <c>type/subtype</c> (or has a malformed parameter) is the 400
/// <c>media_type_header_exception</c> "Invalid media-type value on headers [..]" caused by an
/// <c>illegal_argument_exception</c>. OpenSearch (<c>RestRequest.parseContentType</c>, the <c>Content-Type</c> alone):
/// the same faults are a <c>ContentTypeHeaderException</c>, which <c>AbstractHttpServerTransport</c> dispatches as a bad
/// request: the 400 <c>content_type_header_exception</c> "java.lang.IllegalArgumentException: only one Content-Type
/// header should be provided" (or "invalid Content-Type header [..]").
/// </summary>
internal static partial class MediaTypeHeaders
{
    // The headers read so, in Elasticsearch's order: the first refused is the answer.
    private static readonly string[] Names = ["Accept", "Content-Type"];

    /// <summary>The cluster's refusal of the request's media-type headers, or null when it takes them.</summary>
    /// <param name="values">A header's values by name, one per header line the request held.</param>
    /// <param name="openSearch">Read as OpenSearch reads them, else as Elasticsearch.</param>
    public static EsException? Refusal(Func<string, IReadOnlyList<string?>> values, bool openSearch = false)
    {
        ArgumentNullException.ThrowIfNull(values);
        return openSearch
            ? OpenSearchRefusal(values("Content-Type"))
            : Names.Select(name => Refusal(name, values(name))).FirstOrDefault(r => r is not null);
    }

    private static EsException? Refusal(string name, IReadOnlyList<string?> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var reason = values.Count switch
        {
            0 => null,
            > 1 => $"Incorrect header [{name}]. Only one value should be provided",
            _ => string.IsNullOrWhiteSpace(values[0]) ? $"Header [{name}] cannot be empty." : ParseMediaType(values[0]!),
        };
        return reason is null ? null : new EsException(400, "media_type_header_exception", $"Invalid media-type value on headers [{name}]", null, EsException.IllegalArgument(reason));
    }

    // ParsedMediaType.parseMediaType: null when the value is taken (a media range, with a comma, is taken as none), else why not.
    private static string? ParseMediaType(string value)
    {
        if (value.Contains(',', StringComparison.Ordinal) || value == "*/*")
        {
            return null;
        }

        var elements = JavaSplit(value.ToLowerInvariant(), ElasticsearchParameters());
        var type = JavaSplit(elements.Length == 0 ? "" : elements[0], Slash());
        if (!(type.Length == 2 && Tchar().IsMatch(type[0].Trim()) && Tchar().IsMatch(type[1].Trim())))
        {
            return $"invalid media-type [{value}]";
        }

        foreach (var parameter in elements.Skip(1).Select(e => e.Trim()).Where(e => e.Length > 0))
        {
            // Spaces are allowed between parameters, not around their '='.
            var pair = JavaSplit(parameter, Equal());
            if (pair.Length != 2 || pair[0].Length == 0 || char.IsWhiteSpace(pair[0][^1]) || pair[1].Length == 0 || char.IsWhiteSpace(pair[1][0]))
            {
                return $"invalid parameters for header [{value}]";
            }
        }

        return null;
    }

    // OpenSearch's RestRequest.parseContentType; the reason is the ContentTypeHeaderException's message, its cause's toString().
    private static EsException? OpenSearchRefusal(IReadOnlyList<string?> values)
    {
        string? reason = null;
        if (values.Count > 1)
        {
            reason = "only one Content-Type header should be provided";
        }
        else if (values.Count == 1)
        {
            var value = values[0] ?? "";
            var elements = JavaSplit(value, OpenSearchParameters());
            if (elements.Length == 0)
            {
                reason = "empty Content-Type header";
            }
            else
            {
                var type = JavaSplit(elements[0], Slash());
                if (!(type.Length == 2 && Tchar().IsMatch(type[0]) && Tchar().IsMatch(type[1].Trim())))
                {
                    reason = $"invalid Content-Type header [{value}]";
                }
            }
        }

        return reason is null ? null
            : new EsException(400, "content_type_header_exception", $"java.lang.IllegalArgumentException: {reason}", null, EsException.IllegalArgument(reason));
    }

    // Java's String.split: trailing empty strings are removed, unless nothing matched ("" is [""]).
    private static string[] JavaSplit(string text, Regex separator)
    {
        var parts = separator.Split(text);
        if (parts.Length == 1)
        {
            return parts;
        }

        var count = parts.Length;
        while (count > 0 && parts[count - 1].Length == 0)
        {
            count--;
        }

        return parts[..count];
    }

    // RFC 7230's tchar, as both write it ("A-z" takes the six characters between 'Z' and 'a' too).
    [GeneratedRegex("^[a-zA-z0-9!#$%&'*+\\-.\\^_`|~]+\\z")]
    private static partial Regex Tchar();

    [GeneratedRegex("[\\s\\t]*;")]
    private static partial Regex ElasticsearchParameters();

    [GeneratedRegex("[ \\t]*;")]
    private static partial Regex OpenSearchParameters();

    [GeneratedRegex("/")]
    private static partial Regex Slash();

    [GeneratedRegex("=")]
    private static partial Regex Equal();
}
