using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Rank1.Elastic;
using Rank1.EmbeddedSearch.Indexing;

namespace Rank1.EmbeddedSearch.Http;

/// <summary>
/// The body of an update (<c>POST /{index}/_update/{id}</c>, or the line after a <c>_bulk</c> update), read as
/// Elasticsearch's <c>UpdateRequest</c> parser (an <c>ObjectParser</c> named <c>UpdateRequest</c>) reads it: its fields
/// in order, each of the token types it takes, booleans also as the strings <c>"true"</c>/<c>"false"</c>, and an unknown
/// field a 400 <c>x_content_parse_exception</c> at its <c>[line:column]</c>.
/// </summary>
internal sealed class UpdateBody
{
    // UpdateRequest.PARSER's fields, in declaration order (the candidates of its "did you mean").
    private static readonly string[] Fields = ["script", "scripted_upsert", "upsert", "doc", "doc_as_upsert", "detect_noop", "_source", "if_seq_no", "if_primary_term"];

    private UpdateBody()
    {
    }

    /// <summary>No body: nothing to do (the request's validation says so).</summary>
    public static UpdateBody Empty { get; } = new();

    /// <summary>The partial document, or null.</summary>
    public JsonObject? Doc { get; private set; }

    /// <summary>The document to create when there is none, or null.</summary>
    public JsonObject? Upsert { get; private set; }

    /// <summary>Whether a script was given (this backend does not run scripts).</summary>
    public bool HasScript { get; private set; }

    /// <summary><c>doc_as_upsert</c>, or null when the body does not say.</summary>
    public bool? DocAsUpsert { get; private set; }

    /// <summary><c>detect_noop</c> (default true).</summary>
    public bool DetectNoop { get; private set; } = true;

    /// <summary>The body's <c>_source</c>, or null when the body does not say.</summary>
    public SourceFilter? Source { get; private set; }

    /// <summary>The body's <c>if_seq_no</c>, or null.</summary>
    public long? IfSeqNo { get; private set; }

    /// <summary>The body's <c>if_primary_term</c>, or null.</summary>
    public long? IfPrimaryTerm { get; private set; }

    /// <summary>Reads an update body from its UTF-8 text (a 400 in Elasticsearch's words when it is not one).</summary>
    /// <param name="text">The body's text.</param>
    /// <param name="flavor">The product whose parsers are followed (its <c>_source</c>'s keys).</param>
    /// <param name="errorType">The error type of JSON that does not parse.</param>
    public static UpdateBody Read(ReadOnlySpan<byte> text, SearchFlavor flavor, string errorType = "parsing_exception")
    {
        var body = EsHttp.ParseObject(text, errorType);
        var result = new UpdateBody();
        foreach (var (name, nameAt, valueAt) in TopLevelFields(text))
        {
            var value = body[name];
            switch (name)
            {
                case "script":
                    Expect(name, value, valueAt, JsonValueKind.Object, JsonValueKind.String);
                    result.HasScript = true;
                    break;
                case "scripted_upsert":
                    _ = Bool(name, value, valueAt);
                    break;
                case "upsert":
                    Expect(name, value, valueAt, JsonValueKind.Object);
                    result.Upsert = (JsonObject)value!;
                    break;
                case "doc":
                    Expect(name, value, valueAt, JsonValueKind.Object);
                    result.Doc = (JsonObject)value!;
                    break;
                case "doc_as_upsert":
                    result.DocAsUpsert = Bool(name, value, valueAt);
                    break;
                case "detect_noop":
                    result.DetectNoop = Bool(name, value, valueAt);
                    break;
                case "_source":
                    Expect(name, value, valueAt, JsonValueKind.Object, JsonValueKind.Array, JsonValueKind.True, JsonValueKind.False, JsonValueKind.String);
                    result.Source = Querying.SearchRequest.ParseSource(value, flavor != SearchFlavor.OpenSearch);
                    break;
                case "if_seq_no":
                    result.IfSeqNo = Long(name, value, valueAt);
                    break;
                case "if_primary_term":
                    result.IfPrimaryTerm = Long(name, value, valueAt);
                    break;
                default:
                    throw EsException.Foreign(400, "x_content_parse_exception", $"{nameAt} [UpdateRequest] unknown field [{name}]{Suggest(name)}");
            }
        }

        return result;
    }

    /// <summary>
    /// <c>UpdateRequest.validate</c>'s errors beyond the shared compare-and-set ones (<see cref="WriteCondition.ValidationErrors"/>):
    /// compare-and-set with retries or an upsert, and a body with neither <c>doc</c> nor script.
    /// </summary>
    /// <param name="condition">The request's condition, URL and body together.</param>
    /// <param name="docAsUpsert">The effective <c>doc_as_upsert</c>.</param>
    /// <param name="retryOnConflict">The <c>retry_on_conflict</c> asked for.</param>
    public IReadOnlyList<string> ValidationErrors(WriteCondition condition, bool docAsUpsert, int retryOnConflict)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var errors = condition.ValidationErrors(WriteOp.Update).ToList();
        if (condition.IfSeqNo != WriteCondition.UnassignedSeqNo)
        {
            if (retryOnConflict > 0)
            {
                errors.Add("compare and write operations can not be retried");
            }

            if (docAsUpsert)
            {
                errors.Add("compare and write operations can not be used with upsert");
            }

            if (Upsert is not null)
            {
                errors.Add("upsert requests don't support `if_seq_no` and `if_primary_term`");
            }
        }

        if (!HasScript && Doc is null)
        {
            errors.Add("script or doc is missing");
        }

        if (HasScript && Doc is not null)
        {
            errors.Add("can't provide both script and doc");
        }

        if (Doc is null && docAsUpsert)
        {
            errors.Add("doc must be specified if doc_as_upsert is enabled");
        }

        return errors;
    }

    // ObjectParser's check of a value's token against the field's ValueType, before it reads the value.
    private static void Expect(string name, JsonNode? value, string valueAt, params JsonValueKind[] kinds)
    {
        var kind = value?.GetValueKind() ?? JsonValueKind.Null;
        if (!kinds.Contains(kind))
        {
            throw EsException.Foreign(400, "x_content_parse_exception", $"{valueAt} [UpdateRequest] {name} doesn't support values of type: {RequestJson.TokenName(value)}");
        }
    }

    // declareBoolean: a JSON boolean, or a string as booleanValue() reads it (Booleans.parseBoolean: "true", "false", empty
    // or blank false); any other string fails the field.
    private static bool Bool(string name, JsonNode? value, string valueAt)
    {
        Expect(name, value, valueAt, JsonValueKind.True, JsonValueKind.False, JsonValueKind.String);
        if (value!.GetValueKind() != JsonValueKind.String)
        {
            return value.GetValue<bool>();
        }

        try
        {
            return RequestJson.StringBooleanValue(value.GetValue<string>());
        }
        catch (EsException e)
        {
            throw FailedField(name, valueAt, e);
        }
    }

    // declareLong: a JSON number (truncated as Jackson's getLongValue does), or a string holding one.
    private static long Long(string name, JsonNode? value, string valueAt)
    {
        Expect(name, value, valueAt, JsonValueKind.Number, JsonValueKind.String);
        var v = (JsonValue)value!;
        if (v.GetValueKind() == JsonValueKind.Number)
        {
            return v.TryGetValue<long>(out var n) ? n
                : v.TryGetValue<double>(out var d) && d is >= long.MinValue and <= long.MaxValue ? (long)d
                : throw FailedField(name, valueAt, EsException.IllegalArgument($"Value [{v.ToJsonString()}] is out of range for a long"));
        }

        var s = v.GetValue<string>();
        return long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var parsed) ? parsed
            : throw FailedField(name, valueAt, EsException.Foreign(400, "number_format_exception", $"For input string: \"{s}\""));
    }

    // ObjectParser.parseValue: what failed while reading a field's value, wrapped with the field's name.
    private static EsException FailedField(string name, string valueAt, EsException cause) =>
        EsException.Foreign(400, "x_content_parse_exception", $"{valueAt} [UpdateRequest] failed to parse field [{name}]", cause);

    // SuggestingErrorOnUnknown: the fields within Lucene's Levenshtein similarity 0.5, closest first.
    private static string Suggest(string unknown) => Suggestions.DidYouMean(unknown, Fields);

    // The body's top-level fields in order, with "[line:column]" of each name and of its value, as Jackson reports them.
    private static List<(string Name, string NameAt, string ValueAt)> TopLevelFields(ReadOnlySpan<byte> text)
    {
        var fields = new List<(string, string, string)>();
        var reader = new Utf8JsonReader(text, RequestJson.ReaderOptions);
        while (reader.Read())
        {
            if (reader.TokenType != JsonTokenType.PropertyName || reader.CurrentDepth != 1)
            {
                continue;
            }

            var name = reader.GetString()!;
            var nameAt = RequestJson.Location(text, reader.TokenStartIndex);
            reader.Read();
            fields.Add((name, nameAt, RequestJson.Location(text, reader.TokenStartIndex)));
            reader.Skip();
        }

        return fields;
    }
}
