using System.Globalization;
using Microsoft.Extensions.Options;
using Rank1.Elastic;
using Rank1.SearchBridge.Configuration;
using Rank1.SearchBridge.Telemetry;

namespace Rank1.SearchBridge.Http.Search;

/// <summary>
/// The process-wide budget of bytes that searches in flight hold (<see cref="ProxyOptions.MaxInFlightBytes"/>), the
/// proxy's Elasticsearch <c>in_flight_requests</c> circuit breaker: each search request opens a <see cref="Lease"/>, takes
/// bytes from it for what it holds (its body as read and as decoded, the backend answers it holds) and gives them all
/// back when the lease is disposed, at the end of the request however it ends. Bytes that would take the total past
/// the limit are refused with Elasticsearch's 429 <c>circuit_breaking_exception</c>
/// (<c>ChildMemoryCircuitBreaker.circuitBreak</c>), and nothing is taken.
/// </summary>
internal sealed class InFlightBudget
{
    /// <summary>The label of a client's request body, as Elasticsearch's in-flight breaker names an HTTP request.</summary>
    public const string RequestLabel = "<http_request>";

    /// <summary>The label of a backend answer the proxy holds (to rerank it, or to join it into an msearch's answer).</summary>
    public const string BackendAnswerLabel = "<backend_answer>";

    private readonly Rank1Metrics _metrics;
    private long _used;

    /// <summary>Creates the budget of <see cref="ProxyOptions.InFlightLimit"/> bytes and reports its use on <paramref name="metrics"/>.</summary>
    public InFlightBudget(IOptions<ProxyOptions> options, Rank1Metrics metrics)
    {
        Limit = options.Value.InFlightLimit;
        _metrics = metrics;
        metrics.ObserveInFlight(() => Used);
    }

    /// <summary>The most bytes all searches in flight may hold together.</summary>
    public long Limit { get; }

    /// <summary>The bytes held now.</summary>
    public long Used => Volatile.Read(ref _used);

    /// <summary>A lease for one request, to take bytes with and to give them all back when disposed.</summary>
    public Lease Open() => new(this);

    private bool TryTake(long bytes, out long wanted)
    {
        while (true)
        {
            var used = Volatile.Read(ref _used);
            wanted = used + bytes;
            if (wanted > Limit)
            {
                _metrics.InFlightRefused();
                return false;
            }

            if (Interlocked.CompareExchange(ref _used, wanted, used) == used)
            {
                return true;
            }
        }
    }

    private void Give(long bytes) => Interlocked.Add(ref _used, -bytes);

    /// <summary>
    /// Elasticsearch's 429 of a child breaker that trips (<c>ChildMemoryCircuitBreaker.circuitBreak</c>):
    /// <c>[in_flight_requests] Data too large, data for [LABEL] would be [WANTED/HUMAN], which is larger than the limit of
    /// [LIMIT/HUMAN]</c>, with <c>bytes_wanted</c>, <c>bytes_limit</c> and <c>durability: TRANSIENT</c> (the in-flight
    /// breaker's: the request may succeed when tried again).
    /// </summary>
    public static EsException Breaking(long wanted, long limit, string label) =>
        new(429, "circuit_breaking_exception",
            $"[in_flight_requests] Data too large, data for [{label}] would be [{wanted}/{Human(wanted)}], which is larger than the limit of [{limit}/{Human(limit)}]",
            new Dictionary<string, string> { ["durability"] = "TRANSIENT" })
        {
            Numbers = new Dictionary<string, long> { ["bytes_wanted"] = wanted, ["bytes_limit"] = limit },
        };

    /// <summary>
    /// A byte count as Elasticsearch's <c>ByteSizeValue.toString</c> writes it: in the largest unit it reaches (b, kb, mb,
    /// gb, tb, pb), its first decimal kept as the shortest text of the double has it and the rest cut, not rounded
    /// (<c>Strings.format1Decimals</c>), none when that decimal is 0: 1,100 bytes is <c>1kb</c>, 1,048,575
    /// <c>1023.9kb</c>, 123,863,040 <c>118.1mb</c>.
    /// </summary>
    public static string Human(long bytes)
    {
        string[] units = ["b", "kb", "mb", "gb", "tb", "pb"];
        var unit = 0;
        double value = bytes;
        while (unit < units.Length - 1 && Math.Abs(value) >= 1024)
        {
            value /= 1024;
            unit++;
        }

        var text = value.ToString("R", CultureInfo.InvariantCulture); // Java's String.valueOf(double): the shortest text
        var dot = text.IndexOf('.', StringComparison.Ordinal);
        return (dot < 0 || text[dot + 1] == '0' ? (dot < 0 ? text : text[..dot]) : text[..(dot + 2)]) + units[unit];
    }

    /// <summary>The bytes one request holds of the budget: taken as it goes, all given back when disposed.</summary>
    internal sealed class Lease(InFlightBudget budget) : IDisposable
    {
        private long _held;
        private int _disposed;

        /// <summary>The bytes this lease holds now.</summary>
        public long Held => Volatile.Read(ref _held);

        /// <summary>Takes <paramref name="bytes"/> more, or throws the 429 <c>circuit_breaking_exception</c> and takes nothing.</summary>
        public void Take(long bytes, string label)
        {
            if (!TryTake(bytes, out var wanted))
            {
                throw Breaking(wanted, budget.Limit, label);
            }
        }

        /// <summary>
        /// Takes <paramref name="bytes"/> more, or takes nothing and says false (a refusal, counted): for a caller that has
        /// something to do other than fail, with <paramref name="wanted"/> the total that would have been held.
        /// </summary>
        public bool TryTake(long bytes, out long wanted)
        {
            wanted = 0;
            if (bytes <= 0)
            {
                return true;
            }

            if (!budget.TryTake(bytes, out wanted))
            {
                return false;
            }

            Interlocked.Add(ref _held, bytes);
            if (Volatile.Read(ref _disposed) != 0)
            {
                // Taken by a task that outlived its request: given back at once.
                budget.Give(Interlocked.Exchange(ref _held, 0));
            }

            return true;
        }

        /// <summary>Gives back everything this lease took.</summary>
        public void Dispose()
        {
            Volatile.Write(ref _disposed, 1);
            budget.Give(Interlocked.Exchange(ref _held, 0));
        }
    }
}
