using System.CommandLine;
using System.Collections.Concurrent;
using System.Globalization;
using MassTransit;
using Rank1.Inference;
using Rank1.SearchBridge.Cli.CommandLine;
using Rank1.SearchBridge.Configuration;
using Rank1.SearchBridge.Messages;
using Rank1.SearchBridge.Messaging;
using Spectre.Console;

namespace Rank1.SearchBridge.Cli.Commands;

/// <summary>
/// <c>rank1-bridge precompute</c>: publishes one precompute request per query of a query log to the workers' queue;
/// with <c>--wait</c>, follows the workers' progress until every request is stored or has failed.
/// </summary>
internal sealed class PrecomputeCommand : CliCommand
{
    public override string Name => "precompute";

    public override string Summary => "Enqueue a query log for the precompute workers (one job per query); --wait shows progress until all are stored.";

    private readonly Option<string> _queries = CliOptions.Required("--queries", "Query log: one query per line, TREC topics (id<TAB>query), or JSON Lines {\"query\":..,\"count\":..,\"instructions\":..}.", "FILE");
    private readonly Option<string> _index = CliOptions.IndexExpression(CliOptions.Required("--index", "Index (or index expression) the queries search.", "NAME"));
    private readonly Option<int?> _window = CliOptions.Int("--window", "Top hits to judge per query (default 10, as the proxy's default rule).", 1, 1000);
    private readonly Option<string?> _fields = CliOptions.Text("--fields", "Source fields joined into the passage, comma-separated (default text).", "A,B");
    // A blank title field or instructions (PrecomputeReasoning.IsBlankQuery) are refused here as the workers refuse them,
    // before a job is published: every job of the run went to the error queue. --instructions "" is none, as rerank's.
    private readonly Option<string?> _titleField = CliOptions.Checked(CliOptions.Text("--title-field", "Source field used as the passage title (default none).", "FIELD"),
        v => PrecomputeReasoning.IsBlankQuery(v) ? "--title-field must name a field" : null);
    private readonly Option<int?> _maxThinkTokens = CliOptions.Int("--max-think-tokens", "Reasoning budget per passage (default 256; 0 scores without reasoning).", 0, Rank1EngineOptions.MaxThinkTokensLimit);
    private readonly Option<int?> _maxQueryTokens = CliOptions.Int("--max-query-tokens", "Query tokens the model sees, as the rule's MaxQueryTokens (default: the model's own).", 1, 131_072);
    private readonly Option<int?> _maxPassageTokens = CliOptions.Int("--max-passage-tokens", "Tokens of each passage the model sees, as the rule's MaxPassageTokens (default: the model's own).", 1, 131_072);
    private readonly Option<string?> _instructions = CliOptions.Checked(CliOptions.Text("--instructions", "Instructions for queries whose line gives none.", "TEXT"),
        v => PrecomputeReasoning.TryInstructionsOrNone(v, out _) ? null : "--instructions must not be blank");
    private readonly Option<string?> _template = PromptTemplateOption.Create();
    private readonly Option<string?> _broker = CliOptions.Text("--broker", "RabbitMQ URL (default amqp://guest:guest@localhost:5672/).", "URL");
    private readonly Option<string?> _queue = CliOptions.Text("--queue", "The workers' queue (default rank1-precompute).", "NAME");
    private readonly Option<int?> _connectTimeout = CliOptions.Int("--connect-timeout", "Seconds to wait for the broker to answer (default 30); a login or vhost it refuses fails at once.", 1, 3600, "SECONDS");
    private readonly Option<bool> _wait = CliOptions.Flag("--wait", "Follow the workers until every job is stored or failed; exit 1 if any failed.");
    private readonly Option<int?> _timeout = CliOptions.Int("--timeout", "With --wait: give up after this many seconds (exit 1).", 1, int.MaxValue, "SECONDS");

    public override IReadOnlyList<Option> Options =>
        [_queries, _index, _window, _fields, _titleField, _maxThinkTokens, _maxQueryTokens, _maxPassageTokens, _instructions, _template, _broker, _queue, _connectTimeout, _wait, _timeout];

    public override async Task<int> ExecuteAsync(ParseResult args, CliContext context, CancellationToken cancellationToken)
    {
        var defaults = new RerankRule();
        var index = args.GetRequiredValue(_index);
        var window = args.GetValue(_window) ?? defaults.Window;
        var maxThink = args.GetValue(_maxThinkTokens) ?? defaults.MaxThinkTokens;
        var fields = (args.GetValue(_fields) ?? string.Join(',', defaults.EffectiveFields)).Split(',', StringSplitOptions.TrimEntries)
            .Where(f => !PrecomputeReasoning.IsBlankQuery(f)).ToArray(); // an empty or blank name ("\u200B") left out
        if (fields.Length == 0)
        {
            throw new UsageException("--fields must name at least one field");
        }

        var timeout = args.GetValue(_timeout);
        var connectTimeout = TimeSpan.FromSeconds(args.GetValue(_connectTimeout) ?? 30);
        if (timeout is not null && !args.GetValue(_wait))
        {
            throw new UsageException("--timeout only applies with --wait");
        }

        var broker = new BrokerOptions { Url = args.GetValue(_broker) ?? "amqp://guest:guest@localhost:5672/", Queue = args.GetValue(_queue) ?? "rank1-precompute" };
        var problems = new ConfigurationKeyValidator<BrokerOptions>(BrokerOptions.SectionName, new BrokerOptionsValidator()).Failures(broker);
        if (problems.Count > 0)
        {
            // The options name the keys; this command's users set them with --queue and --broker.
            throw new UsageException(problems[0].Replace($"{BrokerOptions.SectionName}:{nameof(BrokerOptions.Queue)}", "--queue", StringComparison.Ordinal)
                .Replace($"{BrokerOptions.SectionName}:{nameof(BrokerOptions.Url)}", "--broker", StringComparison.Ordinal));
        }

        var template = args.GetValue(_template);
        var instructions = args.GetValue(_instructions) is { Length: > 0 } given ? given : null; // "" is none; blank was refused above
        var queries = await QueryFile.ReadAsync(args.GetRequiredValue(_queries), instructions, cancellationToken).ConfigureAwait(false);
        var batch = $"{context.Time.GetUtcNow():yyyyMMdd-HHmmss}-{Guid.NewGuid().ToString("N")[..8]}";
        var (maxQueryTokens, maxPassageTokens) = (args.GetValue(_maxQueryTokens), args.GetValue(_maxPassageTokens));
        // Made as they are published, not all at once: a log of a million distinct queries held a million jobs besides
        // its queries (and the map of --wait, which only --wait needs).
        var jobs = queries.Select(q => new PrecomputeReasoning(index, q.Query, q.Instructions, window, fields, args.GetValue(_titleField), maxThink, PrecomputeReasoning.Offline, null,
            Guid.NewGuid(), batch, template, maxQueryTokens, maxPassageTokens));
        var progress = args.GetValue(_wait) ? new Progress(queries.Count) : null;

        // With --wait, the workers answer each job's completion or fault to this batch's own progress queue, through the
        // exchange in front of it (a queue:NAME address would redeclare the queue without its x-expires and be refused).
        var progressQueue = $"rank1-precompute-progress-{batch}";
        var replyTo = args.GetValue(_wait) ? new Uri($"exchange:{progressQueue}") : null;
        var bus = Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            Rank1Broker.Configure(cfg, broker);
            if (replyTo is not null)
            {
                // A durable queue of this batch's own (expiring an hour after its last use), so that progress events
                // sent while this tool is briefly disconnected are not lost. It binds no message exchange: it gets the
                // answers to this batch's jobs only, not every completion published on the vhost.
                cfg.ReceiveEndpoint(progressQueue, e =>
                {
                    e.AutoDelete = false;
                    e.Durable = true;
                    e.ConfigureConsumeTopology = false;
                    e.SetQueueArgument("x-expires", (int)TimeSpan.FromHours(1).TotalMilliseconds);
                    e.Handler<PrecomputeReasoningCompleted>(c => { progress!.Completed(c.Message); return Task.CompletedTask; });
                    e.Handler<Fault<PrecomputeReasoning>>(c => { progress!.Faulted(c.Message); return Task.CompletedTask; });
                });
            }
        });

        // --connect-timeout on the context's clock, as --timeout is: a clock held still shows that a refusal, not the
        // deadline, is what ends the wait for a broker that refuses.
        using var connectDeadline = new CancellationTokenSource(connectTimeout, context.Time);
        using (var connect = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, connectDeadline.Token))
        {
            var refusal = new BrokerRefusal(connect);
            using var watching = bus.ConnectReceiveEndpointObserver(refusal);
            try
            {
                await bus.StartAsync(connect.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or RabbitMqConnectionException or MassTransitException && !cancellationToken.IsCancellationRequested)
            {
                // The broker's own words (ACCESS_REFUSED, vhost not found), not MassTransit's wrapper around them.
                var cause = refusal.Refused ?? (e is OperationCanceledException ? refusal.Last : e);
                var reason = cause is null ? $"no connection within {connectTimeout.TotalSeconds:0} s (--connect-timeout)" : BrokerFailure.Cause(cause, BrokerAddress.Parsed(broker.Url));
                throw new CliException($"cannot reach the broker at {BrokerAddress.Redact(broker.Url!)}: {ConsoleText.Visible(reason)}", ExitCodes.Failure);
            }
        }

        using var publishing = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var declaration = new DeclarationRefusal(publishing);
        using var observing = bus.ConnectPublishObserver(declaration);
        var published = 0;
        string Published() => string.Create(CultureInfo.InvariantCulture, $"{Volatile.Read(ref published)} of {queries.Count} jobs (batch {batch}) were published");
        try
        {
            await Parallel.ForEachAsync(jobs, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = publishing.Token },
                async (job, ct) =>
                {
                    progress?.Sent(job); // before its answer can come
                    await bus.Publish(job, c =>
                    {
                        c.ResponseAddress = replyTo;
                        c.FaultAddress = replyTo;
                    }, ct).ConfigureAwait(false);
                    Interlocked.Increment(ref published);
                }).ConfigureAwait(false);
            await context.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"Published {queries.Count} precompute jobs (batch {batch}) for index {index} to queue {broker.Queue} at {BrokerAddress.Redact(broker.Url!)}.")).ConfigureAwait(false);
            if (progress is null)
            {
                return ExitCodes.Ok;
            }

            return await WaitAsync(progress, timeout is { } s ? TimeSpan.FromSeconds(s) : null, context, cancellationToken).ConfigureAwait(false);
        }
        // MassTransit, cancelled while it retries the refused declaration, throws a cancellation or the refusal itself (as
        // the proxy's BrokerPrecomputePublisher catches it).
        catch (Exception) when (declaration.Refused is { } refused && !cancellationToken.IsCancellationRequested)
        {
            throw new CliException($"the broker at {BrokerAddress.Redact(broker.Url!)} refuses the workers' queue: {ConsoleText.Visible(BrokerFailure.Cause(refused, null))}: " +
                $"{BrokerFailure.DeclaredBefore("the workers and this tool declare", broker.Queue!)}. {Published()}", ExitCodes.Failure);
        }
        catch (Exception) when (Volatile.Read(ref published) is > 0 and var done && done < queries.Count)
        {
            // Stopped while publishing (Ctrl+C, the broker lost): what was published stays queued for the workers, and
            // the batch id finds it (the reasoning store's batch); the error itself follows. At least: a publish cut off
            // on its way may have reached the broker too.
            await context.Error.WriteLineAsync($"rank1-bridge precompute: at least {Published()}; they stay queued for the workers").ConfigureAwait(false);
            throw;
        }
        finally
        {
            await bus.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    private static async Task<int> WaitAsync(Progress progress, TimeSpan? timeout, CliContext context, CancellationToken cancellationToken)
    {
        var started = context.Time.GetTimestamp();
        var interactive = ReferenceEquals(context.Out, Console.Out) && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
        bool Finished() => progress.Remaining == 0;
        bool TimedOut() => timeout is { } t && context.Time.GetElapsedTime(started) >= t;

        if (interactive)
        {
            await AnsiConsole.Progress().AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                .StartAsync(async ctx =>
                {
                    var task = ctx.AddTask("precompute", maxValue: progress.Total);
                    while (!Finished() && !TimedOut())
                    {
                        task.Value = progress.Done + progress.Failed;
                        task.Description = progress.Line(context.Time.GetElapsedTime(started));
                        await Task.Delay(TimeSpan.FromMilliseconds(250), context.Time, cancellationToken).ConfigureAwait(false);
                    }

                    task.Value = progress.Done + progress.Failed;
                    task.Description = progress.Line(context.Time.GetElapsedTime(started));
                }).ConfigureAwait(false);
        }
        else
        {
            // A line per change of the counts: the rate and ETA in it change with every tick, and a log of a long run
            // would otherwise get a line every half second.
            (int, int)? last = null;
            async Task WriteIfChangedAsync()
            {
                var counts = (progress.Done, progress.Failed);
                if (counts != last)
                {
                    await context.Out.WriteLineAsync(progress.Line(context.Time.GetElapsedTime(started))).ConfigureAwait(false);
                    await context.Out.FlushAsync(cancellationToken).ConfigureAwait(false);
                    last = counts;
                }
            }

            while (!Finished() && !TimedOut())
            {
                await WriteIfChangedAsync().ConfigureAwait(false);
                await Task.Delay(TimeSpan.FromMilliseconds(500), context.Time, cancellationToken).ConfigureAwait(false);
            }

            await WriteIfChangedAsync().ConfigureAwait(false);
        }

        foreach (var (query, reason) in progress.Failures)
        {
            await context.Error.WriteLineAsync($"failed: '{ConsoleText.Visible(query)}': {ConsoleText.Visible(reason)}").ConfigureAwait(false);
        }

        if (!Finished())
        {
            await context.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"rank1-bridge: timed out after {timeout!.Value.TotalSeconds:0} s with {progress.Remaining} of {progress.Total} jobs not finished (they stay queued for the workers)")).ConfigureAwait(false);
            return ExitCodes.Failure;
        }

        await context.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"Finished: {progress.Done} stored ({progress.Judged} passages judged, {progress.AlreadyStored} already stored), {progress.Failed} failed.")).ConfigureAwait(false);
        return progress.Failed == 0 ? ExitCodes.Ok : ExitCodes.Failure;
    }

    /// <summary>What the workers have reported for this batch's jobs (each job counted once, however often it is redelivered).</summary>
    private sealed class Progress(int total)
    {
        private readonly ConcurrentDictionary<Guid, string> _queries = new();
        private readonly ConcurrentDictionary<Guid, PrecomputeReasoningCompleted> _done = new();
        private readonly ConcurrentDictionary<Guid, string> _failed = new();

        public int Total => total;

        public int Done => _done.Count;

        public int Failed => _failed.Count;

        public int Remaining => Total - Done - Failed;

        public long Judged => _done.Values.Sum(d => (long)d.Judged);

        public long AlreadyStored => _done.Values.Sum(d => (long)d.AlreadyStored);

        public IEnumerable<(string Query, string Reason)> Failures => _failed.Select(f => (_queries[f.Key], f.Value));

        /// <summary>A job of this batch, counted from now on; every job is sent before the wait begins.</summary>
        public void Sent(PrecomputeReasoning job) => _queries[job.JobId] = job.Query;

        public void Completed(PrecomputeReasoningCompleted message)
        {
            if (_queries.ContainsKey(message.JobId))
            {
                _failed.TryRemove(message.JobId, out _); // a redelivery succeeded after all
                _done.TryAdd(message.JobId, message);
            }
        }

        public void Faulted(Fault<PrecomputeReasoning> fault)
        {
            if (fault.Message is { } m && _queries.ContainsKey(m.JobId) && !_done.ContainsKey(m.JobId))
            {
                _failed[m.JobId] = fault.Exceptions.FirstOrDefault()?.Message ?? "failed";
            }
        }

        public string Line(TimeSpan elapsed)
        {
            var finished = Done + Failed;
            var rate = elapsed.TotalSeconds > 0 ? finished / elapsed.TotalSeconds : 0;
            var eta = rate > 0 ? TimeSpan.FromSeconds(Remaining / rate).ToString(@"hh\:mm\:ss", CultureInfo.InvariantCulture) : "--:--:--";
            return string.Create(CultureInfo.InvariantCulture, $"done {Done}, failed {Failed}, remaining {Remaining} of {Total}; {rate:0.00} jobs/s; ETA {eta}");
        }
    }
}
