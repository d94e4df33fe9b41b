using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Polly.CircuitBreaker;
using Rank1.Elastic;
using Rank1.SearchBridge.Backend;
using Rank1.SearchBridge.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace Rank1.SearchBridge.Http.Proxy;

/// <summary>
/// Everything that is not a search goes to the backend untouched through YARP's forwarder: method, path, query
/// string, headers (Authorization included), body streamed both ways, status and headers back. The destination is
/// always the configured backend: it is built from the backend prefix and the request path only (the raw path, see
/// <see cref="RawPathTransformer"/>), so absolute-form
/// request targets, Host headers and dot-segments cannot point the proxy anywhere else.
/// </summary>
internal sealed class PassThrough(IHttpForwarder forwarder, BackendClient backend, IOptions<ProxyOptions> options)
{
    // A backend that sends nothing for this long (no response headers, no body bytes) is answered with an ES-shaped 504.
    private readonly ForwarderRequestConfig _requestConfig = new() { ActivityTimeout = options.Value.PassThroughTimeout };

    public Task ForwardAsync(HttpContext context) => ForwardAsync(context, RawPathTransformer.Instance, _requestConfig, "Rank1:Proxy:PassThroughTimeout");

    /// <summary>
    /// Forwards the request with <paramref name="transformer"/>; a backend silent for the <paramref name="config"/>'s
    /// activity timeout is a 504 naming <paramref name="timeoutSetting"/>. A failure to reach the backend or a timeout is
    /// an Elasticsearch-shaped error, counted in <c>rank1.backend.failures</c>; one after the answer began (the backend gone,
    /// or silent past the activity timeout) cuts the answer and is counted the same. The backend's circuit breaker sees each call.
    /// </summary>
    public async Task ForwardAsync(HttpContext context, HttpTransformer transformer, ForwarderRequestConfig config, string timeoutSetting)
    {
        string? midAnswer = null; // the kind of a failure after the backend's answer began
        try
        {
            await backend.Breaker.ExecuteAsync(async ct =>
            {
                var error = await forwarder.SendAsync(context, backend.BaseUri.ToString(), backend.Invoker, config, transformer, ct).ConfigureAwait(false);
                switch (error)
                {
                    case ForwarderError.None:
                        return;
                    case ForwarderError.RequestTimedOut:
                        backend.RecordFailure("timeout");
                        throw new BackendUnavailableException(504, "rank1_backend_timeout_exception",
                            $"the backend {backend.DisplayUri} did not answer within {config.ActivityTimeout!.Value.TotalSeconds:0.###} s ({timeoutSetting})");
                    case ForwarderError.Request:
                        backend.RecordFailure("unreachable");
                        throw backend.Unreachable(context.Features.Get<IForwarderErrorFeature>()?.Exception?.Message ?? "connection failed");
                    case ForwarderError.ResponseBodyDestination:
                        // The backend failed after its answer began: it went away, or was silent past the activity timeout
                        // (the client going away, or the shutdown's cancellation, is ResponseBodyClient or ResponseBodyCanceled).
                        // Thrown, the breaker sees it as the same failure before the answer began; counted below.
                        var cause = context.Features.Get<IForwarderErrorFeature>()?.Exception;
                        (midAnswer, var failure) = IsCancellation(cause)
                            ? ("timeout", new BackendUnavailableException(504, "rank1_backend_timeout_exception",
                                $"the backend {backend.DisplayUri} stopped sending its answer for {config.ActivityTimeout!.Value.TotalSeconds:0.###} s ({timeoutSetting})"))
                            : ("unreachable", backend.Unreachable(cause?.Message ?? "the answer ended early"));
                        throw failure;
                    default:
                        // A body over MaxContentLength that came without a Content-Length: Kestrel stops it mid-stream,
                        // and YARP would answer a bare 413; rethrown, it gets Elasticsearch's error shape.
                        if (!context.Response.HasStarted && TooLarge(context.Features.Get<IForwarderErrorFeature>()?.Exception) is { } tooLarge)
                        {
                            throw tooLarge;
                        }

                        // Cancelled before an answer began (the shutdown grace period is over, or the client went away):
                        // rethrown, the error handling answers the ES-shaped 503 rank1_shutting_down_exception instead of
                        // YARP's bare 502 when the grace period is over.
                        if (!context.Response.HasStarted && context.RequestAborted.IsCancellationRequested)
                        {
                            throw new OperationCanceledException(context.RequestAborted);
                        }

                        // Other client-side or body errors: not the backend's fault; YARP has set the status already.
                        return;
                }
            }, context.RequestAborted).ConfigureAwait(false);
        }
        catch (BrokenCircuitException refused)
        {
            throw backend.CircuitOpen(refused);
        }
        catch (BackendUnavailableException) when (midAnswer is { } kind)
        {
            // Counted once the breaker has seen it. The answer already begun cannot become an error: the forwarder has cut it.
            backend.RecordFailure(kind);
            if (!context.Response.HasStarted)
            {
                throw;
            }
        }
    }

    private static bool IsCancellation(Exception? error) => error switch
    {
        null => false,
        OperationCanceledException => true,
        _ => IsCancellation(error.InnerException),
    };

    private static BadHttpRequestException? TooLarge(Exception? error) => error switch
    {
        null => null,
        BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } e => e,
        _ => TooLarge(error.InnerException),
    };

    /// <summary>
    /// Node discovery (<c>GET /_nodes/...</c>) answers with the proxy's own address as every node's HTTP address,
    /// so sniffing clients keep talking to the proxy instead of going around it. The rewritten answer goes out in the
    /// backend's Content-Encoding; an error or an answer that is not JSON goes out as it came, and a <c>HEAD</c> is
    /// passed through as any other request.
    /// </summary>
    public async Task SniffAsync(HttpContext context, string? publicAddress)
    {
        if (HttpMethods.IsHead(context.Request.Method))
        {
            // No body to rewrite: the backend's answer, its headers as it wrote them (its Content-Length, that of the
            // answer a GET would get, included: the backend client drops Content-Length from the headers it returns).
            await ForwardAsync(context).ConfigureAwait(false);
            return;
        }

        var response = await backend.SendAsync(HttpMethod.Get,
            context.Request.Path + context.Request.QueryString, null,
            context.Request.Headers.Select(h => new KeyValuePair<string, string[]>(h.Key, h.Value.ToArray()!)), context.RequestAborted).ConfigureAwait(false);
        var bytes = response.Body;
        if (response.Status == 200 && Nodes(response) is { } json)
        {
            var address = publicAddress ?? context.Request.Host.Value ?? "localhost";
            foreach (var (_, node) in json["nodes"]!.AsObject())
            {
                if (node?["http"] is JsonObject http)
                {
                    http["publish_address"] = address;
                    http["bound_address"] = new JsonArray(address);
                }
            }

            // Written as the cluster wrote it: indented for pretty, non-ASCII names kept as they are.
            bytes = System.Text.Encoding.UTF8.GetBytes(json.ToJsonString(EsAnswers.Flag(context.Request.Query, "pretty") ? EsAnswers.Pretty : EsAnswers.Compact));
            var compression = ContentCoding.CompressionOf(response.Headers);
            bytes = compression is null ? bytes : ContentCoding.Encode(bytes, compression);
        }

        context.Response.StatusCode = response.Status;
        foreach (var (name, values) in response.Headers)
        {
            if (!name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                context.Response.Headers[name] = values;
            }
        }

        context.Response.ContentLength = bytes.Length;
        await context.Response.Body.WriteAsync(bytes, context.RequestAborted).ConfigureAwait(false);
    }

    // The answer as a JSON object with a "nodes" object, or null (not JSON, or not a nodes answer): passed on as it is.
    private static JsonObject? Nodes(BackendResponse response)
    {
        try
        {
            return JsonNode.Parse(ContentCoding.Decoded(response)) is JsonObject { } json && json["nodes"] is JsonObject ? json : null;
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidDataException or EsException)
        {
            return null;
        }
    }
}
