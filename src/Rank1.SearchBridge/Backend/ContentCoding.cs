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

    /// <summary>A body decoded from gzip, deflate, br or identity (<see cref="InvalidDataException"/> when it does not decode).</summary>
    public static byte[] Decode(byte[] body, string encoding)
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
        decoder.CopyTo(output);
        return output.ToArray();
    }
}
