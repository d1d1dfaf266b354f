// Bundled into dist/cli/regpush.cjs (see scripts/bundle.mjs) in place of src/cli/main.ts: loads
// dist/cli/regpush-main.cjs with the V8 code cache the build made for it, so a start does not
// parse and compile ~600 kB of JavaScript (measured: loading 46 → 24 ms, a warm push −40 ms).
// The cache is made at build time (scripts/bundle-code-cache.cjs), never at run time: regpush
// writes nothing to local disk. Without a usable cache (another Node version, a missing file)
// V8 compiles the source as usual.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const { createHash } = require('node:crypto');
const { createRequire } = require('node:module');

const MAIN = 'regpush-main.cjs';
const CACHE = `${MAIN}.cache`;
/**
 * The cache for `regpush sync`: the functions a push and a copy compile, and those a sync adds (its
 * file's YAML, its checks and report). One cache for all would hold them too, and every start
 * deserialises its whole cache: that cost a warm push ~5 ms of CPU for code it never runs, while
 * a sync without them compiled them at each start (~15 ms). Both caches are made for the same
 * source, so either serves any command; the choice is only about speed.
 */
const SYNC_CACHE = `${MAIN}.sync.cache`;

/** The cache to load for a command line: the command is its first word that is not a flag. */
function cacheFor(argv) {
  const command = argv.find((a) => !a.startsWith('-'));
  return command === 'sync' ? SYNC_CACHE : CACHE;
}
/** The cache file starts with the SHA-256 of the source it was made for: V8 itself checks only the source's length. */
const HASH_BYTES = 32;

/** The CommonJS wrapper; the build compiles exactly this text, so the cache matches it. */
function wrap(source) {
  return `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
}

function sourceHash(bytes) {
  return createHash('sha256').update(bytes).digest();
}

/** Compiles the CLI bundle in `dir` with a cache (`cacheName`, by default the one for every command) when it was made for this very source. */
function compile(dir, cacheName = CACHE) {
  const file = path.join(dir, MAIN);
  const bytes = fs.readFileSync(file);
  let cachedData;
  try {
    const cache = fs.readFileSync(path.join(dir, cacheName));
    if (cache.length > HASH_BYTES && cache.subarray(0, HASH_BYTES).equals(sourceHash(bytes))) cachedData = cache.subarray(HASH_BYTES);
  } catch {
    // no cache: compile from source
  }
  const script = new vm.Script(wrap(bytes.toString('utf8')), { filename: file, cachedData });
  return { file, script, cached: cachedData !== undefined && script.cachedDataRejected === false };
}

/** Runs the CLI bundle in `dir` as a CommonJS module, compiled with the cache for the command in `argv`, and returns its exports. */
function load(dir, argv = process.argv.slice(2)) {
  // Node maps stack traces through source maps only for modules it loads itself, not vm scripts;
  // whoever asked for mapped traces (--enable-source-maps) gets Node's own loader.
  if (process.sourceMapsEnabled) return require(path.join(dir, MAIN));
  const { file, script } = compile(dir, cacheFor(argv));
  const module = { exports: {}, filename: file, id: file, loaded: false };
  script.runInThisContext().call(module.exports, module.exports, createRequire(file), module, file, dir);
  module.loaded = true;
  return module.exports;
}

module.exports = { MAIN, CACHE, SYNC_CACHE, HASH_BYTES, cacheFor, wrap, sourceHash, compile, load };
