using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Rank1.Elastic;

namespace Rank1.EmbeddedSearch.Indexing;

/// <summary>Elasticsearch's <c>version_type</c>: how a write's <c>version</c> is compared with the document's.</summary>
internal enum VersionType
{
    /// <summary>The index's own counter; an explicit version is only for reads.</summary>
    Internal,

    /// <summary><c>external</c> (or <c>external_gt</c>): the write's version must be higher than the document's.</summary>
    External,

    /// <summary><c>external_gte</c>: the write's version must be higher than or equal to the document's.</summary>
    ExternalGte,
}

/// <summary>The kind of write a <see cref="WriteCondition"/> is validated for.</summary>
internal enum WriteOp
{
    /// <summary>Index (create or replace).</summary>
    Index,

    /// <summary>Create only.</summary>
    Create,

    /// <summary>Delete.</summary>
    Delete,

    /// <summary>Partial update.</summary>
    Update,
}

/// <summary>
/// A write's optimistic concurrency control, as Elasticsearch reads and applies it: <c>if_seq_no</c> with
/// <c>if_primary_term</c>, or <c>version</c> with <c>version_type</c> (URL parameters of the document APIs, metadata of a
/// <c>_bulk</c> action). The one place that parses, validates (<c>DocWriteRequest.validateSeqNoBasedCASParams</c>) and
/// checks them against the document (<c>InternalEngine</c>'s plans and <c>VersionType</c>'s rules), in its words.
/// </summary>
/// <param name="IfSeqNo">The sequence number the document must have (<see cref="UnassignedSeqNo"/>: none).</param>
/// <param name="IfPrimaryTerm">The primary term it must have (0: none).</param>
/// <param name="Version">The version (<see cref="MatchAny"/>: none).</param>
/// <param name="VersionType">How <paramref name="Version"/> is compared.</param>
internal sealed record WriteCondition(long IfSeqNo, long IfPrimaryTerm, long Version, VersionType VersionType)
{
    /// <summary>Elasticsearch's <c>SequenceNumbers.UNASSIGNED_SEQ_NO</c>.</summary>
    public const long UnassignedSeqNo = -2;

    /// <summary>Elasticsearch's <c>Versions.MATCH_ANY</c>: no version given.</summary>
    public const long MatchAny = -3;

    // Versions.MATCH_DELETED: what a create means (the document must not exist).
    private const long MatchDeleted = -4;

    /// <summary>No condition.</summary>
    public static WriteCondition None { get; } = new(UnassignedSeqNo, 0, MatchAny, VersionType.Internal);

    /// <summary>True when the write carries a version other than the index's own counter (it may create a missing index, as a delete does then).</summary>
    public bool IsExternal => VersionType != VersionType.Internal;

    /// <summary>
    /// From URL parameters, as <c>RestIndexAction</c>/<c>RestDeleteAction</c>/<c>RestGetAction</c> read them
    /// (<c>paramAsLong</c>, <c>VersionType.fromString</c>); a value they refuse is their 400.
    /// </summary>
    /// <param name="param">The request's parameters.</param>
    public static WriteCondition FromQuery(Func<string, string?> param)
    {
        ArgumentNullException.ThrowIfNull(param);
        return Create(
            LongParam(param, "if_seq_no"),
            LongParam(param, "if_primary_term"),
            LongParam(param, "version"),
            param("version_type"));
    }

    /// <summary>From a <c>_bulk</c> action's metadata (<c>if_seq_no</c>, <c>if_primary_term</c>, <c>version</c>, <c>version_type</c>).</summary>
    /// <param name="meta">The action's metadata object.</param>
    public static WriteCondition FromBulkMeta(JsonObject meta)
    {
        ArgumentNullException.ThrowIfNull(meta);
        return Create(LongField(meta, "if_seq_no"), LongField(meta, "if_primary_term"), LongField(meta, "version"), ScalarText(meta["version_type"]));
    }

    /// <summary>From an update body's <c>if_seq_no</c> and <c>if_primary_term</c>, already read.</summary>
    /// <param name="ifSeqNo">The sequence number, or null.</param>
    /// <param name="ifPrimaryTerm">The primary term, or null.</param>
    public static WriteCondition ForUpdate(long? ifSeqNo, long? ifPrimaryTerm) => Create(ifSeqNo, ifPrimaryTerm, null, null);

    /// <summary>This condition with the body's values where the body has them (an update body's fields override the URL's).</summary>
    /// <param name="ifSeqNo">The body's sequence number, or null.</param>
    /// <param name="ifPrimaryTerm">The body's primary term, or null.</param>
    public WriteCondition With(long? ifSeqNo, long? ifPrimaryTerm) =>
        Create(ifSeqNo ?? (IfSeqNo == UnassignedSeqNo ? null : IfSeqNo), ifPrimaryTerm ?? (IfPrimaryTerm == 0 ? null : IfPrimaryTerm), null, null);

    private static WriteCondition Create(long? ifSeqNo, long? ifPrimaryTerm, long? version, string? versionType)
    {
        // The setters' checks (IndexRequest.setIfSeqNo, setIfPrimaryTerm): an illegal_argument_exception, not a validation error.
        if (ifSeqNo is < 0 and not UnassignedSeqNo)
        {
            throw EsException.IllegalArgument($"sequence numbers must be non negative. got [{ifSeqNo}].");
        }

        if (ifPrimaryTerm < 0)
        {
            throw EsException.IllegalArgument($"primary term must be non negative. got [{ifPrimaryTerm}].");
        }

        var type = versionType switch
        {
            null or "internal" => VersionType.Internal,
            "external" or "external_gt" => VersionType.External,
            "external_gte" => VersionType.ExternalGte,
            _ => throw EsException.IllegalArgument($"No version type match [{versionType}]"),
        };
        return new WriteCondition(ifSeqNo ?? UnassignedSeqNo, ifPrimaryTerm ?? 0, version ?? MatchAny, type);
    }

    /// <summary>
    /// Elasticsearch's validation errors for this condition on <paramref name="op"/> (<c>IndexRequest.validate</c>,
    /// <c>DeleteRequest.validate</c>, <c>UpdateRequest.validate</c> through <c>validateSeqNoBasedCASParams</c>), in its
    /// order; empty when valid.
    /// </summary>
    /// <param name="op">The write.</param>
    /// <param name="hasId">Whether the write names its document (an index request without one gets a generated id).</param>
    public IReadOnlyList<string> ValidationErrors(WriteOp op, bool hasId = true)
    {
        var errors = new List<string>();
        var version = Version;
        if (op == WriteOp.Create)
        {
            // IndexRequest.validate returns at the first of these.
            if (VersionType != VersionType.Internal)
            {
                return ["create operations only support internal versioning. use index instead"];
            }

            if (version != MatchAny)
            {
                return ["create operations do not support explicit versions. use index instead"];
            }

            if (IfSeqNo != UnassignedSeqNo || IfPrimaryTerm != 0)
            {
                return ["create operations do not support compare and set. use index instead"];
            }

            version = MatchDeleted; // resolveVersionDefaults
        }

        if (op is WriteOp.Index or WriteOp.Create && !hasId && (VersionType != VersionType.Internal || version is not (MatchAny or MatchDeleted)))
        {
            errors.Add("an id must be provided if version type or value are set");
        }

        var valid = VersionType == VersionType.Internal ? version > 0 || version is MatchAny or MatchDeleted : version >= 0;
        if (!valid)
        {
            errors.Add($"illegal version value [{version}] for version type [{TypeName}]");
        }

        if (VersionType == VersionType.Internal && version is not (MatchAny or MatchDeleted))
        {
            errors.Add("internal versioning can not be used for optimistic concurrency control. Please use `if_seq_no` and `if_primary_term` instead");
        }

        if (IfSeqNo != UnassignedSeqNo && (VersionType != VersionType.Internal || version != MatchAny))
        {
            errors.Add("compare and write operations can not use versioning");
        }

        if (IfPrimaryTerm == 0 && IfSeqNo != UnassignedSeqNo)
        {
            errors.Add("ifSeqNo is set, but primary term is [0]");
        }

        if (IfPrimaryTerm != 0 && IfSeqNo == UnassignedSeqNo)
        {
            errors.Add($"ifSeqNo is unassigned, but primary term is [{IfPrimaryTerm}]");
        }

        return errors;
    }

    /// <summary>Throws Elasticsearch's <c>action_request_validation_exception</c> when <paramref name="errors"/> has any.</summary>
    /// <param name="errors">Validation errors, in order.</param>
    public static void ThrowIfInvalid(IReadOnlyCollection<string> errors)
    {
        if (errors.Count > 0)
        {
            throw new EsException(400, "action_request_validation_exception",
                "Validation Failed: " + string.Concat(errors.Select((e, i) => $"{i + 1}: {e};")));
        }
    }

    /// <summary>
    /// The conflict, if any, of writing over <paramref name="current"/> (null: no live document), as
    /// <c>InternalEngine.planIndexingAsPrimary</c>/<c>planDeletionAsPrimary</c> decide it; null when the write may go on.
    /// </summary>
    /// <param name="id">The document's id.</param>
    /// <param name="current">The live document, or null.</param>
    public string? ConflictForWrite(string id, StoredDocument? current)
    {
        if (IfSeqNo != UnassignedSeqNo)
        {
            var required = $"[{id}]: version conflict, required seqNo [{IfSeqNo}], primary term [{IfPrimaryTerm}].";
            if (current is null)
            {
                return required + " but no document was found";
            }

            return current.SeqNo != IfSeqNo || SearchIndex.PrimaryTerm != IfPrimaryTerm
                ? $"{required} current document has seqNo [{current.SeqNo}] and primary term [{SearchIndex.PrimaryTerm}]"
                : null;
        }

        var currentVersion = current?.Version;
        return VersionType switch
        {
            VersionType.Internal when Version == MatchDeleted && current is not null =>
                $"[{id}]: version conflict, document already exists (current version [{currentVersion}])",
            VersionType.External when current is not null && currentVersion >= Version =>
                $"[{id}]: version conflict, current version [{currentVersion}] is higher or equal to the one provided [{Version}]",
            VersionType.ExternalGte when current is not null && currentVersion > Version =>
                $"[{id}]: version conflict, current version [{currentVersion}] is higher than the one provided [{Version}]",
            _ => null,
        };
    }

    /// <summary>The condition of a create: the document must not exist (<c>Versions.MATCH_DELETED</c>).</summary>
    public static WriteCondition CreateOnly { get; } = new(UnassignedSeqNo, 0, MatchDeleted, VersionType.Internal);

    /// <summary>
    /// A realtime GET's conflict (<c>VersionType.isVersionConflictForReads</c>): with a version given, a live document of
    /// another version; null otherwise.
    /// </summary>
    /// <param name="id">The document's id.</param>
    /// <param name="current">The live document.</param>
    public string? ConflictForRead(string id, StoredDocument current)
    {
        ArgumentNullException.ThrowIfNull(current);
        return Version != MatchAny && current.Version != Version
            ? $"[{id}]: version conflict, current version [{current.Version}] is different than the one provided [{Version}]"
            : null;
    }

    /// <summary>
    /// A GET's validation (<c>GetRequest.validate</c>: <c>validateVersionForReads</c>), thrown as its 400.
    /// </summary>
    public void ValidateForRead()
    {
        var valid = VersionType == VersionType.Internal ? Version > 0 || Version == MatchAny : Version >= 0 || Version == MatchAny;
        ThrowIfInvalid(valid ? [] : [$"illegal version value [{Version}] for version type [{TypeName}]"]);
    }

    /// <summary>The version a write gives the document (<c>VersionType.updateVersion</c>).</summary>
    /// <param name="current">The live document, or null.</param>
    public long NextVersion(StoredDocument? current) =>
        VersionType == VersionType.Internal ? (current?.Version ?? 0) + 1 : Version;

    private string TypeName => VersionType switch
    {
        VersionType.External => "EXTERNAL",
        VersionType.ExternalGte => "EXTERNAL_GTE",
        _ => "INTERNAL",
    };

    // RestRequest.paramAsLong: Long.parseLong, a 400 for anything else.
    private static long? LongParam(Func<string, string?> param, string key) => param(key) is not { } value ? null
        : long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ? n
        : throw EsException.IllegalArgument($"Failed to parse long parameter [{key}] with value [{value}]");

    // The bulk parser's parser.longValue(): a number, or a string holding one.
    private static long? LongField(JsonObject meta, string key) => meta[key] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<long>(out var n) => n,
        JsonValue v when v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<double>(out var d) && d is >= long.MinValue and <= long.MaxValue => (long)d,
        JsonValue v when v.GetValueKind() == JsonValueKind.String && long.TryParse(v.GetValue<string>(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) => n,
        var other => throw EsException.IllegalArgument($"[{key}] expects a number, found [{other.ToJsonString()}]"),
    };

    // version_type as the bulk parser's parser.text() reads it (a number or boolean as its text); null when absent.
    private static string? ScalarText(JsonNode? node) => node switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        JsonValue v when v.GetValueKind() == JsonValueKind.Null => null,
        JsonValue v => v.ToJsonString(),
        _ => throw EsException.IllegalArgument($"expected a simple value but found [{RequestJson.TokenName(node)}]"),
    };
}
