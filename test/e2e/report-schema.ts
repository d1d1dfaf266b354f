// Validating `--json` output against src/cli/report.schema.json with ajv (devDependency), twice:
// as published (unknown fields allowed, as promised to consumers) and strictly (every field the
// CLI prints must be declared in the schema, so the document cannot fall behind the code). The
// reports of push, copy and sync are the schema's root; the smaller objects of inspect, tags,
// digest, tag, untag, delete, login and logout are its $defs/<command>Output.
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

/** The commands whose --json output is one of the schema's $defs rather than its root. */
export type OutputCommand = 'inspect' | 'tags' | 'catalog' | 'digest' | 'tag' | 'untag' | 'delete' | 'login' | 'logout';

const validators = new Map<string, { published: Validate; strict: Validate }>();

/** The schema with its root pointed at `$defs/<def>` (the root itself when `def` is undefined). */
function rootedAt(def: string | undefined): Record<string, any> {
  const schema = reportSchema();
  if (def === undefined) return schema;
  assert.ok(schema.$defs?.[def], `src/cli/report.schema.json has no $defs/${def}`);
  const { oneOf: _reports, ...rest } = schema;
  return { ...rest, $ref: `#/$defs/${def}` };
}

function check(value: unknown, what: string, def?: string): void {
  const key = def ?? '';
  let v = validators.get(key);
  if (!v) validators.set(key, (v = { published: compile(rootedAt(def)), strict: compile(strictCopy(rootedAt(def))) }));
  const where = def ? `src/cli/report.schema.json#/$defs/${def}` : 'src/cli/report.schema.json';
  for (const [name, validate] of Object.entries(v)) {
    const ok = validate(value);
    assert.ok(ok, `${what} does not match ${where} (${name}): ${JSON.stringify(validate.errors, null, 1)?.slice(0, 3000)}`);
  }
}

/** Asserts that `report` (a parsed push, copy or sync --json output) is valid against the schema, published and strict. */
export function assertValidReport(report: unknown, what = 'report'): void {
  check(report, what);
}

/** Asserts that the parsed --json output of `command` is valid against its $defs/<command>Output, published and strict. */
export function assertValidOutput(command: OutputCommand, output: unknown, what = `${command} --json`): void {
  check(output, what, `${command}Output`);
}
