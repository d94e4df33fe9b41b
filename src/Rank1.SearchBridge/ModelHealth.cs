using System.Text.Json.Nodes;
using Rank1.Inference;

namespace Rank1.SearchBridge;

/// <summary>The <c>model</c> object of <c>/_rank1/health</c>, the same in every host that serves one (the proxy, <c>serve</c>, the worker).</summary>
internal static class ModelHealth
{
    /// <summary>The loaded model: its id and content fingerprint, the execution provider asked for and in use (with why it fell back), and its batch; <c>loaded: false</c> when there is none.</summary>
    public static JsonObject Describe(IPassageJudge? judge)
    {
        var engine = judge as Rank1Engine;
        return new JsonObject
        {
            ["loaded"] = judge is not null,
            ["id"] = judge?.ModelId,
            // What the reasoning store keys on: two models with one id (the same folder name) have different fingerprints.
            ["fingerprint"] = judge?.ModelFingerprint,
            ["provider"] = engine?.Provider.ToString(),
            ["execution_provider"] = engine is null
                ? null
                : new JsonObject { ["requested"] = engine.ProviderChoice.Requested.ToString(), ["actual"] = engine.ProviderChoice.Actual.ToString(), ["fallback"] = engine.ProviderChoice.Fallback },
            ["random_weights"] = engine?.IsRandomTestModel,
            ["batch"] = engine is null
                ? null
                : new JsonObject
                {
                    ["max_rows"] = engine.MaxBatch, ["queued_passages"] = engine.QueuedPassages, ["waiting_callers"] = engine.WaitingCallers,
                    ["most_queued_for_one_caller"] = engine.MostQueuedForOneCaller, ["peak_step_rows"] = engine.PeakBatchRows,
                },
        };
    }
}
