using Rank1.SearchBridge;
using Rank1.SearchBridge.Configuration;
using Rank1.SearchBridge.Http.Proxy;

// Building the host reads and checks the configuration too: its failures end the same way as the run's (HostExit).
return await HostExit.RunAsync(
    async () =>
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        ListenUrls.Validate(builder.Configuration[ListenUrls.Key]);
        builder.Services.AddRank1Proxy(builder.Configuration);
        var app = builder.Build();
        app.MapRank1Proxy();
        await app.RunAsync().ConfigureAwait(false);
    },
    Console.Error).ConfigureAwait(false);
