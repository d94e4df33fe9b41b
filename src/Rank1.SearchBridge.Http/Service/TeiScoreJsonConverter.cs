using System.Text.Json;
using System.Text.Json.Serialization;

namespace Rank1.SearchBridge.Http.Service;

/// <summary>
/// A TEI <c>/rerank</c> score written as TEI writes it: TEI's <c>Rank.score</c> is an <c>f32</c> (router/src/http/types.rs),
/// which serde_json 1.0.140 serializes with <c>Formatter::write_f32</c>, ryu's <c>format32</c> (<see cref="Ryu"/>): <c>1e-7</c>,
/// <c>0.5</c>, <c>1.0</c>, never <c>1E-07</c> or the f64's longer digits; a NaN or an infinity is <c>null</c>
/// (ser.rs, <c>serialize_f32</c>). Every text it writes has a <c>.</c> or an exponent and at most 17 characters
/// (<c>-0.0000012345678</c>), so json-smart reads it as a double too (<see cref="ScoreJsonConverter"/>).
/// </summary>
internal sealed class TeiScoreJsonConverter : JsonConverter<float>
{
    /// <inheritdoc />
    public override float Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.GetSingle();

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, float value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (float.IsFinite(value))
        {
            writer.WriteRawValue(Ryu.Format(value), skipInputValidation: true);
        }
        else
        {
            writer.WriteNullValue();
        }
    }
}
