using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Rank1.Elastic;
using Rank1.Inference;
using Rank1.Inference.Prompt;
using Rank1.SearchBridge.Messages;
using Rank1.SearchBridge.Reranking;
using Rank1.SearchBridge.Search;
using Rank1.SearchBridge.Store;
using Rank1.SearchBridge.Telemetry;

namespace Rank1.SearchBridge.Precompute;

/// <summary>A request that can never succeed (bad fields, a search the backend rejects): it goes to the error queue without retries.</summary>
public sealed class InvalidPrecomputeRequestException(string message) : Exception(message);

/// <summary>A failure worth retrying: the backend or the reasoning index is unavailable or overloaded.</summary>
public sealed class TransientPrecomputeException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Does one <see cref="PrecomputeReasoning"/> request: runs the search on the backend, judges the window with the model
/// (skipping hits whose reasoning is already stored for the same passage text), and writes the judgements to the
/// reasoning index before returning, so a message is acknowledged only once its work is stored.
/// </summary>
internal sealed partial class PrecomputeService(BackendClient backend, ReasoningStore store, IPassageJudge judge, IOptions<WorkerOptions> options,
    IOptions<ReasoningStoreOptions> storeOptions, Rank1Metrics metrics, TimeProvider time, ILogger<PrecomputeService> logger)
{
    public async Task<PrecomputeReasoningCompleted> RunAsync(PrecomputeReasoning request, CancellationToken cancellationToken)
    {
        Validate(request, options.Value.MaxWindow);
        var fields = request.Fields.ToArray();
        var body = SearchBody(request, fields);
        var headers = ClusterRequest.Headers(storeOptions.Value.Authorization);

        BackendResponse response;
        try
        {
            response = await backend.SendAsync(HttpMethod.Post, SearchProxy.SearchPath(request.TargetIndex), Encoding.UTF8.GetBytes(body.ToJsonString()), headers, cancellationToken).ConfigureAwait(false);
        }
        catch (BackendUnavailableException e)
        {
            throw new TransientPrecomputeException($"the backend is unavailable: {e.Message}", e);
        }

        if (response.Status is 429 or >= 500)
        {
            throw new TransientPrecomputeException($"the backend answered HTTP {response.Status}: {Truncate(response.Body)}");
        }

        if (response.Status != 200)
        {
            throw new InvalidPrecomputeRequestException($"the backend rejected the search on [{request.TargetIndex}] with HTTP {response.Status}: {Truncate(response.Body)}");
        }

        var json = JsonNode.Parse(SearchHttp.Decoded(response)) as JsonObject ?? throw new TransientPrecomputeException("the backend's search answer is not a JSON object");
        var hits = HitRewriter.Hits(json).Take(request.Window).ToArray();
        var fingerprint = ReasoningKeys.Fingerprint(request.Query, request.Instructions, request.MaxThinkTokens, fields, request.TitleField, promptTemplate: request.PromptTemplate);
        var window = hits.Select(h =>
        {
            var (title, text) = HitRewriter.Passage(h, fields, request.TitleField);
            return (Title: title, Text: text, Hit: h);
        }).Where(w => w.Text.Length > 0).Select((w, i) => new KeyedPassage(new PassageToJudge(i, w.Title, w.Text),
            JudgementRecords.Key(w.Hit, request.TargetIndex, judge.ModelId, fingerprint, w.Title, w.Text))).ToArray();

        var lookup = await StoredWindowJudge.LookupAsync(store, judge.ModelId, window, cancellationToken).ConfigureAwait(false);
        var toStore = new List<JudgementToStore>();
        var already = lookup.Cached.Count;
        long computeMs = 0;
        var misses = lookup.Misses.Select(m => (m.Passage.Title, m.Passage.Text, m.Key)).ToList();

        // The engine judges the misses together, prefilling their shared prompt prefix once.
        var settings = new JudgeSettings { MaxThinkTokens = request.MaxThinkTokens, PromptTemplate = request.PromptTemplate };
        IReadOnlyList<Rank1Judgement> judgements;
        if (misses.Count > 0)
        {
            LogJudging(logger, misses.Count, request.Query, request.TargetIndex);
        }

        if (misses.Count == 0)
        {
            judgements = [];
        }
        else
        {
            // No deadline: every passage is judged; one whose input cannot be judged fails the request.
            var results = await judge.JudgeWindowAsync(request.Query, request.Instructions, misses.Select(m => (m.Title, m.Text)).ToArray(), settings, cancellationToken).ConfigureAwait(false);
            judgements = results.Select(r => r.Judgement ?? throw new Rank1InputException(r.Error ?? "the passage was not judged")).ToArray();
        }

        for (var i = 0; i < misses.Count; i++)
        {
            var judgement = judgements[i];
            metrics.Judged(judgement.ReasoningTokens, ReasoningEnds.Name(judgement.End));
            computeMs += (long)(judgement.PrefillTime + judgement.DecodeTime).TotalMilliseconds;
            toStore.Add(JudgementRecords.Document(misses[i].Key, judge.ModelId, fingerprint, request.Query, request.Instructions, judgement, time.GetUtcNow()));
        }

        try
        {
            // Synchronous: the message is acknowledged only after this returns.
            var written = await store.WriteAsync(toStore, cancellationToken).ConfigureAwait(false);
            already += written.AlreadyStored; // a racing worker stored the same judgement first: a no-op, not a failure
        }
        catch (ReasoningStoreException e)
        {
            throw new TransientPrecomputeException($"the reasoning index did not store the judgements: {e.Message}", e);
        }

        LogDone(logger, request.Query, request.TargetIndex, hits.Length, toStore.Count, already, computeMs);
        return new PrecomputeReasoningCompleted(request.JobId, request.BatchId, request.Query, hits.Length, toStore.Count, already, computeMs);
    }

    internal static void Validate(PrecomputeReasoning r, int maxWindow)
    {
        string? problem = r switch
        {
            { TargetIndex: null or "" } => "[target_index] is required",
            { Query: null } => "[query] is required",
            _ when string.IsNullOrWhiteSpace(r.Query) => "[query] must not be blank",
            { Window: < 1 } => $"[window] must be at least 1 (got {r.Window})",
            _ when r.Window > maxWindow => $"[window] {r.Window} is more than Rank1:Worker:MaxWindow ({maxWindow})",
            { Fields: null } => "[fields] is required",
            _ when r.Fields.Count == 0 || r.Fields.Any(string.IsNullOrWhiteSpace) => "[fields] must name at least one non-empty field",
            { MaxThinkTokens: < 1 } => $"[max_think_tokens] must be at least 1 (got {r.MaxThinkTokens})",
            { PromptTemplate: { } t } when !Rank1Prompt.IsValidTemplate(t) => $"[prompt_template]: {Rank1Prompt.TemplateProblem}",
            _ => null,
        };
        if (problem is not null)
        {
            throw new InvalidPrecomputeRequestException($"invalid precompute request for '{r.Query}': {problem}");
        }
    }

    private static JsonObject SearchBody(PrecomputeReasoning request, string[] fields)
    {
        JsonObject body;
        if (request.SearchBody is { } raw)
        {
            try
            {
                body = JsonNode.Parse(raw) as JsonObject ?? throw new InvalidPrecomputeRequestException("[search_body] must be a JSON object");
            }
            catch (JsonException e)
            {
                throw new InvalidPrecomputeRequestException($"[search_body] is not valid JSON: {e.Message}");
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

        body["from"] = 0;
        body["size"] = request.Window;
        body.Remove("_source");
        body.Remove("ext");
        return body;
    }

    private static string Truncate(byte[] body)
    {
        var text = Encoding.UTF8.GetString(body);
        return text.Length <= 500 ? text : text[..500] + "...";
    }

    [LoggerMessage(EventId = 2402, Level = LogLevel.Information, Message = "Judging {Count} passages of '{Query}' on {Index}")]
    private static partial void LogJudging(ILogger logger, int count, string query, string index);

    [LoggerMessage(EventId = 2400, Level = LogLevel.Information, Message = "Precomputed '{Query}' on {Index}: {Hits} hits, {Judged} judged, {Already} already stored, {ComputeMs} ms of model time")]
    private static partial void LogDone(ILogger logger, string query, string index, int hits, int judged, int already, long computeMs);
}
