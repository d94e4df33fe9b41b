using Microsoft.Extensions.Logging.Abstractions;
using Rank1.Elastic;
using Rank1.SearchBridge.Store;

namespace Rank1.SearchBridge.Backend;

/// <summary>A buffered answer of the cluster.</summary>
/// <param name="Status">The HTTP status code.</param>
/// <param name="Body">The response body.</param>
public sealed record ClusterResponse(int Status, byte[] Body);

/// <summary>
/// The public way for tools (<c>rank1-bridge init</c> and <c>seed</c>) to talk to a cluster and install the reasoning
/// index: the proxy's own backend client (<see cref="BackendClient"/>: same handler, timeouts and circuit breaker,
/// with the default <see cref="BackendOptions"/>) behind a small surface that answers failures as <see cref="EsException"/>.
/// </summary>
public sealed class ClusterClient : IDisposable
{
    private readonly BackendClient _backend;

    /// <summary>A client for the cluster at <paramref name="url"/> (an http(s) URL).</summary>
    public ClusterClient(string url, TimeProvider time) =>
        // The tools export no metrics: failed calls are counted nowhere.
        _backend = new(new BackendOptions { Url = url }, time, static _ => { }, NullLogger<BackendClient>.Instance);

    /// <summary>What the last successful <see cref="ProbeAsync"/> found.</summary>
    public BackendFlavor Flavor => _backend.Flavor;

    /// <summary>Asks <c>GET /</c>: <see cref="BackendFlavor.Unknown"/> when the cluster does not answer. Never throws.</summary>
    public Task<BackendFlavor> ProbeAsync(CancellationToken cancellationToken) => _backend.ProbeAsync(cancellationToken);

    /// <summary>Sends one request and buffers the answer, whatever its status.</summary>
    /// <exception cref="EsException">The cluster was unreachable or too slow.</exception>
    public async Task<ClusterResponse> SendAsync(HttpMethod method, string pathAndQuery, byte[]? body, IEnumerable<KeyValuePair<string, string[]>> headers, CancellationToken cancellationToken)
    {
        try
        {
            var response = await _backend.SendAsync(method, pathAndQuery, body, headers, cancellationToken).ConfigureAwait(false);
            return new(response.Status, response.Body);
        }
        catch (BackendUnavailableException e)
        {
            throw e.ToEsException();
        }
    }

    /// <summary>Installs the reasoning index as the proxy does at start-up (idempotent); returns what was done.</summary>
    /// <exception cref="EsException">The cluster refused, or was unreachable.</exception>
    public async Task<string> EnsureReasoningIndexAsync(string index, IEnumerable<KeyValuePair<string, string[]>> headers, CancellationToken cancellationToken)
    {
        try
        {
            return await ReasoningIndex.EnsureAsync(_backend, index, headers, cancellationToken).ConfigureAwait(false);
        }
        catch (BackendUnavailableException e)
        {
            throw e.ToEsException();
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _backend.Dispose();
}
