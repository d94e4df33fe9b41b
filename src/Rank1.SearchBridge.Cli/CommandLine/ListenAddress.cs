using System.CommandLine;
using System.Net;
using System.Net.Sockets;

namespace Rank1.SearchBridge.Cli.CommandLine;

/// <summary>
/// The <c>--host</c> of every command that listens: an IP address literal (IPv4 in four dotted parts, or IPv6) or
/// <c>localhost</c> (127.0.0.1). Anything else is a usage error: a host name or a typo is never handed to Kestrel,
/// which takes a host that is not an IP address as "every interface".
/// </summary>
internal static class ListenAddress
{
    /// <summary>The <c>--host ADDR</c> option, checked while parsing.</summary>
    public static Option<string?> Option() =>
        CliOptions.Checked(CliOptions.Text("--host", "Address to listen on: an IP address (127.0.0.1, 0.0.0.0, ::) or localhost (default 127.0.0.1).", "ADDR"),
            value => TryParse(value, out _) ? null : $"--host must be an IP address (127.0.0.1, 0.0.0.0, ::) or localhost, not '{value}'");

    /// <summary>The address of a checked <c>--host</c> value; null (not given) is 127.0.0.1.</summary>
    public static IPAddress Parse(string? value) =>
        value is null ? IPAddress.Loopback : TryParse(value, out var address) ? address : throw new UsageException($"--host must be an IP address (127.0.0.1, 0.0.0.0, ::) or localhost, not '{value}'");

    /// <summary>The address as the host of a URL (<c>127.0.0.1</c>, <c>[::1]</c>).</summary>
    public static string UrlHost(IPAddress address) => address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString();

    private static bool TryParse(string value, out IPAddress address)
    {
        address = IPAddress.Loopback;
        if (string.Equals(value, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        if (value.Contains(':', StringComparison.Ordinal))
        {
            // IPv6, without brackets or a zone.
            return !value.Contains('[', StringComparison.Ordinal) && !value.Contains('%', StringComparison.Ordinal)
                && IPAddress.TryParse(value, out address!) && address.AddressFamily == AddressFamily.InterNetworkV6;
        }

        // IPv4 as four decimal parts only: IPAddress.TryParse also takes "1" or "127.1" (inet_aton's forms), which
        // are more likely typos than meant.
        var parts = value.Split('.');
        return parts.Length == 4 && parts.All(p => p.Length is >= 1 and <= 3 && p.All(char.IsAsciiDigit))
            && IPAddress.TryParse(value, out address!) && address.AddressFamily == AddressFamily.InterNetwork;
    }
}
