using System.IO.Compression;
using System.Text;
using Rank1.SearchBridge.Backend;

namespace Rank1.SearchBridge.Tests;

/// <summary><see cref="ContentCoding"/>: what the proxy writes in a backend's Content-Encoding, the standard decoders read back.</summary>
public sealed class ContentCodingTests
{
    private static readonly byte[] Answer = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("{\"hits\":{\"hits\":[{\"_id\":\"onion\",\"_score\":0.9}]}}", 50)));

    // Read back by .NET's own streams, one per coding as HTTP names it (deflate is the zlib format, RFC 9110 8.4.1.2).
    [Theory]
    [InlineData("gzip")]
    [InlineData("x-gzip")]
    [InlineData("deflate")]
    [InlineData("br")]
    [InlineData(" GZIP ")]
    public void Encode_IsReadBackByTheCodingsStandardDecoder(string encoding)
    {
        var encoded = ContentCoding.Encode(Answer, encoding);
        Assert.True(encoded.Length < Answer.Length);
        using var input = new MemoryStream(encoded);
        using Stream decoder = encoding.Trim().ToLowerInvariant() switch
        {
            "gzip" or "x-gzip" => new GZipStream(input, CompressionMode.Decompress),
            "deflate" => new ZLibStream(input, CompressionMode.Decompress),
            _ => new BrotliStream(input, CompressionMode.Decompress),
        };
        using var output = new MemoryStream();
        decoder.CopyTo(output);
        Assert.Equal(Answer, output.ToArray());
    }

    [Fact]
    public void Encode_Identity_IsTheBodyItself() => Assert.Same(Answer, ContentCoding.Encode(Answer, "identity"));

    [Fact]
    public void Encode_ACodingItCannotWrite_IsRefused() => Assert.Throws<ArgumentException>(() => ContentCoding.Encode(Answer, "compress"));

    // What a rewritten answer is written in again: a compression the proxy undoes; no header, identity or one it cannot
    // undo (the answer was then passed on as it came, never rewritten) is none.
    [Theory]
    [InlineData("gzip", "gzip")]
    [InlineData("deflate", "deflate")]
    [InlineData("br", "br")]
    [InlineData("identity", null)]
    [InlineData("compress", null)]
    [InlineData(null, null)]
    public void CompressionOf_IsACompressionTheProxyUndoes(string? header, string? expected)
    {
        IReadOnlyList<KeyValuePair<string, string[]>> headers = header is null
            ? [new("Content-Type", ["application/json"])]
            : [new("Content-Type", ["application/json"]), new("content-encoding", [header])];
        Assert.Equal(expected, ContentCoding.CompressionOf(headers));
    }
}
