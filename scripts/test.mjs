#!/usr/bin/env node
// What `npm test` runs after `tsc`: starts the test registries (unless REGPUSH_TEST_EXTERNAL=1,
// when they must already run), runs every dist/test/**/*.test.js with node:test one file at a
// time, stops the registries it started (also on SIGINT/SIGTERM), and exits with the runner's
// status. REGPUSH_TEST_STATE is passed to the tests.
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
import { start, stop } from './registries.mjs';

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
  let started = false;
  let stopping;
  const stopOnce = () => (stopping ??= started ? stop().catch((e) => process.stderr.write(`test: stop failed: ${e.message}\n`)) : Promise.resolve());
  let child;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      process.stderr.write(`test: ${sig}, stopping\n`);
      child?.kill(sig);
      stopOnce().finally(() => process.exit(130));
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
    child = spawn(process.execPath, ['--test', ...concurrency, ...files], {
      stdio: 'inherit', cwd: REPO_ROOT, env: noRegistries ? process.env : { ...process.env, REGPUSH_TEST_STATE: stateDir },
    });
    child.on('exit', (c, s) => res(c ?? (s ? 1 : 0)));
    child.on('error', (e) => { process.stderr.write(`test: ${e.message}\n`); res(1); });
  });
  await stopOnce();
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
