// Validates Compose files against the Compose Specification JSON schema (the copy dclint ships) with ajv.
// Usage: node compose-schema.mjs FILE...   Prints one JSON line: [{"file":..,"valid":..,"errors":[..]}]; exit 0.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const require = createRequire(import.meta.url);
const Ajv = require('ajv');
const here = dirname(fileURLToPath(import.meta.url));
const schema = JSON.parse(readFileSync(join(here, 'node_modules', 'dclint', 'schemas', 'compose.schema.json'), 'utf8'));
const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false, validateSchema: false });
const validate = ajv.compile(schema);
const results = process.argv.slice(2).map((file) => {
  const doc = parse(readFileSync(file, 'utf8'));
  const valid = validate(doc);
  return { file, valid, errors: valid ? [] : validate.errors.map((e) => `${e.instancePath || '/'} ${e.message}`) };
});
console.log(JSON.stringify(results));
