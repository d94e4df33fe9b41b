using System.Text.Json.Nodes;
using Lucene.Net.Analysis;
using Lucene.Net.Analysis.Core;
using Lucene.Net.Analysis.Miscellaneous;
using Lucene.Net.Analysis.Standard;
using Lucene.Net.Analysis.Util;
using Lucene.Net.Index;
using Lucene.Net.Search;
using Lucene.Net.Store;
using Lucene.Net.Util;
using LuceneDirectory = Lucene.Net.Store.Directory;
using Rank1.Elastic;

namespace Rank1.EmbeddedSearch.Indexing;

/// <summary>A live document as the realtime GET sees it.</summary>
internal sealed record StoredDocument(string Id, long Version, long SeqNo, string Source);

/// <summary>Result of a write, as Elasticsearch reports it.</summary>
/// <param name="Id">The document's id.</param>
/// <param name="Version">Its version after the write.</param>
/// <param name="SeqNo">The write's sequence number.</param>
/// <param name="Result">created, updated, deleted, not_found or noop.</param>
/// <param name="Status">The HTTP status Elasticsearch answers it with.</param>
/// <param name="Source">The document's source after the write (null for a delete), for an update's <c>get</c>.</param>
internal sealed record WriteResult(string Id, long Version, long SeqNo, string Result, int Status, string? Source = null);

/// <summary>A partial update of one document (the body of <c>_update</c> or of a <c>_bulk</c> update).</summary>
/// <param name="Doc">The partial document merged into the live one.</param>
/// <param name="Upsert">The document created when there is none (<c>upsert</c>), or null.</param>
/// <param name="DocAsUpsert">Create the document from <paramref name="Doc"/> when there is none.</param>
/// <param name="DetectNoop">Answer <c>noop</c>, writing nothing, when the merge changes nothing.</param>
/// <param name="Condition">The request's <c>if_seq_no</c>/<c>if_primary_term</c>.</param>
internal sealed record DocumentUpdate(JsonObject Doc, JsonObject? Upsert, bool DocAsUpsert, bool DetectNoop, WriteCondition Condition);

/// <summary>
/// One index: a Lucene directory (in memory or on disk) written with BM25, near-real-time searchers, the mapping,
/// and a realtime map of live documents (id, version, source) for GET and versioning. Writes are serialised per
/// index; searches run concurrently on refreshed snapshots. What a source becomes in Lucene is
/// <see cref="DocumentFields"/>'s job.
/// </summary>
internal sealed class SearchIndex : IDisposable
{
    private const LuceneVersion Version = LuceneVersion.LUCENE_48;

    /// <summary>The primary term of every index here: one node, one primary that never changes.</summary>
    public const long PrimaryTerm = 1;

    private readonly LuceneDirectory _directory;
    private readonly IndexWriter _writer;
    private readonly SearcherManager _searchers;
    private readonly Dictionary<string, StoredDocument> _docs = new(StringComparer.Ordinal);
    private readonly System.Threading.Lock _writeLock = new();
    private readonly string? _folder;
    private readonly SemaphoreSlim _commitGate = new(1, 1);
    private long _seqNo = -1;
    private long _writes; // changes applied to the writer since open (under _writeLock)
    private long _durable; // of those, how many the last Lucene commit covers

    private SearchIndex(string name, string uuid, IndexMapping mapping, LuceneDirectory directory, string? folder, DateTimeOffset created)
    {
        Name = name;
        Uuid = uuid;
        Mapping = mapping;
        Created = created;
        _directory = directory;
        _folder = folder;
        var config = new IndexWriterConfig(Version, IndexAnalyzer) { Similarity = ElasticBm25Similarity.Instance, OpenMode = OpenMode.CREATE_OR_APPEND };
        _writer = new IndexWriter(directory, config);
        _searchers = new SearcherManager(_writer, applyAllDeletes: true, new Bm25SearcherFactory());
        LoadLiveDocuments();
        if (folder is not null)
        {
            mapping.Changed += SaveMapping;
        }
    }

    public string Name { get; }

    public IndexMapping Mapping { get; }

    public DateTimeOffset Created { get; }

    /// <summary>
    /// <c>index.uuid</c>: made once, when the index is created (<see cref="NewUuid"/>), and kept with it for its life, as
    /// Elasticsearch keeps <c>IndexMetadata.SETTING_INDEX_UUID</c> in the index's metadata across restarts.
    /// </summary>
    public string Uuid { get; }

    /// <summary>A new index's <c>index.uuid</c>: 22 characters, as long as <c>UUIDs.randomBase64UUID</c>'s.</summary>
    public static string NewUuid() => Guid.NewGuid().ToString("N")[..22];

    /// <summary>
    /// <c>index.hidden</c>: left out of wildcard and <c>_all</c> expressions unless <c>expand_wildcards</c> asks for
    /// hidden indices, as Elasticsearch does; a concrete name still reaches it.
    /// </summary>
    public bool Hidden => HiddenSetting == true;

    /// <summary><c>index.hidden</c> as set (at creation or by <c>PUT /{index}/_settings</c>), <c>false</c> too, or null when not set.</summary>
    public bool? HiddenSetting { get; private set; }

    /// <summary>
    /// <c>index.max_result_window</c> as set (at creation or by <c>PUT /{index}/_settings</c>), or null for its default,
    /// <see cref="IndexSettings.DefaultMaxResultWindow"/>: the most <c>from + size</c> (or a scroll's batch) a search may
    /// ask of this index's shard.
    /// </summary>
    public int? MaxResultWindowSetting { get; private set; }

    /// <summary>The window this index's shard allows (<see cref="MaxResultWindowSetting"/> or its default).</summary>
    public int MaxResultWindow => MaxResultWindowSetting ?? IndexSettings.DefaultMaxResultWindow;

    /// <summary>Size of the index files, for <c>_cat/indices</c>.</summary>
    public long StoreBytes
    {
        get
        {
            try
            {
                return _directory.ListAll().Sum(f => _directory.FileLength(f));
            }
            catch (IOException)
            {
                return 0; // a file merged away between listing and measuring
            }
        }
    }

    /// <summary>Deleted documents not yet merged away, for <c>_cat/indices</c>.</summary>
    public int DeletedDocs => WithSearcher(s => s.IndexReader.NumDeletedDocs);

    /// <summary>
    /// Applies the dynamic settings a <c>PUT /{index}/_settings</c> gives, under the write lock, and keeps them with the
    /// mapping (one write): <c>index.hidden</c> (Elasticsearch's <c>IndexMetadata.INDEX_HIDDEN_SETTING</c>) and
    /// <c>index.max_result_window</c>.
    /// </summary>
    /// <param name="hidden">Given: whether the index leaves wildcard and <c>_all</c> expressions (null: not set, not hidden).</param>
    /// <param name="window">Given: the window, validated (<see cref="IndexSettings.Read"/>; null: back to its default).</param>
    /// <param name="preserveExisting">Keep a setting the index has (<c>preserve_existing</c>), checked under the same lock.</param>
    public void UpdateSettings((bool Given, bool? Value) hidden, (bool Given, int? Value) window, bool preserveExisting)
    {
        lock (_writeLock)
        {
            var changed = false;
            if (hidden.Given && !(preserveExisting && HiddenSetting is not null))
            {
                HiddenSetting = hidden.Value;
                changed = true;
            }

            if (window.Given && !(preserveExisting && MaxResultWindowSetting is not null))
            {
                MaxResultWindowSetting = window.Value;
                changed = true;
            }

            if (changed)
            {
                SaveMapping();
            }
        }
    }

    /// <summary>Elasticsearch's standard analyzer: standard tokenizer + lowercase, no stop words.</summary>
    public static Analyzer IndexAnalyzer { get; } = new StandardAnalyzer(Version, CharArraySet.Empty);

    /// <summary>Query-time analyzer: standard for text, keyword (whole value) for keyword fields.</summary>
    public Analyzer QueryAnalyzer() => new PerFieldAnalyzerWrapper(IndexAnalyzer,
        Mapping.AllPaths().Where(p => p.Value.Kind != FieldKind.Text).ToDictionary(p => p.Key, _ => (Analyzer)new KeywordAnalyzer()));

    public int Count
    {
        get
        {
            lock (_writeLock)
            {
                return _docs.Count;
            }
        }
    }

    /// <summary>An index held in memory, with the settings it is created with (<see cref="UpdateSettings"/>).</summary>
    public static SearchIndex CreateInMemory(string name, string uuid, IndexMapping mapping, DateTimeOffset created, bool? hidden = null, int? maxResultWindow = null) =>
#pragma warning disable CS0618 // RAMDirectory is fine for the small in-memory indices of demos and tests
        new(name, uuid, mapping, new RAMDirectory(), null, created) { HiddenSetting = hidden, MaxResultWindowSetting = maxResultWindow };
#pragma warning restore CS0618

    /// <summary>
    /// An index in <paramref name="folder"/>, with the settings it is created or was saved with. Its mapping file is
    /// written when <paramref name="writeMappingFile"/>: for a new index, or to migrate a file of an older layout
    /// (<see cref="MappingFileFormat"/>); a current file is left as it is.
    /// </summary>
    public static SearchIndex OpenOnDisk(string name, string uuid, IndexMapping mapping, string folder, DateTimeOffset created, bool? hidden, int? maxResultWindow, bool writeMappingFile)
    {
        System.IO.Directory.CreateDirectory(folder);
        var index = new SearchIndex(name, uuid, mapping, FSDirectory.Open(Path.Combine(folder, "lucene")), folder, created)
        {
            HiddenSetting = hidden,
            MaxResultWindowSetting = maxResultWindow,
        };
        if (writeMappingFile)
        {
            index.SaveMapping();
        }

        return index;
    }

    public StoredDocument? Get(string id)
    {
        lock (_writeLock)
        {
            return _docs.GetValueOrDefault(id);
        }
    }

    /// <summary>
    /// Indexes <paramref name="source"/> as <paramref name="id"/> when <paramref name="condition"/> holds against the live
    /// document, checked under the write lock so that no other write comes between the check and this one.
    /// </summary>
    /// <param name="id">The document's id.</param>
    /// <param name="source">Its source.</param>
    /// <param name="createOnly">A create: the document must not exist.</param>
    /// <param name="condition">The optimistic concurrency control of the request (ignored for a create, which has none).</param>
    public WriteResult Index(string id, JsonObject source, bool createOnly, WriteCondition? condition = null)
    {
        var json = source.ToJsonString();
        lock (_writeLock)
        {
            var existing = _docs.GetValueOrDefault(id);
            var c = createOnly ? WriteCondition.CreateOnly : condition ?? WriteCondition.None;
            ThrowIfConflict(c.ConflictForWrite(id, existing));
            return Write(id, source, json, existing, c.NextVersion(existing));
        }
    }

    // Writes a document whose conditions were checked; the caller holds the write lock.
    private WriteResult Write(string id, JsonObject source, string json, StoredDocument? existing, long version)
    {
        var seq = _seqNo + 1;
        var doc = DocumentFields.Build(Mapping, id, source, json, version, seq); // throws on a bad value before anything changes
        _writer.UpdateDocument(new Term(DocumentFields.IdField, id), doc);
        _seqNo = seq;
        _docs[id] = new StoredDocument(id, version, seq, json);
        _writes++;
        return existing is null ? new WriteResult(id, version, seq, "created", 201, json) : new WriteResult(id, version, seq, "updated", 200, json);
    }

    /// <summary>
    /// A partial update, as Elasticsearch's <c>UpdateHelper</c> runs one: <paramref name="update"/>'s <c>doc</c> merged
    /// into the live document, or, when there is none, the upsert (the <c>doc</c> itself with <c>doc_as_upsert</c>, else
    /// <c>upsert</c>) created; a merge that changes nothing is a noop unless <c>detect_noop</c> is false. The
    /// <c>if_seq_no</c>/<c>if_primary_term</c> check and the write happen under one lock.
    /// </summary>
    /// <param name="id">The document's id.</param>
    /// <param name="update">What to do.</param>
    public WriteResult Update(string id, DocumentUpdate update)
    {
        ArgumentNullException.ThrowIfNull(update);
        lock (_writeLock)
        {
            var existing = _docs.GetValueOrDefault(id);
            if (existing is null)
            {
                var upsert = update.DocAsUpsert ? update.Doc : update.Upsert;
                if (upsert is null)
                {
                    throw new EsException(404, "document_missing_exception", $"[{id}]: document missing", ShardDetails());
                }

                var created = (JsonObject)upsert.DeepClone();
                return Write(id, created, created.ToJsonString(), null, 1);
            }

            // UpdateHelper reads the document with the request's if_seq_no/if_primary_term (getForUpdate): a mismatch is
            // the engine's conflict, a missing document the update's own document_missing_exception above.
            ThrowIfConflict(update.Condition.ConflictForWrite(id, existing));
            var merged = (JsonObject)AnswerJson.Parse(existing.Source)!;
            var before = merged.ToJsonString();
            DeepMerge(merged, update.Doc);
            var json = merged.ToJsonString();
            if (update.DetectNoop && json == before)
            {
                return new WriteResult(id, existing.Version, existing.SeqNo, "noop", 200, existing.Source);
            }

            return Write(id, merged, json, existing, existing.Version + 1);
        }
    }

    /// <summary>Deletes <paramref name="id"/> when <paramref name="condition"/> holds, checked under the write lock.</summary>
    /// <param name="id">The document's id.</param>
    /// <param name="condition">The request's optimistic concurrency control.</param>
    public WriteResult Delete(string id, WriteCondition? condition = null)
    {
        lock (_writeLock)
        {
            var existing = _docs.GetValueOrDefault(id);
            var c = condition ?? WriteCondition.None;
            ThrowIfConflict(c.ConflictForWrite(id, existing));
            var seq = ++_seqNo;
            var version = c.NextVersion(existing);
            if (existing is null)
            {
                return new WriteResult(id, version, seq, "not_found", 404);
            }

            _writer.DeleteDocuments(new Term(DocumentFields.IdField, id));
            _docs.Remove(id);
            _writes++;
            return new WriteResult(id, version, seq, "deleted", 200);
        }
    }

    /// <summary>Elasticsearch's 409 <c>version_conflict_engine_exception</c> with <paramref name="conflict"/> as its reason, when there is one.</summary>
    /// <param name="conflict">The conflict's reason, or null.</param>
    public void ThrowIfConflict(string? conflict)
    {
        if (conflict is not null)
        {
            throw new EsException(409, "version_conflict_engine_exception", conflict, ShardDetails());
        }
    }

    private Dictionary<string, string> ShardDetails() => new() { ["index_uuid"] = Uuid, ["shard"] = "0", ["index"] = Name };

    /// <summary>
    /// Makes every write so far visible to search and, when <paramref name="commit"/> is set, durable (see
    /// <see cref="MakeDurableAsync"/>). Visibility and durability are separate, as in Elasticsearch: the refresh
    /// interval only decides when writes become searchable.
    /// </summary>
    public void Refresh(bool commit)
    {
        _searchers.MaybeRefreshBlocking();
        if (commit && _folder is not null)
        {
            _commitGate.Wait();
            try
            {
                CommitIfBehind(WritesSoFar());
            }
            finally
            {
                _commitGate.Release();
            }
        }
    }

    /// <summary>
    /// On disk, commits (and fsyncs) every write applied so far before the caller acknowledges it, as Elasticsearch's
    /// default <c>index.translog.durability: request</c> does, so a killed process loses nothing it acknowledged.
    /// Concurrent callers share commits: one that waited behind a commit which already covered its writes returns
    /// without another, so a busy bulk load pays one fsync per group of requests, not per document.
    /// </summary>
    public async Task MakeDurableAsync(CancellationToken cancellationToken)
    {
        if (_folder is null)
        {
            return;
        }

        var upTo = WritesSoFar();
        if (Interlocked.Read(ref _durable) >= upTo)
        {
            return;
        }

        await _commitGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            CommitIfBehind(upTo);
        }
        finally
        {
            _commitGate.Release();
        }
    }

    private long WritesSoFar()
    {
        lock (_writeLock)
        {
            return _writes;
        }
    }

    /// <summary>Commits unless a commit already covers the first <paramref name="upTo"/> writes; the caller holds the commit gate.</summary>
    private void CommitIfBehind(long upTo)
    {
        if (Interlocked.Read(ref _durable) >= upTo)
        {
            return;
        }

        var covered = WritesSoFar(); // every write counted here has reached the writer, so the commit below includes it
        _writer.Commit();
        Interlocked.Exchange(ref _durable, covered);
    }

    /// <summary>Runs <paramref name="action"/> on a near-real-time searcher snapshot.</summary>
    public T WithSearcher<T>(Func<IndexSearcher, T> action)
    {
        var searcher = _searchers.Acquire();
        try
        {
            return action(searcher);
        }
        finally
        {
            _searchers.Release(searcher);
        }
    }

    public IndexSearcher AcquireSearcher() => _searchers.Acquire();

    public void ReleaseSearcher(IndexSearcher searcher) => _searchers.Release(searcher);

    private static void DeepMerge(JsonObject target, JsonObject patch)
    {
        foreach (var (key, value) in patch.ToArray())
        {
            if (value is JsonObject po && target[key] is JsonObject to)
            {
                DeepMerge(to, po);
            }
            else
            {
                target[key] = value?.DeepClone();
            }
        }
    }

    private void LoadLiveDocuments()
    {
        var searcher = _searchers.Acquire();
        try
        {
            var reader = searcher.IndexReader;
            var live = MultiFields.GetLiveDocs(reader);
            for (var i = 0; i < reader.MaxDoc; i++)
            {
                if (live is not null && !live.Get(i))
                {
                    continue;
                }

                var d = reader.Document(i);
                var seq = d.GetField(DocumentFields.SeqNoField)?.GetInt64Value() ?? 0;
                _docs[d.Get(DocumentFields.IdField)] = new StoredDocument(d.Get(DocumentFields.IdField), d.GetField(DocumentFields.VersionField)?.GetInt64Value() ?? 1, seq, d.Get(DocumentFields.SourceField));
                _seqNo = Math.Max(_seqNo, seq);
            }
        }
        finally
        {
            _searchers.Release(searcher);
        }
    }

    /// <summary>
    /// The version of mapping.json's layout this code writes. A file without one was written before it: up to 48ea26e
    /// <c>"hidden": false</c> stood for an index that never set <c>index.hidden</c>, so such a false is read as not set
    /// (a false given in the few commits after, a82b3e8 on, looks the same and is read so too: the index is visible either
    /// way). From 1 it is a false given.
    /// <para>
    /// Raise it whenever the file's properties, or what <see cref="IndexMapping.ToJson"/> writes, change. A start rewrites
    /// only a file of an older format (or one without a uuid) and leaves a current one as it is, so without a new number a
    /// file of the old layout would pass as current and stay so, and <see cref="IndexMapping.Parse"/> and the catalog's
    /// start would have to read every layout ever written.
    /// </para>
    /// </summary>
    public const int MappingFileFormat = 1;

    // Under _writeLock (System.Threading.Lock is re-entrant: the mapping's Changed is raised under it while a write adds
    // fields), so that one mapping.json.tmp is written and moved at a time, and the last written is the newest state.
    private void SaveMapping()
    {
        if (_folder is null)
        {
            return;
        }

        lock (_writeLock)
        {
            var file = Path.Combine(_folder, "mapping.json");
            var tmp = file + ".tmp";
            var doc = new JsonObject { ["format"] = MappingFileFormat, ["mappings"] = Mapping.ToJson(), ["uuid"] = Uuid, ["created"] = Created.ToUnixTimeMilliseconds(), ["hidden"] = HiddenSetting, ["max_result_window"] = MaxResultWindowSetting };
            File.WriteAllText(tmp, doc.ToJsonString());
            File.Move(tmp, file, overwrite: true);
        }
    }

    public void Dispose()
    {
        try
        {
            Refresh(commit: true);
        }
        finally
        {
            _searchers.Dispose();
            _writer.Dispose();
            _directory.Dispose();
            _commitGate.Dispose();
        }
    }

    /// <summary>Deletes the index's folder (after <see cref="Dispose"/>).</summary>
    public void DeleteFiles()
    {
        if (_folder is not null && System.IO.Directory.Exists(_folder))
        {
            System.IO.Directory.Delete(_folder, recursive: true);
        }
    }

    private sealed class Bm25SearcherFactory : SearcherFactory
    {
        public override IndexSearcher NewSearcher(IndexReader reader) => new(reader) { Similarity = ElasticBm25Similarity.Instance };
    }
}
