using Elastic.Clients.Elasticsearch;
using Elastic.Clients.Elasticsearch.Cluster;

namespace Rank1.EmbeddedSearch.Tests;

/// <summary>
/// <c>GET /_cluster/health/{index}</c>, the "create the index, then wait for yellow" of test set-ups: it was a 400 "no
/// handler found". Elasticsearch's <c>TransportClusterHealthAction</c> waits for named indices to exist and answers a 408,
/// red and <c>timed_out</c>, when they do not within <c>timeout</c>.
/// </summary>
public sealed class ClusterHealthTests(ServerFixture fx) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task TheOfficialClient_WaitingForAnIndexToBeYellow_GetsItGreen_WithItsIndexLevel()
    {
        Assert.Equal(200, (await fx.Client.PutAsync("/health-books")).Status);
        var client = new ElasticsearchClient(new ElasticsearchClientSettings(fx.Server.Url));
        var health = await client.Cluster.HealthAsync(new HealthRequest("health-books") { WaitForStatus = HealthStatus.Yellow, Level = Level.Indices });
        Assert.True(health.IsValidResponse, health.DebugInformation);
        Assert.Equal((HealthStatus.Green, false, 1), (health.Status, health.TimedOut, health.ActivePrimaryShards));
        Assert.Equal(HealthStatus.Green, health.Indices!["health-books"].Status);
        Assert.Equal(["health-books"], health.Indices.Keys);
    }

    [Fact]
    public async Task AnIndexThatIsNotThere_IsWaitedFor_ThenRedAndTimedOut_A408()
    {
        var r = await fx.Client.GetAsync("/_cluster/health/health-never?wait_for_status=yellow&timeout=50ms");
        Assert.Equal(408, r.Status);
        Assert.Equal(("red", true), (r.Json["status"]!.GetValue<string>(), r.Json["timed_out"]!.GetValue<bool>()));
    }

    // RestClusterHealthAction splits the index list with Strings.splitStringByCommaToArray, nothing trimmed, as every index
    // API does: "health-trim1 " is an index that is not there, waited for (timeout 0: not at all), then red. The names were
    // trimmed, and the health was green at once.
    [Theory]
    [InlineData("health-trim1", "health-trim1%20")]
    [InlineData("health-trim2", "%20health-trim2")]
    [InlineData("health-trim3", "health-trim3,%20health-trim3")]
    public async Task AnIndexNameWithASpace_IsNotTrimmed_ItIsAnIndexThatIsNotThere(string index, string expression)
    {
        Assert.Equal(200, (await fx.Client.PutAsync($"/{index}")).Status);
        Assert.Equal(200, (await fx.Client.GetAsync($"/_cluster/health/{index}?timeout=0")).Status);
        var r = await fx.Client.GetAsync($"/_cluster/health/{expression}?timeout=0");
        Assert.Equal((408, "red", true), (r.Status, r.Json["status"]!.GetValue<string>(), r.Json["timed_out"]!.GetValue<bool>()));
    }

    // IndexNameExpressionResolver: "-x" excludes only after a wildcard; before one it is a name, here one that is not there,
    // so the health waits for it (timeout 0: not at all) and is red. It was green: every "-" name was taken for an exclusion.
    // After a wildcard it is an exclusion, and the health is green.
    [Fact]
    public async Task AMinusName_WithNoWildcardBefore_IsAnIndexThatIsNotThere_AfterOneAnExclusion()
    {
        Assert.Equal(200, (await fx.Client.PutAsync("/health-minus")).Status);
        var name = await fx.Client.GetAsync("/_cluster/health/health-minus,-health-minus?timeout=0");
        Assert.Equal((408, "red", true), (name.Status, name.Json["status"]!.GetValue<string>(), name.Json["timed_out"]!.GetValue<bool>()));
        var exclusion = await fx.Client.GetAsync("/_cluster/health/health-minus*,-health-minus?timeout=0");
        Assert.Equal((200, "green", false), (exclusion.Status, exclusion.Json["status"]!.GetValue<string>(), exclusion.Json["timed_out"]!.GetValue<bool>()));
    }

    [Fact]
    public async Task AnUnknownStatus_IsABadRequest()
    {
        var r = await fx.Client.GetAsync("/_cluster/health?wait_for_status=purple");
        Assert.Equal((400, "illegal_argument_exception", "unknown cluster health status [purple]"), (r.Status, r.ErrorType, r.ErrorReason));
    }

    [Theory]
    // RestClusterHealthAction.fromRequest reads master_timeout and timeout (paramAsTime: TimeValue's parse_exception)
    // right after local, before wait_for_status: the status was refused first, and a bad timeout was an
    // illegal_argument_exception.
    [InlineData("timeout")]
    [InlineData("master_timeout")]
    public async Task ATimeoutThatIsNoTimeValue_IsTimeValuesParseException_BeforeTheStatus(string name)
    {
        var r = await fx.Client.GetAsync($"/_cluster/health?wait_for_status=purple&{name}=soon");
        Assert.Equal((400, "parse_exception", $"failed to parse setting [{name}] with value [soon] as a time value: unit is missing or unrecognized"), (r.Status, r.ErrorType, r.ErrorReason));
    }

    [Theory]
    // TimeValue.parseTimeValue's unit-less values: -1 (no timeout) and 0.
    [InlineData("timeout=-1")]
    [InlineData("master_timeout=-1")]
    [InlineData("master_timeout=0&timeout=0")]
    public async Task TimeoutsWithoutAUnit_MinusOneAndZero_AreTaken(string query)
    {
        var r = await fx.Client.GetAsync($"/_cluster/health?{query}");
        Assert.Equal((200, false), (r.Status, r.Json["timed_out"]!.GetValue<bool>()));
    }

    [Fact]
    public async Task TheWholeCluster_CountsEveryIndexAsOneActivePrimary()
    {
        var before = (await fx.Client.GetAsync("/_cluster/health")).Json["active_primary_shards"]!.GetValue<int>();
        Assert.Equal(200, (await fx.Client.PutAsync("/health-count")).Status);
        var after = await fx.Client.GetAsync("/_cluster/health");
        Assert.Equal((200, "green", before + 1), (after.Status, after.Json["status"]!.GetValue<string>(), after.Json["active_primary_shards"]!.GetValue<int>()));
        Assert.Equal(0, after.Json["unassigned_primary_shards"]!.GetValue<int>());
    }
}
