using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Rank1.Elastic;

namespace Rank1.EmbeddedSearch.Indexing;

/// <summary>
/// All indices of the embedded backend: creation (explicit, or automatic on the first write as Elasticsearch's
/// <c>action.auto_create_index</c> does), deletion, name rules, wildcard resolution and, with a data folder,
/// persistence across restarts.
/// </summary>
internal sealed partial class IndexCatalog : IDisposable
{
    private readonly ConcurrentDictionary<string, SearchIndex> _indices = new(StringComparer.Ordinal);
    private readonly Lock _createLock = new();
    private readonly string? _dataPath;
    private readonly TimeProvider _time;
    private readonly SearchFlavor _flavor;

    public IndexCatalog(string? dataPath, TimeProvider time, SearchFlavor flavor = SearchFlavor.Elasticsearch)
    {
        _dataPath = dataPath is null ? null : Path.GetFullPath(dataPath);
        _time = time;
        _flavor = flavor;
        if (_dataPath is null)
        {
            return;
        }

        Directory.CreateDirectory(IndicesFolder);
        foreach (var folder in Directory.GetDirectories(IndicesFolder))
        {
            var name = Path.GetFileName(folder);
            var mappingFile = Path.Combine(folder, "mapping.json");
            if (!File.Exists(mappingFile))
            {
                continue;
            }

            var saved = JsonNode.Parse(File.ReadAllText(mappingFile))!.AsObject();
            var created = DateTimeOffset.FromUnixTimeMilliseconds(saved["created"]?.GetValue<long>() ?? 0);
            // A file written before the uuid was kept has none: the index gets one now, kept from here on. A file without a
            // format (SearchIndex.MappingFileFormat) wrote "hidden": false for an index that never set index.hidden, so there
            // only true counts as set. Either is migrated: written again, once, in this format; a current file is not touched.
            var uuid = saved["uuid"]?.GetValue<string>();
            var hidden = saved["hidden"]?.GetValue<bool>();
            var format = saved["format"]?.GetValue<int>() ?? 0;
            var migrate = uuid is null || format < SearchIndex.MappingFileFormat;
            _indices[name] = SearchIndex.OpenOnDisk(name, uuid ?? SearchIndex.NewUuid(), IndexMapping.Parse(saved["mappings"]), folder, created,
                format == 0 && hidden == false ? null : hidden, saved["max_result_window"]?.GetValue<int>(), writeMappingFile: migrate);
        }
    }

    private string IndicesFolder => Path.Combine(_dataPath!, "indices");

    public IReadOnlyCollection<SearchIndex> All => _indices.Values.OrderBy(i => i.Name, StringComparer.Ordinal).ToArray();

    public SearchIndex? Find(string name) => _indices.GetValueOrDefault(name);

    public SearchIndex Get(string name) => Find(name) ?? throw EsException.IndexNotFound(name);

    /// <summary>
    /// Creates an index with <paramref name="mappings"/> and, of <paramref name="settings"/> (read and validated,
    /// <see cref="IndexSettings.ValidateForCreation"/>), those this backend applies: <c>index.hidden</c> and
    /// <c>index.max_result_window</c>. A private setting among them is refused once the name is checked.
    /// </summary>
    /// <param name="name">The index's name, validated.</param>
    /// <param name="mappings">The mappings, or null.</param>
    /// <param name="settings">The settings, or null.</param>
    public SearchIndex Create(string name, JsonNode? mappings, IndexSettings? settings = null)
    {
        ValidateName(name);
        lock (_createLock)
        {
            if (_indices.ContainsKey(name))
            {
                throw new EsException(400, "resource_already_exists_exception", $"index [{name}/{_indices[name].Uuid}] already exists",
                    new Dictionary<string, string> { ["index"] = name, ["index_uuid"] = _indices[name].Uuid });
            }

            // MetadataCreateIndexService.validate: validateIndexName (above), then validateIndexSettings.
            settings?.ThrowIfPrivate();
            var mapping = IndexMapping.Parse(mappings);
            var hidden = settings?.Hidden;
            var index = _dataPath is null
                ? SearchIndex.CreateInMemory(name, SearchIndex.NewUuid(), mapping, _time.GetUtcNow(), hidden, settings?.MaxResultWindow)
                : SearchIndex.OpenOnDisk(name, SearchIndex.NewUuid(), mapping, Path.Combine(IndicesFolder, name), _time.GetUtcNow(), hidden, settings?.MaxResultWindow,
                    writeMappingFile: true);

            _indices[name] = index;
            return index;
        }
    }

    /// <summary>The index, created with dynamic mapping when it does not exist (writes auto-create, as in Elasticsearch).</summary>
    public SearchIndex GetOrCreate(string name)
    {
        if (Find(name) is { } existing)
        {
            return existing;
        }

        lock (_createLock)
        {
            return Find(name) ?? Create(name, null);
        }
    }

    public void Delete(IEnumerable<SearchIndex> indices)
    {
        foreach (var index in indices)
        {
            if (_indices.TryRemove(index.Name, out var removed))
            {
                removed.Dispose();
                removed.DeleteFiles();
            }
        }
    }

    /// <summary>
    /// Resolves an index expression: comma-separated names, <c>*</c> wildcards, <c>_all</c>, and <c>-name</c>
    /// exclusions. A concrete name that does not exist is a 404 unless <paramref name="ignoreUnavailable"/>.
    /// Wildcards and <c>_all</c> skip hidden indices unless <paramref name="expandHidden"/>, except that a pattern
    /// starting with a dot matches hidden indices whose names start with a dot, as in Elasticsearch. Without
    /// <paramref name="allowNoIndices"/> (<c>IndexNameExpressionResolver</c>'s <c>allowNoIndices() == false</c>) a
    /// wildcard that matches no index is its 404 "no such index [x*]", and an expression left with no index at all
    /// (exclusions included: <c>lib*,-lib2</c> when <c>lib*</c> is only <c>lib2</c>) is <c>notFoundException</c>'s 404.
    /// With <paramref name="ignoreUnavailable"/>, the concrete names that are not there are added to
    /// <paramref name="missing"/> when it is given (what the cluster health waits for).
    /// </summary>
    public IReadOnlyList<SearchIndex> Resolve(string? expression, bool ignoreUnavailable = false, bool allowWildcards = true, bool expandHidden = false, bool allowNoIndices = true,
        ICollection<string>? missing = null)
    {
        if (string.IsNullOrEmpty(expression) || expression is "_all" or "*")
        {
            var all = All.Where(i => expandHidden || !i.Hidden).ToArray();
            return all.Length > 0 || allowNoIndices ? all : throw NotFound(string.IsNullOrEmpty(expression) ? [] : [expression]);
        }

        var parts = ExpressionParts(expression);
        var result = new List<SearchIndex>();
        // IndexNameExpressionResolver.resolveExpressionsToResources: a "-" name excludes only once a wildcard has been seen
        // (before that it is a name, "-a" not found), and an exclusion wildcard is checked against what it matches as an
        // inclusion is.
        var wildcardSeen = false;
        foreach (var raw in parts)
        {
            var isExclusion = wildcardSeen && raw.StartsWith('-');
            var name = isExclusion ? raw[1..] : raw;
            var isWildcard = allowWildcards && name.Contains('*', StringComparison.Ordinal);
            wildcardSeen |= isWildcard;
            if (isWildcard)
            {
                var glob = JsonPaths.Wildcard(name);
                var matches = All.Where(i => glob.IsMatch(i.Name) && (expandHidden || !i.Hidden || (name[0] == '.' && i.Name[0] == '.'))).ToArray();
                if (matches.Length == 0 && !allowNoIndices)
                {
                    throw EsException.IndexNotFound(name);
                }

                if (isExclusion)
                {
                    result.RemoveAll(matches.Contains);
                }
                else
                {
                    result.AddRange(matches.Where(i => !result.Contains(i)));
                }

                continue;
            }

            if (isExclusion)
            {
                result.RemoveAll(i => i.Name == name);
            }
            else if (Find(raw) is { } index)
            {
                if (!result.Contains(index))
                {
                    result.Add(index);
                }
            }
            else if (!ignoreUnavailable)
            {
                // ensureAliasOrIndexExists: notFoundException(name), its hint for a "-" name that no wildcard came before.
                throw _flavor == SearchFlavor.OpenSearch ? EsException.IndexNotFound(raw) : NotFound([raw]);
            }
            else
            {
                missing?.Add(raw);
            }
        }

        return result.Count > 0 || allowNoIndices ? result : throw NotFound(parts);
    }

    // IndexNameExpressionResolver.notFoundException: no expression or _all "no such index [_all] and no indices exist";
    // one expression its own, or for an exclusion (nothing included before it) a hint; several IndexNotFoundException's
    // "no such index [null]" with the expressions as its resource ids. OpenSearch 2.x (IndexNameExpressionResolver.concreteIndices)
    // has no hint: one expression is "no such index [x]", its resource type index_expression.
    private EsException NotFound(string[] expressions) => expressions switch
    {
        [var one] when one != "_all" && _flavor == SearchFlavor.OpenSearch => new EsException(404, "index_not_found_exception", $"no such index [{one}]",
            new Dictionary<string, string> { ["resource.type"] = "index_expression", ["resource.id"] = one, ["index_uuid"] = "_na_", ["index"] = one }),
        [] or ["_all"] => new EsException(404, "index_not_found_exception", "no such index [_all] and no indices exist",
            new Dictionary<string, string> { ["resource.type"] = "index_or_alias", ["resource.id"] = "_all", ["index_uuid"] = "_na_", ["index"] = "_all" }),
        [var one] when one.StartsWith('-') => new EsException(404, "index_not_found_exception",
            $"no such index [{one}] and if you intended to exclude this index, ensure that you use wildcards that include it before explicitly excluding it",
            new Dictionary<string, string> { ["resource.type"] = "index_or_alias", ["resource.id"] = one, ["index_uuid"] = "_na_", ["index"] = one }),
        [var one] => EsException.IndexNotFound(one),
        _ => new EsException(404, "index_not_found_exception", "no such index [null]", new Dictionary<string, string> { ["resource.type"] = "index_expression" })
        {
            Lists = new Dictionary<string, IReadOnlyList<string>> { ["resource.id"] = expressions },
        },
    };

    /// <summary>
    /// The names and patterns of an index expression, as <c>Strings.splitStringByCommaToArray</c> splits it (every index
    /// API's, <c>_cluster/health</c>'s too): at its commas, nothing trimmed (<c>"i "</c> names no index <c>i</c>).
    /// </summary>
    /// <param name="expression">The index expression.</param>
    public static string[] ExpressionParts(string expression) => expression.Split(',', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>
    /// Resolves an index expression (<see cref="Resolve(string?, bool, bool, bool, bool, ICollection{string}?)"/>) with the indices options of the
    /// request's URL, as <c>IndicesOptions.fromRequest</c> reads them: <c>ignore_unavailable</c> and
    /// <c>expand_wildcards</c>.
    /// </summary>
    /// <param name="expression">The index expression.</param>
    /// <param name="param">The request's URL parameters.</param>
    /// <param name="allowNoIndices">The API's <c>allow_no_indices</c> as read (<see cref="Resolve(string?, bool, bool, bool, bool, ICollection{string}?)"/>).</param>
    public IReadOnlyList<SearchIndex> Resolve(string? expression, Func<string, string?> param, bool allowNoIndices = true) =>
        Resolve(expression, ignoreUnavailable: ReadIndicesOptions(param), expandHidden: ExpandsHidden(param("expand_wildcards")), allowNoIndices: allowNoIndices);

    /// <summary>The URL's indices options (<see cref="IndicesOptionsParameters.Read"/>, in this catalog's flavour): whether <c>ignore_unavailable</c> is on.</summary>
    /// <param name="param">The request's URL parameters.</param>
    public bool ReadIndicesOptions(Func<string, string?> param) => IndicesOptionsParameters.Read(param, _flavor == SearchFlavor.OpenSearch);

    /// <summary>Elasticsearch's <c>expand_wildcards</c>: <c>all</c> or <c>hidden</c> reach hidden indices.</summary>
    public static bool ExpandsHidden(string? expandWildcards) =>
        expandWildcards?.Split(',', StringSplitOptions.TrimEntries).Any(w => w is "all" or "hidden") == true;

    /// <summary>
    /// A new index's name checked as <c>MetadataCreateIndexService.validateIndexName</c> checks it, in its order:
    /// <c>validateIndexOrAliasName</c> (empty; a character of <c>Strings.INVALID_FILENAME_CHARS</c>, listed in its
    /// <c>HashSet</c>'s order; '#'; ':'; a leading '_', '-' or '+'; over 255 bytes; '.' or '..'), then upper case. A 400
    /// <c>invalid_index_name_exception</c> "Invalid index name [a:b], must not contain ':'". ('#' and ':' were listed
    /// with the invalid characters, and upper case was refused before the characters and the first one.)
    /// </summary>
    /// <param name="name">The name.</param>
    public static void ValidateName(string name)
    {
        string? problem = name switch
        {
            "" => "must not be empty",
            _ when InvalidChars().IsMatch(name) => "must not contain the following characters [ , \", *, \\, <, |, ,, >, /, ?]",
            _ when name.Contains('#', StringComparison.Ordinal) => "must not contain '#'",
            _ when name.Contains(':', StringComparison.Ordinal) => "must not contain ':'",
            _ when name[0] is '_' or '-' or '+' => "must not start with '_', '-', or '+'",
            _ when System.Text.Encoding.UTF8.GetByteCount(name) > 255 => "index name is too long, (" + System.Text.Encoding.UTF8.GetByteCount(name) + " > 255)",
            "." or ".." => "must not be '.' or '..'",
            _ when name != name.ToLowerInvariant() => "must be lowercase",
            _ => null,
        };
        if (problem is not null)
        {
            throw new EsException(400, "invalid_index_name_exception", $"Invalid index name [{name}], {problem}",
                new Dictionary<string, string> { ["index_uuid"] = "_na_", ["index"] = name });
        }
    }

    public void RefreshAll(bool commit)
    {
        foreach (var index in _indices.Values)
        {
            index.Refresh(commit);
        }
    }

    public void Dispose()
    {
        foreach (var index in _indices.Values)
        {
            index.Dispose();
        }

        _indices.Clear();
    }

    [GeneratedRegex("[ \"*\\\\<|,>/?]")]
    private static partial Regex InvalidChars();
}
