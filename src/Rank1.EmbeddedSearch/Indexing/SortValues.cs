using System.Buffers.Binary;
using Lucene.Net.Documents;
using Lucene.Net.Util;

namespace Rank1.EmbeddedSearch.Indexing;

/// <summary>
/// The sortable values of one document's fields as they are indexed. A field's first value is its doc value (as it
/// always was); a field with more than one also gets a binary doc value holding all of them, from which a sort picks
/// the value its <c>mode</c> asks for, as Elasticsearch's sorted-numeric and sorted-set doc values let it
/// (<c>MultiValueMode</c>).
/// </summary>
internal sealed class SortValues
{
    private readonly Dictionary<string, List<long>> _longs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<double>> _doubles = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<string>> _keywords = new(StringComparer.Ordinal);

    // Whether a field was given a second value.
    private bool _several;

    /// <summary>The Lucene field that holds every value of <paramref name="path"/> in a document with several.</summary>
    /// <param name="path">A field's path.</param>
    public static string MultiValuedField(string path) => "\u0001values\u0001" + path;

    /// <summary>Records a whole-number (long, integer, date) value; true when it is the field's first.</summary>
    public bool Add(string path, long value) => Add(_longs, path, value);

    /// <summary>Records a floating-point value; true when it is the field's first.</summary>
    public bool Add(string path, double value) => Add(_doubles, path, value);

    /// <summary>Records a keyword value; true when it is the field's first.</summary>
    public bool Add(string path, string value) => Add(_keywords, path, value);

    /// <summary>
    /// Adds the binary doc value of every field given more than one value: whole numbers and floating-point ones as 8
    /// bytes each (big-endian; a double's bits), in ascending order, duplicates kept; keywords as the lowest and the
    /// highest value in byte order (all a sort on one picks), the lowest's length first.
    /// </summary>
    public void AddMultiValued(Document doc)
    {
        if (!_several)
        {
            return; // most documents: every field one value, nothing to add
        }

        foreach (var (path, values) in _longs.Where(e => e.Value.Count > 1))
        {
            values.Sort();
            doc.Add(new BinaryDocValuesField(MultiValuedField(path), new BytesRef(Encode(values, v => v))));
        }

        foreach (var (path, values) in _doubles.Where(e => e.Value.Count > 1))
        {
            values.Sort();
            doc.Add(new BinaryDocValuesField(MultiValuedField(path), new BytesRef(Encode(values, BitConverter.DoubleToInt64Bits))));
        }

        foreach (var (path, values) in _keywords.Where(e => e.Value.Count > 1))
        {
            // In UTF-8 byte order, as a keyword's sorted doc values are (UTF-16's ordinal order differs past U+D7FF).
            var utf8 = values.ConvertAll(v => new BytesRef(v));
            var (min, max) = (utf8.Min()!, utf8.Max()!);
            var bytes = new byte[4 + min.Length + max.Length];
            BinaryPrimitives.WriteInt32BigEndian(bytes, min.Length);
            Array.Copy(min.Bytes, min.Offset, bytes, 4, min.Length);
            Array.Copy(max.Bytes, max.Offset, bytes, 4 + min.Length, max.Length);
            doc.Add(new BinaryDocValuesField(MultiValuedField(path), new BytesRef(bytes)));
        }
    }

    private bool Add<T>(Dictionary<string, List<T>> values, string path, T value)
    {
        if (!values.TryGetValue(path, out var list))
        {
            values[path] = [value];
            return true;
        }

        list.Add(value);
        _several = true;
        return false;
    }

    private static byte[] Encode<T>(List<T> values, Func<T, long> bits)
    {
        var bytes = new byte[values.Count * 8];
        for (var i = 0; i < values.Count; i++)
        {
            BinaryPrimitives.WriteInt64BigEndian(bytes.AsSpan(i * 8), bits(values[i]));
        }

        return bytes;
    }
}
