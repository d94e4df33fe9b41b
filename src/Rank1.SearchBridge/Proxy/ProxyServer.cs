using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Rank1.Shared;

namespace Rank1.SearchBridge.Proxy;

/// <summary>
/// The proxy started in-process (the <c>rank1-bridge proxy</c> and <c>demo</c> commands, tests). Configuration
/// layers, last wins: an optional JSON file, environment variables, then the settings passed to <see cref="StartAsync"/>.
/// </summary>
public sealed class ProxyServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ProxyServer(WebApplication app, Uri url)
    {
        _app = app;
        Url = url;
    }

    /// <summary>The proxy's base URL.</summary>
    public Uri Url { get; }

    /// <summary>The application's services (for tests and diagnostics).</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>Starts the proxy; returns once it listens. Bad configuration throws, naming the key.</summary>
    public static async Task<ProxyServer> StartAsync(
        IReadOnlyDictionary<string, string?> settings,
        string? configFile = null,
        Action<IServiceCollection>? configureServices = null,
        ILoggerFactory? loggerFactory = null,
        CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        if (configFile is not null)
        {
            builder.Configuration.AddJsonFile(Path.GetFullPath(configFile), optional: false);
        }

        builder.Configuration.AddEnvironmentVariables();
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.ClearProviders();
        if (loggerFactory is not null)
        {
            builder.Services.AddSingleton(loggerFactory);
        }

        configureServices?.Invoke(builder.Services);
        builder.Services.AddRank1Proxy(builder.Configuration);
        var app = builder.Build();
        app.MapRank1Proxy();
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return new ProxyServer(app, ServerUrls.Bound(app));
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
