using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Rank1.Elastic;

namespace Rank1.SearchBridge;

/// <summary>
/// How every Rank1 web host (proxy, worker) writes JSON in Elasticsearch's manner: compact with non-ASCII text kept,
/// indented with <c>pretty</c>, and its own errors with <c>stack_trace</c> when <c>error_trace</c> asks for it.
/// </summary>
internal static class EsAnswers
{
    /// <summary>
    /// Compact JSON with non-ASCII text kept as it is (like Elasticsearch's own answers), as deep as an answer may be
    /// (<see cref="AnswerJson.MaxDepth"/>, deeper than a request, <see cref="RequestJson.MaxDepth"/>): a search body the
    /// proxy read is written again for the backend, and a backend's answer for the client.
    /// </summary>
    public static readonly JsonSerializerOptions Compact = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, MaxDepth = AnswerJson.MaxDepth };

    /// <summary>The same, indented (<c>pretty</c>).</summary>
    public static readonly JsonSerializerOptions Pretty = new(Compact) { WriteIndented = true };

    /// <summary>
    /// A flag of every request (<c>pretty</c>, <c>error_trace</c>) as Elasticsearch reads it
    /// (<see cref="ChannelParameters.Flag"/>): on when empty or <c>true</c>; a value it refuses, which the host answers
    /// before anything else (<see cref="ChannelParameters.Refusal"/>), is off.
    /// </summary>
    public static bool Flag(IQueryCollection query, string name) => ChannelParameters.Flag(Param(query)(name));

    /// <summary>The URL parameters of <paramref name="query"/>, read one by name (null when absent), as the shared readers take them.</summary>
    /// <param name="query">The request's decoded URL parameters.</param>
    public static Func<string, string?> Param(IQueryCollection query) => name => query.TryGetValue(name, out var v) ? v.ToString() : null;

    /// <summary>
    /// An error the host answers itself: never filtered (Elasticsearch turns <c>filter_path</c> off for errors, so
    /// the client always sees what went wrong), indented with <c>pretty</c>, with <paramref name="cause"/>'s stack trace
    /// when <c>error_trace</c> asks for it.
    /// </summary>
    public static byte[] RenderError(EsException error, Exception cause, IQueryCollection query) =>
        Encoding.UTF8.GetBytes(ErrorBody(error, cause, query).ToJsonString(Flag(query, "pretty") ? Pretty : Compact));

    /// <summary>The body of an error the host answers itself, with <c>stack_trace</c> when <c>error_trace</c> asks for it.</summary>
    public static JsonObject ErrorBody(EsException error, Exception cause, IQueryCollection query) =>
        error.ToBody(Flag(query, "error_trace") ? cause : null);
}
