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

/// <summary>
/// The provider asked for, the provider in use, and, when <see cref="ExecutionProviderKind.Auto"/> ended on the CPU,
/// why no accelerator was used. Shown in the proxy's health, its metrics and <c>rank1-bridge rerank</c>.
/// </summary>
/// <param name="Requested">The configured <c>ExecutionProvider</c>.</param>
/// <param name="Actual">The provider the model runs on.</param>
/// <param name="Fallback">Null unless <c>Auto</c> fell back to the CPU: then each accelerator and why it was not used.</param>
public sealed record ExecutionProviderChoice(ExecutionProviderKind Requested, ExecutionProviderKind Actual, string? Fallback)
{
    /// <summary>True when the model runs on a GPU (CUDA or DirectML).</summary>
    public bool Accelerated => Actual is ExecutionProviderKind.Cuda or ExecutionProviderKind.DirectML;
}

internal static class ExecutionProviderSelector
{
    private const string CudaName = "CUDAExecutionProvider";
    private const string DmlName = "DmlExecutionProvider";

    /// <summary>
    /// Adds the requested provider to <paramref name="options"/>; returns what was asked and what is used. With
    /// <paramref name="requireAccelerator"/>, ending on the CPU throws <see cref="AcceleratorUnavailableException"/>.
    /// </summary>
    public static ExecutionProviderChoice Configure(SessionOptions options, ExecutionProviderKind requested, int deviceId, ILogger logger, bool requireAccelerator = false)
    {
        var available = SafeAvailableProviders();
        var choice = Choose(options, requested, deviceId, logger, available);
        if (requireAccelerator && !choice.Accelerated)
        {
            throw new AcceleratorUnavailableException(
                $"RequireAccelerator is set and no GPU provider can run the model (ExecutionProvider={requested}: " +
                $"{choice.Fallback ?? "the CPU was asked for"}). Fix the GPU set-up, or unset RequireAccelerator to allow the CPU.");
        }

        return choice;
    }

    private static ExecutionProviderChoice Choose(SessionOptions options, ExecutionProviderKind requested, int deviceId, ILogger logger, string[] available)
    {
        switch (requested)
        {
            case ExecutionProviderKind.Cpu:
                Log.ExecutionProviderChosen(logger, ExecutionProviderKind.Cpu, string.Join(", ", available));
                return new(requested, ExecutionProviderKind.Cpu, null);
            case ExecutionProviderKind.Cuda:
            case ExecutionProviderKind.DirectML:
                Append(options, requested, deviceId, available);
                Log.ExecutionProviderChosen(logger, requested, string.Join(", ", available));
                return new(requested, requested, null);
            default:
                var reasons = new List<string>();
                var failed = false;
                foreach (var candidate in new[] { ExecutionProviderKind.Cuda, ExecutionProviderKind.DirectML })
                {
                    var name = candidate == ExecutionProviderKind.Cuda ? CudaName : DmlName;
                    if (!available.Contains(name))
                    {
                        reasons.Add($"{candidate}: not in this build ({name} is not offered)");
                        continue;
                    }

                    try
                    {
                        Append(options, candidate, deviceId, available);
                        Log.ExecutionProviderChosen(logger, candidate, string.Join(", ", available));
                        return new(requested, candidate, null);
                    }
                    catch (ModelLoadException ex)
                    {
                        // Listed but unusable (e.g. the CUDA libraries are missing on this machine): fall through, loudly.
                        Log.ExecutionProviderUnusable(logger, candidate, ex.Message);
                        reasons.Add($"{candidate}: {ex.Message}");
                        failed = true;
                    }
                }

                var fallback = string.Join("; ", reasons);
                if (failed)
                {
                    // A provider this build ships could not start: the deployment meant to run on a GPU and does not.
                    Log.AutoFellBackToCpu(logger, fallback);
                }
                else
                {
                    // A CPU build: running on the CPU is what it was built for.
                    Log.AutoOnCpuBuild(logger, fallback);
                }

                return new(requested, ExecutionProviderKind.Cpu, fallback);
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
