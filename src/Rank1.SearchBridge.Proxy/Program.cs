using Rank1.SearchBridge.Proxy;

var builder = WebApplication.CreateSlimBuilder(args);
builder.Services.AddRank1Proxy(builder.Configuration);
var app = builder.Build();
app.MapRank1Proxy();
app.Run();
