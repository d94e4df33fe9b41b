using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Rank1.SearchBridge.Configuration;

namespace Rank1.SearchBridge;

/// <summary>
/// How a Rank1 web host (the proxy, the rerank service) stops on SIGTERM or Ctrl+C: Kestrel stops accepting at once;
/// requests in flight have <see cref="ProxyOptions.ShutdownTimeout"/> to finish; at its end those still running are
/// cancelled and answered with a 503 in their API's error shape (never a reset connection); the host then has
/// <see cref="Margin"/> more to write those answers before it stops the reasoning store's writer (which writes what
/// is queued) and exits 0.
/// </summary>
internal sealed class GracefulShutdown : IDisposable
{
    /// <summary>Time past the grace period for the cancelled requests to be answered before Kestrel closes their connections.</summary>
    public static readonly TimeSpan Margin = TimeSpan.FromSeconds(5);

    private readonly CancellationTokenSource _graceOver = new();
    private readonly CancellationTokenRegistration _stopping;
    private readonly TimeSpan _grace;
    private ITimer? _timer;

    public GracefulShutdown(IHostApplicationLifetime lifetime, IOptions<ProxyOptions> options, TimeProvider time)
    {
        _grace = options.Value.ShutdownTimeout;
        _stopping = lifetime.ApplicationStopping.Register(() =>
            _timer = time.CreateTimer(static s => ((CancellationTokenSource)s!).Cancel(), _graceOver, _grace, Timeout.InfiniteTimeSpan));
    }

    /// <summary>True once the grace period is over: a request cancelled now is the shutdown's, to answer with a 503.</summary>
    public bool GraceOver => _graceOver.IsCancellationRequested;

    /// <summary>What the requests cancelled at the end of the grace period are told.</summary>
    public string Reason => FormattableString.Invariant(
        $"the server is shutting down and this request did not finish within its grace period ({_grace.TotalSeconds:0.###} s, Rank1:Proxy:ShutdownTimeout); send it again");

    /// <summary>Registers the shutdown (once per host): the host's own timeout is the grace period plus <see cref="Margin"/>.</summary>
    public static void Add(IServiceCollection services)
    {
        if (services.Any(d => d.ServiceType == typeof(GracefulShutdown)))
        {
            return;
        }

        services.AddSingleton<GracefulShutdown>();
        services.AddOptions<HostOptions>().Configure<IOptions<ProxyOptions>>((host, proxy) => host.ShutdownTimeout = proxy.Value.ShutdownTimeout + Margin);
    }

    /// <summary>
    /// Inside the host's error handling: every request's <see cref="HttpContext.RequestAborted"/> also fires when the
    /// grace period is over, so its handler stops its backend calls and reranks. The client's own token is back in
    /// place when the error handling outside answers the <see cref="OperationCanceledException"/> (see <see cref="GraceOver"/>).
    /// </summary>
    public static void Use(IApplicationBuilder app)
    {
        var shutdown = app.ApplicationServices.GetRequiredService<GracefulShutdown>();
        app.Use(async (context, next) =>
        {
            var client = context.RequestAborted;
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(client, shutdown._graceOver.Token);
            context.RequestAborted = linked.Token;
            try
            {
                await next(context).ConfigureAwait(false);
            }
            finally
            {
                context.RequestAborted = client;
            }
        });
    }

    public void Dispose()
    {
        _stopping.Dispose();
        _timer?.Dispose();
        _graceOver.Dispose();
    }
}
