using Lucene.Net.Index;
using Lucene.Net.Search;

namespace Rank1.EmbeddedSearch.Querying;

/// <summary>
/// <c>terminate_after</c> on one index (its one shard), as Elasticsearch's <c>QueryPhaseCollector</c> applies it: passes
/// on the first <c>max</c> documents, in document order, and stops the search at the next one, or at the next segment
/// once it has that many (<c>terminated_early: true</c>); a shard with no more matches ends normally (<c>false</c>).
/// With <paramref name="leafCount"/> (a count without collecting, as Lucene's <c>Weight#count</c>), a segment it counts
/// is added to <see cref="Counted"/> and not collected, nor counted towards <c>max</c>, as Elasticsearch's
/// <c>PartialHitCountCollector</c> and <c>TotalHitCountCollector</c> count a size-0 search's or a <c>_count</c>'s segments.
/// With <paramref name="competitiveHits"/> (<see cref="CompetitiveHits"/>), a segment small enough for Lucene 10's
/// <c>DefaultBulkScorer</c> is left once that many documents were collected, and a later one skipped whole, as the top-hits
/// collector's minimum competitive score stops a constant-score scorer there: those documents never reach the count.
/// </summary>
internal sealed class TerminateAfterCollector(ICollector inner, int max, Func<AtomicReaderContext, int?>? leafCount = null, int? competitiveHits = null) : ICollector
{
    // ConstantScoreScorerSupplier.bulkScorer: a segment of at least DenseConjunctionBulkScorer.WINDOW_SIZE / 2 documents is
    // scored window by window, not by the scorer whose iterator setMinCompetitiveScore empties; it is collected whole here.
    private const int DenseSegment = 4096 / 2;

    private int _collected;
    private int _docBase;
    private bool _skips;

    /// <summary>The documents of the segments <c>leafCount</c> counted.</summary>
    public long Counted { get; private set; }

    /// <summary>The document (of the searcher) at which the search stopped, when it stopped early.</summary>
    public int? StoppedAt { get; private set; }

    // The first documents are the first in document order, so the scorer must hand them over in order.
    public bool AcceptsDocsOutOfOrder => false;

    public void SetScorer(Scorer scorer) => inner.SetScorer(scorer);

    public void SetNextReader(AtomicReaderContext context)
    {
        // QueryPhaseCollector.getLeafCollector: a segment after the threshold was reached terminates, matches or not.
        if (_collected >= max)
        {
            StoppedAt = context.DocBase;
            throw new TerminatedException();
        }

        if (leafCount?.Invoke(context) is { } count)
        {
            Counted += count;
            throw new CollectionTerminatedException(); // IndexSearcher goes on with the next segment
        }

        _skips = competitiveHits is not null && context.AtomicReader.MaxDoc < DenseSegment;
        if (_skips && _collected >= competitiveHits)
        {
            throw new CollectionTerminatedException(); // the new scorer is told the minimum at once: nothing competes
        }

        _docBase = context.DocBase;
        inner.SetNextReader(context);
    }

    public void Collect(int doc)
    {
        if (++_collected > max)
        {
            // Not Lucene's CollectionTerminatedException, which IndexSearcher takes as the end of one segment only.
            StoppedAt = _docBase + doc;
            throw new TerminatedException();
        }

        inner.Collect(doc);
        if (_skips && _collected >= competitiveHits)
        {
            throw new CollectionTerminatedException(); // the rest of this segment cannot compete
        }
    }

    /// <summary>
    /// How many documents Elasticsearch 9 collects before its top-hits collector stops a search's scorer, when it does
    /// so deterministically: a <c>match_all</c> (constant scores) by score, whose total <c>QueryPhaseCollectorManager</c>
    /// takes from the index (<c>shortcutTotalHitCount</c>: no <c>post_filter</c> or <c>min_score</c>, its
    /// <c>hasFilterCollector</c>; <c>terminate_after</c> is not one), with hits and no aggregations (whose collector
    /// never lets scores be skipped). Lucene's <c>TopScoreDocCollector</c>, with a total hits threshold of 1, sets the
    /// minimum competitive score above the constant once its queue of <paramref name="wanted"/> is full and more than one
    /// hit was counted; <c>ConstantScoreScorer.setMinCompetitiveScore</c> then ends the scorer's iterator. So
    /// <c>max(from + size, 2)</c> documents reach <c>QueryPhaseCollector</c>'s <c>terminate_after</c> count, and a smaller
    /// page than <c>terminate_after</c> is not <c>terminated_early</c>. Null for any other search, collected whole.
    /// </summary>
    /// <param name="searcher">The index's searcher.</param>
    /// <param name="query">The query.</param>
    /// <param name="wanted"><c>from + size</c>.</param>
    public static int? CompetitiveHits(IndexSearcher searcher, Query query, int wanted) =>
        MatchesAll(searcher, query) ? Math.Max(wanted, 2) : null;

    /// <summary>Whether <paramref name="query"/>, rewritten and unwrapped of its constant scores, is a match_all.</summary>
    public static bool MatchesAll(IndexSearcher searcher, Query query) => Unwrap(searcher.Rewrite(query)).GetType() == typeof(MatchAllDocsQuery);

    /// <summary>
    /// Whether <paramref name="query"/>, rewritten and unwrapped of its constant scores, is a match_none (a BooleanQuery
    /// of no clauses, this backend's MatchNoDocsQuery).
    /// </summary>
    public static bool MatchesNone(IndexSearcher searcher, Query query) => Unwrap(searcher.Rewrite(query)) is BooleanQuery { Clauses.Count: 0 };

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

    /// <summary>
    /// Elasticsearch's count of a query's matches in one segment without collecting them (Lucene's <c>Weight#count</c>,
    /// on the rewritten query less its constant-score wrappers), where it is this backend's query too: a
    /// <c>match_all</c> counts the segment's live documents, a single term (a <c>term</c>, or a <c>match</c> of one
    /// term) its document frequency when the segment has no deletions. Null for any other query.
    /// </summary>
    /// <param name="searcher">The index's searcher.</param>
    /// <param name="query">The query.</param>
    public static Func<AtomicReaderContext, int?>? LeafCounter(IndexSearcher searcher, Query query) => LeafCounter(searcher.Rewrite(query));

    /// <summary>
    /// <c>shortcutTotalHitCount</c> (Elasticsearch 9's <c>QueryPhaseCollectorManager</c>, OpenSearch 2.19's
    /// <c>TopDocsCollectorContext</c>): a search's total taken from the index rather than from what was collected, as
    /// either engine takes it when no collector filters what is collected: every live document for a <c>match_all</c>,
    /// a single term's document frequency when the index has no deletions, less the query's constant-score wrappers.
    /// Both test the query's exact class (<c>query.getClass() == TermQuery.class</c>), as <see cref="LeafCounter(IndexSearcher, Query)"/>
    /// does. Null for any other query.
    /// </summary>
    /// <param name="reader">The index's reader.</param>
    /// <param name="query">The query the engine counts: Elasticsearch's rewritten one (<c>searchContext.rewrittenQuery()</c>),
    /// OpenSearch's as parsed, before Lucene rewrites it (<c>searchContext.query()</c>).</param>
    public static long? ShortcutTotal(IndexReader reader, Query query)
    {
        // The whole index's count is every segment's (a term's only when no segment has deletions: the index has none).
        if (LeafCounter(query) is not { } count)
        {
            return null;
        }

        long total = 0;
        foreach (var leaf in reader.Leaves)
        {
            if (count(leaf) is not { } n)
            {
                return null;
            }

            total += n;
        }

        return total;
    }

    private static Func<AtomicReaderContext, int?>? LeafCounter(Query query) => Unwrap(query) switch
    {
        var q when q.GetType() == typeof(MatchAllDocsQuery) => leaf => leaf.AtomicReader.NumDocs,
        TermQuery t when t.GetType() == typeof(TermQuery) => leaf => leaf.AtomicReader.HasDeletions ? null : leaf.AtomicReader.DocFreq(t.Term),
        _ => null,
    };

    // The wrappers shortcutTotalHitCount removes, "that don't matter for counts" (a boost is a property here).
    private static Query Unwrap(Query query)
    {
        while (query is ConstantScoreQuery { Query: { } inner })
        {
            query = inner;
        }

        return query;
    }

    private sealed class TerminatedException : Exception;
}
