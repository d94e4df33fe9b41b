// Drives a server with the official @elastic/elasticsearch client: bulk-indexes documents, then searches.
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
  console.log(JSON.stringify({
    bulkErrors: bulk.errors,
    bulkItems: bulk.items.length,
    total: search.hits.total.value,
    ids: search.hits.hits.map(h => h._id),
    scores: search.hits.hits.map(h => h._score),
  }));
} catch (e) {
  console.error(`es-client-smoke: ${e.name}: ${e.message}`);
  process.exit(1);
}
