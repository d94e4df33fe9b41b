using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Rank1.SearchBridge.Http.Service;

/// <summary>
/// A TEI <c>/rerank</c> body read as TEI reads it before its handler runs: axum 0.7's <c>Json</c> extractor
/// (axum/src/json.rs: <c>serde_path_to_error::deserialize</c> over serde_json 1.0's <c>Deserializer::from_slice</c>) into
/// TEI's <c>RerankRequest</c> (router/src/http/types.rs: <c>query: String</c>, <c>texts: Vec&lt;String&gt;</c>,
/// <c>truncate: Option&lt;bool&gt;</c>, <c>truncation_direction</c>, <c>raw_scores: bool</c> and <c>return_text: bool</c> with
/// <c>#[serde(default)]</c>; other keys ignored). One pass in body order, as serde reads it, so the first problem is
/// the one answered: a syntax error is axum's <c>JsonSyntaxError</c>, 400, a value of the wrong type or a missing field
/// its <c>JsonDataError</c>, 422, each in axum's plain text with serde_json's words and place (its <c>line</c> and byte
/// <c>column</c>: serde_json's read.rs <c>position_of_index</c>) after serde_path_to_error's path.
/// </summary>
internal static class TeiJsonExtractor
{
    /// <summary>axum's <c>JsonSyntaxError</c> body, before serde's error.</summary>
    public const string SyntaxPrefix = "Failed to parse the request body as JSON: ";

    /// <summary>axum's <c>JsonDataError</c> body, before serde's error.</summary>
    public const string DataPrefix = "Failed to deserialize the JSON body into the target type: ";

    /// <summary>
    /// Null when serde reads <paramref name="body"/> into TEI's request (or it is an array, which serde reads as a struct's
    /// fields in order, left to the caller's own check); otherwise axum's refusal: <c>Syntax</c> 400, else 422.
    /// <c>Tei</c> says whether the body was TEI's as far as it was read: no object, or an object whose top-level
    /// <c>texts</c> came before the problem (where it did not, the body may be llama.cpp's, <see cref="RerankRequest.AnsweredIn"/>).
    /// </summary>
    /// <remarks>
    /// The body is read in place, not copied. A string value named in the message (serde's <c>invalid type: string "…"</c>,
    /// <c>unknown variant</c>) is cut after its first <see cref="EchoBytes"/> bytes, followed by <c>…</c>: serde_json echoes it
    /// whole, which TEI bounds by its 2 MB body limit (<c>--payload-limit</c>) and ours need not (Rank1:Service:MaxBodyBytes).
    /// </remarks>
    /// <param name="body">The body, without a byte order mark.</param>
    /// <param name="end">Where the object serde read ends (the rest of the body is never read: axum 0.7.9's <c>Json::from_bytes</c>
    /// does not call serde_json's <c>Deserializer::end</c>); -1 when it read no object.</param>
    public static (bool Syntax, string Message, bool Tei)? Rejection(ReadOnlyMemory<byte> body, out int end)
    {
        var reader = new Reader(body);
        end = -1;
        try
        {
            reader.Request();
            end = reader.Object ? reader.Position : -1;
            return null;
        }
        catch (Refusal r)
        {
            return (r.Syntax, (r.Syntax ? SyntaxPrefix : DataPrefix) + r.Message, !reader.Object || reader.Texts);
        }
    }

    /// <summary>
    /// Whether serde reads into TEI's request a body that <see cref="RerankRequest.Read"/> has read as <paramref name="body"/>:
    /// then <see cref="Rejection"/> finds nothing, and the body need not be read a second time. Of what Read takes, serde
    /// refuses only a field TEI reads holding a value of another type (Read itself refuses a duplicate key, invalid text,
    /// nesting past 64 levels and text after the body). False is also said of an object <c>truncation_direction</c>, which
    /// serde may read; <see cref="Rejection"/> decides then.
    /// </summary>
    public static bool Fits(JsonObject body) =>
        Kind(body, "query") == JsonValueKind.String
        && body["texts"] is JsonArray texts && texts.All(t => t?.GetValueKind() == JsonValueKind.String)
        && Kind(body, "truncate") is JsonValueKind.Undefined or JsonValueKind.Null or JsonValueKind.True or JsonValueKind.False
        && Kind(body, "truncation_direction") switch
        {
            JsonValueKind.Undefined => true,
            JsonValueKind.String => Array.IndexOf(Directions, body["truncation_direction"]!.GetValue<string>()) >= 0,
            _ => false,
        }
        && Kind(body, "raw_scores") is JsonValueKind.Undefined or JsonValueKind.True or JsonValueKind.False
        && Kind(body, "return_text") is JsonValueKind.Undefined or JsonValueKind.True or JsonValueKind.False;

    // A key's kind of value: Undefined when absent, Null for a JSON null.
    private static JsonValueKind Kind(JsonObject body, string key) =>
        !body.TryGetPropertyValue(key, out var value) ? JsonValueKind.Undefined : value?.GetValueKind() ?? JsonValueKind.Null;

    /// <summary>How much of a string value a message echoes, in UTF-8 bytes (serde_json echoes all of it).</summary>
    public const int EchoBytes = 1024;

    private sealed class Refusal(bool syntax, string message) : Exception(message)
    {
        public bool Syntax { get; } = syntax;
    }

    // serde_json's ErrorCode words (error.rs, impl Display for ErrorCode).
    private const string EofList = "EOF while parsing a list";
    private const string EofObject = "EOF while parsing an object";
    private const string EofString = "EOF while parsing a string";
    private const string EofValue = "EOF while parsing a value";
    private const string ExpectedColon = "expected `:`";
    private const string ExpectedListCommaOrEnd = "expected `,` or `]`";
    private const string ExpectedObjectCommaOrEnd = "expected `,` or `}`";
    private const string ExpectedIdent = "expected ident";
    private const string ExpectedValue = "expected value";
    private const string InvalidEscape = "invalid escape";
    private const string InvalidNumber = "invalid number";
    private const string NumberOutOfRange = "number out of range";
    private const string InvalidCodePoint = "invalid unicode code point";
    private const string ControlCharacter = "control character (\\u0000-\\u001F) found while parsing a string";
    private const string KeyMustBeAString = "key must be a string";
    private const string LoneLeadingSurrogate = "lone leading surrogate in hex escape";
    private const string TrailingComma = "trailing comma";
    private const string UnexpectedEndOfHexEscape = "unexpected end of hex escape";
    private const string RecursionLimit = "recursion limit exceeded";

    // Where a string's plain run ends: its closing quote, an escape, or a control character.
    private static readonly System.Buffers.SearchValues<byte> StringStops = System.Buffers.SearchValues.Create([(byte)'"', (byte)'\\', .. Enumerable.Range(0, 0x20).Select(c => (byte)c)]);

    // TEI's RerankRequest fields, in declaration order (serde reports the first missing one).
    private static readonly string[] Required = ["query", "texts"];

    // TruncationDirection's variants with their aliases (#[serde(alias = "left", alias = "Left")], ...).
    private static readonly string[] Directions = ["Left", "left", "Right", "right"];

    private sealed class Reader(ReadOnlyMemory<byte> body)
    {
        private int _i;
        private int _depth = 128; // serde_json's remaining_depth

        // What String keeps of the string it reads (at most _keep bytes), and whether it had more.
        private List<byte>? _kept;
        private int _keep;
        private bool _cut;

        /// <summary>Where the reading stopped.</summary>
        public int Position => _i;

        /// <summary>Whether the body is an object (its '{' read).</summary>
        public bool Object { get; private set; }

        /// <summary>Whether the object's top-level <c>texts</c> key has been read.</summary>
        public bool Texts { get; private set; }

        private ReadOnlySpan<byte> B => body.Span;

        public void Request()
        {
            var c = Whitespace();
            switch (c)
            {
                case -1:
                    throw PeekError(EofValue);
                case '[':
                    return;
                case '{':
                    Object = true;
                    Nested(() =>
                    {
                        _i++;
                        Struct();
                    });
                    return;
                default:
                    throw InvalidType(string.Empty, "struct RerankRequest");
            }
        }

        // serde derive's visit_map over serde_json's MapAccess, then end_map; missing fields placed after the '}'.
        private void Struct()
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var first = true;
            while (true)
            {
                var c = NextMember(ref first, '}', EofObject, ExpectedObjectCommaOrEnd);
                if (c == End)
                {
                    break;
                }

                if (c != '"')
                {
                    throw PeekError(KeyMustBeAString);
                }

                _i++;
                var key = String(validate: true, keep: EchoBytes);
                Texts |= key == "texts";
                var known = key is "query" or "texts" or "truncate" or "truncation_direction" or "raw_scores" or "return_text";
                if (known && !seen.Add(key))
                {
                    // Refused when the key is read; placed where end_map stopped (the ':' after it).
                    Whitespace();
                    throw Data(string.Empty, $"duplicate field `{key}`");
                }

                c = Whitespace();
                if (c != ':')
                {
                    throw PeekError(c == -1 ? EofObject : ExpectedColon);
                }

                _i++;
                switch (key)
                {
                    case "query":
                        StringValue(key);
                        break;
                    case "texts":
                        Strings(key);
                        break;
                    case "truncate":
                        if (Whitespace() == 'n')
                        {
                            _i++;
                            Ident("ull");
                        }
                        else
                        {
                            Bool(key);
                        }

                        break;
                    case "truncation_direction":
                        Direction(key);
                        break;
                    case "raw_scores" or "return_text":
                        Bool(key);
                        break;
                    default:
                        Ignore();
                        break;
                }
            }

            _i++;
            foreach (var field in Required)
            {
                if (!seen.Contains(field))
                {
                    throw Data(string.Empty, $"missing field `{field}`");
                }
            }
        }

        // The end of an object or a list, which NextMember leaves unread.
        private const int End = -2;

        // serde_json's MapAccess::next_key_seed and SeqAccess::has_next_element: the first byte of the next member (past
        // its comma), or End at the closing byte.
        private int NextMember(ref bool first, char close, string eof, string commaOrEnd)
        {
            var c = Whitespace();
            if (c == close)
            {
                return End;
            }

            if (c == ',' && !first)
            {
                _i++;
                c = Whitespace();
            }
            else if (c == -1)
            {
                throw PeekError(eof);
            }
            else if (first)
            {
                first = false;
            }
            else
            {
                throw PeekError(commaOrEnd);
            }

            return c == close ? throw PeekError(TrailingComma) : c == -1 ? throw PeekError(EofValue) : c;
        }

        // serde_json's deserialize_string, deserialize_bool and deserialize_seq: a value of another type is named (InvalidType).
        // index: the element's in a list (path[index], made only for the error), or -1.
        private void StringValue(string path, int index = -1)
        {
            var c = Whitespace();
            if (c != '"')
            {
                throw c == -1 ? PeekError(EofValue) : InvalidType(index < 0 ? path : $"{path}[{index}]", "a string");
            }

            _i++;
            String(validate: true);
        }

        private void Bool(string path)
        {
            var c = Whitespace();
            if (c is not ('t' or 'f'))
            {
                throw c == -1 ? PeekError(EofValue) : InvalidType(path, "a boolean");
            }

            _i++;
            Ident(c == 't' ? "rue" : "alse");
        }

        private void Strings(string path)
        {
            var c = Whitespace();
            if (c != '[')
            {
                throw c == -1 ? PeekError(EofValue) : InvalidType(path, "a sequence");
            }

            Nested(() =>
            {
                _i++;
                var first = true;
                for (var index = 0; NextMember(ref first, ']', EofList, ExpectedListCommaOrEnd) != End; index++)
                {
                    StringValue(path, index);
                }

                _i++;
            });
        }

        // A unit variant by name (serde_json's deserialize_enum): a string, else no value serde_json expects.
        private void Direction(string path)
        {
            switch (Whitespace())
            {
                case -1:
                    throw PeekError(EofValue);
                case '"':
                    _i++;
                    var name = String(validate: true, keep: EchoBytes);
                    if (Array.IndexOf(Directions, name) < 0)
                    {
                        throw Data(path, $"unknown variant `{name}`{(_cut ? "…" : string.Empty)}, expected one of {string.Join(", ", Directions.Select(d => $"`{d}`"))}");
                    }

                    return;
                case '{':
                    // The externally tagged form ({"Left": null}), which no client sends: read as any value.
                    Ignore();
                    return;
                default:
                    throw PeekError(ExpectedValue);
            }
        }

        private void Nested(Action read)
        {
            if (--_depth == 0)
            {
                throw PeekError(RecursionLimit);
            }

            read();
            _depth++;
        }

        // serde_json's peek_invalid_type: the value is read (a [ or { is not) and named as serde's Unexpected displays it.
        private Refusal InvalidType(string path, string expected)
        {
            string unexpected;
            switch (Peek())
            {
                case 'n':
                    _i++;
                    Ident("ull");
                    unexpected = "null";
                    break;
                case 't':
                    _i++;
                    Ident("rue");
                    unexpected = "boolean `true`";
                    break;
                case 'f':
                    _i++;
                    Ident("alse");
                    unexpected = "boolean `false`";
                    break;
                case '-':
                    _i++;
                    unexpected = Number(negative: true);
                    break;
                case >= '0' and <= '9':
                    unexpected = Number(negative: false);
                    break;
                case '"':
                    _i++;
                    var text = RustDebug(String(validate: true, keep: EchoBytes));
                    unexpected = "string " + text + (_cut ? "…" : string.Empty);
                    break;
                case '[':
                    unexpected = "sequence";
                    break;
                case '{':
                    unexpected = "map";
                    break;
                default:
                    return PeekError(ExpectedValue);
            }

            return Data(path, $"invalid type: {unexpected}, expected {expected}");
        }

        // serde_json's parse_integer/parse_decimal/parse_exponent, the number named as serde's Unexpected names it; or,
        // ignoring it, ignore_integer/ignore_decimal/ignore_exponent, which say "invalid number" where the others say EOF.
        private string Number(bool negative, bool ignoring = false)
        {
            var start = _i;
            var next = Next();
            if (next == -1)
            {
                throw Error(ignoring ? InvalidNumber : EofValue);
            }

            if (next == '0')
            {
                if (Peek() is >= '0' and <= '9')
                {
                    throw PeekError(InvalidNumber);
                }
            }
            else if (next is >= '1' and <= '9')
            {
                while (Peek() is >= '0' and <= '9')
                {
                    _i++;
                }
            }
            else
            {
                throw Error(InvalidNumber);
            }

            // What was scanned, handed to SerdeFloat: the integer digits, the fraction digits, the exponent's sign and digits.
            var integerEnd = _i;
            var (fractionStart, fractionEnd) = (_i, _i);
            var negativeExponent = false;
            var exponentStart = -1;
            var integer = true;
            if (Peek() == '.')
            {
                integer = false;
                _i++;
                fractionStart = _i;
                while (Peek() is >= '0' and <= '9')
                {
                    _i++;
                }

                if (_i == fractionStart)
                {
                    throw PeekError(Peek() == -1 && !ignoring ? EofValue : InvalidNumber);
                }

                fractionEnd = _i;
            }

            if (Peek() is 'e' or 'E')
            {
                integer = false;
                _i++;
                if (Peek() is '+' or '-')
                {
                    negativeExponent = Peek() == '-';
                    _i++;
                }

                exponentStart = _i;

                var first = Next();
                if (first == -1)
                {
                    throw Error(ignoring ? InvalidNumber : EofValue);
                }

                if (first is not (>= '0' and <= '9'))
                {
                    throw Error(InvalidNumber);
                }

                while (Peek() is >= '0' and <= '9')
                {
                    _i++;
                }
            }

            if (ignoring)
            {
                return string.Empty;
            }

            var text = (negative ? "-" : string.Empty) + Encoding.ASCII.GetString(B.Slice(start, _i - start));
            if (integer && !negative && ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var unsigned))
            {
                return $"integer `{unsigned}`";
            }

            // serde_json's parse_number: a negative integer is an i64 unless it is -0 or below i64's range, then an f64.
            if (integer && negative && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var signed) && signed != 0)
            {
                return $"integer `{signed}`";
            }

            var value = SerdeFloat(B[start..integerEnd], B[fractionStart..fractionEnd], exponentStart < 0 ? default : B[exponentStart.._i], negativeExponent, negative);
            return double.IsFinite(value) ? $"floating point `{Ryu.Format(value)}`" : throw Error(NumberOutOfRange);
        }

        // serde_json's parse_ident after its first byte: a wrong byte is refused where it was read.
        private void Ident(string rest)
        {
            foreach (var expected in rest)
            {
                var next = Next();
                if (next == -1)
                {
                    throw Error(EofValue);
                }

                if (next != expected)
                {
                    throw Error(ExpectedIdent);
                }
            }
        }

        // serde_json's SliceRead::parse_str (validate: a control character, a lone surrogate or invalid UTF-8 is refused, the
        // last once the string has ended) or ignore_str; _i is past the opening quote. The text is made only when kept (a
        // key, a variant, a value named in an error): the texts of a large body are only scanned.
        // The text kept is at most keep bytes (its UTF-8 cut at a character's start), _cut set when there was more.
        private string String(bool validate, int keep = 0)
        {
            var bytes = _kept = keep > 0 ? new List<byte>(Math.Min(keep, 64)) : null;
            _keep = keep;
            _cut = false;
            var segment = _i;
            var valid = true;
            while (true)
            {
                var next = B[_i..].IndexOfAny(StringStops);
                if (next < 0)
                {
                    _i = B.Length;
                    throw Error(EofString);
                }

                _i += next;
                var c = B[_i];
                if (c is (byte)'"' or (byte)'\\')
                {
                    // A character cannot span an escape: each run between escapes is valid UTF-8 on its own or not at all.
                    valid &= !validate || System.Text.Unicode.Utf8.IsValid(B.Slice(segment, _i - segment));
                    Keep(B.Slice(segment, _i - segment));
                    _i++;
                    if (c == '"')
                    {
                        return !valid ? throw Error(InvalidCodePoint) : bytes is null ? string.Empty : Kept(bytes);
                    }

                    Escape(validate);
                    segment = _i;
                    continue;
                }

                if (validate)
                {
                    _i++;
                }

                throw Error(ControlCharacter);
            }
        }

        private void Keep(ReadOnlySpan<byte> bytes)
        {
            if (_kept is null)
            {
                return;
            }

            var room = _keep - _kept.Count;
            _cut |= bytes.Length > room;
            _kept.AddRange(bytes[..Math.Min(room, bytes.Length)]);
        }

        private void Keep(byte one) => Keep([one]);

        // The kept bytes as text; a character the cut split is left out (isFinalBlock: false stops before it).
        private string Kept(List<byte> bytes)
        {
            var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes);
            var chars = new char[span.Length];
            System.Text.Unicode.Utf8.ToUtf16(span, chars, out _, out var written, replaceInvalidSequences: false, isFinalBlock: !_cut);
            return new string(chars, 0, written);
        }

        private void Escape(bool validate)
        {
            var c = Next();
            switch (c)
            {
                case -1:
                    throw Error(EofString);
                case '"' or '\\' or '/':
                    Keep((byte)c);
                    return;
                case 'b':
                    Keep(8);
                    return;
                case 'f':
                    Keep(12);
                    return;
                case 'n':
                    Keep((byte)'\n');
                    return;
                case 'r':
                    Keep((byte)'\r');
                    return;
                case 't':
                    Keep((byte)'\t');
                    return;
                case 'u':
                    break;
                default:
                    throw Error(InvalidEscape);
            }

            var n = Hex();
            if (!validate)
            {
                return;
            }

            if (n is >= 0xDC00 and <= 0xDFFF)
            {
                throw Error(LoneLeadingSurrogate);
            }

            if (n is < 0xD800 or > 0xDBFF)
            {
                Keep(Encoding.UTF8.GetBytes(((char)n).ToString()));
                return;
            }

            foreach (var expected in "\\u")
            {
                var next = Peek();
                if (next == -1)
                {
                    throw Error(EofString);
                }

                _i++;
                if (next != expected)
                {
                    throw Error(UnexpectedEndOfHexEscape);
                }
            }

            var low = Hex();
            if (low is < 0xDC00 or > 0xDFFF)
            {
                throw Error(LoneLeadingSurrogate);
            }

            Keep(Encoding.UTF8.GetBytes(char.ConvertFromUtf32(char.ConvertToUtf32((char)n, (char)low))));
        }

        private int Hex()
        {
            if (B.Length - _i < 4)
            {
                _i = B.Length;
                throw Error(EofString);
            }

            // Parsed from the bytes: no string per escape.
            var hex = int.TryParse(B.Slice(_i, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var n);
            _i += 4;
            return hex ? n : throw Error(InvalidEscape);
        }

        // serde_json's ignore_value: any value of a key TEI does not read, syntax checked, strings not decoded.
        private void Ignore()
        {
            var frames = new Stack<byte>();
            while (true)
            {
                switch (Whitespace())
                {
                    case -1:
                        throw PeekError(EofValue);
                    case 'n':
                        _i++;
                        Ident("ull");
                        break;
                    case 't':
                        _i++;
                        Ident("rue");
                        break;
                    case 'f':
                        _i++;
                        Ident("alse");
                        break;
                    case '-':
                        _i++;
                        Number(negative: true, ignoring: true);
                        break;
                    case >= '0' and <= '9':
                        Number(negative: false, ignoring: true);
                        break;
                    case '"':
                        _i++;
                        String(validate: false);
                        break;
                    case '[' or '{':
                        frames.Push(B[_i++]);
                        var inside = Whitespace();
                        if (inside == (frames.Peek() == '[' ? ']' : '}'))
                        {
                            break;
                        }

                        if (inside == -1)
                        {
                            throw PeekError(frames.Peek() == '[' ? EofList : EofObject);
                        }

                        if (frames.Peek() == '{')
                        {
                            Key();
                        }

                        continue;
                    default:
                        throw PeekError(ExpectedValue);
                }

                // After a value: close what ends here, or go on to the next element (a key first in an object).
                while (frames.Count > 0)
                {
                    var frame = frames.Peek();
                    var c = Whitespace();
                    if (c == ',')
                    {
                        _i++;
                        if (frame == '{')
                        {
                            Key();
                        }

                        break;
                    }

                    if (c == (frame == '[' ? ']' : '}'))
                    {
                        _i++;
                        frames.Pop();
                        continue;
                    }

                    throw PeekError(c == -1 ? frame == '[' ? EofList : EofObject : frame == '[' ? ExpectedListCommaOrEnd : ExpectedObjectCommaOrEnd);
                }

                if (frames.Count == 0)
                {
                    return;
                }
            }
        }

        private void Key()
        {
            var c = Whitespace();
            if (c != '"')
            {
                throw PeekError(c == -1 ? EofObject : KeyMustBeAString);
            }

            _i++;
            String(validate: false);
            c = Whitespace();
            if (c != ':')
            {
                throw PeekError(c == -1 ? EofObject : ExpectedColon);
            }

            _i++;
        }

        private int Whitespace()
        {
            while (_i < B.Length && B[_i] is (byte)' ' or (byte)'\n' or (byte)'\t' or (byte)'\r')
            {
                _i++;
            }

            return Peek();
        }

        private int Peek() => _i < B.Length ? B[_i] : -1;

        private int Next() => _i < B.Length ? B[_i++] : -1;

        // serde_json's error (at the index) and peek_error (one byte further, within the body).
        private Refusal Error(string code) => new(true, $"{code} {At(_i)}");

        private Refusal PeekError(string code) => new(true, $"{code} {At(Math.Min(B.Length, _i + 1))}");

        // A data error, placed where the reading stopped (serde_json's fix_position), after serde_path_to_error's path.
        private Refusal Data(string path, string message) => new(false, $"{(path.Length > 0 ? path + ": " : string.Empty)}{message} {At(_i)}");

        // serde_json's position_of_index: the line, and the bytes before the index on it.
        private string At(int index)
        {
            var startOfLine = B[..index].LastIndexOf((byte)'\n') + 1;
            var line = 1 + B[..startOfLine].Count((byte)'\n');
            return $"at line {line} column {index - startOfLine}";
        }
    }

    // Rust's Debug of a str: quoted, with \" \\ \n \r \t \0 and other control characters escaped.
    private static string RustDebug(string s)
    {
        var text = new StringBuilder("\"");
        foreach (var rune in s.EnumerateRunes())
        {
            text.Append(rune.Value switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                0 => "\\0",
                _ when Rune.IsControl(rune) => $"\\u{{{rune.Value:x}}}",
                _ => rune.ToString(),
            });
        }

        return text.Append('"').ToString();
    }

    /// <summary>
    /// The f64 serde_json 1.0.140 reads from a number (the parts the reader scanned after any <c>-</c>: the integer digits, the
    /// fraction digits, none without a <c>.</c>, and the exponent digits, none without an exponent) without its <c>float_roundtrip</c>
    /// feature, as TEI builds it, not the nearest f64 (<c>3e23</c> is <c>2.9999999999999997e23</c>); infinite where serde
    /// refuses it, "number out of range". Ported from de.rs: parse_integer and parse_long_integer (the significand a u64,
    /// each integer digit past its overflow counted in the exponent), parse_decimal and parse_decimal_overflow (each
    /// fraction digit lowers the exponent until the significand would overflow, the rest dropped), parse_exponent and
    /// parse_exponent_overflow (an exponent past i32: 0, or out of range when positive with a significand not 0), and
    /// f64_from_parts (the significand as f64, multiplied or divided once by POW10[|exponent|], or divided by 1e308 until
    /// the exponent is in the table).
    /// </summary>
    internal static double SerdeFloat(ReadOnlySpan<byte> integer, ReadOnlySpan<byte> fraction, ReadOnlySpan<byte> exponentDigits, bool negativeExponent, bool negative)
    {
        ulong significand = 0;
        var exponent = 0;
        var longInteger = false;
        foreach (var b in integer)
        {
            var digit = (ulong)(b - '0');
            longInteger = longInteger || Overflows(significand, digit);
            if (longInteger)
            {
                exponent++;
            }
            else
            {
                significand = (significand * 10) + digit;
            }
        }

        var dropping = false;
        foreach (var b in fraction)
        {
            var digit = (ulong)(b - '0');
            dropping = dropping || Overflows(significand, digit);
            if (!dropping)
            {
                significand = (significand * 10) + digit;
                exponent--;
            }
        }

        if (!exponentDigits.IsEmpty)
        {
            var exp = 0;
            foreach (var b in exponentDigits)
            {
                var digit = b - '0';
                if (exp >= int.MaxValue / 10 && (exp > int.MaxValue / 10 || digit > int.MaxValue % 10))
                {
                    return significand != 0 && !negativeExponent ? double.PositiveInfinity : negative ? -0.0 : 0.0;
                }

                exp = (exp * 10) + digit;
            }

            exponent = !negativeExponent ? (int)Math.Min((long)exponent + exp, int.MaxValue) : (int)Math.Max((long)exponent - exp, int.MinValue);
        }

        double f = significand;
        while (true)
        {
            // exponent.wrapping_abs() as usize: i32::MIN stays negative, past the table.
            var index = exponent == int.MinValue ? -1 : Math.Abs(exponent);
            if (index is >= 0 and < 309)
            {
                if (exponent >= 0)
                {
                    f *= Pow10[index];
                    if (double.IsInfinity(f))
                    {
                        return double.PositiveInfinity;
                    }
                }
                else
                {
                    f /= Pow10[index];
                }

                break;
            }

            if (f == 0)
            {
                break;
            }

            if (exponent >= 0)
            {
                return double.PositiveInfinity;
            }

            f /= 1e308;
            exponent += 308;
        }

        return negative ? -f : f;

        // serde_json's overflow! macro: whether significand * 10 + digit passes u64::MAX.
        static bool Overflows(ulong significand, ulong digit) =>
            significand >= ulong.MaxValue / 10 && (significand > ulong.MaxValue / 10 || digit > ulong.MaxValue % 10);
    }

    // serde_json's POW10 (de.rs): 1e0 to 1e308, each the nearest f64 (as Rust's literals are).
    private static readonly double[] Pow10 = [.. Enumerable.Range(0, 309).Select(e => double.Parse($"1e{e}", CultureInfo.InvariantCulture))];
}
