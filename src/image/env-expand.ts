/**
 * `$NAME` substitution in `--env` values, as a Dockerfile's `ENV` does it: `ENV PATH=/app/bin:$PATH`
 * is how an app is put on the base's PATH, and the container runtime never expands a config's Env
 * (a literal `/app/bin:$PATH` leaves the process without /usr/bin). Values are looked up in the
 * environment as it stands before the entry (the base's Env, then the earlier `--env` flags); a
 * non-Windows base without PATH has BuildKit's default one by then (config.ts, DEFAULT_UNIX_PATH).
 *
 * The forms: `$NAME`, `${NAME}`, `${NAME:-word}` / `${NAME-word}` (word when NAME is unset — or
 * empty, with the colon), `${NAME:+word}` / `${NAME+word}` (word when NAME is set — and not empty,
 * with the colon); a word may itself hold substitutions. `\$` is a literal `$`; any other
 * backslash is kept as written (Windows paths). An unset NAME is the empty string, and is
 * reported (`onUnset`): a `$` meant literally (`pa$sword` in a database URL) would otherwise
 * vanish with its name without a word. A `$` not followed by a name or `{` is kept. Unlike a
 * Dockerfile there is no quote removal: a value on the command line is already one word.
 */
import { UsageError } from '../errors.js';

const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;

/** Finds the value of a variable; undefined when it is not set. */
export type EnvLookup = (name: string) => string | undefined;

/**
 * `value` with its substitutions made; UsageError on an unclosed or malformed `${…}`. The message
 * names `key` and the offset of the `${` in the value, never the value's text: env values often
 * carry tokens, and CI logs are public. `what` names the entry: `--env KEY` (the CLI's), or a
 * library option path (`config.env[2] (KEY)`). `onUnset` gets the offset of each `$NAME` or
 * `${NAME}` whose NAME is unset and so became empty (not of one a `${NAME-word}` form chose to
 * leave out, nor of one in a word that was not used), in order.
 */
export function expandEnvValue(key: string, value: string, lookup: EnvLookup, what = `--env ${key}`, onUnset?: (offset: number) => void): string {
  const bad = (at: number, why: string): UsageError =>
    new UsageError(`invalid ${what}: the "\${" at offset ${at} of its value ${why} (write \\$ for a literal $)`, { details: { key, offset: at } });
  const unclosed = (at: number): UsageError => bad(at, 'has no closing "}"');

  /**
   * Expands from `start` until the closing brace of the `${` at `open` (when given) or the end;
   * returns the text and where it stopped. The offsets of unset names go to `unset`.
   */
  const expand = (start: number, unset: number[], open?: number): [string, number] => {
    let out = '';
    let i = start;
    while (i < value.length) {
      const c = value[i]!;
      if (open !== undefined && c === '}') return [out, i];
      if (c === '\\' && value[i + 1] === '$') {
        out += '$';
        i += 2;
      } else if (c === '$' && value[i + 1] === '{') {
        const [text, end] = braced(i, unset);
        out += text;
        i = end + 1;
      } else if (c === '$' && i + 1 < value.length && NAME_START.test(value[i + 1]!)) {
        let j = i + 2;
        while (j < value.length && NAME_CHAR.test(value[j]!)) j++;
        const set = lookup(value.slice(i + 1, j));
        if (set === undefined) unset.push(i);
        out += set ?? '';
        i = j;
      } else {
        out += c;
        i++;
      }
    }
    if (open !== undefined) throw unclosed(open);
    return [out, i];
  };

  /** `open` is the index of a `${`. Returns the substitution and the index of its `}`. */
  const braced = (open: number, unset: number[]): [string, number] => {
    const start = open + 2;
    let j = start;
    if (j < value.length && NAME_START.test(value[j]!)) while (j < value.length && NAME_CHAR.test(value[j]!)) j++;
    const name = value.slice(start, j);
    if (name === '') throw j < value.length ? bad(open, 'is not followed by a variable name') : unclosed(open);
    const set = lookup(name);
    if (value[j] === '}') {
      if (set === undefined) unset.push(open);
      return [set ?? '', j];
    }
    const colon = value[j] === ':';
    const op = value[colon ? j + 1 : j];
    if (op !== '-' && op !== '+') {
      if (j + (colon ? 1 : 0) >= value.length) throw unclosed(open);
      throw bad(open, 'uses an operator that is not supported (only ${NAME}, ${NAME:-word}, ${NAME-word}, ${NAME:+word} and ${NAME+word})');
    }
    const inWord: number[] = [];
    const [word, end] = expand(j + (colon ? 2 : 1), inWord, open);
    const present = set !== undefined && (!colon || set !== '');
    const useWord = op === '-' ? !present : present;
    if (useWord) unset.push(...inWord);
    return [useWord ? word : op === '-' ? set! : '', end];
  };

  const unset: number[] = [];
  const out = expand(0, unset)[0];
  if (onUnset) for (const at of unset) onUnset(at);
  return out;
}
