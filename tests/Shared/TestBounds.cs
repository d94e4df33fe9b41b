namespace Rank1.Testing;

/// <summary>
/// The one home of how long a test waits, on the wall clock, for what it does not control (a process to start, listen
/// or exit; a broker; an HTTP round trip on loopback) before it calls the run hung. A bound only: it turns a hang into a
/// failure and is never what a test asserts, so a passing run never comes near it.
/// </summary>
internal static class TestBounds
{
    /// <summary>
    /// Two minutes, as <see cref="TestProcess.RunAsync"/> always allowed. CI runs the whole suite (about 2,800 tests) on a
    /// 2-core host, where a <c>dotnet</c> start, a broker's answer and a loopback round trip share the cores with the rest
    /// of the run: a shorter bound (30 s, a minute) is one that a slow run, not a broken one, can run past.
    /// </summary>
    public static readonly TimeSpan Hang = TimeSpan.FromMinutes(2);

    /// <summary>
    /// A client for loopback HTTP whose round trips are bounded by <see cref="Hang"/>, not by <see cref="HttpClient"/>'s
    /// own 100 s default, which a slow run, not a broken one, can pass.
    /// </summary>
    public static HttpClient Client(Uri baseAddress) => new() { BaseAddress = baseAddress, Timeout = Hang };
}
