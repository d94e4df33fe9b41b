using System.Text;
using System.Text.Json.Nodes;

namespace Rank1.Elastic;

/// <summary>
/// The first JSON syntax error in a request body as Elasticsearch's parser (Jackson 2.15's <c>UTF8StreamJsonParser</c>,
/// with comments allowed) finds it: its message, line and column, and whether it is an end-of-input
/// (<c>JsonEOFException</c>). Only for <see cref="RequestJson.ParseFailure"/>; the common errors are read here (a
/// token that is no value, a character where a value, a name, a colon or a comma belongs, a close marker of the wrong
/// kind, a control character, a bad escape, input that ends inside an object or array); where Jackson's wording is not
/// modelled (a malformed number, text ending inside a string value, a character that is not ASCII where the error is)
/// there is no answer, and the caller keeps its own wording.
/// </summary>
internal static class JacksonSyntax
{
    /// <summary>A syntax error as Jackson reports it: its message (without the location suffix) and where it was found.</summary>
    /// <param name="EndOfInput">Whether Jackson throws a <c>JsonEOFException</c> for it.</param>
    /// <param name="Message">Jackson's message, without <c>\n at [Source: ...]</c>.</param>
    /// <param name="Line">Jackson's line, from 1.</param>
    /// <param name="Column">Jackson's column, from 1: the byte after the last one it read.</param>
    /// <param name="AtCharacter">
    /// Whether Jackson 2.17 and later (jackson-core #1173) report it one column earlier, at the character that was wrong
    /// (<c>_currentLocationMinusOne</c>: an unexpected character, a close marker of the wrong kind, an unrecognized escape).
    /// </param>
    /// <param name="Token">
    /// Where the token Jackson stood on when it failed starts (<c>getTokenLocation()</c>: the last token it returned, or
    /// the field name whose value it was reading, or a close marker it read), as Elasticsearch's <c>DocumentParser</c>
    /// places the <c>document_parsing_exception</c> that wraps the error; null when the error is inside a string value,
    /// which a document's parser reads with <c>text()</c>, not <c>nextToken()</c>.
    /// </param>
    /// <param name="AtRoot">Whether the error is outside every object and array (before or after the first root value, or in a root scalar).</param>
    internal sealed record Error(bool EndOfInput, string Message, int Line, int Column, bool AtCharacter = false, Location? Token = null, bool AtRoot = false)
    {
        /// <summary>The column as Jackson 2.17 and later report it (OpenSearch 2.16 and later pin one).</summary>
        public int ColumnSince217 => AtCharacter ? Column - 1 : Column;
    }

    private const string ValidValues = "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')";

    // Jackson's ParserMinimalBase.MAX_ERROR_TOKEN_LENGTH.
    private const int MaxErrorToken = 256;

    // Jackson's ContentReference.DEFAULT_MAX_CONTENT_SNIPPET.
    private const int MaxSnippet = 500;

    /// <summary>
    /// How Jackson names its source in a location (<c>ContentReference.appendSourceDescription</c>, with
    /// <c>INCLUDE_SOURCE_IN_LOCATION</c> on, as <c>JsonXContentImpl</c> sets it, for a body held as one byte array): the
    /// first 500 bytes of <paramref name="text"/> in quotes, control characters other than CR and LF as <c>\uXXXX</c>.
    /// </summary>
    /// <param name="text">The text parsed.</param>
    public static string Source(ReadOnlySpan<byte> text)
    {
        var sb = new StringBuilder("(byte[])\"");
        foreach (var ch in Encoding.UTF8.GetString(text[..Math.Min(text.Length, MaxSnippet)]))
        {
            if (char.IsControl(ch) && ch is not '\r' and not '\n')
            {
                sb.Append("\\u").Append(((int)ch).ToString("X4", System.Globalization.CultureInfo.InvariantCulture));
            }
            else
            {
                sb.Append(ch);
            }
        }

        sb.Append('"');
        if (text.Length > MaxSnippet)
        {
            sb.Append("[truncated ").Append(text.Length - MaxSnippet).Append(" bytes]");
        }

        return sb.ToString();
    }

    /// <summary>
    /// How Jackson 2.16 and later name the source where <c>INCLUDE_SOURCE_IN_LOCATION</c> is off, its default since 2.16
    /// (<c>ContentReference.redacted()</c>), as OpenSearch 2.x/3.x leaves it (<c>JsonXContent</c> does not turn it on).
    /// </summary>
    public const string Redacted = "REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled)";

    /// <summary>A location as Jackson prints it: <c>[Source: (byte[])"..."; line: 1, column: 5]</c>.</summary>
    /// <param name="source">How the source is named: <see cref="Source"/>'s quote, or <see cref="Redacted"/>.</param>
    /// <param name="line">Jackson's line.</param>
    /// <param name="column">Jackson's column.</param>
    public static string Location(string source, int line, int column) => $"[Source: {source}; line: {line}, column: {column}]";

    /// <summary>
    /// A Jackson value accessor's refusal (<c>getBooleanValue()</c> on a number, <c>getLongValue()</c> on a boolean) as
    /// <c>JsonXContentParser</c> wraps it: an <c>x_content_parse_exception</c> at where Jackson stands, after the token
    /// (<see cref="JsonLocations.After"/>), caused by Jackson's own, whose message names its source (<see cref="Source"/>).
    /// Without the place when the node's text is not remembered. <see cref="EsException.OpenSearchForm"/> holds OpenSearch's
    /// answer: its <c>JsonXContentParser.doIntValue</c>/<c>doBooleanValue</c> call Jackson's accessor unwrapped, so Jackson's
    /// exception is the answer itself, its source <see cref="Redacted"/>: a <c>json_parse_exception</c> is a 400 and an
    /// <c>input_coercion_exception</c> (a number past an int's range) a 500, as 2.19.1's <c>ExceptionsHelper.status</c> has no
    /// case for it (a 400 from 2.19.2 and 3.1, opensearch-project/OpenSearch#18161).
    /// </summary>
    /// <param name="node">The value refused, of a remembered body.</param>
    /// <param name="message">Jackson's message, without its location.</param>
    /// <param name="type">The type of Jackson's exception.</param>
    public static EsException AccessorFailure(JsonNode node, string message, string type = "json_parse_exception")
    {
        var at = JsonLocations.After(node);
        var jackson = at is { } l ? $"{message}\n at {Location(Source(JsonLocations.TextOf(node)), l.Line, l.Column)}" : message;
        var openSearch = at is { } o ? $"{message}\n at {Location(Redacted, o.Line, o.Column)}" : message;
        var elasticsearch = EsException.XContentParse(jackson, at, EsException.Foreign(400, type, jackson));
        elasticsearch.OpenSearchForm = EsException.Foreign(type == "input_coercion_exception" ? 500 : 400, type, openSearch);
        return elasticsearch;
    }

    /// <summary>The first syntax error in <paramref name="text"/>, as Jackson finds it; null where none is found or its wording is not modelled.</summary>
    /// <param name="text">The UTF-8 text, read as a sequence of root values.</param>
    /// <param name="source">How a location in the message names the source: <see cref="Source"/>'s quote of <paramref name="text"/> when null.</param>
    public static Error? Find(ReadOnlySpan<byte> text, string? source = null) => new Scanner(text, source).Run();

    private enum State
    {
        Value,
        AfterOpenObject,
        AfterOpenArray,
        NameAfterComma,
        ValueAfterComma,
        Colon,
        AfterValue,
    }

    private ref struct Scanner(ReadOnlySpan<byte> text, string? source)
    {
        private readonly ReadOnlySpan<byte> text = text;
        private readonly string source = source ?? Source(text);
        private readonly Stack<(bool Object, int Line, int Column)> open = new();
        private int pos;
        private int line = 1;
        private int rowStart;

        // Jackson's getTokenLocation(): where the token it stands on starts; unknown inside a string value.
        private Location token = new(1, 1);
        private bool inValueString;

        private readonly int Column => pos - rowStart + 1;

        public Error? Run()
        {
            try
            {
                var state = State.Value;
                while (true)
                {
                    if (state != State.Value)
                    {
                        state = Step(state);
                        continue;
                    }

                    // A root value, or the end. A close marker here is Jackson's _closeScope at the root: not modelled.
                    var c = SkipWhitespace(endAllowed: true);
                    if (c < 0)
                    {
                        return null;
                    }

                    state = c is '}' or ']' ? throw new NotModelled() : ReadValue(c, afterName: false);
                }
            }
            catch (Found found)
            {
                return found.Error;
            }
            catch (NotModelled)
            {
                return null;
            }
        }

        private State Step(State state)
        {
            switch (state)
            {
                case State.ValueAfterComma:
                    return ReadValue(SkipWhitespace(endAllowed: false), afterName: false);
                case State.AfterOpenObject:
                case State.NameAfterComma:
                {
                    var c = SkipWhitespace(endAllowed: state == State.AfterOpenObject);
                    if (state == State.AfterOpenObject && c is '}' or ']')
                    {
                        return Close(c);
                    }

                    if (c != '"')
                    {
                        throw Unexpected(c, "was expecting double-quote to start field name");
                    }

                    // The name's token is its quote (_updateNameLocation); until it is read, the one before it.
                    var name = new Location(line, pos - rowStart);
                    ReadString("name");
                    token = name;
                    return State.Colon;
                }

                case State.AfterOpenArray:
                {
                    var c = SkipWhitespace(endAllowed: true);
                    return c is ']' or '}' ? Close(c) : ReadValue(c, afterName: false);
                }

                case State.Colon:
                {
                    var c = SkipWhitespace(endAllowed: true, withinEntries: true);
                    if (c != ':')
                    {
                        throw Unexpected(c, "was expecting a colon to separate field name and value");
                    }

                    return ReadValue(SkipWhitespace(endAllowed: true, withinEntries: true), afterName: true);
                }

                default:
                {
                    var c = SkipWhitespace(endAllowed: true);
                    if (c is '}' or ']')
                    {
                        return Close(c);
                    }

                    var inObject = open.Peek().Object;
                    if (c != ',')
                    {
                        throw Unexpected(c, $"was expecting comma to separate {(inObject ? "Object" : "Array")} entries");
                    }

                    return inObject ? State.NameAfterComma : State.ValueAfterComma;
                }
            }
        }

        // JsonReadContext's close check (_closeScope): a marker of the other kind names where its scope started.
        private State Close(int c)
        {
            if (open.Count == 0)
            {
                throw new NotModelled();
            }

            token = new(line, pos - rowStart); // _closeArrayScope/_closeObjectScope: _updateLocation, then the check

            var (isObject, startLine, startColumn) = open.Peek();
            if (isObject != (c == '}'))
            {
                var kind = isObject ? "Object" : "Array";
                throw Fail($"Unexpected close marker '{(char)c}': expected '{(isObject ? '}' : ']')}' (for {kind} starting at {Location(source, startLine, startColumn)})", atCharacter: true);
            }

            open.Pop();
            return open.Count == 0 ? State.Value : State.AfterValue;
        }

        // A value starting with c, already read (_nextTokenNotInObject, _handleUnexpectedValue). Outside an object its
        // token is where Jackson stands from the start (_updateLocation); after a field name Jackson reads it within the
        // name's nextToken, so the name stays the token until the value is read.
        private State ReadValue(int c, bool afterName)
        {
            var at = new Location(line, pos - rowStart);
            if (!afterName)
            {
                token = at;
            }

            switch (c)
            {
                case '{':
                    token = at;
                    open.Push((true, line, pos - rowStart));
                    return State.AfterOpenObject;
                case '[':
                    token = at;
                    open.Push((false, line, pos - rowStart));
                    return State.AfterOpenArray;
                case '"':
                    token = at;
                    inValueString = true;
                    ReadString(null);
                    inValueString = false;
                    return Done();
                case '-' or (>= '0' and <= '9'):
                    ReadNumber(c);
                    token = at;
                    return Done();
                case ']' when open.Count > 0 && !open.Peek().Object:
                case ',':
                case '}':
                    throw Unexpected(c, "expected a value");
            }

            if (IsIdentifierStart(c))
            {
                var start = pos - 1;
                var end = start;
                while (end < text.Length && IsIdentifierPart(text[end]))
                {
                    end++;
                }

                var word = Encoding.ASCII.GetString(text[start..end]);
                if (word is "true" or "false" or "null")
                {
                    pos = end;
                    token = at;
                    return Done();
                }

                if (end < text.Length && text[end] >= 0x80)
                {
                    throw new NotModelled();
                }

                if (word.Length >= MaxErrorToken)
                {
                    word = word[..MaxErrorToken] + "...";
                    pos = start + MaxErrorToken;
                }
                else
                {
                    pos = Math.Min(end + 1, text.Length);
                }

                throw Fail($"Unrecognized token '{word}': was expecting {ValidValues}");
            }

            throw Unexpected(c, $"expected a valid value {ValidValues}");
        }

        private readonly State Done() => open.Count == 0 ? State.Value : State.AfterValue;

        // A string's rest after its opening quote (_parseName, _skipString, _finishString2).
        private void ReadString(string? nameOrValue)
        {
            while (true)
            {
                if (pos >= text.Length)
                {
                    // The end inside a value string is found by whichever read comes first (text() or the next
                    // token), which Jackson words differently; inside a name it is always nextToken's.
                    throw nameOrValue is null ? new NotModelled() : Eof(": was expecting closing '\"' for name");
                }

                var b = text[pos++];
                if (b == '"')
                {
                    return;
                }

                if (b < 0x20)
                {
                    throw Fail($"Illegal unquoted character ({CharDescription(b)}): has to be escaped using backslash to be included in {nameOrValue ?? "string value"}");
                }

                if (b != '\\')
                {
                    continue;
                }

                if (pos >= text.Length)
                {
                    throw nameOrValue is null ? new NotModelled() : Eof(" in character escape sequence");
                }

                var e = text[pos++];
                if (e >= 0x80)
                {
                    throw new NotModelled();
                }

                if (e == 'u')
                {
                    for (var i = 0; i < 4; i++)
                    {
                        if (pos >= text.Length)
                        {
                            throw nameOrValue is null ? new NotModelled() : Eof(" in character escape sequence");
                        }

                        var h = text[pos++];
                        if (!char.IsAsciiHexDigit((char)h))
                        {
                            throw h >= 0x80 ? new NotModelled() : Unexpected(h, "expected a hex-digit for character escape sequence");
                        }
                    }
                }
                else if (e is not ((byte)'"' or (byte)'\\' or (byte)'/' or (byte)'b' or (byte)'f' or (byte)'n' or (byte)'r' or (byte)'t'))
                {
                    throw Fail($"Unrecognized character escape {CharDescription(e)}", atCharacter: true);
                }
            }
        }

        // A number's rest; one that is not JSON's is not modelled (Jackson's "Invalid numeric value: ...").
        private void ReadNumber(int first)
        {
            var digits = first == '-' ? 0 : 1;
            var leadingZero = first == '0';
            while (pos < text.Length && text[pos] is >= (byte)'0' and <= (byte)'9')
            {
                if (digits == 1 && leadingZero)
                {
                    throw new NotModelled();
                }

                leadingZero = digits == 0 && text[pos] == '0';
                digits++;
                pos++;
            }

            if (digits == 0)
            {
                throw new NotModelled();
            }

            if (pos < text.Length && text[pos] == '.')
            {
                pos++;
                RequireDigits();
            }

            if (pos < text.Length && text[pos] is (byte)'e' or (byte)'E')
            {
                pos++;
                if (pos < text.Length && text[pos] is (byte)'+' or (byte)'-')
                {
                    pos++;
                }

                RequireDigits();
            }

            if (open.Count == 0 && pos < text.Length && text[pos] is not ((byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n'))
            {
                // A root-level number must be followed by white space (_verifyRootSpace).
                throw new NotModelled();
            }
        }

        private void RequireDigits()
        {
            var start = pos;
            while (pos < text.Length && text[pos] is >= (byte)'0' and <= (byte)'9')
            {
                pos++;
            }

            if (pos == start)
            {
                throw new NotModelled();
            }
        }

        // _skipWSOrEnd / _skipWS / _skipColon: white space and comments, lines counted as Jackson counts them. At the
        // end: -1 where the caller may end (at the root), else the end-of-input error of the place.
        private int SkipWhitespace(bool endAllowed, bool withinEntries = false)
        {
            while (pos < text.Length)
            {
                var b = text[pos++];
                switch (b)
                {
                    case (byte)' ' or (byte)'\t':
                        continue;
                    case (byte)'\n':
                        NewLine();
                        continue;
                    case (byte)'\r':
                        if (pos < text.Length && text[pos] == '\n')
                        {
                            pos++;
                        }

                        NewLine();
                        continue;
                    case (byte)'/':
                        SkipComment();
                        continue;
                    case < 0x20:
                        throw Fail($"Illegal character ({CharDescription(b)}): only regular white space (\\r, \\n, \\t) is allowed between tokens");
                    case >= 0x80:
                        throw new NotModelled();
                    default:
                        return b;
                }
            }

            if (withinEntries)
            {
                throw Eof($" within/between {Kind()} entries");
            }

            if (open.Count == 0)
            {
                return endAllowed ? -1 : throw new NotModelled();
            }

            if (!endAllowed)
            {
                // After a comma Jackson's _skipWS throws a plain JsonParseException, not an end-of-input one.
                throw Fail($"Unexpected end-of-input within/between {Kind()} entries");
            }

            var (isObject, startLine, startColumn) = open.Peek();
            throw Eof($": expected close marker for {(isObject ? "Object" : "Array")} (start marker at {Location(source, startLine, startColumn)})");
        }

        private readonly string Kind() => open.Count == 0 ? "root" : open.Peek().Object ? "Object" : "Array";

        private void SkipComment()
        {
            if (pos >= text.Length)
            {
                throw Eof(" in a comment");
            }

            var c = text[pos++];
            if (c == '/')
            {
                while (pos < text.Length)
                {
                    var b = text[pos++];
                    if (b == '\n' || b == '\r')
                    {
                        if (b == '\r' && pos < text.Length && text[pos] == '\n')
                        {
                            pos++;
                        }

                        NewLine();
                        return;
                    }
                }

                return;
            }

            if (c != '*')
            {
                throw c >= 0x80 ? new NotModelled() : Unexpected(c, "was expecting either '*' or '/' for a comment");
            }

            while (pos < text.Length)
            {
                var b = text[pos++];
                if (b == '*' && pos < text.Length && text[pos] == '/')
                {
                    pos++;
                    return;
                }

                if (b == '\n')
                {
                    NewLine();
                }
                else if (b == '\r')
                {
                    if (pos < text.Length && text[pos] == '\n')
                    {
                        pos++;
                    }

                    NewLine();
                }
            }

            throw Eof(" in a comment");
        }

        private void NewLine()
        {
            line++;
            rowStart = pos;
        }

        private readonly Found Unexpected(int c, string comment) =>
            c >= 0x80 ? throw new NotModelled() : Fail($"Unexpected character ({CharDescription(c)}): {comment}", atCharacter: true);

        private readonly Found Fail(string message, bool atCharacter = false) =>
            new(new Error(false, message, line, Column, atCharacter, inValueString ? null : token, open.Count == 0));

        private readonly Found Eof(string message) =>
            new(new Error(true, "Unexpected end-of-input" + message, line, Column, Token: inValueString ? null : token, AtRoot: open.Count == 0));
    }

    // ParserMinimalBase._getCharDesc, for an ASCII character.
    private static string CharDescription(int c) => char.IsControl((char)c) ? $"(CTRL-CHAR, code {c})" : $"'{(char)c}' (code {c})";

    // Character.isJavaIdentifierStart / isJavaIdentifierPart, for ASCII (a byte above it: not modelled).
    private static bool IsIdentifierStart(int c) => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or '$' or '_';

    private static bool IsIdentifierPart(byte c) =>
        IsIdentifierStart(c) || c is (>= (byte)'0' and <= (byte)'9') or <= 0x08 or (>= 0x0E and <= 0x1B) or 0x7F;

    private sealed class Found(Error error) : Exception
    {
        public Error Error { get; } = error;
    }

    private sealed class NotModelled : Exception;
}
