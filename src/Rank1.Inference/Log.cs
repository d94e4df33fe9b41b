using Microsoft.Extensions.Logging;
using Rank1.Inference.Model;

namespace Rank1.Inference;

internal static partial class Log
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Information, Message = "ONNX Runtime execution provider: {Provider} (available: {Available})")]
    public static partial void ExecutionProviderChosen(ILogger logger, ExecutionProviderKind provider, string available);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning, Message = "Execution provider {Provider} is listed but unusable: {Reason}")]
    public static partial void ExecutionProviderUnusable(ILogger logger, ExecutionProviderKind provider, string reason);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Warning, Message = "ExecutionProvider=Auto fell back to the CPU: {Reason}")]
    public static partial void AutoFellBackToCpu(ILogger logger, string reason);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Information, Message = "ExecutionProvider=Auto runs on the CPU: this build has no GPU provider ({Reason})")]
    public static partial void AutoOnCpuBuild(ILogger logger, string reason);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "Loaded model {ModelId} from {Graph}: {Layers} layers, {KvHeads} KV heads of {HeadSize}, KV {KvType}, ids {IdType}, position_ids {HasPositionIds}, batch layout {BatchLayout}, in {ElapsedMs} ms")]
    public static partial void ModelLoaded(ILogger logger, string modelId, string graph, int layers, int kvHeads, int headSize, string kvType, string idType, bool hasPositionIds, string batchLayout, long elapsedMs);

    [LoggerMessage(EventId = 1010, Level = LogLevel.Information, Message = "{Graph}: the output layer runs on each row's last position only: {How}")]
    public static partial void LastPositionLogits(ILogger logger, string graph, string how);

    [LoggerMessage(EventId = 1011, Level = LogLevel.Warning, Message = "{Graph}: run as exported, its output layer on every prompt position (slower prefill): {Why}")]
    public static partial void EveryPositionLogits(ILogger logger, string graph, string why);

    [LoggerMessage(EventId = 1013, Level = LogLevel.Warning, Message = "{Graph} decodes one row at a time, so its passages are never batched: {Why}")]
    public static partial void OneRowAtATime(ILogger logger, string graph, string why);

    [LoggerMessage(EventId = 1015, Level = LogLevel.Warning, Message = "{Graph} was built for the CPU, not for {Provider}: {Why}")]
    public static partial void BuiltForAnotherProvider(ILogger logger, string graph, string provider, string why);

    [LoggerMessage(EventId = 1014, Level = LogLevel.Information, Message = "{Graph} batches its rows within its kernels' rounding (Rank1:Model:ExactBatching is false): {How}")]
    public static partial void BatchesWithinRounding(ILogger logger, string graph, string how);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Warning, Message = "Model {ModelId} has random weights (a generated test model): its scores and reasoning are meaningless.")]
    public static partial void RandomTestModel(ILogger logger, string modelId);
}
