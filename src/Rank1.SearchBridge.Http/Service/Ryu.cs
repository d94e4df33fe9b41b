using System.Globalization;

namespace Rank1.SearchBridge.Http.Service;

/// <summary>
/// Floats as TEI's serde_json 1.0.140 writes them, through ryu 1.0.20 (src/pretty/mod.rs): the shortest digits that read
/// back as the value, laid out by ryu's rules. An f64 (<c>format64</c>: what serde_json names in an error, error.rs
/// <c>JsonUnexpected</c>) has no exponent from 1e-5 up to below 1e16; an f32 (<c>format32</c>: what serde_json's
/// <c>Formatter::write_f32</c> writes, TEI's rerank <c>score</c>) none from 1e-6 up to below 1e13. A whole number there
/// gets <c>.0</c> (<c>1500.0</c>, <c>0.0001</c>); outside, the exponent has no <c>+</c> and no leading zero and a single
/// digit no point (<c>1e20</c>, <c>1.5e-7</c>); zero keeps its sign (<c>-0.0</c>).
/// </summary>
internal static class Ryu
{
    /// <summary>A finite f64 as ryu's <c>format64</c> writes it.</summary>
    internal static string Format(double value) =>
        Layout(value == 0, double.IsNegative(value), Math.Abs(value).ToString("R", CultureInfo.InvariantCulture), maxPlainDigits: 16, minPlainExponent: -5);

    /// <summary>A finite f32 as ryu's <c>format32</c> writes it.</summary>
    internal static string Format(float value) =>
        Layout(value == 0, float.IsNegative(value), Math.Abs(value).ToString("R", CultureInfo.InvariantCulture), maxPlainDigits: 13, minPlainExponent: -6);

    // roundTrip: .NET's round-trip text of the magnitude, whose digits are the shortest that read back as the value (as
    // ryu's), taken apart into the digits and kk (10^(kk-1) <= |value| < 10^kk). ryu writes it plain when
    // kk <= maxPlainDigits and kk > minPlainExponent, else with an exponent.
    private static string Layout(bool zero, bool negative, string roundTrip, int maxPlainDigits, int minPlainExponent)
    {
        var sign = negative ? "-" : string.Empty;
        if (zero)
        {
            return sign + "0.0";
        }

        var e = roundTrip.IndexOf('E', StringComparison.Ordinal);
        var mantissa = e < 0 ? roundTrip : roundTrip[..e];
        var point = mantissa.IndexOf('.', StringComparison.Ordinal) is var p and >= 0 ? p : mantissa.Length;
        var all = mantissa.Replace(".", string.Empty, StringComparison.Ordinal);
        var digits = all.TrimStart('0');
        var kk = point - (all.Length - digits.Length) + (e < 0 ? 0 : int.Parse(roundTrip.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture));
        digits = digits.TrimEnd('0');
        var length = digits.Length;
        return sign + (kk - length >= 0 && kk <= maxPlainDigits ? digits + new string('0', kk - length) + ".0"
            : kk > 0 && kk <= maxPlainDigits ? digits[..kk] + "." + digits[kk..]
            : kk > minPlainExponent && kk <= 0 ? "0." + new string('0', -kk) + digits
            : (length == 1 ? digits : digits[..1] + "." + digits[1..]) + "e" + (kk - 1).ToString(CultureInfo.InvariantCulture));
    }
}
