using Microsoft.Extensions.Hosting;
using Rank1.SearchBridge.Precompute;

var builder = Host.CreateApplicationBuilder(args);
builder.Services.AddRank1Worker(builder.Configuration);
await builder.Build().RunAsync().ConfigureAwait(false);
