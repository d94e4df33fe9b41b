using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Rank1.Inference.Model;

/// <summary>
/// The inputs and outputs of a KV-cached causal LM graph, discovered from the session metadata (names, element
/// types, KV shapes), with <c>genai_config.json</c>'s names taking precedence where the folder has one.
/// </summary>
internal sealed class ModelSignature
{
    /// <summary>Name of the token id input.</summary>
    public required string InputIds { get; init; }

    /// <summary>Element type of the token ids: Int64 (Optimum) or Int32 (model builder).</summary>
    public required TensorElementType InputIdsType { get; init; }

    /// <summary>Name of the attention mask input, or null when the graph has none.</summary>
    public string? AttentionMask { get; init; }

    /// <summary>Element type of the attention mask.</summary>
    public TensorElementType AttentionMaskType { get; init; } = TensorElementType.Int64;

    /// <summary>Name of the position id input, or null when the graph derives positions itself (model builder).</summary>
    public string? PositionIds { get; init; }

    /// <summary>Name of the boolean <c>use_cache_branch</c> input of merged Optimum decoders, if present.</summary>
    public string? UseCacheBranch { get; init; }

    /// <summary>Past key input names, one per layer.</summary>
    public required IReadOnlyList<string> PastKeys { get; init; }

    /// <summary>Past value input names, one per layer.</summary>
    public required IReadOnlyList<string> PastValues { get; init; }

    /// <summary>Present key output names, one per layer.</summary>
    public required IReadOnlyList<string> PresentKeys { get; init; }

    /// <summary>Present value output names, one per layer.</summary>
    public required IReadOnlyList<string> PresentValues { get; init; }

    /// <summary>Name of the logits output.</summary>
    public required string Logits { get; init; }

    /// <summary>Element type of the logits (Float or Float16).</summary>
    public required TensorElementType LogitsType { get; init; }

    /// <summary>Element type of the KV cache (Float or Float16).</summary>
    public required TensorElementType KvType { get; init; }

    /// <summary>Key/value heads.</summary>
    public required int KvHeads { get; init; }

    /// <summary>Size of one attention head.</summary>
    public required int HeadSize { get; init; }

    /// <summary>Vocabulary size (last logits dimension) when the graph states it, else null.</summary>
    public int? VocabularySize { get; init; }

    /// <summary>Number of decoder layers.</summary>
    public int Layers => PastKeys.Count;

    internal static ModelSignature Discover(InferenceSession session, ModelFolder folder)
    {
        var inputs = session.InputMetadata;
        var outputs = session.OutputMetadata;
        var file = folder.GraphPath;
        string Name(string key, string fallback) => folder.GenAiNames.TryGetValue(key, out var n) ? n : fallback;

        var ids = Name("input_ids", "input_ids");
        if (!inputs.TryGetValue(ids, out var idsMeta) || idsMeta.ElementDataType is not (TensorElementType.Int64 or TensorElementType.Int32))
        {
            throw new ModelLoadException($"{file}: expected an input '{ids}' of int64 or int32 token ids; the graph has inputs [{string.Join(", ", inputs.Keys)}].");
        }

        var logits = Name("logits", "logits");
        if (!outputs.TryGetValue(logits, out var logitsMeta) || logitsMeta.ElementDataType is not (TensorElementType.Float or TensorElementType.Float16))
        {
            throw new ModelLoadException($"{file}: expected an output '{logits}' of float or float16 logits; the graph has outputs [{string.Join(", ", outputs.Keys)}].");
        }

        var pastKeys = FindLayers(inputs.Keys, Name("past_key_names", "past_key_values.%d.key"));
        var pastValues = FindLayers(inputs.Keys, Name("past_value_names", "past_key_values.%d.value"));
        var presentKeys = FindLayers(outputs.Keys, Name("present_key_names", "present.%d.key"));
        var presentValues = FindLayers(outputs.Keys, Name("present_value_names", "present.%d.value"));
        if (pastKeys.Count == 0 || pastKeys.Count != pastValues.Count || pastKeys.Count != presentKeys.Count || pastKeys.Count != presentValues.Count)
        {
            throw new ModelLoadException(
                $"{file}: expected a KV-cached decoder with past_key_values.N.key/value inputs and present.N.key/value outputs for every layer " +
                $"(found {pastKeys.Count} past keys, {pastValues.Count} past values, {presentKeys.Count} present keys, {presentValues.Count} present values). " +
                "Export with Optimum's task text-generation-with-past or the onnxruntime-genai model builder.");
        }

        var kvMeta = inputs[pastKeys[0]];
        if (kvMeta.ElementDataType is not (TensorElementType.Float or TensorElementType.Float16) || kvMeta.Dimensions.Length != 4)
        {
            throw new ModelLoadException($"{file}: expected '{pastKeys[0]}' to be a float or float16 tensor [batch, kv_heads, past_length, head_size]; it is {kvMeta.ElementDataType} with {kvMeta.Dimensions.Length} dimensions.");
        }

        var kvHeads = kvMeta.Dimensions[1] > 0 ? kvMeta.Dimensions[1] : folder.KeyValueHeads
            ?? throw new ModelLoadException($"{file}: the KV head count is symbolic in the graph and config.json/genai_config.json do not state num_key_value_heads.");
        var headSize = kvMeta.Dimensions[3] > 0 ? kvMeta.Dimensions[3] : folder.HeadSize
            ?? throw new ModelLoadException($"{file}: the head size is symbolic in the graph and config.json/genai_config.json do not state it.");

        var mask = Name("attention_mask", "attention_mask");
        var position = Name("position_ids", "position_ids");
        return new ModelSignature
        {
            InputIds = ids,
            InputIdsType = idsMeta.ElementDataType,
            AttentionMask = inputs.ContainsKey(mask) ? mask : null,
            AttentionMaskType = inputs.TryGetValue(mask, out var maskMeta) ? maskMeta.ElementDataType : TensorElementType.Int64,
            // genai_config.json may name position_ids although the builder's graph has no such input: the graph decides.
            PositionIds = inputs.ContainsKey(position) ? position : null,
            UseCacheBranch = inputs.ContainsKey("use_cache_branch") ? "use_cache_branch" : null,
            PastKeys = pastKeys,
            PastValues = pastValues,
            PresentKeys = presentKeys,
            PresentValues = presentValues,
            Logits = logits,
            LogitsType = logitsMeta.ElementDataType,
            KvType = kvMeta.ElementDataType,
            KvHeads = kvHeads,
            HeadSize = headSize,
            VocabularySize = logitsMeta.Dimensions is [.., > 0 and var v] ? v : null,
        };
    }

    // "past_key_values.%d.key" -> the names for layers 0..N-1, contiguous from 0.
    private static List<string> FindLayers(IEnumerable<string> names, string pattern)
    {
        var parts = pattern.Split("%d");
        if (parts.Length != 2)
        {
            return [];
        }

        var regex = new Regex("^" + Regex.Escape(parts[0]) + @"(\d+)" + Regex.Escape(parts[1]) + "$", RegexOptions.CultureInvariant);
        var layers = new SortedDictionary<int, string>();
        foreach (var name in names)
        {
            var m = regex.Match(name);
            if (m.Success)
            {
                layers[int.Parse(m.Groups[1].ValueSpan, CultureInfo.InvariantCulture)] = name;
            }
        }

        var result = new List<string>();
        for (var i = 0; layers.TryGetValue(i, out var n); i++)
        {
            result.Add(n);
        }

        return result.Count == layers.Count ? result : [];
    }
}
