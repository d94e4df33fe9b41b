using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Rank1.SearchBridge.Cli.CommandLine;
using Rank1.Testing;

namespace Rank1.SearchBridge.Cli.Tests;

/// <summary>
/// What the README's exit-code table promises for the inputs an exploratory tester broke the tool with: one line and
/// the documented exit code (never an unhandled exception), a <c>--host</c> that is not an address refused (never all
/// interfaces), and no terminal escape sequence of the corpus reaching the terminal.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed partial class CliRobustnessTests
{
    [Trait(TestCategory.Name, TestCategory.Process)]
    [Theory]
    [InlineData("serve", "127.0.0.l")]
    [InlineData("serve", "")]
    [InlineData("serve", "myhost.example")]
    [InlineData("serve", "127.1")]
    [InlineData("proxy", "myhost.example")]
    [InlineData("proxy", "127.0.0.l")]
    [InlineData("search-server", "")]
    [InlineData("search-server", "myhost.example")]
    public async Task Host_NotAnIpAddressOrLocalhost_OneLineUsageError_NeverListens(string command, string host)
    {
        // A real process, limited by TestProcess.RunAsync's bound on a hang (two minutes, as every process run here): before
        // the fix serve and proxy listened on every interface (and ran on), and an empty host crashed.
        string[] args = command == "search-server"
            ? [CliRunner.Dll, command, "--port", "0", "--host", host]
            : [CliRunner.Dll, command, "--port", "0", "--host", host, "--backend", "http://127.0.0.1:9"];
        var r = await TestProcess.RunAsync(TestProcess.StartInfo("dotnet", args));
        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"rank1-bridge {command}: --host must be an IP address (127.0.0.1, 0.0.0.0, ::) or localhost, not '{host}' (see rank1-bridge {command} --help)",
            r.Error.TrimEnd('\n'));
        Assert.Equal(string.Empty, r.Out);
    }

    /// <summary>
    /// <c>Urls</c> from the environment (or the <c>--config</c> file) is checked as <c>--host</c> is. Before, Kestrel's own
    /// exception ended the process uncaught (exit 134, a stack trace) for an address it cannot parse or a port past
    /// 65535, and a host name was bound as every interface ([::]; Kestrel's documented rule: "Anything not recognized as a
    /// valid IP address or localhost binds to all IPv4 and IPv6 IPs", learn.microsoft.com, Kestrel endpoints).
    /// </summary>
    [Trait(TestCategory.Name, TestCategory.Process)]
    [Theory]
    [InlineData("serve", "Urls", "notaurl", "Urls: 'notaurl' is not an address to listen on (http://ADDRESS:PORT, for example http://127.0.0.1:8080)")]
    [InlineData("proxy", "URLS", "notaurl", "Urls: 'notaurl' is not an address to listen on (http://ADDRESS:PORT, for example http://127.0.0.1:8080)")]
    [InlineData("serve", "Urls", "http://127.0.0.1:99999", "Urls: 'http://127.0.0.1:99999': the port must be from 0 to 65535")]
    [InlineData("serve", "ASPNETCORE_URLS", "http://myhost.example:0",
        "Urls: 'http://myhost.example:0' names the host 'myhost.example', which Kestrel would take as every interface: give an IP address (0.0.0.0 or [::] for every interface) or localhost")]
    [InlineData("proxy", "Urls", "http://127.0.0.1:0;http://myhost.example:0",
        "Urls: 'http://myhost.example:0' names the host 'myhost.example', which Kestrel would take as every interface: give an IP address (0.0.0.0 or [::] for every interface) or localhost")]
    [InlineData("serve", "Urls", "https://127.0.0.1:0", "Urls: 'https://127.0.0.1:0': only http:// is served (put TLS in front of it)")]
    public async Task Host_UrlsNotAnAddressToListenOn_BadConfigurationNamingUrls_NeverListens(string command, string variable, string value, string problem)
    {
        var environment = new Dictionary<string, string> { [variable] = value };
        var r = await TestProcess.RunAsync(
            TestProcess.StartInfo("dotnet", [CliRunner.Dll, command, "--backend", "http://127.0.0.1:9"], null, environment));
        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"rank1-bridge {command}: bad configuration: {problem}", r.Error.TrimEnd('\n'));
        Assert.Equal(string.Empty, r.Out);
    }

    [Trait(TestCategory.Name, TestCategory.Process)]
    [Fact]
    public async Task Host_Localhost_ListensOnTheLoopbackAddress()
    {
        var (process, url) = await TestProcess.StartServerAsync(TestProcess.StartInfo("dotnet", [CliRunner.Dll, "search-server", "--port", "0", "--host", "localhost"]), Listening());
        try
        {
            Assert.Equal("127.0.0.1", url.Host);
        }
        finally
        {
            await TestProcess.StopAsync(process);
        }
    }

    [Trait(TestCategory.Name, TestCategory.Process)]
    [Theory]
    [InlineData("serve")]
    [InlineData("proxy")]
    [InlineData("search-server")]
    public async Task PortInUse_OneLineError_Exit1(string command)
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        string[] args = command == "search-server"
            ? [CliRunner.Dll, command, "--port", port]
            : [CliRunner.Dll, command, "--port", port, "--model", TestPaths.TinyModel, "--backend", "http://127.0.0.1:9"];
        var r = await TestProcess.RunAsync(TestProcess.StartInfo("dotnet", args, environment: new Dictionary<string, string> { ["RANK1_LOG_LEVEL"] = "Error" }));
        Assert.Equal(1, r.ExitCode);
        var line = Assert.Single(r.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"rank1-bridge {command}: ", line, StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:{port}: address already in use", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SearchServer_DataIsAFile_SaysSo_Exit4()
    {
        var file = Path.Combine(TestTemp.Folder("data-"), "ok.jsonl");
        await File.WriteAllTextAsync(file, "{}\n");
        var r = await CliRunner.RunAsync("search-server", "--port", "0", "--data", file);
        Assert.Equal(4, r.ExitCode);
        Assert.Equal($"rank1-bridge search-server: {file}: --data is a file, not a folder (give the folder that keeps the indices)", r.Error.TrimEnd('\n'));
    }

    /// <summary>
    /// A passage whose text, title or id escapes a lone UTF-16 surrogate (half an emoji) was an unhandled exception
    /// (exit 134, a stack trace), a field given twice was read as one of its two values, and a title that is not a
    /// string (a number, an object) was dropped without a word; each is one line naming the file, the line and the
    /// field, as the rerank service refuses the first two in a request and a BEIR corpus line's title is refused.
    /// </summary>
    [Theory]
    [InlineData("{\"id\":\"a\",\"text\":\"onions \\ud83d\"}", "\"text\" is not valid text: it holds an unpaired UTF-16 surrogate (half a character, e.g. an emoji cut in two)")]
    [InlineData("{\"id\":\"a\",\"title\":\"\\ude00\",\"text\":\"onions\"}", "\"title\" is not valid text: it holds an unpaired UTF-16 surrogate (half a character, e.g. an emoji cut in two)")]
    [InlineData("{\"id\":\"a\\ud83d\",\"text\":\"onions\"}", "\"id\" is not valid text: it holds an unpaired UTF-16 surrogate (half a character, e.g. an emoji cut in two)")]
    [InlineData("{\"id\":\"a\",\"text\":\"onions\",\"text\":\"garlic\"}", "not valid JSON (Duplicate property 'text' encountered during deserialization.)")]
    [InlineData("{\"id\":\"a\",\"title\":42,\"text\":\"onions\"}", "\"title\" must be a string")]
    [InlineData("{\"id\":\"a\",\"title\":{\"en\":\"Onions\"},\"text\":\"onions\"}", "\"title\" must be a string")]
    public async Task Rerank_PassageWithALoneSurrogateAFieldTwiceOrATitleNotText_OneLineNamingFileLineAndField_Exit4(string passage, string problem)
    {
        var file = Path.Combine(TestTemp.Folder("passages-"), "passages.jsonl");
        await File.WriteAllTextAsync(file, "{\"id\":\"ok\",\"text\":\"fine \\ud83d\\ude00\"}\n" + passage + "\n");
        var r = await CliRunner.RunAsync("rerank", "--model", TestPaths.TinyModel, "--query", "q", "--passages", file);
        Assert.Equal(4, r.ExitCode);
        Assert.Equal($"rank1-bridge rerank: {file}:2: {problem}", r.Error.TrimEnd('\n'));
    }

    /// <summary>
    /// <c>eval --dataset</c> given a file, or a dataset whose <c>corpus.jsonl</c> is a folder, says so: both were
    /// "file not found" (<c>FILE/corpus.jsonl: file not found</c> for the first).
    /// </summary>
    [Fact]
    public async Task Eval_DatasetIsAFile_OrItsCorpusAFolder_SaysSo_Exit4()
    {
        var folder = TestTemp.Folder("dataset-");
        var file = Path.Combine(folder, "corpus.jsonl");
        await File.WriteAllTextAsync(file, "{\"_id\":\"a\",\"text\":\"one\"}\n");
        var r = await CliRunner.RunAsync("eval", "--dataset", file);
        Assert.Equal(4, r.ExitCode);
        Assert.Equal($"rank1-bridge eval: {file}: --dataset is a file, not a folder (a BEIR-format folder has corpus.jsonl, queries.jsonl and qrels/test.tsv)", r.Error.TrimEnd('\n'));

        var dataset = Path.Combine(folder, "dataset");
        CopyFolder(Path.Combine(TestPaths.RepoRoot, "samples", "beir-demo"), dataset);
        File.Delete(Path.Combine(dataset, "corpus.jsonl"));
        Directory.CreateDirectory(Path.Combine(dataset, "corpus.jsonl"));
        r = await CliRunner.RunAsync("eval", "--dataset", dataset);
        Assert.Equal(4, r.ExitCode);
        Assert.Equal($"rank1-bridge eval: {Path.Combine(dataset, "corpus.jsonl")}: is a directory, not a file", r.Error.TrimEnd('\n'));
    }

    [Fact]
    public async Task Rerank_PassagesIsADirectory_SaysSo_Exit4()
    {
        var folder = TestTemp.Folder("passages-");
        var r = await CliRunner.RunAsync("rerank", "--query", "q", "--passages", folder);
        Assert.Equal(4, r.ExitCode);
        Assert.Equal($"rank1-bridge rerank: {folder}: is a directory, not a file", r.Error.TrimEnd('\n'));
    }

    /// <summary>
    /// A passage or corpus line that is not UTF-8 is refused naming the file, the line and the byte, as the eval and
    /// precompute inputs already were. Before, these files were read with U+FFFD for the bad bytes: a passage was judged,
    /// indexed or stored as text the user never wrote.
    /// </summary>
    [Theory]
    [InlineData("rerank")]
    [InlineData("seed")]
    [InlineData("eval-dataset")]
    public async Task PassageOrCorpusLineNotUtf8_OneLineNamingFileLineAndByte_Exit4(string command)
    {
        var folder = TestTemp.Folder("not-utf8-");
        var file = command == "eval-dataset" ? Path.Combine(folder, "corpus.jsonl") : Path.Combine(folder, "passages.jsonl");
        if (command == "eval-dataset")
        {
            CopyFolder(Path.Combine(TestPaths.RepoRoot, "samples", "beir-demo"), folder);
        }

        // Line 3 of the passages (the corpus's last line plus 1) holds "caf" 0xE9: Latin-1, not UTF-8.
        var kept = command == "eval-dataset" ? await File.ReadAllBytesAsync(file) : "{\"_id\":\"a\",\"id\":\"a\",\"text\":\"one\"}\n{\"_id\":\"b\",\"id\":\"b\",\"text\":\"two\"}\n"u8.ToArray();
        var line = kept.Count(b => b == (byte)'\n') + 1;
        await File.WriteAllBytesAsync(file, [.. kept, .. "{\"_id\":\"c\",\"id\":\"c\",\"text\":\"caf"u8, 0xE9, .. " au lait\"}\n"u8]);
        string[] args = command switch
        {
            "rerank" => ["rerank", "--model", TestPaths.TinyModel, "--query", "q", "--passages", file],
            "seed" => ["seed", "--file", file, "--backend", "http://127.0.0.1:9"],
            _ => ["eval", "--dataset", folder, "--model", TestPaths.TinyModel, "--max-think-tokens", "1", "--window", "3", "--run-out", Path.Combine(folder, "runs")],
        };
        var r = await CliRunner.RunAsync(args);
        Assert.Equal(4, r.ExitCode);
        var where = command == "eval-dataset" ? $"{file}: line {line}" : $"{file}:{line}";
        Assert.Equal($"rank1-bridge {args[0]}: {where}: not valid UTF-8 (byte 0xE9, byte 32 of the line)", r.Error.Trim().Split('\n')[^1]);
    }

    /// <summary>
    /// A line longer than 16 MiB (a file that is not one record per line) is one line naming the file and the line, exit
    /// 4, in every command that reads lines: before, it was read whole (a 150 MB line took 1.45 GB) and judged, scored
    /// or queued.
    /// </summary>
    [Theory]
    [InlineData("rerank")]
    [InlineData("seed")]
    [InlineData("eval-run")]
    [InlineData("eval-dataset")]
    [InlineData("precompute")]
    public async Task ALineLongerThan16MiB_OneLineNamingFileAndLine_Exit4(string command)
    {
        // 16 MiB a file: removed when the test ends, not when its process exits (a stopped test host runs no exit handler).
        using var scoped = TestTemp.Scoped("long-line-");
        var folder = scoped.Path;
        var dataset = Path.Combine(folder, "dataset");
        CopyFolder(Path.Combine(TestPaths.RepoRoot, "samples", "beir-demo"), dataset);
        var file = command switch
        {
            "eval-dataset" => Path.Combine(dataset, "corpus.jsonl"),
            "eval-run" => Path.Combine(folder, "run.txt"),
            "precompute" => Path.Combine(folder, "queries.txt"),
            _ => Path.Combine(folder, "passages.jsonl"),
        };
        var kept = command switch
        {
            "eval-dataset" => await File.ReadAllTextAsync(file),
            "eval-run" => "q1 Q0 a 1 1.0 x\n",
            "precompute" => "why do onions make people cry\n",
            _ => "{\"id\":\"a\",\"text\":\"one\"}\n",
        };
        var line = kept.Count(c => c == '\n') + 1;
        await File.WriteAllTextAsync(file, kept + "{\"_id\":\"b\",\"id\":\"b\",\"text\":\"" + new string('y', Utf8Lines.MaxLineBytes) + "\"}\n");
        var qrels = Path.Combine(folder, "qrels.txt");
        await File.WriteAllTextAsync(qrels, "q1 0 a 1\n");
        string[] args = command switch
        {
            "rerank" => ["rerank", "--model", TestPaths.TinyModel, "--query", "q", "--passages", file],
            "seed" => ["seed", "--file", file, "--backend", "http://127.0.0.1:9"],
            "eval-run" => ["eval", "--run", file, "--run", file, "--qrels", qrels],
            "precompute" => ["precompute", "--queries", file, "--index", "docs", "--broker", "amqp://guest:guest@127.0.0.1:9/", "--connect-timeout", "1"],
            _ => ["eval", "--dataset", dataset, "--model", TestPaths.TinyModel, "--max-think-tokens", "1", "--window", "3", "--run-out", Path.Combine(folder, "runs")],
        };
        var r = await CliRunner.RunAsync(args);
        Assert.Equal(4, r.ExitCode);
        var where = command switch
        {
            "eval-dataset" => $"{file}: line {line}",
            "eval-run" => $"{file}: line {line}",
            _ => $"{file}:{line}",
        };
        Assert.Equal($"rank1-bridge {args[0]}: {where}: longer than 16 MiB, the most a line may hold (not read further: is the file one record per line?)", r.Error.Trim().Split('\n')[^1]);
    }

    /// <summary>
    /// Output that cannot be written is one line naming standard output and the system's reason, and exit 1, as GNU
    /// coreutils say <c>write error: No space left on device</c>: redirected to a full disk (/dev/full) it was an unhandled
    /// IOException, a stack trace and exit 134 (SIGABRT); closed (<c>&gt;&amp;-</c>) it was .NET's "permission denied:
    /// Access to the path is denied." naming no path, and exit 4 as for an input file; the root's <c>--help</c> named the
    /// tool twice (<c>rank1-bridge rank1-bridge:</c>).
    /// </summary>
    [Trait(TestCategory.Name, TestCategory.Process)]
    [Theory]
    [InlineData("eval", "> /dev/full", "rank1-bridge eval: I/O error: standard output: No space left on device")]
    [InlineData("eval", ">&-", "rank1-bridge eval: I/O error: standard output: Bad file descriptor")]
    [InlineData("help", ">&-", "rank1-bridge: I/O error: standard output: Bad file descriptor")]
    [InlineData("rerank-help", ">&-", "rank1-bridge rerank: I/O error: standard output: Bad file descriptor")]
    public async Task OutputThatCannotBeWritten_OneLineNamingStandardOutput_Exit1(string command, string redirection, string message)
    {
        var r = await RunRedirectedAsync(command, redirection);
        Assert.Equal(1, r.ExitCode);
        Assert.Equal(message, r.Error.TrimEnd('\n'));
    }

    /// <summary>
    /// With every standard stream closed (<c>&lt;&amp;- &gt;&amp;- 2&gt;&amp;-</c>, as a daemon may start a command), the
    /// output that cannot be written is still exit 1, as GNU coreutils' <c>seq 3 &lt;&amp;- &gt;&amp;- 2&gt;&amp;-</c> is:
    /// the runtime's own pipe took descriptors 0 and 1 before <c>Main</c> ran, the table went into that pipe (read by the
    /// runtime's worker thread as its commands) and the command exited 0 having written nothing.
    /// </summary>
    [Trait(TestCategory.Name, TestCategory.Process)]
    [Fact]
    public async Task EveryStandardStreamClosed_OutputThatCannotBeWritten_Exit1()
    {
        var r = await RunRedirectedAsync("eval", "<&- >&- 2>&-");
        Assert.Equal(1, r.ExitCode);
    }

    /// <summary>
    /// A closed standard error (<c>2&gt;&amp;-</c>) leaves the one-line error unsaid, as there is nowhere to say it, and the
    /// command ends with its own exit code, as GNU coreutils do; writing that line threw (EBADF) and every failing command
    /// ended in an unhandled exception and exit 134 (SIGABRT, a core dump).
    /// </summary>
    [Trait(TestCategory.Name, TestCategory.Process)]
    [Theory]
    [InlineData("eval-missing", 4)]
    [InlineData("rerank-missing", 4)]
    [InlineData("seed-missing", 4)]
    [InlineData("unknown-option", 2)]
    public async Task StandardErrorClosed_TheCommandsOwnExitCode_NeverAnAbort(string command, int exitCode)
    {
        var r = await RunRedirectedAsync(command, "2>&-");
        Assert.Equal(exitCode, r.ExitCode);
        Assert.Equal(string.Empty, r.Out);
    }

    // The built tool as a real process under sh, its streams redirected as a user's shell does (the redirection applies to
    // the tool alone: sh's own stderr stays the test's).
    private static async Task<TestProcess.Result> RunRedirectedAsync(string command, string redirection)
    {
        var folder = TestTemp.Folder("streams-");
        var run = Path.Combine(folder, "run.txt");
        var qrels = Path.Combine(folder, "qrels.txt");
        await File.WriteAllTextAsync(run, "q1 Q0 a 1 1.0 x\n");
        await File.WriteAllTextAsync(qrels, "q1 0 a 1\n");
        var missing = Path.Combine(folder, "missing.jsonl");
        string[] args = command switch
        {
            "eval" => ["eval", "--run", run, "--run", run, "--qrels", qrels],
            "eval-missing" => ["eval", "--run", run, "--run", run, "--qrels", missing],
            "rerank-missing" => ["rerank", "--model", TestPaths.TinyModel, "--query", "q", "--passages", missing],
            "seed-missing" => ["seed", "--file", missing, "--backend", "http://127.0.0.1:9"],
            "unknown-option" => ["--bogus"],
            "rerank-help" => ["rerank", "--help"],
            _ => ["--help"],
        };
        return await TestProcess.RunAsync(TestProcess.StartInfo("sh", ["-c", $"exec dotnet \"$@\" {redirection}", "sh", CliRunner.Dll, .. args]));
    }

    /// <summary>
    /// An input file's messages name it as typed, as GNU coreutils do and as rerank and eval's runs, qrels and topics did:
    /// seed, precompute and eval's --dataset named a relative path made absolute (<c>/home/.../passages.jsonl:2: ...</c>).
    /// </summary>
    [Trait(TestCategory.Name, TestCategory.Process)]
    [Theory]
    [InlineData("seed", "rank1-bridge seed: in/passages.jsonl:2: id \"a\" repeats line 1 (the index would keep only the later passage)")]
    [InlineData("precompute", "rank1-bridge precompute: in/queries.txt:2: not valid UTF-8 (byte 0xFF, byte 1 of the line)")]
    [InlineData("eval-dataset", "rank1-bridge eval: in/corpus.jsonl: file not found (a BEIR-format folder has corpus.jsonl, queries.jsonl and qrels/test.tsv)")]
    public async Task InputFileGivenRelative_NamedAsTyped(string command, string message)
    {
        var folder = TestTemp.Folder("relative-");
        Directory.CreateDirectory(Path.Combine(folder, "in"));
        await File.WriteAllTextAsync(Path.Combine(folder, "in", "passages.jsonl"), "{\"id\":\"a\",\"text\":\"x\"}\n{\"id\":\"a\",\"text\":\"y\"}\n");
        await File.WriteAllBytesAsync(Path.Combine(folder, "in", "queries.txt"), [(byte)'q', (byte)'\n', 0xFF, (byte)'\n']);
        string[] args = command switch
        {
            "seed" => ["seed", "--file", "in/passages.jsonl", "--backend", "http://127.0.0.1:9"],
            "precompute" => ["precompute", "--queries", "in/queries.txt", "--index", "docs", "--broker", "amqp://guest:guest@127.0.0.1:9/", "--connect-timeout", "1"],
            _ => ["eval", "--dataset", "in", "--model", TestPaths.TinyModel],
        };
        var r = await TestProcess.RunAsync(TestProcess.StartInfo("dotnet", [CliRunner.Dll, .. args], workingDirectory: folder));
        Assert.Equal(4, r.ExitCode);
        Assert.Equal(message, r.Error.TrimEnd('\n'));
    }

    /// <summary>
    /// A relative <c>--dataset</c> and eval's default <c>--run-out</c> (<c>./eval-runs/beir-NAME</c>) are both the process's
    /// current directory's, as every input path is: the default folder was the only output path taken from a directory
    /// the command was handed apart from the process's own.
    /// </summary>
    [Trait(TestCategory.Name, TestCategory.Process)]
    [Fact]
    public async Task Eval_DatasetGivenRelative_DefaultRunOutUnderTheCurrentDirectory()
    {
        var folder = TestTemp.Folder("relative-");
        CopyFolder(Path.Combine(TestPaths.RepoRoot, "samples", "beir-demo"), Path.Combine(folder, "in"));
        var r = await TestProcess.RunAsync(TestProcess.StartInfo("dotnet",
            [CliRunner.Dll, "eval", "--dataset", "in", "--model", TestPaths.TinyModel, "--max-think-tokens", "1", "--window", "3"], workingDirectory: folder));
        Assert.Equal(0, r.ExitCode);
        var runs = Path.Combine(Path.GetFullPath(folder), "eval-runs", "beir-in");
        Assert.Equal(["backend.run", "manifest.json", "proxy.run"], Directory.GetFiles(runs).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Trait(TestCategory.Name, TestCategory.Process)]
    [Theory]
    [InlineData("rerank")]
    [InlineData("seed")]
    [InlineData("eval-qrels")]
    [InlineData("precompute")]
    public async Task InputFileUnreadable_OneLineNamingIt_Exit4(string command)
    {
        var folder = TestTemp.Folder("unreadable-");
        var file = Unreadable(Path.Combine(folder, "input"), "{\"id\":\"a\",\"text\":\"one\"}\n");
        var readable = Path.Combine(folder, "run.txt");
        await File.WriteAllTextAsync(readable, "q1 Q0 a 1 1.0 x\n");
        string[] args = command switch
        {
            "rerank" => ["rerank", "--query", "q", "--passages", file],
            "seed" => ["seed", "--file", file, "--backend", "http://127.0.0.1:9"],
            "precompute" => ["precompute", "--queries", file, "--index", "docs", "--broker", "amqp://guest:guest@127.0.0.1:9/", "--connect-timeout", "1"],
            _ => ["eval", "--run", readable, "--run", readable, "--qrels", file],
        };
        var r = await RunWithoutFileOverrideAsync(args);
        Assert.Equal(4, r.ExitCode);
        Assert.Equal($"rank1-bridge {args[0]}: {file}: cannot be read (permission denied)", r.Error.TrimEnd('\n'));
    }

    [Trait(TestCategory.Name, TestCategory.Process)]
    [Fact]
    public async Task Eval_RunFileUnreadable_OneLine_Exit4()
    {
        var folder = TestTemp.Folder("unreadable-");
        var run = Unreadable(Path.Combine(folder, "run.txt"), "q1 Q0 a 1 1.0 x\n");
        var qrels = Path.Combine(folder, "qrels.txt");
        await File.WriteAllTextAsync(qrels, "q1 0 a 1\n");
        var r = await RunWithoutFileOverrideAsync("eval", "--run", run, "--run", run, "--qrels", qrels);
        Assert.Equal(4, r.ExitCode);
        var line = Assert.Single(r.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("rank1-bridge eval: permission denied: ", line, StringComparison.Ordinal);
        Assert.Contains(run, line, StringComparison.Ordinal);
    }

    /// <summary>
    /// An output folder the tool may not write is named as that, not as a file it could not read (the line said
    /// "cannot read a file" for a --run-out it could not create a run in).
    /// </summary>
    [Trait(TestCategory.Name, TestCategory.Process)]
    [Fact]
    public async Task Eval_RunOutNotWritable_OneLineNamingIt_NotAsARead_Exit4()
    {
        var folder = TestTemp.Folder("unwritable-");
        var qrels = Path.Combine(folder, "qrels.txt");
        await File.WriteAllTextAsync(qrels, "q1 0 a 1\n");
        var topics = Path.Combine(folder, "topics.tsv");
        await File.WriteAllTextAsync(topics, "q1\tonions\n");
        var locked = Directory.CreateDirectory(Path.Combine(folder, "locked")).FullName;
        File.SetUnixFileMode(locked, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        var r = await RunWithoutFileOverrideAsync("eval", "--topics", topics, "--qrels", qrels, "--backend", "http://127.0.0.1:9", "--index", "docs",
            "--run-out", Path.Combine(locked, "runs"));
        Assert.Equal(4, r.ExitCode);
        var line = Assert.Single(r.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("rank1-bridge eval: permission denied: ", line, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(locked, "runs"), line, StringComparison.Ordinal);
    }

    [Trait(TestCategory.Name, TestCategory.Process)]
    [Theory]
    [InlineData("tokenizer.json")]
    [InlineData("genai_config.json")]
    public async Task ModelFileUnreadable_Exit3_NamingTheFile(string name)
    {
        using var copy = CopyTinyModel();
        var model = copy.Path;
        File.SetUnixFileMode(Path.Combine(model, name), UnixFileMode.None);
        var r = await RunWithoutFileOverrideAsync("rerank", "--model", model, "--query", "q", "--passages", await PassagesAsync());
        Assert.Equal(3, r.ExitCode);
        Assert.Equal($"rank1-bridge rerank: model: {Path.Combine(model, name)}: cannot be read (permission denied).", r.Error.TrimEnd('\n'));
    }

    /// <summary>
    /// An external-data file the tool may not read (an onnxruntime-genai export's <c>model.onnx.data</c>). Before, ONNX
    /// Runtime's .NET binding threw its own KeyNotFoundException (error code 13 has no name in it) from the session's
    /// constructor, which ended the process uncaught (exit 134).
    /// </summary>
    [Trait(TestCategory.Name, TestCategory.Process)]
    [Fact]
    public async Task ModelExternalDataUnreadable_Exit3_NamingTheFile()
    {
        using var copy = TestTemp.Scoped("model-");
        foreach (var file in Directory.GetFiles(TestPaths.TinyGenAiModel).Where(f => Path.GetFileName(f) != "model.onnx.data"))
        {
            File.Copy(file, Path.Combine(copy.Path, Path.GetFileName(file)));
        }

        var data = Unreadable(Path.Combine(copy.Path, "model.onnx.data"), "weights");
        var r = await RunWithoutFileOverrideAsync("rerank", "--model", copy.Path, "--query", "q", "--passages", await PassagesAsync());
        Assert.Equal(3, r.ExitCode);
        Assert.Equal($"rank1-bridge rerank: model: {data}: cannot be read (permission denied).", r.Error.TrimEnd('\n'));
    }

    [Trait(TestCategory.Name, TestCategory.Process)]
    [Fact]
    public async Task ModelFolderUnreadable_SaysItCannotBeRead_NotFileNotFound_Exit3()
    {
        var model = TestTemp.Folder("model-");
        File.Copy(Path.Combine(TestPaths.TinyModel, "config.json"), Path.Combine(model, "config.json"));
        File.SetUnixFileMode(model, UnixFileMode.None);
        var r = await RunWithoutFileOverrideAsync("rerank", "--model", model, "--query", "q", "--passages", await PassagesAsync());
        File.SetUnixFileMode(model, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Assert.Equal(3, r.ExitCode);
        Assert.Equal($"rank1-bridge rerank: model: {model}: model folder cannot be read (permission denied).", r.Error.TrimEnd('\n'));
    }

    /// <summary>
    /// Model files that are valid JSON of another shape (a tokenizer.json that is an array, a vocabulary id that is a
    /// string, merges that are a number; a genai_config.json whose graph file name is a number). Before, JsonElement's
    /// own exception ended the process uncaught: a stack trace and exit 134 (SIGABRT) for rerank, proxy, serve and demo.
    /// </summary>
    [Trait(TestCategory.Name, TestCategory.Process)]
    [Theory]
    [InlineData("tokenizer.json", "[]", "expected a JSON object (a Hugging Face tokenizer.json), not an array.")]
    [InlineData("tokenizer.json", """{"model":{"type":5}}""", "expected \"model.type\": \"BPE\" (a byte-level BPE tokenizer such as Qwen2's).")]
    [InlineData("tokenizer.json", """{"model":{"type":"BPE","vocab":{"a":"x"}}}""",
        "not a Hugging Face tokenizer.json of the expected layout (The requested operation requires an element of type 'Number', but the target element has type 'String').")]
    [InlineData("tokenizer.json", """{"model":{"type":"BPE","vocab":{"a":0},"merges":5}}""",
        "not a Hugging Face tokenizer.json of the expected layout (The requested operation requires an element of type 'Array', but the target element has type 'Number').")]
    [InlineData("genai_config.json", """{"model":{"decoder":{"filename":5}}}""", "model.decoder.filename must name the graph file (got 5).")]
    [InlineData("genai_config.json", """{"model":{"decoder":{"filename":""}}}""", "model.decoder.filename must name the graph file (got \"\").")]
    public async Task ModelFileOfAnotherShape_OneLineNamingTheFile_Exit3(string name, string content, string problem)
    {
        using var model = LinkTinyModel(name, content);
        foreach (var command in new[] { "rerank", "serve" })
        {
            var r = command == "rerank"
                ? await CliRunner.RunProcessAsync("rerank", "--model", model.Path, "--query", "q", "--passages", await PassagesAsync())
                : await CliRunner.RunProcessAsync("serve", "--model", model.Path, "--port", "0");
            Assert.Equal(3, r.ExitCode);
            Assert.Equal($"rank1-bridge {command}: model: {Path.Combine(model.Path, name)}: {problem}", r.Error.TrimEnd('\n'));
        }
    }

    /// <summary>
    /// config.json's <c>_name_or_path</c> names the model for people; one that is not a string is no name, and the
    /// folder's name is used, as when it is absent (before, the load ended the process uncaught, exit 134).
    /// </summary>
    [Trait(TestCategory.Name, TestCategory.Process)]
    [Fact]
    public async Task Rerank_ConfigNameOrPathNotAString_ModelNamedByItsFolder()
    {
        var config = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(TestPaths.TinyModel, "config.json")))!.AsObject();
        config["_name_or_path"] = 5;
        using var model = LinkTinyModel("config.json", config.ToJsonString());
        var r = await CliRunner.RunProcessAsync("rerank", "--model", model.Path, "--query", "q", "--passages", await PassagesAsync(),
            "--max-think-tokens", "1", "--json");
        Assert.Equal(0, r.ExitCode);
        using var json = JsonDocument.Parse(r.Out);
        Assert.Equal(Path.GetFileName(model.Path), json.RootElement.GetProperty("model").GetString());
    }

    /// <summary>
    /// Control characters, and bidirectional controls (U+202E, the right-to-left override, in an id made the terminal draw
    /// the rest of the line backwards: the id, the score and the verdict after it read as other text than was written).
    /// </summary>
    [Trait(TestCategory.Name, TestCategory.Model)]
    [Theory]
    [InlineData("e\u001b]0;pwned\u0007", "t\u007f", "onions \u001b[2J make you cry\u009b", "why\u001b[31m",
        "e\uFFFD]0;pwned\uFFFD", "[t\uFFFD] onions \uFFFD[2J make you cry\uFFFD", "Query: why\uFFFD[31m")]
    [InlineData("doc\u202E1.0000 relevant", "t", "onions\u2067 make\u2069 you\u200F cry\u061C", "why\u202Dq",
        "doc\uFFFD1.0000 relevant", "[t] onions\uFFFD make\uFFFD you\uFFFD cry\uFFFD", "Query: why\uFFFDq")]
    public async Task Rerank_Text_ShowsHiddenCharactersOfTheCorpusAsReplacementCharacters_JsonKeepsThemExact(
        string id, string title, string text, string query, string idShown, string passageShown, string queryShown)
    {
        var file = Path.Combine(TestTemp.Folder("escapes-"), "p.jsonl");
        await File.WriteAllTextAsync(file, JsonSerializer.Serialize(new { id, title, text }) + "\n");

        var plain = await CliRunner.RunAsync("rerank", "--model", TestPaths.TinyModel, "--query", query, "--passages", file, "--max-think-tokens", "2");
        Assert.True(plain.ExitCode == 0, plain.Error);
        Assert.DoesNotContain(plain.Out, c => char.IsControl(c) && c is not '\n' and not '\r' and not '\t');
        Assert.Contains(idShown, plain.Out, StringComparison.Ordinal);
        Assert.Contains(passageShown, plain.Out, StringComparison.Ordinal);
        Assert.Contains(queryShown, plain.Out, StringComparison.Ordinal);

        var json = await CliRunner.RunAsync("rerank", "--model", TestPaths.TinyModel, "--query", "q", "--passages", file, "--max-think-tokens", "2", "--json");
        Assert.True(json.ExitCode == 0, json.Error);
        using var doc = JsonDocument.Parse(json.Out);
        var result = doc.RootElement.GetProperty("results")[0];
        Assert.Equal((id, title), (result.GetProperty("id").GetString(), result.GetProperty("title").GetString()));
    }

    [Fact]
    public async Task ErrorMessage_ShowsControlCharactersOfWhatItEchoesAsReplacementCharacters()
    {
        var r = await CliRunner.RunAsync("rerank", "--query", "q", "--passages", "/nonexistent/p\u001b[2J\u0007.jsonl");
        Assert.Equal(4, r.ExitCode);
        Assert.StartsWith("rank1-bridge rerank: /nonexistent/p\uFFFD[2J\uFFFD.jsonl: file not found", r.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(r.Error, c => char.IsControl(c) && c != '\n');
    }

    /// <summary>
    /// Runs the tool as a process that file permissions apply to: as root (which reads a mode-000 file), without the
    /// capabilities that override them (setpriv), so a file the test made unreadable is unreadable to the tool.
    /// </summary>
    /// <summary>Copies the files of <paramref name="from"/> and of its folders into <paramref name="to"/>.</summary>
    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }

        foreach (var folder in Directory.GetDirectories(from))
        {
            CopyFolder(folder, Path.Combine(to, Path.GetFileName(folder)));
        }
    }

    private static async Task<CliResult> RunWithoutFileOverrideAsync(params string[] args)
    {
        var psi = Environment.IsPrivilegedProcess
            ? TestProcess.StartInfo("setpriv", ["--bounding-set=-dac_override,-dac_read_search", "--", "dotnet", CliRunner.Dll, .. args])
            : TestProcess.StartInfo("dotnet", [CliRunner.Dll, .. args]);
        var r = await TestProcess.RunAsync(psi);
        return new CliResult(r.ExitCode, r.Out, r.Error);
    }

    private static string Unreadable(string path, string content)
    {
        File.WriteAllText(path, content);
        File.SetUnixFileMode(path, UnixFileMode.None);
        return path;
    }

    private static async Task<string> PassagesAsync()
    {
        var file = Path.Combine(TestTemp.Folder("passages-"), "p.jsonl");
        await File.WriteAllTextAsync(file, "{\"id\":\"a\",\"text\":\"one\"}\n");
        return file;
    }

    // A model copy, removed when the test is done with it (TestTemp.Scoped: a copy left behind is 19 MB).
    private static TestTemp.ScopedFolder CopyTinyModel()
    {
        var copy = TestTemp.Scoped("model-");
        foreach (var file in Directory.GetFiles(TestPaths.TinyModel))
        {
            File.Copy(file, Path.Combine(copy.Path, Path.GetFileName(file)));
        }

        return copy;
    }

    // The tiny model as links to its files, but for one file written with the content given (no 19 MB copy).
    private static TestTemp.ScopedFolder LinkTinyModel(string replaced, string content)
    {
        var folder = TestTemp.Scoped("model-");
        foreach (var file in Directory.GetFiles(TestPaths.TinyModel))
        {
            var name = Path.GetFileName(file);
            if (name != replaced)
            {
                File.CreateSymbolicLink(Path.Combine(folder.Path, name), file);
            }
        }

        File.WriteAllText(Path.Combine(folder.Path, replaced), content);
        return folder;
    }

    [GeneratedRegex("listening on (http://\\S+)")]
    private static partial Regex Listening();
}
