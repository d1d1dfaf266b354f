/**
 * Reading a flag out of the raw command line, for the launcher's decisions made before yargs has
 * loaded (the thread pool's size, the early connections). The command re-reads everything with
 * yargs; these readings are only ever hints.
 */

/**
 * The values of every `--name V` and `--name=V` (also yargs' camel-case spelling), in order, up to
 * a `--`. The word after a bare `--name` is taken as its value whatever it looks like; a caller
 * checks it.
 */
export function rawFlagValues(argv: readonly string[], name: string): string[] {
  const camel = name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    for (const spelling of new Set([name, camel])) {
      if (a === `--${spelling}`) {
        if (i + 1 < argv.length) out.push(argv[i + 1]!);
      } else if (a.startsWith(`--${spelling}=`)) {
        out.push(a.slice(spelling.length + 3));
      }
    }
  }
  return out;
}

/** The arguments before the first flag: positionals for certain, since no flag value can come before a flag. */
export function leadingPositionals(argv: readonly string[]): string[] {
  const end = argv.findIndex((a) => a.startsWith('-'));
  return end === -1 ? [...argv] : argv.slice(0, end);
}

/** A flag name as yargs also accepts it, camel case (`dryRun`), spelt as the tables do (`dry-run`). */
const kebab = (w: string): string => w.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/**
 * The first `--name=VALUE` (up to a `--`) that gives one of the boolean flags `booleans` a value
 * other than true or false. yargs reads any such value as false, so `--dry-run=1` would run for
 * real and `--quiet=yes` print everything; the caller refuses it instead. `booleans` may hold
 * one-letter aliases, given as `-q=yes` (or `--q=yes`). A negated flag, `--no-name=VALUE`, is
 * returned whatever VALUE is: yargs takes `no-name` for a flag of its own and the error named
 * `--no-no-name`.
 */
export function badBooleanValue(argv: readonly string[], booleans: readonly string[]): { word: string; name: string; negated: boolean } | undefined {
  for (const a of argv) {
    if (a === '--') break;
    const m = /^--([^=]+)=(.*)$/s.exec(a) ?? /^-([^-=])=(.*)$/s.exec(a);
    if (!m) continue;
    const name = kebab(m[1]!);
    if (booleans.includes(name) && m[2] !== 'true' && m[2] !== 'false') return { word: a, name, negated: false };
    if (name.startsWith('no-') && booleans.includes(name.slice(3))) return { word: a, name: name.slice(3), negated: true };
  }
  return undefined;
}

/**
 * The first `--no-name` or `--no-name=…` (up to a `--`) where name is one of `valued`, the flags
 * that take a value. yargs reads `--no-name` as name set to false whatever the flag's type, so a
 * string flag got "false" (`copy --no-tag` wrote the tag "false"), a number 0, and code expecting
 * a string crashed; the caller refuses it instead.
 */
export function negatedValueFlag(argv: readonly string[], valued: readonly string[]): { word: string; name: string } | undefined {
  for (const a of argv) {
    if (a === '--') break;
    const m = /^--no-([^=]+)/s.exec(a);
    if (m && valued.includes(kebab(m[1]!))) return { word: a, name: kebab(m[1]!) };
  }
  return undefined;
}

/**
 * `-pVALUE` read as Docker's and Podman's flag parser (pflag) reads it: the one-letter alias of a
 * flag that takes a value, its value attached. yargs reads such a word as a group of one-letter
 * flags (`-palice` as -p -a -l -i -c -e), so `regpush login -pSECRET` was refused as an unknown
 * flag. Each such word (up to a `--`) becomes `--name=VALUE`; `aliases` maps each letter to its
 * flag's name. Not a word that is the value of the flag before it (`--user -pe`): `valued` names
 * the flags that take a value, aliases included.
 */
export function attachedShortValues(argv: readonly string[], aliases: Readonly<Record<string, string>>, valued: readonly string[]): string[] {
  const end = argv.indexOf('--');
  return argv.map((a, i) => {
    if (end >= 0 && i >= end) return a;
    const m = /^-([A-Za-z])([^=][\s\S]*)$/.exec(a);
    if (!m || !Object.hasOwn(aliases, m[1]!)) return a;
    const before = /^--?([^=]+)$/.exec(argv[i - 1] ?? '')?.[1];
    if (before !== undefined && valued.includes(kebab(before))) return a;
    return `--${aliases[m[1]!]}=${m[2]}`;
  });
}

/**
 * The first of the number flags `numbers` (up to a `--`) given a blank value (`--jobs ''`,
 * `--retries=`, `--jobs=' '`) or none (`--retries` last, or just before another `--flag` or the
 * `--`). yargs reads a blank value as 0 and a missing one as the flag not given, so
 * `--gzip-level "$LEVEL"` with LEVEL unset stored the new layer uncompressed and
 * `--retries "$RETRIES"` ran without a retry, silently; the caller refuses it instead. `numbers`
 * may hold one-letter aliases.
 */
export function blankNumberValue(argv: readonly string[], numbers: readonly string[]): { word: string; name: string; value: 'empty' | 'none' } | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    const eq = /^--?([^=]+)=(.*)$/s.exec(a);
    if (eq) {
      if (numbers.includes(kebab(eq[1]!)) && eq[2]!.trim() === '') return { word: a, name: kebab(eq[1]!), value: 'empty' };
      continue;
    }
    const flag = /^--?([^=]+)$/.exec(a);
    if (!flag || !numbers.includes(kebab(flag[1]!))) continue;
    const next = argv[i + 1];
    if (next !== undefined && next.trim() === '') return { word: a, name: kebab(flag[1]!), value: 'empty' };
    if (next === undefined || next.startsWith('--')) return { word: a, name: kebab(flag[1]!), value: 'none' };
  }
  return undefined;
}
