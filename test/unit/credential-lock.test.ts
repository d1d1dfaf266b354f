/**
 * The lock of a credential file (withCredentialFileLock in src/auth/credential-lock.ts) under
 * interleavings that are forced, not waited for: every file-system call the lock code makes goes
 * through a gate (node:test mocks of fs.promises), which knows which run (an AsyncLocalStorage
 * name) made it and holds it until the test lets it go. Runs in this process stand for separate
 * processes: each call of withCredentialFileLock has its own token and shares nothing in memory
 * with another. Where a real process is needed (one killed in the middle), a child is spawned.
 * Nothing waits for a timer to decide an outcome; a wrong protocol fails an assertion (or, if it
 * deadlocks, the test's timeout).
 */
import { after, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { withCredentialFileLock } from '../../src/auth/credential-lock.js';

const roots: string[] = [];
after(async () => {
  for (const r of roots) await fsp.rm(r, { recursive: true, force: true });
});

async function tempFile(): Promise<{ dir: string; file: string; lock: string }> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'regpush-lock-'));
  roots.push(dir);
  const file = path.join(dir, 'config.json');
  return { dir, file, lock: `${file}.lock` };
}

/** A lock file as a run that died holding it leaves it: someone else's token, a minute old. */
async function deadLock(lock: string): Promise<void> {
  await fsp.writeFile(lock, '4242 a-run-that-died\n');
  const old = new Date(Date.now() - 60_000);
  await fsp.utimes(lock, old, old);
}

/**
 * For a holder that stands for a stopped process (SIGSTOP: judged stale, yet resumed later), whose
 * heartbeat stops with it: an hour between beats, so none comes in the test.
 */
const STOPPED = { heartbeatMs: 3_600_000 };

/** One file-system call of a named run, as the gate sees it. */
interface Call {
  run: string;
  op: string;
  file: string;
  flags?: string;
  /** rename's and link's second argument. */
  target?: string;
}

const runName = new AsyncLocalStorage<string>();

/**
 * Puts `gate` in front of the fs.promises calls the lock code makes, for calls made inside
 * `named(...)`. The original call runs once the gate resolves.
 */
function gateFs(t: TestContext, gate: (c: Call) => Promise<void> | void): void {
  for (const op of ['open', 'stat', 'readFile', 'rm', 'unlink', 'rename', 'link'] as const) {
    const original = (fsp[op] as (...args: unknown[]) => Promise<unknown>).bind(fsp);
    t.mock.method(fsp, op, async (...args: unknown[]) => {
      const run = runName.getStore();
      if (run !== undefined) await gate({ run, op, file: String(args[0]), ...(op === 'open' ? { flags: String(args[1] ?? 'r') } : {}), ...(op === 'rename' || op === 'link' ? { target: String(args[1]) } : {}) });
      return original(...args);
    });
  }
}

/** Runs `fn` as run `name` (its fs calls are gated). */
const named = <T>(name: string, fn: () => Promise<T>): Promise<T> => runName.run(name, fn);

/** A look at what is at `lock` (stat, or a read of it), by any of the calls a lock protocol could use. */
const looksAt = (c: Call, lock: string) => c.file === lock && (c.op === 'stat' || c.op === 'readFile' || (c.op === 'open' && !/[wax+]/.test(c.flags ?? 'r')));

/** An attempt to put a lock file in place at `lock` (create it exclusively, link or rename onto it). */
const installs = (c: Call, lock: string) =>
  (c.op === 'open' && c.file === lock && /x/.test(c.flags ?? '')) || ((c.op === 'rename' || c.op === 'link') && c.target === lock);

/** A removal of `lock` itself. */
const removes = (c: Call, lock: string) => c.file === lock && (c.op === 'rm' || c.op === 'unlink');

function later(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const exists = (p: string) => fsp.stat(p).then(() => true, () => false);

describe('two runs waiting on one stale lock', () => {
  it('both judge it stale before either acts: one takes it over, the other waits for that one', { timeout: 20_000 }, async (t) => {
    // Was: each removed "the stale lock" and made its own; the second removal took the lock the
    // first had just made, and both wrote the file at once.
    const { dir, lock } = await tempFile();
    await deadLock(lock);
    const looks = new Map<string, number>();
    const atBarrier = new Set<string>();
    const bothJudged = later();
    const firstInside = later();
    const secondMoved = later(); // the second run looked at the lock again, or got in
    gateFs(t, async (c) => {
      if (looksAt(c, lock)) {
        looks.set(c.run, (looks.get(c.run) ?? 0) + 1);
        if (atBarrier.has(c.run) && c.run === 'second') secondMoved.resolve();
        return;
      }
      // The first call after a run's first look at the lock is where it acts on what it saw:
      // neither acts until both have seen the stale lock.
      if ((looks.get(c.run) ?? 0) === 0 || atBarrier.has(c.run)) return;
      atBarrier.add(c.run);
      if (atBarrier.size === 2) bothJudged.resolve();
      await bothJudged.promise;
      if (c.run === 'second') await firstInside.promise;
    });
    const inside = new Set<string>();
    const overlaps: string[] = [];
    const hold = (name: string) => async () => {
      if (inside.size) overlaps.push(`${name} got in while ${[...inside].join(', ')} held the lock`);
      inside.add(name);
      if (name === 'first') {
        firstInside.resolve();
        // Held until the second run has acted on the stale lock it saw (and either got in, or
        // looked again because it did not).
        await secondMoved.promise;
      } else secondMoved.resolve();
      inside.delete(name);
    };
    const stale: string[] = [];
    await Promise.all([
      named('first', () => withCredentialFileLock(path.join(dir, 'config.json'), hold('first'), { onStale: (l) => stale.push(l) })),
      named('second', () => withCredentialFileLock(path.join(dir, 'config.json'), hold('second'), { onStale: (l) => stale.push(l) })),
    ]);
    assert.deepEqual(overlaps, []);
    assert.deepEqual(stale, [lock], 'the stale lock is taken over once');
    assert.deepEqual(await fsp.readdir(dir), [], 'no lock, claim or temp file left');
  });
});

describe('a release racing a takeover', () => {
  it('the holder, judged stale while it held the lock, releases while another run takes over: the new holder keeps its lock', { timeout: 20_000 }, async (t) => {
    // Was: the holder read its token in the lock, and between that read and its removal another
    // run took the (stale) lock over; the removal then took the new holder's lock, and a third
    // run could get in beside it.
    const { dir, file, lock } = await tempFile();
    const waiterMoved = later(); // the waiter got in, or looked at the lock again
    const holderReleased = later();
    let waiterLooks = 0;
    let waiter: Promise<void> | undefined;
    let lockWhileWaiterHeld: boolean | undefined;
    gateFs(t, async (c) => {
      if (c.run === 'waiter' && looksAt(c, lock) && ++waiterLooks >= 2) waiterMoved.resolve();
      if (c.run === 'holder' && removes(c, lock) && !waiter) {
        // The holder is about to remove the lock it judged its own. Another run comes now, finds
        // the lock stale (the holder kept it a minute) and acts on it, and only then does the
        // holder's removal go through.
        waiter = named('waiter', () =>
          withCredentialFileLock(file, async () => {
            waiterMoved.resolve();
            await holderReleased.promise;
            lockWhileWaiterHeld = await exists(lock);
          }),
        );
        await waiterMoved.promise;
      }
    });
    await named('holder', () =>
      withCredentialFileLock(file, async () => {
        const old = new Date(Date.now() - 60_000);
        await fsp.utimes(lock, old, old); // held past staleMs, stopped
      }, STOPPED),
    );
    holderReleased.resolve();
    assert.ok(waiter, 'the holder never removed its lock');
    await waiter;
    assert.equal(lockWhileWaiterHeld, true, 'the lock was gone while the waiter held it: the holder removed the waiter\'s lock');
    assert.deepEqual(await fsp.readdir(dir), [], 'no lock, claim or temp file left');
  });

  it('a takeover under way when the holder releases: the release leaves the lock to it, and a third run still waits', { timeout: 20_000 }, async (t) => {
    // The waiter has judged the holder's lock stale and is about to put its own in place when the
    // holder releases. Whatever the release does, a third run coming after it must not get in
    // beside the waiter.
    const { dir, file, lock } = await tempFile();
    const waiterLooks = { before: 0, after: 0 };
    let atInstall = false;
    const waiterAtInstall = later();
    const thirdMoved = later(); // the third run got in, or looked at the lock again
    const waiterInsideOrWaiting = later();
    let thirdLooks = 0;
    gateFs(t, async (c) => {
      if (c.run === 'third' && looksAt(c, lock) && ++thirdLooks >= 2) thirdMoved.resolve();
      if (c.run !== 'waiter') return;
      if (looksAt(c, lock)) {
        if (atInstall) {
          waiterLooks.after++;
          waiterInsideOrWaiting.resolve();
        } else waiterLooks.before++;
        return;
      }
      // The waiter's first attempt to put a lock in place after it saw the stale one.
      if (waiterLooks.before > 0 && !atInstall && installs(c, lock)) {
        atInstall = true;
        waiterAtInstall.resolve();
        await thirdMoved.promise;
      }
    });
    const inside = new Set<string>();
    const overlaps: string[] = [];
    const enter = (name: string) => {
      if (inside.size) overlaps.push(`${name} got in while ${[...inside].join(', ')} held the lock`);
      inside.add(name);
    };
    let waiter: Promise<void> | undefined;
    await named('holder', () =>
      withCredentialFileLock(file, async () => {
        const old = new Date(Date.now() - 60_000);
        await fsp.utimes(lock, old, old);
        waiter = named('waiter', () =>
          withCredentialFileLock(file, async () => {
            enter('waiter');
            waiterInsideOrWaiting.resolve();
            inside.delete('waiter');
          }),
        );
        await waiterAtInstall.promise;
      }, STOPPED),
    );
    // The holder's release is over; the waiter has not yet put its lock in place.
    const third = named('third', () =>
      withCredentialFileLock(file, async () => {
        enter('third');
        thirdMoved.resolve();
        await waiterInsideOrWaiting.promise;
        inside.delete('third');
      }),
    );
    await Promise.all([waiter, third]);
    assert.deepEqual(overlaps, []);
    assert.deepEqual(await fsp.readdir(dir), [], 'no lock, claim or temp file left');
  });
});

describe('a run killed while it takes over a stale lock', () => {
  const lockModule = fileURLToPath(new URL('../../src/auth/credential-lock.js', import.meta.url));

  it('what it leaves (a claim) is itself taken for stale, and the next run gets the lock', { skip: process.platform === 'win32', timeout: 30_000 }, async () => {
    const { dir, file, lock } = await tempFile();
    await deadLock(lock);
    // The child takes the stale lock over and is killed (SIGKILL: no exit handler runs) at its
    // last step, the replacement of the lock.
    const script =
      `import { promises as fsp } from 'node:fs';\n` +
      `import { mock } from 'node:test';\n` +
      `import { withCredentialFileLock } from ${JSON.stringify(lockModule)};\n` +
      `const rename = fsp.rename.bind(fsp);\n` +
      `mock.method(fsp, 'rename', async (from, to) => { if (to === ${JSON.stringify(lock)}) process.kill(process.pid, 'SIGKILL'); return rename(from, to); });\n` +
      `await withCredentialFileLock(${JSON.stringify(file)}, async () => {});\n`;
    const signal = await new Promise<NodeJS.Signals | null>((resolve) => execFile(process.execPath, ['--input-type=module', '-e', script]).on('exit', (_c, s) => resolve(s)));
    assert.equal(signal, 'SIGKILL', 'the child was not killed at the replacement of the lock');
    const left = await fsp.readdir(dir);
    assert.ok(left.some((f) => f.endsWith('.claim')), `the child left no claim: ${left.join(', ')}`);
    // Everything it left is a minute old by now (as after staleMs).
    const old = new Date(Date.now() - 60_000);
    for (const f of left) await fsp.utimes(path.join(dir, f), old, old);
    const stale: string[] = [];
    assert.equal(await withCredentialFileLock(file, async () => 'held', { onStale: (l) => stale.push(l) }), 'held');
    assert.deepEqual(stale, [lock]);
    assert.deepEqual(await fsp.readdir(dir), [], 'the killed run\'s claim and spare lock file are swept, and the lock released');
  });
});

describe('real processes on one stale lock', () => {
  const lockModule = fileURLToPath(new URL('../../src/auth/credential-lock.js', import.meta.url));

  it('6 processes and 2 runs here all start on a lock a dead run left: it is taken over once, and no two hold it at once', { skip: process.platform === 'win32', timeout: 60_000 }, async () => {
    // Not a forced interleaving (the ones above are): whatever order these take, the outcome
    // must be the same. Each holder creates `inside` with O_EXCL while it holds the lock, so two
    // holders at once fail the second's create.
    const { dir, file, lock } = await tempFile();
    await deadLock(lock);
    const inside = path.join(dir, 'inside');
    const hold = async () => {
      await (await fsp.open(inside, 'wx')).close();
      await new Promise((r) => setImmediate(r));
      await fsp.rm(inside);
    };
    const script =
      `import { promises as fsp } from 'node:fs';\n` +
      `import { withCredentialFileLock } from ${JSON.stringify(lockModule)};\n` +
      `await withCredentialFileLock(${JSON.stringify(file)}, async () => {\n` +
      `  await (await fsp.open(${JSON.stringify(inside)}, 'wx')).close();\n` +
      `  await new Promise((r) => setImmediate(r));\n` +
      `  await fsp.rm(${JSON.stringify(inside)});\n` +
      `}, { onStale: () => process.stdout.write('took over\\n') });\n`;
    const child = () =>
      new Promise<string>((resolve, reject) =>
        execFile(process.execPath, ['--input-type=module', '-e', script], (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout))),
      );
    const here: string[] = [];
    const outs = await Promise.all([
      ...Array.from({ length: 6 }, child),
      ...Array.from({ length: 2 }, () => withCredentialFileLock(file, hold, { onStale: () => here.push('took over\n') }).then(() => '')),
    ]);
    assert.equal([...outs, ...here].join('').split('\n').filter(Boolean).length, 1, 'the stale lock was taken over other than once');
    assert.deepEqual(await fsp.readdir(dir), []);
  });
});

describe('a run that waits before taking a stale lock over', () => {
  it('installs a lock as fresh as its takeover, though it waited behind a claim: a run arriving then waits for it (a spare kept while waiting kept its old mtime, and was taken over at once)', { timeout: 20_000 }, async (t) => {
    const { dir, file, lock } = await tempFile();
    await deadLock(lock);
    // A claim on the dead lock, as a run killed in its takeover leaves it: this run waits behind it.
    const st = await fsp.stat(lock, { bigint: true });
    const { createHash } = await import('node:crypto');
    const id = `${st.dev}:${st.ino}:${await fsp.readFile(lock, 'utf8')}`;
    const claim = `${lock}.${createHash('sha256').update(id).digest('hex').slice(0, 16)}.claim`;
    await fsp.writeFile(claim, '4243 killed-in-its-takeover\n');
    let aged = false;
    gateFs(t, async (c) => {
      // The first time run A tries for that claim: the time it then waits passes at once (its
      // spare, if made already, and the claim age past the stale bound).
      if (aged || c.run !== 'A' || c.op !== 'open' || c.file !== claim || !/x/.test(c.flags ?? '')) return;
      aged = true;
      const old = new Date(Date.now() - 60_000);
      for (const name of await fsp.readdir(dir)) if (name.endsWith('.tmp') || name.endsWith('.claim')) await fsp.utimes(path.join(dir, name), old, old);
    });
    const order: string[] = [];
    const stale: string[] = [];
    let b: Promise<void> | undefined;
    await named('A', () =>
      withCredentialFileLock(file, async () => {
        order.push('A in');
        b = withCredentialFileLock(file, async () => void order.push('B in'), { onStale: () => stale.push('B') });
        await new Promise((r) => setTimeout(r, 100)); // B tries several times meanwhile
        order.push('A out');
      }, { onStale: () => stale.push('A') }),
    );
    await b;
    assert.ok(aged, 'A waited behind the claim');
    assert.deepEqual(stale, ['A'], 'only A took a stale lock over');
    assert.deepEqual(order, ['A in', 'A out', 'B in']);
    assert.deepEqual(await fsp.readdir(dir), []);
  });

  it('a lock this user cannot read (another user\'s) is judged by its inode and mtime: waited for while fresh, taken over when stale (opening it for reading failed the login with EACCES)', { timeout: 20_000 }, async (t) => {
    const { dir, file, lock } = await tempFile();
    await deadLock(lock);
    const original = fsp.open.bind(fsp);
    t.mock.method(fsp, 'open', async (...args: Parameters<typeof fsp.open>) => {
      // The other user's lock files only (4242…, 4244…): this run's own it can read.
      const foreign = String(args[0]) === lock && !/[wax+]/.test(String(args[1] ?? 'r')) && /^424[24] /.test(await fsp.readFile(lock, 'utf8').catch(() => ''));
      if (foreign) throw Object.assign(new Error(`EACCES: permission denied, open '${lock}'`), { code: 'EACCES' });
      return original(...args);
    });
    const stale: string[] = [];
    assert.equal(await withCredentialFileLock(file, async () => 'held', { onStale: (l) => stale.push(l) }), 'held');
    assert.deepEqual(stale, [lock]);
    // A fresh unreadable lock is waited for, then taken when its holder releases it.
    await fsp.writeFile(lock, '4244 another-user\n');
    const waited = withCredentialFileLock(file, async () => 'after', { onStale: (l) => stale.push(l) });
    await new Promise((r) => setTimeout(r, 50));
    await fsp.rm(lock);
    assert.equal(await waited, 'after');
    assert.deepEqual(stale, [lock], 'the fresh one was not taken over');
    assert.deepEqual(await fsp.readdir(dir), []);
  });
});

describe('a holder that holds its lock past staleMs', () => {
  it('keeps it while it is alive: its heartbeat refreshes the lock, and a run arriving then waits for it (was: any lock 10 s old was taken over, its holder still in its read-modify-write)', { timeout: 20_000 }, async (t) => {
    const { dir, file, lock } = await tempFile();
    let waiterLooks = 0;
    const waiterWaits = later(); // the waiter looked at the lock twice: it waited between the two, or got in
    gateFs(t, (c) => {
      if (c.run === 'waiter' && looksAt(c, lock) && ++waiterLooks >= 2) waiterWaits.resolve();
    });
    const order: string[] = [];
    const stale: string[] = [];
    let waiter: Promise<void> | undefined;
    let refreshed = false;
    await withCredentialFileLock(
      file,
      async () => {
        // The holder has been in here a minute (a stalled disk): without its heartbeat, the lock
        // would read a minute old now. It beats every 5 ms; the bound only ends the wait where
        // there is no heartbeat at all.
        const old = Date.now() - 60_000;
        await fsp.utimes(lock, new Date(old), new Date(old));
        for (let i = 0; i < 1000 && !refreshed; i++) {
          await new Promise((r) => setTimeout(r, 5));
          refreshed = (await fsp.stat(lock)).mtimeMs > old + 30_000;
        }
        waiter = named('waiter', () => withCredentialFileLock(file, async () => void order.push('waiter in'), { onStale: (l) => stale.push(l) }));
        await waiterWaits.promise;
        order.push('holder out');
      },
      { heartbeatMs: 5 },
    );
    await waiter;
    assert.ok(refreshed, 'the holder never refreshed its lock');
    assert.deepEqual(stale, [], 'the live holder\'s lock was taken over as stale');
    assert.deepEqual(order, ['holder out', 'waiter in']);
    assert.deepEqual(await fsp.readdir(dir), []);
  });

  it('a beat touches only the lock of the holder\'s generation: once another run has put its lock in place, the old holder\'s heartbeat leaves it as it is', { timeout: 20_000 }, async () => {
    const { dir, file, lock } = await tempFile();
    let swapped = false;
    await withCredentialFileLock(
      file,
      async () => {
        // Another run's lock stands at the path now (as after a takeover of a stopped holder), a minute old.
        // Put in place by a rename, as a takeover does: a beat never finds the path empty (it
        // would stop beating for good there, and the check below would pass for nothing).
        await deadLock(`${lock}.other`);
        await fsp.rename(`${lock}.other`, lock);
        swapped = true;
        const before = (await fsp.stat(lock)).mtimeMs;
        // Well past several beats of 1 ms.
        for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 5));
        assert.equal((await fsp.stat(lock)).mtimeMs, before, 'the heartbeat refreshed a lock that is not its holder\'s');
      },
      { heartbeatMs: 1 },
    );
    assert.ok(swapped);
    // The release left the other run's lock in place too.
    assert.deepEqual(await fsp.readdir(dir), ['config.json.lock']);
  });
});

describe('a holder that beats after it was judged stale', () => {
  it('a takeover re-checks the lock\'s age once it has won the claim: a holder that beat in between keeps its lock until it is stale again (was: taken over, a live holder)', { timeout: 20_000 }, async (t) => {
    const { file, lock } = await tempFile();
    await deadLock(lock);
    const STALE_MS = 600;
    let beatAt = 0;
    gateFs(t, async (c) => {
      // The moment the taker claims the stale generation, its holder, only stalled, beats.
      if (!beatAt && c.op === 'open' && c.file.endsWith('.claim') && /x/.test(c.flags ?? '')) {
        const now = new Date();
        await fsp.utimes(lock, now, now);
        beatAt = Date.now();
      }
    });
    let tookOverAt = 0;
    await named('taker', () => withCredentialFileLock(file, async () => {}, { staleMs: STALE_MS, onStale: () => (tookOverAt = Date.now()) }));
    assert.ok(beatAt > 0, 'the holder\'s beat came while the taker held its claim');
    assert.ok(tookOverAt > 0, 'the lock was taken over once stale again');
    assert.ok(tookOverAt - beatAt >= STALE_MS, `taken over ${tookOverAt - beatAt} ms after the holder's beat, before it was stale again (${STALE_MS} ms)`);
  });
});

describe('claims left by a run killed just after its move', () => {
  const lockModule = fileURLToPath(new URL('../../src/auth/credential-lock.js', import.meta.url));

  for (const at of ['release', 'takeover'] as const) {
    it(`killed right after its ${at === 'release' ? 'release\'s removal of the lock' : 'takeover\'s rename'}: its claim, once stale, is swept by the next run that gets the lock${at === 'release' ? ' (was: left in the folder for good, no lock being left to take over)' : ''}`, { skip: process.platform === 'win32', timeout: 30_000 }, async () => {
      const { dir, file, lock } = await tempFile();
      if (at === 'takeover') await deadLock(lock);
      // SIGKILL: no exit handler runs, and the claim's removal never comes.
      const op = at === 'release' ? 'unlink' : 'rename';
      const script =
        `import { promises as fsp } from 'node:fs';\n` +
        `import { mock } from 'node:test';\n` +
        `import { withCredentialFileLock } from ${JSON.stringify(lockModule)};\n` +
        `const original = fsp.${op}.bind(fsp);\n` +
        `mock.method(fsp, '${op}', async (...args) => { const r = await original(...args); if (args[${op === 'rename' ? 1 : 0}] === ${JSON.stringify(lock)}) process.kill(process.pid, 'SIGKILL'); return r; });\n` +
        `await withCredentialFileLock(${JSON.stringify(file)}, async () => {});\n`;
      const signal = await new Promise<NodeJS.Signals | null>((resolve) => execFile(process.execPath, ['--input-type=module', '-e', script]).on('exit', (_c, s) => resolve(s)));
      assert.equal(signal, 'SIGKILL', `the child was not killed after its ${op}`);
      const left = await fsp.readdir(dir);
      assert.deepEqual(left.filter((f) => f.endsWith('.claim')).length, 1, `the child left no claim: ${left.join(', ')}`);
      const old = new Date(Date.now() - 60_000);
      for (const f of left) await fsp.utimes(path.join(dir, f), old, old);
      assert.equal(await withCredentialFileLock(file, async () => 'held'), 'held');
      assert.deepEqual(await fsp.readdir(dir), [], 'the killed run\'s claim is swept, and the lock released');
    });
  }
});

describe('withCredentialFileLock: a lock whose time is ahead of this machine\'s clock', () => {
  it('left by a run that died before the clock was set back (a VM stepped back by NTP after boot; a folder restored with future times): taken over once this run has seen it unchanged for staleMs (was: waited for until the clock reached its time, every login stuck meanwhile)', { timeout: 20_000 }, async () => {
    const { dir, file, lock } = await tempFile();
    await fsp.writeFile(lock, '4242 a-run-that-died\n');
    const ahead = new Date(Date.now() + 3_600_000);
    await fsp.utimes(lock, ahead, ahead);
    const stale: string[] = [];
    let ran = false;
    await withCredentialFileLock(file, async () => void (ran = true), { staleMs: 200, onStale: (l) => stale.push(l) });
    assert.ok(ran);
    assert.deepEqual(stale, [lock]);
    assert.deepEqual(await fsp.readdir(dir), []);
  });

  it('"seen unchanged for staleMs" is measured on a monotonic clock: the wall clock stepped back while this run waits (NTP) neither lengthens it nor makes it never end (was: Date.now, by which the lock was never seen unchanged long enough)', { timeout: 20_000 }, async () => {
    const { dir, file, lock } = await tempFile();
    await fsp.writeFile(lock, '4242 a-run-that-died\n');
    const ahead = new Date(Date.now() + 3_600_000);
    await fsp.utimes(lock, ahead, ahead);
    // The wall clock goes back a second at every reading: by it, no span ever passes.
    const wall = Date.now;
    let steps = 0;
    Date.now = () => wall() - 1_000 * steps++;
    let ran = false;
    try {
      await withCredentialFileLock(file, async () => void (ran = true), { staleMs: 200 });
    } finally {
      Date.now = wall;
    }
    assert.ok(ran);
    assert.deepEqual(await fsp.readdir(dir), []);
  });
});
