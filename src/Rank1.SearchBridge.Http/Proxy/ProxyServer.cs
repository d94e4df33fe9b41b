using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Rank1.SearchBridge.Http.Proxy;

/// <summary>
/// The proxy started in-process (the <c>rank1-bridge proxy</c> and <c>demo</c> commands, tests). Configuration
/// layers, last wins: an optional JSON file, environment variables, then the settings passed to <see cref="StartAsync"/>.
/// </summary>
public sealed class ProxyServer : InProcessHost
{
    private ProxyServer(WebApplication app)
        : base(app)
    {
    }

    /// <summary>Starts the proxy; returns once it listens. Bad configuration throws, naming the key.</summary>
    public static async Task<ProxyServer> StartAsync(
        IReadOnlyDictionary<string, string?> settings,
        string? configFile = null,
        Action<IServiceCollection>? configureServices = null,
        ILoggerFactory? loggerFactory = null,
        CancellationToken cancellationToken = default) =>
        new(await StartAppAsync(settings, configFile, configureServices, loggerFactory, (s, c) => s.AddRank1Proxy(c), a => a.MapRank1Proxy(), cancellationToken).ConfigureAwait(false));
}
