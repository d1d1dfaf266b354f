#!/usr/bin/env node
// What `npm test` runs after `tsc`: starts the test registries (unless REGPUSH_TEST_EXTERNAL=1,
// when they must already run), runs every dist/test/**/*.test.js with node:test one file at a
// time, stops the registries it started (also on SIGINT/SIGTERM), and exits with the runner's
// status. REGPUSH_TEST_STATE is passed to the tests.
//
// Each run has one temporary folder, $TMPDIR/regpush-tests-<pid>-XXXXXX (scripts/lib/run-temp.mjs):
// the tests' TMPDIR points into it, so every folder a test makes with os.tmpdir() is inside, and it
// is removed when the run ends, on SIGINT/SIGTERM/SIGHUP too (after the tests have stopped). Those
// left by runs killed outright are removed by a later run once an hour old. REGPUSH_TEST_KEEP=1
// keeps it (its path is printed).
//
//   node scripts/test.mjs [FILE_OR_DIR ...]   (default: dist/test; *.test.js files only)
//   node scripts/test.mjs --no-registries [FILE_OR_DIR ...]
//       (`npm run test:unit`) starts no registry and runs the tiers that need none, by default
//       dist/test/unit and dist/test/protocol (in-process servers and the fake registry only).
//       Nothing is shared between those files, so node --test runs them in parallel.
//
// Only *.test.js files are handed to node --test: node 20 would otherwise also run every .js
// file under a directory named `test` (the harness, fixtures) as a test file.

import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { REPO_ROOT, testEnv } from './lib/test-env.mjs';
import { keepRunTemp, makeRunTemp, removeRunTemp, sweepStaleRunTemps } from './lib/run-temp.mjs';
import { start, stop } from './registries.mjs';

/** How long the runner waits, after a signal, for the tests to end before it kills them. */
const CHILD_GRACE_MS = 10_000;

function findTests(p, out = []) {
  const st = statSync(p);
  if (st.isFile()) { out.push(p); return out; }
  for (const e of readdirSync(p, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.name === 'node_modules') continue;
    const q = join(p, e.name);
    if (e.isDirectory()) findTests(q, out);
    else if (e.isFile() && e.name.endsWith('.test.js')) out.push(q);
  }
  return out;
}

async function main() {
  const args = process.argv.slice(2);
  const noRegistries = args.includes('--no-registries');
  const unknown = args.filter((a) => a.startsWith('--') && a !== '--no-registries');
  if (unknown.length) throw new Error(`unknown option ${unknown[0]} (known: --no-registries)`);
  const targets = args.filter((a) => !a.startsWith('--')).map((a) => resolve(a));
  if (targets.length === 0) {
    if (noRegistries) targets.push(join(REPO_ROOT, 'dist', 'test', 'unit'), join(REPO_ROOT, 'dist', 'test', 'protocol'));
    else targets.push(join(REPO_ROOT, 'dist', 'test'));
  }
  for (const t of targets) if (!existsSync(t)) throw new Error(`${t} does not exist (did tsc run?)`);
  // Skip stale compiled tests whose TypeScript source is gone (tsc never deletes outputs).
  const distDir = join(REPO_ROOT, 'dist') + '/';
  const files = targets.flatMap((t) => findTests(t)).filter((f) => {
    if (!f.startsWith(distDir)) return true;
    const src = join(REPO_ROOT, f.slice(distDir.length)).replace(/\.js$/, '');
    if (['.ts', '.mts', '.tsx'].some((ext) => existsSync(src + ext))) return true;
    process.stderr.write(`test: skipping ${f} (no source file; stale build output)\n`);
    return false;
  });
  if (files.length === 0) throw new Error(`no *.test.js files under ${targets.join(', ')}`);

  const { stateDir } = testEnv();
  for (const d of sweepStaleRunTemps()) process.stderr.write(`test: removed ${d} (left by a run that was killed)\n`);
  const runTemp = makeRunTemp();
  if (process.env.REGPUSH_TEST_KEEP === '1') {
    keepRunTemp(runTemp);
    process.stderr.write(`test: REGPUSH_TEST_KEEP=1, the tests' temp files stay in ${runTemp}\n`);
  } else {
    process.on('exit', () => removeRunTemp(runTemp));
  }
  let started = false;
  let stopping;
  const stopOnce = () => (stopping ??= started ? stop().catch((e) => process.stderr.write(`test: stop failed: ${e.message}\n`)) : Promise.resolve());
  let child;
  let childExit;
  // The tests stop before their folder goes: node --test ends its file processes on the signal, and
  // one that has not ended after CHILD_GRACE_MS is killed.
  const childStopped = () => {
    if (!childExit) return Promise.resolve();
    const grace = setTimeout(() => child.kill('SIGKILL'), CHILD_GRACE_MS);
    return childExit.finally(() => clearTimeout(grace));
  };
  let signalled = false;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      signalled = true;
      process.stderr.write(`test: ${sig}, stopping\n`);
      child?.kill(sig);
      Promise.all([childStopped(), stopOnce()]).finally(() => process.exit(130));
    });
  }

  if (noRegistries) {
    process.stderr.write('test: --no-registries, starting none\n');
  } else if (process.env.REGPUSH_TEST_EXTERNAL === '1') {
    process.stderr.write(`test: REGPUSH_TEST_EXTERNAL=1, using the running registries (${stateDir})\n`);
  } else {
    started = true; // set before start() so a signal during start stops what is there
    const r = await start({ seed: true });
    started = r.started;
  }

  const code = await new Promise((res) => {
    // Test files share the registries (and their logs), so those runs take one file at a time.
    const concurrency = noRegistries ? [] : ['--test-concurrency=1'];
    const env = { ...process.env, TMPDIR: runTemp, ...(noRegistries ? {} : { REGPUSH_TEST_STATE: stateDir }) };
    child = spawn(process.execPath, ['--test', ...concurrency, ...files], { stdio: 'inherit', cwd: REPO_ROOT, env });
    childExit = new Promise((done) => {
      child.on('exit', done);
      child.on('error', done);
    });
    child.on('exit', (c, s) => res(c ?? (s ? 1 : 0)));
    child.on('error', (e) => { process.stderr.write(`test: ${e.message}\n`); res(1); });
  });
  await stopOnce();
  if (signalled) return 130; // the tests ended because they were told to, not by failing
  if (code !== 0) {
    // What a newcomer needs to tell a flaky test from a broken product.
    process.stderr.write('test: some tests failed; each "not ok" above names its file and assertion. Run one file alone:\n' +
      '  node scripts/test.mjs dist/test/<unit|protocol|e2e>/<name>.test.js\n' +
      'A failure that repeats alone is a defect; one that passes alone failed only under load (report it too).\n');
  }
  return code;
}

main().then((code) => process.exit(code), async (e) => {
  process.stderr.write(`test: ${e.message}\n`);
  process.exit(1);
});
