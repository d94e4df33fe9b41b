using System.Globalization;
using System.Text;
using Rank1.SearchBridge.Cli.CommandLine;
using Rank1.SearchBridge.Cli.Evaluation;

namespace Rank1.SearchBridge.Cli.Commands;

/// <summary>
/// A TREC run that <c>rank1-bridge eval</c> writes. It grows a query at a time in <c>NAME.partial</c> (one append
/// per query, so an interrupted evaluation resumes there) and is renamed to <c>NAME</c> once every topic is in. An
/// existing <c>NAME</c> is read as trec_eval reads runs and is never written: the command does not overwrite or
/// truncate a file it did not make. Scores are derived from the rank (depth − rank + 1), so trec_eval reads the
/// order exactly as the search answered it, whatever the engines' score scales.
/// </summary>
internal sealed class EvalRunFile
{
    private const string None = "__none__";

    // What to do about a partial file that cannot be resumed.
    private const string ResumeHint = "(delete it to start this run afresh)";

    private readonly Dictionary<string, List<RunEntry>> _entries = new(StringComparer.Ordinal);

    private EvalRunFile(string path, bool complete)
    {
        Path = path;
        Complete = complete;
    }

    /// <summary>The finished run's path.</summary>
    public string Path { get; }

    /// <summary>True when the run file exists: it is read as it is and nothing is searched for it.</summary>
    public bool Complete { get; private set; }

    /// <summary>True when the run or its partial file is already in the folder.</summary>
    public bool Exists => Complete || File.Exists(Partial);

    private string Partial => Path + ".partial";

    /// <summary>Opens the run at <paramref name="path"/>, or resumes its partial file, or starts afresh.</summary>
    public static async Task<EvalRunFile> OpenAsync(string path, CancellationToken cancellationToken)
    {
        if (File.Exists(path))
        {
            TrecRun existing;
            try
            {
                existing = await TrecRun.ReadAsync(path, cancellationToken).ConfigureAwait(false);
                existing.RequireNoRepeats(existing.QueryIds);
            }
            catch (FormatException ex)
            {
                throw new CliException($"{ex.Message} (an existing run is read, never rewritten: fix it, or pass another --run-out)", ExitCodes.BadInput);
            }

            var done = new EvalRunFile(path, complete: true);
            foreach (var q in existing.QueryIds)
            {
                done._entries[q] = existing.For(q).Where(e => e.DocId != None).ToList();
            }

            return done;
        }

        var run = new EvalRunFile(path, complete: false);
        if (File.Exists(run.Partial))
        {
            await run.ResumeAsync(cancellationToken).ConfigureAwait(false);
        }

        return run;
    }

    public bool Has(string queryId) => _entries.ContainsKey(queryId);

    public IReadOnlyList<RunEntry> Entries(string queryId) => _entries.TryGetValue(queryId, out var e) ? e : [];

    /// <summary>
    /// Appends one query's ranking to the partial file. A document id the search returned more than once (an index
    /// pattern whose indices share an <c>_id</c>) is kept at its first rank only, as trec_eval refuses a run that
    /// repeats a document of a query; the result is how many hits were left out for that. An id with white space is
    /// written percent-encoded (<see cref="TrecText.RunDocId"/>), which a run's white-space-separated fields can hold.
    /// </summary>
    public async Task<int> AppendAsync(string queryId, IReadOnlyList<string> hits, string tag, CancellationToken cancellationToken)
    {
        if (Complete)
        {
            throw new InvalidOperationException($"{Path} is complete and is never written.");
        }

        var docIds = hits.Select(TrecText.RunDocId).Distinct(StringComparer.Ordinal).ToList(); // Distinct keeps each id's first occurrence, in order
        var block = new StringBuilder();
        var entries = new List<RunEntry>();
        for (var i = 0; i < docIds.Count; i++)
        {
            var score = docIds.Count - i;
            block.Append(CultureInfo.InvariantCulture, $"{queryId} Q0 {docIds[i]} {i + 1} {score} {tag}\n");
            entries.Add(new RunEntry(docIds[i], score));
        }

        if (docIds.Count == 0)
        {
            // A query that retrieved nothing is still done: record it so a resume does not redo it.
            block.Append(CultureInfo.InvariantCulture, $"{queryId} Q0 {None} 1 0 {tag}\n");
        }

        await File.AppendAllTextAsync(Partial, block.ToString(), cancellationToken).ConfigureAwait(false);
        _entries[queryId] = entries;
        return hits.Count - docIds.Count;
    }

    /// <summary>Every topic is in: the partial file becomes the run (never replacing a file that appeared meanwhile).</summary>
    public void Finish()
    {
        if (Complete)
        {
            return;
        }

        if (!File.Exists(Partial))
        {
            File.WriteAllText(Partial, string.Empty);
        }

        try
        {
            File.Move(Partial, Path, overwrite: false);
        }
        catch (IOException) when (File.Exists(Path))
        {
            throw new CliException($"{Path} appeared while the evaluation ran; the new run is kept in {Partial}", ExitCodes.Failure);
        }

        Complete = true;
    }

    private async Task ResumeAsync(CancellationToken cancellationToken)
    {
        var lines = await TrecInputFile.ReadLinesAsync(Partial, cancellationToken, ResumeHint).ConfigureAwait(false);

        // The last query's block may have been torn by the interruption: it is dropped and that query redone.
        var keep = lines.Length;
        while (keep > 0 && FirstField(lines, keep - 1) is null)
        {
            keep--;
        }

        var last = FirstField(lines, keep - 1);
        while (keep > 0 && FirstField(lines, keep - 1) == last)
        {
            keep--;
        }

        TrecRun resumed;
        try
        {
            resumed = TrecRun.Parse(lines.Take(keep));
            resumed.RequireNoRepeats(resumed.QueryIds);
        }
        catch (FormatException ex)
        {
            throw TrecInputFile.BadInput(Partial, ex, ResumeHint);
        }

        foreach (var q in resumed.QueryIds)
        {
            _entries[q] = resumed.For(q).Where(e => e.DocId != None).ToList();
        }

        if (keep < lines.Length)
        {
            await File.WriteAllTextAsync(Partial, string.Concat(lines.Take(keep).Select(l => l + "\n")), cancellationToken).ConfigureAwait(false);
        }
    }

    private static string? FirstField(string[] lines, int i)
    {
        if (i < 0)
        {
            return null;
        }

        var fields = TrecText.Fields(lines[i]);
        return fields.Length == 0 ? null : fields[0];
    }
}
