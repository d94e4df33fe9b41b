using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Rank1.SearchBridge.Cli.CommandLine;
using Rank1.SearchBridge.Cli.Evaluation;

namespace Rank1.SearchBridge.Cli.Commands;

/// <summary>
/// A dataset in the BEIR layout (BRIGHT exports the same shape): <c>corpus.jsonl</c> (<c>_id</c>, <c>title</c>,
/// <c>text</c>), <c>queries.jsonl</c> (<c>_id</c>, <c>text</c>) and <c>qrels/test.tsv</c>
/// (<c>query-id TAB corpus-id TAB score</c>, with a header line). Bad input is an error naming the file and line.
/// </summary>
internal sealed class BeirDataset
{
    private BeirDataset(string folder) => Folder = folder;

    /// <summary>The folder as the user typed it (relative to the current directory, or not): what messages name, as for every input file.</summary>
    public string Folder { get; }

    public string Corpus => Path.Combine(Folder, "corpus.jsonl");

    public string Queries => Path.Combine(Folder, "queries.jsonl");

    public string QrelsFile => Path.Combine(Folder, "qrels", "test.tsv");

    /// <summary>The name of the index the corpus goes into: <c>beir-</c> and the folder's name, lower case.</summary>
    public string IndexName => "beir-" + new string(Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(Folder))).ToLowerInvariant()
        .Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '-').ToArray());

    public static BeirDataset Open(string folder)
    {
        const string Layout = "(a BEIR-format folder has corpus.jsonl, queries.jsonl and qrels/test.tsv)";
        var dataset = new BeirDataset(folder);
        if (File.Exists(dataset.Folder))
        {
            // Named as such, not as "FILE/corpus.jsonl: file not found".
            throw new CliException($"{dataset.Folder}: --dataset is a file, not a folder {Layout}", ExitCodes.BadInput);
        }

        foreach (var file in new[] { dataset.Corpus, dataset.Queries, dataset.QrelsFile })
        {
            InputFile.Check(file, Layout);
        }

        return dataset;
    }

    /// <summary>The test judgments as TREC qrels.</summary>
    public async Task<Qrels> ReadQrelsAsync(CancellationToken cancellationToken) =>
        ParseQrels(QrelsFile, await TrecInputFile.ReadLinesAsync(QrelsFile, cancellationToken).ConfigureAwait(false));

    /// <summary>True when <paramref name="lines"/> start with BEIR's qrels header (<c>query-id TAB corpus-id TAB score</c>).</summary>
    public static bool IsBeirQrels(IReadOnlyList<string> lines) =>
        lines.FirstOrDefault(l => l.Trim().Length > 0) is { } first && first.Split('\t') is ["query-id", "corpus-id", ..];

    /// <summary>BEIR qrels (<c>query-id TAB corpus-id TAB score</c>, header line optional) of <paramref name="file"/> as TREC qrels.</summary>
    public static Qrels ParseQrels(string file, IReadOnlyList<string> lines)
    {
        var trec = new List<string>(lines.Count);
        var header = true;
        for (var i = 0; i < lines.Count; i++)
        {
            var p = lines[i].Split('\t');
            if (lines[i].Trim().Length == 0 || (header && p[0] == "query-id"))
            {
                trec.Add(string.Empty); // keeps line numbers
                continue;
            }

            header = false;
            // Checked here, in the file's own terms: the TREC line it becomes is not what the user wrote.
            if (p.Length != 3 || p[0].Length == 0 || p[1].Length == 0 || p[0].Any(TrecText.IsSeparator) || p[1].Any(TrecText.IsSeparator)
                || TrecText.Fields(p[2]) is not [var score] || !TrecText.TryParseGrade(score, out _))
            {
                throw new CliException($"{file}: line {i + 1}: expected 'query-id<TAB>corpus-id<TAB>score' (score an integer), got '{lines[i]}'", ExitCodes.BadInput);
            }

            trec.Add($"{p[0]} 0 {p[1]} {p[2]}");
        }

        try
        {
            return Qrels.Parse(trec);
        }
        catch (FormatException ex)
        {
            throw TrecInputFile.BadInput(file, ex);
        }
    }

    /// <summary>
    /// Indexes the corpus into <paramref name="index"/> at <paramref name="cluster"/> with _bulk, then refreshes it;
    /// <paramref name="progress"/> is given the lines sent so far. Returns the lines sent.
    /// </summary>
    public async Task<int> IndexAsync(HttpClient http, Uri cluster, string index, Action<int> progress, CancellationToken cancellationToken)
    {
        var count = 0;
        var bulk = new StringBuilder();
        await foreach (var (id, source) in ReadDocumentsAsync(build: true, cancellationToken).ConfigureAwait(false))
        {
            bulk.Append(new JsonObject { ["index"] = new JsonObject { ["_index"] = index, ["_id"] = id } }.ToJsonString()).Append('\n')
                .Append(source!.ToJsonString()).Append('\n');
            if (++count % 500 == 0)
            {
                await SendAsync(http, cluster, bulk, cancellationToken).ConfigureAwait(false);
                progress(count);
            }
        }

        await SendAsync(http, cluster, bulk, cancellationToken).ConfigureAwait(false);
        progress(count);
        using var refresh = await http.PostAsync(new Uri(cluster, $"{index}/_refresh"), null, cancellationToken).ConfigureAwait(false);
        return count;
    }

    /// <summary>
    /// The corpus's documents as <see cref="IndexAsync"/> sends them, in file order: each line that is not blank, read
    /// and checked (a bad line is a bad input naming the file and line); the document sent is built only when
    /// <paramref name="build"/> (null otherwise: a pass that checks or counts drops it).
    /// </summary>
    private async IAsyncEnumerable<(string Id, JsonObject? Source)> ReadDocumentsAsync(bool build, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var n = 0;
        await foreach (var line in Utf8Lines.ReadAsync(Corpus, (number, reason) => new CliException($"{Corpus}: line {number}: {reason}", ExitCodes.BadInput), cancellationToken).ConfigureAwait(false))
        {
            n++;
            if (line.Trim().Length == 0)
            {
                continue;
            }

            var where = $"{Corpus}: line {n}";
            JsonDocument doc;
            try
            {
                doc = JsonDocument.Parse(line, JsonLineText.Strict);
            }
            catch (JsonException ex)
            {
                throw JsonLineText.NotValidJson(where, ex, Corpus, n);
            }

            using (doc)
            {
                yield return CorpusDocument(doc.RootElement, where, build);
            }
        }
    }

    /// <summary>
    /// A corpus line's id (<c>_id</c>: a string or a number) and the document indexed for it (<c>text</c>, a string;
    /// <c>title</c>, a string or absent). Anything else, a lone surrogate escape in a string included, is a bad input
    /// naming <paramref name="where"/>, never an unhandled exception while the corpus is sent. The document is built only
    /// when <paramref name="build"/>: checking its text (a lone surrogate escape) reads it, but holds nothing.
    /// </summary>
    private static (string Id, JsonObject? Source) CorpusDocument(JsonElement doc, string where, bool build)
    {
        CliException Bad(string problem) => new($"{where}: {problem}", ExitCodes.BadInput);
        if (doc.ValueKind != JsonValueKind.Object)
        {
            throw Bad("not a JSON object");
        }

        if (!doc.TryGetProperty("_id", out var idValue) || !doc.TryGetProperty("text", out var text) || text.ValueKind == JsonValueKind.Null)
        {
            throw Bad("needs \"_id\" and \"text\"");
        }

        var id = idValue.ValueKind switch
        {
            JsonValueKind.String => JsonLineText.Of(idValue, where, "_id"),
            JsonValueKind.Number => idValue.GetRawText(),
            _ => throw Bad("\"_id\" must be a string or a number"),
        };
        if (id.Length == 0)
        {
            throw Bad("needs \"_id\" and \"text\"");
        }

        string? title = null;
        if (doc.TryGetProperty("title", out var t) && t.ValueKind != JsonValueKind.Null)
        {
            title = t.ValueKind == JsonValueKind.String ? JsonLineText.Of(t, where, "title") : throw Bad("\"title\" must be a string");
        }

        if (text.ValueKind != JsonValueKind.String)
        {
            throw Bad("\"text\" must be a string");
        }

        var body = JsonLineText.Of(text, where, "text");
        return (id, build ? new JsonObject { ["title"] = title, ["text"] = body } : null);
    }

    private static async Task SendAsync(HttpClient http, Uri cluster, StringBuilder bulk, CancellationToken cancellationToken)
    {
        if (bulk.Length == 0)
        {
            return;
        }

        var url = new Uri(cluster, "_bulk");
        using var response = await http.PostAsync(url, new StringContent(bulk.ToString(), Encoding.UTF8, "application/x-ndjson"), cancellationToken).ConfigureAwait(false);
        var (json, text) = await ClusterAnswer.ReadAsync(response, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode || json?["errors"] is not JsonValue errors || errors.GetValueKind() != JsonValueKind.False)
        {
            var item = (json?["items"] as JsonArray)?.Select(i => (i as JsonObject)?["index"] as JsonObject).FirstOrDefault(i => i?["error"] is not null);
            throw new CliException($"{url} refused the corpus ({(int)response.StatusCode}): {(item is not null ? ClusterAnswer.Reason(item, text) : ClusterAnswer.Reason(json, text))}", ExitCodes.Failure);
        }

        bulk.Clear();
    }

    /// <summary>The count of documents in <paramref name="index"/>, or null when it does not exist.</summary>
    public static async Task<long?> CountAsync(HttpClient http, Uri cluster, string index, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync(new Uri(cluster, $"{index}/_count"), cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            return null;
        }

        var (json, _) = await ClusterAnswer.ReadAsync(response, cancellationToken).ConfigureAwait(false);
        return json?["count"] is JsonValue count && count.TryGetValue<long>(out var n) ? n : null;
    }

    /// <summary>
    /// The corpus read and checked whole, as <see cref="IndexAsync"/> reads it: its document lines, and the documents an
    /// index holds once they are sent. A line repeating an <c>_id</c> replaces the document of the line before, as an
    /// Elasticsearch bulk <c>index</c> action replaces it and BEIR's <c>GenericDataLoader</c> keeps the last line of
    /// an id (its corpus is a dict keyed by <c>_id</c>), so the documents are the distinct ids, told apart by
    /// <see cref="IdKey"/> (16 bytes an id, not the id's string) and nothing else of a document is built or held. Peak
    /// RSS of this check on a generated corpus of 1,000,000 lines (ids of 23 characters), <c>/usr/bin/time -v</c>:
    /// 172,616 KB holding the id strings, 141,100 to 155,048 KB holding their keys; 50 MB of it the process alone.
    /// </summary>
    public async Task<CorpusSize> CorpusSizeAsync(CancellationToken cancellationToken)
    {
        var ids = new HashSet<UInt128>();
        var lines = 0;
        await foreach (var (id, _) in ReadDocumentsAsync(build: false, cancellationToken).ConfigureAwait(false))
        {
            lines++;
            ids.Add(IdKey(id));
        }

        return new CorpusSize(lines, ids.Count);
    }

    /// <summary>
    /// How many of the corpus's documents (its distinct ids) <paramref name="index"/> at <paramref name="cluster"/>
    /// holds, asked without writing or reading the index's documents: <c>_count</c> with an <c>ids</c> query
    /// (Elasticsearch's and OpenSearch's IdsQueryBuilder, a query on <c>_id</c> as it is written) over the ids, a
    /// thousand at a time, each id asked once. With the index's <c>_count</c>, the documents it holds that the corpus
    /// does not give are the difference.
    /// </summary>
    public async Task<long> CountHeldAsync(HttpClient http, Uri cluster, string index, CancellationToken cancellationToken)
    {
        const int Chunk = 1000;
        var asked = new HashSet<UInt128>();
        var chunk = new JsonArray();
        long held = 0;
        await foreach (var (id, _) in ReadDocumentsAsync(build: false, cancellationToken).ConfigureAwait(false))
        {
            if (asked.Add(IdKey(id)))
            {
                chunk.Add(id);
                if (chunk.Count == Chunk)
                {
                    held += await CountIdsAsync(http, cluster, index, chunk, cancellationToken).ConfigureAwait(false);
                    chunk = [];
                }
            }
        }

        return held + (chunk.Count > 0 ? await CountIdsAsync(http, cluster, index, chunk, cancellationToken).ConfigureAwait(false) : 0);
    }

    private static async Task<long> CountIdsAsync(HttpClient http, Uri cluster, string index, JsonArray ids, CancellationToken cancellationToken)
    {
        var url = new Uri(cluster, $"{index}/_count");
        var body = new JsonObject { ["query"] = new JsonObject { ["ids"] = new JsonObject { ["values"] = ids } } }.ToJsonString();
        using var response = await http.PostAsync(url, new StringContent(body, Encoding.UTF8, "application/json"), cancellationToken).ConfigureAwait(false);
        var (json, text) = await ClusterAnswer.ReadAsync(response, cancellationToken).ConfigureAwait(false);
        return response.IsSuccessStatusCode && json?["count"] is JsonValue count && count.TryGetValue<long>(out var n)
            ? n
            : throw new CliException($"{url} refused to count the corpus's ids ({(int)response.StatusCode}): {ClusterAnswer.Reason(json, text)}", ExitCodes.Failure);
    }

    /// <summary>
    /// An <c>_id</c> as a set holds it: the first 16 bytes of the SHA-256 of its UTF-8 (compared as written, as
    /// Elasticsearch compares <c>_id</c>), a tenth of MS MARCO's 8.8 million id strings' memory. Two ids sharing one
    /// (a 1 in 2^128 chance a pair) would count as one.
    /// </summary>
    private static UInt128 IdKey(string id)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(id), hash);
        return BinaryPrimitives.ReadUInt128LittleEndian(hash);
    }
}

/// <summary>What a corpus gives: its lines that hold a document, and the documents (distinct ids) an index holds once they are sent.</summary>
internal sealed record CorpusSize(int Lines, int Documents);
