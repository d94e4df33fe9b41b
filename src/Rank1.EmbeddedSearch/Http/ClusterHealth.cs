using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Rank1.EmbeddedSearch.Indexing;
using Rank1.EmbeddedSearch.Querying;
using Rank1.Elastic;

namespace Rank1.EmbeddedSearch.Http;

/// <summary>
/// <c>GET /_cluster/health[/{index}]</c> as Elasticsearch's <c>TransportClusterHealthAction</c> answers it on one node
/// whose every shard is active: green at once for the indices there; an index named that is not there is red and waited
/// for (a test set-up's "create, then wait for yellow") until <c>timeout</c> (30 s), then a 408 with <c>timed_out</c>.
/// </summary>
internal sealed class ClusterHealth(IndexCatalog catalog, EmbeddedSearchOptions options, TimeProvider time)
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(20);

    public async Task AnswerAsync(HttpContext context, string? indexExpression)
    {
        var query = context.Request.Query;
        // RestClusterHealthAction.fromRequest reads the indices options, local, the timeouts, then wait_for_status and the
        // wait_for_no_* flags, with paramAsBoolean (strictly), and refuses wait_for_relocating_shards in its own words.
        var param = EsHttp.Param(context);
        _ = catalog.ReadIndicesOptions(param);
        _ = RequestJson.ParamAsBoolean(param("local"));
        // Then master_timeout and timeout (paramAsTime), before wait_for_status. OpenSearch's reads cluster_manager_timeout
        // first, then the deprecated master_timeout (parseDeprecatedMasterTimeoutParameter), which must have the same value
        // where both are given (RestRequest.validateParamValuesAreEqual).
        if (options.Flavor == SearchFlavor.OpenSearch)
        {
            _ = TimeParam(param, "cluster_manager_timeout");
            if (param("master_timeout") is { Length: > 0 } master && param("cluster_manager_timeout") is { Length: > 0 } manager && master != manager)
            {
                throw new EsException(400, "parse_exception",
                    "The values of the request parameters: [master_timeout, cluster_manager_timeout] are required to be equal, otherwise please only assign value to one of the request parameters.");
            }
        }

        _ = TimeParam(param, "master_timeout");
        var timeout = TimeParam(param, "timeout") ?? DefaultTimeout;
        if (query.TryGetValue("wait_for_status", out var wanted) && wanted.ToString() is not ("green" or "yellow" or "red"))
        {
            // ClusterHealthStatus.fromString.
            throw EsException.IllegalArgument($"unknown cluster health status [{wanted}]");
        }

        _ = RequestJson.ParamAsBoolean(param("wait_for_no_relocating_shards"));
        _ = RequestJson.ParamAsBoolean(param("wait_for_no_initializing_shards"));
        if (query.ContainsKey("wait_for_relocating_shards"))
        {
            throw EsException.IllegalArgument("wait_for_relocating_shards has been removed, use wait_for_no_relocating_shards [true/false] instead");
        }

        var level = query.TryGetValue("level", out var l) ? l.ToString() : "cluster";
        if (level is not ("cluster" or "indices" or "shards"))
        {
            throw EsException.IllegalArgument($"level must be one of [cluster, indices, shards] but was [{level}]");
        }

        // Once the request is read, before any wait: BaseRestHandler refuses what RestClusterHealthAction did not read.
        SearchEndpoints.ThrowIfUnknownParameters(context, ParameterApi.ClusterHealth, options.Flavor);
        var deadline = time.GetTimestamp();
        while (true)
        {
            var missing = Missing(indexExpression);
            if (missing.Count == 0)
            {
                await EsHttp.WriteAsync(context, 200, Answer(indexExpression, level, timedOut: false)).ConfigureAwait(false);
                return;
            }

            if (time.GetElapsedTime(deadline) >= timeout)
            {
                // The wait for the indices to exist timed out: RED (an index that is not there is red), 408.
                await EsHttp.WriteAsync(context, 408, Answer(indexExpression, level, timedOut: true)).ConfigureAwait(false);
                return;
            }

            await Task.Delay(Poll, time, context.RequestAborted).ConfigureAwait(false);
        }
    }

    // RestRequest.paramAsTime: TimeValue.parseTimeValue takes -1 (no timeout: wait for ever) and 0 without a unit; anything
    // else that is no time value is its parse_exception naming the setting (it was an illegal_argument_exception here).
    internal static TimeSpan? TimeParam(Func<string, string?> param, string name) => param(name) switch
    {
        null => null,
        "-1" => TimeSpan.MaxValue,
        "0" => TimeSpan.Zero,
        var v => SearchContexts.ParseKeepAlive(v, name),
    };


    // IndicesOptions.strictExpand: a wildcard that matches nothing is no index; a name that is not there is missing
    // ("lib " is, beside an index "lib": RestClusterHealthAction splits with Strings.splitStringByCommaToArray, untrimmed),
    // and so is "-lib" with no wildcard before it (the resolver's rule: only then is it an exclusion).
    private List<string> Missing(string? expression)
    {
        var missing = new List<string>();
        catalog.Resolve(expression, ignoreUnavailable: true, expandHidden: true, missing: missing);
        return missing;
    }

    private JsonObject Answer(string? expression, string level, bool timedOut)
    {
        var indices = catalog.Resolve(expression, ignoreUnavailable: true, expandHidden: true);
        var shards = indices.Count;
        var answer = new JsonObject
        {
            ["cluster_name"] = options.ClusterName,
            ["status"] = timedOut ? "red" : "green",
            ["timed_out"] = timedOut,
            ["number_of_nodes"] = 1,
            ["number_of_data_nodes"] = 1,
        };
        if (options.Flavor == SearchFlavor.OpenSearch)
        {
            answer["discovered_master"] = true;
            answer["discovered_cluster_manager"] = true;
        }

        answer["active_primary_shards"] = shards;
        answer["active_shards"] = shards;
        answer["relocating_shards"] = 0;
        answer["initializing_shards"] = 0;
        answer["unassigned_shards"] = 0;
        if (options.Flavor == SearchFlavor.Elasticsearch)
        {
            answer["unassigned_primary_shards"] = 0;
        }

        answer["delayed_unassigned_shards"] = 0;
        answer["number_of_pending_tasks"] = 0;
        answer["number_of_in_flight_fetch"] = 0;
        answer["task_max_waiting_in_queue_millis"] = 0;
        answer["active_shards_percent_as_number"] = 100.0;
        if (level is "indices" or "shards")
        {
            var byIndex = new JsonObject();
            foreach (var index in indices)
            {
                var entry = new JsonObject
                {
                    ["status"] = "green",
                    ["number_of_shards"] = 1,
                    ["number_of_replicas"] = 0,
                    ["active_primary_shards"] = 1,
                    ["active_shards"] = 1,
                    ["relocating_shards"] = 0,
                    ["initializing_shards"] = 0,
                    ["unassigned_shards"] = 0,
                };
                if (options.Flavor == SearchFlavor.Elasticsearch)
                {
                    entry["unassigned_primary_shards"] = 0;
                }

                if (level == "shards")
                {
                    entry["shards"] = new JsonObject
                    {
                        ["0"] = new JsonObject
                        {
                            ["status"] = "green", ["primary_active"] = true, ["active_shards"] = 1, ["relocating_shards"] = 0,
                            ["initializing_shards"] = 0, ["unassigned_shards"] = 0,
                        },
                    };
                }

                byIndex[index.Name] = entry;
            }

            answer["indices"] = byIndex;
        }

        return answer;
    }
}
