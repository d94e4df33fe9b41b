using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Rank1.SearchBridge.Http.Service;

/// <summary>
/// The rerank service started alone, in-process (<c>rank1-bridge serve</c>, tests): the model and the rerank
/// endpoints, with no cluster unless <c>Rank1:Backend:Url</c> names one for the reasoning store. Its
/// <see cref="InProcessHost.Url"/> is a Cohere client's base URL.
/// </summary>
public sealed class RerankServiceServer : InProcessHost
{
    private RerankServiceServer(WebApplication app)
        : base(app)
    {
    }

    /// <summary>Starts the service; returns once it listens. Bad configuration throws, naming the key.</summary>
    public static async Task<RerankServiceServer> StartAsync(
        IReadOnlyDictionary<string, string?> settings,
        string? configFile = null,
        Action<IServiceCollection>? configureServices = null,
        ILoggerFactory? loggerFactory = null,
        CancellationToken cancellationToken = default) =>
        new(await StartAppAsync(settings, configFile, configureServices, loggerFactory,
            (s, c) => s.AddRank1StandaloneRerankService(c), a => a.MapRank1StandaloneRerankService(), cancellationToken).ConfigureAwait(false));
}
