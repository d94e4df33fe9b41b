using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Rank1.SearchBridge.Cli.Tests;

/// <summary>
/// A real HTTP server in front of a backend that passes every request on, except that it holds the requests whose
/// path a test chose until the test releases them: a slow cluster, made slow exactly when the test needs it. Each held
/// request is announced on <see cref="Held"/> (no sleeps: the test waits for the announcement).
/// </summary>
internal sealed class GatedBackend : IAsyncDisposable
{
    private static readonly HashSet<string> NotCopied = new(StringComparer.OrdinalIgnoreCase) { "Transfer-Encoding", "Content-Length", "Connection" };

    private readonly WebApplication _app;
    private readonly HttpClient _target;
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile Func<string, bool> _hold = _ => false;
    private volatile Tuple<Func<string, bool>, int, string, string>? _insteadAnswer;

    private GatedBackend(WebApplication app, Uri target)
    {
        _app = app;
        _target = new HttpClient { BaseAddress = target };
    }

    public Uri Url { get; private set; } = null!;

    /// <summary>The paths of the requests now held, in arrival order.</summary>
    public Channel<string> Held { get; } = Channel.CreateUnbounded<string>();

    public static async Task<GatedBackend> StartAsync(Uri target)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var gate = new GatedBackend(app, target);
        app.Run(gate.ForwardAsync);
        await app.StartAsync();
        gate.Url = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/");
        return gate;
    }

    /// <summary>From now on, requests whose path matches are held until <see cref="Release"/>.</summary>
    public void Hold(Func<string, bool> path) => _hold = path;

    /// <summary>Lets every held request go on, and holds none from now on.</summary>
    public void Release() => _release.TrySetResult();

    /// <summary>From now on, requests whose path matches are answered with this status and body, as a gateway in front of the cluster may answer, and not passed on.</summary>
    public void AnswerInstead(Func<string, bool> path, int status, string contentType, string body) => _insteadAnswer = Tuple.Create(path, status, contentType, body);

    private async Task ForwardAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "/";
        if (_hold(path) && !_release.Task.IsCompleted)
        {
            Held.Writer.TryWrite(path);
            await _release.Task;
        }

        if (_insteadAnswer is { } instead && instead.Item1(path))
        {
            context.Response.StatusCode = instead.Item2;
            context.Response.ContentType = instead.Item3;
            await context.Response.WriteAsync(instead.Item4);
            return;
        }

        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body);
        using var request = new HttpRequestMessage(new HttpMethod(context.Request.Method), path.TrimStart('/') + context.Request.QueryString);
        if (body.Length > 0)
        {
            request.Content = new ByteArrayContent(body.ToArray());
            request.Content.Headers.TryAddWithoutValidation("Content-Type", context.Request.ContentType);
        }

        using var response = await _target.SendAsync(request);
        context.Response.StatusCode = (int)response.StatusCode;
        foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
        {
            if (!NotCopied.Contains(name))
            {
                context.Response.Headers[name] = values.ToArray();
            }
        }

        await response.Content.CopyToAsync(context.Response.Body);
    }

    public async ValueTask DisposeAsync()
    {
        Release();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _target.Dispose();
    }
}
