using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

/// <summary>
/// The managed allocations by type, as the runtime samples them: its <c>GCAllocationTick</c> event, raised about once
/// per 100 KB a thread allocates and naming the type of the object that crossed the mark, with the bytes since the last
/// one. An estimate that is good for the largest types (a type of under 100 KB a window may not show), read in process
/// with no tool (<c>dotnet-trace</c> gives stacks, and needs to be installed).
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private const EventKeywords GcKeyword = (EventKeywords)0x1;
    private readonly ConcurrentDictionary<string, long> _bytes = new();

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Verbose, GcKeyword);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (eventData.EventName != "GCAllocationTick_V4" || eventData.Payload is not { } payload || eventData.PayloadNames is not { } names)
        {
            return;
        }

        var type = payload[names.IndexOf("TypeName")] as string ?? "?";
        var amount = Convert.ToInt64(payload[names.IndexOf("AllocationAmount64")], System.Globalization.CultureInfo.InvariantCulture);
        _bytes.AddOrUpdate(type, amount, (_, b) => b + amount);
    }

    /// <summary>The ten largest types, per window.</summary>
    public void Print(int windows)
    {
        Console.WriteLine("Sampled allocations by type, KiB per window (the runtime's GCAllocationTick, about one sample per 100 KB):");
        foreach (var (type, bytes) in _bytes.OrderByDescending(e => e.Value).Take(10))
        {
            Console.WriteLine($"  {bytes / 1024.0 / windows,8:0} {type}");
        }
    }
}
