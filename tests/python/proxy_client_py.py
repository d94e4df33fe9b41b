# Drives the proxy with the official Python client, elasticsearch-py as Debian ships it (python3-elasticsearch: 7.17 on Debian 12),
# at its default settings: info (the client's product check), a reranked search of a query no other call sends, a
# q= search, an msearch mixing a reranked search and a missing index, helpers.scan (scroll) and helpers.bulk, a search
# template and a multi search template, and an error.
# Usage: /usr/bin/python3 proxy_client_py.py URL INDEX
# Prints one JSON line with what the client saw; exits 1 on an unexpected error.
import json
import sys
import warnings

from elasticsearch import Elasticsearch, helpers

warnings.simplefilter("ignore")  # 7.17 warns that body= is deprecated; 7.x code still sends it
url, index = sys.argv[1], sys.argv[2]
es = Elasticsearch(url)
seen = {"version": es.info()["version"]["number"]}
r = es.search(index=index, body={"query": {"match": {"text": "onion storage"}}})
seen["search"] = {
    "ids": [h["_id"] for h in r["hits"]["hits"]],
    "sources": [h.get("fields", {}).get("_rank1.source", [None])[0] for h in r["hits"]["hits"]],
}
seen["q"] = len(es.search(index=index, q="onion")["hits"]["hits"])
m = es.msearch(body=[{"index": index}, {"query": {"match": {"text": "onion"}}}, {"index": "ghost"}, {"query": {"match": {"text": "onion"}}}])
seen["msearch"] = {"statuses": [x["status"] for x in m["responses"]], "rerank": [x["_rank1"]["rerank"] for x in m["responses"]]}
seen["scan"] = sorted(h["_id"] for h in helpers.scan(es, index=index, query={"query": {"match": {"text": "onion"}}}, size=2))
ok, errors = helpers.bulk(es, ({"_index": "py-bulk", "_id": str(i), "text": f"document {i}"} for i in range(120)), refresh=True, chunk_size=50)
seen["bulk"] = {"ok": ok, "errors": len(errors), "count": es.count(index="py-bulk")["count"]}
t = es.search_template(index=index, body={"source": {"query": {"match": {"text": "{{q}}"}}}, "params": {"q": "onion history"}})
seen["template"] = [h.get("fields", {}).get("_rank1.source", [None])[0] for h in t["hits"]["hits"][:1]]
mt = es.msearch_template(index=index, body=[{}, {"source": {"query": {"match": {"text": "{{q}}"}}}, "params": {"q": "onion varieties"}}])
seen["msearchTemplate"] = [x["_rank1"]["rerank"] for x in mt["responses"]]
try:
    es.search(index=index, body={"query": {"match": {"text": "onion"}}, "from": -1})
    seen["error"] = None
except Exception as e:  # 7.x: RequestError; 8.x: BadRequestError; both carry status_code and error
    seen["error"] = {"status": getattr(e, "status_code", None), "type": getattr(e, "error", None)}
print(json.dumps(seen))
