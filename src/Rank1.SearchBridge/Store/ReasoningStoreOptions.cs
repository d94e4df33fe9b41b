using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Rank1.SearchBridge.Store;

/// <summary>The reasoning store (configuration section <c>Rank1:Store</c>).</summary>
public sealed class ReasoningStoreOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Rank1:Store";

    /// <summary>Read stored reasoning before calling the model, and write new reasoning back.</summary>
    /// <value>Default true.</value>
    public bool Enabled { get; set; } = true;

    /// <summary>The reasoning index on the backend.</summary>
    /// <value>Default "rank1-reasoning".</value>
    [Required(AllowEmptyStrings = false)]
    [RegularExpression("^[a-z0-9][a-z0-9._-]*$", ErrorMessage = "{0} must be a lowercase index name")]
    public string Index { get; set; } = "rank1-reasoning";

    /// <summary>Authorization header value for the proxy's own store calls (for example "ApiKey ..."); none by default.</summary>
    /// <value>Default null.</value>
    public string? Authorization { get; set; }

    /// <summary>Judgements that may wait to be written; beyond that new ones are dropped (and counted).</summary>
    /// <value>Default 10000.</value>
    [Range(1, 1_000_000)]
    public int WriteQueueCapacity { get; set; } = 10_000;

    /// <summary>Judgements per <c>_bulk</c> request.</summary>
    /// <value>Default 200.</value>
    [Range(1, 10_000)]
    public int BulkBatchSize { get; set; } = 200;

    /// <summary>How long the writer waits to fill a batch.</summary>
    /// <value>Default 500 ms.</value>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:10:00")]
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>On shutdown, how long the writer may take to write what is queued before the rest is given up (and counted as dropped).</summary>
    /// <value>Default 10 s.</value>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>The generated validator of <see cref="ReasoningStoreOptions"/> (<c>Rank1:Store</c>).</summary>
[OptionsValidator]
public sealed partial class ReasoningStoreOptionsValidator : IValidateOptions<ReasoningStoreOptions>;
