using System.Text.Json.Nodes;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Rank1.Elastic;
using Rank1.Inference;
using Rank1.SearchBridge.Messaging;
using Rank1.SearchBridge.Store;
using Rank1.SearchBridge.Telemetry;

namespace Rank1.SearchBridge;

/// <summary>Registrations the proxy and the worker share: the model, the backend client, the reasoning store, the broker.</summary>
public static class Rank1Services
{
    /// <summary>
    /// The model (<c>Rank1:Model</c>, loaded on first use; hosts resolve it at start so a bad folder stops the boot), the
    /// backend client (<c>Rank1:Backend</c>), the reasoning store (<c>Rank1:Store</c>; its writer a hosted service that writes what is queued when the host stops), and the start-up check of the rules' token limits
    /// against the model's caps. An <see cref="IPassageJudge"/> registered before this
    /// call is used instead of loading the model.
    /// </summary>
    public static IServiceCollection AddRank1ModelBackendAndStore(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<BackendOptions, Configuration.BackendOptionsValidator>(configuration, BackendOptions.SectionName);
        services.AddValidatedOptions<ReasoningStoreOptions, ReasoningStoreOptionsValidator>(configuration, ReasoningStoreOptions.SectionName);
        services.AddRank1Model(configuration);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<Configuration.ProxyOptions>>(new Configuration.RuleModelLimits(configuration)));
        services.TryAddSingleton(sp => new BackendClient(sp.GetRequiredService<IOptions<BackendOptions>>().Value, sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<Rank1Metrics>().BackendFailure, sp.GetRequiredService<ILogger<BackendClient>>(), sp.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()));
        services.TryAddSingleton<ReasoningStoreWriter>();
        services.AddHostedService(sp => sp.GetRequiredService<ReasoningStoreWriter>());
        services.TryAddSingleton<ReasoningStore>();
        services.TryAddSingleton<IJudgementStore>(sp => sp.GetRequiredService<ReasoningStore>());
        return services;
    }

    /// <summary>
    /// The model alone (<c>Rank1:Model</c>, loaded on first use), the clock and the metrics: what a host without a
    /// backend (<c>rank1-bridge serve</c> with no cluster) needs. <see cref="AddRank1ModelBackendAndStore"/> includes it.
    /// </summary>
    public static IServiceCollection AddRank1Model(this IServiceCollection services, IConfiguration configuration)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(_ => Store.ModelTokenLimits.From(configuration));
        services.TryAddSingleton<IPassageJudge>(sp =>
        {
            var modelSection = configuration.GetSection(Rank1EngineOptions.SectionName);
            Configuration.UnknownSettings.ThrowIfAny<Rank1EngineOptions>(configuration, Rank1EngineOptions.SectionName);
            var model = modelSection.Get<Rank1EngineOptions>(o => o.ErrorOnUnknownConfiguration = true) ?? new Rank1EngineOptions();
            var errors = new Configuration.ConfigurationKeyValidator<Rank1EngineOptions>(Rank1EngineOptions.SectionName, new Configuration.Rank1EngineOptionsValidator()).Failures(model);
            if (errors.Count > 0)
            {
                throw new OptionsValidationException(Rank1EngineOptions.SectionName, typeof(Rank1EngineOptions), errors);
            }

            var engine = Rank1Engine.Load(model, sp.GetRequiredService<ILoggerFactory>().CreateLogger("Rank1.Inference"), sp.GetRequiredService<TimeProvider>());
            // Every host that loads the model says which execution provider it got (the proxy, serve, the worker).
            var metrics = sp.GetRequiredService<Telemetry.Rank1Metrics>();
            metrics.SetExecutionProvider(engine.ProviderChoice);
            metrics.ObserveTokens(engine);
            return engine;
        });
        services.AddRank1Telemetry(configuration);
        // A key under Rank1: in no section that a Rank1 host reads (a misspelt section) stops the host at start-up.
        services.AddOptions<Configuration.UnknownSettings.Check>().Configure(_ => Configuration.UnknownSettings.ThrowIfOutsideSections(configuration)).ValidateOnStart();
        return services;
    }

    /// <summary>
    /// Binds <c>Rank1:Broker</c> and, when a broker URL is configured, registers the MassTransit bus on RabbitMQ with the
    /// shared topology. The bus connects in the background and reconnects by itself; a host starts even while the broker
    /// is down. Returns whether a broker is configured.
    /// </summary>
    public static bool AddRank1Broker(this IServiceCollection services, IConfiguration configuration, Action<IBusRegistrationConfigurator>? registrations = null,
        Action<IBusRegistrationContext, IRabbitMqBusFactoryConfigurator>? endpoints = null)
    {
        var section = configuration.GetSection(BrokerOptions.SectionName);
        services.AddValidatedOptions<BrokerOptions, BrokerOptionsValidator>(configuration, BrokerOptions.SectionName);
        var configured = section.Get<BrokerOptions>()?.Configured == true;
        if (!configured)
        {
            return false;
        }

        services.AddMassTransit(x =>
        {
            // MassTransit 8.4+ reports the bus's configuration, host and OS to usage-tracking.masstransit.io by default; a
            // search proxy and its workers make no call outside the cluster (MASSTRANSIT_USAGE_TELEMETRY=true turns it on).
            x.DisableUsageTelemetry();
            registrations?.Invoke(x);
            x.UsingRabbitMq((context, cfg) =>
            {
                Rank1Broker.Configure(cfg, context.GetRequiredService<IOptions<BrokerOptions>>().Value);
                endpoints?.Invoke(context, cfg);
            });
        });
        services.AddOptions<MassTransitHostOptions>().Configure(o => o.WaitUntilStarted = false);
        return true;
    }

    /// <summary>
    /// Binds <typeparamref name="TOptions"/> to <paramref name="sectionName"/> the way every Rank1 host does: unknown keys
    /// are errors naming the key (<see cref="Configuration.UnknownSettings"/>), the source-generated <typeparamref name="TValidator"/> checks data annotations, nested sections and
    /// <see cref="System.ComponentModel.DataAnnotations.IValidatableObject"/> rules, and both happen at start-up, so a bad
    /// setting stops the host naming its key (<see cref="Configuration.ConfigurationKeyValidator{TOptions}"/>). A key
    /// that moved to another section stops it naming the new key (<see cref="Configuration.MovedSettings"/>).
    /// </summary>
    public static OptionsBuilder<TOptions> AddValidatedOptions<TOptions, TValidator>(this IServiceCollection services, IConfiguration configuration, string sectionName)
        where TOptions : class
        where TValidator : class, IValidateOptions<TOptions>, new()
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TOptions>>(new Configuration.ConfigurationKeyValidator<TOptions>(sectionName, new TValidator())));
        return services.AddOptions<TOptions>().Configure(_ =>
        {
            Configuration.MovedSettings.ThrowIfUsed<TOptions>(configuration, sectionName);
            Configuration.UnknownSettings.ThrowIfAny<TOptions>(configuration, sectionName);
        }).Bind(configuration.GetSection(sectionName), o => o.ErrorOnUnknownConfiguration = true).ValidateOnStart();
    }

    /// <summary>The broker's part of a health answer: null when none is configured.</summary>
    /// <param name="services">The host's services.</param>
    /// <param name="options">The broker's settings.</param>
    /// <param name="refused">RabbitMQ's refusal of the proxy's latest publish, with what to do; null when none stands.</param>
    internal static JsonObject? BrokerHealth(IServiceProvider services, BrokerOptions options, string? refused)
    {
        if (!options.Configured)
        {
            return null;
        }

        var bus = services.GetService<IBusControl>();
        var health = bus?.CheckHealth();
        var (status, description) = (health?.Status.ToString().ToLowerInvariant() ?? "unknown", health?.Description);
        if (health?.Status == BusHealthStatus.Healthy && !BrokerConnected(bus!))
        {
            // A bus that only publishes (the proxy's) has no endpoint of its own whose health falls with the connection:
            // MassTransit says Healthy/Ready all through an outage. The host's connection supervisor knows.
            (status, description) = ("unhealthy", "Not connected: the connection to the broker is down; MassTransit reconnects by itself, and hot queries are not published until it does");
        }
        else if (health?.Status == BusHealthStatus.Healthy && refused is not null)
        {
            // Connected, and every publish refused: MassTransit's health does not see a publish's declaration.
            (status, description) = ("unhealthy", "Refused: " + refused);
        }

        return new JsonObject
        {
            ["url"] = BrokerAddress.Parsed(options.Url)?.Endpoint,
            ["status"] = status,
            ["description"] = WithoutBrokerCredentials(description, options),
        };
    }

    /// <summary>
    /// Whether the bus holds a connection to the broker: the <c>hasContext</c> of its host's connection supervisor in
    /// MassTransit's probe (<c>bus.host.source</c>), which turns false when the connection closes and true again once
    /// it is made anew. A probe without that entry (another transport, another MassTransit) counts as connected, so
    /// the health is then MassTransit's own.
    /// </summary>
    internal static bool BrokerConnected(IBus bus)
    {
        static object? At(object? node, string key) => node is IDictionary<string, object> d && d.TryGetValue(key, out var v) ? v : null;
        return At(At(At(bus.GetProbeResult().Results, "bus"), "host"), "source") is not IDictionary<string, object> source
            || At(source, "hasContext") is not bool connected || connected;
    }

    /// <summary>
    /// <paramref name="text"/> (a health description, an error) without the broker's user name and password: a
    /// <c>user:password@</c> or <c>user@</c> in front of the host goes, any other copy of the password is <c>***</c>.
    /// </summary>
    internal static string? WithoutBrokerCredentials(string? text, BrokerOptions options)
    {
        if (text is null || !options.Configured || BrokerAddress.TryParse(options.Url!, out var a) is not null)
        {
            return text;
        }

        foreach (var user in new[] { a!.User, Uri.EscapeDataString(a.User) }.Distinct())
        {
            text = text.Replace($"{user}:{a.Password}@", string.Empty, StringComparison.Ordinal).Replace($"{user}@", string.Empty, StringComparison.Ordinal);
        }

        return a.Password.Length == 0 ? text : text.Replace(a.Password, "***", StringComparison.Ordinal);
    }
}
