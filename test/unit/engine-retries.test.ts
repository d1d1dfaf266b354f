// How many times a target is asked when its uploads keep failing. The rule: with `retries: N`,
// each request kind (POST, PATCH, PUT on /blobs/uploads/) reaches the target at most N+1 times
// per blob: one retry level, whole-transfer restarts and transport retries sharing one budget.
// Each scenario moves exactly one blob, so the per-blob count is the target's total.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copy, push, type RegpushError } from '../../src/index.js';
import { bytesOf, fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';

const RETRIES = 2;
const fake = fakeRegistryPool();
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A source image of one layer, and a target repository that already holds its config: one blob to move. */
async function oneBlobCopy(): Promise<{ src: FakeRegistry; dst: FakeRegistry; layer: string }> {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('base/app', { tags: ['1'], layers: ['the only layer'] });
  dst.putBlob('app', img.config.bytes);
  return { src, dst, layer: img.layers[0]!.digest };
}

/** Upload requests the target saw, per method. */
function uploadCounts(reg: FakeRegistry): Record<'POST' | 'PATCH' | 'PUT', number> {
  return { POST: reg.count({ kind: 'upload', method: 'POST' }), PATCH: reg.count({ kind: 'upload', method: 'PATCH' }), PUT: reg.count({ kind: 'upload', method: 'PUT' }) };
}

function assertAtMost(counts: Record<string, number>, max: number): void {
  for (const [method, n] of Object.entries(counts)) {
    assert.ok(n <= max, `${method} reached the target ${n} times for one blob; with retries: ${RETRIES} the most is ${max} (counts: ${JSON.stringify(counts)})`);
  }
}

// Retry-After: 0 makes every retry immediate; the count, not the time, is under test.
const fail500 = { kind: 'status', status: 500, retryAfter: 0 } as const;

test(
  `copy: every upload request answered 500 → at most N+1 attempts of each request kind per blob (N = ${RETRIES})`,
  async () => {
    const { src, dst, layer } = await oneBlobCopy();
    dst.fault({ kind: 'upload' }, fail500);
    await assert.rejects(copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], retries: RETRIES, ...fakeLibraryOptions(src, dst) }), { code: 'E_REGISTRY', message: /\b500\b/ });
    assert.ok(!dst.hasBlob('app', layer));
    const counts = uploadCounts(dst);
    assert.ok(counts.POST >= 1);
    assertAtMost(counts, RETRIES + 1);
  },
);

test(
  `push: every upload request answered 500 → the app layer is tried at most N+1 times per request kind (N = ${RETRIES})`,
  async () => {
    const dst = await fake();
    const d = mkdtempSync(join(tmpdir(), 'regpush-engine-retries-'));
    dirs.push(d);
    writeFileSync(join(d, 'app.txt'), 'hello\n');
    dst.fault({ kind: 'upload' }, fail500);
    // From scratch, two blobs are in flight: the app layer, and the config, which goes out as soon
    // as the layer's tar has ended (for a one-file app, before its upload has a session). Each has
    // its own N+1; a POST does not say which blob it is for, so the POSTs are bounded together.
    await assert.rejects(push({ from: 'scratch', to: dst.ref('app:1'), app: [{ src: d, dest: '/app' }], retries: RETRIES, ...fakeLibraryOptions(dst) }), { code: 'E_REGISTRY', message: /^start upload to \S+\/app: \S+ answered 500/ });
    const counts = uploadCounts(dst);
    assert.ok(counts.POST >= 1);
    assert.ok(counts.POST <= 2 * (RETRIES + 1), `POST reached the target ${counts.POST} times for two blobs; the most is ${2 * (RETRIES + 1)}`);
    assertAtMost({ PATCH: counts.PATCH, PUT: counts.PUT }, RETRIES + 1);
    assert.equal(dst.count({ kind: 'manifest', method: 'PUT' }), 0);
  },
);

test(`copy: the session opens but every PUT/PATCH answers 500 → at most N+1 of each, every session cancelled (N = ${RETRIES})`, async () => {
  const { src, dst, layer } = await oneBlobCopy();
  dst.fault({ kind: 'upload', method: ['PATCH', 'PUT'] }, fail500);
  await assert.rejects(copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], retries: RETRIES, ...fakeLibraryOptions(src, dst) }), { code: 'E_REGISTRY', message: /^upload of sha256:[0-9a-f]{64} to \S+: \S+ answered 500/ });
  const counts = uploadCounts(dst);
  assert.ok(counts.PUT + counts.PATCH >= 1);
  assertAtMost(counts, RETRIES + 1);
  assert.equal(dst.count({ kind: 'upload', method: 'DELETE', status: 204 }), counts.POST, 'every failed session is cancelled');
  assert.equal(dst.openUploads(), 0);
  assert.ok(!dst.hasBlob('app', layer));
  assert.equal(dst.count({ kind: 'manifest', method: 'PUT' }), 0);
});

test('copy: two failures then success with retries: 2 → the blob lands and the image is complete', async () => {
  const { src, dst, layer } = await oneBlobCopy();
  const f = dst.fault({ kind: 'upload', method: 'PUT' }, fail500, { times: 2 });
  const r = await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], retries: RETRIES, ...fakeLibraryOptions(src, dst) });
  assert.equal(f.hits, 2);
  assert.ok(dst.hasBlob('app', layer));
  assert.equal(dst.manifest('app', '1')?.digest, r.digest);
  assert.equal(r.targets[0]!.blobs.find((b) => b.digest === layer)?.retries, 2);
});

// A stored token that the registry stops accepting before it expires (revoked, or the registry
// restarted with a new signing key) is found out on a streamed upload: the auth layer cannot
// replay that body, so it drops the token and hands the 401 back; the blob is then moved again
// once, with a new token, instead of failing the run with E_AUTH.
test('copy: a 401 to a streamed upload whose stored token went stale → the blob starts again with a new token', async () => {
  const auth = { scheme: 'bearer', user: 'writer', password: 'w-pw' } as const;
  const [src, dst] = [await fake(), await fake({ auth })];
  const img = src.seedImage('base/app', { tags: ['1'], layers: ['the only layer'] });
  dst.putBlob('app', img.config.bytes);
  const layer = img.layers[0]!.digest;
  const challenge = `Bearer realm="${dst.url}/token",service="fake-registry",error="invalid_token"`;
  // The request that carries the layer's bytes: a PATCH, or a PUT with a body.
  const carriesBody = (r: { method: string; headers: Record<string, string | string[] | undefined> }): boolean =>
    r.method === 'PATCH' || (r.method === 'PUT' && Number(r.headers['content-length'] ?? 1) > 0);
  const stale = dst.fault({ kind: 'upload', when: carriesBody }, { kind: 'status', status: 401, code: 'UNAUTHORIZED', headers: { 'www-authenticate': challenge } }, { times: 1 });
  const r = await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], retries: RETRIES, credentials: { to: { username: 'writer', password: 'w-pw' } }, ...fakeLibraryOptions(src, dst) });
  assert.equal(stale.hits, 1, 'the fault met the body-carrying request');
  assert.equal(r.targets[0]!.ok, true);
  assert.equal(dst.manifest('app', '1')?.digest, img.digest);
  assert.ok(dst.hasBlob('app', layer));
  assert.equal(r.targets[0]!.blobs.find((b) => b.digest === layer)?.retries, 1);
  const log = dst.requests();
  const refusedAt = log.findIndex((q) => q.kind === 'upload' && q.status === 401);
  assert.ok(refusedAt > 0 && log.slice(refusedAt).some((q) => q.kind === 'token' && q.status === 200), 'a new token, fetched after the stale one was dropped');
});

test('copy: a 401 to a streamed upload sent with a token fetched for it → E_AUTH, no second attempt', async () => {
  const auth = { scheme: 'bearer', user: 'writer', password: 'w-pw' } as const;
  const [src, dst] = [await fake(), await fake({ auth })];
  const img = src.seedImage('base/app', { tags: ['1'], layers: ['the only layer'] });
  dst.putBlob('app', img.config.bytes);
  const challenge = `Bearer realm="${dst.url}/token",service="fake-registry",error="invalid_token"`;
  const carriesBody = (r: { method: string; headers: Record<string, string | string[] | undefined> }): boolean =>
    r.method === 'PATCH' || (r.method === 'PUT' && Number(r.headers['content-length'] ?? 1) > 0);
  const refused = dst.fault({ kind: 'upload', when: carriesBody }, { kind: 'status', status: 401, code: 'UNAUTHORIZED', headers: { 'www-authenticate': challenge } });
  await assert.rejects(
    copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], retries: RETRIES, credentials: { to: { username: 'writer', password: 'w-pw' } }, ...fakeLibraryOptions(src, dst) }),
    (e: RegpushError) => e.code === 'E_AUTH',
  );
  // The stale-token restart happens once; the token fetched for it being refused too is final.
  assert.equal(refused.hits, 2);
  assert.equal(dst.manifest('app', '1'), undefined);
});

test('push: a 401 to the app layer\'s upload whose stored token went stale → the layer is built and sent again with a new token', async () => {
  const dst = await fake({ auth: { scheme: 'bearer', user: 'writer', password: 'w-pw' } });
  const d = mkdtempSync(join(tmpdir(), 'regpush-engine-retries-'));
  dirs.push(d);
  // Incompressible and over the head start's 8 MiB: the layer is streamed, a body read once.
  writeFileSync(join(d, 'app.bin'), randomBytes(10 * 1024 * 1024));
  const challenge = `Bearer realm="${dst.url}/token",service="fake-registry",error="invalid_token"`;
  // The layer's bytes, not the config's (a buffer, which the auth layer replays by itself).
  const carriesBody = (r: { method: string; headers: Record<string, string | string[] | undefined> }): boolean =>
    (r.method === 'PATCH' || r.method === 'PUT') && Number(r.headers['content-length'] ?? Infinity) > 64 * 1024;
  const stale = dst.fault({ kind: 'upload', when: carriesBody }, { kind: 'status', status: 401, code: 'UNAUTHORIZED', headers: { 'www-authenticate': challenge } }, { times: 1 });
  const r = await push({ from: 'scratch', to: dst.ref('app:1'), app: [{ src: d, dest: '/app' }], retries: RETRIES, credentials: { to: { username: 'writer', password: 'w-pw' } }, ...fakeLibraryOptions(dst) });
  assert.equal(stale.hits, 1);
  assert.equal(dst.manifest('app', '1')?.digest, r.digest);
  const manifest = JSON.parse(dst.manifest('app', '1')!.bytes.toString('utf8')) as { config: { digest: string }; layers: { digest: string }[] };
  for (const b of [manifest.config, ...manifest.layers]) assert.ok(dst.hasBlob('app', b.digest), `${b.digest} is in place`);
  assert.equal(r.layer?.action, 'uploaded');
});

test('push: the answers to the layer\'s and the config\'s PUTs are lost after the registry stored them → not sent again to their sessions: the DELETE finds each closed (nothing stays), a HEAD before the restart finds each blob in place, nothing is sent again, the image completes', async () => {
  const dst = await fake();
  const d = mkdtempSync(join(tmpdir(), 'regpush-engine-retries-'));
  dirs.push(d);
  writeFileSync(join(d, 'app.txt'), 'hello');
  // Small blobs (the app layer, the config) go as one PUT with the body in memory: a PUT that
  // carries bytes is never sent again to its session (a registry that took part of it would
  // answer 404 BLOB_UPLOAD_INVALID). Before a new session, a HEAD asks whether the lost one
  // stored it, as go-containerregistry asks before each retry of an upload.
  const withBody = { kind: 'upload' as const, method: 'PUT', when: (q: { headers: Record<string, unknown> }) => Number(q.headers['content-length'] ?? 0) > 0 };
  const lost = dst.fault(withBody, { kind: 'lose' }, { times: 2 });
  const r = await push({ from: 'scratch', to: dst.ref('app:1'), app: [{ src: d, dest: '/app' }], retries: RETRIES, ...fakeLibraryOptions(dst) });
  assert.equal(lost.hits, 2);
  const puts = dst.requests({ kind: 'upload', method: 'PUT', when: (q) => q.bytesIn > 0 });
  assert.deepEqual(puts.map((q) => q.status), [undefined, undefined], 'the two lost PUTs, and neither blob sent again');
  assert.equal(new Set(puts.map((q) => q.session)).size, 2, 'each on a session of its own');
  assert.equal(dst.count({ kind: 'upload', method: 'POST' }), 2, 'no new session for a restart');
  assert.deepEqual([r.layer?.action, r.layer?.method], ['uploaded', 'put'], 'the layer counts as uploaded by its one PUT');
  for (const put of puts) {
    assert.ok(dst.requests({ kind: 'blob', method: 'HEAD', status: 200 }).some((q) => q.seq > put.seq && q.digest === put.digest), `a HEAD after the lost PUT found ${put.digest}`);
  }
  const lostSessions = new Set(puts.map((q) => q.session));
  const cancels = dst.requests({ kind: 'upload', method: 'DELETE', when: (q) => lostSessions.has(q.session) });
  assert.deepEqual(cancels.map((q) => [q.status, q.code]), [[404, 'BLOB_UPLOAD_UNKNOWN'], [404, 'BLOB_UPLOAD_UNKNOWN']], 'each lost PUT\'s session cancelled, found closed by the PUT that stored its blob');
  assert.equal(dst.manifest('app', '1')?.digest, r.digest);
  const manifest = JSON.parse(dst.manifest('app', '1')!.bytes.toString('utf8')) as { config: { digest: string }; layers: { digest: string }[] };
  for (const b of [manifest.config, ...manifest.layers]) assert.ok(dst.hasBlob('app', b.digest), `${b.digest} is in place`);
  assert.equal(dst.openUploads(), 0);
});

for (const targets of [1, 2] as const) {
  test(`copy to ${targets} target(s): the answer to the one PUT carrying a streamed blob is lost after the registry stored it → a HEAD before the restart finds it, and the blob is neither read nor sent again`, async () => {
    const [src, dst, dst2] = [await fake(), await fake(), await fake()];
    const img = src.seedImage('base/app', { tags: ['1'], layers: [bytesOf('streamed', 300_000)] });
    const layer = img.layers[0]!.digest;
    const withBody = { kind: 'upload' as const, method: 'PUT', digest: layer, when: (q: { headers: Record<string, unknown> }) => Number(q.headers['content-length'] ?? 0) > 0 };
    const lost = dst.fault(withBody, { kind: 'lose' }, { times: 1 });
    const to = targets === 1 ? [dst.ref('app:1')] : [dst.ref('app:1'), dst2.ref('app:1')];
    const r = await copy({ from: src.ref('base/app:1'), to, retries: RETRIES, ...fakeLibraryOptions(src, dst, dst2) });
    assert.equal(lost.hits, 1);
    assert.ok(r.targets.every((t) => t.ok));
    const puts = dst.requests({ kind: 'upload', method: 'PUT', digest: layer, when: (q) => q.bytesIn > 0 });
    assert.equal(puts.length, 1, 'the blob was sent once');
    assert.ok(dst.requests({ kind: 'blob', method: 'HEAD', digest: layer, status: 200 }).some((q) => q.seq > puts[0]!.seq), 'a HEAD after the lost PUT found it');
    assert.equal(src.count({ kind: 'blob', method: 'GET', digest: layer }), 1, 'the source read once');
    assert.equal(dst.manifest('app', '1')?.digest, img.digest);
  });
}

test('copy: the answer to a closing PUT is lost after the registry stored the blob → the PUT sent again gets 404 BLOB_UPLOAD_UNKNOWN, a HEAD finds the blob, the image completes', async () => {
  const { src, dst, layer } = await oneBlobCopy();
  // The registry takes the blob in PATCHes only, so the upload ends with an empty closing PUT, which the transport may send again.
  dst.fault({ kind: 'upload', method: 'PUT', when: (q) => Number(q.headers['content-length'] ?? 0) > 0 }, { kind: 'status', status: 405, code: 'UNSUPPORTED' });
  const lost = dst.fault({ kind: 'upload', method: 'PUT', query: { digest: true } }, { kind: 'lose' }, { times: 1 });
  const r = await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], retries: RETRIES, ...fakeLibraryOptions(src, dst) });
  assert.equal(lost.hits, 1);
  // The closing PUTs: the first lost (no answer), the second finds no session; then the HEAD.
  const closing = dst.requests({ kind: 'upload', method: 'PUT', when: (q) => q.bytesIn === 0 });
  assert.deepEqual(closing.map((q) => q.status), [undefined, 404]);
  assert.ok(dst.requests({ kind: 'blob', method: 'HEAD', status: 200 }).some((q) => q.seq > closing[1]!.seq && q.digest === layer), 'a HEAD after the 404 found the blob');
  assert.equal(r.targets[0]!.ok, true);
  assert.equal(dst.manifest('app', '1')?.digest, r.digest);
  assert.ok(dst.hasBlob('app', layer));
  assert.equal(dst.openUploads(), 0);
});
