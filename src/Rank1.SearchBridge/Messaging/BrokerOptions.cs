using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Rank1.SearchBridge.Messaging;

/// <summary>The RabbitMQ broker shared by the proxy, the workers and <c>rank1-bridge precompute</c> (configuration section <c>Rank1:Broker</c>).</summary>
public sealed class BrokerOptions : IValidatableObject
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Rank1:Broker";

    /// <summary>
    /// The broker, as <c>amqp://user:password@host:port/vhost</c> (<c>amqps://</c> for TLS; user and password are URL-encoded;
    /// no path is the <c>/</c> vhost). Null or empty: no broker (the proxy counts hot queries it could not send).
    /// </summary>
    /// <value>Default null.</value>
    public string? Url { get; set; }

    /// <summary>
    /// The workers' quorum queue of <c>rank1-bridge precompute</c> jobs. Its error queue is this name with <c>_error</c>
    /// appended. The proxy's hot-query jobs go to a queue of their own, <see cref="HotQueue"/>.
    /// </summary>
    /// <value>Default "rank1-precompute".</value>
    [Required(AllowEmptyStrings = false)]
    [RegularExpression("^[A-Za-z0-9][A-Za-z0-9._:-]*$", ErrorMessage = "{0} must be a queue name of letters, digits, '.', '_', ':' and '-'")]
    public string Queue { get; set; } = "rank1-precompute";

    /// <summary>How long a publish may wait for the broker's confirmation before it counts as failed.</summary>
    /// <value>Default 10 s.</value>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan PublishTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The name prefix RabbitMQ reserves for itself: declaring such a queue or exchange is refused with ACCESS_REFUSED.</summary>
    private const string ReservedPrefix = "amq.";

    /// <summary>The longest name derived from <see cref="Queue"/>: MassTransit's skipped-message queue of the hot-query queue.</summary>
    private const string LongestSuffix = "-hot_skipped";

    /// <summary>AMQP 0-9-1 names are short strings of at most 255 bytes; the queue's name is ASCII (its pattern), so characters.</summary>
    private static readonly int MaxQueueLength = 255 - LongestSuffix.Length;

    /// <summary>The workers' quorum queue of hot-query jobs: <see cref="Queue"/> with <c>-hot</c> appended (its error queue: <c>-hot_error</c>).</summary>
    public string HotQueue => Queue + "-hot";

    /// <summary>True when a broker is configured.</summary>
    public bool Configured => !string.IsNullOrWhiteSpace(Url);

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        // RabbitMQ refuses these names only when the queue is declared (ACCESS_REFUSED, or a name too long for the
        // protocol), which a worker retried for ever, unhealthy, and rank1-bridge precompute waited on without a word.
        if (Queue is { } queue && queue.StartsWith(ReservedPrefix, StringComparison.Ordinal))
        {
            yield return new ValidationResult($"{SectionName}:{nameof(Queue)} must not start with '{ReservedPrefix}': RabbitMQ reserves that prefix for its own queues and exchanges (ACCESS_REFUSED - queue name '{queue}' contains reserved prefix 'amq.*')");
        }

        if (Queue?.Length > MaxQueueLength)
        {
            yield return new ValidationResult($"{SectionName}:{nameof(Queue)} must be at most {MaxQueueLength} characters (got {Queue!.Length}): RabbitMQ names are at most 255 bytes, and the hot-query queue's skipped-message queue appends '{LongestSuffix}'");
        }

        if (Configured && BrokerAddress.TryParse(Url!, out _) is { } error)
        {
            yield return new ValidationResult($"{SectionName}:{nameof(Url)} {error}");
        }
    }
}

/// <summary>The generated validator of <see cref="BrokerOptions"/> (<c>Rank1:Broker</c>).</summary>
[OptionsValidator]
public sealed partial class BrokerOptionsValidator : IValidateOptions<BrokerOptions>;

/// <summary>A parsed broker URL.</summary>
/// <param name="Host">Host name.</param>
/// <param name="Port">Port (5672, or 5671 for amqps, when absent).</param>
/// <param name="VirtualHost">Virtual host ("/" when absent).</param>
/// <param name="User">User name (guest when absent).</param>
/// <param name="Password">Password (guest when absent).</param>
/// <param name="Tls">True for amqps.</param>
public sealed record BrokerAddress(string Host, int Port, string VirtualHost, string User, string Password, bool Tls)
{
    /// <summary>The address <paramref name="url"/> names, or null when it is none (<see cref="TryParse"/> says why).</summary>
    public static BrokerAddress? Parsed(string? url) => TryParse(url ?? string.Empty, out var address) is null ? address : null;

    /// <summary>Parses an <c>amqp://</c> or <c>amqps://</c> URL; returns an error message, or null and the address.</summary>
    public static string? TryParse(string url, out BrokerAddress? address)
    {
        address = null;
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("amqp" or "amqps") || string.IsNullOrEmpty(uri.Host))
        {
            return $"must be an amqp:// or amqps:// URL such as amqp://guest:guest@localhost:5672/ (got '{Redact(url)}')";
        }

        var tls = uri.Scheme == "amqps";
        var parts = uri.UserInfo.Split(':', 2);
        var user = parts[0].Length > 0 ? Uri.UnescapeDataString(parts[0]) : "guest";
        var password = parts.Length > 1 ? Uri.UnescapeDataString(parts[1]) : "guest";
        var path = uri.AbsolutePath.TrimStart('/');
        address = new BrokerAddress(uri.Host, uri.IsDefaultPort || uri.Port < 0 ? (tls ? 5671 : 5672) : uri.Port,
            path.Length == 0 ? "/" : Uri.UnescapeDataString(path), user, password, tls);
        return null;
    }

    /// <summary>The URL with its password hidden, for logs and errors.</summary>
    public static string Redact(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.UserInfo.Contains(':', StringComparison.Ordinal)
            ? url.Replace(uri.UserInfo, uri.UserInfo.Split(':')[0] + ":***", StringComparison.Ordinal)
            : url;

    /// <summary>The address without any credential, user name included: what the proxy's health shows to anyone.</summary>
    public string Endpoint => $"{(Tls ? "amqps" : "amqp")}://{Host}:{Port}/{(VirtualHost == "/" ? string.Empty : Uri.EscapeDataString(VirtualHost))}";

    /// <inheritdoc />
    public override string ToString() => $"{(Tls ? "amqps" : "amqp")}://{User}@{Host}:{Port}/{(VirtualHost == "/" ? string.Empty : Uri.EscapeDataString(VirtualHost))}";
}
