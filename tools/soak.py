#!/usr/bin/env python3
"""Bounded soak of the proxy over loopback (issue #18): mixed load with 1 MB documents and 1 MB queries, bad inputs,
a backend killed (SIGKILL) and restarted mid-run, and precompute jobs (rank1-bridge precompute --wait, one worker)
through a private RabbitMQ node that is restarted mid-run. Prints requests, errors by kind, p50/p99 latency, answers
later than deadline_ms + 1 s (and which kinds), peak RSS and open file descriptors of the proxy process, and the
precompute jobs and judgements lost or duplicated across the broker restart (0 expected). The well-formed searches
(ordinary queries over ordinary documents) are reported apart, in the hostile mix and in a second phase with only
well-formed searches, so the effect of the other callers' inputs on their reranking shows (the `applied` share of each).
By default every search asks the model about a query it has not seen (`--queries unique`: random words of the corpus,
and for the 1 MB kinds an `ext.rank1.query` starting with them), so answers are judged by the model (`computed`), not
served from the reasoning store (`cached`); `--queries repeating` is the earlier mix (a dozen queries, mostly `cached`).
For each kind it prints the searches judged by the model, cached or answered in backend order, and the passages by
their `_rank1.source`.
Every process it starts is stopped when it ends, also on a crash or Ctrl+C.

Usage: tools/soak.py CLI_DLL MODEL_DIR --worker WORKER_DLL [--seconds N (the hostile mix; default 120, at most 225; the well-formed phase runs a third of it more)] [--clients N (default 4)]
       [--queries unique|repeating (default unique)]
       [--counters DOTNET_COUNTERS (the dotnet-counters tool: samples the proxy's System.Runtime counters each second and
       prints the peaks of the thread pool and of the GC's heap and committed memory)]
"""
import argparse
import datetime
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

DEADLINE_MS = 2000
MB = 1_000_000


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


STARTED = []  # every process started, each in its own process group: killed at exit if still running


def start(args, log, **kwargs):
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **kwargs)
    STARTED.append(proc)
    return proc


def kill_leftovers():
    """SIGKILLs the process group of every started process still running (a crash, Ctrl+C, or a step that did not stop it)."""
    for proc in STARTED:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()


def stop_process(proc, sig, seconds):
    """Sends sig (None: none) to proc's process group, waits up to seconds, then SIGKILLs the group."""
    if sig is not None:
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def wait_http(url, seconds=120):
    end = time.time() + seconds
    while time.time() < end:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except Exception:
            time.sleep(0.5)
    raise SystemExit(f"soak: {url} did not answer within {seconds} s")


def request(method, url, body=None, timeout=60, answer=None):
    """(status, X-Rank1-Rerank, X-Rank1-Reason); the body of a 200 is given to answer, when given."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            if answer is not None:
                answer(raw)
            return r.status, r.headers.get("X-Rank1-Rerank"), r.headers.get("X-Rank1-Reason")
    except urllib.error.HTTPError as e:
        e.read()
        return e.code, e.headers.get("X-Rank1-Rerank"), e.headers.get("X-Rank1-Reason")
    except Exception as e:  # connection refused, reset, timeout
        return type(e).__name__, None, None


def passage_sources(raw):
    """How many hits of a search answer carry each _rank1.source (computed, forced, cached, failed, pinned: any it finds)."""
    counts = {}
    try:
        hits = json.loads(raw)["hits"]["hits"]
    except (ValueError, KeyError, TypeError):
        return counts
    for hit in hits:
        source = ((hit.get("fields") or {}).get("_rank1.source") or [None])[0]
        if source is not None:
            counts[source] = counts.get(source, 0) + 1
    return counts


RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"


class Broker:
    """A private RabbitMQ node (Debian's rabbitmq-server) on free loopback ports, stopped with SIGTERM as an operator would."""

    def __init__(self, folder, log):
        self.folder, self.log = folder, log
        self.port, self.dist_port = free_port(), free_port()
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/"
        self.name = f"rank1soak-{os.path.basename(folder)[-8:]}@localhost"
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "enabled_plugins"), "w") as f:
            f.write("[].\n")
        with open(os.path.join(folder, "rabbitmq.conf"), "w") as f:
            f.write("loopback_users = none\n")
        self.proc = None

    def start(self):
        env = dict(os.environ, HOME=self.folder, RABBITMQ_NODENAME=self.name, RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
                   RABBITMQ_NODE_PORT=str(self.port), RABBITMQ_DIST_PORT=str(self.dist_port),
                   RABBITMQ_MNESIA_BASE=os.path.join(self.folder, "mnesia"), RABBITMQ_LOG_BASE=os.path.join(self.folder, "log"),
                   RABBITMQ_ENABLED_PLUGINS_FILE=os.path.join(self.folder, "enabled_plugins"),
                   RABBITMQ_CONFIG_FILE=os.path.join(self.folder, "rabbitmq"), RABBITMQ_PID_FILE=os.path.join(self.folder, "pid"))
        self.proc = start([RABBITMQ_SERVER], self.log, env=env)
        end = time.time() + 240
        while time.time() < end:
            if self.proc.poll() is not None:
                raise SystemExit(f"soak: the RabbitMQ node exited with {self.proc.returncode}; see {self.folder}/log")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"soak: the RabbitMQ node did not listen on {self.port} within 240 s")

    def stop(self):
        if self.proc is None:
            return
        try:
            with open(os.path.join(self.folder, "pid")) as f:
                os.kill(int(f.read().strip()), signal.SIGTERM)
        except (OSError, ValueError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        stop_process(self.proc, None, 60)
        self.proc = None


def stored_judgements(backend_url, index):
    """(documents, distinct (doc, query) pairs) in the worker's reasoning index."""
    request("POST", f"{backend_url}/{index}/_refresh")
    req = urllib.request.Request(f"{backend_url}/{index}/_search", data=json.dumps(
        {"size": 10000, "_source": ["target_index", "doc_id", "fingerprint"], "query": {"match_all": {}}}).encode(),
        method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            hits = json.loads(r.read())["hits"]["hits"]
    except (urllib.error.URLError, OSError, KeyError, ValueError):
        return 0, 0
    pairs = {(h["_source"]["target_index"], h["_source"]["doc_id"], h["_source"]["fingerprint"]) for h in hits}
    return len(hits), len(pairs)


def rss_and_fds(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        return rss, fds
    except (FileNotFoundError, ProcessLookupError, StopIteration):
        return 0, 0


def print_counter_peaks(path):
    """The peaks of the proxy's thread-pool and memory counters (dotnet-counters CSV: Timestamp,Provider,Counter Name,Counter Type,Mean/Increment)."""
    peaks = {}
    try:
        with open(path) as f:
            for line in f:
                parts = line.rstrip("\n").split(",")
                if len(parts) >= 5 and any(k in parts[2] for k in ("thread_pool", "ThreadPool", "monitor.lock", "heap.size", "working_set", "committed")):
                    try:
                        peaks[parts[2]] = max(peaks.get(parts[2], 0.0), float(parts[-1]))
                    except ValueError:
                        pass
    except FileNotFoundError:
        pass
    print("proxy runtime counters, peaks: " + (", ".join(f"{k} {v:g}" for k, v in sorted(peaks.items())) or f"none read from {path}"))


WELL_FORMED = "search"  # the kind of search whose reranking other callers' inputs must not turn off


def summarize(title, results, late_after):
    """The answers of one phase: by kind, status and rerank; errors; latency and late answers over every search."""
    print(f"{title}: {len(results)} requests")
    by = {}
    for kind, status, rerank, *_ in results:
        key = f"{kind} {status} {rerank or '-'}"
        by[key] = by.get(key, 0) + 1
    for key in sorted(by):
        print(f"  {key}: {by[key]}")
    # Did the model do the work? Per kind: searches with a passage judged by the model in that search (applied,
    # partial), served from the reasoning store (cached), answered in backend order (fallback-*); and the passages of
    # all its answers by _rank1.source.
    for kind in sorted({k for k, *_ in results if not k.startswith("bad")}):
        answered = [(rerank, sources) for k, status, rerank, _, _, sources in results if k == kind and status == 200]
        model = sum(1 for r, _ in answered if r in ("applied", "partial"))
        cached = sum(1 for r, _ in answered if r == "cached")
        fallback = sum(1 for r, _ in answered if r and r.startswith("fallback"))
        passages = {}
        for _, sources in answered:
            for source, n in sources.items():
                passages[source] = passages.get(source, 0) + n
        print(f"  {kind} answered 200: {len(answered)}; judged by the model {model}, cached {cached}, fallback {fallback}; passages by source: "
              + (", ".join(f"{source} {n}" for source, n in sorted(passages.items())) or "none"))
    errors = {}
    for kind, status, *_ in results:
        expected = 400 if kind.startswith("bad") else 200
        if status != expected:
            errors[str(status)] = errors.get(str(status), 0) + 1
    print("  errors by kind (an answer other than 200, or 400 for bad input): " + (", ".join(f"{k} {v}" for k, v in sorted(errors.items())) or "none"))
    searches = sorted(s for kind, _, _, s, *_ in results if not kind.startswith("bad"))
    if searches:
        print(f"  search latency (every answer): p50 {searches[len(searches) // 2] * 1000:.0f} ms, p99 {searches[min(len(searches) - 1, int(len(searches) * 0.99))] * 1000:.0f} ms, "
              f"max {searches[-1] * 1000:.0f} ms; later than deadline_ms + 1 s: {sum(1 for s in searches if s > late_after)} of {len(searches)}")
    late = {}
    for kind, status, rerank, s, *_ in results:
        if s > late_after:
            key = f"{kind} {status} {rerank or '-'}"
            late[key] = late.get(key, 0) + 1
    if late:
        print("  late answers: " + ", ".join(f"{k} {v}" for k, v in sorted(late.items())))
    # How far the searches that were not fully reranked got (X-Rank1-Reason, up to its first colon): did they reach the model?
    why = {}
    for kind, status, rerank, _, reason, _ in results:
        if status == 200 and rerank in ("fallback-timeout", "fallback-error", "fallback-overload"):
            key = f"{kind} {rerank}: {(reason or '-').split(':')[0]}"
            why[key] = why.get(key, 0) + 1
    for key in sorted(why):
        print(f"    {key}: {why[key]}")
    reranked = [rerank for kind, status, rerank, *_ in results if kind == WELL_FORMED and status == 200]
    if reranked:
        applied = sum(1 for r in reranked if r == "applied")
        others = ", ".join(f"{r} {reranked.count(r)}" for r in sorted(set(reranked)) if r != "applied")
        print(f"  well-formed searches answered 200: {len(reranked)}, applied {applied} ({100 * applied / len(reranked):.0f}%)"
              + (f", {others}" if others else ""))


# The data folders of a run (the backend's index, the RabbitMQ node): about 1 GB, removed at the end; the logs stay.
DATA_FOLDERS = []


def main():
    try:
        return run()
    finally:
        kill_leftovers()
        for folder in DATA_FOLDERS:
            shutil.rmtree(folder, ignore_errors=True)


def run():
    p = argparse.ArgumentParser()
    p.add_argument("cli")
    p.add_argument("model")
    p.add_argument("--seconds", type=int, default=120)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--worker", required=True, help="the worker host's dll (Rank1.SearchBridge.Worker.dll)")
    p.add_argument("--counters", help="the dotnet-counters tool, to sample the proxy's runtime counters")
    p.add_argument("--queries", choices=["unique", "repeating"], default="unique",
                   help="unique: every search asks about a query not seen before, so the model judges it (default); repeating: a dozen queries, mostly answered from the reasoning store")
    a = p.parse_args()
    seconds = max(20, min(a.seconds, 225))  # plus a third for the well-formed phase: at most 5 minutes of load
    rng = random.Random(18)
    work = tempfile.mkdtemp(prefix="rank1-soak-")
    log = open(os.path.join(work, "processes.log"), "w")
    backend_port, proxy_port = free_port(), free_port()
    backend_url, proxy_url = f"http://127.0.0.1:{backend_port}", f"http://127.0.0.1:{proxy_port}"
    data = os.path.join(work, "data")
    DATA_FOLDERS.extend([data, os.path.join(work, "rabbitmq")])
    backend_args = ["dotnet", a.cli, "search-server", "--port", str(backend_port), "--data", data]
    backend = start(backend_args, log)
    wait_http(backend_url)

    # The corpus: ordinary passages and two 1 MB documents, one of them a single 1 MB "word".
    words = "onion tears gas eyes sulfur enzyme cutting kitchen water knife cold cry".split()
    lines = []
    for i in range(60):
        lines.append(json.dumps({"index": {"_index": "docs", "_id": f"d{i}"}}))
        lines.append(json.dumps({"title": f"Doc {i}", "text": " ".join(rng.choice(words) for _ in range(60))}))
    lines.append(json.dumps({"index": {"_index": "docs", "_id": "huge-words"}}))
    lines.append(json.dumps({"title": "Essay", "text": "onion " + " ".join(rng.choice(words) for _ in range(MB // 6))}))
    lines.append(json.dumps({"index": {"_index": "docs", "_id": "huge-nospace"}}))
    lines.append(json.dumps({"title": "Blob", "text": "onion " + "".join(rng.choice("abcdefghij") for _ in range(MB))}))
    status, _, _ = request("POST", f"{backend_url}/_bulk?refresh=true", ("\n".join(lines) + "\n").encode(), timeout=300)
    if status != 200:
        raise SystemExit(f"soak: seeding the backend answered {status}")

    config = os.path.join(work, "proxy.json")
    with open(config, "w") as f:
        json.dump({"Rank1": {"Model": {"ExecutionProvider": "Cpu"}, "Proxy": {"Default": {
            "Window": 8, "MaxThinkTokens": 16, "Deadline": str(datetime.timedelta(milliseconds=DEADLINE_MS)), "TitleField": "title"}}}}, f)
    proxy = start(["dotnet", a.cli, "proxy", "--backend", backend_url, "--model", a.model, "--port", str(proxy_port),
                   "--config", config], log)
    wait_http(f"{proxy_url}/_rank1/health")
    counters_csv = os.path.join(work, "proxy-counters.csv")
    if a.counters:
        start([a.counters, "collect", "-p", str(proxy.pid), "--counters", "System.Runtime", "--format", "csv", "-o", counters_csv, "--refresh-interval", "1"], log)

    # Precompute jobs through a private broker and one worker, followed by rank1-bridge precompute --wait; the broker is
    # restarted two thirds of the way in (the jobs are published once the backend is back from its kill). The worker stores into an index of its own, apart from the proxy's judgements.
    broker = Broker(os.path.join(work, "rabbitmq"), log)
    broker.start()
    jobs_index, jobs_window, queue = "rank1-soak-precompute", 4, "rank1-soak"
    worker_env = dict(os.environ, Rank1__Backend__Url=backend_url, Rank1__Broker__Url=broker.url, Rank1__Broker__Queue=queue,
                      Rank1__Model__Path=a.model, Rank1__Model__ExecutionProvider="Cpu", Rank1__Store__Index=jobs_index,
                      Rank1__Worker__RetryMinInterval="00:00:00.500", Rank1__Worker__RetryMaxInterval="00:00:05",
                      DOTNET_ENVIRONMENT="Production",
                      # Any free loopback port for the worker's metrics and health: a taken 9464 cannot stop the soak.
                      Urls="http://127.0.0.1:0")
    worker = start(["dotnet", a.worker], log, env=worker_env)
    huge_query = "onion" + "".join(rng.choice("xyz") for _ in range(MB))

    # Each body is drawn with its client's own random generator r. Unique queries are six random words of the corpus
    # (12^6 orderings: a repeat in a run is rare) and go first in an ext.rank1.query, so they survive its cut to the
    # query token cap.
    def fresh(r):
        return " ".join(r.choice(words) for _ in range(6))

    unique = a.queries == "unique"
    # Well-formed: an ordinary query over the ordinary documents only (the 1 MB ones are another caller's input).
    ordinary = {"ids": {"values": ["huge-words", "huge-nospace"]}}
    well_formed = (WELL_FORMED, lambda r: {"query": {"bool": {"must": {"match": {"text": fresh(r) if unique else r.choice(words)}}, "must_not": ordinary}}})
    kinds = [
        well_formed,
        ("long-docs", lambda r: {"query": {"match": {"text": "onion"}}, "size": 10, **({"ext": {"rank1": {"query": fresh(r)}}} if unique else {})}),
        ("1mb-query", lambda r: {"query": {"match": {"text": "onion"}}, "ext": {"rank1": {"query": f"{fresh(r)} {huge_query}" if unique else huge_query}}}),
        ("bad-json", lambda r: b'{"query": {"match": '),
        ("bad-ext", lambda r: {"query": {"match": {"text": "onion"}}, "ext": {"rank1": {"window": "many"}}}),
    ]
    results = []  # (kind, status, rerank, seconds, reason, {_rank1.source: passages})
    lock = threading.Lock()
    peak = {"rss": 0, "fds": 0}

    def load(mix, until, into):
        """Client and RSS-sampler threads (daemons, so Ctrl+C is not held up) sending searches drawn from mix until the given time."""
        def client(seed):
            r = random.Random(seed)
            while time.time() < until:
                kind, body = r.choice(mix)
                kept = []
                started = time.time()
                status, rerank, reason = request("POST", f"{proxy_url}/docs/_search", body(r), answer=kept.append)
                took = time.time() - started
                sources = passage_sources(kept[0]) if kept else {}  # read after the clock stops
                with lock:
                    into.append((kind, status, rerank, took, reason, sources))

        def sampler():
            while time.time() < until:
                rss, fds = rss_and_fds(proxy.pid)
                peak["rss"], peak["fds"] = max(peak["rss"], rss), max(peak["fds"], fds)
                time.sleep(0.5)

        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(a.clients)] + [threading.Thread(target=sampler, daemon=True)]
        for t in threads:
            t.start()
        return threads

    started_at = time.time()
    threads = load(kinds, started_at + seconds, results)

    # A third of the way in: the backend is killed, and restarted on the same port and data 5 s later.
    time.sleep(seconds / 3)
    os.killpg(backend.pid, signal.SIGKILL)
    backend.wait()
    killed_at = time.time()
    time.sleep(5)
    backend = start(backend_args, log)
    wait_http(backend_url)
    restarted_after = time.time() - killed_at

    # The precompute jobs start once the backend is back, so the only fault they meet is the broker restart.
    job_queries = [f"{x} {y}" for x in words for y in words if x < y][:30]
    queries_file = os.path.join(work, "queries.txt")
    with open(queries_file, "w") as f:
        f.write("\n".join(job_queries) + "\n")
    precompute_out = open(os.path.join(work, "precompute.out"), "w+")
    precompute = start(["dotnet", a.cli, "precompute", "--queries", queries_file, "--index", "docs", "--window", str(jobs_window),
                        "--fields", "text", "--title-field", "title", "--max-think-tokens", "8", "--broker", broker.url,
                        "--queue", queue, "--wait", "--timeout", str(seconds + 240)], precompute_out)
    jobs_expected = 0
    for q in job_queries:
        req = urllib.request.Request(f"{backend_url}/docs/_search", data=json.dumps(
            {"size": jobs_window, "_source": False, "query": {"multi_match": {"query": q, "fields": ["text"]}}}).encode(),
            method="POST", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            jobs_expected += min(jobs_window, len(json.loads(r.read())["hits"]["hits"]))

    # Two thirds of the way in (and once every job is published): the broker is stopped (SIGTERM) with jobs still
    # queued, and started again 3 s later.
    published_by = time.time() + 120
    while time.time() < published_by and precompute.poll() is None:
        with open(precompute_out.name) as f:
            if any(line.startswith("Published") for line in f):
                break
        time.sleep(0.2)
    time.sleep(max(0.0, started_at + 2 * seconds / 3 - time.time()))
    stored_at_stop, _ = stored_judgements(backend_url, jobs_index)
    broker.stop()
    broker_stopped_at = time.time() - started_at
    time.sleep(3)
    broker.start()

    for t in threads:
        t.join()
    stop_process(precompute, None, 300)
    precompute_out.seek(0)
    finished = [line.strip() for line in precompute_out if line.startswith("Finished:")]
    stored, distinct = stored_judgements(backend_url, jobs_index)

    # The comparison: only well-formed searches, the same clients, no fault (the precompute jobs are done by now).
    calm_seconds = max(10, seconds // 3)
    calm = []
    for t in load([well_formed], time.time() + calm_seconds, calm):
        t.join()

    stop_process(worker, signal.SIGTERM, 60)
    broker.stop()
    for proc in (proxy, backend):
        # Ctrl+C is how the CLI commands are stopped; a process that does not stop in 30 s is killed.
        stop_process(proc, signal.SIGINT, 30)

    print(f"soak: {seconds} s, {a.clients} clients, deadline_ms {DEADLINE_MS}, {a.queries} queries, backend SIGKILLed at {seconds // 3} s and back after {restarted_after:.1f} s")
    late_after = DEADLINE_MS / 1000 + 1
    summarize("hostile mix", results, late_after)
    summarize(f"well-formed only ({calm_seconds} s, no fault)", calm, late_after)
    print(f"proxy peak RSS: {peak['rss'] / 1024:.0f} MB; peak open file descriptors: {peak['fds']}")
    print(f"precompute: {len(job_queries)} jobs (window {jobs_window}, {jobs_expected} judgements expected), one worker; broker restarted (SIGTERM, "
          f"back after 3 s) at {broker_stopped_at:.0f} s with {stored_at_stop} of {jobs_expected} judgements stored")
    print(f"  rank1-bridge precompute --wait exit {precompute.returncode}: {finished[-1] if finished else 'no Finished line'}")
    print(f"  judgements stored {distinct} of {jobs_expected}: lost {jobs_expected - distinct}, duplicated {stored - distinct}")
    if a.counters:
        print_counter_peaks(counters_csv)
    print(f"logs: {log.name}")


if __name__ == "__main__":
    sys.exit(main())
