using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Rank1.Elastic;
using Rank1.SearchBridge.Configuration;
using Rank1.SearchBridge.Messaging;
using Rank1.SearchBridge.Http.Service;
using Rank1.SearchBridge.Store;

namespace Rank1.SearchBridge.Tests;

/// <summary>The source-generated validators, with every failure naming the configuration key to fix.</summary>
public sealed class OptionsValidationTests
{
    private static IReadOnlyList<string> Failures(ProxyOptions options) =>
        new ConfigurationKeyValidator<ProxyOptions>(ProxyOptions.SectionName, new ProxyOptionsValidator()).Failures(options);

    /// <summary>What the hosts' registration of <c>Rank1:Proxy</c> stops with at start-up, given <paramref name="settings"/>.</summary>
    private static IEnumerable<string> StartUpFailures(Dictionary<string, string?> settings) =>
        StartUpFailures<ProxyOptions, ProxyOptionsValidator>(settings, ProxyOptions.SectionName);

    /// <summary>What the hosts' registration of <paramref name="section"/> stops with at start-up, given <paramref name="settings"/>.</summary>
    private static IEnumerable<string> StartUpFailures<TOptions, TValidator>(Dictionary<string, string?> settings, string section)
        where TOptions : class
        where TValidator : class, IValidateOptions<TOptions>, new()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddValidatedOptions<TOptions, TValidator>(configuration, section);
        using var provider = services.BuildServiceProvider();
        return Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<TOptions>>().Value).Failures;
    }

    [Fact]
    public void TopLevelSetting_NamesItsKey()
    {
        Assert.Equal(["The field Rank1:Proxy:MaxConcurrentReranks must be between 1 and 1024."], Failures(new ProxyOptions { MaxConcurrentReranks = 0 }));
    }

    [Fact]
    public void MaxInFlightBytes_OfZero_IsRefusedAtStartUp_AndUnsetIsAnEighthOfTheAvailableMemory()
    {
        Assert.Equal(["The field Rank1:Proxy:MaxInFlightBytes must be between 1 and 9223372036854775807."], Failures(new ProxyOptions { MaxInFlightBytes = 0 }));
        Assert.Empty(Failures(new ProxyOptions { MaxInFlightBytes = 1 }));
        Assert.Equal(1234, new ProxyOptions { MaxInFlightBytes = 1234 }.InFlightLimit);
        Assert.Equal((long)(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes * 0.125), new ProxyOptions().InFlightLimit);
    }

    [Fact]
    public void ModelFailuresBeforeBreak_OfOne_IsRefusedAtStartUp_NotByPollyAtTheFirstRerank()
    {
        // Polly's circuit breaker takes a minimum throughput of 2 or more: 1 passed validation and then failed where the
        // model circuit is built.
        Assert.Equal(["The field Rank1:Proxy:ModelFailuresBeforeBreak must be between 2 and 1000."], Failures(new ProxyOptions { ModelFailuresBeforeBreak = 1 }));
        Assert.Empty(Failures(new ProxyOptions { ModelFailuresBeforeBreak = 2 }));
    }

    [Fact]
    public void RuleInTheList_NamesItsIndexedKey()
    {
        var options = new ProxyOptions();
        options.Indices.Add(new RerankRule { Pattern = "docs" });
        options.Indices.Add(new RerankRule { Pattern = "logs", Window = 0, PromptTemplate = "no place" });
        Assert.Equal(
            ["The field Rank1:Proxy:Indices:1:Window must be between 1 and 1000.", "Rank1:Proxy:Indices:1:PromptTemplate must contain FILL_QUERY_HERE, where the query goes"],
            Failures(options));
    }

    [Fact]
    public void NestedSections_AreValidated()
    {
        var options = new ProxyOptions { Caps = new RerankCaps { Window = 5000 }, Default = new RerankRule { Pattern = "" } };
        Assert.Equal(
            ["The field Rank1:Proxy:Caps:Window must be between 1 and 1000.", "The Rank1:Proxy:Default:Pattern field is required."],
            Failures(options));
    }

    [Fact]
    public void CrossFieldRule_RunsAfterTheAttributes_AndNamesBothKeys()
    {
        var options = new ProxyOptions { Caps = new RerankCaps { Window = 20 } };
        options.Indices.Add(new RerankRule { Pattern = "docs", Window = 50 });
        Assert.Equal(["Rank1:Proxy:Indices:0:Window (50) is above the operator's cap Rank1:Proxy:Caps:Window (20): lower the rule or raise the cap."], Failures(options));
    }

    [Fact]
    public void ValidOptions_HaveNoFailures()
    {
        var options = new ProxyOptions();
        options.Indices.Add(new RerankRule { Pattern = "docs", PromptTemplate = "Query: FILL_QUERY_HERE" });
        Assert.Empty(Failures(options));
    }

    [Fact]
    public void OptionsOfOtherAssemblies_AndSelfValidation_NameTheirKeys()
    {
        var backend = new ConfigurationKeyValidator<BackendOptions>(BackendOptions.SectionName, new BackendOptionsValidator());
        Assert.Equal(["The field Rank1:Backend:MaxConnections must be between 1 and 65536.", "Rank1:Backend:Url must be an absolute http or https URL (got 'ftp://x')."],
            backend.Failures(new BackendOptions { Url = "ftp://x", MaxConnections = 0 }));

        var model = new ConfigurationKeyValidator<Inference.Rank1EngineOptions>(Inference.Rank1EngineOptions.SectionName, new Rank1EngineOptionsValidator());
        Assert.Equal(["The Rank1:Model:Path field is required."], model.Failures(new Inference.Rank1EngineOptions { Path = "" }));

        var store = new ConfigurationKeyValidator<ReasoningStoreOptions>(ReasoningStoreOptions.SectionName, new ReasoningStoreOptionsValidator());
        Assert.Equal(["Rank1:Store:Index must be a lowercase index name"], store.Failures(new ReasoningStoreOptions { Index = "Bad Name" }));
    }

    [Fact]
    public void AtStartup_TheHostsRegistrationStopsNamingTheKey()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Rank1:Broker:Url"] = "amqp://localhost/",
            ["Rank1:Broker:Queue"] = "bad queue",
        }).Build();
        var services = new ServiceCollection();
        services.AddRank1Broker(configuration);
        using var provider = services.BuildServiceProvider();
        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<BrokerOptions>>().Value);
        Assert.Equal(["Rank1:Broker:Queue must be a queue name of letters, digits, '.', '_', ':' and '-'"], ex.Failures);
    }

    [Theory]
    [InlineData("amq.precompute", "Rank1:Broker:Queue must not start with 'amq.': RabbitMQ reserves that prefix for its own queues and exchanges (ACCESS_REFUSED - queue name 'amq.precompute' contains reserved prefix 'amq.*')")]
    [InlineData(244, "Rank1:Broker:Queue must be at most 243 characters (got 244): RabbitMQ names are at most 255 bytes, and the hot-query queue's skipped-message queue appends '-hot_skipped'")]
    public void QueueNames_RabbitMqRefusesOnDeclare_StopTheHostAtStartUp(object queue, string expected)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Rank1:Broker:Url"] = "amqp://localhost/",
            ["Rank1:Broker:Queue"] = queue as string ?? new string('q', (int)queue),
        }).Build();
        var services = new ServiceCollection();
        services.AddRank1Broker(configuration);
        using var provider = services.BuildServiceProvider();
        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<BrokerOptions>>().Value);
        Assert.Equal([expected], ex.Failures);
    }

    [Theory]
    [InlineData("Rank1:Proxy:Default:EffectiveFields:0")]
    [InlineData("Rank1:Proxy:Indices:0:EffectiveFields:0")]
    public void ReadOnlyView_OfARule_IsNotASetting(string key)
    {
        // EffectiveFields is what the rule makes of Fields, read-only: the binder drops a value given for it, so the
        // key must be refused as a typo is, not left to change nothing.
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Rank1:Proxy:Indices:0:Pattern"] = "a*",
            [key] = "body",
        }).Build();
        var bound = configuration.GetSection(ProxyOptions.SectionName).Get<ProxyOptions>()!;
        Assert.Equal(["text"], key.Contains("Default", StringComparison.Ordinal) ? bound.Default.EffectiveFields : bound.Indices[0].EffectiveFields);

        var ex = Assert.Throws<OptionsValidationException>(() => UnknownSettings.ThrowIfAny<ProxyOptions>(configuration, ProxyOptions.SectionName));
        Assert.Equal([$"{key} ({key.Replace(":", "__", StringComparison.Ordinal)}) is not a setting"], ex.Failures);
    }

    [Fact]
    public void CollectionsTheBinderFillsInPlace_AreSettings()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Rank1:Proxy:Indices:0:Pattern"] = "a*",
            ["Rank1:Proxy:Indices:0:Fields:0"] = "body",
            ["Rank1:Proxy:Caps:Window"] = "5",
            ["Rank1:Service:ApiKeys:0"] = "key",
        }).Build();
        UnknownSettings.ThrowIfAny<ProxyOptions>(configuration, ProxyOptions.SectionName);
        UnknownSettings.ThrowIfAny<RerankServiceOptions>(configuration, RerankServiceOptions.SectionName);
        Assert.Equal(["body"], configuration.GetSection(ProxyOptions.SectionName).Get<ProxyOptions>()!.Indices[0].EffectiveFields);
        Assert.Equal(["key"], configuration.GetSection(RerankServiceOptions.SectionName).Get<RerankServiceOptions>()!.ApiKeys);
    }

    [Fact]
    public void LongestQueueName_TheBrokerTakes_IsValid()
    {
        var broker = new ConfigurationKeyValidator<BrokerOptions>(BrokerOptions.SectionName, new BrokerOptionsValidator());
        Assert.Empty(broker.Failures(new BrokerOptions { Url = "amqp://localhost/", Queue = new string('q', 243) }));
    }

    [Fact]
    public void BrokerRegistration_TurnsOffMassTransitsUsageTelemetry()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Rank1:Broker:Url"] = "amqp://localhost/" }).Build();
        var services = new ServiceCollection();
        services.AddRank1Broker(configuration);
        using var provider = services.BuildServiceProvider();
        Assert.False(provider.GetRequiredService<IOptions<MassTransit.UsageTelemetryOptions>>().Value.Enabled);
    }

    [Theory]
    [InlineData("Rank1:Proxy:Default:DeadlineMs", "10000", "Rank1:Proxy:Default:Deadline (Rank1__Proxy__Default__Deadline) instead (10000 ms is 00:00:10)")]
    [InlineData("Rank1:Proxy:Indices:1:DeadlineMs", "2500", "Rank1:Proxy:Indices:1:Deadline (Rank1__Proxy__Indices__1__Deadline) instead (2500 ms is 00:00:02.5000000)")]
    [InlineData("Rank1:Proxy:Caps:DeadlineMs", "later", "Rank1:Proxy:Caps:Deadline (Rank1__Proxy__Caps__Deadline) instead")]
    public void OldDeadlineKeys_StopTheHostNamingTheTimeSpanKey(string key, string value, string replacement)
    {
        var failures = StartUpFailures(new Dictionary<string, string?>
        {
            ["Rank1:Proxy:Indices:0:Pattern"] = "docs",
            ["Rank1:Proxy:Indices:1:Pattern"] = "logs",
            [key] = value,
        });
        Assert.Equal($"{key} ({key.Replace(":", "__", StringComparison.Ordinal)}) is no longer read: a deadline is a time span like the other durations; set {replacement}", Assert.Single(failures));
    }

    [Theory]
    [InlineData("Rank1:Proxy:Default:Instructions", "\u0001", "\\u0001")]
    [InlineData("Rank1:Proxy:Default:Instructions", "", "")] // Rank1__Proxy__Default__Instructions= binds ""
    [InlineData("Rank1:Proxy:Indices:1:TitleField", "", "")]
    [InlineData("Rank1:Proxy:Default:TitleField", " \u200B ", " \\u200B ")]
    [InlineData("Rank1:Proxy:Default:Fields:0", "\t", "\\t")]
    [InlineData("Rank1:Proxy:Indices:1:Instructions", "\uFEFF", "\\uFEFF")]
    [InlineData("Rank1:Proxy:Indices:1:TitleField", "\u00AD", "\\u00AD")]
    [InlineData("Rank1:Proxy:Indices:1:Fields:1", "\u2060\u0000", "\\u2060\\u0000")]
    // A pattern of only invisible characters passed its required-field check (which catches white space only) and then
    // matched no index: the rule was silently never used.
    [InlineData("Rank1:Proxy:Indices:0:Pattern", "\u200B", "\\u200B")]
    [InlineData("Rank1:Proxy:Indices:1:Pattern", "\u0001\u2060", "\\u0001\\u2060")]
    [InlineData("Rank1:Proxy:Default:Pattern", "\uFEFF", "\\uFEFF")]
    public void BlankRuleText_StopsTheHostAtStartUp_NamingTheKey(string key, string value, string shown)
    {
        // As a request's ext.rank1 refuses the same texts: "\u0001" instructions were appended to every query (and keyed
        // its stored reasoning), a "\u200B" title field or passage field named no field.
        var failures = StartUpFailures(new Dictionary<string, string?>
        {
            ["Rank1:Proxy:Indices:0:Pattern"] = "docs",
            ["Rank1:Proxy:Indices:1:Pattern"] = "logs",
            ["Rank1:Proxy:Indices:1:Fields:0"] = "body",
            ["Rank1:Proxy:Default:Fields:1"] = "body",
            [key] = value,
        });
        Assert.Equal([$"{key} must be a non-empty string: only white space, control or invisible characters (got \"{shown}\"); remove the setting or give it text."], failures);
    }

    // A pattern of white space is refused once, by its required-field check (not twice).
    [Fact]
    public void WhiteSpaceRulePattern_IsRefusedOnce_AsRequired() =>
        Assert.Equal(["The Rank1:Proxy:Indices:0:Pattern field is required."], StartUpFailures(new Dictionary<string, string?> { ["Rank1:Proxy:Indices:0:Pattern"] = " " }));

    // The rerank service's instructions are appended to every query a request leaves without its own (and key its
    // stored reasoning): held to the proxy rules' test, with the same words. "\u0001" was accepted.
    [Theory]
    [InlineData("\u0001", "\\u0001")]
    [InlineData(" \u200B ", " \\u200B ")]
    [InlineData("", "")]
    public void BlankServiceInstructions_StopTheHostAtStartUp_NamingTheKey(string value, string shown) =>
        Assert.Equal([$"Rank1:Service:Instructions must be a non-empty string: only white space, control or invisible characters (got \"{shown}\"); remove the setting or give it text."],
            StartUpFailures<RerankServiceOptions, RerankServiceOptionsValidator>(new Dictionary<string, string?> { ["Rank1:Service:Instructions"] = value }, RerankServiceOptions.SectionName));

    [Fact]
    public void RuleTexts_WithText_AreValid()
    {
        var rule = new RerankRule { Pattern = "docs", Instructions = " \u200BPrefer recent documents ", TitleField = "title", Fields = ["body", "summary"] };
        var options = new ProxyOptions { Default = new RerankRule { Instructions = "x" } };
        options.Indices.Add(rule);
        Assert.Empty(Failures(options));
    }

    [Fact]
    public void OldServiceDeadlineKey_StopsTheHost_AndTheNewOneIsATimeSpan()
    {
        var old = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Rank1:Service:DeadlineMs"] = "30000" }).Build();
        var services = new ServiceCollection();
        services.AddValidatedOptions<RerankServiceOptions, RerankServiceOptionsValidator>(old, RerankServiceOptions.SectionName);
        using (var provider = services.BuildServiceProvider())
        {
            var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<RerankServiceOptions>>().Value);
            Assert.Equal("Rank1:Service:DeadlineMs (Rank1__Service__DeadlineMs) is no longer read: a deadline is a time span like the other durations; "
                + "set Rank1:Service:Deadline (Rank1__Service__Deadline) instead (30000 ms is 00:00:30)", Assert.Single(ex.Failures));
        }

        var current = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Rank1:Service:Deadline"] = "00:00:01.500" }).Build();
        services = new ServiceCollection();
        services.AddValidatedOptions<RerankServiceOptions, RerankServiceOptionsValidator>(current, RerankServiceOptions.SectionName);
        using var bound = services.BuildServiceProvider();
        Assert.Equal(TimeSpan.FromMilliseconds(1500), bound.GetRequiredService<IOptions<RerankServiceOptions>>().Value.Deadline);
    }

    [Fact]
    public void RuleDeadlineAboveTheCap_NamesBothTimeSpans()
    {
        var options = new ProxyOptions { Caps = new RerankCaps { Deadline = TimeSpan.FromSeconds(5) } };
        Assert.Equal(["Rank1:Proxy:Default:Deadline (00:00:10) is above the operator's cap Rank1:Proxy:Caps:Deadline (00:00:05): lower the rule or raise the cap."], Failures(options));
    }

    [Fact]
    public void ServiceRequest_DeadlineMsOnTheWire_OrTheOptionsTimeSpan()
    {
        var options = new RerankServiceOptions { Deadline = TimeSpan.FromSeconds(7) };
        var asked = RerankRequest.Parse(RerankProtocol.CohereV2, """{"query":"q","documents":["d"],"deadline_ms":1500}"""u8, options);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), asked.Deadline);
        var unasked = RerankRequest.Parse(RerankProtocol.CohereV2, """{"query":"q","documents":["d"]}"""u8, options);
        Assert.Equal(TimeSpan.FromSeconds(7), unasked.Deadline);
        var ex = Assert.Throws<RerankRequestException>(() => RerankRequest.Parse(RerankProtocol.CohereV2, """{"query":"q","documents":["d"],"deadline_ms":0}"""u8, options));
        Assert.Contains("deadline_ms", ex.Message, StringComparison.Ordinal);
    }
}
