using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Rank1.Testing;

/// <summary>
/// A private RabbitMQ node (Debian's rabbitmq-server, installed by <c>./build.sh test</c>) on free loopback ports with
/// its own data folder, so a test can stop and restart the broker without touching anything else. Data survives
/// <see cref="StopAsync"/>/<see cref="StartAsync"/>, as on a real broker restart.
/// </summary>
internal sealed class RabbitMqNode : IAsyncDisposable
{
    public const string ServerScript = "/usr/lib/rabbitmq/bin/rabbitmq-server";

    private readonly string _folder;
    private readonly string _name;
    private readonly int _distPort;
    private Process? _process;

    private RabbitMqNode(string folder, string name, int port, int distPort)
    {
        _folder = folder;
        _name = name;
        Port = port;
        _distPort = distPort;
    }

    /// <summary>Null when the broker is installed, else why the broker tests cannot run.</summary>
    public static string? Missing => File.Exists(ServerScript) ? null : $"RabbitMQ is not installed ({ServerScript} is missing): ./build.sh test installs Debian's rabbitmq-server";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(4);

    public int Port { get; }

    public string Url => $"amqp://guest:guest@127.0.0.1:{Port}/";

    public static async Task<RabbitMqNode> StartNewAsync()
    {
        var folder = TestTemp.Folder("rank1-rabbitmq-");
        await File.WriteAllTextAsync(Path.Combine(folder, "enabled_plugins"), "[].\n");
        await File.WriteAllTextAsync(Path.Combine(folder, "rabbitmq.conf"), "loopback_users = none\n");
        // Below the ephemeral ports (TestPorts.BelowEphemeral): the broker binds them only once its Erlang VM has booted
        // (seconds, minutes on a saturated host), and again after a restart.
        var port = TestPorts.BelowEphemeral();
        int distPort;
        while ((distPort = TestPorts.BelowEphemeral()) == port)
        {
        }

        var node = new RabbitMqNode(folder, "rank1test-" + Path.GetFileName(folder)[^10..] + "@localhost", port, distPort);
        try
        {
            await node.StartAsync();
        }
        catch
        {
            // xunit does not dispose a fixture whose initialisation failed: never leave a broker behind.
            await node.DisposeAsync();
            throw;
        }

        return node;
    }

    public async Task StartAsync()
    {
        var psi = new ProcessStartInfo(ServerScript) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["HOME"] = _folder; // the Erlang cookie lives here
        psi.Environment["RABBITMQ_NODENAME"] = _name;
        psi.Environment["RABBITMQ_NODE_IP_ADDRESS"] = "127.0.0.1";
        psi.Environment["RABBITMQ_NODE_PORT"] = Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        psi.Environment["RABBITMQ_DIST_PORT"] = _distPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        psi.Environment["RABBITMQ_MNESIA_BASE"] = Path.Combine(_folder, "mnesia");
        psi.Environment["RABBITMQ_LOG_BASE"] = Path.Combine(_folder, "log");
        psi.Environment["RABBITMQ_ENABLED_PLUGINS_FILE"] = Path.Combine(_folder, "enabled_plugins");
        psi.Environment["RABBITMQ_CONFIG_FILE"] = Path.Combine(_folder, "rabbitmq");
        psi.Environment["RABBITMQ_PID_FILE"] = Path.Combine(_folder, "pid");
        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        // An Erlang boot takes a few seconds on an idle machine but minutes on a saturated 2-core one; the bound only
        // turns a broker that never comes up into a failure instead of a hang.
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < StartTimeout)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"the RabbitMQ node exited with {_process.ExitCode} while starting; see {_folder}/log");
            }

            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(200);
            }
        }

        throw new TimeoutException($"the RabbitMQ node did not listen on {Port} within {StartTimeout.TotalSeconds:0} s; see {_folder}/log");
    }

    /// <summary>Stops the node as an operator would (SIGTERM: the broker closes its connections and shuts down).</summary>
    public async Task StopAsync()
    {
        if (_process is null || _process.HasExited)
        {
            return;
        }

        var pidFile = Path.Combine(_folder, "pid");
        var beam = File.Exists(pidFile) && int.TryParse((await File.ReadAllTextAsync(pidFile)).Trim(), out var pid) ? pid : _process.Id;
        Signal(beam, "TERM");
        using var timeout = new CancellationTokenSource(TestBounds.Hang);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
        _process = null;
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process?.Dispose();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static void Signal(int pid, string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-" + signal, pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false })!;
        kill.WaitForExit();
    }
}

/// <summary>One private RabbitMQ node for a test class (tests of a class run one after another).</summary>
public sealed class RabbitMqFixture : IAsyncLifetime
{
    internal RabbitMqNode? Node { get; private set; }

    public async Task InitializeAsync()
    {
        if (RabbitMqNode.Missing is null)
        {
            Node = await RabbitMqNode.StartNewAsync();
        }
    }

    public async Task DisposeAsync()
    {
        if (Node is not null)
        {
            await Node.DisposeAsync();
        }
    }
}
