using System.Text;

namespace Rank1.SearchBridge.Cli.CommandLine;

/// <summary>
/// The process's standard output and standard error as the commands write them, with what a write that fails means:
/// output that cannot be written (redirected to a full disk, <c>&gt;&amp;-</c> closed) is an <see cref="IOException"/>
/// saying <c>standard output: </c> and the system's reason (<c>No space left on device</c>, <c>Bad file descriptor</c>),
/// which <see cref="CliApp"/> reports as an I/O error (exit code 1), as GNU coreutils say <c>write error: ...</c>; a
/// standard error that cannot be written (<c>2&gt;&amp;-</c>) is left unsaid, since there is nowhere to say it, and the
/// command ends with its own exit code. Before, .NET's <c>Access to the path is denied.</c> for a closed standard output
/// read as a permission problem (exit code 4), and a closed standard error ended every error message, and so the
/// process, in an unhandled exception (exit code 134, SIGABRT).
/// </summary>
internal static class StandardStreams
{
    /// <summary>Makes <see cref="Console.Out"/> and <see cref="Console.Error"/> the guarded writers over the ones the runtime opened.</summary>
    public static void Guard()
    {
        Console.SetOut(new GuardedWriter(Console.Out, "standard output", silent: false));
        Console.SetError(new GuardedWriter(Console.Error, "standard error", silent: true));
    }

    /// <summary>The system's reason a write failed: .NET's message for EBADF, EACCES and EPERM names no path and says only "Access to the path is denied."; its inner exception has the system's own words.</summary>
    internal static string Reason(Exception error) =>
        (error is UnauthorizedAccessException { InnerException: IOException inner } ? inner.Message : error.Message).TrimEnd('.');

    /// <summary>
    /// A writer over one of the process's standard streams: a failed write or flush is an <see cref="IOException"/> naming
    /// the stream, or, <paramref name="silent"/>, dropped with everything after it.
    /// </summary>
    private sealed class GuardedWriter(TextWriter inner, string stream, bool silent) : TextWriter(inner.FormatProvider)
    {
        private volatile bool _broken;

        public override Encoding Encoding => inner.Encoding;

        [System.Diagnostics.CodeAnalysis.AllowNull]
        public override string NewLine
        {
            get => inner.NewLine;
            set => inner.NewLine = value;
        }

        public override void Write(char value) => Run(() => inner.Write(value));

        public override void Write(char[] buffer, int index, int count) => Run(() => inner.Write(buffer, index, count));

        public override void Write(ReadOnlySpan<char> buffer)
        {
            var text = buffer.ToString();
            Run(() => inner.Write(text));
        }

        public override void Write(string? value) => Run(() => inner.Write(value));

        public override void WriteLine() => Run(inner.WriteLine);

        public override void WriteLine(string? value) => Run(() => inner.WriteLine(value));

        public override void WriteLine(ReadOnlySpan<char> buffer)
        {
            var text = buffer.ToString();
            Run(() => inner.WriteLine(text));
        }

        public override void Flush() => Run(inner.Flush);

        public override Task WriteAsync(char value) => RunAsync(() => inner.WriteAsync(value));

        public override Task WriteAsync(string? value) => RunAsync(() => inner.WriteAsync(value));

        public override Task WriteAsync(ReadOnlyMemory<char> buffer, CancellationToken cancellationToken = default) => RunAsync(() => inner.WriteAsync(buffer, cancellationToken));

        public override Task WriteLineAsync() => RunAsync(inner.WriteLineAsync);

        public override Task WriteLineAsync(string? value) => RunAsync(() => inner.WriteLineAsync(value));

        public override Task WriteLineAsync(ReadOnlyMemory<char> buffer, CancellationToken cancellationToken = default) => RunAsync(() => inner.WriteLineAsync(buffer, cancellationToken));

        public override Task FlushAsync() => RunAsync(inner.FlushAsync);

        public override Task FlushAsync(CancellationToken cancellationToken) => RunAsync(() => inner.FlushAsync(cancellationToken));

        private void Run(Action write)
        {
            if (silent && _broken)
            {
                return;
            }

            try
            {
                write();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Fail(e);
            }
        }

        private async Task RunAsync(Func<Task> write)
        {
            if (silent && _broken)
            {
                return;
            }

            try
            {
                await write().ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Fail(e);
            }
        }

        private void Fail(Exception error)
        {
            if (silent)
            {
                _broken = true;
                return;
            }

            throw new IOException($"{stream}: {Reason(error)}", error);
        }
    }
}
