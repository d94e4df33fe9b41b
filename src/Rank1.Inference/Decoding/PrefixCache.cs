using Microsoft.ML.OnnxRuntime;
using Rank1.Inference.Model;

namespace Rank1.Inference.Decoding;

/// <summary>
/// The caches of prompt prefixes that earlier admissions computed once for all their rows (the instruction and the
/// query of a window), kept so that a later admission starting with the same tokens copies them instead of computing
/// them again. Each is one row [1, kvHeads, length, headSize] holding the prefix's positions from column 0, at most
/// <paramref name="maxPositions"/> of them (<see cref="Prompt.PromptEncoder.SharedPrefixCap"/>: the query token cap plus
/// the prompt's own tokens, the part every row of a window shares). A longer shared prefix (identical passage text) is
/// kept only that far, so the prefix cache holds at most <see cref="Entries"/> × that many positions whatever the input.
/// </summary>
internal sealed class PrefixCache(ModelSignature signature, int maxPositions) : IDisposable
{
    /// <summary>Prefixes shorter than this are not worth computing apart or keeping.</summary>
    public const int MinPrefix = SharedPrefix.MinLength;

    /// <summary>Prefix caches kept for later admissions (most recent first).</summary>
    public const int Entries = 8;

    /// <summary>Most positions one kept prefix holds.</summary>
    public int MaxPositions { get; } = maxPositions >= 0 ? maxPositions : throw new ArgumentOutOfRangeException(nameof(maxPositions), maxPositions, "Must be 0 or more.");

    private readonly List<(int[] Tokens, OrtValue[] Kv)> _entries = [];

    /// <summary>The cached prefix sharing the most leading tokens with <paramref name="tokens"/> (at least <see cref="MinPrefix"/>), and how many.</summary>
    public (OrtValue[]? Kv, int Length) Find(ReadOnlySpan<int> tokens)
    {
        (OrtValue[]? Kv, int Length) best = (null, 0);
        foreach (var (cachedTokens, kv) in _entries)
        {
            var common = tokens.CommonPrefixLength(cachedTokens);
            if (common >= MinPrefix && common > best.Length)
            {
                best = (kv, common);
            }
        }

        return best;
    }

    /// <summary>
    /// Keeps a copy of a computed prefix's cache (row 0 of <paramref name="kv"/>, from column 0) for later admissions: its
    /// first <see cref="MaxPositions"/> positions at most.
    /// </summary>
    public void Remember(int[] tokens, OrtValue[] kv)
    {
        if (tokens.Length > MaxPositions)
        {
            tokens = tokens[..MaxPositions];
        }

        for (var i = _entries.Count - 1; i >= 0; i--)
        {
            if (tokens.AsSpan().StartsWith(_entries[i].Tokens))
            {
                KvTensors.Dispose(_entries[i].Kv); // superseded by the longer one
                _entries.RemoveAt(i);
            }
        }

        var copy = KvTensors.Allocate(signature, 1, tokens.Length);
        KvTensors.CopyColumns(signature, kv, 0, 0, copy, 0, 0, tokens.Length);
        _entries.Insert(0, (tokens, copy));
        while (_entries.Count > Entries)
        {
            KvTensors.Dispose(_entries[^1].Kv);
            _entries.RemoveAt(_entries.Count - 1);
        }
    }

    /// <summary>Positions held by all kept prefixes together.</summary>
    public long Positions => _entries.Sum(e => (long)e.Tokens.Length);

    public void Dispose()
    {
        foreach (var (_, kv) in _entries)
        {
            KvTensors.Dispose(kv);
        }

        _entries.Clear();
    }
}
