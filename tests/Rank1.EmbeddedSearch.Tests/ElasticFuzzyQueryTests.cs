using Lucene.Net.Index;
using Rank1.EmbeddedSearch.Querying;

namespace Rank1.EmbeddedSearch.Tests;

/// <summary>
/// <see cref="ElasticFuzzyQuery"/> is equal to another as Lucene's <c>FuzzyQuery.equals</c> decides: by its term, maxEdits,
/// prefixLength, maxExpansions and transpositions (it had only <c>MultiTermQuery</c>'s field and rewrite, so two fuzzy
/// queries for different terms were equal, as a query cache's key or a BooleanQuery's clause dedup sees them).
/// </summary>
public sealed class ElasticFuzzyQueryTests
{
    private static ElasticFuzzyQuery Fuzzy(string text = "fox", int maxEdits = 1, int prefixLength = 0, int maxExpansions = 50, bool transpositions = true) =>
        new(new Term("title", text), maxEdits, prefixLength, maxExpansions, transpositions);

    [Fact]
    public void TheSameOptions_AreEqual_WithTheSameHash()
    {
        Assert.Equal(Fuzzy(), Fuzzy());
        Assert.Equal(Fuzzy().GetHashCode(), Fuzzy().GetHashCode());
    }

    [Fact]
    public void EachOption_TellsTwoApart()
    {
        Assert.NotEqual(Fuzzy(), Fuzzy(text: "fax"));
        Assert.NotEqual(Fuzzy(), new ElasticFuzzyQuery(new Term("tag", "fox"), 1, 0, 50, true));
        Assert.NotEqual(Fuzzy(), Fuzzy(maxEdits: 2));
        Assert.NotEqual(Fuzzy(), Fuzzy(prefixLength: 1));
        Assert.NotEqual(Fuzzy(), Fuzzy(transpositions: false));

        // maxExpansions counts even when a rewrite of its own replaces the default one (fuzzy_rewrite).
        var a = Fuzzy(maxExpansions: 10);
        var b = Fuzzy(maxExpansions: 20);
        a.MultiTermRewriteMethod = b.MultiTermRewriteMethod = Lucene.Net.Search.MultiTermQuery.CONSTANT_SCORE_FILTER_REWRITE;
        Assert.NotEqual(a, b);
    }

    [Fact]
    public void ItsAutomata_AreBuiltOnce_ForEverySegment()
    {
        // Two segments (a commit after each document): the automata were built again for each.
        using var dir = new Lucene.Net.Store.RAMDirectory();
        using (var writer = new IndexWriter(dir, new IndexWriterConfig(Lucene.Net.Util.LuceneVersion.LUCENE_48, new Lucene.Net.Analysis.Core.KeywordAnalyzer())))
        {
            foreach (var word in new[] { "fox", "fax" })
            {
                writer.AddDocument([new Lucene.Net.Documents.StringField("title", word, Lucene.Net.Documents.Field.Store.NO)]);
                writer.Commit();
            }
        }

        using var reader = DirectoryReader.Open(dir);
        Assert.Equal(2, reader.Leaves.Count);
        var query = Fuzzy();
        Assert.Equal(2, new Lucene.Net.Search.IndexSearcher(reader).Search(query, 10).TotalHits);
        query.MultiTermRewriteMethod = Lucene.Net.Search.MultiTermQuery.CONSTANT_SCORE_FILTER_REWRITE;
        Assert.Equal(2, new Lucene.Net.Search.IndexSearcher(reader).Search(query, 10).TotalHits);
        Assert.Equal(1, query.AutomataBuilds);
    }
}
