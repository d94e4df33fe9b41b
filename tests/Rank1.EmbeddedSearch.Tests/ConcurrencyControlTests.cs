using System.Text.Json.Nodes;
using Elastic.Clients.Elasticsearch;
using Elastic.Clients.Elasticsearch.Core.Bulk;

namespace Rank1.EmbeddedSearch.Tests;

/// <summary>
/// Optimistic concurrency control as Elasticsearch 9 applies it: <c>if_seq_no</c>/<c>if_primary_term</c> and external
/// versions on index, create, update, delete and <c>_bulk</c>, and <c>version</c> on a realtime GET; a stale write is a
/// 409 and changes nothing.
/// </summary>
public sealed class ConcurrencyControlTests(ServerFixture fx) : IClassFixture<ServerFixture>
{
    private EsClient Es => fx.Client;

    private ElasticsearchClient Client() => OfficialClient.For(fx.Server.Url);

    private sealed class Counter
    {
        public int N { get; set; }
    }

    [Fact]
    public async Task Index_StaleIfSeqNo_Is409AndKeepsTheNewerWrite()
    {
        var client = Client();
        const string index = "occ-index";
        var first = await client.IndexAsync(new Counter { N = 1 }, i => i.Index(index).Id("1"));
        Assert.True(first.IsValidResponse, first.DebugInformation);
        var winner = await client.IndexAsync(new Counter { N = 2 }, i => i.Index(index).Id("1").IfSeqNo(first.SeqNo!.Value).IfPrimaryTerm(first.PrimaryTerm!.Value));
        Assert.True(winner.IsValidResponse, winner.DebugInformation);

        // A second writer that read the same seqNo loses: Elasticsearch's 409, not a silent overwrite.
        var loser = await client.IndexAsync(new Counter { N = 3 }, i => i.Index(index).Id("1").IfSeqNo(first.SeqNo!.Value).IfPrimaryTerm(1));
        Assert.False(loser.IsValidResponse);
        Assert.Equal(409, loser.ApiCallDetails.HttpStatusCode);
        Assert.Equal("version_conflict_engine_exception", loser.ElasticsearchServerError?.Error?.Type);
        Assert.Equal($"[1]: version conflict, required seqNo [{first.SeqNo}], primary term [1]. current document has seqNo [{winner.SeqNo}] and primary term [1]",
            loser.ElasticsearchServerError?.Error?.Reason);
        Assert.Equal(2, (await client.GetAsync<Counter>(index, "1")).Source!.N);

        var wrongTerm = await Es.PutAsync($"/{index}/_doc/1?if_seq_no={winner.SeqNo}&if_primary_term=2", JsonNode.Parse("""{"n":4}"""));
        Assert.Equal(409, wrongTerm.Status);
        Assert.Equal($"[1]: version conflict, required seqNo [{winner.SeqNo}], primary term [2]. current document has seqNo [{winner.SeqNo}] and primary term [1]", wrongTerm.ErrorReason);
        var error = wrongTerm.Json["error"]!;
        Assert.Equal("0", error["shard"]!.GetValue<string>());
        Assert.Equal(index, error["index"]!.GetValue<string>());

        var missing = await Es.PutAsync($"/{index}/_doc/nope?if_seq_no=0&if_primary_term=1", JsonNode.Parse("""{"n":1}"""));
        missing.AssertError(409, "version_conflict_engine_exception", "[nope]: version conflict, required seqNo [0], primary term [1]. but no document was found");
        Assert.Equal(404, (await Es.GetAsync($"/{index}/_doc/nope")).Status);
    }

    [Fact]
    public async Task IfSeqNoWithoutPrimaryTerm_IsValidationError()
    {
        await Es.PutAsync("/occ-validate/_doc/1", JsonNode.Parse("""{"n":1}"""));
        var seqOnly = await Es.PutAsync("/occ-validate/_doc/1?if_seq_no=0", JsonNode.Parse("""{"n":2}"""));
        seqOnly.AssertError(400, "action_request_validation_exception", "Validation Failed: 1: ifSeqNo is set, but primary term is [0];");

        var termOnly = await Es.DeleteAsync("/occ-validate/_doc/1?if_primary_term=1");
        termOnly.AssertError(400, "action_request_validation_exception", "Validation Failed: 1: ifSeqNo is unassigned, but primary term is [1];");

        var internalVersion = await Es.PutAsync("/occ-validate/_doc/1?version=1", JsonNode.Parse("""{"n":2}"""));
        Assert.Equal(400, internalVersion.Status);
        Assert.Equal("Validation Failed: 1: internal versioning can not be used for optimistic concurrency control. Please use `if_seq_no` and `if_primary_term` instead;",
            internalVersion.ErrorReason);

        var createVersion = await Es.PutAsync("/occ-validate/_create/2?version=3&version_type=external", JsonNode.Parse("""{"n":2}"""));
        Assert.Equal("Validation Failed: 1: create operations only support internal versioning. use index instead;", createVersion.ErrorReason);

        var autoIdVersion = await Es.PostAsync("/occ-validate/_doc?version=3", JsonNode.Parse("""{"n":2}"""));
        autoIdVersion.AssertError(400, "action_request_validation_exception", "Validation Failed: 1: create operations do not support explicit versions. use index instead;");

        var badSeqNo = await Es.PutAsync("/occ-validate/_doc/1?if_seq_no=abc&if_primary_term=1", JsonNode.Parse("""{"n":2}"""));
        badSeqNo.AssertError(400, "illegal_argument_exception", "Failed to parse long parameter [if_seq_no] with value [abc]");

        var updateVersion = await Es.PostAsync("/occ-validate/_update/1?version=1", JsonNode.Parse("""{"doc":{"n":2}}"""));
        Assert.Equal("Validation Failed: 1: internal versioning can not be used for optimistic concurrency control. Please use `if_seq_no` and `if_primary_term` instead;",
            updateVersion.ErrorReason);

        Assert.Equal(1, (await Es.GetAsync("/occ-validate/_doc/1")).Json["_source"]!["n"]!.GetValue<int>());
    }

    [Fact]
    public async Task ExternalVersion_LowerOrEqual_Is409()
    {
        var client = Client();
        const string index = "occ-external";
        var v5 = await client.IndexAsync(new Counter { N = 5 }, i => i.Index(index).Id("1").Version(5).VersionType(VersionType.External));
        Assert.True(v5.IsValidResponse, v5.DebugInformation);
        Assert.Equal(5, v5.Version);

        var stale = await client.IndexAsync(new Counter { N = 4 }, i => i.Index(index).Id("1").Version(4).VersionType(VersionType.External));
        Assert.Equal(409, stale.ApiCallDetails.HttpStatusCode);
        Assert.Equal("[1]: version conflict, current version [5] is higher or equal to the one provided [4]", stale.ElasticsearchServerError?.Error?.Reason);
        var same = await Es.PutAsync($"/{index}/_doc/1?version=5&version_type=external", JsonNode.Parse("""{"n":55}"""));
        Assert.Equal(409, same.Status);
        Assert.Equal("[1]: version conflict, current version [5] is higher or equal to the one provided [5]", same.ErrorReason);

        var gte = await Es.PutAsync($"/{index}/_doc/1?version=5&version_type=external_gte", JsonNode.Parse("""{"n":6}"""));
        Assert.Equal(200, gte.Status);
        Assert.Equal(5, gte.Json["_version"]!.GetValue<long>());
        var gteStale = await Es.PutAsync($"/{index}/_doc/1?version=4&version_type=external_gte", JsonNode.Parse("""{"n":7}"""));
        Assert.Equal("[1]: version conflict, current version [5] is higher than the one provided [4]", gteStale.ErrorReason);

        var staleDelete = await client.DeleteAsync(new DeleteRequest(index, "1") { Version = 3, VersionType = VersionType.External });
        Assert.Equal(409, staleDelete.ApiCallDetails.HttpStatusCode);
        Assert.Equal(6, (await client.GetAsync<Counter>(index, "1")).Source!.N);
        var delete = await client.DeleteAsync(new DeleteRequest(index, "1") { Version = 9, VersionType = VersionType.External });
        Assert.True(delete.IsValidResponse, delete.DebugInformation);
        Assert.Equal(9, delete.Version);
    }

    [Fact]
    public async Task UpdateAndDelete_StaleIfSeqNo_Is409()
    {
        var client = Client();
        const string index = "occ-update";
        var created = await client.IndexAsync(new Counter { N = 1 }, i => i.Index(index).Id("1"));
        var moved = await client.IndexAsync(new Counter { N = 2 }, i => i.Index(index).Id("1"));

        var update = await client.UpdateAsync<Counter, object>(index, "1", u => u.Doc(new { n = 10 }).IfSeqNo(created.SeqNo!.Value).IfPrimaryTerm(1));
        Assert.Equal(409, update.ApiCallDetails.HttpStatusCode);
        Assert.Equal($"[1]: version conflict, required seqNo [{created.SeqNo}], primary term [1]. current document has seqNo [{moved.SeqNo}] and primary term [1]",
            update.ElasticsearchServerError?.Error?.Reason);
        var current = await client.UpdateAsync<Counter, object>(index, "1", u => u.Doc(new { n = 10 }).IfSeqNo(moved.SeqNo!.Value).IfPrimaryTerm(1));
        Assert.True(current.IsValidResponse, current.DebugInformation);
        Assert.Equal(Result.Updated, current.Result);

        var delete = await client.DeleteAsync(new DeleteRequest(index, "1") { IfSeqNo = moved.SeqNo, IfPrimaryTerm = 1 });
        Assert.Equal(409, delete.ApiCallDetails.HttpStatusCode);
        Assert.Equal("version_conflict_engine_exception", delete.ElasticsearchServerError?.Error?.Type);
        Assert.Equal(10, (await client.GetAsync<Counter>(index, "1")).Source!.N);
        var deleted = await client.DeleteAsync(new DeleteRequest(index, "1") { IfSeqNo = current.SeqNo, IfPrimaryTerm = 1 });
        Assert.Equal(Result.Deleted, deleted.Result);
    }

    [Fact]
    public async Task Bulk_StaleItemIs409AndTheOthersProceed()
    {
        var client = Client();
        const string index = "occ-bulk";
        var first = await client.IndexAsync(new Counter { N = 1 }, i => i.Index(index).Id("1"));
        var second = await client.IndexAsync(new Counter { N = 2 }, i => i.Index(index).Id("1"));

        var stale = first.SeqNo!.Value;
        var bulk = await client.BulkAsync(new BulkRequest(index)
        {
            Operations =
            [
                new BulkIndexOperation<Counter>(new Counter { N = 3 }) { Id = "1", IfSequenceNumber = stale, IfPrimaryTerm = 1 },
                new BulkIndexOperation<Counter>(new Counter { N = 7 }) { Id = "2" },
                new BulkUpdateOperation<Counter, object>("1") { Doc = new { n = 4 }, IfSequenceNumber = stale, IfPrimaryTerm = 1 },
                new BulkDeleteOperation("1") { IfSequenceNumber = stale, IfPrimaryTerm = 1 },
                new BulkIndexOperation<Counter>(new Counter { N = 5 }) { Id = "1", IfSequenceNumber = second.SeqNo, IfPrimaryTerm = 1 },
            ],
        });
        Assert.True(bulk.Errors);
        Assert.Equal([409, 201, 409, 409, 200], bulk.Items.Select(i => i.Status));
        var conflict = bulk.Items.First().Error!;
        Assert.Equal("version_conflict_engine_exception", conflict.Type);
        Assert.Equal($"[1]: version conflict, required seqNo [{first.SeqNo}], primary term [1]. current document has seqNo [{second.SeqNo}] and primary term [1]", conflict.Reason);
        Assert.Equal(5, (await client.GetAsync<Counter>(index, "1")).Source!.N);

        var external = await Es.BulkAsync($$$"""
            {"index":{"_index":"{{{index}}}","_id":"x","version":3,"version_type":"external"}}
            {"n":3}
            {"index":{"_index":"{{{index}}}","_id":"x","version":2,"version_type":"external"}}
            {"n":2}

            """);
        var items = external.Json["items"]!.AsArray();
        Assert.Equal(201, items[0]!["index"]!["status"]!.GetValue<int>());
        Assert.Equal(409, items[1]!["index"]!["status"]!.GetValue<int>());
        Assert.Equal("[x]: version conflict, current version [3] is higher or equal to the one provided [2]", items[1]!["index"]!["error"]!["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task Bulk_InvalidConditions_Are400ForTheWholeRequest()
    {
        var r = await Es.BulkAsync("""
            {"index":{"_index":"occ-bulk-invalid","_id":"1"}}
            {"n":1}
            {"index":{"_index":"occ-bulk-invalid","_id":"2","if_seq_no":0}}
            {"n":2}
            {"delete":{"_index":"occ-bulk-invalid","_id":"3","if_primary_term":1}}

            """);
        r.AssertError(400, "action_request_validation_exception",
            "Validation Failed: 1: ifSeqNo is set, but primary term is [0];2: ifSeqNo is unassigned, but primary term is [1];");
        Assert.Equal(404, (await Es.GetAsync("/occ-bulk-invalid/_doc/1")).Status);

        var updateVersion = await Es.BulkAsync("""
            {"update":{"_index":"occ-bulk-invalid","_id":"1","version":2}}
            {"doc":{"n":1}}

            """);
        updateVersion.AssertError(400, "illegal_argument_exception", "Update requests do not support versioning. Please use `if_seq_no` and `if_primary_term` instead");
    }

    [Fact]
    public async Task Get_WithOtherVersion_Is409()
    {
        await Es.PutAsync("/occ-get/_doc/1", JsonNode.Parse("""{"n":1}"""));
        await Es.PutAsync("/occ-get/_doc/1", JsonNode.Parse("""{"n":2}"""));
        var stale = await Es.GetAsync("/occ-get/_doc/1?version=1");
        stale.AssertError(409, "version_conflict_engine_exception", "[1]: version conflict, current version [2] is different than the one provided [1]");
        var current = await Es.GetAsync("/occ-get/_doc/1?version=2");
        Assert.Equal(200, current.Status);
        Assert.Equal(2, current.Json["_source"]!["n"]!.GetValue<int>());
    }
}
