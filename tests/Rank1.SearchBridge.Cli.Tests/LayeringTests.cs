using System.Reflection;
using System.Runtime.CompilerServices;

namespace Rank1.SearchBridge.Cli.Tests;

/// <summary>The CLI sees the product libraries' public API only: none of them opens its internals to a host.</summary>
public sealed class LayeringTests
{
    private static readonly string[] Hosts = ["rank1-bridge", "Rank1.SearchBridge.Proxy", "Rank1.SearchBridge.Worker"];

    [Fact]
    public void NoProductLibrary_OpensItsInternalsToAHost()
    {
        var libraries = ProductLibraries(typeof(CliApp).Assembly);
        Assert.Contains("Rank1.Elastic", libraries.Select(a => a.GetName().Name));
        Assert.Contains("Rank1.Inference", libraries.Select(a => a.GetName().Name));
        foreach (var library in libraries)
        {
            var friends = library.GetCustomAttributes<InternalsVisibleToAttribute>().Select(a => a.AssemblyName.Split(',')[0]);
            Assert.Empty(friends.Intersect(Hosts));
        }
    }

    /// <summary>Every Rank1.* assembly the CLI references, directly or through another one.</summary>
    private static List<Assembly> ProductLibraries(Assembly host)
    {
        var found = new List<Assembly>();
        var pending = new Queue<Assembly>([host]);
        while (pending.TryDequeue(out var assembly))
        {
            foreach (var name in assembly.GetReferencedAssemblies().Where(n => n.Name!.StartsWith("Rank1.", StringComparison.Ordinal)))
            {
                if (found.All(a => a.GetName().Name != name.Name))
                {
                    var library = Assembly.Load(name);
                    found.Add(library);
                    pending.Enqueue(library);
                }
            }
        }

        return found;
    }
}
