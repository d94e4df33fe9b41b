using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Rank1.Elastic;
using Rank1.SearchBridge.Backend;
using Rank1.SearchBridge.Configuration;
using Rank1.SearchBridge.Messages;
using Rank1.SearchBridge.Http.Proxy;
using Rank1.SearchBridge.Reranking;
using Rank1.SearchBridge.Telemetry;
using Yarp.ReverseProxy.Forwarder;
using static Rank1.SearchBridge.EsAnswers;
using static Rank1.SearchBridge.Http.Search.SearchHttp;

namespace Rank1.SearchBridge.Http.Search;

/// <summary>
/// Handles <c>_search</c> and <c>_msearch</c>: asks the backend for the top <c>max(window, from + size)</c> from 0,
/// has Rank1 rerank the window, and answers in Elasticsearch's shape with score and reasoning on every reranked hit.
/// </summary>
internal sealed partial class SearchProxy(BackendClient backend, PassThrough passThrough, SearchWindowRerank windowRerank, RuleSet rules, IOptions<ProxyOptions> options, Rank1Metrics metrics,
    InFlightBudget budget, TimeProvider time, ILogger<SearchProxy> logger)
{
    // A search streamed through the pass-through forwarder waits for the backend as long as one the proxy holds.
    private readonly ForwarderRequestConfig _forwarding = new() { ActivityTimeout = backend.CallLimit };

    public async Task HandleSearchAsync(HttpContext context, string? index)
    {
        var arrived = time.GetTimestamp(); // deadline_ms counts from here (SearchDeadline)
        // What the request holds of the in-flight budget, given back however it ends (an answer the proxy writes: before its bytes go out).
        using var held = budget.Open();
        var sent = await ReadBodyAsync(context.Request, options.Value.MaxContentLength, held).ConfigureAwait(false);
        if (await RefusedBeforeHandlerAsync(context, sent).ConfigureAwait(false))
        {
            return;
        }

        var (raw, query, contentType) = BodyOrSource(context.Request, sent);
        var search = Prepare(index, BackendPath(index, index, RawIndex(context, index)), raw, query, source: null,
            ResponseShaping.NotJson(query, context.Request.Headers.Accept.ToString(), contentType, raw.Length > 0));
        var answer = await SearchAsync(search, RequestHeaders(context.Request, contentType), context.Request.Method, arrived, held, context.RequestAborted, streamTo: context).ConfigureAwait(false);
        if (!answer.Sent)
        {
            await WriteAsync(context, answer, answer.Rerank.ToHeaderValue(), answer.Reason, held).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A search template (<c>_search/template</c>): rendered by the backend (<see cref="SearchTemplates"/>), then run as the
    /// <c>_search</c> it renders to, reranked as one, on the same indices and URL parameters. A template the backend
    /// cannot render is its answer, as it gave it.
    /// </summary>
    public async Task HandleSearchTemplateAsync(HttpContext context, string? index)
    {
        var arrived = time.GetTimestamp(); // deadline_ms counts from here, the rendering included (SearchDeadline)
        // What the request holds of the in-flight budget, given back however it ends (an answer the proxy writes: before its bytes go out).
        using var held = budget.Open();
        var sent = await ReadBodyAsync(context.Request, options.Value.MaxContentLength, held).ConfigureAwait(false);
        if (await RefusedBeforeHandlerAsync(context, sent).ConfigureAwait(false))
        {
            return;
        }

        // RestSearchTemplateAction reads the template with contentOrSourceParamParser: a template sent without a body may be given in the URL.
        var (raw, query, contentType) = BodyOrSource(context.Request, sent);
        var headers = RequestHeaders(context.Request, contentType);
        if (ResponseShaping.NotJson(query, context.Request.Headers.Accept.ToString(), contentType, raw.Length > 0) is { } notJson)
        {
            // A template in YAML, SMILE or CBOR, or an answer asked in one of them: the template search goes to the backend
            // as it came, for the backend to read and answer in that format, un-reranked; its answer streamed, as a lone
            // _search's is.
            await ForwardSearchAsync(context, BackendPath(index, index, RawIndex(context, index)) + "/template" + ToQueryString(context.Request.Query), sent, RequestHeaders(context.Request),
                notJson.Reason).ConfigureAwait(false);
            metrics.Search("skipped");
            return;
        }

        var (search, refused) = await RenderAsync(index, BackendPath(index, index, RawIndex(context, index)), query, raw, headers, context.RequestAborted).ConfigureAwait(false);
        var answer = refused ?? await SearchAsync(search!, headers, "POST", arrived, held, context.RequestAborted, streamTo: context).ConfigureAwait(false);
        if (!answer.Sent)
        {
            await WriteAsync(context, answer, answer.Rerank.ToHeaderValue(), answer.Reason, held).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A search template request rendered by the backend (<see cref="SearchTemplates"/>) and its search
    /// <see cref="Prepare"/>d, to run on <paramref name="path"/> with <paramref name="query"/>; or, when the backend cannot
    /// render it, the backend's answer as it gave it (<c>skipped</c>). A rendered search that does not parse is thrown
    /// (<see cref="EsException"/>): the answer to a lone template, an item's error in an <c>_msearch/template</c>.
    /// </summary>
    private async Task<(PreparedSearch? Search, SearchAnswer? Refused)> RenderAsync(string? index, string path, IQueryCollection query, byte[] template,
        IReadOnlyList<KeyValuePair<string, string[]>> headers, CancellationToken cancellationToken)
    {
        var rendered = await backend.SendAsync(HttpMethod.Post, SearchTemplates.RenderPath, template, headers, cancellationToken).ConfigureAwait(false);
        if (rendered.Status != 200)
        {
            metrics.Search("skipped");
            return (null, new SearchAnswer(rendered.Status, rendered.Headers, rendered.Body, RerankStatus.Skipped, "the backend could not render the search template"));
        }

        var body = SearchTemplates.SearchBody(rendered, template);
        return (Prepare(index, path, Encoding.UTF8.GetBytes(body.ToJsonString(Compact)), query, source: null), null);
    }

    /// <summary>
    /// An <c>_msearch</c>: at most <c>max_concurrent_searches</c> of its searches run at once (within
    /// <see cref="ProxyOptions.MaxConcurrentSearches"/>), and at most <see cref="ProxyOptions.MaxRerankShare"/> of them
    /// hold places in the shared rerank queue, so one msearch cannot take the model from other callers; one that holds more
    /// than <see cref="ProxyOptions.MaxMsearchItems"/> searches is refused whole. With <paramref name="templates"/>
    /// (<c>_msearch/template</c>) each line is a search template: every line is read first (a line naming no template,
    /// or with an unknown key, fails the whole request, as <c>RestMultiSearchTemplateAction</c> reads them), then each
    /// item's template is rendered by the backend and run as the <c>_search</c> it renders to, reranked as one; a
    /// template that does not render, or renders to a search that does not parse, is that item's error
    /// (<c>TransportMultiSearchTemplateAction</c> fails the item alone).
    /// </summary>
    public async Task HandleMsearchAsync(HttpContext context, string? pathIndex, bool templates = false)
    {
        var started = time.GetTimestamp(); // each search's deadline_ms counts from here (SearchDeadline)
        // What the request holds of the in-flight budget, given back however it ends (an answer the proxy writes: before its bytes go out).
        using var held = budget.Open();
        var sent = await ReadBodyAsync(context.Request, options.Value.MaxContentLength, held).ConfigureAwait(false);
        if (await RefusedBeforeHandlerAsync(context, sent).ConfigureAwait(false))
        {
            return;
        }

        var (raw, query, contentType) = BodyOrSource(context.Request, sent);
        var o = options.Value;
        // Elasticsearch's order (RestMultiSearchAction.parseRequest, then BaseRestHandler.handleRequest): max_concurrent_searches
        // is read first, then the lines (contentOrSourceParam, which refuses a request with neither a body nor a source),
        // and only once every line is read are the parameters nothing read refused (MsearchFraming.CheckParameters).
        var concurrency = MsearchFraming.Concurrency(query, o.MaxConcurrentSearches, templates, backend.Flavor);
        if (raw.Length == 0)
        {
            throw new EsException(400, "parse_exception", "request body or source parameter is required");
        }

        var requestPath = context.Request.Path.Value ?? "/_msearch";
        var headers = RequestHeaders(context.Request, contentType);
        var rawPathIndex = RawIndex(context, pathIndex);
        if (ResponseShaping.NotJson(query, context.Request.Headers.Accept.ToString(), contentType, raw.Length > 0) is { } notJson)
        {
            MsearchFraming.CheckParameters(requestPath, query, backend.Flavor, templates);
            // A body or an answer in YAML, SMILE or CBOR: the whole msearch goes to the backend as it came, for the backend
            // to read and answer in that format, its searches un-reranked, its answer streamed.
            await ForwardSearchAsync(context, BackendPath(pathIndex, pathIndex, rawPathIndex)[..^"_search".Length] + (templates ? "_msearch/template" : "_msearch") + ToQueryString(query),
                raw, headers, notJson.Reason).ConfigureAwait(false);
            metrics.Search("skipped");
            return;
        }

        // Every line is read and every search prepared before any search runs, as Elasticsearch parses every line first: a bad
        // line, a negative from or size, or a bad ext.rank1 setting is a 400 for the whole msearch (Prepare).
        var taken = MsearchFraming.Taken(query, backend.Flavor, templates);
        var split = MsearchLines.Read(raw, backend.Flavor == BackendFlavor.OpenSearch, item =>
        {
            (string? Index, IQueryCollection Parameters) target;
            try
            {
                target = MsearchFraming.Target(item.Header, pathIndex, taken);
            }
            catch (EsException e)
            {
                return new MsearchEntry(null, e); // a header index that is not a name stays that item's error
            }

            var path = BackendPath(target.Index, pathIndex, rawPathIndex);
            if (!templates)
            {
                return new MsearchEntry(Prepare(target.Index, path, item.Body.ToArray(), target.Parameters, item.Source), null);
            }

            SearchTemplateRequest.ReadMsearchLine(item.Source); // a bad template line fails the whole request, before any search
            _ = SearchParameters.ValidateSearchRequest(EsAnswers.Param(query)); // as each line is read
            return new MsearchEntry(null, null, new MsearchTemplate(target.Index, path, target.Parameters, item.Body.ToArray()));
        });
        MsearchFraming.CheckParameters(requestPath, query, backend.Flavor, templates);
        if (split.Length > o.MaxMsearchItems)
        {
            throw EsException.IllegalArgument(
                $"The msearch request holds [{split.Length}] searches, more than this proxy takes in one request [{o.MaxMsearchItems}] (Rank1:Proxy:MaxMsearchItems): send them in smaller requests");
        }

        using var searches = new SemaphoreSlim(concurrency);
        using var share = new SemaphoreSlim(o.MaxRerankShare);
        // Cancelled when the backend refuses an item while parsing it (the whole msearch's answer then): the other items'
        // reranks stop, freeing the model for other callers; their backend searches still run to their answers, so the
        // first refusal in the msearch's order is found as before.
        using var refusal = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        var items = split.Select(async item =>
        {
            await searches.WaitAsync(context.RequestAborted).ConfigureAwait(false);
            try
            {
                return await MsearchItemAsync(item, query, headers, share, started, held, refusal, context.RequestAborted).ConfigureAwait(false);
            }
            finally
            {
                searches.Release();
            }
        }).ToArray();
        var results = await Task.WhenAll(items).ConfigureAwait(false);
        if (results.All(r => r.Down is { Status: 502 or 503 }))
        {
            // No search got the backend's answer (unreachable, cut off mid-answer, or its circuit open): the msearch is answered as a _search is,
            // with that 502 or 503 (and its Retry-After), which clients retry as a node that does not answer; a 200 whose
            // every item is that error they take as the answer.
            throw results[0].Down!;
        }

        var answers = results.Select(r => r.Answer).ToArray();
        if (MsearchFraming.RefusedWhileParsing(results.Where(r => r.FromBackend).Select(r => r.Answer)) is { } refused)
        {
            // The backend refused a search while reading its body (an unknown query or key): Elasticsearch refuses those
            // for the whole msearch before any search runs, so the first such answer is the msearch's.
            await WriteAsync(context, refused, refused.Rerank.ToHeaderValue(), refused.Reason, held).ConfigureAwait(false);
            return;
        }

        IReadOnlyList<KeyValuePair<string, string[]>> productHeaders = backend.Flavor == BackendFlavor.OpenSearch ? [] : [new("X-Elastic-Product", ["Elasticsearch"])];
        var answer = MsearchFraming.Combine(answers, time.GetElapsedTime(started), productHeaders, query);
        await WriteAsync(context, answer, MsearchFraming.StatusSummary(answers), null, held).ConfigureAwait(false);
    }

    // An item's answer, and whether it is the backend's (not the proxy's own error in its place), and the backend's
    // failure when the item could not have its answer (Down). An item whose answer is the backend refusing it while
    // parsing cancels the other items' reranks (refused).
    private async Task<(SearchAnswer Answer, bool FromBackend, BackendUnavailableException? Down)> MsearchItemAsync(MsearchEntry item, IQueryCollection query, IReadOnlyList<KeyValuePair<string, string[]>> headers,
        SemaphoreSlim share, long arrived, InFlightBudget.Lease held, CancellationTokenSource refused, CancellationToken cancellationToken)
    {
        try
        {
            var search = item.Search;
            if (item.Template is { } template)
            {
                // Rendered, and its search read, item by item: what fails here is this item's answer alone.
                (search, var notRendered) = await RenderAsync(template.Index, template.Path, template.Parameters, template.Body, headers, cancellationToken).ConfigureAwait(false);
                if (notRendered is not null)
                {
                    return (notRendered, false, null);
                }
            }

            var answer = await SearchAsync(search ?? throw item.Refused!, headers, "POST", arrived, held, cancellationToken, share, refused.Token).ConfigureAwait(false);
            // A rendered template's search is read when it is rendered, each alone: the backend refusing it is that item's answer.
            var whole = item.Template is null;
            if (whole && MsearchFraming.RefusedWhileParsing([answer]) is not null)
            {
                await refused.CancelAsync().ConfigureAwait(false);
            }

            return (answer, whole, null);
        }
        catch (OperationCanceledException) when (refused.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            // Its rerank stopped because another item was refused: the msearch is answered with that refusal, never with this.
            return (new SearchAnswer(400, [], [], RerankStatus.Skipped, "another search of the msearch was refused"), false, null);
        }
        catch (EsException e)
        {
            // In the flavour's form: a template that renders to JSON that does not parse is OpenSearch's own json_parse_exception there.
            return (new SearchAnswer(e.Status, [], Encoding.UTF8.GetBytes(EsAnswers.ErrorBody(e.For(backend.Flavor == BackendFlavor.OpenSearch), e, query).ToJsonString(Compact)), RerankStatus.Skipped, e.Message), false, null);
        }
        catch (BackendUnavailableException e)
        {
            return (new SearchAnswer(e.Status, [], Encoding.UTF8.GetBytes(EsAnswers.ErrorBody(e.ToEsException(), e, query).ToJsonString(Compact)), RerankStatus.Skipped, e.Message), false, e);
        }
    }

    /// <summary>
    /// A search the proxy does not rerank, sent by the pass-through forwarder to <paramref name="pathAndQuery"/> with
    /// <paramref name="body"/> (its body as the proxy read it: decoded, less <c>ext.rank1</c>; for a template, the search
    /// it rendered to), its answer streamed back as the backend writes it, never held whole, with the rerank status
    /// headers (<see cref="SkippedSearchTransformer"/>). The backend may be silent for <see cref="BackendOptions.Timeout"/>,
    /// as for a search the proxy holds.
    /// </summary>
    private Task ForwardSearchAsync(HttpContext context, string pathAndQuery, byte[] body, IReadOnlyList<KeyValuePair<string, string[]>> headers, string? reason)
    {
        var request = context.Request;
        request.Headers.Remove("Content-Encoding"); // read and decoded already
        request.Headers.Remove("Transfer-Encoding");
        // The Content-Type passed on: a body given in the URL has its source_content_type (SearchHttp.RequestHeaders).
        request.Headers.ContentType = headers.FirstOrDefault(h => h.Key.Equals("Content-Type", StringComparison.OrdinalIgnoreCase)).Value;
        request.Body = new MemoryStream(body, writable: false);
        request.ContentLength = body.Length;
        return passThrough.ForwardAsync(context, new SkippedSearchTransformer(pathAndQuery, reason), _forwarding, "Rank1:Backend:Timeout");
    }

    /// <summary>
    /// One search read and planned, before the backend is asked anything: what Elasticsearch refuses while it parses a
    /// search (a <c>from</c> or <c>size</c> that is negative or that <c>parser.intValue()</c> refuses) and what the proxy
    /// refuses of <c>ext.rank1</c> are thrown here, so that in an <c>_msearch</c> they fail the whole request, as a bad
    /// line does, and no search of it runs.
    /// </summary>
    /// <param name="index">The index searched.</param>
    /// <param name="path">The backend's <c>_search</c> path.</param>
    /// <param name="raw">The body as sent.</param>
    /// <param name="query">The search's URL parameters.</param>
    /// <param name="source"><paramref name="raw"/> read already (an <c>_msearch</c> item's body: <see cref="MsearchLines.Read{T}"/>), or null.</param>
    /// <param name="notJson">Why the proxy cannot read the body or write the answer as JSON (<see cref="ResponseShaping.NotJson"/>), or null.</param>
    private PreparedSearch Prepare(string? index, string path, byte[] raw, IQueryCollection query, JsonObject? source, (string Reason, bool Body)? notJson = null)
    {
        var openSearch = backend.Flavor == BackendFlavor.OpenSearch;
        if (notJson is { Body: true } unreadable)
        {
            // A body in YAML, SMILE or CBOR goes to the backend as it came: the proxy reads none of it.
            return new PreparedSearch(index, path, raw, query, null, false, RerankPlan.From(null, rules.Resolve(index), options.Value.Caps).Skip(unreadable.Reason), null, 0, 0, null);
        }

        if (source is not null)
        {
            // An msearch item the backend would refuse at parse time, whole; it is asked one search at a time, and would answer it as that item's error.
            SearchBody.CheckWindow(source, openSearch);
            // So would it a flag of the msearch's URL that each of its searches reads, strictly, after its source
            // (rest_total_hits_as_int beside the body's track_total_hits too).
            _ = SearchParameters.ReadFlagsAfterSource(EsAnswers.Param(query), source.ContainsKey("track_total_hits") ? SearchBody.TrackTotalHits(source["track_total_hits"]) : null);
        }

        var body = source ?? SearchBody.ReadOptional(raw);
        var hadExt = body?["ext"] is JsonObject ext && ext.ContainsKey("rank1");
        var plan = RerankPlan.From(body, rules.Resolve(index), options.Value.Caps);
        // The q parameter replaces the body's query (RestSearchAction.parseSearchSource: RestActions.urlParamsToQueryBuilder),
        // so it is what the backend searched for.
        var queryText = plan.QueryText ?? (query.TryGetValue("q", out var q) && !PrecomputeReasoning.IsBlankQuery(q.ToString()) ? q.ToString() : null) ?? QueryText.FromBody(body);

        var pins = plan.Enabled ? PinnedHits.Of(body) : null; // read only where a search could be reranked
        plan = (SkipReason(plan, body, query, queryText, pins) ?? notJson?.Reason) is { } reason ? plan.Skip(reason) : plan;
        if (!plan.Enabled)
        {
            if (plan.RequestedByClient && plan.SkipReason == NoQueryText)
            {
                throw EsException.IllegalArgument("[ext.rank1.query] is required: no query text could be extracted from the query (rank1 reads match, multi_match, query_string, simple_query_string and bool clauses of these)");
            }

            return new PreparedSearch(index, path, raw, query, body, hadExt, plan, queryText, 0, 0, null);
        }

        var from = Int(query, "from") ?? SearchBody.Int(body, "from") ?? 0;
        var sentSize = Int(query, "size") ?? SearchBody.Int(body, "size");
        var size = sentSize ?? BackendWindow.DefaultSize;
        // The backend is asked from 0 for the whole window, so it cannot reject these itself: rejected as Elasticsearch does.
        if (from < 0 || size < 0)
        {
            throw SearchBody.NegativeWindow(from < 0 ? "from" : "size", from < 0 ? from : size, openSearch);
        }

        // The backend would be asked from 0 for from + size hits, which past the largest int no size can say (the sum
        // wrapped round to a negative page: the window was asked and an empty page answered 200 "applied"). Elasticsearch
        // adds them as longs and refuses the search past index.max_result_window: sent as it came, for the backend to answer.
        if ((long)from + size > int.MaxValue)
        {
            return new PreparedSearch(index, path, raw, query, body, hadExt, plan.Skip("from + size is past the largest int the backend can be asked for"), queryText, 0, 0, null);
        }

        return new PreparedSearch(index, path, raw, query, body, hadExt, plan, queryText, from, size, sentSize)
        {
            Pins = pins is { AnswerTells: true } ? pins : null,
        };
    }

    /// <summary>
    /// An msearch item: its search <see cref="Prepare"/>d, or the error its header is answered with in its place, or
    /// (<c>_msearch/template</c>) the template to render first.
    /// </summary>
    private sealed record MsearchEntry(PreparedSearch? Search, EsException? Refused, MsearchTemplate? Template = null);

    /// <summary>An <c>_msearch/template</c> item: where its search goes, and its template request as sent.</summary>
    private sealed record MsearchTemplate(string? Index, string Path, IQueryCollection Parameters, byte[] Body);

    /// <summary>A search <see cref="Prepare"/> read: where it goes, its body read, its plan, and its window when reranked.</summary>
    private sealed record PreparedSearch(string? Index, string Path, byte[] Raw, IQueryCollection Query, JsonObject? Body, bool HadExt, RerankPlan Plan, string? QueryText, int From, int Size,
        int? SentSize)
    {
        /// <summary>
        /// What pins documents on top where the backend's answer tells which hits it pinned (<see cref="PinnedHits.IsPin"/>): the
        /// outermost retriever (<c>rule</c>, <c>pinned</c>), which pins only when its rules match or its ids are found, or
        /// the search's own unboosted <c>pinned</c> or <c>rule</c> query. Those hits keep their places on top and the organic
        /// hits of the window after them are reranked. Null when the request alone decides.
        /// </summary>
        public SearchPins? Pins { get; init; }
    }

    /// <summary>One search <see cref="Prepare"/>d: ask the backend, rerank the window, rewrite.</summary>
    /// <remarks>
    /// Each backend answer the search holds is taken from <paramref name="held"/> (its request's share of the
    /// <see cref="InFlightBudget"/>) as it arrives, and held until the request ends: one that would take the bytes in
    /// flight past the budget is a 429 <c>circuit_breaking_exception</c> (an msearch item's error, a lone search's answer).
    /// The deadline counts from <paramref name="arrived"/> (<see cref="SearchDeadline"/>); with <paramref name="share"/>,
    /// the rerank first takes a place of its request's share of the model (within its deadline). The rerank stops at
    /// <paramref name="rerankCancellation"/> (an msearch's, also cancelled when another of its searches is refused),
    /// the backend call only at <paramref name="cancellationToken"/>. With <paramref name="streamTo"/> (a lone search: the
    /// client's own request), a search that is not reranked goes to the backend through the pass-through forwarder,
    /// its answer streamed to the client as it comes and never held whole (<see cref="SearchAnswer.Sent"/>).
    /// </remarks>
    private async Task<SearchAnswer> SearchAsync(PreparedSearch search, IReadOnlyList<KeyValuePair<string, string[]>> headers, string method, long arrived, InFlightBudget.Lease held,
        CancellationToken cancellationToken,
        SemaphoreSlim? share = null, CancellationToken? rerankCancellation = null, HttpContext? streamTo = null)
    {
        var (index, path, raw, query, body, hadExt, plan, queryText, from, size, sentSize) = search;
        // The search as the client sent it (less ext.rank1), for the backend to answer as it is: read before the window is set.
        var asSent = hadExt ? Encoding.UTF8.GetBytes(body!.ToJsonString(Compact)) : raw;
        var cap = options.Value.MaxHeldAnswerBytes;
        // The search sent on as the client sent it, not reranked: streamed to the client when it is the request's own
        // answer; else (an item of a multi search, held to be joined) held within the cap, or that item's error.
        async Task<SearchAnswer> PassThroughAsync(string? reason)
        {
            if (streamTo is not null)
            {
                await ForwardSearchAsync(streamTo, path + ToQueryString(query), asSent, headers, reason).ConfigureAwait(false);
                metrics.Search("skipped");
                return new SearchAnswer(streamTo.Response.StatusCode, [], [], RerankStatus.Skipped, reason) { Sent = true };
            }

            BackendResponse passthrough;
            try
            {
                passthrough = await backend.SendAsync(new HttpMethod(method), path + ToQueryString(query), asSent.Length == 0 ? null : asSent, headers, cancellationToken,
                    maxAnswerBytes: cap).ConfigureAwait(false);
            }
            catch (BackendAnswerTooLargeException)
            {
                throw new EsException(502, "rank1_backend_response_exception",
                    $"the backend's answer to this search is over {cap} bytes (Rank1:Proxy:MaxHeldAnswerBytes), more than the proxy holds for an item of a multi search: send it alone (_search, _search/template), whose answer is streamed");
            }

            held.Take(passthrough.Body.Length, InFlightBudget.BackendAnswerLabel);
            metrics.Search("skipped");
            return new SearchAnswer(passthrough.Status, passthrough.Headers, passthrough.Body, RerankStatus.Skipped, reason);
        }

        // The window's answer was over the cap: sent again as the client sent it, not reranked.
        Task<SearchAnswer> OverCapAsync() => PassThroughAsync($"the backend's answer to the rerank window is over {cap} bytes (Rank1:Proxy:MaxHeldAnswerBytes)");

        if (!plan.Enabled)
        {
            return await PassThroughAsync(plan.SkipReason).ConfigureAwait(false);
        }

        // RestSearchAction.parseSearchRequest: a URL explain replaces the body's, read with paramAsBoolean("explain", null),
        // so that an empty one is no explanation (explain(null)) and one neither true nor false a 400.
        var explain = (query.TryGetValue("explain", out var explainParameter) ? RequestJson.ParamAsNullableBoolean(explainParameter.ToString()) : SearchBody.Bool(body, "explain")) ?? false;
        body ??= new JsonObject();
        // A search whose hits carry sort values (a point in time's, with its implicit _shard_doc tiebreaker; a sort of
        // more than the lone descending _score that Elasticsearch runs as no sort) hands out cursors: the last hit's are
        // the next page's search_after, which the backend reads in its own order. Reranked across a window wider than the
        // page, that next page would skip the hits the rerank left out of this one. So such a search is reranked within
        // its own page, whose sort values stay where they were by position (HitRewriter): the next page starts right after it.
        // The sort of a standard retriever under an outermost rule or pinned retriever is not read here (SkipReason reads it):
        // it orders only the compound retriever's own inner search (CompoundRetrieverBuilder.rewrite), whose hits are then
        // answered through RankDocsRetrieverBuilder, which sets no sort; and Elasticsearch takes no search_after beside a
        // retriever at the top level nor in a compound retriever's children (StandardRetrieverBuilder: "[search_after] cannot
        // be used in children of compound retrievers"), so such hits hand out no cursor and the window may widen.
        var sort = body["sort"] ?? ((body["retriever"] as JsonObject)?["standard"] as JsonObject)?["sort"];
        var handsOutCursors = body["pit"] is not null || sort is JsonArray { Count: > 1 };
        if (handsOutCursors)
        {
            body["from"] = from;
            body["size"] = size;
        }
        else
        {
            BackendWindow.Apply(body, plan.Window, from + size, sentSize);
        }

        // The passage fields must come back even when the client filters _source: ask for its fields and the passage
        // fields (the whole source when it only excludes), not the window's whole documents, and apply the client's own
        // filter to the answer.
        var clientSource = ResponseShaping.ClientSourceFilter(body, query);
        if (clientSource is not null)
        {
            if (clientSource.WithFields(plan.TitleField is { } title ? [.. plan.Fields, title] : plan.Fields) is { } source)
            {
                body["_source"] = source;
            }
            else
            {
                body.Remove("_source");
            }
        }

        // filter_path shapes the final answer: forwarded, it would strip the passage fields the rerank reads. pretty goes on,
        // so that a backend error comes back indented as Elasticsearch's would; a reranked answer is written anew anyway.
        var forwarded = query.Where(p => p.Key is not ("from" or "size" or "_source" or "_source_includes" or "_source_excludes" or ResponseShaping.FilterPathParameter))
            .ToDictionary(p => p.Key, p => p.Value);
        var deadline = new SearchDeadline(time, arrived, plan.Deadline);
        if (deadline.BackendTimeout(query, body, options.Value.DeadlineGrace) is { } backendTimeout)
        {
            forwarded["timeout"] = backendTimeout;
        }

        // An answer too big to read and rewrite (that holds about ten times its size) is neither held nor parsed: the
        // search goes again as the client sent it, and that answer is passed on.
        BackendResponse response;
        try
        {
            response = await SendWithinDeadlineAsync(path + ToQueryString(new QueryCollection(forwarded)), Encoding.UTF8.GetBytes(body.ToJsonString(Compact)), headers, deadline, cap, cancellationToken)
                .ConfigureAwait(false);
        }
        catch (BackendAnswerTooLargeException)
        {
            return await OverCapAsync().ConfigureAwait(false);
        }

        if (!held.TryTake(response.Body.Length, out var wanted))
        {
            // Reranking never turns a working search into an error: a lone search whose window answer the budget cannot
            // hold goes again as the client sent it, streamed (nothing held); an msearch item, whose answer must be held
            // to be joined, is that item's 429.
            return streamTo is not null
                ? await PassThroughAsync($"the proxy's in-flight bytes (Rank1:Proxy:MaxInFlightBytes) cannot hold the rerank window's answer ({response.Body.Length} bytes)").ConfigureAwait(false)
                : throw InFlightBudget.Breaking(wanted, budget.Limit, InFlightBudget.BackendAnswerLabel);
        }

        if (response.Status != 200)
        {
            // An index whose index.max_result_window is below the window the proxy asked for refuses it; the client's own
            // from + size may be within it. Reranking never turns a working search into an error: sent as the client sent it.
            if (!handsOutCursors && body["size"] is JsonValue widened && widened.GetValue<int>() > from + size && ResultWindowRefused(response))
            {
                return await PassThroughAsync($"the backend refused the rerank window of {widened.GetValue<int>()} hits (index.max_result_window)").ConfigureAwait(false);
            }

            metrics.Search("skipped");
            return new SearchAnswer(response.Status, response.Headers, response.Body, RerankStatus.Skipped, "the backend answered with an error");
        }

        JsonObject json;
        IReadOnlyList<KeyValuePair<string, string[]>> headersOut;
        string? encoding;
        try
        {
            (json, headersOut, encoding) = DecodeJson(response, cap);
        }
        catch (DecodedTooLongException)
        {
            return await OverCapAsync().ConfigureAwait(false);
        }

        CheckSearchAnswer(json);

        // Indices whose index.max_result_window differ: the shards of one below the window refused it while the others
        // answered (a 200, their failures in _shards.failures), so the answer lacks hits that the search as the client sent
        // it may get. Sent as the client sent it, as when every shard refuses the window.
        if (!handsOutCursors && body["size"] is JsonValue asked && asked.GetValue<int>() > from + size && ShardsRefusedWindow(json))
        {
            return await PassThroughAsync($"shards of the backend refused the rerank window of {asked.GetValue<int>()} hits (index.max_result_window)").ConfigureAwait(false);
        }

        var hits = SearchHits.Hits(json);
        // The pins the backend put on top keep their places; the organic hits of the window after them are reranked. Pins
        // anywhere else, or a window of pins alone, keep the backend's order: their passages are not read. The worker
        // judges a hot query's window by the same rule (PinnedHits.OrganicFrom), so it stores what is looked up here.
        var organicFrom = PinnedHits.OrganicFrom(search.Pins, hits, plan.Window);
        var pinned = organicFrom is null ? PinnedHits.Reason(search.Pins!.Pinner) : null;
        var pins = organicFrom ?? 0;
        var window = pinned is null
            ? hits.Take(plan.Window).Skip(pins).Select((h, i) => (Index: pins + i, Passage: SearchHits.Passage(h, plan.Fields, plan.TitleField))).ToArray()
            : [];
        RerankOutcome? outcome = null;
        RerankStatus status;
        string? why = null;
        // A hit with no passage text is not judged (the model would judge an empty passage): it follows the judged hits of
        // the window in backend order, as a passage that failed on its input, and the rerank is partial.
        var textless = window.Where(w => !SearchHits.HasText(w.Passage.Text)).Select(w => new PassageFailure(w.Index, SearchHits.NoText([hits[w.Index]], plan.Fields))).ToArray();
        if (pinned is not null || window.Length == 0 || textless.Length == window.Length)
        {
            status = RerankStatus.Skipped;
            why = pinned ?? (window.Length == 0 ? "no hits" : SearchHits.NoText(hits.Take(plan.Window).Skip(pins), plan.Fields));
        }
        else
        {
            // Even past the deadline the window goes on: stored reasoning is still served and the query still counts
            // as hot; only the model is skipped (SearchWindowRerank).
            var toJudge = window.Where(w => SearchHits.HasText(w.Passage.Text)).Select(w => new PassageToJudge(w.Index, w.Passage.Title, w.Passage.Text)).ToArray();
            outcome = await windowRerank.RerankAsync(index, queryText!, plan, body, hits, toJudge, share, deadline, rerankCancellation ?? cancellationToken).ConfigureAwait(false);
            // A NaN is the model's fault, not the input's: said once per window, as the rerank service does (2503).
            if (outcome.Failures.Count(f => f.NotANumber) is var nan and > 0)
            {
                LogNaN(logger, index ?? "_all", nan, toJudge.Length);
            }

            if (textless.Length > 0)
            {
                metrics.PassagesFailed(textless.Length, Rank1Metrics.FailedOnInput);
                outcome = outcome with
                {
                    Status = outcome.Status is RerankStatus.Applied or RerankStatus.Cached ? RerankStatus.Partial : outcome.Status,
                    Failures = [.. outcome.Failures, .. textless],
                };
            }

            status = outcome.Status;
            why = outcome.Reason;
        }

        HitRewriter.Apply(json, handsOutCursors ? 0 : from, size, outcome, plan.IncludeReasoning, explain, keepSortPositions: handsOutCursors, plan.MinScore, rankFrom: from,
            pinned: status == RerankStatus.Skipped ? 0 : pins); // a skipped answer marks nothing, its pins included
        if (clientSource is not null)
        {
            ResponseShaping.ApplySourceFilter(json, clientSource);
        }

        metrics.Search(status.ToHeaderValue());
        LogSearch(logger, index ?? "_all", status.ToHeaderValue(), outcome?.Verdicts.Count ?? 0, outcome?.Elapsed.TotalMilliseconds ?? 0);
        return new SearchAnswer(200, headersOut, ResponseShaping.Render(json, query), status, why) { EncodeAs = encoding };
    }

    private const string NoQueryText = "no query text to judge";

    /// <summary>
    /// Whether the backend refused a search for asking more hits than an index's <c>index.max_result_window</c>: its 400
    /// whose root cause is Elasticsearch's (and OpenSearch's) "Result window is too large, from + size must be less than
    /// or equal to: [N] but was [M]" (<c>DefaultSearchContext.preProcess</c>).
    /// </summary>
    private static bool ResultWindowRefused(BackendResponse response)
    {
        if (response.Status != 400)
        {
            return false;
        }

        try
        {
            // An error that is no object ("error": "a string", as a gateway in front may answer) names no window refused.
            return DecodeJson(response).Json["error"] is JsonObject error && error["root_cause"] is JsonArray causes && causes.Any(WindowTooLarge);
        }
        catch (EsException)
        {
            return false;
        }
    }

    /// <summary>Whether some shards of a search answered 200 refused it as <see cref="ResultWindowRefused"/> describes (<c>_shards.failures[].reason</c>).</summary>
    private static bool ShardsRefusedWindow(JsonObject answer) =>
        answer["_shards"] is JsonObject shards && shards["failures"] is JsonArray failures && failures.Any(f => f is JsonObject failure && WindowTooLarge(failure["reason"]));

    // SearchService/DefaultSearchContext.preProcess: IllegalArgumentException "Result window is too large, from + size must be ..."
    private static bool WindowTooLarge(JsonNode? cause) =>
        cause is JsonObject && cause["type"] is JsonValue type && type.GetValueKind() == JsonValueKind.String && type.GetValue<string>() == "illegal_argument_exception"
        && cause["reason"] is JsonValue reason && reason.GetValueKind() == JsonValueKind.String && reason.GetValue<string>().StartsWith("Result window is too large", StringComparison.Ordinal);

    /// <summary>
    /// A body sent without a <c>Content-Type</c>, or with one Elasticsearch does not read, is refused before any handler
    /// runs, as Elasticsearch's (and OpenSearch's) <c>RestController.dispatchRequest</c> refuses it
    /// (<c>sendContentTypeErrorMessage</c>): 406 <c>{"error":"Content-Type header is missing","status":406}</c>, or
    /// <c>"Content-Type header [text/plain] is not supported"</c>. The backend client gives a body it sends without one
    /// <c>application/json</c> (for the body the proxy makes up for a search sent with none), and an msearch's searches
    /// would each have been the backend's 406 in a 200.
    /// </summary>
    private async Task<bool> RefusedBeforeHandlerAsync(HttpContext context, byte[] sent)
    {
        // What the cluster refuses as it makes the request, before its other checks: a header sent twice, empty or malformed
        // (Elasticsearch's media_type_header_exception, OpenSearch's content_type_header_exception).
        if (MediaTypeHeaders.Refusal(name => context.Request.Headers[name].ToArray(), backend.Flavor == BackendFlavor.OpenSearch) is { } refused)
        {
            throw refused;
        }

        // Then the flags every request's channel reads, strictly: a pretty, human or error_trace that is neither empty,
        // true nor false is the cluster's 400 before anything else is read (the proxy would have read it as off and
        // answered an msearch, or its own error, where the cluster answers this).
        var query = context.Request.Query;
        if (ChannelParameters.Refusal(EsAnswers.Param(query), backend.Flavor == BackendFlavor.OpenSearch) is { } channel)
        {
            await WriteRefusalAsync(context, 400, channel.Body, channel.Pretty, channel.Reason).ConfigureAwait(false);
            return true;
        }

        var contentType = context.Request.Headers.ContentType;
        if (sent.Length == 0 || (contentType.Count > 0 && ResponseShaping.Readable(contentType.ToString())))
        {
            return false;
        }

        var problem = contentType.Count == 0 ? "Content-Type header is missing" : $"Content-Type header [{string.Join(",", contentType.ToArray())}] is not supported";
        await WriteRefusalAsync(context, 406, new JsonObject { ["error"] = problem, ["status"] = 406 }, EsAnswers.Flag(query, "pretty"), problem).ConfigureAwait(false);
        return true;
    }

    // A request the cluster refuses before any handler reads it, answered as it answers it, not reranked.
    private async Task WriteRefusalAsync(HttpContext context, int status, JsonObject error, bool pretty, string problem)
    {
        metrics.Search("skipped");
        List<KeyValuePair<string, string[]>> headers = [new("Content-Type", ["application/json"])];
        if (backend.Flavor != BackendFlavor.OpenSearch)
        {
            headers.Add(new("X-Elastic-Product", ["Elasticsearch"]));
        }

        var body = Encoding.UTF8.GetBytes(error.ToJsonString(pretty ? EsAnswers.Pretty : Compact));
        await WriteAsync(context, new SearchAnswer(status, headers, body, RerankStatus.Skipped, problem), RerankStatus.Skipped.ToHeaderValue(), problem).ConfigureAwait(false);
    }

    /// <summary>
    /// The index segment of the request path as the client encoded it, or null when there is none or the raw target is
    /// not used (<see cref="RawPathTransformer.RawPath"/>). The route value is decoded except for <c>%2F</c>, which
    /// <see cref="BackendClient.SearchPath"/> would encode again: a date-math index <c>&lt;logs-{now/d}&gt;</c>, sent as
    /// <c>%3Clogs-%7Bnow%2Fd%7D%3E</c>, would reach the backend as <c>...now%252Fd...</c>.
    /// </summary>
    private static string? RawIndex(HttpContext context, string? index) => index is null ? null : RawPathTransformer.RawPath(context)?.Split('/') switch
    {
        ["", var segment, _] => segment,
        ["", var segment, "_search", "template"] => segment,
        _ => null,
    };

    /// <summary>
    /// The backend's <c>_search</c> path of <paramref name="index"/>, encoded once: the path's index is decoded whole
    /// from the client's raw segment first (not sent as it came: a cross-cluster <c>remote:logs</c>, its colon
    /// unencoded as a path allows, would make the backend URI one of scheme <c>remote</c>).
    /// </summary>
    private static string BackendPath(string? index, string? pathIndex, string? rawPathIndex) =>
        BackendClient.SearchPath(rawPathIndex is not null && index == pathIndex ? Uri.UnescapeDataString(rawPathIndex) : index);

    /// <summary>
    /// The backend call of a reranked search, cut <see cref="ProxyOptions.DeadlineGrace"/> after the deadline (the backend
    /// was asked with the search <c>timeout</c> that is left, which Elasticsearch honours on a best-effort basis): a
    /// backend still not answering then is a 504 <c>rank1_backend_timeout_exception</c>, as for a backend slower than
    /// <see cref="BackendOptions.Timeout"/>, and like it counts towards the backend circuit (a backend that ignores the
    /// <c>timeout</c> it was sent is failing).
    /// </summary>
    private async Task<BackendResponse> SendWithinDeadlineAsync(string pathAndQuery, byte[] body, IReadOnlyList<KeyValuePair<string, string[]>> headers, SearchDeadline deadline,
        long maxAnswerBytes, CancellationToken cancellationToken)
    {
        var cut = deadline.BackendCut(options.Value.DeadlineGrace);
        try
        {
            return await backend.SendAsync(HttpMethod.Post, pathAndQuery, body, headers, cancellationToken, cut, maxAnswerBytes).ConfigureAwait(false);
        }
        catch (BackendUnavailableException ex) when (ex.Status == 504 && cut < backend.CallLimit)
        {
            throw new BackendUnavailableException(504, ex.Type, string.Create(CultureInfo.InvariantCulture,
                $"the backend {backend.DisplayUri} did not answer within the search's deadline_ms ({deadline.Budget.TotalMilliseconds:0} ms) and Rank1:Proxy:DeadlineGrace " +
                $"({options.Value.DeadlineGrace.TotalMilliseconds:0} ms), though asked with that search timeout"));
        }
    }

    private static string? SkipReason(RerankPlan plan, JsonObject? body, IQueryCollection query, string? queryText, SearchPins? pins)
    {
        if (!plan.Enabled)
        {
            return "reranking is disabled for this search";
        }

        if (query.ContainsKey("scroll"))
        {
            return "scroll searches pass through un-reranked";
        }

        var standard = (body?["retriever"] as JsonObject)?["standard"] as JsonObject;
        if ((body?["search_after"] ?? standard?["search_after"]) is not null)
        {
            return "search_after pages pass through un-reranked";
        }

        // stored_fields _none_ fetches no _source (and no _id): there is no passage to judge, and Elasticsearch refuses a
        // _source asked for beside it ("[stored_fields] cannot be disabled if [_source] is requested", SearchRequest.validate),
        // so the passage fields cannot be asked for either. The URL's stored_fields replaces the body's.
        if (StoredFieldsNone(body, query))
        {
            return "stored_fields is _none_: the hits carry no source to judge";
        }

        if (pins is { AnswerTells: false })
        {
            return PinnedHits.Reason(pins.Pinner);
        }

        // A standard retriever carries its own sort (Elasticsearch 8.14 and later), as a search body does, and so does one
        // under an outermost rule or pinned retriever: CompoundRetrieverBuilder ranks its hits in the order of the search it
        // runs with that sort, whose first key must be _score (QueryRuleRetrieverBuilder.checkValidSort; every key _score
        // or _shard_doc, PinnedRetrieverBuilder.validateSort), in either order: {"_score":"asc"} answers the lowest scores first.
        // The URL's sort keys come after the body's (RestSearchAction.parseSearchSource adds them to its sort list).
        var bodySort = body?["sort"] ?? standard?["sort"] ?? (pins?.Under?["standard"] as JsonObject)?["sort"];
        JsonNode? sorts = (bodySort, UrlSort(query)) switch
        {
            (null, var url) => url,
            (var b, null) => b,
            (var b, var url) => new JsonArray([.. b is JsonArray list ? list.Select(x => x?.DeepClone()) : [b.DeepClone()], .. url.AsArray().Select(x => x?.DeepClone())]),
        };
        if (sorts is { } sort && !SortsByScoreOnly(sort))
        {
            return SortsByScoreOnly(sort, anyOrder: true) ? "the search is sorted by ascending score" : "the search is sorted by a field";
        }

        if ((Int(query, "size") ?? SearchBody.Int(body, "size") ?? 10) == 0)
        {
            return "size is 0";
        }

        return queryText is null ? NoQueryText : null;
    }

    // The sort URL parameter as RestSearchAction reads it, as the body's sort keys it stands for: comma-separated keys, each
    // "field", or "field:asc" or "field:desc" split at its last colon (a key with another suffix is dropped, as there).
    private static JsonArray? UrlSort(IQueryCollection query)
    {
        if (!query.TryGetValue("sort", out var sort))
        {
            return null;
        }

        var keys = new JsonArray();
        foreach (var key in sort.ToString().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var colon = key.LastIndexOf(':');
            if (colon < 0)
            {
                keys.Add(JsonValue.Create(key));
            }
            else if (key[(colon + 1)..] is "asc" or "desc")
            {
                keys.Add(new JsonObject { [key[..colon]] = key[(colon + 1)..] });
            }
        }

        return keys;
    }

    // StoredFieldsContext: _none_ in the URL's comma list, else in the body's stored_fields (a name or a list of names).
    private static bool StoredFieldsNone(JsonObject? body, IQueryCollection query) =>
        SearchBody.StoredFields(body, query.TryGetValue("stored_fields", out var url) ? url.ToString() : null)?.Contains(NoStoredFields) == true;

    private const string NoStoredFields = "_none_";

    // Only the score, best first (Rank1's order replaces it); an ascending score sort is a sort like any other unless anyOrder.
    private static bool SortsByScoreOnly(JsonNode sort, bool anyOrder = false) => sort switch
    {
        JsonValue v => v.GetValueKind() == JsonValueKind.String && v.GetValue<string>() == "_score",
        JsonArray a => a.All(x => x is not null && SortsByScoreOnly(x, anyOrder)),
        JsonObject o => o.Count == 1 && o.TryGetPropertyValue("_score", out var spec) && (anyOrder || !Ascending(spec is JsonObject options ? options["order"] : spec)),
        _ => false,
    };

    private static bool Ascending(JsonNode? order) =>
        order is JsonValue v && v.GetValueKind() == JsonValueKind.String && v.GetValue<string>().Equals("asc", StringComparison.OrdinalIgnoreCase);

    // As RestSearchAction reads them (request.paramAsInt: Integer.parseInt, so "1.5" and " 10" are refused).
    private static int? Int(IQueryCollection query, string name) => XContentInt.Param(name, EsAnswers.Param(query)(name));

    [LoggerMessage(EventId = 2200, Level = LogLevel.Debug, Message = "Search on {Index}: {Status}, {Judged} passages judged in {ElapsedMs} ms")]
    private static partial void LogSearch(ILogger logger, string index, string status, int judged, double elapsedMs);

    [LoggerMessage(EventId = 2207, Level = LogLevel.Warning, Message = "Search on {Index}: the model scored {Count} of the window's {Window} passages NaN (a broken model or export); they are marked failed")]
    private static partial void LogNaN(ILogger logger, string index, int count, int window);
}
