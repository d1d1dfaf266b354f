/**
 * The one grammar of the CLI's duration flags (push's --healthcheck-interval/-timeout/-start-period,
 * sync's --max-wait): a bare number of seconds (`90`, `1.5`), or one or more number-and-unit terms
 * (`90s`, `1m30s`, `500ms`, `1h`), units ns, us, ms, s, m and h, spaces allowed around a unit
 * (`90 s`). Each flag used to have a parser of its own: --max-wait took `90` but refused `1m30s`,
 * the healthcheck flags the reverse, each with another error code. Ranges are the caller's: each
 * flag's own check says them (push's healthcheck minimum, the sync gate's 24 h).
 */
import { UsageError } from '../errors.js';

const NS_PER_UNIT: Readonly<Record<string, number>> = { ns: 1, us: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** A bare number: seconds. */
const SECONDS = /^(\d+(?:\.\d+)?)$/;
/** One number-and-unit term, at lastIndex exactly; `ms` and `ns` before `m` and `s` would not matter (the unit must end the term), but longest first reads plainly. */
const TERM = /\s*(\d+(?:\.\d+)?)\s*(ns|us|ms|s|m|h)/y;

/** `text` (as given to `flag`, e.g. "--max-wait") → nanoseconds, rounded to a whole number. E_USAGE naming the flag when it is no duration. */
export function parseDuration(text: string, flag: string): number {
  const s = text.trim();
  const bad = () => new UsageError(`${flag} must be a duration such as 90s, 1m30s or 500ms, or a number of seconds (got ${JSON.stringify(text)})`);
  const seconds = SECONDS.exec(s);
  if (seconds) return Math.round(Number(seconds[1]) * NS_PER_UNIT.s!);
  let total = 0;
  let end = 0;
  TERM.lastIndex = 0;
  for (let m = TERM.exec(s); m !== null; m = TERM.exec(s)) {
    total += Number(m[1]) * NS_PER_UNIT[m[2]!]!;
    end = TERM.lastIndex;
  }
  if (s === '' || end !== s.length) throw bad();
  return Math.round(total);
}

/** parseDuration in milliseconds, rounded to a whole number (`500us` is 1 ms, as `0.5ms` was). */
export function parseDurationMs(text: string, flag: string): number {
  return Math.round(parseDuration(text, flag) / 1e6);
}
