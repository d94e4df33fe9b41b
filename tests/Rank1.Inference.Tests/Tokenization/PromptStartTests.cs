using System.Text.Json.Nodes;
using Rank1.Inference.Prompt;
using Rank1.Inference.Tokenization;
using Rank1.Testing;

namespace Rank1.Inference.Tests.Tokenization;

/// <summary>
/// The Llama 3 and Mistral Rank1 checkpoints' tokenizers, against Hugging Face's (Tokenizers.DotNet, whose
/// <c>Encode</c> adds special tokens as the reference's <c>encode(prompt)</c> does). Their post-processor puts a
/// beginning-of-text token before every text; Qwen2's puts nothing.
/// </summary>
public sealed class PromptStartTests
{
    /// <summary>The tokenizer files: the real Llama 3.1 and Mistral ones, and Qwen2.5's.</summary>
    public static TheoryData<string> Tokenizers() => new() { "llama3_1", "mistral_nemo", "qwen2_5" };

    private static string Path(string name) => name switch
    {
        "llama3_1" => TestPaths.Llama31TokenizerJson,
        "mistral_nemo" => TestPaths.MistralTokenizerJson,
        _ => TestPaths.QwenTokenizerJson,
    };

    /// <summary>
    /// The tokenizer as a Rank1 checkpoint has it: training adds &lt;think&gt; and &lt;/think&gt; as added tokens
    /// (vocabulary resized: the next free ids). Qwen's file already has them.
    /// </summary>
    private static string Rank1Variant(string name)
    {
        var json = JsonNode.Parse(File.ReadAllText(Path(name)))!.AsObject();
        var added = json["added_tokens"]!.AsArray();
        if (!added.Any(a => a!["content"]!.GetValue<string>() == "<think>"))
        {
            var next = Math.Max(json["model"]!["vocab"]!.AsObject().Max(v => v.Value!.GetValue<int>()), added.Max(a => a!["id"]!.GetValue<int>())) + 1;
            foreach (var (content, id) in new[] { ("<think>", next), ("</think>", next + 1) })
            {
                added.Add(new JsonObject
                {
                    ["id"] = id, ["content"] = content, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
                });
            }
        }

        var file = System.IO.Path.Combine(TestTemp.Folder("rank1-tok"), "tokenizer.json");
        File.WriteAllText(file, json.ToJsonString());
        return file;
    }

    [Theory]
    [MemberData(nameof(Tokenizers))]
    public void Prompt_IsWhatTheReferenceEncodes_BeginningOfTextIncluded(string name)
    {
        var file = Rank1Variant(name);
        var tokenizer = ModelTokenizer.Load(file);
        using var huggingFace = new global::Tokenizers.DotNet.Tokenizer(file);
        var ids = new Rank1TokenIds(tokenizer.FindAddedToken("<think>")!.Value, tokenizer.FindAddedToken("</think>")!.Value,
            tokenizer.FindSingleToken(" true")!.Value, tokenizer.FindSingleToken(" false")!.Value, new HashSet<int>());
        var prompts = new PromptEncoder(tokenizer, ids, contextLength: 32_768, maxQueryTokens: 4_096, maxPassageTokens: 16_384, defaultBudget: 64);
        // Text holding an added token's markup is left out: the reference reads it as that token, while we keep user text
        // ordinary text on purpose (ModelTokenizerTests.EncodeText_AddedTokenMarkup_IsOrdinaryText).
        var corpus = TokenizerCorpus.Build().Where(t => !tokenizer.AddedTokens.Keys.Any(a => t.Contains(a, StringComparison.Ordinal))).ToList();
        var checkedPrompts = 0;
        for (var i = 0; i + 1 < corpus.Count; i += 7)
        {
            var input = new Rank1Input(corpus[i], corpus[i + 1]);
            var expected = huggingFace.Encode(Rank1Prompt.Render(Rank1Prompt.QueryText(input.Query, null), Rank1Prompt.PassageText(null, input.Text)))
                .Select(id => checked((int)id)).ToArray();

            var (actual, truncated) = prompts.Encode(input, settings: null, CancellationToken.None);

            Assert.False(truncated);
            Assert.Equal(expected, actual);
            checkedPrompts++;
        }

        Assert.True(checkedPrompts > 300, $"only {checkedPrompts} prompts compared");
    }

    [Theory]
    [MemberData(nameof(Tokenizers))]
    public void PromptStart_IsTheTokensTheTokenizerPutsBeforeAText(string name)
    {
        // Hugging Face on the empty text gives exactly what its post-processor adds around a text.
        using var huggingFace = new global::Tokenizers.DotNet.Tokenizer(Path(name));
        var expected = huggingFace.Encode(string.Empty).Select(id => checked((int)id)).ToArray();

        var tokenizer = ModelTokenizer.Load(Path(name));

        Assert.Equal(expected, tokenizer.PromptStart);
        Assert.Equal(name == "qwen2_5" ? 0 : 1, expected.Length); // Llama's <|begin_of_text|>, Mistral's <s>; Qwen2 adds none
    }

    [Theory]
    [MemberData(nameof(Tokenizers))]
    public void EncodeText_VariedCorpus_MatchesHuggingFaceAfterItsStart(string name)
    {
        var tokenizer = ModelTokenizer.Load(Path(name));
        using var huggingFace = new global::Tokenizers.DotNet.Tokenizer(Path(name));
        var mismatches = new List<string>();
        foreach (var text in TokenizerCorpus.Build())
        {
            var expected = huggingFace.Encode(text).Select(id => checked((int)id)).ToArray();
            var actual = tokenizer.PromptStart.Concat(tokenizer.Encode(text)).ToArray();
            if (!expected.SequenceEqual(actual))
            {
                mismatches.Add($"{text.Length} chars: hf [{string.Join(',', expected.Take(12))}…] ours [{string.Join(',', actual.Take(12))}…]");
            }
        }

        Assert.True(mismatches.Count == 0, $"{mismatches.Count} mismatches, first ones:\n{string.Join('\n', mismatches.Take(5))}");
    }

    [Theory]
    [InlineData("""{"type":"TemplateProcessing","single":[{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"</s>","type_id":0}}],"special_tokens":{"</s>":{"id":"</s>","ids":[2],"tokens":["</s>"]}}}""", "after the text")]
    [InlineData("""{"type":"RobertaProcessing","sep":["</s>",2],"cls":["<s>",0]}""", "\"RobertaProcessing\" is not supported")]
    [InlineData("""{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],"special_tokens":{}}""", "do not give its ids")]
    public void PostProcessorThatACausalPromptCannotTake_IsRefusedNamingTheFile(string postProcessor, string reason)
    {
        var json = JsonNode.Parse(File.ReadAllText(TestPaths.QwenTokenizerJson))!.AsObject();
        json["post_processor"] = JsonNode.Parse(postProcessor);
        var file = System.IO.Path.Combine(TestTemp.Folder("rank1-tok"), "tokenizer.json");
        File.WriteAllText(file, json.ToJsonString());

        var ex = Assert.Throws<ModelLoadException>(() => ModelTokenizer.Load(file));

        Assert.StartsWith(file + ": ", ex.Message, StringComparison.Ordinal);
        Assert.Contains(reason, ex.Message, StringComparison.Ordinal);
    }
}
