using Lucene.Net.Index;
using Lucene.Net.Search;
using Lucene.Net.Search.Highlight;
using Lucene.Net.Util;

namespace Rank1.EmbeddedSearch.Querying;

/// <summary>
/// A query whose scores are those of another, capped at <see cref="MaxScore"/>: Elasticsearch's
/// <c>CappedScoreQuery</c> (x-pack search-business-rules), which the <c>pinned</c> query wraps its organic query in so
/// that no organic score reaches the pins' (<c>CappedScorer.score</c>: <c>Math.min(maxScore, in.score())</c>).
/// </summary>
internal sealed class CappedScoreQuery : Query
{
    public CappedScoreQuery(Query inner, float maxScore)
    {
        Inner = inner;
        MaxScore = maxScore;
    }

    /// <summary>The query whose scores are capped.</summary>
    public Query Inner { get; }

    /// <summary>The highest score a document gets.</summary>
    public float MaxScore { get; }

    // Elasticsearch 9's CappedScoreQuery.rewrite: the inner query rewritten, and a BoostQuery a rewrite brings to its top
    // unwrapped (IndexSearcher.rewrite repeats it until nothing changes), so that no boost at the organic query's top
    // survives. Lucene.NET has no BoostQuery, a boost being the query's property, and its BooleanQuery.Rewrite (Lucene
    // 4.8's) keeps a single clause of minimum_should_match 1 where Lucene 9's returns the clause (SHOULD or MUST, or
    // SHOULD of minimum_should_match 1), its boost then unwrapped: done here.
    public override Query Rewrite(IndexReader reader)
    {
        var rewritten = Inner.Rewrite(reader);
        if (rewritten is BooleanQuery { Clauses: [{ IsProhibited: false } only] } single
            && (single.MinimumNumberShouldMatch == 0 || (single.MinimumNumberShouldMatch == 1 && only.Occur == Occur.SHOULD)))
        {
            rewritten = only.Query;
        }

        if (rewritten.Boost != 1f)
        {
            rewritten = (Query)rewritten.Clone();
            rewritten.Boost = 1f;
        }

        return ReferenceEquals(rewritten, Inner) ? this : new CappedScoreQuery(rewritten, MaxScore) { Boost = Boost };
    }

    public override void ExtractTerms(ISet<Term> terms) => Inner.ExtractTerms(terms);

    public override Weight CreateWeight(IndexSearcher searcher) => new CappedWeight(this, Inner.CreateWeight(searcher));

    public override string ToString(string field) => $"CappedScore({Inner.ToString(field)})";

    public override bool Equals(object? obj) =>
        obj is CappedScoreQuery other && other.MaxScore.Equals(MaxScore) && other.Inner.Equals(Inner) && other.Boost.Equals(Boost);

    public override int GetHashCode() => HashCode.Combine(Inner, MaxScore, Boost);

    private sealed class CappedWeight(CappedScoreQuery query, Weight inner) : Weight
    {
        public override Query Query => query;

        public override bool ScoresDocsOutOfOrder => inner.ScoresDocsOutOfOrder;

        public override Explanation Explain(AtomicReaderContext context, int doc)
        {
            var explained = inner.Explain(context, doc);
            if (!explained.IsMatch || explained.Value <= query.MaxScore)
            {
                return explained;
            }

            var capped = new Explanation(query.MaxScore, "Capped score");
            capped.AddDetail(explained);
            return capped;
        }

        public override float GetValueForNormalization() => inner.GetValueForNormalization();

        public override void Normalize(float norm, float topLevelBoost) => inner.Normalize(norm, topLevelBoost * query.Boost);

        public override Scorer? GetScorer(AtomicReaderContext context, IBits? acceptDocs) =>
            inner.GetScorer(context, acceptDocs) is { } scorer ? new CappedScorer(this, scorer, query.MaxScore) : null;
    }

    private sealed class CappedScorer(Weight weight, Scorer inner, float maxScore) : Scorer(weight)
    {
        public override int DocID => inner.DocID;

        public override int Freq => inner.Freq;

        public override int NextDoc() => inner.NextDoc();

        public override int Advance(int target) => inner.Advance(target);

        public override float GetScore() => Math.Min(maxScore, inner.GetScore());

        public override long GetCost() => inner.GetCost();
    }
}

/// <summary>
/// Lucene's <see cref="QueryScorer"/> that highlights the terms of a <see cref="CappedScoreQuery"/>'s inner query, as
/// Elasticsearch's highlighters find them (<c>CappedScoreQuery.visit</c> hands its query to the visitor); Lucene's
/// extractor ignores a query type it does not know.
/// </summary>
internal sealed class CappedAwareQueryScorer(Query query, string field) : QueryScorer(query, field)
{
    protected override WeightedSpanTermExtractor NewTermExtractor(string defaultField) => new Extractor(defaultField);

    private sealed class Extractor(string defaultField) : WeightedSpanTermExtractor(defaultField)
    {
        protected override void ExtractUnknownQuery(Query query, IDictionary<string, WeightedSpanTerm> terms)
        {
            if (query is CappedScoreQuery capped)
            {
                Extract(capped.Inner, terms);
            }
        }
    }
}
