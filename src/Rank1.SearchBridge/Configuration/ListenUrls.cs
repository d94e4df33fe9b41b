using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace Rank1.SearchBridge.Configuration;

/// <summary>
/// The <c>Urls</c> setting (also <c>ASPNETCORE_URLS</c>, <c>DOTNET_URLS</c>) of the hosts that listen (the proxy,
/// <c>serve</c>, the worker's metrics), checked before Kestrel binds it. Kestrel ended the process with its own
/// exception for an address it cannot parse (<c>Invalid url: 'notaurl'</c>) or a port past 65535, and took a host name
/// that is not <c>localhost</c> (a typo, <c>myhost.example</c>) as every interface, which <c>--host</c> already refuses.
/// </summary>
public static class ListenUrls
{
    /// <summary>The configuration key.</summary>
    public const string Key = "Urls";

    /// <summary>
    /// Throws <see cref="OptionsValidationException"/> naming <c>Urls</c> (read by <see cref="HostExit"/> as bad
    /// configuration, exit code 2) when one of its addresses is not one to listen on as written.
    /// </summary>
    /// <param name="urls">The setting: addresses separated by <c>;</c>; null or empty is Kestrel's default.</param>
    public static void Validate(string? urls)
    {
        if (Problem(urls) is { } problem)
        {
            throw new OptionsValidationException(Key, typeof(string), [problem]);
        }
    }

    /// <summary>Why <paramref name="urls"/> cannot be listened on as written, or null when it can.</summary>
    internal static string? Problem(string? urls)
    {
        foreach (var url in (urls ?? string.Empty).Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            BindingAddress address;
            try
            {
                address = BindingAddress.Parse(url);
            }
            catch (FormatException)
            {
                return $"{Key}: '{url}' is not an address to listen on (http://ADDRESS:PORT, for example http://127.0.0.1:8080)";
            }

            if (address.IsUnixPipe || address.IsNamedPipe)
            {
                continue;
            }

            if (!string.Equals(address.Scheme, Uri.UriSchemeHttp, StringComparison.OrdinalIgnoreCase))
            {
                return $"{Key}: '{url}': only http:// is served (put TLS in front of it)";
            }

            if (address.Port is < 0 or > IPEndPoint.MaxPort)
            {
                return $"{Key}: '{url}': the port must be from 0 to 65535";
            }

            // Kestrel binds every interface for *, + and a host that is neither an IP address nor localhost.
            if (address.Host is not ("*" or "+") && !IPAddress.TryParse(address.Host, out _)
                && !string.Equals(address.Host, "localhost", StringComparison.OrdinalIgnoreCase))
            {
                return $"{Key}: '{url}' names the host '{address.Host}', which Kestrel would take as every interface: give an IP address (0.0.0.0 or [::] for every interface) or localhost";
            }
        }

        return null;
    }
}
