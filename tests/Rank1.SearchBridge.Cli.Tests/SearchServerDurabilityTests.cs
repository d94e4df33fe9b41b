using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Rank1.Testing;

namespace Rank1.SearchBridge.Cli.Tests;

/// <summary>Durability of <c>search-server --data</c>.</summary>
public sealed partial class SearchServerCommandTests
{
    /// <summary>
    /// "Nothing is lost": every write the embedded backend acknowledged survives a SIGKILL right after the
    /// acknowledgement, as Elasticsearch's request-durability translog guarantees.
    /// </summary>
    [Trait(TestCategory.Name, TestCategory.Process)]
    [Fact]
    public async Task SearchServer_SigkillRightAfterAcknowledgedWrites_RestartOnSameDataKeepsEveryOne()
    {
        var data = new DirectoryInfo(TestTemp.Folder("rank1-durability-"));
        try
        {
            var expected = new SortedSet<string>(StringComparer.Ordinal);
            var (process, url) = await StartAsync(data.FullName);
            try
            {
                using var http = new HttpClient { BaseAddress = url };
                var bulk = new StringBuilder();
                for (var i = 0; i < 40; i++)
                {
                    bulk.Append("{\"index\":{\"_index\":\"notes\",\"_id\":\"b").Append(i).Append("\"}}\n{\"text\":\"bulk note ").Append(i).Append("\"}\n");
                    expected.Add("b" + i);
                }

                await AssertAcknowledgedAsync(await http.PostAsync("_bulk", new StringContent(bulk.ToString(), Encoding.UTF8, "application/x-ndjson")), HttpStatusCode.OK);
                await AssertAcknowledgedAsync(await http.PostAsync("_bulk", new StringContent("{\"delete\":{\"_index\":\"notes\",\"_id\":\"b0\"}}\n", Encoding.UTF8, "application/x-ndjson")), HttpStatusCode.OK);
                expected.Remove("b0");
                for (var i = 0; i < 5; i++)
                {
                    await AssertAcknowledgedAsync(await http.PutAsync($"notes/_doc/p{i}", Json($"{{\"text\":\"single note {i}\"}}")), HttpStatusCode.Created);
                    expected.Add("p" + i);
                }

                await AssertAcknowledgedAsync(await http.PostAsync("notes/_update/p0", Json("{\"doc\":{\"tag\":\"updated\"}}")), HttpStatusCode.OK);
                await AssertAcknowledgedAsync(await http.DeleteAsync("notes/_doc/p1"), HttpStatusCode.OK);
                expected.Remove("p1");

                await TestProcess.SignalAsync(process, "KILL");
                await TestProcess.WaitForExitAsync(process);
            }
            finally
            {
                await TestProcess.StopAsync(process);
            }

            (process, url) = await StartAsync(data.FullName);
            try
            {
                using var http = new HttpClient { BaseAddress = url };
                var count = JsonNode.Parse(await http.GetStringAsync("notes/_count"))!;
                Assert.Equal(expected.Count, count["count"]!.GetValue<int>());
                var hits = JsonNode.Parse(await http.GetStringAsync("notes/_search?size=100"))!["hits"]!["hits"]!.AsArray();
                Assert.Equal(expected, new SortedSet<string>(hits.Select(h => h!["_id"]!.GetValue<string>()), StringComparer.Ordinal));
                var updated = JsonNode.Parse(await http.GetStringAsync("notes/_doc/p0"))!;
                Assert.Equal("updated", updated["_source"]!["tag"]!.GetValue<string>());
            }
            finally
            {
                await TestProcess.StopAsync(process);
            }
        }
        finally
        {
            data.Delete(recursive: true);
        }
    }

    private static Task<(System.Diagnostics.Process Process, Uri Url)> StartAsync(string data) =>
        TestProcess.StartServerAsync(TestProcess.StartInfo("dotnet", [CliRunner.Dll, "search-server", "--port", "0", "--data", data]), Listening());

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static async Task AssertAcknowledgedAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == status, $"{(int)response.StatusCode}: {body}");
            Assert.DoesNotContain("\"errors\":true", body, StringComparison.Ordinal);
        }
    }
}
