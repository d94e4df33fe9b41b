using System.Text;

namespace Rank1.Inference.Tokenization;

/// <summary>
/// The merge step of a byte-level BPE model: one pre-token (its UTF-8 bytes, one symbol per byte) merged pair by pair,
/// lowest merge rank first and leftmost first among equal ranks, exactly as Hugging Face's <c>Word::merge_all</c>:
/// a priority queue of candidate pairs over a linked list of symbols, stale entries skipped when popped.
/// </summary>
/// <remarks>
/// Why not Microsoft.ML.Tokenizers' BPE: on one long pre-token (text without spaces) its cost grew with the square of
/// the length (64k characters 0.23 s, 128k 0.95 s, 1 MB 469 s, issue #18), and it takes no cancellation. This is
/// O(n log n) in the bytes of the pre-token and checks <see cref="CancellationToken"/> as it goes. Decoding still
/// uses the library (it is linear).
/// </remarks>
internal sealed class ByteLevelBpe
{
    // How many merges between cancellation checks: cheap enough to be invisible, frequent enough to stop within
    // well under a millisecond.
    private const int CancellationStride = 4096;

    private readonly Dictionary<long, (int Rank, int Id)> _merges;
    private readonly int[] _byteIds;
    private readonly int[] _tokenBytes;
    private readonly Dictionary<string, int>? _wholeWords;

    /// <summary>
    /// Pre-tokens merged before, with their ids, as Hugging Face's BPE keeps them (tokenizers/src/models/bpe/model.rs,
    /// <c>tokenize_with_cache</c>: pre-tokens under <c>MAX_LENGTH</c>, 256 bytes, up to <c>DEFAULT_CACHE_CAPACITY</c>,
    /// 10,000 of them, none added once full). Every prompt of a window repeats the instruction line and the query, and
    /// each passage is encoded twice (cut to its limit, then in the prompt): merged afresh each time, they were 95% of
    /// tokenizing a window (10,000 short passages: 4.4 s of 4.6 s on a busy 2-core host).
    /// </summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _cached;
    private int _cachedCount;
    private long _merged;

    /// <summary>Most pre-tokens kept merged (Hugging Face's <c>DEFAULT_CACHE_CAPACITY</c>).</summary>
    internal const int CacheCapacity = 10_000;

    /// <summary>
    /// Pre-tokens under this many bytes of UTF-8 input are kept merged (Hugging Face's <c>MAX_LENGTH</c>, which it
    /// measures on the byte-level string, where a byte past ASCII is two; what is kept differs, the ids do not).
    /// </summary>
    internal const int CacheMaxBytes = 256;

    /// <summary>Pre-tokens merged (not found among those kept) since the tokenizer was loaded: the tests count them.</summary>
    internal long Merged => Interlocked.Read(ref _merged);

    private ByteLevelBpe(Dictionary<long, (int Rank, int Id)> merges, int[] byteIds, int[] tokenBytes, Dictionary<string, int>? wholeWords)
    {
        _merges = merges;
        _byteIds = byteIds;
        _tokenBytes = tokenBytes;
        _wholeWords = wholeWords;
        _cached = _cache.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>
    /// Builds the model from the vocabulary (byte-level strings to ids) and the merges ("a b", rank = position).
    /// With <paramref name="ignoreMerges"/> a pre-token that is itself in the vocabulary is one token (Hugging Face's
    /// <c>ignore_merges</c>). Returns null and <paramref name="error"/> when the vocabulary lacks a byte or a merge's parts.
    /// </summary>
    public static ByteLevelBpe? Create(IReadOnlyDictionary<string, int> vocab, IReadOnlyList<string> merges, bool ignoreMerges, out string? error)
    {
        error = null;
        var byteIds = new int[256];
        for (var b = 0; b < 256; b++)
        {
            if (!vocab.TryGetValue(ByteChars[b].ToString(), out byteIds[b]))
            {
                error = $"the vocabulary has no token for byte 0x{b:X2} (\"{ByteChars[b]}\"), which byte-level BPE needs";
                return null;
            }
        }

        var table = new Dictionary<long, (int, int)>(merges.Count);
        for (var rank = 0; rank < merges.Count; rank++)
        {
            var merge = merges[rank];
            var space = merge.IndexOf(' ', 1);
            if (space < 0 || !vocab.TryGetValue(merge[..space], out var left) || !vocab.TryGetValue(merge[(space + 1)..], out var right)
                || !vocab.TryGetValue(string.Concat(merge.AsSpan(0, space), merge.AsSpan(space + 1)), out var merged))
            {
                error = $"merge {rank} (\"{merge}\") names tokens that are not in the vocabulary";
                return null;
            }

            // Hugging Face keeps the first rank of a pair listed twice.
            table.TryAdd(Key(left, right), (rank, merged));
        }

        var tokenBytes = new int[vocab.Count == 0 ? 0 : vocab.Values.Max() + 1];
        foreach (var (token, id) in vocab)
        {
            tokenBytes[id] = token.Length; // one byte-level character per byte
        }

        return new ByteLevelBpe(table, byteIds, tokenBytes, ignoreMerges ? new Dictionary<string, int>(vocab, StringComparer.Ordinal) : null);
    }

    /// <summary>UTF-8 bytes of a regular token (0 for ids outside the vocabulary, such as added tokens).</summary>
    public int TokenBytes(int id) => (uint)id < (uint)_tokenBytes.Length ? _tokenBytes[id] : 0;

    /// <summary>Appends the ids of one pre-token to <paramref name="into"/>.</summary>
    public void Encode(ReadOnlySpan<char> preToken, List<int> into, CancellationToken cancellationToken)
    {
        if (preToken.IsEmpty)
        {
            return;
        }

        if (_cached.TryGetValue(preToken, out var known))
        {
            into.AddRange(known);
            return;
        }

        Interlocked.Increment(ref _merged);
        var from = into.Count;
        var bytes = Encoding.UTF8.GetBytes(preToken.ToArray());
        Merge(bytes, into, cancellationToken);
        if (bytes.Length < CacheMaxBytes && Volatile.Read(ref _cachedCount) < CacheCapacity && _cache.TryAdd(preToken.ToString(), System.Runtime.InteropServices.CollectionsMarshal.AsSpan(into)[from..].ToArray()))
        {
            Interlocked.Increment(ref _cachedCount);
        }
    }

    private void Merge(byte[] bytes, List<int> into, CancellationToken cancellationToken)
    {
        if (_wholeWords is not null && _wholeWords.TryGetValue(ToByteLevel(bytes), out var whole))
        {
            into.Add(whole);
            return;
        }

        var n = bytes.Length;
        var ids = new int[n];
        var prev = new int[n];
        var next = new int[n];
        var alive = new bool[n];
        for (var i = 0; i < n; i++)
        {
            ids[i] = _byteIds[bytes[i]];
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
            alive[i] = true;
        }

        // (rank, position): the lowest rank first, the leftmost first among equals; the merged id rides along so a
        // stale entry (its pair changed since it was queued) is recognised when popped.
        var queue = new PriorityQueue<(int Pos, int Id), (int Rank, int Pos)>(n);
        for (var i = 0; i + 1 < n; i++)
        {
            if (_merges.TryGetValue(Key(ids[i], ids[i + 1]), out var m))
            {
                queue.Enqueue((i, m.Id), (m.Rank, i));
            }
        }

        var work = 0;
        while (queue.TryDequeue(out var top, out _))
        {
            if (++work % CancellationStride == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }

            var pos = top.Pos;
            var right = alive[pos] ? next[pos] : -1;
            if (right < 0 || !_merges.TryGetValue(Key(ids[pos], ids[right]), out var current) || current.Id != top.Id)
            {
                continue;
            }

            ids[pos] = top.Id;
            alive[right] = false;
            next[pos] = next[right];
            if (next[pos] >= 0)
            {
                prev[next[pos]] = pos;
            }

            if (prev[pos] >= 0 && _merges.TryGetValue(Key(ids[prev[pos]], ids[pos]), out var before))
            {
                queue.Enqueue((prev[pos], before.Id), (before.Rank, prev[pos]));
            }

            if (next[pos] >= 0 && _merges.TryGetValue(Key(ids[pos], ids[next[pos]]), out var after))
            {
                queue.Enqueue((pos, after.Id), (after.Rank, pos));
            }
        }

        for (var i = 0; i >= 0; i = next[i])
        {
            into.Add(ids[i]);
        }
    }

    private static long Key(int left, int right) => ((long)left << 32) | (uint)right;

    private static string ToByteLevel(byte[] bytes) => string.Create(bytes.Length, bytes, static (span, b) =>
    {
        for (var i = 0; i < b.Length; i++)
        {
            span[i] = ByteChars[b[i]];
        }
    });

    /// <summary>GPT-2's byte-to-character table: printable Latin-1 bytes stand for themselves, the rest map to U+0100 onwards.</summary>
    private static readonly char[] ByteChars = BuildByteChars();

    private static char[] BuildByteChars()
    {
        var chars = new char[256];
        var extra = 0;
        for (var b = 0; b < 256; b++)
        {
            var printable = b is (>= '!' and <= '~') or (>= 0xA1 and <= 0xAC) or (>= 0xAE and <= 0xFF);
            chars[b] = printable ? (char)b : (char)(256 + extra++);
        }

        return chars;
    }
}
