using System.Globalization;
using System.Text.Json;
using Rank1.Inference;
using Rank1.Inference.Model;
using Rank1.SearchBridge.Cli.CommandLine;
using Rank1.SearchBridge.Http;

namespace Rank1.SearchBridge.Cli.Commands;

/// <summary>
/// Prints reranked passages as a readable list (control characters of the query, ids, passages and reasoning shown as
/// U+FFFD: <see cref="ConsoleText"/>) or as one JSON document (exact).
/// </summary>
internal static class RerankOutput
{
    public static async Task WriteTextAsync(TextWriter output, string query, ExecutionProviderChoice provider, IReadOnlyList<PassageRecord> passages, IReadOnlyList<RankedPassage> ranked)
    {
        await output.WriteLineAsync($"Query: {ConsoleText.Visible(query.ReplaceLineEndings(" "))}").ConfigureAwait(false);
        await output.WriteLineAsync($"Execution provider: {provider.Actual} (requested {provider.Requested}){(provider.Fallback is null ? string.Empty : $"; fell back to the CPU: {provider.Fallback}")}").ConfigureAwait(false);
        await output.WriteLineAsync().ConfigureAwait(false);
        var idWidth = Math.Max(2, passages.Max(p => ConsoleText.Visible(p.Id).Length));
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"{"rank",4}  {"id".PadRight(idWidth)}  {"score",7}  {"verdict",-10}  {"tokens",6}  {"ended",-9}  {"was",4}")).ConfigureAwait(false);
        for (var r = 0; r < ranked.Count; r++)
        {
            var p = passages[ranked[r].Index];
            var title = string.IsNullOrWhiteSpace(p.Title) ? string.Empty : $"[{ConsoleText.Visible(p.Title.ReplaceLineEndings(" "))}] ";
            if (ranked[r].Judgement is not { } j)
            {
                // Not judged (a NaN score): after the judged passages, in input order, with why, as the proxy marks a failed hit.
                await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"{r + 1,4}  {ConsoleText.Visible(p.Id).PadRight(idWidth)}  {"-",7}  {"failed",-10}  {"-",6}  {"-",-9}  {ranked[r].Index + 1,4}")).ConfigureAwait(false);
                await output.WriteLineAsync($"      passage:   {title}{Clip(p.Text, 160)}").ConfigureAwait(false);
                await output.WriteLineAsync($"      error:     {ranked[r].Error}").ConfigureAwait(false);
                continue;
            }

            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{r + 1,4}  {ConsoleText.Visible(p.Id).PadRight(idWidth)}  {j.Score,7:0.0000}  {(j.Relevant ? "relevant" : "not"),-10}  {j.ReasoningTokens,6}  {ReasoningEnds.Name(j.End),-9}  {ranked[r].Index + 1,4}")).ConfigureAwait(false);
            await output.WriteLineAsync($"      passage:   {title}{Clip(p.Text, 160)}{(j.Truncated ? " (cut to its token limit before judging)" : string.Empty)}").ConfigureAwait(false);
            await output.WriteLineAsync($"      reasoning: {Clip(j.Reasoning, 400)}").ConfigureAwait(false);
        }
    }

    public static async Task WriteJsonAsync(Stream output, string query, string? instructions, string modelId, bool randomWeights, ExecutionProviderChoice provider, IReadOnlyList<PassageRecord> passages, IReadOnlyList<RankedPassage> ranked, CancellationToken cancellationToken)
    {
        // Text past ASCII is written as is (UTF-8), as the rerank service writes it; what JSON requires is still escaped.
        using var buffer = new MemoryStream();
        await using var w = new Utf8JsonWriter(buffer, OutputJson.IndentedWriter);
        w.WriteStartObject();
        w.WriteString("query", query);
        if (instructions is not null)
        {
            w.WriteString("instructions", instructions);
        }

        w.WriteString("model", modelId);
        w.WriteBoolean("random_weights", randomWeights);
        w.WriteStartObject("execution_provider");
        w.WriteString("requested", provider.Requested.ToString());
        w.WriteString("actual", provider.Actual.ToString());
        w.WriteString("fallback", provider.Fallback);
        w.WriteEndObject();
        w.WriteStartArray("results");
        for (var r = 0; r < ranked.Count; r++)
        {
            var p = passages[ranked[r].Index];
            w.WriteStartObject();
            w.WriteNumber("rank", r + 1);
            w.WriteString("id", p.Id);
            if (p.Title is not null)
            {
                w.WriteString("title", p.Title);
            }

            w.WriteNumber("input_rank", ranked[r].Index + 1);
            if (ranked[r].Judgement is not { } j)
            {
                // Not judged (a NaN score): no score, only why, as the proxy's _rank1.error on a failed hit.
                w.WriteString("error", ranked[r].Error);
                w.WriteEndObject();
                continue;
            }

            w.WriteNumber("score", j.Score);
            w.WriteBoolean("relevant", j.Relevant);
            w.WriteString("reasoning", j.Reasoning);
            w.WriteNumber("reasoning_tokens", j.ReasoningTokens);
            w.WriteString("ended", ReasoningEnds.Name(j.End));
            w.WriteNumber("prompt_tokens", j.PromptTokens);
            if (j.Truncated)
            {
                // As the proxy's _rank1.truncated: the passage (or the query) was cut to its token limit before judging.
                w.WriteBoolean("truncated", true);
            }

            w.WriteNumber("prefill_ms", Math.Round(j.PrefillTime.TotalMilliseconds, 3));
            w.WriteNumber("decode_ms", Math.Round(j.DecodeTime.TotalMilliseconds, 3));
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
        await w.FlushAsync(cancellationToken).ConfigureAwait(false);
        await output.WriteAsync(OutputJson.Utf8(buffer.ToArray()), cancellationToken).ConfigureAwait(false);
        await output.WriteAsync("\n"u8.ToArray(), cancellationToken).ConfigureAwait(false);
    }


    private static string Clip(string text, int max)
    {
        // One line, and no escape sequence of the corpus or the model reaches the terminal.
        var one = ConsoleText.Visible(text.ReplaceLineEndings(" ").Trim());
        return one.Length <= max ? one : string.Concat(one.AsSpan(0, max), "…");
    }
}
