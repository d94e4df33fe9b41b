using System.Net.Http.Headers;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;

namespace Rank1.SearchBridge.Precompute;

/// <summary>
/// The worker binary's <c>--health-check</c> mode, for a container <c>HEALTHCHECK</c> in an image without an HTTP
/// client: one <c>GET /_rank1/health</c> of the worker already running with the same configuration, never a worker of
/// its own. Exit code 0 when the worker answers 2xx (healthy or degraded), 1 otherwise (unhealthy, refused, no answer).
/// </summary>
public static class WorkerHealthProbe
{
    /// <summary>The command-line switch (the first argument) that runs the probe instead of the worker.</summary>
    public const string Switch = "--health-check";

    /// <summary>How long the probe waits for the answer: less than the images' <c>HEALTHCHECK --timeout</c>.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Asks the worker configured by <paramref name="configuration"/> (its <c>Urls</c>, and
    /// <c>Rank1:Proxy:AdminApiKey</c> when the endpoint asks for it) for its health, writes the answer to
    /// <paramref name="output"/> and returns the exit code.
    /// </summary>
    public static async Task<int> RunAsync(IConfiguration configuration, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(output);
        Uri target;
        try
        {
            target = Target(configuration["Urls"]);
        }
        catch (FormatException e)
        {
            await output.WriteLineAsync($"rank1: {e.Message}").ConfigureAwait(false);
            return 1;
        }

        // Loopback only: never through HTTP_PROXY/ALL_PROXY, which a container may inherit and which cannot reach it.
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = Timeout };
        using var request = new HttpRequestMessage(HttpMethod.Get, target);
        if (configuration[$"{Configuration.ProxyOptions.SectionName}:{nameof(Configuration.ProxyOptions.AdminApiKey)}"] is { Length: > 0 } key)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue(AdminApiKey.Scheme, key);
        }

        try
        {
            using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            await output.WriteLineAsync($"{target}: {(int)response.StatusCode} {body}").ConfigureAwait(false);
            return response.IsSuccessStatusCode && IsHealthy(body) ? 0 : 1;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            await output.WriteLineAsync($"{target}: no answer ({e.Message})").ConfigureAwait(false);
            return 1;
        }
    }

    /// <summary>
    /// Whether the answer's <c>status</c> is <c>healthy</c>: a degraded worker (its bus up, a receive endpoint faulted)
    /// also answers 200, and fails the probe as it failed the health file before.
    /// </summary>
    private static bool IsHealthy(string body)
    {
        try
        {
            return System.Text.Json.Nodes.JsonNode.Parse(body)?["status"] is System.Text.Json.Nodes.JsonValue status
                && status.TryGetValue<string>(out var value) && value == "healthy";
        }
        catch (System.Text.Json.JsonException)
        {
            return false;
        }
    }

    /// <summary>
    /// Where the worker answers its health, from its <c>Urls</c> (default <see cref="WorkerApplication.DefaultUrls"/>):
    /// the first http address (else the first), with a wildcard host (<c>0.0.0.0</c>, <c>*</c>, <c>+</c>, <c>[::]</c>)
    /// asked on loopback.
    /// </summary>
    internal static Uri Target(string? urls)
    {
        var addresses = (urls is { Length: > 0 } ? urls : WorkerApplication.DefaultUrls)
            .Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(BindingAddress.Parse)
            .ToList();
        var address = addresses.FirstOrDefault(a => a.Scheme == Uri.UriSchemeHttp) ?? addresses.FirstOrDefault()
            ?? throw new FormatException($"Urls ({urls}) names no address to ask for the worker's health");
        if (address.IsUnixPipe || address.Port == 0)
        {
            throw new FormatException($"Urls ({urls}) gives no port to ask for the worker's health: set Urls to the address the worker listens on");
        }

        var host = address.Host switch
        {
            "0.0.0.0" or "*" or "+" => "127.0.0.1",
            "[::]" => "[::1]",
            var h => h,
        };
        return new UriBuilder(address.Scheme, host, address.Port, WorkerApplication.HealthPath).Uri;
    }
}
