// Writes dist/cli/regpush-main.cjs.cache and regpush-main.cjs.sync.cache: each the SHA-256 of the
// CLI bundle, then a V8 code cache for it (run by scripts/bundle.mjs after esbuild, in a process of
// its own; read by scripts/bundle-main-loader.cjs at every start, the second for `regpush sync`).
//
// V8 compiles functions lazily, on first call, and a cache holds the functions compiled when it
// is serialised. Which ones it should hold was measured on a warm push over loopback (medians of
// 16 interleaved runs, 2026-12-06, a 720 kB bundle):
//   - none: 338 ms; only the top level (0.2 MB): 376 ms, noisy;
//   - every function (compiled with --no-lazy, 2.2 MB): 311 ms — V8 spends ~30 ms of each start
//     deserialising code a run mostly never calls;
//   - the functions a run compiles (0.8 MB): 278–286 ms, and 15–35 ms sooner at `arguments parsed`.
// So the cache is recorded from a training run: the bundle is compiled lazily and its main() runs
// a push (with a small app directory, so the layer build ahead runs too) and a copy against a
// stand-in registry on 127.0.0.1 that has no images. Both fail at the base ("not found"), after
// argument parsing, option checks, credential lookup, the HTTP stack and the error path have run,
// which is where a start spends its time before the first answer; what runs later is compiled
// while the network answers. The run reads no credentials (HOME and DOCKER_CONFIG point nowhere)
// and writes nothing but the caches (its sync file lives in a temp directory while it runs). The
// sync cache is recorded after a sync as well, whose file parsing, YAML and checks a push never
// runs (SYNC_CACHE in the loader: measured 2026-12-07, a sync re-run of 12 images −15 ms of CPU,
// where one cache with the sync's functions cost every push ~5 ms to deserialise). If the
// training fails, the cache of every function is written to both instead, with a warning: a
// slower start, not a failed build.
'use strict';
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const vm = require('node:vm');
const v8 = require('node:v8');
const { Writable } = require('node:stream');
const { createRequire } = require('node:module');
const { execFileSync } = require('node:child_process');
const { MAIN, CACHE, SYNC_CACHE, HASH_BYTES, wrap, sourceHash, compile } = require('./bundle-main-loader.cjs');

/** How long the training run may take (it takes well under a second). */
const TRAINING_TIMEOUT_MS = 30_000;

/** Answers `GET /v2/` (an anonymous registry) and 404 MANIFEST_UNKNOWN to everything else. */
async function standInRegistry() {
  const server = http.createServer((req, res) => {
    req.resume();
    if (req.url === '/v2/' || req.url === '/v2') {
      res.writeHead(200, { 'content-type': 'application/json', 'docker-distribution-api-version': 'registry/2.0' });
      res.end('{}');
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return { host: `127.0.0.1:${server.address().port}`, close: () => (server.closeAllConnections(), new Promise((r) => server.close(r))) };
}

/** The training commands of the cache every command loads: what a deploy job runs most. */
function trainingRuns(host, app) {
  return [
    ['push', '--from', `${host}/train/base:1`, '--to', `${host}/train/app:1`, '--app', `${app}:/app`, '--workdir', '/app', '--entrypoint', 'dotnet', '--entrypoint', 'App.dll', '--env', 'A=1', '--port', '80'],
    ['copy', `${host}/train/base:1`, `${host}/train/copy:1`],
  ];
}

/** A sync file for the training run: two images at the stand-in, one with a tag filter, into one target prefix. */
function trainingSyncFile(host) {
  return [
    'defaults:',
    `  targets: [${host}/train-mirror]`,
    'images:',
    `  - { source: ${host}/train/a, tags: ["1"] }`,
    `  - { source: ${host}/train/b, tags: ["1", "2"] }`,
    '',
  ].join('\n');
}

/**
 * The caches of the functions the training runs compiled: `main` after the push and the copy,
 * `sync` after a sync as well (the loader picks it for `regpush sync`; SYNC_CACHE says why apart).
 */
async function trainedCaches(dir, bytes) {
  const file = path.join(dir, MAIN);
  const script = new vm.Script(wrap(bytes.toString('utf8')), { filename: file });
  const mod = { exports: {}, filename: file, id: file, loaded: false };
  script.runInThisContext().call(mod.exports, mod.exports, createRequire(file), mod, file, dir);
  const registry = await standInRegistry();
  const sink = new Writable({ write: (_chunk, _enc, done) => done() });
  const nowhere = path.join(dir, 'no-such-home');
  const env = { HOME: nowhere, DOCKER_CONFIG: nowhere, XDG_RUNTIME_DIR: nowhere, NO_COLOR: '1' };
  // The sync file lives in a directory of its own for the training's length (the build writes nothing else).
  const syncDir = fs.mkdtempSync(path.join(os.tmpdir(), 'regpush-train-'));
  const syncFile = path.join(syncDir, 'sync.yaml');
  fs.writeFileSync(syncFile, trainingSyncFile(registry.host));
  const run = async (argv) => {
    const io = { stdout: sink, stderr: sink, env, cwd: dir, get stdin() { return process.stdin; } };
    const code = await mod.exports.main(argv, io);
    // 4: the base (the sync's images) not found, as it must be here; anything else means the run did not get that far.
    if (code !== 4) throw new Error(`training run \`regpush ${argv[0]}\` exited ${code}, expected 4 (not found)`);
  };
  try {
    for (const argv of trainingRuns(registry.host, path.join(__dirname, 'lib'))) await run(argv);
    const main = script.createCachedData();
    await run(['sync', syncFile]);
    return { main, sync: script.createCachedData() };
  } finally {
    fs.rmSync(syncDir, { recursive: true, force: true });
    await registry.close();
  }
}

/**
 * The cache of every function (compiled eagerly): the fallback. In a process of its own: in the
 * one whose training failed, V8 would answer the compile from its in-memory cache of that lazy
 * script, whatever the flag.
 */
function eagerCacheApart(dir) {
  execFileSync(process.execPath, [__filename, '--eager', dir], { stdio: 'inherit' });
  return fs.readFileSync(path.join(dir, CACHE)).subarray(HASH_BYTES);
}

function eagerCache(dir, bytes) {
  v8.setFlagsFromString('--no-lazy');
  let script;
  try {
    script = new vm.Script(wrap(bytes.toString('utf8')), { filename: path.join(dir, MAIN) });
  } finally {
    // V8 rejects a cache made under other flags than the run's.
    v8.setFlagsFromString('--lazy');
  }
  return script.createCachedData();
}

/** Writes the caches for the bundle in `dir` (CACHE, SYNC_CACHE); `fallback: false` (the tests) makes a failed training run an error. Returns the bytes of CACHE's code. */
async function makeCodeCache(dir, { fallback = true } = {}) {
  const bytes = fs.readFileSync(path.join(dir, MAIN));
  let data;
  let timer;
  try {
    // A training run that hangs must not hang the build: it falls back like one that fails.
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${TRAINING_TIMEOUT_MS / 1000} s`)), TRAINING_TIMEOUT_MS);
    });
    data = await Promise.race([trainedCaches(dir, bytes), timeout]);
  } catch (err) {
    if (!fallback) throw err;
    console.warn(`bundle: the code cache's training run failed (${err.message}); caching every function instead`);
    const every = eagerCacheApart(dir);
    data = { main: every, sync: every };
  } finally {
    clearTimeout(timer);
  }
  fs.writeFileSync(path.join(dir, CACHE), Buffer.concat([sourceHash(bytes), data.main]));
  fs.writeFileSync(path.join(dir, SYNC_CACHE), Buffer.concat([sourceHash(bytes), data.sync]));
  return data.main.length;
}

if (require.main === module) {
  const mode = ['--check', '--eager'].includes(process.argv[2]) ? process.argv[2] : undefined;
  const dir = path.resolve(process.argv[mode ? 3 : 2] ?? path.join(__dirname, '..', 'dist', 'cli'));
  const cacheName = (mode === '--check' && process.argv[4]) || CACHE;
  if (mode === '--eager') {
    const bytes = fs.readFileSync(path.join(dir, MAIN));
    fs.writeFileSync(path.join(dir, CACHE), Buffer.concat([sourceHash(bytes), eagerCache(dir, bytes)]));
  } else if (mode === '--check') {
    // The check a start makes, in a fresh process (V8 would answer a repeat compile from memory).
    if (!compile(dir, cacheName).cached) {
      console.error(`bundle: V8 rejects the code cache ${cacheName} made for ${path.join(dir, MAIN)}`);
      process.exit(1);
    }
  } else {
    makeCodeCache(dir).then(
      () => {
        // A cache V8 would reject is a build error, not a silent slowdown.
        for (const name of [CACHE, SYNC_CACHE]) execFileSync(process.execPath, [__filename, '--check', dir, name], { stdio: 'inherit' });
        // The training run's sockets, timers and thread-pool work end with this process.
        process.exit(0);
      },
      (err) => {
        console.error(`bundle: ${err.stack ?? err}`);
        process.exit(1);
      },
    );
  }
}

module.exports = { makeCodeCache };
