namespace Rank1.SearchBridge.Messages;

/// <summary>
/// Asks a worker to compute and store the reasoning for one query's rerank window, so that the proxy can answer it
/// from the reasoning store. The fields describe the search exactly as the proxy would rerank it.
/// </summary>
/// <param name="TargetIndex">The index expression the search ran on.</param>
/// <param name="Query">The query text to judge.</param>
/// <param name="Instructions">Instructions appended to the query, if any.</param>
/// <param name="Window">How many top hits to judge.</param>
/// <param name="Fields">Source fields joined into the passage.</param>
/// <param name="TitleField">Source field used as the title, if any.</param>
/// <param name="MaxThinkTokens">Reasoning budget per passage.</param>
/// <param name="Reason">Why it was asked: "hot-query" (the proxy) or "offline" (rank1-bridge precompute).</param>
public sealed record PrecomputeReasoning(
    string TargetIndex,
    string Query,
    string? Instructions,
    int Window,
    IReadOnlyList<string> Fields,
    string? TitleField,
    int MaxThinkTokens,
    string Reason);

/// <summary>Sends <see cref="PrecomputeReasoning"/> requests to the workers.</summary>
public interface IPrecomputePublisher
{
    /// <summary>Publishes one request; may throw when the broker is unreachable (the caller logs and counts).</summary>
    Task PublishAsync(PrecomputeReasoning message, CancellationToken cancellationToken);
}

/// <summary>The publisher when no broker is configured: requests are counted and dropped.</summary>
internal sealed class NoBrokerPublisher : IPrecomputePublisher
{
    public Task PublishAsync(PrecomputeReasoning message, CancellationToken cancellationToken) => Task.CompletedTask;
}
