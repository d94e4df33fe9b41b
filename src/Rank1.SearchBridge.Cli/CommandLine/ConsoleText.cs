using System.Text;

namespace Rank1.SearchBridge.Cli.CommandLine;

/// <summary>
/// Text from a corpus, a model or a caller made safe to print on a terminal: every control character (C0 but tab,
/// DEL, C1) becomes U+FFFD (�), so an escape sequence in a passage or an id shows as � and is never run by the
/// terminal (clearing the screen, setting the title). For human-readable output only; JSON output stays exact.
/// </summary>
internal static class ConsoleText
{
    public const char Replacement = '\uFFFD';

    /// <summary><paramref name="text"/> with its control characters (tab excepted) shown as U+FFFD.</summary>
    public static string Visible(string? text)
    {
        if (string.IsNullOrEmpty(text) || !text.Any(IsHidden))
        {
            return text ?? string.Empty;
        }

        var builder = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            builder.Append(IsHidden(c) ? Replacement : c);
        }

        return builder.ToString();
    }

    private static bool IsHidden(char c) => char.IsControl(c) && c != '\t';
}
