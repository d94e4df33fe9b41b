using System.Runtime.InteropServices;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Rank1.SearchBridge.Cli;
using Rank1.SearchBridge.Cli.CommandLine;

// The first Ctrl+C or SIGTERM stops the command gracefully; a second one, during that shutdown, is not cancelled: the
// runtime's default ends the process at once (130 for SIGINT, 143 for SIGTERM), as a user pressing Ctrl+C again asks,
// rather than waiting out the grace period of the requests in flight.
using var cts = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = !cts.IsCancellationRequested;
    cts.Cancel();
};

// SIGTERM (docker stop, systemd, Kubernetes) stops a command as Ctrl+C does: servers drain their requests in
// flight, flush what they hold and exit 0, instead of waiting for the SIGKILL at the end of the grace period.
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, signal =>
{
    signal.Cancel = !cts.IsCancellationRequested;
    cts.Cancel();
});

// A write to a closed or full standard output is an I/O error naming it; to a closed standard error, left unsaid.
StandardStreams.Guard();

var level = Environment.GetEnvironmentVariable("RANK1_LOG_LEVEL") is { } l && Enum.TryParse<LogLevel>(l, true, out var parsed) ? parsed : LogLevel.Warning;
using var loggerFactory = LoggerFactory.Create(b =>
{
    b.SetMinimumLevel(level).AddSimpleConsole(o => o.SingleLine = true);
    // Logs go to stderr so that stdout stays the command's output (tables, --json documents).
    b.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
});
var context = new CliContext { Out = Console.Out, Error = Console.Error, LoggerFactory = loggerFactory };
return await CliApp.RunAsync(args, context, cts.Token);
