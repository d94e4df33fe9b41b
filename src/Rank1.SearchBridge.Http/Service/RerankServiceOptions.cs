using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;
using Rank1.Inference;
using Rank1.SearchBridge.Configuration;

namespace Rank1.SearchBridge.Http.Service;

/// <summary>The rerank service: <c>/v1/rerank</c>, <c>/v2/rerank</c>, <c>/rerank</c>, <c>/reranking</c> (configuration section <c>Rank1:Service</c>).</summary>
public sealed class RerankServiceOptions : IValidatableObject
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Rank1:Service";

    /// <summary>Serve the rerank endpoints in the proxy host (<c>rank1-bridge serve</c> serves them whatever this says).</summary>
    /// <value>Default true.</value>
    public bool Enabled { get; set; } = true;

    /// <summary>Bearer tokens accepted in <c>Authorization: Bearer KEY</c>; empty: no authentication.</summary>
    /// <value>Default empty.</value>
    public IList<string> ApiKeys { get; } = [];

    /// <summary>Most documents in one call; more is a 400 in the protocol's shape (TEI's <c>/rerank</c>: its 422 <c>Validation</c>, as its <c>max_client_batch_size</c>).</summary>
    /// <value>Default 1000 (the most Cohere recommends in one call; Cohere itself refuses more than 10,000).</value>
    [Range(1, 100_000)]
    public int MaxDocuments { get; set; } = 1000;

    /// <summary>Most bytes in one request body; more is a 413.</summary>
    /// <value>Default 10485760 (10 MiB).</value>
    [Range(1024, 1_073_741_824)]
    public long MaxBodyBytes { get; set; } = 10 * 1024 * 1024;

    /// <summary>Reasoning budget per document when a request does not give <c>max_think_tokens</c>.</summary>
    /// <value>Default 256.</value>
    [Range(0, Rank1EngineOptions.MaxThinkTokensLimit)]
    public int MaxThinkTokens { get; set; } = 256;

    /// <summary>Time one call may take when it does not give <c>deadline_ms</c>; then unfinished documents are scored as they stand.</summary>
    /// <value>Default 30 seconds.</value>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:10:00")]
    public TimeSpan Deadline { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Instructions appended to every query when a request does not give <c>instructions</c>.</summary>
    /// <value>Default null.</value>
    public string? Instructions { get; set; }

    /// <summary>The model name answered in <c>model</c> and accepted in requests (any name is accepted).</summary>
    /// <value>Default "rank1".</value>
    [Required(AllowEmptyStrings = false)]
    public string ModelName { get; set; } = "rank1";

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        for (var i = 0; i < ApiKeys.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(ApiKeys[i]) || ApiKeys[i].Any(char.IsWhiteSpace))
            {
                yield return new ValidationResult($"{SectionName}:ApiKeys:{i} must be a non-empty key without white space.");
            }
        }

        // Appended to every query a request leaves without instructions (and keyed its stored reasoning): a "\u0001" said
        // nothing, as a proxy rule's blank Instructions, which stops the proxy at start-up.
        if (BlankSetting.Refusal($"{SectionName}:{nameof(Instructions)}", Instructions) is { } refusal)
        {
            yield return refusal;
        }
    }
}

/// <summary>The generated validator of <see cref="RerankServiceOptions"/> (<c>Rank1:Service</c>).</summary>
[OptionsValidator]
public sealed partial class RerankServiceOptionsValidator : IValidateOptions<RerankServiceOptions>;
