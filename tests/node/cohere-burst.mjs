// A burst of concurrent Cohere SDK rerank calls at the SDK's default settings (two retries, each after exactly the
// answer's Retry-After): how many succeed against one rerank service. Not a test; the measurement of
// docs/rerank-service.md ("Overload"). Usage: node tests/node/cohere-burst.mjs URL [CALLS] [DOCUMENTS]
import { CohereClient } from "cohere-ai";

const [url, calls = "30", documents = "1000"] = process.argv.slice(2);
const client = new CohereClient({ token: "burst", environment: url });
const docs = Array.from({ length: +documents }, (_, i) => `doc ${i} about onions `.repeat(3));
await client.rerank({ query: "warm-up", documents: docs, topN: 1 }); // one call first: the service learns its pace
const started = Date.now();
const results = await Promise.allSettled(Array.from({ length: +calls }, (_, i) => client.rerank({ query: `q${i}`, documents: docs, topN: 1 })));
const failed = {};
for (const r of results.filter(r => r.status !== "fulfilled")) {
  const key = `${r.reason.statusCode} ${JSON.stringify(r.reason.body)}`;
  failed[key] = (failed[key] ?? 0) + 1;
}
console.log(JSON.stringify({ calls: +calls, documents: +documents, ok: results.filter(r => r.status === "fulfilled").length, failed, ms: Date.now() - started }));
