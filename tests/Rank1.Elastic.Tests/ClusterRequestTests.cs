namespace Rank1.Elastic.Tests;

public sealed class ClusterRequestTests
{
    [Fact]
    public void Headers_AreTheContentType_PlusAuthorizationWhenGiven()
    {
        Assert.Equal(["Content-Type: application/json"], Lines(ClusterRequest.Headers(null)));
        Assert.Equal(["Content-Type: application/x-ndjson", "Authorization: ApiKey c2VjcmV0"], Lines(ClusterRequest.Headers("ApiKey c2VjcmV0", ClusterRequest.Ndjson)));
    }

    private static string[] Lines(IEnumerable<KeyValuePair<string, string[]>> headers) =>
        headers.Select(h => $"{h.Key}: {string.Join(",", h.Value)}").ToArray();
}
