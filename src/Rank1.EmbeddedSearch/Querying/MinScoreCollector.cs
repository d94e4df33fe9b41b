using Lucene.Net.Index;
using Lucene.Net.Search;

namespace Rank1.EmbeddedSearch.Querying;

/// <summary>
/// Passes on only the documents scoring at least <c>min_score</c> (<c>score &gt;= min</c>, as floats), as Elasticsearch's
/// <c>QueryPhaseCollector</c> applies it to both the top hits and the aggregations.
/// </summary>
internal sealed class MinScoreCollector(ICollector inner, float min) : ICollector
{
    private Scorer? _scorer;

    public bool AcceptsDocsOutOfOrder => inner.AcceptsDocsOutOfOrder;

    public void SetScorer(Scorer scorer)
    {
        _scorer = scorer;
        inner.SetScorer(scorer);
    }

    public void SetNextReader(AtomicReaderContext context) => inner.SetNextReader(context);

    public void Collect(int doc)
    {
        if (_scorer!.GetScore() >= min)
        {
            inner.Collect(doc);
        }
    }
}
