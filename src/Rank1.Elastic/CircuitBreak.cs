using Polly.CircuitBreaker;

namespace Rank1.Elastic;

/// <summary>
/// When an open Polly circuit lets a call through again (half-opens): recorded by <see cref="OnOpened{TResult}"/>, the
/// breaker's <c>OnOpened</c> callback, on the breaker's own clock. The one home of "how long until the circuit
/// half-opens", the <c>Retry-After</c> of what an open circuit refuses: the backend circuit's
/// (<see cref="BackendClient"/>) and the model circuit's.
/// </summary>
/// <param name="time">The clock the breaker runs on (its pipeline's <c>TimeProvider</c>).</param>
internal sealed class CircuitBreak(TimeProvider time)
{
    // UTC ticks at which the last break ends (0: the circuit never opened). Written by the breaker as it opens, read by
    // any request that it refused.
    private long _endsAt;

    /// <summary>For <c>CircuitBreakerStrategyOptions.OnOpened</c>: the break ends its <c>BreakDuration</c> from now.</summary>
    /// <param name="args">The opening, with the length of its break.</param>
    public ValueTask OnOpened<TResult>(OnCircuitOpenedArguments<TResult> args)
    {
        Volatile.Write(ref _endsAt, (time.GetUtcNow() + args.BreakDuration).UtcTicks);
        return ValueTask.CompletedTask;
    }

    /// <summary>The time left until the circuit half-opens: zero once the break is over (or when it never opened).</summary>
    public TimeSpan Left => TimeSpan.FromTicks(Math.Max(0, Volatile.Read(ref _endsAt) - time.GetUtcNow().UtcTicks));
}
