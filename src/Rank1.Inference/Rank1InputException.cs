namespace Rank1.Inference;

/// <summary>
/// One passage cannot be judged because of its input (its prompt does not fit the model's context, for example):
/// nothing is wrong with the model, so callers judge the other passages, keep this one in its first-stage place and
/// do not count it as a model fault.
/// </summary>
public sealed class Rank1InputException : Exception
{
    /// <summary>Creates the exception.</summary>
    public Rank1InputException()
        : this("The input cannot be judged.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public Rank1InputException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public Rank1InputException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
