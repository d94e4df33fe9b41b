// The client conformance run of one official JavaScript client through the proxy, with the client's defaults plus
// compression and sniffing on: info/ping, a > 30 MB bulk (on the wire, gzipped), searches with and without rerank,
// filter_path, the 20-item msearch of msearch-20.json, scroll + clear scroll, search_after, point in time
// (the cluster flavour's own: Elasticsearch _pit or OpenSearch _search/point_in_time; the OpenSearch client reaches
// Elasticsearch's _pit through its transport, as it has no API of its own for it). Any client-side error (a product
// check included) fails it.
// Usage: node client-conformance.mjs CLIENT FLAVOR URL INDEX BIG_INDEX PAGING_INDEX
// (CLIENT and FLAVOR: elasticsearch|opensearch; the Elastic client runs against the Elasticsearch flavour only)
// Prints one JSON line with what the client read from its own response objects; exits 1 on an error.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { Client as EsClient } from '@elastic/elasticsearch';
import { Client as OsClient } from '@opensearch-project/opensearch';

const [clientName, flavor, url, index, bigIndex, pagingIndex] = process.argv.slice(2);
const es = clientName === 'elasticsearch';
const client = es
  ? new EsClient({ node: url, compression: true, sniffOnStart: true })
  : new OsClient({ node: url, compression: 'gzip', sniffOnStart: true });
// The OpenSearch client answers { body, headers }; the Elastic one the body itself (or { body, headers } with meta).
const call = async api => {
  const r = await api(es ? { meta: true } : {});
  return { body: r.body, headers: r.headers };
};
// The Elastic client takes the search body's keys as parameters; the OpenSearch one a body.
const searchParams = (params, body) => (es ? { ...params, ...body } : { ...params, body });
const sniffs = [];
(es ? client.diagnostic : client).on('sniff', (err, result) => sniffs.push({
  error: err ? err.message : null,
  hosts: (result?.meta?.sniff?.hosts ?? []).map(h => h.url?.href ?? String(h)),
}));
const ids = r => r.body.hits.hits.map(h => h._id);
const rank1 = r => ({ rerank: r.headers['x-rank1-rerank'] ?? null, reason: r.headers['x-rank1-reason'] ?? null });

try {
  const out = { sniffs };
  const info = await call(o => client.info({}, o));
  out.info = { distribution: info.body.version.distribution ?? 'elasticsearch', tagline: info.body.tagline };
  out.ping = (await call(o => client.ping({}, o))).body;

  // > 30 MB once gzipped: random bytes as base64 do not compress below three quarters of their size.
  const blob = randomBytes(768 * 1024).toString('base64');
  const bulkBody = [];
  for (let i = 0; i < 40; i++) {
    bulkBody.push({ index: { _index: bigIndex, _id: `big${i}` } }, { n: i, blob: `${i}${blob}` });
  }
  out.bigWireBytes = gzipSync(bulkBody.map(l => JSON.stringify(l)).join('\n') + '\n').length;
  const mappings = { properties: { n: { type: 'integer' }, blob: { type: 'keyword', ignore_above: 256 } } };
  await call(o => client.indices.create(es ? { index: bigIndex, mappings } : { index: bigIndex, body: { mappings } }, o));
  const bulk = await call(o => client.bulk(es ? { refresh: true, operations: bulkBody } : { refresh: true, body: bulkBody }, o));
  out.bigBulk = { errors: bulk.body.errors, items: bulk.body.items.length, count: (await call(o => client.count({ index: bigIndex }, o))).body.count };

  const query = { query: { match: { text: 'onion eyes' } } };
  const reranked = await call(o => client.search(searchParams({ index }, query), o));
  out.reranked = { ...rank1(reranked), ids: ids(reranked), scores: reranked.body.hits.hits.map(h => h.fields?.['_rank1.score']?.[0] ?? null) };
  const plain = await call(o => client.search(searchParams({ index }, { ...query, ext: { rank1: { enabled: false } } }), o));
  out.plain = { ...rank1(plain), ids: ids(plain), scored: plain.body.hits.hits.some(h => h.fields?.['_rank1.score']) };
  const filtered = await call(o => client.search(searchParams({ index, filter_path: 'hits.hits._id,hits.hits.fields' }, query), o));
  out.filtered = { ...rank1(filtered), body: filtered.body };

  const searches = JSON.parse(readFileSync(new URL('./msearch-20.json', import.meta.url))).flat();
  const msearch = await call(o => client.msearch(es ? { searches } : { body: searches }, o));
  out.msearch = {
    header: msearch.headers['x-rank1-rerank'],
    items: msearch.body.responses.map(r => ({
      status: r.status,
      error: r.error?.type ?? null,
      rerank: r._rank1.rerank,
      reason: r._rank1.reason ?? null,
      hits: r.hits?.hits.length ?? null,
      scored: r.hits ? r.hits.hits.some(h => h.fields?.['_rank1.score']) : null,
    })),
  };

  const paging = [];
  for (let i = 1; i <= 7; i++) {
    paging.push({ index: { _index: pagingIndex, _id: `p${i}` } }, { title: `page ${i}`, year: 2000 + i });
  }
  await call(o => client.bulk(es ? { refresh: true, operations: paging } : { refresh: true, body: paging }, o));

  const first = await call(o => client.search(searchParams({ index: pagingIndex, scroll: '1m', size: 3 }, { sort: ['_doc'] }), o));
  out.scroll = { ...rank1(first), ids: ids(first) };
  let scrollId = first.body._scroll_id;
  for (;;) {
    const page = await call(o => client.scroll(es ? { scroll_id: scrollId, scroll: '1m' } : { body: { scroll_id: scrollId, scroll: '1m' } }, o));
    if (page.body.hits.hits.length === 0) break;
    out.scroll.ids.push(...ids(page));
    scrollId = page.body._scroll_id;
  }
  out.scroll.freed = (await call(o => client.clearScroll(es ? { scroll_id: scrollId } : { body: { scroll_id: [scrollId] } }, o))).body.num_freed;

  const pages = async pit => {
    const seen = [];
    let after;
    for (;;) {
      const body = { size: 2, sort: [{ year: 'desc' }], ...(pit ? { pit: { id: pit, keep_alive: '1m' } } : {}), ...(after ? { search_after: after } : {}) };
      const page = await call(o => client.search(searchParams(pit ? {} : { index: pagingIndex }, body), o));
      if (page.body.hits.hits.length === 0) return seen;
      seen.push({ ...rank1(page), ids: ids(page) });
      after = page.body.hits.hits.at(-1).sort;
    }
  };
  out.searchAfter = await pages(null);
  // Each cluster flavour's own point-in-time API.
  const pitApi = es
    ? { open: o => client.openPointInTime({ index: pagingIndex, keep_alive: '1m' }, o), id: b => b.id,
        close: (id, o) => client.closePointInTime({ id }, o), freed: b => b.num_freed }
    : flavor === 'opensearch'
      ? { open: o => client.createPit({ index: pagingIndex, keep_alive: '1m' }, o), id: b => b.pit_id,
          close: (id, o) => client.deletePit({ body: { pit_id: [id] } }, o), freed: b => b.pits.filter(p => p.successful).length }
      : { open: o => client.transport.request({ method: 'POST', path: `/${pagingIndex}/_pit`, querystring: { keep_alive: '1m' } }, o), id: b => b.id,
          close: (id, o) => client.transport.request({ method: 'DELETE', path: '/_pit', body: { id } }, o), freed: b => b.num_freed };
  const pit = pitApi.id((await call(pitApi.open)).body);
  out.pit = { pages: await pages(pit) };
  out.pit.closed = pitApi.freed((await call(o => pitApi.close(pit, o))).body);
  console.log(JSON.stringify(out));
} catch (e) {
  console.error(`client-conformance: ${e.name}: ${e.message} ${JSON.stringify(e.meta?.body ?? '')}`);
  process.exit(1);
}
