using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Rank1.EmbeddedSearch;
using Rank1.Inference;
using Rank1.SearchBridge.Cli.CommandLine;
using Rank1.SearchBridge.Cli.Evaluation;
using Rank1.SearchBridge.Http;
using Rank1.SearchBridge.Http.Proxy;
using Spectre.Console;

namespace Rank1.SearchBridge.Cli.Commands;

/// <summary>
/// <c>rank1-bridge eval</c>: runs every topic against the backend directly and through the proxy, writes both runs
/// in TREC format, and compares them per metric (trec_eval definitions) with per-query wins/losses and a paired
/// randomisation test. Runs resume from their partial run files after an interruption, when the folder's manifest
/// (<see cref="EvalRunManifest"/>) says they were made with the same settings. With <c>--run A --run B</c>
/// it compares two existing TREC runs offline, as <c>trec_eval -c</c> scores them.
/// </summary>
internal sealed class EvalCommand : CliCommand
{
    private const string BackendRun = "backend.run";
    private const string ProxyRun = "proxy.run";

    public override string Name => "eval";

    public override string Summary => "Measure whether reranking helps: backend vs proxy on your topics and judgments (nDCG, MRR, recall, MAP as trec_eval defines them).";

    private readonly Option<string[]> _run = CliOptions.Repeated("--run", "Compare two existing TREC runs offline (give it twice: --run A --run B) against --qrels; no cluster.", "FILE");
    private readonly Option<string?> _topics = CliOptions.Text("--topics", "Topics: TSV 'qid<TAB>query' or JSON Lines {\"qid\":..,\"query\":..}.", "FILE");
    private readonly Option<string?> _qrels = CliOptions.Text("--qrels", "Judgments in TREC format ('qid 0 docid relevance'), or a BEIR qrels TSV with its 'query-id corpus-id score' header.", "FILE");
    private readonly Option<string?> _index = CliOptions.IndexExpression(CliOptions.Text("--index", "Index (or index pattern) to search.", "NAME"));
    private readonly Option<string?> _backend = CliOptions.HttpUrl("--backend", "The cluster (default http://127.0.0.1:9200).");
    private readonly Option<string?> _proxy = CliOptions.HttpUrl("--proxy", "The Rank1 proxy in front of it (default http://127.0.0.1:8080).");
    private readonly Option<string?> _fields = CliOptions.Text("--fields", "Fields the query searches, comma-separated (default text).", "LIST");
    private readonly Option<int?> _depth = CliOptions.Int("--depth", "Hits per query in each run (default 100).", 1, 10_000);
    private readonly Option<int?> _window = CliOptions.Int("--window", "Rerank window asked of the proxy via ext.rank1 (default: the proxy's configuration).", 1, 1000);
    private readonly Option<string?> _template = PromptTemplateOption.Create();
    private readonly Option<string?> _metrics = CliOptions.Text("--metrics", "Comma-separated: ndcg, ndcg@K, mrr, mrr@K, recall@K, p@K, map (default ndcg@10,mrr@10,recall@100,map).", "LIST");
    private readonly Option<string?> _runOut = CliOptions.Text("--run-out", "Folder for the TREC run files (backend.run, proxy.run) and the manifest.json of the settings that made them: runs there made with the same settings are resumed (a partial run) or read (never rewritten), others refused (default ./eval-runs).", "DIR");
    private readonly Option<bool> _sample = CliOptions.Flag("--sample", "Evaluate the shipped sample corpus: starts the embedded search and the proxy in-process.");
    private readonly Option<string?> _dataset = CliOptions.Text("--dataset", "Evaluate a BEIR-format folder (corpus.jsonl, queries.jsonl, qrels/test.tsv): indexes the corpus into the embedded search (or --backend), starts the proxy in-process, BM25 top --depth vs Rank1 on the top --window (default 100).", "DIR");
    private readonly Option<string?> _model = ModelLocator.Option("With --sample or --dataset: the model folder (default: RANK1_MODEL_DIR, else the test model).");
    private readonly Option<int?> _maxThinkTokens = CliOptions.Int("--max-think-tokens", "With --sample or --dataset: reasoning budget per passage (default 64).", 0, Rank1EngineOptions.MaxThinkTokensLimit);
    private readonly Option<bool> _json = CliOptions.Flag("--json", "Print one JSON document instead of the table.");

    /// <summary>The options of an evaluation that searches (a cluster, --sample, --dataset), which --run has no use for.</summary>
    private IEnumerable<Option> OnlineOptions => Options.Except([_run, _qrels, _metrics, _json]);

    public override IReadOnlyList<Option> Options =>
        [_run, _topics, _qrels, _index, _backend, _proxy, _fields, _depth, _window, _template, _metrics, _runOut, _sample, _dataset, _model, _maxThinkTokens, _json];

    public override async Task<int> ExecuteAsync(ParseResult args, CliContext context, CancellationToken cancellationToken)
    {
        var depth = args.GetValue(_depth) ?? 100;
        var window = args.GetValue(_window);
        var template = args.GetValue(_template);
        var metrics = ParseMetrics(args.GetValue(_metrics) ?? "ndcg@10,mrr@10,recall@100,map");
        var fields = (args.GetValue(_fields) ?? "text").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (args.GetValue(_run) is { Length: > 0 } runFiles)
        {
            // Silently ignored, an option of an online evaluation would suggest it shaped the comparison.
            if (OnlineOptions.FirstOrDefault(o => args.GetResult(o) is { Implicit: false }) is { } online)
            {
                throw new UsageException($"{online.Name} does not apply with --run: the two runs are compared offline, as they are");
            }

            return await CompareRunsAsync(runFiles, args, metrics, context, cancellationToken).ConfigureAwait(false);
        }

        var dataset = args.GetValue(_dataset) is { } datasetFolder ? BeirDataset.Open(datasetFolder) : null;
        var runDir = Path.GetFullPath(args.GetValue(_runOut) ?? Path.Combine("eval-runs", dataset?.IndexName ?? string.Empty));
        var sample = dataset is null && args.GetValue(_sample);

        // The inputs are read and checked before anything starts or is indexed: a bad file fails at once.
        string topicsFile, qrelsFile, index;
        var cluster = sample ? null : args.GetValue(_backend);
        if (dataset is not null)
        {
            (topicsFile, qrelsFile, index) = (dataset.Queries, dataset.QrelsFile, args.GetValue(_index) ?? dataset.IndexName);
            window ??= 100; // BEIR and BRIGHT rerank the BM25 top 100
        }
        else if (sample)
        {
            topicsFile = args.GetValue(_topics) ?? Path.Combine(SampleCorpus.Folder, "queries.tsv");
            qrelsFile = args.GetValue(_qrels) ?? Path.Combine(SampleCorpus.Folder, "qrels.txt");
            index = SearchServerCommand.SampleIndex;
        }
        else
        {
            topicsFile = args.GetValue(_topics) ?? throw new UsageException("--topics is required");
            qrelsFile = args.GetValue(_qrels) ?? throw new UsageException("--qrels is required");
            index = args.GetValue(_index) ?? throw new UsageException("--index is required");
            cluster ??= "http://127.0.0.1:9200";
        }

        if ((dataset is not null || sample) && args.GetValue(_fields) is null)
        {
            fields = ["title", "text"];
        }

        // A dataset's queries.jsonl holds every split's queries; those evaluated are the ones its qrels judge (their ids checked there).
        var topics = await ReadTopicsAsync(topicsFile, checkIds: dataset is null, cancellationToken).ConfigureAwait(false);
        var qrels = dataset is not null ? await dataset.ReadQrelsAsync(cancellationToken).ConfigureAwait(false) : await ReadQrelsAsync(qrelsFile, cancellationToken).ConfigureAwait(false);
        RequireJudgments(qrels, qrelsFile);
        if (dataset is not null)
        {
            // queries.jsonl holds every split's queries: the test split is the queries its qrels judge.
            topics = topics.Where(t => qrels.QueryIds.Contains(t.Id)).ToList();
        }

        // Every topic is searched: one without text would stop the evaluation midway (the proxy refuses a search it
        // can find no query text in), after the corpus is indexed and the runs are half written.
        if (topics.FirstOrDefault(t => string.IsNullOrWhiteSpace(t.Query)) is { } blank)
        {
            throw new CliException($"{topicsFile}:{blank.Line}: topic '{blank.Id}' has no query text: there is nothing to search for", ExitCodes.BadInput);
        }

        var judged = topics.Where(t => qrels.QueryIds.Contains(t.Id)).Select(t => t.Id).ToList();
        if (judged.Count == 0)
        {
            throw new CliException($"none of the {topics.Count} topics of {topicsFile} has a judgment in {qrelsFile}: there is nothing to average (are the topic ids the qrels' ids?)", ExitCodes.BadInput);
        }

        // The corpus too, whole: a bad line found while indexing would stop the evaluation after part of it was sent.
        var corpus = dataset is not null ? await dataset.CorpusSizeAsync(cancellationToken).ConfigureAwait(false) : null;

        var inProcess = dataset is not null || sample;
        var model = inProcess ? Path.GetFullPath(ModelLocator.Resolve(args.GetValue(_model), context)) : null;
        var maxThinkTokens = inProcess ? args.GetValue(_maxThinkTokens) ?? 64 : (int?)null;
        var settings = EvalRunManifest.Describe(cluster is null ? "embedded" : Url(cluster).ToString(),
            dataset is not null ? $"{Path.GetFullPath(dataset.Corpus)} ({new FileInfo(dataset.Corpus).Length} bytes)" : sample ? "the sample corpus" : null,
            index, inProcess ? "in-process" : Url(args.GetValue(_proxy) ?? "http://127.0.0.1:8080").ToString(), model, maxThinkTokens,
            fields, depth, window, template, topics.Select(t => (t.Id, t.Query)));

        Directory.CreateDirectory(runDir);
        var backendRun = await EvalRunFile.OpenAsync(Path.Combine(runDir, BackendRun), cancellationToken).ConfigureAwait(false);
        var proxyRun = await EvalRunFile.OpenAsync(Path.Combine(runDir, ProxyRun), cancellationToken).ConfigureAwait(false);
        await EvalRunManifest.CheckOrWriteAsync(runDir, settings, backendRun.Exists || proxyRun.Exists, cancellationToken).ConfigureAwait(false);
        var topicIds = topics.Select(t => t.Id).ToList();
        EvalRunManifest.CheckCovers(backendRun, topicIds);
        EvalRunManifest.CheckCovers(proxyRun, topicIds);

        EmbeddedSearchServer? search = null;
        ProxyServer? proxy = null;
        try
        {
            Uri backendUrl, proxyUrl;
            if (dataset is not null)
            {
                if (cluster is not null)
                {
                    backendUrl = Url(cluster);
                }
                else
                {
                    search = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 }, context.LoggerFactory, context.Time, cancellationToken).ConfigureAwait(false);
                    backendUrl = search.Url;
                }

                await IndexDatasetAsync(dataset, corpus!, backendUrl, index, context, cancellationToken).ConfigureAwait(false);
                proxy = await StartProxyAsync(backendUrl, model!, maxThinkTokens!.Value, context, cancellationToken).ConfigureAwait(false);
                proxyUrl = proxy.Url;
            }
            else if (sample)
            {
                search = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 }, context.LoggerFactory, context.Time, cancellationToken).ConfigureAwait(false);
                await SampleCorpus.LoadAsync(search, index, cancellationToken).ConfigureAwait(false);
                proxy = await StartProxyAsync(search.Url, model!, maxThinkTokens!.Value, context, cancellationToken).ConfigureAwait(false);
                backendUrl = search.Url;
                proxyUrl = proxy.Url;
            }
            else
            {
                backendUrl = Url(cluster!);
                proxyUrl = Url(args.GetValue(_proxy) ?? "http://127.0.0.1:8080");
            }

            // A complete run is read as it is (it covers every topic: checked above) and never searched into.
            var todo = topics.Where(t => (!backendRun.Complete && !backendRun.Has(t.Id)) || (!proxyRun.Complete && !proxyRun.Has(t.Id))).ToList();
            var resumed = topics.Count - todo.Count;

            if (resumed > 0)
            {
                // Said plainly, not only in the progress bar: a console that is not interactive may never draw it.
                await context.Error.WriteLineAsync($"eval: {resumed} of {topics.Count} queries resumed from the runs in {runDir}").ConfigureAwait(false);
            }

            var repeated = 0;
            using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(30) };
            var progressConsole = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(context.Error) });
            await progressConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                .StartAsync(async ctx =>
                {
                    var task = ctx.AddTask($"eval {topics.Count} queries{(resumed > 0 ? $" ({resumed} resumed)" : string.Empty)}", maxValue: Math.Max(1, topics.Count));
                    task.Increment(resumed);
                    foreach (var topic in todo)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        var body = new JsonObject
                        {
                            ["size"] = depth,
                            ["_source"] = false,
                            ["query"] = new JsonObject { ["multi_match"] = new JsonObject { ["query"] = topic.Query, ["fields"] = new JsonArray(fields.Select(f => (JsonNode)f).ToArray()) } },
                        };
                        if (!backendRun.Complete && !backendRun.Has(topic.Id))
                        {
                            repeated += await backendRun.AppendAsync(topic.Id, await SearchAsync(http, backendUrl, index, body, cancellationToken).ConfigureAwait(false), "bm25", cancellationToken).ConfigureAwait(false);
                        }

                        if (window is not null || template is not null)
                        {
                            var rank1 = new JsonObject();
                            if (window is { } w)
                            {
                                rank1["window"] = w;
                            }

                            if (template is not null)
                            {
                                rank1["prompt_template"] = template;
                            }

                            body["ext"] = new JsonObject { ["rank1"] = rank1 };
                        }

                        if (!proxyRun.Complete && !proxyRun.Has(topic.Id))
                        {
                            repeated += await proxyRun.AppendAsync(topic.Id, await SearchAsync(http, proxyUrl, index, body, cancellationToken).ConfigureAwait(false), "rank1", cancellationToken).ConfigureAwait(false);
                        }

                        task.Increment(1);
                    }
                }).ConfigureAwait(false);

            backendRun.Finish();
            proxyRun.Finish();
            if (repeated > 0)
            {
                // Counted twice, one document would inflate every metric, and trec_eval refuses such a run.
                await context.Error.WriteLineAsync($"eval: {repeated} hits repeated a document id already retrieved for their query (an index pattern whose indices share an _id?): each id is kept at its first rank only").ConfigureAwait(false);
            }

            var rows = metrics.Select(m => Row(m, judged.Select(q => TrecEval.Compute(m, backendRun.Entries(q), qrels.For(q))).ToArray(),
                judged.Select(q => TrecEval.Compute(m, proxyRun.Entries(q), qrels.For(q))).ToArray())).ToArray();

            var runs = new Runs("backend", "proxy", backendRun.Path, proxyRun.Path);
            if (args.GetValue(_json))
            {
                await WriteJsonAsync(context.Out, topics.Count, judged.Count, runs, rows).ConfigureAwait(false);
            }
            else
            {
                WriteTable(context, runs, rows,
                    $"{judged.Count} of {topics.Count} topics have judgments and are averaged; wins/losses count queries where the proxy scores higher/lower.",
                    "proxy: through Rank1.SearchBridge (reranked); p: two-sided paired randomisation (sign-flip) test, 10,000 permutations, seed 42.");
            }

            return ExitCodes.Ok;
        }
        finally
        {
            if (proxy is not null)
            {
                await proxy.DisposeAsync().ConfigureAwait(false);
            }

            if (search is not null)
            {
                await search.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>The proxy in-process in front of <paramref name="backend"/>, with the model and the sample's rule.</summary>
    private static Task<ProxyServer> StartProxyAsync(Uri backend, string model, int maxThinkTokens, CliContext context, CancellationToken cancellationToken) =>
        ProxyServer.StartAsync(new Dictionary<string, string?>
        {
            ["Urls"] = "http://127.0.0.1:0",
            ["Rank1:Backend:Url"] = backend.ToString(),
            ["Rank1:Model:Path"] = model,
            ["Rank1:Proxy:Default:TitleField"] = "title",
            ["Rank1:Proxy:Default:MaxThinkTokens"] = maxThinkTokens.ToString(CultureInfo.InvariantCulture),
            ["Rank1:Proxy:Default:Deadline"] = "00:10:00",
        }.Concat(HostSettings.OwnCallerCaps()).ToDictionary(), loggerFactory: context.LoggerFactory, cancellationToken: cancellationToken);

    /// <summary>
    /// Indexes the dataset's corpus, unless the index already holds all its documents (a resumed evaluation). Decided
    /// before anything is written: the index's <c>_count</c> and how many of the corpus's ids it holds
    /// (<see cref="BeirDataset.CountHeldAsync"/>) tell the documents it holds that the corpus does not give; an index
    /// holding any is refused, not written to (<c>--index</c> may name the user's own) nor searched (every query would
    /// search them too). One that lacks some of the corpus's (an interrupted indexing) is indexed again: a bulk
    /// <c>index</c> action replaces a document it holds.
    /// </summary>
    private static async Task IndexDatasetAsync(BeirDataset dataset, CorpusSize corpus, Uri cluster, string index, CliContext context, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(10) };
        if (await BeirDataset.CountAsync(http, cluster, index, cancellationToken).ConfigureAwait(false) is { } count && count > 0)
        {
            var held = await dataset.CountHeldAsync(http, cluster, index, cancellationToken).ConfigureAwait(false);
            var stray = count - held;
            if (stray > 0)
            {
                throw new CliException($"{index} holds {stray} {(stray == 1 ? "document" : "documents")} (of its {count}) that {dataset.Corpus} does not give: every query would search {(stray == 1 ? "it" : "them")} too (an index made from another corpus?); nothing was written to it: delete the index, or name another with --index", ExitCodes.Failure);
            }

            if (held == corpus.Documents)
            {
                await context.Error.WriteLineAsync($"eval: {index} already holds the {corpus.Documents} documents of {dataset.Corpus}: not indexed again").ConfigureAwait(false);
                return;
            }
        }

        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(context.Error) });
        await console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(async ctx =>
            {
                // Counted in lines sent, as IndexAsync reports them: a repeated _id is a line sent, not a document more.
                var task = ctx.AddTask($"index {corpus.Documents} documents into {index}", maxValue: Math.Max(1, corpus.Lines));
                await dataset.IndexAsync(http, cluster, index, done => task.Value = done, cancellationToken).ConfigureAwait(false);
            }).ConfigureAwait(false);

        // Said plainly, not only in the progress bar: a console that is not interactive draws it at milestones of a
        // running task only, so a corpus indexed within a second was never mentioned.
        var repeats = corpus.Lines - corpus.Documents;
        await context.Error.WriteLineAsync($"eval: indexed the {corpus.Documents} documents of {dataset.Corpus} into {index}"
            + (repeats > 0 ? $" ({repeats} {(repeats == 1 ? "line repeats" : "lines repeat")} an _id given before: the last line of an id is kept, as a bulk index action and BEIR's loader keep it)" : string.Empty)).ConfigureAwait(false);
    }

    /// <summary>
    /// <c>--run A --run B --qrels Q</c>: both runs scored as <c>trec_eval -c</c> does (every query of the qrels, one
    /// missing from a run scoring 0), B compared with A. Nothing is written.
    /// </summary>
    private async Task<int> CompareRunsAsync(IReadOnlyList<string> files, ParseResult args, Metric[] metrics, CliContext context, CancellationToken cancellationToken)
    {
        if (files.Count != 2)
        {
            throw new UsageException($"--run compares two runs: give it twice, --run A --run B (got {files.Count})");
        }

        var qrelsFile = args.GetValue(_qrels) ?? throw new UsageException("--qrels is required");
        var qrels = await ReadQrelsAsync(qrelsFile, cancellationToken).ConfigureAwait(false);
        RequireJudgments(qrels, qrelsFile);
        var a = await ReadRunAsync(files[0], qrels, cancellationToken).ConfigureAwait(false);
        var b = await ReadRunAsync(files[1], qrels, cancellationToken).ConfigureAwait(false);
        var rows = metrics.Select(m => Row(m, TrecEval.Evaluate(m, a, qrels).PerQuery.Values.ToArray(), TrecEval.Evaluate(m, b, qrels).PerQuery.Values.ToArray())).ToArray();

        var runs = new Runs("a", "b", Path.GetFullPath(files[0]), Path.GetFullPath(files[1]));
        if (args.GetValue(_json))
        {
            await WriteJsonAsync(context.Out, qrels.QueryIds.Count, qrels.QueryIds.Count, runs, rows).ConfigureAwait(false);
        }
        else
        {
            WriteTable(context, runs, rows,
                $"a = {files[0]}, b = {files[1]}; the mean is over all {qrels.QueryIds.Count} topics of the qrels, a topic missing from a run scoring 0 (trec_eval -c).",
                "wins/losses count topics where b scores higher/lower; p: two-sided paired randomisation (sign-flip) test, 10,000 permutations, seed 42.");
        }

        return ExitCodes.Ok;
    }

    // A run scored on the qrels' topics: a document listed twice for one of them is refused, as trec_eval refuses it.
    private static async Task<TrecRun> ReadRunAsync(string file, Qrels qrels, CancellationToken cancellationToken)
    {
        CheckInputFile(file);
        if (new FileInfo(file).Length == 0)
        {
            // trec_eval too: "Cannot read results file" (get_trec_results.c reads no file of size 0). An empty run is
            // more likely a system that failed than one that retrieved nothing for every topic.
            throw new CliException($"{file}: empty file: trec_eval refuses an empty run rather than scoring every topic 0", ExitCodes.BadInput);
        }

        try
        {
            var run = await TrecRun.ReadAsync(file, cancellationToken).ConfigureAwait(false);
            run.RequireNoRepeats(qrels.QueryIds);
            return run;
        }
        catch (FormatException ex)
        {
            throw new CliException(ex.Message, ExitCodes.BadInput);
        }
    }

    // TREC qrels (qid 0 docid grade), or a BEIR dataset's qrels/test.tsv as it is (recognised by its header line).
    private static async Task<Qrels> ReadQrelsAsync(string file, CancellationToken cancellationToken)
    {
        var lines = await ReadLinesAsync(file, cancellationToken).ConfigureAwait(false);
        if (BeirDataset.IsBeirQrels(lines))
        {
            return BeirDataset.ParseQrels(file, lines);
        }

        try
        {
            return Qrels.Parse(lines);
        }
        catch (FormatException ex)
        {
            throw TrecInputFile.BadInput(file, ex);
        }
    }

    /// <summary>Qrels that judge nothing leave no topic to average: an error, not a table of zeros.</summary>
    private static void RequireJudgments(Qrels qrels, string file)
    {
        if (qrels.QueryIds.Count == 0)
        {
            throw new CliException($"{file}: no judgments (TREC qrels 'qid 0 docid relevance', or BEIR's 'query-id<TAB>corpus-id<TAB>score'): there is nothing to evaluate against", ExitCodes.BadInput);
        }
    }

    /// <summary>One metric's row: B compared with A over the same queries.</summary>
    private static MetricRow Row(Metric metric, double[] a, double[] b) =>
        new(metric.ToString(), Mean(a), Mean(b), b.Zip(a).Count(p => p.First > p.Second + 1e-12), b.Zip(a).Count(p => p.First < p.Second - 1e-12),
            TrecEval.PairedRandomizationPValue(b, a));

    /// <summary>A topic and the line of its file that gives it.</summary>
    private sealed record Topic(string Id, string Query, int Line);

    /// <summary>The two runs compared: their names in the output (JSON keys and table columns) and their files.</summary>
    private sealed record Runs(string A, string B, string FileA, string FileB);

    private sealed record MetricRow(string Metric, double A, double B, int Wins, int Losses, double PValue);

    private static double Mean(double[] values) => values.Length == 0 ? 0 : values.Average();

    /// <summary>An http(s) URL (checked while parsing) as a base for relative paths.</summary>
    private static Uri Url(string value) => new(value.EndsWith('/') ? value : value + "/");

    private static Metric[] ParseMetrics(string list)
    {
        var metrics = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(name => TrecEval.TryParseMetric(name, out var m, out var problem) ? m : throw new UsageException($"--metrics: {problem}"))
            .ToArray();
        return metrics.Length > 0 ? metrics : throw new UsageException("--metrics names no metric (use ndcg, ndcg@K, mrr, mrr@K, recall@K, p@K, map)");
    }

    private static Task<string[]> ReadLinesAsync(string file, CancellationToken cancellationToken)
    {
        CheckInputFile(file);
        return TrecInputFile.ReadLinesAsync(file, cancellationToken);
    }

    /// <summary>An input file that is missing, or a folder given for one, is a one-line bad input.</summary>
    private static void CheckInputFile(string file)
    {
        if (Directory.Exists(file))
        {
            throw new CliException($"{file}: is a directory, not a file", ExitCodes.BadInput);
        }

        if (!File.Exists(file))
        {
            throw new CliException($"{file}: file not found", ExitCodes.BadInput);
        }
    }

    /// <summary>
    /// The topics of <paramref name="file"/> (TSV or JSON Lines, mixed), in file order. A topic id given twice is an
    /// error naming the second line: run once per id, it would be counted twice in every mean. With
    /// <paramref name="checkIds"/>, so is an id that is empty or holds white space: every topic is written into the
    /// TREC runs, whose fields are separated by white space (a line "q 1 Q0 d1 ..." is topic "q", document "Q0").
    /// </summary>
    private static async Task<IReadOnlyList<Topic>> ReadTopicsAsync(string file, bool checkIds, CancellationToken cancellationToken)
    {
        var topics = new List<Topic>();
        var firstLine = new Dictionary<string, int>(StringComparer.Ordinal);
        var n = 0;
        foreach (var line in await ReadLinesAsync(file, cancellationToken).ConfigureAwait(false))
        {
            n++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            var topic = line.TrimStart().StartsWith('{') ? JsonTopic(file, n, line) : TsvTopic(file, n, line);
            if (checkIds && (topic.Id.Length == 0 || topic.Id.Any(TrecText.IsSeparator)))
            {
                throw new CliException($"{file}:{n}: topic id '{topic.Id}' is empty or holds white space, which a TREC run cannot hold (its fields are separated by white space)", ExitCodes.BadInput);
            }

            if (!firstLine.TryAdd(topic.Id, n))
            {
                throw new CliException($"{file}:{n}: topic '{topic.Id}' is given twice (first on line {firstLine[topic.Id]}); each topic id must be given once", ExitCodes.BadInput);
            }

            topics.Add(topic);
        }

        return topics.Count > 0 ? topics : throw new CliException($"{file}: no topics", ExitCodes.BadInput);
    }

    /// <summary>
    /// A JSON Lines topic: its id (<c>qid</c>, <c>id</c> or BEIR's <c>_id</c>: a string or a number) and its text
    /// (<c>query</c>, or BEIR's <c>text</c>: a string). Anything else (a field given twice included) is a bad input
    /// naming the file and line, never an unhandled exception.
    /// </summary>
    private static Topic JsonTopic(string file, int n, string line)
    {
        var where = $"{file}:{n}";
        try
        {
            using var doc = JsonDocument.Parse(line, JsonLineText.Strict);
            var o = doc.RootElement;
            if (o.ValueKind != JsonValueKind.Object)
            {
                throw new CliException($"{where}: expected a JSON object", ExitCodes.BadInput);
            }

            if (Field(o, "qid", "id", "_id") is not (string idName, var idValue) || Field(o, "query", "text") is not (string queryName, var queryValue))
            {
                throw new CliException($"{where}: needs \"qid\" and \"query\"", ExitCodes.BadInput);
            }

            var id = idValue.ValueKind switch
            {
                JsonValueKind.String => JsonLineText.Of(idValue, where, idName),
                JsonValueKind.Number => idValue.GetRawText(),
                _ => throw new CliException($"{where}: \"{idName}\" must be a string or a number", ExitCodes.BadInput),
            };
            return queryValue.ValueKind == JsonValueKind.String
                ? new Topic(id, JsonLineText.Of(queryValue, where, queryName), n)
                : throw new CliException($"{where}: \"{queryName}\" must be a string", ExitCodes.BadInput);
        }
        catch (JsonException ex)
        {
            throw JsonLineText.NotValidJson(where, ex, file, n);
        }
    }

    /// <summary>The first of <paramref name="names"/> that <paramref name="o"/> holds and is not null, with its value.</summary>
    private static (string Name, JsonElement Value)? Field(JsonElement o, params string[] names)
    {
        foreach (var name in names)
        {
            if (o.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null)
            {
                return (name, value);
            }
        }

        return null;
    }

    private static Topic TsvTopic(string file, int n, string line)
    {
        var tab = line.IndexOf('\t', StringComparison.Ordinal);
        return tab > 0 ? new Topic(line[..tab].Trim(), line[(tab + 1)..].Trim(), n) : throw new CliException($"{file}:{n}: expected 'qid<TAB>query'", ExitCodes.BadInput);
    }

    private static async Task<IReadOnlyList<string>> SearchAsync(HttpClient http, Uri baseUrl, string index, JsonObject body, CancellationToken cancellationToken)
    {
        var url = new Uri(baseUrl, $"{index}/_search");
        HttpResponseMessage response;
        try
        {
            response = await http.PostAsync(url, new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"), cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new CliException($"cannot reach {url}: {ex.Message}", ExitCodes.Failure);
        }

        using (response)
        {
            // A gateway in front of the cluster may answer anything (an HTML 502, an empty body): that is the
            // cluster's failure, said in one line, never an unhandled exception; nor is an answer without hits read
            // as a query that retrieved nothing, which would score it 0.
            var (json, text) = await ClusterAnswer.ReadAsync(response, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw new CliException($"{url} answered {(int)response.StatusCode}: {ClusterAnswer.Reason(json, text)}", ExitCodes.Failure);
            }

            if ((json?["hits"] as JsonObject)?["hits"] is not JsonArray hits || hits.Any(h => h?["_id"] is not JsonValue id || id.GetValueKind() != JsonValueKind.String))
            {
                throw new CliException($"{url} answered {(int)response.StatusCode} with no search response (hits.hits, each with an _id string): {ClusterAnswer.Excerpt(text)}", ExitCodes.Failure);
            }

            return hits.Select(h => h!["_id"]!.GetValue<string>()).ToArray();
        }
    }

    private static void WriteTable(CliContext context, Runs runs, MetricRow[] rows, string averaged, string legend)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(context.Out), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors });
        console.Profile.Width = 120; // not a terminal (a pipe, a file, CI): do not wrap at 80 columns
        var table = new Table().AddColumns("metric", runs.A, runs.B, "Δ", "wins", "losses", "p");
        foreach (var r in rows)
        {
            table.AddRow(r.Metric, F(r.A), F(r.B), Delta(r.B - r.A),
                r.Wins.ToString(CultureInfo.InvariantCulture), r.Losses.ToString(CultureInfo.InvariantCulture), r.PValue.ToString("0.0000", CultureInfo.InvariantCulture));
        }

        console.Write(table);
        console.WriteLine(averaged);
        console.WriteLine(legend);
        console.WriteLine($"Runs (TREC format): {runs.FileA}, {runs.FileB}");
    }

    /// <summary>
    /// A value with 4 decimals as trec_eval prints it (<c>%6.4f</c>: the exact binary value rounded, a tie to even), which
    /// "F4" does; the custom format "0.0000" rounds the shortest decimal text half away from zero instead, so 1/32
    /// (a recip_rank of rank 32) was 0.0313 where trec_eval prints 0.0312, and 0.28745 (just below the tie) 0.2875.
    /// </summary>
    private static string F(double v) => v.ToString("F4", CultureInfo.InvariantCulture);

    /// <summary>A difference as <see cref="F"/> rounds it, with its sign, or 0.0000 when it rounds to zero.</summary>
    private static string Delta(double d)
    {
        var size = F(Math.Abs(d));
        return size == F(0) ? size : (d > 0 ? "+" : "-") + size;
    }

    private static async Task WriteJsonAsync(TextWriter output, int topics, int judged, Runs runs, MetricRow[] rows)
    {
        var doc = new JsonObject
        {
            ["topics"] = topics,
            ["judged_topics"] = judged,
            ["significance_test"] = "paired randomisation (sign-flip), two-sided, 10000 permutations, seed 42",
            ["runs"] = new JsonObject { [runs.A] = runs.FileA, [runs.B] = runs.FileB },
            ["metrics"] = new JsonArray(rows.Select(r => (JsonNode)new JsonObject
            {
                ["metric"] = r.Metric,
                [runs.A] = r.A,
                [runs.B] = r.B,
                ["delta"] = r.B - r.A,
                ["wins"] = r.Wins,
                ["losses"] = r.Losses,
                ["p_value"] = r.PValue,
            }).ToArray()),
        };
        // Text past ASCII (a run file's path) is written as is, as the rerank service writes it; what JSON requires is still escaped.
        await output.WriteLineAsync(OutputJson.Utf8(doc.ToJsonString(OutputJson.Indented))).ConfigureAwait(false);
    }
}
