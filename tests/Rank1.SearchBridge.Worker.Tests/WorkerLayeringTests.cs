using System.Text.Json.Nodes;
using Rank1.Testing;

namespace Rank1.SearchBridge.Worker.Tests;

/// <summary>
/// The arrows of docs/architecture.md as the runtime sees them: the worker host loads what its deps.json lists, and that
/// holds the core library but neither the proxy's HTTP library nor YARP.
/// </summary>
public sealed class WorkerLayeringTests
{
    [Fact]
    public void WorkerHost_CarriesTheCore_ButNeitherTheHttpLibraryNorYarp()
    {
        var dll = TestPaths.Built("Rank1.SearchBridge.Worker");
        var deps = JsonNode.Parse(File.ReadAllText(Path.ChangeExtension(dll, ".deps.json")))!;
        var libraries = deps["libraries"]!.AsObject().Select(l => l.Key.Split('/')[0]).ToArray();

        Assert.Contains("Rank1.SearchBridge", libraries);
        Assert.Contains("MassTransit.RabbitMQ", libraries);
        Assert.DoesNotContain("Rank1.SearchBridge.Http", libraries);
        Assert.DoesNotContain(libraries, l => l.StartsWith("Yarp.", StringComparison.OrdinalIgnoreCase));
    }
}
