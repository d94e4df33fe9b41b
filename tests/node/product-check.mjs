// The Elastic JavaScript client (defaults plus compression and sniffing, as in client-conformance.mjs) against a
// server: whether its first call is refused by the client's product check, and what the server had answered.
// Usage: node product-check.mjs URL
// Prints one JSON line: the error's class, whether it is the transport's ProductNotSupportedError, and the status
// and X-Elastic-Product header of the answer the client refused (null when the call succeeded).
import { Client, errors } from '@elastic/elasticsearch';

const client = new Client({ node: process.argv[2], compression: true, sniffOnStart: true });
try {
  await client.info();
  console.log(JSON.stringify({ error: null }));
} catch (e) {
  console.log(JSON.stringify({
    error: e.name,
    productCheck: e instanceof errors.ProductNotSupportedError,
    message: e.message,
    status: e.meta?.statusCode ?? null,
    product: e.meta?.headers?.['x-elastic-product'] ?? null,
  }));
}
