using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Rank1.Elastic;
using Rank1.SearchBridge.Configuration;
using Rank1.SearchBridge.Http.Proxy;

namespace Rank1.SearchBridge.IntegrationTests;

/// <summary>
/// <see cref="EsExceptionHandler"/> for a request whose client went away: a cancellation or a broken connection is the
/// client leaving (499, nothing to log), any other exception still a fault of the proxy's, answered and logged as one.
/// </summary>
public sealed class EsExceptionHandlerTests
{
    [Theory]
    [InlineData(typeof(OperationCanceledException), 499, false)]
    [InlineData(typeof(IOException), 499, false)]
    [InlineData(typeof(InvalidOperationException), 500, true)]
    [InlineData(typeof(NullReferenceException), 500, true)]
    public async Task AClientGone_ItsLeavingIs499_AnyOtherExceptionStillTheProxysFault(Type thrown, int status, bool unanticipated)
    {
        // Every exception of a request whose client had gone was taken for its leaving: a fault of the proxy's as the
        // client left was answered 499 and, handled, never logged.
        var options = Options.Create(new ProxyOptions());
        using var shutdown = new GracefulShutdown(new Lifetime(), options, TimeProvider.System);
        using var backend = new BackendClient(new BackendOptions { Url = "http://127.0.0.1:9" }, TimeProvider.System, _ => { }, NullLogger<BackendClient>.Instance);
        using var gone = new CancellationTokenSource();
        await gone.CancelAsync();
        var context = new DefaultHttpContext { RequestAborted = gone.Token };
        context.Response.Body = new MemoryStream();

        var handled = await new EsExceptionHandler(options, shutdown, backend).TryHandleAsync(context, (Exception)Activator.CreateInstance(thrown)!, CancellationToken.None);

        Assert.True(handled);
        Assert.Equal((status, unanticipated), (context.Response.StatusCode, EsExceptionHandler.Unanticipated(context)));
    }

    private sealed class Lifetime : IHostApplicationLifetime
    {
        public CancellationToken ApplicationStarted => CancellationToken.None;

        public CancellationToken ApplicationStopping => CancellationToken.None;

        public CancellationToken ApplicationStopped => CancellationToken.None;

        public void StopApplication()
        {
        }
    }
}
