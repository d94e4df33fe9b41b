using System.ComponentModel.DataAnnotations;

namespace Rank1.EmbeddedSearch;

/// <summary>Which product the embedded backend presents itself as on <c>GET /</c>.</summary>
public enum SearchFlavor
{
    /// <summary>Elasticsearch 9: <c>X-Elastic-Product: Elasticsearch</c> on every response.</summary>
    Elasticsearch,

    /// <summary>OpenSearch 2.x: <c>version.distribution: opensearch</c>, no Elastic product header.</summary>
    OpenSearch,
}

/// <summary>Settings of the embedded search backend (<c>rank1-bridge search-server</c>, the demo, the tests).</summary>
public sealed class EmbeddedSearchOptions
{
    /// <summary>Address to listen on.</summary>
    /// <value>Default 127.0.0.1 (loopback only: this is a demo and test backend, not a production server).</value>
    [Required]
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>Port; 0 picks a free one.</summary>
    /// <value>Default 9200.</value>
    [Range(0, 65535)]
    public int Port { get; set; } = 9200;

    /// <summary>Folder that holds the indices across restarts; null keeps everything in memory.</summary>
    /// <value>Default null (in memory).</value>
    public string? DataPath { get; set; }

    /// <summary>The product to present as.</summary>
    /// <value>Default <see cref="SearchFlavor.Elasticsearch"/>.</value>
    public SearchFlavor Flavor { get; set; } = SearchFlavor.Elasticsearch;

    /// <summary>Cluster name reported by <c>GET /</c>.</summary>
    /// <value>Default "rank1-embedded".</value>
    [Required]
    public string ClusterName { get; set; } = "rank1-embedded";

    /// <summary>How often writes become visible to search without an explicit refresh.</summary>
    /// <value>Default 1 second, as Elasticsearch's <c>refresh_interval</c>.</value>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Longest request line, in bytes: method, target and version, as Elasticsearch's <c>http.max_initial_line_length</c>;
    /// longer: 400 <c>too_long_http_line_exception</c>, as Elasticsearch answers it.
    /// </summary>
    /// <value>Default 4096, Elasticsearch's default.</value>
    [Range(256, MaxHttpLimit)]
    public int MaxInitialLineLength { get; set; } = 4096;

    /// <summary>
    /// Largest total size of the header lines, in bytes (<c>Name: value</c> each), as Elasticsearch's
    /// <c>http.max_header_size</c>; larger: 400 <c>too_long_http_header_exception</c>.
    /// </summary>
    /// <value>Default 16384, Elasticsearch's default.</value>
    [Range(256, MaxHttpLimit)]
    public int MaxHeaderSize { get; set; } = 16 * 1024;

    /// <summary>The most <see cref="MaxInitialLineLength"/> and <see cref="MaxHeaderSize"/> may be (1 MB).</summary>
    public const int MaxHttpLimit = 1024 * 1024;
}
