using Rank1.Inference.Model;
using Rank1.Testing;

namespace Rank1.Inference.Tests.Model;

/// <summary>The model's identity by content (what the reasoning store keys on), whatever its folder is called.</summary>
public sealed class ModelFingerprintTests
{
    private static string Fingerprint(string folder) => ModelFolder.Open(folder).Fingerprint;

    private static void FlipByte(string file, long at)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.ReadWrite);
        stream.Position = at;
        var b = stream.ReadByte();
        stream.Position = at;
        stream.WriteByte((byte)(b ^ 0x01));
    }

    [Fact]
    public void Fingerprint_ByteIdenticalCopyAtAnotherPath_IsTheSame_AndNotTheNamesHash()
    {
        using var copyCopy = ModelRuns.CopyFolder(TestPaths.TinyModel);
        var copy = copyCopy.Path;

        var original = Fingerprint(TestPaths.TinyModel);
        Assert.Matches("^[0-9a-f]{32}$", original);
        Assert.Equal(original, Fingerprint(copy));
        Assert.NotEqual(ModelFolder.Open(TestPaths.TinyModel).ModelId, ModelFolder.Open(copy).ModelId);
        // Other weights of the same architecture, size and configuration: another fingerprint.
        Assert.NotEqual(original, Fingerprint(TestPaths.TinySmoothModel));
    }

    [Fact]
    public void Fingerprint_OneByteOfTheWeightsChanged_Changes()
    {
        using var dirCopy = ModelRuns.CopyFolder(TestPaths.TinyModel);
        var dir = dirCopy.Path;
        var before = Fingerprint(dir);
        var graph = Path.Combine(dir, "model.onnx");

        FlipByte(graph, new FileInfo(graph).Length / 2); // the middle: neither a size nor the ends of the file change

        Assert.NotEqual(before, Fingerprint(dir));
    }

    [Fact]
    public void Fingerprint_OneByteOfTheExternalData_Changes()
    {
        using var dirCopy = ModelRuns.CopyFolder(TestPaths.TinyGenAiModel);
        var dir = dirCopy.Path;
        var before = Fingerprint(dir);
        var data = Path.Combine(dir, "model.onnx.data");

        FlipByte(data, new FileInfo(data).Length / 2);

        Assert.NotEqual(before, Fingerprint(dir));
    }

    [Theory]
    [InlineData("tokenizer.json")]
    [InlineData("tokenizer_config.json")]
    [InlineData("config.json")]
    [InlineData("genai_config.json")]
    [InlineData("chat_template.jinja")] // not there before: a file added counts too
    public void Fingerprint_TokenizerConfigOrTemplateChanged_Changes(string file)
    {
        using var dirCopy = ModelRuns.CopyFolder(TestPaths.TinyModel);
        var dir = dirCopy.Path;
        var before = Fingerprint(dir);

        File.AppendAllText(Path.Combine(dir, file), " ");

        Assert.NotEqual(before, Fingerprint(dir));
    }

    [Fact]
    public void Fingerprint_HiddenFilesDocsAndUnloadedGraphs_DoNotCount()
    {
        using var dirCopy = ModelRuns.CopyFolder(TestPaths.TinyModel);
        var dir = dirCopy.Path;
        var before = Fingerprint(dir);

        File.WriteAllText(Path.Combine(dir, ".stamp"), "built again");
        File.WriteAllText(Path.Combine(dir, "README.md"), "# notes");
        File.WriteAllText(Path.Combine(dir, "decoder_model.onnx"), "an unmerged decoder the engine does not load");

        Assert.Equal(before, Fingerprint(dir));
    }
}
