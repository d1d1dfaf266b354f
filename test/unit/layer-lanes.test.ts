import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { DiffIdHash, HASH_WORKER_MIN_LANES, START_AFTER } from '../../src/layer/hash-worker.js';
import { DEFAULT_BLOCK_SIZE, DEFAULT_GZIP_LEVEL, fixHeader } from '../../src/layer/gzip.js';
import { createLayerStream, hashLayer, type LayerOptions } from '../../src/layer/index.js';
import { chooseLanes, defaultLanes, MAX_DEFAULT_LANES, poolSizeFor, poolSizeFromEnv } from '../../src/layer/lanes.js';
import { resolveLayerOptions } from '../../src/layer/options.js';
import type { Logger } from '../../src/log.js';
import { flagNames, optionPaths } from '../../src/option-names.js';

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

let root: string;
let app: string;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'regpush-lanes-'));
  app = join(root, 'app');
  mkdirSync(join(app, 'lib'), { recursive: true });
  // ~4.7 MB: 18 blocks of 256 KiB, so 16 lanes are all busy at once and the diffID's worker
  // starts (past 4 MiB); text, random and file sizes that put block boundaries in the middle of
  // headers and file data.
  writeFileSync(join(app, 'lib', 'big.bin'), randomBytes(2_600_000));
  const words = 'const lane = block => deflate(block); // app-like text\n';
  writeFileSync(join(app, 'main.js'), words.repeat(30_000));
  for (let i = 0; i < 40; i++) writeFileSync(join(app, 'lib', `mod${i}.json`), JSON.stringify({ i, pad: 'x'.repeat(i * 977) }));
  writeFileSync(join(app, 'tail.bin'), randomBytes(DEFAULT_BLOCK_SIZE + 123));
});
after(() => rmSync(root, { recursive: true, force: true }));

async function build(opts: LayerOptions): Promise<{ bytes: Buffer; digest: string; diffId: string }> {
  const { stream, result } = createLayerStream(opts);
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  const r = await result;
  return { bytes: Buffer.concat(parts), digest: r.digest, diffId: r.diffId };
}

/** A recording logger. */
function recorder(): Logger & { lines: { level: string; line: string }[] } {
  const lines: { level: string; line: string }[] = [];
  return { lines, debug: (line) => lines.push({ level: 'debug', line }), info: (line) => lines.push({ level: 'info', line }), warn: (line) => lines.push({ level: 'warn', line }) };
}

describe('layer lanes: the bytes never depend on them', () => {
  it('1, 2, 3, 8 and 16 lanes give identical bytes: every block gzipped on its own, in order', async () => {
    const base: LayerOptions = { sources: [{ src: app, dest: '/app' }], threadPoolSize: 17 };
    const builds = new Map<number, { bytes: Buffer; digest: string; diffId: string }>();
    for (const lanes of [1, 2, 3, 8, 16]) {
      const b = await build({ ...base, gzipConcurrency: lanes });
      assert.equal(resolveLayerOptions({ ...base, gzipConcurrency: lanes }).concurrency, lanes, 'not capped');
      assert.equal(b.digest, sha256(b.bytes));
      assert.equal((await hashLayer({ ...base, gzipConcurrency: lanes })).digest, b.digest, `hash pass, ${lanes} lanes`);
      builds.set(lanes, b);
    }
    const one = builds.get(1)!;
    for (const [lanes, b] of builds) assert.ok(b.bytes.equals(one.bytes), `${lanes} lanes`);
    // The expected bytes computed without the lane machinery: the tar cut at every
    // DEFAULT_BLOCK_SIZE bytes, each block one gzip member of zlib at the default level, OS byte
    // set to Unix. Nothing here depends on the number of cores of the machine running the test.
    const tar = zlib.gunzipSync(one.bytes);
    // The diffID is the tar's SHA-256 whether hashed on the main thread or (16 lanes) on a worker.
    for (const [lanes, b] of builds) assert.equal(b.diffId, sha256(tar), `diffID, ${lanes} lanes`);
    assert.ok(tar.length > 12 * DEFAULT_BLOCK_SIZE, `${tar.length} bytes of tar: more blocks than 12 lanes`);
    const members: Buffer[] = [];
    for (let off = 0; off < tar.length; off += DEFAULT_BLOCK_SIZE) {
      const m = zlib.gzipSync(tar.subarray(off, off + DEFAULT_BLOCK_SIZE), { level: DEFAULT_GZIP_LEVEL });
      m[9] = 3;
      members.push(m);
    }
    assert.ok(Buffer.concat(members).equals(one.bytes));
  });

  it('level 0 (stored blocks, a library option) gives the same bytes for every lane count too: each block a member of its own, as zlib.gzipSync makes it', async () => {
    const base: LayerOptions = { sources: [{ src: app, dest: '/app' }], gzipLevel: 0, threadPoolSize: 17 };
    const one = await build({ ...base, gzipConcurrency: 1 });
    for (const lanes of [2, 3, 5, 16]) assert.equal((await build({ ...base, gzipConcurrency: lanes })).digest, one.digest, `${lanes} lanes`);
    const tar = zlib.gunzipSync(one.bytes);
    const members: Buffer[] = [];
    for (let off = 0; off < tar.length; off += DEFAULT_BLOCK_SIZE) {
      const m = zlib.gzipSync(tar.subarray(off, off + DEFAULT_BLOCK_SIZE), { level: 0, chunkSize: DEFAULT_BLOCK_SIZE + (DEFAULT_BLOCK_SIZE >> 8) + 1024 });
      m[9] = 3;
      members.push(m);
    }
    assert.ok(Buffer.concat(members).equals(one.bytes));
  });

  it('the OS byte is set where zlib split the member\'s header across two pieces (a host whose zlib writes another OS code: macOS 19)', () => {
    const member = zlib.gzipSync(Buffer.from('hello'));
    member[9] = 19;
    for (const cut of [1, 2, 5, 9, 10]) {
      const parts = [Buffer.from(member.subarray(0, cut)), Buffer.from(member.subarray(cut))];
      fixHeader(parts);
      const fixed = Buffer.concat(parts);
      assert.equal(fixed[9], 3, `cut after ${cut} bytes`);
      assert.ok(fixed.subarray(10).equals(member.subarray(10)) && fixed.subarray(0, 9).equals(member.subarray(0, 9)), 'nothing else changed');
    }
    // Not a gzip member: left alone.
    const other = [Buffer.from('0123456789abc')];
    fixHeader(other);
    assert.equal(other[0]!.toString(), '0123456789abc');
  });

  it('the default lanes, and lanes cut to a small pool, give those same bytes', async () => {
    const base: LayerOptions = { sources: [{ src: app, dest: '/app' }] };
    const ref = await build({ ...base, gzipConcurrency: 1 });
    assert.equal((await build(base)).digest, ref.digest);
    assert.equal((await build({ ...base, gzipConcurrency: 16, threadPoolSize: 2 })).digest, ref.digest);
  });
});

describe('layer lanes: the diffID on a worker thread', () => {
  it(`from ${HASH_WORKER_MIN_LANES} lanes; a stream destroyed early stops the worker (the test process would not end otherwise)`, async () => {
    const opts: LayerOptions = { sources: [{ src: app, dest: '/app' }], gzipConcurrency: HASH_WORKER_MIN_LANES, threadPoolSize: 64 };
    const log = recorder();
    const full = await build({ ...opts, logger: log });
    assert.match(log.lines[0]!.line, /; diffID hashed on a worker thread past 4 MiB of tar$/);
    assert.equal(full.diffId, sha256(zlib.gunzipSync(full.bytes)));
    for (let i = 0; i < 3; i++) {
      const { stream, result } = createLayerStream(opts);
      await new Promise<void>((r) => stream.once('data', () => r()));
      stream.destroy();
      await assert.rejects(result, { name: 'AbortedError', code: 'E_ABORTED', message: 'layer stream closed before its end' });
    }
    const one = recorder();
    await build({ ...opts, gzipConcurrency: HASH_WORKER_MIN_LANES - 1, logger: one });
    assert.doesNotMatch(one.lines[0]!.line, /worker/);
  });

  it('DiffIdHash: the main thread up to 4 MiB, a worker past it; the digest of createHash either way', async () => {
    const data = randomBytes(START_AFTER + 3 * DEFAULT_BLOCK_SIZE + 17);
    for (const [size, offThread] of [[START_AFTER, false], [data.length, true], [0, false]] as const) {
      const h = new DiffIdHash();
      const block = Buffer.alloc(DEFAULT_BLOCK_SIZE);
      for (let off = 0; off < size; off += DEFAULT_BLOCK_SIZE) {
        const n = data.copy(block, 0, off, Math.min(size, off + DEFAULT_BLOCK_SIZE));
        await h.update(block.subarray(0, n));
        block.fill(0xee); // reused at once, as the tar's block pool does
      }
      assert.equal(h.offThread, offThread, `${size} bytes`);
      assert.equal(`sha256:${await h.digest()}`, sha256(data.subarray(0, size)), `${size} bytes`);
      h.close();
    }
  });
});

describe('layer lanes: choice, thread pool and --debug', () => {
  it('default: one lane per usable core and two queued, at most MAX_DEFAULT_LANES', () => {
    assert.deepEqual([1, 2, 3, 4, 16, 30, 31, 128].map((c) => defaultLanes(c)), [3, 4, 5, 6, 18, 32, 32, 32]);
    assert.equal(MAX_DEFAULT_LANES, 32);
    const c16 = chooseLanes({ cores: 16, threadPoolSize: 19 });
    assert.equal(c16.lanes, 18);
    assert.match(c16.reason, /^18 gzip lanes \(default: 16 cores usable, one per core and 2 queued\), thread pool 19 \(threadPoolSize option\)$/);
    const c1 = chooseLanes({ cores: 1, env: { UV_THREADPOOL_SIZE: '4' } });
    assert.equal(c1.lanes, 3);
    assert.match(c1.reason, /^3 gzip lanes \(default: 1 core usable, one per core and 2 queued\), thread pool 4 \(UV_THREADPOOL_SIZE\)$/);
    const c64 = chooseLanes({ cores: 64, threadPoolSize: 64 });
    assert.equal(c64.lanes, 32);
    assert.match(c64.reason, /^32 gzip lanes \(default: 64 cores usable, at most 32 by default\)/);
  });

  it('the pool caps the lanes: option over env over libuv default 4', () => {
    // No pool size passed in: libuv's default is assumed, so 16 cores get 4 lanes, silently.
    const assumed = chooseLanes({ cores: 16 });
    assert.deepEqual([assumed.lanes, assumed.poolSize, assumed.poolSource, assumed.capped], [4, 4, 'libuv default', undefined]);
    assert.match(assumed.reason, /16 cores usable, capped to the pool.*libuv's default/);
    const env = chooseLanes({ cores: 16, env: { UV_THREADPOOL_SIZE: '9' } });
    assert.deepEqual([env.lanes, env.poolSize, env.poolSource], [9, 9, 'UV_THREADPOOL_SIZE']);
    const opt = chooseLanes({ cores: 16, env: { UV_THREADPOOL_SIZE: '9' }, threadPoolSize: 32 });
    assert.deepEqual([opt.lanes, opt.poolSize, opt.poolSource], [18, 32, 'option']);
    // An explicit request above the pool is cut and flagged (for the warning).
    const cut = chooseLanes({ requested: 16, env: { UV_THREADPOOL_SIZE: '6' } });
    assert.deepEqual([cut.lanes, cut.capped], [6, { requested: 16 }]);
    assert.deepEqual(chooseLanes({ requested: 6, env: { UV_THREADPOOL_SIZE: '6' } }).capped, undefined);
    assert.equal(resolveLayerOptions({ sources: [], gzipConcurrency: 16, env: { UV_THREADPOOL_SIZE: '3' } }).concurrency, 3);
  });

  it('UV_THREADPOOL_SIZE is read as libuv reads it; the CLI sizes the pool one above the lanes, never below 4', () => {
    const cases: [string | undefined, number | undefined][] = [[undefined, undefined], ['', undefined], ['8', 8], [' 8x', 8], ['+5', 5], ['abc', 1], ['0', 1], ['-3', 1024], ['5000', 1024], ['1024', 1024]];
    for (const [v, want] of cases) assert.equal(poolSizeFromEnv(v), want, JSON.stringify(v));
    assert.deepEqual([1, 2, 3, 4, 16, 64, 2000].map(poolSizeFor), [4, 4, 4, 5, 17, 65, 1024]);
  });

  it('bad lanes or pool sizes are InputError', () => {
    for (const bad of [0, -1, 1.5, 65, Number.NaN]) assert.throws(() => resolveLayerOptions({ sources: [], gzipConcurrency: bad }), { name: 'UsageError', code: 'E_USAGE', message: `gzip concurrency must be an integer from 1 to 64, got ${bad}` }, String(bad));
    for (const bad of [0, 1.5, 1025]) assert.throws(() => resolveLayerOptions({ sources: [], threadPoolSize: bad }), { name: 'UsageError', code: 'E_USAGE', message: `thread pool size must be an integer from 1 to 1024, got ${bad}` }, String(bad));
    assert.equal(resolveLayerOptions({ sources: [], gzipConcurrency: 64, threadPoolSize: 1024 }).concurrency, 64);
  });

  it('debug names the lanes and the pool once per operation (its `said` set); a request cut to the pool warns once', async () => {
    const log = recorder();
    const opts: LayerOptions = { sources: [{ src: app, dest: '/app' }], gzipConcurrency: 12, env: { UV_THREADPOOL_SIZE: '3' }, logger: log, said: new Set() };
    const a = await build(opts);
    const b = await hashLayer(opts);
    assert.equal(a.digest, b.digest);
    // Every build says when it ended (its own line, not a once-per-logger one).
    const built = log.lines.filter((l) => l.line.startsWith('layer: built '));
    assert.equal(built.length, 2, 'one line per build');
    for (const l of built) assert.match(l.line, new RegExp(`^layer: built \\d+ entries, ${b.uncompressedSize} bytes of tar, ${b.size} of gzip in \\d+ ms$`));
    const notBuilt = (r: typeof log): typeof log.lines => r.lines.filter((l) => !l.line.startsWith('layer: built '));
    assert.deepEqual(notBuilt(log), [
      { level: 'debug', line: 'layer: 3 gzip lanes (12 asked for, capped to the pool: lanes beyond its threads add memory, not speed), thread pool 3 (UV_THREADPOOL_SIZE)' },
      { level: 'warn', line: 'layer: 12 gzip lanes asked for, but the thread pool has 3 threads: using 3 (start the process with UV_THREADPOOL_SIZE=13 for more)' },
    ]);
    // A caller's names word it for its audience: the CLI's flag; the library's option and the `env` the pool size is read from.
    const said = async (names: LayerOptions['names']): Promise<string[]> => {
      const r = recorder();
      await hashLayer({ ...opts, names, logger: r, said: new Set() });
      return r.lines.filter((l) => l.level === 'warn').map((l) => l.line);
    };
    assert.deepEqual(await said(flagNames({ gzipJobs: '--gzip-jobs' }, 'push')), ['layer: --gzip-jobs 12 asks for 12 gzip lanes, but the thread pool has 3 threads: using 3 (start the process with UV_THREADPOOL_SIZE=13 for more)']);
    assert.deepEqual(await said(optionPaths('push()')), ['layer: gzipJobs: 12 asks for 12 gzip lanes, but the thread pool has 3 threads: using 3 (start the process with UV_THREADPOOL_SIZE=13 and pass it in env for more)']);
    // Another operation with the same logger says it all again: nothing is kept per logger.
    const seen = log.lines.length;
    await hashLayer({ ...opts, said: new Set() });
    await hashLayer({ ...opts, said: undefined }); // none given: the build's own
    assert.equal(log.lines.slice(seen).filter((l) => l.level === 'warn').length, 2, 'each operation warns');
    const quiet = recorder();
    await hashLayer({ ...opts, gzipConcurrency: 2, logger: quiet });
    assert.deepEqual(notBuilt(quiet), [{ level: 'debug', line: 'layer: 2 gzip lanes (asked for), thread pool 3 (UV_THREADPOOL_SIZE)' }]);
    const single = recorder();
    await hashLayer({ ...opts, gzipMode: 'single', logger: single });
    assert.deepEqual(notBuilt(single), [{ level: 'debug', line: 'layer: single-stream gzip (one lane)' }]);
  });
});
