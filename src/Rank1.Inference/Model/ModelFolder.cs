using System.Text.Json;
using Rank1.Inference.Tokenization;

namespace Rank1.Inference.Model;

/// <summary>
/// What a model folder holds: the ONNX graph (<c>model.onnx</c>, or the file <c>genai_config.json</c> names), the
/// Hugging Face <c>config.json</c> and/or <c>genai_config.json</c>, and <c>tokenizer.json</c>. Both an Optimum
/// export and an onnxruntime-genai model-builder export load.
/// </summary>
public sealed class ModelFolder
{
    private static readonly string[] GraphCandidates = ["model.onnx", "decoder_model_merged.onnx"];

    private readonly Lazy<string> _fingerprint;

    private ModelFolder(string path, string graphPath)
    {
        FolderPath = path;
        GraphPath = graphPath;
        _fingerprint = new(() => ModelFingerprint.Compute(path, graphPath));
    }

    /// <summary>The folder.</summary>
    public string FolderPath { get; }

    /// <summary>The ONNX graph file.</summary>
    public string GraphPath { get; }

    /// <summary><c>tokenizer.json</c>, or null when the folder has none (a model driven by token ids only).</summary>
    public string? TokenizerPath { get; private init; }

    /// <summary>Input/output name patterns from <c>genai_config.json</c> (keys as that file spells them), if any.</summary>
    public IReadOnlyDictionary<string, string> GenAiNames { get; private init; } = new Dictionary<string, string>();

    /// <summary>End-of-sequence ids from <c>config.json</c> / <c>genai_config.json</c>.</summary>
    public IReadOnlyList<int> EosTokenIds { get; private init; } = [];

    /// <summary>Key/value heads from the configuration, used when the graph leaves the dimension symbolic.</summary>
    public int? KeyValueHeads { get; private init; }

    /// <summary>Head size from the configuration, used when the graph leaves the dimension symbolic.</summary>
    public int? HeadSize { get; private init; }

    /// <summary>Context length from the configuration, if stated.</summary>
    public int? ContextLength { get; private init; }

    /// <summary>True when config.json marks the weights as random (a generated test model): scores are then meaningless.</summary>
    public bool IsRandomTestModel { get; private init; }

    /// <summary>
    /// A short model id for people (logs, health, the stored <c>model_id</c>): config.json's <c>_name_or_path</c>, else the
    /// folder name. A name says nothing of the weights: what the reasoning store keys on is <see cref="Fingerprint"/>.
    /// </summary>
    public string ModelId { get; private init; } = string.Empty;

    /// <summary>
    /// The model's identity by content (<see cref="ModelFingerprint"/>): read from every file that can change its
    /// answers on first use (the engine's load), once. Throws <see cref="ModelLoadException"/> when a file cannot be read.
    /// </summary>
    public string Fingerprint => _fingerprint.Value;

    /// <summary>Reads the folder. Throws <see cref="ModelLoadException"/> naming the missing or malformed file.</summary>
    public static ModelFolder Open(string path)
    {
        if (string.IsNullOrWhiteSpace(path) || !Directory.Exists(path))
        {
            throw new ModelLoadException($"{path}: model folder not found (expected a folder with model.onnx or genai_config.json, config.json and tokenizer.json).");
        }

        path = Path.GetFullPath(path);
        var genaiPath = Path.Combine(path, "genai_config.json");
        var configPath = Path.Combine(path, "config.json");
        if (IsUnreadableFolder(path, [genaiPath, configPath, Path.Combine(path, "tokenizer.json"), .. GraphCandidates.Select(c => Path.Combine(path, c))]))
        {
            throw new ModelLoadException($"{path}: model folder cannot be read (permission denied).");
        }

        JsonDocument? genai = ReadJson(genaiPath);
        JsonDocument? config = ReadJson(configPath);
        try
        {
            var decoder = genai?.RootElement.GetPropertyOrNull("model").GetPropertyOrNull("decoder");
            string graph;
            if (decoder?.GetPropertyOrNull("filename") is { } filename)
            {
                var named = filename.ValueKind == JsonValueKind.String && filename.GetString() is { Length: > 0 } text
                    ? text
                    : throw new ModelLoadException($"{genaiPath}: model.decoder.filename must name the graph file (got {filename.GetRawText()}).");
                graph = Path.Combine(path, named);
                if (!File.Exists(graph))
                {
                    throw new ModelLoadException($"{graph}: file not found (genai_config.json names it as model.decoder.filename).");
                }
            }
            else
            {
                graph = GraphCandidates.Select(c => Path.Combine(path, c)).FirstOrDefault(File.Exists)
                    ?? throw new ModelLoadException($"{Path.Combine(path, "model.onnx")}: file not found (expected model.onnx, decoder_model_merged.onnx, or a genai_config.json naming the graph).");
            }

            if (config is null && genai is null)
            {
                throw new ModelLoadException($"{configPath}: file not found (expected config.json or genai_config.json describing the model).");
            }

            var names = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var section in new[] { "inputs", "outputs" })
            {
                if (decoder?.GetPropertyOrNull(section) is { ValueKind: JsonValueKind.Object } map)
                {
                    foreach (var p in map.EnumerateObject())
                    {
                        if (p.Value.ValueKind == JsonValueKind.String)
                        {
                            names[p.Name] = p.Value.GetString()!;
                        }
                    }
                }
            }

            var eos = new List<int>();
            AddIds(config?.RootElement.GetPropertyOrNull("eos_token_id"), eos);
            AddIds(genai?.RootElement.GetPropertyOrNull("model").GetPropertyOrNull("eos_token_id"), eos);
            var cfg = config?.RootElement;
            var heads = GetInt(cfg.GetPropertyOrNull("num_attention_heads")) ?? GetInt(decoder.GetPropertyOrNull("num_attention_heads"));
            var hidden = GetInt(cfg.GetPropertyOrNull("hidden_size")) ?? GetInt(decoder.GetPropertyOrNull("hidden_size"));
            var headSize = GetInt(decoder.GetPropertyOrNull("head_size")) ?? GetInt(cfg.GetPropertyOrNull("head_dim"))
                ?? (heads is > 0 && hidden is > 0 ? hidden / heads : null);
            var tokenizer = Path.Combine(path, "tokenizer.json");
            return new ModelFolder(path, graph)
            {
                TokenizerPath = File.Exists(tokenizer) ? tokenizer : null,
                GenAiNames = names,
                EosTokenIds = eos.Distinct().ToArray(),
                KeyValueHeads = GetInt(decoder.GetPropertyOrNull("num_key_value_heads")) ?? GetInt(cfg.GetPropertyOrNull("num_key_value_heads")) ?? heads,
                HeadSize = headSize,
                ContextLength = GetInt(genai?.RootElement.GetPropertyOrNull("model").GetPropertyOrNull("context_length"))
                    ?? GetInt(cfg.GetPropertyOrNull("max_position_embeddings")),
                IsRandomTestModel = cfg.GetPropertyOrNull("rank1_test_model").GetPropertyOrNull("random_weights")?.ValueKind == JsonValueKind.True,
                ModelId = cfg.GetPropertyOrNull("_name_or_path") is { ValueKind: JsonValueKind.String } nameOrPath && nameOrPath.GetString() is { Length: > 0 } id
                    ? id
                    : Path.GetFileName(path),
            };
        }
        finally
        {
            genai?.Dispose();
            config?.Dispose();
        }
    }

    /// <summary>
    /// Throws <see cref="ModelLoadException"/> naming the first file of the model (those <see cref="ModelFingerprint"/>
    /// reads: the graph, its external data, the configuration and tokenizer files) that cannot be opened for reading.
    /// Checked before ONNX Runtime opens the graph: its .NET binding ended the process on an external-data file it may
    /// not read, with an exception of its own (<c>KeyNotFoundException: The given key '13'</c>) instead of its error.
    /// </summary>
    public void ThrowIfUnreadable()
    {
        foreach (var (_, file) in ModelFingerprint.Files(FolderPath, GraphPath))
        {
            try
            {
                using var handle = File.OpenHandle(file, FileMode.Open, FileAccess.Read, FileShare.Read);
            }
            catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
            {
                throw Unreadable(file, ex);
            }
        }
    }

    private static JsonDocument? ReadJson(string file)
    {
        if (!File.Exists(file))
        {
            return null;
        }

        try
        {
            return JsonDocument.Parse(File.ReadAllBytes(file));
        }
        catch (JsonException ex)
        {
            throw new ModelLoadException($"{file}: not valid JSON ({ex.Message}).", ex);
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            throw Unreadable(file, ex);
        }
    }

    /// <summary>A model file (or the folder) that exists but cannot be read, named, with why.</summary>
    internal static ModelLoadException Unreadable(string path, Exception error) =>
        new($"{path}: cannot be read ({(error is UnauthorizedAccessException ? "permission denied" : error.Message.TrimEnd('.'))}).", error);

    /// <summary>
    /// True when the folder's entries cannot be listed and none of its files can be seen (no read or search
    /// permission): its files are not missing, they cannot be read.
    /// </summary>
    private static bool IsUnreadableFolder(string path, IEnumerable<string> files)
    {
        try
        {
            using var entries = Directory.EnumerateFileSystemEntries(path).GetEnumerator();
            _ = entries.MoveNext();
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return !files.Any(File.Exists);
        }
    }

    private static int? GetInt(JsonElement? e) => e is { ValueKind: JsonValueKind.Number } n && n.TryGetInt32(out var v) ? v : null;

    private static void AddIds(JsonElement? e, List<int> into)
    {
        if (e is { ValueKind: JsonValueKind.Array } arr)
        {
            into.AddRange(arr.EnumerateArray().Select(x => GetInt(x)).OfType<int>());
        }
        else if (GetInt(e) is { } single)
        {
            into.Add(single);
        }
    }
}
