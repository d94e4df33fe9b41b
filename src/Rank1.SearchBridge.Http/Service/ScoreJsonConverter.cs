using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Rank1.SearchBridge.Http.Service;

/// <summary>
/// A score written as JSON that Java's JSON readers take for a double. OpenSearch ML Commons reads a connector's answer
/// with JsonPath over json-smart in its permissive mode, where a number with no <c>.</c> or exponent is an Integer and
/// one longer than 18 characters a BigDecimal (json-smart <c>JSONParserBase.extractFloat</c>), and its built-in
/// <c>connector.post_process.cohere.rerank</c> casts <c>relevance_score</c> to Double: a score written <c>0</c> (a
/// document a partial answer did not judge) or <c>0.19234845963917294</c> failed the whole search's rerank. The
/// shortest round-trip text is kept when it has at most 18 characters; a longer one loses the fewest digits that make
/// it fit (it stays within 1e-12 of the score, far below the float32 that Elasticsearch and OpenSearch keep); an
/// integral score gets <c>.0</c>.
/// </summary>
internal sealed class ScoreJsonConverter : JsonConverter<double>
{
    /// <summary>The longest number json-smart reads as a double rather than a BigDecimal.</summary>
    internal const int MaxLength = 18;

    /// <inheritdoc />
    public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.GetDouble();

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteRawValue(Format(value), skipInputValidation: true);
    }

    /// <summary>The JSON text of <paramref name="value"/>: at most <see cref="MaxLength"/> characters, with a <c>.</c> or an exponent.</summary>
    /// <param name="value">A finite score.</param>
    internal static string Format(double value)
    {
        if (!double.IsFinite(value))
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, "A score is a finite number.");
        }

        var text = value.ToString("R", CultureInfo.InvariantCulture);
        for (var digits = 16; text.Length > MaxLength && digits > 1; digits--)
        {
            text = value.ToString("G" + digits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        }

        return text.AsSpan().IndexOfAny('.', 'E') >= 0 ? text : text + ".0";
    }
}
