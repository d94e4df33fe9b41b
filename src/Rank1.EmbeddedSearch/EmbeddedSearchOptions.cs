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
}
