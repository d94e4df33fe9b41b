using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace Rank1.SearchBridge.IntegrationTests;

/// <summary>A stand-in server on a free loopback port that answers every request with one handler.</summary>
internal static class LoopbackApp
{
    public static async Task<(WebApplication App, Uri Url)> StartAsync(Func<HttpContext, Task> handler)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        app.Run(context => handler(context));
        await app.StartAsync();
        return (app, new Uri(app.Urls.First().TrimEnd('/') + "/"));
    }
}
