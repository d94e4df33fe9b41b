namespace Rank1.Testing;

/// <summary>
/// xunit trait values (<c>[Trait(TestCategory.Name, TestCategory.Process)]</c>) for the tests that make the suite slow:
/// <c>./build.sh test --fast</c> leaves them out for a quick inner loop; <c>./build.sh test</c> runs everything.
/// </summary>
internal static class TestCategory
{
    /// <summary>The trait name.</summary>
    public const string Name = "Category";

    /// <summary>Starts real processes: the hosts, the built CLI, Node.js clients.</summary>
    public const string Process = "Process";

    /// <summary>Starts private RabbitMQ nodes.</summary>
    public const string Broker = "Broker";

    /// <summary>Runs <c>dotnet publish</c> (the Dockerfiles' build contexts).</summary>
    public const string Publish = "Publish";

    /// <summary>
    /// Runs the model at length: whole evaluations, the demo, batching under concurrent load, precision and parity
    /// across model variants and peer runtimes, an official client suite whose every search is judged.
    /// </summary>
    public const string Model = "Model";
}
