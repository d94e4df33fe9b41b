using System.Text.RegularExpressions;
using Rank1.Testing;

namespace Rank1.SearchBridge.Compose.Tests;

/// <summary>
/// Runs each Dockerfile's <c>dotnet publish</c> commands as <c>docker build</c> would: in a copy of the build context
/// (the repository minus what .dockerignore excludes, so no bin/obj from this machine), from the Dockerfile's own
/// text, then checks that every image stage gets the assembly its ENTRYPOINT starts.
/// </summary>
public sealed class DockerfileBuildTests
{
    public static TheoryData<string> DockerfileNames => new(Dockerfiles.All.Select(Path.GetFileName).ToArray()!);

    [Trait(TestCategory.Name, TestCategory.Publish)]
    [Theory]
    [MemberData(nameof(DockerfileNames))]
    public async Task PublishCommands_SucceedInTheBuildContext_AndEveryImageGetsItsEntrypoint(string name)
    {
        var stages = Dockerfiles.Parse(Path.Combine(ComposeFiles.Folder, name));
        var root = Path.Combine(Path.GetTempPath(), $"rank1-docker-{Path.GetFileNameWithoutExtension(name)}-{Guid.NewGuid():N}");
        var context = Path.Combine(root, "src");
        var output = Path.Combine(root, "out");
        try
        {
            var copied = CopyContext(TestPaths.RepoRoot, context);
            Assert.DoesNotContain(copied, p => p.Contains("/bin/", StringComparison.Ordinal) || p.Contains("/obj/", StringComparison.Ordinal) || p.Contains("node_modules", StringComparison.Ordinal));

            var builds = stages.Where(s => s.Run.Any(r => r.Contains("dotnet publish", StringComparison.Ordinal))).ToArray();
            Assert.NotEmpty(builds);
            foreach (var stage in builds)
            {
                Assert.Equal("/src", stage.Single("WORKDIR"));
                foreach (var run in stage.Run)
                {
                    var command = run.Replace("/out/", output + "/", StringComparison.Ordinal);
                    var result = await TestProcess.RunAsync(TestProcess.StartInfo("bash", ["-c", command], context), TimeSpan.FromMinutes(10));
                    Assert.True(result.ExitCode == 0, $"{name} stage {stage.Name}: `{run}` failed:\n{result.Out}\n{result.Error}");
                }
            }

            foreach (var image in stages.Where(s => s.Entrypoint.Length > 0))
            {
                var copy = image.Instructions.Single(i => i.Keyword == "COPY" && i.Arguments.StartsWith("--from=", StringComparison.Ordinal));
                var m = Regex.Match(copy.Arguments, @"^--from=(?<stage>\S+) /out/(?<dir>\S+) \./$");
                Assert.True(m.Success, $"{name} stage {image.Name}: unexpected {copy.Arguments}");
                Assert.Contains(builds, b => b.Name == m.Groups["stage"].Value);
                var published = Path.Combine(output, m.Groups["dir"].Value);
                Assert.True(File.Exists(Path.Combine(published, image.Entrypoint[1])), $"{name} stage {image.Name}: {image.Entrypoint[1]} is not in {published}");
                if (image.Name is "proxy" or "worker")
                {
                    Assert.True(File.Exists(Path.Combine(published, "libonnxruntime.so")), $"{name} stage {image.Name}: the Linux ONNX Runtime library is missing");
                    var cuda = File.Exists(Path.Combine(published, "libonnxruntime_providers_cuda.so"));
                    Assert.True(cuda == name.EndsWith(".cuda", StringComparison.Ordinal), $"{name} stage {image.Name}: CUDA provider library present: {cuda}");
                }

                Assert.False(Directory.Exists(Path.Combine(published, "runtimes", "win-x64")), $"{name} stage {image.Name}: other platforms' native libraries were published");
                if (image.Name == "cli")
                {
                    Assert.True(File.Exists(Path.Combine(published, "samples", "corpus", "passages.jsonl")), "the seed job's sample corpus is not in the cli image");
                }
            }

            if (name.EndsWith(".cuda", StringComparison.Ordinal))
            {
                await CudaProxyFallback.AssertVisibleAndRefusableAsync(Path.Combine(output, "proxy"));
            }
        }
        finally
        {
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    [Fact]
    public void DockerIgnore_KeepsBuildOutputsAndSecretsOut_ButNotTheSources()
    {
        var patterns = DockerIgnore(TestPaths.RepoRoot);
        Assert.True(Ignored("src/Rank1.Inference/bin", true, patterns));
        Assert.True(Ignored("tests/node/node_modules", true, patterns));
        Assert.True(Ignored("compose/.env", false, patterns));
        Assert.True(Ignored(".rank1", true, patterns));
        Assert.False(Ignored("src/Rank1.Inference/Rank1Engine.cs", false, patterns));
        Assert.False(Ignored("samples/corpus/passages.jsonl", false, patterns));
        Assert.False(Ignored("mappings/reasoning-index.mapping.json", false, patterns));
    }

    /// <summary>Copies the build context as Docker sends it; returns the copied relative paths.</summary>
    private static List<string> CopyContext(string from, string to)
    {
        var patterns = DockerIgnore(from);
        var copied = new List<string>();
        void Walk(string dir)
        {
            foreach (var entry in Directory.EnumerateFileSystemEntries(dir))
            {
                var relative = Path.GetRelativePath(from, entry).Replace('\\', '/');
                var isDir = Directory.Exists(entry);
                if (Ignored(relative, isDir, patterns))
                {
                    continue;
                }

                if (isDir)
                {
                    Walk(entry);
                }
                else
                {
                    var target = Path.Combine(to, relative);
                    Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                    File.Copy(entry, target);
                    copied.Add("/" + relative);
                }
            }
        }

        Walk(from);
        return copied;
    }

    private static List<(Regex Pattern, bool DirectoryOnly)> DockerIgnore(string root) =>
        File.ReadAllLines(Path.Combine(root, ".dockerignore")).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#'))
            .Select(l => (new Regex("^" + Regex.Escape(l.TrimEnd('/')).Replace(@"\*\*/", "(.*/)?", StringComparison.Ordinal).Replace(@"\*", "[^/]*", StringComparison.Ordinal) + "$"), l.EndsWith('/')))
            .ToList();

    private static bool Ignored(string relative, bool isDirectory, List<(Regex Pattern, bool DirectoryOnly)> patterns) =>
        patterns.Any(p => (isDirectory || !p.DirectoryOnly) && p.Pattern.IsMatch(relative));
}
