using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lucene.Net.Analysis;
using Lucene.Net.Analysis.Core;
using Lucene.Net.Analysis.En;
using Lucene.Net.Search;
using Rank1.EmbeddedSearch.Indexing;
using Rank1.Elastic;

namespace Rank1.EmbeddedSearch.Querying;

/// <summary>
/// Elasticsearch's <c>Fuzziness</c>: an edit distance of 0, 1 or 2, or <c>AUTO</c> (<c>AUTO:low,high</c>), whose
/// distance depends on the term's length in code points: under <c>low</c> (3) none, under <c>high</c> (6) one, else two.
/// </summary>
/// <param name="Edits">The distance given, or null for <c>AUTO</c>.</param>
/// <param name="Low">AUTO's low bound.</param>
/// <param name="High">AUTO's high bound.</param>
internal readonly record struct Fuzziness(int? Edits, int Low = 3, int High = 6)
{
    /// <summary>
    /// <c>Fuzziness.parse</c>: a string as <c>fromString</c> reads it, a number as <c>fromEdits(parser.intValue())</c>,
    /// any other token "Can't parse fuzziness on token: [VALUE_BOOLEAN]", each with its exception.
    /// </summary>
    /// <param name="value">The option's value.</param>
    public static Fuzziness Parse(JsonNode value) => value.GetValueKind() switch
    {
        JsonValueKind.String => FromString(value.GetValue<string>()),
        JsonValueKind.Number => FromEdits(XContentInt.Read(FieldName, value)),
        _ => throw EsException.IllegalArgument($"Can't parse fuzziness on token: [{RequestJson.TokenName(value)}]"),
    };

    private const string FieldName = "fuzziness";

    /// <summary>The edit distance for <paramref name="term"/> (<c>asDistance</c>).</summary>
    /// <param name="term">The analysed term.</param>
    public int AsDistance(string term)
    {
        if (Edits is { } edits)
        {
            return Math.Min(2, edits);
        }

        var length = term.EnumerateRunes().Count();
        return length < Low ? 0 : length < High ? 1 : 2;
    }

    private static Fuzziness FromEdits(int edits) => edits is >= 0 and <= 2
        ? new Fuzziness(edits)
        : throw EsException.IllegalArgument($"Valid edit distances are [0, 1, 2] but was [{edits}]");

    // Fuzziness.fromString: AUTO and AUTO:low,high in any case, else Float.parseFloat of the text upper-cased, a whole
    // number of edits.
    private static Fuzziness FromString(string text)
    {
        if (text.Length == 0)
        {
            throw EsException.IllegalArgument("fuzziness cannot be null or empty.");
        }

        var upper = text.ToUpperInvariant();
        if (upper == "AUTO")
        {
            return new Fuzziness(null);
        }

        if (upper.StartsWith("AUTO:", StringComparison.Ordinal))
        {
            return CustomAuto(upper);
        }

        float parsed;
        try
        {
            parsed = (float)XContentInt.ParseJavaDouble(upper);
        }
        catch (EsException e) when (e.Type == "number_format_exception")
        {
            throw EsException.Foreign(400, "illegal_argument_exception", $"fuzziness cannot be [{text}].", e);
        }

        if (parsed % 1 > 0)
        {
            throw EsException.IllegalArgument($"fuzziness needs to be one of 0.0, 1.0 or 2.0 but was {JavaFloat(parsed)}");
        }

        return FromEdits(float.IsNaN(parsed) ? 0 : (int)Math.Clamp(parsed, int.MinValue, int.MaxValue));
    }

    // parseCustomAuto: the text after "AUTO:" split at commas as Java's String.split does (trailing empty parts dropped).
    private static Fuzziness CustomAuto(string upper)
    {
        var parts = upper["AUTO:".Length..].Split(',').ToList();
        while (parts.Count > 0 && parts[^1].Length == 0)
        {
            parts.RemoveAt(parts.Count - 1);
        }

        if (parts.Count != 2)
        {
            throw new EsException(400, "parse_exception", "failed to find low and high distance values");
        }

        var bad = parts.FirstOrDefault(p => XContentInt.ParseJavaInt(p) is null);
        if (bad is not null)
        {
            throw new EsException(400, "parse_exception", $"failed to parse [{upper}] as a \"auto:int,int\"", null,
                EsException.Foreign(400, "number_format_exception", $"For input string: \"{bad}\""));
        }

        var low = XContentInt.ParseJavaInt(parts[0])!.Value;
        var high = XContentInt.ParseJavaInt(parts[1])!.Value;
        if (low < 0 || high < 0 || low > high)
        {
            throw new EsException(400, "parse_exception", $"fuzziness wrongly configured [{upper}]. Must be 0 < lower value <= higher value.");
        }

        return new Fuzziness(null, low, high);
    }

    // Java's Float.toString of a float with a fractional part.
    private static string JavaFloat(float f) => Math.Abs(f) is >= 1e-3f and < 1e7f
        ? f.ToString("R", CultureInfo.InvariantCulture)
        : f.ToString("0.0######E0", CultureInfo.InvariantCulture);
}

/// <summary>
/// The options of a <c>match</c>, <c>match_phrase</c> or <c>multi_match</c> query, read and checked as
/// <c>MatchQueryBuilder</c>, <c>MatchPhraseQueryBuilder</c> and <c>MultiMatchQueryBuilder.fromXContent</c> read and
/// check them while the body is parsed (<see cref="Check"/>), and applied as <c>MatchQueryParser</c> applies them.
/// </summary>
internal sealed record MatchOptions(
    Fuzziness? Fuzziness,
    int PrefixLength,
    int MaxExpansions,
    bool Transpositions,
    string? FuzzyRewrite,
    string? Analyzer,
    bool ZeroTermsAll,
    bool Lenient)
{
    /// <summary>Reads the options of <paramref name="spec"/> (a field's object, or a <c>multi_match</c>'s), checked as <see cref="Check"/> checks them.</summary>
    /// <param name="type">The query's name (<c>match</c>, ...), for the errors.</param>
    /// <param name="spec">The options.</param>
    public static MatchOptions Read(string type, JsonObject spec)
    {
        foreach (var (option, value) in spec)
        {
            if (value is JsonValue v)
            {
                Check(type, spec, option, v);
            }
        }

        return new MatchOptions(
            spec["fuzziness"] is JsonValue f ? Querying.Fuzziness.Parse(f) : null,
            spec["prefix_length"] is JsonValue p ? XContentInt.Read("prefix_length", p) : 0,
            spec["max_expansions"] is JsonValue m ? XContentInt.Read("max_expansions", m) : 50,
            RequestJson.BooleanValue(spec["fuzzy_transpositions"]) ?? true,
            spec["fuzzy_rewrite"] is JsonValue r ? QueryTranslator.ValueText(r) : null,
            spec["analyzer"] is JsonValue a ? QueryTranslator.ValueText(a) : null,
            spec["zero_terms_query"] is JsonValue z && QueryTranslator.ValueText(z)!.Equals("all", StringComparison.OrdinalIgnoreCase),
            RequestJson.BooleanValue(spec["lenient"]) ?? false);
    }

    /// <summary>
    /// Checks one option's value as the query's <c>fromXContent</c> reads it (<c>parser.intValue()</c>,
    /// <c>booleanValue()</c>, <c>Fuzziness.parse</c>, <c>Operator.fromString</c>, the zero-terms values) and its builder's setters check it
    /// ("[match] requires prefix length to be non-negative.", ...). Options it does not know are left alone.
    /// </summary>
    /// <param name="type">The query's name.</param>
    /// <param name="spec">The object holding the option.</param>
    /// <param name="option">The option.</param>
    /// <param name="value">Its value.</param>
    public static void Check(string type, JsonObject spec, string option, JsonValue value)
    {
        switch (option)
        {
            case "fuzziness":
                _ = Querying.Fuzziness.Parse(value);
                break;
            case "prefix_length" or "max_expansions" or "slop":
                _ = XContentInt.Read(option, value);
                break;
            case "operator":
                _ = IsAnd(value);
                break;
            case "fuzzy_transpositions" or "lenient" or "auto_generate_synonyms_phrase_query":
                _ = RequestJson.BooleanValue(value);
                break;
            case "zero_terms_query" when QueryTranslator.ValueText(value) is var zero && !zero!.Equals("none", StringComparison.OrdinalIgnoreCase)
                                         && !zero.Equals("all", StringComparison.OrdinalIgnoreCase):
                throw EsException.Parsing($"Unsupported zero_terms_query value [{zero}]", JsonLocations.OfValue(spec, option));
        }
    }

    /// <summary>
    /// The checks of the query builder's setters, which <c>fromXContent</c> calls once it has read the whole query (the
    /// parser standing on its closing brace), in its order: <c>match</c>'s prefixLength then maxExpansions,
    /// <c>multi_match</c>'s maxExpansions, prefixLength then slop (in its own words), <c>match_phrase</c>'s slop.
    /// </summary>
    /// <param name="type">The query's name.</param>
    /// <param name="spec">The options, already read.</param>
    public static void CheckSetters(string type, JsonObject spec)
    {
        int Int(string option, int otherwise) => spec[option] is JsonValue v ? XContentInt.Read(option, v) : otherwise;
        var prefixLength = Int("prefix_length", 0);
        var maxExpansions = Int("max_expansions", 50);
        var slop = Int("slop", 0);
        switch (type)
        {
            case "match" when prefixLength < 0:
                throw EsException.IllegalArgument("[match] requires prefix length to be non-negative.");
            case "match" when maxExpansions <= 0:
                throw EsException.IllegalArgument("[match] requires maxExpansions to be positive.");
            case "multi_match" when maxExpansions <= 0:
                throw EsException.IllegalArgument("Max expansions must be strictly great than zero.");
            case "multi_match" when prefixLength < 0:
                throw EsException.IllegalArgument("No negative prefix length allowed.");
            case "multi_match" or "match_phrase" when slop < 0:
                throw EsException.IllegalArgument("No negative slop allowed.");
        }
    }

    /// <summary>
    /// An operator as <c>Operator.fromString</c> reads it (<c>Enum.valueOf</c> of the text upper-cased): whether it is
    /// <c>AND</c> rather than <c>OR</c>, in any case; another is its <c>illegal_argument_exception</c> "No enum constant
    /// org.elasticsearch.index.query.Operator.XOR". The one reading of <c>match</c>'s and <c>multi_match</c>'s
    /// <c>operator</c> and of <c>query_string</c>'s and <c>simple_query_string</c>'s <c>default_operator</c>; absent, OR.
    /// </summary>
    /// <param name="value">The option's value, or null when absent.</param>
    public static bool IsAnd(JsonNode? value) => value is not null && QueryTranslator.ValueText(value)!.ToUpperInvariant() switch
    {
        "AND" => true,
        "OR" => false,
        var op => throw EsException.IllegalArgument($"No enum constant org.elasticsearch.index.query.Operator.{op}"),
    };

    /// <summary>
    /// <c>QueryParsers.parseRewriteMethod</c> for a fuzzy query: null keeps FuzzyQuery's own (its top
    /// <c>max_expansions</c> terms); <c>top_terms_blended_freqs_N</c>, which Lucene.Net 4.8 lacks, takes the same N
    /// terms, scored as <c>top_terms_N</c>. Another name is its <c>illegal_argument_exception</c>.
    /// </summary>
    /// <param name="name">The <c>fuzzy_rewrite</c> given, or null.</param>
    public static MultiTermQuery.RewriteMethod? RewriteMethod(string? name)
    {
        switch (name)
        {
            case null:
                return null;
            case "constant_score":
                return MultiTermQuery.CONSTANT_SCORE_FILTER_REWRITE;
            case "scoring_boolean":
                return MultiTermQuery.SCORING_BOOLEAN_QUERY_REWRITE;
            case "constant_score_boolean":
                return MultiTermQuery.CONSTANT_SCORE_BOOLEAN_QUERY_REWRITE;
        }

        var firstDigit = name.AsSpan().IndexOfAnyInRange('0', '9');
        if (firstDigit >= 0)
        {
            var digits = name[firstDigit..];
            var size = XContentInt.ParseJavaInt(digits)
                ?? throw EsException.Foreign(400, "number_format_exception", $"For input string: \"{digits}\"");
            switch (name[..firstDigit])
            {
                case "top_terms_" or "top_terms_blended_freqs_":
                    return new MultiTermQuery.TopTermsScoringBooleanQueryRewrite(size);
                case "top_terms_boost_":
                    return new MultiTermQuery.TopTermsBoostOnlyBooleanQueryRewrite(size);
            }
        }

        throw EsException.IllegalArgument($"Failed to parse rewrite_method [{name}]");
    }
}

/// <summary>
/// The analyzers a query's <c>analyzer</c> may name: those of Elasticsearch's built-in analyzers this backend has
/// (Lucene.Net 4.8's own, as Elasticsearch builds them), and the names of the others, which it refuses.
/// </summary>
internal static class BuiltInAnalyzers
{
    private static readonly Lucene.Net.Util.LuceneVersion Version = Lucene.Net.Util.LuceneVersion.LUCENE_48;

    // standard (and the index's default, which is standard here): StandardTokenizer and lower case, no stop words;
    // simple: letters, lower case; whitespace; keyword: the whole text; stop: simple with English stop words;
    // english: EnglishAnalyzer (possessives, lower case, English stop words, Porter stemming).
    private static readonly Dictionary<string, Analyzer> Applied = new(StringComparer.Ordinal)
    {
        ["standard"] = SearchIndex.IndexAnalyzer,
        ["default"] = SearchIndex.IndexAnalyzer,
        ["simple"] = new SimpleAnalyzer(Version),
        ["whitespace"] = new WhitespaceAnalyzer(Version),
        ["keyword"] = new KeywordAnalyzer(),
        ["stop"] = new StopAnalyzer(Version),
        ["english"] = new EnglishAnalyzer(Version),
    };

    // Elasticsearch's other built-in analyzers (the analysis-common module's): found there, not applied here.
    private static readonly HashSet<string> NotApplied = new(StringComparer.Ordinal)
    {
        "pattern", "fingerprint", "snowball", "arabic", "armenian", "basque", "bengali", "brazilian", "bulgarian", "catalan", "cjk",
        "czech", "danish", "dutch", "estonian", "finnish", "french", "galician", "german", "greek", "hindi", "hungarian",
        "indonesian", "irish", "italian", "latvian", "lithuanian", "norwegian", "persian", "portuguese", "romanian", "russian",
        "serbian", "sorani", "spanish", "swedish", "turkish", "thai",
    };

    /// <summary>The names this backend applies, for its error and its documentation.</summary>
    public static string Names => string.Join(", ", Applied.Keys);

    /// <summary>
    /// The analyzer <paramref name="name"/> for <paramref name="type"/>'s query on <paramref name="index"/>, or its
    /// shard failure: the <c>query_shard_exception</c> "[match] analyzer [foo] not found" Elasticsearch raises for a name
    /// no analyzer of the index has, or this backend's for one of Elasticsearch's that it does not apply.
    /// </summary>
    /// <param name="type">The query's name.</param>
    /// <param name="name">The analyzer's name.</param>
    /// <param name="index">The index searched.</param>
    public static Analyzer Get(string type, string name, SearchIndex index) =>
        Applied.TryGetValue(name, out var analyzer) ? analyzer
            : throw ShardSearchException.QueryShard(index, NotApplied.Contains(name)
                ? $"[{type}] analyzer [{name}] is not supported by the embedded search backend (supported: {Names})"
                : $"[{type}] analyzer [{name}] not found");
}

/// <summary>
/// Lucene 10's <c>FuzzyQuery</c>, as Elasticsearch 9 runs it: every term within <c>maxEdits</c> of the query's term
/// (after <c>prefixLength</c> characters that must match exactly), boosted <c>1 - edits / min(both lengths)</c>, the top
/// <c>maxExpansions</c> of them taken. Lucene.Net 4.8's <c>FuzzyQuery</c> also drops a term whose edits are not fewer
/// than the shorter term's length ("fx" with two edits never found "to"), a filter Lucene 10's <c>FuzzyTermsEnum</c> no
/// longer has, and takes the term alone when the prefix is as long as it is.
/// </summary>
internal sealed class ElasticFuzzyQuery : MultiTermQuery
{
    private readonly Lucene.Net.Index.Term _term;
    private readonly int _maxEdits;
    private readonly int _prefixLength;
    private readonly int _maxExpansions;
    private readonly bool _transpositions;
    private readonly Lazy<(Lucene.Net.Util.Automaton.CompiledAutomaton All, Lucene.Net.Util.Automaton.ByteRunAutomaton[] Within, int TermLength)> _automata;
    private int _automataBuilds;

    /// <summary>Creates the query; its default rewrite takes the <paramref name="maxExpansions"/> best terms, as FuzzyQuery's does.</summary>
    /// <param name="term">The analysed term.</param>
    /// <param name="maxEdits">The edit distance (0 to 2).</param>
    /// <param name="prefixLength">Leading characters that must match exactly.</param>
    /// <param name="maxExpansions">How many terms the default rewrite takes.</param>
    /// <param name="transpositions">Whether a swap of two neighbours is one edit.</param>
    public ElasticFuzzyQuery(Lucene.Net.Index.Term term, int maxEdits, int prefixLength, int maxExpansions, bool transpositions)
        : base(term.Field)
    {
        _term = term;
        _maxEdits = maxEdits;
        _prefixLength = prefixLength;
        _maxExpansions = maxExpansions;
        _transpositions = transpositions;
        _automata = new(BuildAutomata, LazyThreadSafetyMode.ExecutionAndPublication);
        MultiTermRewriteMethod = new TopTermsScoringBooleanQueryRewrite(maxExpansions);
    }

    /// <summary>How many times the automata were built: once a query, whatever its segments and threads.</summary>
    internal int AutomataBuilds => _automataBuilds;

    /// <inheritdoc/>
    protected override Lucene.Net.Index.TermsEnum GetTermsEnum(Lucene.Net.Index.Terms terms, Lucene.Net.Util.AttributeSource atts)
    {
        // Only no edit at all is the term alone: a prefix as long as the term still takes terms that add characters to it
        // (Lucene.Net 4.8 took the term alone then).
        if (_maxEdits == 0)
        {
            return new Lucene.Net.Index.SingleTermsEnum(terms.GetEnumerator(), _term.Bytes);
        }

        var (all, within, termLength) = _automata.Value;
        return new BoostedTermsEnum(all.GetTermsEnum(terms), _term.Bytes, within, termLength);
    }

    // FuzzyAutomatonBuilder: the prefix (in code points) then a Levenshtein automaton of the rest, one per distance. Built
    // once for the query, on its first segment, and shared by the others (FuzzyTermsEnum's AutomatonAttribute shares them
    // between segments; here every rewrite, the constant-score ones too, gets them).
    private (Lucene.Net.Util.Automaton.CompiledAutomaton All, Lucene.Net.Util.Automaton.ByteRunAutomaton[] Within, int TermLength) BuildAutomata()
    {
        Interlocked.Increment(ref _automataBuilds);
        var codePoints = _term.Text.EnumerateRunes().Select(r => r.Value).ToArray();
        var prefix = Math.Min(_prefixLength, codePoints.Length);
        var prefixText = string.Concat(codePoints.Take(prefix).Select(char.ConvertFromUtf32));
        var levenshtein = new Lucene.Net.Util.Automaton.LevenshteinAutomata(string.Concat(codePoints.Skip(prefix).Select(char.ConvertFromUtf32)), _transpositions);
        var automata = Enumerable.Range(0, _maxEdits + 1).Select(edits =>
        {
            var a = levenshtein.ToAutomaton(edits);
            return prefix > 0 ? Lucene.Net.Util.Automaton.BasicOperations.Concatenate(Lucene.Net.Util.Automaton.BasicAutomata.MakeString(prefixText), a) : a;
        }).ToArray();
        return (new Lucene.Net.Util.Automaton.CompiledAutomaton(automata[^1], true, false),
            [.. automata[..^1].Select(a => new Lucene.Net.Util.Automaton.ByteRunAutomaton(a, true))], codePoints.Length);
    }

    /// <inheritdoc/>
    public override string ToString(string field) =>
        $"{(_term.Field == field ? string.Empty : _term.Field + ":")}{_term.Text}~{_maxEdits}";

    /// <inheritdoc/>
    /// <remarks>As Lucene's <c>FuzzyQuery.equals</c>: the term, maxEdits, prefixLength, maxExpansions and transpositions,
    /// beside what <c>MultiTermQuery</c> compares (field, rewrite method, boost).</remarks>
    public override bool Equals(object? obj) =>
        ReferenceEquals(this, obj)
        || (base.Equals(obj) && obj is ElasticFuzzyQuery other
            && _maxEdits == other._maxEdits && _prefixLength == other._prefixLength && _maxExpansions == other._maxExpansions
            && _transpositions == other._transpositions && _term.Equals(other._term));

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(base.GetHashCode(), _maxEdits, _prefixLength, _maxExpansions, _transpositions, _term);

    // FuzzyTermsEnum.next's boost: 1 for the term itself, else 1 - edits / min(both lengths in code points).
    private sealed class BoostedTermsEnum : Lucene.Net.Index.FilteredTermsEnum
    {
        private readonly Lucene.Net.Util.BytesRef _term;
        private readonly Lucene.Net.Util.Automaton.ByteRunAutomaton[] _within;
        private readonly int _termLength;
        private readonly IBoostAttribute _boost;

        public BoostedTermsEnum(Lucene.Net.Index.TermsEnum candidates, Lucene.Net.Util.BytesRef term, Lucene.Net.Util.Automaton.ByteRunAutomaton[] within, int termLength)
            : base(candidates, false)
        {
            _term = term;
            _within = within;
            _termLength = termLength;
            _boost = Attributes.AddAttribute<IBoostAttribute>();
        }

        protected override AcceptStatus Accept(Lucene.Net.Util.BytesRef term)
        {
            var edits = _within.Length;
            while (edits > 0 && (edits == 1 ? term.BytesEquals(_term) : _within[edits - 1].Run(term.Bytes, term.Offset, term.Length)))
            {
                edits--;
            }

            // Below 0 (two edits from a term of one character) it is 0 here: a clause's negative boost would score the
            // document below those it does not match.
            _boost.Boost = edits == 0 ? 1f : Math.Max(0f, 1f - ((float)edits / Math.Min(Lucene.Net.Util.UnicodeUtil.CodePointCount(term), _termLength)));
            return AcceptStatus.YES;
        }
    }
}
