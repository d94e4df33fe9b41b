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
    public void AnInvalidByteOnTheFirstLine_IsCountedFromTheFilesFirstByte_ByteOrderMarkIncluded()
    {
        // "caf" 0xE9 after a byte order mark: byte 7 of the line as the file holds it (it was reported as byte 4).
        var e = Assert.Throws<InvalidDataException>(() => Utf8Lines.Split((byte[])[.. Encoding.UTF8.Preamble, .. "caf"u8, 0xE9, .. "\n"u8], (n, reason) => new InvalidDataException($"{n}: {reason}")));
        Assert.Equal("1: not valid UTF-8 (byte 0xE9, byte 7 of the line)", e.Message);
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
}
