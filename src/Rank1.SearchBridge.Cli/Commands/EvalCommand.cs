using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Rank1.EmbeddedSearch;
using Rank1.SearchBridge.Cli.CommandLine;
using Rank1.SearchBridge.Evaluation;
using Rank1.SearchBridge.Proxy;
using Spectre.Console;

namespace Rank1.SearchBridge.Cli.Commands;

/// <summary>
/// <c>rank1-bridge eval</c>: runs every topic against the backend directly and through the proxy, writes both runs
/// in TREC format, and compares them per metric (trec_eval definitions) with per-query wins/losses and a paired
/// randomisation test. Runs resume from their run files after an interruption.
/// </summary>
internal sealed class EvalCommand : CliCommand
{
    private const string BackendRun = "backend.run";
    private const string ProxyRun = "proxy.run";

    public override string Name => "eval";

    public override string Summary => "Measure whether reranking helps: backend vs proxy on your topics and judgments (nDCG, MRR, recall, MAP as trec_eval defines them).";

    public override IReadOnlyList<OptionSpec> Options { get; } =
    [
        new("topics", "Topics: TSV 'qid<TAB>query' or JSON Lines {\"qid\":..,\"query\":..}.", "FILE"),
        new("qrels", "Judgments in TREC format: 'qid 0 docid relevance'.", "FILE"),
        new("index", "Index (or index pattern) to search.", "NAME"),
        new("backend", "The cluster (default http://127.0.0.1:9200).", "URL"),
        new("proxy", "The Rank1 proxy in front of it (default http://127.0.0.1:8080).", "URL"),
        new("fields", "Fields the query searches, comma-separated (default text).", "LIST"),
        new("depth", "Hits per query in each run (default 100).", "N"),
        new("window", "Rerank window asked of the proxy via ext.rank1 (default: the proxy's configuration).", "N"),
        new("metrics", "Comma-separated: ndcg, ndcg@K, mrr, mrr@K, recall@K, p@K, map (default ndcg@10,mrr@10,recall@100,map).", "LIST"),
        new("run-out", "Folder for the TREC run files; an existing partial run there is resumed (default ./eval-runs).", "DIR"),
        new("sample", "Evaluate the shipped sample corpus: starts the embedded search and the proxy in-process."),
        new("model", "With --sample: the model folder (default: RANK1_MODEL_DIR, else the test model).", "DIR"),
        new("max-think-tokens", "With --sample: reasoning budget per passage (default 64).", "N"),
        new("json", "Print one JSON document instead of the table."),
    ];

    public override async Task<int> ExecuteAsync(ParsedArgs args, CliContext context, CancellationToken cancellationToken)
    {
        var depth = args.GetInt("depth", 1, 10_000) ?? 100;
        var window = args.GetInt("window", 1, 1000);
        var metrics = ParseMetrics(args.Get("metrics") ?? "ndcg@10,mrr@10,recall@100,map");
        var fields = (args.Get("fields") ?? "text").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var runDir = Path.GetFullPath(args.Get("run-out") ?? Path.Combine(context.CurrentDirectory, "eval-runs"));

        EmbeddedSearchServer? search = null;
        ProxyServer? proxy = null;
        try
        {
            string topicsFile, qrelsFile, index;
            Uri backendUrl, proxyUrl;
            if (args.Has("sample"))
            {
                topicsFile = args.Get("topics") ?? Path.Combine(SampleCorpus.Folder, "queries.tsv");
                qrelsFile = args.Get("qrels") ?? Path.Combine(SampleCorpus.Folder, "qrels.txt");
                index = SearchServerCommand.SampleIndex;
                if (!args.Has("fields"))
                {
                    fields = ["title", "text"];
                }

                search = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 }, context.LoggerFactory, context.Time, cancellationToken).ConfigureAwait(false);
                await SampleCorpus.LoadAsync(search, index, cancellationToken).ConfigureAwait(false);
                proxy = await ProxyServer.StartAsync(new Dictionary<string, string?>
                {
                    ["Urls"] = "http://127.0.0.1:0",
                    ["Rank1:Proxy:Backend"] = search.Url.ToString(),
                    ["Rank1:Model:Path"] = ModelLocator.Resolve(args, context),
                    ["Rank1:Proxy:Default:TitleField"] = "title",
                    ["Rank1:Proxy:Default:MaxThinkTokens"] = (args.GetInt("max-think-tokens", 0, 32_768) ?? 64).ToString(CultureInfo.InvariantCulture),
                    ["Rank1:Proxy:Default:DeadlineMs"] = "600000",
                }, loggerFactory: context.LoggerFactory, cancellationToken: cancellationToken).ConfigureAwait(false);
                backendUrl = search.Url;
                proxyUrl = proxy.Url;
            }
            else
            {
                topicsFile = args.Require("topics");
                qrelsFile = args.Require("qrels");
                index = args.Require("index");
                backendUrl = Url(args.Get("backend") ?? "http://127.0.0.1:9200", "backend");
                proxyUrl = Url(args.Get("proxy") ?? "http://127.0.0.1:8080", "proxy");
            }

            var topics = await ReadTopicsAsync(topicsFile, cancellationToken).ConfigureAwait(false);
            Qrels qrels;
            try
            {
                qrels = Qrels.Parse(await ReadLinesAsync(qrelsFile, cancellationToken).ConfigureAwait(false));
            }
            catch (FormatException ex)
            {
                throw new CliException($"{qrelsFile}: {ex.Message}", ExitCodes.BadInput);
            }

            Directory.CreateDirectory(runDir);
            var backendRun = RunFile.Open(Path.Combine(runDir, BackendRun));
            var proxyRun = RunFile.Open(Path.Combine(runDir, ProxyRun));
            var todo = topics.Where(t => !backendRun.Has(t.Id) || !proxyRun.Has(t.Id)).ToList();
            var resumed = topics.Count - todo.Count;

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
                        if (!backendRun.Has(topic.Id))
                        {
                            backendRun.Append(topic.Id, await SearchAsync(http, backendUrl, index, body, cancellationToken).ConfigureAwait(false), "bm25");
                        }

                        if (window is { } w)
                        {
                            body["ext"] = new JsonObject { ["rank1"] = new JsonObject { ["window"] = w } };
                        }

                        if (!proxyRun.Has(topic.Id))
                        {
                            proxyRun.Append(topic.Id, await SearchAsync(http, proxyUrl, index, body, cancellationToken).ConfigureAwait(false), "rank1");
                        }

                        task.Increment(1);
                    }
                }).ConfigureAwait(false);

            var judged = topics.Where(t => qrels.QueryIds.Contains(t.Id)).Select(t => t.Id).ToList();
            var rows = metrics.Select(m =>
            {
                var a = judged.Select(q => TrecEval.Compute(m, backendRun.Entries(q), qrels.For(q))).ToArray();
                var b = judged.Select(q => TrecEval.Compute(m, proxyRun.Entries(q), qrels.For(q))).ToArray();
                return new MetricRow(m.ToString(), Mean(a), Mean(b), b.Zip(a).Count(p => p.First > p.Second + 1e-12), b.Zip(a).Count(p => p.First < p.Second - 1e-12),
                    TrecEval.PairedRandomizationPValue(b, a));
            }).ToArray();

            if (args.Has("json"))
            {
                await WriteJsonAsync(context.Out, topics.Count, judged.Count, runDir, rows).ConfigureAwait(false);
            }
            else
            {
                WriteTable(context, topics.Count, judged.Count, runDir, rows);
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

    private sealed record Topic(string Id, string Query);

    private sealed record MetricRow(string Metric, double Backend, double Proxy, int Wins, int Losses, double PValue);

    private static double Mean(double[] values) => values.Length == 0 ? 0 : values.Average();

    private static Uri Url(string value, string name) =>
        Uri.TryCreate(value.EndsWith('/') ? value : value + "/", UriKind.Absolute, out var u) && u.Scheme is "http" or "https"
            ? u
            : throw new UsageException($"--{name} must be an http(s) URL (got '{value}')");

    private static Metric[] ParseMetrics(string list) => list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Select(name => TrecEval.TryParseMetric(name, out var m) ? m : throw new UsageException($"--metrics: unknown metric '{name}' (use ndcg, ndcg@K, mrr, mrr@K, recall@K, p@K, map)"))
        .ToArray();

    private static async Task<string[]> ReadLinesAsync(string file, CancellationToken cancellationToken) =>
        File.Exists(file) ? await File.ReadAllLinesAsync(file, cancellationToken).ConfigureAwait(false) : throw new CliException($"{file}: file not found", ExitCodes.BadInput);

    private static async Task<IReadOnlyList<Topic>> ReadTopicsAsync(string file, CancellationToken cancellationToken)
    {
        var topics = new List<Topic>();
        var n = 0;
        foreach (var line in await ReadLinesAsync(file, cancellationToken).ConfigureAwait(false))
        {
            n++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            if (line.TrimStart().StartsWith('{'))
            {
                try
                {
                    var o = JsonNode.Parse(line)!;
                    var id = (o["qid"] ?? o["id"] ?? o["_id"])?.ToString();
                    var query = (o["query"] ?? o["text"])?.GetValue<string>();
                    topics.Add(id is null || query is null ? throw new CliException($"{file}:{n}: needs \"qid\" and \"query\"", ExitCodes.BadInput) : new Topic(id, query));
                }
                catch (JsonException ex)
                {
                    throw new CliException($"{file}:{n}: not valid JSON ({ex.Message})", ExitCodes.BadInput);
                }
            }
            else
            {
                var tab = line.IndexOf('\t', StringComparison.Ordinal);
                topics.Add(tab > 0 ? new Topic(line[..tab].Trim(), line[(tab + 1)..].Trim()) : throw new CliException($"{file}:{n}: expected 'qid<TAB>query'", ExitCodes.BadInput));
            }
        }

        return topics.Count > 0 ? topics : throw new CliException($"{file}: no topics", ExitCodes.BadInput);
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
            var json = await response.Content.ReadFromJsonAsync<JsonObject>(cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw new CliException($"{url} answered {(int)response.StatusCode}: {json?["error"]?["reason"] ?? json?.ToJsonString()}", ExitCodes.Failure);
            }

            return json?["hits"]?["hits"]?.AsArray().Select(h => h!["_id"]!.GetValue<string>()).ToArray() ?? [];
        }
    }

    private static void WriteTable(CliContext context, int topics, int judged, string runDir, MetricRow[] rows)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(context.Out), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors });
        console.Profile.Width = 120; // not a terminal (a pipe, a file, CI): do not wrap at 80 columns
        var table = new Table().AddColumns("metric", "backend", "proxy", "Δ", "wins", "losses", "p");
        foreach (var r in rows)
        {
            table.AddRow(r.Metric, F(r.Backend), F(r.Proxy), (r.Proxy - r.Backend).ToString("+0.0000;-0.0000;0.0000", CultureInfo.InvariantCulture),
                r.Wins.ToString(CultureInfo.InvariantCulture), r.Losses.ToString(CultureInfo.InvariantCulture), r.PValue.ToString("0.0000", CultureInfo.InvariantCulture));
        }

        console.Write(table);
        console.WriteLine($"{judged} of {topics} topics have judgments and are averaged; wins/losses count queries where the proxy scores higher/lower.");
        console.WriteLine("proxy: through Rank1.SearchBridge (reranked); p: two-sided paired randomisation (sign-flip) test, 10,000 permutations, seed 42.");
        console.WriteLine($"Runs (TREC format): {Path.Combine(runDir, BackendRun)}, {Path.Combine(runDir, ProxyRun)}");
    }

    private static string F(double v) => v.ToString("0.0000", CultureInfo.InvariantCulture);

    private static async Task WriteJsonAsync(TextWriter output, int topics, int judged, string runDir, MetricRow[] rows)
    {
        var doc = new JsonObject
        {
            ["topics"] = topics,
            ["judged_topics"] = judged,
            ["significance_test"] = "paired randomisation (sign-flip), two-sided, 10000 permutations, seed 42",
            ["runs"] = new JsonObject { ["backend"] = Path.Combine(runDir, BackendRun), ["proxy"] = Path.Combine(runDir, ProxyRun) },
            ["metrics"] = new JsonArray(rows.Select(r => (JsonNode)new JsonObject
            {
                ["metric"] = r.Metric,
                ["backend"] = r.Backend,
                ["proxy"] = r.Proxy,
                ["delta"] = r.Proxy - r.Backend,
                ["wins"] = r.Wins,
                ["losses"] = r.Losses,
                ["p_value"] = r.PValue,
            }).ToArray()),
        };
        await output.WriteLineAsync(doc.ToJsonString(new JsonSerializerOptions { WriteIndented = true })).ConfigureAwait(false);
    }

    /// <summary>
    /// A TREC run file written a query at a time (one append per query), so an interrupted evaluation resumes where
    /// it stopped. Scores are derived from the rank (depth − rank + 1), so trec_eval reads the order exactly as the
    /// search answered it, whatever the engines' score scales.
    /// </summary>
    private sealed class RunFile
    {
        private readonly string _path;
        private readonly Dictionary<string, List<RunEntry>> _entries = new(StringComparer.Ordinal);

        private RunFile(string path) => _path = path;

        public static RunFile Open(string path)
        {
            var run = new RunFile(path);
            if (!File.Exists(path))
            {
                return run;
            }

            var lines = File.ReadAllLines(path);
            var good = new StringBuilder();
            foreach (var line in lines)
            {
                var p = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (p.Length != 6 || !double.TryParse(p[4], NumberStyles.Float, CultureInfo.InvariantCulture, out var score))
                {
                    break; // a torn last write: drop it and what follows, and redo that query
                }

                run.Add(p[0], new RunEntry(p[2], score));
                good.Append(line).Append('\n');
            }

            File.WriteAllText(path, good.ToString());
            return run;
        }

        public bool Has(string queryId) => _entries.ContainsKey(queryId);

        public IReadOnlyList<RunEntry> Entries(string queryId) => _entries.TryGetValue(queryId, out var e) ? e : [];

        public void Append(string queryId, IReadOnlyList<string> docIds, string tag)
        {
            var block = new StringBuilder();
            var entries = new List<RunEntry>();
            for (var i = 0; i < docIds.Count; i++)
            {
                var score = docIds.Count - i;
                block.Append(CultureInfo.InvariantCulture, $"{queryId} Q0 {docIds[i]} {i + 1} {score} {tag}\n");
                entries.Add(new RunEntry(docIds[i], score));
            }

            if (docIds.Count == 0)
            {
                // A query that retrieved nothing is still done: record it so a resume does not redo it.
                block.Append(CultureInfo.InvariantCulture, $"{queryId} Q0 __none__ 1 0 {tag}\n");
            }

            File.AppendAllText(_path, block.ToString());
            _entries[queryId] = entries;
        }

        private void Add(string queryId, RunEntry entry)
        {
            if (!_entries.TryGetValue(queryId, out var list))
            {
                list = [];
                _entries[queryId] = list;
            }

            if (entry.DocId != "__none__")
            {
                list.Add(entry);
            }
        }
    }
}
