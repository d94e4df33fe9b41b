using System.Globalization;

namespace Rank1.Elastic;

/// <summary>Elasticsearch's time values (<c>500ms</c>, <c>30s</c>, <c>1m</c>, <c>2h</c>, <c>1d</c>): a whole number and a unit.</summary>
internal static class TimeValue
{
    /// <summary>
    /// The time value <paramref name="value"/> stands for, or null when it is not a whole number with one of
    /// Elasticsearch's units (<c>nanos</c>, <c>micros</c>, <c>ms</c>, <c>s</c>, <c>m</c>, <c>h</c>, <c>d</c>). The unit-less
    /// sentinels (<c>-1</c>, <c>0</c>) are left to the caller, which knows what they mean where it reads them.
    /// </summary>
    public static TimeSpan? Parse(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var text = value.Trim();
        var digits = text.TakeWhile(char.IsAsciiDigit).Count();
        // At most nine digits: any number of any unit fits in a TimeSpan.
        if (digits is 0 or > 9 || !long.TryParse(text.AsSpan(0, digits), NumberStyles.None, CultureInfo.InvariantCulture, out var n))
        {
            return null;
        }

        return text[digits..].ToLowerInvariant() switch
        {
            "nanos" => TimeSpan.FromTicks(n / 100),
            "micros" => TimeSpan.FromMicroseconds(n),
            "ms" => TimeSpan.FromMilliseconds(n),
            "s" => TimeSpan.FromSeconds(n),
            "m" => TimeSpan.FromMinutes(n),
            "h" => TimeSpan.FromHours(n),
            "d" => TimeSpan.FromDays(n),
            _ => null,
        };
    }
}
