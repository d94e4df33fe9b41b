using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Rank1.Elastic;

namespace Rank1.EmbeddedSearch.Scripting;

/// <summary>
/// A Mustache template compiled as Elasticsearch's lang-mustache compiles one (mustache.java's parser with
/// <c>CustomMustacheFactory</c>): <c>{{var}}</c> JSON-string escaped (the default <c>application/json</c> encoder,
/// Jackson's <c>quoteAsString</c>: no quotes added), <c>{{{var}}}</c> and <c>{{&amp;var}}</c> as they are, dotted names
/// and list indices (<c>CustomReflectionObjectHandler</c>: <c>{{list.0}}</c>, <c>{{list.size}}</c>), <c>{{.}}</c>,
/// sections and inverted sections, comments, delimiter changes, and the functions <c>{{#toJson}}</c>,
/// <c>{{#join}}</c> (<c>{{#join delimiter='||'}}</c>) and <c>{{#url}}</c>. Partials are refused: Elasticsearch has no
/// template files to include.
/// </summary>
internal sealed class MustacheTemplate
{
    private const string File = "query-template"; // the name MustacheScriptEngine.compile gives every template

    /// <summary>Elasticsearch's <c>script.max_size_in_bytes</c> default: the largest template source it compiles.</summary>
    public const int MaxSourceBytes = 65535;

    // Bounds of our own, so that a small template cannot take the server down: sections nested deeper than this (each one
    // level of recursion, and a stack overflow ends the process), more output than a request body may hold, or more
    // steps than any real template takes (nested sections over lists multiply).
    private const int MaxDepth = 100;
    private const int MaxOutputChars = 100 * 1024 * 1024;
    private const long MaxSteps = 10_000_000;

    [ThreadStatic]
    private static RenderBudget? _budget;

    private readonly IReadOnlyList<Node> _nodes;

    private MustacheTemplate(IReadOnlyList<Node> nodes) => _nodes = nodes;

    /// <summary>Compiles <paramref name="source"/>; a syntax error is Elasticsearch's 400 <c>script_exception</c>.</summary>
    /// <param name="source">The template.</param>
    /// <param name="storedId">The stored script's id, when it is one (for the size error's words).</param>
    public static MustacheTemplate Compile(string source, string? storedId = null)
    {
        var size = Encoding.UTF8.GetByteCount(source);
        if (size > MaxSourceBytes)
        {
            // ScriptService.compile and ScriptService.putStoredScript.
            throw EsException.IllegalArgument(storedId is null
                ? $"exceeded max allowed inline script size in bytes [{MaxSourceBytes}] with size [{size}] for script [{source}]"
                : $"exceeded max allowed stored script size in bytes [{MaxSourceBytes}] with size [{size}] for script [{storedId}]");
        }

        try
        {
            var position = 0;
            var line = 1;
            var (nodes, _) = Parse(source, ref position, ref line, null, "{{", "}}", depth: 0);
            return new MustacheTemplate(nodes);
        }
        catch (MustacheSyntaxException e)
        {
            // MustacheScriptEngine.compile: new ScriptException(ex.getMessage(), ex, emptyList(), templateSource, "mustache").
            throw new EsException(400, "script_exception", e.Message, new Dictionary<string, string> { ["script"] = source, ["lang"] = "mustache" },
                new EsException(400, "mustache_exception", e.Message));
        }
    }

    /// <summary>Renders the template with <paramref name="parameters"/> as its only scope.</summary>
    /// <exception cref="EsException">The output or the work it takes is past the bounds a template may have.</exception>
    public string Render(JsonObject? parameters, CancellationToken cancellationToken = default)
    {
        var output = new StringBuilder();
        _budget = new RenderBudget(cancellationToken);
        try
        {
            Run(_nodes, [parameters ?? new JsonObject()], output);
        }
        finally
        {
            _budget = null;
        }

        return output.ToString();
    }

    private sealed class RenderBudget(CancellationToken cancellationToken)
    {
        private long _steps;

        public void Step(StringBuilder output)
        {
            if (++_steps > MaxSteps || output.Length > MaxOutputChars)
            {
                throw new EsException(400, "script_exception", $"the template renders to more than {MaxOutputChars} characters or takes more than {MaxSteps} steps (sections nested over lists multiply)");
            }

            if ((_steps & 0x3FF) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
        }
    }

    private abstract record Node;

    private sealed record Text(string Value) : Node;

    private sealed record Value(string Name, bool Escaped) : Node;

    private sealed record Section(string Name, bool Inverted, IReadOnlyList<Node> Children, string Inner) : Node;

    private sealed class MustacheSyntaxException(string message) : Exception(message);

    // mustache.java's MustacheParser.compile, one level: text and tags up to the end tag of `tag` (or the end).
    private static (List<Node> Nodes, string Inner) Parse(string source, ref int position, ref int line, string? tag, string sm, string em, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new MustacheSyntaxException($"Sections nested deeper than {MaxDepth} in {File}:{line} @[{File}:{line}]");
        }

        var nodes = new List<Node>();
        var text = new StringBuilder();
        var start = position;
        while (position < source.Length)
        {
            if (string.CompareOrdinal(source, position, sm, 0, sm.Length) != 0)
            {
                if (source[position] == '\n')
                {
                    line++;
                }

                if (source[position] != '\r')
                {
                    text.Append(source[position]);
                }

                position++;
                continue;
            }

            var tagStart = position;
            var end = source.IndexOf(em, position + sm.Length, StringComparison.Ordinal);
            var command = end < 0 ? source[(position + sm.Length)..] : source[(position + sm.Length)..end];
            if (end < 0 || command.Length == 0)
            {
                throw new MustacheSyntaxException($"Improperly closed variable: {command.Trim()} in {File}:{line} @[{File}:{line}]");
            }

            position = end + em.Length;
            Flush(nodes, text);
            var variable = command[1..].Trim();
            switch (command[0])
            {
                case '#':
                case '^':
                    var (children, inner) = Parse(source, ref position, ref line, variable, sm, em, depth + 1);
                    nodes.Add(new Section(variable, command[0] == '^', children, inner));
                    break;
                case '/':
                    if (variable != tag)
                    {
                        throw new MustacheSyntaxException($"Mismatched start/end tags: {tag ?? "null"} != {variable} in {File}:{line} @[{File}:{line}]");
                    }

                    return (nodes, source[start..tagStart]);
                case '>':
                    throw new MustacheSyntaxException($"Template {variable} not found");
                case '{':
                    if (em == "}}" && (position >= source.Length || source[position] != '}'))
                    {
                        throw new MustacheSyntaxException($"Improperly closed variable: {variable} in {File}:{line} @[{File}:{line}]");
                    }

                    position += em == "}}" ? 1 : 0;
                    nodes.Add(new Value(em == "}}" ? variable : variable[..^1].Trim(), Escaped: false));
                    break;
                case '&':
                    nodes.Add(new Value(variable, Escaped: false));
                    break;
                case '!':
                case '%':
                    break;
                case '=':
                    var delimiters = string.Concat(command.Where(c => !char.IsWhiteSpace(c)));
                    if (delimiters.Length > 6 || delimiters.Length % 2 != 0)
                    {
                        throw new MustacheSyntaxException("Invalid delimiter string");
                    }

                    sm = delimiters[1..(delimiters.Length / 2)];
                    em = delimiters[(delimiters.Length / 2)..^1];
                    break;
                default:
                    nodes.Add(new Value(command.Trim(), Escaped: true));
                    break;
            }
        }

        if (tag is not null)
        {
            throw new MustacheSyntaxException($"Failed to close '{tag}' tag @[{File}:{line}]");
        }

        Flush(nodes, text);
        return (nodes, source[start..]);
    }

    private static void Flush(List<Node> nodes, StringBuilder text)
    {
        if (text.Length > 0)
        {
            nodes.Add(new Text(text.ToString()));
            text.Clear();
        }
    }

    private static void Run(IReadOnlyList<Node> nodes, List<JsonNode?> scopes, StringBuilder output)
    {
        foreach (var node in nodes)
        {
            _budget?.Step(output);
            switch (node)
            {
                case Text t:
                    output.Append(t.Value);
                    break;
                case Value v when Lookup(v.Name, scopes) is { } value:
                    var text = Stringify(value, top: true);
                    if (v.Escaped)
                    {
                        JacksonWriter.QuoteAsString(text, output);
                    }
                    else
                    {
                        output.Append(text);
                    }

                    break;
                case Section s when !s.Inverted && Function(s) is { } function:
                    function(s, scopes, output);
                    break;
                case Section s:
                    RunSection(s, scopes, output);
                    break;
            }
        }
    }

    // BaseObjectHandler.iterate and falsey: null, false, "" and an empty list are false; a list repeats the section with
    // each element as the scope; anything else renders it once with the value as the scope.
    private static void RunSection(Section s, List<JsonNode?> scopes, StringBuilder output)
    {
        var value = Lookup(s.Name, scopes);
        var falsey = value switch
        {
            null => true,
            JsonArray a => a.Count == 0,
            JsonValue v when v.GetValueKind() == JsonValueKind.False => true,
            JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>().Length == 0,
            _ => false,
        };
        if (s.Inverted)
        {
            if (falsey)
            {
                Run(s.Children, scopes, output);
            }

            return;
        }

        if (falsey)
        {
            return;
        }

        foreach (var item in value is JsonArray list ? list.ToArray() : [value])
        {
            scopes.Add(item);
            Run(s.Children, scopes, output);
            scopes.RemoveAt(scopes.Count - 1);
        }
    }

    private delegate void SectionFunction(Section section, List<JsonNode?> scopes, StringBuilder output);

    // CustomMustacheFactory.CustomMustacheVisitor.iterable: the section names that are functions.
    private static SectionFunction? Function(Section s)
    {
        if (s.Name.Equals("toJson", StringComparison.OrdinalIgnoreCase))
        {
            return ToJson;
        }

        if (s.Name.Equals("join", StringComparison.OrdinalIgnoreCase))
        {
            return (section, scopes, output) => Join(section, scopes, output, ",");
        }

        if (s.Name.StartsWith("join delimiter='", StringComparison.Ordinal) && s.Name.EndsWith('\''))
        {
            var delimiter = s.Name["join delimiter='".Length..^1];
            return (section, scopes, output) => Join(section, scopes, output, delimiter);
        }

        return s.Name.Equals("url", StringComparison.OrdinalIgnoreCase) ? Url : null;
    }

    // CustomCode.extractVariableName: the section holds one identifier, the name of the value the function takes.
    private static string Identifier(Section s) => s.Children.Count == 1
        ? s.Inner
        : throw new EsException(400, "script_exception", $"Mustache function [{s.Name}] must contain one and only one identifier");

    // ToJsonCode: a list or an object as JSON; anything else as it is stringified; nothing when missing.
    private static void ToJson(Section s, List<JsonNode?> scopes, StringBuilder output)
    {
        switch (Lookup(Identifier(s), scopes))
        {
            case null:
                break;
            case JsonArray list:
                output.Append(list.ToJsonString(JsonOutput));
                break;
            case JsonObject map:
                output.Append(map.ToJsonString(JsonOutput));
                break;
            case var other:
                output.Append(Stringify(other, top: false));
                break;
        }
    }

    // JoinerCode: a list's elements, stringified, between delimiters; for anything else the section's text itself.
    private static void Join(Section s, List<JsonNode?> scopes, StringBuilder output, string delimiter)
    {
        var name = Identifier(s);
        output.Append(Lookup(name, scopes) is JsonArray list ? string.Join(delimiter, list.Select(x => Stringify(x, top: false))) : name);
    }

    // UrlEncoderCode: the section rendered, then URLEncoder.encode(.., UTF-8).
    private static void Url(Section s, List<JsonNode?> scopes, StringBuilder output)
    {
        var inner = new StringBuilder();
        Run(s.Children, scopes, inner);
        foreach (var b in Encoding.UTF8.GetBytes(inner.ToString()))
        {
            var c = (char)b;
            if (char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '*' or '_')
            {
                output.Append(c);
            }
            else if (c == ' ')
            {
                output.Append('+');
            }
            else
            {
                output.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
        }
    }

    // Jackson's JSON output: no HTML-safe escaping of <, >, & and '.
    // {{#toJson}} writes a parameter as deep as the request holding it was read.
    private static readonly JsonSerializerOptions JsonOutput = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, MaxDepth = RequestJson.MaxDepth };

    /// <summary>
    /// CustomReflectionObjectHandler's binding: the first name of a dotted path is looked up from the innermost scope
    /// out; the rest within what it found, a list answering its indices and <c>size</c>. <c>.</c> is the innermost scope.
    /// </summary>
    private static JsonNode? Lookup(string name, List<JsonNode?> scopes)
    {
        if (name == ".")
        {
            return scopes[^1];
        }

        var parts = name.Split('.');
        JsonNode? value = null;
        var found = false;
        for (var i = scopes.Count - 1; i >= 0 && !found; i--)
        {
            found = Member(scopes[i], parts[0], out value);
        }

        for (var p = 1; p < parts.Length && value is not null; p++)
        {
            Member(value, parts[p], out value);
        }

        return value;
    }

    private static bool Member(JsonNode? scope, string key, out JsonNode? value)
    {
        value = null;
        switch (scope)
        {
            case JsonObject o:
                return o.TryGetPropertyValue(key, out value);
            case JsonArray a when key == "size":
                value = JsonValue.Create(a.Count);
                return true;
            case JsonArray a when int.TryParse(key, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var index) && index >= 0 && index < a.Count:
                value = a[index];
                return value is not null;
            default:
                return false;
        }
    }

    /// <summary>
    /// A value as Java's <c>toString</c> writes what Elasticsearch parsed it into: a string as it is, a number as an
    /// <c>Integer</c>/<c>Long</c> or a <c>Double</c> (<c>1.0</c>, <c>1.0E-4</c>), a list at the top as the
    /// <c>CollectionMap</c> it is coerced into (<c>{0=a, 1=b}</c>), nested as a list (<c>[a, b]</c>), an object as a
    /// map (<c>{k=v}</c>).
    /// </summary>
    private static string Stringify(JsonNode? value, bool top) => value switch
    {
        null => "null",
        JsonArray a when top => "{" + string.Join(", ", a.Select((x, i) => $"{i}={Stringify(x, top: false)}")) + "}",
        JsonArray a => "[" + string.Join(", ", a.Select(x => Stringify(x, top: false))) + "]",
        JsonObject o => "{" + string.Join(", ", o.Select(p => $"{p.Key}={Stringify(p.Value, top: false)}")) + "}",
        JsonValue v => v.GetValueKind() switch
        {
            JsonValueKind.String => v.GetValue<string>(),
            JsonValueKind.True => "true",
            JsonValueKind.False => "false",
            JsonValueKind.Number => JavaNumber(v.ToJsonString()),
            _ => "null",
        },
        _ => "null",
    };

    private static string JavaNumber(string raw) =>
        XContentInt.IsIntegerLiteral(raw) ? raw : XContentInt.JavaDoubleToString(double.Parse(raw, CultureInfo.InvariantCulture));
}
