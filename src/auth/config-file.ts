/**
 * Reading and writing credential files (Docker config.json, containers auth.json).
 * These files hold secrets: errors name the file but never quote its content (V8's JSON.parse
 * messages include a snippet of the input, so they are not passed on). A read-modify-write holds
 * the file's lock (credential-lock.ts).
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { AuthError } from '../errors.js';
import { isObject } from '../json-object.js';
import { withCredentialFileLock, writeFailureHint, writeTarget, type FileLockOptions } from './credential-lock.js';
import type { AuthFileSystem } from './credential-paths.js';

/** One entry of `auths` in config.json / auth.json. */
export interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
  [key: string]: unknown;
}

/** The parts of Docker's config.json (and containers' auth.json) regpush reads; others are kept. */
export interface CredentialFile {
  auths?: Record<string, AuthEntry>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
  [key: string]: unknown;
}

/** Options of readCredentialFile. */
export interface ReadCredentialFileOptions {
  /**
   * The file is the legacy ~/.dockercfg (Docker before 1.7): its top-level object is what
   * config.json has under `auths`, keyed by registry URL.
   */
  legacy?: boolean;
}

/** Reads and checks a credential file; undefined when it does not exist; AuthError naming it when malformed. */
export async function readCredentialFile(file: string, opts: ReadCredentialFileOptions = {}): Promise<CredentialFile | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new AuthError(`cannot read credential file ${file}: ${code ?? 'read error'}`, { details: { file, errno: code } });
  }
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    const pos = /position (\d+)/.exec(String((err as Error).message))?.[1];
    throw malformed(file, pos ? `not valid JSON (at position ${pos})` : 'not valid JSON');
  }
  if (!isObject(parsed)) throw malformed(file, 'not a JSON object');
  const data: Record<string, unknown> = opts.legacy ? { auths: parsed } : parsed;
  if (data.auths !== undefined) {
    if (!isObject(data.auths)) throw malformed(file, '"auths" is not an object');
    for (const [k, v] of Object.entries(data.auths)) {
      if (!isObject(v)) throw malformed(file, `auths["${k}"] is not an object`);
      for (const f of ['auth', 'username', 'password', 'identitytoken', 'registrytoken']) {
        if (v[f] !== undefined && typeof v[f] !== 'string') throw malformed(file, `auths["${k}"].${f} is not a string`);
      }
    }
  }
  if (data.credHelpers !== undefined) {
    if (!isObject(data.credHelpers)) throw malformed(file, '"credHelpers" is not an object');
    for (const [k, v] of Object.entries(data.credHelpers)) {
      if (typeof v !== 'string') throw malformed(file, `credHelpers["${k}"] is not a string`);
    }
  }
  if (data.credsStore !== undefined && typeof data.credsStore !== 'string') {
    throw malformed(file, '"credsStore" is not a string');
  }
  return data as CredentialFile;
}

/**
 * Writes `data` atomically: a temp file (mode 0600 while it is written) in the same directory,
 * then rename, so a crash never leaves a half-written config. A symlinked config is written at its
 * target. A new file is 0600; one replaced keeps its mode and owner (keepModeAndOwner);
 * `system.uid`, where given, is the writer's uid.
 */
async function writeCredentialFile(file: string, data: CredentialFile, system: AuthFileSystem = {}): Promise<void> {
  const target = await writeTarget(file);
  const dir = path.dirname(target);
  const tmp = path.join(dir, `.${path.basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const cannot = (err: unknown): AuthError => {
    const code = (err as NodeJS.ErrnoException).code;
    const hint = writeFailureHint(code);
    return new AuthError(`cannot write credential file ${file}: ${code ?? 'write error'}${hint ? ` (${hint})` : ''}`, { details: { file } });
  };
  let handle: fs.FileHandle;
  try {
    // A folder that cannot be made or written (owned by root after `sudo docker login`, a
    // read-only mount) is the same one-line error as a failed write, not an internal one.
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    handle = await fs.open(tmp, 'wx', 0o600);
  } catch (err) {
    throw cannot(err);
  }
  try {
    try {
      await handle.writeFile(`${JSON.stringify(data, null, '\t')}\n`, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await keepModeAndOwner(target, tmp, system);
    await fs.rename(tmp, target);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw cannot(err);
  }
}

/**
 * Read-modify-write of a credential file under its lock (withCredentialFileLock): `change` gets
 * the contents as they are now (undefined: no file) and returns what to write, or undefined to
 * leave the file as it is. Resolves with whether the file was written. `opts.system`: as for the
 * lookup (AuthFileSystem), whose `uid` says whether the writer is root (keepOwner).
 */
export async function updateCredentialFile(
  file: string,
  change: (data: CredentialFile | undefined) => CredentialFile | undefined,
  opts: FileLockOptions & { system?: AuthFileSystem } = {},
): Promise<boolean> {
  return withCredentialFileLock(
    file,
    async () => {
      const next = change(await readCredentialFile(file));
      if (next === undefined) return false;
      await writeCredentialFile(file, next, opts.system);
      return true;
    },
    opts,
  );
}

/**
 * The mode and owner the temp file takes before it is renamed over `target`, as Docker's config
 * writer gives them (docker/cli, copyFilePermissions): a new file is 0600, exact whatever the
 * umask; a file replaced keeps its permission bits, so a config shared with a group (0640, a CI
 * service's group) is still readable by that group after a login, as after a `docker login`.
 * Written by root (`sudo regpush login` keeping HOME, a root container with the home mounted), the
 * file keeps its owner and group: a file that became root's could no longer be read by its user,
 * whose every command would then fail on it. A user rewriting a file of their own keeps its group
 * where they may (they are in it). Where the group cannot be kept, the new group gets no more than
 * the file gave everyone else: the old group's read must not go to another group.
 */
async function keepModeAndOwner(target: string, tmp: string, system: AuthFileSystem): Promise<void> {
  const old = await fs.stat(target).catch(() => undefined);
  if (!old?.isFile()) {
    await fs.chmod(tmp, 0o600);
    return;
  }
  // The uid as credentialFiles takes it: the caller's `system` where it says, else the process's.
  const uid = 'uid' in system ? system.uid : process.getuid?.();
  if (uid === 0) {
    if (old.uid !== 0 || old.gid !== 0) await fs.chown(tmp, old.uid, old.gid);
  } else if (uid !== undefined && old.uid === uid) {
    // EPERM when the user is no longer in that group: the group bits below then shrink instead.
    await fs.chown(tmp, -1, old.gid).catch(() => undefined);
  }
  const groupKept = (await fs.stat(tmp)).gid === old.gid;
  const others = old.mode & 0o007;
  const group = groupKept ? old.mode & 0o070 : old.mode & 0o070 & (others << 3);
  await fs.chmod(tmp, (old.mode & 0o700) | group | others);
}

function malformed(file: string, why: string): AuthError {
  return new AuthError(`malformed credential file ${file}: ${why}`, { details: { file } });
}
