using Rank1.SearchBridge.Cli.CommandLine;

namespace Rank1.SearchBridge.Cli.Commands;

/// <summary>
/// An input file of a command (passages, a query log, qrels): missing, a folder, or unreadable (permissions) is a
/// one-line bad input (exit code 4) naming the file, never an unhandled exception.
/// </summary>
internal static class InputFile
{
    /// <summary>Throws the bad input for a <paramref name="path"/> that is a folder or does not exist.</summary>
    /// <param name="path">The file.</param>
    /// <param name="expected">What the file should hold, after "file not found" (with its parentheses); null: nothing.</param>
    public static void Check(string path, string? expected = null)
    {
        if (Directory.Exists(path))
        {
            throw new CliException($"{path}: is a directory, not a file", ExitCodes.BadInput);
        }

        if (!File.Exists(path))
        {
            throw new CliException(expected is null ? $"{path}: file not found" : $"{path}: file not found {expected}", ExitCodes.BadInput);
        }
    }

    /// <summary>True for what reading a file throws when it cannot be read (permissions, I/O errors).</summary>
    public static bool IsReadError(Exception error) => error is UnauthorizedAccessException or IOException;

    /// <summary>The bad input for <paramref name="path"/> that could not be read.</summary>
    public static CliException Unreadable(string path, Exception error) =>
        new($"{path}: cannot be read ({(error is UnauthorizedAccessException ? "permission denied" : error.Message.TrimEnd('.'))})", ExitCodes.BadInput);
}
