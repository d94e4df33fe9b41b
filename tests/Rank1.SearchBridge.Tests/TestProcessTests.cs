using Rank1.Testing;

namespace Rank1.SearchBridge.Tests;

/// <summary>The tests' process runner (tests/Shared): a run it gives up on leaves nothing running.</summary>
public sealed class TestProcessTests
{
    [Fact]
    public async Task RunAsync_Cancelled_KillsTheProcessAndEveryProcessItStarted()
    {
        var folder = TestTemp.Folder("rank1-testprocess-");
        try
        {
            var fifo = Path.Combine(folder, "held");
            Assert.Equal(0, (await TestProcess.RunAsync(TestProcess.StartInfo("mkfifo", [fifo]))).ExitCode);
            using var cancel = new CancellationTokenSource();

            // The shell and a background child both hold the FIFO's write end: its reader sees the end only once both are gone.
            var run = TestProcess.RunAsync(TestProcess.StartInfo("sh", ["-c", "exec 3>\"$0\"; sleep 600 & echo started >&3; exec sleep 600", fifo]),
                cancellationToken: cancel.Token);
            // Bounded, so a shell that fails before it opens the FIFO fails the test instead of hanging it.
            using var held = new StreamReader(await Task.Run(() => new FileStream(fifo, FileMode.Open, FileAccess.Read)).WaitAsync(TestBounds.Hang));
            Assert.Equal("started", await held.ReadLineAsync().WaitAsync(TestBounds.Hang));

            await cancel.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
            Assert.Null(await held.ReadLineAsync().WaitAsync(TestBounds.Hang));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
