using System.Text.Json;
using MassTransit;
using MassTransit.Serialization;
using Rank1.SearchBridge.Messages;

namespace Rank1.SearchBridge.Tests;

public sealed class MessageContractTests
{
    [Fact]
    public void PrecomputeReasoning_KeepsTheMessageUrnThatRunningWorkersConsume()
    {
        // The URN comes from the namespace: moving the type to another namespace would strand queued messages.
        Assert.Equal("urn:message:Rank1.SearchBridge.Messages:PrecomputeReasoning", MessageUrn.ForTypeString<PrecomputeReasoning>());
    }

    [Fact]
    public void PrecomputeReasoning_FromBeforeTheTokenLimits_ReadsAsNoLimits_AndNewOnesKeepThem()
    {
        // A job queued by a proxy or CLI of the previous release (no max_query_tokens / max_passage_tokens), read as MassTransit reads it.
        const string older = """{"targetIndex":"docs","query":"onion","instructions":null,"window":5,"fields":["text"],"titleField":"title","maxThinkTokens":4,"reason":"hot-query"}""";
        var read = JsonSerializer.Deserialize<PrecomputeReasoning>(older, SystemTextJsonMessageSerializer.Options)!;
        Assert.Equal(("docs", "onion", 4, (int?)null, (int?)null), (read.TargetIndex, read.Query, read.MaxThinkTokens, read.MaxQueryTokens, read.MaxPassageTokens));

        var job = read with { MaxQueryTokens = 64, MaxPassageTokens = 512 };
        var back = JsonSerializer.Deserialize<PrecomputeReasoning>(JsonSerializer.Serialize(job, SystemTextJsonMessageSerializer.Options), SystemTextJsonMessageSerializer.Options)!;
        Assert.Equal(((int?)64, (int?)512), (back.MaxQueryTokens, back.MaxPassageTokens));
    }
}
