using System.Diagnostics.Metrics;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.CircuitBreaker;
using Polly.Timeout;

namespace Rank1.Elastic;

/// <summary>The product behind the proxy, read from its <c>GET /</c>.</summary>
public enum BackendFlavor
{
    /// <summary>Not known yet (the backend has not answered <c>GET /</c>).</summary>
    Unknown,

    /// <summary>Elasticsearch (keeps <c>X-Elastic-Product</c>).</summary>
    Elasticsearch,

    /// <summary>OpenSearch (<c>version.distribution: opensearch</c>).</summary>
    OpenSearch,
}

/// <summary>A buffered backend answer.</summary>
internal sealed record BackendResponse(int Status, IReadOnlyList<KeyValuePair<string, string[]>> Headers, byte[] Body);

/// <summary>The backend's answer is bigger than the caller takes (<see cref="BackendClient.SendAsync"/>'s <c>maxAnswerBytes</c>).</summary>
internal sealed class BackendAnswerTooLargeException(long limit) : Exception($"the backend's answer is over {limit} bytes")
{
    /// <summary>The most bytes the answer may hold.</summary>
    public long Limit { get; } = limit;
}

/// <summary>The backend was unreachable, too slow, or its circuit is open: answered as 502, 504 or 503.</summary>
internal sealed class BackendUnavailableException(int status, string type, string reason) : Exception(reason)
{
    /// <summary>HTTP status of the answer: 502, 503 or 504.</summary>
    public int Status { get; } = status;

    /// <summary>The Elasticsearch error type, e.g. <c>rank1_backend_timeout_exception</c>.</summary>
    public string Type { get; } = type;

    /// <summary>For an open circuit: the time left until it lets a call through again; null for any other failure.</summary>
    public TimeSpan? RetryAfter { get; init; }

    /// <summary>The error as the proxy answers it.</summary>
    public EsException ToEsException() => new(Status, Type, Message);
}

/// <summary>
/// The proxy's way to its one backend. One <see cref="SocketsHttpHandler"/> (no proxy, no redirects, no automatic
/// decompression, no cookies) serves both YARP's pass-through forwarder and the proxy's own search calls. Backend
/// calls run inside a circuit breaker (shared by both paths); the proxy's own calls also have a timeout inside it.
/// </summary>
internal sealed partial class BackendClient : IDisposable
{
    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "TE", "Trailer", "Upgrade", "Host", "Content-Length",
    };

    private readonly HttpClient _http;
    private static readonly ResiliencePropertyKey<TimeSpan> CallTimeout = new("rank1.backend.call-timeout");

    private readonly ResiliencePipeline _timedCall;
    private readonly Action<string> _failed;
    private readonly ILogger<BackendClient> _logger;

    /// <summary>
    /// A client for the cluster <paramref name="options"/> name; <paramref name="failed"/> hears of each failed call
    /// (<c>timeout</c>, <c>unreachable</c>, <c>circuit_open</c>), for the metrics; the handler's own HttpClient metrics
    /// (<c>System.Net.Http</c>) are made by <paramref name="meters"/>, the host's factory, when one is given.
    /// </summary>
    public BackendClient(BackendOptions options, TimeProvider time, Action<string> failed, ILogger<BackendClient> logger, IMeterFactory? meters = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var o = options;
        BaseUri = new Uri(o.Url.EndsWith('/') ? o.Url : o.Url + "/");
        _failed = failed;
        _logger = logger;
        Handler = new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            ConnectTimeout = TimeSpan.FromSeconds(5),
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            EnableMultipleHttp2Connections = true,
            // One pool for all backend traffic, bounded: a 10,000-item msearch waits for connections instead of opening thousands.
            MaxConnectionsPerServer = o.MaxConnections,
            MeterFactory = meters,
        };
        Invoker = new HttpMessageInvoker(Handler, disposeHandler: false);
        _http = new HttpClient(Handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
        Breaker = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                FailureRatio = o.BreakerFailureRatio,
                MinimumThroughput = o.BreakerMinimumThroughput,
                SamplingDuration = o.BreakerSamplingDuration,
                BreakDuration = o.BreakerBreakDuration,
                ShouldHandle = new PredicateBuilder().Handle<BackendUnavailableException>().Handle<TimeoutRejectedException>().Handle<HttpRequestException>(),
            })
            .Build();
        // Timeout inside the breaker: a slow backend counts as a failing one (a call's own shorter timeout, SendAsync's
        // within, as well).
        CallLimit = o.Timeout;
        _timedCall = new ResiliencePipelineBuilder { TimeProvider = time }.AddPipeline(Breaker).AddTimeout(new TimeoutStrategyOptions
        {
            TimeoutGenerator = args => ValueTask.FromResult(args.Context.Properties.TryGetValue(CallTimeout, out var within) && within < o.Timeout ? within : o.Timeout),
        }).Build();
    }

    /// <summary>Rank1:Backend:Timeout: the longest any call the product makes itself may take.</summary>
    public TimeSpan CallLimit { get; }

    public Uri BaseUri { get; }

    /// <summary>
    /// <see cref="BaseUri"/> without user name and password: what health answers, errors and logs show (credentials in
    /// the backend URL are for the backend, not for anyone who can reach the proxy).
    /// </summary>
    public Uri DisplayUri => string.IsNullOrEmpty(BaseUri.UserInfo) ? BaseUri : new UriBuilder(BaseUri) { UserName = string.Empty, Password = string.Empty }.Uri;

    /// <summary>The one handler of all backend traffic.</summary>
    public SocketsHttpHandler Handler { get; }

    /// <summary>For YARP's forwarder.</summary>
    public HttpMessageInvoker Invoker { get; }

    /// <summary>The backend circuit breaker, shared with pass-through.</summary>
    public ResiliencePipeline Breaker { get; }

    public BackendFlavor Flavor { get; private set; }

    /// <summary>
    /// The version an Accept or Content-Type header's <c>compatible-with</c> parameter names, or null when it names none.
    /// Read wherever it stands: elasticsearch-js 9 sends <c>Accept: application/vnd.elasticsearch+json;
    /// compatible-with=9,text/plain</c> beside a Content-Type naming version 9, and Elasticsearch takes the pair.
    /// </summary>
    /// <param name="mediaType">The header's value.</param>
    public static int? CompatibleWith(string mediaType)
    {
        var marker = mediaType.IndexOf("compatible-with=", StringComparison.OrdinalIgnoreCase);
        var digits = marker < 0 ? "" : new string(mediaType[(marker + "compatible-with=".Length)..].TakeWhile(char.IsAsciiDigit).ToArray());
        return int.TryParse(digits, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var version) ? version : null;
    }

    /// <summary>The <c>_search</c> path of an index expression (lists and wildcards kept readable).</summary>
    public static string SearchPath(string? index) =>
        string.IsNullOrEmpty(index) ? "_search" : $"{Uri.EscapeDataString(index).Replace("%2C", ",", StringComparison.Ordinal).Replace("%2A", "*", StringComparison.Ordinal)}/_search";

    /// <summary>
    /// Sends a request the proxy built; the answer is buffered. A body goes with the client's Content-Type among
    /// <paramref name="headers"/>, else with the client's Accept when that names a compatible version, else with
    /// <c>application/json</c>. Throws <see cref="BackendUnavailableException"/>: a 504
    /// <c>rank1_backend_timeout_exception</c> when the backend has not answered within <see cref="CallLimit"/> or the
    /// shorter <paramref name="within"/>, which counts towards the circuit as a failure either way (the caller's own
    /// cancellation never does). An answer of more than <paramref name="maxAnswerBytes"/> bytes (as sent, before any
    /// Content-Encoding is undone) is <see cref="BackendAnswerTooLargeException"/>, found as soon as its Content-Length or
    /// its first byte past the limit says so: it is never held whole.
    /// </summary>
    public async Task<BackendResponse> SendAsync(HttpMethod method, string pathAndQuery, byte[]? body, IEnumerable<KeyValuePair<string, string[]>> headers, CancellationToken cancellationToken,
        TimeSpan? within = null, long maxAnswerBytes = long.MaxValue)
    {
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        if (within is { } w)
        {
            context.Properties.Set(CallTimeout, w);
        }

        try
        {
            return await _timedCall.ExecuteAsync(async c =>
            {
                var ct = c.CancellationToken;
                using var request = new HttpRequestMessage(method, new Uri(BaseUri, pathAndQuery.TrimStart('/')));
                if (body is not null)
                {
                    request.Content = new ByteArrayContent(body);
                }

                foreach (var (name, values) in headers)
                {
                    if (HopByHop.Contains(name))
                    {
                        continue;
                    }

                    if (!request.Headers.TryAddWithoutValidation(name, values))
                    {
                        request.Content?.Headers.TryAddWithoutValidation(name, values);
                    }
                }

                // A body the proxy made up (a search sent with no body, only q=) has no client Content-Type to keep, and
                // Elasticsearch answers a body without one with a 406; and a body's Content-Type must name the compatible
                // version the Accept header names (elasticsearch-py sends Accept: ...; compatible-with=9 alone), or none.
                if (request.Content is { } content && !content.Headers.Contains("Content-Type"))
                {
                    content.Headers.TryAddWithoutValidation("Content-Type",
                        CompatibleWith(request.Headers.Accept.ToString()) is { } version ? $"application/vnd.elasticsearch+json; compatible-with={version}" : "application/json");
                }

                try
                {
                    var bounded = maxAnswerBytes < long.MaxValue;
                    using var response = await _http.SendAsync(request, bounded ? HttpCompletionOption.ResponseHeadersRead : HttpCompletionOption.ResponseContentRead, ct).ConfigureAwait(false);
                    var bytes = bounded ? await ReadAtMostAsync(response.Content, maxAnswerBytes, ct).ConfigureAwait(false) : await response.Content.ReadAsByteArrayAsync(ct).ConfigureAwait(false);
                    // As the backend wrote them (NonValidated): parsed, a header of product tokens (Server: BaseHTTP/0.6
                    // Python/3.11.7) came back split into one header line per token.
                    var responseHeaders = response.Headers.NonValidated.Concat(response.Content.Headers.NonValidated)
                        .Where(h => !HopByHop.Contains(h.Key))
                        .Select(h => new KeyValuePair<string, string[]>(h.Key, [.. h.Value])).ToList();
                    return new BackendResponse((int)response.StatusCode, responseHeaders, bytes);
                }
                catch (Exception ex) when (ex is HttpRequestException or IOException)
                {
                    throw Unreachable(ex.Message);
                }
            }, context).ConfigureAwait(false);
        }
        catch (TimeoutRejectedException)
        {
            _failed("timeout");
            throw new BackendUnavailableException(504, "rank1_backend_timeout_exception", $"the backend {DisplayUri} did not answer in time");
        }
        catch (BrokenCircuitException refused)
        {
            throw CircuitOpen(refused);
        }
        catch (BackendUnavailableException)
        {
            _failed("unreachable");
            throw;
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    // The answer's body, read as it comes, refused past maxBytes: by its Content-Length before a byte is read (and read
    // into an array of that length), else at the first byte past the limit.
    private static async Task<byte[]> ReadAtMostAsync(HttpContent content, long maxBytes, CancellationToken cancellationToken)
    {
        var length = content.Headers.ContentLength;
        if (length > maxBytes)
        {
            throw new BackendAnswerTooLargeException(maxBytes);
        }

        var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            if (length is { } known)
            {
                var exact = new byte[known];
                await stream.ReadExactlyAsync(exact, cancellationToken).ConfigureAwait(false);
                return exact;
            }

            using var buffer = new MemoryStream();
            var chunk = System.Buffers.ArrayPool<byte>.Shared.Rent(81920);
            try
            {
                int read;
                while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    if (buffer.Length + read > maxBytes)
                    {
                        throw new BackendAnswerTooLargeException(maxBytes);
                    }

                    buffer.Write(chunk, 0, read);
                }
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(chunk);
            }

            return buffer.ToArray();
        }
    }

    /// <summary>Records a backend call that failed (<c>timeout</c> or <c>unreachable</c>) made outside <see cref="SendAsync"/>: by the pass-through forwarder.</summary>
    /// <param name="kind">The failure's kind.</param>
    public void RecordFailure(string kind) => _failed(kind);

    public BackendUnavailableException Unreachable(string detail) =>
        new(502, "rank1_backend_unreachable_exception", $"the backend {DisplayUri} is unreachable: {detail}");

    /// <summary>The answer to a call the open circuit refused, with the time left in its break (<see cref="BackendUnavailableException.RetryAfter"/>).</summary>
    /// <param name="refused">
    /// The breaker's refusal: its <see cref="BrokenCircuitException.RetryAfter"/> is the time left, read under the breaker's
    /// lock on its own clock as it refused (not from <c>OnOpened</c>, which Polly runs after releasing the lock: a call
    /// refused in that gap would read the previous break).
    /// </param>
    public BackendUnavailableException CircuitOpen(BrokenCircuitException refused)
    {
        _failed("circuit_open");
        return new BackendUnavailableException(503, "rank1_backend_circuit_open_exception", $"the backend {DisplayUri} failed repeatedly; the proxy is not calling it for a moment")
        {
            RetryAfter = refused.RetryAfter,
        };
    }

    /// <summary>
    /// Asks <c>GET /</c> now: whether the backend answers, and whether it is Elasticsearch or OpenSearch (remembered
    /// in <see cref="Flavor"/> for the product header). Never throws; an unreachable backend, or one whose root answer is
    /// malformed (a non-object <c>version</c>, a non-string <c>distribution</c>), is <see cref="BackendFlavor.Unknown"/>.
    /// </summary>
    public async Task<BackendFlavor> ProbeAsync(CancellationToken cancellationToken)
    {
        try
        {
            var r = await SendAsync(HttpMethod.Get, "/", null, [], cancellationToken).ConfigureAwait(false);
            if (r.Status == 200 && JsonNode.Parse(r.Body) is JsonObject info && FlavorOf(info) is { } flavor)
            {
                if (flavor != Flavor)
                {
                    Flavor = flavor;
                    LogFlavor(_logger, DisplayUri, Flavor);
                }

                return flavor;
            }
        }
        catch (Exception ex) when (ex is BackendUnavailableException or System.Text.Json.JsonException)
        {
            LogFlavorUnknown(_logger, DisplayUri, ex.Message);
        }

        return BackendFlavor.Unknown;
    }

    /// <summary>
    /// The flavor a root answer names (<c>version.distribution</c>), or null when the answer is malformed (a
    /// <c>version</c> that is no object, a <c>distribution</c> that is no string): then nothing is known.
    /// </summary>
    private static BackendFlavor? FlavorOf(JsonObject info) => info["version"] switch
    {
        null => BackendFlavor.Elasticsearch,
        JsonObject version => version["distribution"] switch
        {
            null => BackendFlavor.Elasticsearch,
            JsonValue d when d.TryGetValue<string>(out var distribution) => distribution == "opensearch" ? BackendFlavor.OpenSearch : BackendFlavor.Elasticsearch,
            _ => null,
        },
        _ => null,
    };

    public void Dispose()
    {
        _http.Dispose();
        Invoker.Dispose();
        Handler.Dispose();
    }

    [LoggerMessage(EventId = 2000, Level = LogLevel.Information, Message = "Backend {Backend} is {Flavor}")]
    private static partial void LogFlavor(ILogger logger, Uri backend, BackendFlavor flavor);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "Backend {Backend} did not say what it is yet: {Reason}")]
    private static partial void LogFlavorUnknown(ILogger logger, Uri backend, string reason);
}
