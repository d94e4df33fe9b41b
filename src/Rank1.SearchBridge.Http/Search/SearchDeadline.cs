using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Rank1.Elastic;

namespace Rank1.SearchBridge.Http.Search;

/// <summary>
/// A search's <c>deadline_ms</c>, counted from the request's arrival at the proxy (before its body is read): the
/// backend's answer, reading it, the stored-reasoning lookup, tokenizing and judging all spend from the same budget,
/// so a search answers within <c>deadline_ms</c> plus <see cref="Configuration.ProxyOptions.DeadlineGrace"/> and the
/// time to write its answer. The searches of an <c>_msearch</c> count from the msearch's arrival. A rerank service call's
/// <c>deadline_ms</c> is one too, counted from the call's arrival (<see cref="Service.RerankService"/>).
/// </summary>
/// <remarks>
/// The backend call of a reranked search spends from it too: the backend is asked with Elasticsearch's own search
/// <c>timeout</c> set to what is left, but at least the grace (<see cref="BackendBudget"/>, <see cref="BackendTimeout"/>;
/// best effort, as in Elasticsearch: the shards stop collecting and answer <c>timed_out: true</c> with the hits so
/// far), and the call is cut
/// <see cref="Configuration.ProxyOptions.DeadlineGrace"/> after that (<see cref="BackendCut"/>).
/// </remarks>
internal readonly record struct SearchDeadline(TimeProvider Time, long ArrivedTimestamp, TimeSpan Budget)
{
    /// <summary>What is left of the budget (zero once it has passed).</summary>
    public TimeSpan Left => Budget - Time.GetElapsedTime(ArrivedTimestamp) is { } left && left > TimeSpan.Zero ? left : TimeSpan.Zero;

    /// <summary>The budget is spent.</summary>
    public bool Passed => Left == TimeSpan.Zero;

    /// <summary>
    /// How long the backend call of a reranked search may take: <paramref name="grace"/> past what it was given
    /// (<see cref="BackendBudget"/>), so a backend that did not honour its search <c>timeout</c> cannot hold the search
    /// past <c>deadline_ms</c> + grace (a search started past its deadline: its start + 2 × grace).
    /// </summary>
    public TimeSpan BackendCut(TimeSpan grace) => BackendBudget(grace) + grace;

    /// <summary>
    /// What the backend is given: what is left, but at least <paramref name="grace"/>, so a search that starts at or past
    /// its deadline (a late <c>_msearch</c> item) still gets the backend's full answer (served in backend order, or
    /// with stored reasoning) instead of a 1 ms <c>timed_out</c> answer with few or no hits.
    /// </summary>
    public TimeSpan BackendBudget(TimeSpan grace) => Left > grace ? Left : grace;

    /// <summary>
    /// The search <c>timeout</c> URL parameter to send the backend (<c>Nms</c>, <see cref="BackendBudget"/>), or null
    /// when the caller's own <c>timeout</c> (URL parameter, else body; the URL parameter wins in Elasticsearch) is
    /// already no longer, or is not a time value (the backend answers that with its own 400).
    /// </summary>
    public string? BackendTimeout(IQueryCollection query, JsonObject body, TimeSpan grace)
    {
        var left = BackendBudget(grace);
        var callers = query.TryGetValue("timeout", out var t) ? t.ToString()
            : body["timeout"] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;
        // -1 is Elasticsearch's "no timeout", longer than any deadline; anything else that is not a time value is left
        // for the backend to answer with its own 400.
        if (callers is not null && callers.Trim() != "-1" && (TimeValue.Parse(callers) is not { } own || own <= left))
        {
            return null;
        }

        return $"{(long)Math.Ceiling(left.TotalMilliseconds)}ms";
    }
}
