using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Rank1.SearchBridge.Precompute;

/// <summary>The precompute worker (configuration section <c>Rank1:Worker</c>). Size the limits to the model's capacity: one message judges a whole window.</summary>
public sealed class WorkerOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Rank1:Worker";

    /// <summary>Messages the broker hands this worker ahead of time (unacknowledged until stored).</summary>
    /// <value>Default 2.</value>
    [Range(1, 1000)]
    public int PrefetchCount { get; set; } = 2;

    /// <summary>Jobs of <c>rank1-bridge precompute</c> judged at once. Each runs the model for its window; on CPU one is right.</summary>
    /// <value>Default 1.</value>
    [Range(1, 256)]
    public int ConcurrentMessageLimit { get; set; } = 1;

    /// <summary>
    /// Hot-query jobs (the proxy's, on their own queue) judged at once, besides the <see cref="ConcurrentMessageLimit"/>
    /// jobs of <c>rank1-bridge precompute</c>: the two queues are consumed side by side, sharing the engine's batch, so
    /// neither kind of job waits for the other's backlog.
    /// </summary>
    /// <value>Default 1.</value>
    [Range(1, 256)]
    public int HotQueryConcurrentMessageLimit { get; set; } = 1;

    /// <summary>Retries of a message that failed for a transient reason (backend, reasoning index, model) before it goes to the error queue.</summary>
    /// <value>Default 6.</value>
    [Range(0, 100)]
    public int RetryLimit { get; set; } = 6;

    /// <summary>The first retry's delay; each next one doubles, up to <see cref="RetryMaxInterval"/>. Retries are held by the worker (no delayed-exchange plugin is needed).</summary>
    /// <value>Default 1 s.</value>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan RetryMinInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest delay between retries.</summary>
    /// <value>Default 1 min.</value>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan RetryMaxInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// The first delay before a message the engine refused as overloaded (<c>Rank1OverloadedException</c>: the job's
    /// window does not fit in its passage queue, <c>Rank1:Model:MaxQueuedPassages</c>; each job is a caller of its own,
    /// so <c>MaxQueuedPassagesPerCaller</c> never refuses one) is tried again; each next one doubles, up to
    /// <see cref="OverloadRetryMaxInterval"/>. Overload is retried until the engine takes the message, never sent to
    /// the error queue, and does not count against <see cref="RetryLimit"/>.
    /// </summary>
    /// <value>Default 5 s.</value>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan OverloadRetryMinInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The longest delay between tries of a message refused as overloaded.</summary>
    /// <value>Default 2 min.</value>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan OverloadRetryMaxInterval { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Largest window a request may ask for; larger ones are rejected to the error queue.</summary>
    /// <value>Default 200.</value>
    [Range(1, 10_000)]
    public int MaxWindow { get; set; } = 200;

    /// <summary>On shutdown, how long in-flight messages may run to completion before they are cancelled and returned to the queue.</summary>
    /// <value>Default 30 s.</value>
    [Range(typeof(TimeSpan), "00:00:00", "00:30:00")]
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>The generated validator of <see cref="WorkerOptions"/> (<c>Rank1:Worker</c>).</summary>
[OptionsValidator]
public sealed partial class WorkerOptionsValidator : IValidateOptions<WorkerOptions>;
