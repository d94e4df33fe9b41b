namespace Rank1.EmbeddedSearch.Querying;

/// <summary>
/// The order in which a <c>java.util.HashMap&lt;String, ?&gt;</c> iterates its keys, which is the order Elasticsearch and
/// OpenSearch write a map built in one (a profile's <c>breakdown</c>): by bucket, the key's <c>String.hashCode</c> spread
/// by <c>h ^ (h &gt;&gt;&gt; 16)</c> and masked by the table's size, and within a bucket in the order of insertion (a
/// resize keeps that order).
/// </summary>
internal static class JavaHashMap
{
    /// <summary>The keys in the iteration order of a map made with <c>new HashMap&lt;&gt;(initialCapacity)</c>, then given them in this order.</summary>
    /// <param name="inserted">The keys, in the order they were put.</param>
    /// <param name="initialCapacity">The capacity the map was made with.</param>
    public static string[] Order(IReadOnlyList<string> inserted, int initialCapacity)
    {
        // HashMap(int): the table is tableSizeFor(initialCapacity); it doubles whenever its size passes 0.75 of the table.
        var table = 1;
        while (table < initialCapacity)
        {
            table <<= 1;
        }

        while (inserted.Count > table * 3 / 4)
        {
            table <<= 1;
        }

        return [.. inserted.Select((key, at) => (key, at)).OrderBy(k => Spread(HashCode(k.key)) & (table - 1)).ThenBy(k => k.at).Select(k => k.key)];
    }

    // String.hashCode: s[0]*31^(n-1) + ... + s[n-1], over UTF-16 code units, in 32-bit arithmetic.
    private static int HashCode(string s)
    {
        var h = 0;
        foreach (var c in s)
        {
            h = unchecked((31 * h) + c);
        }

        return h;
    }

    private static int Spread(int h) => h ^ (int)((uint)h >> 16);
}
