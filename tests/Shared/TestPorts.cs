using System.Net;
using System.Net.Sockets;

namespace Rank1.Testing;

/// <summary>
/// The one home of ports a test chooses itself, for a server that leaves its port unbound for a while and must find it
/// again, or that binds it only seconds after it was chosen: a RabbitMQ node (it binds once its Erlang VM has booted, and
/// again after a restart), a backend the test stops and restarts behind a proxy that keeps its URL.
/// </summary>
internal static class TestPorts
{
    /// <summary>
    /// A loopback port free now, below the ephemeral ports (<c>ip_local_port_range</c>) that every server on port 0 and
    /// every client connection of the suite is handed. An ephemeral port left unbound could be taken meanwhile (bind(0)
    /// hands a port it just gave back again about once in 14,000 binds), and the test then met another test's server
    /// there, or its own server could not bind it again. Drawn at random among the 10,000 ports below that range, so two
    /// tests choosing at once rarely draw the same one.
    /// </summary>
    public static int BelowEphemeral()
    {
        var ephemeral = EphemeralPortsFrom();
        var from = Math.Max(1024, ephemeral - 10_000);
        while (true)
        {
            var port = Random.Shared.Next(from, ephemeral);
            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                return port;
            }
            catch (SocketException)
            {
                // Taken: another.
            }
        }
    }

    /// <summary>The first port of <c>/proc/sys/net/ipv4/ip_local_port_range</c>, where bind(0) and connect draw ports from.</summary>
    public static int EphemeralPortsFrom()
    {
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            return int.Parse(range[0], System.Globalization.CultureInfo.InvariantCulture) is var low and > 2048 ? low : 32768;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return 32768; // Linux's default
        }
    }
}
