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
    /// <summary>Each field of the shipped mapping with its type, read once.</summary>
    private static readonly (string Key, string Want)[] ExpectedTypes = System.Text.Json.Nodes.JsonNode.Parse(Resource("reasoning-index.mapping.json"))!["mappings"]!["properties"]!
        .AsObject().Select(field => (field.Key, field.Value!["type"]!.GetValue<string>())).ToArray();

    /// <summary>Creates the reasoning index with its mapping when it does not exist (idempotent); installs the index template where the backend has templates.</summary>
    public static async Task<string> EnsureAsync(BackendClient backend, string index, IEnumerable<KeyValuePair<string, string[]>> headers, CancellationToken cancellationToken)
    {
        var h = headers.ToList();
        var report = new StringBuilder();
        var template = backend.Flavor == BackendFlavor.OpenSearch ? "reasoning-index.opensearch.template.json" : "reasoning-index.elasticsearch.template.json";
        var t = await backend.SendAsync(HttpMethod.Put, "_index_template/rank1-reasoning", Resource(template), h, cancellationToken).ConfigureAwait(false);
        report.Append(t.Status is 200 or 201 ? "index template rank1-reasoning installed; " : $"index template not supported by this backend (HTTP {t.Status}); ");
        if (await IsReadyAsync(backend, index, h, cancellationToken).ConfigureAwait(false))
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

    /// <summary>
    /// Whether the reasoning index is there (false: missing, for <see cref="EnsureAsync"/> to create it), in one
    /// <c>GET /{index}/_mapping</c>; throws when an index of that name is there but is not a reasoning index (every
    /// field of the shipped mapping with its type: a corpus named by mistake, or one the store's own writes made with
    /// dynamic mappings, is refused, naming the fields, rather than written into or read from). The
    /// writer asks this before every batch, in place of an existence check of the same cost, so an index deleted and
    /// made again with another mapping while the host runs is refused as well, not only one that was there at start.
    /// </summary>
    public static async Task<bool> IsReadyAsync(BackendClient backend, string index, IEnumerable<KeyValuePair<string, string[]>> headers, CancellationToken cancellationToken)
    {
        var answer = await backend.SendAsync(HttpMethod.Get, $"{index}/_mapping", null, headers, cancellationToken).ConfigureAwait(false);
        if (answer.Status == 404)
        {
            return false;
        }

        if (answer.Status != 200)
        {
            throw new EsException(answer.Status, "rank1_store_init_exception", $"could not read the mapping of the reasoning index {index}: HTTP {answer.Status} {Encoding.UTF8.GetString(answer.Body)}");
        }

        // One entry per concrete index (an alias names its index); the first is the one written to.
        var actual = (System.Text.Json.Nodes.JsonNode.Parse(answer.Body) as System.Text.Json.Nodes.JsonObject)?.FirstOrDefault().Value?["mappings"]?["properties"];
        var wrong = ExpectedTypes
            .Select(field => (field.Key, field.Want, Got: actual?[field.Key]?["type"]?.GetValue<string>()))
            .Where(f => f.Want != f.Got)
            .Select(f => f.Got is null ? $"[{f.Key}] is missing" : $"[{f.Key}] is {f.Got}, not {f.Want}")
            .ToArray();
        if (wrong.Length > 0)
        {
            throw new EsException(409, "rank1_store_init_exception",
                $"index {index} exists but is not a reasoning index: {string.Join(", ", wrong)}; delete it (it is re-created with the reasoning mapping) or name another index (Rank1:Store:Index, --index)");
        }

        return true;
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
