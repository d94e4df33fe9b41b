using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Rank1.SearchBridge.Cli.CommandLine;
using Rank1.SearchBridge.Messages;
using Rank1.SearchBridge.Store;

namespace Rank1.SearchBridge.Cli.Commands;

/// <summary>One query of a query log: its text, how often it was asked, and its instructions.</summary>
internal sealed record LoggedQuery(string Query, long Count, string? Instructions);

/// <summary>
/// Reads a query log: one query per line, TREC topics (<c>id&lt;TAB&gt;query</c>: the text after the first tab), or
/// JSON Lines <c>{"query":..,"count":..,"instructions":..}</c> (the forms may mix; blank lines are skipped), read a line at a time. Queries that normalise to the same text and instructions are merged, their counts
/// added; the result is most frequent first. A bad line (bytes that are not UTF-8 included) is a one-line error naming the file and the line.
/// </summary>
internal static class QueryFile
{
    /// <summary>What the file should hold, said after "file not found".</summary>
    private const string Expected = "(one query per line, TREC topics id<TAB>query, or JSON Lines {\"query\":..})";

    public static async Task<IReadOnlyList<LoggedQuery>> ReadAsync(string path, string? defaultInstructions, CancellationToken cancellationToken)
    {
        // Missing, a folder or unreadable is named as the other commands name their inputs (a folder was "no such file",
        // a file without read permission .NET's own sentence).
        InputFile.Check(path, Expected);
        try
        {
            return await ParseAsync(path, defaultInstructions, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (InputFile.IsReadError(ex))
        {
            throw InputFile.Unreadable(path, ex);
        }
    }

    private static async Task<IReadOnlyList<LoggedQuery>> ParseAsync(string path, string? defaultInstructions, CancellationToken cancellationToken)
    {
        // Per distinct query only, never per line: its first form and count (in file order), and where that stands, by
        // its normalised text and instructions (the same strings as the query's where normalising changes nothing).
        var queries = new List<LoggedQuery>();
        var merged = new Dictionary<(string, string), int>();
        var lineNumber = 0;
        await foreach (var line in Utf8Lines.ReadAsync(path, (number, reason) => new CliException($"{path}:{number}: {reason}", ExitCodes.BadInput), cancellationToken).ConfigureAwait(false))
        {
            lineNumber++;
            var trimmed = line.Trim();
            if (PrecomputeReasoning.IsBlankQuery(trimmed))
            {
                continue;
            }

            // Parsed trimmed (JSON allows no white space but space, tab, CR and LF around it); a position is named in the file's
            // line, the white space cut from its start counted in.
            var q = trimmed.StartsWith('{') ? ParseJson(trimmed, Encoding.UTF8.GetByteCount(line.AsSpan(0, line.Length - line.TrimStart().Length)), path, lineNumber, defaultInstructions) : PlainLine(line, path, lineNumber, defaultInstructions);
            var instructions = q.Instructions ?? string.Empty;
            ref var at = ref CollectionsMarshal.GetValueRefOrAddDefault(merged, (Normalized(q.Query), Normalized(instructions)), out var seen);
            if (seen)
            {
                // At most long.MaxValue: a sum past it wrapped round to a negative count, and the query went last.
                var first = queries[at];
                queries[at] = first with { Count = first.Count > long.MaxValue - q.Count ? long.MaxValue : first.Count + q.Count };
            }
            else
            {
                at = queries.Count;
                queries.Add(q);
            }
        }

        if (queries.Count == 0)
        {
            throw new CliException($"{path}: no queries (one query per line, or JSON Lines {{\"query\":..}})", ExitCodes.BadInput);
        }

        // Most frequent first; ties keep file order (OrderBy is a stable sort). The key map is let go first: an async
        // method's locals live in its state machine until it returns, and on a log of a million distinct queries the map
        // would otherwise be held through the sort beside the sorted copy.
        merged = null!;
        return queries.OrderByDescending(q => q.Count).ToArray();
    }

    /// <summary><paramref name="text"/> normalised as the reasoning store's keys are, the same string when that changes nothing.</summary>
    private static string Normalized(string text) => ReasoningKeys.Normalize(text) is var normal && normal == text ? text : normal;

    /// <summary>A plain line or a TREC topic; <paramref name="line"/> is untrimmed, so that a tab at its end is still the topic's separator.</summary>
    private static LoggedQuery PlainLine(string line, string path, int lineNumber, string? defaultInstructions)
    {
        var tab = line.IndexOf('\t', StringComparison.Ordinal);
        var query = (tab < 0 ? line : line[(tab + 1)..]).Trim();
        return !PrecomputeReasoning.IsBlankQuery(query) ? new LoggedQuery(query, 1, defaultInstructions) : throw new CliException($"{path}:{lineNumber}: no query after the tab", ExitCodes.BadInput);
    }

    /// <summary>
    /// A JSON Lines query. Anything but a string query, a whole count and string instructions (a lone UTF-16 surrogate
    /// escape or a field given twice included) is a bad input naming the file and line, as topics and passages are
    /// (<see cref="JsonLineText"/>), never an unhandled exception.
    /// </summary>
    private static LoggedQuery ParseJson(string line, int leadingBytes, string path, int lineNumber, string? defaultInstructions)
    {
        var where = $"{path}:{lineNumber}";
        string Fail(string message) => throw new CliException($"{where}: {message}", ExitCodes.BadInput);
        try
        {
            using var doc = JsonDocument.Parse(line, JsonLineText.Strict);
            var obj = doc.RootElement;
            if (obj.ValueKind != JsonValueKind.Object)
            {
                Fail("expected a JSON object");
            }

            foreach (var property in obj.EnumerateObject())
            {
                if (property.Name is not ("query" or "count" or "instructions"))
                {
                    Fail($"unknown field \"{property.Name}\" (expected query, count, instructions)");
                }
            }

            var query = Given(obj, "query") is { ValueKind: JsonValueKind.String } qv ? JsonLineText.Of(qv, where, "query") : Fail("\"query\" must be a string");
            if (PrecomputeReasoning.IsBlankQuery(query))
            {
                Fail("\"query\" must not be blank");
            }

            var count = Given(obj, "count") is { } c ? Count(c) ?? throw new CliException($"{where}: \"count\" must be a whole number of at least 1", ExitCodes.BadInput) : 1;

            var instructions = Given(obj, "instructions") switch
            {
                null => defaultInstructions,
                // "" is this line's "no instructions" (it overrides --instructions), published as it always was: the
                // workers take "" as none. Any other blank text is refused, as the workers refuse it (TryInstructionsOrNone).
                { ValueKind: JsonValueKind.String } iv => JsonLineText.Of(iv, where, "instructions") is var text && PrecomputeReasoning.TryInstructionsOrNone(text, out _)
                    ? text
                    : Fail("\"instructions\" must not be blank"),
                _ => Fail("\"instructions\" must be a string"),
            };
            return new LoggedQuery(query.Trim(), count, instructions);
        }
        catch (JsonException e)
        {
            throw JsonLineText.NotValidJson(where, e, path, lineNumber, leadingBytes);
        }
    }

    /// <summary>
    /// A count: a whole number of at least 1 however JSON writes it (JSON numbers have no integer type, RFC 8259 section 6),
    /// so <c>1.0</c> or <c>1e3</c> from a tool that writes counts as floats (Python's <c>json.dumps</c> of a pandas count
    /// column) is 1 or 1000; one past the largest count (<c>1e30</c>, <c>1e400</c>) stands at it, as merged counts do. Null for anything else
    /// (<c>1.5</c>, <c>0</c>, a string). Before, <c>1.0</c> was refused as "not a whole number".
    /// </summary>
    private static long? Count(JsonElement value) => value.ValueKind != JsonValueKind.Number ? null
        : value.TryGetInt64(out var whole) ? whole >= 1 ? whole : null
        : !value.TryGetDouble(out var d) ? value.GetRawText().StartsWith('-') ? null : long.MaxValue // past a double's range (1e400): whole, and past the largest
        : d >= 1 && d == Math.Floor(d) ? d >= LongEnd ? long.MaxValue : (long)d
        : null;

    // 2^63, the first double past long.MaxValue.
    private const double LongEnd = 9_223_372_036_854_775_808d;

    /// <summary><paramref name="obj"/>'s <paramref name="name"/>, or null where it is absent or JSON null.</summary>
    private static JsonElement? Given(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;
}
