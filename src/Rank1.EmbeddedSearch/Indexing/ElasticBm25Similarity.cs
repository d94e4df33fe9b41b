using Lucene.Net.Search.Similarities;

namespace Rank1.EmbeddedSearch.Indexing;

/// <summary>
/// BM25 with k1 = 1.2 and b = 0.75 as Elasticsearch 8/9 computes it: idf · tf / (tf + k1 · (1 − b + b · dl / avgdl)).
/// </summary>
/// <remarks>
/// Two differences from Lucene 4.8's BM25Similarity, both toward Elasticsearch's numbers:
/// <list type="bullet">
/// <item>Lucene 4.8 multiplies the tf part by (k1 + 1), which Lucene 8 dropped. Dividing the idf by the same constant
/// removes it, and constant-score queries (terms, range, ids) still score 1.0.</item>
/// <item>Lucene 4.8 stores the document length as 1/sqrt(length) in a byte with 3 mantissa bits, so a 2-word
/// document reads back as about 2.56 words (a 7% score error). Here lengths below 128 are stored exactly and longer
/// ones on a log scale in steps of 2^(1/16) (about 4%). That is as fine as Lucene 10's encoding, which Elasticsearch 9
/// uses. Indices are written and read with this class, so the encoding is consistent.</item>
/// </list>
/// </remarks>
internal sealed class ElasticBm25Similarity : BM25Similarity
{
    public const float DefaultK1 = 1.2f;
    public const float DefaultB = 0.75f;
    private const int ExactLengths = 128;
    private const double StepsPerDoubling = 16.0;

    private static readonly float[] LengthTable = Enumerable.Range(0, 256)
        .Select(i => i < ExactLengths ? i : (float)(ExactLengths * Math.Pow(2, (i - ExactLengths) / StepsPerDoubling))).ToArray();

    public static readonly ElasticBm25Similarity Instance = new();

    private ElasticBm25Similarity()
        : base(DefaultK1, DefaultB)
    {
    }

    protected override float Idf(long docFreq, long numDocs) => base.Idf(docFreq, numDocs) / (DefaultK1 + 1f);

    protected override byte EncodeNormValue(float boost, int fieldLength) => EncodeLength(fieldLength);

    protected override float DecodeNormValue(byte b) => LengthTable[b];

    internal static byte EncodeLength(int length)
    {
        if (length < ExactLengths)
        {
            return (byte)Math.Max(0, length);
        }

        var code = ExactLengths + (int)Math.Round(StepsPerDoubling * Math.Log2(length / (double)ExactLengths));
        return (byte)Math.Min(255, code);
    }

    internal static float DecodeLength(byte b) => LengthTable[b];
}
