using System.Buffers;
using System.Text;
using System.Text.Unicode;

namespace Rank1.SearchBridge.Cli.CommandLine;

/// <summary>
/// The lines of a UTF-8 text file, decoded strictly: an input's invalid bytes are refused naming the line, never read
/// as U+FFFD (two different queries or ids would become the same text).
/// </summary>
internal static class Utf8Lines
{
    /// <summary>
    /// <paramref name="bytes"/> split at line feeds (a carriage return before one is dropped, a leading byte order mark
    /// too). Bytes that are not UTF-8 throw <paramref name="invalid"/>'s exception, given the line number (from 1) and
    /// what is wrong (<c>not valid UTF-8 (byte 0xE9, byte 4 of the line)</c>).
    /// </summary>
    /// <param name="bytes">The file's content.</param>
    /// <param name="invalid">Makes the exception for an invalid line.</param>
    public static string[] Split(ReadOnlyMemory<byte> bytes, Func<int, string, Exception> invalid)
    {
        ArgumentNullException.ThrowIfNull(invalid);
        var rest = bytes;
        if (rest.Span.StartsWith(Encoding.UTF8.Preamble))
        {
            rest = rest[Encoding.UTF8.Preamble.Length..];
        }

        var lines = new List<string>();
        while (!rest.IsEmpty)
        {
            var end = rest.Span.IndexOf((byte)'\n');
            var line = end < 0 ? rest : rest[..end];
            rest = end < 0 ? ReadOnlyMemory<byte>.Empty : rest[(end + 1)..];
            if (line.Span.EndsWith("\r"u8))
            {
                line = line[..^1];
            }

            var chars = new char[line.Length]; // UTF-8 never takes fewer bytes than UTF-16 takes code units
            if (Utf8.ToUtf16(line.Span, chars, out var read, out var written, replaceInvalidSequences: false) != OperationStatus.Done)
            {
                throw invalid(lines.Count + 1, $"not valid UTF-8 (byte 0x{line.Span[read]:X2}, byte {read + 1} of the line)");
            }

            lines.Add(new string(chars, 0, written));
        }

        return [.. lines];
    }
}
