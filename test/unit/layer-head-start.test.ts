// LayerHeadStart (src/push/layer-head-start.ts): a layer build started before its upload can send
// it. The upload that takes it must read exactly the bytes a build started then would give; the
// bytes held while nobody reads stay within the bound; a dropped build stops and frees them. And
// in push(): where the layer is the critical path (a scratch or same-registry push), its gzip
// runs while the target's tag is still being asked about; a tag that exists stops it.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { push } from '../../src/index.js';
import { createLayerStream, hashLayer, type LayerOptions } from '../../src/layer/index.js';
import { HEAD_START_BYTES, LayerHeadStart } from '../../src/push/layer-head-start.js';
import { SMALL_LAYER_BYTES } from '../../src/push/layer-upload.js';
import { fakeLibraryOptions, fakeRegistryPool } from '../fixtures/fake-registry.js';

const fake = fakeRegistryPool();
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A directory of `files` files of `size` random bytes each (random: gzip cannot shrink them). */
function appDir(files: number, size: number): string {
  const d = mkdtempSync(join(tmpdir(), 'regpush-head-start-'));
  dirs.push(d);
  for (let i = 0; i < files; i++) writeFileSync(join(d, `f${i}.bin`), randomBytes(size));
  return d;
}
const layerOf = (dir: string): LayerOptions => ({ sources: [{ src: dir, dest: '/app' }], mtime: 0 });
const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves once `head` holds at least `bytes` (polled; a loaded machine may take a while). */
async function holding(head: LayerHeadStart, bytes: number): Promise<number> {
  for (let i = 0; i < 600 && head.bytesHeld < bytes; i++) await sleep(25);
  assert.ok(head.bytesHeld >= bytes, `held ${head.bytesHeld} of the ${bytes} bytes waited for`);
  return head.bytesHeld;
}

/** The build's own result (private): settles when the build has ended, failed or was stopped. */
const resultOf = (head: LayerHeadStart): Promise<unknown> => (head as unknown as { result: Promise<unknown> }).result;

/**
 * Resolves once `head`'s build has ended and its facts are known (polled, like holding(): its
 * 'end' follows the last bytes, and a loaded machine may take a while to deliver it).
 */
async function untilEnded(head: LayerHeadStart): Promise<void> {
  const ended = (): boolean => (head as unknown as { ended: boolean }).ended && head.built !== undefined;
  for (let i = 0; i < 600 && !ended(); i++) await sleep(25);
  assert.ok(ended(), 'the build ended');
}

/** A path inside a fresh temp directory that does not exist (never one shared with other runs). */
function missingDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'regpush-head-start-'));
  dirs.push(d);
  return join(d, 'missing');
}

test('taken after its build ended: the same bytes and result as a build started then', async () => {
  const opts = layerOf(appDir(3, 20_000));
  const expected = await hashLayer(opts);
  const head = new LayerHeadStart(opts, undefined);
  await holding(head, expected.size); // the whole layer: its build has ended
  const started = head.take();
  assert.ok(started);
  const bytes = await readAll(started.stream);
  const result = await started.result;
  assert.equal(sha256(bytes), expected.digest);
  assert.deepEqual(result, expected);
  assert.equal(head.take(), undefined, 'one upload takes it');
});

test('taken while waiting at its bound: held bytes stay within it; the held bytes then the rest make the whole layer', async () => {
  const opts = layerOf(appDir(8, 512 * 1024)); // 4 MiB that gzip cannot shrink
  const limit = 256 * 1024;
  const fresh = createLayerStream(opts);
  const whole = await readAll(fresh.stream);
  const head = new LayerHeadStart(opts, undefined, limit);
  await holding(head, limit);
  await sleep(300); // time to run on, were the bound not stopping it
  const held = head.bytesHeld;
  // One gzip member may land past the bound (the member that crossed it); never the whole layer.
  assert.ok(held < whole.length / 2, `held ${held} of ${whole.length} bytes: the bound did not stop the build`);
  const started = head.take();
  assert.ok(started);
  const bytes = await readAll(started.stream);
  assert.equal(bytes.length, whole.length);
  assert.ok(bytes.equals(whole), 'byte-identical to a build started later');
  assert.equal((await started.result).digest, sha256(whole));
});

test('dropped: the build stops, its result rejects as aborted, and nothing can take it', async () => {
  const opts = layerOf(appDir(8, 512 * 1024));
  const head = new LayerHeadStart(opts, undefined, 128 * 1024);
  await holding(head, 128 * 1024);
  const result = resultOf(head);
  head.drop();
  assert.equal(head.bytesHeld, 0, 'what it held is freed');
  await assert.rejects(result, { name: 'AbortedError', code: 'E_ABORTED', message: 'layer build aborted' });
  assert.equal(head.take(), undefined);
});

test('a build that failed is not handed over: the upload builds the layer itself and meets the error there', async () => {
  const head = new LayerHeadStart(layerOf(missingDir()), undefined);
  await assert.rejects(resultOf(head), { name: 'InputError', code: 'E_INPUT', message: /^app source \S+\/missing: not found$/ });
  assert.equal(head.take(), undefined);
});

test('the caller\'s abort stops a running build', async () => {
  const ac = new AbortController();
  const head = new LayerHeadStart(layerOf(appDir(8, 512 * 1024)), ac.signal, 128 * 1024);
  const result = resultOf(head);
  ac.abort();
  await assert.rejects(result, { name: 'AbortedError', code: 'E_ABORTED', message: 'layer build aborted' });
  assert.equal(head.take(), undefined);
});

// Long enough that "during the tag's GET" and "after its answer" stay apart on a loaded machine.
const TAG_DELAY_MS = 1000;

test('push onto scratch: the layer is built while the tag is asked about; the image is the one a late build gives', async () => {
  const dst = await fake();
  const dir = appDir(4, 100_000);
  const tagGet = { kind: 'manifest' as const, method: 'GET', repo: 'app' };
  dst.fault(tagGet, { kind: 'delay', ms: TAG_DELAY_MS });
  let firstWork: number | undefined;
  const r = await push({ from: 'scratch', to: dst.ref('app:1'), app: [{ src: dir, dest: '/app' }], events: { work: () => (firstWork ??= Date.now()) }, ...fakeLibraryOptions(dst) });
  const asked = dst.requests(tagGet)[0]!;
  assert.ok(firstWork !== undefined && firstWork < asked.at + TAG_DELAY_MS / 2, `the build began ${firstWork! - asked.at} ms after the tag's GET went out, not after its answer (${TAG_DELAY_MS} ms)`);
  const expected = await hashLayer(layerOf(dir));
  assert.equal(r.layer?.digest, expected.digest);
  assert.ok(dst.blob('app', expected.digest), 'the layer is stored under its digest');
  assert.equal(dst.manifest('app', '1')?.digest, r.digest);
  assert.equal(dst.count({ kind: 'upload', method: 'PATCH' }), 0, 'a small layer (SMALL_LAYER_BYTES) goes as one PUT');
  assert.equal(dst.uploadsFor(expected.digest).filter((u) => u.method === 'PUT').length, 1);
  assert.equal(dst.openUploads(), 0);

  // The tag now holds the image: the early build stops, nothing is uploaded, the result is the same.
  dst.clearLog();
  const again = await push({ from: 'scratch', to: dst.ref('app:1'), app: [{ src: dir, dest: '/app' }], ...fakeLibraryOptions(dst) });
  assert.equal(again.digest, r.digest);
  assert.equal(dst.count({ kind: 'upload', method: ['PATCH', 'PUT'] }), 0, 'nothing sent');
  assert.equal(dst.openUploads(), 0, 'the spare session was given back');
});

test('the layer upload by size: one that ends within SMALL_LAYER_BYTES goes as POST then one PUT with its digest; one over the head start bound streams (POST, PATCH, PUT); both byte-exact', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/os', { tags: ['1'] });
  const smallDir = appDir(2, 100_000); // random bytes: ~200 kB of gzip output
  // Over the head start's bound: it streams however early its session opens (wholeIfEnded never sees it end).
  const largeDir = appDir(3, HEAD_START_BYTES / 2); // ~12 MiB of gzip output
  const opts = fakeLibraryOptions(src, dst);
  for (const [dir, tag, wantPatch] of [[smallDir, 'small', false], [largeDir, 'large', true]] as const) {
    dst.clearLog();
    const r = await push({ from: src.ref('base/os:1'), to: dst.ref(`app:${tag}`), app: [{ src: dir, dest: '/app' }], ...opts });
    const expected = await hashLayer(layerOf(dir));
    assert.equal(r.layer?.digest, expected.digest, `${tag}: the digest of a build from scratch`);
    assert.equal(sha256(dst.blob('app', expected.digest)!), expected.digest, `${tag}: the stored bytes hash to the digest`);
    const steps = dst.uploadsFor(expected.digest).map((u) => u.method);
    assert.deepEqual(steps, wantPatch ? ['POST', 'PATCH', 'PUT'] : ['POST', 'PUT'], `${tag}: ${steps.join(' → ')}`);
    assert.equal(r.layer?.method, wantPatch ? 'patch' : 'put');
    assert.equal(dst.manifest('app', tag)?.digest, r.digest);
  }
  assert.equal(dst.openUploads(), 0);
});

test('whole(): a build that ended over the bound is still a stream (the size decides, not how far the build got); within it, its whole output', async () => {
  const big = layerOf(appDir(2, 1024 * 1024)); // ~2 MiB of gzip output
  const whole = await readAll(createLayerStream(big).stream);
  const head = new LayerHeadStart(big, undefined);
  await holding(head, whole.length); // ended: everything held
  await untilEnded(head);
  assert.equal(head.bytesHeld, whole.length);
  assert.equal(await head.whole(SMALL_LAYER_BYTES), undefined);
  const started = head.take();
  assert.ok(started);
  assert.ok((await readAll(started.stream)).equals(whole));

  const smallOpts = layerOf(appDir(2, 50_000));
  const small = new LayerHeadStart(smallOpts, undefined);
  const got = await small.whole(SMALL_LAYER_BYTES);
  assert.ok(got, 'a layer within the bound is given whole');
  assert.equal(sha256(got.data), (await hashLayer(smallOpts)).digest);
  assert.equal(got.result.digest, sha256(got.data));
  assert.equal(small.take(), undefined, 'taken by whole()');
});

test('push onto scratch whose session opens late: a layer over SMALL_LAYER_BYTES whose build has ended by then goes as one PUT; the bytes are those of a streamed build', async () => {
  const dst = await fake();
  const dir = appDir(2, 1024 * 1024); // ~2 MiB of gzip output: over SMALL_LAYER_BYTES, within HEAD_START_BYTES
  // The session's POST (sent alongside the tag's GET) is answered long after a 2 MiB build ends.
  dst.fault({ kind: 'upload', method: 'POST' }, { kind: 'delay', ms: TAG_DELAY_MS });
  const r = await push({ from: 'scratch', to: dst.ref('app:big'), app: [{ src: dir, dest: '/app' }], ...fakeLibraryOptions(dst) });
  const expected = await hashLayer(layerOf(dir));
  assert.equal(r.layer?.digest, expected.digest);
  assert.equal(sha256(dst.blob('app', expected.digest)!), expected.digest);
  assert.deepEqual(dst.uploadsFor(expected.digest).map((u) => u.method), ['POST', 'PUT']);
  assert.equal(r.layer?.method, 'put');
  assert.equal(dst.manifest('app', 'big')?.digest, r.digest);
  assert.equal(dst.openUploads(), 0);
});

test('wholeIfEnded(): nothing while the build runs (it stays for take()), its whole output once it has ended', async () => {
  const opts = layerOf(appDir(3, 1024 * 1024));
  const expected = await hashLayer(opts);
  const running = new LayerHeadStart(opts, undefined);
  assert.equal(await running.wholeIfEnded(), undefined, 'a build that has just started is not waited for');
  const started = running.take();
  assert.ok(started, 'still there for the stream');
  assert.equal(sha256(await readAll(started.stream)), expected.digest);

  const ended = new LayerHeadStart(opts, undefined);
  await holding(ended, expected.size);
  await untilEnded(ended);
  const got = await ended.wholeIfEnded();
  assert.ok(got, 'an ended build is given whole');
  assert.equal(sha256(got.data), expected.digest);
  assert.equal(got.result.digest, expected.digest);
  assert.equal(ended.take(), undefined, 'taken by wholeIfEnded()');
});

test('built: nothing while the build runs or after it failed or was dropped unfinished; its facts once it has ended, kept after it is dropped', async () => {
  const opts = layerOf(appDir(3, 1024 * 1024));
  const expected = await hashLayer(opts);
  const head = new LayerHeadStart(opts, undefined);
  assert.equal(head.built, undefined, 'a build that has just started');
  await holding(head, expected.size);
  await untilEnded(head);
  const facts = (h: LayerHeadStart) => h.built; // read afresh: the getter changes under the test
  const built = facts(head);
  assert.deepEqual(built && { digest: built.digest, diffId: built.diffId, size: built.size }, { digest: expected.digest, diffId: expected.diffId, size: expected.size });
  head.drop();
  assert.equal(facts(head)?.digest, expected.digest, 'still true of those bytes');

  const stopped = new LayerHeadStart(layerOf(appDir(8, 512 * 1024)), undefined, 128 * 1024);
  await holding(stopped, 128 * 1024);
  stopped.drop();
  await assert.rejects(resultOf(stopped), { name: 'AbortedError', code: 'E_ABORTED', message: 'layer build aborted' });
  assert.equal(stopped.built, undefined, 'dropped before it ended');
  const failed = new LayerHeadStart(layerOf(missingDir()), undefined);
  await assert.rejects(resultOf(failed), { name: 'InputError', code: 'E_INPUT', message: /^app source \S+\/missing: not found$/ });
  assert.equal(failed.built, undefined, 'failed');
});

test('extend(): a build waiting at a small bound goes on to the new one; the bytes are those of a build with the larger bound from the start', async () => {
  const opts = layerOf(appDir(8, 512 * 1024)); // 4 MiB that gzip cannot shrink
  const expected = await hashLayer(opts);
  const head = new LayerHeadStart(opts, undefined, 256 * 1024);
  await holding(head, 256 * 1024);
  await sleep(300); // time to run on, were the bound not stopping it
  const waiting = head.bytesHeld;
  // One gzip member may land past the bound (the member that crossed it); never the whole layer.
  assert.ok(waiting < expected.size / 2, `waits at its bound (${waiting} of ${expected.size} held)`);
  head.extend(128 * 1024);
  await sleep(100);
  assert.equal(head.bytesHeld, waiting, 'a smaller bound changes nothing');
  head.extend(expected.size + 1);
  await holding(head, expected.size);
  await untilEnded(head);
  const got = await head.wholeIfEnded();
  assert.ok(got, 'it ended within the new bound');
  assert.equal(sha256(got.data), expected.digest);
});

test('digest(): a build waiting at its bound goes on to its end holding nothing more, with the facts of a hash pass; one that ended within it keeps its bytes for one PUT', async () => {
  const opts = layerOf(appDir(8, 512 * 1024)); // 4 MiB that gzip cannot shrink
  const expected = await hashLayer(opts);
  const limit = 256 * 1024;
  const waiting = new LayerHeadStart(opts, undefined, limit);
  await holding(waiting, limit);
  assert.deepEqual(await waiting.digest(), expected);
  assert.equal(waiting.bytesHeld, 0, 'what it held is let go: the layer is built again if it is to be sent');
  assert.equal(waiting.take(), undefined, 'and nothing is left to send');
  assert.equal(await waiting.wholeIfEnded(), undefined);

  const ended = new LayerHeadStart(opts, undefined);
  await untilEnded(ended);
  assert.deepEqual(await ended.digest(), expected);
  const got = await ended.wholeIfEnded();
  assert.ok(got, 'an ended build keeps its bytes');
  assert.equal(sha256(got.data), expected.digest);
});
