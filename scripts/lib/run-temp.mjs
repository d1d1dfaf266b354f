// The one temporary folder of a test run (scripts/test.mjs). The runner makes it, points the test
// processes' TMPDIR at it (so every os.tmpdir() in a test, and in the CLI runs, skopeo and umoci it
// starts, lands inside), and removes it when the run ends, also on SIGINT/SIGTERM. A run killed
// outright (SIGKILL, a crash of the machine) leaves it: the next run removes such folders once they
// are an hour old and their runner is gone. node: builtins only; no build step.

import { chmodSync, existsSync, lstatSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pidAlive } from './test-env.mjs';

/** `regpush-tests-<runner pid>-<6 random characters>`, mkdtemp's suffix: the only names the sweep touches. */
const PREFIX = 'regpush-tests-';
const NAME = /^regpush-tests-(\d+)-[A-Za-z0-9]{6}$/;
/** What the runner's command line holds, to tell a live run from a reused pid. */
const RUNNER = 'scripts/test.mjs';
/** A folder left by a killed run is removed once it has not changed for this long. */
export const STALE_MS = 60 * 60 * 1000;
/** A file in a run's folder that REGPUSH_TEST_KEEP=1 leaves there: the sweep never removes that folder. */
export const KEPT_MARK = 'KEPT';

/**
 * A new run folder under `base` (default: the runner's own temp dir), open as /tmp is (1777): tests
 * run as root check permission errors by running the CLI as `nobody`, which must reach their
 * folders in it and may make its own there, as it could in /tmp.
 */
export function makeRunTemp(base = tmpdir()) {
  const dir = mkdtempSync(join(base, `${PREFIX}${process.pid}-`));
  chmodSync(dir, 0o1777);
  return dir;
}

/** Marks `dir` as kept (REGPUSH_TEST_KEEP=1): left at exit, and never swept. */
export function keepRunTemp(dir) {
  writeFileSync(join(dir, KEPT_MARK), 'REGPUSH_TEST_KEEP=1: kept for inspection; remove it by hand\n');
}

/** Removes `dir` and everything in it; never throws (the runner is exiting). */
export function removeRunTemp(dir) {
  try {
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  } catch (e) {
    process.stderr.write(`test: could not remove ${dir}: ${e.message}\n`);
  }
}

/**
 * Removes the run folders under `base` that a killed run left: named as makeRunTemp names them, a
 * directory (not a link) of this user, unchanged for STALE_MS, not kept, and whose runner's pid is
 * no longer a test runner. Anything else there is left alone. Returns the folders removed.
 */
export function sweepStaleRunTemps(base = tmpdir(), now = Date.now()) {
  const removed = [];
  let names;
  try {
    names = readdirSync(base);
  } catch {
    return removed;
  }
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  for (const name of names) {
    const m = NAME.exec(name);
    if (!m) continue;
    const dir = join(base, name);
    let st;
    try {
      st = lstatSync(dir);
    } catch {
      continue;
    }
    if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) continue;
    if (now - st.mtimeMs < STALE_MS) continue;
    if (pidAlive(Number(m[1]), RUNNER) || existsSync(join(dir, KEPT_MARK))) continue;
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
      removed.push(dir);
    } catch {
      /* another runner's sweep, or a file we may not remove: left for next time */
    }
  }
  return removed;
}
