using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Rank1.Elastic;
using Rank1.SearchBridge.Configuration;
using Rank1.SearchBridge.Http.Search;

namespace Rank1.SearchBridge.Http.Proxy;

/// <summary>
/// The proxy's errors in Elasticsearch's shape, through ASP.NET Core's exception handler: an <see cref="EsException"/>
/// as it is, a body over the limit as 413 <c>content_too_long_exception</c>, a request Kestrel could not read as its status
/// (408 <c>rank1_request_timeout_exception</c>, 400 <c>illegal_argument_exception</c>), an open backend circuit as its 503, and a
/// request cut at the end of the shutdown grace as 503 <c>rank1_shutting_down_exception</c>; each 503 with <c>Retry-After</c>. Anything else
/// the proxy did not anticipate (a fault of its own) is a 500 as Elasticsearch answers an exception that is none of its own
/// (<see cref="EsException.Unanticipated"/>: <c>{"type":"invalid_operation_exception","reason":..}</c>), and is still logged
/// as an error (<see cref="Unanticipated(HttpContext)"/>); one thrown after the client went away is answered to nobody and
/// not logged, as the middleware treats a request aborted by its client.
/// The middleware clears the response's headers before it calls this handler, so the headers of the error itself are set
/// here (the product header, a 401's <c>WWW-Authenticate</c>).
/// </summary>
internal sealed class EsExceptionHandler(IOptions<ProxyOptions> options, GracefulShutdown shutdown, BackendClient backend) : IExceptionHandler
{
    private static readonly object UnanticipatedKey = new();

    /// <summary>
    /// Whether this handler answered an exception it did not anticipate on <paramref name="context"/>: the middleware
    /// records its diagnostics (the error-level "unhandled exception" log entry with the exception) for such an answer,
    /// as it does for an exception no handler takes, and suppresses them for the errors that are the request's own fault.
    /// </summary>
    public static bool Unanticipated(HttpContext context) => context.Items.ContainsKey(UnanticipatedKey);

    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        var error = exception switch
        {
            EsException e => e.For(backend.Flavor == BackendFlavor.OpenSearch),
            BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } => SearchHttp.TooLarge(null, options.Value.MaxContentLength),
            // The client's fault (a body that came too slowly, malformed chunks): Kestrel's status in Elasticsearch's shape,
            // handled, so not logged as an unhandled exception (a slow client filled the log with errors).
            BadHttpRequestException bad => new EsException(bad.StatusCode, bad.StatusCode == StatusCodes.Status408RequestTimeout ? "rank1_request_timeout_exception" : "illegal_argument_exception",
                $"the request could not be read: {bad.Message}"),
            BackendUnavailableException e => e.ToEsException(),
            OperationCanceledException when shutdown.GraceOver && !context.RequestAborted.IsCancellationRequested => new EsException(503, "rank1_shutting_down_exception", shutdown.Reason),
            _ => null,
        };
        if (error is null)
        {
            if (context.RequestAborted.IsCancellationRequested && exception is OperationCanceledException or IOException)
            {
                // The client went away (the middleware itself answers an OperationCanceledException or IOException of an
                // aborted request so, before any handler): its status, no body, no error in the log. Any other exception
                // is a fault of the proxy's even then, answered and logged as one below (nobody may read the answer).
                context.Response.StatusCode = StatusCodes.Status499ClientClosedRequest;
                return true;
            }

            error = EsException.Unanticipated(exception);
            context.Items[UnanticipatedKey] = exception;
        }

        if (backend.Flavor != BackendFlavor.OpenSearch)
        {
            // Elasticsearch clients check the product header; the proxy's own errors carry it like the cluster's.
            context.Response.Headers["X-Elastic-Product"] = "Elasticsearch";
        }

        if (error.Status == StatusCodes.Status401Unauthorized)
        {
            // The exception handler clears what was set before the throw; Elasticsearch's 401 names the scheme to use.
            context.Response.Headers.WWWAuthenticate = AdminApiKey.Scheme;
        }

        if (error.Status == StatusCodes.Status503ServiceUnavailable)
        {
            // Retry-After (seconds) of the proxy's own 503s: an open backend circuit lets a call through once its break is
            // over; a host shutting down is gone at once (a client retries on another instance, or this one restarted).
            context.Response.Headers.RetryAfter = exception is BackendUnavailableException { RetryAfter: { } left } ? RetryAfter.After(left) : RetryAfter.Soon;
        }

        var body = EsAnswers.RenderError(error, exception, context.Request.Query);
        context.Response.StatusCode = error.Status;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = body.Length;
        await context.Response.Body.WriteAsync(body, cancellationToken).ConfigureAwait(false);
        return true;
    }
}
