namespace Rank1.Elastic;

/// <summary>
/// How Elasticsearch reads the <c>Accept</c> and <c>Content-Type</c> headers when it makes a request
/// (<c>RestRequest</c>'s constructor, <c>parseHeaderWithMediaType</c>), before any handler or the media-type checks
/// after it: a header sent twice, or sent empty, is the 400 <c>media_type_header_exception</c> "Invalid media-type
/// value on headers [..]" caused by an <c>illegal_argument_exception</c>.
/// </summary>
internal static class MediaTypeHeaders
{
    // The headers read so, in Elasticsearch's order: the first refused is the answer.
    private static readonly string[] Names = ["Accept", "Content-Type"];

    /// <summary>Elasticsearch's refusal of the request's media-type headers, or null when it takes them.</summary>
    /// <param name="values">A header's values by name, one per header line the request held.</param>
    public static EsException? Refusal(Func<string, IReadOnlyList<string?>> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        return Names.Select(name => Refusal(name, values(name))).FirstOrDefault(r => r is not null);
    }

    private static EsException? Refusal(string name, IReadOnlyList<string?> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var reason = values.Count switch
        {
            0 => null,
            > 1 => $"Incorrect header [{name}]. Only one value should be provided",
            _ => string.IsNullOrWhiteSpace(values[0]) ? $"Header [{name}] cannot be empty." : null,
        };
        return reason is null ? null : new EsException(400, "media_type_header_exception", $"Invalid media-type value on headers [{name}]", null, EsException.IllegalArgument(reason));
    }
}
