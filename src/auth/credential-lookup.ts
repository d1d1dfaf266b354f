/**
 * Where credentials come from, in order: given for the registry or a namespace of it (the
 * library's `credentials.registries`) → explicit for the role (flags/stdin, `credentials.from`/
 * `.to`) → env (credential-env.ts) → credential files (see
 * credentialFiles in credential-paths.ts: REGISTRY_AUTH_FILE alone, else Docker's config.json, then Podman's auth.json
 * files, then the legacy ~/.dockercfg): first an `auths` key naming the repository or a namespace
 * above it, in any file, then each file read as credHelpers → auths (the registry's key) →
 * credsStore. Only reads: `regpush login`/`logout` write through credential-store.ts, which takes
 * the file order and an entry's decoding from here, so a login is stored where this lookup finds
 * it. Secrets never reach a log line or an error message.
 */
import { AuthError, InternalError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { readCredentialFile, type AuthEntry, type CredentialFile } from './config-file.js';
import { clean, isUsable, type CredentialRole } from './credential-rules.js';
import { credentialEnvRoles, credentialEnvVars, credentialFromEnv } from './credential-env.js';
import {
  checkDockerConfigDir,
  credentialFiles,
  missingAuthFile,
  storedLoginSources,
  type AuthFileSystem,
  type CredentialFilePath,
} from './credential-paths.js';
import { checkHelperName, helperError, HelperFailure, IDENTITY_TOKEN_USERNAME, isNotFound, spawnHelper, type HelperExec } from './helper.js';
import { registryHostOf } from '../ref/registry.js';
import { findByRegistry, helperKeys, namespaceKeys, splitAuthKey } from './registry-host.js';
import type { ShapeProblem } from '../options-check.js';
import type { Credential, RegistryCredentials, SecretSink } from './credential-types.js';

/** Inputs of resolveCredential. */
export interface CredentialOptions {
  /**
   * Which env vars to read: REGPUSH_FROM_* (a source), REGPUSH_TO_* (a target), or for a
   * read-only command ('read': inspect and the like) REGPUSH_* first, then REGPUSH_TO_*, then
   * REGPUSH_FROM_* — see credentialEnvRoles (credential-env.ts).
   */
  role: CredentialRole;
  /**
   * Given per registry or namespace (RegistryCredentials): the entry that names this repository's
   * registry or a namespace above it wins over everything else, the most specific first.
   */
  registries?: RegistryCredentials;
  /** From flags / stdin (or the library's credentials for the role); wins over all but `registries`. */
  explicit?: Credential;
  /**
   * The repository the credential is for ("org/app"; Docker Hub's "library/alpine"): in the
   * credential files an `auths` key naming it or a namespace above it ("quay.io/org") wins over the
   * registry's own key, as containers/image matches them. Without it only registry keys count.
   */
  repository?: string;
  /**
   * Replies of the credential helpers' `get` in this operation, by helper and server URL: a lookup
   * per repository still runs each helper once per registry (see AuthMemory.helperReplies).
   */
  helperReplies?: Map<string, HelperReply>;
  /**
   * Milliseconds since some fixed point, for how long a helper's timeout is kept (HELPER_TIMEOUT_KEPT_MS); default
   * performance.now (a monotonic clock: a clock step neither shortens nor lengthens it). Injectable for tests.
   */
  clock?: () => number;
  /**
   * The `credsStore` lookups that failed in this operation ("<store>\n<server URL>"): each is
   * warned about and run once, not again for every repository and role (see AuthMemory.failedStores).
   */
  failedStores?: Set<string>;
  /** The credential files read in this operation, by path: a lookup per repository reads each file once (see AuthMemory.fileReads). */
  fileReads?: Map<string, Promise<CredentialFile | undefined>>;
  /** The environment; the library never reads process.env. */
  env: Record<string, string | undefined>;
  /** Default env.HOME; with neither, the files under a home directory are not read. */
  homeDir?: string;
  logger?: Logger;
  /** Runs `docker-credential-<name> get` with `serverUrl` on stdin; injectable for tests. */
  runHelper?: (helperName: string, serverUrl: string) => Promise<string>;
  /** Milliseconds a credential helper may take (default DEFAULT_HELPER_TIMEOUT_MS, 30 s). */
  helperTimeoutMs?: number;
  /**
   * Runs each credential helper in a process group of its own, so a timeout also kills what it
   * started (SpawnHelperOptions.processGroup). Default false, as Docker runs helpers: at a terminal
   * a helper may prompt there. The CLI sets it when it runs without a terminal.
   */
  helperProcessGroup?: boolean;
  /** The run's secrets: what is resolved here (and a secret a failing helper printed) is added. */
  secrets?: SecretSink;
  /** The machine facts the file lookup depends on (platform, uid); injectable for tests. */
  system?: AuthFileSystem;
}

/**
 * Where resolveCredential looks for a role, for error messages, one entry a source in the order
 * tried (the stored logins' files one entry): "REGPUSH_USER/REGPUSH_PASSWORD", …, "Docker
 * config.json, containers auth.json" — or "REGISTRY_AUTH_FILE (path)" when `env` sets it, since
 * that file is then the only one read. Only the files this `env` and `homeDir` lead to are named
 * (credentialFiles): a library caller's `env: {}` without `homeDir` reads none, and is told so.
 */
export function credentialSourceList(role: CredentialRole, explicitFlags?: string, env: Record<string, string | undefined> = {}, homeDir?: string, system?: AuthFileSystem): string[] {
  // Every variable envCredential reads, in its order: a token, an identity token, then the pair.
  const vars = credentialEnvRoles(role).flatMap((r) => {
    const n = credentialEnvVars(r);
    return [n.token, n.identityToken, `${n.user}/${n.password}`];
  });
  return [...(explicitFlags ? [explicitFlags] : []), ...vars, storedLoginSources(env, homeDir, system)];
}

/** Finds the credential for `registry` (a host such as "ghcr.io" or "docker.io"); undefined = anonymous. */
export async function resolveCredential(registry: string, opts: CredentialOptions): Promise<Credential | undefined> {
  const cred = await findCredential(registry, opts);
  opts.secrets?.addCredential(cred);
  return cred;
}

/**
 * A credentials.registries key in one spelling: `host[:port]` (Docker Hub's aliases, a scheme, a
 * `/v1/` or `/v2/` after one, case, all as registryHostOf reads them) or `host/namespace`;
 * undefined for a key that names neither (a tag or digest in it, a first component that is no host).
 */
function registryCredentialKey(key: string): string | undefined {
  const k = splitAuthKey(key);
  return k && (k.namespace ? `${k.host}/${k.namespace}` : k.host);
}

/**
 * The entry of `given` for `repository` at `registry`, as `auths` keys are matched: one naming the
 * repository or a namespace above it by whole path components, the most specific first, then one
 * naming the registry; each key read in one spelling (registryCredentialKey), so `docker.io`,
 * `index.docker.io` and `https://index.docker.io/v1/` all name Docker Hub. Undefined when none does.
 */
export function registryCredentialFor(given: RegistryCredentials, registry: string, repository: string | undefined): { key: string; credential: Credential } | undefined {
  const byKey = new Map<string, [string, Credential]>();
  for (const [key, credential] of Object.entries(given)) {
    const k = credential && registryCredentialKey(key);
    if (k && !byKey.has(k)) byKey.set(k, [key, credential]);
  }
  const host = registryHostOf(registry);
  for (const want of [...namespaceKeys(registry, repository), ...(host ? [host] : [])]) {
    const hit = byKey.get(want);
    if (hit) return { key: hit[0], credential: clean(hit[1]) };
  }
  return undefined;
}

/**
 * What is wrong with a credentials.registries map that its shape allows (for the options check,
 * ShapeProblem): a key that names no registry or namespace, two keys for one (`docker.io` and
 * `index.docker.io`), an entry without a whole credential (a username without a password, or
 * nothing). A RegistryCredentials of the right types is assumed.
 */
export function registryCredentialsProblem(given: RegistryCredentials): ShapeProblem | undefined {
  const seen = new Map<string, string>();
  for (const [key, credential] of Object.entries(given)) {
    if (credential === undefined) continue;
    const k = registryCredentialKey(key);
    if (!k) return { key, text: 'names no registry: a key is a registry HOST[:PORT], or one with a namespace or repository under it (ghcr.io, quay.io/org, reg.example:5000/team/app)' };
    const other = seen.get(k);
    if (other !== undefined) return { key, text: `names the same ${k.includes('/') ? 'namespace' : 'registry'} as ${JSON.stringify(other)} (${k})` };
    seen.set(k, key);
    const text = credentialProblem(credential);
    if (text) return { key, text };
  }
  return undefined;
}

/**
 * What a credential given as an option lacks, as the rest of a message after its option path
 * (`credentials.to has a username but no password`), or undefined when it can be sent: half a
 * pair, or nothing at all. Empty strings count as absent (clean).
 */
export function credentialProblem(credential: Credential): string | undefined {
  const c = clean(credential);
  if (isUsable(c)) return undefined;
  if (c.username) return 'has a username but no password';
  if (c.password) return 'has a password but no username';
  return 'holds no credential: give username and password, identityToken or registryToken';
}

/**
 * The check of `credentials.from` and `credentials.to` (for the options check, ShapeProblem): half
 * a pair is the caller's mistake, said before any request; found only when a registry asked, it
 * was an E_AUTH there and nothing at all against a registry that asks for none. An empty one
 * (`{}`, or only empty strings) gives no credential, as leaving it out does.
 */
export function roleCredentialProblem(credential: Credential): ShapeProblem | undefined {
  if (Object.keys(clean(credential)).length === 0) return undefined;
  const text = credentialProblem(credential);
  return text ? { text } : undefined;
}

async function findCredential(registry: string, opts: CredentialOptions): Promise<Credential | undefined> {
  const log = opts.logger ?? silentLogger;
  const host = registryHostOf(registry) ?? registry;

  // Given for this registry or a namespace of it: the caller named where it goes, so it wins over
  // the role's credentials, which go to every registry of that role (a copy's targets all get
  // credentials.to), and over the stored logins.
  const given = opts.registries && registryCredentialFor(opts.registries, registry, opts.repository);
  if (given) {
    log.debug(`auth: credentials for ${host} from credentials.registries[${JSON.stringify(given.key)}]`);
    return given.credential;
  }

  const explicit = opts.explicit ? clean(opts.explicit) : undefined;
  if (explicit && Object.keys(explicit).length > 0) {
    // A user name without a password (or the reverse) is a mistake to report, not to paper over
    // (the library's options check says so first: roleCredentialProblem).
    if (!isUsable(explicit)) throw new AuthError(`incomplete credentials given for ${host}: ${explicit.username ? 'a username needs a password' : 'a password needs a username'}`);
    log.debug(`auth: credentials for ${host} from explicit options`);
    return explicit;
  }

  for (const role of credentialEnvRoles(opts.role)) {
    const fromEnv = credentialFromEnv(role, opts.env);
    if (fromEnv) {
      log.debug(`auth: credentials for ${host} from ${credentialEnvVars(role).user.replace(/_USER$/, '_*')} env vars`);
      return fromEnv;
    }
  }

  const exec = helperExecFromOptions(opts);
  const files = credentialFiles(opts.env, opts.homeDir, opts.system);
  const loaded = new Map<string, Promise<LoadedFile>>();
  const load = (file: CredentialFilePath): Promise<LoadedFile> => {
    let p = loaded.get(file.path);
    if (!p) loaded.set(file.path, (p = loadCredentialFile(file, opts)));
    return p;
  };
  // A key naming the repository or a namespace above it, in any file, before any file's login for
  // the whole registry: such a key is written for that part of the registry only (`regpush login
  // quay.io/org` and `podman login quay.io/org` keep it in the containers auth.json, read after
  // Docker's config.json), so a `docker login quay.io` in config.json must not hide it. Podman
  // reads its auth.json first and gets the same answer. A file whose credHelpers names the
  // registry asks that helper before its own keys, as containers/image does: its keys wait for
  // the lookup in file order below.
  // A file that cannot be used is not an error in this pass: its error is the lookup's only where
  // the pass in file order reaches it (a broken auth.json must not fail a repository whose
  // registry config.json has a login for). So this pass stops at such a
  // file, and a later file's key does not step over it; one skipped for its permissions is passed
  // over, and its warning said only if a later file answers here (else the pass below says it).
  const nsKeys = namespaceKeys(registry, opts.repository);
  const passed: LoadedFile[] = [];
  for (const file of nsKeys.length > 0 ? files : []) {
    if (file.legacy) continue; // registry keys only there
    const got = await load(file);
    if (got.error !== undefined) break;
    passed.push(got);
    const data = got.data;
    const per = data && findByRegistry(data.credHelpers, registry);
    if (!data || (per && per[1] !== '')) continue;
    const found = fromNamespaceKeys(data, file.path, nsKeys, log);
    if (found) {
      for (const p of passed) usable(p, log);
      return found;
    }
  }
  for (const file of files) {
    const data = usable(await load(file), log);
    if (!data) continue;
    const found = await fromCredentialFile(data, file.path, registry, nsKeys, exec, log, opts.secrets, opts.failedStores);
    if (found) return found;
  }
  log.debug(`auth: no credentials found for ${host}; trying anonymous access`);
  return undefined;
}

/**
 * One credential file as a lookup found it: its contents (undefined: no such file), or the error
 * the lookup throws if it needs the file, or a warning that it was skipped (not readable by this user).
 */
interface LoadedFile {
  data?: CredentialFile;
  error?: unknown;
  skipped?: string;
}

/** `got`'s contents for a lookup that reached it: throws its error; says its warning once. */
function usable(got: LoadedFile, log: Logger): CredentialFile | undefined {
  if (got.error !== undefined) throw got.error;
  if (got.skipped) {
    log.warn(got.skipped);
    got.skipped = undefined;
  }
  return got.data;
}

/**
 * Reads one credential file for a lookup. A missing file is no contents, but REGISTRY_AUTH_FILE's,
 * which is an error, as is a DOCKER_CONFIG that names no directory; one this user may not read is
 * skipped with a warning.
 */
async function loadCredentialFile(file: CredentialFilePath, opts: CredentialOptions): Promise<LoadedFile> {
  let data: CredentialFile | undefined;
  try {
    data = await readOnce(file, opts.fileReads);
  } catch (err) {
    // A file found by default that this user may not read (`sudo docker login` leaves a root-owned
    // ~/.docker; a root `podman login` a 0700 /run/containers) is skipped with a warning, as
    // Docker does, instead of failing anonymous pulls too. One the user named is still an error.
    const errno = err instanceof AuthError ? err.details?.errno : undefined;
    if (opts.env.REGISTRY_AUTH_FILE || !(errno === 'EACCES' || errno === 'EPERM' || errno === 'EISDIR')) return { error: err };
    return { skipped: `cannot read credential file ${file.path} (${String(errno)}): skipped` };
  }
  try {
    if (!data && opts.env.REGISTRY_AUTH_FILE) throw missingAuthFile(opts.env.REGISTRY_AUTH_FILE);
    if (!data) await checkDockerConfigDir(file.path, opts.env, opts.homeDir);
  } catch (err) {
    return { error: err };
  }
  return { data };
}

/** The credential of the first of `keys` (namespace keys, most specific first) that `data` has with credentials; exact keys only, as containers/image reads them. */
function fromNamespaceKeys(data: CredentialFile, file: string, keys: string[], log: Logger): Credential | undefined {
  for (const key of keys) {
    const e = holdsKey(data, key) ? data.auths[key] : undefined;
    const cred = e && decodeEntry(e, file, key);
    if (cred) {
      log.debug(`auth: credentials for ${key} from ${file}`);
      return cred;
    }
  }
  return undefined;
}

/** A credential file's contents, read once per operation when `reads` is given. */
function readOnce(file: CredentialFilePath, reads: Map<string, Promise<CredentialFile | undefined>> | undefined): Promise<CredentialFile | undefined> {
  const read = () => readCredentialFile(file.path, { legacy: file.legacy });
  if (!reads) return read();
  let p = reads.get(file.path);
  if (!p) reads.set(file.path, (p = read()));
  return p;
}

/** Whether `data` has an `auths` entry under exactly `key`. */
export function holdsKey(data: CredentialFile | undefined, key: string): data is CredentialFile & { auths: Record<string, AuthEntry> } {
  return Boolean(data?.auths && Object.hasOwn(data.auths, key));
}

/**
 * Looks `registry` up in one parsed file, in findCredential's pass in file order: credHelpers →
 * auths (the registry's key) → credsStore. As in containers/image, a helper is asked per registry
 * only. The namespace keys (`nsKeys`, most specific first) were looked for in the pass before this
 * one, except in a file whose credHelpers names the registry: there they come after its helper.
 */
async function fromCredentialFile(
  data: CredentialFile,
  file: string,
  registry: string,
  nsKeys: string[],
  exec: HelperExec,
  log: Logger,
  secrets?: SecretSink,
  failedStores?: Set<string>,
): Promise<Credential | undefined> {
  const entry = findByRegistry(data.auths, registry);
  const serverUrls = helperKeys(registry, entry?.[0]);
  const serverUrl = serverUrls[0]!;
  /** The first login the helper has under one of serverUrls. */
  const fromHelperKeys = async (name: string): Promise<Credential | undefined> => {
    for (const url of serverUrls) {
      const cred = await fromHelper(name, url, exec, log, secrets);
      if (cred) return cred;
    }
    return undefined;
  };

  const perRegistry = findByRegistry(data.credHelpers, registry);
  // An empty helper name means this registry's logins stay in the file, even with a credsStore
  // (Docker's getConfiguredCredentialStore: "" is the file store).
  const fileOnly = perRegistry?.[1] === '';
  if (perRegistry && !fileOnly) {
    // findCredential's first pass left this file's namespace keys for after its helper (a legacy
    // ~/.dockercfg, registry keys only, has no credHelpers). An entry without credentials does not count.
    const cred = (await fromHelperKeys(perRegistry[1])) ?? fromNamespaceKeys(data, file, nsKeys, log);
    if (cred) return cred;
  }
  if (entry) {
    const cred = decodeEntry(entry[1], file, entry[0]);
    if (cred) {
      log.debug(`auth: credentials for ${entry[0]} from ${file}`);
      return cred;
    }
  }
  if (data.credsStore && !fileOnly) {
    checkHelperName(data.credsStore); // a name that could escape docker-credential-* is a broken file, not a store that failed
    const failedKey = `${data.credsStore}\n${serverUrl}`;
    // Failed once in this operation: not run again for the next repository or role (a store that
    // hangs would cost its timeout each time, and each would warn again).
    if (failedStores?.has(failedKey)) return undefined;
    try {
      return await fromHelperKeys(data.credsStore);
    } catch (err) {
      // credsStore is the default store for every registry, not a choice made for this one: as
      // Docker does, a store that cannot answer (missing from PATH — a config copied from Docker
      // Desktop —, a locked keychain) means no stored credentials, so a public image can still be
      // read. A registry that needs them then says so (its 401), after this warning says why.
      if (!(err instanceof AuthError)) throw err;
      if (failedStores?.has(failedKey)) return undefined; // another lookup warned meanwhile
      failedStores?.add(failedKey);
      log.warn(`${err.message}; going on without stored credentials for ${serverUrl}`);
      return undefined;
    }
  }
  return undefined;
}

/** Asks a helper; "credentials not found" → undefined, other failures → AuthError naming it. */
async function fromHelper(name: string, serverUrl: string, exec: HelperExec, log: Logger, secrets?: SecretSink): Promise<Credential | undefined> {
  checkHelperName(name);
  let out: string;
  try {
    out = await exec(name, 'get', serverUrl);
  } catch (err) {
    if (isNotFound(err)) {
      log.debug(`auth: docker-credential-${name} has no credentials for ${serverUrl}`);
      return undefined;
    }
    throw helperError(name, 'get', err, [], serverUrl, secrets);
  }
  // Named as a failed helper is (helperError): the helper, the registry asked for, what went wrong;
  // never the reply itself, which may hold the secret.
  const badReply = (what: string) => new AuthError(`credential helper docker-credential-${name} get for ${serverUrl} ${what}`, { details: { helper: name, registry: serverUrl } });
  let reply: unknown;
  try {
    reply = JSON.parse(out);
  } catch {
    throw badReply(out.trim() === '' ? 'printed nothing, and exited 0 (a reply is a JSON object with Username and Secret)' : 'returned invalid JSON');
  }
  const r = reply as { Username?: unknown; Secret?: unknown };
  if (typeof reply !== 'object' || reply === null || typeof r.Secret !== 'string' || (r.Username !== undefined && typeof r.Username !== 'string')) {
    throw badReply('returned an unexpected reply (not a JSON object with a string Secret)');
  }
  if (!r.Secret) return undefined;
  log.debug(`auth: credentials for ${serverUrl} from docker-credential-${name}`);
  if (r.Username === IDENTITY_TOKEN_USERNAME) return { identityToken: r.Secret };
  return clean({ username: r.Username as string | undefined, password: r.Secret });
}

/** Whether a helper's `get` reply (its stdout) holds `secret` as its Secret. */
export function helperReplyHolds(out: string, secret: string): boolean {
  try {
    const r = JSON.parse(out) as { Secret?: unknown } | null;
    return typeof r === 'object' && r !== null && r.Secret === secret;
  } catch {
    return false;
  }
}

/** Decodes an `auths` entry; undefined for Docker's empty placeholder entries. */
export function decodeEntry(e: AuthEntry, file: string, key: string): Credential | undefined {
  let username = e.username || undefined;
  let password = e.password || undefined;
  if (e.auth) {
    const decoded = Buffer.from(e.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new AuthError(`malformed credential file ${file}: auths["${key}"].auth is not base64 of user:password`, { details: { file } });
    username = decoded.slice(0, colon) || undefined;
    password = decoded.slice(colon + 1) || undefined;
  }
  const cred = clean({ username, password, identityToken: e.identitytoken || undefined, registryToken: e.registrytoken || undefined });
  if (cred.identityToken) delete cred.password; // docker stores "user:" beside an identity token
  return isUsable(cred) ? cred : undefined;
}

/** A credential helper's `get` reply kept for the operation (CredentialOptions.helperReplies), and when it timed out, if it did (clock's milliseconds). */
export interface HelperReply {
  reply: Promise<string>;
  timedOutAt?: number;
}

/**
 * How long a helper that timed out is taken as hung (its failure given again, the helper not run):
 * a sync of 2,000 images asks a hung helper about once a minute, not 2,000 times, and one that has
 * recovered (a slow gcloud re-authentication) is asked again within a minute, not never in a run
 * that may last hours (--max-wait up to 24 h).
 */
export const HELPER_TIMEOUT_KEPT_MS = 60_000;

function helperExecFromOptions(opts: CredentialOptions): HelperExec {
  const run = opts.runHelper;
  const exec: HelperExec = run
    ? (name, action, input) => {
        if (action !== 'get') throw new InternalError(`runHelper only supports get (asked: ${action})`);
        return run(name, input);
      }
    : spawnHelper(opts.env, { timeoutMs: opts.helperTimeoutMs, processGroup: opts.helperProcessGroup });
  const replies = opts.helperReplies;
  if (!replies) return exec;
  return (name, action, input) => {
    if (action !== 'get') return exec(name, action, input);
    const key = `${name}\n${input}`;
    const clock = opts.clock ?? (() => performance.now());
    const kept = replies.get(key);
    if (kept && (kept.timedOutAt === undefined || clock() - kept.timedOutAt < HELPER_TIMEOUT_KEPT_MS)) return kept.reply;
    const entry: HelperReply = { reply: exec(name, action, input) };
    replies.set(key, entry);
    // Kept for the operation: "not found" (an answer) and a helper missing from PATH. A timeout is
    // kept for HELPER_TIMEOUT_KEPT_MS: a hung helper (a keychain prompt nobody answers in CI,
    // gcloud waiting on a re-authentication) would otherwise cost every image of a sync its
    // timeout, 30 s each; kept for the whole run, one slow refresh would fail every later
    // repository of that registry for hours. An exit with an error may be passing (a token
    // endpoint that throttled one call) and costs one process run: the next lookup asks again.
    entry.reply.catch((err: unknown) => {
      if (isNotFound(err) || (err instanceof HelperFailure && err.missing)) return;
      if (err instanceof HelperFailure && err.timedOut) entry.timedOutAt = clock();
      else if (replies.get(key) === entry) replies.delete(key);
    });
    return entry.reply;
  };
}
