import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, closeSync, linkSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, truncateSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { extract, pack, type Header } from 'tar-stream';
import { AbortedError, InputError, UsageError } from '../../src/errors.js';
import { parallelGzip, singleGzip } from '../../src/layer/gzip.js';
import { computeDiffId, createLayerStream, hasContent, hashLayer, parseAppFlag, scanSources, validateSources, windowsDestination, type LayerOptions } from '../../src/layer/index.js';
import { silentLogger, type Logger } from '../../src/log.js';
import { resolveLayerOptions } from '../../src/layer/options.js';
import { BufferPool } from '../../src/layer/pool.js';
import { tarBlocks, type TarStats } from '../../src/layer/tar.js';
import { fileMode, walkSources } from '../../src/layer/walk.js';
import { ntfsUpperCase } from '../../src/layer/windows-layer.js';

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

let root: string;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'regpush-layer-'));
});
after(() => {
  rmSync(root, { recursive: true, force: true });
});

let counter = 0;
/** A fresh directory under the test root, filled from {relative path: content | {link} | {dir}}. */
function tree(spec: Record<string, string | Buffer | { link: string } | { dir: true } | { mode: number; data: string }>): string {
  const dir = join(root, `t${counter++}`);
  mkdirSync(dir);
  for (const [rel, v] of Object.entries(spec)) {
    const p = join(dir, rel);
    if (typeof v === 'object' && 'dir' in v) {
      mkdirSync(p, { recursive: true });
      continue;
    }
    mkdirSync(join(p, '..'), { recursive: true });
    if (typeof v === 'string' || Buffer.isBuffer(v)) writeFileSync(p, v);
    else if ('link' in v) symlinkSync(v.link, p);
    else {
      writeFileSync(p, v.data);
      chmodSync(p, v.mode);
    }
  }
  return dir;
}

async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function build(opts: LayerOptions): Promise<{ bytes: Buffer; result: Awaited<ReturnType<typeof hashLayer>> }> {
  const { stream, result } = createLayerStream(opts);
  const bytes = await collect(stream);
  return { bytes, result: await result };
}

/**
 * The tar tar-stream's pack() writes for the same walk, with the header fields regpush used when
 * it built layers with tar-stream: the reference the layer's bytes (and so the digests of layers
 * already pushed) must keep.
 */
async function tarStreamReference(opts: LayerOptions): Promise<Buffer> {
  const cfg = resolveLayerOptions(opts);
  const p = pack();
  const out = collect(Readable.from(p));
  const add = (header: Parameters<typeof p.entry>[0], data?: Buffer): Promise<void> =>
    new Promise((resolve, reject) => {
      if (data) p.entry(header, data, (err) => (err ? reject(err) : resolve()));
      else p.entry(header, (err) => (err ? reject(err) : resolve())).end(undefined);
    });
  const firstName = new Map<string, string>(); // hard links: dev:ino → the first name written
  // The layer's own directories, as docs/layers.md states the rule: a destination only with --chown, never its parents.
  const dirs = cfg.chowned ? 'destinations' : 'none';
  await walkSources(cfg.sources, { cwd: cfg.cwd, logger, dirs }, async (e) => {
    const owned = e.kind !== 'directory' || e.owned;
    const base = { name: e.name, mtime: cfg.mtime, uid: owned ? cfg.uid : 0, gid: owned ? cfg.gid : 0 };
    if (e.kind === 'directory') await add({ ...base, type: 'directory', mode: e.mode });
    else if (e.kind === 'symlink') await add({ ...base, type: 'symlink', mode: 0o777, linkname: e.target });
    else {
      const st = statSync(e.path, { bigint: true });
      const mode = fileMode(Number(st.mode));
      const key = `${st.dev}:${st.ino}`;
      const earlier = st.nlink > 1n ? firstName.get(key) : undefined;
      if (earlier !== undefined) return add({ ...base, type: 'link', mode, linkname: earlier });
      if (st.nlink > 1n) firstName.set(key, e.name);
      const data = readFileSync(e.path);
      await add({ ...base, type: 'file', mode, size: data.length }, data);
    }
  });
  p.finalize();
  return out;
}

/** Runs a command with `input` on stdin; resolves with stdout, rejects on a non-zero exit. */
function run(cmd: string, args: string[], input: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err}`))));
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

interface TarEntry {
  header: Header;
  data: Buffer;
}
/** Parses an uncompressed tar with tar-stream, keeping raw header fields. */
async function entries(tar: Buffer): Promise<TarEntry[]> {
  const out: TarEntry[] = [];
  const ex = extract();
  const done = (async () => {
    for await (const entry of ex) {
      const parts: Buffer[] = [];
      for await (const c of entry) parts.push(c as Buffer);
      out.push({ header: entry.header, data: Buffer.concat(parts) });
    }
  })();
  ex.end(tar);
  await done;
  return out;
}

/** The 512-byte headers of a tar as written (pax headers included), for checks tar-stream's parser hides. */
function rawHeaders(tar: Buffer): { name: string; type: string; uname: string; gname: string; body: Buffer }[] {
  const out = [];
  let off = 0;
  while (off + 512 <= tar.length) {
    const h = tar.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const str = (a: number, n: number): string => h.subarray(a, a + n).toString('latin1').replace(/\0.*$/s, '');
    const size = parseInt(str(124, 12).trim() || '0', 8);
    out.push({ name: str(0, 100), type: String.fromCharCode(h[156]), uname: str(265, 32), gname: str(297, 32), body: tar.subarray(off + 512, off + 512 + size) });
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

/** Byte length of the first gzip member in `gz`: 10-byte header (zlib writes no optional fields), deflate data, 8-byte trailer. */
function memberLength(gz: Buffer): number {
  assert.equal(gz[3], 0, 'no optional header fields');
  // Gunzip would run on into the next member; raw inflate stops at the end of this one's deflate data.
  const r = zlib.inflateRawSync(gz.subarray(10), { info: true }) as unknown as { engine: { bytesWritten: number } };
  return 10 + r.engine.bytesWritten + 8;
}

function gzipMembers(gz: Buffer): number {
  let n = 0;
  for (let off = 0; off < gz.length; off += memberLength(gz.subarray(off))) n++;
  return n;
}

const warnings: string[] = [];
const logger: Logger = { debug() {}, info() {}, warn: (m) => warnings.push(m) };

describe('layer: reproducibility and hashes', () => {
  it('builds byte-identical layers twice; hashLayer and computeDiffId agree with the stream', async () => {
    const src = tree({ 'a.txt': 'hello', 'bin/run': { mode: 0o755, data: '#!/bin/sh\n' }, 'sub/deep/x.json': '{}', 'link': { link: 'a.txt' } });
    const opts: LayerOptions = { sources: [{ src, dest: '/app' }] };
    const one = await build(opts);
    const two = await build(opts);
    assert.ok(one.bytes.equals(two.bytes));
    assert.equal(one.result.digest, two.result.digest);
    assert.deepEqual(await hashLayer(opts), one.result);
    assert.deepEqual(await computeDiffId(opts), { diffId: one.result.diffId, uncompressedSize: one.result.uncompressedSize });
  });

  it('computeDiffId agrees with the stream on a tar that ends exactly on a block of either pass', async () => {
    // One header, 1,047,040 bytes of data (2,045 tar blocks, no padding), the end of the archive:
    // exactly 1 MiB, four whole blocks of the layer build and two of the diffID pass (tar.ts), so
    // neither has a partial last block to hash.
    const src = tree({ 'f.bin': randomBytes(1024 * 1024 - 512 - 1024) });
    const opts: LayerOptions = { sources: [{ src, dest: '/app' }] };
    const { result } = await build(opts);
    assert.equal(result.uncompressedSize, 1024 * 1024);
    assert.deepEqual(await computeDiffId(opts), { diffId: result.diffId, uncompressedSize: result.uncompressedSize });
  });

  it('the layer tar is byte for byte the tar tar-stream writes, and computeDiffId agrees, on awkward trees', async () => {
    const seg = (c: string, n: number) => c.repeat(n);
    const src = tree({
      [`${seg('d', 60)}/${seg('e', 60)}/split-into-prefix.txt`]: 'ustar prefix',
      [`${seg('n', 120)}.txt`]: 'a single name over 100 bytes: pax',
      [`${seg('x', 92)}.txt`]: 'under /app the tar name is exactly 100 bytes: fits the name field',
      'répertoire/fïle-ü.txt': 'non-ASCII: pax',
      '日本語.txt': 'pax',
      'long-link': { link: `${seg('t', 150)}/target` },
      'utf8-link': { link: 'ü' },
      'plain-link': { link: 'empty' },
      empty: '',
      'one.bin': Buffer.alloc(1, 7),
      'b511.bin': randomBytes(511),
      'b512.bin': randomBytes(512),
      'b513.bin': randomBytes(513),
      'two-reads.bin': randomBytes(2 * 512 * 1024 + 1),
      'run.sh': { mode: 0o755, data: '#!/bin/sh\n' },
      [`${seg('p', 40)}/${seg('q', 40)}/${seg('r', 40)}/${seg('s', 40)}/deep.txt`]: 'several splits',
      'emptydir/sub': { dir: true },
    });
    // Hard links: a short name, and one whose link target (the first name) needs a pax linkpath.
    linkSync(join(src, 'b513.bin'), join(src, 'b513-again.bin'));
    linkSync(join(src, `${seg('n', 120)}.txt`), join(src, 'zz-long-target.txt'));
    for (const opts of [
      { sources: [{ src, dest: '/app' }] },
      { sources: [{ src, dest: '/opt/some/deeper/place' }], chown: { uid: 1000, gid: 2000 }, mtime: 1_700_000_000 },
      { sources: [{ src, dest: '/' }] },
      // Blocks that are no multiple of 512: headers, file data and padding straddle block ends.
      { sources: [{ src, dest: '/app' }], blockSize: 16 * 1024 + 100 },
    ] satisfies LayerOptions[]) {
      const built = await build(opts);
      const tarBytes = zlib.gunzipSync(built.bytes);
      // Byte for byte what tar-stream writes (tarStreamReference): layers pushed already keep their digests.
      assert.ok(tarBytes.equals(await tarStreamReference(opts)), `dest ${opts.sources[0]!.dest}: the tar differs from tar-stream's`);
      assert.equal(built.result.diffId, `sha256:${createHash('sha256').update(tarBytes).digest('hex')}`);
      assert.deepEqual(await computeDiffId(opts), { diffId: built.result.diffId, uncompressedSize: tarBytes.length }, `dest ${opts.sources[0]!.dest}`);
      // The tree did exercise pax headers (names and link targets) and ustar prefixes.
      for (const marker of [' path=', ' linkpath=', 'PaxHeader', `${seg('p', 40)}/${seg('q', 40)}`]) assert.ok(tarBytes.includes(marker), marker);
      assert.deepEqual(rawHeaders(tarBytes).filter((h) => h.type === '1').length, 2, 'two hard-link entries');
    }
  });

  it('digest is sha256 of the gzip bytes, diffID sha256 of the gunzipped tar, sizes match', async () => {
    const src = tree({ 'a.txt': 'x'.repeat(5000), 'b.bin': randomBytes(3000) });
    const { bytes, result } = await build({ sources: [{ src, dest: '/app' }] });
    const tar = zlib.gunzipSync(bytes);
    assert.equal(result.digest, sha256(bytes));
    assert.equal(result.diffId, sha256(tar));
    assert.equal(result.size, bytes.length);
    assert.equal(result.uncompressedSize, tar.length);
    assert.equal(result.entries, 2); // app/a.txt, app/b.bin (no entry for app/ itself without --chown)
    assert.match(result.digest, /^sha256:[0-9a-f]{64}$/);
  });

  it('a different mtime gives a different digest; SOURCE_DATE_EPOCH is not read by the layer (it dates the config only), though it once dated every entry', async () => {
    const src = tree({ 'a.txt': 'hello' });
    const base = { sources: [{ src, dest: '/app' }] };
    const zero = await build(base);
    for (const e of await entries(zlib.gunzipSync(zero.bytes))) assert.equal(e.header.mtime.getTime(), 0);
    const later = await build({ ...base, mtime: 1700000000 });
    assert.notEqual(zero.result.digest, later.result.digest);
    for (const e of await entries(zlib.gunzipSync(later.bytes))) assert.equal(e.header.mtime.getTime(), 1700000000 * 1000);
    // A per-commit SOURCE_DATE_EPOCH leaves the layer as it is: the unchanged layer of a re-push is reused.
    for (const env of [{ SOURCE_DATE_EPOCH: '1700000000' }, { SOURCE_DATE_EPOCH: '' }, { SOURCE_DATE_EPOCH: 'yesterday' }]) {
      assert.equal((await build({ ...base, env })).result.digest, zero.result.digest, env.SOURCE_DATE_EPOCH);
    }
    assert.equal((await build({ ...base, mtime: 1700000000, env: { SOURCE_DATE_EPOCH: '1' } })).result.digest, later.result.digest);
    await assert.rejects(hashLayer({ ...base, mtime: -1 }), { name: 'UsageError', code: 'E_USAGE', message: /^layer mtime must be a whole number of seconds from 0 to 8589934591 .*, got -1$/ });
  });

  it('an mtime past 2038 fits the 11 octal digits of the ustar field (up to 2242); past them it is refused', async () => {
    const src = tree({ 'a.txt': 'a', 'd/b': 'b' });
    for (const [epoch, shown] of [[2 ** 31, '2038-01-19 03:14'], [4102444800, '2100-01-01 00:00'], [8 ** 11 - 1, '2242-03-16 12:56']] as const) {
      const opts = { sources: [{ src, dest: '/app' }], mtime: epoch };
      const { bytes, result } = await build(opts);
      const listing = await run('env', ['TZ=UTC', 'tar', '-tvzf', '-'], bytes);
      for (const line of listing.trim().split('\n')) assert.equal(line.split(/\s+/).slice(3, 5).join(' '), shown, line);
      for (const e of await entries(zlib.gunzipSync(bytes))) assert.equal(e.header.mtime.getTime(), epoch * 1000);
      assert.equal((await computeDiffId(opts)).diffId, result.diffId);
    }
    await assert.rejects(hashLayer({ sources: [{ src, dest: '/app' }], mtime: 8 ** 11 }), (err: unknown) => err instanceof UsageError && err.code === 'E_USAGE' && /mtime/.test(err.message));
  });

  it('the same tree at another path on disk gives the same digest', async () => {
    const spec = { 'a.txt': 'same', 'd/e.txt': 'same too' };
    const a = await hashLayer({ sources: [{ src: tree(spec), dest: '/app' }] });
    const b = await hashLayer({ sources: [{ src: tree(spec), dest: '/app' }] });
    assert.equal(a.digest, b.digest);
  });
});

describe('layer: tar contents (checked with GNU tar)', () => {
  it('lists names, modes, owners and symlinks as expected; no entry for the destination or its parents without --chown; nothing outside the source', async () => {
    const outside = tree({ 'secret.txt': 'do not ship' });
    const src = tree({
      'a.txt': 'hello',
      'run.sh': { mode: 0o744, data: '#!/bin/sh\n' },
      'setuid': { mode: 0o4750, data: 'x' },
      'private.txt': { mode: 0o600, data: 'p' },
      'sub/b.txt': 'b',
      'emptydir': { dir: true },
      'rel-link': { link: 'a.txt' },
      'escape': { link: outside },
      'up': { link: '../../..' },
    });
    const { bytes } = await build({ sources: [{ src, dest: '/srv/www/app' }], mtime: 1700000000 });
    const listing = await run('tar', ['-tvzf', '-', '--numeric-owner'], bytes);
    const lines = listing.trim().split('\n').map((l) => {
      const f = l.split(/\s+/);
      return { mode: f[0], owner: f[1], name: f[5], target: f[7] };
    });
    assert.deepEqual(
      lines.map((l) => l.name),
      [
        'srv/www/app/a.txt', 'srv/www/app/emptydir/', 'srv/www/app/escape', 'srv/www/app/private.txt',
        'srv/www/app/rel-link', 'srv/www/app/run.sh', 'srv/www/app/setuid', 'srv/www/app/sub/', 'srv/www/app/sub/b.txt', 'srv/www/app/up',
      ],
    );
    const by = Object.fromEntries(lines.map((l) => [l.name, l]));
    assert.equal(by['srv/www/app/emptydir/'].mode, 'drwxr-xr-x');
    assert.equal(by['srv/www/app/a.txt'].mode, '-rw-r--r--');
    assert.equal(by['srv/www/app/private.txt'].mode, '-rw-r--r--');
    assert.equal(by['srv/www/app/run.sh'].mode, '-rwxr-xr-x'); // any exec bit → 0755
    assert.equal(by['srv/www/app/setuid'].mode, '-rwxr-xr-x'); // setuid dropped
    assert.equal(by['srv/www/app/rel-link'].mode, 'lrwxrwxrwx');
    assert.equal(by['srv/www/app/rel-link'].target, 'a.txt');
    assert.equal(by['srv/www/app/escape'].target, outside); // kept as a link, not followed
    assert.equal(by['srv/www/app/up'].target, '../../..');
    for (const l of lines) assert.equal(l.owner, '0/0');
    assert.ok(!listing.includes('secret.txt'));
  });

  it('headers carry no uname/gname, fixed mtime, ustar magic, and pax only for long names', async () => {
    const long = `${'d'.repeat(120)}/${'f'.repeat(110)}.txt`;
    const src = tree({ 'a.txt': 'a', [long]: 'long', 'link': { link: `${'t'.repeat(150)}` } });
    const { bytes } = await build({ sources: [{ src, dest: '/app' }], mtime: 1234567890 });
    const tar = zlib.gunzipSync(bytes);
    const raw = rawHeaders(tar);
    for (const h of raw) {
      assert.equal(h.uname, '');
      assert.equal(h.gname, '');
    }
    const pax = raw.filter((h) => h.type === 'x');
    assert.ok(pax.length >= 2, 'long path and long link target use pax records');
    for (const p of pax) {
      const keys = p.body.toString().split('\n').filter(Boolean).map((r) => r.split(' ')[1].split('=')[0]);
      for (const k of keys) assert.ok(k === 'path' || k === 'linkpath', `unexpected pax key ${k}`);
    }
    for (let off = 0; off < tar.length - 1024; off += 512) {
      // every header block: magic "ustar\0" "00"
      const h = tar.subarray(off, off + 512);
      if (h.subarray(257, 263).toString('latin1') === 'ustar\0') assert.equal(h.subarray(263, 265).toString(), '00');
    }
    const es = await entries(tar);
    for (const e of es) assert.equal(e.header.mtime.getTime(), 1234567890 * 1000);
    // GNU tar extracts the long names and the long link target.
    const out = join(root, `x${counter++}`);
    mkdirSync(out);
    await run('tar', ['-xzf', '-', '-C', out], bytes);
    assert.equal(readFileSync(join(out, 'app', long), 'utf8'), 'long');
    assert.equal(readlinkSync(join(out, 'app', 'link')), 't'.repeat(150));
  });

  it('chown applies to the destination and its contents; the parents get no entry (the base keeps its own: /home/app stays its user\'s)', async () => {
    const src = tree({ 'a.txt': 'a', 'd/b': 'b', 'l': { link: 'a.txt' } });
    const { bytes } = await build({ sources: [{ src, dest: '/home/app/site' }], chown: { uid: 1000, gid: 2000 } });
    const es = await entries(zlib.gunzipSync(bytes));
    const owner = Object.fromEntries(es.map((e) => [e.header.name, `${e.header.uid}:${e.header.gid}`]));
    assert.deepEqual(owner, {
      'home/app/site/': '1000:2000',
      'home/app/site/a.txt': '1000:2000', 'home/app/site/d/': '1000:2000', 'home/app/site/d/b': '1000:2000', 'home/app/site/l': '1000:2000',
    });
    await assert.rejects(hashLayer({ sources: [{ src, dest: '/app' }], chown: { uid: -1, gid: 0 } }), { name: 'UsageError', code: 'E_USAGE', message: /^chown uid must be an integer from 0 to 4294967294, got -1$/ });
    await assert.rejects(hashLayer({ sources: [{ src, dest: '/app' }], chown: { uid: 2 ** 32 - 1, gid: 0 } }), { name: 'UsageError', code: 'E_USAGE', message: /^chown uid must be an integer from 0 to 4294967294, got 4294967295$/ }); // (uid_t)-1
    await assert.rejects(hashLayer({ sources: [{ src, dest: '/app' }], chown: { uid: 0, gid: 2 ** 32 } }), { name: 'UsageError', code: 'E_USAGE', message: /^chown gid must be an integer from 0 to 4294967294, got 4294967296$/ });
  });

  it('a uid or gid past the 6 octal digits of the ustar field goes in pax records that GNU tar reads', async () => {
    const src = tree({ 'a.txt': 'a', [`${'n'.repeat(120)}.txt`]: 'long name: pax path too', 'l': { link: 'a.txt' }, 'd/e': 'e' });
    for (const chown of [{ uid: 1000680000, gid: 0 }, { uid: 0o777777, gid: 0o1000000 }, { uid: 2 ** 32 - 2, gid: 2 ** 32 - 2 }]) {
      const opts = { sources: [{ src, dest: '/srv/app' }], chown };
      const { bytes, result } = await build(opts);
      const listing = (await run('tar', ['-tvzf', '-', '--numeric-owner'], bytes)).trim().split('\n').map((l) => l.split(/\s+/));
      const owner = Object.fromEntries(listing.map((f) => [f[5], f[1]]));
      const want = `${chown.uid}/${chown.gid}`;
      assert.deepEqual(owner, {
        'srv/app/': want, 'srv/app/a.txt': want, 'srv/app/d/': want, 'srv/app/d/e': want, 'srv/app/l': want, [`srv/app/${'n'.repeat(120)}.txt`]: want,
      }, want);
      assert.equal(listing.find((f) => f[5] === 'srv/app/l')![7], 'a.txt');
      assert.deepEqual(await computeDiffId(opts), { diffId: result.diffId, uncompressedSize: result.uncompressedSize });
      // The names and contents come through unchanged.
      const es = await entries(zlib.gunzipSync(bytes));
      assert.equal(es.find((e) => e.header.name === `srv/app/${'n'.repeat(120)}.txt`)!.data.toString(), 'long name: pax path too');
      assert.equal(es.find((e) => e.header.name === 'srv/app/d/e')!.data.toString(), 'e');
    }
  });

  it('keeps /tmp and /var/tmp sticky and world-writable when a source writes them (their destination, with --chown)', async () => {
    const src = tree({ 'a.txt': 'a' });
    const es = await entries(zlib.gunzipSync((await build({ sources: [{ src, dest: '/var/tmp' }], chown: { uid: 1000, gid: 1000 } })).bytes));
    const mode = Object.fromEntries(es.map((e) => [e.header.name, e.header.mode.toString(8)]));
    assert.deepEqual(mode, { 'var/tmp/': '1777', 'var/tmp/a.txt': '644' });
  });

  it('keeps the well-known modes for directories a source brings too (an overlay copied to /), also where another source makes them parents', async () => {
    const overlay = tree({ 'tmp/x': 'x', 'var/tmp/y': 'y', 'root/.profile': 'p', 'etc/app.conf': 'c' });
    const tool = tree({ 'tool': 't' });
    for (const sources of [[{ src: overlay, dest: '/' }], [{ src: join(tool, 'tool'), dest: '/tmp/tool' }, { src: overlay, dest: '/' }]]) {
      const es = await entries(zlib.gunzipSync((await build({ sources })).bytes));
      const mode = Object.fromEntries(es.filter((e) => e.header.type === 'directory').map((e) => [e.header.name, e.header.mode.toString(8)]));
      assert.deepEqual(mode, { 'etc/': '755', 'root/': '700', 'tmp/': '1777', 'var/': '755', 'var/tmp/': '1777' }, JSON.stringify(sources));
    }
  });

  it('leaves /root (and every parent of a destination) to the base: no entry, so the base\'s 0700 holds', async () => {
    const src = tree({ 'a.txt': 'a' });
    // An explicit --chown 0:0 is an owner asked for too (to make a base's app directory root's): the destination gets its entry.
    for (const chown of [undefined, { uid: 1000, gid: 1000 }, { uid: 0, gid: 0 }]) {
      const es = await entries(zlib.gunzipSync((await build({ sources: [{ src, dest: '/root/.config/app' }], chown })).bytes));
      const mode = Object.fromEntries(es.map((e) => [e.header.name, `${e.header.uid}:${e.header.gid} ${e.header.mode.toString(8)}`]));
      const own = chown ? `${chown.uid}:${chown.gid}` : '0:0';
      assert.deepEqual(mode, chown ? { 'root/.config/app/': `${own} 755`, 'root/.config/app/a.txt': `${own} 644` } : { 'root/.config/app/a.txt': '0:0 644' }, JSON.stringify(chown));
    }
  });

  it('skips sockets, fifos and devices with a warning', async () => {
    const src = tree({ 'a.txt': 'a' });
    await run('mkfifo', [join(src, 'pipe')], Buffer.alloc(0));
    warnings.length = 0;
    const { bytes } = await build({ sources: [{ src, dest: '/app' }], logger });
    const names = (await entries(zlib.gunzipSync(bytes))).map((e) => e.header.name);
    assert.deepEqual(names, ['app/a.txt']);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /pipe/);
  });

  it('stores a hard-linked file once: each later name (in the sorted order) is a link to the first', async () => {
    const big = randomBytes(64 * 1024);
    const src = tree({ 'b.bin': big, 'sub/other.txt': 'alone', 'x.txt': 'not linked' });
    linkSync(join(src, 'b.bin'), join(src, 'a.bin')); // made second, sorted first: the first name is by order, not age
    linkSync(join(src, 'b.bin'), join(src, 'sub/c.bin'));
    const outside = join(root, `outside-${counter++}`);
    linkSync(join(src, 'sub/other.txt'), outside); // its other name is not in the layer: stored as a file
    const opts: LayerOptions = { sources: [{ src, dest: '/app' }], chown: { uid: 1000, gid: 1000 } };
    const built = await build(opts);
    const tarBytes = zlib.gunzipSync(built.bytes);
    const es = await entries(tarBytes);
    const by = (n: string): TarEntry => es.find((e) => e.header.name === n)!;
    assert.equal(by('app/a.bin').header.type, 'file');
    assert.ok(by('app/a.bin').data.equals(big));
    for (const n of ['app/b.bin', 'app/sub/c.bin']) {
      assert.equal(by(n).header.type, 'link', n);
      assert.equal(by(n).header.linkname, 'app/a.bin', n);
      assert.equal(by(n).header.size, 0, n);
      assert.equal(by(n).header.uid, 1000, n);
    }
    assert.equal(by('app/sub/other.txt').header.type, 'file');
    assert.ok(tarBytes.length < 2 * big.length, `the content is stored once (${tarBytes.length} bytes of tar)`);
    // The warm path's diffID pass makes the same tar.
    assert.deepEqual(await computeDiffId(opts), { diffId: built.result.diffId, uncompressedSize: tarBytes.length });
    // GNU tar unpacks the three names as one file.
    const dir = join(root, `x${counter++}`);
    mkdirSync(dir);
    await run('tar', ['-xf', '-', '-C', dir], tarBytes);
    const inode = statSync(join(dir, 'app/a.bin')).ino;
    for (const n of ['app/b.bin', 'app/sub/c.bin']) {
      assert.equal(statSync(join(dir, n)).ino, inode, n);
      assert.ok(readFileSync(join(dir, n)).equals(big), n);
    }
  });

  it('hard links: across two sources of one layer; the first name left out by .dockerignore; never in a Windows layer', async () => {
    const one = tree({ 'shared.bin': 'same bytes' });
    const two = tree({ 'other/.keep': '' });
    linkSync(join(one, 'shared.bin'), join(two, 'other/again.bin'));
    const across = await entries(zlib.gunzipSync((await build({ sources: [{ src: one, dest: '/app' }, { src: two, dest: '/app' }] })).bytes));
    const again = across.find((e) => e.header.name === 'app/other/again.bin')!;
    assert.equal(again.header.type, 'link');
    assert.equal(again.header.linkname, 'app/shared.bin');

    const ignored = tree({ 'a.bin': 'data', '.dockerignore': 'a.bin\n' });
    linkSync(join(ignored, 'a.bin'), join(ignored, 'b.bin'));
    const kept = await entries(zlib.gunzipSync((await build({ sources: [{ src: ignored, dest: '/app' }] })).bytes));
    assert.equal(kept.find((e) => e.header.name === 'app/a.bin'), undefined);
    const b = kept.find((e) => e.header.name === 'app/b.bin')!;
    assert.equal(b.header.type, 'file', 'the first name the layer holds carries the content');
    assert.equal(b.data.toString(), 'data');

    const win = tree({ 'a.bin': 'data' });
    linkSync(join(win, 'a.bin'), join(win, 'b.bin'));
    const wes = await entries(zlib.gunzipSync((await build({ sources: [{ src: win, dest: '/app' }], windows: true })).bytes));
    for (const n of ['Files/app/a.bin', 'Files/app/b.bin']) {
      const e = wes.find((x) => x.header.name === n)!;
      assert.equal(e.header.type, 'file', n);
      assert.equal(e.data.toString(), 'data', n);
    }
  });

  it('sorts names by their bytes, directories before their contents', async () => {
    const src = tree({ 'b': 'b', 'B': 'B', 'a.txt': 'a', 'a/z': 'z', 'é': 'e', 'ab': 'ab', '_': '_' });
    const names = (await entries(zlib.gunzipSync((await build({ sources: [{ src, dest: '/' }] })).bytes))).map((e) => e.header.name);
    assert.deepEqual(names, ['B', '_', 'a/', 'a/z', 'a.txt', 'ab', 'b', 'é']);
  });

  it('sorts by UTF-8 bytes where UTF-16 order differs (surrogate pairs), and keeps a genuine U+FFFD', async () => {
    // UTF-16 puts 😀 (D83D DE00) before ｚ (FF5A); UTF-8 bytes put it after (F0… > EF…), and U+FFFD (EF BF BD) between.
    const src = tree({ '😀': '1', 'ｚ': '2', '\uFFFD': '3', 'é': '4', 'a': '5', 'd/😀': '6', 'd/ｚ': '7' });
    const built = await build({ sources: [{ src, dest: '/' }] });
    const names = (await entries(zlib.gunzipSync(built.bytes))).map((e) => e.header.name);
    assert.deepEqual(names, ['a', 'd/', 'd/ｚ', 'd/😀', 'é', 'ｚ', '\uFFFD', '😀']);
    assert.equal((await computeDiffId({ sources: [{ src, dest: '/' }] })).diffId, built.result.diffId); // the warm pass walks in the same order
  });

  it('refuses a file name that is not valid UTF-8', async () => {
    const src = tree({});
    writeFileSync(Buffer.concat([Buffer.from(`${src}/bad-`), Buffer.from([0xff, 0xfe])]), 'x');
    await assert.rejects(hashLayer({ sources: [{ src, dest: '/app' }] }), (err: unknown) => err instanceof InputError && err.code === 'E_INPUT' && /UTF-8/.test(err.message));
  });

  it('refuses a name that is not valid UTF-8 next to a genuine U+FFFD, in a subdirectory, in every pass', async () => {
    const src = tree({ 'ok-\uFFFD.txt': 'fine', 'sub/a.txt': 'a' });
    writeFileSync(Buffer.concat([Buffer.from(`${src}/sub/bad-`), Buffer.from([0xc3, 0x28])]), 'x');
    const isUtf8Error = (err: unknown): boolean => err instanceof InputError && err.code === 'E_INPUT' && /sub: file name is not valid UTF-8 \(hex 6261642dc328\)/.test(err.message);
    await assert.rejects(hashLayer({ sources: [{ src, dest: '/app' }] }), isUtf8Error);
    await assert.rejects(computeDiffId({ sources: [{ src, dest: '/app' }] }), isUtf8Error);
    await assert.rejects(build({ sources: [{ src, dest: '/app' }] }), isUtf8Error);
  });
});

describe('layer: names that are not UTF-8, left out by .dockerignore', () => {
  it('a file or directory .dockerignore leaves out does not stop the build (Docker matches its bytes too); one it keeps is refused, naming how to leave it out', async () => {
    const src = tree({ '.dockerignore': '*.bak\ncache\n', 'app.js': 'js' });
    writeFileSync(Buffer.concat([Buffer.from(`${src}/report-`), Buffer.from([0xe9]), Buffer.from('.bak')]), 'x');
    mkdirSync(Buffer.concat([Buffer.from(`${src}/cache`)]));
    mkdirSync(Buffer.concat([Buffer.from(`${src}/cache/d-`), Buffer.from([0xff])]));
    const built = await build({ sources: [{ src, dest: '/app' }] });
    const names = (await entries(zlib.gunzipSync(built.bytes))).map((e) => e.header.name);
    assert.deepEqual(names, ['app/.dockerignore', 'app/app.js']);
    assert.equal((await computeDiffId({ sources: [{ src, dest: '/app' }] })).diffId, built.result.diffId);
    writeFileSync(join(src, '.dockerignore'), 'cache\n');
    await assert.rejects(build({ sources: [{ src, dest: '/app' }] }), (err: unknown) => err instanceof InputError && err.code === 'E_INPUT' && /file name is not valid UTF-8 \(hex 7265706f72742de92e62616b\); leave it out with \.dockerignore, or rename it/.test(err.message));
  });
});

describe('layer: symlink targets that are not UTF-8; destinations ending in /. or /..', () => {
  it('a symlink whose target is not UTF-8 is named as such (not as a bad file name), with how to leave it out', async () => {
    const src = tree({ 'app.js': 'js' });
    symlinkSync(Buffer.concat([Buffer.from('tgt'), Buffer.from([0xff])]), join(src, 'l'));
    await assert.rejects(build({ sources: [{ src, dest: '/app' }] }), (err: unknown) => err instanceof InputError && err.code === 'E_INPUT' && err.message === `${join(src, 'l')}: symlink target is not valid UTF-8 (hex 746774ff); leave the link out with .dockerignore, or point it elsewhere`);
  });

  it('a file source into /app/. or /app/.. lands inside that directory, as COPY server.js /app/. does', async () => {
    const src = tree({ 'server.js': 'js' });
    for (const [dest, want] of [['/app/.', 'app/server.js'], ['/app/sub/..', 'app/server.js'], ['/.', 'server.js'], ['/app', 'app']] as const) {
      const names = (await entries(zlib.gunzipSync((await build({ sources: [{ src: join(src, 'server.js'), dest }] })).bytes))).map((e) => e.header.name);
      assert.deepEqual(names.filter((n) => !n.endsWith('/')), [want], dest);
    }
  });
});

describe('layer: Windows layout', () => {
  /** Owner and group SIDs of a self-relative security descriptor, as S-1-… strings. */
  function descriptorSids(b64: string): { owner: string; group: string; dacl: number } {
    const sd = Buffer.from(b64, 'base64');
    const sidAt = (off: number): string => {
      const count = sd[off + 1]!;
      const authority = sd.readUIntBE(off + 2, 6);
      const subs = Array.from({ length: count }, (_, i) => sd.readUInt32LE(off + 8 + 4 * i));
      return ['S', sd[off], authority, ...subs].join('-');
    };
    assert.equal(sd[0], 1, 'revision 1');
    assert.equal(sd.readUInt16LE(2) & 0x8000, 0x8000, 'self-relative');
    return { owner: sidAt(sd.readUInt32LE(4)), group: sidAt(sd.readUInt32LE(8)), dacl: sd.readUInt32LE(16) };
  }

  it('puts every entry under Files/, starts with Files/ and Hives/, and gives each the BUILTIN\\Users descriptor that GNU tar reads as a pax record', async () => {
    const src = tree({ 'App.dll': 'MZ', 'sub/deep/x.json': '{}', [`${'n'.repeat(120)}.txt`]: 'long' });
    const opts: LayerOptions = { sources: [{ src, dest: '/app' }], windows: true };
    const { bytes, result } = await build(opts);
    const tar = zlib.gunzipSync(bytes);
    const es = await entries(tar);
    assert.deepEqual(
      es.map((e) => `${e.header.type} ${e.header.name}`),
      ['directory Files/', 'directory Hives/', 'directory Files/app/', 'file Files/app/App.dll', `file Files/app/${'n'.repeat(120)}.txt`, 'directory Files/app/sub/', 'directory Files/app/sub/deep/', 'file Files/app/sub/deep/x.json'],
    );
    for (const e of es) {
      const pax = e.header.pax as Record<string, string> | undefined;
      assert.deepEqual(descriptorSids(pax?.['MSWINDOWS.rawsd'] ?? ''), { owner: 'S-1-5-32-545', group: 'S-1-5-32-545', dacl: 0 }, e.header.name);
    }
    assert.equal(es.find((e) => e.header.name === 'Files/app/App.dll')!.data.toString(), 'MZ');
    assert.equal(es.find((e) => e.header.name === `Files/app/${'n'.repeat(120)}.txt`)!.data.toString(), 'long');
    // GNU tar lists the same names and says it met the record (it has no use for it).
    const gnu = await new Promise<{ out: string; err: string }>((resolve, reject) => {
      const child = spawn('tar', ['-tzf', '-']);
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      child.on('error', reject);
      child.on('close', () => resolve({ out, err }));
      child.stdin.end(bytes);
    });
    assert.deepEqual(gnu.out.trim().split('\n'), es.map((e) => e.header.name));
    assert.match(gnu.err, /unknown extended header keyword 'MSWINDOWS\.rawsd'/);
    // The diffID pass writes the same tar, and the layer is reproducible.
    assert.deepEqual(await computeDiffId(opts), { diffId: result.diffId, uncompressedSize: result.uncompressedSize });
    assert.equal(result.diffId, sha256(tar));
    assert.equal((await build(opts)).result.digest, result.digest);
    assert.equal(result.entries, es.length);
    // The same tree as a Linux layer is another layer.
    assert.notEqual((await build({ sources: [{ src, dest: '/app' }] })).result.diffId, result.diffId);
  });

  it('a source at the root lands in Files/ itself; a symlink is refused in every pass, naming it', async () => {
    const src = tree({ 'a.txt': 'a' });
    const es = await entries(zlib.gunzipSync((await build({ sources: [{ src, dest: '/' }], windows: true })).bytes));
    assert.deepEqual(es.map((e) => e.header.name), ['Files/', 'Hives/', 'Files/a.txt']);
    const linked = tree({ 'a.txt': 'a', 'l.txt': { link: 'a.txt' } });
    const opts: LayerOptions = { sources: [{ src: linked, dest: '/app' }], windows: true };
    const refused = { name: 'InputError', code: 'E_INPUT', message: /^\/app\/l\.txt is a symbolic link, which a Windows layer cannot hold/ };
    await assert.rejects(build(opts), refused);
    await assert.rejects(computeDiffId(opts), refused);
  });

  it('parseAppFlag takes a destination with a drive letter as it is (push turns it into the layer\'s path)', () => {
    assert.deepEqual(parseAppFlag('./publish:C:\\app', '/app'), { src: './publish', dest: 'C:\\app' });
    assert.deepEqual(parseAppFlag('C:\\publish:C:\\app', '/app'), { src: 'C:\\publish', dest: 'C:\\app' });
    assert.deepEqual(parseAppFlag('./publish:C:/app', '/app'), { src: './publish', dest: 'C:/app' });
    assert.deepEqual(parseAppFlag('./publish:D:\\data', '/app'), { src: './publish', dest: 'D:\\data' });
    assert.deepEqual(parseAppFlag('./publish', 'C:\\app'), { src: './publish', dest: 'C:\\app\\' }, 'the default, a directory');
    assert.deepEqual(windowsDestination('C:\\app\\'), { path: '/app/' });
    assert.throws(() => parseAppFlag('./publish:app', 'C:\\app'), { name: 'UsageError', code: 'E_USAGE', message: /^--app \.\/publish:app: destination "app" must be an absolute path inside the image$/ });
  });

  it('windowsDestination: C:\\app, C:/app, \\app and /app are /app; another drive or a relative path is refused', () => {
    for (const d of ['C:\\app', 'c:/app', '\\app', '/app']) assert.deepEqual(windowsDestination(d), { path: '/app' }, d);
    assert.deepEqual(windowsDestination('C:\\app\\bin\\'), { path: '/app/bin/' });
    assert.deepEqual(windowsDestination('D:\\data'), { problem: 'destination "D:\\data" is on drive D:, and a Windows layer holds only the system drive (C:)' });
    assert.deepEqual(windowsDestination('app'), { problem: 'destination "app" must be an absolute path inside the image (C:\\app or /app)' });
  });
});

describe('layer: names a Windows layer cannot hold (Microsoft, "Naming Files, Paths, and Namespaces")', () => {
  /** The build and the diffID pass both refuse it, naming the path and why; the same tree as a Linux layer builds. */
  async function refused(spec: Parameters<typeof tree>[0], message: string | RegExp): Promise<void> {
    const src = tree(spec);
    const opts: LayerOptions = { sources: [{ src, dest: '/app' }], windows: true };
    const want = (err: unknown): boolean => err instanceof InputError && err.code === 'E_INPUT' && (typeof message === 'string' ? err.message === message : message.test(err.message)) && !err.message.includes('\n');
    await assert.rejects(build(opts), want);
    await assert.rejects(computeDiffId(opts), want);
    // And push's walk before any request, which refuses a Windows layer's symlinks (layer/content.ts).
    await assert.rejects(scanSources(opts.sources, root, { symlinks: 'refuse' }).readable, want);
    await build({ sources: [{ src, dest: '/app' }] });
  }

  it('refuses <>:"|?*\\ and control characters, a trailing dot or space, and device names with or without extension, in any case', async () => {
    const why = (name: string, problem: string) => `/app/${name}: "${name}" is not a valid name on Windows (${problem}); rename it or exclude it in .dockerignore`;
    for (const ch of ['<', '>', ':', '"', '|', '?', '*', '\\']) await refused({ [`a${ch}b.txt`]: 'x' }, why(`a${ch}b.txt`, `it holds the character ${ch}`));
    await refused({ 'tab\there': 'x' }, why('tab\there', 'it holds the control character U+0009'));
    await refused({ 'trailing.': 'x' }, why('trailing.', 'it ends with a dot'));
    await refused({ 'trailing ': 'x' }, why('trailing ', 'it ends with a space'));
    for (const name of ['CON', 'prn', 'Aux', 'nul.txt', 'COM1', 'com9.log', 'LPT1', 'lpt9.tar.gz']) {
      await refused({ [name]: 'x' }, why(name, `${name.split('.')[0]!.toUpperCase()} is a device name there`));
    }
    // A directory's name too, before anything below it.
    await refused({ 'aux/x.txt': 'x' }, why('aux', 'AUX is a device name there'));
  });

  it('refuses two names of one folder that differ only in case; names that only look like the reserved ones are kept', async () => {
    await refused({ 'Readme.md': 'a', 'README.md': 'b' }, '/app/README.md and /app/Readme.md differ only in case, and Windows takes them for one file; rename one or exclude it in .dockerignore');
    await refused({ 'Lib/a.dll': 'a', 'lib/b.dll': 'b' }, /^\/app\/Lib and \/app\/lib differ only in case/);
    const src = tree({ 'CONSOLE.txt': 'a', 'com10': 'b', 'lpt0.txt': 'c', 'nul_x': 'd', '.hidden': 'e', 'a.b.c': 'f', 'README.md': 'g', 'sub/README.md': 'h' });
    const es = await entries(zlib.gunzipSync((await build({ sources: [{ src, dest: '/app' }], windows: true })).bytes));
    assert.equal(es.filter((e) => e.header.type === 'file').length, 8);
  });

  it('case is folded one UTF-16 unit at a time, as NTFS does: straße.txt and STRASSE.txt are two files; Straße.txt and STRAßE.txt one', async () => {
    assert.equal(ntfsUpperCase('straße-ﬁle-ŉ.txt'), 'STRAßE-ﬁLE-ŉ.TXT');
    assert.equal(ntfsUpperCase('é𐐨'), 'É𐐨', 'a surrogate pair (Deseret) is not folded');
    const src = tree({ 'straße.txt': 'a', 'STRASSE.txt': 'b', 'ﬁle.txt': 'c', 'FILE.txt': 'd' });
    const es = await entries(zlib.gunzipSync((await build({ sources: [{ src, dest: '/app' }], windows: true })).bytes));
    assert.equal(es.filter((e) => e.header.type === 'file').length, 4);
    await refused({ 'Straße.txt': 'a', 'STRAßE.txt': 'b' }, /^\/app\/STRAßE\.txt and \/app\/Straße\.txt differ only in case/);
    await refused({ 'été.txt': 'a', 'ÉTÉ.txt': 'b' }, /^\/app\/ÉTÉ\.txt and \/app\/été\.txt differ only in case/);
  });

  it('windowsDestination refuses a destination with such a name in any of its parts', () => {
    assert.deepEqual(windowsDestination('C:\\app\\con\\'), { problem: 'destination "C:\\app\\con\\": "con" is not a valid name on Windows (CON is a device name there)' });
    assert.deepEqual(windowsDestination('C:\\app.\\bin'), { problem: 'destination "C:\\app.\\bin": "app." is not a valid name on Windows (it ends with a dot)' });
    assert.deepEqual(windowsDestination('/app/a*b'), { problem: 'destination "/app/a*b": "a*b" is not a valid name on Windows (it holds the character *)' });
    assert.deepEqual(windowsDestination('C:\\app\\.'), { path: '/app/.' });
  });
});

describe('layer: a folder swapped for a symlink during the walk', () => {
  /** Walks `src` and calls `swap` at the entry named `at`; the entries seen, or the error. */
  async function walkWithSwap(src: string, at: string, swap: () => void): Promise<{ seen: string[]; err?: unknown }> {
    const seen: string[] = [];
    try {
      await walkSources([{ src, dest: '/app' }], { cwd: root, logger: silentLogger }, (e) => {
        seen.push(e.kind === 'file' ? `${e.name} ${e.path}` : e.name);
        if (e.name === at) swap();
      });
    } catch (err) {
      return { seen, err };
    }
    return { seen };
  }
  /** Replaces `src`/sub by a symlink to `host` (the old folder kept aside). */
  const swapSub = (src: string, host: string) => () => {
    renameSync(join(src, 'sub'), join(src, 'sub-moved'));
    symlinkSync(host, join(src, 'sub'));
  };
  const outside = (err: unknown, dir: string): boolean => err instanceof InputError && err.code === 'E_INPUT' && err.message.startsWith(`${dir} moved outside the source while being read (it is now `) && err.details.path === dir;

  it('one swapped before the walk lists it is refused, before anything of the outside tree is taken', async () => {
    const host = tree({ 'secret.txt': 'host secret' });
    const src = tree({ 'a.txt': 'a', 'sub/x.txt': 'x' });
    const r = await walkWithSwap(src, 'app/a.txt', swapSub(src, host));
    assert.ok(outside(r.err, join(src, 'sub')), String(r.err));
    assert.ok(!r.seen.some((n) => n.includes('secret')), r.seen.join(' '));
  });

  it('one swapped while its files are read is refused once they are done (the layer fails, nothing of it pushed)', async () => {
    const host = tree({ 'b.txt': 'host b' });
    const src = tree({ 'sub/a.txt': 'a', 'sub/b.txt': 'b' });
    const r = await walkWithSwap(src, 'app/sub/a.txt', swapSub(src, host));
    assert.ok(outside(r.err, join(src, 'sub')), String(r.err));
  });

  it('one whose last entry is a subfolder, swapped while that subfolder is read, is refused by the subfolder\'s check', async () => {
    const host = tree({ 'z/c.txt': 'host c' });
    const src = tree({ 'sub/a.txt': 'a', 'sub/z/c.txt': 'c', 'sub/z/d.txt': 'd' });
    const r = await walkWithSwap(src, 'app/sub/z/c.txt', swapSub(src, host));
    assert.ok(outside(r.err, join(src, 'sub', 'z')), String(r.err));
  });

  it('a source that is itself a symlink, and an unchanged tree, walk as before', async () => {
    const src = tree({ 'sub/a.txt': 'a' });
    const link = join(root, `link${counter++}`);
    symlinkSync(src, link);
    const r = await walkWithSwap(link, '', () => {});
    assert.equal(r.err, undefined);
    assert.deepEqual(r.seen, ['app/', 'app/sub/', `app/sub/a.txt ${join(link, 'sub', 'a.txt')}`]);
  });
});

describe('layer: whiteout names', () => {
  // An entry whose name starts with ".wh." is a whiteout (OCI image spec, layer.md "Whiteouts"):
  // unpacking the image deletes the named sibling from the layers below and never creates the entry.
  const refused = (image: string) => (err: unknown): boolean =>
    err instanceof InputError && err.code === 'E_INPUT' && err.message.includes(image) && /whiteout/.test(err.message) && !err.message.includes('\n');

  it('refuses a file, directory or symlink named .wh.* (and the opaque marker) in every pass', async () => {
    for (const [spec, image] of [
      [{ '.wh.foo': 'x', 'a': 'a' }, '/app/.wh.foo'],
      [{ 'sub/.wh..wh..opq': '' }, '/app/sub/.wh..wh..opq'],
      [{ '.wh.cache/x': 'x' }, '/app/.wh.cache/'],
      [{ 'd/.wh.l': { link: 'target' } }, '/app/d/.wh.l'],
    ] as const) {
      const src = tree(spec);
      const opts = { sources: [{ src, dest: '/app' }] };
      await assert.rejects(build(opts), refused(image), image);
      await assert.rejects(computeDiffId(opts), refused(image), image);
    }
    // A --layer's up-front check walks until its first entry: a whiteout there fails before any request.
    await assert.rejects(hasContent([{ src: tree({ '.wh.foo': 'x' }), dest: '/app' }], '/'), refused('/app/.wh.foo'));
  });

  it('refuses a whiteout name in the destination, for a directory or a file source', async () => {
    const src = tree({ 'a.txt': 'a' });
    await assert.rejects(hashLayer({ sources: [{ src, dest: '/srv/.wh.app' }] }), refused('/srv/.wh.app/'));
    await assert.rejects(hashLayer({ sources: [{ src: join(src, 'a.txt'), dest: '/etc/.wh.passwd' }] }), refused('/etc/.wh.passwd'));
    await assert.rejects(hashLayer({ sources: [{ src: join(src, 'a.txt'), dest: '/.wh.etc/' }] }), refused('/.wh.etc/'));
  });

  it('keeps names that only look alike, and a .wh.* entry that .dockerignore leaves out', async () => {
    const src = tree({ '.dockerignore': '**/.wh.*\n', '.wh.skip': 'x', 'd/.wh.skip-dir/x': 'x', 'a.wh.b': '1', '.wh': '2', '.whx': '3', 'wh./x': '4' });
    const names = (await entries(zlib.gunzipSync((await build({ sources: [{ src, dest: '/app' }] })).bytes))).map((e) => e.header.name);
    assert.deepEqual(names, ['app/.dockerignore', 'app/.wh', 'app/.whx', 'app/a.wh.b', 'app/d/', 'app/wh./', 'app/wh./x']);
  });
});

describe('layer: gzip', () => {
  it('emits several gzip members that gunzip, gzip -t and tar all read', async () => {
    const src = tree({ 'big.bin': randomBytes(200_000), 'text.txt': 'lorem ipsum '.repeat(20_000) });
    const { bytes, result } = await build({ sources: [{ src, dest: '/app' }], blockSize: 64 * 1024 });
    assert.ok(gzipMembers(bytes) > 3, 'one member per 64 KiB block');
    assert.equal(sha256(zlib.gunzipSync(bytes)), result.diffId);
    await run('gzip', ['-t'], bytes);
    const listing = await run('tar', ['-tzf', '-'], bytes);
    assert.deepEqual(listing.trim().split('\n'), ['app/big.bin', 'app/text.txt']);
    for (let off = 0; off < bytes.length; ) {
      // every member header: mtime 0 and OS byte 3 (Unix), whatever host built it
      assert.deepEqual([...bytes.subarray(off, off + 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, bytes[off + 8], 3]);
      off += memberLength(bytes.subarray(off));
    }
  });

  it('umoci (Go compress/gzip) unpacks a multi-member layer with the expected files and modes', async (t) => {
    const which = spawn('umoci', ['--version'], { stdio: 'ignore' });
    const found = await new Promise<boolean>((r) => {
      which.on('error', () => r(false));
      which.on('close', (code) => r(code === 0));
    });
    if (!found) {
      t.skip('umoci not installed');
      return;
    }
    const src = tree({ 'big.bin': randomBytes(300_000), 'run.sh': { mode: 0o755, data: '#!/bin/sh\necho hi\n' }, 'l': { link: 'run.sh' } });
    const { bytes, result } = await build({ sources: [{ src, dest: '/app' }], blockSize: 64 * 1024 });
    assert.ok(gzipMembers(bytes) > 3);
    const layout = join(root, `oci${counter++}`);
    mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
    const put = (data: Buffer): string => {
      const d = sha256(data);
      writeFileSync(join(layout, 'blobs', 'sha256', d.slice(7)), data);
      return d;
    };
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [result.diffId] } }));
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: put(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: put(bytes), size: bytes.length }],
    }));
    writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: put(manifest), size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': 'test' } }] }));
    const bundle = join(layout, 'bundle');
    const args = ['unpack', ...(process.getuid?.() === 0 ? [] : ['--rootless']), '--image', `${layout}:test`, bundle];
    await run('umoci', args, Buffer.alloc(0)); // umoci checks the diffID against the uncompressed bytes
    const rootfs = join(bundle, 'rootfs', 'app');
    assert.ok(readFileSync(join(rootfs, 'big.bin')).equals(readFileSync(join(src, 'big.bin'))));
    assert.equal(statSync(join(rootfs, 'run.sh')).mode & 0o777, 0o755);
    assert.equal(readlinkSync(join(rootfs, 'l')), 'run.sh');
  });

  it('each member equals zlib.gzip of its block, in order', async () => {
    const blocks = [randomBytes(70_000), Buffer.alloc(70_000, 7), Buffer.from('tail')];
    const released: Buffer[] = [];
    const out: Buffer[] = [];
    for await (const c of parallelGzip(Readable.from(blocks), 6, 2, (b) => released.push(b))) out.push(c);
    const expected = blocks.map((b) => {
      const m = zlib.gzipSync(b, { level: 6 });
      m[9] = 3;
      return m;
    });
    assert.ok(Buffer.concat(out).equals(Buffer.concat(expected)));
    assert.equal(released.length, 3);
  });

  it('single-stream mode makes the same tar, one member, and is deterministic too', async () => {
    const src = tree({ 'big.bin': randomBytes(300_000), 'a.txt': 'a'.repeat(10_000) });
    const opts: LayerOptions = { sources: [{ src, dest: '/app' }], blockSize: 64 * 1024 };
    const par = await build(opts);
    const one = await build({ ...opts, gzipMode: 'single' });
    const two = await build({ ...opts, gzipMode: 'single' });
    assert.equal(one.result.diffId, par.result.diffId);
    assert.equal(one.result.digest, two.result.digest);
    assert.notEqual(one.result.digest, par.result.digest);
    assert.equal(gzipMembers(one.bytes), 1);
    assert.equal(one.bytes[9], 3);
    await run('gzip', ['-t'], one.bytes);
    const direct: Buffer[] = [];
    for await (const c of singleGzip(Readable.from([Buffer.from('abc')]), 6, () => {})) direct.push(c);
    assert.equal(zlib.gunzipSync(Buffer.concat(direct)).toString(), 'abc');
  });

  it('gzip level changes the bytes but not the diffID; level 0 works', async () => {
    const src = tree({ 'a.txt': 'compressible '.repeat(5000) });
    const l1 = await hashLayer({ sources: [{ src, dest: '/app' }], gzipLevel: 1 });
    const l9 = await hashLayer({ sources: [{ src, dest: '/app' }], gzipLevel: 9 });
    const l0 = await build({ sources: [{ src, dest: '/app' }], gzipLevel: 0 });
    assert.equal(l1.diffId, l9.diffId);
    assert.equal(l0.result.diffId, l1.diffId);
    assert.notEqual(l1.digest, l9.digest);
    assert.equal(sha256(zlib.gunzipSync(l0.bytes)), l0.result.diffId);
    await assert.rejects(hashLayer({ sources: [{ src, dest: '/app' }], gzipLevel: 10 }), { name: 'UsageError', code: 'E_USAGE', message: /^gzip level must be an integer from 0 to 9, got 10$/ });
  });
});

describe('layer: .dockerignore', () => {
  async function names(src: string): Promise<string[]> {
    const { bytes } = await build({ sources: [{ src, dest: '/app' }] });
    return (await entries(zlib.gunzipSync(bytes))).map((e) => e.header.name);
  }

  it('applies *.log, !keep.log, **/node_modules, /build and directory exclusion', async () => {
    const src = tree({
      '.dockerignore': '# comment\n*.log\n!keep.log\n**/node_modules\n/build\ndocs/\n',
      'a.log': 'x', 'keep.log': 'k', 'sub/nested.log': 'stays: *.log is root-only',
      'node_modules/m/index.js': 'x', 'sub/node_modules/n.js': 'x',
      'build/out.o': 'x', 'sub/build/kept.o': 'k', 'docs/a.md': 'x', 'docs/deep/b.md': 'x',
      'main.js': 'm',
    });
    assert.deepEqual(await names(src), ['app/.dockerignore', 'app/keep.log', 'app/main.js', 'app/sub/', 'app/sub/build/', 'app/sub/build/kept.o', 'app/sub/nested.log']);
  });

  it('re-includes a file inside an excluded directory, with its parent directory entries', async () => {
    const src = tree({ '.dockerignore': 'vendor\n!vendor/lib/LICENSE\n', 'vendor/lib/LICENSE': 'l', 'vendor/lib/code.c': 'c', 'vendor/other/x': 'x', 'a': 'a' });
    assert.deepEqual(await names(src), ['app/.dockerignore', 'app/a', 'app/vendor/', 'app/vendor/lib/', 'app/vendor/lib/LICENSE']);
  });

  it('supports an allow-list and can exclude .dockerignore itself', async () => {
    const src = tree({ '.dockerignore': '*\n!dist\n', 'dist/app.js': 'a', 'dist/sub/b.js': 'b', 'src/app.ts': 's', 'README.md': 'r', 'Dockerfile': 'FROM x' });
    assert.deepEqual(await names(src), ['app/dist/', 'app/dist/app.js', 'app/dist/sub/', 'app/dist/sub/b.js']);
  });

  it('keeps Dockerfile and .dockerignore unless a pattern matches them', async () => {
    const src = tree({ '.dockerignore': 'x', 'Dockerfile': 'FROM x', 'x': 'x' });
    assert.deepEqual(await names(src), ['app/.dockerignore', 'app/Dockerfile']);
  });

  it('a .dockerignore that exists but is no readable file (a symlink to nothing, a folder, a fifo) is E_INPUT naming it, not "exclude nothing"; a missing one excludes nothing', async () => {
    const refused = async (src: string, why: RegExp) => {
      const file = join(src, '.dockerignore');
      await assert.rejects(hashLayer({ sources: [{ src, dest: '/app' }] }), (err: unknown) => err instanceof InputError && err.code === 'E_INPUT' && err.message.startsWith(`${file}: `) && why.test(err.message) && err.details.path === file);
    };
    await refused(tree({ '.dockerignore': { link: 'gone' }, '.env': 'SECRET=1' }), /: a symlink to nothing \(its target does not exist\); fix or remove it/);
    await refused(tree({ '.dockerignore/x': 'x', '.env': 'SECRET=1' }), /: a directory; a \.dockerignore must be a file \(or absent\)/);
    const fifo = tree({ '.env': 'SECRET=1' });
    const made = spawn('mkfifo', [join(fifo, '.dockerignore')]);
    await new Promise((ok) => made.on('close', ok));
    await refused(fifo, /: not a regular file; a \.dockerignore must be a file/);
    // A symlink to a real file is read through; no file at all leaves everything in.
    const linked = tree({ 'rules': '.env\n', '.dockerignore': { link: 'rules' }, '.env': 'SECRET=1', 'a': 'a' });
    assert.deepEqual(await names(linked), ['app/.dockerignore', 'app/a', 'app/rules']);
    assert.deepEqual(await names(tree({ '.env': 'SECRET=1' })), ['app/.env']);
  });

  it('reports a malformed pattern as InputError naming the file and line, quoting the pattern from a file of the source\'s own', async () => {
    const src = tree({ '.dockerignore': '# rules\n*.log\n\n[oops\n', 'a': 'a' });
    const file = join(src, '.dockerignore');
    await assert.rejects(hashLayer({ sources: [{ src, dest: '/app' }] }), (err: unknown) => err instanceof InputError && err.code === 'E_INPUT' && err.message === `${file}:4: bad pattern "[oops": unclosed "["` && err.details.line === 4);
    writeFileSync(file, 'ok\n!\n');
    await assert.rejects(hashLayer({ sources: [{ src, dest: '/app' }] }), (err: unknown) => err instanceof InputError && err.code === 'E_INPUT' && err.message === `${file}:2: illegal exclusion pattern "!"`);
  });

  it('a malformed line of a symlinked .dockerignore (which may lead to any host file) is named by line, never quoted', async () => {
    // The "host file": a line of it that reads as a malformed pattern must not reach the error line (a CI log).
    const host = tree({ 'credentials': 'user=ci\n[token-s3cr3t\n', 'ranges': 'x\n[z-a]-s3cr3t\n' });
    for (const [target, why] of [['credentials', 'unclosed "["'], ['ranges', 'a range out of order in a character class']] as const) {
      const src = tree({ '.dockerignore': { link: join(host, target) }, 'a': 'a' });
      const file = join(src, '.dockerignore');
      await assert.rejects(hashLayer({ sources: [{ src, dest: '/app' }] }), (err: unknown) => {
        assert.ok(err instanceof InputError);
        assert.equal(err.code, 'E_INPUT');
        assert.equal(err.message, `${file}:2: bad pattern (not quoted: this .dockerignore is a symlink): ${why}`);
        assert.doesNotMatch(JSON.stringify({ m: err.message, d: err.details, c: String(err.cause) }), /s3cr3t/);
        return true;
      });
    }
  });
});

describe('layer: sources', () => {
  it('puts several sources into one layer, file sources too, without entries for parents', async () => {
    const app = tree({ 'a.txt': 'a', 'config/base.json': '{}' });
    const cfg = tree({ 'extra.json': '{"x":1}' });
    const file = tree({ 'tool.sh': { mode: 0o755, data: '#!/bin/sh\n' } });
    const { bytes } = await build({
      sources: [
        { src: app, dest: '/app' },
        { src: cfg, dest: '/app/config' },
        { src: join(file, 'tool.sh'), dest: '/usr/local/bin/' },
        { src: join(file, 'tool.sh'), dest: '/opt/renamed' },
      ],
    });
    const es = await entries(zlib.gunzipSync(bytes));
    assert.deepEqual(
      es.map((e) => e.header.name),
      ['app/a.txt', 'app/config/', 'app/config/base.json', 'app/config/extra.json', 'usr/local/bin/tool.sh', 'opt/renamed'],
    );
    assert.equal(es.find((e) => e.header.name === 'opt/renamed')!.header.mode, 0o755);
  });

  it('with chown, a directory a source copies is that source\'s even when another source reached it first as a parent (either order)', async () => {
    const publish = tree({ 'a.txt': 'a', 'bin/x': 'x' });
    const tool = tree({ 'tool.sh': { mode: 0o755, data: '#!/bin/sh\n' } });
    const file = (dest: string) => ({ src: join(tool, 'tool.sh'), dest });
    const owners = async (sources: { src: string; dest: string }[]) => {
      const es = await entries(zlib.gunzipSync((await build({ sources, chown: { uid: 1000, gid: 2000 } })).bytes));
      return Object.fromEntries(es.filter((e) => e.header.type === 'directory').map((e) => [e.header.name, `${e.header.uid}:${e.header.gid} ${e.header.mode!.toString(8)}`]));
    };
    const want = { 'app/': '1000:2000 755', 'app/bin/': '1000:2000 755' };
    // /app/lib is not in publish: only the file's parent, which gets no entry (the base's, or the runtime's 0755 root).
    assert.deepEqual(await owners([file('/app/bin/tool'), file('/app/lib/tool'), { src: publish, dest: '/app' }]), want);
    assert.deepEqual(await owners([{ src: publish, dest: '/app' }, file('/app/bin/tool'), file('/app/lib/tool')]), want);
  });

  describe('sources that put something at the same path: one entry, the later source\'s (the OCI layer format allows no duplicates)', () => {
    /** Entries as "name type content|target", and a check that no path appears twice (a directory's trailing slash aside). */
    async function layerOf(sources: { src: string; dest: string }[]): Promise<string[]> {
      const opts = { sources };
      const { bytes, result } = await build(opts);
      assert.equal((await computeDiffId(opts)).diffId, result.diffId);
      const es = await entries(zlib.gunzipSync(bytes));
      const paths = es.map((e) => e.header.name.replace(/\/$/, ''));
      assert.equal(new Set(paths).size, paths.length, `duplicate entries: ${paths.join(' ')}`);
      return es.map((e) => `${e.header.name} ${e.header.type}${e.header.type === 'file' ? ` ${e.data.toString()}` : e.header.type === 'symlink' ? ` ${e.header.linkname}` : ''}`);
    }

    it('a file in two directory sources, or a file source over a directory source\'s file', async () => {
      const a = tree({ 'only-a.txt': 'a', 'same.txt': 'from a', 'd/y': 'a', 'config.json': '{"env":"dev"}', 'l': { link: 'only-a.txt' } });
      const b = tree({ 'same.txt': 'from b', 'd/y': 'b', 'z': 'b', 'l': { link: 'z' } });
      const prod = tree({ 'prod.json': '{"env":"prod"}' });
      assert.deepEqual(await layerOf([{ src: a, dest: '/app' }, { src: b, dest: '/app' }, { src: join(prod, 'prod.json'), dest: '/app/config.json' }]), [
        'app/d/ directory', 'app/only-a.txt file a',
        'app/d/y file b', 'app/l symlink z', 'app/same.txt file from b', 'app/z file b',
        'app/config.json file {"env":"prod"}',
      ]);
    });

    it('a later directory replaces an earlier file or symlink; a later file or symlink replaces an earlier directory and all below it', async () => {
      const a = tree({ 'x': 'file in a', 'y/inner': 'inner', 'y/deeper/f': 'f', 'lib': { link: '/usr/lib' }, 'keep': 'k' });
      const b = tree({ 'x/k': 'k in b', 'y': { link: 'x' } });
      const tool = tree({ 'tool': 't' });
      assert.deepEqual(await layerOf([{ src: a, dest: '/app' }, { src: b, dest: '/app' }, { src: join(tool, 'tool'), dest: '/app/lib/tool' }]), [
        'app/keep file k',
        'app/x/ directory', 'app/x/k file k in b', 'app/y symlink x',
        'app/lib/tool file t',
      ]);
      // A file source, then a directory source at the same destination (and the other way round).
      assert.deepEqual(await layerOf([{ src: join(tool, 'tool'), dest: '/opt/t' }, { src: b, dest: '/opt/t' }]), ['opt/t/x/ directory', 'opt/t/x/k file k in b', 'opt/t/y symlink x']);
      assert.deepEqual(await layerOf([{ src: b, dest: '/opt/t' }, { src: join(tool, 'tool'), dest: '/opt/t' }]), ['opt/t file t']);
    });

    it('a directory and a file given without DEST (--app ./dist --app ./package.json): the file goes into the default directory beside the tree', async () => {
      const dist = tree({ 'index.js': 'js' });
      const pkg = tree({ 'package.json': '{}' });
      const sources = [parseAppFlag(dist, '/app'), parseAppFlag(join(pkg, 'package.json'), '/app')];
      assert.deepEqual(await layerOf(sources), ['app/index.js file js', 'app/package.json file {}']);
      // A file alone: into the work directory, which stays a directory.
      assert.deepEqual(await layerOf([parseAppFlag(join(pkg, 'package.json'), '/app')]), ['app/package.json file {}']);
    });

    it('a later source\'s directory that .dockerignore leaves out but for an exception below it replaces an earlier file of that name (no duplicate entry)', async () => {
      const a = tree({ 'd': 'from a' });
      const b = tree({ '.dockerignore': 'd\n!d/keep\n', 'd/keep': 'keep', 'd/drop': 'drop' });
      assert.deepEqual(await layerOf([{ src: a, dest: '/app' }, { src: b, dest: '/app' }]), ['app/.dockerignore file d\n!d/keep\n', 'app/d/ directory', 'app/d/keep file keep']);
      // An exception that keeps nothing there: the earlier file stays.
      const c = tree({ '.dockerignore': 'd\n!d/none\n', 'd/drop': 'drop' });
      assert.deepEqual(await layerOf([{ src: a, dest: '/app' }, { src: c, dest: '/app' }]), ['app/d file from a', 'app/.dockerignore file d\n!d/none\n']);
    });

    it('what a later source\'s .dockerignore leaves out does not replace anything', async () => {
      const a = tree({ 'same.txt': 'from a', 'x': 'file in a' });
      const b = tree({ '.dockerignore': 'same.txt\nx\n', 'same.txt': 'from b', 'x/k': 'k' });
      assert.deepEqual(await layerOf([{ src: a, dest: '/app' }, { src: b, dest: '/app/' }]), ['app/same.txt file from a', 'app/x file file in a', 'app/.dockerignore file same.txt\nx\n']);
    });
  });

  it('follows a symlink given as the source itself (file or directory), not the ones inside', async () => {
    const real = tree({ 'dir/a.txt': 'a', 'dir/l': { link: 'a.txt' }, 'f.txt': 'file' });
    const links = tree({ 'to-dir': { link: join(real, 'dir') }, 'to-file': { link: join(real, 'f.txt') } });
    const { bytes } = await build({ sources: [{ src: join(links, 'to-dir'), dest: '/app' }, { src: join(links, 'to-file'), dest: '/etc/f.txt' }] });
    const es = await entries(zlib.gunzipSync(bytes));
    assert.deepEqual(es.map((e) => `${e.header.name} ${e.header.type}`), ['app/a.txt file', 'app/l symlink', 'etc/f.txt file']);
    assert.equal(es[2].data.toString(), 'file');
  });

  it('a source at / puts its contents at the image root', async () => {
    const src = tree({ 'etc/motd': 'hi' });
    const es = await entries(zlib.gunzipSync((await build({ sources: [{ src, dest: '/' }] })).bytes));
    assert.deepEqual(es.map((e) => e.header.name), ['etc/', 'etc/motd']);
  });

  it('normalises the destination; .. cannot climb above /', async () => {
    const src = tree({ 'a': 'a' });
    const es = await entries(zlib.gunzipSync((await build({ sources: [{ src, dest: '/x/../../app//' }], chown: { uid: 1, gid: 1 } })).bytes));
    assert.deepEqual(es.map((e) => e.header.name), ['app/', 'app/a']);
  });

  it('validateSources: a path too long, or a symlink loop, is said in words, not as the bare error code', async () => {
    const long = join(root, `${'x'.repeat(300)}`);
    const deep = join(root, ...Array.from({ length: 2100 }, () => 'd'));
    for (const src of [long, deep]) {
      await assert.rejects(validateSources([{ src, dest: '/app' }], root), (err: unknown) => err instanceof InputError && err.code === 'E_INPUT' && err.message === `app source ${src}: name too long (the path, or one name in it, is longer than this system allows)`);
    }
    const loop = tree({ 'a': { link: 'b' }, 'b': { link: 'a' } });
    await assert.rejects(validateSources([{ src: join(loop, 'a'), dest: '/app' }], root), (err: unknown) => err instanceof InputError && err.code === 'E_INPUT' && err.message === `app source ${join(loop, 'a')}: too many levels of symbolic links (a symlink loop, or a chain of links too long to follow)`);
  });

  it('validateSources: missing, not a dir/file → one-line InputError naming the path; no source, a relative dest → UsageError (the caller\'s options)', async () => {
    const src = tree({ 'a': 'a' });
    const missing = join(root, 'does-not-exist');
    await assert.rejects(validateSources([{ src: missing, dest: '/app' }], '/'), (err: unknown) => err instanceof InputError && err.code === 'E_INPUT' && err.message.includes(missing) && !err.message.includes('\n'));
    await run('mkfifo', [join(src, 'fifo')], Buffer.alloc(0));
    await assert.rejects(validateSources([{ src: join(src, 'fifo'), dest: '/app' }], '/'), (err: unknown) => err instanceof InputError && err.code === 'E_INPUT' && /not a directory or regular file/.test(err.message));
    await assert.rejects(validateSources([{ src, dest: 'app' }], '/'), { name: 'UsageError', code: 'E_USAGE', message: `app source ${src}: destination "app" must be an absolute path inside the image` });
    await assert.rejects(validateSources([], '/'), { name: 'UsageError', code: 'E_USAGE', message: /^no app source given$/ });
    await validateSources([{ src, dest: '/app' }, { src: join(src, 'a'), dest: '/a' }], '/');
    // The layer functions check the same things before building.
    const { stream, result } = createLayerStream({ sources: [{ src: missing, dest: '/app' }] });
    stream.resume();
    await assert.rejects(result, { name: 'InputError', code: 'E_INPUT', message: /^app source \S+\/does-not-exist: not found$/ });
  });

  it('an unreadable source or subdirectory is an InputError, an unreadable excluded one is skipped (checked as an unprivileged user)', async (t) => {
    if (process.getuid?.() !== 0) {
      // Not root: permissions apply to us directly.
      const src = tree({ 'locked/x': 'x' });
      chmodSync(join(src, 'locked'), 0);
      try {
        await assert.rejects(validateSources([{ src: join(src, 'locked'), dest: '/app' }], '/'), { name: 'InputError', code: 'E_INPUT', message: /^app directory .*locked: permission denied$/ });
        await assert.rejects(hashLayer({ sources: [{ src, dest: '/app' }] }), { name: 'InputError', code: 'E_INPUT', message: /^cannot read .*locked: permission denied$/ });
      } finally {
        chmodSync(join(src, 'locked'), 0o755);
      }
      return;
    }
    // Root reads everything, so run the check in a child process as nobody.
    const base = mkdtempSync(join(tmpdir(), 'regpush-layer-perm-'));
    try {
      chmodSync(base, 0o755);
      mkdirSync(join(base, 'locked'), { mode: 0o700 });
      writeFileSync(join(base, 'locked', 'x'), 'x');
      mkdirSync(join(base, 'open', 'inner'), { recursive: true, mode: 0o755 });
      chmodSync(join(base, 'open', 'inner'), 0o700);
      // Excluded and unreadable (a database's data directory), under a `**` exception that makes
      // the walk look into excluded directories: nothing there to take, so no error.
      mkdirSync(join(base, 'ignored', 'pgdata'), { recursive: true, mode: 0o755 });
      mkdirSync(join(base, 'ignored', 'keep'), { mode: 0o755 });
      writeFileSync(join(base, 'ignored', 'keep', 'README.md'), 'kept\n');
      writeFileSync(join(base, 'ignored', 'pgdata', 'README.md'), 'secret\n');
      writeFileSync(join(base, 'ignored', '.dockerignore'), 'pgdata\n.dockerignore\n!**/README.md\n');
      chmodSync(join(base, 'ignored', 'pgdata'), 0o700);
      const mod = new URL('../../src/layer/index.js', import.meta.url).href;
      const script = `
        const { validateSources, hashLayer } = await import(${JSON.stringify(mod)});
        const out = [];
        for (const f of [() => validateSources([{ src: ${JSON.stringify(join(base, 'locked'))}, dest: '/app' }], '/'),
                         () => hashLayer({ sources: [{ src: ${JSON.stringify(join(base, 'open'))}, dest: '/app' }] }),
                         () => hashLayer({ sources: [{ src: ${JSON.stringify(join(base, 'ignored'))}, dest: '/app' }] }).then((r) => r.diffId)]) {
          try { out.push(String(await f() ?? 'no error')); } catch (e) { out.push(e.code + ' ' + e.message); }
        }
        console.log(JSON.stringify(out));`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { uid: 65534, gid: 65534, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (c: Buffer) => (out += c));
      child.stderr.on('data', (c: Buffer) => (err += c));
      const code = await new Promise<number | null>((r) => child.on('close', r));
      if (code !== 0 && /EPERM|EACCES/.test(err)) {
        t.skip('cannot switch to nobody here');
        return;
      }
      const [v, h, ignored] = JSON.parse(out) as string[];
      assert.match(v, /^E_INPUT app directory .*locked: permission denied$/);
      assert.match(h, /^E_INPUT cannot read .*inner: permission denied$/);
      // The layer holds keep/README.md alone: the same as a tree without the data directory.
      const same = tree({ 'keep/README.md': 'kept\n' });
      assert.equal(ignored, (await hashLayer({ sources: [{ src: same, dest: '/app' }] })).diffId);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('parseAppFlag: DIR, DIR:DEST, and errors for empty or relative DEST', () => {
    // The default destination is a directory: a file given without DEST goes into it.
    assert.deepEqual(parseAppFlag('./publish', '/app'), { src: './publish', dest: '/app/' });
    assert.deepEqual(parseAppFlag('./publish', '/'), { src: './publish', dest: '/' });
    assert.deepEqual(parseAppFlag('./publish', '/srv/'), { src: './publish', dest: '/srv/' });
    assert.deepEqual(parseAppFlag('./publish:/srv/www', '/app'), { src: './publish', dest: '/srv/www' });
    assert.deepEqual(parseAppFlag('a:b:/c', '/app'), { src: 'a:b', dest: '/c' });
    assert.deepEqual(parseAppFlag('C:\\publish', '/app'), { src: 'C:\\publish', dest: '/app/' });
    assert.deepEqual(parseAppFlag('./tool.sh:/usr/bin/', '/app'), { src: './tool.sh', dest: '/usr/bin/' });
    // A one-letter directory with a destination is SRC:DEST, whatever exists on disk; only a
    // Windows host reads a forward-slash drive (C:/publish) as a source path of its own.
    assert.deepEqual(parseAppFlag('x:/srv', '/app', '--app', 'linux'), { src: 'x', dest: '/srv' });
    if (process.platform !== 'win32') assert.deepEqual(parseAppFlag('x:/srv', '/app'), { src: 'x', dest: '/srv' }, 'the host by default');
    assert.deepEqual(parseAppFlag('c:/srv/', '/app', '--app', 'darwin'), { src: 'c', dest: '/srv/' });
    assert.deepEqual(parseAppFlag('C:\\publish', '/app', '--app', 'linux'), { src: 'C:\\publish', dest: '/app/' });
    assert.deepEqual(parseAppFlag('C:/publish', '/app', '--app', 'win32'), { src: 'C:/publish', dest: '/app/' });
    assert.deepEqual(parseAppFlag('C:/publish:/srv', '/app', '--app', 'win32'), { src: 'C:/publish', dest: '/srv' });
    for (const [bad, message] of [
      ['', '--app: empty value; expected DIR or DIR:/absolute/dest'],
      ['   ', '--app: empty value; expected DIR or DIR:/absolute/dest'],
      ['./publish:', '--app ./publish:: empty destination after ":"'],
      ['./publish:app', '--app ./publish:app: destination "app" must be an absolute path inside the image'],
      [':/app', '--app :/app: empty source before ":"'],
    ]) {
      assert.throws(() => parseAppFlag(bad, '/app'), { name: 'UsageError', code: 'E_USAGE', message }, bad);
    }
    assert.throws(() => parseAppFlag('./publish', 'relative'), { name: 'UsageError', code: 'E_USAGE', message: /^--app \.\/publish: destination "relative\/" must be an absolute path inside the image$/ });
  });
});

describe('layer: streaming, failures and cancellation', () => {
  it('streams a 50 MB sparse-ish file with RSS growth well under 100 MB', async (t) => {
    const src = tree({});
    const file = join(src, 'big.bin');
    const fd = openSync(file, 'w');
    // 1 MiB of random data every 5 MiB, holes in between: both cheap and incompressible parts.
    for (let off = 0; off < 50 * 1024 * 1024; off += 5 * 1024 * 1024) writeSync(fd, randomBytes(1024 * 1024), 0, 1024 * 1024, off);
    closeSync(fd);
    truncateSync(file, 50 * 1024 * 1024);
    const before = process.memoryUsage().rss;
    let peak = before;
    const { stream, result } = createLayerStream({ sources: [{ src, dest: '/app' }] });
    let total = 0;
    for await (const c of stream) {
      total += (c as Buffer).length;
      peak = Math.max(peak, process.memoryUsage().rss);
      await new Promise((r) => setImmediate(r)); // a consumer slower than the producer
    }
    const r = await result;
    assert.equal(r.size, total);
    assert.ok(r.uncompressedSize > 50 * 1024 * 1024);
    const growth = (peak - before) / 1024 / 1024;
    t.diagnostic(`RSS growth ${growth.toFixed(1)} MB for a 50 MB file`);
    assert.ok(growth < 60, `RSS grew by ${growth.toFixed(1)} MB`);
  });

  it('fails with InputError, not a corrupt tar, when a file shrinks while being read', async () => {
    const src = tree({ 'big.bin': randomBytes(16 * 1024 * 1024) });
    const { stream, result } = createLayerStream({ sources: [{ src, dest: '/app' }] });
    let first = true;
    const done = (async () => {
      for await (const c of stream) {
        void c;
        if (first) {
          first = false;
          truncateSync(join(src, 'big.bin'), 1000);
        }
      }
    })();
    await assert.rejects(done, (err: unknown) => err instanceof InputError && err.code === 'E_INPUT' && /shrank|changed size/.test(err.message));
    await assert.rejects(result, { name: 'InputError', code: 'E_INPUT', message: /\/big\.bin shrank while being read \(\d+ of 16777216 bytes\)$/ });
  });

  it('fails with InputError when a file grows while being read', async () => {
    const src = tree({ 'big.bin': randomBytes(16 * 1024 * 1024) });
    const { stream, result } = createLayerStream({ sources: [{ src, dest: '/app' }] });
    let first = true;
    stream.on('data', () => {
      if (first) {
        first = false;
        appendFileSync(join(src, 'big.bin'), 'more');
      }
    });
    await assert.rejects(result, (err: unknown) => err instanceof InputError && err.code === 'E_INPUT' && /changed size/.test(err.message));
  });

  it('fails with InputError when a file is rewritten in place (same size) while being read, in the build and in the diffID pass', async () => {
    // dd conv=notrunc over a file the layer is reading: same size, other bytes. The file's times
    // are set back first, so that the rewrite changes its mtime even on a coarse clock.
    const changed = { name: 'InputError', code: 'E_INPUT', message: /big\.bin changed while it was being read \(written to during the build\)/ };
    const rewrite = (p: string): void => {
      const fd = openSync(p, 'r+');
      try {
        writeSync(fd, Buffer.alloc(statSync(p).size));
      } finally {
        closeSync(fd);
      }
    };
    const make = (): string => {
      const src = tree({ 'big.bin': randomBytes(4 * 1024 * 1024) });
      utimesSync(join(src, 'big.bin'), new Date(1_000_000_000_000), new Date(1_000_000_000_000));
      return src;
    };
    // The build: the writer parks after handing a block over, so the rewrite lands between two
    // blocks of the same file (16 KiB blocks of a 4 MiB file).
    const src = make();
    const cfg = resolveLayerOptions({ sources: [{ src, dest: '/app' }], blockSize: 16 * 1024 });
    const blocks = tarBlocks(cfg, new AbortController().signal, { bytes: 0, entries: 0, diffId: '' }, new BufferPool(cfg.blockSize, 2));
    await blocks.next();
    rewrite(join(src, 'big.bin'));
    await assert.rejects(
      (async () => {
        while (!(await blocks.next()).done);
      })(),
      changed,
    );
    // The diffID pass gives the event loop a turn after each MiB: the rewrite lands at the first.
    const src2 = make();
    const pass = computeDiffId({ sources: [{ src: src2, dest: '/app' }] });
    setImmediate(() => rewrite(join(src2, 'big.bin')));
    await assert.rejects(pass, changed);
    // Left alone, the same file builds (its times at open and after the read agree).
    await computeDiffId({ sources: [{ src: make(), dest: '/app' }] });
  });

  it('a file deleted after the walk listed it is said to have disappeared, not to be "not found"', async () => {
    const src = tree({ 'a.bin': randomBytes(1024 * 1024), 'z.txt': 'last' });
    const cfg = resolveLayerOptions({ sources: [{ src, dest: '/app' }], blockSize: 16 * 1024 });
    const blocks = tarBlocks(cfg, new AbortController().signal, { bytes: 0, entries: 0, diffId: '' }, new BufferPool(cfg.blockSize, 2));
    await blocks.next(); // the directory is listed and a.bin is being read
    rmSync(join(src, 'z.txt'));
    await assert.rejects(
      (async () => {
        while (!(await blocks.next()).done);
      })(),
      { name: 'InputError', code: 'E_INPUT', message: `${join(src, 'z.txt')} disappeared while the layer was being built (deleted after the walk listed it)` },
    );
  });

  it('an AbortSignal stops the stream and the result with AbortedError', async () => {
    const src = tree({ 'big.bin': randomBytes(8 * 1024 * 1024) });
    const ac = new AbortController();
    const { stream, result } = createLayerStream({ sources: [{ src, dest: '/app' }], signal: ac.signal });
    const errored = new Promise<unknown>((r) => stream.on('error', r));
    stream.once('data', () => ac.abort());
    stream.resume();
    const destroyed = await errored;
    assert.ok(destroyed instanceof AbortedError && destroyed.code === 'E_ABORTED' && destroyed.message === 'layer build aborted', String(destroyed));
    await assert.rejects(result, { name: 'AbortedError', code: 'E_ABORTED', message: 'layer build aborted' });
    const pre = new AbortController();
    pre.abort();
    await assert.rejects(hashLayer({ sources: [{ src, dest: '/app' }], signal: pre.signal }), { name: 'AbortedError', code: 'E_ABORTED', message: 'layer build aborted' });
    await assert.rejects(computeDiffId({ sources: [{ src, dest: '/app' }], signal: pre.signal }), { name: 'AbortedError', code: 'E_ABORTED', message: 'layer build aborted' });
  });

  it('a diffID pass gives the event loop turns: I/O callbacks run while it hashes', async () => {
    // 8 MiB in one file and 200 small files: both the per-MiB and the per-entry turns are needed.
    const spec: Record<string, Buffer> = { 'big.bin': randomBytes(8 * 1024 * 1024) };
    for (let i = 0; i < 200; i++) spec[`small/${i}.txt`] = Buffer.from(`file ${i}\n`);
    const src = tree(spec);
    let settled = false;
    const pass = computeDiffId({ sources: [{ src, dest: '/app' }] }).finally(() => (settled = true));
    const turns: boolean[] = [];
    const tick = (): void => {
      turns.push(settled);
      if (!settled) setImmediate(tick);
    };
    setImmediate(tick);
    await pass;
    // Macrotasks ran while the pass was still going (without the turns it would run as one long task).
    assert.ok(turns.filter((s) => !s).length >= 8, `only ${turns.filter((s) => !s).length} turns during the pass`);
  });

  it('destroying the stream early rejects the result and closes every file', async () => {
    const fds = (): number => readdirSync('/proc/self/fd').length;
    const src = tree({ 'a.bin': randomBytes(4 * 1024 * 1024), 'b.bin': randomBytes(4 * 1024 * 1024) });
    const before = fds();
    const { stream, result } = createLayerStream({ sources: [{ src, dest: '/app' }] });
    await new Promise<void>((r) => stream.once('data', () => r()));
    stream.destroy();
    await assert.rejects(result, { name: 'AbortedError', code: 'E_ABORTED', message: 'layer stream closed before its end' });
    // A file's close may land a few turns after the rejection (more on a loaded machine): poll.
    for (let i = 0; i < 200 && fds() !== before; i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(fds(), before);
  });

  it('bad options fail the stream and the result', async () => {
    const src = tree({ 'a': 'a' });
    const { stream, result } = createLayerStream({ sources: [{ src, dest: '/app' }], blockSize: 1 });
    const err = await new Promise<unknown>((r) => stream.on('error', r));
    assert.ok(err instanceof UsageError);
    assert.equal(err.code, 'E_USAGE');
    assert.equal(err.message, 'gzip block size must be an integer from 16384 to 67108864, got 1');
    await assert.rejects(result, { name: 'UsageError', code: 'E_USAGE', message: /^gzip block size must be an integer from 16384 to 67108864, got 1$/ });
  });

  it('a stalled consumer stops the walk, however many header-only entries there are', async () => {
    const src = tree({});
    for (let i = 0; i < 3000; i++) mkdirSync(join(src, `d${String(i).padStart(5, '0')}`));
    const cfg = resolveLayerOptions({ sources: [{ src, dest: '/app' }], blockSize: 16 * 1024 });
    const stats: TarStats = { bytes: 0, entries: 0, diffId: '' };
    const pool = new BufferPool(cfg.blockSize, 2);
    const blocks = tarBlocks(cfg, new AbortController().signal, stats, pool);
    await blocks.next(); // take one 16 KiB block (32 headers), then stall
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(stats.entries < 200, `walk ran ahead by ${stats.entries} entries`);
    let n = 1;
    while (!(await blocks.next()).done) n++;
    assert.equal(stats.entries, 3000); // the 3,000 directories (no entry for app/ itself without --chown)
    assert.ok(n > 90);
  });
});

