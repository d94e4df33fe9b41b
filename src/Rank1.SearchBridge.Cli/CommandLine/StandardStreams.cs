using System.Runtime.InteropServices;
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
/// <para>
/// A stream closed when the process started is never written to, whatever holds its descriptor by then: the runtime
/// takes the lowest free descriptors for a pipe of its own before <c>Main</c> runs (its synchronization worker's), so with
/// <c>&gt;&amp;- 2&gt;&amp;-</c> descriptor 2 was that pipe's write end and every line for standard error was read by the
/// runtime's worker thread as its commands, and with <c>&lt;&amp;- &gt;&amp;- 2&gt;&amp;-</c> descriptor 1 was, so the
/// output went there and the command exited 0 having written nothing. A descriptor the process inherited has no
/// close-on-exec flag (exec would have closed it); one opened in the process has it (.NET and the runtime open
/// everything so): one that is closed or has the flag is a closed stream, as GNU's gnulib <c>stdopen</c> makes it one
/// (<c>/dev/null</c> opened with the other access mode, so that a write fails with <c>Bad file descriptor</c>).
/// </para>
/// </summary>
internal static class StandardStreams
{
    private const int StandardOutput = 1;
    private const int StandardError = 2;
    private const int Ebadf = 9; // Linux and macOS
    private const int FGetfd = 1; // Linux and macOS
    private const int FdCloexec = 1; // Linux and macOS

    /// <summary>Makes <see cref="Console.Out"/> and <see cref="Console.Error"/> the guarded writers over the ones the runtime opened.</summary>
    public static void Guard()
    {
        Console.SetOut(new GuardedWriter(Inherited(StandardOutput) ? Console.Out : new ClosedWriter(), "standard output", silent: false));
        Console.SetError(new GuardedWriter(Inherited(StandardError) ? Console.Error : new ClosedWriter(), "standard error", silent: true));
    }

    /// <summary>Whether the descriptor is open and was given to the process by the one that started it (no close-on-exec flag); always on Windows.</summary>
    internal static bool Inherited(int descriptor)
    {
        if (OperatingSystem.IsWindows())
        {
            return true;
        }

        try
        {
            return GetDescriptorFlags(descriptor, FGetfd) is var flags && flags != -1 && (flags & FdCloexec) == 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // A C library without fcntl where the runtime looks for it: the stream is taken as given, as before this check,
            // rather than every command failing before it starts.
            return true;
        }
    }

    // fcntl(fd, F_GETFD): the descriptor's flags, or -1 (EBADF) for one that is not open. DllImport, not LibraryImport:
    // the signature is blittable and LibraryImport would need unsafe code in the project.
    [DllImport("libc", EntryPoint = "fcntl")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int GetDescriptorFlags(int descriptor, int command);

    /// <summary>The system's reason a write failed: .NET's message for EBADF, EACCES and EPERM names no path and says only "Access to the path is denied."; its inner exception has the system's own words.</summary>
    internal static string Reason(Exception error) =>
        (error is UnauthorizedAccessException { InnerException: IOException inner } ? inner.Message : error.Message).TrimEnd('.');

    /// <summary>A standard stream that was closed when the process started: writing anything fails as a write to a closed descriptor does.</summary>
    private sealed class ClosedWriter : TextWriter
    {
        public override Encoding Encoding => Encoding.UTF8;

        public override void Write(char value) => throw new IOException(Marshal.GetPInvokeErrorMessage(Ebadf));
    }

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
