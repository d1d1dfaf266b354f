/**
 * The CLI: a thin shell over the library. A fresh yargs instance per run (no global state), the
 * result alone on stdout, logs on stderr, and every failure one line with a stable exit code.
 */
import yargs, { type Argv } from 'yargs';
import { RegpushError, UsageError } from '../errors.js';
import { SecretSet } from '../redact.js';
import { printable } from './terminal-text.js';
import { copyableExamples } from './help-layout.js';
import { VERSION } from '../version.js';
import type { CliIO } from './io.js';
import { inspectCommand, inspectFlags } from './commands/inspect.js';
import { pushCommand, pushFlags } from './commands/push.js';
import { copyCommand, copyFlags } from './commands/copy.js';
import { loginCommands, loginFlags, logoutFlags } from './commands/login.js';
import { syncCommand, syncFlags } from './commands/sync.js';
import { catalogFlags, deleteFlags, digestFlags, manageCommands, tagFlags, tagsFlags, untagFlags } from './commands/manage.js';
import type { FlagTable } from './flag-table.js';
import { attachedShortValues, badBooleanValue, blankNumberValue, negatedValueFlag } from './raw-argv.js';
import { knownWords, shownWord, withSuggestion } from './suggest.js';
import { loginAdvice } from './connection-flags.js';
import { tokenServiceFailed } from '../auth/token.js';

/** Each command's flag table. */
const TABLES: Record<string, FlagTable> = {
  push: pushFlags,
  copy: copyFlags,
  sync: syncFlags,
  inspect: inspectFlags,
  tags: tagsFlags,
  catalog: catalogFlags,
  digest: digestFlags,
  tag: tagFlags,
  untag: untagFlags,
  delete: deleteFlags,
  login: loginFlags,
  logout: logoutFlags,
};

/** Command names, for suggestions. */
const COMMANDS = Object.keys(TABLES);

/**
 * The flag table of the command `argv` names: its first word (before a `--`) that is a command's
 * name. Not simply the first word without a dash: flags may come before the command, and the value
 * of one (`--retries 2 push`) would be taken for it, leaving the command's flags unchecked.
 */
function commandTable(argv: string[]): FlagTable | undefined {
  const command = commandName(argv);
  return command === undefined ? undefined : TABLES[command];
}

/** The command `argv` names (see commandTable). */
function commandName(argv: string[]): string | undefined {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).find((a) => Object.hasOwn(TABLES, a));
}

/**
 * The command's flags given before it (`regpush --debug tags REPO`) moved after it. yargs knows a
 * command's flags only once it has read the command, so before it an on/off flag took the next word
 * as its value: `--debug tags` read "tags" as --debug's value, and the run failed with "unknown flag
 * --debug; unknown argument REPO" (a flag with a value, `--retries 2 tags`, happened to work).
 * Everything before the command is flags and their values, so the order among them is kept.
 */
function commandFirst(argv: string[]): string[] {
  const command = commandName(argv);
  const at = command === undefined ? -1 : argv.indexOf(command);
  return at > 0 ? [command!, ...argv.slice(0, at), ...argv.slice(at + 1)] : argv;
}

/**
 * yargs' "Not enough non-option arguments: got 1, need at least 2" as a line that names what is
 * missing (`regpush tag: missing <new-tags..>, new tag(s) in the same repository; see regpush tag
 * --help`), from the command's table; undefined for any other message.
 */
function missingPositionals(msg: string, argv: string[]): string | undefined {
  const m = /^Not enough non-option arguments: got (\d+), need at least (\d+)$/.exec(msg);
  const command = commandName(argv);
  if (!m || command === undefined) return undefined;
  const missing = Object.entries(TABLES[command]!)
    .filter(([, spec]) => spec.positional)
    .slice(Number(m[1]), Number(m[2]));
  if (missing.length === 0) return undefined;
  // A description's first part says what to give (login's goes on about namespaces after a ";").
  const named = missing.map(([name, spec]) => {
    const what = String(spec.describe ?? '').split(';')[0]!;
    return `<${name}${spec.array ? '..' : ''}>${what ? `, ${what.charAt(0).toLowerCase()}${what.slice(1)}` : ''}`;
  });
  return `regpush ${command}: missing ${named.join(', and ')}; see regpush ${command} --help`;
}

/**
 * The words a failure's hints take as known (knownWords). Without a command yargs knows only its
 * own flags (--help, --version), so a command's flag given alone (`regpush --debug`) would be
 * called unknown beside the missing command: every command's flags are known then.
 */
function knownFlags(y: Argv, argv: string[]): ReturnType<typeof knownWords> {
  const known = knownWords(y, COMMANDS);
  const table = commandTable(argv);
  if (table) {
    // yargs lists a command's positionals among its options: `tags --rep X` was told "did you
    // mean --repo?", and `--repo X` is then "missing <repo>". Only flags are offered.
    const positional = new Set(Object.entries(table).filter(([, spec]) => spec.positional).map(([name]) => name));
    return { ...known, flags: known.flags.filter((f) => !positional.has(f)), valued: known.valued?.filter((f) => !positional.has(f)) };
  }
  if (commandName(argv) !== undefined) return known;
  const all = Object.values(TABLES).flatMap((table) => Object.entries(table).filter(([, spec]) => !spec.positional).map(([name]) => name));
  return { ...known, flags: [...new Set([...known.flags, ...all])] };
}

/** A flag's name and its one-letter alias, if it has one. */
function namesOf([name, spec]: [string, FlagTable[string]]): string[] {
  return spec.alias === undefined ? [name] : [name, spec.alias as string];
}

/** `-pVALUE` → `--password=VALUE` for the command's one-letter aliases of flags that take a value (attachedShortValues). */
function expandAttachedValues(argv: string[]): string[] {
  const table = commandTable(argv);
  if (!table) return argv;
  const valued = valuedFlags(table);
  const aliases = Object.fromEntries(valued.filter(([, spec]) => typeof spec.alias === 'string' && spec.alias.length === 1).map(([name, spec]) => [spec.alias as string, name]));
  return attachedShortValues(argv, aliases, valued.flatMap(namesOf));
}

/** Refuses `--flag=VALUE` for a boolean flag of the command unless VALUE is true or false (yargs reads anything else as false), and `--no-flag=VALUE`. */
function checkBooleanValues(argv: string[]): void {
  const table = commandTable(argv);
  if (!table) return;
  const booleans = Object.entries(table)
    .filter(([, spec]) => spec.type === 'boolean')
    .flatMap(namesOf);
  const bad = badBooleanValue(argv, booleans);
  if (bad === undefined) return;
  const flag = bad.word.slice(0, bad.word.indexOf('='));
  // `--password-stdin=VALUE` may hold the password: the word is shown without its value.
  if (bad.negated) throw new UsageError(`${shownWord(bad.word)}: ${flag} takes no value; give ${flag} alone, or --${bad.name}=true or =false`);
  throw new UsageError(`${shownWord(bad.word)}: ${flag} takes no value, or =true or =false`);
}

/** The command's flags that take a value (neither positional nor boolean), with their specs. */
function valuedFlags(table: NonNullable<ReturnType<typeof commandTable>>) {
  return Object.entries(table).filter(([, spec]) => !spec.positional && spec.type !== 'boolean');
}

/** Refuses `--no-NAME` for a flag of the command that takes a value (yargs would pass false, or 0, along as its value). */
function checkNegatedValues(argv: string[]): void {
  const table = commandTable(argv);
  if (!table) return;
  const valued = valuedFlags(table);
  const bad = negatedValueFlag(argv, valued.flatMap(namesOf));
  if (bad === undefined) return;
  const [name, spec] = valued.find(([n, s]) => n === bad.name || s.alias === bad.name)!;
  throw new UsageError(`${shownWord(bad.word)}: --${name} takes a value${spec.instead ? `; ${spec.instead}` : ', so it has no --no- form'}`);
}

/** Refuses a number flag of the command given a blank value or none (blankNumberValue): yargs reads it as 0, or as not given. */
function checkBlankNumbers(argv: string[]): void {
  const table = commandTable(argv);
  if (!table) return;
  const numbers = Object.entries(table).filter(([, spec]) => !spec.positional && spec.type === 'number');
  const bad = blankNumberValue(argv, numbers.flatMap(namesOf));
  if (bad === undefined) return;
  const [name] = numbers.find(([n, s]) => n === bad.name || s.alias === bad.name)!;
  throw new UsageError(`--${name} needs a number (got ${bad.value === 'empty' ? 'an empty value' : 'none'})`);
}

/**
 * `--` ends the flags: the words after it are arguments (positionals), as POSIX has it. yargs puts
 * them among its leftover words, after the command's positionals were filled and its checks ran,
 * and no handler reads those: `copy SRC DST -- --retries` copied and exited 0, and `copy SRC --
 * DST` said "needs at least one target". So they are placed where positionals go, after the words
 * before `--`, and read and checked as those are. A word after it that starts with "-" would be
 * read as a flag there; no argument of regpush (a reference, tag, registry or repository) can
 * start so, so it is refused naming the word (a sync file so named is given as ./-name).
 */
function endOfFlags(argv: string[]): string[] {
  const end = argv.indexOf('--');
  if (end < 0) return argv;
  const after = argv.slice(end + 1);
  // A flag that takes a value, just before `--`, has none (yargs read it so): the word after `--`
  // must not become its value (`login -u x --password -- HOST` made HOST the password).
  const table = commandTable(argv);
  const last = /^--?([^=]+)$/.exec(argv[end - 1] ?? '')?.[1]?.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  if (table && last !== undefined && valuedFlags(table).flatMap(namesOf).includes(last)) {
    throw new UsageError(`${argv[end - 1]} has no value: the "--" after it ends the flags`);
  }
  const dashed = after.find((a) => a.startsWith('-'));
  if (dashed !== undefined) {
    const word = shownWord(dashed);
    throw new UsageError(`after "--" every word is an argument, and ${word} cannot be one: no reference, tag or registry starts with "-" (a sync file so named: ./${word})`);
  }
  return [...argv.slice(0, end), ...after];
}

/** Formats an error as the one line the CLI prints, scrubbed of the run's secrets. */
export function errorLine(err: unknown, secrets: SecretSet = new SecretSet()): string {
  // A bug says so, whether it reached here typed (the library wraps stray errors as E_INTERNAL) or not.
  if (err instanceof RegpushError) {
    const kind = err.code === 'E_INTERNAL' ? 'internal error' : 'error';
    return `regpush: ${kind}: ${printable(secrets.scrub(withHint(err.message.split('\n')[0] ?? '', err)))} [${err.code}]`;
  }
  const msg = err instanceof Error ? err.message : String(err);
  return `regpush: internal error: ${printable(secrets.scrub(msg.split('\n')[0] ?? ''))} [E_INTERNAL]`;
}

/**
 * Adds what to do next to an auth failure that does not say it yet (token realm refusals, helpers);
 * not to a proxy's, which names its own fix, nor to a token service that failed (a 5xx: no login
 * would mend it, and its message says what to do).
 */
function withHint(line: string, err: RegpushError): string {
  if (
    err.code !== 'E_AUTH' ||
    err.details.proxy !== undefined ||
    err.details.tokenRefused === true ||
    tokenServiceFailed(err) ||
    /regpush login|instead of any stored login|login to|credential helper|credential file|REGPUSH_\w+ is set/.test(line)
  )
    return line;
  const host = typeof err.details.registry === 'string' ? err.details.registry : 'REGISTRY';
  return `${line}; ${loginAdvice(host)}`;
}

/**
 * yargs lays out the whole help text (string-width over every line) each time a command runs, in
 * case the handler fails and help must be shown: ~100 ms of the main thread before the first
 * request of a push. regpush never shows help on a failure (showHelpOnFail(false)), so unless help
 * was asked for, that cache is skipped. Guarded: if yargs' internals change, nothing breaks.
 */
function skipHelpCache(y: Argv, argv: string[]): void {
  if (argv.some((a) => a === '--help' || a === '-h' || a === 'help')) return;
  try {
    const usage = (y as unknown as { getInternalMethods(): { getUsageInstance(): { cacheHelpMessage?: () => void } } }).getInternalMethods().getUsageInstance();
    if (typeof usage.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => {};
  } catch {
    /* a yargs without these internals: keep its default */
  }
}

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function main(rawArgv: string[], io: CliIO): Promise<number> {
  let argv = expandAttachedValues(commandFirst(rawArgv));
  let code = 0;
  const done = (c: number) => {
    code = c;
  };
  const wrap = Math.min(110, io.stderr.columns || 100);
  let y: Argv = yargs(argv)
    .scriptName('regpush')
    .version(VERSION)
    .help()
    .alias('h', 'help')
    .strict()
    .recommendCommands()
    .demandCommand(1, `Name a command: ${COMMANDS.slice(0, -1).join(', ')} or ${COMMANDS.at(-1)} (see regpush --help)`)
    .wrap(wrap)
    .exitProcess(false)
    .showHelpOnFail(false)
    .fail((msg, err) => {
      // Throwing stops yargs from running the handler with half-parsed arguments.
      if (err) throw err;
      // yargs puts the details of some messages on later lines ("Invalid values:\n  Argument: …"),
      // and the CLI prints one line: join them.
      const line = missingPositionals(msg, argv) ?? msg.replace(/\s*\n\s*/g, ' ').trim();
      throw new UsageError(withSuggestion(line, argv, knownFlags(y, argv)));
    })
    .epilogue(
      'Credentials: flags, REGPUSH_FROM_*/REGPUSH_TO_* env vars, `regpush login` (Docker config.json, credential helpers), Podman auth.json; REGISTRY_AUTH_FILE, when set, is the only file read.\n' +
        'Project defaults for push: ./regpush.json or a "regpush" key in package.json (flags override).\n' +
        'Exit codes: 0 ok, 1 internal error, 2 usage/bad input, 3 auth/denied, 4 not found, 5 network/registry, 6 unsupported, 7 digest mismatch, ' +
        '8 partial failure (some push or copy targets, sync images or new tags of tag failed), 130 aborted.',
    );
  skipHelpCache(y, argv);
  y = copyableExamples(y, wrap);
  // One per run, passed along: what the run learns (credentials, tokens) is scrubbed from all it prints.
  const secrets = new SecretSet();
  y = pushCommand(y, io, done, secrets);
  y = copyCommand(y, io, done, secrets);
  y = syncCommand(y, io, done, secrets);
  y = inspectCommand(y, io, done, secrets);
  y = manageCommands(y, io, done, secrets);
  y = loginCommands(y, io, done, secrets);
  try {
    argv = endOfFlags(argv);
    checkBooleanValues(argv);
    checkNegatedValues(argv);
    checkBlankNumbers(argv);
    await y.parseAsync(argv, {}, (err, _parsed, output) => {
      if (output && !err) io.stdout.write(output + '\n');
    });
  } catch (err) {
    io.stderr.write(errorLine(err, secrets) + '\n');
    return err instanceof RegpushError ? err.exitCode : 1;
  }
  return code;
}
