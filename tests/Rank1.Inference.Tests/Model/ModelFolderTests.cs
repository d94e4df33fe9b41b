using Microsoft.ML.OnnxRuntime.Tensors;
using Rank1.Inference.Decoding;
using Rank1.Inference.Model;
using Rank1.Testing;

namespace Rank1.Inference.Tests.Model;

public sealed class ModelFolderTests
{
    [Fact]
    public void Open_MissingFolder_NamesIt()
    {
        var path = Path.Combine(Path.GetTempPath(), "no-such-model-" + Guid.NewGuid().ToString("N"));
        var ex = Assert.Throws<ModelLoadException>(() => ModelFolder.Open(path));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_NoGraph_NamesModelOnnx()
    {
        using var dirCopy = ModelRuns.CopyFolder(TestPaths.TinyModel);
        var dir = dirCopy.Path;
        File.Delete(Path.Combine(dir, "model.onnx"));
        File.Delete(Path.Combine(dir, "genai_config.json"));
        var ex = Assert.Throws<ModelLoadException>(() => ModelFolder.Open(dir));
        Assert.Contains(Path.Combine(dir, "model.onnx"), ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_GenAiNamesMissingFile_NamesIt()
    {
        using var dirCopy = ModelRuns.CopyFolder(TestPaths.TinyModel);
        var dir = dirCopy.Path;
        File.Move(Path.Combine(dir, "model.onnx"), Path.Combine(dir, "renamed.onnx"));
        var ex = Assert.Throws<ModelLoadException>(() => ModelFolder.Open(dir));
        Assert.Contains("model.decoder.filename", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// The context length the prompt and reasoning budget are held to (#18): the onnxruntime-genai builder's
    /// <c>model.context_length</c> first, Hugging Face's <c>max_position_embeddings</c> without it.
    /// </summary>
    [Fact]
    public void Open_ContextLength_FromGenAiConfigFirst_ElseFromConfigJson()
    {
        using var dirCopy = ModelRuns.CopyFolder(TestPaths.TinyGenAiModel);
        var dir = dirCopy.Path;
        var genai = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "genai_config.json")))!;
        genai["model"]!["context_length"] = 1000;
        File.WriteAllText(Path.Combine(dir, "genai_config.json"), genai.ToJsonString());
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!;
        config["max_position_embeddings"] = 3000;
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());

        Assert.Equal(1000, ModelFolder.Open(dir).ContextLength);
        File.Delete(Path.Combine(dir, "genai_config.json"));
        Assert.Equal(3000, ModelFolder.Open(dir).ContextLength);
    }

    [Fact]
    public void Open_NoConfigAtAll_SaysWhichFileIsExpected()
    {
        using var dirCopy = ModelRuns.CopyFolder(TestPaths.TinyModel);
        var dir = dirCopy.Path;
        File.Delete(Path.Combine(dir, "genai_config.json"));
        File.Delete(Path.Combine(dir, "config.json"));
        var ex = Assert.Throws<ModelLoadException>(() => ModelFolder.Open(dir));
        Assert.Contains("config.json", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EngineLoad_NoTokenizer_NamesTokenizerJson()
    {
        using var dirCopy = ModelRuns.CopyFolder(TestPaths.TinyModel);
        var dir = dirCopy.Path;
        File.Delete(Path.Combine(dir, "tokenizer.json"));
        var ex = Assert.Throws<ModelLoadException>(() => Rank1Engine.Load(new Rank1EngineOptions { Path = dir, ExecutionProvider = ExecutionProviderKind.Cpu }));
        Assert.Contains(Path.Combine(dir, "tokenizer.json"), ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_CorruptGraph_NamesTheFile()
    {
        using var dirCopy = ModelRuns.CopyFolder(TestPaths.TinyModel);
        var dir = dirCopy.Path;
        File.WriteAllBytes(Path.Combine(dir, "model.onnx"), [1, 2, 3, 4, 5, 6, 7, 8]);
        var ex = Assert.Throws<ModelLoadException>(() => CausalLm.Load(ModelFolder.Open(dir), ExecutionProviderKind.Cpu));
        Assert.Contains(Path.Combine(dir, "model.onnx"), ex.Message, StringComparison.Ordinal);
        Assert.Contains("cannot load", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_GraphWithoutTheNamedKvInputs_SaysAKvCachedDecoderIsExpected()
    {
        using var dirCopy = ModelRuns.CopyFolder(TestPaths.TinyModel);
        var dir = dirCopy.Path;
        var genai = Path.Combine(dir, "genai_config.json");
        File.WriteAllText(genai, File.ReadAllText(genai).Replace("past_key_values.%d.key", "past.%d.k", StringComparison.Ordinal));
        var ex = Assert.Throws<ModelLoadException>(() => CausalLm.Load(ModelFolder.Open(dir), ExecutionProviderKind.Cpu));
        Assert.Contains("KV-cached decoder", ex.Message, StringComparison.Ordinal);
        Assert.Contains("model.onnx", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_GraphWithoutInputIds_ListsTheGraphInputs()
    {
        using var dirCopy = ModelRuns.CopyFolder(TestPaths.TinyModel);
        var dir = dirCopy.Path;
        var genai = Path.Combine(dir, "genai_config.json");
        File.WriteAllText(genai, File.ReadAllText(genai).Replace("\"input_ids\": \"input_ids\"", "\"input_ids\": \"tokens\"", StringComparison.Ordinal));
        var ex = Assert.Throws<ModelLoadException>(() => CausalLm.Load(ModelFolder.Open(dir), ExecutionProviderKind.Cpu));
        Assert.Contains("'tokens'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("attention_mask", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Discover_TinyModels_ReadsNamesTypesAndShapesFromTheGraph()
    {
        using var optimum = CausalLm.Load(ModelFolder.Open(TestPaths.TinyModel), ExecutionProviderKind.Cpu);
        using var builder = CausalLm.Load(ModelFolder.Open(TestPaths.TinyBuilderModel), ExecutionProviderKind.Cpu);
        Assert.Equal(TensorElementType.Int64, optimum.Signature.InputIdsType);
        Assert.Equal("position_ids", optimum.Signature.PositionIds);
        Assert.Equal(TensorElementType.Int32, builder.Signature.InputIdsType);
        Assert.Null(builder.Signature.PositionIds);
        foreach (var s in new[] { optimum.Signature, builder.Signature })
        {
            Assert.Equal((2, 2, 8, 151_936), (s.Layers, s.KvHeads, s.HeadSize, s.VocabularySize));
            Assert.Equal(TensorElementType.Float, s.KvType);
            Assert.Equal("present.1.value", s.PresentValues[1]);
        }
    }

    [Fact]
    public void EngineLoad_TokenizerLargerThanTheGraphVocabulary_Refuses()
    {
        var fixture = TestPaths.Fixture("ort-genai-tiny-qwen2");
        using var dirCopy = ModelRuns.CopyFolder(fixture);
        var dir = dirCopy.Path;
        File.Copy(Path.Combine(TestPaths.TinyModel, "tokenizer.json"), Path.Combine(dir, "tokenizer.json"));
        var ex = Assert.Throws<ModelLoadException>(() => Rank1Engine.Load(new Rank1EngineOptions { Path = dir, ExecutionProvider = ExecutionProviderKind.Cpu }));
        Assert.Contains("do not belong together", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void IsRandomTestModel_ReadFromConfig()
    {
        Assert.True(ModelFolder.Open(TestPaths.TinyModel).IsRandomTestModel);
        using var dirCopy = ModelRuns.CopyFolder(TestPaths.TinyModel);
        var dir = dirCopy.Path;
        var config = Path.Combine(dir, "config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"random_weights\": true", "\"random_weights\": false", StringComparison.Ordinal));
        Assert.False(ModelFolder.Open(dir).IsRandomTestModel);
    }
}
