using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Unicode;

namespace Rank1.SearchBridge.Cli.CommandLine;

/// <summary>
/// The lines of a UTF-8 text file, decoded strictly: an input's invalid bytes are refused naming the line, never read
/// as U+FFFD (two different queries or ids would become the same text); a line longer than <see cref="MaxLineBytes"/>
/// is refused naming it, as soon as that many bytes of it are read.
/// </summary>
internal static class Utf8Lines
{
    /// <summary>
    /// The longest line read, in bytes of its content (a CRLF line's carriage return and the file's byte order mark not
    /// counted): 16 MiB, far above a passage the model reads (<c>MaxPassageTokens</c> at most
    /// 131,072 tokens, about 1 MB of text), a topic or a run line. A longer line (a file that is not line-separated, a
    /// corpus dumped as one JSON array) is refused when that much of it is read, so memory stays bounded: held whole, a
    /// 150 MB line took 1.45 GB (its bytes, their UTF-16 string, the parser's copy).
    /// </summary>
    public const int MaxLineBytes = 16 * 1024 * 1024;

    /// <summary>How the reason for bytes that are not UTF-8 starts.</summary>
    public const string NotUtf8 = "not valid UTF-8";

    /// <summary>
    /// The lines of the file at <paramref name="path"/>, split at line feeds (a carriage return before one is dropped, a
    /// leading byte order mark too), streamed: a corpus of gigabytes is never held whole. Bytes that are not UTF-8, or a
    /// line longer than <see cref="MaxLineBytes"/>, throw <paramref name="invalid"/>'s exception when their line is
    /// reached, given the line number (from 1) and what is wrong (<c>not valid UTF-8 (byte 0xE9, byte 4 of the line)</c>).
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
            while (NextLine(ref chunk, pending, number + 1, invalid) is { } line)
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
    // when chunk ends inside a line, whose start is then added to pending. A line (number) past MaxLineBytes is invalid's
    // exception, before more of it is kept.
    private static ReadOnlyMemory<byte>? NextLine(ref ReadOnlyMemory<byte> chunk, ArrayBufferWriter<byte> pending, int number, Func<int, string, Exception> invalid)
    {
        var end = chunk.Span.IndexOf((byte)'\n');
        var head = chunk.Span[..(end < 0 ? chunk.Length : end)];
        if ((long)pending.WrittenCount + head.Length - NotContent(pending.WrittenSpan, head, number) > MaxLineBytes)
        {
            throw invalid(number, $"longer than {MaxLineBytes / (1024 * 1024)} MiB, the most a line may hold (not read further: is the file one record per line?)");
        }

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

    /// <summary>
    /// The length of the byte order mark <paramref name="path"/> starts with (0 without one, or when it cannot be read):
    /// for a message that names a byte of the first line as the file holds it, the mark included, as
    /// <see cref="ReadAsync"/> names a byte that is not UTF-8.
    /// </summary>
    public static int ByteOrderMarkLength(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            Span<byte> head = stackalloc byte[3];
            return stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false) == head.Length && head.SequenceEqual(Encoding.UTF8.Preamble) ? head.Length : 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    // How many of the bytes read of a line (pending, then head) are not its content, which alone the bound counts: a byte
    // order mark at the start of the file, and a carriage return at the end (before the line feed, or, that not read yet,
    // perhaps before it), as Decode drops them.
    private static int NotContent(ReadOnlySpan<byte> pending, ReadOnlySpan<byte> head, int number)
    {
        var mark = number == 1 && (pending.IsEmpty ? head : pending).StartsWith(Encoding.UTF8.Preamble) ? Encoding.UTF8.Preamble.Length : 0;
        var last = head.IsEmpty ? pending : head;
        return mark + (last.EndsWith("\r"u8) ? 1 : 0);
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
            throw invalid(number, $"{NotUtf8} (byte 0x{line[read]:X2}, byte {skipped + read + 1} of the line)");
        }

        return new string(chars, 0, written);
    }
}
