/**
 * Where credentials come from, in order: explicit (flags/stdin) → env → credential files (see
 * credentialFiles: REGISTRY_AUTH_FILE alone, else Docker's config.json, then Podman's auth.json
 * files, then the legacy ~/.dockercfg): first an `auths` key naming the repository or a namespace
 * above it, in any file, then each file read as credHelpers → auths (the registry's key) →
 * credsStore. Also writes them for `regpush login`/`logout` (a namespace's login in a containers
 * auth.json, never in Docker's config.json). Secrets never reach a log line or an error message.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { AuthError, UsageError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { readCredentialFile, updateCredentialFile, type AuthEntry, type CredentialFile, type FileLockOptions } from './config-file.js';
import {
  checkHelperName,
  helperError,
  HelperFailure,
  IDENTITY_TOKEN_USERNAME,
  isNotFound,
  spawnHelper,
  type HelperExec,
} from './helper.js';
import { registryHostOf } from '../ref/registry.js';
import { findByRegistry, helperKeys, namespaceKeys, splitAuthKey } from './registry-host.js';

/** Whose credentials: a source, a target, or the one registry of a read-only command. */
export type CredentialRole = 'from' | 'to' | 'read';

/** What regpush may authenticate with. `identityToken` is an OAuth2 refresh token; `registryToken` a ready Bearer token. */
export interface Credential {
  username?: string;
  password?: string;
  identityToken?: string;
  registryToken?: string;
}

/** Inputs of resolveCredential. */
export interface CredentialOptions {
  /**
   * Which env vars to read: REGPUSH_FROM_* (a source), REGPUSH_TO_* (a target), or for a
   * read-only command ('read': inspect and the like) REGPUSH_* first, then REGPUSH_TO_*, then
   * REGPUSH_FROM_* — see credentialEnvPrefixes.
   */
  role: CredentialRole;
  /** From flags / stdin; wins over everything else. */
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
  helperReplies?: Map<string, Promise<string>>;
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
 * What Podman's default auth file depends on besides the environment. containers/image keeps its
 * primary file in `$XDG_RUNTIME_DIR`, and in `/run/containers/<uid>/` when that variable is unset
 * (a login shell without systemd-logind, `su`, cron); elsewhere than on Linux in
 * `~/.config/containers/`.
 */
export interface AuthFileSystem {
  /** Default process.platform. */
  platform?: NodeJS.Platform;
  /** Default process.getuid() (undefined on Windows). */
  uid?: number;
  /** Prefix of the absolute default path `/run/containers/<uid>/auth.json` (default "/"). */
  root?: string;
}

/** One file credentials are read from; `legacy` is the pre-2015 ~/.dockercfg format (the `auths` map alone). */
export interface CredentialFilePath {
  path: string;
  legacy?: boolean;
}

/** Where the auth layer reports secrets it learns (a SecretSet of src/redact.ts). */
export interface SecretSink {
  add(value: string | undefined): void;
  addCredential(cred: Credential | undefined): void;
}

/** Inputs of storeCredential / eraseCredential (`regpush login` / `logout`). */
export interface CredentialStoreOptions {
  env: Record<string, string | undefined>;
  homeDir?: string;
  logger?: Logger;
  /** Runs a helper action; default spawns `docker-credential-<name> <action>` using env.PATH. */
  execHelper?: HelperExec;
  /** Milliseconds a credential helper may take (default 30 s). */
  helperTimeoutMs?: number;
  /**
   * Runs each credential helper in a process group of its own, so a timeout also kills what it
   * started (SpawnHelperOptions.processGroup). Default false, as Docker runs helpers: at a terminal
   * a helper may prompt there. The CLI sets it when it runs without a terminal.
   */
  helperProcessGroup?: boolean;
  /** Where the containers auth files are (a namespace's login goes to one: namespaceLoginFile); injectable for tests. */
  system?: AuthFileSystem;
}

/** Env var names for a role, e.g. REGPUSH_TO_USER ('read' gives the plain REGPUSH_USER set). Exported so the CLI's help can list them. */
export function credentialEnvVars(role: CredentialRole): {
  user: string;
  password: string;
  token: string;
  identityToken: string;
} {
  const p = role === 'read' ? 'REGPUSH_' : `REGPUSH_${role.toUpperCase()}_`;
  return { user: `${p}USER`, password: `${p}PASSWORD`, token: `${p}TOKEN`, identityToken: `${p}IDENTITY_TOKEN` };
}

/**
 * The env var sets a role reads, in order. A read-only command talks to one registry, which is
 * usually the one just pushed to or pulled from, so besides its own REGPUSH_USER/REGPUSH_PASSWORD
 * it takes the REGPUSH_TO_* set, then the REGPUSH_FROM_* set (the first set that is present wins;
 * the env vars name no registry, so regpush cannot match them by host).
 */
export function credentialEnvRoles(role: CredentialRole): ('from' | 'to' | 'read')[] {
  return role === 'read' ? ['read', 'to', 'from'] : [role];
}

/**
 * Where resolveCredential looks for a role, for error messages: "REGPUSH_USER/REGPUSH_PASSWORD, …,
 * Docker config.json, containers auth.json" — or "…, REGISTRY_AUTH_FILE (path)" when `env` sets it,
 * since that file is then the only one read.
 */
export function credentialSources(role: CredentialRole, explicitFlags?: string, env?: Record<string, string | undefined>): string {
  const vars = credentialEnvRoles(role).map((r) => {
    const n = credentialEnvVars(r);
    return `${n.user}/${n.password}`;
  });
  return [...(explicitFlags ? [explicitFlags] : []), ...vars, storedLoginSources(env)].join(', ');
}

/** The stored logins' files, as credentialSources names them. */
export function storedLoginSources(env?: Record<string, string | undefined>): string {
  return env?.REGISTRY_AUTH_FILE ? `REGISTRY_AUTH_FILE (${env.REGISTRY_AUTH_FILE})` : 'Docker config.json, containers auth.json';
}

/** Finds the credential for `registry` (a host such as "ghcr.io" or "docker.io"); undefined = anonymous. */
export async function resolveCredential(registry: string, opts: CredentialOptions): Promise<Credential | undefined> {
  const cred = await findCredential(registry, opts);
  opts.secrets?.addCredential(cred);
  return cred;
}

async function findCredential(registry: string, opts: CredentialOptions): Promise<Credential | undefined> {
  const log = opts.logger ?? silentLogger;
  const host = registryHostOf(registry) ?? registry;

  const explicit = opts.explicit ? clean(opts.explicit) : undefined;
  if (explicit && Object.keys(explicit).length > 0) {
    // A user name without a password (or the reverse) is a mistake to report, not to paper over.
    if (!isUsable(explicit)) throw new AuthError(`incomplete credentials given for ${host}: a username needs a password`);
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
  // the pass in file order reaches it, as before this pass existed (a broken auth.json must not
  // fail a repository whose registry config.json has a login for). So this pass stops at such a
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
    if (!data && file.path === dockerConfigPath(opts.env, opts.homeDir)) await checkDockerConfigDir(opts.env);
  } catch (err) {
    return { error: err };
  }
  return { data };
}

/** The credential of the first of `keys` (namespace keys, most specific first) that `data` has with credentials; exact keys only, as containers/image reads them. */
function fromNamespaceKeys(data: CredentialFile, file: string, keys: string[], log: Logger): Credential | undefined {
  for (const key of keys) {
    const e = holdsKey(data, key) ? data.auths![key] : undefined;
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

/**
 * The error for a `REGISTRY_AUTH_FILE` that names no file. Podman refuses such an `--authfile` for
 * every command but login; read as "no credentials", a typo or a CI step that never wrote the file
 * would only show up later as a registry's 401, or as a push that went out anonymously.
 */
export function missingAuthFile(file: string): UsageError {
  return new UsageError(`REGISTRY_AUTH_FILE names ${file}, which does not exist: write it (regpush login does) or unset the variable`, { details: { file } });
}

/**
 * Saves a credential for `registry` in Docker's format: through the credential helper the file
 * names for it (credHelpers entry, else credsStore), else in `auths`, of the file `regpush login`
 * writes (loginFilePath). The new login replaces the registry's login in every spelling: an entry
 * left under another key (`docker.io` beside Docker Hub's `https://index.docker.io/v1/`) would go
 * on serving Podman and skopeo, which prefer it, and under a credsStore keep an old password in the
 * file. `registry` may name a namespace or repository ("quay.io/org"): that login goes to a
 * containers auth.json (namespaceLoginFile), as Podman's does, never to Docker's config.json.
 */
export async function storeCredential(registry: string, cred: Credential, opts: CredentialStoreOptions): Promise<void> {
  const log = opts.logger ?? silentLogger;
  const secret = cred.identityToken ?? cred.password;
  const username = cred.identityToken ? IDENTITY_TOKEN_USERNAME : cred.username;
  if (!secret || !username) {
    throw new AuthError(`nothing to store for ${registry}: a username and password (or an identity token) are needed`);
  }
  const ns = namespacedKey(registry);
  if (ns) return storeNamespaceCredential(ns, cred, opts, log);
  const file = loginFilePath(opts.env, opts.homeDir);
  const data: CredentialFile = (await readLoginFile(file, opts.env, opts.homeDir)) ?? {};
  const helper = helperFor(data, registry);
  const lock = lockOptions(log);
  if (!helper) {
    await updateCredentialFile(
      file,
      (now) => {
        const d = now ?? {};
        // Written under the key Docker reads (for Docker Hub its own, whatever alias `auths` has: helperKeys).
        const key = helperKeys(registry, findByRegistry(d.auths, registry)?.[0])[0]!;
        return { ...d, auths: { ...withoutSpellings(d.auths, registry, key), [key]: authEntry(cred) } };
      },
      lock,
    );
    log.debug(`auth: stored credentials for ${registry} in ${file}`);
    return;
  }
  const key = helperKeys(registry, findByRegistry(data.auths, registry)?.[0])[0]!;
  checkHelperName(helper.name);
  const exec = opts.execHelper ?? spawnHelper(opts.env, { timeoutMs: opts.helperTimeoutMs, processGroup: opts.helperProcessGroup });
  const input = JSON.stringify({ ServerURL: key, Username: username, Secret: secret });
  try {
    await exec(helper.name, 'store', input);
  } catch (err) {
    throw helperError(helper.name, 'store', err, [secret], key);
  }
  log.debug(`auth: stored credentials for ${key} in docker-credential-${helper.name}`);
  // The helper's logins under the registry's other spellings go too (their file entries go below,
  // and a logout would no longer find them). The new login is stored: a failure here only warns.
  for (const other of registrySpellings(data.auths, registry).filter((k) => k !== key)) {
    try {
      await exec(helper.name, 'erase', other);
    } catch (err) {
      if (!isNotFound(err)) log.warn(`${helperError(helper.name, 'erase', err, [secret], other).message}: an older login under ${other} may stay in that store`);
    }
  }
  // Docker leaves an entry without secrets so tools listing logins (and our exact-key lookup)
  // see it. One that still holds secrets from before the helper was set up would keep an old
  // password in the file (and, under credsStore, win over the store at lookup: auths comes
  // first): they go, for a credHelpers helper as for the credsStore (Docker's nativeStore), and
  // so do the entries under the registry's other spellings.
  await updateCredentialFile(
    file,
    (now) => {
      const d = now ?? {};
      const old = d.auths?.[key];
      const { auth: _a, username: _u, password: _p, identitytoken: _i, registrytoken: _r, ...kept } = old ?? {};
      const others = withoutSpellings(d.auths, registry, key);
      const unchanged = old && Object.keys(kept).length === Object.keys(old).length && Object.keys(others).length + 1 === Object.keys(d.auths ?? {}).length;
      return unchanged ? undefined : { ...d, auths: { ...others, [key]: kept } };
    },
    lock,
  );
}

/**
 * A login for part of a registry: its own `auths` key in the containers auth file. Docker matches
 * `auths` keys by host alone (it has no namespace logins), so a `quay.io/org` key in config.json
 * is, to Docker, a login for all of quay.io, picked at random among several such keys; Podman
 * writes these keys to its auth.json, which Docker never reads. The same key in Docker's file,
 * where earlier versions of regpush put it, is removed.
 */
async function storeNamespaceCredential(ns: { host: string; key: string }, cred: Credential, opts: CredentialStoreOptions, log: Logger): Promise<void> {
  const { file, data, docker } = await namespaceStore(ns, opts);
  if (data.credsStore) log.warn(`the login for ${ns.key} is kept in ${file} itself: docker-credential-${data.credsStore} (credsStore) holds one login per registry`);
  try {
    await updateCredentialFile(file, (now) => ({ ...(now ?? {}), auths: { ...(now?.auths ?? {}), [ns.key]: authEntry(cred) } }), lockOptions(log));
  } catch (err) {
    if (!(err instanceof AuthError) || opts.env.REGISTRY_AUTH_FILE) throw err;
    throw new AuthError(`${err.message} (the containers auth file, where a login for part of a registry is kept; set REGISTRY_AUTH_FILE to use another)`, { details: err.details });
  }
  log.debug(`auth: stored credentials for ${ns.key} in ${file}`);
  if (docker && holdsKey(docker.data, ns.key) && (await dropNamespaceKey(docker.file, ns.key, log))) {
    log.info(`removed the login for ${ns.key} from ${docker.file}: Docker reads it as a login for all of ${ns.host}`);
  }
}

/**
 * Where a namespace's login goes (namespaceLoginFile) and that file's contents, with Docker's
 * config.json (from which the key is then removed) when it is another file. Everything that would
 * refuse the login is found here, before anything is written: a credHelpers entry for the
 * registry in that file, a DOCKER_CONFIG that is not a directory, a config.json that cannot be
 * read. Found after the write, each left the login stored and the command failed.
 */
async function namespaceStore(
  ns: { host: string; key: string },
  opts: CredentialStoreOptions,
): Promise<{ file: string; data: CredentialFile; docker?: { file: string; data: CredentialFile | undefined } }> {
  const file = namespaceLoginFile(ns.key, opts.env, opts.homeDir, opts.system);
  await checkRuntimeDir(ns.key, file, opts.env);
  const data = (await readLoginFile(file, opts.env, opts.homeDir)) ?? {};
  // Looked up before any `auths` key of that file, a credHelpers entry would hide this login for good.
  const per = findByRegistry(data.credHelpers, ns.host);
  if (per && per[1] !== '') {
    throw new UsageError(
      `cannot store a login for ${ns.key}: ${file} sends ${ns.host} to docker-credential-${per[1]} (credHelpers), which holds one login per registry; log in to ${ns.host} instead`,
      { details: { file } },
    );
  }
  const dockerFile = dockerConfigPath(opts.env, opts.homeDir);
  if (opts.env.REGISTRY_AUTH_FILE || !dockerFile || dockerFile === file) return { file, data };
  return { file, data, docker: { file: dockerFile, data: await readLoginFile(dockerFile, opts.env, opts.homeDir) } };
}

/**
 * Throws UsageError when the login would go to `$XDG_RUNTIME_DIR/containers/auth.json` and
 * XDG_RUNTIME_DIR names no directory. The runtime dir is the login manager's (systemd-logind makes
 * it at login, owned by the user, and removes it at logout); made here, it would be a folder of
 * whoever ran regpush (root, under sudo), left behind to hold a password. containers/image
 * refuses its auth file there too ("directory set by $XDG_RUNTIME_DIR does not exist"), so a
 * `podman login` in the same shell fails the same way. Only the runtime dir itself must exist:
 * its `containers/` folder is made, as Podman makes it.
 */
async function checkRuntimeDir(key: string, file: string, env: Record<string, string | undefined>): Promise<void> {
  const runtime = env.XDG_RUNTIME_DIR;
  if (env.REGISTRY_AUTH_FILE || !runtime || file !== path.join(runtime, 'containers', 'auth.json')) return;
  const stat = await fs.stat(runtime).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : 'unreadable'));
  if (stat === 'unreadable' || stat?.isDirectory()) return; // the write says what else is wrong
  throw new UsageError(
    `cannot store a login for ${key} in ${file}: XDG_RUNTIME_DIR names ${runtime}, which ${stat ? 'is not a directory' : 'does not exist'} (regpush does not make a runtime directory, as Podman does not): create it, or set REGISTRY_AUTH_FILE to the file to keep logins in`,
    { details: { file } },
  );
}

/** Whether `data` has an `auths` entry under exactly `key`. */
function holdsKey(data: CredentialFile | undefined, key: string): boolean {
  return Boolean(data?.auths && Object.hasOwn(data.auths, key));
}

/** Removes `auths[key]` from `file` (under its lock); true when it was there. */
async function dropNamespaceKey(file: string, key: string, log: Logger): Promise<boolean> {
  return updateCredentialFile(
    file,
    (now) => {
      if (!now?.auths || !Object.hasOwn(now.auths, key)) return undefined;
      const { [key]: _gone, ...kept } = now.auths;
      return { ...now, auths: kept };
    },
    lockOptions(log),
  );
}

/**
 * What storeCredential would refuse, found without writing anything or running a helper: the file
 * it writes cannot be read or is malformed, a DOCKER_CONFIG that names no directory, a helper name
 * the file gives that could not be run, and for a namespace everything namespaceStore checks.
 * login() calls it before it asks the registry: a login checked and then refused a place to be
 * stored costs a request (at a rate-limited registry, a pull) and fails after it.
 */
export async function checkCredentialStore(registry: string, opts: CredentialStoreOptions): Promise<void> {
  const ns = namespacedKey(registry);
  if (ns) {
    await namespaceStore(ns, opts);
    return;
  }
  const data = await readLoginFile(loginFilePath(opts.env, opts.homeDir), opts.env, opts.homeDir);
  const helper = data && helperFor(data, registry);
  if (helper) checkHelperName(helper.name);
}

/**
 * The file a login for part of a registry ("quay.io/org") is written to and removed from:
 * `REGISTRY_AUTH_FILE` when set, else the first containers auth.json of the lookup order
 * (credentialFiles: Podman's primary file, else `${XDG_CONFIG_HOME:-~/.config}/containers/auth.json`),
 * where `podman login quay.io/org` writes it. Never Docker's config.json (see
 * storeNamespaceCredential). Throws UsageError when there is no such file to name.
 */
export function namespaceLoginFile(key: string, env: Record<string, string | undefined>, homeDir?: string, system?: AuthFileSystem): string {
  if (env.REGISTRY_AUTH_FILE) return env.REGISTRY_AUTH_FILE;
  const docker = dockerConfigPath(env, homeDir);
  const file = credentialFiles(env, homeDir, system).find((f) => !f.legacy && f.path !== docker);
  if (!file) {
    throw new UsageError(
      `cannot store a login for ${key}: a login for part of a registry is kept in a containers auth.json (Docker would read it from config.json as a login for the whole registry), and there is none to write here: set REGISTRY_AUTH_FILE, XDG_RUNTIME_DIR or HOME`,
    );
  }
  return file.path;
}

/** The files a namespace's logout edits: namespaceLoginFile, and Docker's config.json, where earlier versions of regpush stored it. */
function namespaceFiles(key: string, opts: CredentialStoreOptions): string[] {
  const files: string[] = [];
  try {
    files.push(namespaceLoginFile(key, opts.env, opts.homeDir, opts.system));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err; // no such file: nothing can have been stored there
  }
  const docker = dockerConfigPath(opts.env, opts.homeDir);
  if (!opts.env.REGISTRY_AUTH_FILE && docker && !files.includes(docker)) files.push(docker);
  return files;
}

/** The keys of `auths` that name `registry` itself, in any spelling ("ghcr.io", "https://ghcr.io/v2/"); not the namespace keys under it. */
function registrySpellings(auths: Record<string, AuthEntry> | undefined, registry: string): string[] {
  const want = registryHostOf(registry);
  return want ? Object.keys(auths ?? {}).filter((k) => registryHostOf(k) === want) : [];
}

/** `auths` without `registry`'s entries (registrySpellings), but the one under `keep`. */
function withoutSpellings(auths: Record<string, AuthEntry> | undefined, registry: string, keep?: string): Record<string, AuthEntry> {
  const drop = new Set(registrySpellings(auths, registry).filter((k) => k !== keep));
  return Object.fromEntries(Object.entries(auths ?? {}).filter(([k]) => !drop.has(k)));
}

/** Locking a credential file: a lock left behind, and removed, is worth a warning (a run died holding it). */
function lockOptions(log: Logger): FileLockOptions {
  return { onStale: (lock) => log.warn(`took over a stale lock ${lock} (left by a login or logout that did not finish)`) };
}

/**
 * Reads the file login and logout edit. A `DOCKER_CONFIG` that names a file (config.json itself)
 * rather than its folder made `$DOCKER_CONFIG/config.json` unreadable (ENOTDIR, taken for "no
 * file"): every stored login was silently ignored and `login` failed on a path through a file.
 */
async function readLoginFile(file: string, env: Record<string, string | undefined>, homeDir: string | undefined): Promise<CredentialFile | undefined> {
  const data = await readCredentialFile(file);
  if (!data && file === dockerConfigPath(env, homeDir)) await checkDockerConfigDir(env);
  return data;
}

/** Throws UsageError when `DOCKER_CONFIG` names something other than a directory (Docker warns "not a directory" and reads nothing). */
export async function checkDockerConfigDir(env: Record<string, string | undefined>): Promise<void> {
  const dir = env.DOCKER_CONFIG;
  if (!dir) return;
  const stat = await fs.stat(dir).catch(() => undefined);
  if (!stat || stat.isDirectory()) return;
  const hint = path.basename(dir) === 'config.json' ? `: set it to ${path.dirname(dir)}` : '';
  throw new UsageError(`DOCKER_CONFIG names ${dir}, which is not a directory; it must name the directory that holds config.json${hint}`, { details: { file: dir } });
}

/** A credential as an `auths` entry (base64 `user:password`, or an identity token). */
function authEntry(cred: Credential): AuthEntry {
  if (!cred.identityToken) return { auth: Buffer.from(`${cred.username}:${cred.password}`).toString('base64') };
  return { ...(cred.username ? { auth: Buffer.from(`${cred.username}:`).toString('base64') } : {}), identitytoken: cred.identityToken };
}

/** The `auths` key of a namespace or repository ("quay.io/org"); undefined for a whole registry. */
function namespacedKey(value: string): { host: string; key: string } | undefined {
  const parts = splitAuthKey(value);
  return parts?.namespace ? { host: parts.host, key: `${parts.host}/${parts.namespace}` } : undefined;
}

/**
 * Removes the credential for `registry` (helper erase and/or config entries); true when something
 * was removed. A namespace ("quay.io/org") loses its own key only (in namespaceFiles); a registry
 * loses its keys in every spelling, but not the namespace keys under it (as `podman logout` does).
 * A helper that cannot be asked (missing from PATH, timed out) does not keep the file's entries:
 * they go, with a warning for a missing helper (no lookup can reach it either), and for one that
 * timed out, an AuthError once they are gone, since the store may still hold the login and every
 * lookup asks it.
 */
export async function eraseCredential(registry: string, opts: CredentialStoreOptions): Promise<boolean> {
  const log = opts.logger ?? silentLogger;
  const ns = namespacedKey(registry);
  if (ns) {
    // Every file is read (and DOCKER_CONFIG checked) before any is edited: one that cannot be read
    // refuses the logout with the key still in the others, rather than after it is gone from one.
    const files: string[] = [];
    for (const file of namespaceFiles(ns.key, opts)) {
      if (holdsKey(await readLoginFile(file, opts.env, opts.homeDir), ns.key)) files.push(file);
    }
    let removed = false;
    for (const file of files) {
      if (await dropNamespaceKey(file, ns.key, log)) {
        removed = true;
        log.debug(`auth: removed credentials for ${ns.key} from ${file}`);
      }
    }
    return removed;
  }
  const file = loginFilePath(opts.env, opts.homeDir);
  const data = await readLoginFile(file, opts.env, opts.homeDir);
  if (!data) return false;
  let removed = false;
  let unreached: { failure: AuthError; timedOut: boolean } | undefined;
  const spellings = registrySpellings(data.auths, registry);
  const helper = helperFor(data, registry);
  if (helper) {
    checkHelperName(helper.name);
    const exec = opts.execHelper ?? spawnHelper(opts.env, { timeoutMs: opts.helperTimeoutMs, processGroup: opts.helperProcessGroup });
    // Every key a lookup would ask (helperKeys), and every spelling of the registry in `auths` (the
    // file loses them all below): a login left under one of them would outlive the logout.
    for (const key of new Set([...helperKeys(registry, findByRegistry(data.auths, registry)?.[0]), ...spellings])) {
      try {
        await exec(helper.name, 'erase', key);
        removed = true;
      } catch (err) {
        if (isNotFound(err)) continue;
        const failure = helperError(helper.name, 'erase', err, [], key);
        if (!(err instanceof HelperFailure && (err.missing || err.timedOut))) throw failure;
        unreached = { failure, timedOut: err.timedOut };
        break; // the other keys would wait or fail the same way
      }
    }
  }
  let fromFile = false;
  if (spellings.length > 0) {
    fromFile = await updateCredentialFile(
      file,
      (now) => {
        const kept = withoutSpellings(now?.auths, registry);
        return now?.auths && Object.keys(kept).length !== Object.keys(now.auths).length ? { ...now, auths: kept } : undefined;
      },
      lockOptions(log),
    );
    removed ||= fromFile;
  }
  if (unreached) {
    // "Removed" only where the file had entries for the registry: under a credsStore it may have none.
    const { failure, timedOut } = unreached;
    if (timedOut) {
      const what = fromFile ? `the entries for ${registry} in ${file} were removed, but the login the helper holds was not erased` : 'the login the helper holds was not erased';
      throw new AuthError(`${failure.message}; ${what}`, { details: failure.details });
    }
    log.warn(`${failure.message}: the login it may hold was not erased${fromFile ? `; the entries for ${registry} in ${file} are removed` : ''}`);
  }
  log.debug(`auth: ${removed ? 'removed' : 'found no'} credentials for ${registry}`);
  return removed;
}

/**
 * The credential files other than those `logout` edits that still hold a login for `registry`
 * (an `auths` entry with credentials under its key, or a credHelpers entry naming a helper), in
 * lookup order. A Podman login in auth.json outlives `regpush logout` (Podman's own logout edits
 * only its file too), and every later command would still send it: the caller says so. Files this
 * user cannot read or parse are left out: they are not read at lookup either (or fail it loudly).
 */
export async function loginsElsewhere(registry: string, opts: CredentialStoreOptions): Promise<string[]> {
  const ns = namespacedKey(registry);
  const edited = ns ? namespaceFiles(ns.key, opts) : [loginFilePath(opts.env, opts.homeDir)];
  const want = registryHostOf(registry);
  const found: string[] = [];
  for (const file of credentialFiles(opts.env, opts.homeDir, opts.system)) {
    if (edited.includes(file.path)) continue;
    const data = await readCredentialFile(file.path, { legacy: file.legacy }).catch(() => undefined);
    if (!data) continue;
    const holds = Object.entries(data.auths ?? {}).some(([k, e]) => {
      if (ns ? k !== ns.key : registryHostOf(k) !== want) return false;
      try {
        return decodeEntry(e, file.path, k) !== undefined;
      } catch {
        return false;
      }
    });
    const helper = !ns && findByRegistry(data.credHelpers, registry);
    if (holds || (helper && helper[1] !== '')) found.push(file.path);
  }
  return found;
}

/**
 * `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`; undefined with neither a
 * DOCKER_CONFIG nor a home directory. The home is the caller's (`homeDir`, else `env.HOME`):
 * the library does not fall back on the process's own (os.homedir() reads $HOME), so a caller
 * that passes `env: {}` to keep the machine's logins out gets none of them.
 */
export function dockerConfigPath(env: Record<string, string | undefined>, homeDir?: string): string | undefined {
  const home = homeDir ?? env.HOME;
  if (!env.DOCKER_CONFIG && !home) return undefined;
  return path.join(env.DOCKER_CONFIG || path.join(home!, '.docker'), 'config.json');
}

/**
 * The file `regpush login` writes and `logout` edits: `REGISTRY_AUTH_FILE` when set (as Podman's
 * login does, so that the one file read afterwards holds the login), else Docker's config.json
 * (which Podman reads too, after its own files).
 */
export function loginFilePath(env: Record<string, string | undefined>, homeDir?: string): string {
  const file = env.REGISTRY_AUTH_FILE || dockerConfigPath(env, homeDir);
  if (!file) throw new UsageError('no credential file to write: give homeDir (or HOME in env), DOCKER_CONFIG or REGISTRY_AUTH_FILE');
  return file;
}

/**
 * The credential files in lookup order; the first one holding credentials for the registry wins.
 * Compare containers-auth.json(5) and Docker's `docker login` documentation:
 * - `REGISTRY_AUTH_FILE` set: that file only. Podman, Buildah and Skopeo take it as the default of
 *   `--authfile`, and an auth file given explicitly replaces the whole search (containers/image
 *   reads no other file then), so a CI job that names its file is not served another login.
 * - otherwise Docker's `$DOCKER_CONFIG/config.json` or `~/.docker/config.json` first — the file
 *   `regpush login` writes, so a new login wins over an older Podman one; Podman reads it after its
 *   own files, Docker reads nothing else —, then Podman's primary file (Linux:
 *   `$XDG_RUNTIME_DIR/containers/auth.json`, or `/run/containers/<uid>/auth.json` when
 *   XDG_RUNTIME_DIR is unset and a home is given; elsewhere `~/.config/containers/auth.json`), then
 *   `${XDG_CONFIG_HOME:-~/.config}/containers/auth.json`, then the legacy `~/.dockercfg`, which
 *   Podman still reads (Docker dropped it, docker/cli#2504).
 * Missing files are skipped, but for REGISTRY_AUTH_FILE: a file named on purpose must be there
 * (findCredential throws missingAuthFile), as Podman requires of `--authfile`.
 */
export function credentialFiles(env: Record<string, string | undefined>, homeDir?: string, system: AuthFileSystem = {}): CredentialFilePath[] {
  if (env.REGISTRY_AUTH_FILE) return [{ path: env.REGISTRY_AUTH_FILE }];
  // Without a home (see dockerConfigPath) the files under it are not read; the others still are.
  const home = homeDir ?? env.HOME;
  const platform = system.platform ?? process.platform;
  const docker = dockerConfigPath(env, homeDir);
  const files = docker ? [docker] : [];
  if (platform !== 'linux') {
    if (home) files.push(path.join(home, '.config', 'containers', 'auth.json'));
  } else if (env.XDG_RUNTIME_DIR) files.push(path.join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'));
  else if (home) {
    // The machine's per-uid file stands in for XDG_RUNTIME_DIR only where the caller gave a home:
    // `env: {}` (no HOME, no XDG_RUNTIME_DIR) keeps every login of the machine out.
    const uid = 'uid' in system ? system.uid : process.getuid?.();
    if (uid !== undefined) files.push(path.join(system.root ?? '/', 'run', 'containers', String(uid), 'auth.json'));
  }
  const config = env.XDG_CONFIG_HOME || (home && path.join(home, '.config'));
  if (config) files.push(path.join(config, 'containers', 'auth.json'));
  const unique = [...new Set(files)].map((p): CredentialFilePath => ({ path: p }));
  return home ? [...unique, { path: path.join(home, '.dockercfg'), legacy: true }] : unique;
}

/**
 * REGPUSH_<ROLE>_USER + REGPUSH_<ROLE>_PASSWORD → Basic/token-exchange credentials;
 * REGPUSH_<ROLE>_TOKEN → a registry (Bearer) token sent as is;
 * REGPUSH_<ROLE>_IDENTITY_TOKEN → an OAuth2 refresh token exchanged at the realm.
 * Half a pair is an error: silently falling through to another source would be confusing.
 */
function credentialFromEnv(role: CredentialRole, env: Record<string, string | undefined>): Credential | undefined {
  const names = credentialEnvVars(role);
  const username = env[names.user] || undefined;
  const password = env[names.password] || undefined;
  const registryToken = env[names.token] || undefined;
  const identityToken = env[names.identityToken] || undefined;
  if (registryToken) return { registryToken };
  if (identityToken) return clean({ username, identityToken });
  if (username && password) return { username, password };
  if (username) throw new AuthError(`${names.user} is set but ${names.password} is not`);
  if (password) throw new AuthError(`${names.password} is set but ${names.user} is not`);
  return undefined;
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
  let reply: unknown;
  try {
    reply = JSON.parse(out);
  } catch {
    throw new AuthError(`credential helper docker-credential-${name} get returned invalid JSON`, { details: { helper: name } });
  }
  const r = reply as { Username?: unknown; Secret?: unknown };
  if (typeof reply !== 'object' || reply === null || typeof r.Secret !== 'string' || (r.Username !== undefined && typeof r.Username !== 'string')) {
    throw new AuthError(`credential helper docker-credential-${name} get returned an unexpected reply`, { details: { helper: name } });
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
function decodeEntry(e: AuthEntry, file: string, key: string): Credential | undefined {
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

function helperFor(data: CredentialFile, registry: string): { name: string } | undefined {
  const per = findByRegistry(data.credHelpers, registry);
  // "" keeps this registry's logins in the file (see fromCredentialFile).
  if (per) return per[1] === '' ? undefined : { name: per[1] };
  if (data.credsStore) return { name: data.credsStore };
  return undefined;
}

function helperExecFromOptions(opts: CredentialOptions): HelperExec {
  const run = opts.runHelper;
  const exec: HelperExec = run
    ? (name, action, input) => {
        if (action !== 'get') throw new Error(`runHelper only supports get (asked: ${action})`);
        return run(name, input);
      }
    : spawnHelper(opts.env, { timeoutMs: opts.helperTimeoutMs, processGroup: opts.helperProcessGroup });
  const replies = opts.helperReplies;
  if (!replies) return exec;
  return (name, action, input) => {
    if (action !== 'get') return exec(name, action, input);
    const key = `${name}\n${input}`;
    let reply = replies.get(key);
    if (!reply) {
      reply = exec(name, action, input);
      replies.set(key, reply);
      // "Not found" is an answer to keep; any other failure (a timeout) may be asked again later.
      reply.catch((err: unknown) => {
        if (!isNotFound(err) && replies.get(key) === reply) replies.delete(key);
      });
    }
    return reply;
  };
}

function isUsable(c: Credential): boolean {
  return Boolean((c.username && c.password) || c.identityToken || c.registryToken);
}

function clean(c: Credential): Credential {
  // Empty strings count as absent: an unset flag often arrives as "".
  const out: Credential = {};
  if (c.username) out.username = c.username;
  if (c.password) out.password = c.password;
  if (c.identityToken) out.identityToken = c.identityToken;
  if (c.registryToken) out.registryToken = c.registryToken;
  return out;
}
