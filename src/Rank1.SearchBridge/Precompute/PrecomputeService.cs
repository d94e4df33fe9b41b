using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Rank1.Elastic;
using Rank1.Inference;
using Rank1.Inference.Prompt;
using Rank1.SearchBridge.Backend;
using Rank1.SearchBridge.Messages;
using Rank1.SearchBridge.Reranking;
using Rank1.SearchBridge.Store;

namespace Rank1.SearchBridge.Precompute;

/// <summary>A request that can never succeed (bad fields, a search the backend rejects): it goes to the error queue without retries.</summary>
public sealed class InvalidPrecomputeRequestException(string message) : Exception(message);

/// <summary>The failures a job can never get past, sent to the error queue without retries: one home for the worker's retry policy and its metrics.</summary>
internal static class PrecomputeFaults
{
    /// <summary>
    /// A request that can never succeed (<see cref="InvalidPrecomputeRequestException"/>), a passage the model cannot read
    /// (<see cref="Rank1InputException"/>: its prompt does not fit the context, or the model scored it NaN, which the same
    /// model and prompt do again; the window's other judgements were stored
    /// before it was thrown), a message that is not JSON.
    /// </summary>
    public static readonly Type[] Poison = [typeof(InvalidPrecomputeRequestException), typeof(Rank1InputException), typeof(JsonException)];

    /// <summary>Whether <paramref name="e"/> is one of the <see cref="Poison"/> failures.</summary>
    public static bool IsPoison(Exception e) => Array.Exists(Poison, t => t.IsInstanceOfType(e));
}

/// <summary>A failure worth retrying: the backend or the reasoning index is unavailable or overloaded.</summary>
/// <remarks>
/// Its message already says its cause's (<c>the reasoning index did not store the judgements: N of N judgements were not
/// stored: HTTP 400: ...</c>), so it is its own base exception: MassTransit's fault headers (<c>MT-Fault-Message</c>,
/// <c>MT-Fault-ExceptionType</c>) name <see cref="Exception.GetBaseException"/>, and named the cause alone, without what
/// the worker was doing, while <c>--wait</c>'s report and the R-RETRY and R-FAULT logs said the whole. The cause stays
/// its <see cref="Exception.InnerException"/>, with its stack trace, for the logs; <c>MT-Fault-StackTrace</c> is this
/// exception's. MassTransit's retry and ignore filters match the exception thrown, not its base, so they are not changed.
/// The override holds only while this exception is the outermost: <see cref="Exception.GetBaseException"/> on an
/// exception wrapping it walks the inner exceptions without calling it, and so reaches the cause.
/// </remarks>
public sealed class TransientPrecomputeException(string message, Exception? inner = null) : Exception(message, inner)
{
    public override Exception GetBaseException() => this;
}

/// <summary>
/// Does one <see cref="PrecomputeReasoning"/> request: runs the search on the backend, then, through the
/// <see cref="StoredWindowJudge"/> the proxy uses too, judges the window with the model with no deadline (skipping hits
/// whose reasoning is already stored for the same passage text, and the hits pinned on top, which the proxy never judges:
/// <see cref="PinnedHits.OrganicFrom"/>) and writes the judgements to the reasoning index before
/// returning, so a message is acknowledged only once its work is stored. A window not judged in full throws:
/// <see cref="Rank1OverloadedException"/> when the model is busy and <see cref="TransientPrecomputeException"/> when the
/// model failed, both retried; <see cref="Rank1InputException"/> for a passage the model cannot read or scored NaN, after the other
/// passages' judgements are stored, for the message to go to the error queue without retries (it would fail again).
/// </summary>
internal sealed partial class PrecomputeService(BackendClient backend, StoredWindowJudge windowJudge, IOptions<WorkerOptions> options,
    IOptions<ReasoningStoreOptions> storeOptions, ModelTokenLimits modelLimits, UnstoredJudgements unstored, TimeProvider time, ILogger<PrecomputeService> logger)
{
    public async Task<PrecomputeReasoningCompleted> RunAsync(PrecomputeReasoning request, CancellationToken cancellationToken)
    {
        request = Validate(request, options.Value.MaxWindow);
        // The proxy's fingerprint of the same search (RerankPlan.Fingerprint): the rule's token limits are part of it.
        var fingerprint = QueryFingerprint(request);
        // The query may be personal data: only its fingerprint and length are logged at Information and above, its text
        // once per job at Debug (as vLLM logs prompts only at DEBUG, request logging off by default).
        LogQueryText(logger, fingerprint, request.Query);
        var model = windowJudge.Model;
        CheckKeys(request, model, fingerprint);
        var fields = request.Fields.ToArray();
        var body = SearchBody(request, fields);
        var headers = ClusterRequest.Headers(storeOptions.Value.Authorization);

        BackendResponse response;
        try
        {
            response = await backend.SendAsync(HttpMethod.Post, BackendClient.SearchPath(request.TargetIndex), Encoding.UTF8.GetBytes(body.ToJsonString()), headers, cancellationToken).ConfigureAwait(false);
        }
        catch (BackendUnavailableException e)
        {
            throw new TransientPrecomputeException($"the backend is unavailable: {e.Message}", e);
        }

        if (response.Status != 200)
        {
            // The answer's reason may quote the query: the fault (error queue headers, MassTransit's log) says only the
            // error's types; the answer itself is logged at Debug, as the query's text is.
            LogBackendAnswer(logger, "the search", fingerprint, response.Status, BackendErrorSummary.Excerpt(response.Body));
            var error = BackendErrorSummary.Describe(response.Body);
            if (response.Status is 429 or >= 500)
            {
                throw new TransientPrecomputeException($"the backend answered HTTP {response.Status}: {error}");
            }

            throw new InvalidPrecomputeRequestException($"the backend rejected the search on [{request.TargetIndex}] with HTTP {response.Status}: {error}");
        }

        var json = LoneSurrogates.ParseAnswer(ContentCoding.Decoded(response)) as JsonObject ?? throw new TransientPrecomputeException("the backend's search answer is not a JSON object");
        if (SearchHits.Malformation(json) is { } problem)
        {
            // As the proxy answers it (its 502): a hits array was an InvalidOperationException, a hits.hits object a job
            // done with nothing judged.
            throw new TransientPrecomputeException($"the backend's search answer is not a search answer: {problem}");
        }

        var answered = SearchHits.Hits(json);
        var hits = answered.Take(request.Window).ToArray();
        // Only the organic hits after the pins on top, as the proxy reranks such a window (PinnedHits.OrganicFrom): a pin
        // keeps its place unjudged and its judgement would never be read; none, where the proxy keeps the backend's order.
        var organicFrom = PinnedHits.OrganicFrom(PinnedHits.Of(body), answered, request.Window) ?? hits.Length;
        var window = hits.Skip(organicFrom).Select(h =>
        {
            var (title, text) = SearchHits.Passage(h, fields, request.TitleField);
            return (Title: title, Text: text, Hit: h);
        }).Where(w => SearchHits.HasText(w.Text)).Select((w, i) => new KeyedPassage(new PassageToJudge(i, w.Title, w.Text),
            JudgementRecords.Key(w.Hit, request.TargetIndex, model, fingerprint, w.Title, w.Text))).ToArray();

        var started = time.GetTimestamp();
        var lookup = await windowJudge.LookupAsync(window, cancellationToken).ConfigureAwait(false);
        if (lookup.Misses.Count > 0)
        {
            LogJudging(logger, lookup.Misses.Count, fingerprint, request.Query.Length, request.TargetIndex);
        }

        // The engine judges the misses together, prefilling their shared prompt prefix once.
        var query = new WindowQuery(request.Query, request.Instructions, new JudgeSettings
            {
                MaxThinkTokens = request.MaxThinkTokens, MaxQueryTokens = request.MaxQueryTokens, MaxPassageTokens = request.MaxPassageTokens, PromptTemplate = request.PromptTemplate,
            },
            Deadline: null, fingerprint);
        RerankOutcome outcome;
        int judged, already;
        try
        {
            // Synchronous: the message is acknowledged only after this returns. Judgements the index did not take are kept
            // (unstored) for the retry to write, not judged again.
            (outcome, judged, already) = await windowJudge.JudgeAndStoreAsync(query, lookup, started, cancellationToken, unstored).ConfigureAwait(false);
        }
        catch (ReasoningStoreException e)
        {
            // Its message names the status and the error's types; the answer, which may quote the query, only at Debug.
            if (e.Answer is { } answer)
            {
                LogBackendAnswer(logger, "the _bulk write of the judgements", fingerprint, e.Status, answer);
            }

            throw new TransientPrecomputeException($"the reasoning index did not store the judgements: {e.Message}", e);
        }

        if (outcome.Failures.Count > 0)
        {
            throw new Rank1InputException($"{outcome.Failures.Count} of the window's {window.Length} passages cannot be judged (the other judgements are stored): {outcome.Failures[0].Reason}");
        }

        switch (outcome.Status)
        {
            case RerankStatus.Applied or RerankStatus.Cached:
                break;
            case RerankStatus.FallbackOverload:
                throw new Rank1OverloadedException(outcome.Reason ?? "the model is busy");
            default:
                throw new TransientPrecomputeException($"the model did not judge the window ({outcome.Status.ToHeaderValue()}): {outcome.Reason}");
        }

        already += lookup.Cached.Count; // a racing worker stored the same judgement first: a no-op, not a failure
        var computeMs = outcome.Verdicts.Where(v => v.Source == PassageSource.Computed).Sum(v => (long)(v.Judgement.PrefillTime + v.Judgement.DecodeTime).TotalMilliseconds);
        LogDone(logger, fingerprint, request.Query.Length, request.TargetIndex, hits.Length, judged, already, computeMs);
        return new PrecomputeReasoningCompleted(request.JobId, request.BatchId, request.Query, hits.Length, judged, already, computeMs);
    }

    /// <summary>
    /// The reasoning-store fingerprint of a validated job's query and settings (<see cref="ReasoningKeys.JobFingerprint"/>):
    /// what the worker's logs name the query by at Information and above, never its text.
    /// </summary>
    internal string QueryFingerprint(PrecomputeReasoning request) => ReasoningKeys.JobFingerprint(request, modelLimits);

    /// <summary>
    /// A job that names the asker's model or reasoning-store fingerprint (the proxy's hot queries do) is refused when this
    /// worker would store its judgements under another: the proxy would never find them, and would ask again every
    /// <c>DedupWindow</c>. To the error queue, with the reason, without retries: it would fail the same way each time.
    /// </summary>
    private void CheckKeys(PrecomputeReasoning request, JudgingModel model, string fingerprint)
    {
        if (request.ModelFingerprint is { } wanted && !wanted.Equals(model.Fingerprint, StringComparison.Ordinal))
        {
            throw new InvalidPrecomputeRequestException(
                $"the job is for the model with fingerprint {wanted}, and this worker's model ({model.Id}) has {model.Fingerprint}: its judgements would be stored where the proxy never looks them up. Run the workers with the proxy's model (Rank1:Model:Path).");
        }

        if (request.Fingerprint is { } expected && !expected.Equals(fingerprint, StringComparison.Ordinal))
        {
            throw new InvalidPrecomputeRequestException(
                $"the job's reasoning-store fingerprint is {expected}, and this worker's is {fingerprint}: its token limits (Rank1:Model:MaxQueryTokens {modelLimits.MaxQueryTokens}, MaxPassageTokens {modelLimits.MaxPassageTokens}) differ from the proxy's, so its judgements would be stored where the proxy never looks them up. Give the workers the proxy's Rank1:Model settings.");
        }
    }

    // A problem names the field as it travels (MassTransit's JSON is camelCase: targetIndex, maxThinkTokens), so that
    // whoever published the job by hand can find it: the snake_case names sent them looking for fields that do not exist.
    // Returns the job with exactly empty instructions and title field as none (null): older proxies published a rule's
    // "" (Rank1__Proxy__Default__Instructions= binds "") and older rank1-bridge precompute runs --instructions "" and
    // JSON Lines "instructions":"" as they were, and "" already meant none in the key (ReasoningKeys.Fingerprint: null
    // is "") and the prompt (Rank1Prompt.QueryText trims): such jobs, still queued after an upgrade, are stored where the
    // searches that asked for them look. Any other blank text is refused (PrecomputeReasoning.TryInstructionsOrNone).
    internal static PrecomputeReasoning Validate(PrecomputeReasoning r, int maxWindow)
    {
        var instructionsValid = PrecomputeReasoning.TryInstructionsOrNone(r.Instructions, out var instructions);
        r = r with { Instructions = instructions, TitleField = r.TitleField is "" ? null : r.TitleField };
        string? problem = r switch
        {
            { TargetIndex: null or "" } => "[targetIndex] is required",
            { Query: null } => "[query] is required",
            // White space and control characters only (PrecomputeReasoning.IsBlankQuery): a third-party producer's job of
            // "\u0001" searched the backend and stored nothing any search reads.
            _ when PrecomputeReasoning.IsBlankQuery(r.Query) => "[query] must not be blank",
            // Its other texts and field names by the same test, as the proxy holds ext.rank1's (RerankPlan): a job of
            // "\u0001" instructions was judged as "query \u0001" and stored under a key no search looks up, and a
            // "\u200B" field or title field named no field.
            _ when !instructionsValid => "[instructions] must not be blank",
            { Window: < 1 } => $"[window] must be at least 1 (got {r.Window})",
            _ when r.Window > maxWindow => $"[window] {r.Window} is more than Rank1:Worker:MaxWindow ({maxWindow})",
            { Fields: null } => "[fields] is required",
            _ when r.Fields.Count == 0 || r.Fields.Any(f => f is null || PrecomputeReasoning.IsBlankQuery(f)) => "[fields] must name at least one non-empty field",
            { TitleField: { } title } when PrecomputeReasoning.IsBlankQuery(title) => "[titleField] must not be blank",
            { MaxThinkTokens: < 0 } => $"[maxThinkTokens] must be at least 0 (got {r.MaxThinkTokens})", // 0: score without reasoning, as a rule may
            // As a rule, the caps and --max-think-tokens: a job of a budget no proxy searches with stores nothing it reads,
            // and a hostile 2147483647 held the engine's batch reasoning up to the model's context for each passage.
            { MaxThinkTokens: > Rank1EngineOptions.MaxThinkTokensLimit } => $"[maxThinkTokens] must be at most {Rank1EngineOptions.MaxThinkTokensLimit} (got {r.MaxThinkTokens})",
            { MaxQueryTokens: < 1 } => $"[maxQueryTokens] must be at least 1 (got {r.MaxQueryTokens})",
            { MaxPassageTokens: < 1 } => $"[maxPassageTokens] must be at least 1 (got {r.MaxPassageTokens})",
            { PromptTemplate: { } t } when !Rank1Prompt.IsValidTemplate(t) => $"[promptTemplate]: {Rank1Prompt.TemplateProblem}",
            _ => null,
        };
        if (problem is not null)
        {
            throw new InvalidPrecomputeRequestException($"invalid precompute request: {problem}");
        }

        return r;
    }

    /// <summary>
    /// The search a job runs: its <c>search_body</c> (else a <c>multi_match</c> of its query over its fields), asked for
    /// the window from 0 as the proxy asks (<see cref="BackendWindow"/>), with only the passage fields of the source.
    /// </summary>
    /// <param name="request">The job.</param>
    /// <param name="fields">Its passage fields.</param>
    internal static JsonObject SearchBody(PrecomputeReasoning request, string[] fields)
    {
        JsonObject body;
        if (request.SearchBody is { } raw)
        {
            try
            {
                // Read as the proxy read the search it publishes (RequestJson: as deep as a request body may be), not at
                // System.Text.Json's default depth of 64, which sent a hot search of 21 or more nested bool queries to
                // the error queue as invalid.
                body = RequestJson.Parse(Encoding.UTF8.GetBytes(raw)) as JsonObject ?? throw new InvalidPrecomputeRequestException("[searchBody] must be a JSON object");
            }
            catch (Exception e) when (e is JsonException or EsException)
            {
                throw new InvalidPrecomputeRequestException($"[searchBody] is not valid JSON: {e.Message}");
            }
        }
        else
        {
            body = new JsonObject
            {
                ["query"] = new JsonObject
                {
                    ["multi_match"] = new JsonObject { ["query"] = request.Query, ["fields"] = new JsonArray(fields.Select(f => (JsonNode)f).ToArray()) },
                },
            };
        }

        // As the proxy asks for the window of the search the job re-runs (its knn k pinned to the search's own size).
        BackendWindow.Apply(body, request.Window, 0, body["size"] is JsonValue size && size.TryGetValue<int>(out var n) ? n : null);
        // Only the passage fields: the job reads nothing else of the window's documents, which may be megabytes each.
        body["_source"] = SourceFilter.None.WithFields(request.TitleField is { } title ? [.. fields, title] : fields);
        body.Remove("ext");
        return body;
    }

    [LoggerMessage(EventId = 2406, Level = LogLevel.Debug, Message = "Query {Fingerprint} is '{Query}'")]
    private static partial void LogQueryText(ILogger logger, string fingerprint, string query);

    [LoggerMessage(EventId = 2407, Level = LogLevel.Debug, Message = "The backend answered {Request} of query {Fingerprint} with HTTP {Status}: {Answer}")]
    private static partial void LogBackendAnswer(ILogger logger, string request, string fingerprint, int status, string answer);

    [LoggerMessage(EventId = 2402, Level = LogLevel.Information, Message = "Judging {Count} passages of query {Fingerprint} ({QueryLength} characters) on {Index}")]
    private static partial void LogJudging(ILogger logger, int count, string fingerprint, int queryLength, string index);

    [LoggerMessage(EventId = 2400, Level = LogLevel.Information, Message = "Precomputed query {Fingerprint} ({QueryLength} characters) on {Index}: {Hits} hits, {Judged} judged, {Already} already stored, {ComputeMs} ms of model time")]
    private static partial void LogDone(ILogger logger, string fingerprint, int queryLength, string index, int hits, int judged, int already, long computeMs);
}
