using System.Text.Json.Nodes;

namespace Rank1.EmbeddedSearch.Tests;

/// <summary>
/// Index settings validated as Elasticsearch validates them, at creation (<c>MetadataCreateIndexService</c>:
/// <c>normalizeRequestSetting</c>'s <c>IndexScopedSettings.validate</c> key by key in the keys' order, key then value;
/// then the name; then <c>validateIndexSettings</c>'s private settings) and by <c>PUT _settings</c>
/// (<c>MetadataUpdateSettingsService</c>: the keys, private ones refused; then what is not dynamic; then the values).
/// </summary>
public sealed class IndexSettingsValidationTests(ServerFixture fx) : IClassFixture<ServerFixture>
{
    private const string UnknownSuffix = " please check that any required plugins are installed, or check the breaking changes documentation for removed settings";

    private EsClient Es => fx.Client;

    private async Task<JsonNode> IndexSettingsAsync(string index) =>
        (await Es.GetAsync($"/{index}/_settings")).Json[index]!["settings"]!["index"]!;

    // Setting.boolSetting parses with Booleans.parseBoolean: only "true" and "false". "yes" was read as false.
    [Fact]
    public async Task Hidden_NotTrueOrFalse_IsRefused_AtCreationAndUpdate()
    {
        (await Es.PutAsync("/val-hid-yes", JsonNode.Parse("""{"settings":{"index.hidden":"yes"}}""")))
            .AssertError(400, "illegal_argument_exception", "Failed to parse value [yes] as only [true] or [false] are allowed.");
        Assert.Equal(404, (await Es.GetAsync("/val-hid-yes")).Status);

        Assert.Equal(200, (await Es.PutAsync("/val-hid-upd", null)).Status);
        (await Es.PutAsync("/val-hid-upd/_settings", JsonNode.Parse("""{"index":{"hidden":1}}""")))
            .AssertError(400, "illegal_argument_exception", "Failed to parse value [1] as only [true] or [false] are allowed.");
        Assert.Null((await IndexSettingsAsync("val-hid-upd"))["hidden"]);
    }

    // Settings keep their keys sorted: the first key's error is thrown (ExceptionsHelper.rethrowAndSuppress).
    [Fact]
    public async Task Creation_ValidatesKeyByKey_InTheKeysOrder()
    {
        (await Es.PutAsync("/val-order", JsonNode.Parse("""{"settings":{"index.max_result_window":"abc","index.hidden":"yes"}}""")))
            .AssertError(400, "illegal_argument_exception", "Failed to parse value [yes] as only [true] or [false] are allowed.");
    }

    // IndexMetadata.INDEX_NUMBER_OF_SHARDS_SETTING: intSetting(key, 1, 1, 1024). It was accepted whatever its value.
    [Theory]
    [InlineData("\"abc\"", "Failed to parse value [abc] for setting [index.number_of_shards]")]
    [InlineData("0", "Failed to parse value [0] for setting [index.number_of_shards] must be >= 1")]
    [InlineData("1025", "Failed to parse value [1025] for setting [index.number_of_shards] must be <= 1024")]
    public async Task NumberOfShards_OutOfItsSetting_IsRefusedAtCreation(string value, string reason)
    {
        var r = await Es.PutAsync("/val-shards", JsonNode.Parse("""{"settings":{"number_of_shards":""" + value + "}}"));
        r.AssertError(400, "illegal_argument_exception", reason);
        Assert.Equal(404, (await Es.GetAsync("/val-shards")).Status);
    }

    // MetadataUpdateSettingsService validates the keys first, values only once the non-dynamic settings are refused:
    // a bad window beside number_of_shards is the non-dynamic refusal. (It was the window's parse error.)
    [Fact]
    public async Task Update_RefusesWhatIsNotDynamic_BeforeReadingTheValues()
    {
        Assert.Equal(200, (await Es.PutAsync("/val-upd-order", null)).Status);
        var uuid = (await IndexSettingsAsync("val-upd-order"))["uuid"]!.GetValue<string>();
        (await Es.PutAsync("/val-upd-order/_settings", JsonNode.Parse("""{"index":{"number_of_shards":2,"max_result_window":"abc","hidden":"yes"}}""")))
            .AssertError(400, "illegal_argument_exception", $"Can't update non dynamic settings [[index.number_of_shards]] for open indices [[val-upd-order/{uuid}]]");
    }

    // index.uuid, index.creation_date and index.provided_name are Elasticsearch's own (IndexScopedSettings.isPrivateSetting)
    // and no registered setting: validate calls them unknown. They were accepted, ignored, with the Warning.
    [Theory]
    [InlineData("uuid")]
    [InlineData("creation_date")]
    [InlineData("provided_name")]
    public async Task SettingsElasticsearchSets_AreUnknown_AtCreationAndUpdate(string name)
    {
        (await Es.PutAsync($"/val-own-{name.Replace('_', '-')}", JsonNode.Parse($"{{\"settings\":{{\"index\":{{\"{name}\":\"x\"}}}}}}")))
            .AssertError(400, "illegal_argument_exception", $"unknown setting [index.{name}]" + UnknownSuffix);

        var index = $"val-own-upd-{name.Replace('_', '-')}";
        Assert.Equal(200, (await Es.PutAsync($"/{index}", null)).Status);
        var before = await IndexSettingsAsync(index);
        // The keys are validated before what is not dynamic is refused.
        (await Es.PutAsync($"/{index}/_settings", JsonNode.Parse($$"""{"index.{{name}}":"x","index.number_of_shards":2,"index.max_result_window":5}""")))
            .AssertError(400, "illegal_argument_exception", $"unknown setting [index.{name}]" + UnknownSuffix);
        Assert.Equal(before.ToJsonString(), (await IndexSettingsAsync(index)).ToJsonString());
    }

    // IndexMetadata.SETTING_INDEX_VERSION_CREATED is registered with Property.PrivateIndex: at creation
    // validatePrivateSettingsNotExplicitlySet (an IndexCreationException rendered as its ValidationException), once the
    // name is checked; by the settings API, validate's "can not update private setting".
    [Fact]
    public async Task VersionCreated_IsPrivate()
    {
        var created = await Es.PutAsync("/val-version", JsonNode.Parse("""{"settings":{"index.version.created":"8000099"}}"""));
        created.AssertError(400, "validation_exception", "Validation Failed: 1: private index setting [index.version.created] can not be set explicitly;");
        Assert.Equal("validation_exception", created.Json["error"]!["root_cause"]![0]!["type"]!.GetValue<string>());
        Assert.Equal(404, (await Es.GetAsync("/val-version")).Status);

        Assert.Equal(200, (await Es.PutAsync("/val-version-upd", null)).Status);
        var uuid = (await IndexSettingsAsync("val-version-upd"))["uuid"]!.GetValue<string>();
        (await Es.PutAsync("/val-version-upd", JsonNode.Parse("""{"settings":{"index.version.created":"8000099"}}""")))
            .AssertError(400, "resource_already_exists_exception", $"index [val-version-upd/{uuid}] already exists");
        (await Es.PutAsync("/val-version-upd/_settings", JsonNode.Parse("""{"index.version.created":"8000099"}""")))
            .AssertError(400, "illegal_argument_exception", "can not update private setting [index.version.created]; this setting is managed by Elasticsearch");
    }
}
