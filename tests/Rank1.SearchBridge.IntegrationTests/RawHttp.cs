using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Rank1.SearchBridge.Http.Service;
using Rank1.Testing;

namespace Rank1.SearchBridge.IntegrationTests;

/// <summary>HTTP written by hand on a socket, for what no client sends (malformed chunks, a body that never ends).</summary>
internal static class RawHttp
{
    /// <summary>Sends <paramref name="request"/> as raw bytes on a fresh connection and reads until the server closes it.</summary>
    public static async Task<string> ExchangeAsync(Uri url, string request)
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(TestBounds.Hang);
        await client.ConnectAsync(url.Host, url.Port, timeout.Token);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request), timeout.Token);
        using var answer = new MemoryStream();
        await stream.CopyToAsync(answer, timeout.Token);
        return Encoding.UTF8.GetString(answer.ToArray());
    }

    /// <summary>The body of an answer <see cref="ExchangeAsync"/> read, its chunks joined when it came chunked.</summary>
    public static string Body(string answer)
    {
        var split = answer.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var head = answer[..split];
        var rest = answer[(split + 4)..];
        if (!head.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase))
        {
            return rest;
        }

        var body = new StringBuilder();
        while (rest.IndexOf("\r\n", StringComparison.Ordinal) is var end and > 0
            && int.Parse(rest[..end], System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture) is var size and > 0)
        {
            body.Append(rest.AsSpan(end + 2, size)); // the test's answers are ASCII: a character is a byte
            rest = rest[(end + 2 + size + 2)..];
        }

        return body.ToString();
    }
}

/// <summary>
/// Every log entry of a host, in memory; <see cref="ServiceLogged"/> completes with the rerank service's first entry,
/// <see cref="RequestFinished"/> with ASP.NET Core's "Request finished" entry of the host's first request.
/// </summary>
internal sealed class RecordingLogs : ILoggerProvider
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<(string Category, LogLevel Level, int EventId, string Message, Exception? Exception)> _entries = new();
    private readonly TaskCompletionSource<(LogLevel Level, int EventId)> _serviceLogged = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<string> _requestFinished = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public RecordingLogs() => Factory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(this));

    public ILoggerFactory Factory { get; }

    public IReadOnlyList<(string Category, LogLevel Level, int EventId, string Message, Exception? Exception)> Entries => [.. _entries];

    public Task<(LogLevel Level, int EventId)> ServiceLogged => _serviceLogged.Task;

    public Task<string> RequestFinished => _requestFinished.Task;

    public ILogger CreateLogger(string categoryName) => new Recorder(categoryName, this);

    public void Dispose() => Factory.Dispose();

    private sealed class Recorder(string category, RecordingLogs logs) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            logs._entries.Enqueue((category, logLevel, eventId.Id, formatter(state, exception), exception));
            if (category == typeof(RerankServiceServer).Namespace + ".RerankService")
            {
                logs._serviceLogged.TrySetResult((logLevel, eventId.Id));
            }

            if (category == "Microsoft.AspNetCore.Hosting.Diagnostics" && eventId.Id == 2)
            {
                logs._requestFinished.TrySetResult(formatter(state, exception));
            }
        }
    }
}
