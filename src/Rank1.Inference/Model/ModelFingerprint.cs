using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Rank1.Inference.Model;

/// <summary>
/// The identity of a model by its content, not its name: SHA-256 over every file of the folder that can change what the
/// model answers, truncated to 128 bits, as 32 lower-case hex digits. The reasoning store keys judgements on it, so a
/// different model at the same path (a re-export, a new quantization, other weights under <c>/models/rank1</c>) never
/// reuses another's judgements, and a byte-identical copy at another path gives the same fingerprint.
/// </summary>
/// <remarks>
/// Hashed: the loaded graph and every other file at the top of the folder (and of the graph's folder, when the graph is
/// in a sub-folder): external data (<c>model.onnx.data</c> or however the graph names it), <c>config.json</c>,
/// <c>genai_config.json</c>, <c>generation_config.json</c>, the tokenizer files, a chat template. Each file contributes
/// its name relative to the folder, its length and all its bytes, in ordinal order of names. Left out, as they cannot
/// change a judgement: hidden files (<c>.stamp</c>, <c>.gitattributes</c>), ONNX graphs other than the loaded one (an
/// Optimum export's unmerged decoders; their external data is still hashed), GGUF files, and documentation
/// (<c>*.md</c>, <c>LICENSE*</c>, <c>NOTICE*</c>). Every byte is read: a sampled hash (sizes and the ends of files) would
/// miss a re-quantization or fine-tune that keeps every file's size and changes only tensors in the middle.
/// </remarks>
public static class ModelFingerprint
{
    /// <summary>Hex digits kept: 128 bits, far beyond any chance collision between a deployment's models.</summary>
    public const int Length = 32;

    private const int BufferSize = 1 << 20;

    /// <summary>The fingerprint of the model in <paramref name="folder"/> whose graph is <paramref name="graphPath"/>.</summary>
    /// <exception cref="ModelLoadException">A file cannot be read (named, with why).</exception>
    public static string Compute(string folder, string graphPath)
    {
        folder = Path.GetFullPath(folder);
        graphPath = Path.GetFullPath(graphPath);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            foreach (var (name, path) in Files(folder, graphPath))
            {
                Append(hash, name, path, buffer);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset())[..Length];
    }

    /// <summary>The files hashed, each with its name relative to <paramref name="folder"/> ('/'-separated), in ordinal order of names.</summary>
    internal static IReadOnlyList<(string Name, string Path)> Files(string folder, string graphPath)
    {
        var graphFolder = Path.GetDirectoryName(graphPath) ?? folder;
        var folders = string.Equals(graphFolder, folder, StringComparison.Ordinal) ? [folder] : new[] { folder, graphFolder };
        try
        {
            return folders.SelectMany(Directory.EnumerateFiles)
                .Where(f => string.Equals(f, graphPath, StringComparison.Ordinal) || CanChangeJudgements(Path.GetFileName(f)))
                .Select(f => (Name: Path.GetRelativePath(folder, f).Replace('\\', '/'), Path: f))
                .DistinctBy(f => f.Name, StringComparer.Ordinal)
                .OrderBy(f => f.Name, StringComparer.Ordinal)
                .ToArray();
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            throw ModelFolder.Unreadable(folder, ex);
        }
    }

    private static bool CanChangeJudgements(string name) =>
        !name.StartsWith('.')
        && !name.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase)
        && !name.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase)
        && !name.EndsWith(".md", StringComparison.OrdinalIgnoreCase)
        && !name.StartsWith("LICENSE", StringComparison.OrdinalIgnoreCase)
        && !name.StartsWith("NOTICE", StringComparison.OrdinalIgnoreCase);

    /// <summary>Name, length, then the bytes: so moving bytes from the end of one file to the start of the next changes the hash.</summary>
    private static void Append(IncrementalHash hash, string name, string path, byte[] buffer)
    {
        try
        {
            // Sequential, unbuffered by the stream (the pooled buffer is the only copy): a multi-GB external data file is read once, front to back.
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, FileOptions.SequentialScan);
            Span<byte> length = stackalloc byte[sizeof(long)];
            BinaryPrimitives.WriteInt64LittleEndian(length, file.Length);
            hash.AppendData(Encoding.UTF8.GetBytes(name + "\0"));
            hash.AppendData(length);
            int read;
            while ((read = file.Read(buffer, 0, buffer.Length)) > 0)
            {
                hash.AppendData(buffer, 0, read);
            }
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            throw ModelFolder.Unreadable(path, ex);
        }
    }
}
