using Lucene.Net.Index;
using Lucene.Net.Search;

namespace Rank1.EmbeddedSearch.Querying;

/// <summary>
/// <c>terminate_after</c> on one index (its one shard): passes on the first <c>max</c> documents, in document order, and
/// stops the search at the next one, as Elasticsearch's <c>QueryPhaseCollector</c> stops a shard once it has collected
/// that many (<c>terminated_early: true</c>); a shard with no more matches than that ends normally (<c>false</c>).
/// </summary>
internal sealed class TerminateAfterCollector(ICollector inner, int max) : ICollector
{
    private int _collected;

    // The first documents are the first in document order, so the scorer must hand them over in order.
    public bool AcceptsDocsOutOfOrder => false;

    public void SetScorer(Scorer scorer) => inner.SetScorer(scorer);

    public void SetNextReader(AtomicReaderContext context) => inner.SetNextReader(context);

    public void Collect(int doc)
    {
        if (_collected == max)
        {
            // Not Lucene's CollectionTerminatedException, which IndexSearcher takes as the end of one segment only.
            throw new TerminatedException();
        }

        inner.Collect(doc);
        _collected++;
    }

    /// <summary>
    /// Runs <paramref name="query"/> into <paramref name="collector"/>, which may hold a <see cref="TerminateAfterCollector"/>;
    /// whether that stopped it early.
    /// </summary>
    public static bool Run(IndexSearcher searcher, Query query, ICollector collector)
    {
        try
        {
            searcher.Search(query, collector);
            return false;
        }
        catch (TerminatedException)
        {
            return true;
        }
    }

    private sealed class TerminatedException : Exception;
}
