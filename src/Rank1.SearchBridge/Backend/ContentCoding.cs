using System.Buffers.Binary;
using System.IO.Compression;
using Rank1.Elastic;

namespace Rank1.SearchBridge.Backend;

/// <summary>HTTP bodies with their Content-Encoding undone: the backend's answers (proxy and worker alike) and the clients' bodies.</summary>
internal static class ContentCoding
{
    /// <summary>The answer's body with any Content-Encoding undone: <see cref="DecodedTooLongException"/> past <paramref name="maxLength"/> bytes.</summary>
    public static byte[] Decoded(BackendResponse response, long maxLength = long.MaxValue) =>
        EncodingOf(response.Headers) is { } encoding
            ? Decode(response.Body, encoding, maxLength)
            : response.Body.Length <= maxLength ? response.Body : throw new DecodedTooLongException(maxLength);

    /// <summary>The answer's Content-Encoding (its first value), or null when it has none.</summary>
    private static string? EncodingOf(IEnumerable<KeyValuePair<string, string[]>> headers) =>
        headers.FirstOrDefault(h => h.Key.Equals("Content-Encoding", StringComparison.OrdinalIgnoreCase)).Value?.FirstOrDefault();

    /// <summary>
    /// The compression an answer came in, for <see cref="Encode"/> to write its rewritten body in again: its
    /// Content-Encoding when that is one <see cref="Decode"/> undoes, null when it has none or it is <c>identity</c>.
    /// </summary>
    public static string? CompressionOf(IEnumerable<KeyValuePair<string, string[]>> headers) =>
        EncodingOf(headers) is { } encoding && Supports(encoding) && !encoding.Trim().Equals("identity", StringComparison.OrdinalIgnoreCase) ? encoding : null;

    /// <summary>
    /// <paramref name="body"/> encoded in <paramref name="encoding"/> (gzip, x-gzip, deflate, br; identity as it is), the
    /// way <see cref="Decode"/> reads it back. gzip and deflate at zlib level 3, Elasticsearch's default
    /// <c>http.compression_level</c> (<c>HttpTransportSettings.SETTING_HTTP_COMPRESSION_LEVEL</c>).
    /// </summary>
    public static byte[] Encode(byte[] body, string encoding)
    {
        var name = encoding.Trim().ToLowerInvariant();
        if (name == "identity")
        {
            return body;
        }

        using var output = new MemoryStream();
        using (Stream encoder = name switch
        {
            "gzip" or "x-gzip" => new GZipStream(output, new ZLibCompressionOptions { CompressionLevel = CompressionLevel }, leaveOpen: true),
            "deflate" => new ZLibStream(output, new ZLibCompressionOptions { CompressionLevel = CompressionLevel }, leaveOpen: true),
            "br" => new BrotliStream(output, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true),
            _ => throw new ArgumentException($"unsupported Content-Encoding [{encoding}]", nameof(encoding)),
        })
        {
            encoder.Write(body);
        }

        return output.ToArray();
    }

    // Elasticsearch's default http.compression_level.
    private const int CompressionLevel = 3;

    /// <summary>Whether <see cref="Decode"/> undoes <paramref name="encoding"/> (gzip, x-gzip, deflate, br or identity).</summary>
    public static bool Supports(string encoding) => encoding.Trim().ToLowerInvariant() is "gzip" or "x-gzip" or "deflate" or "br" or "identity";

    /// <summary>
    /// A client's request body with its <paramref name="encoding"/> undone (<see cref="Decode"/>, at most
    /// <paramref name="maxLength"/> bytes), an empty body as it is. GZipStream stops quietly at the end of what it could
    /// read, so garbage after a gzip header decodes to nothing (or to a truncated body): the gzip trailer's length (ISIZE,
    /// the size mod 2^32) must match, else <see cref="InvalidDataException"/>. <paramref name="inflating"/>, when given, is
    /// told each piece's length before it is kept (<see cref="Decode"/>), and may throw to stop the decoding there.
    /// </summary>
    public static byte[] DecodeRequest(byte[] raw, string encoding, long maxLength, Action<int>? inflating = null)
    {
        // An encoding this does not undo is left as it came, as Elasticsearch's HTTP layer leaves one it does not know
        // (Netty's HttpContentDecompressor decodes nothing for it), for the body's reader to read or refuse: the client's
        // body, never "the backend answered with an unsupported Content-Encoding" (a 502).
        if (raw.Length == 0 || !Supports(encoding))
        {
            return raw;
        }

        var decoded = Decode(raw, encoding, maxLength, inflating);
        return encoding.Trim().ToLowerInvariant() is "gzip" or "x-gzip" && (raw.Length < 18 || BinaryPrimitives.ReadUInt32LittleEndian(raw.AsSpan(raw.Length - 4)) != (uint)decoded.Length)
            ? throw new InvalidDataException("the stream is truncated or corrupt")
            : decoded;
    }

    /// <summary>
    /// A body decoded from gzip, deflate, br or identity (<see cref="InvalidDataException"/> when it does not decode). At
    /// most <paramref name="maxLength"/> bytes are inflated: a body that decodes to more is <see cref="DecodedTooLongException"/>,
    /// found after reading one byte past the limit, so a small compressed body cannot take unbounded memory.
    /// <paramref name="inflating"/>, when given, is told the length of each decoded piece before it is kept (the proxy's
    /// in-flight budget counts it), and may throw to stop the decoding there.
    /// </summary>
    public static byte[] Decode(byte[] body, string encoding, long maxLength = long.MaxValue, Action<int>? inflating = null)
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

            inflating?.Invoke(read);
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
