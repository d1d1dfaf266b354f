/** "Did you mean …?" for mistyped commands and flags, from the names yargs knows. */
import type { Argv } from 'yargs';

/** Edit distance (Levenshtein), small strings only. */
export function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

/** The closest candidate within a distance that still looks like a typo, if any. */
export function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(word, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** Command names and --flags yargs knows at this point. */
export function knownWords(y: Argv | undefined, commands: string[]): { commands: string[]; flags: string[] } {
  const opts = (y as unknown as { getOptions?: () => { key: Record<string, unknown> } } | undefined)?.getOptions?.();
  const flags = Object.keys(opts?.key ?? {}).filter((k) => k.length > 1 && !k.includes('_'));
  return { commands, flags };
}

/** Adds "did you mean" hints for each unknown argument named in a yargs message. */
export function withSuggestion(msg: string, argv: string[], known: { commands: string[]; flags: string[] }): string {
  const m = /^Unknown arguments?: (.*)$/.exec(msg);
  const hints: string[] = [];
  if (!m) {
    // yargs may complain about a missing flag first when the real problem is a misspelt one.
    const unknown = argv.filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=')[0]!).filter((f) => f && !known.flags.includes(f) && !f.startsWith('no-'));
    for (const f of unknown) {
      const hit = closest(f, known.flags);
      hints.push(hit ? `--${f} → did you mean --${hit}?` : `unknown flag --${f}`);
    }
    return hints.length ? `${msg} (${hints.join('; ')})` : msg;
  }
  const words = m[1]!.split(',').map((w) => w.trim()).filter(Boolean);
  for (const w of words) {
    const asFlag = argv.some((a) => a === `--${w}` || a.startsWith(`--${w}=`));
    const hit = asFlag ? closest(w, known.flags) : closest(w, known.commands);
    if (hit) hints.push(asFlag ? `--${w} → did you mean --${hit}?` : `${w} → did you mean ${hit}?`);
  }
  return hints.length ? `${msg} (${hints.join('; ')})` : `${msg} (see regpush --help)`;
}
