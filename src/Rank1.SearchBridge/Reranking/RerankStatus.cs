namespace Rank1.SearchBridge.Reranking;

/// <summary>What happened to a search, as the <c>X-Rank1-Rerank</c> response header says.</summary>
public enum RerankStatus
{
    /// <summary>Every passage of the window was judged.</summary>
    Applied,

    /// <summary>The deadline cut in: some passages were scored from unfinished reasoning, or left in backend order after the judged ones.</summary>
    Partial,

    /// <summary>Every judgement came from the reasoning store; no model call.</summary>
    Cached,

    /// <summary>Not reranked (disabled, scroll, search_after, sorted by a field, size 0, no query text, backend error).</summary>
    Skipped,

    /// <summary>The deadline passed before any passage was judged: backend order.</summary>
    FallbackTimeout,

    /// <summary>The model failed or its circuit is open: backend order.</summary>
    FallbackError,

    /// <summary>The rerank queue is full: backend order.</summary>
    FallbackOverload,
}

/// <summary>Header values.</summary>
public static class RerankStatusNames
{
    /// <summary>The response header.</summary>
    public const string Header = "X-Rank1-Rerank";

    /// <summary>Why a search was skipped or fell back.</summary>
    public const string ReasonHeader = "X-Rank1-Reason";

    /// <summary>The header value of a status.</summary>
    public static string ToHeaderValue(this RerankStatus status) => status switch
    {
        RerankStatus.Applied => "applied",
        RerankStatus.Partial => "partial",
        RerankStatus.Cached => "cached",
        RerankStatus.Skipped => "skipped",
        RerankStatus.FallbackTimeout => "fallback-timeout",
        RerankStatus.FallbackError => "fallback-error",
        RerankStatus.FallbackOverload => "fallback-overload",
        _ => status.ToString(),
    };
}
