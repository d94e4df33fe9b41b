namespace Rank1.Inference;

/// <summary>
/// A model folder that cannot be used: a missing file, a file of the wrong shape, a graph whose inputs or outputs
/// are not a KV-cached causal LM, or an execution provider that this build lacks. The message names the file (or
/// setting) and what was expected.
/// </summary>
public sealed class ModelLoadException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ModelLoadException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    public ModelLoadException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception.</summary>
    public ModelLoadException()
    {
    }
}
