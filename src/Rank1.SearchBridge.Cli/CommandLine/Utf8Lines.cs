using System.Buffers;
using System.Runtime.CompilerServices;
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
        var lines = new List<string>();
        while (!rest.IsEmpty)
        {
            var end = rest.Span.IndexOf((byte)'\n');
            lines.Add(Decode(end < 0 ? rest.Span : rest.Span[..end], lines.Count + 1, invalid));
            rest = end < 0 ? ReadOnlyMemory<byte>.Empty : rest[(end + 1)..];
        }

        return [.. lines];
    }

    /// <summary>
    /// The lines of the file at <paramref name="path"/> as <see cref="Split"/> reads them, streamed: a corpus of
    /// gigabytes is never held whole, and bytes that are not UTF-8 throw <paramref name="invalid"/>'s exception when
    /// their line is reached, naming it.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="invalid">Makes the exception for an invalid line.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    public static async IAsyncEnumerable<string> ReadAsync(string path, Func<int, string, Exception> invalid, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(invalid);
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.Asynchronous | FileOptions.SequentialScan);
        var buffer = new byte[64 * 1024];
        var pending = new ArrayBufferWriter<byte>(); // a line's start, read before its end
        var number = 0;
        int read;
        while ((read = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
        {
            var chunk = new ReadOnlyMemory<byte>(buffer, 0, read);
            while (NextLine(ref chunk, pending) is { } line)
            {
                yield return Decode(line.Span, ++number, invalid);
                pending.ResetWrittenCount();
            }
        }

        if (pending.WrittenCount > 0)
        {
            yield return Decode(pending.WrittenSpan, ++number, invalid);
        }
    }

    // The next whole line of chunk (its start in pending, if a read before this one began it), chunk moved past it; null
    // when chunk ends inside a line, whose start is then added to pending.
    private static ReadOnlyMemory<byte>? NextLine(ref ReadOnlyMemory<byte> chunk, ArrayBufferWriter<byte> pending)
    {
        var end = chunk.Span.IndexOf((byte)'\n');
        if (end < 0)
        {
            pending.Write(chunk.Span);
            chunk = ReadOnlyMemory<byte>.Empty;
            return null;
        }

        var line = chunk[..end];
        chunk = chunk[(end + 1)..];
        if (pending.WrittenCount == 0)
        {
            return line;
        }

        pending.Write(line.Span);
        return pending.WrittenMemory;
    }

    // One line's bytes (without its line feed) as text: a carriage return before the line feed dropped, and a byte order
    // mark at the start of the file; invalid UTF-8 is invalid's exception.
    private static string Decode(ReadOnlySpan<byte> line, int number, Func<int, string, Exception> invalid)
    {
        var skipped = number == 1 && line.StartsWith(Encoding.UTF8.Preamble) ? Encoding.UTF8.Preamble.Length : 0;
        line = line[skipped..];

        if (line.EndsWith("\r"u8))
        {
            line = line[..^1];
        }

        var chars = new char[line.Length]; // UTF-8 never takes fewer bytes than UTF-16 takes code units
        if (Utf8.ToUtf16(line, chars, out var read, out var written, replaceInvalidSequences: false) != OperationStatus.Done)
        {
            // Counted in the line as it is in the file, its byte order mark included.
            throw invalid(number, $"not valid UTF-8 (byte 0x{line[read]:X2}, byte {skipped + read + 1} of the line)");
        }

        return new string(chars, 0, written);
    }
}
