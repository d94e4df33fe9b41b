using System.Buffers.Binary;
using System.Text;

namespace Rank1.SearchBridge.Compose.Tests;

/// <summary>
/// Reads the <c>DT_NEEDED</c> entries (the shared libraries a library links against, what <c>readelf -d</c> lists) of a
/// 64-bit little-endian ELF file: the section headers, the <c>SHT_DYNAMIC</c> section and the string table it links to.
/// Only those parts are read, so a 300 MB library costs a few kilobytes of I/O.
/// </summary>
internal static class ElfDynamic
{
    private const uint ShtDynamic = 6;
    private const long DtNull = 0;
    private const long DtNeeded = 1;

    public static IReadOnlyList<string> Needed(string path)
    {
        using var file = File.OpenRead(path);
        var header = Read(file, 0, 64);
        if (!header.AsSpan(0, 4).SequenceEqual("\u007fELF"u8) || header[4] != 2 || header[5] != 1)
        {
            throw new InvalidDataException($"{path}: not a 64-bit little-endian ELF file");
        }

        var sectionOffset = (long)BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(0x28));
        var sectionSize = BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(0x3A));
        var sectionCount = BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(0x3C));
        var sections = Read(file, sectionOffset, sectionSize * sectionCount);
        for (var i = 0; i < sectionCount; i++)
        {
            var s = sections.AsSpan(i * sectionSize, sectionSize);
            if (BinaryPrimitives.ReadUInt32LittleEndian(s[4..]) != ShtDynamic)
            {
                continue;
            }

            var dynamic = Read(file, (long)BinaryPrimitives.ReadUInt64LittleEndian(s[0x18..]), (int)BinaryPrimitives.ReadUInt64LittleEndian(s[0x20..]));
            var link = (int)BinaryPrimitives.ReadUInt32LittleEndian(s[0x28..]);
            var strtab = sections.AsSpan(link * sectionSize, sectionSize);
            var strings = Read(file, (long)BinaryPrimitives.ReadUInt64LittleEndian(strtab[0x18..]), (int)BinaryPrimitives.ReadUInt64LittleEndian(strtab[0x20..]));
            var needed = new List<string>();
            for (var e = 0; e + 16 <= dynamic.Length; e += 16)
            {
                var tag = BinaryPrimitives.ReadInt64LittleEndian(dynamic.AsSpan(e));
                if (tag == DtNull)
                {
                    break;
                }

                if (tag == DtNeeded)
                {
                    var start = (int)BinaryPrimitives.ReadUInt64LittleEndian(dynamic.AsSpan(e + 8));
                    var end = Array.IndexOf(strings, (byte)0, start);
                    needed.Add(Encoding.ASCII.GetString(strings, start, end - start));
                }
            }

            return needed;
        }

        throw new InvalidDataException($"{path}: no dynamic section (a static executable?)");
    }

    private static byte[] Read(FileStream file, long offset, int count)
    {
        var buffer = new byte[count];
        file.Position = offset;
        file.ReadExactly(buffer);
        return buffer;
    }
}
