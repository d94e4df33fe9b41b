using System.Reflection;
using System.Runtime.CompilerServices;

namespace Rank1.Elastic.Tests;

/// <summary>
/// Rank1.Elastic is internal plumbing of the product libraries: public is only what a host needs (the CLI's
/// <c>init</c>/<c>seed</c> through <c>ClusterClient</c>, and the configuration); its internals are open to the product
/// libraries that speak Elasticsearch's HTTP API and to tests, never to a host (docs/architecture.md).
/// </summary>
public sealed class PublicSurfaceTests
{
    private static readonly Assembly Elastic = typeof(EsException).Assembly;

    [Fact]
    public void PublicTypes_AreOnlyWhatTheHostsNeed()
    {
        Assert.Equal(
            [nameof(BackendFlavor), nameof(BackendOptions), nameof(ClusterRequest), nameof(EsException)],
            Elastic.GetExportedTypes().Select(t => t.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Internals_AreOpenToTheProductLibrariesAndTests_NeverToAHost()
    {
        var friends = Elastic.GetCustomAttributes<InternalsVisibleToAttribute>().Select(a => a.AssemblyName).ToArray();
        Assert.Contains("Rank1.SearchBridge", friends);
        Assert.Contains("Rank1.EmbeddedSearch", friends);
        Assert.All(friends, f => Assert.True(
            f is "Rank1.SearchBridge" or "Rank1.SearchBridge.Http" or "Rank1.EmbeddedSearch" || f.EndsWith("Tests", StringComparison.Ordinal),
            $"InternalsVisibleTo {f}: not a product library or a test project"));
    }
}
