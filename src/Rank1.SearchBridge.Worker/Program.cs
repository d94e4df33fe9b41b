using Microsoft.Extensions.Hosting;
using Rank1.SearchBridge;
using Rank1.SearchBridge.Precompute;

var builder = Host.CreateApplicationBuilder(args);
builder.Services.AddRank1Worker(builder.Configuration);
return await HostExit.RunAsync(() => builder.Build().RunAsync(), Console.Error).ConfigureAwait(false);
