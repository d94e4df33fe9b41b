using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Rank1.SearchBridge.Worker.Tests;

/// <summary>The worker host as a running process whose output lines (stdout and stderr) are collected as they come.</summary>
internal sealed class WorkerProcess : IDisposable
{
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly SemaphoreSlim _lineArrived = new(0);

    private WorkerProcess(ProcessStartInfo psi)
    {
        Process = Process.Start(psi)!;
        Process.OutputDataReceived += OnLine;
        Process.ErrorDataReceived += OnLine;
        Process.BeginOutputReadLine();
        Process.BeginErrorReadLine();
    }

    public Process Process { get; }

    public IReadOnlyCollection<string> Lines => _lines;

    public string Output => string.Join('\n', _lines);

    public static WorkerProcess Start(ProcessStartInfo psi) => new(psi);

    /// <summary>Waits (each line is an event; nothing waits for time to pass) until <paramref name="done"/> holds for the lines so far.</summary>
    public async Task WaitForAsync(Func<IReadOnlyCollection<string>, bool> done, string what, TimeSpan within)
    {
        using var timeout = new CancellationTokenSource(within);
        while (!done(_lines))
        {
            Assert.False(Process.HasExited, Output);
            try
            {
                await _lineArrived.WaitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"the worker did not {what}:\n{Output}");
            }
        }
    }

    /// <summary>Where the worker listens, from Kestrel's "Now listening on" line.</summary>
    public string Listening => _lines.Select(l => Regex.Match(l, "Now listening on: (http://\\S+)")).First(m => m.Success).Groups[1].Value;

    public void Dispose()
    {
        if (!Process.HasExited)
        {
            Process.Kill(entireProcessTree: true);
            Process.WaitForExit();
        }

        Process.Dispose();
        _lineArrived.Dispose();
    }

    private void OnLine(object? sender, DataReceivedEventArgs e)
    {
        if (e.Data is not null)
        {
            _lines.Enqueue(e.Data);
            _lineArrived.Release();
        }
    }
}
