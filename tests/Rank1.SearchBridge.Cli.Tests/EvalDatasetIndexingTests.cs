using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Rank1.EmbeddedSearch;
using Rank1.Testing;

namespace Rank1.SearchBridge.Cli.Tests;

/// <summary>
/// <c>eval --dataset --backend URL</c> indexing a BEIR corpus into a search server over loopback HTTP: what the user is
/// told (indexed, or not indexed again), and that the numbers told are the corpus's, counted here from the file itself.
/// </summary>
public sealed class EvalDatasetIndexingTests
{
    private const string Index = "beir-indexing";

    private static readonly string Demo = Path.Combine(TestPaths.RepoRoot, "samples", "beir-demo");

    /// <summary>
    /// A folder in BEIR layout with the demo's queries and qrels and <paramref name="corpusBytes"/> as corpus.jsonl.
    /// </summary>
    private static async Task<string> DatasetAsync(string prefix, byte[] corpusBytes)
    {
        var dataset = TestTemp.Folder(prefix);
        await File.WriteAllBytesAsync(Path.Combine(dataset, "corpus.jsonl"), corpusBytes);
        File.Copy(Path.Combine(Demo, "queries.jsonl"), Path.Combine(dataset, "queries.jsonl"));
        Directory.CreateDirectory(Path.Combine(dataset, "qrels"));
        File.Copy(Path.Combine(Demo, "qrels", "test.tsv"), Path.Combine(dataset, "qrels", "test.tsv"));
        return dataset;
    }

    private static Task<CliResult> EvalAsync(string dataset, Uri backend, string runs) =>
        CliRunner.RunAsync("eval", "--dataset", dataset, "--backend", backend.ToString(), "--index", Index, "--model", TestPaths.TinyModel,
            "--max-think-tokens", "1", "--window", "1", "--depth", "5", "--run-out", Path.Combine(dataset, runs), "--json");

    private static async Task<long> CountAsync(HttpClient http)
    {
        using var response = await http.GetAsync($"{Index}/_count");
        response.EnsureSuccessStatusCode();
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!["count"]!.GetValue<long>();
    }

    /// <summary>
    /// The demo corpus written as an editor or an export may leave it: a byte order mark, CRLF line ends, blank and
    /// white-space lines between documents, no line feed after the last. The first eval indexes it and says how many
    /// documents it indexed (before, a console that is not interactive was told nothing: the progress bar is drawn at
    /// milestones of a running task, and the corpus was sent within a second); the second finds them there and says it
    /// does not index them again; after one document is deleted, the next indexes the corpus again.
    /// </summary>
    [Trait(TestCategory.Name, TestCategory.Model)]
    [Fact]
    public async Task EvalDataset_IndexedOnce_ThenNotAgain_UntilTheIndexHoldsAnotherCount()
    {
        var lines = await File.ReadAllLinesAsync(Path.Combine(Demo, "corpus.jsonl"));
        var messy = "\uFEFF" + string.Join("\r\n", lines.SelectMany((l, i) => i % 50 == 7 ? new[] { l, string.Empty, " \t " } : new[] { l }));
        var dataset = await DatasetAsync("rank1-eval-indexing-", Encoding.UTF8.GetBytes(messy));
        var corpus = Path.Combine(dataset, "corpus.jsonl");
        // Counted from the file as .NET's own reader reads it (BOM, CRLF and a last line without its line feed).
        var documents = File.ReadAllLines(corpus).Count(l => l.Trim().Length > 0);
        Assert.Equal(lines.Length, documents);

        await using var backend = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        using var http = new HttpClient { BaseAddress = backend.Url };

        var first = await EvalAsync(dataset, backend.Url, "runs");
        Assert.True(first.ExitCode == 0, first.Error);
        Assert.Contains($"eval: indexed the {documents} documents of {corpus} into {Index}\n", first.Error.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.DoesNotContain("not indexed again", first.Error, StringComparison.Ordinal);
        Assert.Equal(documents, await CountAsync(http));

        var second = await EvalAsync(dataset, backend.Url, "runs-2");
        Assert.True(second.ExitCode == 0, second.Error);
        Assert.Contains($"eval: {Index} already holds the {documents} documents of {corpus}: not indexed again\n", second.Error.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.DoesNotContain("eval: indexed", second.Error, StringComparison.Ordinal);
        Assert.Equal(File.ReadAllLines(Path.Combine(dataset, "runs", "backend.run")), File.ReadAllLines(Path.Combine(dataset, "runs-2", "backend.run")));

        // One document fewer (an indexing that was interrupted): indexed again, and whole again.
        (await http.DeleteAsync($"{Index}/_doc/onion-02?refresh=true")).EnsureSuccessStatusCode();
        Assert.Equal(documents - 1, await CountAsync(http));
        var third = await EvalAsync(dataset, backend.Url, "runs-3");
        Assert.True(third.ExitCode == 0, third.Error);
        Assert.Contains($"eval: indexed the {documents} documents of {corpus} into {Index}\n", third.Error.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Equal(documents, await CountAsync(http));
        Assert.Equal(File.ReadAllLines(Path.Combine(dataset, "runs", "backend.run")), File.ReadAllLines(Path.Combine(dataset, "runs-3", "backend.run")));
    }

    /// <summary>
    /// An index holding a document the corpus does not give (made from another corpus, or another version of it) was
    /// indexed into again and searched with it, on every run (its count never equals the corpus's). It is refused,
    /// naming the index, both counts and the corpus, and the runs are not written.
    /// </summary>
    [Trait(TestCategory.Name, TestCategory.Model)]
    [Fact]
    public async Task EvalDataset_IndexHoldingADocumentTheCorpusDoesNotGive_IsRefused()
    {
        var dataset = await DatasetAsync("rank1-eval-indexing-foreign-", await File.ReadAllBytesAsync(Path.Combine(Demo, "corpus.jsonl")));
        var corpus = Path.Combine(dataset, "corpus.jsonl");
        var documents = File.ReadAllLines(corpus).Count(l => l.Trim().Length > 0);

        await using var backend = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        using var http = new HttpClient { BaseAddress = backend.Url };
        var first = await EvalAsync(dataset, backend.Url, "runs");
        Assert.True(first.ExitCode == 0, first.Error);
        (await http.PutAsync($"{Index}/_doc/not-in-the-corpus?refresh=true", new StringContent("""{"text":"why do onions make people cry"}""", Encoding.UTF8, "application/json"))).EnsureSuccessStatusCode();

        var r = await EvalAsync(dataset, backend.Url, "runs-2");

        Assert.Equal(1, r.ExitCode);
        Assert.Equal(Refusal(1, documents + 1, corpus), r.Error.Trim().Split('\n')[^1]);
        Assert.False(File.Exists(Path.Combine(dataset, "runs-2", "backend.run")));
        Assert.Equal(documents + 1, await CountAsync(http));
    }

    private static string Refusal(long stray, long count, string corpus) =>
        $"rank1-bridge eval: {Index} holds {stray} {(stray == 1 ? "document" : "documents")} (of its {count}) that {corpus} does not give: every query would search {(stray == 1 ? "it" : "them")} too (an index made from another corpus?); nothing was written to it: delete the index, or name another with --index";

    /// <summary>
    /// An index holding documents the corpus does not give, and fewer documents than the corpus gives, or as many: before,
    /// one holding fewer was indexed into (the user's --index written to) and only then refused, and one holding as
    /// many was taken for the corpus and searched, stray documents and all, exit 0. Both are refused before anything
    /// is written: the index's documents, counted here over HTTP, are as they were.
    /// </summary>
    [Trait(TestCategory.Name, TestCategory.Model)]
    [Theory]
    [InlineData(2)]
    [InlineData(1)]
    public async Task EvalDataset_IndexHoldingAStrayDocument_FewerOrAsManyAsTheCorpus_IsRefusedBeforeAnythingIsWritten(int deleted)
    {
        var dataset = await DatasetAsync("rank1-eval-indexing-stray-", await File.ReadAllBytesAsync(Path.Combine(Demo, "corpus.jsonl")));
        var corpus = Path.Combine(dataset, "corpus.jsonl");
        var ids = File.ReadAllLines(corpus).Where(l => l.Trim().Length > 0).Select(l => JsonNode.Parse(l)!["_id"]!.GetValue<string>()).ToList();
        var documents = ids.Count;

        await using var backend = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        using var http = new HttpClient { BaseAddress = backend.Url };
        var first = await EvalAsync(dataset, backend.Url, "runs");
        Assert.True(first.ExitCode == 0, first.Error);
        foreach (var id in ids.Take(deleted))
        {
            (await http.DeleteAsync($"{Index}/_doc/{id}?refresh=true")).EnsureSuccessStatusCode();
        }

        (await http.PutAsync($"{Index}/_doc/not-in-the-corpus?refresh=true", new StringContent("""{"text":"why do onions make people cry"}""", Encoding.UTF8, "application/json"))).EnsureSuccessStatusCode();
        var held = documents - deleted + 1;
        Assert.Equal(held, await CountAsync(http));

        var r = await EvalAsync(dataset, backend.Url, "runs-2");

        Assert.Equal(1, r.ExitCode);
        Assert.Equal(Refusal(1, held, corpus), r.Error.Trim().Split('\n')[^1]);
        Assert.False(File.Exists(Path.Combine(dataset, "runs-2", "backend.run")));
        Assert.Equal(held, await CountAsync(http));
        using var gone = await http.GetAsync($"{Index}/_doc/{ids[0]}");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    /// <summary>
    /// A corpus that repeats an _id: the index holds one document for it (the bulk API replaces it, as BEIR's
    /// GenericDataLoader keeps the last line of an id). Counted in lines, the corpus never equalled the index's count:
    /// every run indexed it again, and none said so. Now the documents told and compared are the distinct ids.
    /// </summary>
    [Trait(TestCategory.Name, TestCategory.Model)]
    [Fact]
    public async Task EvalDataset_CorpusRepeatingAnId_IsCountedAsTheIndexHoldsIt_AndNotIndexedAgain()
    {
        var lines = (await File.ReadAllLinesAsync(Path.Combine(Demo, "corpus.jsonl"))).ToList();
        lines.Insert(5, lines[2]);
        lines.Add(lines[0]);
        var dataset = await DatasetAsync("rank1-eval-indexing-repeat-", Encoding.UTF8.GetBytes(string.Join('\n', lines) + "\n"));
        var corpus = Path.Combine(dataset, "corpus.jsonl");
        var ids = File.ReadAllLines(corpus).Where(l => l.Trim().Length > 0).Select(l => JsonNode.Parse(l)!["_id"]!.GetValue<string>()).ToList();
        var documents = ids.Distinct(StringComparer.Ordinal).Count();
        Assert.Equal(2, ids.Count - documents);

        await using var backend = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        using var http = new HttpClient { BaseAddress = backend.Url };
        var first = await EvalAsync(dataset, backend.Url, "runs");
        Assert.True(first.ExitCode == 0, first.Error);
        Assert.Contains($"eval: indexed the {documents} documents of {corpus} into {Index} (2 lines repeat an _id given before: the last line of an id is kept, as a bulk index action and BEIR's loader keep it)",
            first.Error, StringComparison.Ordinal);
        Assert.Equal(documents, await CountAsync(http));

        var second = await EvalAsync(dataset, backend.Url, "runs-2");
        Assert.True(second.ExitCode == 0, second.Error);
        Assert.Contains($"eval: {Index} already holds the {documents} documents of {corpus}: not indexed again\n", second.Error.ReplaceLineEndings("\n"), StringComparison.Ordinal);
    }

    /// <summary>
    /// A corpus line that is not JSON, or a document without an _id, far into the corpus: before, found while the
    /// corpus was sent, after the first 500 documents were in the index (a half index left on the user's cluster).
    /// Now the corpus is checked whole first: one line naming the file and line, exit 4, and nothing indexed.
    /// </summary>
    [Trait(TestCategory.Name, TestCategory.Model)]
    [Theory]
    [InlineData("{\"_id\": \"d\", \"text\": oops}", "not valid JSON at byte ")]
    [InlineData("{\"title\": \"t\", \"text\": \"no id\"}", "needs \"_id\" and \"text\"")]
    public async Task EvalDataset_BadCorpusLinePastTheFirstBulk_OneLineNamingFileAndLine_NothingIndexed(string badLine, string problem)
    {
        var lines = Enumerable.Range(0, 600).Select(i => $"{{\"_id\":\"d{i}\",\"text\":\"onion {i}\"}}").ToList();
        lines[550] = badLine;
        var dataset = await DatasetAsync("rank1-eval-indexing-bad-", Encoding.UTF8.GetBytes(string.Join('\n', lines) + "\n"));
        var corpus = Path.Combine(dataset, "corpus.jsonl");

        await using var backend = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        using var http = new HttpClient { BaseAddress = backend.Url };
        var r = await EvalAsync(dataset, backend.Url, "runs");

        Assert.Equal(4, r.ExitCode);
        var error = r.Error.Trim().Split('\n');
        Assert.StartsWith($"rank1-bridge eval: {corpus}: line 551: {problem}", error[^1], StringComparison.Ordinal);
        Assert.DoesNotContain(error, l => l.Contains("   at ", StringComparison.Ordinal)); // no stack trace
        using var count = await http.GetAsync($"{Index}/_count");
        Assert.Equal(HttpStatusCode.NotFound, count.StatusCode);
    }

    /// <summary>
    /// A corpus or queries line that does not parse named the file's line and then System.Text.Json's own position,
    /// counted in the one line it parsed: <c>line 2: not valid JSON ('o' is ... LineNumber: 0 | BytePositionInLine: 22.)</c>.
    /// The position is the byte of the line the file named, counted from 1 (here found from the line itself).
    /// </summary>
    [Fact]
    public async Task EvalDataset_CorpusOrQueriesLineNotJson_NamesTheByteOfTheLine_NotTheParsersLineZero()
    {
        const string Bad = "{\"_id\": \"d2\", \"text\": oops}";
        var dataset = await DatasetAsync("rank1-eval-indexing-notjson-", Encoding.UTF8.GetBytes("{\"_id\":\"d1\",\"text\":\"onion\"}\n" + Bad + "\n"));
        var corpus = Path.Combine(dataset, "corpus.jsonl");
        var r = await CliRunner.RunAsync("eval", "--dataset", dataset, "--model", TestPaths.TinyModel, "--run-out", Path.Combine(dataset, "runs"));
        Assert.Equal(4, r.ExitCode);
        Assert.Equal($"rank1-bridge eval: {corpus}: line 2: not valid JSON at byte {Bad.IndexOf("oops", StringComparison.Ordinal) + 1} of the line ('o' is an invalid start of a value.)",
            r.Error.Trim());

        var queries = Path.Combine(dataset, "queries.jsonl");
        await File.WriteAllTextAsync(queries, "{\"_id\":\"q1\",\"text\":\"onion\"}\n{\"_id\":\"q2\",\"text\":\"leek\"\n");
        var q = await CliRunner.RunAsync("eval", "--dataset", dataset, "--model", TestPaths.TinyModel, "--run-out", Path.Combine(dataset, "runs"));
        Assert.Equal(4, q.ExitCode);
        Assert.Equal($"rank1-bridge eval: {queries}:2: not valid JSON at byte {"{\"_id\":\"q2\",\"text\":\"leek\"".Length + 1} of the line (Expected depth to be zero at the end of the JSON payload. There is an open JSON object or array that should be closed.)",
            q.Error.Trim());
    }
}
