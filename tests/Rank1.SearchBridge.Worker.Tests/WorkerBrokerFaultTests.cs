using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Rank1.EmbeddedSearch;
using Rank1.Testing;

namespace Rank1.SearchBridge.Worker.Tests;

/// <summary>
/// A worker that cannot use the broker says why, in its health and once in its log, on a real RabbitMQ node: the
/// broker's refusal in its own words, and TLS and the port at odds as the likely mistake it is.
/// </summary>
[Trait(TestCategory.Name, TestCategory.Process)]
public sealed class WorkerBrokerFaultTests(RabbitMqFixture broker) : IClassFixture<RabbitMqFixture>
{
    private RabbitMqNode Node => broker.Node ?? throw new InvalidOperationException(RabbitMqNode.Missing);

    [Theory]
    [InlineData("amqp://guest:guest@127.0.0.1:{port}/no-such-vhost", "amqp://127.0.0.1:{port}/no-such-vhost: NOT_ALLOWED - vhost no-such-vhost not found")]
    [InlineData("amqps://guest:guest@127.0.0.1:{port}/", "amqps://127.0.0.1:{port}/: the TLS handshake with 127.0.0.1:{port} failed (Cannot determine the frame size or a corrupted frame was received.): the URL is amqps://, and the port may be a plain AMQP one (RabbitMQ's default is 5672 for amqp://, 5671 for amqps://)")]
    public async Task BrokerRefusesOrSpeaksAnotherProtocol_HealthAndLogNameTheCause(string url, string cause)
    {
        var port = Node.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await AssertCauseAsync(url.Replace("{port}", port, StringComparison.Ordinal), cause.Replace("{port}", port, StringComparison.Ordinal));
    }

    [Fact]
    public async Task LoginRefused_WhichMassTransitNeverTriesAgain_StopsTheWorkerWithExitCode1_NamingTheCause()
    {
        // MassTransit's RabbitMqConnectionException is not transient for a refused login: it never connected again, and
        // the worker stayed up, unhealthy, even once the broker took its login. Now it exits for its supervisor to
        // restart it, as a worker that cannot start does.
        await using var backend = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        var port = Node.Port;
        var result = await TestProcess.RunAsync(WorkerHostTests.Host(new() { ["Rank1__Backend__Url"] = backend.Url.ToString(), ["Rank1__Broker__Url"] = $"amqp://guest:wrong-secret@127.0.0.1:{port}/" }));
        Assert.True(result.ExitCode == 1, $"exit {result.ExitCode}:\n{result.Out}\n{result.Error}");
        var line = Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal($"rank1: broker: amqp://127.0.0.1:{port}/: ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile.", line);
        Assert.Contains("BrokerFaultLog[2408]", result.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-secret", result.Out + result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PlainAmqpAtATlsPort_HealthAndLogSayThePortMayTakeTlsOnly()
    {
        // A TLS-only listener, as RabbitMQ's 5671: it reads the AMQP header as a broken TLS hello and closes the connection.
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var stop = new CancellationTokenSource();
        var accepted = Channel.CreateUnbounded<EndPoint?>();
        var accepting = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var client = await listener.AcceptTcpClientAsync(stop.Token);
                accepted.Writer.TryWrite(client.Client.RemoteEndPoint);
                await using var tls = new SslStream(client.GetStream());
                try
                {
                    // With the stop token: a client that connects and sends nothing must not hold up the test's teardown.
                    await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = certificate }, stop.Token);
                }
                catch (Exception e) when (e is IOException or System.Security.Authentication.AuthenticationException)
                {
                    // The AMQP header is no TLS hello: the connection closes, as a TLS listener's does.
                }
            }
        });
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        using var idle = new TcpClient();
        try
        {
            await AssertCauseAsync($"amqp://guest:guest@127.0.0.1:{port}/",
                $"amqp://127.0.0.1:{port}/: 127.0.0.1:{port} closed the connection without starting AMQP (connection.start was never received): the URL is amqp://, and the port may take TLS only (use amqps://; RabbitMQ's default TLS port is 5671)");

            // A client that connects and sends nothing (still connected while the listener stops) leaves the listener in
            // its TLS handshake: stopping must still end it.
            await idle.ConnectAsync(IPAddress.Loopback, port);
            var idlePort = ((IPEndPoint)idle.Client.LocalEndPoint!).Port;
            while ((await accepted.Reader.ReadAsync().AsTask().WaitAsync(TestBounds.Hang)) is not IPEndPoint { } end || end.Port != idlePort)
            {
            }
        }
        finally
        {
            await stop.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => accepting.WaitAsync(TestBounds.Hang));
        }
    }

    private static async Task AssertCauseAsync(string url, string cause)
    {
        await using var backend = await EmbeddedSearchServer.StartAsync(new EmbeddedSearchOptions { Port = 0 });
        using var worker = WorkerProcess.Start(WorkerHostTests.Host(new() { ["Rank1__Backend__Url"] = backend.Url.ToString(), ["Rank1__Broker__Url"] = url }));
        await worker.WaitForAsync(lines => lines.Any(l => l.Contains("Now listening on", StringComparison.Ordinal)) && lines.Any(l => l.Contains("BrokerFaultLog[2404]", StringComparison.Ordinal)),
            "listen and log why the broker cannot be used", TestBounds.Hang);

        var logged = worker.Lines.SkipWhile(l => !l.Contains("BrokerFaultLog[2404]", StringComparison.Ordinal)).Skip(1).First();
        Assert.Equal($"      Cannot use the broker at {cause[..cause.IndexOf(": ", StringComparison.Ordinal)]}; the worker's health is unhealthy, with this cause, until it connects: {cause[(cause.IndexOf(": ", StringComparison.Ordinal) + 2)..]}", logged);

        using var http = new HttpClient { BaseAddress = new Uri(worker.Listening) };
        using var health = await http.GetAsync("_rank1/health");
        var text = await health.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
        Assert.Equal(cause, JsonNode.Parse(text)!["checks"]!["masstransit-bus"]!["cause"]!.GetValue<string>());
        Assert.DoesNotContain("wrong-secret", text, StringComparison.Ordinal);
        Assert.DoesNotContain("guest", text, StringComparison.Ordinal);
    }
}
