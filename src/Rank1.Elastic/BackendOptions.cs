using System.ComponentModel.DataAnnotations;

namespace Rank1.Elastic;

/// <summary>
/// The Elasticsearch or OpenSearch cluster and how it is called (configuration section <c>Rank1:Backend</c>): read by
/// the proxy (searches and pass-through), the worker (its searches) and <c>rank1-bridge serve</c> (the reasoning store).
/// </summary>
public sealed class BackendOptions : IValidatableObject
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Rank1:Backend";

    /// <summary>The cluster's URL (http or https, absolute).</summary>
    /// <value>Required.</value>
    public string Url { get; set; } = string.Empty;

    /// <summary>Timeout of one call the product makes itself (a search, a store call), inside the circuit breaker.</summary>
    /// <value>Default 30 seconds.</value>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Connections opened to the cluster at most (searches, msearch items and pass-through together); more requests wait for one.</summary>
    /// <value>Default 256.</value>
    [Range(1, 65_536)]
    public int MaxConnections { get; set; } = 256;

    /// <summary>Failure ratio within <see cref="BreakerSamplingDuration"/> that opens the backend circuit.</summary>
    /// <value>Default 0.5.</value>
    [Range(0.01, 1.0)]
    public double BreakerFailureRatio { get; set; } = 0.5;

    /// <summary>Calls within the sampling window before the backend circuit may open.</summary>
    /// <value>Default 10.</value>
    [Range(2, 10_000)]
    public int BreakerMinimumThroughput { get; set; } = 10;

    /// <summary>Window over which backend failures are counted.</summary>
    /// <value>Default 10 seconds.</value>
    [Range(typeof(TimeSpan), "00:00:00.500", "01:00:00")]
    public TimeSpan BreakerSamplingDuration { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long an open backend circuit answers 503 before trying again.</summary>
    /// <value>Default 5 seconds.</value>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan BreakerBreakDuration { get; set; } = TimeSpan.FromSeconds(5);

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (string.IsNullOrEmpty(Url))
        {
            yield return new ValidationResult($"{SectionName}:{nameof(Url)} is required: the Elasticsearch or OpenSearch cluster's URL.");
        }
        else if (!Uri.TryCreate(Url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            yield return new ValidationResult($"{SectionName}:{nameof(Url)} must be an absolute http or https URL (got '{Url}').");
        }
    }
}
