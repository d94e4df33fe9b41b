using MassTransit;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Rank1.SearchBridge.Cli.CommandLine;
using Rank1.SearchBridge.Messages;
using Rank1.SearchBridge.Messaging;
using Rank1.Testing;

namespace Rank1.SearchBridge.Cli.Tests;

/// <summary><c>rank1-bridge precompute</c> against a real RabbitMQ node (a private one for the class), the tool in-process.</summary>
[Trait(TestCategory.Name, TestCategory.Broker)]
public sealed class PrecomputeBrokerTests(RabbitMqFixture broker) : IClassFixture<RabbitMqFixture>
{
    // Without RabbitMQ installed the test fails naming what to install: it never skips.
    private RabbitMqNode Node => broker.Node ?? throw new InvalidOperationException(RabbitMqNode.Missing);

    private static string QueryLog(params string[] lines)
    {
        var path = TestTemp.File($"rank1-log-{Guid.NewGuid():N}.txt");
        File.WriteAllLines(path, lines);
        return path;
    }

    /// <summary>
    /// A login or vhost the broker refuses ends the connect at once, with RabbitMQ's reason, instead of being tried
    /// again (as MassTransit tries a broker not up yet) until <c>--connect-timeout</c>. That timeout is read on a clock
    /// that never moves here (and is an hour besides), so it cannot end the run: the run ending at all is the proof, and
    /// no time is asserted. A tool that retried until its timeout would still be connecting at the suite's hang bound,
    /// <see cref="TestBounds.Hang"/>, and fail there, saying so.
    /// </summary>
    [Theory]
    [InlineData("guest:wrong@", "", "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN")]
    [InlineData("guest:guest@", "novhost", "vhost novhost not found")]
    public async Task BrokerRefusesTheConnection_OneLineWithRabbitMqsReason_Exit1_WithoutWaitingForTheConnectTimeout(string credentials, string vhost, string reason)
    {
        var url = Node.Url.Replace("guest:guest@", credentials, StringComparison.Ordinal) + vhost;
        using var output = new StringWriter();
        using var error = new StringWriter();
        var context = new CliContext { Out = output, Error = error, LoggerFactory = NullLoggerFactory.Instance, GetEnvironmentVariable = _ => null, Time = new FakeTimeProvider() };
        using var stop = new CancellationTokenSource();

        // --wait: the progress queue's receive endpoint is what used to wait the whole timeout for a missing vhost.
        var run = CliApp.RunAsync(["precompute", "--queries", QueryLog("onion"), "--index", "docs", "--broker", url, "--connect-timeout", "3600", "--wait"], context, stop.Token);
        try
        {
            await run.WaitAsync(TestBounds.Hang); // a bound on a hang only
        }
        catch (TimeoutException)
        {
            await stop.CancelAsync(); // ends the run as Ctrl+C would, rather than leave it connecting after the test
            Assert.Fail($"still connecting after {TestBounds.Hang.TotalSeconds:0} s on a clock where --connect-timeout never passes: the refusal was tried again instead of ending the connect");
        }

        Assert.Equal(1, await run);
        var line = Assert.Single(error.ToString().Trim().Split('\n'));
        Assert.StartsWith($"rank1-bridge precompute: cannot reach the broker at {url.Replace("guest:wrong@", "guest:***@", StringComparison.Ordinal).Replace("guest:guest@", "guest:***@", StringComparison.Ordinal)}: ", line, StringComparison.Ordinal);
        Assert.Contains(reason, line, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong", line, StringComparison.Ordinal);
    }

    /// <summary>
    /// The workers' queue declared by an operator as a classic queue: RabbitMQ refuses the tool's quorum declaration
    /// (PRECONDITION_FAILED) at every publish, which MassTransit tries again for ever. The tool hung without a word
    /// (until Ctrl+C: "cancelled", exit 130); it now says the broker's refusal in one line and exits 1, saying how many jobs were published (none).
    /// </summary>
    [Fact]
    public async Task TheWorkersQueueDeclaredAsAClassicQueue_OneLineWithRabbitMqsRefusal_Exit1_InsteadOfRetryingForEver()
    {
        var queue = "rank1-classic-" + Guid.NewGuid().ToString("N")[..8];
        var factory = new RabbitMQ.Client.ConnectionFactory { Uri = new Uri(Node.Url) };
        await using (var connection = await factory.CreateConnectionAsync())
        await using (var channel = await connection.CreateChannelAsync())
        {
            await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false);
        }

        var result = await CliRunner.RunProcessAsync("precompute", "--queries", QueryLog("onion", "eye drops"), "--index", "docs", "--broker", Node.Url, "--queue", queue);

        Assert.True(result.ExitCode == 1, $"exit {result.ExitCode}: {result.Error}");
        var line = Assert.Single(result.Error.Trim().Split('\n'));
        var batch = System.Text.RegularExpressions.Regex.Match(line, @"\(batch ([0-9a-f-]+)\) were published$").Groups[1].Value;
        Assert.Equal($"rank1-bridge precompute: the broker at amqp://guest:***@127.0.0.1:{Node.Port}/ refuses the workers' queue: PRECONDITION_FAILED - inequivalent arg 'x-queue-type' " +
            $"for queue '{queue}' in vhost '/': received the value 'quorum' of type 'longstr' but current is none: the workers and this tool declare {queue} as a durable quorum queue " +
            $"behind a durable fanout exchange of that name, and RabbitMQ keeps what was declared first; delete what it names (its messages moved out first) or declare it so. 0 of 2 jobs (batch {batch}) were published", line);
        await using (var connection = await factory.CreateConnectionAsync())
        await using (var channel = await connection.CreateChannelAsync())
        {
            Assert.Equal(0u, (await channel.QueueDeclarePassiveAsync(queue)).MessageCount);
        }
    }

    /// <summary>
    /// What the jobs carry, as a stand-in worker receives them: a blank <c>--fields</c> name ("\u200B") is left out as an
    /// empty one is (as the docs say), and a JSON line's <c>"instructions":""</c> is published as "" over
    /// <c>--instructions</c>, that line's "no instructions" (the workers take "" as none); it was an exit-4 refusal.
    /// </summary>
    [Fact]
    public async Task PublishedJobs_LeaveOutABlankFieldName_AndKeepALinesEmptyInstructions()
    {
        var node = Node;
        var queue = "rank1-test-" + Guid.NewGuid().ToString("N")[..8];
        var received = new System.Collections.Concurrent.ConcurrentDictionary<string, PrecomputeReasoning>(StringComparer.Ordinal);
        var worker = Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            Rank1Broker.Configure(cfg, new BrokerOptions { Url = node.Url, Queue = queue });
            cfg.ReceiveEndpoint(queue, e =>
            {
                e.SetQuorumQueue();
                e.ConfigureConsumeTopology = false;
                e.Handler<PrecomputeReasoning>(c =>
                {
                    received[c.Message.Query] = c.Message;
                    return c.RespondAsync(new PrecomputeReasoningCompleted(c.Message.JobId, c.Message.BatchId, c.Message.Query, 1, 1, 0, 1));
                });
            });
        });
        await worker.StartAsync();
        try
        {
            var log = TestTemp.File($"rank1-log-{Guid.NewGuid():N}.jsonl");
            await File.WriteAllLinesAsync(log, ["""{"query":"eye drops","instructions":""}""", "onion"]);
            var result = await CliRunner.RunAsync("precompute", "--queries", log, "--index", "docs", "--fields", "\u200B,text", "--instructions", "Only medical advice counts.",
                "--broker", node.Url, "--queue", queue, "--wait", "--timeout", "60");

            Assert.True(result.ExitCode == 0, result.Out + result.Error);
            Assert.Equal(["text"], received["eye drops"].Fields);
            Assert.Equal(["text"], received["onion"].Fields);
            Assert.Equal(("", "Only medical advice counts."), (received["eye drops"].Instructions, received["onion"].Instructions));
        }
        finally
        {
            await worker.StopAsync();
        }
    }

    [Fact]
    public async Task Wait_NotOnATerminal_PrintsALinePerChangeOfTheCounts_NotPerTick()
    {
        var node = Node;
        var queue = "rank1-test-" + Guid.NewGuid().ToString("N")[..8];

        // A stand-in worker: it answers the job for "first" and never the one for "second", so the counts stay at one
        // done while the rate and ETA in the line change at every tick until --timeout.
        var worker = Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            Rank1Broker.Configure(cfg, new BrokerOptions { Url = node.Url, Queue = queue });
            cfg.ReceiveEndpoint(queue, e =>
            {
                e.SetQuorumQueue();
                e.ConfigureConsumeTopology = false;
                e.Handler<PrecomputeReasoning>(c => c.Message.Query == "first"
                    ? c.RespondAsync(new PrecomputeReasoningCompleted(c.Message.JobId, c.Message.BatchId, c.Message.Query, 1, 1, 0, 1))
                    : Task.CompletedTask);
            });
        });
        await worker.StartAsync();
        try
        {
            // The --timeout is read on a clock that moves only when the test moves it, once the first job's answer is
            // in a line: on the wall clock, a loaded host whose broker took 4 s to carry that answer timed out with 2 of
            // 2 jobs not finished. The wait's ticks (500 ms) stay the system's timers.
            var clock = new HeldClock();
            using var output = new LineWatcher("done 1, failed 0, remaining 1 of 2;");
            using var error = new StringWriter();
            var context = new CliContext { Out = output, Error = error, LoggerFactory = NullLoggerFactory.Instance, GetEnvironmentVariable = _ => null, Time = clock };
            var run = CliApp.RunAsync(["precompute", "--queries", QueryLog("first", "second"), "--index", "docs", "--broker", node.Url, "--queue", queue, "--wait", "--timeout", "4"],
                context, CancellationToken.None);
            await Task.WhenAny(output.Seen, run).WaitAsync(TestBounds.Hang); // a bound on a hang only
            clock.Advance(TimeSpan.FromSeconds(4));
            var exitCode = await run.WaitAsync(TestBounds.Hang); // a bound on a hang only

            Assert.Equal(1, exitCode);
            Assert.Contains("timed out after 4 s with 1 of 2 jobs not finished", error.ToString(), StringComparison.Ordinal);
            var oneDone = output.ToString().Split('\n').Where(l => l.StartsWith("done 1, failed 0, remaining 1 of 2;", StringComparison.Ordinal)).ToArray();
            Assert.True(oneDone.Length == 1, output.ToString());
        }
        finally
        {
            await worker.StopAsync();
        }
    }

    /// <summary>The system's timers, and a timestamp that moves only when the test moves it.</summary>
    private sealed class HeldClock : TimeProvider
    {
        private long _now;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => Volatile.Read(ref _now);

        public void Advance(TimeSpan by) => Interlocked.Add(ref _now, by.Ticks);
    }

    /// <summary>Standard output captured; <see cref="Seen"/> completes with the first line starting with the text given.</summary>
    private sealed class LineWatcher(string start) : StringWriter(System.Globalization.CultureInfo.InvariantCulture)
    {
        private readonly TaskCompletionSource _seen = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Seen => _seen.Task;

        public override async Task WriteLineAsync(string? value)
        {
            await base.WriteLineAsync(value);
            if (value?.StartsWith(start, StringComparison.Ordinal) == true)
            {
                _seen.TrySetResult();
            }
        }
    }
}
