using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Rank1.SearchBridge;
using Rank1.SearchBridge.Configuration;
using Rank1.SearchBridge.Precompute;

if (args is [WorkerHealthProbe.Switch, .. var probeArgs])
{
    // The container HEALTHCHECK: ask the running worker (same configuration sources) and exit; no worker starts here.
    var configuration = WebApplication.CreateSlimBuilder(probeArgs).Configuration;
    return await WorkerHealthProbe.RunAsync(configuration, Console.Out, CancellationToken.None).ConfigureAwait(false);
}

// Building the host reads and checks the configuration too: its failures end the same way as the run's (HostExit).
return await HostExit.RunAsync(
    async () =>
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        ListenUrls.Validate(builder.Configuration[ListenUrls.Key]);
        // The worker's only HTTP: metrics and health, on the standard Urls setting (default WorkerApplication.DefaultUrls, loopback only).
        builder.WebHost.UseUrls(builder.Configuration["Urls"] is { Length: > 0 } urls ? urls : WorkerApplication.DefaultUrls);
        builder.Services.AddRank1Worker(builder.Configuration);
        var app = builder.Build();
        app.MapRank1Worker();
        await app.RunWorkerAsync().ConfigureAwait(false);
    },
    Console.Error).ConfigureAwait(false);
