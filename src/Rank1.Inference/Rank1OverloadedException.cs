namespace Rank1.Inference;

/// <summary>
/// The engine's queue of passages waiting for a batch slot is full (<see cref="Rank1EngineOptions.MaxQueuedPassages"/>),
/// or the caller's share of it is (<see cref="Rank1EngineOptions.MaxQueuedPassagesPerCaller"/>):
/// the caller should shed load (the proxy answers in backend order with <c>fallback-overload</c>) rather than wait.
/// </summary>
public sealed class Rank1OverloadedException : Exception
{
    /// <summary>Creates the exception.</summary>
    public Rank1OverloadedException()
        : this("The Rank1 engine's queue is full.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public Rank1OverloadedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public Rank1OverloadedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
