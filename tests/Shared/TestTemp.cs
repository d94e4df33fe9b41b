namespace Rank1.Testing;

/// <summary>
/// The one home of the folders tests write (copied models, configuration files, data folders): each is made under one
/// folder per test process, which is removed when that process exits, so a run leaves nothing behind in the machine's
/// temporary folder. A model copy is 20 to 30 MB and a run makes dozens of them; left behind, repeated runs fill a disk.
/// </summary>
internal static class TestTemp
{
    private static readonly Lazy<string> RootFolder = new(() =>
    {
        var root = Directory.CreateTempSubdirectory("rank1-tests-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Remove(root);
        return root;
    });

    /// <summary>The folder of this test process; removed at its exit.</summary>
    public static string Root => RootFolder.Value;

    /// <summary>A new empty folder named <paramref name="prefix"/> plus a random suffix, under <see cref="Root"/>.</summary>
    /// <param name="prefix">The start of the folder's name, saying what it holds.</param>
    public static string Folder(string prefix = "")
    {
        var path = Path.Combine(Root, prefix + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>
    /// A new empty folder (<see cref="Folder"/>) that the test removes when it is done with it (<c>using</c>), not at the
    /// process's exit: for big ones (model copies). The test process's folder once kept 470 MB of model copies: a test
    /// host that is stopped rather than left to exit runs no exit handler.
    /// </summary>
    /// <param name="prefix">The start of the folder's name, saying what it holds.</param>
    public static ScopedFolder Scoped(string prefix = "") => new(Folder(prefix));

    /// <summary>A folder removed when disposed.</summary>
    /// <param name="path">The folder.</param>
    internal sealed class ScopedFolder(string path) : IDisposable
    {
        /// <summary>The folder's path.</summary>
        public string Path { get; } = path;

        public void Dispose() => TryDelete(Path);
    }

    /// <summary>A path for a new file named <paramref name="name"/> under <see cref="Root"/> (not created).</summary>
    /// <param name="name">The file's name.</param>
    public static string File(string name) => Path.Combine(Root, name);

    private static void Remove(string root)
    {
        // Best effort, entry by entry: a child process still writing in one folder (a RabbitMQ node shutting down) or a
        // folder a test left unreadable made the whole root stay, model copies and all (256 MB a run).
        foreach (var entry in SafeEntries(root))
        {
            TryDelete(entry);
        }

        TryDelete(root);
    }

    private static IEnumerable<string> SafeEntries(string root)
    {
        try
        {
            return Directory.EnumerateFileSystemEntries(root).ToArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
            else
            {
                System.IO.File.Delete(path);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left to the system's cleaner (or build.sh's removal of the run's temporary folder).
        }
    }
}
