#!/usr/bin/env python3
"""Bounded soak of the proxy over loopback (issue #18): mixed load with 1 MB documents and 1 MB queries, bad inputs,
and a backend killed (SIGKILL) and restarted mid-run. Prints requests, errors by kind, p50/p99 latency, answers later
than deadline_ms + 1 s, peak RSS and open file descriptors of the proxy process.

Usage: tools/soak.py CLI_DLL MODEL_DIR [--seconds N (default 120, at most 300)] [--clients N (default 4)]
"""
import argparse
import json
import os
import random
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


def start(args, log):
    return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def wait_http(url, seconds=120):
    end = time.time() + seconds
    while time.time() < end:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except Exception:
            time.sleep(0.5)
    raise SystemExit(f"soak: {url} did not answer within {seconds} s")


def request(method, url, body=None, timeout=60):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            r.read()
            return r.status, r.headers.get("X-Rank1-Rerank")
    except urllib.error.HTTPError as e:
        e.read()
        return e.code, e.headers.get("X-Rank1-Rerank")
    except Exception as e:  # connection refused, reset, timeout
        return type(e).__name__, None


def rss_and_fds(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        return rss, fds
    except (FileNotFoundError, ProcessLookupError, StopIteration):
        return 0, 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("cli")
    p.add_argument("model")
    p.add_argument("--seconds", type=int, default=120)
    p.add_argument("--clients", type=int, default=4)
    a = p.parse_args()
    seconds = max(20, min(a.seconds, 300))
    rng = random.Random(18)
    work = tempfile.mkdtemp(prefix="rank1-soak-")
    log = open(os.path.join(work, "processes.log"), "w")
    backend_port, proxy_port = free_port(), free_port()
    backend_url, proxy_url = f"http://127.0.0.1:{backend_port}", f"http://127.0.0.1:{proxy_port}"
    data = os.path.join(work, "data")
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
    status, _ = request("POST", f"{backend_url}/_bulk?refresh=true", ("\n".join(lines) + "\n").encode(), timeout=300)
    if status != 200:
        raise SystemExit(f"soak: seeding the backend answered {status}")

    config = os.path.join(work, "proxy.json")
    with open(config, "w") as f:
        json.dump({"Rank1": {"Model": {"ExecutionProvider": "Cpu"}, "Proxy": {"Default": {
            "Window": 8, "MaxThinkTokens": 16, "DeadlineMs": DEADLINE_MS, "TitleField": "title"}}}}, f)
    proxy = start(["dotnet", a.cli, "proxy", "--backend", backend_url, "--model", a.model, "--port", str(proxy_port),
                   "--config", config], log)
    wait_http(f"{proxy_url}/_rank1/health")

    huge_query = "onion" + "".join(rng.choice("xyz") for _ in range(MB))
    kinds = [
        ("search", lambda: {"query": {"match": {"text": rng.choice(words)}}}),
        ("long-docs", lambda: {"query": {"match": {"text": "onion"}}, "size": 10}),
        ("1mb-query", lambda: {"query": {"match": {"text": "onion"}}, "ext": {"rank1": {"query": huge_query}}}),
        ("bad-json", lambda: b'{"query": {"match": '),
        ("bad-ext", lambda: {"query": {"match": {"text": "onion"}}, "ext": {"rank1": {"window": "many"}}}),
    ]
    results = []  # (kind, status, rerank, seconds)
    lock = threading.Lock()
    stop = time.time() + seconds
    peak = {"rss": 0, "fds": 0}

    def client(seed):
        r = random.Random(seed)
        while time.time() < stop:
            kind, body = r.choice(kinds)
            started = time.time()
            status, rerank = request("POST", f"{proxy_url}/docs/_search", body())
            with lock:
                results.append((kind, status, rerank, time.time() - started))

    def sampler():
        while time.time() < stop:
            rss, fds = rss_and_fds(proxy.pid)
            peak["rss"], peak["fds"] = max(peak["rss"], rss), max(peak["fds"], fds)
            time.sleep(0.5)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(a.clients)] + [threading.Thread(target=sampler)]
    for t in threads:
        t.start()

    # A third of the way in: the backend is killed, and restarted on the same port and data 5 s later.
    time.sleep(seconds / 3)
    os.killpg(backend.pid, signal.SIGKILL)
    backend.wait()
    killed_at = time.time()
    time.sleep(5)
    backend = start(backend_args, log)
    wait_http(backend_url)
    restarted_after = time.time() - killed_at

    for t in threads:
        t.join()
    for proc in (proxy, backend):
        # Ctrl+C is how the CLI commands are stopped; a process that does not stop in 30 s is killed.
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    print(f"soak: {seconds} s, {a.clients} clients, deadline_ms {DEADLINE_MS}, backend SIGKILLed at {seconds // 3} s and back after {restarted_after:.1f} s")
    print(f"requests: {len(results)}")
    by = {}
    for kind, status, rerank, _ in results:
        key = f"{kind} {status} {rerank or '-'}"
        by[key] = by.get(key, 0) + 1
    for key in sorted(by):
        print(f"  {key}: {by[key]}")
    errors = {}
    for kind, status, _, _ in results:
        expected = 400 if kind.startswith("bad") else 200
        if status != expected:
            errors[str(status)] = errors.get(str(status), 0) + 1
    print("errors by kind (an answer other than 200, or 400 for bad input): " + (", ".join(f"{k} {v}" for k, v in sorted(errors.items())) or "none"))
    searches = sorted(s for kind, status, _, s in results if not kind.startswith("bad") and status == 200)
    if searches:
        print(f"search latency: p50 {searches[len(searches) // 2] * 1000:.0f} ms, p99 {searches[min(len(searches) - 1, int(len(searches) * 0.99))] * 1000:.0f} ms, "
              f"max {searches[-1] * 1000:.0f} ms; later than deadline_ms + 1 s: {sum(1 for s in searches if s > DEADLINE_MS / 1000 + 1)}")
    late = {}
    for kind, status, rerank, s in results:
        if s > DEADLINE_MS / 1000 + 1:
            key = f"{kind} {status} {rerank or '-'}"
            late[key] = late.get(key, 0) + 1
    if late:
        print("  late answers: " + ", ".join(f"{k} {v}" for k, v in sorted(late.items())))
    print(f"proxy peak RSS: {peak['rss'] / 1024:.0f} MB; peak open file descriptors: {peak['fds']}")
    print(f"logs: {log.name}")


if __name__ == "__main__":
    sys.exit(main())
