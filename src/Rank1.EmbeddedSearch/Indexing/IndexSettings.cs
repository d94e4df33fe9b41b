using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Rank1.Elastic;

namespace Rank1.EmbeddedSearch.Indexing;

/// <summary>
/// The index settings of a request (<c>PUT /{index}</c>'s <c>settings</c>, <c>PUT /{index}/_settings</c>'s body) as
/// Elasticsearch reads them: flattened to dotted keys (<c>Settings.fromXContent</c>: <c>{"index":{"hidden":true}}</c>,
/// <c>{"index.hidden":true}</c>), each value as its text, a key without the <c>index.</c> prefix given it
/// (<c>normalizePrefix</c>: <c>{"max_result_window":500}</c>), and the keys in order (<c>Settings</c> keeps them in a
/// sorted map, so its validation meets them in that order). This backend applies <c>index.hidden</c> and
/// <c>index.max_result_window</c>; <see cref="HasOthers"/> tells whether any other was given. Validation is
/// <c>AbstractScopedSettings.validate</c>'s for the settings this backend knows: a key (<see cref="ValidateKeys"/>), then
/// a value (<see cref="ValidateValues"/>); index creation does both per key (<see cref="ValidateForCreation"/>).
/// </summary>
internal sealed class IndexSettings
{
    /// <summary><c>IndexSettings.MAX_RESULT_WINDOW_SETTING</c>'s key.</summary>
    public const string MaxResultWindowKey = "index.max_result_window";

    /// <summary><c>IndexSettings.MAX_RESULT_WINDOW_SETTING</c>'s default.</summary>
    public const int DefaultMaxResultWindow = 10_000;

    /// <summary><c>IndexMetadata.INDEX_HIDDEN_SETTING</c>'s key.</summary>
    public const string HiddenKey = "index.hidden";

    private const string NumberOfShardsKey = "index.number_of_shards";

    // IndexMetadata.buildNumberOfShardsSetting: es.index.max_number_of_shards, 1024 unless a system property says otherwise.
    private const int MaxNumberOfShards = 1024;

    // IndexMetadata.SETTING_INDEX_VERSION_CREATED: registered with Property.PrivateIndex.
    private const string VersionCreatedKey = "index.version.created";

    private readonly SortedDictionary<string, string?> _values;

    private IndexSettings(SortedDictionary<string, string?> values) => _values = values;

    /// <summary>Whether any setting was given once flattened (<c>{"index":{}}</c> gives none).</summary>
    public bool GivesAny => _values.Count > 0;

    /// <summary>Whether <c>index.hidden</c> was given (a null resets it: not set).</summary>
    public bool SetsHidden => _values.ContainsKey(HiddenKey);

    /// <summary><c>index.hidden</c> as given, read once validated (<see cref="ValidateValues"/>); null when not given or given null.</summary>
    public bool? Hidden => _values.GetValueOrDefault(HiddenKey) is { } hidden ? RequestJson.ParseBoolean(hidden) : null;

    /// <summary>Whether <c>index.max_result_window</c> was given (a null resets it to its default).</summary>
    public bool SetsMaxResultWindow => _values.ContainsKey(MaxResultWindowKey);

    /// <summary><c>index.max_result_window</c> as given, read once validated; null when not given or given null.</summary>
    public int? MaxResultWindow => _values.GetValueOrDefault(MaxResultWindowKey) is { } window ? ParseInt(MaxResultWindowKey, window, 1, int.MaxValue) : null;

    /// <summary>
    /// The settings given that this backend knows as not dynamic (<c>index.number_of_shards</c>: one shard here), which a
    /// settings update refuses on an open index as <c>MetadataUpdateSettingsService</c> does.
    /// </summary>
    public IReadOnlyList<string> NonDynamic => _values.Keys.Where(k => k == NumberOfShardsKey).ToArray();

    /// <summary>Whether a setting other than those this backend applies was given.</summary>
    public bool HasOthers => _values.Keys.Any(k => k is not (HiddenKey or MaxResultWindowKey));

    /// <summary>Reads <paramref name="settings"/> (flattened, nothing validated yet).</summary>
    /// <param name="settings">The settings object, or null.</param>
    public static IndexSettings Read(JsonObject? settings)
    {
        var values = new SortedDictionary<string, string?>(StringComparer.Ordinal);
        if (settings is not null)
        {
            Flatten(settings, "", values);
        }

        return new IndexSettings(values);
    }

    /// <summary>
    /// Index creation's validation (<c>MetadataCreateIndexService.normalizeRequestSetting</c>:
    /// <c>IndexScopedSettings.validate(settings, true)</c>): key by key in order, the key (<see cref="ValidateKeys"/>, with
    /// private settings let through to <see cref="ThrowIfPrivate"/>) then its value (<see cref="ValidateValues"/>); the
    /// first key's error is the one thrown (<c>ExceptionsHelper.rethrowAndSuppress</c>).
    /// </summary>
    public void ValidateForCreation()
    {
        foreach (var (key, value) in _values)
        {
            ValidateKey(key, update: false, SearchFlavor.Elasticsearch);
            ValidateValue(key, value);
        }
    }

    /// <summary>
    /// A settings update's first validation (<c>MetadataUpdateSettingsService</c>: <c>IndexScopedSettings.validate</c> with
    /// values left for later and private settings refused), key by key in order. <c>index.uuid</c>,
    /// <c>index.creation_date</c> and <c>index.provided_name</c> are no registered setting (Elasticsearch sets them itself,
    /// <c>IndexScopedSettings.isPrivateSetting</c>): the 400 <c>illegal_argument_exception</c> "unknown setting
    /// [index.uuid] please check that any required plugins are installed, or check the breaking changes documentation for
    /// removed settings" (no registered key is near enough to be suggested); <c>index.version.created</c> is a registered
    /// private one: "can not update private setting [index.version.created]; this setting is managed by Elasticsearch"
    /// (OpenSearch's AbstractScopedSettings says "managed by OpenSearch").
    /// </summary>
    /// <param name="flavor">The engine the server stands in for, whose name the private setting's refusal gives.</param>
    public void ValidateKeys(SearchFlavor flavor = SearchFlavor.Elasticsearch)
    {
        foreach (var key in _values.Keys)
        {
            ValidateKey(key, update: true, flavor);
        }
    }

    /// <summary>
    /// The values of the settings this backend knows, in key order, as their <c>Setting</c>s parse them:
    /// <c>index.hidden</c> as <c>Booleans.parseBoolean</c> (the 400 <c>illegal_argument_exception</c> "Failed to parse
    /// value [yes] as only [true] or [false] are allowed."), <c>index.max_result_window</c> as
    /// <c>Setting.intSetting(key, 10000, 1)</c> and <c>index.number_of_shards</c> as <c>intSetting(key, 1, 1, 1024)</c>:
    /// <c>Integer.parseInt</c>, whose <c>NumberFormatException</c> <c>Setting.get</c> turns into the 400
    /// <c>illegal_argument_exception</c> "Failed to parse value [abc] for setting [index.max_result_window]" caused by it,
    /// and a value out of bounds "Failed to parse value [0] for setting [index.max_result_window] must be &gt;= 1". A null
    /// (a reset) is not parsed.
    /// </summary>
    public void ValidateValues()
    {
        foreach (var (key, value) in _values)
        {
            ValidateValue(key, value);
        }
    }

    /// <summary>
    /// Index creation's refusal of a private setting, once the name is checked
    /// (<c>MetadataCreateIndexService.validateIndexSettings</c>, <c>validatePrivateSettingsNotExplicitlySet</c>): the
    /// <c>IndexCreationException</c> renders as its cause, the 400 <c>validation_exception</c> "Validation Failed: 1:
    /// private index setting [index.version.created] can not be set explicitly;".
    /// </summary>
    public void ThrowIfPrivate()
    {
        var errors = _values.Keys.Where(k => k == VersionCreatedKey).Select((k, i) => $"{i + 1}: private index setting [{k}] can not be set explicitly;").ToArray();
        if (errors.Length > 0)
        {
            throw EsException.Foreign(400, "validation_exception", "Validation Failed: " + string.Concat(errors));
        }
    }

    private static void ValidateKey(string key, bool update, SearchFlavor flavor)
    {
        if (key is "index.uuid" or "index.creation_date" or "index.provided_name")
        {
            throw EsException.IllegalArgument($"unknown setting [{key}] please check that any required plugins are installed, or check the breaking changes documentation for removed settings");
        }

        if (update && key == VersionCreatedKey)
        {
            throw EsException.IllegalArgument($"can not update private setting [{key}]; this setting is managed by {(flavor == SearchFlavor.OpenSearch ? "OpenSearch" : "Elasticsearch")}");
        }
    }

    private static void ValidateValue(string key, string? value)
    {
        if (value is null)
        {
            return;
        }

        _ = key switch
        {
            HiddenKey => RequestJson.ParseBoolean(value) ? 1 : 0,
            MaxResultWindowKey => ParseInt(key, value, 1, int.MaxValue),
            NumberOfShardsKey => ParseInt(key, value, 1, MaxNumberOfShards),
            VersionCreatedKey => ParseInt(key, value, int.MinValue, int.MaxValue), // Setting.versionIdSetting: Integer.parseInt
            _ => 0,
        };
    }

    private static void Flatten(JsonObject node, string prefix, SortedDictionary<string, string?> into)
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

    // Setting.parseInt(s, minValue, maxValue, key): Integer.parseInt (an optional sign and ASCII digits within an int's
    // range, nothing else), then the bounds.
    private static int ParseInt(string key, string text, int min, int max)
    {
        if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
        {
            throw EsException.Foreign(400, "illegal_argument_exception", $"Failed to parse value [{text}] for setting [{key}]",
                EsException.Foreign(400, "number_format_exception", $"For input string: \"{text}\""));
        }

        return value < min ? throw EsException.IllegalArgument($"Failed to parse value [{text}] for setting [{key}] must be >= {min}")
            : value > max ? throw EsException.IllegalArgument($"Failed to parse value [{text}] for setting [{key}] must be <= {max}")
            : value;
    }
}
