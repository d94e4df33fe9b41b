using System.Globalization;
using System.Text;
// The broker contract lives with the MassTransit wiring (Messaging/), but keeps its namespace: MassTransit names a
// message by it (urn:message:Rank1.SearchBridge.Messages:PrecomputeReasoning), and a new name would leave the queued
// messages and the running workers of a rolling upgrade without a consumer (MessageContractTests pins the URN).
namespace Rank1.SearchBridge.Messages;

/// <summary>
/// Asks a worker to compute and store the reasoning for one query's rerank window, so that the proxy can answer it
/// from the reasoning store. The fields describe the search exactly as the proxy would rerank it.
/// </summary>
/// <param name="TargetIndex">The index expression the search ran on.</param>
/// <param name="Query">The query text to judge.</param>
/// <param name="Instructions">Instructions appended to the query, if any.</param>
/// <param name="Window">How many top hits to judge.</param>
/// <param name="Fields">Source fields joined into the passage.</param>
/// <param name="TitleField">Source field used as the title, if any.</param>
/// <param name="MaxThinkTokens">Reasoning budget per passage.</param>
/// <param name="Reason">Why it was asked: "hot-query" (the proxy) or "offline" (rank1-bridge precompute).</param>
/// <param name="SearchBody">
/// The search's own body (JSON, without <c>from</c>, <c>size</c> and <c>ext</c>) so the worker judges the same window
/// the callers see. Null: the worker searches <c>multi_match</c> of <paramref name="Query"/> over <paramref name="Fields"/>.
/// </param>
/// <param name="JobId">This request's id (progress and faults refer to it).</param>
/// <param name="BatchId">The offline job this request belongs to, if any (rank1-bridge precompute --wait follows it).</param>
/// <param name="PromptTemplate">A dataset prompt wrapping the query (<c>FILL_QUERY_HERE</c>), if any.</param>
/// <param name="MaxQueryTokens">
/// Query token limit of the rule, if it sets one (null: the model's own; a message from before this field reads as null).
/// Part of the query fingerprint, as in the proxy, so the worker stores under the key the proxy looks up.
/// </param>
/// <param name="MaxPassageTokens">Passage token limit of the rule, if it sets one (null: the model's own), as <paramref name="MaxQueryTokens"/>.</param>
/// <param name="ModelFingerprint">
/// The fingerprint of the model the asker (the proxy) serves judgements from. A worker whose model has another refuses
/// the job to the error queue: its judgements would be stored under its own model, where the proxy never looks. Null (a
/// job of <c>rank1-bridge precompute</c>, or a message from before this field): any worker's model.
/// </param>
/// <param name="Fingerprint">
/// The asker's reasoning-store fingerprint of this search (<c>ReasoningKeys</c>). A worker that computes another from the
/// job (its own <c>Rank1:Model</c> token limits differ) refuses the job likewise. Null: not checked.
/// </param>
public sealed record PrecomputeReasoning(
    string TargetIndex,
    string Query,
    string? Instructions,
    int Window,
    IReadOnlyList<string> Fields,
    string? TitleField,
    int MaxThinkTokens,
    string Reason,
    string? SearchBody = null,
    Guid JobId = default,
    string? BatchId = null,
    string? PromptTemplate = null,
    int? MaxQueryTokens = null,
    int? MaxPassageTokens = null,
    string? ModelFingerprint = null,
    string? Fingerprint = null)
{
    /// <summary>The <see cref="Reason"/> of a job the proxy asks for a hot query.</summary>
    public const string HotQuery = "hot-query";

    /// <summary>The <see cref="Reason"/> of a job from <c>rank1-bridge precompute</c>.</summary>
    public const string Offline = "offline";

    /// <summary>
    /// True when <paramref name="query"/> holds nothing a user reads: white space, control characters (a line of a NUL
    /// byte, <c>printf '\x00\n'</c>) and invisible format characters (Unicode category Cf: U+200B zero width space,
    /// U+2060 word joiner, U+FEFF, U+00AD) only, of which Elasticsearch's standard analyzer (Lucene's StandardTokenizer,
    /// UAX #29 word breaks: it makes tokens only of letters, digits, ideographs and emoji) makes no token. String.Trim
    /// and IsNullOrWhiteSpace keep U+0000 to U+001F that are not white space, and the format characters. The one
    /// definition: the proxy's query text and <c>ext.rank1</c>'s other texts and field names, <c>rank1-bridge
    /// precompute</c>'s query files and options, and the worker's refusal of a job's texts and field names.
    /// </summary>
    /// <param name="query">A query text.</param>
    public static bool IsBlankQuery(string query)
    {
        foreach (var rune in query.EnumerateRunes())
        {
            if (!Rune.IsWhiteSpace(rune) && !Rune.IsControl(rune) && Rune.GetUnicodeCategory(rune) != UnicodeCategory.Format)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Instructions as given, with exactly empty ones as none: null and <c>""</c> give null, other text that asks
    /// nothing (<see cref="IsBlankQuery"/>: <c>" "</c>, <c>"\u0001"</c>) returns false, which the caller refuses in its own
    /// words. The one rule of the CLI's <c>rerank</c> and <c>precompute</c> <c>--instructions</c>, precompute's query lines,
    /// the rerank service's <c>instructions</c>, the proxy's <c>ext.rank1.instructions</c> and the worker's jobs.
    /// </summary>
    /// <param name="text">Instructions as the caller gave them.</param>
    /// <param name="instructions">The instructions to judge with; null for none.</param>
    public static bool TryInstructionsOrNone(string? text, out string? instructions)
    {
        instructions = string.IsNullOrEmpty(text) ? null : text;
        return instructions is null || !IsBlankQuery(instructions);
    }
}

/// <summary>
/// A hot-query job (<see cref="PrecomputeReasoning.Reason"/> <see cref="PrecomputeReasoning.HotQuery"/>) on its way to
/// the workers' hot-query queue, apart from the offline jobs of <c>rank1-bridge precompute</c>: the worker consumes the
/// two queues with separate concurrency, so a flood of either never holds the other back.
/// </summary>
/// <param name="Job">The job.</param>
public sealed record PrecomputeHotQuery(PrecomputeReasoning Job);

/// <summary>Published by a worker when a <see cref="PrecomputeReasoning"/> request is stored (failures arrive as MassTransit's <c>Fault&lt;PrecomputeReasoning&gt;</c>).</summary>
/// <param name="JobId">The request's id.</param>
/// <param name="BatchId">The request's offline job, if any.</param>
/// <param name="Query">The query text.</param>
/// <param name="Hits">Hits in the judged window.</param>
/// <param name="Judged">Passages the model judged for this request and this request stored.</param>
/// <param name="AlreadyStored">Passages whose reasoning was already stored for the same passage text (before the request, or by a racing worker first): never also counted in <paramref name="Judged"/>.</param>
/// <param name="ComputeMilliseconds">Time the model spent.</param>
public sealed record PrecomputeReasoningCompleted(Guid JobId, string? BatchId, string Query, int Hits, int Judged, int AlreadyStored, long ComputeMilliseconds);

/// <summary>Sends <see cref="PrecomputeReasoning"/> requests to the workers (hot-query jobs as <see cref="PrecomputeHotQuery"/>).</summary>
public interface IPrecomputePublisher
{
    /// <summary>Publishes one request; may throw when the broker is unreachable (the caller logs and counts).</summary>
    Task PublishAsync(PrecomputeReasoning message, CancellationToken cancellationToken);
}

/// <summary>The publisher when no broker is configured: requests are counted and dropped.</summary>
internal sealed class NoBrokerPublisher : IPrecomputePublisher
{
    public Task PublishAsync(PrecomputeReasoning message, CancellationToken cancellationToken) => Task.CompletedTask;
}
