# Times TEI /rerank calls of 64 long texts with "truncate": false (each judged, its prompt encoded once since d718174), and the
# measuring alone (the same texts and a 65th over-long one: a 422 once all are measured). Start the service first:
#   dotnet src/Rank1.SearchBridge.Cli/bin/Release/net10.0/rank1-bridge.dll serve --model .rank1/models/tiny --port 9610 \
#     --config C.json    (C.json: {"Rank1":{"Service":{"MaxThinkTokens":0}}})
# then: python3 tests/python/tei_truncate_false_time.py 9610
import json, time, urllib.request, urllib.error, sys
port = sys.argv[1]
words = "onions release a sulfur gas when cut which reaches the eyes and makes them water; chefs chill them first. ".split()
texts = [" ".join(f"{w}{(i * 7 + j) % 97}" for j, w in enumerate(words * 25)) for i in range(64)]
body = json.dumps({"query": "why do onions make eyes water", "texts": texts, "truncate": False, "deadline_ms": 600000}).encode()
def call():
    req = urllib.request.Request(f"http://127.0.0.1:{port}/rerank", data=body, headers={"Content-Type": "application/json"})
    t = time.perf_counter()
    with urllib.request.urlopen(req, timeout=600) as r:
        answer = json.loads(r.read())
    return time.perf_counter() - t, answer
times = []
for k in range(4):
    dt, answer = call()
    times.append(dt)
print("times_s", [round(t, 3) for t in times])
print("scores", json.dumps(sorted((a["index"], a["score"]) for a in answer)))
# The measuring alone: the same texts and a 65th over-long one, refused (422) once all are measured.
refused = json.dumps({"query": "why do onions make eyes water", "texts": texts + [" ".join(words * 200)], "truncate": False, "deadline_ms": 600000}).encode()
mt = []
for k in range(3):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/rerank", data=refused, headers={"Content-Type": "application/json"})
    t = time.perf_counter()
    try:
        urllib.request.urlopen(req, timeout=600)
    except urllib.error.HTTPError as e:
        assert e.code == 422, e.code
    mt.append(time.perf_counter() - t)
print("measuring_only_s", [round(t, 3) for t in mt])
