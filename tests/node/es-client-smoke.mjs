// Drives a server with the official @elastic/elasticsearch client: bulk-indexes documents, then searches, then
// makes a search fail on the shard (a sort on an unmapped field) and reports the client's ResponseError.
// Usage: node es-client-smoke.mjs URL INDEX. Prints one JSON line with what the client saw; exits 1 on an error.
import { Client } from '@elastic/elasticsearch';

const [url, index] = process.argv.slice(2);
const client = new Client({ node: url });
try {
  const bulk = await client.bulk({
    refresh: true,
    operations: [
      { index: { _index: index, _id: 'js-1' } }, { title: 'Kettle', text: 'An electric kettle boils water quickly.' },
      { index: { _index: index, _id: 'js-2' } }, { title: 'Teapot', text: 'A teapot steeps tea leaves in hot water.' },
      { index: { _index: index, _id: 'js-3' } }, { title: 'Bicycle', text: 'A bicycle has two wheels and pedals.' },
    ],
  });
  const search = await client.search({ index, query: { match: { text: 'hot water' } } });
  let failed = null;
  try {
    await client.search({ index, sort: [{ nope: 'asc' }] });
  } catch (e) {
    failed = { name: e.name, statusCode: e.meta?.statusCode ?? null, message: e.message };
  }
  console.log(JSON.stringify({
    bulkErrors: bulk.errors,
    bulkItems: bulk.items.length,
    total: search.hits.total.value,
    ids: search.hits.hits.map(h => h._id),
    scores: search.hits.hits.map(h => h._score),
    failed,
  }));
} catch (e) {
  console.error(`es-client-smoke: ${e.name}: ${e.message}`);
  process.exit(1);
}
