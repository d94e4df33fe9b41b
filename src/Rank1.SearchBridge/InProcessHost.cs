using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Rank1.Elastic;
using Rank1.SearchBridge.Configuration;

namespace Rank1.SearchBridge;

/// <summary>
/// A Rank1 web host started in-process (the proxy, the rerank service), the one way the CLI and the tests start
/// them. Configuration layers, last wins: an optional JSON file, environment variables, then the settings given.
/// </summary>
public abstract class InProcessHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private protected InProcessHost(WebApplication app)
    {
        _app = app;
        Url = ServerUrls.Bound(app.Urls);
    }

    /// <summary>The host's base URL.</summary>
    public Uri Url { get; }

    /// <summary>The application's services (for tests and diagnostics).</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>Builds the application with <paramref name="addServices"/> and <paramref name="mapRoutes"/> and starts it; bad configuration throws, naming the key.</summary>
    private protected static async Task<WebApplication> StartAppAsync(
        IReadOnlyDictionary<string, string?> settings,
        string? configFile,
        Action<IServiceCollection>? configureServices,
        ILoggerFactory? loggerFactory,
        Action<IServiceCollection, IConfiguration> addServices,
        Action<WebApplication> mapRoutes,
        CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        // The builder's own appsettings.json and appsettings.{Environment}.json are read from the current directory: a
        // command run there would take whatever such file lies in it (an app's own, another host's). Only --config counts.
        foreach (var file in builder.Configuration.Sources.OfType<FileConfigurationSource>().ToList())
        {
            builder.Configuration.Sources.Remove(file);
        }

        if (configFile is not null)
        {
            builder.Configuration.AddJsonFile(Path.GetFullPath(configFile), optional: false);
        }

        builder.Configuration.AddEnvironmentVariables();
        builder.Configuration.AddInMemoryCollection(settings);
        ListenUrls.Validate(builder.Configuration[ListenUrls.Key]);
        builder.Logging.ClearProviders();
        if (loggerFactory is not null)
        {
            builder.Services.AddSingleton<ILoggerFactory>(new HostStartupFaultFilter(loggerFactory));
        }

        configureServices?.Invoke(builder.Services);
        addServices(builder.Services, builder.Configuration);
        var app = builder.Build();
        mapRoutes(app);
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return app;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        GC.SuppressFinalize(this);
    }
}
