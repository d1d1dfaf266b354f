/**
 * One table per command: each flag (and positional) is declared once, and both the yargs options
 * and the type of the parsed argument object come from that declaration, so the `.option()` calls,
 * the argument type and the list of flags that may be given only once cannot drift apart (as three
 * hand-kept lists and a cast of yargs' result to an interface would).
 */
import type { Argv, Options, PositionalOptions } from 'yargs';
import { InternalError, UsageError } from '../errors.js';

/** One flag or positional as the table declares it. */
export interface FlagSpec {
  /** What yargs parses the value as; a flag with `choices` may leave it out. */
  readonly type?: 'string' | 'number' | 'boolean';
  readonly describe: string;
  /** Help section, e.g. 'Connection:' (flags only; yargs lists positionals on their own). */
  readonly group?: string;
  readonly alias?: string;
  readonly choices?: readonly string[];
  readonly default?: string | number | boolean;
  readonly demandOption?: true;
  /** yargs collects the values into an array (and takes several words after the flag). */
  readonly array?: true;
  /**
   * May be given several times: yargs then delivers an array, one value a plain value. Unlike
   * `array`, the flag takes one word, so `--tag a b` keeps `b` as a positional.
   */
  readonly repeatable?: true;
  /**
   * Giving it more than once is a usage error (see `checkGivenOnce`), not an array passed along.
   * withFlags refuses a repeated value for every flag that is not `repeatable`, `array` or boolean
   * anyway; `once` also names the flags a command re-checks after merging other defaults in.
   */
  readonly once?: true;
  /** Left out of --help (a flag declared only to answer it with a better error). */
  readonly hidden?: true;
  /**
   * Called with the value when the flag is given, before yargs checks positionals and arity, so a
   * flag that swallowed the next word still gets its own error rather than "Not enough arguments".
   * Throws a UsageError to refuse the value.
   */
  readonly check?: (value: unknown) => void;
  /** A positional of the command string (`copy <src> [dst..]`) rather than a `--flag`. */
  readonly positional?: true;
  /**
   * For a flag that takes a value: what to give instead of `--no-NAME`, which the CLI refuses
   * (main.ts), e.g. `to clear it give --entrypoint ""`.
   */
  readonly instead?: string;
}

/** A command's flags by name, in the order help lists them. */
export type FlagTable = Readonly<Record<string, FlagSpec>>;

type Scalar<S> = S extends { readonly choices: readonly (infer C)[] }
  ? C
  : S extends { readonly type: 'number' }
    ? number
    : S extends { readonly type: 'boolean' }
      ? boolean
      : string;

/** The parsed value of one flag. */
export type FlagValue<S> = S extends { readonly array: true } ? Scalar<S>[] : S extends { readonly repeatable: true } ? Scalar<S> | Scalar<S>[] : Scalar<S>;

/** Whether a flag always has a value after parsing (demanded, or with a default). */
type Always<S> = S extends { readonly demandOption: true } ? true : S extends { readonly default: unknown } ? true : false;

/** The argument object a table parses into: demanded and defaulted flags present, the others optional. */
export type InferredArgs<T extends FlagTable> = {
  -readonly [K in keyof T as Always<T[K]> extends true ? K : never]: FlagValue<T[K]>;
} & {
  -readonly [K in keyof T as Always<T[K]> extends true ? never : K]?: FlagValue<T[K]>;
};

/**
 * Declares a table. `const` keeps the literal types (`type: 'number'`, the `choices`) that
 * `InferredArgs` reads, so `defineFlags({...})` and `defineFlags({...} as const)` mean the same.
 */
export function defineFlags<const T extends FlagTable>(table: T): T {
  for (const [name, spec] of Object.entries(table)) {
    if (spec.once && (spec.repeatable || spec.array)) throw new InternalError(`flag table: --${name} cannot be both once and repeatable`);
    if (spec.positional && spec.group) throw new InternalError(`flag table: positional ${name} cannot have a help group`);
  }
  return table;
}

/**
 * The yargs option object for a flag: the spec without the table's own keys. A variadic
 * positional (`<new-tags..>`, `[dst..]`) without a default or coerce of its own gets
 * `default: undefined`: yargs would otherwise give it `[]` and print `[default: []]` in the help,
 * which says nothing (and beside `[required]`, something wrong). Without that default yargs
 * parses an absent one as `[undefined]`, which the coerce turns back into `[]`.
 */
function yargsOptions(spec: FlagSpec): Options & PositionalOptions {
  const { once: _once, repeatable: _repeatable, positional: _positional, check: _check, instead: _instead, ...rest } = spec;
  if (!spec.positional || !spec.array || 'default' in spec || 'coerce' in spec) return rest as Options & PositionalOptions;
  return { ...rest, default: undefined, coerce: (v: unknown) => (Array.isArray(v) ? v.filter((x) => x !== undefined) : v) } as Options & PositionalOptions;
}

/** Adds a table's flags and positionals to a yargs command, in table order. */
export function withFlags<A, T extends FlagTable>(y: Argv<A>, table: T): Argv<A & InferredArgs<T>> {
  let out: Argv<A> = y;
  for (const [name, spec] of Object.entries(table)) {
    const opts = yargsOptions(spec);
    out = spec.positional ? out.positional(name, opts) : out.option(name, opts);
  }
  const checked = Object.entries(table).filter(([, spec]) => spec.check);
  // A flag that takes one value and is given twice reaches yargs' result as an array, which the
  // code behind it (a platform, a format, a user name) would take for a string: refused here, for
  // every command. yargs has already turned a number flag's non-number into NaN (or null).
  const scalars = Object.entries(table).filter(([, spec]) => !spec.positional && !spec.repeatable && !spec.array && spec.type !== 'boolean');
  out = out.middleware((argv) => {
    single(argv, scalars.map(([name]) => name));
    for (const [name, spec] of scalars) {
      const v = argv[name];
      if (spec.type === 'number' && v !== undefined && (v === null || Number.isNaN(v))) throw new UsageError(`--${name} needs a number`);
    }
    for (const [name, spec] of checked) if (argv[name] !== undefined) spec.check!(argv[name]);
  }, true);
  // yargs' typings add one option at a time; a loop over a table cannot show the checker that,
  // so the table's type is stated here, once, for all commands.
  return out as Argv<A & InferredArgs<T>>;
}

/** The flags of a table that may be given only once. */
export function flagsGivenOnce(table: FlagTable): string[] {
  return Object.entries(table)
    .filter(([, spec]) => spec.once)
    .map(([name]) => name);
}

/** Rejects a single-valued flag given more than once (yargs would pass an array along). */
export function single(args: Record<string, unknown>, names: string[]): void {
  for (const n of names) {
    const v = args[n];
    if (Array.isArray(v)) throw new UsageError(`--${n} was given ${v.length} times; give it once`);
  }
}

/** `single` for every flag the table marks `once`. */
export function checkGivenOnce(table: FlagTable, args: Record<string, unknown>): void {
  single(args, flagsGivenOnce(table));
}
