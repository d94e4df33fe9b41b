using Rank1.SearchBridge.Cli.CommandLine;
using Rank1.SearchBridge.Cli.Commands;
using Rank1.Testing;

namespace Rank1.SearchBridge.Cli.Tests;

public sealed class PrecomputeCommandTests
{
    private static string File(params string[] lines)
    {
        var path = TestTemp.File($"rank1-log-{Guid.NewGuid():N}.jsonl");
        System.IO.File.WriteAllLines(path, lines);
        return path;
    }

    [Fact]
    public async Task QueryLog_MixesPlainAndJsonLines_MergesRepeats_MostFrequentFirst()
    {
        var path = File(
            "why do onions make you cry",
            "",
            """{"query":"Eye drops","count":3}""",
            """{"query":"why do  onions make you CRY","count":4}""",
            """{"query":"eye drops","instructions":"Only medical advice counts."}""");
        var queries = await QueryFile.ReadAsync(path, defaultInstructions: null, CancellationToken.None);
        Assert.Equal(
            [("why do onions make you cry", 5L, (string?)null), ("Eye drops", 3L, null), ("eye drops", 1L, "Only medical advice counts.")],
            queries.Select(q => (q.Query, q.Count, q.Instructions)).ToArray());
    }

    /// <summary>
    /// A JSON line's <c>"instructions":""</c> is that line's "no instructions", over <c>--instructions</c>: kept as "" (the
    /// workers take "" as none), as before the blank check, which made it an exit-4 refusal.
    /// </summary>
    [Fact]
    public async Task QueryLog_EmptyJsonInstructions_AreThatLinesNone_OverTheDefault()
    {
        var path = File("""{"query":"eye drops","instructions":""}""", "onion");
        var queries = await QueryFile.ReadAsync(path, defaultInstructions: "Only medical advice counts.", CancellationToken.None);
        Assert.Equal(
            [("eye drops", 1L, (string?)""), ("onion", 1L, "Only medical advice counts.")],
            queries.Select(q => (q.Query, q.Count, q.Instructions)).ToArray());
    }

    /// <summary>
    /// Counts merged past the largest a count can be stay there: the query is still the most frequent. Before, the sum
    /// wrapped round to a negative count, and the most frequent query of the log went last.
    /// </summary>
    [Fact]
    public async Task QueryLog_MergedCountsPastTheLargest_StayTheLargest_StillMostFrequentFirst()
    {
        var path = File(
            """{"query":"asked most","count":9223372036854775807}""",
            """{"query":"asked less","count":5}""",
            """{"query":"asked most","count":2}""");
        var queries = await QueryFile.ReadAsync(path, defaultInstructions: null, CancellationToken.None);
        Assert.Equal([("asked most", long.MaxValue), ("asked less", 5L)], queries.Select(q => (q.Query, q.Count)).ToArray());
    }

    /// <summary>
    /// JSON numbers have no integer type (RFC 8259, section 6): a log written by a tool that writes counts as floats
    /// (Python's <c>json.dumps</c> of a pandas count column: <c>1.0</c>) is read with its whole counts, however written,
    /// and a count past the largest stands at it. Before, <c>1.0</c> was refused as "not a whole number"; <c>1.5</c> still is.
    /// </summary>
    [Fact]
    public async Task QueryLog_AWholeCountWrittenAsAFloat_IsThatCount()
    {
        var path = File(
            """{"query":"once","count":1.0}""",
            """{"query":"thrice","count":3e0}""",
            """{"query":"often","count":2.50E1}""",
            """{"query":"always","count":1e30}""",
            """{"query":"beyond","count":1e400}""");
        var queries = await QueryFile.ReadAsync(path, defaultInstructions: null, CancellationToken.None);
        Assert.Equal([("always", long.MaxValue), ("beyond", long.MaxValue), ("often", 25L), ("thrice", 3L), ("once", 1L)], queries.Select(q => (q.Query, q.Count)).ToArray());
    }

    /// <summary>
    /// A line of control characters only (a NUL byte: <c>printf '\x00\n'</c>) holds no query, as a line of spaces
    /// does: it is skipped like any blank line. It was sent to the workers as a query of its own, while a JSON line's
    /// query of the same characters is refused as blank.
    /// </summary>
    [Fact]
    public async Task QueryLog_ALineOfControlCharactersOnly_IsBlank_Skipped()
    {
        var queries = await QueryFile.ReadAsync(File("onion tears", "\0", "\u0001\u0007 \u001b", "eye drops"), defaultInstructions: null, CancellationToken.None);
        Assert.Equal(["onion tears", "eye drops"], queries.Select(q => q.Query).ToArray());

        var nothing = File("\0", "  ");
        var result = await CliRunner.RunAsync("precompute", "--queries", nothing, "--index", "docs", "--broker", "amqp://guest:guest@127.0.0.1:9/");
        Assert.Equal(4, result.ExitCode);
        Assert.Equal($"rank1-bridge precompute: {nothing}: no queries (one query per line, or JSON Lines {{\"query\":..}})", result.Error.Trim());
    }

    [Fact]
    public async Task TrecTopicsFile_TakesTheTextAfterTheId()
    {
        var queries = await QueryFile.ReadAsync(File("q1\twhy do onions make people cry", "q2\tcan I leave my dog in the car"), defaultInstructions: "Be strict.", CancellationToken.None);
        Assert.Equal([("why do onions make people cry", "Be strict."), ("can I leave my dog in the car", "Be strict.")], queries.Select(q => (q.Query, q.Instructions)).ToArray());
    }

    [Theory]
    [InlineData("{\"query\":", ":1: not valid JSON")]
    [InlineData("{\"count\":2}", ":1: \"query\" must be a string")]
    [InlineData("{\"query\":\"  \"}", ":1: \"query\" must not be blank")]
    [InlineData("{\"query\":\"x\",\"count\":0}", ":1: \"count\" must be a whole number of at least 1")]
    [InlineData("{\"query\":\"x\",\"count\":1.5}", ":1: \"count\" must be a whole number of at least 1")]
    [InlineData("{\"query\":\"x\",\"count\":1e-3}", ":1: \"count\" must be a whole number of at least 1")]
    [InlineData("{\"query\":\"x\",\"count\":-1e400}", ":1: \"count\" must be a whole number of at least 1")]
    [InlineData("{\"query\":\"x\",\"count\":\"2\"}", ":1: \"count\" must be a whole number of at least 1")]
    [InlineData("{\"query\":\"x\",\"instructions\":3}", ":1: \"instructions\" must be a string")]
    [InlineData("{\"query\":\"x\",\"qurey\":\"y\"}", ":1: unknown field \"qurey\"")]
    [InlineData("q1\t", ":1: no query after the tab")]
    [InlineData("q1\t  ", ":1: no query after the tab")]
    [InlineData("{\"query\":\"\\u0000\"}", ":1: \"query\" must not be blank")]
    [InlineData("{\"query\":\" \\u0007\\t\"}", ":1: \"query\" must not be blank")]
    [InlineData("q1\t\u0000", ":1: no query after the tab")]
    // Instructions the workers refuse (PrecomputeReasoning.IsBlankQuery): every such job went to their error queue.
    [InlineData("{\"query\":\"x\",\"instructions\":\"\\u0001\"}", ":1: \"instructions\" must not be blank")]
    [InlineData("{\"query\":\"x\",\"instructions\":\" \"}", ":1: \"instructions\" must not be blank")]
    [InlineData("{\"query\":\"x\",\"instructions\":\"\\u200B\"}", ":1: \"instructions\" must not be blank")]
    public async Task BadQueryLogLine_IsAOneLineErrorNamingFileAndLine_Exit4(string line, string expected)
    {
        var path = File(line);
        var result = await CliRunner.RunAsync("precompute", "--queries", path, "--index", "docs", "--broker", "amqp://guest:guest@127.0.0.1:9/");
        Assert.Equal(4, result.ExitCode);
        Assert.Contains(path + expected, result.Error, StringComparison.Ordinal);
        Assert.Single(result.Error.Trim().Split('\n'));
    }

    /// <summary>
    /// A JSON Lines query with a lone UTF-16 surrogate escape (half an emoji) or a field given twice was an unhandled
    /// exception (exit 134 and a stack trace); each is one line naming the file, the line and the field, exit 4, as
    /// eval's topics and rerank's passages are.
    /// </summary>
    [Theory]
    [InlineData("{\"query\":\"a \\ud800\"}", "\"query\" is not valid text: it holds an unpaired UTF-16 surrogate (half a character, e.g. an emoji cut in two)")]
    [InlineData("{\"query\":\"a\",\"instructions\":\"\\udc00 only\"}", "\"instructions\" is not valid text: it holds an unpaired UTF-16 surrogate (half a character, e.g. an emoji cut in two)")]
    [InlineData("{\"query\":\"a\",\"query\":\"b\"}", "not valid JSON (Duplicate property 'query' encountered during deserialization.)")]
    [InlineData("{\"query\":\"a\",\"count\":2,\"count\":3}", "not valid JSON (Duplicate property 'count' encountered during deserialization.)")]
    public async Task JsonQueryWithALoneSurrogateOrAFieldTwice_OneLineNamingFileLineAndField_Exit4(string line, string problem)
    {
        var path = File("{\"query\":\"fine \\ud83d\\ude00\"}", line);
        var result = await CliRunner.RunAsync("precompute", "--queries", path, "--index", "docs", "--broker", "amqp://guest:guest@127.0.0.1:9/");
        Assert.Equal(4, result.ExitCode);
        Assert.Equal($"rank1-bridge precompute: {path}:2: {problem}", result.Error.Trim());
    }

    [Fact]
    public async Task QueryLogLineNotUtf8_IsAOneLineErrorNamingFileLineAndByte_Exit4()
    {
        var path = TestTemp.File($"rank1-log-{Guid.NewGuid():N}.txt");
        System.IO.File.WriteAllBytes(path, [.. "onion\n"u8, .. "caf"u8, 0xE9, .. " au lait\n"u8]);
        var result = await CliRunner.RunAsync("precompute", "--queries", path, "--index", "docs", "--broker", "amqp://guest:guest@127.0.0.1:9/");
        Assert.Equal(4, result.ExitCode);
        Assert.Equal($"rank1-bridge precompute: {path}:2: not valid UTF-8 (byte 0xE9, byte 4 of the line)", result.Error.Trim());
    }

    /// <summary>
    /// A JSON Lines query that does not parse names the byte of the file's line where the parser stopped, by the rule
    /// a byte that is not UTF-8 is named by: in UTF-8 bytes, not characters (a non-ASCII character before it), the white
    /// space before an indented line counted (the line was parsed trimmed: short by the indent before), and on the first
    /// line the file's byte order mark counted (3 short before, where a byte that is not UTF-8 counted it).
    /// </summary>
    [Theory]
    [InlineData(false, "onion\n", "  \t{\"query\": \"crème brûlée\", \"count\": oops}")]
    [InlineData(true, "", "{\"query\": \"crème brûlée\", \"count\": oops}")]
    public async Task QueryLogJsonLineNotJson_NamesTheByteOfTheFilesLine_InBytes_IndentAndByteOrderMarkCounted(bool byteOrderMark, string before, string bad)
    {
        var path = TestTemp.File($"rank1-log-{Guid.NewGuid():N}.jsonl");
        byte[] mark = byteOrderMark ? [0xEF, 0xBB, 0xBF] : [];
        var line = System.Text.Encoding.UTF8.GetBytes(bad);
        System.IO.File.WriteAllBytes(path, [.. mark, .. System.Text.Encoding.UTF8.GetBytes(before), .. line, .. "\n"u8]);
        var lineNumber = before.Length == 0 ? 1 : 2;
        // The byte as the file holds it: found in the file's own bytes, the line's start after the mark and the lines before.
        var bytes = System.IO.File.ReadAllBytes(path);
        var start = lineNumber == 1 ? 0 : Array.IndexOf(bytes, (byte)'\n') + 1;
        var at = bytes.AsSpan(start).IndexOf("oops"u8) + 1;
        Assert.True(at > bad.IndexOf("oops", StringComparison.Ordinal) + 1); // more bytes than characters before it

        var result = await CliRunner.RunAsync("precompute", "--queries", path, "--index", "docs", "--broker", "amqp://guest:guest@127.0.0.1:9/");
        Assert.Equal(4, result.ExitCode);
        Assert.Equal($"rank1-bridge precompute: {path}:{lineNumber}: not valid JSON at byte {at} of the line ('o' is an invalid start of a value.)", result.Error.Trim());
    }

    [Theory]
    [InlineData(new[] { "--index", "docs" }, "Option '--queries' is required")]
    [InlineData(new[] { "--queries", "x.txt" }, "Option '--index' is required")]
    [InlineData(new[] { "--queries", "x.txt", "--index", "docs", "--broker", "http://localhost:5672" }, "--broker must be an amqp:// or amqps:// URL")]
    [InlineData(new[] { "--queries", "x.txt", "--index", "docs", "--queue", "bad queue" }, "--queue must be a queue name")]
    [InlineData(new[] { "--queries", "x.txt", "--index", "docs", "--broker", "amqp://guest:guest@127.0.0.1:9/", "--queue", "amq.jobs" }, "--queue must not start with 'amq.': RabbitMQ reserves that prefix")]
    [InlineData(new[] { "--queries", "x.txt", "--index", "docs", "--timeout", "5" }, "--timeout only applies with --wait")]
    [InlineData(new[] { "--queries", "x.txt", "--index", "docs", "--window", "0" }, "--window")]
    [InlineData(new[] { "--queries", "x.txt", "--index", "docs", "--max-think-tokens", "-1" }, "--max-think-tokens")]
    [InlineData(new[] { "--queries", "x.txt", "--index", "docs", "--max-query-tokens", "0" }, "--max-query-tokens")]
    [InlineData(new[] { "--queries", "x.txt", "--index", "docs", "--max-passage-tokens", "131073" }, "--max-passage-tokens")]
    // What the workers refuse as blank (PrecomputeReasoning.IsBlankQuery) is refused before a job is published.
    [InlineData(new[] { "--queries", "x.txt", "--index", "docs", "--instructions", "\u0001" }, "--instructions must not be blank")]
    [InlineData(new[] { "--queries", "x.txt", "--index", "docs", "--title-field", "\u200B" }, "--title-field must name a field")]
    [InlineData(new[] { "--queries", "x.txt", "--index", "docs", "--title-field", "" }, "--title-field must name a field")]
    [InlineData(new[] { "--queries", "x.txt", "--index", "docs", "--fields", "\u200B,\u0007" }, "--fields must name at least one field")]
    public async Task BadArguments_AreUsageErrors_Exit2(string[] args, string expected)
    {
        var result = await CliRunner.RunAsync(["precompute", .. args]);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(expected, result.Error, StringComparison.Ordinal);
    }

    /// <summary>
    /// <c>--instructions ""</c> is none, as <c>rerank</c>'s and a JSON line's <c>"instructions":""</c>: no usage error, the run
    /// goes on to read its query file. Before, it was exit 2, <c>--instructions must not be blank</c>.
    /// </summary>
    [Fact]
    public async Task EmptyInstructions_AreNone_NotAUsageError()
    {
        var result = await CliRunner.RunAsync("precompute", "--queries", "/nonexistent/q.txt", "--index", "docs", "--instructions", "");
        Assert.Equal((4, "rank1-bridge precompute: /nonexistent/q.txt: file not found (one query per line, TREC topics id<TAB>query, or JSON Lines {\"query\":..})"),
            (result.ExitCode, result.Error.TrimEnd('\n')));
    }

    [Fact]
    public async Task MissingFolderOrEmptyQueryLog_IsBadInputNamingIt()
    {
        var missing = await CliRunner.RunAsync("precompute", "--queries", "/nonexistent/q.txt", "--index", "docs");
        Assert.Equal(4, missing.ExitCode);
        Assert.Equal("rank1-bridge precompute: /nonexistent/q.txt: file not found (one query per line, TREC topics id<TAB>query, or JSON Lines {\"query\":..})", missing.Error.TrimEnd('\n'));
        var folder = TestTemp.Folder("queries-");
        var directory = await CliRunner.RunAsync("precompute", "--queries", folder, "--index", "docs");
        Assert.Equal(4, directory.ExitCode);
        Assert.Equal($"rank1-bridge precompute: {folder}: is a directory, not a file", directory.Error.TrimEnd('\n'));
        var empty = await CliRunner.RunAsync("precompute", "--queries", File("", "  "), "--index", "docs");
        Assert.Equal(4, empty.ExitCode);
        Assert.Contains("no queries", empty.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ZeroBudgetAndTokenLimits_AsARuleMaySetThem_AreAccepted()
    {
        // Accepted as arguments: the run gets as far as the (unreachable) broker, not a usage error (exit 2).
        var result = await CliRunner.RunAsync("precompute", "--queries", File("onion"), "--index", "docs", "--max-think-tokens", "0", "--max-query-tokens", "64",
            "--max-passage-tokens", "512", "--broker", "amqp://guest:guest@127.0.0.1:9/", "--connect-timeout", "1");
        Assert.Equal(ExitCodes.Failure, result.ExitCode);
        Assert.Contains("cannot reach the broker at", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnreachableBroker_OneLineError_Exit1_PasswordHidden()
    {
        var result = await CliRunner.RunAsync("precompute", "--queries", File("onion"), "--index", "docs", "--broker", "amqp://guest:secret@127.0.0.1:9/", "--connect-timeout", "2");
        Assert.Equal(ExitCodes.Failure, result.ExitCode);
        Assert.Contains("cannot reach the broker at amqp://guest:***@127.0.0.1:9/", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", result.Error, StringComparison.Ordinal);
    }
}
