using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;

namespace Rank1.SearchBridge.Telemetry;

/// <summary>
/// Exports <see cref="Rank1Metrics"/> with OpenTelemetry: a Prometheus scrape endpoint (<see cref="MetricsPath"/>) on every
/// host that serves HTTP, and OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set (environment or configuration; the
/// exporter reads the other standard <c>OTEL_*</c> settings itself). Next to the product's meter go the ones ASP.NET
/// Core, Kestrel and the backend's HttpClient handler publish.
/// </summary>
public static class Rank1Telemetry
{
    /// <summary>Where the hosts serve the Prometheus text.</summary>
    public const string MetricsPath = "/_rank1/metrics";

    /// <summary>The setting that turns OTLP export on: OpenTelemetry's own variable.</summary>
    public const string OtlpEndpointKey = "OTEL_EXPORTER_OTLP_ENDPOINT";

    private static readonly string[] FrameworkMeters = ["Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "System.Net.Http"];

    /// <summary>Registers <see cref="Rank1Metrics"/> and the OpenTelemetry meter provider (once, however often called).</summary>
    public static IServiceCollection AddRank1Telemetry(this IServiceCollection services, IConfiguration configuration)
    {
        if (services.Any(d => d.ServiceType == typeof(Rank1Metrics)))
        {
            return services;
        }

        services.AddSingleton<Rank1Metrics>();
        // The exporter takes a value it cannot parse as no setting (it logs, then pushes nowhere): stop the host instead.
        services.AddOptions<OtlpExport>().Configure(o => o.Endpoint = configuration[OtlpEndpointKey])
            .Validate(o => string.IsNullOrWhiteSpace(o.Endpoint) || (Uri.TryCreate(o.Endpoint, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps) && !string.IsNullOrEmpty(uri.Host)),
                $"{OtlpEndpointKey} must be an absolute http or https URL (http://collector:4318)")
            .ValidateOnStart();
        services.AddOpenTelemetry().WithMetrics(metrics =>
        {
            metrics.AddMeter([Rank1Metrics.MeterName, .. FrameworkMeters])
                // Every scrape reads the counters afresh (the exporter would otherwise answer from a 300 ms cache).
                .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0);
            if (!string.IsNullOrWhiteSpace(configuration[OtlpEndpointKey]))
            {
                metrics.AddOtlpExporter();
            }
        });

        // Meters are process-wide: a process running several hosts (tests, the CLI's demo) counts in each only the meters
        // made by that host's own factory. ASP.NET Core's and Kestrel's meters come from it, the product's too, and the
        // backend handler's HttpClient meter (its MeterFactory); a meter made outside any factory (another HttpClient's,
        // System.Net.Http's process-wide one) belongs to no host and is dropped.
        services.ConfigureOpenTelemetryMeterProvider((provider, metrics) =>
        {
            var own = provider.GetRequiredService<IMeterFactory>();
            metrics.AddView(i => ReferenceEquals(i.Meter.Scope, own) ? null : MetricStreamConfiguration.Drop);
        });
        return services;
    }

    /// <summary>Maps the Prometheus scrape endpoint at <see cref="MetricsPath"/>.</summary>
    public static IEndpointRouteBuilder MapRank1Metrics(this IEndpointRouteBuilder app)
    {
        // GET (and HEAD) only, as the health routes: the exporter's endpoint answered any method.
        app.MapPrometheusScrapingEndpoint(MetricsPath).WithMetadata(new HttpMethodMetadata(["GET", "HEAD"]));
        return app;
    }
}

/// <summary>The OTLP endpoint as configured (<see cref="Rank1Telemetry.OtlpEndpointKey"/>), checked at start-up.</summary>
internal sealed class OtlpExport
{
    /// <summary>The endpoint; null when OTLP export is off.</summary>
    public string? Endpoint { get; set; }
}
