/**
 * Building authenticated registry clients for an operation: which credential, which scopes, which
 * scheme. Every operation comes through here, so there is one way in; one that makes a single
 * client (inspect, the registry commands) through withClient.
 */
import { credentialSourceList, registryCredentialFor, registryCredentialsProblem, resolveCredential } from '../auth/credentials.js';
import { userNameProblem, type CredentialRole } from '../auth/credential.js';
import type { Credential } from '../auth/credential-types.js';
import { credentialEnvOrigin, credentialEnvVars } from '../auth/credential-env.js';
import { storedLoginSources } from '../auth/credential-paths.js';
import { repositoryScope, type ScopeAction } from '../auth/scope.js';
import { Transport } from '../http/transport.js';
import { proxyPasswords, proxySettingsFromEnv } from '../http/proxy-choice.js';
import { tlsResolver, type ResolverTlsOptions } from '../http/tls.js';
import { defaultCertsDirs } from '../http/tls-options.js';
import { silentLogger, type Logger } from '../log.js';
import { AuthMemory } from '../auth/auth-memory.js';
import { HttpRegistryClient } from './client.js';
import type { InterruptedSession, RegistryClient } from './registry-client.js';
import { endpointFor, parseInsecureList } from './endpoint.js';
import { checkConnectionRanges } from './limits.js';
import { blockedBy, checkMirrorMap, DAEMON_INSECURE_REGISTRIES, mirrorsFor, MirrorConfigError, REGISTRIES_INSECURE_V1, type MirrorMap } from './mirror-config.js';
import { BlockedClient, MirroredClient, MirrorHealth, mirrorSendProfile, type MirrorRoute } from './mirrors.js';
import { isAbsolute, resolve } from 'node:path';
import { DeniedError, UsageError } from '../errors.js';
import { operationSignal, withAbortReason } from '../abort.js';
import { STRINGS, type Shape, type ShapeProblem } from '../options-check.js';
import { connectionOptionNames, type ConnectionNames } from '../option-names.js';
import type { ConnectionOptions } from './connection-options.js';

/** What a scope given to connect() asks for in its repository (pull, push, delete): the pipelines name it from here, not from src/auth. */
export type { ScopeAction };

/**
 * The check of `credentials.registries`, typed as Shape's `problem` is: the operations' shapes
 * (COPY_SHAPE, MANAGE_SHAPE…) spread CONNECTION_SHAPE, and their published declarations would
 * otherwise name credentials.ts, and with it the credential lookup, for this one function's type.
 */
const REGISTRIES_PROBLEM: (value: never) => ShapeProblem | undefined = registryCredentialsProblem;

/** A user name to send (a credential's, login's): a string that HTTP Basic can carry (userNameProblem). */
export const USER_NAME: Shape = {
  refine: 'string',
  problem: (u: string) => {
    const text = userNameProblem(u);
    return text ? { text } : undefined;
  },
};

/** A Credential's shape. */
const CREDENTIAL: Shape = { fields: { username: USER_NAME, password: 'string', identityToken: 'string', registryToken: 'string' } };

/**
 * The shape of ConnectionOptions, and of `logger` and `retries`, which every operation takes too,
 * for checkOptions (options-check.ts). Every field of ConnectionOptions is named, so that a
 * misspelt one is refused; earlySockets is the CLI launcher's and its value is not checked. A
 * logger and the secrets are objects of the caller's (a class, `console`) that may hold more.
 */
export const CONNECTION_SHAPE = {
  cwd: 'string',
  env: { values: 'string' },
  homeDir: 'string',
  insecureRegistries: STRINGS,
  credentials: { fields: { from: CREDENTIAL, to: CREDENTIAL, registries: { refine: { values: CREDENTIAL }, problem: REGISTRIES_PROBLEM } } },
  signal: { instanceOf: AbortSignal, name: 'AbortSignal' },
  idleTimeoutMs: 'whole',
  chunkSize: 'whole',
  tls: {
    fields: {
      certsDirs: STRINGS,
      caCerts: { values: STRINGS },
      clientCerts: { values: { fields: { cert: 'string', key: 'string' }, required: ['cert', 'key'] } },
      verifyOff: STRINGS,
      verifyOffBy: { values: 'string' },
      nodeExtraCaCerts: 'string',
    },
  },
  credentialHelperTimeoutMs: 'whole',
  credentialHelperProcessGroup: 'boolean',
  secrets: { fields: { add: 'function', addCredential: 'function' }, required: ['add', 'addCredential'], open: true },
  mirrors: { values: STRINGS },
  blocked: { values: { anyOf: ['string', { literal: [false] }] } },
  insecureTlsRegistries: { values: 'string' },
  earlySockets: 'any',
  onRead: 'function',
  connectionNames: {
    fields: {
      caCert: 'function',
      clientCert: 'function',
      caCertSetting: 'string',
      clientCertSetting: 'string',
      verifyOff: 'function',
      verifiedOffBy: 'function',
      insecure: 'function',
      insecureSetting: 'string',
      credentials: 'function',
      refused: 'function',
      givenCredentials: 'function',
      jobs: 'string',
      inspect: 'string',
      tags: 'string',
      tagsOf: 'function',
      copy: 'string',
      mirrors: 'string',
    },
    // credentials, refused and jobs may be left out: the hints then advise none of them (ConnectionNames).
    required: ['caCert', 'clientCert', 'verifyOff', 'verifiedOffBy', 'insecure', 'insecureSetting'],
  },
  logger: { fields: { debug: 'function', info: 'function', warn: 'function' }, required: ['debug', 'info', 'warn'], open: true },
  retries: 'whole',
} satisfies Record<string, Shape>;

/** Transport tunables an operation takes from its options. */
export interface TransportChoices extends ConnectionOptions {
  logger?: Logger;
  retries?: number;
  idleTimeoutMs?: number;
}

/**
 * What an operation has of the settings a failure's hints may advise beyond its connection
 * (ConnectionNames' optional ones): `jobs`, how many transfers run at once (push, copy and sync
 * have it; inspect, the registry commands and login do not); `credentials`, credentials to give
 * (every operation but login, which checks the ones it is given).
 */
export interface HintedSettings {
  jobs: boolean;
  credentials: boolean;
  /**
   * What a 404 advises: `inspect` (ConnectionNames.inspect, the default), or `tags`, the tag
   * listing (ConnectionNames.tags), for an operation that inspect would fail the same way: inspect
   * itself, and digest, tag, untag and delete, which name a reference as inspect does; `repository`,
   * neither, for the tag listing itself, whose 404 is its repository's.
   */
  notFoundAdvice?: 'inspect' | 'tags' | 'repository';
}

/** The default: an operation without a `jobs` setting that takes credentials (inspect, tags, catalog, digest, tag, untag, delete). */
const WITHOUT_JOBS: HintedSettings = { jobs: false, credentials: true };

/**
 * The one way an operation builds its transport: logger, retries, idle timeout, proxies from env,
 * TLS per registry, and the names its hints give the settings that fix a failure (the caller's
 * `connectionNames`, else the library's options), less those the operation does not have (`has`).
 */
export function transportFor(opts: TransportChoices, has: HintedSettings = WITHOUT_JOBS): Transport {
  // For a caller that skipped its operation's own check (checkConnectionRanges, which names the
  // option with the operation): the options named bare.
  checkConnectionRanges(opts, (option) => option);
  const logger = opts.logger ?? silentLogger;
  const names = namesFor(opts.connectionNames ?? connectionOptionNames, has);
  const proxy = proxySettingsFromEnv(opts.env ?? {});
  // A proxy's password reaches text a dependency words (its errors, --debug lines) as typed or
  // decoded: the caller scrubs it from all it prints, as it does a registry password.
  for (const p of [proxy.httpProxy, proxy.httpsProxy]) for (const secret of proxyPasswords(p)) opts.secrets?.add(secret);
  return new Transport({
    logger,
    idleTimeoutMs: opts.idleTimeoutMs,
    retry: opts.retries === undefined ? undefined : { retries: opts.retries },
    proxy,
    tls: tlsResolver(withInsecureTls(opts), logger, names),
    early: opts.earlySockets,
    names,
  });
}

/** `names` less the settings the operation does not have: a 429 at `inspect` does not say to lower a --jobs it has no such flag for. */
function namesFor(names: ConnectionNames, has: HintedSettings): ConnectionNames {
  const { jobs, credentials, refused, givenCredentials, inspect, tags, ...always } = names;
  return {
    ...always,
    ...(has.notFoundAdvice !== 'tags' && has.notFoundAdvice !== 'repository' && inspect !== undefined ? { inspect } : {}),
    ...(has.notFoundAdvice !== 'repository' && tags !== undefined ? { tags } : {}),
    ...(has.jobs && jobs !== undefined ? { jobs } : {}),
    ...(has.credentials && credentials ? { credentials } : {}),
    ...(has.credentials && refused ? { refused } : {}),
    ...(has.credentials && givenCredentials ? { givenCredentials } : {}),
  };
}

/** Variables of `env` naming a file or directory regpush reads or writes: a relative one is taken in `cwd`, as the options' paths are. */
const PATH_VARIABLES = ['REGISTRY_AUTH_FILE', 'DOCKER_CONFIG', 'NODE_EXTRA_CA_CERTS'] as const;

/**
 * The `cwd` option, absolute: the caller's directory, else the process's. An operation reads it
 * here once, when it starts (anchorPaths); nothing below that looks the process's directory up.
 */
export function workingDirectory(cwd: string | undefined): string {
  if (cwd === '') throw new UsageError('cwd is empty: give a directory, or leave it out for the process\'s working directory');
  return resolve(cwd ?? process.cwd());
}

/**
 * The options with every relative path made absolute in `cwd` (workingDirectory): the `tls` files
 * and directories and the path variables of `env` (PATH_VARIABLES). Each operation calls it first
 * thing after checking its options' shape, so a file is looked for where the caller means, whatever
 * the process's directory (a library caller's, or the CLI run in-process with its own `cwd`).
 * Push's layer sources keep their spelling, for messages, and are looked up in `cwd` by the layer
 * builder (LayerOptions.cwd).
 */
export function anchorPaths<T extends ConnectionOptions>(opts: T, cwd: string = workingDirectory(opts.cwd)): T & { cwd: string } {
  const at = (p: string): string => (p === '' ? p : resolve(cwd, p));
  let env = opts.env;
  for (const name of PATH_VARIABLES) {
    const v = env?.[name];
    if (v && !isAbsolute(v)) env = { ...env, [name]: at(v) };
  }
  const t = opts.tls;
  const tls = t && {
    ...t,
    ...(t.certsDirs ? { certsDirs: t.certsDirs.map(at) } : {}),
    ...(t.caCerts ? { caCerts: Object.fromEntries(Object.entries(t.caCerts).map(([host, files]) => [host, files.map(at)])) } : {}),
    ...(t.clientCerts ? { clientCerts: Object.fromEntries(Object.entries(t.clientCerts).map(([host, c]) => [host, { cert: at(c.cert), key: at(c.key) }])) } : {}),
    ...(t.nodeExtraCaCerts ? { nodeExtraCaCerts: at(t.nodeExtraCaCerts) } : {}),
  };
  return { ...opts, cwd, ...(env !== opts.env ? { env } : {}), ...(tls ? { tls } : {}) };
}


/**
 * The TLS options of a run: the caller's, with the certs.d roots of the home directory and the
 * system when none are given, and verification off for insecureTlsRegistries (and why, for the warning).
 */
function withInsecureTls(opts: ConnectionOptions): ResolverTlsOptions {
  // env's NODE_EXTRA_CA_CERTS is trusted for every registry and proxy (tlsResolver), as Node trusts the one
  // it started with; unless the caller names that one (tls.nodeExtraCaCerts), which is Node's already and wins.
  const tls: ResolverTlsOptions = { ...(opts.tls ?? {}), envExtraCaCerts: opts.env?.NODE_EXTRA_CA_CERTS || undefined };
  tls.certsDirs ??= defaultCertsDirs(opts.homeDir ?? opts.env?.HOME);
  const hosts = Object.entries(opts.insecureTlsRegistries ?? {});
  if (hosts.length === 0) return tls;
  return {
    ...tls,
    verifyOff: [...(tls.verifyOff ?? []), ...hosts.map(([h]) => h)],
    // Named in the warning the resolver gives once such a host has answered over TLS, whatever
    // it is to the operation (registry, mirror, token service, redirect target).
    verifyOffBy: { ...Object.fromEntries(hosts.map(([h, where]) => [h, insecureTlsSetting(where)])), ...(tls.verifyOffBy ?? {}) },
  };
}

/**
 * The setting that named a host insecure-TLS, as the file wrote it, from InsecureHosts' value: a
 * file (version 2's `insecure = true`), or the setting and the file (`[registries.insecure] in FILE`,
 * version 1, which has no `insecure = true`; `insecure-registries in FILE`, daemon.json's).
 */
/** insecureTlsRegistries' hosts → their setting as the warning quotes it (RegistryClientOptions.insecureTlsBy). */
export function insecureTlsBy(opts: ConnectionOptions): Record<string, string> {
  return Object.fromEntries(Object.entries(opts.insecureTlsRegistries ?? {}).map(([h, where]) => [h, insecureTlsSetting(where)]));
}

function insecureTlsSetting(where: string): string {
  return [REGISTRIES_INSECURE_V1, DAEMON_INSECURE_REGISTRIES].some((setting) => where.startsWith(`${setting} in `)) ? where : `insecure = true in ${where}`;
}

/**
 * The insecure list from options and env together, each entry read as the env var is (an
 * `http://` prefix dropped, a comma list split): compared raw, `--insecure-registry http://h:5000`
 * or `a:5000,b:5000` matched no registry and the push went to HTTPS without a word.
 */
export function insecureList(opts: ConnectionOptions): string[] {
  return [...(opts.insecureRegistries ?? []).flatMap((v) => parseInsecureList(v)), ...parseInsecureList(opts.env?.REGPUSH_INSECURE_REGISTRIES)];
}

/**
 * Whether `registry` is named insecure by env's REGPUSH_INSECURE_REGISTRIES alone, not by the
 * insecureRegistries option (the CLI's --insecure-registry): a hint against that setting then
 * names the variable the user set, not a flag they never typed.
 */
function insecureFromEnvOnly(registry: string, opts: ConnectionOptions): boolean {
  const named = (list: string[]) => endpointFor(registry, list).scheme === 'http';
  return !named((opts.insecureRegistries ?? []).flatMap((v) => parseInsecureList(v))) && named(parseInsecureList(opts.env?.REGPUSH_INSECURE_REGISTRIES));
}

/**
 * A client for `registry` with credentials for `role` and the operation's scopes, the client's own
 * repository first (its credential is looked up for that one). `read` is for
 * read-only commands (inspect): explicit `credentials.from`, then REGPUSH_*, REGPUSH_TO_*,
 * REGPUSH_FROM_* env vars (see credentialEnvRoles). `memory`: the operation's ClientMemory, so its
 * clients share schemes, tokens, credential lookups and what they learnt of mirrors.
 */
export function connect(
  transport: Transport,
  registry: string,
  role: CredentialRole,
  scopes: { repo: string; actions: ScopeAction[] }[],
  opts: ConnectionOptions,
  memory?: ClientMemory,
): RegistryClient {
  if (role !== 'to') for (const s of scopes) opts.onRead?.(registry, s.repo);
  // A target is checked on the repositories it writes; a source on every one it reads.
  const checked = role === 'to' ? scopes.filter((s) => s.actions.some((a) => a !== 'pull')) : scopes;
  const blocked = checked.flatMap((s) => {
    const by = blockedBy(opts.blocked, registry, s.repo);
    return by ? [blockedError(registry, s.repo, role, by)] : [];
  });
  const mirrorMap = role !== 'to' && opts.mirrors && Object.keys(opts.mirrors).length > 0 ? checkedMirrors(opts.mirrors) : undefined;
  const unmirrored = blocked.find((e) => !mirrorMap || mirrorsFor(mirrorMap, registry, String(e.details.repo)).length === 0);
  if (unmirrored) throw unmirrored;
  // A blocked source with mirrors: the mirrors are read, and where they fail the refusal is the answer.
  const upstream = blocked[0] ? new BlockedClient(registry, transport.logger, blocked[0]) : connectOne(transport, registry, role, scopes, opts, memory?.auth, memory?.onInterruptedSession);
  // Writes never go to a mirror: a target is always the registry itself. Reads (a source, or
  // inspect's `read`) try the mirrors first.
  if (role === 'to' || !opts.mirrors || Object.keys(opts.mirrors).length === 0) return upstream;
  const map = checkedMirrors(opts.mirrors);
  const clients = new Map<string, RegistryClient>();
  // Mirror requests give up sooner than the run's own (mirrorSendProfile): a mirror that hangs
  // or fails falls through to the next one or the upstream in seconds, not after every retry.
  let mirrorTransport: Transport | undefined;
  const mirrorClient = (registryHost: string, plainHttp: boolean, apiPath = ''): RegistryClient => {
    const key = `${plainHttp ? 'http' : 'https'}://${registryHost}/${apiPath}`;
    let c = clients.get(key);
    if (!c) {
      // Pull scope on the repositories the operation reads, as they are named at the mirror.
      const mirrorScopes = scopes.flatMap((s) =>
        mirrorsFor(map, registry, s.repo)
          .filter((m) => m.registry === registryHost && (m.apiPath ?? '') === apiPath)
          .map((m) => ({ repo: m.repo, actions: ['pull' as const] })),
      );
      // The source's credentials (--from-user, REGPUSH_FROM_*) are for the source registry: a
      // mirror gets its own from the stores (docker config, helpers, auth.json), never those.
      const env = { ...(opts.env ?? {}) };
      for (const name of Object.values(credentialEnvVars('from'))) delete env[name];
      const mirrorOpts: ConnectionOptions = {
        ...opts,
        env,
        // Those given for a registry by name are the mirror's where they name it.
        credentials: opts.credentials?.registries ? { registries: opts.credentials.registries } : {},
        insecureRegistries: plainHttp ? [...(opts.insecureRegistries ?? []), registryHost] : opts.insecureRegistries,
      };
      mirrorTransport ??= transport.withProfile(mirrorSendProfile(transport));
      c = connectOne(mirrorTransport, registryHost, 'from', mirrorScopes, mirrorOpts, memory?.auth, undefined, { apiPath: apiPath || undefined, plainHttp });
      clients.set(key, c);
    }
    return c;
  };
  const routes = (repo: string): MirrorRoute[] => mirrorsFor(map, registry, repo).map((m) => ({ ...m, client: mirrorClient(m.registry, m.plainHttp, m.apiPath) }));
  if (scopes.every((s) => mirrorsFor(map, registry, s.repo).length === 0) && !Object.keys(map).some((k) => k.split('/')[0] === registry)) return upstream;
  return new MirroredClient(upstream, routes, memory?.mirrors ?? new MirrorHealth(), scopes.map((s) => s.repo));
}

/**
 * Runs `fn` with a client for `ref`'s registry (credentials for `role`; `actions` in its
 * repository, none: no repository scope, as the catalog's `registry:catalog:*` is learnt from the
 * registry's challenge) and the names its hints use, closing the transport afterwards: the one way
 * in of an operation that makes one client (inspect, and tags, catalog, digest, tag, untag,
 * delete). Relative paths (TLS files, env's path variables) are taken in the `cwd` option; the
 * operation gets its own signal (operationSignal: the caller's gets no listener per request, and
 * one already fired sends nothing), and a failure after it fired says whether anything was
 * written (an operation whose scope pushes or deletes writes; the others only read).
 * `notFoundAdvice`: HintedSettings.notFoundAdvice.
 */
export async function withClient<T>(
  ref: { registry: string; repository: string },
  role: CredentialRole,
  actions: ScopeAction[],
  given: TransportChoices,
  fn: (client: RegistryClient, names: ConnectionNames) => Promise<T>,
  notFoundAdvice?: HintedSettings['notFoundAdvice'],
): Promise<T> {
  const opts = { ...anchorPaths(given), signal: operationSignal(given.signal) };
  const transport = transportFor({ ...opts, logger: opts.logger ?? silentLogger }, { jobs: false, credentials: true, notFoundAdvice });
  try {
    return await fn(connect(transport, ref.registry, role, actions.length ? [{ repo: ref.repository, actions }] : [], opts), transport.names);
  } catch (err) {
    throw withAbortReason(err, opts.signal, actions.some((a) => a !== 'pull') ? 'writes' : 'reads');
  } finally {
    transport.close();
  }
}

/** The one line for a repository under a blocked prefix (E_DENIED: configuration forbids it, as a registry's 403 would). */
function blockedError(registry: string, repo: string, role: CredentialRole, by: { prefix: string; source: string }): DeniedError {
  const verb = role === 'to' ? 'writing to' : 'reading from';
  return new DeniedError(`${verb} ${registry}/${repo} is blocked: prefix ${by.prefix} has blocked = true in ${by.source}`, {
    details: { registry, repo, prefix: by.prefix, file: by.source },
  });
}

/**
 * What an operation learns once for all the clients it makes: each registry's auth (scheme,
 * tokens, credential lookups) and which mirrors failed; and who its clients tell of the upload
 * sessions they cancel on their own (InterruptedSession: the run's record names those the registry
 * keeps). Run state, carried by the operation (TransferRun), never a module-level map.
 */
export class ClientMemory {
  readonly auth = new AuthMemory();
  readonly mirrors = new MirrorHealth();
  constructor(readonly onInterruptedSession?: (s: InterruptedSession) => void) {}
}

/** The mirrors option checked, canonical keys (a bad one is a usage error of the caller). */
function checkedMirrors(mirrors: Readonly<Record<string, readonly string[]>>): MirrorMap {
  try {
    return checkMirrorMap(mirrors);
  } catch (err) {
    if (err instanceof MirrorConfigError) throw new UsageError(err.message);
    throw err;
  }
}

/** The client of one registry itself. */
function connectOne(
  transport: Transport,
  registry: string,
  role: CredentialRole,
  scopes: { repo: string; actions: ScopeAction[] }[],
  opts: ConnectionOptions,
  memory?: AuthMemory,
  onInterruptedSession?: (s: InterruptedSession) => void,
  mirror?: { apiPath?: string; plainHttp?: boolean },
): RegistryClient {
  const apiPath = mirror?.apiPath;
  let cached: Promise<Credential | undefined> | undefined;
  const explicit = role === 'to' ? opts.credentials?.to : opts.credentials?.from;
  // The client's own repository comes first in its scopes (see connect): a login may be for it
  // or a namespace above it, so two repositories of one registry may need two credentials.
  const repository = scopes[0]?.repo;
  const registries = opts.credentials?.registries;
  const given = registries && registryCredentialFor(registries, registry, repository);
  const resolve = () =>
    resolveCredential(registry, {
      role,
      registries,
      explicit,
      repository,
      helperReplies: memory?.helperReplies,
      failedStores: memory?.failedStores,
      fileReads: memory?.fileReads,
      env: opts.env ?? {},
      homeDir: opts.homeDir ?? opts.env?.HOME,
      logger: transport.logger,
      helperTimeoutMs: opts.credentialHelperTimeoutMs,
      helperProcessGroup: opts.credentialHelperProcessGroup,
      secrets: opts.secrets,
    });
  return new HttpRegistryClient({
    registry,
    transport,
    apiPath,
    authMemory: memory,
    onInterruptedSession,
    // Credentials given in flags, options or REGPUSH_* variables win over any stored login: a
    // refusal of them says to check those, not to log in (RegistryClientOptions.credentialOrigin).
    // An entry of credentials.registries (library callers only) wins over all of them.
    credentialOrigin: given ? `credentials.registries[${JSON.stringify(given.key)}]` : hasExplicit(explicit) ? transport.names.givenCredentials?.(role) : credentialEnvOrigin(role, opts.env ?? {}),
    insecure: insecureList(opts),
    insecureSetting: insecureFromEnvOnly(registry, opts) ? 'REGPUSH_INSECURE_REGISTRIES' : undefined,
    plainHttpMirror: mirror?.plainHttp,
    insecureTls: Object.keys(opts.insecureTlsRegistries ?? {}),
    insecureTlsBy: insecureTlsBy(opts),
    signal: opts.signal,
    scopes: scopes.map((s) => repositoryScope(s.repo, s.actions)),
    secrets: opts.secrets,
    // A mirror is looked up in the stored logins only (and credentials.registries, where it names
    // the mirror): the source's own credentials (flags, REGPUSH_FROM_*) are never sent there, so
    // the message does not name them.
    credentialSources: given
      ? `the credentials given for it (credentials.registries[${JSON.stringify(given.key)}])`
      : mirror
        ? `the stored logins only (${storedLoginSources(opts.env, opts.homeDir ?? opts.env?.HOME)}; a mirror never gets the source's credentials)`
        : hasExplicit(explicit)
          ? 'the credentials given explicitly (flags or options)'
          : credentialSourceList(role, undefined, opts.env, opts.homeDir ?? opts.env?.HOME),
    // With the operation's memory, one credential lookup per repository and role (and one run of
    // each helper per registry: AuthMemory.helperReplies).
    credential: () => (cached ??= memory ? memory.credential(`${role} ${registry}/${repository ?? ''}`, resolve) : resolve()),
    // Refused: looked up once more (a credential helper's token may have expired; AuthMemory.renewCredential).
    renewCredential: (refused) => (cached = memory ? memory.renewCredential(`${role} ${registry}/${repository ?? ''}`, refused, resolve) : resolve()),
  });
}

function hasExplicit(c: Credential | undefined): boolean {
  return Boolean(c && (c.username || c.password || c.identityToken || c.registryToken));
}
