using Rank1.SearchBridge.Cli.CommandLine;
using Rank1.SearchBridge.Cli.Evaluation;

namespace Rank1.SearchBridge.Cli.Commands;

/// <summary>
/// A TREC-style input of <c>eval</c> (qrels, topics, a partial run) read for a command: what is wrong with it
/// (<see cref="FormatException"/>) is a one-line bad input naming the file.
/// </summary>
internal static class TrecInputFile
{
    /// <summary><see cref="TrecText.ReadLinesAsync"/>'s lines of <paramref name="file"/>; bytes that are not UTF-8, or a file that cannot be read, are a bad input.</summary>
    /// <param name="file">The file.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <param name="hint">What the user can do about a bad file, after the error; null: nothing.</param>
    public static async Task<string[]> ReadLinesAsync(string file, CancellationToken cancellationToken, string? hint = null)
    {
        try
        {
            return await TrecText.ReadLinesAsync(file, cancellationToken).ConfigureAwait(false);
        }
        catch (FormatException ex)
        {
            throw BadInput(file, ex, hint);
        }
        catch (Exception ex) when (InputFile.IsReadError(ex))
        {
            throw InputFile.Unreadable(file, ex);
        }
    }

    /// <summary>
    /// <paramref name="error"/> of <paramref name="file"/> as the command's error: <c>FILE: line N: ...</c>, then
    /// <paramref name="hint"/>, with <see cref="ExitCodes.BadInput"/>.
    /// </summary>
    /// <param name="file">The file.</param>
    /// <param name="error">What is wrong with it.</param>
    /// <param name="hint">What the user can do about it, after the error; null: nothing.</param>
    public static CliException BadInput(string file, FormatException error, string? hint = null) =>
        new(hint is null ? $"{file}: {error.Message}" : $"{file}: {error.Message} {hint}", ExitCodes.BadInput);
}
