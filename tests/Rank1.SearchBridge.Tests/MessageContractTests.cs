using MassTransit;
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
}
