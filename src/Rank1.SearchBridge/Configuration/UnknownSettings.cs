using System.ComponentModel;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Rank1.Elastic;
using Rank1.Inference;
using Rank1.SearchBridge.HotQueries;
using Rank1.SearchBridge.Messaging;
using Rank1.SearchBridge.Precompute;
using Rank1.SearchBridge.Store;

namespace Rank1.SearchBridge.Configuration;

/// <summary>
/// Keys that no setting reads: a key under <c>Rank1:</c> outside every section a Rank1 host reads, or a key inside a
/// section that its options type (its nested objects and list items too) has no property for. Each is named as the
/// configuration key and its environment-variable form (<c>Rank1:Proxy:Indices:0:Windw (Rank1__Proxy__Indices__0__Windw)</c>),
/// which the configuration binder's own unknown-key error does not do (it names a .NET type, or nothing inside a list).
/// </summary>
public static class UnknownSettings
{
    /// <summary>The root of every Rank1 section.</summary>
    public const string Root = "Rank1";

    /// <summary>
    /// The sections under <c>Rank1:</c> that some Rank1 host reads. Every host accepts all of them, so one
    /// <c>appsettings.json</c> (or one set of environment variables) can serve the proxy, <c>serve</c> and the worker;
    /// each host checks the keys inside the sections it reads.
    /// </summary>
    public static IReadOnlyList<string> Sections { get; } =
    [
        Rank1EngineOptions.SectionName, BackendOptions.SectionName, ProxyOptions.SectionName, "Rank1:Service", ReasoningStoreOptions.SectionName,
        HotQueryOptions.SectionName, BrokerOptions.SectionName, WorkerOptions.SectionName,
    ];

    /// <summary>The options whose start-up validation runs <see cref="ThrowIfOutsideSections"/>.</summary>
    public sealed class Check;

    /// <summary>A key in its environment-variable form (<c>Rank1__Proxy__Window</c>).</summary>
    public static string EnvironmentName(string key) => key.Replace(":", "__", StringComparison.Ordinal);

    /// <summary>
    /// Throws <see cref="OptionsValidationException"/> naming each key under <paramref name="sectionName"/> that
    /// <typeparamref name="TOptions"/> does not read.
    /// </summary>
    public static void ThrowIfAny<TOptions>(IConfiguration configuration, string sectionName)
    {
        var section = configuration.GetSection(sectionName);
        var failures = Unknown(section, typeof(TOptions))
            .Distinct(StringComparer.OrdinalIgnoreCase)
            .Order(StringComparer.OrdinalIgnoreCase)
            .Select(k => $"{k} ({EnvironmentName(k)}) is not a setting")
            .ToList();
        if (failures.Count > 0)
        {
            throw new OptionsValidationException(sectionName, typeof(TOptions), failures);
        }
    }

    /// <summary>Throws <see cref="OptionsValidationException"/> naming each key under <c>Rank1:</c> outside <see cref="Sections"/>.</summary>
    public static void ThrowIfOutsideSections(IConfiguration configuration)
    {
        var known = string.Join(", ", Sections.Select(s => s[(Root.Length + 1)..]).Order(StringComparer.Ordinal));
        var failures = configuration.GetSection(Root).GetChildren()
            .Where(c => !Sections.Contains(c.Path, StringComparer.OrdinalIgnoreCase))
            .SelectMany(Leaves)
            .Order(StringComparer.OrdinalIgnoreCase)
            .Select(k => $"{k} ({EnvironmentName(k)}) is not a setting: the sections under {Root} are {known}")
            .ToList();
        if (failures.Count > 0)
        {
            throw new OptionsValidationException(Root, typeof(UnknownSettings), failures);
        }
    }

    private static IEnumerable<string> Unknown(IConfigurationSection section, Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (IsScalar(type))
        {
            return section.GetChildren().SelectMany(Leaves);
        }

        if (ItemType(type) is { } item)
        {
            return section.GetChildren().SelectMany(c => Unknown(c, item));
        }

        return section.GetChildren().SelectMany(c => Property(type, c.Key) is { } p ? Unknown(c, p.PropertyType) : Leaves(c));
    }

    /// <summary>The keys with a value at or under <paramref name="section"/>: what a user wrote.</summary>
    private static IEnumerable<string> Leaves(IConfigurationSection section)
    {
        var leaves = section.AsEnumerable().Where(p => p.Value is not null).Select(p => p.Key).ToList();
        return leaves.Count == 0 ? [section.Path] : leaves;
    }

    /// <summary>A property the binder sets: public, with a setter, or read-only holding an object or collection it fills.</summary>
    private static PropertyInfo? Property(Type type, string key) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance).FirstOrDefault(p =>
            p.Name.Equals(key, StringComparison.OrdinalIgnoreCase) && p.GetIndexParameters().Length == 0
            && (p.SetMethod?.IsPublic == true || (p.GetMethod?.IsPublic == true && !IsScalar(p.PropertyType) && FilledInPlace(p.PropertyType))));

    /// <summary>
    /// Whether the binder fills a read-only property's value in place: an object, or a collection it can add to. A
    /// read-only view (an array, <c>IReadOnlyList</c>: <c>RerankRule.EffectiveFields</c>) it would copy into a new one
    /// that it cannot set, dropping the value.
    /// </summary>
    private static bool FilledInPlace(Type type) =>
        ItemType(type) is null
        || (!type.IsArray && (type.IsInterface ? [type, .. type.GetInterfaces()] : type.GetInterfaces())
            .Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(ICollection<>)));

    private static bool IsScalar(Type type) =>
        type == typeof(string) || type.IsPrimitive || type.IsEnum || TypeDescriptor.GetConverter(type).CanConvertFrom(typeof(string));

    /// <summary>The item type of an array, list or dictionary (its values), else null.</summary>
    private static Type? ItemType(Type type)
    {
        if (type.IsArray)
        {
            return type.GetElementType();
        }

        var interfaces = type.IsInterface ? [type, .. type.GetInterfaces()] : type.GetInterfaces();
        var dictionary = interfaces.FirstOrDefault(i => i.IsGenericType
            && (i.GetGenericTypeDefinition() == typeof(IDictionary<,>) || i.GetGenericTypeDefinition() == typeof(IReadOnlyDictionary<,>)));
        if (dictionary is not null)
        {
            return dictionary.GetGenericArguments()[1];
        }

        return interfaces.FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>))?.GetGenericArguments()[0];
    }
}
