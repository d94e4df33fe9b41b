namespace Rank1.EmbeddedSearch.Http;

/// <summary>A write's refresh policy (<c>WriteRequest.RefreshPolicy</c>).</summary>
internal enum RefreshPolicy
{
    /// <summary>No refresh (<c>false</c>, the default).</summary>
    None,

    /// <summary>Refresh now (<c>true</c>): the answer says <c>forced_refresh</c>.</summary>
    Immediate,

    /// <summary>Answer once a refresh has made the write visible (<c>wait_for</c>); here that refresh is made at once, but it is not reported as forced.</summary>
    WaitUntil,
}
