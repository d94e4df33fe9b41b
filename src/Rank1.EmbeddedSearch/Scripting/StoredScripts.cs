using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Rank1.Elastic;

namespace Rank1.EmbeddedSearch.Scripting;

/// <summary>A stored script: its language, its source, and the options Elasticsearch keeps with it.</summary>
/// <param name="Lang">The script language (<c>mustache</c>).</param>
/// <param name="Source">The source; a template sent as a JSON object is kept as its JSON text.</param>
/// <param name="ContentType">The <c>content_type</c> option Elasticsearch records for a template sent as an object, or null.</param>
internal sealed record StoredScript(string Lang, string Source, string? ContentType);

/// <summary>
/// The stored scripts (Elasticsearch keeps them in the cluster state): held in memory for the server's life. Only
/// Mustache templates are taken, the one language this backend runs.
/// </summary>
internal sealed class StoredScripts
{
    private readonly ConcurrentDictionary<string, StoredScript> _scripts = new(StringComparer.Ordinal);

    /// <summary>
    /// <c>PUT /_scripts/{id}</c>'s body as <c>StoredScriptSource.parse</c> reads it: <c>{"script":{"lang":..,"source":..}}</c>,
    /// a template's source a string or an object (kept as its JSON text, with the JSON content type).
    /// </summary>
    /// <param name="id">The script's id.</param>
    /// <param name="body">The request's body.</param>
    /// <param name="parsed">
    /// Run once the body is read, before the id is checked and the template compiled: where the URL's parameters are
    /// checked, as <c>RestPutStoredScriptAction.prepareRequest</c> parses the body and <c>PutStoredScriptRequest.validate</c>
    /// (the id) and the compilation run after <c>BaseRestHandler</c>'s check.
    /// </param>
    public void Put(string id, JsonObject? body, Action? parsed = null)
    {
        if (body?["script"] is not JsonObject script)
        {
            throw EsException.Parsing("unexpected stored script format");
        }

        var lang = script["lang"] is JsonValue l && l.GetValueKind() == System.Text.Json.JsonValueKind.String ? l.GetValue<string>() : null;
        if (string.IsNullOrEmpty(lang))
        {
            throw EsException.IllegalArgument("must specify lang for stored script");
        }

        if (lang != "mustache")
        {
            throw EsException.IllegalArgument($"script_lang not supported [{lang}]: the Rank1 embedded search backend runs mustache templates only");
        }

        var source = script["source"] ?? script["template"] ?? script["code"];
        var (text, contentType) = source switch
        {
            JsonObject or JsonArray => (source.ToJsonString(), "application/json; charset=UTF-8"),
            JsonValue v when v.GetValueKind() == System.Text.Json.JsonValueKind.String => (v.GetValue<string>(), (string?)null),
            _ => throw EsException.IllegalArgument("must specify source for stored script"),
        };
        if (text.Length == 0)
        {
            throw EsException.IllegalArgument("source cannot be empty");
        }

        parsed?.Invoke();
        if (id.Contains('#', StringComparison.Ordinal))
        {
            throw EsException.IllegalArgument($"stored script id [{id}] cannot contain '#'");
        }

        MustacheTemplate.Compile(text, id); // refused at PUT, as Elasticsearch compiles a stored script before it keeps it
        _scripts[id] = new StoredScript(lang, text, contentType);
    }

    /// <summary>The script stored as <paramref name="id"/>, or null.</summary>
    public StoredScript? Get(string id) => _scripts.TryGetValue(id, out var script) ? script : null;

    /// <summary>Deletes <paramref name="id"/>; false when there was none.</summary>
    public bool Delete(string id) => _scripts.TryRemove(id, out _);

    /// <summary>A stored template's source, or ScriptService's 404 when none is stored as <paramref name="id"/>.</summary>
    public string Source(string id) => Get(id)?.Source
        ?? throw new EsException(404, "resource_not_found_exception", $"unable to find script [{id}] in cluster state");
}
