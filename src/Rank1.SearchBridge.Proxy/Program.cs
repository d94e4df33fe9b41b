using Rank1.SearchBridge;
using Rank1.SearchBridge.Http.Proxy;

var builder = WebApplication.CreateSlimBuilder(args);
builder.Services.AddRank1Proxy(builder.Configuration);
var app = builder.Build();
app.MapRank1Proxy();
return await HostExit.RunAsync(() => app.RunAsync(), Console.Error).ConfigureAwait(false);
