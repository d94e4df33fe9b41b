// Pages a server with an official JavaScript client at its defaults plus compression and sniffing on:
// @elastic/elasticsearch (helpers.scrollSearch, point in time + search_after, filter_path, _cat/indices) or
// @opensearch-project/opensearch (helpers.scrollSearch, createPit/deletePit + search_after).
// Usage: node embedded-paging.mjs URL elasticsearch|opensearch INDEX. Prints one JSON line; exits 1 on an error.
import { Client as EsClient } from '@elastic/elasticsearch';
import { Client as OsClient } from '@opensearch-project/opensearch';

const [url, flavor, index] = process.argv.slice(2);
const es = flavor === 'elasticsearch';
const client = es
  ? new EsClient({ node: url, compression: true, sniffOnStart: true })
  : new OsClient({ node: url, compression: 'gzip', sniffOnStart: true });
// Both clients answer { body } with the OpenSearch client and the body itself with the Elastic one.
const body = r => (es ? r : r.body);
const sniffs = [];
(es ? client.diagnostic : client).on('sniff', (err, result) => sniffs.push({
  error: err ? err.message : null,
  hosts: (result?.meta?.sniff?.hosts ?? []).map(h => h.url?.href ?? String(h)),
}));

try {
  const operations = [];
  for (let i = 1; i <= 7; i++) {
    operations.push({ index: { _index: index, _id: `n${i}` } }, { title: `page ${i}`, year: 2000 + i });
  }
  const bulk = body(es ? await client.bulk({ refresh: true, operations }) : await client.bulk({ refresh: true, body: operations }));
  if (bulk.errors) throw new Error('bulk errors');

  const scrolled = [];
  const scrollParams = { index, size: 3, scroll: '1m', sort: ['_doc'] };
  for await (const page of client.helpers.scrollSearch(es ? scrollParams : { index, size: 3, scroll: '1m', body: { sort: ['_doc'] } })) {
    scrolled.push(...page.body.hits.hits.map(h => h._id));
  }

  const pit = es
    ? (await client.openPointInTime({ index, keep_alive: '1m' })).id
    : body(await client.createPit({ index, keep_alive: '1m' })).pit_id;
  const paged = [];
  let after;
  for (;;) {
    const search = { size: 2, pit: { id: pit, keep_alive: '1m' }, sort: [{ year: 'desc' }], ...(after ? { search_after: after } : {}) };
    const page = body(es ? await client.search(search) : await client.search({ body: search }));
    if (page.hits.hits.length === 0) break;
    paged.push(...page.hits.hits.map(h => h._id));
    after = page.hits.hits.at(-1).sort;
  }
  const closed = es
    ? (await client.closePointInTime({ id: pit })).num_freed
    : body(await client.deletePit({ body: { pit_id: [pit] } })).pits.filter(p => p.successful).length;

  const result = { sniffs, scrolled, paged, closed };
  if (es) {
    result.filtered = await client.search({ index, size: 1, sort: ['_doc'], filter_path: 'hits.hits._id' });
    result.cat = (await client.cat.indices({ index, format: 'json', h: 'index,docs.count' }));
  }
  console.log(JSON.stringify(result));
} catch (e) {
  console.error(`embedded-paging: ${e.name}: ${e.message} ${JSON.stringify(e.meta?.body ?? '')}`);
  process.exit(1);
}
