using System.Globalization;

namespace Rank1.SearchBridge.Http;

/// <summary>
/// The <c>Retry-After</c> value of the hosts' own 429 and 503 answers, in whole seconds (the form clients such as
/// Cohere's SDK parse; at least 1, since 0 tells them nothing).
/// </summary>
internal static class RetryAfter
{
    /// <summary>Try again at once, or elsewhere: overload that drains within a second, a host shutting down.</summary>
    public const string Soon = "1";

    /// <summary>A wait rounded up to whole seconds, at least 1.</summary>
    public static string After(TimeSpan wait) => Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
}
