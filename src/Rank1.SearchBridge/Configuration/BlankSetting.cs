using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using Rank1.SearchBridge.Messages;

namespace Rank1.SearchBridge.Configuration;

/// <summary>
/// The one refusal of a text setting of only white space, control and invisible format characters
/// (<see cref="PrecomputeReasoning.IsBlankQuery"/>): it says nothing and names no field, and is refused at start-up as a
/// request's <c>ext.rank1</c> (RerankPlan) refuses the same texts. The proxy's rules (<see cref="ProxyOptions"/>) and the
/// rerank service's <c>Rank1:Service:Instructions</c> hold their texts to it.
/// </summary>
internal static class BlankSetting
{
    /// <summary>The failure naming <paramref name="key"/> when <paramref name="text"/> is given and blank; else null.</summary>
    /// <param name="key">The setting's configuration key (<c>Rank1:Proxy:Default:Instructions</c>).</param>
    /// <param name="text">Its value; null: not set.</param>
    public static ValidationResult? Refusal(string key, string? text) => text is { } given && PrecomputeReasoning.IsBlankQuery(given)
        ? new ValidationResult($"{key} must be a non-empty string: only white space, control or invisible characters (got \"{JsonEncodedText.Encode(given)}\"); remove the setting or give it text.")
        : null;
}
