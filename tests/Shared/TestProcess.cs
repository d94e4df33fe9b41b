using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Rank1.Testing;

/// <summary>Real processes for tests: a command run to completion, a node script, or a server waited on until it listens.</summary>
internal static class TestProcess
{
    public sealed record Result(int ExitCode, string Out, string Error);

    public static ProcessStartInfo StartInfo(string fileName, IEnumerable<string> args, string? workingDirectory = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (workingDirectory is not null)
        {
            psi.WorkingDirectory = workingDirectory;
        }

        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[k] = v;
        }

        return psi;
    }

    /// <summary>
    /// Runs to completion (at most <see cref="TestBounds.Hang"/>, or <paramref name="limit"/>) and returns exit code and output. Past the
    /// limit (<see cref="TimeoutException"/>) or on <paramref name="cancellationToken"/> the process is killed with every
    /// process it started, so nothing it ran outlives the test.
    /// </summary>
    public static async Task<Result> RunAsync(ProcessStartInfo psi, TimeSpan? limit = null, CancellationToken cancellationToken = default)
    {
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        var within = limit ?? TestBounds.Hang;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(within);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            cancellationToken.ThrowIfCancellationRequested();
            throw new TimeoutException($"{psi.FileName} {string.Join(' ', psi.ArgumentList)} ran past {within}: killed with the processes it started. " +
                $"Its errors: {(stderr.IsCompleted ? stderr.Result : "(still open)")}");
        }

        return new Result(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Runs a script of tests/node and parses the JSON line it prints last; fails the test on a non-zero exit.</summary>
    public static async Task<JsonNode> RunNodeAsync(string script, params string[] args)
    {
        var folder = Path.Combine(TestPaths.RepoRoot, "tests", "node");
        Assert.True(Directory.Exists(Path.Combine(folder, "node_modules")), "tests/node/node_modules is missing: run ./build.sh setup");
        var result = await RunAsync(StartInfo("node", [script, .. args], folder));
        Assert.True(result.ExitCode == 0, $"node {script} failed: {result.Error}");
        return JsonNode.Parse(result.Out.Trim().Split('\n')[^1])!;
    }

    /// <summary>
    /// Runs a script of tests/python with Debian's Python and its official Elasticsearch client (python3-elasticsearch,
    /// which ./build.sh test installs); returns the JSON object of its last output line.
    /// </summary>
    public static async Task<JsonNode> RunPythonAsync(string script, params string[] args)
    {
        var folder = Path.Combine(TestPaths.RepoRoot, "tests", "python");
        var probe = await RunAsync(StartInfo("/usr/bin/python3", ["-c", "import elasticsearch"], folder));
        Assert.True(probe.ExitCode == 0, $"Debian's python3-elasticsearch is missing: run ./build.sh test (or apt-get install python3-elasticsearch): {probe.Error}");
        var result = await RunAsync(StartInfo("/usr/bin/python3", [script, .. args], folder));
        Assert.True(result.ExitCode == 0, $"python3 {script} failed: {result.Error}");
        return JsonNode.Parse(result.Out.Trim().Split('\n')[^1])!;
    }

    /// <summary>
    /// Starts a server process and reads its standard output until a line matches <paramref name="listening"/>, whose
    /// first group is the URL, for <see cref="TestBounds.Hang"/> at most. The caller kills the process (<see cref="StopAsync"/>).
    /// </summary>
    /// <remarks>The standard output lines read up to the listening line are added to <paramref name="startLog"/>.</remarks>
    public static async Task<(Process Process, Uri Url)> StartServerAsync(ProcessStartInfo psi, Regex listening, List<string>? startLog = null)
    {
        var process = Process.Start(psi)!;
        using var timeout = new CancellationTokenSource(TestBounds.Hang);
        while (true)
        {
            string? line;
            try
            {
                line = await process.StandardOutput.ReadLineAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true); // not listening within the bound: nothing it started outlives the test
                process.Dispose();
                throw;
            }

            if (line is null)
            {
                var error = await process.StandardError.ReadToEndAsync();
                process.Dispose();
                throw new InvalidOperationException($"{psi.FileName} exited before listening: {error}");
            }

            startLog?.Add(line);
            if (listening.Match(line) is { Success: true } m)
            {
                var url = m.Groups[1].Value;
                return (process, new Uri(url.EndsWith('/') ? url : url + "/"));
            }
        }
    }

    public static async Task StopAsync(Process process)
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        process.Dispose();
    }

    /// <summary>
    /// Sends the process a real SIGTERM (as docker stop, systemd and Kubernetes do), or the <paramref name="signal"/>
    /// given (<c>INT</c>: Ctrl+C), and waits up to <see cref="TestBounds.Hang"/> for it to exit; returns its exit code and the rest of its
    /// standard output. A process still running then fails the test.
    /// </summary>
    public static async Task<(int ExitCode, string Out)> TerminateAsync(Process process, string signal = "TERM")
    {
        var rest = process.StandardOutput.ReadToEndAsync();
        await SignalAsync(process, signal);
        return (await WaitForExitAsync(process), await rest);
    }

    /// <summary>Sends the process a real signal (<c>TERM</c>, <c>INT</c>) with kill(1).</summary>
    public static async Task SignalAsync(Process process, string signal)
    {
        using var kill = Process.Start(StartInfo("kill", ["-" + signal, process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))!;
        await kill.WaitForExitAsync();
        Assert.Equal(0, kill.ExitCode);
    }

    /// <summary>Reads the process's standard output until a line contains <paramref name="text"/> (<see cref="TestBounds.Hang"/> at most); the lines read are returned.</summary>
    public static async Task<List<string>> ReadUntilAsync(Process process, string text)
    {
        var lines = new List<string>();
        using var timeout = new CancellationTokenSource(TestBounds.Hang);
        while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            lines.Add(line);
            if (line.Contains(text, StringComparison.Ordinal))
            {
                return lines;
            }
        }

        Assert.Fail($"{process.StartInfo.FileName} closed its output without printing '{text}': {string.Join('\n', lines)}");
        return lines;
    }

    /// <summary>Waits up to <see cref="TestBounds.Hang"/> for a signalled process to exit and returns its exit code; a process still running fails the test.</summary>
    public static async Task<int> WaitForExitAsync(Process process)
    {
        using var timeout = new CancellationTokenSource(TestBounds.Hang);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"{process.StartInfo.FileName} {string.Join(' ', process.StartInfo.ArgumentList)} did not exit within {TestBounds.Hang.TotalSeconds:0} s of its signal");
        }

        return process.ExitCode;
    }
}
