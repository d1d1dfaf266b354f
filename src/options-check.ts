/**
 * Run-time shape checks for the options of the library's operations. Deploy scripts call push(),
 * copy() and sync() from plain JavaScript, where nothing checks the declared types: a string where
 * an array is meant (`entrypoint: 'node'`, `tags: 'latest'`) is iterated character by character, a
 * number where a string is meant lands in the image config as a number, and `dryRun: 'false'` is
 * true. Each operation describes its options as a Shape (next to its interface) and checks them
 * here first, so a wrong type is a UsageError naming the option path, before any request.
 *
 * Only shapes are checked; the values (a reference's grammar, a port's range) are the pipelines'
 * own checks. Fields a shape does not name are left alone (internal ones, and future ones), and an
 * absent field (undefined) is fine unless `required` says otherwise.
 */
import { UsageError } from './errors.js';

/** What one value must be. */
export type Shape =
  | 'string'
  | 'boolean'
  /** A finite number (ranges are the pipelines' checks). */
  | 'number'
  /** A whole number ≥ 0: counts, milliseconds, ids, seconds. */
  | 'whole'
  | 'function'
  | { list: Shape }
  /** An object of known fields; `required` names those that must be there. */
  | { fields: Record<string, Shape>; required?: readonly string[] }
  /** An object used as a map: every value has the shape. */
  | { values: Shape }
  | { anyOf: readonly Shape[] }
  /** One of these exact values. */
  | { literal: readonly (string | boolean)[] }
  | { instanceOf: abstract new (...args: never[]) => unknown; name: string };

/** A list of strings, the commonest shape. */
export const STRINGS: Shape = { list: 'string' };

/** What a shape expects, for the message. */
function expected(s: Shape): string {
  if (typeof s === 'string') {
    return { string: 'a string', boolean: 'true or false', number: 'a number', whole: 'a whole number ≥ 0', function: 'a function' }[s];
  }
  if ('list' in s) return typeof s.list === 'string' ? `an array of ${expected(s.list).replace(/^an? /, '')}s` : 'an array';
  if ('fields' in s) return s.required?.length ? `an object with ${s.required.join(', ')}` : 'an object';
  if ('values' in s) return typeof s.values === 'string' ? `an object of ${expected(s.values).replace(/^an? /, '')} values` : 'an object';
  if ('anyOf' in s) return s.anyOf.map(expected).join(' or ');
  if ('literal' in s) return s.literal.map((v) => JSON.stringify(v)).join(', ').replace(/, ([^,]*)$/, ' or $1');
  return `an ${s.name}`;
}

/** What a value is, in a word: "a string", "an array", "null", "-1", "false", "an AbortController" (never a string's text: it may be a secret). */
export function described(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'object') {
    const name = (Object.getPrototypeOf(v) as { constructor?: { name?: string } } | null)?.constructor?.name;
    return name && name !== 'Object' ? `${/^[AEIOU]/.test(name) ? 'an' : 'a'} ${name}` : 'an object';
  }
  return `${/^[aeiou]/.test(typeof v) ? 'an' : 'a'} ${typeof v}`;
}

/**
 * An object of fields or values: not null, not an array, not a Map or Set (whose entries
 * Object.entries does not see). Class instances are objects too: a logger, a SecretSet, process.env.
 */
function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Map) && !(v instanceof Set);
}

/** How a key joins the path: `.name`, or `["reg.example:5000"]` for one that is no identifier. */
function child(path: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/** Where `v` first departs from `s` (`path` is where `v` is), or undefined when it fits. */
interface Mismatch {
  path: string;
  want: string;
  got: string;
}

function mismatch(v: unknown, s: Shape, path: string): Mismatch | undefined {
  const fail = (): Mismatch => ({ path, want: expected(s), got: described(v) });
  if (typeof s === 'string') {
    switch (s) {
      case 'string':
      case 'boolean':
      case 'function':
        return typeof v === s ? undefined : fail();
      case 'number':
        return typeof v === 'number' && Number.isFinite(v) ? undefined : fail();
      case 'whole':
        return Number.isSafeInteger(v) && (v as number) >= 0 ? undefined : fail();
    }
  }
  if ('list' in s) {
    if (!Array.isArray(v)) return fail();
    for (const [i, x] of v.entries()) {
      const m = mismatch(x, s.list, `${path}[${i}]`);
      if (m) return m;
    }
    return undefined;
  }
  if ('fields' in s) {
    if (!isObject(v)) return fail();
    for (const key of s.required ?? []) if (v[key] === undefined) return { path: child(path, key), want: expected(s.fields[key]!), got: 'nothing' };
    for (const [key, shape] of Object.entries(s.fields)) {
      const m = v[key] === undefined ? undefined : mismatch(v[key], shape, child(path, key));
      if (m) return m;
    }
    return undefined;
  }
  if ('values' in s) {
    if (!isObject(v)) return fail();
    for (const [key, x] of Object.entries(v)) {
      const m = x === undefined ? undefined : mismatch(x, s.values, child(path, key));
      if (m) return m;
    }
    return undefined;
  }
  if ('anyOf' in s) return s.anyOf.some((one) => !mismatch(v, one, path)) ? undefined : fail();
  if ('literal' in s) return s.literal.includes(v as string | boolean) ? undefined : fail();
  return v instanceof s.instanceOf ? undefined : fail();
}

/**
 * UsageError unless `opts` fits `shape`: `push(): config.entrypoint must be an array of strings
 * (got a string)`. `op` names the operation ("push()").
 */
export function checkOptions(op: string, opts: unknown, shape: Shape & { fields: Record<string, Shape> }): void {
  if (!isObject(opts)) throw new UsageError(`${op}: the options must be an object (got ${described(opts)})`);
  const m = mismatch(opts, shape, '');
  if (m) throw new UsageError(`${op}: ${m.path.replace(/^\./, '')} must be ${m.want} (got ${m.got})`);
}
