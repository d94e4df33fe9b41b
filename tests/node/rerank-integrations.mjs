// The integrations/ templates rendered the way Elasticsearch and OpenSearch document it, sent to a running
// rank1-bridge serve, and the answers read back with each ecosystem's own selectors; a direct /v1/rerank call is the
// reference. No cluster runs here: this is what the cluster would send and read.
// Usage: node rerank-integrations.mjs BASE_URL API_KEY. Prints one JSON line.
import { readFile } from "node:fs/promises";
import { JSONPath } from "jsonpath-plus";

const [base, key] = process.argv.slice(2);
const root = new URL("../../integrations/", import.meta.url);
const load = async (path) => readFile(new URL(path, root), "utf8");
const query = "why do onions make people cry";
const documents = [
  "Onion soup is made with beef stock.",
  "Cutting an onion releases a gas that irritates the eyes and makes them water.",
  "Store onions in a cool dry place.",
];

// The template's host is the user's; the path and everything else is the template's.
const target = (url) => new URL(new URL(url).pathname, base);

// ${name} placeholders, each from `values`; one left unreplaced is an error, as in both ecosystems.
function render(template, values, prefix = "") {
  return template.replace(/\$\{([^}]+)\}/g, (all, name) => {
    const key = name.startsWith(prefix) ? name.slice(prefix.length) : null;
    if (key === null || !(key in values)) throw new Error(`placeholder ${all} has no value`);
    return values[key];
  });
}

async function post(url, headers, body) {
  JSON.parse(body); // both clusters send only a body that parses
  const response = await fetch(url, { method: "POST", headers, body });
  const text = await response.text();
  if (!response.ok) throw new Error(`${url} answered ${response.status}: ${text}`);
  return JSON.parse(text);
}

// The reference: the service called directly.
const direct = await post(new URL("v1/rerank", base), { "Content-Type": "application/json", Authorization: `Bearer ${key}` },
  JSON.stringify({ query, documents }));

// Elasticsearch `custom` service: secret_parameters fill the headers; ${query} is a JSON string and ${input} a JSON
// array of strings in the request; json_parser's JSONPath selectors read the answer.
const es = JSON.parse(await load("elasticsearch/inference-endpoint.json"));
const settings = es.service_settings;
const secrets = { ...settings.secret_parameters, api_key: key };
const esHeaders = Object.fromEntries(Object.entries(settings.headers).map(([k, v]) => [k, render(v, secrets)]));
const esBody = render(settings.request, { query: JSON.stringify(query), input: JSON.stringify(documents) });
const esAnswer = await post(target(settings.url), esHeaders, esBody);
const indices = JSONPath({ path: settings.response.json_parser.reranked_index, json: esAnswer });
const scores = JSONPath({ path: settings.response.json_parser.relevance_score, json: esAnswer });
if (indices.length !== scores.length) throw new Error("reranked_index and relevance_score differ in length");
// Elasticsearch `hugging_face` service (rerank task): a POST to service_settings.url with `Authorization: Bearer
// <api_key>` and the body HuggingFaceRerankRequestEntity writes: texts, query, then return_text and top_n only when
// set (task_settings.return_documents and top_n); HuggingFaceRerankResponseEntity reads a top-level array of
// {index, score, text?}.
const hf = JSON.parse(await load("elasticsearch/inference-endpoint-hugging-face.json"));
if (hf.service !== "hugging_face") throw new Error(`the hugging_face template names service ${hf.service}`);
const hfBody = { texts: documents, query };
if (hf.task_settings?.return_documents != null) hfBody.return_text = hf.task_settings.return_documents;
if (hf.task_settings?.top_n != null) hfBody.top_n = hf.task_settings.top_n;
const hfAnswer = await post(target(hf.service_settings.url), { "Content-Type": "application/json", Authorization: `Bearer ${key}` }, JSON.stringify(hfBody));
if (!Array.isArray(hfAnswer)) throw new Error("the hugging_face answer is not a top-level array");
// An error: HuggingFaceErrorResponseEntity reads its message from the answer's top-level "error".
const hfRefused = await fetch(target(hf.service_settings.url), { method: "POST", headers: { "Content-Type": "application/json", Authorization: "Bearer not-a-key" }, body: JSON.stringify(hfBody) });
const hfError = { status: hfRefused.status, error: (await hfRefused.json()).error ?? null };
const retriever = JSON.parse(await load("elasticsearch/search-text-similarity-reranker.json")).retriever.text_similarity_reranker;
const esql = await load("elasticsearch/rerank.esql");

// OpenSearch ML Commons connector with the built-in Cohere rerank functions. connector.pre_process.cohere.rerank
// (CohereRerankPreProcessFunction) sets the parameters query (the text as is), documents (a JSON array) and top_n
// (the number of documents); ${parameters.*} and ${credential.*} are filled in; connector.post_process.cohere.rerank
// reads $.results and gives one "similarity" tensor per document, in document order (scores[index] = relevance_score).
const os = JSON.parse(await load("opensearch/connector.json"));
const action = os.actions.find((a) => a.action_type === "predict");
if (action.pre_process_function !== "connector.pre_process.cohere.rerank" || action.post_process_function !== "connector.post_process.cohere.rerank") {
  throw new Error("the connector does not use the built-in Cohere rerank functions this test implements");
}
const parameters = { ...os.parameters, query, documents: JSON.stringify(documents), top_n: String(documents.length) };
const credential = { ...os.credential, rank1_key: key };
const osHeaders = Object.fromEntries(Object.entries(action.headers).map(([k, v]) => [k, render(v, credential, "credential.")]));
const osAnswer = await post(target(action.url), osHeaders, render(action.request_body, parameters, "parameters."));
const results = JSONPath({ path: "$.results", json: osAnswer, wrap: false });
const similarity = new Array(results.length);
for (const r of results) similarity[r.index] = r.relevance_score;
const pipeline = JSON.parse(await load("opensearch/search-pipeline.json")).response_processors[0].rerank;
const search = JSON.parse(await load("opensearch/search.json"));

console.log(JSON.stringify({
  direct: direct.results.map((r) => ({ index: r.index, score: r.relevance_score })),
  elasticsearch: indices.map((index, i) => ({ index, score: scores[i] })),
  elasticsearchDeadlineMs: JSON.parse(esBody).deadline_ms ?? null,
  elasticsearchHuggingFace: hfAnswer.map((r) => ({ index: r.index, score: r.score, hasText: "text" in r })),
  elasticsearchHuggingFaceKeys: Object.keys(hf.service_settings).sort(),
  elasticsearchHuggingFaceError: hfError,
  elasticsearchInferenceIds: [retriever.inference_id, /"inference_id"\s*:\s*"([^"]+)"/.exec(esql)?.[1] ?? null],
  opensearch: similarity,
  // ML Commons waits client_config.read_timeout seconds for the answer (ConnectorClientConfig: 10 when not given).
  opensearchReadTimeoutMs: (os.client_config?.read_timeout ?? 10) * 1000,
  opensearchDeadlineMs: JSON.parse(render(action.request_body, parameters, "parameters.")).deadline_ms ?? null,
  opensearchPipeline: { source: Object.keys(pipeline)[0], fields: pipeline.context.document_fields, queryText: search.ext.rerank.query_context.query_text },
}));
