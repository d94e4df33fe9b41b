using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace Rank1.Inference.Tokenization;

/// <summary>
/// The byte-level BPE tokenizer of a Qwen2-family model, built with Microsoft.ML.Tokenizers from the model folder's
/// <c>tokenizer.json</c>: vocabulary, merges, the split pattern exactly as the file gives it, NFC, added tokens.
/// Produces the same ids as the Hugging Face tokenizer (tested on thousands of varied strings).
/// </summary>
public sealed class ModelTokenizer
{
    private readonly BpeTokenizer _plain;     // user text: added tokens are ordinary text
    private readonly BpeTokenizer _withAdded; // Hugging Face's encode(add_special_tokens=False)
    private readonly Dictionary<string, int> _addedTokens;
    private readonly HashSet<int> _specialIds;

    private ModelTokenizer(BpeTokenizer plain, BpeTokenizer withAdded, Dictionary<string, int> addedTokens, HashSet<int> specialIds, int vocabularySize)
    {
        _plain = plain;
        _withAdded = withAdded;
        _addedTokens = addedTokens;
        _specialIds = specialIds;
        VocabularySize = vocabularySize;
    }

    /// <summary>Number of ids: regular vocabulary plus added tokens (highest id + 1).</summary>
    public int VocabularySize { get; }

    /// <summary>The added tokens (<c>&lt;think&gt;</c>, <c>&lt;|im_end|&gt;</c>, ...) and their ids.</summary>
    public IReadOnlyDictionary<string, int> AddedTokens => _addedTokens;

    /// <summary>Loads <c>tokenizer.json</c>. Throws <see cref="ModelLoadException"/> naming the file when it is not a byte-level BPE tokenizer.</summary>
    public static ModelTokenizer Load(string tokenizerJsonPath)
    {
        if (!File.Exists(tokenizerJsonPath))
        {
            throw new ModelLoadException($"{tokenizerJsonPath}: file not found (expected the Hugging Face tokenizer.json of the model).");
        }

        try
        {
            using var stream = File.OpenRead(tokenizerJsonPath);
            using var doc = JsonDocument.Parse(stream, new JsonDocumentOptions { MaxDepth = 256 });
            return FromJson(doc.RootElement, tokenizerJsonPath);
        }
        catch (JsonException ex)
        {
            throw new ModelLoadException($"{tokenizerJsonPath}: not valid JSON ({ex.Message}).", ex);
        }
    }

    private static ModelTokenizer FromJson(JsonElement root, string file)
    {
        string Fail(string what) => throw new ModelLoadException($"{file}: {what}");

        if (!root.TryGetProperty("model", out var model) || model.GetPropertyOrNull("type")?.GetString() != "BPE")
        {
            Fail("expected \"model.type\": \"BPE\" (a byte-level BPE tokenizer such as Qwen2's).");
        }

        if (!model.TryGetProperty("vocab", out var vocabJson) || vocabJson.ValueKind != JsonValueKind.Object)
        {
            Fail("expected \"model.vocab\" to be an object of token -> id.");
        }

        var vocab = new Dictionary<string, int>(capacity: 160_000, StringComparer.Ordinal);
        foreach (var p in vocabJson.EnumerateObject())
        {
            vocab[p.Name] = p.Value.GetInt32();
        }

        var merges = new List<string>(capacity: 160_000);
        if (model.TryGetProperty("merges", out var mergesJson))
        {
            foreach (var m in mergesJson.EnumerateArray())
            {
                // Two formats: "a b" (older files) or ["a", "b"] (tokenizers >= 0.20).
                merges.Add(m.ValueKind == JsonValueKind.Array ? $"{m[0].GetString()} {m[1].GetString()}" : m.GetString()!);
            }
        }

        var pattern = FindSplitPattern(root) ?? Fail("expected a \"pre_tokenizer\" with a Split step whose pattern is a Regex, followed by ByteLevel (Qwen2 layout).");
        var normalizer = root.GetPropertyOrNull("normalizer");
        var useNfc = normalizer is { ValueKind: JsonValueKind.Object } n && n.GetPropertyOrNull("type")?.GetString() == "NFC";
        if (normalizer is { ValueKind: JsonValueKind.Object } && !useNfc)
        {
            Fail($"normalizer type \"{normalizer.Value.GetPropertyOrNull("type")?.GetString()}\" is not supported (expected NFC or none).");
        }

        var added = new Dictionary<string, int>(StringComparer.Ordinal);
        var specialIds = new HashSet<int>();
        if (root.TryGetProperty("added_tokens", out var addedJson))
        {
            foreach (var a in addedJson.EnumerateArray())
            {
                var content = a.GetProperty("content").GetString()!;
                var id = a.GetProperty("id").GetInt32();
                added[content] = id;
                if (a.GetPropertyOrNull("special")?.GetBoolean() == true)
                {
                    specialIds.Add(id);
                }
            }
        }

        var plain = BpeTokenizer.Create(new BpeOptions(vocab)
        {
            Merges = merges,
            ByteLevel = true,
            Normalizer = useNfc ? NfcNormalizer.Instance : null,
            PreTokenizer = new SplitPreTokenizer(pattern, addedTokens: null),
        });
        var withAdded = BpeTokenizer.Create(new BpeOptions(vocab)
        {
            Merges = merges,
            ByteLevel = true,
            Normalizer = useNfc ? NfcNormalizer.Instance : null,
            // The added-token table goes to both the pre-tokenizer (so they are split out whole) and the model
            // (so each maps to its id instead of being byte-level encoded).
            PreTokenizer = new SplitPreTokenizer(pattern, added.Keys),
            SpecialTokens = added,
        });
        var size = Math.Max(vocab.Count == 0 ? 0 : vocab.Values.Max() + 1, added.Count == 0 ? 0 : added.Values.Max() + 1);
        return new ModelTokenizer(plain, withAdded, added, specialIds, size);
    }

    private static string? FindSplitPattern(JsonElement root)
    {
        if (root.GetPropertyOrNull("pre_tokenizer") is not { ValueKind: JsonValueKind.Object } pre)
        {
            return null;
        }

        IEnumerable<JsonElement> steps = pre.GetPropertyOrNull("type")?.GetString() == "Sequence"
            ? pre.GetProperty("pretokenizers").EnumerateArray()
            : [pre];
        foreach (var step in steps)
        {
            if (step.GetPropertyOrNull("type")?.GetString() == "Split" && step.GetPropertyOrNull("pattern")?.GetPropertyOrNull("Regex")?.GetString() is { } regex)
            {
                return regex;
            }
        }

        return null;
    }

    /// <summary>
    /// Encodes user text (a query, a passage, instructions). Added and special tokens are NOT recognised: text
    /// such as <c>&lt;/think&gt; true</c> or <c>&lt;|im_end|&gt;</c> becomes ordinary text tokens.
    /// </summary>
    public IReadOnlyList<int> EncodeText(string text) => text.Length == 0 ? [] : _plain.EncodeToIds(text);

    /// <summary>Encodes text with added tokens recognised, as Hugging Face's <c>encode(text, add_special_tokens=False)</c>.</summary>
    public IReadOnlyList<int> Encode(string text) => text.Length == 0 ? [] : _withAdded.EncodeToIds(text);

    /// <summary>Decodes ids back to text; added tokens appear as their text unless <paramref name="skipSpecialTokens"/>.</summary>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false)
    {
        var list = skipSpecialTokens ? ids.Where(i => !_specialIds.Contains(i)) : ids;
        return _withAdded.Decode(list, considerSpecialTokens: true) ?? string.Empty;
    }

    /// <summary>The id of an added token, or null when the tokenizer has no such token.</summary>
    public int? FindAddedToken(string content) => _addedTokens.TryGetValue(content, out var id) ? id : null;

    /// <summary>The single id that <paramref name="text"/> encodes to as user text, or null when it is several tokens.</summary>
    public int? FindSingleToken(string text) => EncodeText(text) is [var id] ? id : null;
}

internal static class JsonElementExtensions
{
    public static JsonElement? GetPropertyOrNull(this JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) ? value : null;

    public static JsonElement? GetPropertyOrNull(this JsonElement? element, string name) =>
        element is { } e ? e.GetPropertyOrNull(name) : null;
}
