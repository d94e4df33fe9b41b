using System.IO.Compression;
using Rank1.Elastic;

namespace Rank1.SearchBridge.Backend;

/// <summary>HTTP bodies with their Content-Encoding undone: the backend's answers (proxy and worker alike) and the clients' bodies.</summary>
internal static class ContentCoding
{
    /// <summary>The answer's body with any Content-Encoding undone.</summary>
    public static byte[] Decoded(BackendResponse response) =>
        response.Headers.FirstOrDefault(h => h.Key.Equals("Content-Encoding", StringComparison.OrdinalIgnoreCase)).Value?.FirstOrDefault() is { } encoding
            ? Decode(response.Body, encoding)
            : response.Body;

    /// <summary>
    /// A body decoded from gzip, deflate, br or identity (<see cref="InvalidDataException"/> when it does not decode). At
    /// most <paramref name="maxLength"/> bytes are inflated: a body that decodes to more is <see cref="DecodedTooLongException"/>,
    /// found after reading one byte past the limit, so a small compressed body cannot take unbounded memory.
    /// </summary>
    public static byte[] Decode(byte[] body, string encoding, long maxLength = long.MaxValue)
    {
        using var input = new MemoryStream(body);
        using Stream decoder = encoding.Trim().ToLowerInvariant() switch
        {
            "gzip" or "x-gzip" => new GZipStream(input, CompressionMode.Decompress),
            "deflate" => new ZLibStream(input, CompressionMode.Decompress),
            "br" => new BrotliStream(input, CompressionMode.Decompress),
            "identity" => input,
            var other => throw new EsException(502, "rank1_backend_response_exception", $"the backend answered with an unsupported Content-Encoding [{other}]"),
        };
        using var output = new MemoryStream();
        var buffer = new byte[81920];
        int read;
        while ((read = decoder.Read(buffer)) > 0)
        {
            if (output.Length + read > maxLength)
            {
                throw new DecodedTooLongException(maxLength);
            }

            output.Write(buffer, 0, read);
        }

        return output.ToArray();
    }
}

/// <summary>A compressed body that decodes to more than the limit allows.</summary>
internal sealed class DecodedTooLongException(long limit) : Exception($"the body decodes to more than {limit} bytes")
{
    /// <summary>The most bytes the decoded body may hold.</summary>
    public long Limit { get; } = limit;
}
