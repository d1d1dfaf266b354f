// The speculative start of the transfer engine (EarlyStarts.start): on a first copy or push to a
// tag, the largest layer's upload session (POST) and its source GET go out together with the
// plan's HEAD, not after it; a HEAD that finds the blob cancels the session and drops the GET
// unread; an update (the tag exists) plans HEAD first; nothing is left open. Fake registries
// (test/fixtures/fake-registry.ts) log every request with its arrival time.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copy, parseReference, parseSyncFile, push, sync } from '../../src/index.js';
import type { RegistryClient } from '../../src/registry/registry-client.js';
import { TransferRun } from '../../src/transfer/engine.js';
import { copyImage } from '../../src/transfer/image-copy.js';
import { SpareSession } from '../../src/transfer/spare-session.js';
import { KNOWN_BLOB_METHODS, uploadBlob } from '../../src/transfer/upload.js';
import { sha256Digest } from '../../src/image/digest.js';
import { AbortedError, DeniedError, InputError, type RegpushError } from '../../src/errors.js';
import { optionPaths } from '../../src/option-names.js';
import { silentLogger } from '../../src/log.js';
import { bytesOf, fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';
import { waitFor } from '../fixtures/wait-for.js';

const fake = fakeRegistryPool();
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function appDir(): { src: string; dest: string }[] {
  const d = mkdtempSync(join(tmpdir(), 'regpush-engine-early-'));
  dirs.push(d);
  writeFileSync(join(d, 'server.js'), 'console.log("hi")\n');
  return [{ src: d, dest: '/app' }];
}
const configOf = (reg: FakeRegistry, repo: string, ref: string): string =>
  (JSON.parse(reg.manifest(repo, ref)!.bytes.toString('utf8')) as { config: { digest: string } }).config.digest;

/** Server-side connections still open at `reg`, once none are (polled: a closed client socket takes a tick to be seen). */
async function openConnections(reg: FakeRegistry): Promise<number> {
  const sockets = (reg as unknown as { sockets: Set<unknown> }).sockets;
  await waitFor(`the connections at ${reg.host} to close (${sockets.size} open)`, () => sockets.size === 0);
  return sockets.size;
}

// Long enough that "went out with it" and "went out after its answer" stay apart on a loaded machine.
const HEAD_DELAY_MS = 1000;

test('cold copy: the largest layer\'s POST and source GET are sent before its HEAD is answered; it streams on them; nothing left open', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('base/app', { tags: ['1'], layers: [bytesOf('small', 2000), bytesOf('large', 300_000)] });
  const large = img.layers[1]!;
  dst.fault({ kind: 'blob', method: 'HEAD', digest: large.digest }, { kind: 'delay', ms: HEAD_DELAY_MS });
  const r = await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], ...fakeLibraryOptions(src, dst) });
  assert.equal(dst.manifest('app', '1')?.digest, img.digest);
  assert.equal(r.targets[0]!.blobs.find((b) => b.digest === large.digest)?.action, 'streamed');

  const head = dst.requests({ kind: 'blob', method: 'HEAD', digest: large.digest });
  assert.equal(head.length, 1);
  const answeredAt = head[0]!.at + HEAD_DELAY_MS;
  const uploads = dst.uploadsFor(large.digest);
  const post = uploads.find((u) => u.method === 'POST');
  assert.ok(post, 'the blob was uploaded on a session');
  // Same registry: ordering, not wall-clock (the POST arrived while the HEAD was still held).
  assert.ok(post.seq <= head[0]!.answeredAfter!, `the POST (request ${post.seq}, at +${post.at - head[0]!.at} ms) went out after the HEAD's answer`);
  const gets = src.requests({ kind: 'blob', method: 'GET', digest: large.digest });
  assert.equal(gets.length, 1, 'one read of the source');
  assert.ok(gets[0]!.at < answeredAt - HEAD_DELAY_MS / 2, `the source GET (at +${gets[0]!.at - head[0]!.at} ms) went out with the HEAD`);
  assert.equal(dst.count({ kind: 'upload', method: 'POST' }), 3, 'one session per blob: the early one is the one used');
  // The smaller blobs are not started early: their POST follows their HEAD's answer.
  const small = img.layers[0]!;
  const smallHead = dst.requests({ kind: 'blob', method: 'HEAD', digest: small.digest })[0]!;
  const smallGet = src.requests({ kind: 'blob', method: 'GET', digest: small.digest })[0]!;
  assert.ok(smallGet.seq > 0 && smallGet.at >= smallHead.at);

  assert.equal(dst.openUploads(), 0);
  assert.equal(await openConnections(src), 0, 'no connection left open at the source');
  assert.equal(await openConnections(dst), 0, 'no connection left open at the target');
});

test('a present largest layer under a new tag: its early session is cancelled and its GET dropped unread; the rest of the run plans HEAD first', async () => {
  const [src, dst] = [await fake(), await fake()];
  const big = bytesOf('big layer', 1 << 20);
  const img = src.seedImage('base/app', { tags: ['1', '2'], layers: [bytesOf('small', 2000), big] });
  dst.putBlob('app', big); // the target repository holds the large layer, under no tag
  const r = await copy({ from: `${src.host}/base/app`, to: [`${dst.host}/app`], allTags: true, ...fakeLibraryOptions(src, dst) });
  assert.deepEqual(r.targets[0]!.tags, ['1', '2']);
  const large = img.layers[1]!;
  const report = r.targets[0]!.blobs.filter((b) => b.digest === large.digest);
  assert.ok(report.length >= 1 && report.every((b) => b.action === 'skipped' && b.bytes === 0));
  const gets = src.requests({ kind: 'blob', method: 'GET', digest: large.digest });
  assert.equal(gets.length, 1, 'one speculative GET, for the first image only');
  const sessions = dst.uploadsFor(large.digest);
  assert.equal(sessions.length, 0, 'nothing was uploaded for the present layer');
  assert.equal(dst.count({ kind: 'upload', method: 'DELETE', status: 204 }), 1, 'the early session was cancelled');
  assert.equal(dst.openUploads(), 0);
  assert.equal(await openConnections(src), 0);
  assert.equal(await openConnections(dst), 0);
});

test('dry run: no speculative start (HEADs only)', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/app', { tags: ['1'] });
  const r = await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], dryRun: true, ...fakeLibraryOptions(src, dst) });
  assert.ok(r.targets[0]!.blobs.every((b) => b.action === 'planned-stream'));
  assert.equal(dst.count({ kind: 'upload' }), 0);
  assert.equal(src.count({ kind: 'blob', method: 'GET' }), 0);
});

test('two targets, one holding the largest layer: one early GET feeds the other through the tee; the holder\'s session is cancelled', async () => {
  const [src, a, b] = [await fake(), await fake(), await fake()];
  const img = src.seedImage('base/app', { tags: ['1'], layers: [bytesOf('small', 2000), bytesOf('large', 200_000)] });
  const large = img.layers[1]!;
  b.putBlob('app', src.blob('base/app', large.digest)!);
  const r = await copy({ from: src.ref('base/app:1'), to: [a.ref('app:1'), b.ref('app:1')], ...fakeLibraryOptions(src, a, b) });
  assert.ok(r.targets.every((t) => t.ok));
  assert.equal(src.count({ kind: 'blob', method: 'GET', digest: large.digest }), 1, 'one read of the source');
  assert.equal(r.targets[0]!.blobs.find((x) => x.digest === large.digest)?.action, 'streamed');
  assert.equal(r.targets[1]!.blobs.find((x) => x.digest === large.digest)?.action, 'skipped');
  assert.ok(a.hasBlob('app', large.digest));
  assert.equal(b.count({ kind: 'upload', method: 'DELETE', status: 204 }), 1);
  assert.equal(a.openUploads() + b.openUploads(), 0);
});

test('an index: its image manifests are PUT together (one round trip, not one per platform), then the index', async () => {
  const [src, dst] = [await fake(), await fake()];
  const amd = src.seedImage('base/multi', { platform: { os: 'linux', architecture: 'amd64' } });
  const arm = src.seedImage('base/multi', { platform: { os: 'linux', architecture: 'arm64' } });
  const s390 = src.seedImage('base/multi', { platform: { os: 'linux', architecture: 's390x' } });
  const idx = src.seedIndex('base/multi', [amd, arm, s390], { tags: ['1'] });
  const PUT_DELAY_MS = 1000;
  dst.fault({ kind: 'manifest', method: 'PUT' }, { kind: 'delay', ms: PUT_DELAY_MS });
  const r = await copy({ from: src.ref('base/multi:1'), to: [dst.ref('multi:1')], ...fakeLibraryOptions(src, dst) });
  assert.equal(r.digest, idx.digest);
  const puts = dst.requests({ kind: 'manifest', method: 'PUT' });
  const children = puts.filter((p) => p.digest);
  const top = puts.filter((p) => p.tag === '1');
  assert.deepEqual(new Set(children.map((c) => c.digest)), new Set([amd.digest, arm.digest, s390.digest]));
  assert.equal(top.length, 1);
  // Ordering, not wall-clock: every child arrived before any child was answered (each is held
  // PUT_DELAY_MS), and the index after the last child's answer.
  const lastChild = Math.max(...children.map((c) => c.seq));
  const firstAnswer = Math.min(...children.map((c) => c.answeredAfter!));
  const lastAnswer = Math.max(...children.map((c) => c.answeredAfter!));
  assert.ok(lastChild <= firstAnswer, `the children went out together (the last, request ${lastChild}, after a child's answer after request ${firstAnswer})`);
  assert.ok(top[0]!.seq > lastAnswer, 'the index after every child was answered');
  assert.equal(dst.manifest('multi', '1')?.digest, idx.digest);
});

test('push: the config\'s upload session opens once the tag is known to change, before the config can be composed; the config then goes as one PUT, no HEAD; nothing left open', async () => {
  const [src, dst] = [await fake(), await fake()];
  const base = src.seedImage('base/os', { tags: ['1'] });
  // The base config is what the new config is composed from: answered late, it keeps the config waiting.
  const BASE_CONFIG_DELAY = 1000;
  src.fault({ kind: 'blob', method: 'GET', digest: base.config.digest }, { kind: 'delay', ms: BASE_CONFIG_DELAY });
  const app = appDir();
  const r = await push({ from: src.ref('base/os:1'), to: dst.ref('app:1'), app, ...fakeLibraryOptions(src, dst) });
  const config = configOf(dst, 'app', '1');
  assert.equal(dst.count({ kind: 'blob', method: 'HEAD', digest: config }), 0, 'no HEAD for the new config');
  const steps = dst.uploadsFor(config);
  assert.deepEqual(steps.map((u) => u.method), ['POST', 'PUT']);
  const baseConfigAsked = src.requests({ kind: 'blob', method: 'GET', digest: base.config.digest })[0]!.at;
  assert.ok(steps[0]!.at < baseConfigAsked + BASE_CONFIG_DELAY / 2, 'the POST went out while the base config was still on its way');
  assert.ok(steps[1]!.at >= baseConfigAsked + BASE_CONFIG_DELAY - 20, 'the PUT once the config could be composed');
  assert.equal(dst.manifest('app', '1')?.digest, r.digest);

  // The same image under a new tag: the config is there already, and is sent again (a few kB) on
  // the session opened for it rather than asked about first; no session is left open.
  src.clearFaults();
  dst.clearLog();
  const again = await push({ from: src.ref('base/os:1'), to: dst.ref('app:2'), app, ...fakeLibraryOptions(src, dst) });
  assert.equal(again.digest, r.digest);
  assert.deepEqual(dst.uploadsFor(config).map((u) => u.method), ['POST', 'PUT']);
  assert.equal(dst.openUploads(), 0, 'every session opened early was used or cancelled');
  assert.equal(await openConnections(dst), 0);
});

test('an index whose children are refused with MANIFEST_BLOB_UNKNOWN at once: one check of the blobs serves both, each child is sent once more', async () => {
  const [src, dst] = [await fake(), await fake()];
  const amd = src.seedImage('base/multi', { platform: { os: 'linux', architecture: 'amd64' } });
  const arm = src.seedImage('base/multi', { platform: { os: 'linux', architecture: 'arm64' } });
  const idx = src.seedIndex('base/multi', [amd, arm], { tags: ['1'] });
  const refuse = dst.fault({ kind: 'manifest', method: 'PUT', when: (r) => r.tag === undefined }, { kind: 'status', status: 400, code: 'MANIFEST_BLOB_UNKNOWN' }, { times: 2 });
  const r = await copy({ from: src.ref('base/multi:1'), to: [dst.ref('multi:1')], ...fakeLibraryOptions(src, dst) });
  assert.equal(r.digest, idx.digest);
  assert.equal(refuse.hits, 2, 'both children refused once');
  const blobs = new Set([amd.config.digest, ...amd.layers.map((l) => l.digest), arm.config.digest, ...arm.layers.map((l) => l.digest)]);
  for (const d of blobs) {
    // The plan's HEAD, and one check after the refusals (not one per refused child).
    assert.equal(dst.count({ kind: 'blob', method: 'HEAD', digest: d }), 2, d);
  }
  assert.equal(dst.requests({ kind: 'manifest', method: 'PUT' }).filter((p) => p.digest).length, 4, 'each child sent twice');
  assert.equal(dst.manifest('multi', '1')?.digest, idx.digest);
});

test('sync, three new images sharing their largest layer: one starts it early and claims it; the others wait and mount it; it is read once', async () => {
  const [src, dst] = [await fake(), await fake()];
  const shared = bytesOf('shared base layer', 400_000);
  const names = ['svc1', 'svc2', 'svc3'];
  for (const n of names) src.seedImage(n, { tags: ['1'], layers: [shared, bytesOf(n, 3000)] });
  const spec = parseSyncFile(['defaults:', `  targets: [${dst.host}/mirror]`, 'images:', ...names.map((n) => `  - source: ${src.ref(`${n}:1`)}`), ''].join('\n'), 'sync.yaml');
  const lines: string[] = [];
  const logger = { debug: (m: string) => lines.push(m), info: () => {}, warn: () => {}, error: () => {} };
  const r = await sync({ spec, logger, ...fakeLibraryOptions(src, dst) } as Parameters<typeof sync>[0]);
  assert.equal(r.units.filter((u) => u.ok).length, 3);
  assert.equal(r.totals.copied, 3);
  const sharedDigest = src.requests({ kind: 'blob', method: 'GET' }).map((g) => g.digest!).find((d) => src.blob('svc1', d)?.length === shared.length)!;
  assert.equal(src.count({ kind: 'blob', method: 'GET', digest: sharedDigest }), 1, 'the shared layer is read once');
  assert.equal(lines.filter((l) => l.startsWith(`${sharedDigest}: upload session and source GET sent with the plan's HEAD`)).length, 1, 'one image started it early');
  assert.equal(dst.requests({ kind: 'upload', method: 'POST', query: { mount: true } }).filter((m) => m.digest === sharedDigest && m.status === 201).length, 2, 'and mounted into the two other repositories');
  for (const n of names) assert.ok(dst.manifest(`mirror/${n}`, '1'));
  assert.equal(dst.openUploads(), 0);
  assert.equal(await openConnections(dst), 0);
});

/** The client `c` as if its registry counted pulls (Docker Hub, which the tests cannot reach): copyImage HEADs its manifests first. */
function countingPulls(c: RegistryClient): RegistryClient {
  return new Proxy(c, {
    get: (target, key) => {
      if (key === 'countsPulls') return () => true;
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

test('cold copy from a registry that counts pulls: a second connection to the source opens with its manifest HEAD, so the manifest GET a target\'s missing tag calls for does not wait for a handshake', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('base/app', { tags: ['1'], layers: [bytesOf('one', 2000)] });
  // The source's HEAD holds its first connection, and the target's answer comes late enough to
  // tell a connection opened at the start from one opened when that answer asked for the GET.
  src.fault({ kind: 'manifest', method: 'HEAD' }, { kind: 'delay', ms: HEAD_DELAY_MS });
  dst.fault({ kind: 'manifest', method: 'HEAD' }, { kind: 'delay', ms: HEAD_DELAY_MS });
  const run = new TransferRun(fakeLibraryOptions(src, dst));
  try {
    const set = run.targets([{ ref: parseReference(dst.ref('app:1')), tags: ['1'] }]);
    const source = run.source(parseReference(src.ref('base/app:1')));
    await copyImage(set, { ...source, client: countingPulls(source.client) }, '1', { names: optionPaths('copy()') });
    set.finish();
  } finally {
    run.close();
  }
  assert.equal(dst.manifest('app', '1')?.digest, img.digest);
  const head = src.requests({ kind: 'manifest', method: 'HEAD' })[0]!;
  const get = src.requests({ kind: 'manifest', method: 'GET' })[0]!;
  assert.ok(get.at >= head.at + HEAD_DELAY_MS / 2, 'the GET followed the target\'s answer');
  const [, second] = src.connectionsAt;
  assert.ok(second !== undefined && second < head.at + HEAD_DELAY_MS / 2, `the second source connection opened ${second! - head.at} ms after the HEAD, not when the GET needed it`);
  assert.equal(await openConnections(src), 0, 'no connection left open at the source');
});

test('an unchanged copy (the target holds the tag): the spare source connection is closed at the end, nothing else is read', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/app', { tags: ['1'], layers: [bytesOf('one', 2000)] });
  await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], ...fakeLibraryOptions(src, dst) });
  src.clearLog();
  const r = await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], ...fakeLibraryOptions(src, dst) });
  assert.deepEqual(r.targets[0]!.tagsUnchanged, ['1']);
  assert.deepEqual(src.requests({ kind: ['manifest', 'blob'] }).map((q) => `${q.method} ${q.kind}`), ['GET manifest'], 'the tag\'s manifest read once (a GET: the source counts no pulls), no blob');
  assert.equal(await openConnections(src), 0, 'the spare did not outlive the run');
});

test('sync: two images waiting on each other\'s blobs at a target that refuses every upload both fail, and the sync ends', { timeout: 30_000 }, async () => {
  const [src, dst] = [await fake(), await fake()];
  const shared = [bytesOf('shared layer d', 50_000), bytesOf('shared layer e', 40_000)];
  const a = src.seedImage('a', { tags: ['1'], layers: shared });
  const b = src.seedImage('b', { tags: ['1'], layers: shared });
  const [d, e] = a.layers.map((l) => l.digest);
  assert.deepEqual(b.layers.map((l) => l.digest), [d, e], 'the two images share both layers');
  // The tags exist at the target (an update): every blob is planned HEAD first. The HEADs are
  // timed so that a lands d and b lands e, each waiting for the other's blob.
  const before = { a: dst.seedImage('mirror/a', { tags: ['1'] }).digest, b: dst.seedImage('mirror/b', { tags: ['1'] }).digest };
  dst.fault({ kind: 'blob', method: 'HEAD', repo: 'mirror/a', digest: e }, { kind: 'delay', ms: 300 });
  dst.fault({ kind: 'blob', method: 'HEAD', repo: 'mirror/b', digest: d }, { kind: 'delay', ms: 300 });
  dst.fault({ kind: 'upload' }, { kind: 'status', status: 500, retryAfter: 0 });
  const spec = parseSyncFile(['defaults:', `  targets: [${dst.host}/mirror]`, 'images:', `  - source: ${src.ref('a:1')}`, `  - source: ${src.ref('b:1')}`, ''].join('\n'), 'sync.yaml');
  const err = await sync({ spec, retries: 0, ...fakeLibraryOptions(src, dst) } as Parameters<typeof sync>[0]).then(() => undefined, (x: { code?: string }) => x);
  // Both images fail with the refused upload's code: the sync fails with it (no image was copied).
  assert.equal(err?.code, 'E_REGISTRY', String(err));
  for (const n of ['a', 'b'] as const) assert.equal(dst.manifest(`mirror/${n}`, '1')?.digest, before[n], 'the tag still holds what it held');
  assert.equal(dst.openUploads(), 0);
});

test('--all-tags: a second image refused with MANIFEST_BLOB_UNKNOWN after the first one\'s check has ended gets a check of its own blobs', async () => {
  const [src, dst] = [await fake(), await fake()];
  const a = src.seedImage('base/app', { tags: ['a'], layers: ['layer of a'] });
  const b = src.seedImage('base/app', { tags: ['b'], layers: ['layer of b'] });
  const refuseA = dst.fault({ kind: 'manifest', method: 'PUT', when: (r) => r.tag === 'a' }, { kind: 'status', status: 400, code: 'MANIFEST_BLOB_UNKNOWN' }, { times: 1 });
  const refuseB = dst.fault({ kind: 'manifest', method: 'PUT', when: (r) => r.tag === 'b' }, { kind: 'status', status: 400, code: 'MANIFEST_BLOB_UNKNOWN' }, { times: 1 });
  await copy({ from: src.ref('base/app'), to: [dst.ref('app')], allTags: true, ...fakeLibraryOptions(src, dst) });
  assert.equal(refuseA.hits, 1);
  assert.equal(refuseB.hits, 1);
  for (const img of [a, b]) {
    for (const d of [img.config.digest, img.layers[0]!.digest]) {
      // The plan's HEAD, and the check after its image's refusal.
      assert.equal(dst.count({ kind: 'blob', method: 'HEAD', digest: d }), 2, `${d} of ${img === a ? 'a' : 'b'}`);
    }
  }
  assert.equal(dst.manifest('app', 'a')?.digest, a.digest);
  assert.equal(dst.manifest('app', 'b')?.digest, b.digest);
});

test('--all-tags: a manifest refused with MANIFEST_BLOB_UNKNOWN whose blobs another tag landed on a 201\'s word gets them checked, and is written once more', async () => {
  const [src, dst] = [await fake(), await fake()];
  // Two tags, one config and one set of layers: the second image skips every blob as landed by the first, on its 201s.
  const a = src.seedImage('base/app', { tags: ['a'], layers: ['shared layer one', 'shared layer two'] });
  const b = src.seedImage('base/app', { tags: ['b'], layers: ['shared layer one', 'shared layer two'], annotations: { tag: 'b' } });
  assert.notEqual(a.digest, b.digest);
  const blobs = [a.config.digest, ...a.layers.map((l) => l.digest)];
  assert.deepEqual([b.config.digest, ...b.layers.map((l) => l.digest)], blobs);
  const refuseB = dst.fault({ kind: 'manifest', method: 'PUT', when: (r) => r.tag === 'b' }, { kind: 'status', status: 400, code: 'MANIFEST_BLOB_UNKNOWN' }, { times: 1 });
  await copy({ from: src.ref('base/app'), to: [dst.ref('app')], allTags: true, ...fakeLibraryOptions(src, dst) });
  assert.equal(refuseB.hits, 1);
  const [refused, again] = dst.requests({ kind: 'manifest', method: 'PUT', when: (r) => r.tag === 'b' });
  assert.equal(refused?.status, 400);
  assert.equal(again?.status, 201, 'b written once more');
  for (const d of blobs) {
    assert.equal(dst.uploadsFor(d).filter((u) => u.method === 'PUT').length, 1, `${d} uploaded once, for a`);
    const rechecks = dst.requests({ kind: 'blob', method: 'HEAD', digest: d }).filter((h) => h.seq > refused!.answeredAfter! && h.answeredAfter! < again!.seq);
    assert.equal(rechecks.length, 1, `${d}, taken on a's 201, HEADed between b's refusal and its second PUT`);
  }
  assert.equal(dst.manifest('app', 'a')?.digest, a.digest);
  assert.equal(dst.manifest('app', 'b')?.digest, b.digest);
});

for (const how of ['session', 'mount answered 202'] as const) {
  test(`a failed copy: an early ${how} whose cancel the registry refuses is named in the error, as the run's other sessions are`, async () => {
    const src = await fake({ mounts: false });
    const dst = how === 'session' ? await fake() : src; // a mount is tried within one registry
    src.seedImage('base/app', { tags: ['1'], layers: [bytesOf('small', 2000), bytesOf('large', 200_000)] });
    // The plan fails once the early POST has opened its session: every blob HEAD at the target is
    // answered 500, but only after that POST's 202 (request order, not time).
    const opened = dst.seen({ kind: 'upload', method: 'POST', repo: 'app', status: 202 });
    dst.fault({ kind: 'blob', method: 'HEAD', repo: 'app' }, { kind: 'respond', respond: (_req, _body, res) => void opened.then(() => res.writeHead(500).end()) });
    // distribution's answer to a DELETE on a session whose state it lost.
    dst.fault({ kind: 'upload', method: 'DELETE' }, { kind: 'status', status: 404, code: 'BLOB_UPLOAD_INVALID' });
    const err = await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], retries: 0, ...fakeLibraryOptions(src, dst) }).then(() => undefined, (e: RegpushError) => e);
    assert.ok(err, 'the copy fails');
    assert.equal(err.code, 'E_REGISTRY', err.message);
    assert.equal(dst.count({ kind: 'upload', method: 'DELETE', status: 404 }), 1, 'the early session\'s cancel was sent and refused');
    assert.equal(dst.manifest('app', '1'), undefined);
    const named = `; 1 upload session could not be cancelled and may stay in the registry's upload area until it purges stale uploads: ${dst.host}/app (0 bytes sent, the registry did not confirm the cancel)`;
    assert.ok(err.message.endsWith(named), err.message);
  });
}

test('a copy within one registry whose plan HEAD is answered 500 while the early mount of that blob lands (distribution writing the link): the mount\'s 201 settles the plan; even with retries 0 the copy succeeds', async () => {
  const reg = await fake();
  const img = reg.seedImage('base/app', { tags: ['1'], layers: [bytesOf('small', 2000), bytesOf('large', 200_000)] });
  const large = img.layers[1]!;
  // The HEAD is answered only after the mount's 201, with distribution's 500 of that race.
  const mounted = reg.seen({ kind: 'upload', method: 'POST', repo: 'app', status: 201 });
  reg.fault({ kind: 'blob', method: 'HEAD', repo: 'app', digest: large.digest }, { kind: 'respond', respond: (_req, _body, res) => void mounted.then(() => res.writeHead(500).end()) });
  const r = await copy({ from: reg.ref('base/app:1'), to: [reg.ref('app:1')], retries: 0, ...fakeLibraryOptions(reg) });
  assert.equal(reg.manifest('app', '1')?.digest, img.digest);
  assert.equal(r.targets[0]!.blobs.find((b) => b.digest === large.digest)?.action, 'mounted');
  assert.equal(reg.count({ kind: 'blob', method: 'HEAD', repo: 'app', digest: large.digest, status: 500 }), 1, 'the HEAD did fail');
  assert.equal(reg.requests({ kind: 'upload', method: 'POST', repo: 'app', query: { mount: true } }).filter((m) => m.digest === large.digest).length, 1, 'one mount of it, not a second one after the HEAD');
});

test('an interrupted copy: a session whose POST the interruption let finish, cancelled by the client and refused, is named in the error as the run\'s other sessions are', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/app', { tags: ['1'], layers: [bytesOf('small', 2000), bytesOf('large', 200_000)] });
  const op = new AbortController();
  // The copy is interrupted as the first upload POST reaches the target; that POST, and any sent
  // with it, are answered only then (202: the registry opens the session), so the client cancels
  // the sessions itself. distribution's answer to a DELETE on a session whose state it lost:
  const interrupted = dst.seen({ kind: 'upload', method: 'POST' }).then(() => op.abort());
  dst.fault({ kind: 'upload', method: 'POST' }, { kind: 'hold', until: interrupted });
  dst.fault({ kind: 'upload', method: 'DELETE' }, { kind: 'status', status: 404, code: 'BLOB_UPLOAD_INVALID' });
  const err = await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], retries: 0, signal: op.signal, ...fakeLibraryOptions(src, dst) }).then(() => undefined, (e: RegpushError) => e);
  assert.ok(err, 'the copy fails');
  assert.equal(err.code, 'E_ABORTED', err.message);
  const refused = dst.count({ kind: 'upload', method: 'DELETE', status: 404 });
  assert.ok(refused >= 1, 'a session opened by a POST the interruption let finish was cancelled, and refused');
  assert.equal(refused, dst.count({ kind: 'upload', method: 'POST', status: 202 }), 'each session opened was cancelled');
  assert.equal(dst.manifest('app', '1'), undefined);
  const sessions = `${refused === 1 ? '1 upload session' : `${refused} upload sessions`} could not be cancelled and may stay`;
  const each = Array.from({ length: refused }, () => `${dst.host}/app (0 bytes sent, the registry did not confirm the cancel)`).join('; ');
  assert.equal(err.message, `interrupted: no tag was written after the interruption; ${sessions} in the registry's upload area until it purges stale uploads: ${each}`);
});

test('a run warms each source registry once per cold target, however many images it has read: a sync of many images is not quadratic', async () => {
  const [src, dst] = [await fake(), await fake()];
  const run = new TransferRun({ ...fakeLibraryOptions(src, dst) });
  try {
    const warmed: string[] = [];
    const preconnect = run.transport.preconnect.bind(run.transport);
    run.transport.preconnect = (url: string, n: number) => {
      warmed.push(new URL(url).host);
      return preconnect(url, n);
    };
    // A sync asks the run for a source endpoint per image (and per tag listing): 40 of them here.
    // The first request makes each registry's scheme known, so warm() preconnects without waiting.
    assert.equal(await run.source(parseReference(src.ref('team/app0:1'))).client.headManifest('team/app0', '1'), undefined);
    for (let i = 1; i < 40; i++) run.source(parseReference(src.ref(`team/app${i}:1`)));
    // Each cold target (its tag absent) warms itself and every source registry but its own.
    for (let i = 0; i < 3; i++) {
      const set = run.targets([{ ref: parseReference(`${dst.host}/mirror/app${i}:1`), tags: ['1'] }], parseReference(src.ref(`team/app${i}:1`)));
      const client = set.list[0]!.ep.client;
      assert.equal(await client.headManifest(`mirror/app${i}`, '1'), undefined);
      set.finish();
    }
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r)); // warm() preconnects once its base URL has resolved
    assert.equal(warmed.filter((h) => h === src.host).length, 3, 'the source registry warmed once per cold target, not once per source endpoint');
    assert.equal(warmed.filter((h) => h === dst.host).length, 3, 'each cold target warmed itself');
  } finally {
    run.close();
  }
});

/**
 * Runs `sync` (three images `team/app1..3`, one at a time, their source's tokens served by `tokens`)
 * with image 2's manifest GET at `tokens` answered only once image 3's token has been asked for
 * there (or after 5 s), and asserts that it was asked for while image 2 ran, once, with no 401 for
 * image 3: fetched ahead, when image 2 started.
 */
async function tokenAhead(tokens: FakeRegistry, sync: () => Promise<{ units: { targets: { action: string }[] }[] }>): Promise<void> {
  const tokenFor = (repo: string) => (r: { kind: string; query: Record<string, string> }) => r.kind === 'token' && (r.query.scope ?? '').includes(`repository:${repo}:`);
  const ahead = tokens.seen({ kind: 'token', when: tokenFor('team/app3') });
  tokens.fault({ kind: 'manifest', method: 'GET', repo: 'team/app2' }, { kind: 'hold', until: Promise.race([ahead, new Promise((r) => setTimeout(r, 5000))]) }, { times: 1 });
  const r = await sync();
  assert.deepEqual(r.units.map((u) => u.targets[0]!.action), ['copied', 'copied', 'copied']);
  const log = tokens.requests();
  const token3 = log.findIndex(tokenFor('team/app3'));
  const manifest2 = log.findIndex((q) => q.kind === 'manifest' && q.method === 'GET' && q.repo === 'team/app2' && q.status === 200);
  assert.ok(token3 >= 0 && token3 < manifest2, "image 3's token was asked for while image 2 ran");
  assert.equal(log.filter(tokenFor('team/app3')).length, 1, 'and asked for once: image 3 used it');
  assert.equal(log.filter((q) => q.repo === 'team/app3' && q.status === 401).length, 0, 'image 3 met no 401');
}

/** `team/app1..3:1` of `src` into `dst`/copy. */
const threeImages = (src: FakeRegistry, dst: FakeRegistry) =>
  parseSyncFile(['defaults:', `  targets: [${dst.host}/copy]`, 'images:', ...[1, 2, 3].map((n) => `  - { source: ${src.ref(`team/app${n}`)}, tags: ["1"] }`), ''].join('\n'), 'sync.yaml');

test('a sync fetches the token of the image that takes the next free slot while the one before runs: that image starts with its token in hand', async () => {
  const src = await fake({ auth: { scheme: 'bearer', user: 'reader', password: 'r-pw' } });
  const dst = await fake();
  for (const n of [1, 2, 3]) src.seedImage(`team/app${n}`, { tags: ['1'] });
  const base = fakeLibraryOptions(src, dst);
  await tokenAhead(src, () => sync({ spec: threeImages(src, dst), images: 1, ...base, env: { ...base.env, REGPUSH_FROM_USER: 'reader', REGPUSH_FROM_PASSWORD: 'r-pw' } }));
});

test('a sync reading its source through a mirror fetches the next image\'s token at the mirror while the one before runs: that image starts with its token in hand', async () => {
  const upstream = await fake();
  const mirror = await fake({ auth: { scheme: 'bearer', user: 'reader', password: 'r-pw', anonymousPull: true } });
  const dst = await fake();
  for (const n of [1, 2, 3]) mirror.seedImage(`team/app${n}`, { tags: ['1'] });
  await tokenAhead(mirror, () => sync({ spec: threeImages(upstream, dst), images: 1, mirrors: { [upstream.host]: [mirror.host] }, ...fakeLibraryOptions(upstream, mirror, dst) }));
  assert.equal(upstream.count({ kind: 'manifest' }), 0, 'nothing read from the upstream');
});

test("a sync image whose repository the configuration blocks is refused when it starts; fetching its token ahead does not fail the image before it", async () => {
  const src = await fake({ auth: { scheme: 'bearer', user: 'reader', password: 'r-pw' } });
  const dst = await fake();
  for (const n of [1, 2, 3]) src.seedImage(`team/app${n}`, { tags: ['1'] });
  const spec = parseSyncFile(['defaults:', `  targets: [${dst.host}/mirror]`, 'images:', ...[1, 2, 3].map((n) => `  - { source: ${src.ref(`team/app${n}`)}, tags: ["1"] }`), ''].join('\n'), 'sync.yaml');
  const base = fakeLibraryOptions(src, dst);
  const err = await sync({ spec, images: 1, ...base, blocked: { [`${src.host}/team/app3`]: 'registries.conf' }, env: { ...base.env, REGPUSH_FROM_USER: 'reader', REGPUSH_FROM_PASSWORD: 'r-pw' } }).then(
    () => undefined,
    (e: { code?: string; details?: { result?: { units: { source: string; ok: boolean; error?: { code: string } }[] } } }) => e,
  );
  assert.equal(err?.code, 'E_PARTIAL');
  const units = err!.details!.result!.units;
  assert.deepEqual(units.map((u) => [u.source.replace(`${src.host}/`, ''), u.ok, u.error?.code]), [['team/app1:1', true, undefined], ['team/app2:1', true, undefined], ['team/app3:1', false, 'E_DENIED']]);
});

test('a spare upload session taken after the run was stopped stays counted until its cancel is answered: a failed push does not report before that DELETE (was: handed over uncounted, and settle() ended with it open)', async () => {
  const dst = await fake();
  const run = new TransferRun(fakeLibraryOptions(dst));
  const set = run.targets([{ ref: parseReference(dst.ref('app:1')), tags: ['1'] }]);
  const target = set.list[0]!.ep;
  try {
    // Opened ahead (push opens one for its layer as it asks the target about its tag), and answered.
    const spare = new SpareSession(target, run.ctx);
    await dst.seen({ kind: 'upload', method: 'POST', status: 202 });
    await waitFor('the spare to count its session', () => run.ctx.sessions!.pending !== 0);
    assert.equal(run.ctx.sessions!.pending, 1, 'the spare counts its session');
    // The run stops (a callback threw) and waits for its sessions, while the layer upload that
    // will take the spare is still waiting on its build; the cancel's answer is held.
    let answer!: () => void;
    dst.fault({ kind: 'upload', method: 'DELETE' }, { kind: 'hold', until: new Promise<void>((r) => (answer = r)) });
    run.stop(new Error('a callback threw'));
    let settled = false;
    const settling = run.settle().then(() => (settled = true));
    // The taker: its upload meets the stopped run and cancels the session it was handed.
    const taken = await spare.take();
    assert.equal(run.ctx.sessions!.pending, 1, 'still counted once handed over');
    const blob = Buffer.from('layer bytes');
    const upload = uploadBlob(target, { methods: KNOWN_BLOB_METHODS, what: 'the layer', session: taken, open: () => ({ data: blob, digest: sha256Digest(blob), size: blob.length }) }, run.ctx).then(
      () => assert.fail('uploaded on a stopped run'),
      (err: unknown) => err,
    );
    await dst.seen({ kind: 'upload', method: 'DELETE' });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(settled, false, 'settle() waits for the cancel of the session handed over');
    assert.equal(dst.openUploads(), 1);
    answer();
    const stopped = await upload;
    assert.ok(stopped instanceof AbortedError && stopped.code === 'E_ABORTED' && stopped.message === `aborted: PUT upload to ${dst.host}`, String(stopped));
    await settling;
    assert.equal(dst.openUploads(), 0, 'no session left once the run has settled');
    assert.equal(run.ctx.sessions!.describeLeft(), undefined);
  } finally {
    set.finish();
    run.close();
  }
});

test('a local input error at one target of several (a layer file that cannot be read) is every target\'s: no "the other targets go on", it ends the set', async () => {
  const [a, b] = [await fake(), await fake()];
  const warned: string[] = [];
  const opts = fakeLibraryOptions(a, b);
  const run = new TransferRun({ ...opts, logger: { ...silentLogger, warn: (m: string) => void warned.push(m) } });
  try {
    const set = run.targets([
      { ref: parseReference(a.ref('app:1')), tags: ['1'] },
      { ref: parseReference(b.ref('app:1')), tags: ['1'] },
    ], undefined, { stopRun: true });
    const unreadable = new InputError('cannot read /src/app/z.key: permission denied');
    assert.throws(() => set.setAside(set.list[0]!, unreadable), (e: unknown) => e === unreadable);
    assert.deepEqual(warned, [], 'no warning that the other targets go on');
    assert.ok(run.signal.aborted, 'the run is stopped, as a fail-fast push is');
    // A target's own failure still sets that target aside, with the warning.
    const other = run.targets([
      { ref: parseReference(a.ref('app:2')), tags: ['2'] },
      { ref: parseReference(b.ref('app:2')), tags: ['2'] },
    ]);
    other.setAside(other.list[0]!, new DeniedError('denied'));
    assert.equal(other.live.length, 1);
  } finally {
    run.close();
  }
});
