namespace Rank1.Elastic;

/// <summary>The address a started server really listens on (port 0 resolved), with a trailing slash.</summary>
internal static class ServerUrls
{
    /// <summary>
    /// The first of a started server's addresses (ASP.NET Core's <c>WebApplication.Urls</c>, which Kestrel fills with
    /// the bound ones), as a base URI ending in <c>/</c>.
    /// </summary>
    public static Uri Bound(IEnumerable<string> addresses)
    {
        ArgumentNullException.ThrowIfNull(addresses);
        var address = addresses.First();
        return new Uri(address.EndsWith('/') ? address : address + "/");
    }
}
