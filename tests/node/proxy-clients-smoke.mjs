// Drives the proxy with an official JavaScript client: one reranked search and one pass-through call.
// Usage: node proxy-clients-smoke.mjs elasticsearch|opensearch URL INDEX
// Prints one JSON line with what the client saw; exits 1 on an error.
const [flavor, url, index] = process.argv.slice(2);
try {
  let search, count, rank1;
  if (flavor === 'opensearch') {
    const { Client } = await import('@opensearch-project/opensearch');
    const client = new Client({ node: url });
    const s = await client.search({ index, body: { query: { match: { text: 'onion eyes' } } } });
    search = s.body;
    rank1 = s.headers['x-rank1-rerank'];
    count = (await client.count({ index })).body.count;
  } else {
    const { Client } = await import('@elastic/elasticsearch');
    const client = new Client({ node: url });
    const s = await client.search({ index, query: { match: { text: 'onion eyes' } } }, { meta: true });
    search = s.body;
    rank1 = s.headers['x-rank1-rerank'];
    count = (await client.count({ index })).count;
  }
  console.log(JSON.stringify({
    rerank: rank1,
    ids: search.hits.hits.map(h => h._id),
    scores: search.hits.hits.map(h => h._score),
    rank1Scores: search.hits.hits.map(h => h.fields?.['_rank1.score']?.[0] ?? null),
    count,
  }));
} catch (e) {
  console.error(`proxy-clients-smoke: ${e.name}: ${e.message}`);
  process.exit(1);
}
