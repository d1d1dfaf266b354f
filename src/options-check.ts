/**
 * Run-time checks of the options of the library's operations. Deploy scripts call push(), copy(),
 * sync() and the others from plain JavaScript, where nothing checks the declared types: a string
 * where an array is meant (`entrypoint: 'node'`, `tags: 'latest'`) is iterated character by
 * character, a number where a string is meant lands in the image config as a number, and
 * `dryRun: 'false'` is true. A misspelt name is worse: `dryrun: true` (lower-case r) or
 * `allTag: true` would be ignored and the operation would run for real. Each operation describes
 * its options as a Shape (next to its interface) and checks them here first, so a wrong type or an
 * unknown name is a UsageError naming the option path, before any request.
 *
 * Only shapes and names are checked; the values (a reference's grammar, a port's range) are the
 * pipelines' own checks. An absent field (undefined) is fine unless `required` says otherwise.
 * Every name an object of `fields` holds must be one of them (see `open` for the exceptions);
 * an object of `values` is a map and takes any key.
 */
import { closest, distance } from './did-you-mean.js';
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
  /** Any value: a field the operation knows (so its name is no typo) and leaves to its own code (earlySockets, which the CLI makes). */
  | 'any'
  | { list: Shape }
  /**
   * An object of known fields; `required` names those that must be there. Any other name in it is
   * refused as a misspelling, unless `open`: an object that implements an interface (a logger,
   * a SecretSet) may carry more of its own. A class instance is never refused a name either:
   * its own fields are its state, not options.
   */
  | { fields: Record<string, Shape>; required?: readonly string[]; open?: true }
  /** An object used as a map: every value has the shape. */
  | { values: Shape }
  | { anyOf: readonly Shape[] }
  /** One of these exact values. */
  | { literal: readonly (string | boolean)[] }
  | { instanceOf: abstract new (...args: never[]) => unknown; name: string }
  /**
   * `refine`, and then what its shape cannot say, once the value fits it: `problem` returns what
   * is wrong (a map key that names nothing, two keys for one thing, a pair given by half), as the
   * rest of the message after the option path, with `key` when it is one entry's; undefined when
   * the value is fine. Called with a value that fits `refine`.
   */
  | { refine: Shape; problem: (value: never) => ShapeProblem | undefined };

/** What a `refine` shape's check found wrong: `text` follows the option path (of entry `key`, when given) in the message. */
export interface ShapeProblem {
  key?: string;
  text: string;
}

/** A list of strings, the commonest shape. */
export const STRINGS: Shape = { list: 'string' };

/** What a shape expects, for the message. */
function expected(s: Shape): string {
  if (typeof s === 'string') {
    return { string: 'a string', boolean: 'true or false', number: 'a number', whole: 'a whole number ≥ 0', function: 'a function', any: 'anything' }[s];
  }
  if ('list' in s) return typeof s.list === 'string' ? `an array of ${expected(s.list).replace(/^an? /, '')}s` : 'an array';
  if ('fields' in s) return s.required?.length ? `an object with ${s.required.join(', ')}` : 'an object';
  if ('values' in s) return typeof s.values === 'string' ? `an object of ${expected(s.values).replace(/^an? /, '')} values` : 'an object';
  if ('anyOf' in s) return s.anyOf.map(expected).join(' or ');
  if ('literal' in s) return s.literal.map((v) => JSON.stringify(v)).join(', ').replace(/, ([^,]*)$/, ' or $1');
  if ('refine' in s) return expected(s.refine);
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

/** An object literal's kind (Object.prototype or none), not a class instance. */
function isPlain(v: object): boolean {
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * The known name a misspelt one was meant to be: the same name in another case (`dryrun`), else
 * the closest by edit distance (`allTag`, `entrypont`), never one that shares nothing with it.
 */
function meant(name: string, known: string[]): string | undefined {
  const lowered = known.map((k) => k.toLowerCase());
  const hit = closest(name.toLowerCase(), lowered);
  return hit !== undefined && distance(name.toLowerCase(), hit) < name.length ? known[lowered.indexOf(hit)] : undefined;
}

/** How a key joins the path: `.name`, or `["reg.example:5000"]` for one that is no identifier. */
function child(path: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/** Where `v` first departs from `s` (`path` is where `v` is), or undefined when it fits: a wrong value, or a name the shape does not know. */
type Mismatch = { path: string; want: string; got: string } | { path: string; unknown: true; meant?: string } | { path: string; problem: string };

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
      case 'any':
        return undefined;
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
    // Names first: `form` for `from` is better told as the typo than as a missing `from`.
    if (!s.open && isPlain(v)) {
      const known = Object.keys(s.fields);
      for (const key of Object.keys(v)) {
        if (Object.hasOwn(s.fields, key)) continue;
        const hit = meant(key, known);
        return { path: child(path, key), unknown: true, ...(hit === undefined ? {} : { meant: child(path, hit) }) };
      }
    }
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
  if ('refine' in s) {
    const m = mismatch(v, s.refine, path);
    if (m) return m;
    const p = s.problem(v as never);
    return p && { path: p.key === undefined ? path : child(path, p.key), problem: p.text };
  }
  return v instanceof s.instanceOf ? undefined : fail();
}

/** An image reference as the operations take it: a string, or one parseReference returned. */
export const REFERENCE_ARGUMENT: Shape = {
  anyOf: ['string', { fields: { registry: 'string', repository: 'string', tag: 'string', digest: 'string' }, required: ['registry', 'repository'] }],
};

/** The UsageError for a mismatch: an unknown `what` ("option", "field") with its suggestion, or a wrong value; `label` writes a path as the message shows it. */
function refusal(op: string, m: Mismatch, what: string, label: (path: string) => string): UsageError {
  if ('unknown' in m) return new UsageError(`${op}: unknown ${what} "${label(m.path)}"${m.meant === undefined ? '' : ` (did you mean "${label(m.meant)}"?)`}`);
  if ('problem' in m) return new UsageError(`${op}: ${label(m.path)} ${m.problem}`);
  return new UsageError(`${op}: ${label(m.path)} must be ${m.want} (got ${m.got})`);
}

/**
 * UsageError unless the argument `name` of `op` (one given by position, not in the options) fits
 * `shape`: `tagImage(): newTags must be an array of strings (got a string)` — a string there would
 * be taken one character at a time.
 */
export function checkArgument(op: string, name: string, value: unknown, shape: Shape): void {
  const m = mismatch(value, shape, name);
  if (m) throw refusal(op, m, 'field', (path) => path);
}

/**
 * UsageError unless `opts` fits `shape`: `push(): config.entrypoint must be an array of strings
 * (got a string)`, `push(): unknown option "dryrun" (did you mean "dryRun"?)`. `op` names the
 * operation ("push()").
 */
export function checkOptions(op: string, opts: unknown, shape: Shape & { fields: Record<string, Shape> }): void {
  if (!isObject(opts)) throw new UsageError(`${op}: the options must be an object (got ${described(opts)})`);
  const m = mismatch(opts, shape, '');
  if (m) throw refusal(op, m, 'option', (path) => path.replace(/^\./, ''));
}
