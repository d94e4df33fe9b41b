using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;
using Rank1.Inference;
using Rank1.SearchBridge.Messages;

namespace Rank1.SearchBridge.Configuration;

/// <summary>
/// How the proxy protects the model and reranks searches (configuration section <c>Rank1:Proxy</c>); the cluster itself is
/// <see cref="Rank1.Elastic.BackendOptions"/> (<c>Rank1:Backend</c>).
/// </summary>
public sealed class ProxyOptions : IValidatableObject
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Rank1:Proxy";

    /// <summary>Reranks that may run at once (sized to the model's capacity).</summary>
    /// <value>Default 2.</value>
    [Range(1, 1024)]
    public int MaxConcurrentReranks { get; set; } = 2;

    /// <summary>Reranks that may wait for a slot; beyond that a search falls back to backend order (<c>fallback-overload</c>).</summary>
    /// <value>Default 16.</value>
    [Range(0, 100_000)]
    public int MaxQueuedReranks { get; set; } = 16;

    /// <summary>
    /// Model failures in a row that open the model circuit (searches then answer in backend order at once); at least 2,
    /// the least minimum throughput Polly's circuit breaker takes.
    /// </summary>
    /// <value>Default 5.</value>
    [Range(2, 1000)]
    public int ModelFailuresBeforeBreak { get; set; } = 5;

    /// <summary>How long an open model circuit stays open.</summary>
    /// <value>Default 30 seconds.</value>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan ModelBreakDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long past a rerank's deadline it may wait for a model call that is still running (a prefill begun before
    /// the deadline) before the call is cancelled and the search answered in backend order (<c>fallback-timeout</c>).
    /// </summary>
    /// <value>Default 500 ms, so a search answers within <c>deadline_ms</c> + 1 s.</value>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan DeadlineGrace { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// Longest time a passed-through request that is not a search may wait for the backend's next bytes: response
    /// headers, or the next piece of the body either way (a search streamed without reranking waits
    /// <c>Rank1:Backend:Timeout</c>). Past it the proxy answers an Elasticsearch-shaped 504
    /// (<c>rank1_backend_timeout_exception</c>) instead of holding the connection.
    /// </summary>
    /// <value>Default 60 s.</value>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan PassThroughTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// When set, every <c>/_rank1/*</c> endpoint (health, metrics) asks for <c>Authorization: ApiKey &lt;key&gt;</c> and
    /// answers anything else with an Elasticsearch-shaped 401 (<c>security_exception</c>). At least 16 characters.
    /// </summary>
    /// <value>Default null: the endpoints are open (bind the proxy to a trusted network).</value>
    [MinLength(16)]
    public string? AdminApiKey { get; set; }

    /// <summary>Searches of one <c>_msearch</c> that run at once (Elasticsearch's <c>max_concurrent_searches</c>; a request may ask for fewer, never more).</summary>
    /// <value>Default 8.</value>
    [Range(1, 1024)]
    public int MaxConcurrentSearches { get; set; } = 8;

    /// <summary>
    /// Searches one <c>_msearch</c> may hold; more: 400 in Elasticsearch's shape, before any search runs. Every item's
    /// answer is held until the last one is done, so this bounds what one request can make the proxy hold.
    /// </summary>
    /// <value>Default 1000.</value>
    [Range(1, 1_000_000)]
    public int MaxMsearchItems { get; set; } = 1000;

    /// <summary>Reranks that the searches of one request (one <c>_msearch</c>) may hold in the rerank queue at once; the rest wait their turn within their deadline.</summary>
    /// <value>Default 2.</value>
    [Range(1, 1024)]
    public int MaxRerankShare { get; set; } = 2;

    /// <summary>Largest request body accepted, in bytes (Elasticsearch's <c>http.max_content_length</c>); larger: 413 in Elasticsearch's shape.</summary>
    /// <value>Default 104857600 (100 MB).</value>
    [Range(typeof(long), "1", "9223372036854775807")]
    public long MaxContentLength { get; set; } = 100L * 1024 * 1024;

    /// <summary>
    /// Largest backend answer the proxy holds, in bytes once decoded: a search's rerank window, read to rerank, and an
    /// <c>_msearch</c> item's answer, held to be joined. Reading and rewriting an answer holds about ten times its size (a
    /// 200 MB window answer took the proxy to 2.2 GB). A bigger window answer is not reranked: the search is sent again as
    /// the client sent it and that answer is passed on (<c>X-Rank1-Rerank: skipped</c>, with the reason), streamed for a
    /// lone search. An <c>_msearch</c> item's answer over it is that item's 502. A lone search that is not reranked is
    /// streamed, never held, whatever its size.
    /// </summary>
    /// <value>Default 67108864 (64 MB).</value>
    [Range(typeof(long), "1", "1073741824")]
    public long MaxHeldAnswerBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>
    /// The most bytes all searches in flight may hold together (<c>_search</c>, <c>_msearch</c> and their templates),
    /// Elasticsearch's <c>in_flight_requests</c> circuit breaker: each request body as read and as decoded (counted while
    /// it inflates, so a compressed bomb stops early), and each backend answer the proxy holds (a rerank window's, an
    /// msearch item's until the msearch is answered). A search that would take the total past it is refused with
    /// Elasticsearch's 429 <c>circuit_breaking_exception</c>; an msearch item whose answer would, is that item's 429.
    /// Every byte is given back when its request ends. The rerank service's request bodies (in the proxy host and in
    /// <c>rank1-bridge serve</c>) are held of the same budget; one that would pass it is a 429 in its protocol's shape.
    /// Null: <see cref="DefaultInFlightShare"/> of the memory the GC
    /// may use (<see cref="GC.GetGCMemoryInfo()"/>'s <c>TotalAvailableMemoryBytes</c>: the container's limit, or the machine's memory).
    /// </summary>
    /// <value>Default null (an eighth of the available memory).</value>
    [Range(typeof(long), "1", "9223372036854775807")]
    public long? MaxInFlightBytes { get; set; }

    /// <summary>
    /// The share of the available memory that <see cref="MaxInFlightBytes"/> is when it is not set: an eighth, since the
    /// process holds several times the bytes it counts (buffers that grow by doubling, copies, garbage not yet collected:
    /// eight concurrent gzip bombs under a 256 MB budget peaked at 1.2 GB over the idle proxy).
    /// </summary>
    public const double DefaultInFlightShare = 0.125;

    /// <summary>The in-flight budget in force: <see cref="MaxInFlightBytes"/>, or <see cref="DefaultInFlightShare"/> of the available memory.</summary>
    public long InFlightLimit => MaxInFlightBytes ?? Math.Max(1, (long)(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes * DefaultInFlightShare));

    /// <summary>
    /// Longest request line accepted, in bytes (method, target and version); longer: Elasticsearch's 400
    /// <c>too_long_http_line_exception</c> ("An HTTP line is larger than N bytes."), and past twice this a 414 without a
    /// body, from Kestrel. Elasticsearch bounds the same line (<c>http.max_initial_line_length</c>, 4 KB by default, often raised for long
    /// index lists): keep this at least your cluster's, so that the cluster, not the proxy, judges a long URL.
    /// </summary>
    /// <value>Default 65536 (64 KB).</value>
    [Range(1024, 1024 * 1024)]
    public int MaxInitialLineLength { get; set; } = 64 * 1024;

    /// <summary>
    /// Largest total size of a request's header lines, in bytes; larger: Elasticsearch's 400
    /// <c>too_long_http_header_exception</c> ("HTTP header is larger than N bytes."), and past twice this a 431 without a
    /// body, from Kestrel.
    /// Elasticsearch bounds the same (<c>http.max_header_size</c>, 16 KB by default): keep this at least your cluster's.
    /// </summary>
    /// <value>Default 65536 (64 KB).</value>
    [Range(1024, 1024 * 1024)]
    public int MaxHeaderSize { get; set; } = 64 * 1024;

    /// <summary>On SIGTERM or Ctrl+C: how long requests in flight may take to finish before the proxy stops.</summary>
    /// <value>Default 30 seconds.</value>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Address that sniffing clients are told to use: <c>host:port</c>, the host a DNS name (letters, digits, hyphens),
    /// an IPv4 address or an IPv6 address in brackets, the port 1–65535; default: the Host the client used.
    /// </summary>
    /// <value>Default null.</value>
    public string? PublicAddress { get; set; }

    /// <summary>The most a caller's <c>ext.rank1</c> may ask for, and a rule may be configured with.</summary>
    [ValidateObjectMembers]
    public RerankCaps Caps { get; set; } = new();

    /// <summary>Rerank settings per index pattern; the first pattern that matches a search's index list wins.</summary>
    [ValidateEnumeratedItems]
    public IList<RerankRule> Indices { get; } = [];

    /// <summary>Settings for searches whose indices match no rule.</summary>
    [ValidateObjectMembers]
    public RerankRule Default { get; set; } = new() { Pattern = "*" };

    /// <summary>
    /// The rules that no attribute expresses (the generated <see cref="ProxyOptionsValidator"/> runs this after the
    /// attributes of every section): <see cref="PublicAddress"/> is host:port, no rule is above the operator's caps, and no
    /// rule's pattern, instructions, title field or passage field is blank (<see cref="PrecomputeReasoning.IsBlankQuery"/>).
    /// </summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (PublicAddress is not null && !IsHostAndPort(PublicAddress))
        {
            yield return new ValidationResult($"{SectionName}:{nameof(PublicAddress)} ('{PublicAddress}') must be host:port: a DNS name, an IPv4 address or an [IPv6] address, and a port 1-65535 (localhost:9200, 10.0.0.5:9200, [::1]:9200).");
        }

        var rules = Indices.Select((r, i) => (Rule: r, Key: $"{SectionName}:Indices:{i}")).Append((Rule: Default, Key: $"{SectionName}:Default"));
        foreach (var (rule, key) in rules)
        {
            foreach (var (name, above, value, cap) in new[]
            {
                (nameof(RerankRule.Window), rule.Window > Caps.Window, $"{rule.Window}", $"{Caps.Window}"),
                (nameof(RerankRule.MaxThinkTokens), rule.MaxThinkTokens > Caps.MaxThinkTokens, $"{rule.MaxThinkTokens}", $"{Caps.MaxThinkTokens}"),
                (nameof(RerankRule.Deadline), rule.Deadline > Caps.Deadline, $"{rule.Deadline:c}", $"{Caps.Deadline:c}"),
            })
            {
                if (above)
                {
                    yield return new ValidationResult($"{key}:{name} ({value}) is above the operator's cap {SectionName}:Caps:{name} ({cap}): lower the rule or raise the cap.");
                }
            }

            // A text of only white space, control and invisible format characters says nothing and names no field: refused
            // here as a request's ext.rank1 refuses the same texts (RerankPlan), by the one test of a text that asks nothing.
            // A pattern of only invisible or control characters matches no index (one of white space is refused as
            // required, by its attribute, once).
            var texts = new[]
                {
                    (Name: nameof(RerankRule.Pattern), Text: string.IsNullOrWhiteSpace(rule.Pattern) ? null : rule.Pattern),
                    (Name: nameof(RerankRule.Instructions), Text: rule.Instructions), (Name: nameof(RerankRule.TitleField), Text: rule.TitleField),
                }
                .Concat((rule.Fields ?? []).Select((field, i) => (Name: $"{nameof(RerankRule.Fields)}:{i}", Text: (string?)field)));
            foreach (var (name, text) in texts)
            {
                if (BlankSetting.Refusal($"{key}:{name}", text) is { } refusal)
                {
                    yield return refusal;
                }
            }
        }
    }

    private static bool IsHostAndPort(string value)
    {
        var colon = value.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(value.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            return false;
        }

        var host = value[..colon];
        return host.StartsWith('[') && host.EndsWith(']')
            ? System.Net.IPAddress.TryParse(host[1..^1], out var v6) && v6.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 && !host.Contains('%', StringComparison.Ordinal)
            : host.Length <= 253 && host.Split('.').All(label => label.Length is >= 1 and <= 63 && label[0] != '-' && label[^1] != '-' && label.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'));
    }
}

/// <summary>The generated validator of <see cref="ProxyOptions"/>, its caps and every rule (<c>Rank1:Proxy</c>).</summary>
[OptionsValidator]
public sealed partial class ProxyOptionsValidator : IValidateOptions<ProxyOptions>;

/// <summary>
/// Operator caps (configuration section <c>Rank1:Proxy:Caps</c>): the most a caller's <c>ext.rank1</c> may ask for
/// (more is a 400 naming the field and the range) and a rule may be configured with (more stops the host at start-up
/// naming the rule and the cap).
/// </summary>
public sealed class RerankCaps
{
    // The defaults bound what one anonymous caller can hold: a window of 100 passages, the reference's own reasoning
    // budget (8,192 tokens), and a minute of the engine. An operator who needs more raises them, up to the hard limits.

    /// <summary>Largest <c>window</c>.</summary>
    /// <value>Default 100.</value>
    [Range(1, 1000)]
    public int Window { get; set; } = 100;

    /// <summary>Largest <c>max_think_tokens</c>.</summary>
    /// <value>Default 8192 (the reference implementation's budget).</value>
    [Range(0, Rank1EngineOptions.MaxThinkTokensLimit)]
    public int MaxThinkTokens { get; set; } = 8_192;

    /// <summary>Longest deadline (a caller's <c>deadline_ms</c>, a rule's <see cref="RerankRule.Deadline"/>).</summary>
    /// <value>Default 1 minute.</value>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:10:00")]
    public TimeSpan Deadline { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary>Which searches are reranked, and how (per index pattern). A request may override each via <c>ext.rank1</c>.</summary>
public sealed class RerankRule
{
    /// <summary>Index pattern (<c>*</c> wildcards, comma lists as the search names them).</summary>
    /// <value>Default "*".</value>
    [Required(AllowEmptyStrings = false)]
    public string Pattern { get; set; } = "*";

    /// <summary>Rerank searches on these indices unless the request says otherwise.</summary>
    /// <value>Default true.</value>
    public bool Enabled { get; set; } = true;

    /// <summary>Source fields joined (one space) into the passage text.</summary>
    /// <value>Default null, meaning ["text"]. (Null rather than a list default: the configuration binder appends to lists.)</value>
    [MinLength(1)]
    public string[]? Fields { get; set; }

    /// <summary>The passage fields in force.</summary>
    public IReadOnlyList<string> EffectiveFields => Fields is { Length: > 0 } f ? f : ["text"];

    /// <summary>Optional source field used as the passage title (Rank1 joins "title text").</summary>
    /// <value>Default null.</value>
    public string? TitleField { get; set; }

    /// <summary>Top hits that Rank1 reranks.</summary>
    /// <value>Default 10.</value>
    [Range(1, 1000)]
    public int Window { get; set; } = 10;

    /// <summary>Reasoning budget per passage, in tokens.</summary>
    /// <value>Default 256.</value>
    [Range(0, Rank1EngineOptions.MaxThinkTokensLimit)]
    public int MaxThinkTokens { get; set; } = 256;

    /// <summary>Most query tokens (query and instructions) the model sees; longer text is cut and the hits marked <c>_rank1.truncated</c>. At most <c>Rank1:Model:MaxQueryTokens</c> (checked at start-up).</summary>
    /// <value>Default null: <c>Rank1:Model:MaxQueryTokens</c>.</value>
    [Range(1, 131_072)]
    public int? MaxQueryTokens { get; set; }

    /// <summary>Most tokens of each passage (title and text) the model sees; longer passages are cut and marked <c>_rank1.truncated</c>. At most <c>Rank1:Model:MaxPassageTokens</c> (checked at start-up).</summary>
    /// <value>Default null: <c>Rank1:Model:MaxPassageTokens</c>.</value>
    [Range(1, 131_072)]
    public int? MaxPassageTokens { get; set; }

    /// <summary>Time the whole rerank of one search may take (a request's <c>ext.rank1.deadline_ms</c> replaces it); then unfinished passages are scored as they stand.</summary>
    /// <value>Default 10 seconds.</value>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:10:00")]
    public TimeSpan Deadline { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Instructions appended to every query on these indices (a request's own replace them).</summary>
    /// <value>Default null.</value>
    public string? Instructions { get; set; }

    /// <summary>
    /// A dataset prompt wrapping every query on these indices, as the reference's BEIR/BRIGHT prompts: text containing
    /// <c>FILL_QUERY_HERE</c>, which is replaced by the query (and instructions). A request's own replaces it.
    /// </summary>
    /// <value>Default null: the query as is.</value>
    [RegularExpression("(?s).*FILL_QUERY_HERE.*", ErrorMessage = "{0} must contain FILL_QUERY_HERE, where the query goes")]
    public string? PromptTemplate { get; set; }

    /// <summary>Put the reasoning into each hit's <c>fields._rank1.reasoning</c>.</summary>
    /// <value>Default true.</value>
    public bool IncludeReasoning { get; set; } = true;
}
