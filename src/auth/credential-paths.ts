/**
 * Where the credential files are: REGISTRY_AUTH_FILE alone, else Docker's config.json and the
 * containers auth.json files, in lookup order (credentialFiles), and the errors for an env
 * variable that names no usable place (REGISTRY_AUTH_FILE, DOCKER_CONFIG). Reads no credential: the
 * lookup (credential-lookup.ts) and `login`/`logout` (credential-store.ts) both start from these paths.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.js';

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

/**
 * The stored logins' files, as credentialSourceList names them: REGISTRY_AUTH_FILE, else Docker's
 * config.json and the containers auth.json files, each only where credentialFiles reads one.
 */
export function storedLoginSources(env: Record<string, string | undefined> = {}, homeDir?: string, system?: AuthFileSystem): string {
  if (env.REGISTRY_AUTH_FILE) return `REGISTRY_AUTH_FILE (${env.REGISTRY_AUTH_FILE})`;
  const docker = dockerConfigPath(env, homeDir);
  const files = credentialFiles(env, homeDir, system);
  const kinds = [...(docker ? ['Docker config.json'] : []), ...(files.some((f) => !f.legacy && f.path !== docker) ? ['containers auth.json'] : [])];
  return kinds.length ? kinds.join(', ') : 'no credential file, as no home directory was given';
}

/**
 * The error for a `REGISTRY_AUTH_FILE` that names no file (E_INPUT: the environment's, not a flag
 * of the call). Podman refuses such an `--authfile` for
 * every command but login; read as "no credentials", a typo or a CI step that never wrote the file
 * would only show up later as a registry's 401, or as a push that went out anonymously.
 */
export function missingAuthFile(file: string): InputError {
  return new InputError(`REGISTRY_AUTH_FILE names ${file}, which does not exist: write it (regpush login does) or unset the variable`, { details: { file } });
}

/**
 * For a credential `file` found missing: throws InputError (an environment variable's value, as
 * src/errors.ts splits them) when it is Docker's config.json and
 * `DOCKER_CONFIG` names something other than a directory (Docker warns "not a directory" and
 * reads nothing). Naming config.json itself made `$DOCKER_CONFIG/config.json` unreadable (ENOTDIR,
 * taken for "no file"): every stored login was silently ignored.
 */
export async function checkDockerConfigDir(file: string, env: Record<string, string | undefined>, homeDir: string | undefined): Promise<void> {
  const dir = env.DOCKER_CONFIG;
  if (!dir || file !== dockerConfigPath(env, homeDir)) return;
  const stat = await fs.stat(dir).catch(() => undefined);
  if (!stat || stat.isDirectory()) return;
  const hint = path.basename(dir) === 'config.json' ? `: set it to ${path.dirname(dir)}` : '';
  throw new InputError(`DOCKER_CONFIG names ${dir}, which is not a directory; it must name the directory that holds config.json${hint}`, { details: { file: dir } });
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
