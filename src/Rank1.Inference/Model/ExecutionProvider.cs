using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace Rank1.Inference.Model;

/// <summary>Where the model runs.</summary>
public enum ExecutionProviderKind
{
    /// <summary>The best provider this build and machine offer: CUDA, then DirectML, then CPU. The choice is logged.</summary>
    Auto,

    /// <summary>The CPU provider (every build).</summary>
    Cpu,

    /// <summary>NVIDIA CUDA: needs the build switch <c>-p:Rank1Accelerator=Cuda</c> (package Microsoft.ML.OnnxRuntime.Gpu).</summary>
    Cuda,

    /// <summary>DirectML on Windows: needs the build switch <c>-p:Rank1Accelerator=DirectML</c> (package Microsoft.ML.OnnxRuntime.DirectML).</summary>
    DirectML,
}

internal static class ExecutionProviderSelector
{
    private const string CudaName = "CUDAExecutionProvider";
    private const string DmlName = "DmlExecutionProvider";

    /// <summary>Adds the requested provider to <paramref name="options"/>; returns the provider actually used.</summary>
    public static ExecutionProviderKind Configure(SessionOptions options, ExecutionProviderKind requested, int deviceId, ILogger logger)
    {
        var available = SafeAvailableProviders();
        switch (requested)
        {
            case ExecutionProviderKind.Cpu:
                return ExecutionProviderKind.Cpu;
            case ExecutionProviderKind.Cuda:
                Append(options, ExecutionProviderKind.Cuda, deviceId, available);
                return ExecutionProviderKind.Cuda;
            case ExecutionProviderKind.DirectML:
                Append(options, ExecutionProviderKind.DirectML, deviceId, available);
                return ExecutionProviderKind.DirectML;
            default:
                foreach (var candidate in new[] { ExecutionProviderKind.Cuda, ExecutionProviderKind.DirectML })
                {
                    if (!available.Contains(candidate == ExecutionProviderKind.Cuda ? CudaName : DmlName))
                    {
                        continue;
                    }

                    try
                    {
                        Append(options, candidate, deviceId, available);
                        Log.ExecutionProviderChosen(logger, candidate, string.Join(", ", available));
                        return candidate;
                    }
                    catch (ModelLoadException ex)
                    {
                        // Listed but unusable (e.g. the CUDA libraries are missing on this machine): fall through.
                        Log.ExecutionProviderUnusable(logger, candidate, ex.Message);
                    }
                }

                Log.ExecutionProviderChosen(logger, ExecutionProviderKind.Cpu, string.Join(", ", available));
                return ExecutionProviderKind.Cpu;
        }
    }

    private static void Append(SessionOptions options, ExecutionProviderKind kind, int deviceId, IReadOnlyCollection<string> available)
    {
        var (name, package, sw) = kind == ExecutionProviderKind.Cuda
            ? (CudaName, "Microsoft.ML.OnnxRuntime.Gpu", "-p:Rank1Accelerator=Cuda")
            : (DmlName, "Microsoft.ML.OnnxRuntime.DirectML", "-p:Rank1Accelerator=DirectML");
        var missing = $"ExecutionProvider={kind}: this build of ONNX Runtime has no {name} (it offers: {string.Join(", ", available)}). " +
                      $"Build with {sw} (package {package}){(kind == ExecutionProviderKind.DirectML ? " on Windows" : string.Empty)}, or set ExecutionProvider to Cpu or Auto.";
        if (!available.Contains(name))
        {
            throw new ModelLoadException(missing);
        }

        try
        {
            if (kind == ExecutionProviderKind.Cuda)
            {
                options.AppendExecutionProvider_CUDA(deviceId);
            }
            else
            {
                options.AppendExecutionProvider_DML(deviceId);
            }
        }
        catch (EntryPointNotFoundException ex)
        {
            // The CPU package exports no provider entry points: the managed call exists, the native one does not.
            throw new ModelLoadException(missing, ex);
        }
        catch (OnnxRuntimeException ex)
        {
            throw new ModelLoadException($"ExecutionProvider={kind}: {name} could not start ({ex.Message}). Check the driver and runtime libraries, or set ExecutionProvider to Cpu.", ex);
        }
    }

    private static string[] SafeAvailableProviders()
    {
        try
        {
            return OrtEnv.Instance().GetAvailableProviders();
        }
        catch (OnnxRuntimeException)
        {
            return ["CPUExecutionProvider"];
        }
    }
}
