using System.Text;

namespace Rank1.SearchBridge.Cli.CommandLine;

/// <summary>
/// Text from a corpus, a model or a caller made safe to print on a terminal: every control character (C0 but tab,
/// DEL, C1) and every bidirectional control becomes U+FFFD (�), so an escape sequence in a passage or an id shows as � and is never run by the
/// terminal (clearing the screen, setting the title). For human-readable output only; JSON output stays exact.
/// </summary>
internal static class ConsoleText
{
    public const char Replacement = '\uFFFD';

    /// <summary>
    /// <paramref name="text"/> with its control characters (tab excepted) and its bidirectional controls shown as U+FFFD:
    /// an embedding, override or isolate (U+202A–U+202E, U+2066–U+2069) or a mark (U+200E, U+200F, U+061C) in a passage
    /// or an id reorders what the terminal shows after it ("Trojan Source", CVE-2021-42574), so a line could read as
    /// another id, score or verdict than the one written.
    /// </summary>
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

    private static bool IsHidden(char c) => (char.IsControl(c) && c != '\t') || c is (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069') or '\u200E' or '\u200F' or '\u061C';
}
