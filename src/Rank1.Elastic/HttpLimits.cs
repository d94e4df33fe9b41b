using System.Text;

namespace Rank1.Elastic;

/// <summary>
/// Elasticsearch's HTTP decoder limits (Netty's <c>HttpObjectDecoder</c> under <c>http.max_initial_line_length</c> and
/// <c>http.max_header_size</c>): the request line, and all the header lines together, counted in bytes without their
/// line ends. Over either: a 400 in Elasticsearch's shape, with Netty's message. The embedded backend and the proxy
/// check alike, Kestrel's own limits set above theirs (Kestrel's refusal is a bare 414 or 431).
/// </summary>
internal static class HttpLimits
{
    /// <summary>Throws the 400 Elasticsearch answers when the request line or the header lines are over their limits.</summary>
    /// <param name="method">The request's method.</param>
    /// <param name="target">The request target as sent (path and query).</param>
    /// <param name="protocol">The protocol of the request line (<c>HTTP/1.1</c>).</param>
    /// <param name="headers">Each header line: its name and one value.</param>
    /// <param name="maxInitialLineLength">The longest request line, in bytes.</param>
    /// <param name="maxHeaderSize">The largest total of the header lines, in bytes.</param>
    public static void Check(string method, string target, string protocol, IEnumerable<(string Name, string? Value)> headers, int maxInitialLineLength, int maxHeaderSize)
    {
        var line = Encoding.UTF8.GetByteCount(method) + 1 + Encoding.UTF8.GetByteCount(target) + 1 + Encoding.UTF8.GetByteCount(protocol);
        if (line > maxInitialLineLength)
        {
            throw new EsException(400, "too_long_http_line_exception", $"An HTTP line is larger than {maxInitialLineLength} bytes.");
        }

        long total = 0;
        foreach (var (name, value) in headers)
        {
            total += Encoding.UTF8.GetByteCount(name) + 2 + Encoding.UTF8.GetByteCount(value ?? "");
        }

        if (total > maxHeaderSize)
        {
            throw new EsException(400, "too_long_http_header_exception", $"HTTP header is larger than {maxHeaderSize} bytes.");
        }
    }
}
