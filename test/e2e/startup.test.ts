// What the bundled CLI loads (start-up cost, docs/performance.md): `--version` reads only the small
// launcher, and a command loads neither the Node modules the bundle leaves out on purpose (http2,
// undici behind fetch/FormData, child_process without a credential helper) nor anything it did not
// need before.
// Structure, not timing: the speed itself is measured by `npm run bench`.
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { VERSION } from '../../src/version.js';
import { exec, imageRef, loadState, repoRoot, runCli, tempDir } from './harness.js';

const R = loadState().registries;
const MARK = 'REGPUSH-TEST-LOADED ';

/**
 * A --require preload that reports, at exit, the dist/cli files the process read (through Node's
 * module loader or, for the CLI bundle and its code cache, the launcher's own reads), the files
 * in Node's require cache, and the Node built-ins it loaded.
 */
function preload(): string {
  const file = join(tempDir('regpush-startup-'), 'report-loaded.cjs');
  writeFileSync(
    file,
    `const fs = require('node:fs');
const path = require('node:path');
const inCli = (f) => /[\\/]dist[\\/]cli[\\/]/.test(String(f));
const read = new Set();
const readFileSync = fs.readFileSync;
fs.readFileSync = function (f, ...rest) {
  if (inCli(f)) read.add(path.basename(String(f)));
  return readFileSync.call(this, f, ...rest);
};
process.on('exit', () => {
  const required = Object.keys(require.cache).filter(inCli).map((f) => path.basename(f));
  const builtins = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13));
  process.stderr.write('\\n${MARK}' + JSON.stringify({ files: [...new Set([...read, ...required])].sort(), required: required.sort(), builtins }) + '\\n');
});
`,
  );
  return file;
}

interface Loaded {
  code: number;
  stdout: string;
  stderr: string;
  files: string[];
  required: string[];
  builtins: string[];
}

async function loaded(args: string[], nodeOptions = ''): Promise<Loaded> {
  const r = await runCli(args, { env: { NODE_OPTIONS: `${nodeOptions} --require ${preload()}`.trim() } });
  const line = r.stderr.split('\n').find((l) => l.startsWith(MARK));
  assert.ok(line, `no load report in stderr:\n${r.stderr}`);
  return { ...r, ...(JSON.parse(line.slice(MARK.length)) as Pick<Loaded, 'files' | 'required' | 'builtins'>) };
}

interface MainLoader {
  SYNC_CACHE: string;
  compile(dir: string, cacheName?: string): { cached: boolean; script: { cachedDataRejected?: boolean } };
}

/** scripts/bundle-main-loader.cjs, the code the launcher bundles to load the CLI. */
function loader(): MainLoader {
  return createRequire(import.meta.url)(join(repoRoot, 'scripts', 'bundle-main-loader.cjs')) as MainLoader;
}

const LEFT_OUT = ['http2', 'child_process', 'internal/deps/undici/undici'];

test('--version loads the launcher only: no CLI bundle, no http, no zlib', async () => {
  const r = await loaded(['--version']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^\d+\.\d+\.\d+\n$/);
  assert.deepEqual(r.files, ['regpush.cjs']);
  for (const m of ['http', 'https', 'zlib', 'crypto']) assert.ok(!r.builtins.includes(m), `--version loaded node:${m}`);
});

test(`inspect loads the CLI bundle but none of ${LEFT_OUT.join(', ')}`, async () => {
  const r = await loaded(['inspect', imageRef(R.anon, 'base/busybox:v2s2')]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.files, ['regpush-main.cjs', 'regpush-main.cjs.cache', 'regpush.cjs']);
  for (const m of LEFT_OUT) assert.ok(!r.builtins.includes(m), `inspect loaded ${m}`);
});

test('the CLI bundle is compiled from the V8 code cache the build made, and V8 accepts it', () => {
  const r = loader().compile(join(repoRoot, 'dist', 'cli'));
  assert.equal(r.cached, true);
  assert.equal(r.script.cachedDataRejected, false);
});

test('sync loads its own code cache (the one trained on a sync too), every other command the common one', async () => {
  // The sync cache holds the functions a sync compiles beyond a push's (YAML, the sync file's checks):
  // in the common cache every push would pay to deserialise them.
  const dir = tempDir('regpush-startup-sync-');
  const file = join(dir, 'sync.yaml');
  writeFileSync(file, `images:\n  - { source: ${R.anon.host}/base/busybox, tags: ["v2s2"], targets: ["${R.anon.host}/startup-sync"] }\n`);
  const sync = await loaded(['sync', file, '--dry-run']);
  assert.equal(sync.code, 0, sync.stderr);
  assert.deepEqual(sync.files, ['regpush-main.cjs', 'regpush-main.cjs.sync.cache', 'regpush.cjs']);
  const flagFirst = await loaded(['--quiet', 'sync', file, '--dry-run']);
  assert.ok(flagFirst.files.includes('regpush-main.cjs.sync.cache'), flagFirst.files.join(', '));
  // Accepted by V8, checked in a process of its own (this one has compiled the same source already).
  const check = `const l = require(${JSON.stringify(join(repoRoot, 'scripts', 'bundle-main-loader.cjs'))}); const c = l.compile(${JSON.stringify(join(repoRoot, 'dist', 'cli'))}, l.SYNC_CACHE);` +
    'console.log(c.cached && c.script.cachedDataRejected === false)';
  const r = await exec(process.execPath, ['-e', check]);
  assert.equal(r.stdout.trim(), 'true', r.stderr);
});

test('the code cache is recorded from a training run that reaches the registry (no fallback to caching every function)', async () => {
  // The build trains the cache with a push and a copy against a stand-in registry and falls back,
  // with a warning only, when that run fails: here a failure is an error, so a change that breaks
  // the training (a new exit code, a command that no longer gets that far) fails this test.
  const dir = tempDir('regpush-trained-cache-');
  copyFileSync(join(repoRoot, 'dist', 'cli', 'regpush-main.cjs'), join(dir, 'regpush-main.cjs'));
  const script = `require(${JSON.stringify(join(repoRoot, 'scripts', 'bundle-code-cache.cjs'))}).makeCodeCache(${JSON.stringify(dir)}, { fallback: false })` +
    '.then((n) => { console.log(n); process.exit(0); }, (e) => { console.error(e.message); process.exit(1); })';
  const r = await exec(process.execPath, ['-e', script]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(Number(r.stdout.trim()) > 0, r.stdout);
  const c = loader().compile(dir);
  assert.equal(c.cached, true);
  assert.equal(c.script.cachedDataRejected, false);
  assert.ok(statSync(join(dir, loader().SYNC_CACHE)).size > statSync(join(dir, 'regpush-main.cjs.cache')).size, 'the sync cache holds the sync run\'s functions as well');
});

test('a code cache made for other source is not used, even when the source keeps its length', async () => {
  // V8 itself compares only the source length: a stale cache would run the old code. The launcher
  // compares a SHA-256 of the source, so an edit of the same length (here the version string) runs the edit.
  const dir = tempDir('regpush-stale-cache-');
  for (const f of ['regpush.cjs', 'regpush-main.cjs', 'regpush-main.cjs.cache']) copyFileSync(join(repoRoot, 'dist', 'cli', f), join(dir, f));
  const main = readFileSync(join(dir, 'regpush-main.cjs'), 'utf8');
  const version = JSON.stringify(VERSION);
  assert.equal(main.split(version).length, 2, `the bundle holds ${version} once`);
  const edited = JSON.stringify(VERSION.replace(/\d/g, (d) => String((Number(d) + 1) % 10)));
  writeFileSync(join(dir, 'regpush-main.cjs'), main.replace(version, edited));
  assert.equal(loader().compile(dir).cached, false);
  const r = await exec(process.execPath, [join(dir, 'regpush.cjs'), '--version', '--quiet']);
  assert.equal(r.stdout.trim(), JSON.parse(edited));
});

test('with --enable-source-maps the CLI bundle goes through Node\'s own loader (mapped stack traces)', async () => {
  const r = await loaded(['inspect', imageRef(R.anon, 'base/busybox:v2s2')], '--enable-source-maps');
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.required, ['regpush-main.cjs', 'regpush.cjs']);
  assert.ok(!r.files.includes('regpush-main.cjs.cache'));
});

test(`a push (dry run, with an app directory) loads none of ${LEFT_OUT.join(', ')}`, async () => {
  const app = tempDir('regpush-startup-app-');
  writeFileSync(join(app, 'hello.txt'), 'hello\n');
  const r = await loaded(['push', '--from', imageRef(R.anon, 'base/busybox:v2s2'), '--to', `${R.anon.host}/startup/check:1`, '--app', app, '--dry-run']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.builtins.includes('zlib'), 'the layer build uses zlib');
  for (const m of LEFT_OUT) assert.ok(!r.builtins.includes(m), `push loaded ${m}`);
});
