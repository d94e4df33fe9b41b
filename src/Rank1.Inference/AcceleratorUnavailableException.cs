namespace Rank1.Inference;

/// <summary>
/// <see cref="Rank1EngineOptions.RequireAccelerator"/> is set and the model would run on the CPU: no GPU provider is in
/// this build, or the one that is could not start. Hosts stop with <see cref="ExitCode"/>.
/// </summary>
public sealed class AcceleratorUnavailableException : Exception
{
    /// <summary>The exit code of a host or command that stops for this reason (distinct from a bad model folder).</summary>
    public const int ExitCode = 5;

    /// <summary>Creates the exception.</summary>
    public AcceleratorUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    public AcceleratorUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception.</summary>
    public AcceleratorUnavailableException()
    {
    }
}
