using System.Text.Json.Nodes;
using Elastic.Clients.Elasticsearch;
using Elastic.Clients.Elasticsearch.Core.Bulk;

namespace Rank1.EmbeddedSearch.Tests;

/// <summary>The update API (<c>_update</c> and <c>_bulk</c> updates) as Elasticsearch 9 answers it.</summary>
public sealed class UpdateApiTests(ServerFixture fx) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task Update_DocAsUpsertIntoMissingIndex_CreatesIndexAndDocument()
    {
        var client = OfficialClient.For(fx.Server.Url);
        var update = await client.UpdateAsync<Book, Book>("upsert-new-index", "1", u => u.Doc(new Book { Title = "first" }).DocAsUpsert(true));
        Assert.True(update.IsValidResponse, update.DebugInformation);
        Assert.Equal(201, update.ApiCallDetails.HttpStatusCode);
        Assert.Equal(Result.Created, update.Result);
        Assert.Equal("first", (await client.GetAsync<Book>("upsert-new-index", "1")).Source!.Title);
    }

    [Fact]
    public async Task Bulk_UpdatesWithUpsertIntoMissingIndex_AreAllCreated()
    {
        var client = OfficialClient.For(fx.Server.Url);
        var bulk = await client.BulkAsync(new BulkRequest("upsert-bulk-index")
        {
            Operations =
            [
                new BulkUpdateOperation<Book, Book>("1") { Doc = new Book { Title = "a" }, DocAsUpsert = true },
                new BulkUpdateOperation<Book, Book>("2") { Doc = new Book { Title = "b" }, DocAsUpsert = true },
            ],
            Refresh = Refresh.True,
        });
        Assert.True(bulk.IsValidResponse, bulk.DebugInformation);
        Assert.False(bulk.Errors);
        Assert.Equal([201, 201], bulk.Items.Select(i => i.Status));
        Assert.Equal(2, (await client.CountAsync(c => c.Indices("upsert-bulk-index"))).Count);
    }

    [Fact]
    public async Task Update_MissingDocInMissingIndex_CreatesIndexAndIsDocumentMissing()
    {
        var r = await fx.Client.PostAsync("/update-no-upsert/_update/1", JsonNode.Parse("""{"doc":{"n":1}}"""));
        r.AssertError(404, "document_missing_exception", "[1]: document missing");
        // TransportUpdateAction creates the index before it looks for the document.
        Assert.Equal(200, (await fx.Client.SendAsync(HttpMethod.Head, "/update-no-upsert")).Status);
    }

    [Fact]
    public async Task Update_Upsert_CreatesFromUpsertThenMergesDoc()
    {
        const string body = """{"doc":{"n":2},"upsert":{"n":1,"kind":"new"}}""";
        var created = await fx.Client.PostAsync("/upsert-body/_update/1", JsonNode.Parse(body));
        Assert.Equal(201, created.Status);
        Assert.Equal("created", created.Json["result"]!.GetValue<string>());
        Assert.Equal("""{"n":1,"kind":"new"}""", (await fx.Client.GetAsync("/upsert-body/_doc/1")).Json["_source"]!.ToJsonString());

        var updated = await fx.Client.PostAsync("/upsert-body/_update/1", JsonNode.Parse(body));
        Assert.Equal(200, updated.Status);
        Assert.Equal("updated", updated.Json["result"]!.GetValue<string>());
        Assert.Equal("""{"n":2,"kind":"new"}""", (await fx.Client.GetAsync("/upsert-body/_doc/1")).Json["_source"]!.ToJsonString());
    }

    [Fact]
    public async Task Update_DetectNoop_NoopHasNoShardsAndFalseWrites()
    {
        await fx.Client.PutAsync("/noop/_doc/1", JsonNode.Parse("""{"n":1}"""));
        var noop = await fx.Client.PostAsync("/noop/_update/1", JsonNode.Parse("""{"doc":{"n":1}}"""));
        Assert.Equal(200, noop.Status);
        Assert.Equal("""{"_index":"noop","_id":"1","_version":1,"result":"noop","_shards":{"total":0,"successful":0,"failed":0},"_seq_no":0,"_primary_term":1}""",
            noop.Json.ToJsonString());

        var written = await fx.Client.PostAsync("/noop/_update/1", JsonNode.Parse("""{"doc":{"n":1},"detect_noop":false}"""));
        Assert.Equal(200, written.Status);
        Assert.Equal("updated", written.Json["result"]!.GetValue<string>());
        Assert.Equal(2, written.Json["_version"]!.GetValue<long>());
        Assert.Equal(1, written.Json["_seq_no"]!.GetValue<long>());
    }

    [Fact]
    public async Task Update_Source_AddsGetWithTheUpdatedDocument()
    {
        await fx.Client.PutAsync("/update-get/_doc/1", JsonNode.Parse("""{"a":1,"b":"x"}"""));
        var viaUrl = await fx.Client.PostAsync("/update-get/_update/1?_source=true", JsonNode.Parse("""{"doc":{"a":2}}"""));
        Assert.Equal(200, viaUrl.Status);
        Assert.Equal("""{"_seq_no":1,"_primary_term":1,"found":true,"_source":{"a":2,"b":"x"}}""", viaUrl.Json["get"]!.ToJsonString());

        var viaBody = await fx.Client.PostAsync("/update-get/_update/1", JsonNode.Parse("""{"doc":{"a":3},"_source":["b"]}"""));
        Assert.Equal("""{"_seq_no":2,"_primary_term":1,"found":true,"_source":{"b":"x"}}""", viaBody.Json["get"]!.ToJsonString());

        var none = await fx.Client.PostAsync("/update-get/_update/1", JsonNode.Parse("""{"doc":{"a":4}}"""));
        Assert.Null(none.Json["get"]);

        // UpdateRequest's _source is FetchSourceContext.fromXContent's: Elasticsearch 9.1's exclude_vectors is read there.
        var withFlag = await fx.Client.PostAsync("/update-get/_update/1", JsonNode.Parse("""{"doc":{"a":5},"_source":{"includes":"b","exclude_vectors":false}}"""));
        Assert.True(withFlag.Status == 200, withFlag.Body?.ToJsonString());
        Assert.Equal("""{"b":"x"}""", withFlag.Json["get"]!["_source"]!.ToJsonString());
    }

    [Fact]
    public async Task Update_SourceExcludeVectorsAlone_AsksForTheSourceToo()
    {
        // FetchSourceContext.parseFromRestRequest (Elasticsearch 9.1 on) makes a context, fetching the source, when only
        // _source_exclude_vectors is given: RestUpdateAction sets it on the update, so the answer has its get, as
        // RestBulkAction's default context gives a bulk update's item one. It had none.
        await fx.Client.PutAsync("/update-vectors/_doc/1", JsonNode.Parse("""{"a":1}"""));
        var update = await fx.Client.PostAsync("/update-vectors/_update/1?_source_exclude_vectors=false", JsonNode.Parse("""{"doc":{"a":2}}"""));
        Assert.True(update.Status == 200, update.Body?.ToJsonString());
        Assert.Equal("""{"_seq_no":1,"_primary_term":1,"found":true,"_source":{"a":2}}""", update.Json["get"]!.ToJsonString());

        var bulk = await fx.Client.BulkAsync("{\"update\":{\"_index\":\"update-vectors\",\"_id\":\"1\"}}\n{\"doc\":{\"a\":3}}\n", "?_source_exclude_vectors=true");
        Assert.True(bulk.Status == 200, bulk.Body?.ToJsonString());
        Assert.Equal("""{"a":3}""", bulk.Json["items"]![0]!["update"]!["get"]!["_source"]!.ToJsonString());

        // paramAsBoolean(key, null): empty is not given.
        var empty = await fx.Client.PostAsync("/update-vectors/_update/1?_source_exclude_vectors=", JsonNode.Parse("""{"doc":{"a":4}}"""));
        Assert.True(empty.Status == 200, empty.Body?.ToJsonString());
        Assert.Null(empty.Json["get"]);
    }

    [Fact]
    public async Task Update_UnknownBodyField_IsXContentParseError()
    {
        await fx.Client.PutAsync("/update-unknown/_doc/1", JsonNode.Parse("""{"a":1}"""));
        var unknown = await fx.Client.PostAsync("/update-unknown/_update/1", """{"doc":{"a":2},"foo":1}""");
        unknown.AssertError(400, "x_content_parse_exception", "[1:16] [UpdateRequest] unknown field [foo]");

        var typo = await fx.Client.PostAsync("/update-unknown/_update/1", """{"docs":{"a":2}}""");
        Assert.Equal("[1:2] [UpdateRequest] unknown field [docs] did you mean [doc]?", typo.ErrorReason);
        Assert.Equal(1, (await fx.Client.GetAsync("/update-unknown/_doc/1")).Json["_source"]!["a"]!.GetValue<int>());
    }

    [Fact]
    public async Task Update_BooleansAsStrings_AreReadAndOtherStringsRefused()
    {
        var asString = await fx.Client.PostAsync("/update-bool/_update/1", """{"doc":{"a":1},"doc_as_upsert":"true"}""");
        Assert.Equal(201, asString.Status);
        Assert.Equal("created", asString.Json["result"]!.GetValue<string>());

        var yes = await fx.Client.PostAsync("/update-bool/_update/2", """{"doc":{"a":1},"doc_as_upsert":"yes"}""");
        yes.AssertError(400, "x_content_parse_exception", "[1:32] [UpdateRequest] failed to parse field [doc_as_upsert]");
        Assert.Equal("illegal_argument_exception", yes.Json["error"]!["caused_by"]!["type"]!.GetValue<string>());
        Assert.Equal("Failed to parse value [yes] as only [true] or [false] are allowed.", yes.Json["error"]!["caused_by"]!["reason"]!.GetValue<string>());

        // ObjectParser's declareBoolean reads a string with booleanValue(): an empty one is false (it was refused), so
        // the missing document is not upserted.
        var empty = await fx.Client.PostAsync("/update-bool/_update/4", """{"doc":{"a":1},"doc_as_upsert":""}""");
        Assert.Equal((404, "document_missing_exception"), (empty.Status, empty.ErrorType));

        var number = await fx.Client.PostAsync("/update-bool/_update/1", """{"doc":{"a":1},"detect_noop":1}""");
        Assert.Equal(400, number.Status);
        Assert.Equal("[1:30] [UpdateRequest] detect_noop doesn't support values of type: VALUE_NUMBER", number.ErrorReason);

        var bulk = await fx.Client.BulkAsync("""
            {"update":{"_index":"update-bool","_id":"3"}}
            {"doc":{"a":3},"doc_as_upsert":"true","detect_noop":"false"}

            """);
        Assert.Equal(200, bulk.Status);
        Assert.Equal(201, bulk.Json["items"]![0]!["update"]!["status"]!.GetValue<int>());
    }
}
