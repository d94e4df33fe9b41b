using System.Text.Json.Nodes;

namespace Rank1.Elastic;

/// <summary>
/// The URL parameters the cluster reads of every request before any handler runs, with
/// <c>RestRequest.paramAsBoolean(key, false)</c> (<see cref="RequestJson.ParamAsBoolean"/>: empty is true, otherwise
/// exactly <c>true</c> or <c>false</c>): <c>pretty</c> and <c>human</c> as it makes the request's channel
/// (<c>AbstractRestChannel</c>'s constructor), then <c>error_trace</c> (Elasticsearch's
/// <c>RestController.tryAllHandlers</c>, <c>validateErrorTrace</c>; OpenSearch's <c>RestController.dispatchRequest</c>),
/// before the media-type check (the 406) and before any handler reads the request.
/// </summary>
internal static class ChannelParameters
{
    /// <summary>
    /// A flag of every request (<c>pretty</c>, <c>error_trace</c>) as the cluster reads it: on when empty or
    /// <c>true</c>, off when absent or <c>false</c>, and off for a value it refuses, which <see cref="Refusal"/> answers.
    /// </summary>
    /// <param name="value">The parameter's value, or null when absent.</param>
    public static bool Flag(string? value)
    {
        try
        {
            return RequestJson.ParamAsBoolean(value) ?? false;
        }
        catch (EsException)
        {
            return false;
        }
    }

    /// <summary>
    /// The cluster's 400 for a request whose <c>pretty</c>, <c>human</c> or <c>error_trace</c> is neither empty,
    /// <c>true</c> nor <c>false</c> (<c>Booleans.parseBoolean</c>'s "Failed to parse value [..] as only [true] or [false]
    /// are allowed.", the <c>Reason</c>), or null when it takes them. <c>pretty</c> or <c>human</c>: the request is answered as a bad
    /// request (<c>dispatchBadRequest</c>) through a channel made without its parameters, so the body is the full
    /// <c>illegal_argument_exception</c>, neither indented nor filtered nor traced (<c>Pretty</c> false).
    /// <c>error_trace</c>: Elasticsearch answers its simple <c>{"error":"..","status":400}</c>
    /// (<c>RestResponse.createSimpleErrorResponse</c>); OpenSearch, which does not catch it there, the exception's full
    /// body; either indented when <c>pretty</c> asks.
    /// </summary>
    /// <param name="value">A URL parameter's value by name, or null when absent.</param>
    /// <param name="openSearch">Answered as OpenSearch answers, else as Elasticsearch.</param>
    public static (JsonObject Body, bool Pretty, string Reason)? Refusal(Func<string, string?> value, bool openSearch)
    {
        ArgumentNullException.ThrowIfNull(value);
        try
        {
            _ = RequestJson.ParamAsBoolean(value("pretty"));
            _ = RequestJson.ParamAsBoolean(value("human"));
        }
        catch (EsException e)
        {
            return (e.ToBody(), false, e.Message);
        }

        try
        {
            _ = RequestJson.ParamAsBoolean(value("error_trace"));
            return null;
        }
        catch (EsException e)
        {
            // OpenSearch's RestController throws this out of tryAllHandlers and, reading error_trace again as it answers,
            // throws once more and sends nothing ("failed to send failure response"); a client is better served by the
            // full exception as a 400, which is what its error would be.
            return (openSearch ? e.ToBody() : new JsonObject { ["error"] = e.Message, ["status"] = e.Status }, Flag(value("pretty")), e.Message);
        }
    }
}
