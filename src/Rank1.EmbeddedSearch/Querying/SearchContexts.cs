using System.Collections.Concurrent;
using System.Security.Cryptography;
using Lucene.Net.Search;
using Rank1.Elastic;
using Rank1.EmbeddedSearch.Indexing;

namespace Rank1.EmbeddedSearch.Querying;

/// <summary>One index of a search and the snapshot it reads; <paramref name="Shard"/> numbers it within the search (for <c>_shard_doc</c>).</summary>
internal sealed record SearchTarget(SearchIndex Index, IndexSearcher Searcher, int Shard);

/// <summary>
/// Scroll and point-in-time contexts: each holds the index snapshots it was opened on until it is cleared or its
/// keep-alive runs out (measured on the injected <see cref="TimeProvider"/>; every use renews it), as in
/// Elasticsearch, so later writes do not move its pages.
/// </summary>
internal sealed class SearchContexts(TimeProvider time) : IDisposable
{
    private readonly ConcurrentDictionary<string, Context> _contexts = new(StringComparer.Ordinal);

    internal sealed class Context(string id, bool isPit, IReadOnlyList<SearchTarget> targets, SearchRequest? scroll)
    {
        public string Id { get; } = id;

        public bool IsPit { get; } = isPit;

        public IReadOnlyList<SearchTarget> Targets { get; } = targets;

        /// <summary>The scroll's own search; null for a point in time.</summary>
        public SearchRequest? Scroll { get; } = scroll;

        /// <summary>How many hits the scroll has handed out.</summary>
        public int Position { get; set; }

        public DateTimeOffset Expires { get; set; }

        public Lock Gate { get; } = new();

        public bool Closed { get; set; }
    }

    public int Count
    {
        get
        {
            Sweep();
            return _contexts.Count;
        }
    }

    /// <summary>Elasticsearch's <c>search.max_open_scroll_context</c> default: each open scroll holds index snapshots.</summary>
    public const int MaxOpenScrolls = 500;

    /// <summary>Elasticsearch's <c>search.max_keep_alive</c> default.</summary>
    public static readonly TimeSpan MaxKeepAlive = TimeSpan.FromDays(1);

    /// <summary>Opens a context on fresh snapshots of <paramref name="indices"/>.</summary>
    public Context Open(IReadOnlyList<SearchIndex> indices, bool isPit, SearchRequest? scroll, TimeSpan keepAlive)
    {
        Sweep();
        CheckKeepAlive(keepAlive);
        if (!isPit && _contexts.Count(c => !c.Value.IsPit) >= MaxOpenScrolls)
        {
            throw new EsException(429, "too_many_scroll_contexts_exception",
                $"Trying to create too many scroll contexts. Must be less than or equal to: [{MaxOpenScrolls}]. This limit can be set by changing the [search.max_open_scroll_context] setting.");
        }

        var targets = indices.Select((index, shard) => new SearchTarget(index, index.AcquireSearcher(), shard)).ToArray();
        var context = new Context(NewId(), isPit, targets, scroll) { Expires = time.GetUtcNow() + keepAlive };
        _contexts[context.Id] = context;
        return context;
    }

    /// <summary>The live context of that id, its keep-alive renewed; 404 <c>search_context_missing_exception</c> otherwise.</summary>
    public Context Use(string id, bool isPit, TimeSpan? keepAlive)
    {
        Sweep();
        if (!_contexts.TryGetValue(id, out var context) || context.IsPit != isPit)
        {
            throw Missing(id);
        }

        if (keepAlive is { } renew)
        {
            CheckKeepAlive(renew);
            context.Expires = time.GetUtcNow() + renew;
        }

        return context;
    }

    /// <summary>Clears the contexts of these ids (all of one kind when null); the number freed.</summary>
    public int Clear(IEnumerable<string>? ids, bool isPit)
    {
        Sweep();
        var freed = 0;
        foreach (var id in ids ?? _contexts.Where(c => c.Value.IsPit == isPit).Select(c => c.Key).ToArray())
        {
            if (_contexts.TryGetValue(id, out var context) && context.IsPit == isPit && _contexts.TryRemove(id, out _))
            {
                Release(context);
                freed++;
            }
        }

        return freed;
    }

    /// <summary>The ids of the live contexts of one kind.</summary>
    public string[] OpenIds(bool isPit)
    {
        Sweep();
        return _contexts.Where(c => c.Value.IsPit == isPit).Select(c => c.Key).ToArray();
    }

    /// <summary>Frees every context whose keep-alive has run out.</summary>
    public void Sweep()
    {
        var now = time.GetUtcNow();
        foreach (var (id, context) in _contexts)
        {
            if (context.Expires <= now && _contexts.TryRemove(id, out _))
            {
                Release(context);
            }
        }
    }

    /// <summary>Elasticsearch's answer for an expired or cleared context: a query-phase failure caused by the missing context.</summary>
    public static EsException Missing(string id) =>
        EsException.AllShardsFailed(new EsException(404, "search_context_missing_exception", $"No search context found for id [{id}]"));

    /// <summary>An Elasticsearch time value (<c>30s</c>, <c>1m</c>, <c>500ms</c>, <c>2h</c>, <c>1d</c>, <c>-1</c> not allowed here).</summary>
    public static TimeSpan ParseKeepAlive(string value, string name)
    {
        if (TimeValue.Parse(value) is { } keepAlive)
        {
            return keepAlive;
        }

        throw new EsException(400, "parse_exception", $"failed to parse setting [{name}] with value [{value}] as a time value: unit is missing or unrecognized");
    }

    private static void CheckKeepAlive(TimeSpan keepAlive)
    {
        if (keepAlive > MaxKeepAlive)
        {
            throw EsException.IllegalArgument($"Keep alive for request ({Format(keepAlive)}) is too large. It must be less than ({Format(MaxKeepAlive)}). " +
                "This limit can be set by changing the [search.max_keep_alive] cluster level setting.");
        }
    }

    // As Elasticsearch prints a time value: in the largest whole unit.
    private static string Format(TimeSpan t) => t switch
    {
        _ when t.Ticks % TimeSpan.TicksPerDay == 0 => $"{t.Ticks / TimeSpan.TicksPerDay}d",
        _ when t.Ticks % TimeSpan.TicksPerHour == 0 => $"{t.Ticks / TimeSpan.TicksPerHour}h",
        _ when t.Ticks % TimeSpan.TicksPerMinute == 0 => $"{t.Ticks / TimeSpan.TicksPerMinute}m",
        _ when t.Ticks % TimeSpan.TicksPerSecond == 0 => $"{t.Ticks / TimeSpan.TicksPerSecond}s",
        _ => $"{(long)t.TotalMilliseconds}ms",
    };

    public void Dispose()
    {
        foreach (var id in _contexts.Keys)
        {
            if (_contexts.TryRemove(id, out var context))
            {
                Release(context);
            }
        }
    }

    private static void Release(Context context)
    {
        lock (context.Gate)
        {
            if (context.Closed)
            {
                return;
            }

            context.Closed = true;
            foreach (var target in context.Targets)
            {
                try
                {
                    target.Index.ReleaseSearcher(target.Searcher);
                }
                catch (ObjectDisposedException)
                {
                    // The index was deleted while the context held it.
                }
            }
        }
    }

    private static string NewId() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(24)).Replace('+', '-').Replace('/', '_');
}
