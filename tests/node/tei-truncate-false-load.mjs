// TEI's "truncate": false under load: K concurrent /rerank calls of N texts of about 8 KB each, the last over-long (each
// call ends with TEI's 422 once every text is measured), while GET /health is timed every 20 ms; then one call of D ms
// deadline. Prints each call's status and time, the health probe's times, and the deadline call's status and time.
// Usage: node tests/node/tei-truncate-false-load.mjs http://127.0.0.1:8093 8 400 [3000 300]
// (docs/rerank-service.md, "Long documents"; serve with MaxDocuments and MaxBodyBytes raised.)
const [base, k = "8", n = "400", deadlineTexts = "3000", deadlineMs = "300"] = process.argv.slice(2);
const text = Array.from({ length: 110 }, (_, i) => `onions make eyes water because cutting releases a gas, said the cook ${i};`).join(" ");
const body = (count, extra) => JSON.stringify({ query: "onion eyes", texts: [...Array.from({ length: count }, (_, j) => text + j), text.repeat(4)], truncate: false, ...extra });
const post = async (payload) => {
  const started = performance.now();
  const response = await fetch(`${base}/rerank`, { method: "POST", headers: { "Content-Type": "application/json" }, body: payload });
  const answer = await response.text();
  return { status: response.status, seconds: (performance.now() - started) / 1000, answer: answer.slice(0, 90) };
};

const latencies = [];
let probing = true;
const probe = (async () => {
  while (probing) {
    const started = performance.now();
    await (await fetch(`${base}/health`)).text();
    latencies.push((performance.now() - started) / 1000);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
})();
const payload = body(Number(n), { deadline_ms: 600000 });
const calls = await Promise.all(Array.from({ length: Number(k) }, () => post(payload)));
probing = false;
await probe;
latencies.sort((a, b) => a - b);
console.log("calls:", calls.map((c) => `${c.status} ${c.seconds.toFixed(2)} s`).join(", "));
console.log(`health under load: n=${latencies.length} median=${latencies[latencies.length >> 1].toFixed(3)} max=${latencies.at(-1).toFixed(3)} s`);
const late = await post(body(Number(deadlineTexts), { deadline_ms: Number(deadlineMs) }));
console.log(`deadline_ms=${deadlineMs}, ${Number(deadlineTexts) + 1} texts: HTTP ${late.status} in ${late.seconds.toFixed(2)} s: ${late.answer}`);
