using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Rank1.Elastic;

namespace Rank1.EmbeddedSearch.Indexing;

/// <summary>
/// The index settings of a request (<c>PUT /{index}</c>'s <c>settings</c>, <c>PUT /{index}/_settings</c>'s body) as
/// Elasticsearch reads them: flattened to dotted keys (<c>Settings.fromXContent</c>: <c>{"index":{"hidden":true}}</c>,
/// <c>{"index.hidden":true}</c>), each value as its text, and a key without the <c>index.</c> prefix given it
/// (<c>normalizePrefix</c>: <c>{"max_result_window":500}</c>). This backend applies <c>index.hidden</c> and
/// <c>index.max_result_window</c>; <see cref="HasOthers"/> tells whether any other was given.
/// </summary>
internal sealed class IndexSettings
{
    /// <summary><c>IndexSettings.MAX_RESULT_WINDOW_SETTING</c>'s key.</summary>
    public const string MaxResultWindowKey = "index.max_result_window";

    /// <summary><c>IndexSettings.MAX_RESULT_WINDOW_SETTING</c>'s default.</summary>
    public const int DefaultMaxResultWindow = 10_000;

    private const string HiddenKey = "index.hidden";

    private readonly Dictionary<string, string?> _values;

    private IndexSettings(Dictionary<string, string?> values) => _values = values;

    /// <summary>Whether <c>index.hidden</c> was given, and true: <c>"true"</c>, as this backend has read it.</summary>
    public bool? Hidden => _values.TryGetValue(HiddenKey, out var v) ? v == "true" : null;

    /// <summary>Whether <c>index.max_result_window</c> was given (a null resets it to its default).</summary>
    public bool SetsMaxResultWindow => _values.ContainsKey(MaxResultWindowKey);

    /// <summary><c>index.max_result_window</c>, validated when read; null when not given or given null.</summary>
    public int? MaxResultWindow { get; private init; }

    /// <summary>
    /// The settings given that this backend knows as not dynamic (<c>index.number_of_shards</c>: one shard here), which a
    /// settings update refuses on an open index as <c>MetadataUpdateSettingsService</c> does.
    /// </summary>
    public IReadOnlyList<string> NonDynamic => _values.Keys.Where(k => k == NumberOfShardsKey).ToArray();

    private const string NumberOfShardsKey = "index.number_of_shards";

    /// <summary>Whether a setting other than those this backend applies was given.</summary>
    public bool HasOthers => _values.Keys.Any(k => k is not (HiddenKey or MaxResultWindowKey));

    /// <summary>Whether <paramref name="settings"/> gives any setting once flattened (<c>{"index":{}}</c> gives none).</summary>
    /// <param name="settings">The settings object, or null.</param>
    public static bool AnyGiven(JsonObject? settings)
    {
        var values = new Dictionary<string, string?>(StringComparer.Ordinal);
        if (settings is not null)
        {
            Flatten(settings, "", values);
        }

        return values.Count > 0;
    }

    /// <summary>
    /// Reads <paramref name="settings"/>, validating <c>index.max_result_window</c> as
    /// <c>Setting.intSetting(key, 10000, 1)</c> parses it when <c>IndexScopedSettings.validate</c> runs (index creation
    /// and settings update alike): <c>Integer.parseInt</c>, whose <c>NumberFormatException</c> <c>Setting.get</c> turns into
    /// the 400 <c>illegal_argument_exception</c> "Failed to parse value [abc] for setting [index.max_result_window]"
    /// caused by it, and a value under 1 "Failed to parse value [0] for setting [index.max_result_window] must be &gt;= 1".
    /// </summary>
    /// <param name="settings">The settings object, or null.</param>
    public static IndexSettings Read(JsonObject? settings)
    {
        var values = new Dictionary<string, string?>(StringComparer.Ordinal);
        if (settings is not null)
        {
            Flatten(settings, "", values);
        }

        return new IndexSettings(values)
        {
            MaxResultWindow = values.TryGetValue(MaxResultWindowKey, out var window) && window is not null ? ParseMaxResultWindow(window) : null,
        };
    }

    private static void Flatten(JsonObject node, string prefix, Dictionary<string, string?> into)
    {
        foreach (var (key, value) in node)
        {
            var path = prefix + key;
            if (value is JsonObject inner)
            {
                Flatten(inner, path + ".", into);
                continue;
            }

            // Settings.Builder.normalizePrefix("index."): a key without it is an index setting all the same.
            var name = path.StartsWith("index.", StringComparison.Ordinal) ? path : "index." + path;
            into[name] = value switch
            {
                null => null,
                JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
                _ => value.ToJsonString(), // a number as written (Jackson's text), true, false; an array as its JSON
            };
        }
    }

    private static int ParseMaxResultWindow(string text)
    {
        // Integer.parseInt: an optional sign and ASCII digits within an int's range, nothing else.
        if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
        {
            throw EsException.Foreign(400, "illegal_argument_exception", $"Failed to parse value [{text}] for setting [{MaxResultWindowKey}]",
                EsException.Foreign(400, "number_format_exception", $"For input string: \"{text}\""));
        }

        return value >= 1 ? value : throw EsException.IllegalArgument($"Failed to parse value [{text}] for setting [{MaxResultWindowKey}] must be >= 1");
    }
}
