using System.Text.Json;
using Microsoft.ML.Tokenizers;
using Rank1.Inference.Model;

namespace Rank1.Inference.Tokenization;

/// <summary>
/// The byte-level BPE tokenizer of a Rank1 checkpoint (Qwen2.5; the Llama 3 and Mistral variants too), built with
/// Microsoft.ML.Tokenizers from the model folder's <c>tokenizer.json</c>: vocabulary, merges, the split pattern exactly
/// as the file gives it, NFC when it asks, added tokens, and the special tokens its post-processor puts before a text
/// (<see cref="PromptStart"/>). Produces the same ids as the Hugging Face tokenizer (tested on thousands of varied
/// strings, long text without spaces among them, with Qwen2.5's, Llama 3.1's and Mistral's tokenizer.json). Encoding costs O(n log n) in the input and honours cancellation (<see cref="ByteLevelBpe"/>);
/// decoding uses the library's BPE.
/// </summary>
internal sealed class ModelTokenizer
{
    private readonly ByteLevelBpe _bpe;
    private readonly SplitPreTokenizer _plainSplit;     // user text: added tokens are ordinary text
    private readonly SplitPreTokenizer _withAddedSplit; // Hugging Face's encode(add_special_tokens=False)
    private readonly bool _useNfc;
    private readonly BpeTokenizer _decoder;
    private readonly Dictionary<string, int> _addedTokens;
    private readonly HashSet<int> _specialIds;

    private ModelTokenizer(ByteLevelBpe bpe, string pattern, bool useNfc, BpeTokenizer decoder, Dictionary<string, int> addedTokens, HashSet<int> specialIds, int vocabularySize,
        int[] promptStart)
    {
        PromptStart = promptStart;
        _bpe = bpe;
        _plainSplit = new SplitPreTokenizer(pattern, addedTokens: null);
        _withAddedSplit = new SplitPreTokenizer(pattern, addedTokens.Keys);
        _useNfc = useNfc;
        _decoder = decoder;
        _addedTokens = addedTokens;
        _specialIds = specialIds;
        VocabularySize = vocabularySize;
    }

    /// <summary>Number of ids: regular vocabulary plus added tokens (highest id + 1).</summary>
    public int VocabularySize { get; }

    /// <summary>
    /// The special tokens the tokenizer's post-processor puts before a text (its <c>TemplateProcessing</c>'s
    /// <c>single</c> template): Llama 3's <c>&lt;|begin_of_text|&gt;</c>, Mistral's <c>&lt;s&gt;</c>; none for Qwen2. The
    /// reference encodes its prompt with special tokens on (Hugging Face's <c>encode(prompt)</c>), so a prompt starts
    /// with them.
    /// </summary>
    public IReadOnlyList<int> PromptStart { get; }

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
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            throw ModelFolder.Unreadable(tokenizerJsonPath, ex);
        }
        catch (Exception ex) when (ex is InvalidOperationException or KeyNotFoundException or IndexOutOfRangeException or FormatException or ArgumentException)
        {
            // Valid JSON of another shape (an array, a vocab id that is a string, an added token without "content", a
            // pattern that is no regex): JsonElement's own exceptions, which ended the process uncaught.
            throw new ModelLoadException($"{tokenizerJsonPath}: not a Hugging Face tokenizer.json of the expected layout ({ex.Message.TrimEnd('.')}).", ex);
        }
    }

    private static ModelTokenizer FromJson(JsonElement root, string file)
    {
        string Fail(string what) => throw new ModelLoadException($"{file}: {what}");

        if (root.ValueKind != JsonValueKind.Object)
        {
            Fail($"expected a JSON object (a Hugging Face tokenizer.json), not {(root.ValueKind == JsonValueKind.Array ? "an array" : "a " + root.ValueKind.ToString().ToLowerInvariant())}.");
        }

        if (!root.TryGetProperty("model", out var model) || model.GetPropertyOrNull("type") is not { ValueKind: JsonValueKind.String } type || type.GetString() != "BPE")
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

        var bpe = ByteLevelBpe.Create(vocab, merges, model.GetPropertyOrNull("ignore_merges")?.ValueKind == JsonValueKind.True, out var bpeError);
        if (bpe is null)
        {
            Fail(bpeError!);
        }

        var decoder = BpeTokenizer.Create(new BpeOptions(vocab)
        {
            Merges = merges,
            ByteLevel = true,
            SpecialTokens = added,
        });
        var size = Math.Max(vocab.Count == 0 ? 0 : vocab.Values.Max() + 1, added.Count == 0 ? 0 : added.Values.Max() + 1);
        return new ModelTokenizer(bpe!, pattern, useNfc, decoder, added, specialIds, size, PromptStartIds(root, file));
    }

    /// <summary>
    /// The ids Hugging Face's post-processor puts before a single text: the special tokens ahead of <c>$A</c> in a
    /// <c>TemplateProcessing</c> (alone or in a <c>Sequence</c>; <c>ByteLevel</c> processing only changes offsets). A
    /// template that puts tokens after the text, or another kind of processor (BERT's, RoBERTa's), has no place in a
    /// causal prompt: refused, naming it.
    /// </summary>
    private static int[] PromptStartIds(JsonElement root, string file)
    {
        if (root.GetPropertyOrNull("post_processor") is not { ValueKind: JsonValueKind.Object } post)
        {
            return [];
        }

        IEnumerable<JsonElement> processors = post.GetPropertyOrNull("type")?.GetString() == "Sequence"
            ? post.GetPropertyOrNull("processors") is { ValueKind: JsonValueKind.Array } list ? list.EnumerateArray() : []
            : [post];
        var start = new List<int>();
        foreach (var processor in processors)
        {
            switch (processor.GetPropertyOrNull("type")?.GetString())
            {
                case "ByteLevel":
                    break;
                case "TemplateProcessing":
                    start.AddRange(TemplateStart(processor, file));
                    break;
                case var other:
                    throw new ModelLoadException($"{file}: post_processor type \"{other}\" is not supported (expected TemplateProcessing, ByteLevel or a Sequence of them, as causal LM tokenizers have).");
            }
        }

        return [.. start];
    }

    private static List<int> TemplateStart(JsonElement template, string file)
    {
        var ids = new List<int>();
        var seenText = false;
        foreach (var piece in template.GetPropertyOrNull("single") is { ValueKind: JsonValueKind.Array } single ? single.EnumerateArray() : [])
        {
            if (piece.GetPropertyOrNull("Sequence") is not null)
            {
                seenText = true;
                continue;
            }

            var name = piece.GetPropertyOrNull("SpecialToken")?.GetPropertyOrNull("id")?.GetString()
                ?? throw new ModelLoadException($"{file}: post_processor template piece {piece.GetRawText()} is neither a SpecialToken nor the Sequence.");
            if (seenText)
            {
                throw new ModelLoadException($"{file}: the post_processor template puts \"{name}\" after the text; a Rank1 prompt ends with <think>, so nothing may follow it.");
            }

            var tokenIds = template.GetPropertyOrNull("special_tokens")?.GetPropertyOrNull(name)?.GetPropertyOrNull("ids") is { ValueKind: JsonValueKind.Array } found
                ? found.EnumerateArray().Select(i => i.GetInt32()).ToArray()
                : throw new ModelLoadException($"{file}: the post_processor template names \"{name}\" but its special_tokens do not give its ids.");
            ids.AddRange(tokenIds);
        }

        return ids;
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
    public IReadOnlyList<int> EncodeText(string text, CancellationToken cancellationToken = default) => Encode(text, _plainSplit, int.MaxValue, cancellationToken).Ids;

    /// <summary>Encodes text with added tokens recognised, as Hugging Face's <c>encode(text, add_special_tokens=False)</c>.</summary>
    public IReadOnlyList<int> Encode(string text, CancellationToken cancellationToken = default) => Encode(text, _withAddedSplit, int.MaxValue, cancellationToken).Ids;

    /// <summary>
    /// The longest prefix of <paramref name="text"/> (after NFC, when the tokenizer asks for it) whose user-text
    /// encoding has at most <paramref name="maxTokens"/> tokens, cut on a character boundary; the text itself (normalized)
    /// when it fits. Only the kept part is encoded.
    /// </summary>
    public (string Text, bool Truncated) Truncate(string text, int maxTokens, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentOutOfRangeException.ThrowIfNegative(maxTokens);
        var (_, normalized, cut) = Encode(text, _plainSplit, maxTokens, cancellationToken);
        return cut is { } at ? (normalized[..at], true) : (normalized, false);
    }

    /// <summary>
    /// The shortest suffix of <paramref name="text"/> (after NFC, when the tokenizer asks for it) holding the last
    /// <paramref name="maxTokens"/> tokens of its user-text encoding, cut where the first of them begins (a character
    /// partly in a dropped token is kept whole); the text itself (normalized) when it fits. Hugging Face's truncation with
    /// direction <c>Left</c> keeps a sequence's last tokens (tokenizers' <c>TruncationDirection::Left</c>, as TEI's
    /// core/src/tokenization.rs passes <c>truncation_direction</c> on).
    /// </summary>
    public (string Text, bool Truncated) TruncateStart(string text, int maxTokens, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentOutOfRangeException.ThrowIfNegative(maxTokens);
        var (ids, normalized, _) = Encode(text, _plainSplit, int.MaxValue, cancellationToken);
        var drop = ids.Count - maxTokens;
        if (drop <= 0)
        {
            return (normalized, false);
        }

        while (true)
        {
            // The first kept token may encode apart once it starts the text (its merges with the dropped one gone), one or two
            // more: as many more are dropped until the suffix fits, so that it is at most maxTokens, as Truncate's cut is.
            var kept = Suffix(normalized, drop, cancellationToken);
            var count = Encode(kept, _plainSplit, int.MaxValue, cancellationToken).Ids.Count;
            if (count <= maxTokens)
            {
                return (kept, true);
            }

            drop += count - maxTokens;
        }
    }

    // The normalized text from where its token number drop (of its user-text encoding) begins: Encode stopped at drop
    // tokens cuts there (NFC again changes nothing); empty when the text has no more tokens than that.
    private string Suffix(string normalized, int drop, CancellationToken cancellationToken) =>
        Encode(normalized, _plainSplit, drop, cancellationToken) is (_, var text, { } at) ? text[at..] : string.Empty;

    /// <summary>
    /// Normalizes, splits and merges. Stops at <paramref name="maxTokens"/>: the ids that fit and the character offset
    /// in the normalized text where the first token that does not fit begins (null when everything fits).
    /// </summary>
    private (List<int> Ids, string Normalized, int? Cut) Encode(string text, SplitPreTokenizer split, int maxTokens, CancellationToken cancellationToken)
    {
        var ids = new List<int>();
        if (text.Length == 0)
        {
            return (ids, text, null);
        }

        cancellationToken.ThrowIfCancellationRequested();
        var normalized = _useNfc ? UnicodeNormalization.Normalize(text, System.Text.NormalizationForm.FormC) : text;
        var piece = new List<int>();
        foreach (var (offset, length) in split.Split(normalized))
        {
            cancellationToken.ThrowIfCancellationRequested();
            piece.Clear();
            var span = normalized.AsSpan(offset, length);
            if (split.HasAddedTokens && _addedTokens.TryGetValue(span.ToString(), out var addedId))
            {
                piece.Add(addedId);
            }
            else
            {
                _bpe.Encode(span, piece, cancellationToken);
            }

            if (ids.Count + piece.Count > maxTokens)
            {
                var keep = maxTokens - ids.Count;
                ids.AddRange(piece.Take(keep));
                return (ids, normalized, offset + CharsInBytes(span, piece.Take(keep).Sum(_bpe.TokenBytes)));
            }

            ids.AddRange(piece);
        }

        return (ids, normalized, null);
    }

    /// <summary>How many leading characters of <paramref name="text"/> fit in <paramref name="bytes"/> UTF-8 bytes (a character is never split).</summary>
    private static int CharsInBytes(ReadOnlySpan<char> text, int bytes)
    {
        var chars = 0;
        while (chars < text.Length)
        {
            System.Text.Rune.DecodeFromUtf16(text[chars..], out var rune, out var consumed);
            bytes -= rune.Utf8SequenceLength;
            if (bytes < 0)
            {
                break;
            }

            chars += consumed;
        }

        return chars;
    }

    /// <summary>Pre-tokens merged afresh since the tokenizer was loaded (not kept from before, <see cref="ByteLevelBpe"/>): the tests count them.</summary>
    internal long PiecesMerged => _bpe.Merged;

    /// <summary>Decodes ids back to text; added tokens appear as their text unless <paramref name="skipSpecialTokens"/>.</summary>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false)
    {
        var list = skipSpecialTokens ? ids.Where(i => !_specialIds.Contains(i)) : ids;
        return _decoder.Decode(list, considerSpecialTokens: true) ?? string.Empty;
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
