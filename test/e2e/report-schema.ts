// Validating `--json` reports against src/cli/report.schema.json with ajv (devDependency), twice:
// as published (unknown fields allowed, as promised to consumers) and strictly (every field the
// CLI prints must be declared in the schema, so the document cannot fall behind the code).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { repoRoot } from './harness.js';

type Validate = ((data: unknown) => boolean) & { errors?: unknown[] | null };
interface AjvLike {
  addFormat(name: string, fn: (s: string) => boolean): void;
  compile(schema: unknown): Validate;
}

const require = createRequire(import.meta.url);
const Ajv2020 = require('ajv/dist/2020').default as new (opts: Record<string, unknown>) => AjvLike;

/** The published schema, parsed. */
export function reportSchema(): Record<string, any> {
  return JSON.parse(readFileSync(join(repoRoot, 'src', 'cli', 'report.schema.json'), 'utf8'));
}

/** Adds additionalProperties: false to every object schema that lists properties (except the shared envelope). */
function strictCopy(node: unknown, path = ''): unknown {
  if (Array.isArray(node)) return node.map((n, i) => strictCopy(n, `${path}/${i}`));
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) out[k] = strictCopy(v, `${path}/${k}`);
  const conditional = /\/(if|then|else)$/.test(path);
  if (out.properties && out.additionalProperties === undefined && path !== '/$defs/envelope' && !conditional) out.additionalProperties = false;
  return out;
}

function compile(schema: unknown): Validate {
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false });
  ajv.addFormat('date-time', (s) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(s) && !Number.isNaN(Date.parse(s)));
  return ajv.compile(schema);
}

let validators: { published: Validate; strict: Validate } | undefined;

/** Asserts that `report` (a parsed --json output) is valid against the schema, published and strict. */
export function assertValidReport(report: unknown, what = 'report'): void {
  validators ??= { published: compile(reportSchema()), strict: compile(strictCopy(reportSchema())) };
  for (const [name, v] of Object.entries(validators)) {
    const ok = v(report);
    assert.ok(ok, `${what} does not match src/cli/report.schema.json (${name}): ${JSON.stringify(v.errors, null, 1)?.slice(0, 3000)}`);
  }
}
