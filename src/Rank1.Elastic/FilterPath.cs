using System.Text.Json.Nodes;

namespace Rank1.Elastic;

/// <summary>
/// Elasticsearch's <c>filter_path</c> response filtering, with the semantics of its XContent filtering
/// (<c>FilterPath</c> + <c>FilterPathBasedFilter</c>): a comma-separated list of dotted paths; <c>*</c> inside a
/// segment matches any part of one field name; a <c>**</c> segment matches one or more levels; <c>\.</c> is a
/// literal dot; a path that starts with <c>-</c> excludes. Arrays are transparent (a path applies to every
/// element). Includes keep a matched field whole and drop everything else, including objects and arrays left
/// empty; excludes drop the matched fields, and the objects and arrays they emptied, but keep what was empty to
/// begin with. With both, the excludes apply to what the includes kept. Used by the embedded backend (which filters
/// its answers) and the proxy (which filters the final reranked answer).
/// </summary>
internal sealed class FilterPath
{
    private readonly Node? _includes;
    private readonly Node? _excludes;

    private FilterPath(Node? includes, Node? excludes)
    {
        _includes = includes;
        _excludes = excludes;
    }

    /// <summary>
    /// The filter for a <c>filter_path</c> value (several values are joined as one list), or null when it selects
    /// nothing to filter (absent, or only empty entries): the answer is then written whole, as Elasticsearch does.
    /// </summary>
    public static FilterPath? Parse(string? filterPath)
    {
        if (string.IsNullOrWhiteSpace(filterPath))
        {
            return null;
        }

        Node? includes = null;
        Node? excludes = null;
        foreach (var entry in filterPath.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (entry[0] == '-')
            {
                var path = entry[1..].Trim();
                if (path.Length > 0)
                {
                    Insert(excludes ??= new Node(string.Empty), path);
                }
            }
            else
            {
                Insert(includes ??= new Node(string.Empty), entry);
            }
        }

        return includes is null && excludes is null ? null : new FilterPath(includes, excludes);
    }

    /// <summary>
    /// The filtered copy of an answer. The root object (or array) always stays, possibly empty: Elasticsearch
    /// answers <c>{}</c> when nothing matches.
    /// </summary>
    public JsonNode Apply(JsonNode answer)
    {
        ArgumentNullException.ThrowIfNull(answer);
        var result = _includes is null ? answer : Include(answer, [_includes]) ?? Empty(answer);
        return _excludes is null ? result : Exclude(result, [_excludes]) ?? Empty(answer);
    }

    private static JsonNode Empty(JsonNode like) => like is JsonArray ? new JsonArray() : new JsonObject();

    // A container kept only when something in it matched; scalars under a partial match are dropped.
    private static JsonNode? Include(JsonNode? value, Node[] filters)
    {
        switch (value)
        {
            case JsonObject obj:
                var kept = new JsonObject();
                foreach (var (name, child) in obj)
                {
                    var match = Match(name, filters);
                    if (match.Full)
                    {
                        kept[name] = child?.DeepClone();
                    }
                    else if (match.Next.Length > 0 && Include(child, match.Next) is { } filtered)
                    {
                        kept[name] = filtered;
                    }
                }

                return kept.Count > 0 ? kept : null;
            case JsonArray array:
                var elements = new JsonArray();
                foreach (var element in array)
                {
                    if (Include(element, filters) is { } filtered)
                    {
                        elements.Add(filtered);
                    }
                }

                return elements.Count > 0 ? elements : null;
            default:
                return null;
        }
    }

    // Everything that does not match stays; a container the exclusion emptied goes, one that was empty stays.
    private static JsonNode? Exclude(JsonNode? value, Node[] filters)
    {
        switch (value)
        {
            case JsonObject obj:
                var kept = new JsonObject();
                foreach (var (name, child) in obj)
                {
                    var match = Match(name, filters);
                    if (match.Full)
                    {
                        continue;
                    }

                    if (match.Next.Length == 0)
                    {
                        kept[name] = child?.DeepClone();
                    }
                    else if (Exclude(child, match.Next) is { } filtered)
                    {
                        kept[name] = filtered;
                    }
                }

                return kept.Count > 0 || obj.Count == 0 ? kept : null;
            case JsonArray array:
                var elements = new JsonArray();
                foreach (var element in array)
                {
                    if (element is JsonObject or JsonArray)
                    {
                        if (Exclude(element, filters) is { } filtered)
                        {
                            elements.Add(filtered);
                        }
                    }
                    else
                    {
                        elements.Add(element?.DeepClone());
                    }
                }

                return elements.Count > 0 || array.Count == 0 ? elements : null;
            default:
                return value?.DeepClone();
        }
    }

    // Elasticsearch's FilterPath.matches over the current set of trie nodes: a final child that matches the name is
    // a full match; a non-final one continues below; a "**" node carries itself down as well.
    private static (bool Full, Node[] Next) Match(string name, Node[] filters)
    {
        List<Node>? next = null;
        foreach (var filter in filters)
        {
            if (filter.Terms.TryGetValue(name, out var term))
            {
                if (term.IsFinal)
                {
                    return (true, []);
                }

                (next ??= []).Add(term);
            }

            foreach (var wildcard in filter.Wildcards)
            {
                if (Glob(wildcard.Segment, name))
                {
                    if (wildcard.IsFinal)
                    {
                        return (true, []);
                    }

                    (next ??= []).Add(wildcard);
                }
            }

            if (filter.IsDoubleWildcard)
            {
                (next ??= []).Add(filter);
            }
        }

        return (false, next?.ToArray() ?? []);
    }

    // Splits on unescaped dots ("\." is a literal dot); a path ending at a final node swallows longer ones.
    private static void Insert(Node root, string path)
    {
        var node = root;
        var segment = new System.Text.StringBuilder();
        for (var i = 0; i <= path.Length; i++)
        {
            if (i < path.Length && path[i] == '\\' && i + 1 < path.Length && path[i + 1] == '.')
            {
                segment.Append('.');
                i++;
                continue;
            }

            if (i < path.Length && (path[i] != '.' || segment.Length == 0))
            {
                segment.Append(path[i]);
                continue;
            }

            var last = i == path.Length;
            var name = segment.ToString();
            segment.Clear();
            if (last)
            {
                node.Add(name, new Node(name) { IsFinal = true });
                return;
            }

            var child = node.GetOrAdd(name);
            if (child.IsFinal)
            {
                return;
            }

            node = child;
        }
    }

    // Elasticsearch's Glob.globMatch: '*' matches any run of characters (none included), everything else itself.
    internal static bool Glob(string pattern, string name)
    {
        var p = 0;
        var n = 0;
        var star = -1;
        var resume = 0;
        while (n < name.Length)
        {
            if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                resume = n;
            }
            else if (p < pattern.Length && pattern[p] == name[n])
            {
                p++;
                n++;
            }
            else if (star >= 0)
            {
                p = star + 1;
                n = ++resume;
            }
            else
            {
                return false;
            }
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }

    private sealed class Node(string segment)
    {
        private readonly Dictionary<string, Node> _children = new(StringComparer.Ordinal);

        public string Segment { get; } = segment;

        public bool IsFinal { get; init; }

        public bool IsDoubleWildcard => Segment == "**";

        public Dictionary<string, Node> Terms { get; } = new(StringComparer.Ordinal);

        public List<Node> Wildcards { get; } = [];

        public Node GetOrAdd(string name)
        {
            if (!_children.TryGetValue(name, out var child))
            {
                child = new Node(name);
                Add(name, child);
            }

            return child;
        }

        // As Elasticsearch's builder: a later path replaces the node of the same name ("a.b" then "a" keeps "a").
        public void Add(string name, Node child)
        {
            if (_children.TryGetValue(name, out var old))
            {
                Terms.Remove(name);
                Wildcards.Remove(old);
            }

            _children[name] = child;
            if (name.Contains('*', StringComparison.Ordinal))
            {
                Wildcards.Add(child);
            }
            else
            {
                Terms[name] = child;
            }
        }
    }
}
