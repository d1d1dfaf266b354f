/**
 * The lock of a credential file (`<file>.lock` beside it), held for a read-modify-write of the
 * file by `regpush login`/`logout` (updateCredentialFile in config-file.ts): taking a free lock,
 * taking over one a killed run left, the holder's heartbeat, the release, also at the process's
 * exit. A module of its own, apart from the file's format, because the protocol (described at
 * withCredentialFileLock) is what a reader of this part needs to hold in mind, and nothing else.
 */
import { createHash, randomBytes } from 'node:crypto';
import fsSync, { promises as fs, type BigIntStats } from 'node:fs';
import path from 'node:path';
import { AuthError } from '../errors.js';

/** Options of updateCredentialFile / withCredentialFileLock. */
export interface FileLockOptions {
  /**
   * A lock unchanged for longer than this (ms) is taken for one a crashed or killed writer left,
   * and taken over (default LOCK_STALE_MS). The lock is held for a read and a write of one small
   * file, never across a credential helper's run, and its holder refreshes it (heartbeatMs), so a
   * live holder's lock never gets this old, however long it holds it.
   */
  staleMs?: number;
  /**
   * How often (ms) the holder sets its lock's mtime to now while it holds it (default a quarter
   * of staleMs): a holder that is slow (a loaded machine, a slow write) stays the holder.
   */
  heartbeatMs?: number;
  /** Told when a stale lock is taken over. */
  onStale?: (lock: string) => void;
}

/** Age after which a credential file's lock counts as left behind (see FileLockOptions.staleMs). */
const LOCK_STALE_MS = 10_000;

/**
 * Runs `fn` holding the lock of credential file `file`: `<file>.lock` beside it (beside the file a
 * symlink leads to). Two `regpush login` runs at once (a CI job logging in to several registries
 * in parallel) each read the file, added their entry and renamed their copy over it: the last
 * rename won and the other logins were lost, while every run said it succeeded. A waiter retries
 * with a growing pause; a lock unchanged for longer than `staleMs` (a live holder refreshes it) is
 * taken over. The lock is released when `fn` ends, whatever the outcome, and if the process exits
 * while it is held.
 *
 * The protocol, for runs in separate processes that share nothing but the folder; each step is one
 * call the file system carries out atomically:
 * - Taking a free lock: `<file>.lock` created with O_EXCL (open 'wx'), then a token of the run's
 *   own (pid and random bytes) written in it. Of several runs, one creates it; the others get EEXIST.
 * - A lock's generation is its device, inode and content, read through one descriptor (lockState).
 *   Each token is unique, so once that file is replaced or removed the path never again shows
 *   that generation: "the lock I judged" can be checked again later.
 * - Moving the lock off a generation, to release it or to take a stale one over, first takes the
 *   right to: the O_EXCL creation of `<file>.lock.<hash of the generation>.claim` (moveOff). One
 *   run wins it. The winner then checks that the lock is still of that generation; if it is, no
 *   one else can move it now, so it removes it (a release) or renames a file of its own, which
 *   already holds its token, over it (a takeover: rename replaces in one step, so there is no
 *   moment without a lock in which a third run could create one). Then it removes the claim. A
 *   run that finds the lock moved, or the claim taken, leaves the lock alone and waits.
 * So of two waiters that both judged one lock stale, one takes it over and the other finds it
 * moved (or the claim taken) and waits for the new holder. A holder that was judged stale while
 * it still held the lock (a stopped process, a stalled disk) either wins the claim first and
 * removes its own lock, which the taker then finds gone, or loses it and leaves the lock to the
 * taker: it never removes a lock another run made.
 * - A claim older than `staleMs` was left by a run killed between its steps. It is removed by the
 *   same rule (with a claim on the claim, at most MAX_CLAIM_DEPTH deep), so no lock stays stuck
 *   behind one. A run killed after its move but before removing its claim (a release's unlink, a
 *   takeover's rename) leaves that claim, of a generation no one will ask for again: each run
 *   that gets the lock sweeps such leftovers once they are older than `staleMs` (sweep).
 * - While it holds the lock, the holder sets the lock's mtime to now every `heartbeatMs`, through
 *   a descriptor of the lock it has checked is still of its generation (heartbeat): age measures
 *   the time since the holder was last alive, not since it got the lock, and a holder that is
 *   only slow is never taken over. The touch changes no generation, so a takeover under way
 *   still moves the right file, and the taker looks at the lock's age again once it holds the
 *   claim: a holder that beat after it was judged stale keeps its lock (moveOff).
 * - "Unchanged for longer than `staleMs`" is read from the mtime's age, or from how long the
 *   waiting run has itself seen the lock (or claim) with one generation and mtime (Staleness): a
 *   lock whose mtime is ahead of this machine's clock is not waited for until the clock gets there.
 * What no lock of this kind can do is tell a process stopped altogether (SIGSTOP, a debugger) for
 * longer than `staleMs` from a dead one: its heartbeat stops with it, and once resumed it may be in
 * its read-modify-write while the run that took over does its own. What the protocol keeps is
 * that the lock stays one lock, so no further run gets in beside them (short of a run stopped
 * that long between its claim and its move, a few calls).
 */
export async function withCredentialFileLock<T>(file: string, fn: () => Promise<T>, opts: FileLockOptions = {}): Promise<T> {
  const staleMs = opts.staleMs ?? LOCK_STALE_MS;
  const heartbeatMs = opts.heartbeatMs ?? staleMs / 4;
  const stale = new Staleness(staleMs);
  const target = await writeTarget(file);
  const lock = `${target}.lock`;
  const token = `${process.pid} ${randomBytes(12).toString('hex')}\n`;
  // Said as a failed write: what stands in the way (a read-only folder, a file where a folder
  // should be) is the same for the lock and the file.
  const cannot = (err: unknown): AuthError => {
    const code = (err as NodeJS.ErrnoException).code;
    const hint = writeFailureHint(code);
    return new AuthError(`cannot write credential file ${file}: ${code ?? 'write error'} (making its lock ${lock}${hint ? `; ${hint}` : ''})`, { details: { file } });
  };
  try {
    await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
  } catch (err) {
    throw cannot(err);
  }
  /** The generation (lockState's id) of the lock this run holds, once it holds one. */
  let held: string | undefined;
  /**
   * A lock file of this run's own beside the lock, made when one is judged stale, to be renamed
   * over it. Made afresh for each try and removed after a try that did not use it: a rename keeps
   * the file's mtime, so a spare kept while this run waited (behind another run's claim) would
   * become a lock that is stale from its first moment, and the next run would take it over while
   * this one still holds it; and sweep() removes spares older than staleMs.
   */
  let spare: { path: string; id: string } | undefined;
  try {
    let pause = 5;
    for (;;) {
      held = await createExclusive(lock, token);
      if (held) break;
      const now = await lockState(lock);
      if (!now) continue; // released meanwhile
      if (stale.judge(lock, now)) {
        const spareAt = `${lock}.${randomBytes(8).toString('hex')}.tmp`;
        const id = await createExclusive(spareAt, token);
        spare = id ? { path: spareAt, id } : undefined;
        const outcome = spare ? await moveOff(lock, now.id, spare.path, token, stale) : 'busy';
        if (outcome === 'done') {
          held = spare!.id;
          spare = undefined;
          opts.onStale?.(lock);
          break;
        }
        if (spare) await fs.rm(spare.path, { force: true });
        spare = undefined;
        if (outcome === 'moved') continue;
      }
      await new Promise((r) => setTimeout(r, pause + Math.random() * pause));
      pause = Math.min(pause * 2, 250);
    }
  } catch (err) {
    throw cannot(err);
  } finally {
    if (spare) await fs.rm(spare.path, { force: true }).catch(() => {});
  }
  const mine = held;
  // A process that exits while holding the lock (a second Ctrl-C) releases it on its way out; the
  // listener is this lock's and goes with it, so nothing outlives the call.
  const releaseAtExit = (): void => releaseSync(lock, mine, token);
  process.on('exit', releaseAtExit);
  const stopBeating = heartbeat(lock, mine, heartbeatMs);
  try {
    // Once the exit release is in place: a second Ctrl-C during the sweep leaves no lock behind.
    await sweep(lock, staleMs);
    return await fn();
  } finally {
    process.off('exit', releaseAtExit);
    await stopBeating();
    // A release that fails (the folder made read-only meanwhile) leaves a lock the next run takes
    // over as stale, with a warning; fn's own outcome is what this call reports.
    await moveOff(lock, mine, undefined, token, stale).catch(() => {});
  }
}

/**
 * What a failed write of a credential file (its lock, its temporary file, the rename over it) says
 * after its errno, where the errno alone leaves the reader guessing; undefined for the others. A
 * config.json mounted on its own (`-v ~/.docker/config.json:…`, a Kubernetes subPath) is a mount
 * point, which rename cannot replace (EBUSY; `docker login` fails there the same way,
 * submariner-io/shipyard#742): writing it in place instead would let a concurrent reader see
 * half a file, so the write fails and says what to mount. A mounted secret is read-only (EROFS).
 */
export function writeFailureHint(code: string | undefined): string | undefined {
  if (code === 'EBUSY') return 'a file mounted on its own, which cannot be replaced: mount the folder that holds it instead';
  if (code === 'EROFS') return 'a read-only file system, such as a mounted secret: set DOCKER_CONFIG or REGISTRY_AUTH_FILE to a writable place';
  return undefined;
}

/** What is at a lock path now, read through one descriptor, so that both facts are of one file. */
interface LockState {
  /** Its generation: device, inode and content (see withCredentialFileLock). */
  id: string;
  /** Since its last change, by its mtime. */
  ageMs: number;
  /** Its mtime, which the holder's heartbeat changes (Staleness). */
  mtimeNs: bigint;
}

/**
 * Judges whether a lock (or a claim) is stale, for one run: unchanged for longer than `ms`, by its
 * mtime's age, or by how long this run has seen it with that generation and mtime. The second
 * covers a lock whose mtime is ahead of this machine's clock: left by a run that died before the
 * clock was set back (a VM booted with its clock ahead and stepped back by NTP; a home folder
 * restored with its times), its age reads negative until the clock gets there, and every login
 * waited that long. A live holder's heartbeat changes the mtime every heartbeatMs, so it is never
 * seen unchanged that long.
 */
class Staleness {
  private readonly seen = new Map<string, { id: string; mtimeNs: bigint; since: number }>();
  constructor(readonly ms: number) {}

  judge(file: string, state: LockState): boolean {
    // How long it has been seen so is this run's own measure: a monotonic clock, which a step of
    // the wall clock (NTP, the very case this covers) neither shortens nor lengthens.
    const now = performance.now();
    let seen = this.seen.get(file);
    if (!seen || seen.id !== state.id || seen.mtimeNs !== state.mtimeNs) this.seen.set(file, (seen = { id: state.id, mtimeNs: state.mtimeNs, since: now }));
    return state.ageMs > this.ms || now - seen.since > this.ms;
  }
}

const lockId = (st: BigIntStats, content: string): string => `${st.dev}:${st.ino}:${content}`;

/**
 * The LockState of `file`; undefined when nothing is there. A lock this user may not read (left by
 * another user: a `sudo` run that kept HOME) is told apart by its inode and mtime instead of its
 * content: removing or replacing it needs only the folder's permissions, as it always did.
 */
async function lockState(file: string): Promise<LockState | undefined> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code !== 'EACCES' && code !== 'EPERM') throw err;
    const st = await fs.lstat(file, { bigint: true }).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
    return st && { id: lockId(st, `unreadable ${st.mtimeNs}`), ageMs: Date.now() - Number(st.mtimeMs), mtimeNs: st.mtimeNs };
  }
  try {
    const st = await handle.stat({ bigint: true });
    return { id: lockId(st, await handle.readFile('utf8')), ageMs: Date.now() - Number(st.mtimeMs), mtimeNs: st.mtimeNs };
  } finally {
    await handle.close();
  }
}

/** lockState for the process's exit, where nothing asynchronous runs any more. */
function lockStateSync(file: string): LockState | undefined {
  let fd: number;
  try {
    fd = fsSync.openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const st = fsSync.fstatSync(fd, { bigint: true });
    return { id: lockId(st, fsSync.readFileSync(fd, 'utf8')), ageMs: Date.now() - Number(st.mtimeMs), mtimeNs: st.mtimeNs };
  } finally {
    fsSync.closeSync(fd);
  }
}

/**
 * Creates `file` holding `content`, only if nothing is there (O_EXCL): its generation (lockState's
 * id), or undefined when something was there.
 */
async function createExclusive(file: string, content: string): Promise<string | undefined> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw err;
  }
  let id: string;
  try {
    await handle.writeFile(content, 'utf8');
    id = lockId(await handle.stat({ bigint: true }), content);
  } catch (err) {
    await handle.close().catch(() => {});
    await fs.rm(file, { force: true });
    throw err;
  }
  await handle.close();
  return id;
}

/** How deep claims on claims go (a claim left by a killed run, on a claim left by a killed run…). */
const MAX_CLAIM_DEPTH = 2;

/** The file whose O_EXCL creation gives the right to move `file` off generation `id`. */
function claimOf(file: string, id: string): string {
  return `${file}.${createHash('sha256').update(id).digest('hex').slice(0, 16)}.claim`;
}

/**
 * Moves `file` off generation `id`, if it is still of it: renames `replacement` over it, or
 * without one removes it. 'done' when this run did; 'moved' when the file was no longer of that
 * generation; 'busy' when another run holds the claim (and is doing it). A claim found stale
 * (`stale`) is removed the same way, and the caller tries again.
 */
async function moveOff(file: string, id: string, replacement: string | undefined, token: string, stale: Staleness, depth = 0): Promise<'done' | 'moved' | 'busy'> {
  const claim = claimOf(file, id);
  if (!(await createExclusive(claim, token))) {
    const other = depth < MAX_CLAIM_DEPTH ? await lockState(claim) : undefined;
    if (other && stale.judge(claim, other)) await moveOff(claim, other.id, undefined, token, stale, depth + 1);
    return 'busy';
  }
  try {
    // Only the claim's holder moves the file off this generation, so what is seen now stays until it does.
    const now = await lockState(file);
    if (now?.id !== id) return 'moved';
    // A takeover judged the lock stale before it won the claim; a holder that was only stalled
    // may have beaten since (heartbeat): it is alive, and its lock stays.
    if (replacement !== undefined && !stale.judge(file, now)) return 'busy';
    if (replacement === undefined) await fs.unlink(file);
    else {
      try {
        await fs.rename(replacement, file);
      } catch (err) {
        // The spare is gone (another run's sweep took it for a killed run's, this run having
        // stopped longer than staleMs since making it): nothing moved; the caller tries again.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'busy';
        throw err;
      }
    }
    return 'done';
  } finally {
    await fs.rm(claim, { force: true });
  }
}

/**
 * Once this run holds the lock: the spare lock files and claims that runs killed while they took
 * it over or released it left beside it, older than `staleMs`. None is of use to anyone: the lock
 * is now of this run's generation, which no claim that old can be for. Done at every acquisition,
 * not only after a takeover: a run killed between its release's unlink and the removal of its
 * claim leaves no lock to take over, and its claim stayed in the folder for good.
 */
async function sweep(lock: string, staleMs: number): Promise<void> {
  const dir = path.dirname(lock);
  const prefix = `${path.basename(lock)}.`;
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.startsWith(prefix) || !(name.endsWith('.tmp') || name.endsWith('.claim'))) continue;
    const at = path.join(dir, name);
    const st = await fs.lstat(at).catch(() => undefined);
    if (st?.isFile() && Date.now() - st.mtimeMs > staleMs) await fs.rm(at, { force: true }).catch(() => {});
  }
}

/**
 * Starts the holder's heartbeat (see withCredentialFileLock): every `everyMs`, the lock's mtime is
 * set to now if the lock is still of generation `id`. The timer is unref'd (it keeps no process
 * alive); a beat is skipped while the one before has not finished, and the beating stops for good
 * once the lock is found gone or of another generation. Returns the stop, which also waits for a
 * beat under way, so that no descriptor of the lock is open when the release removes it.
 */
function heartbeat(lock: string, id: string, everyMs: number): () => Promise<void> {
  let beat: Promise<void> | undefined;
  const timer = setInterval(() => {
    beat ??= touchIfHeld(lock, id)
      .catch(() => true) // a failed touch (a read-only folder now): the next beat tries again
      .then((mine) => {
        if (!mine) clearInterval(timer);
        beat = undefined;
      });
  }, everyMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await beat;
  };
}

/**
 * Sets the mtime of `lock` to now, through a descriptor whose file is checked to be of generation
 * `id` (a touch by path could land on a lock another run put there since); false when the lock is
 * gone or of another generation.
 */
async function touchIfHeld(lock: string, id: string): Promise<boolean> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(lock, 'r+');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  try {
    if (lockId(await handle.stat({ bigint: true }), await handle.readFile('utf8')) !== id) return false;
    const now = new Date();
    await handle.utimes(now, now);
    return true;
  } finally {
    await handle.close();
  }
}

/** moveOff's release, at the process's exit. */
function releaseSync(lock: string, id: string, token: string): void {
  const claim = claimOf(lock, id);
  let fd: number;
  try {
    fd = fsSync.openSync(claim, 'wx', 0o600);
  } catch {
    return; // another run is taking the lock over (or it cannot be claimed: it is left as stale)
  }
  try {
    try {
      fsSync.writeSync(fd, token);
    } finally {
      fsSync.closeSync(fd);
    }
    if (lockStateSync(lock)?.id === id) fsSync.unlinkSync(lock);
  } catch {
    /* gone already */
  } finally {
    fsSync.rmSync(claim, { force: true });
  }
}

/**
 * Where writing `file` lands: its real path when it exists; else, where it is a symlink whose
 * target does not exist yet (a dotfile manager's link made before the first login), that target,
 * followed as Docker's config writer follows it, instead of replacing the link with a file. Here
 * because the lock is made beside that target; writeCredentialFile (config-file.ts) writes there.
 */
export async function writeTarget(file: string): Promise<string> {
  try {
    return await fs.realpath(file);
  } catch {
    // does not exist yet, or a dangling link
  }
  let at = file;
  for (let hops = 0; hops < 16; hops++) {
    const link = await fs.readlink(at).catch(() => undefined);
    if (link === undefined) return at;
    at = path.resolve(path.dirname(at), link);
  }
  return at;
}
