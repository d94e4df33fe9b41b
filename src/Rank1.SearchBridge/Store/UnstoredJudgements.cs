using Rank1.Inference;

namespace Rank1.SearchBridge.Store;

/// <summary>
/// The precompute worker's judgements that the reasoning index did not take (it was down, or answered an error), kept
/// by their reasoning-store id for the job's retry to write them without asking the model again: each retry judged the
/// whole window anew, up to <c>RetryLimit</c> + 1 times the model time for one write that failed. Bounded: past
/// <see cref="Capacity"/> judgements the oldest is forgotten (its passage is judged again if its job comes back).
/// A kept judgement is only ever used for the same id, which names the model, the prompt, the index, the document,
/// the search's settings and the passage text.
/// </summary>
internal sealed class UnstoredJudgements(int capacity)
{
    /// <summary>A judgement made, with the document that stores it.</summary>
    internal sealed record Entry(JudgementToStore Document, Rank1Judgement Judgement);

    private readonly Lock _gate = new();
    private readonly Dictionary<string, LinkedListNode<Entry>> _byId = new(StringComparer.Ordinal);
    private readonly LinkedList<Entry> _oldestFirst = new();

    /// <summary>The most judgements kept at once.</summary>
    public int Capacity { get; } = capacity;

    /// <summary>How many judgements are kept now.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _byId.Count;
            }
        }
    }

    /// <summary>Keeps judgements that were not stored (a later one of the same id replaces the earlier), forgetting the oldest past <see cref="Capacity"/>.</summary>
    public void Keep(IEnumerable<Entry> entries)
    {
        lock (_gate)
        {
            foreach (var entry in entries)
            {
                if (_byId.Remove(entry.Document.Id, out var old))
                {
                    _oldestFirst.Remove(old);
                }

                _byId[entry.Document.Id] = _oldestFirst.AddLast(entry);
                while (_byId.Count > Capacity && _oldestFirst.First is { } first)
                {
                    _oldestFirst.RemoveFirst();
                    _byId.Remove(first.Value.Document.Id);
                }
            }
        }
    }

    /// <summary>Takes the judgement kept under <paramref name="id"/>, if any: it is the caller's to write (or keep again).</summary>
    public bool TryTake(string id, out Entry entry)
    {
        lock (_gate)
        {
            if (_byId.Remove(id, out var node))
            {
                _oldestFirst.Remove(node);
                entry = node.Value;
                return true;
            }
        }

        entry = null!;
        return false;
    }
}
