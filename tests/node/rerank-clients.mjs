// The official Cohere SDK (v1 and v2 clients) and LangChain's CohereRerank pointed at a running rank1-bridge serve.
// Usage: node rerank-clients.mjs BASE_URL API_KEY. Prints one JSON line with what each client read.
import { CohereClient, CohereClientV2 } from "cohere-ai";
import { CohereRerank } from "@langchain/cohere";
import { Document } from "@langchain/core/documents";

const [base, token] = process.argv.slice(2);
const environment = base.replace(/\/$/, "");
const documents = [
  "Onion soup is made with beef stock.",
  "Cutting an onion releases a gas that irritates the eyes and makes them water.",
  "Store onions in a cool dry place.",
];
const query = "why do onions make people cry";

const v1 = await new CohereClient({ token, environment }).rerank({ model: "rank1", query, documents, topN: 2, returnDocuments: true });
const v2 = await new CohereClientV2({ token, environment }).rerank({ model: "rank1", query, documents });
const compressor = new CohereRerank({ client: new CohereClient({ token, environment }), model: "rank1", topN: 2 });
const compressed = await compressor.compressDocuments(documents.map((pageContent, i) => new Document({ pageContent, metadata: { id: i } })), query);
let unauthorized = null;
try {
  await new CohereClient({ token: "wrong-key", environment }).rerank({ query, documents });
} catch (e) {
  unauthorized = { status: e.statusCode, message: e.body?.message ?? null };
}

console.log(JSON.stringify({
  v1: v1.results.map((r) => ({ index: r.index, score: r.relevanceScore, text: r.document?.text ?? null })),
  v1Version: v1.meta?.apiVersion?.version ?? null,
  v2: v2.results.map((r) => ({ index: r.index, score: r.relevanceScore })),
  langchain: compressed.map((d) => ({ id: d.metadata.id, score: d.metadata.relevanceScore, text: d.pageContent })),
  unauthorized,
}));
