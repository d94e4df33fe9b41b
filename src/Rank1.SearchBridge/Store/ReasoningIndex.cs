using System.Globalization;
using System.Reflection;
using System.Text;
using Rank1.Elastic;

namespace Rank1.SearchBridge.Store;

/// <summary>
/// The reasoning index's set-up on the backend: the index template (where the backend has templates) and the index with
/// its mapping, both shipped inside the library (mappings/*.json as embedded resources).
/// </summary>
internal static class ReasoningIndex
{
    /// <summary>Creates the reasoning index with its mapping when it does not exist (idempotent); installs the index template where the backend has templates.</summary>
    public static async Task<string> EnsureAsync(BackendClient backend, string index, IEnumerable<KeyValuePair<string, string[]>> headers, CancellationToken cancellationToken)
    {
        var h = headers.ToList();
        var report = new StringBuilder();
        var template = backend.Flavor == BackendFlavor.OpenSearch ? "reasoning-index.opensearch.template.json" : "reasoning-index.elasticsearch.template.json";
        var t = await backend.SendAsync(HttpMethod.Put, "_index_template/rank1-reasoning", Resource(template), h, cancellationToken).ConfigureAwait(false);
        report.Append(t.Status is 200 or 201 ? "index template rank1-reasoning installed; " : $"index template not supported by this backend (HTTP {t.Status}); ");
        var exists = await backend.SendAsync(HttpMethod.Head, index, null, h, cancellationToken).ConfigureAwait(false);
        if (exists.Status == 200)
        {
            return report.Append(CultureInfo.InvariantCulture, $"index {index} already exists").ToString();
        }

        var create = await backend.SendAsync(HttpMethod.Put, index, Resource("reasoning-index.mapping.json"), h, cancellationToken).ConfigureAwait(false);
        if (create.Status is 200 or 201 || Encoding.UTF8.GetString(create.Body).Contains("resource_already_exists_exception", StringComparison.Ordinal))
        {
            return report.Append(CultureInfo.InvariantCulture, $"index {index} created").ToString();
        }

        throw new EsException(create.Status, "rank1_store_init_exception", $"could not create the reasoning index {index}: HTTP {create.Status} {Encoding.UTF8.GetString(create.Body)}");
    }

    internal static byte[] Resource(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("Rank1.Mappings." + name)
            ?? throw new InvalidOperationException($"embedded mapping {name} is missing from the build");
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return buffer.ToArray();
    }
}
