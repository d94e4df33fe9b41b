using System.Text;
using Rank1.SearchBridge.Cli.CommandLine;
using Rank1.Testing;

namespace Rank1.SearchBridge.Cli.Tests;

/// <summary><see cref="Utf8Lines.ReadAsync"/>: a file's lines streamed, as .NET's own line reader reads valid UTF-8.</summary>
public sealed class Utf8LinesTests
{
    [Theory]
    [InlineData(true, "\n", true)]
    [InlineData(false, "\r\n", false)]
    public async Task ValidUtf8_IsReadAsFileReadAllLinesReadsIt_LinesAcrossReadsIncluded(bool byteOrderMark, string newline, bool finalNewline)
    {
        // Lines of 0 to 200,000 characters, non-ASCII among them, so that lines start and end across the 64 KB reads.
        var lines = Enumerable.Range(0, 40).Select(i => string.Concat(Enumerable.Repeat(i % 3 == 0 ? "é" : "ab", (i * 7919) % 100_000))).ToList();
        var text = string.Join(newline, lines) + (finalNewline ? newline : string.Empty);
        var file = TestTemp.File($"rank1-lines-{Guid.NewGuid():N}.txt");
        await File.WriteAllBytesAsync(file, [.. byteOrderMark ? Encoding.UTF8.Preamble : [], .. Encoding.UTF8.GetBytes(text)]);

        var read = new List<string>();
        await foreach (var line in Utf8Lines.ReadAsync(file, (n, reason) => new InvalidDataException($"{n}: {reason}"), CancellationToken.None))
        {
            read.Add(line);
        }

        Assert.Equal(File.ReadAllLines(file), read);
    }

    [Fact]
    public async Task AnInvalidByteOnTheFirstLine_IsCountedFromTheFilesFirstByte_ByteOrderMarkIncluded()
    {
        // "caf" 0xE9 after a byte order mark: byte 7 of the line as the file holds it (it was reported as byte 4).
        var file = TestTemp.File($"rank1-lines-{Guid.NewGuid():N}.txt");
        await File.WriteAllBytesAsync(file, [.. Encoding.UTF8.Preamble, .. "caf"u8, 0xE9, .. "\n"u8]);
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => ReadAllAsync(file));
        Assert.Equal("1: not valid UTF-8 (byte 0xE9, byte 7 of the line)", e.Message);
    }

    /// <summary>
    /// The bound counts a line's content, as the line read holds it: a CRLF line's carriage return and the file's byte
    /// order mark are not counted. They were, so a line of the most bytes was refused in a file saved on Windows (CRLF,
    /// or Notepad's byte order mark on the first line), and read with LF line ends.
    /// </summary>
    [Theory]
    [InlineData(false, "\r\n", "\r\n")]
    [InlineData(true, "\r\n", "\r\n")]
    [InlineData(true, "\n", "\r")]
    public async Task ALineOfTheMostBytes_IsRead_ItsCarriageReturnAndByteOrderMarkNotCounted(bool byteOrderMark, string newline, string last)
    {
        using var folder = TestTemp.Scoped("rank1-lines-"); // 32 MiB: removed when the test ends
        var file = Path.Combine(folder.Path, "lines.txt");
        var longest = new string('x', Utf8Lines.MaxLineBytes);
        await File.WriteAllBytesAsync(file, [.. byteOrderMark ? Encoding.UTF8.Preamble : [], .. Encoding.UTF8.GetBytes(longest + newline + "a" + newline + longest + last)]);
        Assert.Equal([longest, "a", longest], await ReadAllAsync(file));
    }

    [Theory]
    [InlineData(true, "\r\n")]
    [InlineData(false, "\r\r\n")]
    public async Task ALineOfOneByteMore_IsRefused_ItsByteOrderMarkOrCarriageReturnNotTakenForContentsRoom(bool byteOrderMark, string newline)
    {
        using var folder = TestTemp.Scoped("rank1-lines-");
        var file = Path.Combine(folder.Path, "lines.txt");
        // The extra byte: an 'x' after the mark, or a second carriage return, which the read line keeps.
        await File.WriteAllBytesAsync(file, [.. byteOrderMark ? Encoding.UTF8.Preamble : [], .. Encoding.UTF8.GetBytes(new string('x', Utf8Lines.MaxLineBytes + (byteOrderMark ? 1 : 0)) + newline)]);
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => ReadAllAsync(file));
        Assert.Equal("1: longer than 16 MiB, the most a line may hold (not read further: is the file one record per line?)", e.Message);
    }

    /// <summary>
    /// A line longer than <see cref="Utf8Lines.MaxLineBytes"/> is refused naming it once that much of it is read, not
    /// held to its end: a 150 MB line took 1.45 GB. Read from a FIFO whose writer sends one byte past the bound and
    /// then waits, the refusal comes without the line's end; before, the reader kept waiting for it.
    /// </summary>
    [Fact]
    public async Task ALineLongerThanTheBound_IsRefusedNamingIt_AsSoonAsThatMuchIsRead()
    {
        var folder = TestTemp.Folder("rank1-lines-");
        var fifo = Path.Combine(folder, "input");
        Assert.Equal(0, (await TestProcess.RunAsync(TestProcess.StartInfo("mkfifo", [fifo]))).ExitCode);
        var read = new List<string>();
        var reader = Task.Run(async () =>
        {
            await foreach (var line in Utf8Lines.ReadAsync(fifo, (n, reason) => new InvalidDataException($"{n}: {reason}"), CancellationToken.None))
            {
                read.Add(line);
            }
        });
        await using (var writer = new FileStream(fifo, FileMode.Open, FileAccess.Write))
        {
            await writer.WriteAsync(Encoding.UTF8.GetBytes("first\n" + new string('x', Utf8Lines.MaxLineBytes + 1)));
            await writer.FlushAsync();

            // Bounded, so a reader that waits for the line's end fails the test instead of hanging it.
            var e = await Assert.ThrowsAsync<InvalidDataException>(() => reader.WaitAsync(TimeSpan.FromMinutes(1)));
            Assert.Equal("2: longer than 16 MiB, the most a line may hold (not read further: is the file one record per line?)", e.Message);
        }

        Assert.Equal(["first"], read);
    }

    [Fact]
    public async Task AnInvalidByteFarIntoTheFile_NamesItsLine_AndTheLinesBeforeItAreRead()
    {
        var file = TestTemp.File($"rank1-lines-{Guid.NewGuid():N}.txt");
        var good = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat(new string('x', 999) + "\n", 300))); // 300 KB
        await File.WriteAllBytesAsync(file, [.. good, .. "caf"u8, 0xE9, .. "\n"u8]);

        var read = 0;
        var e = await Assert.ThrowsAsync<InvalidDataException>(async () =>
        {
            await foreach (var line in Utf8Lines.ReadAsync(file, (n, reason) => new InvalidDataException($"{n}: {reason}"), CancellationToken.None))
            {
                read++;
            }
        });
        Assert.Equal("301: not valid UTF-8 (byte 0xE9, byte 4 of the line)", e.Message);
        Assert.Equal(300, read);
    }

    private static async Task<List<string>> ReadAllAsync(string file)
    {
        var read = new List<string>();
        await foreach (var line in Utf8Lines.ReadAsync(file, (n, reason) => new InvalidDataException($"{n}: {reason}"), CancellationToken.None))
        {
            read.Add(line);
        }

        return read;
    }
}
