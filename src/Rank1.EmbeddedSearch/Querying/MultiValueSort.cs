using System.Buffers.Binary;
using Lucene.Net.Index;
using Lucene.Net.Search;
using Lucene.Net.Util;
using Rank1.EmbeddedSearch.Indexing;

namespace Rank1.EmbeddedSearch.Querying;

/// <summary>
/// A field sort that picks a multi-valued document's value as Elasticsearch's <c>MultiValueMode</c> does: <c>min</c>
/// (an ascending sort's default), <c>max</c> (a descending one's), and on numbers <c>sum</c>, <c>avg</c> and
/// <c>median</c>. A document with one value sorts by its doc value; one with several by the values
/// <see cref="SortValues"/> recorded; one without any as the missing value. It sorted by the first value.
/// </summary>
internal static class MultiValueSort
{
    /// <summary>A whole-number (long, integer, date) field's sort, its missing documents sorting as <paramref name="missing"/>.</summary>
    public static SortField Longs(string field, string mode, long missing, bool descending) =>
        new(field, new Source((_, hits) => new LongComparer(hits, field, mode, missing)), descending);

    /// <summary>A floating-point field's sort, its missing documents sorting as <paramref name="missing"/>.</summary>
    public static SortField Doubles(string field, string mode, double missing, bool descending) =>
        new(field, new Source((_, hits) => new DoubleComparer(hits, field, mode, missing)), descending);

    /// <summary>A keyword field's sort by its lowest or highest value; missing documents sort as the lowest or highest value.</summary>
    public static SortField Keywords(string field, bool max, bool missingLowest, bool descending) =>
        new(field, new Source((_, hits) => new KeywordComparer(hits, field, max, missingLowest)), descending);

    private sealed class Source(Func<string, int, FieldComparer> make) : FieldComparerSource
    {
        public override FieldComparer NewComparer(string fieldname, int numHits, int sortPos, bool reversed) => make(fieldname, numHits);
    }

    // MultiValueMode's pick over ascending values (duplicates kept): MIN the first, MAX the last, SUM and AVG the total
    // (a long's average Math.round of the double quotient), MEDIAN the middle one or the mean of the middle two.
    private static long Pick(ReadOnlySpan<long> values, string mode) => mode switch
    {
        "min" => values[0],
        "max" => values[^1],
        "sum" => Sum(values),
        "avg" => JavaRound((double)Sum(values) / values.Length),
        _ => values.Length % 2 == 0 ? JavaRound(((double)values[(values.Length / 2) - 1] + values[values.Length / 2]) / 2) : values[values.Length / 2],
    };

    private static double Pick(ReadOnlySpan<double> values, string mode) => mode switch
    {
        "min" => values[0],
        "max" => values[^1],
        "sum" => Sum(values),
        "avg" => Sum(values) / values.Length,
        _ => values.Length % 2 == 0 ? (values[(values.Length / 2) - 1] + values[values.Length / 2]) / 2 : values[values.Length / 2],
    };

    private static long Sum(ReadOnlySpan<long> values)
    {
        var total = 0L;
        foreach (var v in values)
        {
            total = unchecked(total + v); // Java's long addition wraps
        }

        return total;
    }

    private static double Sum(ReadOnlySpan<double> values)
    {
        var total = 0.0;
        foreach (var v in values)
        {
            total += v;
        }

        return total;
    }

    /// <summary>
    /// Java's <c>Math.round(double)</c> (Java 7 on): the closest long, ties towards positive infinity, NaN 0, beyond a
    /// long's range its end. <c>Math.Floor(value + 0.5)</c> rounded 0.49999999999999994 to 1 and an odd value above
    /// 2^52 up by one, as Java 6 did.
    /// </summary>
    /// <param name="value">The value to round.</param>
    internal static long JavaRound(double value)
    {
        var floor = Math.Floor(value);
        return (long)(value - floor >= 0.5 ? floor + 1 : floor);
    }

    // Lucene.Net's comparers hand values out as J2N boxes (FieldComparer<T> takes a class), as its Int64Comparer does.
    // A document's value: what the mode picks from its several values, else its one doc value (bits: a long, or a
    // double's), else the missing value.
    private abstract class NumberComparer<T, TBox>(int hits, string field, T missing) : FieldComparer<TBox>
        where T : struct, IComparable<T>
        where TBox : class
    {
        private readonly T[] _slots = new T[hits];
        private readonly BytesRef _scratch = new();
        private long[] _bits = new long[8];
        private NumericDocValues? _values;
        private IBits? _has;
        private BinaryDocValues? _multi;
        private T _bottom;
        private T _top;

        protected abstract T Pick(ReadOnlySpan<long> bits);

        protected abstract T FromBits(long bits);

        protected abstract TBox Box(T value);

        protected abstract T Unbox(TBox value);

        // The values a document's multi-valued doc value holds, read into a buffer kept for the next document; none
        // when it has one value or none.
        private ReadOnlySpan<long> Several(int doc)
        {
            if (_multi is null)
            {
                return [];
            }

            _multi.Get(doc, _scratch);
            var count = _scratch.Length / 8;
            if (count > _bits.Length)
            {
                _bits = new long[Math.Max(count, _bits.Length * 2)];
            }

            for (var i = 0; i < count; i++)
            {
                _bits[i] = BinaryPrimitives.ReadInt64BigEndian(_scratch.Bytes.AsSpan(_scratch.Offset + (i * 8), 8));
            }

            return _bits.AsSpan(0, count);
        }

        private T ValueOf(int doc)
        {
            var all = Several(doc);
            return all.Length > 1 ? Pick(all) : _values is not null && _has is not null && _has.Get(doc) ? FromBits(_values.Get(doc)) : missing;
        }

        public override FieldComparer SetNextReader(AtomicReaderContext context)
        {
            _values = context.AtomicReader.GetNumericDocValues(field);
            _has = context.AtomicReader.GetDocsWithField(field);
            _multi = context.AtomicReader.GetBinaryDocValues(SortValues.MultiValuedField(field));
            return this;
        }

        public override int Compare(int slot1, int slot2) => _slots[slot1].CompareTo(_slots[slot2]);

        public override void SetBottom(int slot) => _bottom = _slots[slot];

        public override void SetTopValue(TBox value) => _top = Unbox(value);

        public override int CompareBottom(int doc) => _bottom.CompareTo(ValueOf(doc));

        public override int CompareTop(int doc) => _top.CompareTo(ValueOf(doc));

        public override void Copy(int slot, int doc) => _slots[slot] = ValueOf(doc);

        public override TBox this[int slot] => Box(_slots[slot]);

        public override int CompareValues(TBox first, TBox second) => Unbox(first).CompareTo(Unbox(second));
    }

    private sealed class LongComparer(int hits, string field, string mode, long missing) : NumberComparer<long, J2N.Numerics.Int64>(hits, field, missing)
    {
        protected override long Pick(ReadOnlySpan<long> bits) => MultiValueSort.Pick(bits, mode);

        protected override long FromBits(long bits) => bits;

        protected override J2N.Numerics.Int64 Box(long value) => J2N.Numerics.Int64.GetInstance(value);

        protected override long Unbox(J2N.Numerics.Int64 value) => value.ToInt64();
    }

    private sealed class DoubleComparer(int hits, string field, string mode, double missing) : NumberComparer<double, J2N.Numerics.Double>(hits, field, missing)
    {
        // The same bits read as doubles (BitConverter.Int64BitsToDouble each), ascending as SortValues sorted them.
        protected override double Pick(ReadOnlySpan<long> bits) => MultiValueSort.Pick(System.Runtime.InteropServices.MemoryMarshal.Cast<long, double>(bits), mode);

        protected override double FromBits(long bits) => BitConverter.Int64BitsToDouble(bits);

        protected override J2N.Numerics.Double Box(double value) => J2N.Numerics.Double.GetInstance(value);

        protected override double Unbox(J2N.Numerics.Double value) => value.ToDouble();
    }

    // Keywords in byte order, as their sorted-set doc values are; a missing one (null) the lowest or the highest value.
    private sealed class KeywordComparer(int hits, string field, bool max, bool missingLowest) : FieldComparer<BytesRef>
    {
        private readonly BytesRef?[] _slots = new BytesRef?[hits];
        private readonly BytesRef _scratch = new();
        private readonly BytesRef _view = new();
        private BytesRef? _bottom;
        private BytesRef? _top;
        private SortedDocValues? _values;
        private BinaryDocValues? _multi;

        // In a segment without several-valued documents the bottom's place among the segment's ordinals, as Lucene's
        // TermOrdValComparer keeps it: its ordinal, or where it would be inserted (-(point) - 1); null when not kept.
        private int? _bottomOrd;

        private BytesRef? ValueOf(int doc)
        {
            if (_multi is not null)
            {
                _multi.Get(doc, _scratch);
                if (_scratch.Length > 0)
                {
                    var minLength = BinaryPrimitives.ReadInt32BigEndian(_scratch.Bytes.AsSpan(_scratch.Offset, 4));
                    _view.Bytes = _scratch.Bytes;
                    (_view.Offset, _view.Length) = max
                        ? (_scratch.Offset + 4 + minLength, _scratch.Length - 4 - minLength)
                        : (_scratch.Offset + 4, minLength);
                    return _view;
                }
            }

            if (_values is null || _values.GetOrd(doc) is var ord && ord < 0)
            {
                return null;
            }

            _values.LookupOrd(ord, _view);
            return _view;
        }

        private int CompareKeys(BytesRef? a, BytesRef? b) => (a, b) switch
        {
            (null, null) => 0,
            (null, _) => missingLowest ? -1 : 1,
            (_, null) => missingLowest ? 1 : -1,
            _ => a.CompareTo(b),
        };

        public override int Compare(int slot1, int slot2) => CompareKeys(_slots[slot1], _slots[slot2]);

        public override void SetBottom(int slot)
        {
            _bottom = _slots[slot];
            PlaceBottom();
        }

        private void PlaceBottom() =>
            _bottomOrd = _multi is null && _values is not null && _bottom is not null ? _values.LookupTerm(_bottom) : null;

        public override void SetTopValue(BytesRef value) => _top = value;

        public override int CompareBottom(int doc)
        {
            if (_bottomOrd is not { } bottomOrd || _values!.GetOrd(doc) is var ord && ord < 0)
            {
                return CompareKeys(_bottom, ValueOf(doc));
            }

            // The bottom is the segment's term bottomOrd, or sits just below the term at the insertion point.
            return bottomOrd >= 0 ? bottomOrd.CompareTo(ord) : ord >= -bottomOrd - 1 ? -1 : 1;
        }

        public override int CompareTop(int doc) => CompareKeys(_top, ValueOf(doc));

        public override void Copy(int slot, int doc) => _slots[slot] = ValueOf(doc) is { } v ? BytesRef.DeepCopyOf(v) : null;

        public override FieldComparer SetNextReader(AtomicReaderContext context)
        {
            _values = context.AtomicReader.GetSortedDocValues(field);
            _multi = context.AtomicReader.GetBinaryDocValues(SortValues.MultiValuedField(field));
            PlaceBottom();
            return this;
        }

        public override BytesRef this[int slot] => _slots[slot]!;

        public override int CompareValues(BytesRef first, BytesRef second) => CompareKeys(first, second);
    }
}
