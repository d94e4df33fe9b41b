using System.IO.Compression;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Rank1.SearchBridge.IntegrationTests;

/// <summary>
/// A backend that behaves like a real cluster where the embedded one does not: it sits in front of the embedded
/// server, gzips its answers when the client accepts gzip, adds a deprecation <c>Warning</c> and echoes
/// <c>X-Opaque-Id</c>, answers 200 with garbage for the index <c>garbage</c> (with JSON that is no search answer, its
/// <c>hits.hits</c> an object, for <c>hitsobject</c>), can hold searches on the index
/// <c>slow</c> until a number of them are in flight (<see cref="HoldSlowSearchesUntil"/>), answers any search of the index <c>pinned</c> as a rule retriever's whose rule pinned (<see cref="PinnedAnswer"/>), of <c>onepin</c> as a pinned retriever's that found one of its two ids (<see cref="OnePinAnswer"/>), and of <c>unpinned</c> as one whose rules matched nothing (<see cref="UnpinnedAnswer"/>), and of <c>capped</c> as a pinned retriever's that found none of its ids over an organic hit scored at the cap (<see cref="CappedAnswer"/>), a search on the point in time <see cref="PinnedPit"/> as a pinned query's first page (<see cref="PinnedPitAnswer"/>), of <c>deepsource</c> with a document as deep as Elasticsearch takes (<see cref="DeepSourceAnswer"/>), of <c>notutf8</c> with a byte that is not UTF-8 (<see cref="NotUtf8Answer"/>), answers searches of the index <c>plain</c> as <c>docs</c> but never compressed, and of <c>narrow</c> as <c>docs</c> with an <c>index.max_result_window</c> of 5 (of <c>halfnarrow</c>, on one of its two shards), and counts how many searches it has in flight at once. A search, msearch or template search asked in YAML
/// (<c>format=yaml</c>, or <c>Accept: application/yaml</c> without a <c>format</c>) is answered in YAML, as
/// Elasticsearch answers it (<c>AbstractRestChannel.newBuilder</c>).
/// </summary>
internal sealed class FrontBackend : IAsyncDisposable
{
    /// <summary>What the front backend answers any search of the index <c>lonesurrogate</c>: one hit whose text holds <c>\ud800</c>.</summary>
    public const string LoneSurrogateAnswer = """
        {"took":1,"timed_out":false,"_shards":{"total":1,"successful":1,"skipped":0,"failed":0},"hits":{"total":{"value":1,"relation":"eq"},"max_score":1.0,
        "hits":[{"_index":"lonesurrogate","_id":"s1","_score":1.0,"_source":{"title":"Onion","text":"onion \ud800 tears"}}]}}
        """;

    /// <summary>
    /// What the front backend answers any search of the index <c>notutf8</c>: <see cref="LoneSurrogateAnswer"/> with a
    /// byte that is not UTF-8 (0xFF) where its text has the lone surrogate, as a cluster's gateway or plugin could pass on.
    /// </summary>
    public static byte[] NotUtf8Answer()
    {
        var halves = LoneSurrogateAnswer.Replace("lonesurrogate", "notutf8", StringComparison.Ordinal).Split("\\ud800");
        return [.. System.Text.Encoding.UTF8.GetBytes(halves[0]), 0xFF, .. System.Text.Encoding.UTF8.GetBytes(halves[1])];
    }

    /// <summary>
    /// The levels of <c>{"a":..}</c> under <c>blob</c> in the first hit of <see cref="DeepSourceAnswer"/>: its <c>_source</c>
    /// nests 1,000 levels, the most Elasticsearch's parser (Jackson's <c>maxNestingDepth</c>) takes when it indexes it.
    /// </summary>
    public const int DeepSourceLevels = 998;

    /// <summary>
    /// What the front backend answers any search of the index <c>deepsource</c>: two hits, the first a document
    /// Elasticsearch takes at its deepest under <c>"dynamic": false</c> (<see cref="DeepSourceLevels"/>), its
    /// <c>_source</c> written as stored, so the answer nests 4 levels deeper than the document.
    /// </summary>
    public static string DeepSourceAnswer() =>
        """{"took":1,"timed_out":false,"_shards":{"total":1,"successful":1,"skipped":0,"failed":0},"hits":{"total":{"value":2,"relation":"eq"},"max_score":2.0,"hits":["""
        + """{"_index":"deepsource","_id":"deep","_score":2.0,"_source":{"title":"Onion layers","text":"onion layers all the way down","blob":"""
        + string.Concat(Enumerable.Repeat("""{"a":""", DeepSourceLevels)) + "1" + new string('}', DeepSourceLevels) + "}},"
        + """{"_index":"deepsource","_id":"flat","_score":1.0,"_source":{"title":"Onion soup","text":"onion soup"}}]}}""";

    /// <summary>
    /// The ids of the answer to any search of the index <c>pinned</c>, in its order: as Elasticsearch answers a search whose
    /// outermost retriever is a <c>rule</c> retriever whose query rule pins <c>d04</c> and <c>d08</c> (in that order) over
    /// the organic hits of a match for "onion eyes".
    /// </summary>
    public static readonly string[] PinnedOrder = ["d04", "d08", "d01", "d03", "d06"];

    /// <summary>
    /// The ids of the answer to any search of the index <c>unpinned</c>, in its order: as Elasticsearch answers a search
    /// whose outermost retriever is a <c>rule</c> retriever none of whose query rules matched (or a <c>pinned</c> retriever
    /// none of whose ids is found): the organic hits of a match for "onion eyes" alone.
    /// </summary>
    public static readonly string[] UnpinnedOrder = ["d01", "d03", "d06", "d04", "d08"];

    /// <summary>
    /// The answer to any search of the index <c>pinned</c> (<see cref="PinnedOrder"/>): a compound retriever's hits, each
    /// with its <c>_rank</c> and the <c>sort</c> Elasticsearch gives it (<c>[score, shard and doc]</c>,
    /// SearchPhaseController.getHits), the pinned ones scored above any organic hit as PinnedQueryBuilder.doToQuery scores
    /// two pins: the floats just above its MAX_ORGANIC_SCORE (2^127), the first pin highest, written as Elasticsearch writes
    /// a float (Float.toString).
    /// </summary>
    public static string PinnedAnswer() => RetrieverAnswer("pinned", PinnedOrder, ["1.7014124E38", "1.7014122E38", "2.25", "1.5", "0.75"]);

    /// <summary>
    /// The ids of the answer to any search of the index <c>onepin</c>, in its order: as Elasticsearch answers a search whose
    /// outermost retriever is a <c>pinned</c> retriever pinning <c>d99</c> (not found) and <c>d04</c> over the organic hits of
    /// a match for "onion eyes".
    /// </summary>
    public static readonly string[] OnePinOrder = ["d04", "d01", "d03", "d06", "d08"];

    /// <summary>
    /// The answer to any search of the index <c>onepin</c> (<see cref="OnePinOrder"/>): PinnedQueryBuilder.doToQuery gives
    /// its two ids the two floats just above MAX_ORGANIC_SCORE, the first the higher; only the second, <c>d04</c>, is found,
    /// and scores the lower one.
    /// </summary>
    public static string OnePinAnswer() => RetrieverAnswer("onepin", OnePinOrder, ["1.7014122E38", "2.25", "1.5", "0.75", "0.5"]);

    /// <summary>The point-in-time id the front backend answers a search of with <see cref="PinnedPitAnswer"/>.</summary>
    public const string PinnedPit = "pinned-pit";

    /// <summary>
    /// The answer to a search (<c>/_search</c>) on the point in time <see cref="PinnedPit"/>, in <see cref="PinnedOrder"/>: as
    /// Elasticsearch answers a pinned query's search on a point in time, its <c>pit_id</c> beside the hits, each hit's
    /// <c>sort</c> its score and the implicit <c>_shard_doc</c> tiebreaker, and no <c>_rank</c> (no retriever ranks them).
    /// </summary>
    public static string PinnedPitAnswer()
    {
        var answer = System.Text.Json.Nodes.JsonNode.Parse(PinnedAnswer())!.AsObject();
        foreach (var hit in answer["hits"]!["hits"]!.AsArray())
        {
            hit!.AsObject().Remove("_rank");
            hit["_index"] = ProxyStack.Index;
        }

        var pitAnswer = new System.Text.Json.Nodes.JsonObject { ["pit_id"] = PinnedPit };
        foreach (var (key, value) in answer.ToArray())
        {
            answer.Remove(key);
            pitAnswer[key] = value;
        }

        return pitAnswer.ToJsonString();
    }

    /// <summary>The answer to any search of the index <c>unpinned</c> (<see cref="UnpinnedOrder"/>): organic scores alone.</summary>
    public static string UnpinnedAnswer() => RetrieverAnswer("unpinned", UnpinnedOrder, ["2.25", "1.5", "0.75", "0.5", "0.25"]);

    /// <summary>
    /// The answer to any search of the index <c>capped</c>, in <see cref="UnpinnedOrder"/>: as Elasticsearch answers a
    /// <c>pinned</c> retriever none of whose ids is found over an organic query scoring at or past PinnedQueryBuilder's
    /// MAX_ORGANIC_SCORE (a <c>function_score</c>): the PinnedQueryBuilder it builds caps that hit's score at exactly
    /// MAX_ORGANIC_SCORE, 2^127, written <c>1.7014118E38</c>, and pins nothing.
    /// </summary>
    public static string CappedAnswer() => RetrieverAnswer("capped", UnpinnedOrder, ["1.7014118E38", "1.5", "0.75", "0.5", "0.25"]);

    private static string RetrieverAnswer(string index, string[] order, string[] scores)
    {
        var hits = new System.Text.Json.Nodes.JsonArray();
        for (var i = 0; i < order.Length; i++)
        {
            var doc = ProxyStack.Corpus.Single(c => c.Id == order[i]);
            hits.Add(new System.Text.Json.Nodes.JsonObject
            {
                ["_index"] = index,
                ["_id"] = doc.Id,
                ["_score"] = System.Text.Json.Nodes.JsonNode.Parse(scores[i]),
                ["_rank"] = i + 1,
                ["_source"] = new System.Text.Json.Nodes.JsonObject { ["title"] = doc.Title, ["text"] = doc.Text, ["topic"] = doc.Topic },
                ["sort"] = new System.Text.Json.Nodes.JsonArray(System.Text.Json.Nodes.JsonNode.Parse(scores[i]), 10L + i),
            });
        }

        return new System.Text.Json.Nodes.JsonObject
        {
            ["took"] = 3,
            ["timed_out"] = false,
            ["_shards"] = new System.Text.Json.Nodes.JsonObject { ["total"] = 1, ["successful"] = 1, ["skipped"] = 0, ["failed"] = 0 },
            ["hits"] = new System.Text.Json.Nodes.JsonObject
            {
                ["total"] = new System.Text.Json.Nodes.JsonObject { ["value"] = order.Length, ["relation"] = "eq" },
                ["max_score"] = System.Text.Json.Nodes.JsonNode.Parse(scores[0]),
                ["hits"] = hits,
            },
        }.ToJsonString();
    }

    /// <summary>The <c>index.max_result_window</c> of the index <c>narrow</c> (docs): a search asking past it is refused.</summary>
    public const int NarrowMaxResultWindow = 5;

    public const string Warning = "299 Elasticsearch-9.0.0 \"the front backend warns\"";

    private readonly WebApplication _app;
    private readonly HttpClient _http;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> _slowConnections = new();
    private int _inFlight;
    private int _slowSearches;
    private int _peak;
    private TaskCompletionSource _arrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _released = Released();
    private string? _heldMarker;
    private TaskCompletionSource _markedReleased = Released();
    private int _slowGateCount;
    private TaskCompletionSource _slowGate = Released();

    private FrontBackend(WebApplication app, HttpClient http)
    {
        _app = app;
        _http = http;
    }

    public Uri Url { get; private set; } = null!;

    /// <summary>Most searches on <c>slow</c> in flight at once since the last <see cref="ResetPeak"/>.</summary>
    public int PeakSlowSearches => Volatile.Read(ref _peak);

    /// <summary>Query strings of the searches received (to check what the proxy forwards).</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> QueryStrings { get; } = new();

    /// <summary>The bodies of the searches (<c>_search</c>) the proxy sent, as sent.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> SearchBodies { get; } = new();

    /// <summary>The connections (Kestrel's connection ids) that searches on <c>slow</c> came in on since the last <see cref="ResetPeak"/>.</summary>
    public int SlowConnections => _slowConnections.Count;

    /// <summary>Searches on <c>slow</c> received since the last <see cref="ResetPeak"/>.</summary>
    public int SlowSearches => Volatile.Read(ref _slowSearches);

    public void ResetPeak()
    {
        Volatile.Write(ref _peak, 0);
        Volatile.Write(ref _slowSearches, 0);
        _slowConnections.Clear();
    }

    /// <summary>Completes when a search on <c>docs</c> reaches this backend after <see cref="Hold"/>.</summary>
    public Task SearchArrived => _arrived.Task;

    /// <summary>Holds the next searches on <c>docs</c> (anything else, the reasoning store included, goes on) until <see cref="Release"/>.</summary>
    public void Hold()
    {
        _arrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
        _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public void Release() => _released.TrySetResult();

    /// <summary>Holds the searches whose body contains <paramref name="marker"/> (any other request goes on) until <see cref="ReleaseMarked"/>.</summary>
    /// <param name="marker">Text of the bodies to hold.</param>
    public void HoldMarked(string marker)
    {
        _markedReleased = new(TaskCreationOptions.RunContinuationsAsynchronously);
        _heldMarker = marker;
    }

    public void ReleaseMarked() => _markedReleased.TrySetResult();

    /// <summary>
    /// How long <see cref="SlowSearchesInFlightAsync"/> waits for the searches held: a bound on a hang only, as generous as
    /// the suite's other bounds, since a proxy that runs the searches at once reaches the count the moment it sends them.
    /// </summary>
    public static readonly TimeSpan SlowGateTimeout = TimeSpan.FromMinutes(3);

    /// <summary>
    /// Resets the counts (<see cref="ResetPeak"/>) and holds the next searches on <c>slow</c> until
    /// <paramref name="count"/> of them are in flight at once, then lets them all go on (and every later one): a proxy
    /// that sends that many at once reaches that peak by construction, however a loaded host schedules its searches;
    /// one that sends fewer at a time never does (<see cref="SlowSearchesInFlightAsync"/>).
    /// </summary>
    /// <param name="count">The searches in flight at once that open the gate.</param>
    public void HoldSlowSearchesUntil(int count)
    {
        ResetPeak();
        _slowGate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _slowGateCount, count);
    }

    /// <summary>
    /// Completes once the searches held by <see cref="HoldSlowSearchesUntil"/> reached their count in flight; fails the
    /// test, and lets the searches held go on, when <see cref="SlowGateTimeout"/> passes first.
    /// </summary>
    public async Task SlowSearchesInFlightAsync()
    {
        try
        {
            await _slowGate.Task.WaitAsync(SlowGateTimeout);
        }
        catch (TimeoutException)
        {
            var reached = PeakSlowSearches;
            _slowGate.TrySetResult();
            Assert.Fail($"the backend never had {Volatile.Read(ref _slowGateCount)} searches on slow in flight at once within {SlowGateTimeout.TotalSeconds:0} s " +
                $"(at most {reached}, of {SlowSearches} received): the proxy ran them fewer at a time");
        }
    }

    private static TaskCompletionSource Released()
    {
        var released = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        released.SetResult();
        return released;
    }

    public static async Task<FrontBackend> StartAsync(Uri embedded)
    {
        FrontBackend? front = null;
        var (app, url) = await LoopbackApp.StartAsync(context => front!.HandleAsync(context));
        front = new FrontBackend(app, new HttpClient { BaseAddress = embedded }) { Url = url };
        return front;
    }

    private async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "/";
        QueryStrings.Enqueue(context.Request.QueryString.Value ?? "");
        if (path.StartsWith("/garbage/", StringComparison.Ordinal))
        {
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync("<html>not json</html>");
            return;
        }

        if (path.StartsWith("/hitsobject/", StringComparison.Ordinal))
        {
            context.Response.ContentType = "application/json";
            context.Response.Headers["X-Elastic-Product"] = "Elasticsearch";
            await context.Response.WriteAsync("""{"took":1,"timed_out":false,"hits":{"total":{"value":1,"relation":"eq"},"hits":{"_id":"d1"}}}""");
            return;
        }

        if (path.StartsWith("/lonesurrogate/", StringComparison.Ordinal))
        {
            // A document whose _source holds a lone surrogate escape: Elasticsearch (Jackson) indexes such text and
            // returns its _source as it was sent.
            context.Response.ContentType = "application/json";
            context.Response.Headers["X-Elastic-Product"] = "Elasticsearch";
            await context.Response.WriteAsync(LoneSurrogateAnswer);
            return;
        }

        if (path.StartsWith("/notutf8/", StringComparison.Ordinal))
        {
            context.Response.ContentType = "application/json";
            context.Response.Headers["X-Elastic-Product"] = "Elasticsearch";
            await context.Response.Body.WriteAsync(NotUtf8Answer());
            return;
        }

        if (path == "/deepsource/_search")
        {
            context.Response.ContentType = "application/json";
            context.Response.Headers["X-Elastic-Product"] = "Elasticsearch";
            await context.Response.WriteAsync(DeepSourceAnswer());
            return;
        }

        if (path is "/pinned/_search" or "/unpinned/_search" or "/capped/_search" or "/onepin/_search")
        {
            context.Response.ContentType = "application/json";
            context.Response.Headers["X-Elastic-Product"] = "Elasticsearch";
            await context.Response.WriteAsync(path switch
            {
                "/pinned/_search" => PinnedAnswer(),
                "/unpinned/_search" => UnpinnedAnswer(),
                "/onepin/_search" => OnePinAnswer(),
                _ => CappedAnswer(),
            });
            return;
        }

        // A search on the point in time PinnedPit (a body of JSON, not compressed: anything else goes on to the embedded backend).
        if (path == "/_search" && !context.Request.Headers.ContainsKey("Content-Encoding"))
        {
            context.Request.EnableBuffering();
            System.Text.Json.Nodes.JsonObject? search = null;
            try
            {
                search = await System.Text.Json.Nodes.JsonNode.ParseAsync(context.Request.Body) as System.Text.Json.Nodes.JsonObject;
            }
            catch (System.Text.Json.JsonException)
            {
            }

            context.Request.Body.Position = 0;
            if (search?["pit"]?["id"] is System.Text.Json.Nodes.JsonValue pit && pit.GetValueKind() == System.Text.Json.JsonValueKind.String && pit.GetValue<string>() == PinnedPit)
            {
                SearchBodies.Enqueue(search.ToJsonString());
                context.Response.ContentType = "application/json";
                context.Response.Headers["X-Elastic-Product"] = "Elasticsearch";
                await context.Response.WriteAsync(PinnedPitAnswer());
                return;
            }
        }

        if (path == "/docs/_search")
        {
            _arrived.TrySetResult();
            await _released.Task;
        }

        // The index plain is docs on a cluster that never compresses (http.compression: false, or TLS, where it is off by default).
        var plain = path.StartsWith("/plain/", StringComparison.Ordinal);
        if (plain)
        {
            path = "/docs/" + path["/plain/".Length..];
        }

        // The index narrow is docs with index.max_result_window: 5; a search asking past it (from + size in its body) is
        // Elasticsearch's 400 (DefaultSearchContext.preProcess), as a cluster answers it.
        if (path.StartsWith("/narrow/", StringComparison.Ordinal))
        {
            path = "/docs/" + path["/narrow/".Length..];
            context.Request.EnableBuffering();
            var search = await System.Text.Json.Nodes.JsonNode.ParseAsync(context.Request.Body) as System.Text.Json.Nodes.JsonObject;
            context.Request.Body.Position = 0;
            var window = (search?["from"]?.GetValue<int>() ?? 0) + (search?["size"]?.GetValue<int>() ?? 10);
            if (window > NarrowMaxResultWindow)
            {
                var reason = $"Result window is too large, from + size must be less than or equal to: [{NarrowMaxResultWindow}] but was [{window}]. See the scroll api for a more efficient way to request large data sets. This limit can be set by changing the [index.max_result_window] index level setting.";
                var cause = new System.Text.Json.Nodes.JsonObject { ["type"] = "illegal_argument_exception", ["reason"] = reason };
                var error = new System.Text.Json.Nodes.JsonObject
                {
                    ["error"] = new System.Text.Json.Nodes.JsonObject
                    {
                        ["root_cause"] = new System.Text.Json.Nodes.JsonArray(cause.DeepClone()),
                        ["type"] = "search_phase_execution_exception",
                        ["reason"] = "all shards failed",
                        ["phase"] = "query",
                        ["grouped"] = true,
                        ["failed_shards"] = new System.Text.Json.Nodes.JsonArray(new System.Text.Json.Nodes.JsonObject { ["shard"] = 0, ["index"] = "narrow", ["node"] = "front", ["reason"] = cause.DeepClone() }),
                        ["caused_by"] = cause.DeepClone(),
                    },
                    ["status"] = 400,
                };
                context.Response.StatusCode = 400;
                context.Response.ContentType = "application/json";
                context.Response.Headers["X-Elastic-Product"] = "Elasticsearch";
                await context.Response.WriteAsync(error.ToJsonString());
                return;
            }
        }

        // The index halfnarrow is docs on two shards, one of them (the documents with an even number) in an index with
        // index.max_result_window: 5: a search asking past it has that shard fail and the other answer, a 200 with the
        // failure in _shards.failures and the other shard's hits alone, as Elasticsearch answers a search of two indices
        // when only one refuses it.
        var halfNarrowRefused = false;
        if (path.StartsWith("/halfnarrow/", StringComparison.Ordinal))
        {
            path = "/docs/" + path["/halfnarrow/".Length..];
            context.Request.EnableBuffering();
            var search = await System.Text.Json.Nodes.JsonNode.ParseAsync(context.Request.Body) as System.Text.Json.Nodes.JsonObject;
            context.Request.Body.Position = 0;
            halfNarrowRefused = (search?["from"]?.GetValue<int>() ?? 0) + (search?["size"]?.GetValue<int>() ?? 10) > NarrowMaxResultWindow;
        }

        var slow = path.StartsWith("/slow/", StringComparison.Ordinal);
        if (slow)
        {
            _slowConnections.TryAdd(context.Connection.Id, true);
            Interlocked.Increment(ref _slowSearches);
            var now = Interlocked.Increment(ref _inFlight);
            int peak;
            while (now > (peak = Volatile.Read(ref _peak)) && Interlocked.CompareExchange(ref _peak, now, peak) != peak)
            {
            }

            // Held until the count is in flight (HoldSlowSearchesUntil), so that searches the proxy sends at once overlap
            // here however late each is scheduled; a search held is never counted out, so the count only grows meanwhile.
            if (now >= Volatile.Read(ref _slowGateCount))
            {
                _slowGate.TrySetResult();
            }

            await _slowGate.Task;
            path = "/docs/" + path["/slow/".Length..];
        }

        try
        {
            using var request = new HttpRequestMessage(new HttpMethod(context.Request.Method), path.TrimStart('/') + context.Request.QueryString);
            foreach (var (name, values) in context.Request.Headers)
            {
                if (name is not ("Host" or "Content-Type" or "Content-Length" or "Accept-Encoding"))
                {
                    request.Headers.TryAddWithoutValidation(name, values.ToArray());
                }
            }

            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            if (path.EndsWith("/_search", StringComparison.Ordinal))
            {
                SearchBodies.Enqueue(System.Text.Encoding.UTF8.GetString(body.ToArray()));
            }
            if (_heldMarker is { } marker && System.Text.Encoding.UTF8.GetString(body.ToArray()).Contains(marker, StringComparison.Ordinal))
            {
                await _markedReleased.Task;
            }

            if (body.Length > 0)
            {
                request.Content = new ByteArrayContent(body.ToArray());
                request.Content.Headers.TryAddWithoutValidation("Content-Type", context.Request.ContentType ?? "application/json");
            }

            using var response = await _http.SendAsync(request);
            var bytes = await response.Content.ReadAsByteArrayAsync();
            if (halfNarrowRefused && response.IsSuccessStatusCode)
            {
                bytes = HalfNarrowAnswer(bytes);
            }

            context.Response.StatusCode = (int)response.StatusCode;
            context.Response.ContentType = response.Content.Headers.ContentType?.ToString() ?? "application/json";
            if (AskedInYaml(context.Request) && (path.EndsWith("/_search", StringComparison.Ordinal) || path.EndsWith("/_msearch", StringComparison.Ordinal)
                || path.EndsWith("/_search/template", StringComparison.Ordinal)))
            {
                bytes = System.Text.Encoding.UTF8.GetBytes(Yaml(System.Text.Json.Nodes.JsonNode.Parse(bytes)));
                context.Response.ContentType = "application/yaml";
            }

            context.Response.Headers["X-Elastic-Product"] = "Elasticsearch";
            context.Response.Headers["Warning"] = Warning;
            if (context.Request.Headers.TryGetValue("X-Opaque-Id", out var opaque))
            {
                context.Response.Headers["X-Opaque-Id"] = opaque;
            }

            if (!plain && context.Request.Headers.AcceptEncoding.ToString().Contains("gzip", StringComparison.OrdinalIgnoreCase))
            {
                using var compressed = new MemoryStream();
                await using (var gz = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
                {
                    await gz.WriteAsync(bytes);
                }

                bytes = compressed.ToArray();
                context.Response.Headers.ContentEncoding = "gzip";
            }

            context.Response.ContentLength = bytes.Length;
            await context.Response.Body.WriteAsync(bytes);
        }
        finally
        {
            if (slow)
            {
                Interlocked.Decrement(ref _inFlight);
            }
        }
    }

    /// <summary>The answer of halfnarrow's two shards when the narrow one refused the window: the other's hits alone.</summary>
    private static byte[] HalfNarrowAnswer(byte[] docsAnswer)
    {
        var answer = System.Text.Json.Nodes.JsonNode.Parse(docsAnswer)!.AsObject();
        var hits = answer["hits"]!["hits"]!.AsArray();
        foreach (var even in hits.Where(h => (h!["_id"]!.GetValue<string>()[^1] - '0') % 2 == 0).ToArray())
        {
            hits.Remove(even);
        }

        var reason = $"Result window is too large, from + size must be less than or equal to: [{NarrowMaxResultWindow}] but was [8]. See the scroll api for a more efficient way to request large data sets. This limit can be set by changing the [index.max_result_window] index level setting.";
        answer["_shards"] = System.Text.Json.Nodes.JsonNode.Parse("""{"total":2,"successful":1,"skipped":0,"failed":1,"failures":[{"shard":0,"index":"narrow","node":"front","reason":{"type":"illegal_argument_exception"}}]}""");
        answer["_shards"]!["failures"]![0]!["reason"]!["reason"] = reason;
        return System.Text.Encoding.UTF8.GetBytes(answer.ToJsonString());
    }

    // The format parameter when it names a format, else Accept (AbstractRestChannel.newBuilder).
    private static bool AskedInYaml(HttpRequest request) => request.Query.TryGetValue("format", out var format) && format.ToString().ToLowerInvariant() is "json" or "yaml" or "smile" or "cbor"
        ? format.ToString().Equals("yaml", StringComparison.OrdinalIgnoreCase)
        : request.Headers.Accept.ToString().StartsWith("application/yaml", StringComparison.OrdinalIgnoreCase);

    /// <summary>A JSON answer as a YAML document (block style, scalars as JSON writes them, which YAML reads).</summary>
    public static string Yaml(System.Text.Json.Nodes.JsonNode? answer)
    {
        var yaml = new System.Text.StringBuilder("---\n");
        Write(answer, 0);
        return yaml.ToString();

        void Write(System.Text.Json.Nodes.JsonNode? node, int depth)
        {
            var indent = new string(' ', 2 * depth);
            IEnumerable<(string Prefix, System.Text.Json.Nodes.JsonNode? Value)> entries = node switch
            {
                System.Text.Json.Nodes.JsonObject o => o.Select(p => ($"{indent}{p.Key}:", p.Value)),
                System.Text.Json.Nodes.JsonArray a => a.Select(x => ($"{indent}-", x)),
                _ => throw new ArgumentException("an answer is an object"),
            };
            foreach (var (prefix, value) in entries)
            {
                if (value is System.Text.Json.Nodes.JsonObject { Count: > 0 } or System.Text.Json.Nodes.JsonArray { Count: > 0 })
                {
                    yaml.Append(prefix).Append('\n');
                    Write(value, depth + 1);
                }
                else
                {
                    yaml.Append(prefix).Append(' ').Append(value?.ToJsonString() ?? "null").Append('\n');
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _released.TrySetResult();
        _markedReleased.TrySetResult();
        _slowGate.TrySetResult();
        _http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
