using Microsoft.Extensions.Configuration;
using Rank1.Inference;

namespace Rank1.SearchBridge.Store;

/// <summary>
/// The model's own token limits (<c>Rank1:Model:MaxQueryTokens</c> and <c>MaxPassageTokens</c>, the values the engine is
/// loaded with), which cap every limit a rule, request or precompute job asks for: <see cref="ReasoningKeys.Limits"/>
/// counts a limit at or above them as none.
/// </summary>
/// <param name="MaxQueryTokens">The model's query token limit.</param>
/// <param name="MaxPassageTokens">The model's passage token limit.</param>
public sealed record ModelTokenLimits(int MaxQueryTokens, int MaxPassageTokens)
{
    /// <summary>The limits of the model section of <paramref name="configuration"/> (its defaults where unset).</summary>
    /// <param name="configuration">The host's configuration.</param>
    public static ModelTokenLimits From(IConfiguration configuration)
    {
        var model = configuration.GetSection(Rank1EngineOptions.SectionName).Get<Rank1EngineOptions>() ?? new Rank1EngineOptions();
        return new ModelTokenLimits(model.MaxQueryTokens, model.MaxPassageTokens);
    }
}
