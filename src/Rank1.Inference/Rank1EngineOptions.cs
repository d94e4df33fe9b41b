using System.ComponentModel.DataAnnotations;
using Rank1.Inference.Model;

namespace Rank1.Inference;

/// <summary>Settings of the Rank1 engine (configuration section <c>Rank1:Model</c> in the hosts).</summary>
public sealed class Rank1EngineOptions
{
    /// <summary>The configuration section the hosts bind.</summary>
    public const string SectionName = "Rank1:Model";

    /// <summary>Folder of the exported model (graph, config.json/genai_config.json, tokenizer.json).</summary>
    /// <value>Required.</value>
    [Required(AllowEmptyStrings = false)]
    public string Path { get; set; } = string.Empty;

    /// <summary>Where the model runs.</summary>
    /// <value>Default <see cref="ExecutionProviderKind.Auto"/>.</value>
    public ExecutionProviderKind ExecutionProvider { get; set; } = ExecutionProviderKind.Auto;

    /// <summary>
    /// Refuse to start on the CPU: when no GPU provider can run the model (none in this build, or the one that is cannot
    /// start), loading throws <see cref="AcceleratorUnavailableException"/> and hosts exit with its exit code, instead of
    /// <see cref="ExecutionProviderKind.Auto"/> falling back to the CPU. For deployments that must not run on CPU.
    /// </summary>
    /// <value>Default false.</value>
    public bool RequireAccelerator { get; set; }

    /// <summary>ONNX Runtime intra-op threads; 0 lets ONNX Runtime choose (one per physical core).</summary>
    /// <value>Default 0.</value>
    [Range(0, 1024)]
    public int IntraOpThreads { get; set; }

    /// <summary>GPU ordinal for CUDA / DirectML.</summary>
    /// <value>Default 0.</value>
    [Range(0, 64)]
    public int DeviceId { get; set; }

    /// <summary>
    /// The largest reasoning budget per passage anything takes (this option, proxy rules and caps, the rerank service, a
    /// precompute job, the CLI's --max-think-tokens): one home, so that a budget one accepts is never refused by another.
    /// </summary>
    public const int MaxThinkTokensLimit = 32_768;

    /// <summary>Default reasoning budget per passage, in tokens (callers may lower or raise it per call).</summary>
    /// <value>Default 1024 (Rank1's teacher traces were all under 1,000 tokens).</value>
    [Range(0, MaxThinkTokensLimit)]
    public int MaxThinkTokens { get; set; } = 1024;

    /// <summary>
    /// Most tokens of the query text (the query with its instructions) the model sees; longer text is cut and the
    /// judgement marked truncated. Also the cap on what a caller may ask (<see cref="JudgeSettings.MaxQueryTokens"/>).
    /// Before tokenizing, the text is cut to <see cref="Rank1Engine.CharsPerToken"/> characters per token, so the
    /// cost of a huge query is bounded before the tokenizer sees it.
    /// </summary>
    /// <value>Default 512.</value>
    [Range(1, 131_072)]
    public int MaxQueryTokens { get; set; } = 512;

    /// <summary>
    /// Most tokens of one passage (title and text) the model sees; longer passages are cut and marked truncated.
    /// Also the cap on what a caller may ask (<see cref="JudgeSettings.MaxPassageTokens"/>). The query and passage
    /// caps together, with the instruction line, must fit the model's context (checked when the model loads).
    /// </summary>
    /// <value>Default 2048.</value>
    [Range(1, 131_072)]
    public int MaxPassageTokens { get; set; } = 2048;

    /// <summary>
    /// Rows decoded together (one step reads the weights once for all of them): the passages of one
    /// <see cref="Rank1Engine.JudgeAll"/> call, and with the async calls the passages of concurrent requests, which join
    /// and leave the batch between steps. 1: one passage at a time, with the shared prompt prefix prefilled once.
    /// </summary>
    /// <value>Default 8.</value>
    [Range(1, 64)]
    public int MaxBatch { get; set; } = 8;

    /// <summary>
    /// Batch a graph only when, at load, each of two batched rows gives logits within the graph's precision of the same
    /// row's alone (1e-3, with an fp16 cache 2e-2, of 1 + the largest logit's magnitude; the builder's graphs left-aligned,
    /// Optimum's right-aligned), so that a passage's reasoning and score never depend on what it was batched with. False
    /// also batches a graph whose rows differ from alone only by its kernels' rounding: ONNX
    /// Runtime's <c>MatMulNBits</c> with int8 activations (the builder's int4 for CPU) at quantization blocks of 64 or
    /// more sums a row differently on some CPUs when it runs paired with another, and the next node's int8 rounding can make that
    /// a step. The load checks that each row's logits still depend on nothing but its own tokens, not on the other row's
    /// nor on the cache's padding (information 1014 with the distance); a graph that fails that check decodes one row at
    /// a time either way (warning 1013).
    /// </summary>
    /// <value>Default true.</value>
    public bool ExactBatching { get; set; } = true;

    /// <summary>
    /// Passages that may wait for a batch slot (concurrent async calls share one continuous batch of
    /// <see cref="MaxBatch"/> rows), each caller's counted up to <see cref="MaxQueuedPassagesPerCaller"/> (a bigger call
    /// weighs one share, so this ÷ that many big calls wait side by side). Beyond it a call fails at once with
    /// <see cref="Rank1OverloadedException"/>; a single call larger than this is still accepted when nothing else waits.
    /// </summary>
    /// <value>Default 256.</value>
    [Range(1, 1_000_000)]
    public int MaxQueuedPassages { get; set; } = 256;

    /// <summary>
    /// Passages one caller (<see cref="JudgeSettings.Caller"/>: one proxy request, all items of an <c>_msearch</c>
    /// together; by default each call) may have waiting for a batch slot. Free slots go to the waiting callers in
    /// turn, the one with the fewest prompt tokens in the batch first, so neither a big window nor long prompts can
    /// starve a small one queued after them. A call of a caller that already has passages waiting fails at once with <see cref="Rank1OverloadedException"/>
    /// when it would pass this; a larger call is accepted when its caller has nothing waiting, and a caller's passages
    /// beyond this many do not count against <see cref="MaxQueuedPassages"/>, so a big window never shuts out another
    /// caller, and <see cref="MaxQueuedPassages"/> ÷ this many big windows (4 by default) are admitted side by side.
    /// </summary>
    /// <value>Default 64.</value>
    [Range(1, 1_000_000)]
    public int MaxQueuedPassagesPerCaller { get; set; } = 64;

    /// <summary>
    /// Most mebibytes the continuous batch's KV cache may hold (rows × the longest length a row can reach, prompt plus
    /// reasoning budget, × the bytes of one position), never more than <see cref="MaxBatch"/> rows of the whole context:
    /// a row that would widen the cache past it waits, with the rows queued after it, until rows leave; a row always
    /// enters an empty batch. The cache lives in host memory with every execution provider; an admission holds up to
    /// three copies of it for a moment. Raise it for large models whose batch it would otherwise narrow (a 7B model's
    /// position takes about 56 KiB).
    /// </summary>
    /// <value>Default 256.</value>
    [Range(1, 1_048_576)]
    public int MaxBatchCacheMiB { get; set; } = BatchCacheDefaultMiB;

    /// <summary>The default of <see cref="MaxBatchCacheMiB"/>.</summary>
    internal const int BatchCacheDefaultMiB = 256;
}
