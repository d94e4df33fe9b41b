using Rank1.SearchBridge.Configuration;

namespace Rank1.SearchBridge.Tests;

/// <summary>
/// <see cref="ListenUrls"/>: every address form Kestrel listens on as written is let through (the images' and the CLI's
/// own among them), so the check refuses only what Kestrel would crash on or bind as every interface unasked.
/// </summary>
public sealed class ListenUrlsTests
{
    [Theory]
    [InlineData("http://0.0.0.0:8080")] // the images' Urls (compose/Dockerfile)
    [InlineData("http://0.0.0.0:9464")]
    [InlineData("http://127.0.0.1:0")]
    [InlineData("http://[::]:8080")]
    [InlineData("http://[::1]:0")]
    [InlineData("http://*:80")]
    [InlineData("http://+:80")]
    [InlineData("http://localhost:5000")]
    [InlineData("HTTP://LOCALHOST:5000")]
    [InlineData("http://unix:/tmp/rank1.sock")]
    [InlineData("http://127.0.0.1:8080; http://[::1]:8080")]
    [InlineData("")]
    [InlineData(null)]
    public void AnAddressKestrelListensOnAsWritten_IsLetThrough(string? urls) => Assert.Null(ListenUrls.Problem(urls));
}
