using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Rank1.Elastic;
using Rank1.SearchBridge.Backend;
using Rank1.SearchBridge.Configuration;
using Rank1.SearchBridge.Http.Search;
using Rank1.SearchBridge.Reranking;
using Rank1.SearchBridge.Store;
using Rank1.SearchBridge.Telemetry;

namespace Rank1.SearchBridge.Http.Service;

/// <summary>
/// The rerank endpoints (<c>/v1/rerank</c>, <c>/v2/rerank</c>, <c>/rerank</c> and <c>/reranking</c>): check the key and the
/// body limit, read the call in its protocol (on <c>/rerank</c> the body's: TEI's <c>texts</c> or Jina's <c>documents</c>),
/// judge the documents through the <see cref="StoredWindowJudge"/> the proxy uses
/// (reasoning store first, then the model with its queue limits, batching and deadline), and answer in the
/// protocol's shape, best first. Every failure is answered in the protocol's error shape; none escapes.
/// </summary>
internal sealed partial class RerankService(StoredWindowJudge windowJudge, IOptions<RerankServiceOptions> options, Rank1Metrics metrics,
    TimeProvider time, GracefulShutdown shutdown, ModelTokenLimits modelLimits, Inference.IPassageJudge judge, InFlightBudget budget, IOptions<ProxyOptions> modelOptions,
    ILogger<RerankService> logger)
{
    // The passage "fields" of a service call, for the query fingerprint: documents are plain text, with no title.
    private static readonly string[] ServiceFields = ["text"];

    private readonly RerankServiceOptions _options = options.Value;
    private readonly byte[][] _keys = options.Value.ApiKeys.Select(Encoding.UTF8.GetBytes).ToArray();

    // TEI's "truncate": false measuring, each call's on a thread of its own: at most Rank1:Proxy:MaxConcurrentReranks calls
    // at once, as many as the model judges at once; the others wait for a turn within their deadline. Unbounded, every
    // such call started an OS thread of seconds of CPU before the rerank gates refused any.
    private readonly SemaphoreSlim _measuring = new(modelOptions.Value.MaxConcurrentReranks);

    /// <summary>Tests: called when a call's measuring finds every turn taken and waits for one.</summary>
    internal Action? MeasuringWaits { get; set; }

    /// <summary>Tests: called with the settings a call's window is judged under, once its store lookup has answered.</summary>
    internal Action<Inference.JudgeSettings>? Judging { get; set; }

    public async Task HandleAsync(HttpContext context, RerankProtocol endpoint)
    {
        // The call's arrival, before its body is read: deadline_ms counts from here (as a search's, SearchDeadline).
        var arrived = time.GetTimestamp();
        // The protocol the call is answered in (errors and metrics included): the endpoint's until the body is read,
        // then the one the body is in (RerankRequest.AnsweredIn: on /rerank, TEI's texts or Jina's documents).
        var protocol = endpoint;
        int status;
        string outcome;
        // The body's bytes, as read and as decoded, are held of the process-wide in-flight budget until the answer is
        // encoded (WriteJsonAsync gives them back before its bytes go out), or the call ends without one.
        using var held = budget.Open();
        context.Features.Set(held);
        try
        {
            var body = await ReadRequestAsync(context, endpoint, held).ConfigureAwait(false);
            protocol = RerankRequest.AnsweredIn(endpoint, body);
            (status, outcome) = await AnswerAsync(context, RerankRequest.Parse(protocol, body, _options), arrived).ConfigureAwait(false);
        }
        catch (RerankRequestException e)
        {
            status = e.Status;
            outcome = $"error_{status}";
            if (e.PlainText)
            {
                await WritePlainAsync(context, status, e.Message).ConfigureAwait(false);
            }
            else
            {
                await WriteErrorAsync(context, protocol, status, e.Message, retryAfter: e.RetryAfter, errorType: e.ErrorType, sameAgain: e.SameAgain).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (shutdown.GraceOver && !context.Response.HasStarted)
        {
            // Cancelled by the end of the shutdown grace period (through the request's token, hence none to write with):
            // answered in the protocol's shape rather than with a reset connection.
            status = 503;
            outcome = "error_503";
            await WriteErrorAsync(context, protocol, status, shutdown.Reason, CancellationToken.None, RetryAfter.Soon).ConfigureAwait(false);
        }
        catch (Exception e) when (context.RequestAborted.IsCancellationRequested || e is ConnectionResetException)
        {
            // The client went away (reset its connection mid-body, or left while its documents were judged): nobody to
            // answer, and no failure of the service. Kestrel says so with whatever the read or the write was doing
            // (OperationCanceledException, IOException; the reset itself, ConnectionResetException, may come before
            // RequestAborted fires); none is logged as a failure or counted. A client that only half-closes mid-body is
            // Kestrel's BadHttpRequestException, answered and counted below, though Kestrel, which closes a connection whose
            // body was cut short, may reset it before that client reads the answer.
            LogClientGone(logger, e.GetType().Name);
            return;
        }
        catch (BadHttpRequestException e)
        {
            // The client's transport failed: a body arriving slower than Kestrel's MinRequestBodyDataRate (408), malformed
            // chunked encoding (400 "Bad chunk size data."), and the like. Kestrel's own status is the answer, in the
            // protocol's shape, counted under it; the client's fault, not the service's, so not logged as a failure.
            // As ASP.NET Core answers it (dotnet/aspnetcore, src/Middleware/Diagnostics/src/DeveloperExceptionPage/
            // DeveloperExceptionPageMiddlewareImpl.cs: "Preserve the status code that would have been written by the server
            // automatically when a BadHttpRequestException is thrown").
            status = e.StatusCode;
            outcome = $"error_{status}";
            LogUnreadable(logger, status, e.Message);
            if (!context.Response.HasStarted)
            {
                await WriteErrorAsync(context, protocol, status, $"the request could not be read: {e.Message}", errorType: "Validation").ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            LogFailed(logger, e);
            status = 500;
            outcome = "error_500";
            if (!context.Response.HasStarted)
            {
                await WriteErrorAsync(context, protocol, 500, $"internal error: {e.Message}").ConfigureAwait(false);
            }
        }

        metrics.ServiceRequest(ProtocolName(protocol), outcome);
    }

    /// <summary>The key checked, then the body read as a JSON object; any problem is answered in the <paramref name="endpoint"/>'s protocol.</summary>
    private async Task<JsonObject> ReadRequestAsync(HttpContext context, RerankProtocol endpoint, InFlightBudget.Lease held)
    {
        if (_keys.Length > 0 && !Authorized(context.Request))
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
            throw new RerankRequestException(401, "invalid api token: send Authorization: Bearer KEY with a key of Rank1:Service:ApiKeys");
        }

        var bytes = await ReadBodyAsync(context, endpoint, held).ConfigureAwait(false);
        // Read in place, past the byte order mark if there is one.
        var body = bytes.AsMemory(bytes.Length - RerankRequest.Unmarked(bytes).Length);
        if (endpoint != RerankProtocol.Tei)
        {
            return RerankRequest.Read(endpoint, body.Span);
        }

        if (JsonContentType(context.Request.Headers.ContentType.ToString()))
        {
            return ReadTei(body);
        }

        // TEI's handler takes its body through axum's Json extractor (router/src/http/server.rs: Json(req): Json<RerankRequest>),
        // which refuses a request whose Content-Type is missing or not JSON before it reads the body: 415, text/plain, axum's
        // MissingJsonContentType. A JSON object without texts on these paths is llama.cpp's (RerankRequest.AnsweredIn),
        // whose server reads the body whatever its Content-Type.
        JsonObject? read = null;
        try
        {
            read = RerankRequest.Read(endpoint, body.Span);
        }
        catch (RerankRequestException)
        {
        }

        return read is not null && RerankRequest.AnsweredIn(endpoint, read) != RerankProtocol.Tei
            ? read
            : throw new RerankRequestException(StatusCodes.Status415UnsupportedMediaType, "Expected request with `Content-Type: application/json`") { PlainText = true };
    }

    /// <summary>
    /// A <c>/rerank</c> body (<see cref="RerankRequest.Unmarked"/>) as TEI's handler gets it through axum's <c>Json</c> extractor
    /// (<see cref="TeiJsonExtractor"/>): JSON that serde_json cannot parse is axum's 400, a TEI body (one with <c>texts</c>, or no
    /// object at all) that does not fit TEI's request its 422, both in axum's plain text; a body without <c>texts</c> is
    /// llama.cpp's and is read as <c>/v1/rerank</c> reads it (<see cref="RerankRequest.AnsweredIn"/>). The checks serde does not
    /// make (a duplicate key TEI ignores, nesting past 64) stay <see cref="RerankRequest.Read"/>'s; text after a TEI body is
    /// not read, as axum 0.7.9 does not read it.
    /// The body is parsed once: a body Read takes whose fields fit TEI's request (<see cref="TeiJsonExtractor.Fits"/>) is one
    /// serde reads; only another is read again, by serde's rules, for its refusal.
    /// </summary>
    private static JsonObject ReadTei(ReadOnlyMemory<byte> json)
    {
        JsonObject? body = null;
        RerankRequestException? unread = null;
        try
        {
            body = RerankRequest.Read(RerankProtocol.Tei, json.Span);
        }
        catch (RerankRequestException e)
        {
            unread = e;
        }

        if (body is not null && TeiJsonExtractor.Fits(body))
        {
            return body;
        }

        if (TeiJsonExtractor.Rejection(json, out var end) is not { } refused)
        {
            return body ?? ObjectBeforeText(json.Span, end) ?? throw unread!;
        }

        if (refused.Syntax)
        {
            throw new RerankRequestException(StatusCodes.Status400BadRequest, refused.Message) { PlainText = true };
        }

        if (body is not null && RerankRequest.AnsweredIn(RerankProtocol.Tei, body) != RerankProtocol.Tei)
        {
            return body;
        }

        // An object without texts (as far as serde read it) that RerankRequest.Read refuses (a duplicate key, invalid UTF-8,
        // nesting past 64, text after it) is llama.cpp's, refused as /v1/rerank refuses it, not with serde's "missing field `texts`";
        // but one followed by text, whose texts serde did not reach, is TEI's when the object alone has texts (axum 0.7.9 never
        // reads the text after it).
        throw unread is not null && !refused.Tei && !TeiBeforeTheText(json.Span) ? unread
            : new RerankRequestException(StatusCodes.Status422UnprocessableEntity, refused.Message) { PlainText = true };
    }

    // Whether the body is a JSON object with texts followed by more text (which Read refuses whole).
    private static bool TeiBeforeTheText(ReadOnlySpan<byte> json)
    {
        try
        {
            return ObjectBeforeText(json, RequestJson.ObjectEnd(json)) is { } body && RerankRequest.AnsweredIn(RerankProtocol.Tei, body) == RerankProtocol.Tei;
        }
        catch (RerankRequestException)
        {
            return false;
        }
    }

    // The object a body with text after it holds, read as a body of its own (null when end, where the object ends, is not
    // short of the body's end): TEI's axum 0.7.9 reads the request and never the bytes after it (axum/src/json.rs,
    // Json::from_bytes, does not call serde_json's Deserializer::end), so such a body is its object's.
    private static JsonObject? ObjectBeforeText(ReadOnlySpan<byte> json, int end) =>
        end > 0 && end < json.Length ? RerankRequest.Read(RerankProtocol.Tei, json[..end]) : null;

    // axum's json_content_type: a media type application/json, or application/*+json, parameters allowed.
    private static bool JsonContentType(string contentType) =>
        Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(contentType, out var media)
        && media.Type.Equals("application", StringComparison.OrdinalIgnoreCase)
        && (media.SubType.Equals("json", StringComparison.OrdinalIgnoreCase) || media.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase));

    private static Task WritePlainAsync(HttpContext context, int status, string message)
    {
        // The message is short (TeiJsonExtractor cuts a value it names); the body's in-flight bytes stay held until it is
        // written and HandleAsync ends.
        var bytes = Encoding.UTF8.GetBytes(message);
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        context.Response.ContentLength = bytes.Length;
        return context.Response.Body.WriteAsync(bytes, context.RequestAborted).AsTask();
    }

    /// <summary>
    /// Judges the call's documents and writes the answer. <c>deadline_ms</c> counts from <paramref name="arrivedTimestamp"/>
    /// (before the body was read): reading and checking the body, measuring the documents (TEI's <c>"truncate": false</c>),
    /// keying them and the store lookup spend from it, and the model is given what is left (none: not asked, 504).
    /// </summary>
    private async Task<(int Status, string Outcome)> AnswerAsync(HttpContext context, RerankRequest request, long arrivedTimestamp)
    {
        var started = time.GetTimestamp();
        var deadline = new SearchDeadline(time, arrivedTimestamp, request.Deadline);
        // A max_tokens_per_doc at or above the engine's passage limit is judged as no value and shares its store key (ReasoningKeys.Limits).
        var fingerprint = ReasoningKeys.Fingerprint(request.Query, request.Instructions, request.MaxThinkTokens, ServiceFields, null,
            ReasoningKeys.Limits(null, request.MaxPassageTokens, modelLimits, request.Truncate, request.TruncateStart), request.PromptTemplate);
        var settings = new Inference.JudgeSettings
        {
            MaxThinkTokens = request.MaxThinkTokens, PromptTemplate = request.PromptTemplate, MaxPassageTokens = request.MaxPassageTokens, Truncate = request.Truncate,
            TruncateStart = request.TruncateStart,
        };
        var (measured, timedOut) = await TeiPairsCheckedAsync(context, request, settings, deadline, started).ConfigureAwait(false);
        StoredLookup? lookup = null;
        if (timedOut is null)
        {
            // Not keyed (a SHA-256 of each text) nor read when the deadline passed while the texts were measured.
            var model = windowJudge.Model;
            var window = request.Documents.Select((d, i) => new KeyedPassage(new PassageToJudge(i, null, d.Text), JudgementRecords.ServiceKey(model, fingerprint, d.Text))).ToArray();
            // Bounded by the deadline as a search's lookup is (at least SearchWindowRerank.StoreLookupFloor): a store that does
            // not answer cannot hold the call past it.
            lookup = await SearchWindowRerank.LookupWithinAsync(windowJudge, time, window, deadline, context.RequestAborted).ConfigureAwait(false);
            // The store misses are judged from the prompts the measuring encoded (each encoded once); the other texts'
            // prompts are let go here, not held through the wait for a rerank slot and the judging.
            settings = settings with { Checked = lookup is null ? null : measured?.Keeping(lookup.Misses.Select(m => (m.Passage.Title, m.Passage.Text))) };
            Judging?.Invoke(settings);
        }

        measured = null;
        var outcome = timedOut
            ?? (SearchWindowRerank.CutOff(lookup, deadline, time, started, out var cutOff)
                ? cutOff
                : await windowJudge.JudgeAsync(new WindowQuery(request.Query, request.Instructions, settings, SearchWindowRerank.Remaining(deadline), fingerprint), lookup, started,
                    context.RequestAborted).ConfigureAwait(false));
        if (NotANumber(outcome) is { } nan)
        {
            LogScoreNaN(logger, nan);
            // Before any other failure is answered (a NaN is the model's, not the input's: not TEI's 422 nor an over-long input).
            // TEI refuses the call before it sorts or writes a score (router/src/http/server.rs, rerank: "Check that s is not
            // NaN or the partial_cmp below will panic", ErrorType::Backend, 424). Before, our TEI answer was a 200 with
            // "score": null, and /v1 and /v2 a 500 "internal error" from the score's writer. Cohere documents no NaN: its
            // clients get the model failure's 503. No Retry-After on either (TEI's router sends none on any error): the same
            // model scores the same call NaN again, unless its batching with other calls changes the sums; Cohere's SDK still
            // retries the 503 twice on its own 1 s, 2 s backoff (core/fetcher/requestWithRetries.js).
            throw request.Protocol == RerankProtocol.Tei
                ? new RerankRequestException(StatusCodes.Status424FailedDependency, "score is NaN") { SameAgain = true }
                : new RerankRequestException(StatusCodes.Status503ServiceUnavailable, $"rank1 could not rerank: the model's score of documents[{nan}] is NaN (not a number)")
                {
                    SameAgain = true,
                };
        }

        if (!request.Truncate && outcome.Failures.Count > 0)
        {
            // Still refused whole where the judge could not measure the inputs first (a judge other than the engine).
            throw OverLong(outcome.Failures[0].Reason);
        }

        // The status headers go on the answer and on the failures below, not on the refusals above.
        var header = outcome.Status.ToHeaderValue();
        context.Response.Headers[RerankStatusNames.Header] = header;
        if (outcome.Reason is not null)
        {
            context.Response.Headers[RerankStatusNames.ReasonHeader] = outcome.Reason;
        }

        var failed = outcome.Status switch
        {
            // Every document failed because of its input (the caller's to fix), not because of the model.
            RerankStatus.FallbackError when outcome.Failures.Count == request.Documents.Count - (lookup?.Cached.Count ?? 0) && outcome.Failures.Count > 0 => request.Protocol == RerankProtocol.Tei ? 422 : 400,
            RerankStatus.FallbackOverload => 429,
            // The deadline passed before the model took the call (a rerank slot or a batch row): overload, answered
            // so, rather than a 504 that clients retry at once (Cohere's SDK twice), tripling the wait.
            RerankStatus.FallbackTimeout when outcome.TimedOutWaiting => 429,
            // TEI answers a failure of its model backend 424 (router/src/http/server.rs: ErrorType::Backend => FAILED_DEPENDENCY),
            // where Cohere's clients get 503. A passed deadline stays a 504: TEI has no deadline of its own to copy.
            RerankStatus.FallbackError when request.Protocol == RerankProtocol.Tei => 424,
            RerankStatus.FallbackError => 503,
            RerankStatus.FallbackTimeout => 504,
            _ => 0,
        };
        if (failed != 0)
        {
            // The service has no first-stage order to fall back to: it says why it could not rank.
            throw new RerankRequestException(failed, $"rank1 could not rerank: {outcome.Reason ?? header}")
            {
                // When a client should try again (Retry-After; Cohere's SDK honours it instead of its own 1 s, 2 s
                // backoff): an open model circuit calls the model again once its break is over; an overload once the
                // backlog has drained at the recent pace; a single failure with the circuit still closed may be retried soon.
                RetryAfter = outcome.CircuitOpenFor is { } left ? RetryAfter.After(left) : failed == 429 && outcome.DrainsIn is { } drain ? RetryAfter.After(drain) : null,
            };
        }

        await WriteAnswerAsync(context, request, outcome).ConfigureAwait(false);
        return (200, header);
    }

    /// <summary>
    /// TEI's checks of each (query, text) pair, made in order before any text is judged, the first failing pair's error
    /// answered, as TEI answers it (router/src/http/server.rs, rerank: the pairs' results are collected into one Result, the
    /// first error in input order): a pair whose query and text are both empty is TEI's Empty error, 400
    /// (core/src/tokenization.rs: EncodingInput::Dual is_empty); under <c>"truncate": false</c> an over-long pair is its
    /// Validation error, 422 (<see cref="OverLong"/>). Every text before the first empty pair is measured, so that
    /// <c>["too long", ""]</c> with an empty query is the 422 of the first, not the 400 of the second. The refusal is
    /// immediate rather than after the model has judged all the other texts.
    /// The measuring spends from the call's <paramref name="deadline"/>: it stops when the deadline passes (between texts,
    /// and within one as the tokenizer goes), a 504 as when the deadline passes before the store lookup has answered
    /// (its outcome is then <see cref="SearchWindowRerank.TimedOut"/>'s, answered as the others, and the model is not asked).
    /// It runs on a thread of its own, as the engine tokenizes a window
    /// (<c>Rank1Engine.OffThreadPool</c>, measured there, #18), not on the request's pool thread, which other requests'
    /// reads and writes wait for: a call's measuring is seconds of CPU (docs/rerank-service.md, "Long documents"). At most
    /// <see cref="ProxyOptions.MaxConcurrentReranks"/> calls measure at once; the others wait for a turn, within the deadline.
    /// </summary>
    /// <returns>The prompts the measuring encoded (none when it did not measure), or the outcome of a deadline that passed while it did.</returns>
    private async Task<(Inference.CheckedInputs? Measured, RerankOutcome? TimedOut)> TeiPairsCheckedAsync(HttpContext context, RerankRequest request, Inference.JudgeSettings settings,
        SearchDeadline deadline, long started)
    {
        if (request.Protocol != RerankProtocol.Tei)
        {
            return default;
        }

        var firstEmpty = request.Query.Length == 0 ? request.Documents.ToList().FindIndex(d => d.Text.Length == 0) : -1;
        Inference.CheckedInputs? measured = null;
        if (!request.Truncate && judge is Inference.Rank1Engine engine)
        {
            var texts = request.Documents.Take(firstEmpty < 0 ? request.Documents.Count : firstEmpty).Select(d => ((string?)null, d.Text)).ToArray();
            if (!await SearchWindowRerank.EnterWithinAsync(_measuring, deadline, context.RequestAborted, w =>
            {
                if (w > 0)
                {
                    MeasuringWaits?.Invoke();
                }
            }).ConfigureAwait(false))
            {
                return (null, SearchWindowRerank.TimedOut(time, SearchWindowRerank.ModelNotAsked, started));
            }

            try
            {
                // Made inside the try: the measuring slot taken above is released whatever happens from here.
                using var timeout = new CancellationTokenSource(deadline.Left, time);
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, timeout.Token);
                try
                {
                    measured = await Task.Factory.StartNew(() => engine.CheckInputs(request.Query, request.Instructions, texts, settings, linked.Token), linked.Token,
                        TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (timeout.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
                {
                    return (null, SearchWindowRerank.TimedOut(time, SearchWindowRerank.ModelNotAsked, started));
                }
            }
            catch (Inference.Rank1InputException e)
            {
                throw OverLong(e.Message);
            }
            finally
            {
                _measuring.Release();
            }
        }

        if (firstEmpty >= 0)
        {
            // Written as TextEmbeddingsError displays it (core/src/lib.rs).
            throw new RerankRequestException(400, RerankRequest.TeiInputError("`inputs` cannot be empty"));
        }

        return (measured, null);
    }

    /// <summary>
    /// TEI's refusal of an over-long input under <c>"truncate": false</c>, in its own words (the engine's, as
    /// TextEmbeddingsError displays them), as a Validation error: 422 (core/src/tokenization.rs: TextEmbeddingsError::Validation;
    /// router/src/http/server.rs: Validation => 422 since TEI 1.9.0, 413 before).
    /// </summary>
    private static RerankRequestException OverLong(string reason) => new(422, RerankRequest.TeiInputError(reason));

    /// <summary>Judged documents best first (ties in input order), then any the deadline left unjudged, in input order with score 0.</summary>
    internal static IReadOnlyList<(int Index, PassageVerdict? Verdict)> Ranked(RerankRequest request, RerankOutcome outcome)
    {
        var judged = outcome.Verdicts.OrderByDescending(v => v.Judgement.Score).ThenBy(v => v.Index).Select(v => (v.Index, (PassageVerdict?)v)).ToList();
        var seen = outcome.Verdicts.Select(v => v.Index).ToHashSet();
        judged.AddRange(Enumerable.Range(0, request.Documents.Count).Where(i => !seen.Contains(i)).Select(i => (i, (PassageVerdict?)null)));
        return judged.Take(request.TopN).ToArray();
    }

    /// <summary>
    /// The first document, in input order (TEI checks its pairs' scores so), that the model scored NaN (the executor's
    /// <see cref="PassageFailure.NotANumber"/>); null when none is. NaN is the one score that is not a number the model can
    /// give: a score is sigmoid(logit(" true") - logit(" false")) (<c>Rank1Scorer.Sigmoid</c>), 0 or 1 for an infinite gap,
    /// and NaN when a logit is NaN or both are infinite alike.
    /// </summary>
    private static int? NotANumber(RerankOutcome outcome) =>
        outcome.Failures.Where(f => f.NotANumber).Select(f => (int?)f.Index).Min();

    private Task WriteAnswerAsync(HttpContext context, RerankRequest request, RerankOutcome outcome)
    {
        var ranked = Ranked(request, outcome);
        var extras = request.ReturnReasoning;
        if (request.Protocol == RerankProtocol.Tei)
        {
            // TEI's score is an f32 (router/src/http/types.rs, Rank): the nearest one, as Rust's `as f32` rounds.
            var tei = ranked.Select(r => new TeiResult(r.Index, (float)Score(r.Verdict, request.RawScores), request.ReturnDocuments ? request.Documents[r.Index].Text : null,
                extras ? r.Verdict?.Judgement.Reasoning : null, extras ? r.Verdict?.Judgement.ReasoningTokens : null, extras && r.Verdict is { } v ? Ended(v) : null)).ToArray();
            return WriteJsonAsync(context, 200, tei, HttpJson.Answers.TeiResultArray);
        }

        var results = ranked.Select(r => new CohereResult(r.Index, Score(r.Verdict, raw: false), request.ReturnDocuments ? request.Documents[r.Index].Returned.DeepClone() : null,
            extras ? r.Verdict?.Judgement.Reasoning : null, extras ? r.Verdict?.Judgement.ReasoningTokens : null, extras && r.Verdict is { } v ? Ended(v) : null)).ToArray();
        var tokens = outcome.Verdicts.Where(v => v.Source != PassageSource.Cached).Sum(v => (long)v.Judgement.PromptTokens + v.Judgement.ReasoningTokens);
        var answer = new CohereAnswer(Guid.NewGuid().ToString(), results,
            new CohereMeta(new CohereApiVersion(request.Protocol == RerankProtocol.CohereV2 ? "2" : "1"), new CohereBilledUnits(1)),
            request.Model ?? _options.ModelName, new CohereUsage(tokens));
        return WriteJsonAsync(context, 200, answer, HttpJson.Answers.CohereAnswer);
    }

    // "cached" judgements keep how their reasoning ended; the source says where the judgement came from.
    private static string Ended(PassageVerdict verdict) => Inference.ReasoningEnds.Name(verdict.Judgement.End);

    /// <summary>The Rank1 probability, or with TEI's <c>raw_scores</c> its log-odds (TEI's raw score is the logit before the sigmoid).</summary>
    internal static double Score(PassageVerdict? verdict, bool raw)
    {
        var score = verdict?.Judgement.Score ?? 0;
        var p = Math.Clamp(score, 1e-12, 1 - 1e-12);
        return raw ? Math.Log(p / (1 - p)) : score;
    }

    private bool Authorized(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        const string Bearer = "Bearer ";
        if (!header.StartsWith(Bearer, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var given = Encoding.UTF8.GetBytes(header[Bearer.Length..].Trim());
        var ok = false;
        foreach (var key in _keys)
        {
            // Constant time per key, and every key is compared: the answer time says nothing about a near miss.
            ok |= CryptographicOperations.FixedTimeEquals(given, key);
        }

        return ok;
    }

    /// <summary>
    /// The body, at most <see cref="RerankServiceOptions.MaxBodyBytes"/> (declared, streamed or once decompressed): more is a
    /// 413. A <c>Content-Encoding</c> (gzip, deflate, br) is undone as the proxy undoes it for <c>_search</c>
    /// (<see cref="ContentCoding.DecodeRequest"/>); another is a 415, a body that does not decode the
    /// <paramref name="endpoint"/>'s validation error. Every byte read, and every byte decoded as it inflates, is taken from
    /// <paramref name="held"/> (<see cref="Take"/>): a body that would take the bytes in flight past the process-wide budget
    /// stops there, a 429.
    /// </summary>
    private async Task<byte[]> ReadBodyAsync(HttpContext context, RerankProtocol endpoint, InFlightBudget.Lease held)
    {
        var limit = _options.MaxBodyBytes;
        var tooLarge = new RerankRequestException(413, $"request body too large: at most {limit} bytes (Rank1:Service:MaxBodyBytes)");
        if (context.Request.ContentLength > limit)
        {
            throw tooLarge;
        }

        var encoding = context.Request.Headers.ContentEncoding.ToString();
        if (encoding.Length > 0 && !ContentCoding.Supports(encoding))
        {
            throw new RerankRequestException(StatusCodes.Status415UnsupportedMediaType, $"unsupported Content-Encoding [{encoding}]: send gzip, deflate, br or none")
            {
                ErrorType = "Validation",
            };
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature && (feature.MaxRequestBodySize is null || feature.MaxRequestBodySize < limit + 1))
        {
            // Kestrel's own cap would answer first, in its shape; ours is the one that counts here.
            feature.MaxRequestBodySize = limit + 1;
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > limit)
            {
                throw tooLarge;
            }

            Take(held, read);
            buffer.Write(chunk, 0, read);
        }

        if (encoding.Length == 0)
        {
            return buffer.ToArray();
        }

        try
        {
            // Inflated up to the same limit: a small compressed body (a gzip bomb) cannot take unbounded memory.
            return ContentCoding.DecodeRequest(buffer.ToArray(), encoding, limit, inflated => Take(held, inflated));
        }
        catch (DecodedTooLongException)
        {
            throw new RerankRequestException(413, $"request body too large once decompressed: at most {limit} bytes (Rank1:Service:MaxBodyBytes)");
        }
        catch (InvalidDataException e)
        {
            throw new RerankRequestException(RerankRequest.InvalidStatus(endpoint), $"invalid request: the body is not valid {encoding}: {e.Message}");
        }
    }

    /// <summary>
    /// Takes <paramref name="bytes"/> of the in-flight budget (<see cref="ProxyOptions.MaxInFlightBytes"/>, shared with the
    /// proxy's searches in the proxy host), or refuses the call as overload: 429 with <c>Retry-After</c> (TEI's
    /// <c>Overloaded</c>), since the bytes come back as the calls in flight end; nothing is taken.
    /// </summary>
    private void Take(InFlightBudget.Lease held, int bytes)
    {
        if (!held.TryTake(bytes, out var wanted))
        {
            throw new RerankRequestException(StatusCodes.Status429TooManyRequests,
                $"rank1 could not rerank: the request bodies in flight would hold {wanted} bytes, more than the limit of {budget.Limit} bytes (Rank1:Proxy:MaxInFlightBytes)");
        }
    }

    /// <summary>
    /// An error in the protocol's shape; a 429 or 503 says when to try again (<c>Retry-After</c>: <paramref name="retryAfter"/>,
    /// else <see cref="RetryAfter.Soon"/>; the model circuit's break comes as <paramref name="retryAfter"/> when it is open);
    /// so does TEI's 424, its status for what Cohere answers 503; none when <paramref name="sameAgain"/> (the call would fail
    /// the same way again: <see cref="RerankRequestException.SameAgain"/>). TEI's <c>error_type</c> is <paramref name="errorType"/>
    /// when given, else the status's.
    /// </summary>
    private Task WriteErrorAsync(HttpContext context, RerankProtocol protocol, int status, string message, CancellationToken? cancellationToken = null, string? retryAfter = null,
        string? errorType = null, bool sameAgain = false)
    {
        if (!sameAgain && status is StatusCodes.Status429TooManyRequests or StatusCodes.Status503ServiceUnavailable or StatusCodes.Status424FailedDependency)
        {
            context.Response.Headers.RetryAfter = retryAfter ?? RetryAfter.Soon;
        }

        return protocol == RerankProtocol.Tei
            ? WriteJsonAsync(context, status, new TeiError(message, errorType ?? TeiErrorType(status)), HttpJson.Answers.TeiError, cancellationToken)
            : WriteJsonAsync(context, status, new CohereError(message), HttpJson.Answers.CohereError, cancellationToken);
    }

    /// <summary>
    /// A method other than POST on a Cohere path of <c>rank1-bridge serve</c>: 405 with <c>Allow: POST</c>, in Cohere's
    /// shape (<c>{"message"}</c>) as every other error there, where ASP.NET Core's routing answered an empty body.
    /// </summary>
    internal static Task WrongMethodAsync(HttpContext context, string path)
    {
        context.Response.Headers.Allow = HttpMethods.Post;
        return WriteJsonAsync(context, StatusCodes.Status405MethodNotAllowed,
            new CohereError($"invalid request: {path} takes POST, not {context.Request.Method}"), HttpJson.Answers.CohereError);
    }

    // TEI's statuses per error type (router/src/http/server.rs, impl From<&ErrorType> for StatusCode): Unhealthy 503,
    // Backend 424, Overloaded 429, Tokenizer 422, Validation 422 (413 before TEI 1.9.0, PR #818), Empty 400. A body over
    // the limit is a 413 PayloadTooLarge (axum's own 413 is plain text; the JSON shape is kept for clients that read it).
    private static string TeiErrorType(int status) => status switch
    {
        401 => "Unauthorized",
        413 => "PayloadTooLarge",
        429 => "Overloaded",
        400 => "Empty", // TEI's only 400: an empty batch (router/src/http/server.rs)
        422 => "Validation",
        503 => "Unhealthy",
        _ => "Backend",
    };

    private static async Task WriteJsonAsync<T>(HttpContext context, int status, T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, CancellationToken? cancellationToken = null)
    {
        var bytes = OutputJson.Utf8(JsonSerializer.SerializeToUtf8Bytes(value, type));
        // A client that has read the whole answer finds the call's in-flight bytes back already (as SearchHttp.WriteAsync).
        context.Features.Get<InFlightBudget.Lease>()?.Dispose();
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = bytes.Length;
        await context.Response.Body.WriteAsync(bytes, cancellationToken ?? context.RequestAborted).ConfigureAwait(false);
    }

    internal static string ProtocolName(RerankProtocol protocol) => protocol switch
    {
        RerankProtocol.CohereV1 => "cohere_v1",
        RerankProtocol.CohereV2 => "cohere_v2",
        _ => "tei",
    };

    [LoggerMessage(EventId = 2500, Level = LogLevel.Error, Message = "Rerank service call failed")]
    private static partial void LogFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 2501, Level = LogLevel.Information, Message = "Rerank service call refused: its request could not be read ({Status}: {Reason})")]
    private static partial void LogUnreadable(ILogger logger, int status, string reason);

    [LoggerMessage(EventId = 2502, Level = LogLevel.Debug, Message = "Rerank service call abandoned: the client went away ({Error})")]
    private static partial void LogClientGone(ILogger logger, string error);

    [LoggerMessage(EventId = 2503, Level = LogLevel.Warning, Message = "Rerank service call refused: the model scored documents[{Index}] NaN")]
    private static partial void LogScoreNaN(ILogger logger, int index);
}
