namespace Rank1.SearchBridge.Search;

/// <summary>
/// A search's <c>deadline_ms</c>, counted from the request's arrival at the proxy (before its body is read): the
/// backend's answer, reading it, the stored-reasoning lookup, tokenizing and judging all spend from the same budget,
/// so a search answers within <c>deadline_ms</c> plus <see cref="Configuration.ProxyOptions.DeadlineGrace"/> and the
/// time to write its answer. The searches of an <c>_msearch</c> count from the msearch's arrival.
/// </summary>
internal readonly record struct SearchDeadline(TimeProvider Time, long ArrivedTimestamp, TimeSpan Budget)
{
    /// <summary>What is left of the budget (zero once it has passed).</summary>
    public TimeSpan Left => Budget - Time.GetElapsedTime(ArrivedTimestamp) is { } left && left > TimeSpan.Zero ? left : TimeSpan.Zero;

    /// <summary>The budget is spent.</summary>
    public bool Passed => Left == TimeSpan.Zero;
}
