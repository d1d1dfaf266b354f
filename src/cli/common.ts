/** Flags every command shares, and turning them into library options. */
import { VERSION } from '../version.js';
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import os from 'node:os';
import { resolve } from 'node:path';
import { missingAuthFile } from '../auth/credential-paths.js';
import { userNameProblem } from '../auth/credential-rules.js';
import type { Credential } from '../auth/credential-types.js';
import { AbortedError, InputError, UsageError } from '../errors.js';
import { untilAborted } from '../abort.js';
import type { Logger } from '../log.js';
import { defineFlags, type InferredArgs } from './flag-table.js';
import { many } from './flags.js';
import type { CliIO } from './io.js';
import { redactTyped, type SecretSet } from '../redact.js';
import { createCliLogger, type LineSink, type Verbosity } from './logger.js';
import { ignoredExtraCaWarning } from '../http/tls.js';
import type { RegistryTlsOptions } from '../http/tls-options.js';
import { tlsFlags, tlsOptionsFromFlags } from './tls-flags.js';
import { connectionFlagNames, type ConnectingCommand } from './connection-flags.js';
import { mirrorFlags, registryConfigOptions } from './mirror-flags.js';
import type { ProxySettings } from '../http/proxy-choice.js';
import type { BlockedPrefixes, InsecureHosts, MirrorMap } from '../registry/mirror-config.js';
import { CHUNK_SIZE_RANGE, IDLE_TIMEOUT_RANGE_MS, RETRIES_MAX } from '../registry/limits.js';
import { INSECURE_ENTRY_FORM, unusableInsecureEntry } from '../registry/endpoint.js';
import { insecureEnvEntries } from '../registry/insecure-settings.js';

/** Flags every command shares. */
/** --json, --quiet and --debug: what every command has, `logout` (which connects nowhere) only these. */
export const outputFlags = defineFlags({
  json: { type: 'boolean', describe: 'Print one JSON object on stdout instead of text', group: 'Output:' },
  quiet: { alias: 'q', type: 'boolean', describe: 'Print only the result (and warnings, on stderr): no progress, no notes', group: 'Output:' },
  debug: { type: 'boolean', describe: 'Log every HTTP request (redacted) to stderr', group: 'Output:' },
});

export const commonFlags = defineFlags({
  'insecure-registry': {
    type: 'string',
    repeatable: true,
    describe:
      'Registry (HOST[:PORT], or an address range such as 10.0.0.0/8) to reach over plain HTTP; repeatable. Also REGPUSH_INSECURE_REGISTRIES.',
    group: 'Connection:',
  },
  retries: { type: 'number', describe: 'Retries for transient registry failures (5xx, 429, resets)', group: 'Connection:' },
  ...outputFlags,
  'password-stdin': { type: 'boolean', describe: 'Read the password (the target\'s for push/copy) from standard input', group: 'Credentials:' },
  ...tlsFlags,
  ...mirrorFlags,
});

/** Parsed values of the shared flags. */
export type CommonArgs = InferredArgs<typeof commonFlags>;

/** What a command needs from the shared flags. */
export interface CommonContext {
  logger: Logger;
  /** The run's secrets: every line the CLI prints is scrubbed of them. */
  secrets: SecretSet;
  verbosity: Verbosity;
  /** Where the logger's lines go (stderr; the TTY progress display redirects it above its frame). */
  logSink: LineSink;
  /** TLS per registry from --ca-cert, --client-cert, --tls-verify and REGPUSH_CERTS_DIRS (the library's `tls` option). */
  tls: RegistryTlsOptions;
  /** Read mirrors from --registry-mirror, registries.conf and daemon.json (the library's `mirrors` option). */
  mirrors: MirrorMap;
  /** registries.conf's blocked prefixes (the library's `blocked` option). */
  blocked: BlockedPrefixes;
  /** registries.conf's `insecure = true` hosts and daemon.json's insecure-registries (the library's `insecureTlsRegistries` option). */
  insecureTls: InsecureHosts;
  /** Warns of registries.conf settings not applied when a read falls under them (the library's `onRead`, RegistryConfigOptions). */
  onRead?: (registry: string, repo: string) => void;
  /** The run's proxies: daemon.json's `proxies` when they give one, else HTTPS_PROXY, HTTP_PROXY and NO_PROXY (the library's `proxySettings`). */
  proxy: ProxySettings;
}

/** Why `file` cannot be read as a file (its error code), or undefined when it can. */
function unreadableFile(file: string): string | undefined {
  try {
    if (statSync(file).isDirectory()) return 'EISDIR';
    accessSync(file, fsConstants.R_OK);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'read error';
    return code === 'ENOENT' ? 'no such file' : code;
  }
}

/** The logger of a run from the output flags (--debug, --quiet), its first debug lines written. */
export function outputContext(args: { debug?: boolean; quiet?: boolean }, io: CliIO, secrets: SecretSet): Pick<CommonContext, 'secrets' | 'verbosity' | 'logSink' | 'logger'> {
  const verbosity: Verbosity = args.debug ? 'debug' : args.quiet ? 'quiet' : 'normal';
  const logSink: LineSink = { write: (text) => io.stderr.write(text) };
  const logger = createCliLogger(io, verbosity, secrets, logSink);
  // The first debug line: what runs, and (in its time stamp) what start-up and parsing cost.
  logger.debug(`regpush ${VERSION}, Node ${process.version} ${process.platform}/${process.arch}: arguments parsed`);
  if (io.earlySockets?.opened.length) logger.debug(`connections opened while loading: ${io.earlySockets.opened.join(', ')}`);
  return { secrets, verbosity, logSink, logger };
}

/** Builds the logger, secret list and connection settings (TLS, mirrors, registries.conf) of a run. */
export function commonContext(args: CommonArgs, io: CliIO, secrets: SecretSet): CommonContext {
  const out = outputContext(args, io, secrets);
  const { logger } = out;
  // Here, so every command refuses a bare --insecure / --tls-verify=false the same way.
  const tls = tlsOptionsFromFlags(args, io.env, cwdOf(io));
  // The NODE_EXTRA_CA_CERTS Node has loaded already: the library adds it back only to a registry
  // with CAs of its own, and leaves every other one on Node's default trust (which has it).
  if (io.startupExtraCaCerts) {
    const file = resolve(cwdOf(io), io.startupExtraCaCerts);
    const unreadable = unreadableFile(file);
    // Node ignores a file it cannot read (its own "Warning: Ignoring extra certs" line, which does
    // not name the variable): so does every run here, with or without CAs of a registry's own
    // (the library passes it over where it would add it back), rather than failing only the runs
    // with --ca-cert or certs.d CAs (E_INPUT reading it). Still handed on, so that env's
    // variable is known for the one Node read, not a file for the library to trust itself.
    if (unreadable) logger.warn(ignoredExtraCaWarning(file, `cannot read it (${unreadable})`));
    tls.nodeExtraCaCerts = file;
  }
  const conf = registryConfigOptions(args['registry-mirror'], io.env, cwdOf(io), logger);
  return { ...out, tls, mirrors: conf.mirrors, blocked: conf.blocked, insecureTls: conf.insecure, proxy: conf.proxy, ...(conf.onRead ? { onRead: conf.onRead } : {}) };
}

/** Reads all of stdin (a password) and trims the final newline; AbortedError when the run's signal fires first. */
export async function readStdin(io: CliIO): Promise<string> {
  if (io.signal?.aborted) throw new AbortedError();
  const read = async (): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    for await (const c of io.stdin) chunks.push(Buffer.from(c as Buffer));
    return Buffer.concat(chunks);
  };
  // Ctrl-C only aborts the run's signal (bin.ts), which a read of stdin does not listen to: a
  // terminal, or a pipe whose writer never closes it, would keep the run waiting. The read is given
  // up, and stdin let go so that the process can end.
  const onAbort = () => io.stdin.destroy();
  io.signal?.addEventListener('abort', onAbort, { once: true });
  let bytes: Buffer;
  try {
    bytes = await untilAborted(io.signal, read());
  } finally {
    io.signal?.removeEventListener('abort', onAbort);
  }
  const s = bytes.toString('utf8').replace(/\r?\n$/, '');
  if (!s) throw new UsageError('--password-stdin: standard input was empty');
  return s;
}

/**
 * The credential of a command with one role's `--user`, `--password` / `--password-stdin` (inspect
 * and the registry commands): both or neither, one password source only.
 */
export async function credentialFromUserFlags(
  a: { user?: string; password?: string; 'password-stdin'?: boolean },
  io: CliIO,
  secrets: SecretSet,
  warn: (line: string) => void,
): Promise<Credential | undefined> {
  if (a.password !== undefined && a['password-stdin']) throw new UsageError('give either --password or --password-stdin, not both');
  const password = a['password-stdin'] ? await readStdin(io) : a.password;
  if (a.user === undefined && password === undefined) return undefined;
  if (!a.user) throw new UsageError(`--${a['password-stdin'] ? 'password-stdin' : 'password'} was given without --user`);
  // An empty password ("$UNSET") is none: the library refuses the half credential, in its options' words.
  if (!password) throw new UsageError(password === undefined ? '--user was given without --password (or --password-stdin)' : '--password is empty');
  checkUserName(a.user, '--user');
  const cred = { username: a.user, password };
  secrets.addCredential(cred);
  if (a.password !== undefined) warnPasswordFlag('password', warn);
  return cred;
}

/**
 * The warning for a password given as a flag (`--password`, `--to-password`, `--from-password`),
 * as login gives it: the process list shows a command's arguments to every user of the machine.
 * A warning like any other (stderr, kept by --quiet). The source's password has no stdin flag.
 */
export function warnPasswordFlag(flag: 'password' | 'to-password' | 'from-password', warn: (line: string) => void): void {
  warn(`--${flag} is visible to other users of this machine; ${flag === 'from-password' ? 'use REGPUSH_FROM_PASSWORD or regpush login' : 'use --password-stdin'}`);
}

/** UsageError when the user name given in `where` (a flag, the prompt) cannot be sent (userNameProblem); the message never shows it. */
export function checkUserName(username: string, where: string): void {
  const problem = userNameProblem(username);
  if (problem) throw new UsageError(`${where} ${problem}`);
}

/** A credential from a user/password flag pair; both or neither. */
function credentialFromFlags(user: string | undefined, password: string | undefined, flag: string, secrets: SecretSet): Credential | undefined {
  if (user === undefined && password === undefined) return undefined;
  if (!user) throw new UsageError(`--${flag}-password was given without --${flag}-user`);
  // An empty password ("$UNSET") is none: the library refuses the half credential, in its options' words.
  if (!password) throw new UsageError(password === undefined ? `--${flag}-user was given without --${flag}-password (or --password-stdin)` : `--${flag}-password is empty`);
  checkUserName(user, `--${flag}-user`);
  const cred = { username: user, password };
  secrets.addCredential(cred);
  return cred;
}

/**
 * The connection options every command hands the library, from the shared flags, the context and
 * the environment: one place, so a new shared setting reaches every command. `command` is the one
 * running: its hints name its own user flags (connectionFlagNames). `login` writes the credential
 * file; every other command reads it, and is refused up front when REGISTRY_AUTH_FILE names a file
 * that is not there (the library finds out only once a registry asks for credentials, and sync
 * would report it once per image).
 */
export function connectionOptions(a: CommonArgs, io: CliIO, ctx: CommonContext, command: ConnectingCommand) {
  if (command !== 'login') checkAuthFile(io.env, cwdOf(io));
  return {
    // Relative paths the library reads (push's --app and --layer sources, env's REGISTRY_AUTH_FILE,
    // DOCKER_CONFIG, NODE_EXTRA_CA_CERTS) are taken in the CLI's directory, not the process's.
    cwd: cwdOf(io),
    logger: ctx.logger,
    env: io.env,
    homeDir: homeDirOf(io),
    insecureRegistries: insecureRegistriesOption(many(a['insecure-registry']), io.env),
    tls: ctx.tls,
    mirrors: ctx.mirrors,
    blocked: ctx.blocked,
    insecureTlsRegistries: ctx.insecureTls,
    // daemon.json's proxies or env's, chosen once (runProxySettings): the early connections were
    // left out for the hosts these send through a proxy (early-connect.ts reads the same choice).
    proxySettings: ctx.proxy,
    credentialHelperTimeoutMs: credentialHelperTimeoutOption(io.env),
    credentialHelperProcessGroup: helperProcessGroupOption(io),
    secrets: ctx.secrets,
    retries: retriesOption(a),
    idleTimeoutMs: idleTimeoutOption(io.env),
    signal: io.signal,
    earlySockets: io.earlySockets,
    onRead: ctx.onRead,
    // The hints of a failed connection name the flags of this command that fix it, not the library's options.
    connectionNames: connectionFlagNames(command),
  };
}

/**
 * --insecure-registry's values, each entry one that can name a registry (isInsecureEntry), as
 * daemon.json's `insecure-registries` are held to, and REGPUSH_INSECURE_REGISTRIES's the same
 * (E_INPUT: the environment's). An entry that cannot match (`reg:5000/library`, an empty one)
 * left the registry on HTTPS, and its failure then advised adding the flag already given.
 */
function insecureRegistriesOption(values: string[] | undefined, env: Record<string, string | undefined>): string[] | undefined {
  for (const v of values ?? []) {
    const bad = unusableInsecureEntry(v);
    if (bad !== undefined) throw new UsageError(`--insecure-registry ${JSON.stringify(redactTyped(bad))} is not ${INSECURE_ENTRY_FORM}`);
  }
  insecureEnvEntries(env);
  return values;
}

/** Throws missingAuthFile when REGISTRY_AUTH_FILE is set to a path where there is no file (a relative one taken in `cwd`, as the library takes it). */
function checkAuthFile(env: Record<string, string | undefined>, cwd: string): void {
  const file = env.REGISTRY_AUTH_FILE;
  if (!file) return;
  try {
    statSync(resolve(cwd, file));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // Other failures (EACCES) are reported by the read itself, naming the file and the cause.
    if (code === 'ENOENT' || code === 'ENOTDIR') throw missingAuthFile(file);
  }
}

/** REGPUSH_CREDENTIAL_HELPER_TIMEOUT_MS: how long a credential helper may take (ms), validated (E_INPUT: the environment's). */
export function credentialHelperTimeoutOption(env: Record<string, string | undefined>): number | undefined {
  const v = env.REGPUSH_CREDENTIAL_HELPER_TIMEOUT_MS;
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 100 || Number(v) > 3_600_000) {
    throw new InputError(`REGPUSH_CREDENTIAL_HELPER_TIMEOUT_MS must be milliseconds from 100 to 3600000 (got "${v}")`);
  }
  return Number(v);
}

/**
 * Whether credential helpers run in a process group of their own (the library's
 * credentialHelperProcessGroup): only when none of the run's standard streams is a terminal (CI),
 * so that a helper that times out is killed with what it started. At a terminal a helper stays in
 * regpush's session, as Docker runs it: one that prompts there (gcloud's re-authentication, a
 * pinentry on /dev/tty) could not open the terminal from a session of its own, and Ctrl-C reaches
 * it with regpush.
 */
export function helperProcessGroupOption(io: CliIO): boolean {
  return ![io.stdin as { isTTY?: boolean }, io.stdout, io.stderr].some((s) => s.isTTY === true);
}

/** The retries option as the library wants it. */
function retriesOption(args: CommonArgs): number | undefined {
  if (args.retries === undefined) return undefined;
  if (!Number.isInteger(args.retries) || args.retries < 0 || args.retries > RETRIES_MAX) throw new UsageError(`--retries must be a whole number from 0 to ${RETRIES_MAX} (got ${args.retries})`);
  return args.retries;
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gib: 1024 ** 3 };

/** Parses --chunk-size: bytes, or a number with K/KiB/M/MiB/G/GiB (binary units); 1 KiB to 1 GiB. */
export function chunkSizeOption(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(String(v));
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  const n = m && unit ? Math.floor(Number(m[1]) * unit) : NaN;
  if (!(n >= CHUNK_SIZE_RANGE.min && n <= CHUNK_SIZE_RANGE.max)) throw new UsageError(`--chunk-size must be a size from 1KiB to 1GiB, e.g. 5MiB or 5242880 (got "${String(v)}")`);
  return n;
}

/** The directory relative paths of this run are taken in: the one main() was given, else the process's. */
export function cwdOf(io: CliIO): string {
  return io.cwd ?? process.cwd();
}

/**
 * The user's home directory for the credential files and certs.d: $HOME, else the account's (a
 * CI step may run without HOME). The CLI decides it; the library takes only what it is given.
 */
export function homeDirOf(io: CliIO): string {
  return io.env.HOME || os.homedir();
}

/** The idle timeout from REGPUSH_IDLE_TIMEOUT_MS (ms a connection may stay silent), validated (E_INPUT: the environment's). */
export function idleTimeoutOption(env: Record<string, string | undefined>): number | undefined {
  const v = env.REGPUSH_IDLE_TIMEOUT_MS;
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v) || Number(v) < IDLE_TIMEOUT_RANGE_MS.min || Number(v) > IDLE_TIMEOUT_RANGE_MS.max) {
    throw new InputError(`REGPUSH_IDLE_TIMEOUT_MS must be milliseconds from ${IDLE_TIMEOUT_RANGE_MS.min} to ${IDLE_TIMEOUT_RANGE_MS.max} (got "${v}")`);
  }
  return Number(v);
}

/**
 * --from-user/--from-password/--to-user/--to-password (push and copy share them); `source` and
 * `target` name the registries in the help. Each is given once (withFlags refuses a second value).
 */
export function transferCredentialFlags(source: string, target: string) {
  return defineFlags({
    'from-user': { type: 'string', once: true, describe: `User for ${source}`, group: 'Credentials:' },
    'from-password': { type: 'string', once: true, describe: `Password for ${source}`, group: 'Credentials:' },
    'to-user': { type: 'string', once: true, describe: `User for ${target}`, group: 'Credentials:' },
    'to-password': { type: 'string', once: true, describe: `Password for ${target} (prefer --password-stdin)`, group: 'Credentials:' },
  });
}

/** Parsed values of the transfer credential flags (and --password-stdin, which gives the target's password). */
export type TransferCredentialArgs = InferredArgs<ReturnType<typeof transferCredentialFlags>> & Pick<CommonArgs, 'password-stdin'>;

/** The source and target credentials from those flags; --password-stdin gives the target's password. */
export async function transferCredentials(a: TransferCredentialArgs, io: CliIO, secrets: SecretSet, warn: (line: string) => void): Promise<{ from?: Credential; to?: Credential }> {
  // As inspect and login refuse --password with it: the flag's password would be dropped unsaid,
  // and, typed on the command line, still be in the process list without the warning below.
  if (a['to-password'] !== undefined && a['password-stdin']) throw new UsageError('give either --to-password or --password-stdin, not both');
  const stdinPassword = a['password-stdin'] ? await readStdin(io) : undefined;
  const creds = {
    from: credentialFromFlags(a['from-user'], a['from-password'], 'from', secrets),
    to: credentialFromFlags(a['to-user'], stdinPassword ?? a['to-password'], 'to', secrets),
  };
  if (a['to-password'] !== undefined) warnPasswordFlag('to-password', warn);
  if (a['from-password'] !== undefined) warnPasswordFlag('from-password', warn);
  return creds;
}
