// Drives the proxy with an official JavaScript client at its default settings: one reranked search, one
// pass-through call, and an msearch mixing a reranked, a skipped (size 0) and a failed (missing index) search
// (with the Elasticsearch client also through helpers.msearch), and a search given only q= (no body), which the proxy
// reranks with a body it makes up, and a search template (searchTemplate) of a query no other call sends, reranked as that search,
// and a multi search template (msearchTemplate) of another such query next to a template the cluster does not hold.
// Usage: node proxy-clients-smoke.mjs elasticsearch|opensearch URL INDEX
// Prints one JSON line with what the client saw; exits 1 on an error.
const [flavor, url, index] = process.argv.slice(2);
try {
  const searches = [
    { index }, { query: { match: { text: 'onion soup' } } },
    { index }, { query: { match: { text: 'onion' } }, size: 0 },
    { index: 'ghost' }, { query: { match: { text: 'onion' } } },
  ];
  let search, count, rank1, msearch, helperItem, qOnly, template, msearchTemplate;
  const templateSource = '{"query":{"match":{"text":"{{q}}"}}}';
  const templates = [{}, { source: templateSource, params: { q: 'onion bread' } }, {}, { id: 'no-such-template', params: {} }];
  const seen = m => ({
    statuses: m.responses.map(r => r.status),
    rerank: m.responses.map(r => r._rank1?.rerank ?? null),
    ids: m.responses[0].hits.hits.map(h => h._id),
  });
  if (flavor === 'opensearch') {
    const { Client } = await import('@opensearch-project/opensearch');
    const client = new Client({ node: url });
    const s = await client.search({ index, body: { query: { match: { text: 'onion eyes' } } } });
    search = s.body;
    rank1 = s.headers['x-rank1-rerank'];
    count = (await client.count({ index })).body.count;
    const q = await client.search({ index, q: 'onion' });
    qOnly = { rerank: q.headers['x-rank1-rerank'], hits: q.body.hits.hits.length };
    // coordinator_timeout: read by recent OpenSearch's msearch, sent on to the cluster rather than refused by the proxy.
    msearch = (await client.msearch({ coordinator_timeout: '30s', body: searches })).body;
    const t = await client.searchTemplate({ index, body: { source: templateSource, params: { q: 'onion goggles' } } });
    template = { rerank: t.headers['x-rank1-rerank'], ids: t.body.hits.hits.map(h => h._id) };
    msearchTemplate = seen((await client.msearchTemplate({ index, body: templates })).body);
  } else {
    const { Client } = await import('@elastic/elasticsearch');
    const client = new Client({ node: url });
    const s = await client.search({ index, query: { match: { text: 'onion eyes' } } }, { meta: true });
    search = s.body;
    rank1 = s.headers['x-rank1-rerank'];
    count = (await client.count({ index })).count;
    const q = await client.search({ index, q: 'onion' }, { meta: true });
    qOnly = { rerank: q.headers['x-rank1-rerank'], hits: q.body.hits.hits.length };
    msearch = await client.msearch({ searches });
    const t = await client.searchTemplate({ index, source: templateSource, params: { q: 'onion goggles' } }, { meta: true });
    template = { rerank: t.headers['x-rank1-rerank'], ids: t.body.hits.hits.map(h => h._id) };
    msearchTemplate = seen(await client.msearchTemplate({ index, search_templates: templates }));
    const helper = client.helpers.msearch();
    try {
      const r = await helper.search({ index }, { query: { match: { text: 'onion festival' } } });
      helperItem = r.body._rank1?.rerank ?? null;
    } finally {
      helper.stop();
    }
  }
  console.log(JSON.stringify({
    rerank: rank1,
    ids: search.hits.hits.map(h => h._id),
    scores: search.hits.hits.map(h => h._score),
    rank1Scores: search.hits.hits.map(h => h.fields?.['_rank1.score']?.[0] ?? null),
    count,
    msearchStatuses: msearch.responses.map(r => r.status),
    msearchRerank: msearch.responses.map(r => r._rank1?.rerank ?? null),
    helperItem: helperItem ?? null,
    qOnly,
    template,
    msearchTemplate,
  }));
} catch (e) {
  console.error(`proxy-clients-smoke: ${e.name}: ${e.message}`);
  process.exit(1);
}
