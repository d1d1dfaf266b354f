/** "Did you mean …?" for mistyped commands and flags, from the names yargs knows. */
import type { Argv } from 'yargs';
import { closest, distance } from '../did-you-mean.js';

/** Command names and --flags yargs knows at this point; `valued`: those that take a value (string or number). */
export function knownWords(y: Argv | undefined, commands: string[]): { commands: string[]; flags: string[]; valued?: string[] } {
  const opts = (y as unknown as { getOptions?: () => { key: Record<string, unknown>; string?: string[]; number?: string[] } } | undefined)?.getOptions?.();
  const flags = Object.keys(opts?.key ?? {}).filter((k) => k.length > 1 && !k.includes('_'));
  const valued = [...(opts?.string ?? []), ...(opts?.number ?? [])].filter((k) => flags.includes(k));
  return { commands, flags, valued };
}

/**
 * Flags of other tools (docker, podman, skopeo, crane) and long spellings people type from habit,
 * with regpush's equivalent. Misspellings of these keys are matched too (`--enviroment`).
 */
const FOREIGN_FLAGS: Record<string, (flags: string[]) => string> = {
  insecure: insecureHint,
  'tls-verify': insecureHint,
  'src-tls-verify': insecureHint,
  'dest-tls-verify': insecureHint,
  'insecure-skip-tls-verify': insecureHint,
  'skip-tls-verify': insecureHint,
  creds: (f) => (f.includes('to-user') ? 'use --to-user/--to-password (target) and --from-user/--from-password (source), REGPUSH_TO_*/REGPUSH_FROM_* env vars or regpush login' : credsHint(f)),
  'src-creds': (f) => (f.includes('from-user') ? 'use --from-user/--from-password (or REGPUSH_FROM_USER/REGPUSH_FROM_PASSWORD)' : credsHint(f)),
  'dest-creds': (f) => (f.includes('to-user') ? 'use --to-user/--to-password (or REGPUSH_TO_USER/REGPUSH_TO_PASSWORD)' : credsHint(f)),
  username: credsHint,
  environment: (f) => sameAs(f, 'env', 'KEY=VALUE, repeatable'),
  'working-dir': (f) => sameAs(f, 'workdir'),
  expose: (f) => sameAs(f, 'port'),
  'build-arg': (f) => sameAs(f, 'env', 'regpush builds no Dockerfile; --env sets the image environment'),
  dest: (f) => sameAs(f, 'to'),
  destination: (f) => sameAs(f, 'to'),
  target: (f) => sameAs(f, 'to'),
  source: (f) => sameAs(f, 'from'),
  base: (f) => sameAs(f, 'from'),
};

function insecureHint(flags: string[]): string {
  const plain = flags.includes('insecure-registry') ? 'use --insecure-registry HOST[:PORT] for a registry on plain HTTP; ' : '';
  return `${plain}TLS settings: docs/connections.md`;
}

function credsHint(flags: string[]): string {
  if (flags.includes('to-user')) return 'use --to-user/--to-password or --from-user/--from-password (or regpush login)';
  if (flags.includes('user')) return 'use --user/--password (or REGPUSH_USER/REGPUSH_PASSWORD, or regpush login)';
  return 'use regpush login or the REGPUSH_* credential env vars';
}

function sameAs(flags: string[], flag: string, note?: string): string {
  if (!flags.includes(flag)) return 'this command has no such flag (see --help)';
  return `did you mean --${flag}?${note ? ` (${note})` : ''}`;
}

/** "unknown flag --x: <hint>": a foreign flag's equivalent, else the closest known flag. */
function flagHint(word: string, flags: string[]): string {
  const w = word.replace(/^--?/, '');
  const foreign = FOREIGN_FLAGS[w] ?? (closest(w, flags) ? undefined : FOREIGN_FLAGS[closest(w, Object.keys(FOREIGN_FLAGS)) ?? '']);
  if (foreign) return `unknown flag --${w}: ${foreign(flags)}`;
  const hit = closest(w, flags);
  // --help and --version are offered only for a slip of one letter (`--halp`): as the nearest of a
  // command's flags at two edits (`tags --rep`), they are no answer to what the user meant.
  const offered = hit === 'help' || hit === 'version' ? (distance(w, hit) <= 1 ? hit : undefined) : hit;
  return offered ? `unknown flag --${w}: did you mean --${offered}?` : `unknown flag --${w}`;
}

/** yargs names an unknown flag twice ("dest-creds, destCreds"); keep the spelling the user typed. */
function typedWords(words: string[], argv: string[]): string[] {
  const kebab = (w: string) => w.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  return words.filter((w) => !(/[A-Z]/.test(w) && words.includes(kebab(w)) && !argv.some((a) => a === `--${w}` || a.startsWith(`--${w}=`))));
}

/** Flags whose value is a secret (`--password`, `-p`, `--to-password`, a token). */
const SECRET_FLAG = /^(-p|--[\w-]*(pass|token|secret)[\w-]*)$/i;

/**
 * A word as an error line may show it: a secret flag's value given in the same word
 * (`--password=VALUE`, `--no-to-password=VALUE`, `-pVALUE` as Docker takes it) is replaced by ***.
 * The word was never parsed as a value, so it is not among the secrets the output is scrubbed of.
 */
export function shownWord(word: string): string {
  const long = /^(--[\w-]*(?:pass|token|secret)[\w-]*=)/is.exec(word);
  if (long) return `${long[1]}***`;
  return /^-p./s.test(word) ? '-p***' : word;
}

/** Whether argv[i] is the value of the secret flag before it (never echoed, whatever it looks like). */
function secretValueAt(argv: string[], i: number): boolean {
  return i > 0 && SECRET_FLAG.test(argv[i - 1]!);
}

/** The hint for a secret flag whose value starts with "-" (read as a flag): join them, the value not shown. */
function joinSecretHint(flag: string): string {
  return `the value after ${flag} starts with "-", which reads as a flag; join them: ${flag.startsWith('--') ? flag : '--password'}=VALUE`;
}

/**
 * Words of one dash and several letters (`-jar`, `-from`), up to a `--`: yargs reads each as a
 * group of one-letter flags (-j -a -r) and named every letter unknown. One hint per word, as typed:
 * after a flag that takes a value, to join them with "="; otherwise the --flag it resembles. A
 * word may start with a digit: yargs splits `-1/4` (a --shard value) or `-1x` the same way, after
 * taking a number alone (`-1`) for a value.
 */
function dashWords(argv: string[], known: { flags: string[]; valued?: string[] }): { word: string; hint: string }[] {
  const end = argv.indexOf('--');
  const out: { word: string; hint: string }[] = [];
  (end < 0 ? argv : argv.slice(0, end)).forEach((word, i) => {
    const name = /^-([a-zA-Z0-9][^=]+)/s.exec(word)?.[1];
    // A negative number (`--retries -10`) is a value to yargs, never a group of flags.
    if (name === undefined || /^-\d+(\.\d+)?$/.test(word)) return;
    const before = argv[i - 1];
    // A password or token may start with "-" (base64url): the word after such a flag is never
    // echoed, as it was never parsed and so is not among the secrets the output is scrubbed of.
    if (secretValueAt(argv, i)) {
      out.push({ word, hint: joinSecretHint(before!) });
    } else if (before?.startsWith('--') && known.valued?.includes(before.slice(2))) {
      out.push({ word, hint: `unknown flag ${word}; to give ${before} a value starting with "-", join them: ${before}=${word}` });
    } else if (shownWord(word) !== word && !known.flags.includes(name) && closest(name, known.flags) === undefined) {
      // `-pVALUE` on a command without -p: Docker's password flag, its value attached. A Go-style
      // `-platfrm` is near a flag of the command, and named with it as below.
      out.push({ word, hint: `unknown flag ${shownWord(word)}` });
    } else {
      out.push({ word, hint: known.flags.includes(name) ? `unknown flag -${name}: did you mean --${name}?` : flagHint(name, known.flags).replace(/^unknown flag --/, 'unknown flag -') });
    }
  });
  return out;
}

/**
 * Commands of other tools (crane, regctl, skopeo, docker) that regpush has under another name,
 * with what does it here: `crane ls`, `skopeo list-tags`, `regctl tag ls`, `crane manifest`…
 */
const FOREIGN_COMMANDS: Record<string, string> = {
  ls: 'regpush tags REPO lists the tags of a repository',
  'list-tags': 'regpush tags REPO lists the tags of a repository',
  rm: 'regpush delete REPO@DIGEST deletes a manifest',
  rmi: 'regpush delete REPO@DIGEST deletes a manifest',
  manifest: 'regpush inspect --raw REF prints a manifest',
  config: 'regpush inspect --config REF prints an image\'s config',
  repos: 'regpush catalog REGISTRY lists the repositories of a registry',
};

/** `unknown command "X"`, with the command X is a typo of, the regpush command for another tool's X, or the list. */
function unknownCommand(word: string, commands: string[], near = closest(word, commands)): string {
  if (near) return `unknown command "${word}": did you mean ${near}?`;
  const foreign = Object.hasOwn(FOREIGN_COMMANDS, word) ? FOREIGN_COMMANDS[word] : undefined;
  return `unknown command "${word}"${foreign ? `: ${foreign}` : ` (commands: ${commands.join(', ')})`}`;
}

/** Adds "did you mean" hints for each unknown argument named in a yargs message. */
export function withSuggestion(msg: string, argv: string[], known: { commands: string[]; flags: string[]; valued?: string[] }): string {
  // yargs' recommendCommands answers an unknown command with only "Did you mean push?".
  const recommended = /^Did you mean (\S+)\?$/.exec(msg);
  const firstAt = argv.findIndex((a) => !a.startsWith('-'));
  // `--password SECRET login`: the first word without a dash is then a password, not a command.
  const first = firstAt < 0 ? undefined : secretValueAt(argv, firstAt) ? '***' : argv[firstAt];
  if (recommended) {
    // yargs suggests even a far-off name ("ls" → push); keep only what looks like a typo.
    return unknownCommand(first ?? '', known.commands, first === undefined ? undefined : closest(first, [recommended[1]!]));
  }
  const m = /^Unknown arguments?: (.*)$/.exec(msg);
  const hints: string[] = [];
  if (!m) {
    // yargs may complain about a missing flag first when the real problem is a misspelt one.
    // An unknown flag followed by a word took that word as its value: where the message is then a
    // missing positional (`tags --bogus x/y`: "missing <repo>"), the flag is the cause and leads,
    // saying so (the word itself is not shown: after a misspelt --pasword it is a password).
    const took = (at: number): string => (!argv[at]!.includes('=') && argv[at + 1] !== undefined && !argv[at + 1]!.startsWith('-') ? ' (it took the next word as its value)' : '');
    const unknown = argv
      .flatMap((a, i) => (a.startsWith('--') && !secretValueAt(argv, i) ? [{ f: a.slice(2).split('=')[0]!, i }] : []))
      .filter(({ f }) => f && !known.flags.includes(f) && !f.startsWith('no-'));
    for (const { f, i } of unknown) hints.push(flagHint(f, known.flags) + took(i));
    for (const d of dashWords(argv, known)) hints.push(d.hint + (d.hint.startsWith('unknown flag') && !d.hint.includes(';') ? took(argv.indexOf(d.word)) : ''));
    if (!hints.length) return msg;
    return /: missing </.test(msg) ? `${hints.join('; ')}; ${msg}` : `${msg} (${hints.join('; ')})`;
  }
  const allWords = typedWords(m[1]!.split(',').map((w) => w.trim()).filter(Boolean), argv);
  // A one-dash word of several letters is named once, as typed, not letter by letter.
  const grouped = dashWords(argv, known).filter((d) => [...d.word.slice(1)].some((c) => allWords.includes(c)));
  for (const d of grouped) hints.push(d.hint);
  const words = allWords.filter((w) => !(w.length === 1 && grouped.some((d) => d.word.slice(1).split('=')[0]!.includes(w))));
  // The first word of the command line is the command: an unknown one is named as such.
  if (first !== undefined && words.includes(first) && !known.commands.includes(first)) {
    return unknownCommand(first, known.commands);
  }
  for (const w of words) {
    const given = (a: string, name: string) => a === name || a.startsWith(`${name}=`);
    const at = argv.findIndex((a) => given(a, `--${w}`) || given(a, `-${w}`) || given(a, `--no-${w}`));
    const word = argv[at];
    const before = argv[at - 1]?.replace(/^--/, '');
    const typo = word?.startsWith('--') && closest(w, known.flags) !== undefined;
    if (word !== undefined && secretValueAt(argv, at)) {
      // `--password --x`: --x was meant as the password; say so without showing it.
      hints.push(joinSecretHint(argv[at - 1]!));
    } else if (word !== undefined && !typo && before !== undefined && argv[at - 1]!.startsWith('--') && known.valued?.includes(before)) {
      // `--entrypoint -c`: yargs reads a word starting with "-" as a flag, never as the value before it.
      hints.push(`unknown flag ${word}; to give --${before} a value starting with "-", join them: --${before}=${word}`);
    } else if (word?.startsWith('--no-')) {
      // yargs reads --no-X as X set to false and names only X: name what was typed.
      const hit = closest(w, known.flags);
      hints.push(`unknown flag --no-${w}${hit ? `: did you mean --no-${hit}?` : ''}`);
    } else if (word?.startsWith('--')) {
      hints.push(flagHint(w, known.flags));
    } else if (word?.startsWith('-')) {
      hints.push(`unknown flag ${shownWord(word)}`);
    } else if (secretValueAt(argv, argv.indexOf(w))) {
      hints.push(`unknown argument after ${argv[argv.indexOf(w) - 1]!} (not shown: it may be a password)`);
    } else {
      const cmd = closest(w, known.commands);
      hints.push(`unknown argument ${w}${cmd ? `: did you mean ${cmd}?` : ''}`);
    }
  }
  const helped = hints.some((h) => h.includes(':'));
  return `${hints.join('; ')}${helped ? '' : ' (see regpush --help)'}`;
}
