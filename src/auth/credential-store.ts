/**
 * Stores and erases logins for `regpush login`/`logout`, in Docker's format: through the credential
 * helper the file names for the registry, else in `auths` of the file login writes (loginFilePath);
 * a namespace's login ("quay.io/org") in a containers auth.json, never in Docker's config.json.
 * The lookup (credential-lookup.ts) is the other half, and this module takes from it where the files
 * are (dockerConfigPath, credentialFiles, of credential-paths.ts) and what an `auths` entry holds
 * (decodeEntry), so a login is written where a later command's lookup finds it. Each
 * read-modify-write of a file holds that file's lock (updateCredentialFile in config-file.ts, the
 * lock in credential-lock.ts). Secrets never reach a log line or an error message.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { AuthError, InputError, UsageError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { readCredentialFile, updateCredentialFile, type AuthEntry, type CredentialFile } from './config-file.js';
import type { FileLockOptions } from './credential-lock.js';
import { checkHelperName, helperError, HelperFailure, IDENTITY_TOKEN_USERNAME, isNotFound, spawnHelper, type HelperExec } from './helper.js';
import { registryHostOf } from '../ref/registry.js';
import { decodeEntry, holdsKey, type CredentialOptions } from './credential-lookup.js';
import { checkDockerConfigDir, credentialFiles, dockerConfigPath, type AuthFileSystem } from './credential-paths.js';
import type { Credential } from './credential-types.js';
import { findByRegistry, helperKeys, splitAuthKey } from './registry-host.js';

/**
 * Inputs of openLoginStore / eraseCredentialReport (`regpush login` / `logout`): where the files are and
 * how helpers run, as for the lookup (`system` also says which containers auth file a namespace's
 * login goes to: namespaceLoginFile).
 */
export interface CredentialStoreOptions extends Pick<CredentialOptions, 'env' | 'homeDir' | 'logger' | 'helperTimeoutMs' | 'helperProcessGroup' | 'system'> {
  /** Runs a helper action; default spawns `docker-credential-<name> <action>` using env.PATH. */
  execHelper?: HelperExec;
}

/** Where a login for one registry or namespace goes, found and checked (openLoginStore). */
export interface LoginStore {
  /**
   * Saves `cred` in Docker's format: through the credential helper the file names for the registry
   * (credHelpers entry, else credsStore), else in `auths`, of the file `regpush login` writes
   * (loginFilePath). The new login replaces the registry's login in every spelling: an entry left
   * under another key (`docker.io` beside Docker Hub's `https://index.docker.io/v1/`) would go on
   * serving Podman and skopeo, which prefer it, and under a credsStore keep an old password in the
   * file. A namespace or repository ("quay.io/org") has its login in a containers auth.json
   * (namespaceLoginFile), as Podman's does, never in Docker's config.json.
   */
  store(cred: Credential): Promise<void>;
}

/**
 * Finds where a login for `registry` goes and checks everything that would refuse it, without
 * writing anything or running a helper: the file it writes cannot be read or is malformed, a
 * DOCKER_CONFIG that names no directory, a helper name the file gives that could not be run, and
 * for a namespace everything namespaceStore checks. login() opens it before it asks the registry
 * and stores into it once the registry has accepted the login: a login checked and then refused a
 * place to be stored costs a request (at a rate-limited registry, a pull) and fails after it.
 * The files are read here once; each write reads its file again, under the file's lock.
 */
export async function openLoginStore(registry: string, opts: CredentialStoreOptions): Promise<LoginStore> {
  const ns = namespacedKey(registry);
  if (ns) {
    const place = await namespaceStore(ns, opts);
    return { store: (cred) => storeNamespaceCredential(ns, cred, place, opts) };
  }
  const file = loginFilePath(opts.env, opts.homeDir);
  const data: CredentialFile = (await readLoginFile(file, opts.env, opts.homeDir)) ?? {};
  const helper = helperFor(data, registry);
  if (helper) checkHelperName(helper.name);
  return { store: (cred) => storeRegistryCredential(registry, cred, { file, data, helper }, opts) };
}

/** What a login stores: the secret, and the user name it goes with. Throws AuthError when there is nothing to store. */
function loginSecret(registry: string, cred: Credential): { username: string; secret: string } {
  const secret = cred.identityToken ?? cred.password;
  const username = cred.identityToken ? IDENTITY_TOKEN_USERNAME : cred.username;
  if (!secret || !username) {
    throw new AuthError(`nothing to store for ${registry}: a username and password (or an identity token) are needed`);
  }
  return { username, secret };
}

/** LoginStore.store for a whole registry, in `file` (read as `data`) or the `helper` it names. */
async function storeRegistryCredential(
  registry: string,
  cred: Credential,
  { file, data, helper }: { file: string; data: CredentialFile; helper: { name: string } | undefined },
  opts: CredentialStoreOptions,
): Promise<void> {
  const log = opts.logger ?? silentLogger;
  const { username, secret } = loginSecret(registry, cred);
  const lock = lockOptions(log, opts.system);
  if (!helper) {
    await updateCredentialFile(
      file,
      (now) => {
        const d = now ?? {};
        // Written under the key Docker reads (for Docker Hub its own, whatever alias `auths` has: helperKeys).
        const key = keysFor(d.auths, registry)[0]!;
        return { ...d, auths: { ...withoutSpellings(d.auths, registry, key), [key]: authEntry(cred) } };
      },
      lock,
    );
    log.debug(`auth: stored credentials for ${registry} in ${file}`);
    return;
  }
  const key = keysFor(data.auths, registry)[0]!;
  const exec = storeHelperExec(opts);
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
async function storeNamespaceCredential(ns: { host: string; key: string }, cred: Credential, place: NamespacePlace, opts: CredentialStoreOptions): Promise<void> {
  const log = opts.logger ?? silentLogger;
  const { file, data, docker } = place;
  if (data.credsStore) log.warn(`the login for ${ns.key} is kept in ${file} itself: docker-credential-${data.credsStore} (credsStore) holds one login per registry`);
  try {
    await updateCredentialFile(file, (now) => ({ ...(now ?? {}), auths: { ...(now?.auths ?? {}), [ns.key]: authEntry(cred) } }), lockOptions(log, opts.system));
  } catch (err) {
    if (!(err instanceof AuthError) || opts.env.REGISTRY_AUTH_FILE) throw err;
    throw new AuthError(`${err.message} (the containers auth file, where a login for part of a registry is kept; set REGISTRY_AUTH_FILE to use another)`, { details: err.details });
  }
  log.debug(`auth: stored credentials for ${ns.key} in ${file}`);
  if (docker && holdsKey(docker.data, ns.key) && (await dropNamespaceKey(docker.file, ns.key, log, opts.system))) {
    log.info(`removed the login for ${ns.key} from ${docker.file}: Docker reads it as a login for all of ${ns.host}`);
  }
}

/** Where a namespace's login goes and what that file holds, with Docker's config.json when it is another file (namespaceStore). */
interface NamespacePlace {
  file: string;
  data: CredentialFile;
  docker?: { file: string; data: CredentialFile | undefined };
}

/**
 * Where a namespace's login goes (namespaceLoginFile) and that file's contents, with Docker's
 * config.json (from which the key is then removed) when it is another file. Everything that would
 * refuse the login is found here, before anything is written: a credHelpers entry for the
 * registry in that file, a DOCKER_CONFIG that is not a directory, a config.json that cannot be
 * read. Found after the write, each left the login stored and the command failed.
 */
async function namespaceStore(ns: { host: string; key: string }, opts: CredentialStoreOptions): Promise<NamespacePlace> {
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
 * Throws InputError (an environment variable's value) when the login would go to
 * `$XDG_RUNTIME_DIR/containers/auth.json` and XDG_RUNTIME_DIR names no directory. The runtime dir is the login manager's (systemd-logind makes
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
  throw new InputError(
    `cannot store a login for ${key} in ${file}: XDG_RUNTIME_DIR names ${runtime}, which ${stat ? 'is not a directory' : 'does not exist'} ` +
      '(regpush does not make a runtime directory, as Podman does not): create it, or set REGISTRY_AUTH_FILE to the file to keep logins in',
    { details: { file } },
  );
}

/** Removes `auths[key]` from `file` (under its lock); true when it was there. */
async function dropNamespaceKey(file: string, key: string, log: Logger, system: AuthFileSystem | undefined): Promise<boolean> {
  return updateCredentialFile(
    file,
    (now) => {
      if (!holdsKey(now, key)) return undefined;
      const { [key]: _gone, ...kept } = now.auths;
      return { ...now, auths: kept };
    },
    lockOptions(log, system),
  );
}

/**
 * The file a login for part of a registry ("quay.io/org") is written to and removed from:
 * `REGISTRY_AUTH_FILE` when set, else the first containers auth.json of the lookup order
 * (credentialFiles: Podman's primary file, else `${XDG_CONFIG_HOME:-~/.config}/containers/auth.json`),
 * where `podman login quay.io/org` writes it. Never Docker's config.json (see
 * storeNamespaceCredential). Throws InputError when there is no such file to name: no home and
 * none of the variables that name one (see loginFilePath for why that is the environment's).
 */
function namespaceLoginFile(key: string, env: Record<string, string | undefined>, homeDir?: string, system?: AuthFileSystem): string {
  if (env.REGISTRY_AUTH_FILE) return env.REGISTRY_AUTH_FILE;
  const docker = dockerConfigPath(env, homeDir);
  const file = credentialFiles(env, homeDir, system).find((f) => !f.legacy && f.path !== docker);
  if (!file) {
    throw new InputError(
      `cannot store a login for ${key}: a login for part of a registry is kept in a containers auth.json ` +
        '(Docker would read it from config.json as a login for the whole registry), and there is none to write here: ' +
        'set REGISTRY_AUTH_FILE, XDG_RUNTIME_DIR or HOME',
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
    if (!(err instanceof InputError)) throw err; // no such file: nothing can have been stored there
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

/** How login and logout run a helper's store and erase: the caller's execHelper, else the helper spawned with the options' timeout and process group. */
function storeHelperExec(opts: CredentialStoreOptions): HelperExec {
  return opts.execHelper ?? spawnHelper(opts.env, { timeoutMs: opts.helperTimeoutMs, processGroup: opts.helperProcessGroup });
}

/** Locking a credential file: a lock left behind, and removed, is worth a warning (a run died holding it). */
function lockOptions(log: Logger, system: AuthFileSystem | undefined): FileLockOptions & { system?: AuthFileSystem } {
  return { onStale: (lock) => log.warn(`took over a stale lock ${lock} (left by a login or logout that did not finish)`), system };
}

/**
 * Reads a file login and logout edit; a DOCKER_CONFIG that names no directory is refused
 * (checkDockerConfigDir), where `login` failed on a path through a file.
 */
async function readLoginFile(file: string, env: Record<string, string | undefined>, homeDir: string | undefined): Promise<CredentialFile | undefined> {
  const data = await readCredentialFile(file);
  if (!data) await checkDockerConfigDir(file, env, homeDir);
  return data;
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

/** What eraseCredentialReport did: whether something was removed, and the helper that could not be asked (absent when none). */
export interface ErasedCredential {
  removed: boolean;
  /** The helper's program (`docker-credential-NAME`) missing from PATH: a login it may hold was not erased (eraseCredentialReport warns). */
  helperNotAsked?: string;
}

/**
 * Removes the credential for `registry` (helper erase and/or config entries), saying whether
 * something was removed and which credential helper could not be asked (logout's result reports
 * it). A namespace ("quay.io/org") loses its own key only (in namespaceFiles); a registry loses its
 * keys in every spelling, but not the namespace keys under it (as `podman logout` does). A helper
 * that cannot be asked (missing from PATH, timed out) does not keep the file's entries: they go,
 * with a warning for a missing helper (no lookup can reach it either), and for one that timed out,
 * an AuthError once they are gone, since the store may still hold the login and every lookup asks it.
 */
export async function eraseCredentialReport(registry: string, opts: CredentialStoreOptions): Promise<ErasedCredential> {
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
      if (await dropNamespaceKey(file, ns.key, log, opts.system)) {
        removed = true;
        log.debug(`auth: removed credentials for ${ns.key} from ${file}`);
      }
    }
    return { removed };
  }
  const file = loginFilePath(opts.env, opts.homeDir);
  const data = await readLoginFile(file, opts.env, opts.homeDir);
  if (!data) return { removed: false };
  let removed = false;
  let unreached: { failure: AuthError; timedOut: boolean } | undefined;
  const spellings = registrySpellings(data.auths, registry);
  const helper = helperFor(data, registry);
  if (helper) {
    checkHelperName(helper.name);
    const exec = storeHelperExec(opts);
    // Every key a lookup would ask (helperKeys), and every spelling of the registry in `auths` (the
    // file loses them all below): a login left under one of them would outlive the logout.
    for (const key of new Set([...keysFor(data.auths, registry), ...spellings])) {
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
      lockOptions(log, opts.system),
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
  return { removed, ...(unreached && helper ? { helperNotAsked: `docker-credential-${helper.name}` } : {}) };
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
 * The file `regpush login` writes and `logout` edits: `REGISTRY_AUTH_FILE` when set (as Podman's
 * login does, so that the one file read afterwards holds the login), else Docker's config.json
 * (which Podman reads too, after its own files). Throws InputError when there is none: the call
 * itself is whole (homeDir may be left out, the home then being env.HOME), what is missing is a
 * home or a variable naming the file in the environment it runs with, as for namespaceLoginFile.
 */
function loginFilePath(env: Record<string, string | undefined>, homeDir?: string): string {
  const file = env.REGISTRY_AUTH_FILE || dockerConfigPath(env, homeDir);
  if (!file) throw new InputError('no credential file to write: give homeDir (or HOME in env), DOCKER_CONFIG or REGISTRY_AUTH_FILE');
  return file;
}

/**
 * The keys a helper may hold `registry`'s login under, given the `auths` of its file (helperKeys):
 * the first is the one a login is stored under.
 */
function keysFor(auths: Record<string, AuthEntry> | undefined, registry: string): string[] {
  return helperKeys(registry, findByRegistry(auths, registry)?.[0]);
}

/** The credential helper `data` names for `registry` (its credHelpers entry, else credsStore), if any. */
function helperFor(data: CredentialFile, registry: string): { name: string } | undefined {
  const per = findByRegistry(data.credHelpers, registry);
  // "" keeps this registry's logins in the file (see fromCredentialFile in credential-lookup.ts).
  if (per) return per[1] === '' ? undefined : { name: per[1] };
  if (data.credsStore) return { name: data.credsStore };
  return undefined;
}
