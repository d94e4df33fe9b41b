using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lucene.Net.Analysis;
using Lucene.Net.Analysis.TokenAttributes;
using Lucene.Net.Index;
using Lucene.Net.QueryParsers.Classic;
using Lucene.Net.QueryParsers.Simple;
using Lucene.Net.Search;
using Lucene.Net.Util.Automaton;
using Rank1.EmbeddedSearch.Indexing;
using Rank1.Elastic;
using ClassicOperator = Lucene.Net.QueryParsers.Classic.Operator;

namespace Rank1.EmbeddedSearch.Querying;

/// <summary>
/// Translates the Elasticsearch query DSL subset into Lucene queries for one index: <c>match_all</c>, <c>match</c>,
/// <c>match_phrase</c>, <c>multi_match</c>, <c>term</c>, <c>terms</c>, <c>ids</c>, <c>range</c>, <c>bool</c>,
/// <c>query_string</c>, <c>simple_query_string</c>, and Elasticsearch's <c>pinned</c> (not OpenSearch's). Anything else is a 400 <c>parsing_exception</c> that names it.
/// </summary>
internal sealed class QueryTranslator
{
    public static readonly IReadOnlyList<string> Supported =
        ["match_all", "match_none", "match", "match_phrase", "multi_match", "term", "terms", "ids", "range", "bool", "query_string", "simple_query_string", "pinned"];

    /// <summary>The queries <paramref name="flavor"/> has: OpenSearch has no <c>pinned</c> (an Elasticsearch x-pack plugin's).</summary>
    /// <param name="flavor">The product whose queries are answered.</param>
    public static IReadOnlyList<string> SupportedBy(SearchFlavor flavor) =>
        flavor == SearchFlavor.OpenSearch ? [.. Supported.Where(t => t != "pinned")] : Supported;

    private readonly SearchIndex _index;
    private readonly Analyzer _analyzer;

    public QueryTranslator(SearchIndex index)
    {
        _index = index;
        _analyzer = index.QueryAnalyzer();
    }

    public Query Translate(JsonNode? node)
    {
        if (node is null)
        {
            return new MatchAllDocsQuery();
        }

        var (type, body) = Named(node);
        return type switch
        {
            "match_all" => Boosted(new MatchAllDocsQuery(), body),
            "match_none" => new BooleanQuery(),
            "match" => FieldQuery(type, body, (field, spec) => Match(type, field, spec, phrase: false)),
            "match_phrase" => FieldQuery(type, body, (field, spec) => Match(type, field, spec, phrase: true)),
            "multi_match" => Boosted(MultiMatch(Obj(type, body)), body),
            "term" => FieldQuery(type, body, Term),
            "terms" => Terms(Obj(type, body)),
            "ids" => Ids(Obj(type, body)),
            "range" => FieldQuery(type, body, Range),
            "bool" => Bool(Obj(type, body)),
            "query_string" => QueryString(Obj(type, body)),
            "simple_query_string" => SimpleQueryString(Obj(type, body)),
            "pinned" => Pinned(Obj(type, body)),
            // CheckNames refused, in its flavor's words, every name the flavor lacks before any translation.
            _ => throw Unknown(type, SearchFlavor.Elasticsearch),
        };
    }

    // The options each field query's parser reads (Elasticsearch 9's MatchQueryBuilder, MatchPhraseQueryBuilder and
    // TermQueryBuilder), each applied (MatchOptions; auto_generate_synonyms_phrase_query changes nothing without
    // synonym graphs, which no analyzer here makes).
    private static readonly Dictionary<string, HashSet<string>> FieldOptions = new(StringComparer.Ordinal)
    {
        ["match"] =
        [
            "query", "operator", "analyzer", "boost", "_name", "minimum_should_match", "fuzziness", "prefix_length", "max_expansions",
            "fuzzy_transpositions", "fuzzy_rewrite", "lenient", "zero_terms_query", "auto_generate_synonyms_phrase_query",
        ],
        ["match_phrase"] = ["query", "analyzer", "slop", "zero_terms_query", "boost", "_name"],
        ["term"] = ["value", "term", "boost", "_name", "case_insensitive"],
    };

    // OpenSearch's MatchQueryBuilder.fromXContent still reads the deprecated cutoff_frequency (Elasticsearch 8 removed it);
    // its match_phrase and term read the same options as Elasticsearch's.
    private static readonly Dictionary<string, HashSet<string>> OpenSearchFieldOptions = new(StringComparer.Ordinal)
    {
        ["match"] = [.. FieldOptions["match"], "cutoff_frequency"],
        ["match_phrase"] = FieldOptions["match_phrase"],
        ["term"] = FieldOptions["term"],
    };

    /// <summary>
    /// Checks a query as Elasticsearch's parser reads it from the body, before any index is searched
    /// (<c>AbstractQueryBuilder.parseInnerQueryBuilder</c>), down through <c>bool</c> clauses: so an <c>_msearch</c>
    /// holding a bad one fails whole, as a bad line does. Each error is raised where Elasticsearch's parser raises it,
    /// and says where that parser stood (<see cref="JsonLocations"/>): a <c>parsing_exception</c>'s <c>line</c> and
    /// <c>col</c>, an <c>x_content_parse_exception</c>'s <c>[line:col]</c>. The rest of a query is read when it runs
    /// against an index (<see cref="Translate"/>).
    /// </summary>
    /// <param name="node">The query (the body field that holds it checks it is an object; a bool clause may be anything).</param>
    /// <param name="flavor">The product whose parsers are followed (OpenSearch's <c>match</c> reads <c>cutoff_frequency</c>).</param>
    /// <param name="deprecations">Where the deprecation warnings the parser logs are added (a deprecated name it still
    /// reads: <c>ParseField.match</c>'s "[bool][1:29] Deprecated field [mustNot] used, expected [must_not] instead"), or null.</param>
    public static void CheckNames(JsonNode? node, SearchFlavor flavor, ICollection<string>? deprecations = null)
    {
        if (node is not JsonObject obj)
        {
            // Only a bool clause gets here with something else (the body's query field is checked by its reader): the
            // parser reads on from it for a START_OBJECT, and fails at the token it finds.
            throw Stood(EsException.Parsing("[_na] query malformed, must start with start_object", node is null ? null : JsonLocations.OfNext(node)));
        }

        if (obj.Count == 0)
        {
            // A {} clause: IllegalArgumentException, the place of its closing brace in the words.
            var at = JsonLocations.OfNext(obj) ?? new Location(-1, -1);
            throw Stood(EsException.IllegalArgument($"query malformed, empty clause found at [{at.Line}:{at.Column}]"), at);
        }

        var (type, body) = obj.First();
        if (body is not JsonObject spec)
        {
            throw Stood(EsException.Parsing($"[{type}] query malformed, no start_object after query name", JsonLocations.OfValue(obj, type)));
        }

        if (!SupportedBy(flavor).Contains(type))
        {
            // NamedXContentRegistry's NamedObjectNotFoundException, at the query's START_OBJECT, is the cause.
            var at = JsonLocations.Of(spec);
            throw Stood(EsException.Parsing(Unknown(type, flavor).Message, at, EsException.XContentParse($"unknown field [{type}]", at, null, "named_object_not_found_exception")));
        }

        if ((flavor == SearchFlavor.OpenSearch ? OpenSearchFieldOptions : FieldOptions).TryGetValue(type, out var known))
        {
            CheckFieldOptions(type, spec, known);
        }

        if (type == "bool")
        {
            CheckBool(spec, flavor, deprecations);
        }

        if (type == "pinned")
        {
            CheckPinned(spec, flavor, deprecations);
        }

        if (type == "multi_match")
        {
            CheckMultiMatch(spec, flavor);
        }

        if (type == "range")
        {
            CheckRangeFields(spec);
        }

        if (type == "terms")
        {
            CheckTermsQuery(spec, flavor);
        }

        if (type == "match_none")
        {
            CheckMatchNone(spec);
        }

        if (type is "query_string" or "simple_query_string")
        {
            CheckQueryStringOptions(type, spec);
        }

        if (ObjectParserFields.TryGetValue(type, out var declared))
        {
            // MatchAllQueryBuilder's and IdsQueryBuilder's ObjectParser: a field it does not declare is ErrorOnUnknown's
            // "[1:24] [match_all] unknown field [x]" (placed at the field's name, with its suggestion), which fromXContent
            // rethrows as a ParsingException of that message where the parser stands, on the field's value (it was taken
            // and ignored); with the OpenSearch flavour the walk stops there. The ids' values are read as met (CheckIdsValue).
            ReadFields(type, spec, declared, type == "ids" ? (key, value) => CheckIdsValue(spec, key, value) : null,
                (unknown, key) => flavor == SearchFlavor.Elasticsearch ? Stood(EsException.Parsing(unknown.Message, JsonLocations.OfValue(spec, key), unknown)) : null);
        }

        if (obj.Count > 1)
        {
            var second = obj.ElementAt(1).Key;
            throw Stood(EsException.Parsing($"[{type}] malformed query, expected [END_OBJECT] but found [FIELD_NAME]", JsonLocations.OfName(obj, second)));
        }
    }

    // MatchQueryBuilder, MatchPhraseQueryBuilder and TermQueryBuilder.fromXContent read a field's object option by
    // option: a value of an option they do not know is "[match] query does not support [foo]", an object or array for
    // any option "[match] unknown token [START_OBJECT] after [foo]" (and a null: VALUE_NULL is no value to
    // XContentParser.Token.isValue), each where that value starts. (A misspelt
    // "operater" searched with OR when it was ignored.)
    private static void CheckFieldOptions(string type, JsonObject spec, HashSet<string> known)
    {
        string? first = null;
        foreach (var (field, options) in spec)
        {
            // A second key, boost and _name too (fromXContent reads them only inside the field's object), is
            // throwParsingExceptionOnMultipleFields' at its value: {"match":{"title":"x","boost":2}} was taken with the boost.
            ThrowIfSecondField(type, spec, first, field);
            first = field;
            if (options is JsonArray array)
            {
                // TermQueryBuilder refuses an array at its START_ARRAY; MatchQueryBuilder and MatchPhraseQueryBuilder read
                // it with objectText(), whose text() is JsonXContentParser.throwOnNoText's IllegalStateException (a 500).
                // It was a 400 "expected a value but found array" when the query ran.
                var at = JsonLocations.Of(array);
                throw Stood(type == "term"
                    ? EsException.Parsing("[term] query does not support array of values", at)
                    : EsException.Foreign(500, "illegal_state_exception", $"Can't get text on a START_ARRAY at {(at is { } l ? $"{l.Line}:{l.Column}" : "null")}"), at);
            }

            if (options is not JsonObject fieldSpec)
            {
                continue;
            }

            foreach (var (option, value) in fieldSpec)
            {
                if (value is null or JsonObject or JsonArray)
                {
                    throw Stood(EsException.Parsing($"[{type}] unknown token [{RequestJson.TokenName(value)}] after [{option}]", JsonLocations.OfValue(fieldSpec, option)));
                }

                if (!known.Contains(option))
                {
                    throw Stood(EsException.Parsing($"[{type}] query does not support [{option}]", JsonLocations.OfValue(fieldSpec, option)));
                }

                if (type != "term")
                {
                    ValueRead(() => MatchOptions.Check(type, fieldSpec, option, (JsonValue)value), JsonLocations.OfValue(fieldSpec, option));
                }
                else if (option == "case_insensitive")
                {
                    // TermQueryBuilder.fromXContent: parser.booleanValue(), while the body is read.
                    ValueRead(() => RequestJson.BooleanValue(value), JsonLocations.OfValue(fieldSpec, option));
                }
            }

            if (type != "term")
            {
                ValueRead(() => MatchOptions.CheckSetters(type, fieldSpec), JsonLocations.OfLast(spec));
            }
        }
    }

    // AbstractQueryBuilder.throwParsingExceptionOnMultipleFields, when the builder reaches the second field's value: the
    // first two fields named, at that value's token.
    private static void ThrowIfSecondField(string type, JsonObject spec, string? first, string field)
    {
        if (first is not null)
        {
            throw Stood(EsException.Parsing($"[{type}] query doesn't support multiple fields, found [{first}] and [{field}]", JsonLocations.OfValue(spec, field)));
        }
    }

    // TermsQueryBuilder.fromXContent: one field with an array of values (a second: "[terms] query does not support
    // multiple fields"; a null among them: "No value specified for terms query"), or a lookup object; beside it only
    // boost and _name ("[terms] query does not support [x]" for another value, "unknown token [VALUE_NULL] after [x]"
    // for a null); no field at all, at the query's closing brace. Each at the parser's place; they were refused only when
    // the query ran, in words of this backend's own.
    // OpenSearch's TermsQueryBuilder.fromXContent (2.17 on) reads value_type beside boost and _name, then
    // ValueType.fromString: "default" or "bitmap" in any case, else "<text> is not valid value_type". This backend has no
    // bitmap field type, so a bitmap is refused in its own words.
    private static void CheckTermsQuery(JsonObject spec, SearchFlavor flavor)
    {
        string? field = null;
        string? valueType = null;
        foreach (var (key, value) in spec)
        {
            var at = JsonLocations.OfValue(spec, key);
            switch (value)
            {
                case JsonArray values when field is not null:
                    throw Stood(EsException.Parsing("[terms] query does not support multiple fields", at));
                case JsonArray values:
                    field = key;
                    for (var i = 0; i < values.Count; i++)
                    {
                        if (values[i] is null)
                        {
                            throw Stood(EsException.Parsing("No value specified for terms query", JsonLocations.OfElement(values, i)));
                        }
                    }

                    break;
                case JsonObject when field is not null:
                    throw Stood(EsException.Parsing($"[terms] query does not support more than one field. Already got: [{field}] but also found [{key}]", at));
                case JsonObject:
                    field = key;
                    break;
                case JsonValue when flavor == SearchFlavor.OpenSearch && key == ValueTypeOption:
                    valueType = ValueText(value);
                    break;
                case JsonValue when key is not ("boost" or "_name"):
                    throw Stood(EsException.Parsing($"[terms] query does not support [{key}]", at));
                case JsonValue:
                    break;
                default:
                    throw Stood(EsException.Parsing($"[terms] unknown token [{RequestJson.TokenName(value)}] after [{key}]", at));
            }
        }

        if (field is null)
        {
            throw Stood(EsException.Parsing("[terms] query requires a field name, followed by array of terms or a document lookup specification", JsonLocations.OfLast(spec)));
        }

        if (valueType is not null && !valueType.Equals("default", StringComparison.OrdinalIgnoreCase))
        {
            throw Stood(valueType.Equals("bitmap", StringComparison.OrdinalIgnoreCase)
                ? EsException.IllegalArgument("[terms] value_type [bitmap] is not supported by the embedded backend, which has no bitmap field type")
                : EsException.IllegalArgument($"{valueType} is not valid {ValueTypeOption}"));
        }
    }

    private const string ValueTypeOption = "value_type";

    // MatchNoneQueryBuilder.fromXContent: _name and boost, as values; another value "[match_none] query does not support
    // [x]", anything else "unknown token [START_OBJECT] after [x]", at that value. (They were taken and ignored.)
    private static void CheckMatchNone(JsonObject spec)
    {
        foreach (var (key, value) in spec)
        {
            if (value is not JsonValue || key is not ("_name" or "boost"))
            {
                throw Stood(EsException.Parsing(value is JsonValue ? $"[match_none] query does not support [{key}]"
                    : $"[match_none] unknown token [{RequestJson.TokenName(value)}] after [{key}]", JsonLocations.OfValue(spec, key)));
            }
        }
    }

    // RangeQueryBuilder.fromXContent: a field's object, one only; a value beside it (boost and _name too, which it reads
    // only inside the field's object) is "[range] query does not support [x]" at that value.
    private static void CheckRangeFields(JsonObject spec)
    {
        string? first = null;
        foreach (var (field, value) in spec)
        {
            if (value is JsonValue)
            {
                throw Stood(EsException.Parsing($"[range] query does not support [{field}]", JsonLocations.OfValue(spec, field)));
            }

            if (value is JsonObject)
            {
                ThrowIfSecondField("range", spec, first, field);
                first = field;
            }
        }

        // RangeQueryBuilder.relation, once the whole query is read (the parser on its closing brace): a name
        // ShapeRelation.getRelationByName does not know (any case), or disjoint, which a range query refuses. (Both were
        // taken, and the range searched as intersects.)
        if (first is not null && spec[first] is JsonObject options && options["relation"] is JsonValue relation)
        {
            ValueRead(() => RangeRelation(ValueText(relation)!), JsonLocations.OfLast(spec));
        }
    }

    private static void RangeRelation(string relation)
    {
        switch (relation.ToLowerInvariant())
        {
            case "intersects" or "within" or "contains":
                return;
            case "disjoint":
                throw EsException.IllegalArgument($"[range] query does not support relation [{relation}]");
            default:
                throw EsException.IllegalArgument($"{relation} is not a valid relation");
        }
    }

    // An error of a value fromXContent reads (or of a setter it calls) says where the parser stood, for a bool that
    // wraps it: the value, or the query's closing brace.
    private static void ValueRead(Action read, Location? at)
    {
        try
        {
            read();
        }
        catch (EsException e)
        {
            throw Stood(e, e.At ?? at);
        }
    }

    // MultiMatchQueryBuilder.fromXContent: fields as an array or a value, every other option a value it reads ("[multi_match]
    // query does not support [x]" for another, "unknown token [START_OBJECT] after [x]" for an object or array), those
    // it shares with match checked as match's are; then "Fuzziness not allowed for type [phrase]" (and phrase_prefix,
    // cross_fields) and its setters. (OpenSearch's, whose options this backend does not list, is not checked for names.)
    // MultiMatchQueryBuilder.parseFieldAndBoost reads each element of fields with the parser's text(): a null, object or
    // array is JsonXContentParser.throwOnNoText's IllegalStateException (Elasticsearch's 500), at that element.
    private static void CheckFieldsElements(JsonArray fields)
    {
        for (var i = 0; i < fields.Count; i++)
        {
            if (fields[i] is null or JsonObject or JsonArray)
            {
                var at = JsonLocations.OfElement(fields, i);
                throw Stood(EsException.Foreign(500, "illegal_state_exception",
                    $"Can't get text on a {RequestJson.TokenName(fields[i])} at {(at is { } l ? $"{l.Line}:{l.Column}" : "null")}"), at);
            }
        }
    }

    private static void CheckMultiMatch(JsonObject spec, SearchFlavor flavor)
    {
        foreach (var (option, value) in spec)
        {
            var at = JsonLocations.OfValue(spec, option);
            if (flavor == SearchFlavor.Elasticsearch && option == "fields" && value is not (JsonArray or JsonValue))
            {
                throw Stood(EsException.Parsing("[multi_match] query does not support [fields]", at));
            }

            if (option == "fields" && value is JsonArray fields)
            {
                CheckFieldsElements(fields);
            }

            if (flavor == SearchFlavor.Elasticsearch && option != "fields" && value is not JsonValue)
            {
                throw Stood(EsException.Parsing($"[multi_match] unknown token [{RequestJson.TokenName(value)}] after [{option}]", at));
            }

            if (flavor == SearchFlavor.Elasticsearch && option != "fields" && !MultiMatchOptions.Contains(option))
            {
                throw Stood(EsException.Parsing($"[multi_match] query does not support [{option}]", at));
            }

            if (value is JsonValue v)
            {
                ValueRead(() => MatchOptions.Check("multi_match", spec, option, v), at);
            }
        }

        if (spec["fuzziness"] is not null && ValueText(spec["type"]) is "phrase" or "phrase_prefix" or "cross_fields")
        {
            throw Stood(EsException.Parsing($"Fuzziness not allowed for type [{ValueText(spec["type"])}]", JsonLocations.OfLast(spec)));
        }

        ValueRead(() => MatchOptions.CheckSetters("multi_match", spec), JsonLocations.OfLast(spec));
    }

    // BoolQueryBuilder's ObjectParser: a field it does not declare is "[1:20] [bool] unknown field [x]" (at the field's
    // name, with ErrorOnUnknown's suggestion); a clause that fails is wrapped, "[bool] failed to parse field [must]",
    // where the parser stood when it failed.
    private static void CheckBool(JsonObject spec, SearchFlavor flavor, ICollection<string>? deprecations)
    {
        foreach (var (key, value) in spec)
        {
            if (!BoolFields.Contains(key))
            {
                // Said at the field's name; the parser itself stands on its value (where a wrapping bool says it failed).
                throw Stood(EsException.XContentParse($"[bool] unknown field [{key}]{Suggestions.DidYouMean(key, BoolFields)}", JsonLocations.OfName(spec, key)), JsonLocations.OfValue(spec, key));
            }

            if (key == "mustNot")
            {
                // ParseField("must_not").withDeprecation("mustNot"), matched by ObjectParser's assertSupports once the parser
                // stands on the value: LoggingDeprecationHandler.logRenamedField's "[bool][1:29] " prefix is the parser's
                // name and that value token's place (XContentLocation's "line:col").
                var at = JsonLocations.OfValue(spec, key) ?? new Location(-1, -1);
                deprecations?.Add($"[bool][{at.Line}:{at.Column}] Deprecated field [mustNot] used, expected [must_not] instead");
            }

            if (key is not ("must" or "should" or "filter" or "must_not" or "mustNot") || value is null)
            {
                continue;
            }

            if (value is JsonValue)
            {
                // ObjectParser's assertSupports: an object, an array or null.
                var at = JsonLocations.OfValue(spec, key);
                throw Stood(EsException.XContentParse($"[bool] {key} doesn't support values of type: {RequestJson.TokenName(value)}", at), at);
            }

            foreach (var clause in value is JsonArray clauses ? clauses.ToArray() : [value])
            {
                try
                {
                    CheckNames(clause, flavor, deprecations);
                }
                catch (EsException e)
                {
                    var at = StoodAt.TryGetValue(e, out var stood) ? stood.Value : e.At;
                    throw Stood(EsException.XContentParse($"[bool] failed to parse field [{key}]", at, e), at);
                }
            }
        }
    }

    // QueryStringQueryBuilder.fromXContent and SimpleQueryStringBuilder.fromXContent (OpenSearch's read the same names):
    // an array is fields alone ("[query_string] query does not support [x]" for another), a value one of the options they
    // read (another: query_string's "does not support [x]", simple_query_string's "unsupported field [x]"; a string
    // fields too), an object or null "unknown token [START_OBJECT] after [x]", each at that value; no query at all, at
    // the query's closing brace. (Unknown options were taken and ignored: a misspelt default_operater searched with OR.)
    private static void CheckQueryStringOptions(string type, JsonObject spec)
    {
        var known = type == "query_string" ? QueryStringOptions : SimpleQueryStringOptions;
        foreach (var (option, value) in spec)
        {
            var at = JsonLocations.OfValue(spec, option);
            switch (value)
            {
                case JsonArray when option != "fields":
                    throw Stood(EsException.Parsing($"[{type}] query does not support [{option}]", at));
                case JsonArray:
                    break;
                case JsonValue when !known.Contains(option):
                    throw Stood(EsException.Parsing(type == "query_string" ? $"[{type}] query does not support [{option}]" : $"[{type}] unsupported field [{option}]", at));
                case JsonValue v:
                    // The values fromXContent reads with intValue(), booleanValue(), Fuzziness.parse and Operator.fromString,
                    // refused there (a default_operator other than and or or searched with OR).
                    ValueRead(() => _ = option switch
                    {
                        "phrase_slop" or "fuzzy_prefix_length" or "fuzzy_max_expansions" or "max_determinized_states" => XContentInt.Read(option, v),
                        "fuzziness" => Fuzziness.Parse(v).AsDistance(string.Empty),
                        "default_operator" => MatchOptions.IsAnd(v) ? 1 : 0,
                        "escape" or "enable_position_increments" or "fuzzy_transpositions" or "lenient" or "allow_leading_wildcard" or "analyze_wildcard"
                            or "auto_generate_synonyms_phrase_query" => RequestJson.BooleanValue(v) == true ? 1 : 0,
                        _ => 0,
                    }, at);
                    break;
                default:
                    throw Stood(EsException.Parsing($"[{type}] unknown token [{RequestJson.TokenName(value)}] after [{option}]", at));
            }
        }

        if (!spec.ContainsKey("query"))
        {
            throw Stood(EsException.Parsing(type == "query_string" ? "[query_string] must be provided with a [query]" : "[simple_query_string] query text missing", JsonLocations.OfLast(spec)));
        }
    }

    // The value options QueryStringQueryBuilder.fromXContent reads (fields is an array).
    private static readonly HashSet<string> QueryStringOptions =
    [
        "query", "default_field", "default_operator", "analyzer", "quote_analyzer", "allow_leading_wildcard", "max_determinized_states",
        "enable_position_increments", "escape", "fuzzy_prefix_length", "fuzzy_max_expansions", "fuzzy_rewrite", "phrase_slop", "fuzziness",
        "boost", "type", "tie_breaker", "analyze_wildcard", "rewrite", "minimum_should_match", "quote_field_suffix", "lenient", "time_zone",
        "_name", "auto_generate_synonyms_phrase_query", "fuzzy_transpositions",
    ];

    // The value options SimpleQueryStringBuilder.fromXContent reads (fields is an array).
    private static readonly HashSet<string> SimpleQueryStringOptions =
    [
        "query", "boost", "analyzer", "default_operator", "flags", "lenient", "analyze_wildcard", "_name", "minimum_should_match",
        "quote_field_suffix", "auto_generate_synonyms_phrase_query", "fuzzy_prefix_length", "fuzzy_max_expansions", "fuzzy_transpositions",
    ];

    // The value options MultiMatchQueryBuilder.fromXContent reads (beside fields).
    private static readonly HashSet<string> MultiMatchOptions =
    [
        "query", "type", "analyzer", "boost", "slop", "fuzziness", "prefix_length", "max_expansions", "operator", "minimum_should_match",
        "fuzzy_rewrite", "tie_breaker", "lenient", "zero_terms_query", "_name", "auto_generate_synonyms_phrase_query", "fuzzy_transpositions",
    ];

    /// <summary>
    /// An <c>ObjectParser</c>'s reading of <paramref name="spec"/>'s fields, in order, the one walk for queries,
    /// aggregations, <c>highlight</c> and sorts: each field it declares is given to <paramref name="read"/> (its value's
    /// checks) before the next is met; the first it does not declare is <c>ErrorOnUnknown</c>'s 400
    /// <c>x_content_parse_exception</c> "[1:45] [terms] unknown field [sise] did you mean [size]?", at the field's name,
    /// thrown as <paramref name="refuse"/> makes it what the caller's parser throws (a rethrow, a wrapping), or, where
    /// that is null, ending the walk.
    /// </summary>
    /// <param name="parser">The parser's name.</param>
    /// <param name="spec">The object it reads.</param>
    /// <param name="declared">The fields it declares.</param>
    /// <param name="read">What reading a declared field checks, given its name and value; null: nothing.</param>
    /// <param name="refuse">The error thrown for the unknown field's error and name; null: that error itself.</param>
    internal static void ReadFields(string parser, JsonObject spec, string[] declared, Action<string, JsonNode?>? read = null, Func<EsException, string, EsException?>? refuse = null)
    {
        foreach (var (key, value) in spec)
        {
            if (!declared.Contains(key))
            {
                var unknown = EsException.XContentParse($"[{parser}] unknown field [{key}]{Suggestions.DidYouMean(key, declared)}", JsonLocations.OfName(spec, key));
                if ((refuse is null ? unknown : refuse(unknown, key)) is { } error)
                {
                    throw error;
                }

                return;
            }

            read?.Invoke(key, value);
        }
    }

    // IdsQueryBuilder's ObjectParser reads values with declareStringArray (ValueType.STRING_ARRAY): an array, or one
    // string as a list of one (it was refused); another token is assertSupports' "[ids] values doesn't support values
    // of type: VALUE_NUMBER", an element with no text (null, an object) JsonXContentParser's IllegalStateException and
    // an array in it parseArray's ("expected value but got [START_ARRAY]"), wrapped "[ids] failed to parse field [values]";
    // each rethrown by fromXContent as a ParsingException where the parser stands, once the fields before it are read.
    private static void CheckIdsValue(JsonObject spec, string key, JsonNode? value)
    {
        if (key == "values")
        {
            CheckStringArray("ids", spec, key, value);
        }
    }

    // An ObjectParser's declareStringArray field (IdsQueryBuilder's values, PinnedQueryBuilder's ids), as CheckIdsValue says.
    private static void CheckStringArray(string parser, JsonObject spec, string key, JsonNode? value)
    {
        if (value is JsonValue { } v && v.GetValueKind() == JsonValueKind.String)
        {
            return;
        }

        if (value is not JsonArray values)
        {
            var at = JsonLocations.OfValue(spec, key);
            var unsupported = EsException.XContentParse($"[{parser}] {key} doesn't support values of type: {RequestJson.TokenName(value)}", at);
            throw Stood(EsException.Parsing(unsupported.Message, at, unsupported));
        }

        for (var i = 0; i < values.Count; i++)
        {
            if (values[i] is null or JsonObject or JsonArray)
            {
                var at = JsonLocations.OfElement(values, i);
                var noText = EsException.Foreign(500, "illegal_state_exception", values[i] is JsonArray
                    ? "expected value but got [START_ARRAY]" // AbstractObjectParser.parseArray, before the element is read
                    : $"Can't get text on a {RequestJson.TokenName(values[i])} at {(at is { } l ? $"{l.Line}:{l.Column}" : "null")}");
                var failed = EsException.XContentParse($"[{parser}] failed to parse field [{key}]", at, noText);
                throw Stood(EsException.Parsing(failed.Message, at, failed));
            }
        }
    }

    // The fields PinnedQueryBuilder's ConstructingObjectParser declares: organic, ids and docs its constructor's
    // arguments (organic required), and declareStandardFields' boost and _name.
    private static readonly string[] PinnedFields = ["organic", "ids", "docs", "boost", "_name"];

    // The fields SpecifiedDocument's ConstructingObjectParser ("item") declares: _index optional, _id required.
    private static readonly string[] PinnedDocFields = ["_index", "_id"];

    // PinnedQueryBuilder.fromXContent: its ConstructingObjectParser reads the fields in order, and fromXContent rethrows
    // each IllegalArgumentException (XContentParseException is one) as a ParsingException of its message where the parser
    // stands. The builder (the constructor's checks: exactly one of ids and docs, at most 100 of them, none twice) runs
    // when the last of its three arguments arrives (wrapped "failed to parse field" at that value), or once the object
    // has ended (at its closing brace), each "Failed to build [pinned] after last required field arrived".
    private static void CheckPinned(JsonObject spec, SearchFlavor flavor, ICollection<string>? deprecations)
    {
        var arrived = 0;
        ReadFields("pinned", spec, PinnedFields, (key, value) =>
        {
            switch (key)
            {
                case "organic" when value is not JsonObject:
                    var valueAt = JsonLocations.OfValue(spec, key);
                    throw Rethrown(EsException.XContentParse($"[pinned] organic doesn't support values of type: {RequestJson.TokenName(value)}", valueAt), valueAt);
                case "organic":
                    try
                    {
                        CheckNames(value, flavor, deprecations);
                    }
                    catch (EsException e)
                    {
                        var at = StoodAt.TryGetValue(e, out var stood) ? stood.Value : e.At;
                        throw Rethrown(EsException.XContentParse("[pinned] failed to parse field [organic]", at, e), at);
                    }

                    break;
                case "ids":
                    CheckStringArray("pinned", spec, key, value);
                    break;
                case "docs":
                    CheckPinnedDocs(spec, value);
                    break;
                default:
                    return;
            }

            if (++arrived == 3)
            {
                var at = JsonLocations.OfLast(value!);
                throw Rethrown(EsException.XContentParse($"[pinned] failed to parse field [{key}]", at, PinnedBuildFailed(spec)!), at);
            }
        }, (unknown, key) => Rethrown(unknown, JsonLocations.OfValue(spec, key)));

        var end = JsonLocations.OfLast(spec);
        if (!spec.ContainsKey("organic"))
        {
            throw Stood(EsException.Parsing("Required [organic]", end, EsException.IllegalArgument("Required [organic]")));
        }

        if (PinnedBuildFailed(spec) is { } failed)
        {
            throw Rethrown(failed, end);
        }
    }

    // fromXContent's rethrow of an IllegalArgumentException: a ParsingException of its message, caused by it.
    private static EsException Rethrown(EsException e, Location? at) => Stood(EsException.Parsing(e.Message, at, e), at);

    // PinnedQueryBuilder's constructor, as ConstructingObjectParser.buildTarget wraps its IllegalArgumentException; null
    // when it builds.
    private static EsException? PinnedBuildFailed(JsonObject spec)
    {
        var refusal = PinnedRefusal(spec);
        return refusal is null ? null
            : EsException.XContentParse("Failed to build [pinned] after last required field arrived", null, EsException.IllegalArgument(refusal));
    }

    private static string? PinnedRefusal(JsonObject spec)
    {
        const int MaxPinnedHits = 100; // PinnedQueryBuilder.MAX_NUM_PINNED_HITS
        var (hasIds, hasDocs) = (spec.ContainsKey("ids"), spec.ContainsKey("docs"));
        if (hasIds == hasDocs)
        {
            return hasIds ? "[pinned] ids and docs cannot both be used" : "[pinned] ids and docs cannot both be null";
        }

        var pins = PinnedDocuments(spec);
        var what = hasIds ? "ids" : "docs";
        if (pins.Count > MaxPinnedHits)
        {
            return $"[pinned] Max of {MaxPinnedHits} {what} exceeded: {pins.Count} provided.";
        }

        var seen = new HashSet<(string?, string)>();
        foreach (var pin in pins)
        {
            if (!seen.Add(pin))
            {
                // SpecifiedDocument.toString: Strings.toString(this, pretty, human), Jackson's pretty printer.
                return hasIds ? $"[pinned] duplicate id found in list: {pin.Id}"
                    : $"[pinned] duplicate doc found in list: {{\n{(pin.Index is null ? "" : $"  \"_index\" : {JsonSerializer.Serialize(pin.Index)},\n")}  \"_id\" : {JsonSerializer.Serialize(pin.Id)}\n}}";
            }
        }

        return null;
    }

    // docs: declareObjectArray of SpecifiedDocument's parser (ValueType.OBJECT_ARRAY: an object is a list of one). An
    // item's errors are wrapped "[pinned] failed to parse field [docs]" where the parser stands.
    private static void CheckPinnedDocs(JsonObject spec, JsonNode? value)
    {
        var at = JsonLocations.OfValue(spec, "docs");
        if (value is not (JsonObject or JsonArray))
        {
            throw Rethrown(EsException.XContentParse($"[pinned] docs doesn't support values of type: {RequestJson.TokenName(value)}", at), at);
        }

        foreach (var item in value is JsonArray items ? items.ToArray() : [value])
        {
            if (item is not JsonObject doc)
            {
                // ObjectParser.parse reads on to the token after a non-object item and names it: not followed here.
                throw Rethrown(EsException.XContentParse("[pinned] failed to parse field [docs]", at,
                    EsException.XContentParse($"[item] Expected START_OBJECT but was: {RequestJson.TokenName(item)}", at)), at);
            }

            EsException? failed = null;
            Location? stood = null;
            ReadFields("item", doc, PinnedDocFields, (key, v) =>
            {
                if (failed is null && (v is not JsonValue s || s.GetValueKind() != JsonValueKind.String))
                {
                    // declareString: ValueType.STRING.
                    stood = JsonLocations.OfValue(doc, key);
                    failed = EsException.XContentParse($"[item] {key} doesn't support values of type: {RequestJson.TokenName(v)}", stood);
                }
            }, (unknown, key) =>
            {
                if (failed is null)
                {
                    (stood, failed) = (JsonLocations.OfValue(doc, key), unknown);
                }

                return null;
            });

            if (failed is null && !doc.ContainsKey("_id"))
            {
                (stood, failed) = (JsonLocations.OfLast(doc), EsException.IllegalArgument("Required [_id]"));
            }

            if (failed is null && doc["_index"] is JsonValue index && ValueText(index)!.Contains('*', StringComparison.Ordinal))
            {
                // SpecifiedDocument's constructor (Regex.isSimpleMatchPattern), built when the second argument arrives.
                var last = doc.Last().Key;
                stood = JsonLocations.OfValue(doc, last);
                failed = EsException.XContentParse($"[item] failed to parse field [{last}]", stood,
                    EsException.XContentParse("Failed to build [item] after last required field arrived", null,
                        EsException.IllegalArgument("Item index cannot contain wildcard expressions")));
            }

            if (failed is not null)
            {
                throw Rethrown(EsException.XContentParse("[pinned] failed to parse field [docs]", stood, failed), stood);
            }
        }
    }

    // The fields those ObjectParsers declare (declareStandardFields: boost and _name).
    private static readonly Dictionary<string, string[]> ObjectParserFields = new(StringComparer.Ordinal)
    {
        ["match_all"] = ["boost", "_name"],
        ["ids"] = ["values", "boost", "_name"],
    };

    // The fields BoolQueryBuilder's ObjectParser declares, each name it answers to (must_not's deprecated mustNot too).
    private static readonly string[] BoolFields =
        ["must", "should", "must_not", "mustNot", "filter", "adjust_pure_negative", "minimum_should_match", "_name", "boost"];

    // Where the parser stood when an error of CheckNames was raised: ObjectParser wraps a clause's error at that place.
    private static readonly ConditionalWeakTable<EsException, StrongBox<Location?>> StoodAt = [];

    private static EsException Stood(EsException e, Location? at = null)
    {
        StoodAt.AddOrUpdate(e, new StrongBox<Location?>(at ?? e.At));
        return e;
    }

    // A query is an object of one name: {"match": {...}}.
    private static (string Type, JsonNode? Body) Named(JsonNode node)
    {
        if (node is not JsonObject obj || obj.Count != 1)
        {
            throw EsException.Parsing(node is JsonObject { Count: > 1 } many
                ? $"[{many.First().Key}] malformed query, expected [END_OBJECT] but found [FIELD_NAME]"
                : "query malformed, must start with start_object");
        }

        var (type, body) = obj.First();
        return (type, body);
    }

    private static EsException Unknown(string type, SearchFlavor flavor) =>
        EsException.Parsing($"unknown query [{type}]: the embedded search backend supports {string.Join(", ", SupportedBy(flavor))}");

    private static JsonObject Obj(string type, JsonNode? body) =>
        body as JsonObject ?? throw EsException.Parsing($"[{type}] query malformed, no start_object after query name");

    // {"match": {"field": "text"}} or {"match": {"field": {"query": "text", ...}}}
    private static Query FieldQuery(string type, JsonNode? body, Func<string, JsonObject, Query> build)
    {
        var obj = Obj(type, body);
        var fields = obj.ToArray();
        if (fields.Length != 1)
        {
            // AbstractQueryBuilder.throwParsingExceptionOnMultipleFields, when the builder reaches the second field's value:
            // the first two fields named, at that value's token.
            throw fields.Length == 0
                ? EsException.Parsing($"[{type}] query doesn't support multiple fields, found []")
                : EsException.Parsing($"[{type}] query doesn't support multiple fields, found [{fields[0].Key}] and [{fields[1].Key}]", JsonLocations.OfValue(obj, fields[1].Key));
        }

        var (field, spec) = fields[0];
        var normalized = spec is JsonObject o ? o : new JsonObject { [type == "range" ? "_invalid" : type == "term" ? "value" : "query"] = spec?.DeepClone() };
        if (type == "range" && spec is not JsonObject)
        {
            throw EsException.Parsing($"[range] query malformed, no start_object after field [{field}]");
        }

        return Boosted(build(field, normalized), normalized);
    }

    // MatchQueryParser.parse: an unmapped field matches nothing; a field searched with its own analyzer and not text
    // (keyword, numbers, dates, booleans: Lucene.KEYWORD_ANALYZER) is one term of the whole text; otherwise the text is
    // analysed (with the query's analyzer when it names one, which doToQuery resolves first), no term at all being
    // zero_terms_query's answer, and each term is the field's term query, or its fuzzy query with fuzziness.
    private Query Match(string type, string field, JsonObject spec, bool phrase)
    {
        var text = ValueText(spec["query"]) ?? throw EsException.Parsing($"[match] requires query value for field [{field}]");
        var options = MatchOptions.Read(type, spec);
        var analyzer = options.Analyzer is { } name ? BuiltInAnalyzers.Get(type, name, _index) : null;
        var rewrite = FuzzyRewrite(options.FuzzyRewrite);
        var mapping = _index.Mapping.Get(field);
        if (mapping is null)
        {
            return new BooleanQuery(); // unmapped: matches nothing, as in Elasticsearch
        }

        if (mapping.Kind != FieldKind.Text && (analyzer is null || phrase))
        {
            return FieldTerm(field, mapping, text, options, rewrite);
        }

        var terms = Analyze(analyzer ?? _analyzer, field, text);
        if (terms.Count == 0)
        {
            return options.ZeroTermsAll ? new MatchAllDocsQuery() : new BooleanQuery();
        }

        if (phrase)
        {
            var pq = new PhraseQuery { Slop = spec["slop"] is { } slop ? XContentInt.Read("slop", slop) : 0 };
            foreach (var (term, position) in terms)
            {
                pq.Add(new Term(field, term), position);
            }

            return pq;
        }

        if (terms.Count == 1)
        {
            return FieldTerm(field, mapping, terms[0].Term, options, rewrite);
        }

        var and = MatchOptions.IsAnd(spec["operator"]);
        var bq = new BooleanQuery();
        foreach (var (term, _) in terms)
        {
            bq.Add(FieldTerm(field, mapping, term, options, rewrite), and ? Occur.MUST : Occur.SHOULD);
        }

        if (!and && spec["minimum_should_match"] is { } msm)
        {
            bq.MinimumNumberShouldMatch = MinimumShouldMatch(msm, terms.Count);
        }

        return bq;
    }

    // doToQuery's QueryParsers.parseRewriteMethod: a name it does not know fails the shard, SearchExecutionContext.toQuery
    // wrapping its exception in "failed to create query: ..".
    private MultiTermQuery.RewriteMethod? FuzzyRewrite(string? name)
    {
        try
        {
            return MatchOptions.RewriteMethod(name);
        }
        catch (EsException e)
        {
            throw ShardSearchException.QueryShard(_index, $"failed to create query: {e.Message}", e);
        }
    }

    // MatchQueryParser's newTermQuery: the field's term query, or with fuzziness its fuzzyQuery (StringFieldType's
    // FuzzyQuery (Lucene 10's: ElasticFuzzyQuery) of fuzziness.asDistance(term) edits, prefix_length, max_expansions and
    // fuzzy_transpositions; any other
    // type's "Can only use fuzzy queries on keyword and text fields"); with lenient, a term the field cannot take
    // matches nothing (Queries.newLenientFieldQuery) rather than failing the shard.
    private Query FieldTerm(string field, FieldMapping mapping, string value, MatchOptions options, MultiTermQuery.RewriteMethod? rewrite)
    {
        try
        {
            if (options.Fuzziness is not { } fuzziness)
            {
                return mapping.Kind == FieldKind.Text ? new TermQuery(new Term(field, value)) : ExactValue(field, mapping, value);
            }

            if (mapping.Kind is not (FieldKind.Text or FieldKind.Keyword))
            {
                var message = $"Can only use fuzzy queries on keyword and text fields - not on [{field}] which is of type [{mapping.Kind.ToString().ToLowerInvariant()}]";
                throw ShardSearchException.QueryShard(_index, $"failed to create query: {message}", EsException.IllegalArgument(message));
            }

            var fuzzy = new ElasticFuzzyQuery(new Term(field, value), fuzziness.AsDistance(value), options.PrefixLength, options.MaxExpansions, options.Transpositions);
            if (rewrite is not null)
            {
                fuzzy.MultiTermRewriteMethod = rewrite;
            }

            return fuzzy;
        }
        catch (ShardSearchException) when (options.Lenient)
        {
            return new BooleanQuery();
        }
    }

    private Query MultiMatch(JsonObject spec)
    {
        var text = ValueText(spec["query"]) ?? throw EsException.Parsing("[multi_match] requires query value");
        var type = ValueText(spec["type"]) ?? "best_fields";
        if (type is not ("best_fields" or "most_fields" or "phrase"))
        {
            throw EsException.Parsing($"[multi_match] type [{type}] is not supported by the embedded search backend (supported: best_fields, most_fields, phrase)");
        }

        // MultiMatchQueryBuilder: fields as an array or one string; none is index.query.default_field ("*"). A pattern
        // takes every field with text search (QueryParserHelper.resolveMappingField: numbers, dates and booleans too, as
        // query_string does), and a search over "*" is lenient unless lenient is given (doToQuery's isAllField).
        string[] fields = spec["fields"] switch
        {
            JsonArray { Count: > 0 } arr => [.. arr.Select(f => ValueText(f)!)],
            JsonValue one => [ValueText(one)!],
            _ => ["*"],
        };
        if (spec["lenient"] is null && fields.Any(f => SplitBoost(f).Field == "*"))
        {
            spec = (JsonObject)spec.DeepClone();
            spec["lenient"] = true;
        }

        var perField = new List<Query>();
        foreach (var raw in fields)
        {
            var (pattern, boost) = SplitBoost(raw);
            foreach (var field in ExpandFields(pattern, everyType: true))
            {
                var q = Match("multi_match", field, spec, phrase: type == "phrase");
                q.Boost *= boost;
                perField.Add(q);
            }
        }

        if (type == "most_fields")
        {
            var bq = new BooleanQuery();
            perField.ForEach(q => bq.Add(q, Occur.SHOULD));
            return bq;
        }

        var dis = new DisjunctionMaxQuery(spec["tie_breaker"] is { } tb ? FloatValue("tie_breaker", tb) : 0f);
        perField.ForEach(dis.Add);
        return dis;
    }

    private Query Term(string field, JsonObject spec)
    {
        var value = ValueText(spec["value"]) ?? throw EsException.Parsing($"[term] query malformed: no value for field [{field}]");
        var mapping = _index.Mapping.Get(field);
        if (mapping is not null && RequestJson.BooleanValue(spec["case_insensitive"]) == true)
        {
            switch (mapping.Kind)
            {
                case FieldKind.Text or FieldKind.Keyword:
                    return CaseInsensitiveTerm(field, value);
                case FieldKind.Boolean:
                    break; // TermBasedFieldType's: the indexed T or F, either case of which is itself.
                default:
                    // MappedFieldType.termQueryCaseInsensitive, which a number or date field does not override: its
                    // QueryShardException, which SearchExecutionContext.toQuery lets through unwrapped.
                    throw ShardSearchException.QueryShard(_index, $"[{field}] field which is of type [{mapping.Kind.ToString().ToLowerInvariant()}], does not support case insensitive term queries");
            }
        }

        return mapping is null ? new BooleanQuery() : mapping.Kind == FieldKind.Text ? new TermQuery(new Term(field, value)) : ExactValue(field, mapping, value);
    }

    // StringFieldType.termQueryCaseInsensitive (AutomatonQueries.caseInsensitiveTermQuery): each code point, or its other
    // case (Character.toUpperCase of a lower-case one, else toLowerCase). case_insensitive was read and ignored.
    private static AutomatonQuery CaseInsensitiveTerm(string field, string value)
    {
        var chars = value.EnumerateRunes().Select(r =>
        {
            var other = Rune.IsLower(r) ? Rune.ToUpperInvariant(r) : Rune.ToLowerInvariant(r);
            var one = BasicAutomata.MakeChar(r.Value);
            return other == r ? one : BasicOperations.Union(one, BasicAutomata.MakeChar(other.Value));
        }).ToList();
        return new AutomatonQuery(new Term(field, value), chars.Count == 0 ? BasicAutomata.MakeEmptyString() : BasicOperations.Concatenate(chars));
    }

    private Query Terms(JsonObject spec)
    {
        var fields = spec.Where(p => p.Key is not ("boost" or "_name" or ValueTypeOption)).ToArray();
        if (fields.Length != 1 || fields[0].Value is not JsonArray values)
        {
            throw EsException.Parsing("[terms] query requires exactly one field with an array of values");
        }

        var field = fields[0].Key;
        var mapping = _index.Mapping.Get(field);
        if (mapping is null)
        {
            return Boosted(new ConstantScoreQuery(new BooleanQuery()), spec);
        }

        // TermsQueryBuilder.doToQuery: index.max_terms_count (65,536 by default) bounds the values, on a mapped field.
        if (values.Count > MaxTermsCount)
        {
            var message = $"The number of terms [{values.Count}] used in the Terms Query request has exceeded the allowed maximum of [{MaxTermsCount}]. "
                + "This maximum can be set by changing the [index.max_terms_count] index level setting.";
            throw ShardSearchException.QueryShard(_index, $"failed to create query: {message}", EsException.Foreign(400, "illegal_argument_exception", message));
        }

        return Boosted(new ConstantScoreQuery(AnyOf(values.Select(v =>
        {
            var text = ValueText(v) ?? throw EsException.Parsing($"[terms] query does not support null values for field [{field}]");
            return mapping.Kind == FieldKind.Text ? new TermQuery(new Term(field, text)) : ExactValue(field, mapping, text);
        }))), spec);
    }

    private const int MaxTermsCount = 65_536;

    /// <summary>
    /// A query matching any of <paramref name="queries"/>: a terms or ids query's values, as Elasticsearch's term-set
    /// query matches them, with no clause limit. Lucene's BooleanQuery takes at most 1,024 clauses (a 500
    /// "maxClauseCount is set to 1024" past it), so the values are held in nested groups of at most that many.
    /// </summary>
    private static Query AnyOf(IEnumerable<Query> queries)
    {
        var groups = queries.Chunk(BooleanQuery.MaxClauseCount).Select(chunk =>
        {
            var bq = new BooleanQuery();
            foreach (var q in chunk)
            {
                bq.Add(q, Occur.SHOULD);
            }

            return (Query)bq;
        }).ToArray();
        return groups.Length == 1 ? groups[0] : groups.Length == 0 ? new BooleanQuery() : AnyOf(groups);
    }

    /// <summary>
    /// PinnedQueryBuilder's MAX_ORGANIC_SCORE, <c>Float.intBitsToFloat(0xfe &lt;&lt; 23) - 1</c>: 2^127 (the 1 is lost to
    /// float rounding), the highest organic score; the pins score in the floats just above it.
    /// </summary>
    internal static readonly float MaxOrganicScore = BitConverter.Int32BitsToSingle(0xfe << 23) - 1;

    // PinnedQueryBuilder.doToQuery: the organic query capped at MAX_ORGANIC_SCORE (CappedScoreQuery), and each pin a
    // constant score of its own just above the cap, the first pin the highest (NumericUtils.sortableIntToFloat of
    // minPin + count, counting down; a pin of another index keeps its place in the count), the two joined by a dis_max
    // of tie breaker 0, so that a pin the organic query matches too scores as a pin. No pins: the capped organic alone.
    private Query Pinned(JsonObject spec)
    {
        var organic = Translate(spec["organic"]);

        // The organic query's own boost is a BoostQuery around it in Lucene 9, which CappedScoreQuery.rewrite unwraps.
        organic.Boost = 1f;
        var capped = new CappedScoreQuery(organic, MaxOrganicScore);
        var pins = PinnedDocuments(spec);
        if (pins.Count == 0)
        {
            return Boosted(capped, spec);
        }

        var pinned = new DisjunctionMaxQuery(0f);

        // For a positive float NumericUtils.floatToSortableInt is its bits.
        var boostNum = BitConverter.SingleToInt32Bits(MaxOrganicScore) + 1 + pins.Count;
        foreach (var (index, id) in pins)
        {
            var pinScore = BitConverter.Int32BitsToSingle(boostNum--);
            if (index is null || index == _index.Name)
            {
                pinned.Add(new ConstantScoreQuery(new TermQuery(new Term(DocumentFields.IdField, id))) { Boost = pinScore });
            }
        }

        return Boosted(new DisjunctionMaxQuery(0f) { pinned, capped }, spec);
    }

    // The pinned query's ids, or its docs' _index (null: any) and _id, in order; one id a list of one (CheckPinned
    // refused anything else).
    private static List<(string? Index, string Id)> PinnedDocuments(JsonObject spec) => spec["ids"] switch
    {
        JsonArray ids => [.. ids.Select(v => ((string?)null, ValueText(v) ?? string.Empty))],
        JsonValue id => [(null, ValueText(id) ?? string.Empty)],
        _ => [.. (spec["docs"] is JsonArray docs ? docs.ToArray() : [spec["docs"]]).OfType<JsonObject>()
            .Select(d => (d["_index"] is { } i ? ValueText(i) : null, ValueText(d["_id"]) ?? string.Empty))],
    };

    private static Query Ids(JsonObject spec)
    {
        // One string is a list of one (CheckIdsValue); none, no ids, which IdsQueryBuilder.doRewrite makes match_none.
        var values = spec["values"] switch
        {
            JsonArray array => array,
            JsonValue one => new JsonArray(one.DeepClone()),
            _ => new JsonArray(),
        };

        return Boosted(new ConstantScoreQuery(AnyOf(values.Select(v => new TermQuery(new Term(DocumentFields.IdField, ValueText(v) ?? string.Empty))))), spec);
    }

    private Query Range(string field, JsonObject spec)
    {
        var known = new[] { "gte", "gt", "lte", "lt", "boost", "format", "time_zone", "relation", "_name" };
        if (spec.FirstOrDefault(p => !known.Contains(p.Key)) is { Key: { } unknown })
        {
            // RangeQueryBuilder.fromXContent, at the option's value.
            throw EsException.Parsing($"[range] query does not support [{unknown}]", JsonLocations.OfValue(spec, unknown));
        }

        var mapping = _index.Mapping.Get(field);
        if (mapping is null)
        {
            return new BooleanQuery();
        }

        var lowerNode = spec["gte"] ?? spec["gt"];
        var upperNode = spec["lte"] ?? spec["lt"];
        var includeLower = spec["gt"] is null;
        var includeUpper = spec["lt"] is null;
        Query q;
        if (mapping.Kind is FieldKind.Long or FieldKind.Integer or FieldKind.Date)
        {
            q = LongRange(field, mapping, lowerNode, upperNode, includeLower, includeUpper);
        }
        else if (mapping.IsFloatingPoint)
        {
            q = NumericRangeQuery.NewDoubleRange(field, ToDouble(lowerNode), ToDouble(upperNode), includeLower, includeUpper);
        }
        else if (mapping.Kind == FieldKind.Boolean)
        {
            // BooleanFieldType.rangeQuery reads each bound as a term does.
            q = TermRangeQuery.NewStringRange(field, ValueText(lowerNode) is { } l ? BooleanTerm(l) : null, ValueText(upperNode) is { } u ? BooleanTerm(u) : null, includeLower, includeUpper);
        }
        else
        {
            q = TermRangeQuery.NewStringRange(field, ValueText(lowerNode), ValueText(upperNode), includeLower, includeUpper);
        }

        return new ConstantScoreQuery(q);
    }

    private Query Bool(JsonObject spec)
    {
        var bq = new BooleanQuery();
        var shouldCount = 0;
        var hasMust = false;
        var hasFilter = false;
        foreach (var (key, value) in spec)
        {
            var clauses = value is JsonArray arr ? arr.ToArray() : [value];
            switch (key)
            {
                case "must":
                    foreach (var c in clauses)
                    {
                        bq.Add(Translate(c), Occur.MUST);
                        hasMust = true;
                    }

                    break;
                case "should":
                    foreach (var c in clauses)
                    {
                        bq.Add(Translate(c), Occur.SHOULD);
                        shouldCount++;
                    }

                    break;
                case "filter":
                    foreach (var c in clauses)
                    {
                        // Lucene 4.8 has no FILTER clause: a zero-boost constant-score MUST matches without scoring.
                        bq.Add(new ConstantScoreQuery(Translate(c)) { Boost = 0f }, Occur.MUST);
                        hasFilter = true;
                    }

                    break;
                case "must_not" or "mustNot": // ParseField("must_not").withDeprecation("mustNot")
                    foreach (var c in clauses)
                    {
                        bq.Add(Translate(c), Occur.MUST_NOT);
                    }

                    break;
                case "minimum_should_match" or "boost" or "_name" or "adjust_pure_negative":
                    break;
                default:
                    throw EsException.Parsing($"[bool] query does not support [{key}]");
            }
        }

        if (spec["minimum_should_match"] is { } msm)
        {
            bq.MinimumNumberShouldMatch = MinimumShouldMatch(msm, shouldCount);
        }
        else if (shouldCount > 0 && !hasMust && !hasFilter)
        {
            bq.MinimumNumberShouldMatch = 1;
        }

        if (!hasMust && shouldCount == 0)
        {
            // Only filter and/or must_not: everything else matches (score 0 with filters, 1 with only must_not).
            bq.Add(new MatchAllDocsQuery { Boost = hasFilter ? 0f : 1f }, Occur.MUST);
        }

        return Boosted(bq, spec);
    }

    private Query QueryString(JsonObject spec)
    {
        var text = ValueText(spec["query"]) ?? throw EsException.Parsing("[query_string] requires query value");
        var fields = QueryFields(spec, everyType: true);
        // doToQuery: analyzer forces one analyzer on every field (setForceAnalyzer), a name the index lacks failing the shard.
        var analyzer = ValueText(spec["analyzer"]) is { } name ? BuiltInAnalyzers.Get("query_string", name, _index) : _analyzer;
        QueryParser parser = fields.Count == 1
            ? new TypedQueryParser(this, fields.Keys.First(), analyzer)
            : new TypedMultiFieldQueryParser(this, fields.Keys.ToArray(), analyzer, fields);
        parser.DefaultOperator = MatchOptions.IsAnd(spec["default_operator"]) ? ClassicOperator.AND : ClassicOperator.OR;
        parser.AllowLeadingWildcard = RequestJson.BooleanValue(spec["allow_leading_wildcard"]) ?? true;
        // phrase_slop, enable_position_increments and escape as QueryStringQueryBuilder.doToQuery sets them; the fuzzy
        // options as QueryStringQueryParser's fuzzy queries read them (ParserFuzzyQuery).
        parser.PhraseSlop = spec["phrase_slop"] is { } slop ? XContentInt.Read("phrase_slop", slop) : 0;
        parser.EnablePositionIncrements = RequestJson.BooleanValue(spec["enable_position_increments"]) ?? true;
        parser.FuzzyMinSim = BareFuzzy;
        _fuzzy = new ParserFuzziness(
            spec["fuzziness"] is { } fuzziness ? Fuzziness.Parse(fuzziness) : new Fuzziness(null),
            spec["fuzzy_prefix_length"] is { } prefix ? XContentInt.Read("fuzzy_prefix_length", prefix) : 0,
            spec["fuzzy_max_expansions"] is { } expansions ? XContentInt.Read("fuzzy_max_expansions", expansions) : 50,
            RequestJson.BooleanValue(spec["fuzzy_transpositions"]) ?? true);
        if (RequestJson.BooleanValue(spec["escape"]) == true)
        {
            text = QueryParserBase.Escape(text);
        }
        // Without one, QueryStringQueryBuilder.doToQuery makes a query over every field ("*": no fields and no
        // default_field, or either naming "*") lenient, as it searches numeric, date and boolean fields with the text.
        _lenient = RequestJson.BooleanValue(spec["lenient"]) ?? SearchesEveryField(spec);
        try
        {
            return Boosted(WithMinimumShouldMatch(parser.Parse(text), spec), spec);
        }
        catch (ParseException ex)
        {
            // QueryStringQueryBuilder.doToQuery: a QueryShardException caused by the parser's ParseException, raised on the
            // shard while the search runs, not while the body is parsed.
            throw ShardSearchException.QueryShard(_index, $"Failed to parse query [{text}]", EsException.Foreign(500, "parse_exception", FirstLine(ex.Message)));
        }
        catch (BooleanQuery.TooManyClausesException ex)
        {
            throw new ShardSearchException(EsException.IllegalArgument($"query [{text}] expands to too many clauses: {ex.Message}"));
        }
    }

    // A field:value or field:[a TO b] of a query_string on a field that is not text is asked of the field's type, as
    // Elasticsearch's QueryStringQueryParser asks MappedFieldType.termQuery/rangeQuery: year:2001 is the number 2001
    // (a value it cannot read: the term query's shard failure). Lucene's parser made a term of the text, which a numeric
    // or date field never holds, so such a query (and the q= of _search and _count) matched nothing. Null: text fields,
    // unmapped ones, and the parser's own expansion of its default fields, which stay with the parser.
    //
    // QueryStringQueryParser.getFieldQuery: after "field:", a value that starts with >, >=, < or <= (unquoted, longer than
    // the operator) is a range with one open end, on any field (year:>2000 is year:{2000 TO *]). With lenient, a value
    // the field's type cannot read is that field's match-nothing query (Queries.newLenientFieldQuery), not a failure.
    //
    // What both query_string parsers (one default field, several) do for field:value and field:[a TO b], Lucene's own
    // query for text and unmapped fields (parsed) and a range through the parser's own GetRangeQuery (range).
    private Query ParserFieldQuery(string? field, string text, bool quoted, Func<string, string, bool, Query> parsed, Func<string, string, string, bool, bool, Query> range)
    {
        if (!quoted && field is not null && text.Length > 1 && text[0] is '>' or '<')
        {
            var inclusive = text.Length > 2 && text[1] == '=';
            var bound = text[(inclusive ? 2 : 1)..];
            return text[0] == '>' ? range(field, bound, null!, inclusive, true) : range(field, null!, bound, true, inclusive);
        }

        return FieldValueQuery(field, text, quoted, parsed);
    }

    // field:value (field null: a bare term of the parser's default fields, left to the parser).
    private Query FieldValueQuery(string? field, string text, bool quoted, Func<string, string, bool, Query> parsed) =>
        Lenient(() => TypedFieldQuery(field, text) ?? parsed(field!, text, quoted));

    private bool _lenient;

    // The fuzzy options of the query_string being parsed: fuzziness (AUTO by default), fuzzy_prefix_length,
    // fuzzy_max_expansions and fuzzy_transpositions.
    private ParserFuzziness _fuzzy = new(new Fuzziness(null), 0, 50, true);

    private sealed record ParserFuzziness(Fuzziness Fuzziness, int PrefixLength, int MaxExpansions, bool Transpositions);

    // What Lucene's parser hands over as the similarity of a bare "term~" (its FuzzyMinSim; handleBareFuzzy is not open
    // to subclasses in Lucene.Net), which QueryStringQueryParser.handleBareFuzzy reads as the query's fuzziness for the
    // term (AUTO: one edit for "fox~", where Lucene's default took two).
    private const float BareFuzzy = 0.000123f;

    // QueryStringQueryParser.getFuzzyQuerySingle: Fuzziness.fromEdits((int) minSimilarity) edits (at most 2), on the term
    // the parser lower-cased as Elasticsearch's normalizer does, with fuzzy_prefix_length, fuzzy_max_expansions and
    // fuzzy_transpositions (Lucene's parser took its own defaults and ignored them).
    private ElasticFuzzyQuery ParserFuzzyQuery(Term term, float minimumSimilarity) =>
        new(term, minimumSimilarity == BareFuzzy ? _fuzzy.Fuzziness.AsDistance(term.Text) : Math.Min(2, (int)minimumSimilarity),
            _fuzzy.PrefixLength, _fuzzy.MaxExpansions, _fuzzy.Transpositions);

    // Queries.maybeApplyMinimumShouldMatch, after query_string or simple_query_string parsed: on a boolean query with
    // clauses, minimum_should_match of its optional ones, set when above 0. (It was read and ignored.)
    private static Query WithMinimumShouldMatch(Query query, JsonObject spec)
    {
        if (spec["minimum_should_match"] is { } msm && query is BooleanQuery { Clauses.Count: > 0 } bq)
        {
            var n = MinimumShouldMatch(msm, bq.Clauses.Count(c => c.Occur == Occur.SHOULD));
            if (n > 0)
            {
                bq.MinimumNumberShouldMatch = n;
            }
        }

        return query;
    }

    private Query ParserRangeQuery(string field, string part1, string part2, bool startInclusive, bool endInclusive, Func<string, string, string, bool, bool, Query> parsed) =>
        Lenient(() => TypedRangeQuery(field, part1, part2, startInclusive, endInclusive) ?? parsed(field, part1, part2, startInclusive, endInclusive));

    private Query Lenient(Func<Query> build)
    {
        try
        {
            return build();
        }
        catch (ShardSearchException) when (_lenient)
        {
            return new BooleanQuery();
        }
    }

    private static bool SearchesEveryField(JsonObject spec) =>
        spec["fields"] is JsonArray { Count: > 0 } fields ? fields.Any(f => f is JsonValue v && v.GetValueKind() == JsonValueKind.String && SplitBoost(v.GetValue<string>()).Field == "*")
            : ValueText(spec["default_field"]) is not { } df || df == "*";

    // A bare term of a query_string over several fields (Lucene's MultiFieldQueryParser asks its base parser for each
    // field's query, which analyses the text as text, so a numeric or date field never matched): each field's own query
    // as a field:value of that field is, leniently when the search is, the text fields' through the parser (parsed).
    private List<(string Field, Query Query)> EveryFieldQuery(string[] fields, string text, bool quoted, Func<string, string, bool, Query> parsed)
    {
        var queries = new List<(string, Query)>();
        foreach (var field in fields)
        {
            if (FieldValueQuery(field, text, quoted, parsed) is { } q)
            {
                queries.Add((field, q));
            }
        }

        return queries;
    }

    private bool AnyTyped(string[] fields) => fields.Any(f => _index.Mapping.Get(f) is { Kind: not FieldKind.Text });

    private Query? TypedFieldQuery(string? field, string text)
    {
        var mapping = field is null ? null : _index.Mapping.Get(field);
        return mapping is null || mapping.Kind == FieldKind.Text ? null : ExactValue(field!, mapping, text);
    }

    private Query? TypedRangeQuery(string? field, string? lower, string? upper, bool includeLower, bool includeUpper)
    {
        var mapping = field is null ? null : _index.Mapping.Get(field);
        if (mapping is null || mapping.Kind is FieldKind.Text or FieldKind.Keyword)
        {
            return null;
        }

        // An open end is "*" (the parser hands it over as null or "*").
        JsonNode? End(string? v) => v is null or "*" ? null : JsonValue.Create(v);
        var spec = new JsonObject { [includeLower ? "gte" : "gt"] = End(lower), [includeUpper ? "lte" : "lt"] = End(upper) };
        return Range(field!, spec);
    }

    private sealed class TypedQueryParser(QueryTranslator owner, string field, Analyzer analyzer)
        : QueryParser(Lucene.Net.Util.LuceneVersion.LUCENE_48, field, analyzer)
    {
        protected override Query GetFieldQuery(string field, string queryText, bool quoted) =>
            owner.ParserFieldQuery(field, queryText, quoted, base.GetFieldQuery, GetRangeQuery);

        protected override Query GetRangeQuery(string field, string part1, string part2, bool startInclusive, bool endInclusive) =>
            owner.ParserRangeQuery(field, part1, part2, startInclusive, endInclusive, base.GetRangeQuery);

        protected override Query NewFuzzyQuery(Term term, float minimumSimilarity, int prefixLength) => owner.ParserFuzzyQuery(term, minimumSimilarity);
    }

    private sealed class TypedMultiFieldQueryParser(QueryTranslator owner, string[] fields, Analyzer analyzer, IDictionary<string, float> boosts)
        : MultiFieldQueryParser(Lucene.Net.Util.LuceneVersion.LUCENE_48, fields, analyzer, boosts)
    {
        protected override Query GetFieldQuery(string field, string queryText, bool quoted) =>
            field is null && AnyTyped ? EveryField(queryText, quoted, slop: null)
                : owner.ParserFieldQuery(field, queryText, quoted, base.GetFieldQuery, GetRangeQuery);

        // Whether a field of the parser is not text: asked once per query, not per bare term.
        private bool AnyTyped => _anyTyped ??= owner.AnyTyped(m_fields);

        private bool? _anyTyped;

        // A quoted term ("x", "x"~2), which MultiFieldQueryParser hands to its base parser itself, past the override
        // above, for a named field too: year:"2001" or "2001" over every field matched nothing on a numeric field.
        protected override Query GetFieldQuery(string field, string queryText, int slop)
        {
            if (field is null)
            {
                return AnyTyped ? EveryField(queryText, quoted: true, slop) : base.GetFieldQuery(field, queryText, slop);
            }

            return GetFieldQuery(field, queryText, quoted: true) is { } q ? WithSlop(q, slop) : null!;
        }

        // As MultiFieldQueryParser combines its fields' queries: each boosted (and given the phrase's slop), SHOULD,
        // coordination disabled.
        private Query EveryField(string text, bool quoted, int? slop)
        {
            var clauses = new List<BooleanClause>();
            foreach (var (f, q) in owner.EveryFieldQuery(m_fields, text, quoted, base.GetFieldQuery))
            {
                if (m_boosts is not null && m_boosts.TryGetValue(f, out var boost))
                {
                    q.Boost = boost;
                }

                clauses.Add(new BooleanClause(slop is { } s ? WithSlop(q, s) : q, Occur.SHOULD));
            }

            return clauses.Count == 0 ? null! : GetBooleanQuery(clauses, true);
        }

        private static Query WithSlop(Query q, int slop)
        {
            switch (q)
            {
                case PhraseQuery p:
                    p.Slop = slop;
                    break;
                case MultiPhraseQuery m:
                    m.Slop = slop;
                    break;
            }

            return q;
        }

        protected override Query GetRangeQuery(string field, string part1, string part2, bool startInclusive, bool endInclusive) =>
            owner.ParserRangeQuery(field, part1, part2, startInclusive, endInclusive, base.GetRangeQuery);

        protected override Query NewFuzzyQuery(Term term, float minimumSimilarity, int prefixLength) => owner.ParserFuzzyQuery(term, minimumSimilarity);
    }

    private Query SimpleQueryString(JsonObject spec)
    {
        var text = ValueText(spec["query"]) ?? throw EsException.Parsing("[simple_query_string] requires query value");
        var analyzer = ValueText(spec["analyzer"]) is { } name ? BuiltInAnalyzers.Get("simple_query_string", name, _index) : _analyzer;
        var parser = new SimpleQueryParser(analyzer, QueryFields(spec))
        {
            DefaultOperator = MatchOptions.IsAnd(spec["default_operator"]) ? Occur.MUST : Occur.SHOULD,
        };
        return Boosted(WithMinimumShouldMatch(parser.Parse(text) ?? new BooleanQuery(), spec), spec);
    }

    // Fields of query_string / simple_query_string: "fields" with ^boosts, else "default_field", else every text/keyword
    // field (every field with everyType).
    private Dictionary<string, float> QueryFields(JsonObject spec, bool everyType = false)
    {
        // An empty "fields" is none given: the default field (QueryStringQueryBuilder reads fieldsAndWeights only when not empty).
        var raw = spec["fields"] is JsonArray { Count: > 0 } arr ? arr.Select(f => ValueText(f)!).ToArray()
            : ValueText(spec["default_field"]) is { } df ? [df] : ["*"];
        var result = new Dictionary<string, float>(StringComparer.Ordinal);
        foreach (var r in raw)
        {
            var (pattern, boost) = SplitBoost(r);
            foreach (var f in ExpandFields(pattern, everyType))
            {
                result[f] = boost;
            }
        }

        return result.Count > 0 ? result : new Dictionary<string, float> { ["_none_"] = 1f };
    }

    private IEnumerable<string> ExpandFields(string pattern, bool everyType = false)
    {
        if (!pattern.Contains('*', StringComparison.Ordinal))
        {
            return [pattern];
        }

        var regex = JsonPaths.Wildcard(pattern);
        // A pattern, "*" (the default field) included, takes the fields QueryParserHelper.resolveMappingField keeps for it:
        // those with text search (TextSearchInfo other than NONE), text and keyword fields and their multi-fields alike,
        // and numeric, date and boolean fields, which query_string and multi_match search with the text as field:value
        // does (everyType). simple_query_string keeps to text and keyword fields here.
        return _index.Mapping.AllPaths()
            .Where(p => regex.IsMatch(p.Key) && (everyType || p.Value.Kind is FieldKind.Text or FieldKind.Keyword))
            .Select(p => p.Key);
    }

    private static (string Field, float Boost) SplitBoost(string raw)
    {
        var caret = raw.LastIndexOf('^');
        if (caret < 0)
        {
            return (raw, 1f);
        }

        return float.TryParse(raw[(caret + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var b)
            ? (raw[..caret], b)
            : throw EsException.Parsing($"invalid boost in field [{raw}]");
    }

    private Query ExactValue(string field, FieldMapping mapping, string text)
    {
        if (mapping.Kind is FieldKind.Long or FieldKind.Integer or FieldKind.Date)
        {
            // DateFieldType.termQuery is rangeQuery(value, value, true, true): a day-precision date is that whole day.
            // NumberType.LONG/INTEGER.termQuery of a value with a decimal part matches nothing; the same range, rounded
            // inward, is empty.
            var v = JsonValue.Create(text);
            return LongRange(field, mapping, v, v, true, true);
        }

        if (mapping.IsFloatingPoint)
        {
            var d = ToDouble(JsonValue.Create(text));
            return NumericRangeQuery.NewDoubleRange(field, d, d, true, true);
        }

        return new TermQuery(new Term(field, mapping.Kind == FieldKind.Boolean ? BooleanTerm(text) : text));
    }

    // BooleanFieldType.indexedValueForSearch: exactly "true" or "false" (a JSON boolean's text); anything else fails the
    // shard, SearchExecutionContext.toQuery wrapping its IllegalArgumentException. ("flag":"abc" matched nothing.)
    private string BooleanTerm(string text)
    {
        if (text is "true" or "false")
        {
            return text;
        }

        var message = $"Can't parse boolean value [{text}], expected [true] or [false]";
        throw ShardSearchException.QueryShard(_index, $"failed to create query: {message}", EsException.IllegalArgument(message));
    }

    // The one home of a term or range on a long, integer or date field (the term, terms and range queries, and
    // query_string's field:value and field:[a TO b]), as one inclusive range of longs:
    // - dates: DateFieldType.dateRangeQuery parses an exclusive lower bound and an inclusive upper one rounded up
    //   (JavaDateMathParser's round-up parser fills the time of day the value leaves out with 23:59:59.999, an absent
    //   minute or second with 59, the millisecond with 999), then moves an exclusive bound one millisecond inward;
    // - longs and integers: NumberType.LONG.rangeQuery (longRangeQuery) truncates a bound, moves an exclusive bound
    //   without a decimal part one inward, and a decimal lower bound above 0 (upper below 0) up (down) one.
    private Query LongRange(string field, FieldMapping mapping, JsonNode? lowerNode, JsonNode? upperNode, bool includeLower, bool includeUpper)
    {
        long? lower = null, upper = null;
        if (lowerNode is not null)
        {
            var (value, hasDecimal) = LongBound(mapping, lowerNode, roundUp: !includeLower);
            if ((!includeLower && !hasDecimal) || (hasDecimal && mapping.Kind != FieldKind.Date && DocumentFields.TryNumber(lowerNode, out var d) && d > 0))
            {
                if (value == long.MaxValue)
                {
                    return new BooleanQuery();
                }

                value++;
            }

            lower = value;
        }

        if (upperNode is not null)
        {
            var (value, hasDecimal) = LongBound(mapping, upperNode, roundUp: includeUpper);
            if ((!includeUpper && !hasDecimal) || (hasDecimal && mapping.Kind != FieldKind.Date && DocumentFields.TryNumber(upperNode, out var d) && d < 0))
            {
                if (value == long.MinValue)
                {
                    return new BooleanQuery();
                }

                value--;
            }

            upper = value;
        }

        return NumericRangeQuery.NewInt64Range(field, lower, upper, true, true);
    }

    // A bound as a long: a date's milliseconds (rounded up when asked), or a number truncated, with whether it had a
    // decimal part (never for a date: its exclusive bounds always move one millisecond).
    private (long Value, bool HasDecimal) LongBound(FieldMapping mapping, JsonNode node, bool roundUp)
    {
        if (mapping.Kind == FieldKind.Date)
        {
            var ms = ToLong(mapping, node)!.Value;
            // A number is read by its text as a string is (IndexMapping.TryParseDate): 2019 rounds up as "2019" does.
            return (roundUp && node.GetValueKind() is JsonValueKind.String or JsonValueKind.Number ? ms + RoundUpMillis(ValueText(node)!) : ms, false);
        }

        var d = DocumentFields.TryNumber(node, out var n) ? n : throw NumberFailure(node);
        return ((long)d, d != Math.Truncate(d));
    }

    // What JavaDateFormatter's round-up parser (DEFAULT_ROUND_UP: HOUR_OF_DAY 23, MINUTE_OF_HOUR 59, SECOND_OF_MINUTE 59,
    // NANO_OF_SECOND 999,999,999 when absent) adds to the value read as written: the time of day it leaves out. Epoch
    // milliseconds (IndexMapping.TryParseDate) round up to themselves; a year alone ("2019") is its first day, as the
    // round-up parser defaults the month and day to 1.
    private static long RoundUpMillis(string text)
    {
        var t = text.IndexOf('T', StringComparison.Ordinal);
        if (t < 0)
        {
            return IndexMapping.IsEpochMillis(text) ? 0 : 86_399_999;
        }

        var time = text[(t + 1)..];
        var zone = time.IndexOfAny(['Z', 'z', '+', '-']);
        time = zone < 0 ? time : time[..zone];
        if (time.Contains('.', StringComparison.Ordinal) || time.Contains(',', StringComparison.Ordinal))
        {
            return 0;
        }

        return time.Count(c => c == ':') switch
        {
            0 => 3_599_999,
            1 => 59_999,
            _ => 999,
        };
    }

    // A value the field's type cannot read fails on the shard, where the mapping turns the query into Lucene's:
    // SearchExecutionContext.toQuery wraps what the field type throws in a QueryShardException "failed to create query: ..".
    private long? ToLong(FieldMapping mapping, JsonNode? node)
    {
        if (node is null)
        {
            return null;
        }

        if (mapping.Kind == FieldKind.Date)
        {
            return IndexMapping.TryParseDate(node, out var ms) ? ms : throw DateFailure(node);
        }

        return DocumentFields.TryNumber(node, out var d) ? (long)d : throw NumberFailure(node);
    }

    private double? ToDouble(JsonNode? node) =>
        node is null ? null : DocumentFields.TryNumber(node, out var d) ? d : throw NumberFailure(node);

    // NumberFieldMapper.NumberType.objectToDouble: Double.parseDouble's NumberFormatException.
    private ShardSearchException NumberFailure(JsonNode node)
    {
        var text = ValueText(node) ?? string.Empty;
        var message = text.Trim().Length == 0 ? "empty String" : $"For input string: \"{text}\"";
        return ShardSearchException.QueryShard(_index, $"failed to create query: {message}", EsException.Foreign(400, "number_format_exception", message));
    }

    // DateFieldMapper's parse: JavaDateMathParser's ElasticsearchParseException, caused by JavaDateFormatter.parse's
    // IllegalArgumentException, caused by java.time's DateTimeParseException after its two parsers (the mapping's default
    // format).
    private ShardSearchException DateFailure(JsonNode node)
    {
        const string Format = "strict_date_optional_time||epoch_millis";
        var inner = $"failed to parse date field [{ValueText(node)}] with format [{Format}]";
        var formatter = EsException.Foreign(400, "illegal_argument_exception", inner,
            EsException.Foreign(500, "date_time_parse_exception", "Failed to parse with all enclosed parsers"));
        var parse = new EsException(400, "parse_exception", $"{inner}: [{inner}]", null, formatter);
        return ShardSearchException.QueryShard(_index, $"failed to create query: {parse.Message}", parse);
    }

    private static List<(string Term, int Position)> Analyze(Analyzer analyzer, string field, string text)
    {
        var result = new List<(string, int)>();
        using var stream = analyzer.GetTokenStream(field, text);
        var term = stream.AddAttribute<ICharTermAttribute>();
        var inc = stream.AddAttribute<IPositionIncrementAttribute>();
        stream.Reset();
        var position = -1;
        while (stream.IncrementToken())
        {
            position += inc.PositionIncrement;
            result.Add((term.ToString(), position));
        }

        stream.End();
        return result;
    }

    internal static string? ValueText(JsonNode? node) => node switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.GetValueKind() == JsonValueKind.True ? "true" : "false",
        JsonValue v => v.ToJsonString(),
        _ => throw EsException.Parsing($"expected a value but found {node.GetValueKind().ToString().ToLowerInvariant()}"),
    };

    private static int MinimumShouldMatch(JsonNode msm, int optional)
    {
        var s = ValueText(msm)!.Trim();
        var negative = s.StartsWith('-');
        var body = negative ? s[1..] : s;
        int n;
        if (body.EndsWith('%'))
        {
            var pct = double.Parse(body[..^1], CultureInfo.InvariantCulture);
            n = (int)Math.Floor(optional * pct / 100.0);
        }
        else if (!int.TryParse(body, NumberStyles.Integer, CultureInfo.InvariantCulture, out n))
        {
            throw EsException.Parsing($"[minimum_should_match] value [{s}] is not supported");
        }

        var result = negative ? optional - n : n;
        return Math.Clamp(result, 0, optional);
    }

    /// <summary>
    /// A float option as <c>XContentParser.floatValue()</c> reads it: a number, or a string as <c>Float.parseFloat</c>
    /// reads it (<c>"0.3"</c>, <c>"2f"</c>, <c>"0x1p1"</c>; another is its <c>number_format_exception</c>); any other token as
    /// <see cref="XContentInt.Read"/> refuses it. (A string was a 500 of .NET's words.)
    /// </summary>
    /// <param name="name">The option's name.</param>
    /// <param name="node">Its value.</param>
    internal static float FloatValue(string name, JsonNode node)
    {
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.Number)
        {
            return (float)v.GetValue<double>();
        }

        if (node is JsonValue s && s.GetValueKind() == JsonValueKind.String)
        {
            // Float.parseFloat, as Double.parseDouble reads the text (XContentInt.ParseJavaDouble: "2f", "0x1p1", NaN,
            // blanks trimmed), narrowed to a float; what it refuses is its NumberFormatException, the text trimmed.
            return (float)XContentInt.ParseJavaDouble(s.GetValue<string>());
        }

        return XContentInt.Read(name, node);
    }

    // A query's boost, read with floatValue() as every query's parser reads it: "2" is 2 (it was ignored), "x" its
    // number_format_exception (it was ignored too).
    private static Query Boosted(Query q, JsonNode? spec)
    {
        if (spec is JsonObject o && o["boost"] is JsonValue b)
        {
            q.Boost *= FloatValue("boost", b);
        }

        return q;
    }

    private static string FirstLine(string s) => s.Split('\n')[0].Trim();
}
