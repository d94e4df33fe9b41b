using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Rank1.EmbeddedSearch;
using Rank1.Testing;

namespace Rank1.SearchBridge.Cli.Tests;

public sealed class EvalCommandTests
{
    private static Task<CliResult> Eval(string runDir, params string[] extra) =>
        CliRunner.RunAsync(["eval", "--sample", "--model", TestPaths.TinyModel, "--max-think-tokens", "2", "--run-out", runDir, "--json", .. extra]);

    private static Dictionary<string, List<string>> ReadRun(string file) => File.ReadAllLines(file)
        .Select(l => l.Split(' ')).GroupBy(p => p[0]).ToDictionary(g => g.Key, g => g.Select(p => p[2]).ToList());

    [Trait(TestCategory.Name, TestCategory.Model)]
    [Fact]
    public async Task Eval_Sample_WritesBothRunsAndComparesEveryMetric()
    {
        var dir = TestTemp.Folder("rank1-eval-");
        var result = await Eval(dir);
        Assert.True(result.ExitCode == 0, result.Error);

        var json = JsonNode.Parse(result.Out)!;
        Assert.Equal(10, json["topics"]!.GetValue<int>());
        Assert.Equal(10, json["judged_topics"]!.GetValue<int>());
        Assert.Equal(["ndcg@10", "mrr@10", "recall@100", "map"], json["metrics"]!.AsArray().Select(m => m!["metric"]!.GetValue<string>()));
        foreach (var m in json["metrics"]!.AsArray())
        {
            Assert.Equal(m!["proxy"]!.GetValue<double>() - m["backend"]!.GetValue<double>(), m["delta"]!.GetValue<double>(), 12);
            Assert.InRange(m["p_value"]!.GetValue<double>(), 0.0, 1.0);
            Assert.InRange(m["wins"]!.GetValue<int>() + m["losses"]!.GetValue<int>(), 0, 10);
        }

        // Reranking permutes the top 10 (the proxy's default window) and leaves the rest in backend order,
        // so recall@100 cannot change.
        var backend = ReadRun(Path.Combine(dir, "backend.run"));
        var proxy = ReadRun(Path.Combine(dir, "proxy.run"));
        Assert.Equal(10, backend.Count);
        foreach (var (qid, docs) in backend)
        {
            Assert.Equal(docs.Take(10).Order(), proxy[qid].Take(10).Order());
            Assert.Equal(docs.Skip(10), proxy[qid].Skip(10));
        }

        var recall = json["metrics"]!.AsArray().Single(m => m!["metric"]!.GetValue<string>() == "recall@100")!;
        Assert.Equal(recall["backend"]!.GetValue<double>(), recall["proxy"]!.GetValue<double>());
    }

    [Trait(TestCategory.Name, TestCategory.Model)]
    [Fact]
    public async Task Eval_InterruptedRun_ResumesFromThePartialFileAndGivesTheSameResult()
    {
        var dir = TestTemp.Folder("rank1-eval-resume-");
        var first = await Eval(dir);
        Assert.True(first.ExitCode == 0, first.Error);
        var proxyRun = Path.Combine(dir, "proxy.run");
        var complete = File.ReadAllLines(proxyRun);
        Assert.False(File.Exists(proxyRun + ".partial")); // renamed into place when every topic was in

        // Simulate a crash: the run never got its final name, the last three queries never finished, the last
        // write (q8's block) was torn.
        File.Delete(proxyRun);
        var keep = complete.Where(l => l.Split(' ')[0] is not ("q8" or "q9" or "q10")).ToList();
        File.WriteAllText(proxyRun + ".partial", string.Join('\n', keep) + "\nq8 Q0 onion-0");

        var second = await Eval(dir);
        Assert.True(second.ExitCode == 0, second.Error);
        Assert.Equal(JsonNode.Parse(first.Out)!["metrics"]!.ToJsonString(), JsonNode.Parse(second.Out)!["metrics"]!.ToJsonString());
        Assert.Equal(complete.Order(), File.ReadAllLines(proxyRun).Order());
        Assert.False(File.Exists(proxyRun + ".partial"));
        Assert.Contains("eval: 7 of 10 queries resumed", second.Error, StringComparison.Ordinal);
    }

    [Trait(TestCategory.Name, TestCategory.Model)]
    [Fact]
    public async Task Eval_Dataset_BeirSample_IndexesRetrievesBm25AndReranksTheTopK()
    {
        var dir = TestTemp.Folder("rank1-eval-dataset-");
        var dataset = Path.Combine(TestPaths.RepoRoot, "samples", "beir-demo");
        var result = await CliRunner.RunAsync("eval", "--dataset", dataset, "--model", TestPaths.TinyModel, "--max-think-tokens", "1", "--window", "3",
            "--run-out", Path.Combine(dir, "beir"), "--json");
        Assert.True(result.ExitCode == 0, result.Error);
        var json = JsonNode.Parse(result.Out)!;
        Assert.Equal("ndcg@10", json["metrics"]![0]!["metric"]!.GetValue<string>()); // as BEIR and BRIGHT report it
        Assert.Equal(10, json["judged_topics"]!.GetValue<int>());

        // The BM25 run is the one the same corpus gives when loaded as the plain sample (another loader, same index).
        var sample = await CliRunner.RunAsync("eval", "--sample", "--model", TestPaths.TinyModel, "--max-think-tokens", "0", "--window", "1",
            "--run-out", Path.Combine(dir, "sample"), "--json");
        Assert.True(sample.ExitCode == 0, sample.Error);
        Assert.Equal(File.ReadAllLines(Path.Combine(dir, "sample", "backend.run")), File.ReadAllLines(Path.Combine(dir, "beir", "backend.run")));

        // Rank1 reorders the top 3 (the window) and leaves the rest in BM25 order.
        var backend = ReadRun(Path.Combine(dir, "beir", "backend.run"));
        var proxy = ReadRun(Path.Combine(dir, "beir", "proxy.run"));
        Assert.Equal(10, proxy.Count);
        foreach (var (qid, docs) in backend)
        {
            Assert.Equal(docs.Take(3).Order(), proxy[qid].Take(3).Order());
            Assert.Equal(docs.Skip(3), proxy[qid].Skip(3));
        }

        // The runs scored again offline against the dataset's own qrels/test.tsv (BEIR's header and columns, as shipped)
        // give the same table.
        var offline = await CliRunner.RunAsync("eval", "--run", Path.Combine(dir, "beir", "backend.run"), "--run", Path.Combine(dir, "beir", "proxy.run"),
            "--qrels", Path.Combine(dataset, "qrels", "test.tsv"), "--json");
        Assert.True(offline.ExitCode == 0, offline.Error);
        var rows = JsonNode.Parse(offline.Out)!["metrics"]!.AsArray();
        Assert.Equal(json["metrics"]!.AsArray().Count, rows.Count);
        foreach (var (online, again) in json["metrics"]!.AsArray().Zip(rows))
        {
            Assert.Equal(online!["metric"]!.GetValue<string>(), again!["metric"]!.GetValue<string>());
            Assert.Equal(online["backend"]!.GetValue<double>(), again["a"]!.GetValue<double>(), 12);
            Assert.Equal(online["proxy"]!.GetValue<double>(), again["b"]!.GetValue<double>(), 12);
        }
    }

    [Fact]
    public async Task Eval_Dataset_BadFolderOrQrels_NamesTheFile()
    {
        var dir = TestTemp.Folder("rank1-eval-badset-");
        var missing = await CliRunner.RunAsync("eval", "--dataset", dir);
        Assert.Equal(4, missing.ExitCode);
        Assert.Contains(Path.Combine(dir, "corpus.jsonl") + ": file not found", missing.Error, StringComparison.Ordinal);

        await File.WriteAllTextAsync(Path.Combine(dir, "corpus.jsonl"), "{\"_id\":\"d1\",\"title\":\"\",\"text\":\"x\"}\n");
        await File.WriteAllTextAsync(Path.Combine(dir, "queries.jsonl"), "{\"_id\":\"q1\",\"text\":\"x\"}\n");
        Directory.CreateDirectory(Path.Combine(dir, "qrels"));
        await File.WriteAllTextAsync(Path.Combine(dir, "qrels", "test.tsv"), "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1 d2 1\n");
        var bad = await CliRunner.RunAsync("eval", "--dataset", dir);
        Assert.Equal(4, bad.ExitCode);
        Assert.Contains(Path.Combine(dir, "qrels", "test.tsv") + ": line 3", bad.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Eval_IndexPatternReturnsTheSameIdTwice_KeepsItsFirstRankOnceAndWarns()
    {
        // Two indices of the pattern hold the same _id: the search answers d1 twice. Both runs are asked of the same
        // embedded backend (no model needed: the "proxy" is the cluster itself).
        await using var backend = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        using (var seed = new HttpClient { BaseAddress = backend.Url })
        {
            foreach (var index in new[] { "a", "b" })
            {
                (await seed.PutAsync($"{index}/_doc/d1?refresh=true", new StringContent("""{"text":"onion"}""", System.Text.Encoding.UTF8, "application/json"))).EnsureSuccessStatusCode();
            }
        }

        var (dir, args) = await OnionEvalAsync("rank1-eval-dupids-", "q1 0 d1 1\nq1 0 d2 1\n", backend.Url, "a,b", "p@2,recall@100,map");

        var result = await CliRunner.RunAsync(args);

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Equal(["q1 Q0 d1 1 1 bm25"], await File.ReadAllLinesAsync(Path.Combine(dir, "runs", "backend.run")));
        Assert.Equal(["q1 Q0 d1 1 1 rank1"], await File.ReadAllLinesAsync(Path.Combine(dir, "runs", "proxy.run")));
        Assert.Contains("eval: 2 hits repeated a document id", result.Error, StringComparison.Ordinal); // one in each run

        // By hand, with d1 once at rank 1 and d2 (relevant) never retrieved: P_2 = 1/2, recall_100 = 1/2,
        // map = (1/1) / 2 relevant = 1/2. Counting d1 twice gave 1, 1 and 1.
        var metrics = JsonNode.Parse(result.Out)!["metrics"]!.AsArray();
        Assert.Equal([0.5, 0.5, 0.5], metrics.Select(m => m!["backend"]!.GetValue<double>()));
        Assert.Equal([0.5, 0.5, 0.5], metrics.Select(m => m!["proxy"]!.GetValue<double>()));

        // The runs written are valid for trec_eval and for the tool itself: evaluating again reads them as they are.
        var again = await CliRunner.RunAsync(args);
        Assert.True(again.ExitCode == 0, again.Error);
        Assert.Equal(metrics.ToJsonString(), JsonNode.Parse(again.Out)!["metrics"]!.ToJsonString());
    }

    [Fact]
    public async Task Eval_DocumentIdWithWhiteSpace_IsWrittenPercentEncoded_SoTheRunReadsBackAsItWasScored()
    {
        // Elasticsearch takes any _id, "a b" too; a TREC run's fields are separated by white space. Written raw,
        // "q1 Q0 a b 1 2 bm25" was document "a" with score 1 when read again: the first eval said mrr 0.5, the next
        // (reading its own runs) 1.0, and so did trec_eval on the files.
        await using var backend = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        using (var seed = new HttpClient { BaseAddress = backend.Url })
        {
            (await seed.PutAsync("docs/_doc/a%20b?refresh=true", new StringContent("""{"text":"onion onion onion"}""", System.Text.Encoding.UTF8, "application/json"))).EnsureSuccessStatusCode();
            (await seed.PutAsync("docs/_doc/a?refresh=true", new StringContent("""{"text":"onion"}""", System.Text.Encoding.UTF8, "application/json"))).EnsureSuccessStatusCode();
        }

        var (dir, args) = await OnionEvalAsync("rank1-eval-spaceids-", "q1 0 a 1\n", backend.Url, "docs", "mrr@10");

        var result = await CliRunner.RunAsync(args);

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Equal(["q1 Q0 a%20b 1 2 bm25", "q1 Q0 a 2 1 bm25"], await File.ReadAllLinesAsync(Path.Combine(dir, "runs", "backend.run")));
        // The relevant "a" is second, under the document with the space: 1/2, on the first run and on every run after.
        Assert.Equal(0.5, JsonNode.Parse(result.Out)!["metrics"]![0]!["backend"]!.GetValue<double>());
        var again = await CliRunner.RunAsync(args);
        Assert.True(again.ExitCode == 0, again.Error);
        Assert.Equal(0.5, JsonNode.Parse(again.Out)!["metrics"]![0]!["backend"]!.GetValue<double>());
    }

    // One topic, q1 "onion", judged by qrels; both runs asked of the same cluster (no model needed): the folder and the eval arguments.
    private static async Task<(string Dir, string[] Args)> OnionEvalAsync(string prefix, string qrelsText, Uri cluster, string index, string metrics)
    {
        var dir = TestTemp.Folder(prefix);
        var topics = Path.Combine(dir, "topics.tsv");
        var qrels = Path.Combine(dir, "qrels.txt");
        await File.WriteAllTextAsync(topics, "q1\tonion\n");
        await File.WriteAllTextAsync(qrels, qrelsText);
        return (dir, ["eval", "--topics", topics, "--qrels", qrels, "--index", index, "--backend", cluster.ToString(), "--proxy", cluster.ToString(),
            "--run-out", Path.Combine(dir, "runs"), "--metrics", metrics, "--json"]);
    }

    private static string TrecFixture(string file) => Path.Combine(TestPaths.Fixture("trec_eval"), file);

    /// <summary>A trec_eval mean ('all' line) from the fixture's official output.</summary>
    private static double Oracle(string file, string measure) => double.Parse(
        File.ReadAllLines(TrecFixture(file)).Select(l => l.Split('\t')).Single(p => p.Length == 3 && p[0].Trim() == measure && p[1] == "all")[2],
        System.Globalization.CultureInfo.InvariantCulture);

    private static string TabSeparatedCopy(string dir, string name, string fixtureRun)
    {
        var path = Path.Combine(dir, name);
        File.WriteAllLines(path, File.ReadAllLines(TrecFixture(fixtureRun)).Select(l => string.Join('\t', l.Split(' '))));
        return path;
    }

    [Fact]
    public async Task Eval_ExistingTabSeparatedRuns_AreReadAsTrecEvalReadsThemAndNeverRewritten()
    {
        // Both runs already in --run-out: nothing is searched (the URLs lead nowhere) and neither file is touched.
        var dir = TestTemp.Folder("rank1-eval-existing-");
        string[] args = ["eval", "--topics", TrecFixture("topics.tsv"), "--qrels", TrecFixture("qrels.txt"), "--index", "i",
            "--backend", "http://127.0.0.1:9/", "--proxy", "http://127.0.0.1:9/", "--run-out", dir, "--json", "--metrics", "ndcg@10,map,p@5"];

        // A first attempt finds no cluster, but has written the manifest of these settings into the empty folder.
        var attempt = await CliRunner.RunAsync(args);
        Assert.Equal(1, attempt.ExitCode);
        Assert.True(File.Exists(Path.Combine(dir, "manifest.json")));

        // The runs as eval writes them: every topic, one that retrieved nothing (307 and 312 here) as a __none__ line.
        var backend = TabSeparatedCopy(dir, "backend.run", "run.txt");
        var proxy = TabSeparatedCopy(dir, "proxy.run", "run-good.txt");
        foreach (var run in new[] { backend, proxy })
        {
            File.AppendAllText(run, "307\tQ0\t__none__\t1\t0\tr\n312\tQ0\t__none__\t1\t0\tr\n");
        }

        var before = (File.ReadAllBytes(backend), File.ReadAllBytes(proxy));

        var result = await CliRunner.RunAsync(args);

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Equal(before.Item1, File.ReadAllBytes(backend));
        Assert.Equal(before.Item2, File.ReadAllBytes(proxy));
        var metrics = JsonNode.Parse(result.Out)!["metrics"]!.AsArray();
        foreach (var (metric, measure) in new[] { ("ndcg@10", "ndcg_cut_10"), ("map", "map"), ("p@5", "P_5") })
        {
            var row = metrics.Single(m => m!["metric"]!.GetValue<string>() == metric)!;
            Assert.Equal(Oracle("trec_eval-c-q-all_trec.txt", measure), row["backend"]!.GetValue<double>(), 4);
            Assert.Equal(Oracle("trec_eval-c-q-all_trec.good.txt", measure), row["proxy"]!.GetValue<double>(), 4);
        }
    }

    /// <summary>
    /// Writes the topics and qrels into a new folder and evaluates them against a cluster and proxy that answer nothing:
    /// inputs refused before any search never get that far.
    /// </summary>
    private static async Task<(CliResult Result, string Topics, string Qrels, string Runs)> UnsearchedAsync(string topics, string qrels)
    {
        var dir = TestTemp.Folder("rank1-eval-unsearched-");
        var (topicsFile, qrelsFile, runs) = (Path.Combine(dir, "topics.tsv"), Path.Combine(dir, "qrels.txt"), Path.Combine(dir, "runs"));
        await File.WriteAllTextAsync(topicsFile, topics);
        await File.WriteAllTextAsync(qrelsFile, qrels);
        var result = await CliRunner.RunAsync("eval", "--topics", topicsFile, "--qrels", qrelsFile, "--index", "i", "--backend", "http://127.0.0.1:9/",
            "--proxy", "http://127.0.0.1:9/", "--run-out", runs);
        return (result, topicsFile, qrelsFile, runs);
    }

    /// <summary>
    /// <c>eval --dataset</c> on a one-document BEIR folder with <paramref name="queries"/> and the qrels lines
    /// <paramref name="qrels"/> (after the header), and a model folder that does not exist: for inputs refused before
    /// the corpus is indexed or a model is looked for.
    /// </summary>
    private static async Task<(CliResult Result, string Dataset)> UnindexedDatasetAsync(string queries, string qrels)
    {
        var dataset = TestTemp.Folder("rank1-eval-beir-unindexed-");
        await File.WriteAllTextAsync(Path.Combine(dataset, "corpus.jsonl"), "{\"_id\":\"d1\",\"text\":\"onion\"}\n");
        await File.WriteAllTextAsync(Path.Combine(dataset, "queries.jsonl"), queries);
        Directory.CreateDirectory(Path.Combine(dataset, "qrels"));
        await File.WriteAllTextAsync(Path.Combine(dataset, "qrels", "test.tsv"), "query-id\tcorpus-id\tscore\n" + qrels);
        return (await CliRunner.RunAsync("eval", "--dataset", dataset, "--model", Path.Combine(dataset, "no-model"), "--run-out", Path.Combine(dataset, "runs")), dataset);
    }

    [Fact]
    public async Task Eval_TopicIdGivenTwice_IsRefusedNamingTheFileAndTheSecondLine()
    {
        // TSV topics.
        var (tsv, topics, _, runs) = await UnsearchedAsync("q1\tonion\nq2\tgarlic\nq1\tdup\n", "q1 0 d1 1\nq2 0 d1 0\n");
        Assert.Equal(4, tsv.ExitCode);
        Assert.Contains($"{topics}:3: topic 'q1' is given twice (first on line 1)", tsv.Error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(runs));

        // A BEIR folder's queries.jsonl: refused before the corpus is indexed or a model is looked for.
        var (beir, dataset) = await UnindexedDatasetAsync("{\"_id\":\"q1\",\"text\":\"onion\"}\n\n{\"_id\":\"q1\",\"text\":\"dup\"}\n", "q1\td1\t1\n");
        Assert.Equal(4, beir.ExitCode);
        Assert.Contains($"{Path.Combine(dataset, "queries.jsonl")}:3: topic 'q1' is given twice (first on line 1)", beir.Error, StringComparison.Ordinal);
    }

    /// <summary>
    /// Written into a TREC run, "q 9 Q0 d1 1 5 bm25" is topic "q", document "Q0" (trec_eval splits fields at white
    /// space; so does our own reader, which then refused the run it had written: "document 'Q0' appears twice").
    /// </summary>
    [Theory]
    [InlineData("q1\tonion\nq 9\tgarlic\n", ":2: topic id 'q 9' is empty or holds white space")]
    [InlineData("{\"qid\":\"q1\",\"query\":\"onion\"}\n{\"qid\":\"\",\"query\":\"garlic\"}\n", ":2: topic id '' is empty or holds white space")]
    public async Task Eval_TopicIdWithWhiteSpaceOrEmpty_IsRefusedBeforeAnySearch(string topicLines, string error)
    {
        var (result, topics, _, runs) = await UnsearchedAsync(topicLines, "q1 0 d1 1\n");
        Assert.Equal((4, true, false), (result.ExitCode, result.Error.Contains(topics + error, StringComparison.Ordinal), Directory.Exists(runs)));
    }

    /// <summary>
    /// A JSON Lines topic that is not a string id and a string query was an unhandled exception (exit 134 and a stack
    /// trace: a number or an array as the query, a lone surrogate escape, a field given twice); each is one line naming
    /// the file and line, exit 4, before anything is searched.
    /// </summary>
    [Theory]
    [InlineData("{\"qid\":\"q1\",\"query\":5}", ":1: \"query\" must be a string")]
    [InlineData("{\"qid\":\"q1\",\"query\":[\"onion\"]}", ":1: \"query\" must be a string")]
    [InlineData("{\"qid\":\"q1\",\"query\":\"onion \\ud83d\"}", ":1: \"query\" is not valid text: it holds an unpaired UTF-16 surrogate")]
    [InlineData("{\"qid\":\"q1\",\"qid\":\"q2\",\"query\":\"onion\"}", ":1: not valid JSON (Duplicate property 'qid'")]
    [InlineData("{\"qid\":{\"n\":1},\"query\":\"onion\"}", ":1: \"qid\" must be a string or a number")]
    public async Task Eval_JsonTopicNotAnIdAndAString_OneLineNamingFileAndLine_BeforeAnySearch(string topicLine, string error)
    {
        var (result, topics, _, runs) = await UnsearchedAsync(topicLine + "\n", "q1 0 d1 1\n");
        Assert.Equal((4, true, false), (result.ExitCode, result.Error.Contains(topics + error, StringComparison.Ordinal), Directory.Exists(runs)));
        Assert.DoesNotContain("Unhandled exception", result.Error, StringComparison.Ordinal);
    }

    /// <summary>
    /// A topic with no query text cannot be searched: the proxy refused it with a 400 halfway through the evaluation
    /// (after a dataset's corpus was indexed and the runs half written). It is refused before, naming the file and line;
    /// in a dataset, only the queries its test qrels judge are searched, so only they must have text.
    /// </summary>
    [Fact]
    public async Task Eval_TopicWithoutQueryText_IsRefusedNamingTheLineBeforeAnySearch()
    {
        var (tsv, topics, _, runs) = await UnsearchedAsync("q1\tonion\nq2\t \n", "q1 0 d1 1\nq2 0 d1 1\n");
        Assert.Equal((4, true, false), (tsv.ExitCode, tsv.Error.Contains($"{topics}:2: topic 'q2' has no query text", StringComparison.Ordinal), Directory.Exists(runs)));

        var (beir, dataset) = await UnindexedDatasetAsync("{\"_id\":\"q0\",\"text\":\"\"}\n{\"_id\":\"q1\",\"text\":\"onion\"}\n{\"_id\":\"q2\",\"text\":\"\"}\n", "q1\td1\t1\nq2\td1\t1\n");
        Assert.Equal(4, beir.ExitCode);
        Assert.Equal($"rank1-bridge eval: {Path.Combine(dataset, "queries.jsonl")}:3: topic 'q2' has no query text: there is nothing to search for", beir.Error.Trim());
    }

    [Fact]
    public async Task Eval_NoJudgmentsToAverage_IsAnErrorNotATableOfZeros()
    {
        var dir = TestTemp.Folder("rank1-eval-nojudgments-");
        var (empty, run) = (Path.Combine(dir, "empty.qrels"), Path.Combine(dir, "a.run"));
        await File.WriteAllTextAsync(empty, "\n");
        await File.WriteAllTextAsync(run, "q1 Q0 d1 1 2 r\n");
        var offline = await CliRunner.RunAsync("eval", "--run", run, "--run", run, "--qrels", empty);
        Assert.Equal(4, offline.ExitCode);
        Assert.Contains($"{empty}: no judgments", offline.Error, StringComparison.Ordinal);
        Assert.Equal(string.Empty, offline.Out);

        // An empty run: trec_eval 10 says "Cannot read results file" and quits (get_trec_results.c, a size of 0).
        var emptyRun = Path.Combine(dir, "empty.run");
        await File.WriteAllBytesAsync(emptyRun, []);
        await File.WriteAllTextAsync(empty, "q1 0 d1 1\n");
        var noRun = await CliRunner.RunAsync("eval", "--run", run, "--run", emptyRun, "--qrels", empty);
        Assert.Equal((4, string.Empty), (noRun.ExitCode, noRun.Out));
        Assert.Contains($"{emptyRun}: empty file", noRun.Error, StringComparison.Ordinal);

        // Topics that the qrels do not judge.
        var (online, topics, qrels, _) = await UnsearchedAsync("a\tonion\nb\tgarlic\n", "q1 0 d1 1\n");
        Assert.Equal(4, online.ExitCode);
        Assert.Contains($"none of the 2 topics of {topics} has a judgment in {qrels}", online.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Eval_RunsMadeWithOtherSettingsOrMissingTopics_AreRefusedNotResumed()
    {
        // Both runs are asked of the same embedded backend (no model needed: the "proxy" is the cluster itself).
        await using var backend = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        using (var seed = new HttpClient { BaseAddress = backend.Url })
        {
            (await seed.PutAsync("docs/_doc/d1?refresh=true", new StringContent("""{"text":"onion garlic"}""", System.Text.Encoding.UTF8, "application/json"))).EnsureSuccessStatusCode();
        }

        var dir = TestTemp.Folder("rank1-eval-manifest-");
        var (topics, qrels, runs) = (Path.Combine(dir, "topics.tsv"), Path.Combine(dir, "qrels.txt"), Path.Combine(dir, "runs"));
        await File.WriteAllTextAsync(topics, "q1\tonion\nq2\tgarlic\n");
        await File.WriteAllTextAsync(qrels, "q1 0 d1 1\nq2 0 d1 1\n");
        string[] Args(params string[] extra) => ["eval", "--topics", topics, "--qrels", qrels, "--index", "docs", "--backend", backend.Url.ToString(),
            "--proxy", backend.Url.ToString(), "--run-out", runs, "--json", .. extra];
        var first = await CliRunner.RunAsync(Args("--depth", "5"));
        Assert.True(first.ExitCode == 0, first.Error);
        var (backendRun, proxyRun, manifest) = (Path.Combine(runs, "backend.run"), Path.Combine(runs, "proxy.run"), Path.Combine(runs, "manifest.json"));
        var made = (File.ReadAllText(backendRun), File.ReadAllText(proxyRun));

        // The same settings resume (here: read) the runs; other settings are refused, naming what differs.
        var same = await CliRunner.RunAsync(Args("--depth", "5"));
        Assert.True(same.ExitCode == 0, same.Error);
        Assert.Contains($"eval: 2 of 2 queries resumed from the runs in {runs}", same.Error, StringComparison.Ordinal);
        var other = await CliRunner.RunAsync(Args("--depth", "7", "--window", "3"));
        Assert.Equal(4, other.ExitCode);
        Assert.Contains($"{runs} holds runs made with other settings (depth 5 there, 7 now; window unset there, 3 now): pass another --run-out, or delete the folder to start afresh",
            other.Error, StringComparison.Ordinal);
        Assert.Equal(string.Empty, other.Out);
        Assert.Equal(made, (File.ReadAllText(backendRun), File.ReadAllText(proxyRun)));

        // Runs with no manifest: nothing says what made them.
        var recorded = File.ReadAllText(manifest);
        File.Delete(manifest);
        var unknown = await CliRunner.RunAsync(Args("--depth", "5"));
        Assert.Equal(4, unknown.ExitCode);
        Assert.Contains($"{runs} holds runs but no manifest.json saying what made them", unknown.Error, StringComparison.Ordinal);

        // A complete run that lacks a topic is not scored 0 on it (nor written to): refused.
        File.WriteAllText(manifest, recorded);
        File.WriteAllLines(backendRun, File.ReadAllLines(backendRun).Where(l => l.StartsWith("q1 ", StringComparison.Ordinal)));
        File.WriteAllText(proxyRun, string.Empty);
        var partial = await CliRunner.RunAsync(Args("--depth", "5"));
        Assert.Equal(4, partial.ExitCode);
        Assert.Contains($"{backendRun} lacks 1 of the 2 topics (q2): a complete run is never written to", partial.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Eval_MalformedExistingRun_NamesFileAndLine_AndLeavesItAlone()
    {
        var dir = TestTemp.Folder("rank1-eval-malformed-");
        var backend = Path.Combine(dir, "backend.run");
        await File.WriteAllTextAsync(backend, "301 Q0 D1 1 2.5 bm25\n301\tQ0\tD2\t2\t1.5\tbm25\n301 Q0 D3 3 high bm25\n");
        var before = await File.ReadAllBytesAsync(backend);

        var result = await CliRunner.RunAsync("eval", "--topics", TrecFixture("topics.tsv"), "--qrels", TrecFixture("qrels.txt"), "--index", "i",
            "--backend", "http://127.0.0.1:9/", "--proxy", "http://127.0.0.1:9/", "--run-out", dir);

        Assert.Equal(4, result.ExitCode);
        Assert.Contains($"{backend}: line 3", result.Error, StringComparison.Ordinal);
        Assert.Equal(before, await File.ReadAllBytesAsync(backend));
        Assert.False(File.Exists(Path.Combine(dir, "proxy.run.partial")));
    }

    [Fact]
    public async Task Eval_TwoRunsOffline_ScoredAsTrecEvalC()
    {
        var dir = TestTemp.Folder("rank1-eval-runs-");
        var a = TabSeparatedCopy(dir, "a.run", "run.txt");
        var result = await CliRunner.RunAsync("eval", "--run", a, "--run", TrecFixture("run-good.txt"), "--qrels", TrecFixture("qrels.txt"), "--json",
            "--metrics", "ndcg@10,ndcg,mrr,recall@100,map");

        Assert.True(result.ExitCode == 0, result.Error);
        var json = JsonNode.Parse(result.Out)!;
        Assert.Equal(20, json["topics"]!.GetValue<int>()); // every topic of the qrels, as trec_eval -c
        foreach (var (metric, measure) in new[] { ("ndcg@10", "ndcg_cut_10"), ("ndcg", "ndcg"), ("mrr", "recip_rank"), ("recall@100", "recall_100"), ("map", "map") })
        {
            var row = json["metrics"]!.AsArray().Single(m => m!["metric"]!.GetValue<string>() == metric)!;
            Assert.Equal(Oracle("trec_eval-c-q-all_trec.txt", measure), row["a"]!.GetValue<double>(), 4);
            Assert.Equal(Oracle("trec_eval-c-q-all_trec.good.txt", measure), row["b"]!.GetValue<double>(), 4);
        }

        Assert.Equal(["a.run"], Directory.GetFiles(dir).Select(Path.GetFileName)); // nothing written
    }

    [Fact]
    public async Task Eval_Json_WritesTextPastAsciiAsUtf8_EscapingOnlyWhatJsonRequires()
    {
        // A run folder named in German and Japanese, with a quote: the paths come back as written (before, each character
        // past ASCII was a \uXXXX escape in a file piped to disk), the quote escaped as JSON requires.
        // An emoji and a backtick, which .NET's relaxed encoder still escapes, are written as themselves too (OutputJson).
        var dir = Path.Combine(TestTemp.Folder("rank1-eval-utf8-"), "Läufe \"東京\" `🏃`");
        Directory.CreateDirectory(dir);
        var (qrels, run) = (Path.Combine(dir, "qrels.txt"), Path.Combine(dir, "ä.run"));
        await File.WriteAllTextAsync(qrels, "1 0 d1 1\n");
        await File.WriteAllTextAsync(run, "1 Q0 d1 1 2 r\n");
        var result = await CliRunner.RunAsync("eval", "--run", run, "--run", run, "--qrels", qrels, "--metrics", "p@1", "--json");

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains("Läufe \\\"東京\\\" `🏃`", result.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("\\u", result.Out, StringComparison.Ordinal);
        Assert.Equal(Path.GetFullPath(run), JsonNode.Parse(result.Out)!["runs"]!["a"]!.GetValue<string>());
    }

    [Fact]
    public async Task Eval_TwoRunsOffline_Table()
    {
        var result = await CliRunner.RunAsync("eval", "--run", TrecFixture("run.txt"), "--run", TrecFixture("run-good.txt"), "--qrels", TrecFixture("qrels.txt"));
        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains("│ ndcg@10 ", result.Out, StringComparison.Ordinal);
        Assert.Contains("all 20 topics of the qrels", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Eval_TwoRunsOffline_Table_RoundsAsTrecEvalPrints()
    {
        // The relevant document at rank 32 in run a, 16 in run b: recip_rank 1/32 and 1/16, and P_32 1/32. trec_eval 10
        // (-c -m recip_rank -m P.32) prints 0.0312 and 0.0625 (printf %6.4f: 0.03125 is a tie, rounded to even).
        var dir = TestTemp.Folder("rank1-eval-rounding-");
        var (qrels, a, b) = (Path.Combine(dir, "q.txt"), Path.Combine(dir, "a.run"), Path.Combine(dir, "b.run"));
        await File.WriteAllTextAsync(qrels, "q1 0 d32 1\n");
        await File.WriteAllTextAsync(a, string.Concat(Enumerable.Range(1, 32).Select(i => $"q1 Q0 d{i} {i} {100 - i} a\n")));
        await File.WriteAllTextAsync(b, string.Concat(Enumerable.Range(1, 32).Select(i => $"q1 Q0 d{(i + 15) % 32 + 1} {i} {100 - i} b\n")));
        var result = await CliRunner.RunAsync("eval", "--run", a, "--run", b, "--qrels", qrels, "--metrics", "mrr,p@32");
        Assert.True(result.ExitCode == 0, result.Error);
        var rows = result.Out.Split('\n').Where(l => l.StartsWith("│ mrr", StringComparison.Ordinal) || l.StartsWith("│ p@32", StringComparison.Ordinal))
            .Select(l => l.Split('│', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Take(4));
        Assert.Equal([["mrr", "0.0312", "0.0625", "+0.0312"], ["p@32", "0.0312", "0.0312", "0.0000"]], rows);
    }

    [Trait(TestCategory.Name, TestCategory.Model)]
    [Fact]
    public async Task Eval_TableOutput_ShowsEveryMetricSideBySide()
    {
        var dir = TestTemp.Folder("rank1-eval-table-");
        var result = await CliRunner.RunAsync("eval", "--sample", "--model", TestPaths.TinyModel, "--max-think-tokens", "1", "--run-out", dir, "--metrics", "ndcg@5,p@3");
        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains("│ ndcg@5 ", result.Out, StringComparison.Ordinal);
        Assert.Contains("│ p@3 ", result.Out, StringComparison.Ordinal);
        Assert.Contains("randomisation", result.Out, StringComparison.Ordinal);
    }

    /// <summary>Writes the qrels and the run (bytes as given) into a new folder and compares the run with itself offline.</summary>
    private static async Task<(CliResult Result, string Qrels, string Run)> OfflineAsync(byte[] qrels, byte[] run, string metrics = "p@1,p@2,map")
    {
        var dir = TestTemp.Folder("rank1-eval-input-");
        var (qrelsFile, runFile) = (Path.Combine(dir, "qrels.txt"), Path.Combine(dir, "a.run"));
        await File.WriteAllBytesAsync(qrelsFile, qrels);
        await File.WriteAllBytesAsync(runFile, run);
        return (await CliRunner.RunAsync("eval", "--run", runFile, "--run", runFile, "--qrels", qrelsFile, "--metrics", metrics, "--json"), qrelsFile, runFile);
    }

    /// <summary>
    /// Inputs trec_eval reads, and its answers: trec_eval 10.0-rc3, <c>trec_eval -c -m P.1,2 -m map QRELS RUN</c>, gave
    /// P_1 = 1, P_2 = 0.5 and map = 1 on each of these.
    /// </summary>
    [Theory]
    [InlineData("1 0 d1 1\n1 0 d2 0\n", "1 Q0 d1 1 3 r extra\n1 Q0 d2 2 2 r\n")] // a seventh field: get_trec_results.c skips the rest of the line
    [InlineData("1 0 d1 1.0\n1 0 d2 0\n", "1 Q0 d1 1 3 r\n1 Q0 d2 2 2 r\n")] // a grade of 1.0: atol reads its leading integer, 1
    [InlineData("1 0 d\u00A0x 1\n", "1 Q0 d\u00A0x 1 2 r\n")] // a no-break space is no separator (isspace is ASCII): one id
    [InlineData("1 0 \U0001F600 1\n1 0 \uFF21 0\n", "1 Q0 \uFF21 1 5 r\n1 Q0 \U0001F600 2 5 r\n")] // a tie: strcmp puts U+1F600 (F0 9F ..) above U+FF21 (EF BC A1)
    [InlineData("1 0 d1 1\n1 0 d2 0\n", "1 Q0 d1 1 3 r\n1 Q0 d2 2 2 r\n9 Q0 x 1 2 r\n9 Q0 x 2 1 r\n")] // a document repeated in topic 9, which the qrels do not judge: trec_eval checks "duplicate docs" only in the topics it scores (form_res_rels.c)
    public async Task Eval_TwoRunsOffline_InputsTrecEvalReads_ScoreAsTrecEvalScoresThem(string qrels, string run)
    {
        var (result, _, _) = await OfflineAsync(System.Text.Encoding.UTF8.GetBytes(qrels), System.Text.Encoding.UTF8.GetBytes(run));
        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Equal([1.0, 0.5, 1.0], JsonNode.Parse(result.Out)!["metrics"]!.AsArray().Select(m => m!["a"]!.GetValue<double>()));
    }

    [Fact]
    public async Task Eval_InfiniteScores_AreRankedFirstAndLast_AsTrecEvalReadsThem()
    {
        // trec_eval reads a score with atof (get_trec_results.c): inf, Infinity, -INF and 1e400 are infinities, ranked
        // first and last, ties by docno (descending). trec_eval 10.0-rc3 (usnistgov/trec_eval f4253652), "trec_eval -c
        // -m P.1,2,3,4,5,6,7 -m map -m recip_rank -m ndcg", gave these values; before, the run was refused.
        var (result, _, _) = await OfflineAsync("1 0 d1 1\n1 0 d2 0\n1 0 d3 1\n1 0 d5 2\n"u8.ToArray(),
            "1 Q0 d1 1 -inf r\n1 Q0 d2 2 inf r\n1 Q0 d3 3 1.5 r\n1 Q0 d4 4 1e400 r\n1 Q0 d5 5 Infinity r\n1 Q0 d6 6 -INF r\n1 Q0 d7 7 -1e999 r\n"u8.ToArray(),
            "p@1,p@2,p@3,p@4,p@5,p@6,p@7,map,mrr,ndcg");
        Assert.True(result.ExitCode == 0, result.Error);
        double[] trecEval = [1.0, 0.5, 0.3333, 0.5, 0.4, 0.3333, 0.4286, 0.6429, 1.0, 0.8828];
        Assert.Equal(trecEval, JsonNode.Parse(result.Out)!["metrics"]!.AsArray().Select(m => Math.Round(m!["a"]!.GetValue<double>(), 4)));
    }

    [Fact]
    public async Task Eval_QrelsJudgingADocumentTwice_IsRefusedNamingFileLineTopicAndDocument()
    {
        // trec_eval refuses these qrels ("trec_eval.form_res_rels: duplicate docs d1"); we kept the last grade.
        var (result, qrels, _) = await OfflineAsync("1 0 d1 2\n1 0 d2 1\n1 0 d1 0\n"u8.ToArray(), "1 Q0 d1 1 3 r\n1 Q0 d2 2 2 r\n"u8.ToArray());
        Assert.Equal(4, result.ExitCode);
        Assert.Contains($"{qrels}: line 3: document 'd1' is judged twice for topic '1' (first on line 1)", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Eval_IdsThatAreNotUtf8_AreRefusedNamingFileAndLine()
    {
        // caf\xE8 and caf\xE9 are two ids to trec_eval (it compares bytes: map 0.5), one (caf\uFFFD) when decoded leniently.
        var (result, qrels, _) = await OfflineAsync(Latin1("1 0 caf\u00E9 1\n"), Latin1("1 Q0 caf\u00E8 1 2 r\n1 Q0 caf\u00E9 2 1 r\n"));
        Assert.Equal(4, result.ExitCode);
        Assert.Contains($"{qrels}: line 1: not valid UTF-8 (byte 0xE9, byte 8 of the line)", result.Error, StringComparison.Ordinal);

        var (run, _, runFile) = await OfflineAsync("1 0 d1 1\n"u8.ToArray(), Latin1("1 Q0 d1 1 2 r\n1 Q0 caf\u00E8 2 1 r\n"));
        Assert.Equal(4, run.ExitCode);
        Assert.Contains($"{runFile}: line 2: not valid UTF-8 (byte 0xE8, byte 9 of the line)", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Eval_PartialRunThatIsNotUtf8_IsRefusedNamingFileLineAndHowToStartAfresh()
    {
        // Read before any search: the backend and proxy given are never asked.
        var dir = TestTemp.Folder("rank1-eval-partial-");
        var (topics, qrels, runDir) = (Path.Combine(dir, "topics.tsv"), Path.Combine(dir, "qrels.txt"), Path.Combine(dir, "runs"));
        await File.WriteAllTextAsync(topics, "1\tonion\n");
        await File.WriteAllTextAsync(qrels, "1 0 d1 1\n");
        Directory.CreateDirectory(runDir);
        var partial = Path.Combine(runDir, "backend.run.partial");
        await File.WriteAllBytesAsync(partial, Latin1("1 Q0 caf\u00E8 1 2 r\n"));

        var result = await CliRunner.RunAsync("eval", "--topics", topics, "--qrels", qrels, "--index", "docs", "--backend", "http://127.0.0.1:9",
            "--proxy", "http://127.0.0.1:9", "--run-out", runDir);
        Assert.Equal(4, result.ExitCode);
        Assert.Contains($"{partial}: line 1: not valid UTF-8 (byte 0xE8, byte 9 of the line): ", result.Error, StringComparison.Ordinal);
        Assert.EndsWith("read as UTF-8 or refused (delete it to start this run afresh)", result.Error.TrimEnd(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Eval_DatasetQrelsThatAreNotUtf8_AreRefusedNamingFileAndLine()
    {
        // Read before the corpus is indexed or a model is looked for.
        var dataset = TestTemp.Folder("rank1-eval-beir-");
        await File.WriteAllTextAsync(Path.Combine(dataset, "corpus.jsonl"), "{\"_id\":\"d1\",\"text\":\"onion\"}\n");
        await File.WriteAllTextAsync(Path.Combine(dataset, "queries.jsonl"), "{\"_id\":\"1\",\"text\":\"onion\"}\n");
        var qrels = Path.Combine(Directory.CreateDirectory(Path.Combine(dataset, "qrels")).FullName, "test.tsv");
        await File.WriteAllBytesAsync(qrels, Latin1("query-id\tcorpus-id\tscore\n1\tcaf\u00E9\t1\n"));

        var result = await CliRunner.RunAsync("eval", "--dataset", dataset, "--run-out", Path.Combine(dataset, "runs"));
        Assert.Equal(4, result.ExitCode);
        Assert.Contains($"{qrels}: line 2: not valid UTF-8 (byte 0xE9, byte 6 of the line)", result.Error, StringComparison.Ordinal);
    }

    private static byte[] Latin1(string text) => System.Text.Encoding.Latin1.GetBytes(text);

    [Fact]
    public async Task Eval_RunThatIsADirectory_SaysSo()
    {
        var (result, qrels, run) = await OfflineAsync("1 0 d1 1\n"u8.ToArray(), "1 Q0 d1 1 2 r\n"u8.ToArray());
        Assert.True(result.ExitCode == 0, result.Error);
        var folder = Path.GetDirectoryName(run)!;
        var again = await CliRunner.RunAsync("eval", "--run", folder, "--run", run, "--qrels", qrels);
        Assert.Equal(4, again.ExitCode);
        Assert.Contains($"{folder}: is a directory, not a file", again.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "eval", "--run", "a.run", "--qrels", "q" }, 2, "--run compares two runs")]
    [InlineData(new[] { "eval", "--run", "a.run", "--run", "b.run" }, 2, "--qrels is required")]
    [InlineData(new[] { "eval", "--qrels", "q", "--index", "i" }, 2, "--topics is required")]
    [InlineData(new[] { "eval", "--sample", "--metrics", "recall" }, 2, "unknown metric 'recall'")]
    [InlineData(new[] { "eval", "--sample", "--metrics", "" }, 2, "--metrics names no metric")]
    [InlineData(new[] { "eval", "--sample", "--metrics", " , " }, 2, "--metrics names no metric")]
    [InlineData(new[] { "eval", "--sample", "--metrics", "p@99999999999" }, 2, "--metrics: the cut of 'p@99999999999' must be from 1 to 2147483647")]
    [InlineData(new[] { "eval", "--sample", "--metrics", "ndcg@0" }, 2, "--metrics: the cut of 'ndcg@0' must be from 1 to 2147483647")]
    [InlineData(new[] { "eval", "--run", "a.run", "--run", "b.run", "--qrels", "q", "--sample" }, 2, "--sample does not apply with --run")]
    [InlineData(new[] { "eval", "--run", "a.run", "--run", "b.run", "--qrels", "q", "--index", "i" }, 2, "--index does not apply with --run")]
    [InlineData(new[] { "eval", "--topics", "/nonexistent/topics.tsv", "--qrels", "q", "--index", "i" }, 4, "/nonexistent/topics.tsv: file not found")]
    [InlineData(new[] { "eval", "--topics", "x", "--qrels", "q", "--index", "i", "--backend", "ftp://x" }, 2, "--backend must be an http(s) URL")]
    public async Task Eval_BadArguments_OneLineAndExitCode(string[] args, int exitCode, string message)
    {
        var result = await CliRunner.RunAsync(args);
        Assert.Equal(exitCode, result.ExitCode);
        Assert.Contains(message, result.Error, StringComparison.Ordinal);
    }

    /// <summary>
    /// A BEIR qrels line whose score is not an integer was reported in TREC terms, quoting a line the file does not
    /// hold ("expected 'qid 0 docid relevance' ..., got 'q1 0 d1 x'"); it is named in the TSV's own terms, as written.
    /// </summary>
    [Theory]
    [InlineData("q1\td1\tx")]
    [InlineData("q1\td1\t")]
    [InlineData("q1\td1\t1 2")]
    public async Task Eval_BeirQrelsScoreNotAnInteger_NamesTheLineAsWritten(string line)
    {
        var (result, qrels, _) = await OfflineAsync(System.Text.Encoding.UTF8.GetBytes($"query-id\tcorpus-id\tscore\nq1\td2\t1\n{line}\n"), "q1 Q0 d1 1 1 r\n"u8.ToArray());
        Assert.Equal(4, result.ExitCode);
        Assert.Equal($"rank1-bridge eval: {qrels}: line 3: expected 'query-id<TAB>corpus-id<TAB>score' (score an integer), got '{line}'", result.Error.Trim());
    }

    /// <summary>
    /// A corpus line with a lone surrogate escape in its text or id, or a field given twice, was an unhandled exception
    /// while the corpus was sent (exit 134, a stack trace); an id or title that is an object was indexed as its JSON
    /// text. Each is one line naming the file, the line and the field, exit 4.
    /// </summary>
    [Trait(TestCategory.Name, TestCategory.Model)]
    [Theory]
    [InlineData("{\"_id\":\"d2\",\"text\":\"onion \\ud83d\"}", "\"text\" is not valid text: it holds an unpaired UTF-16 surrogate (half a character, e.g. an emoji cut in two)")]
    [InlineData("{\"_id\":\"d\\udc00\",\"text\":\"onion\"}", "\"_id\" is not valid text: it holds an unpaired UTF-16 surrogate (half a character, e.g. an emoji cut in two)")]
    [InlineData("{\"_id\":\"d2\",\"text\":\"onion\",\"text\":\"garlic\"}", "not valid JSON (Duplicate property 'text' encountered during deserialization.)")]
    [InlineData("{\"_id\":{\"n\":2},\"text\":\"onion\"}", "\"_id\" must be a string or a number")]
    [InlineData("{\"_id\":\"d2\",\"title\":[\"t\"],\"text\":\"onion\"}", "\"title\" must be a string")]
    public async Task Eval_DatasetCorpusLineWithBadText_OneLineNamingFileLineAndField(string corpusLine, string problem)
    {
        var dataset = TestTemp.Folder("rank1-eval-beir-corpus-");
        var corpus = Path.Combine(dataset, "corpus.jsonl");
        await File.WriteAllTextAsync(corpus, "{\"_id\":\"d1\",\"title\":null,\"text\":\"onion \\ud83d\\ude00\"}\n" + corpusLine + "\n");
        await File.WriteAllTextAsync(Path.Combine(dataset, "queries.jsonl"), "{\"_id\":\"q1\",\"text\":\"onion\"}\n");
        Directory.CreateDirectory(Path.Combine(dataset, "qrels"));
        await File.WriteAllTextAsync(Path.Combine(dataset, "qrels", "test.tsv"), "query-id\tcorpus-id\tscore\nq1\td1\t1\n");
        var r = await CliRunner.RunAsync("eval", "--dataset", dataset, "--model", TestPaths.TinyModel, "--max-think-tokens", "1", "--window", "2", "--run-out", Path.Combine(dataset, "runs"));
        Assert.Equal(4, r.ExitCode);
        Assert.Equal($"rank1-bridge eval: {corpus}: line 2: {problem}", r.Error.Trim().Split('\n')[^1]);
    }

    /// <summary>
    /// A cluster behind a gateway that answers HTML (a 502), an empty body, or a 200 that is no search response was an
    /// unhandled exception (a JsonException, a NullReferenceException: exit 134, a stack trace); it is the cluster's
    /// failure in one line, exit 1, with the start of what it answered. A 200 without hits is not read as a query
    /// that retrieved nothing, which would have scored it 0.
    /// </summary>
    [Theory]
    [InlineData(502, "text/html", "<html><body>502 Bad Gateway</body></html>", "answered 502: <html><body>502 Bad Gateway</body></html>")]
    [InlineData(200, "application/json", "", "answered 200 with no search response (hits.hits, each with an _id string): (an empty body)")]
    [InlineData(200, "application/json", "{\"took\":1}", "answered 200 with no search response (hits.hits, each with an _id string): {\"took\":1}")]
    [InlineData(200, "application/json", "{\"hits\":{\"hits\":[{\"_id\":5}]}}", "answered 200 with no search response (hits.hits, each with an _id string): {\"hits\":{\"hits\":[{\"_id\":5}]}}")]
    [InlineData(500, "application/json", "{\"error\":\"an old cluster's error is a string\"}", "answered 500: an old cluster's error is a string")]
    public async Task Eval_ClusterAnswersWhatIsNoSearchResponse_OneLineNamingTheUrlAndTheAnswer_Exit1(int status, string contentType, string body, string problem)
    {
        await using var cluster = await CannedClusterAsync(status, contentType, body);
        var url = cluster.Urls.First();

        var dir = TestTemp.Folder("rank1-eval-gateway-");
        await File.WriteAllTextAsync(Path.Combine(dir, "topics.tsv"), "q1\tonion\n");
        await File.WriteAllTextAsync(Path.Combine(dir, "qrels.txt"), "q1 0 d1 1\n");
        var r = await CliRunner.RunAsync("eval", "--topics", Path.Combine(dir, "topics.tsv"), "--qrels", Path.Combine(dir, "qrels.txt"), "--index", "docs",
            "--backend", url, "--proxy", url, "--run-out", Path.Combine(dir, "runs"));
        Assert.Equal(1, r.ExitCode);
        Assert.Equal($"rank1-bridge eval: {url}/docs/_search {problem}", r.Error.Trim().Split('\n')[^1]);
    }

    /// <summary>A dataset indexed through a gateway that answers an HTML 502 was a JsonException (exit 134); it is one line, exit 1.</summary>
    [Trait(TestCategory.Name, TestCategory.Model)]
    [Fact]
    public async Task Eval_DatasetIndexedThroughAGatewayAnsweringHtml_OneLineNamingTheUrlAndTheAnswer_Exit1()
    {
        await using var cluster = await CannedClusterAsync(502, "text/html", "<html><body>502 Bad Gateway</body></html>");
        var url = cluster.Urls.First();
        var r = await CliRunner.RunAsync("eval", "--dataset", Path.Combine(TestPaths.RepoRoot, "samples", "beir-demo"), "--backend", url, "--model", TestPaths.TinyModel,
            "--run-out", Path.Combine(TestTemp.Folder("rank1-eval-gateway-beir-"), "runs"));
        Assert.Equal(1, r.ExitCode);
        Assert.Equal($"rank1-bridge eval: {url}/_bulk refused the corpus (502): <html><body>502 Bad Gateway</body></html>", r.Error.Trim().Split('\n')[^1]);
    }

    /// <summary>A real HTTP server on loopback that answers every request with <paramref name="status"/> and <paramref name="body"/>.</summary>
    private static async Task<WebApplication> CannedClusterAsync(int status, string contentType, string body)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var cluster = builder.Build();
        cluster.Run(async context =>
        {
            context.Response.StatusCode = status;
            context.Response.ContentType = contentType;
            await context.Response.WriteAsync(body);
        });
        await cluster.StartAsync();
        return cluster;
    }

    [Fact]
    public async Task Eval_BadQrelsLine_NamesFileAndLine()
    {
        var dir = TestTemp.Folder("rank1-eval-bad-");
        var topics = Path.Combine(dir, "t.tsv");
        var qrels = Path.Combine(dir, "q.txt");
        await File.WriteAllTextAsync(topics, "q1\tonions\n");
        await File.WriteAllTextAsync(qrels, "q1 0 onion-02 2\nq1 onion-03\n");
        var result = await CliRunner.RunAsync("eval", "--sample", "--model", TestPaths.TinyModel, "--topics", topics, "--qrels", qrels, "--run-out", dir);
        Assert.Equal(4, result.ExitCode);
        Assert.Contains($"{qrels}: line 2", result.Error, StringComparison.Ordinal);
    }
}
