// Upload methods chosen per registry and remembered for the run (src/registry/quirks.ts,
// src/transfer/upload.ts), against the real registry behind a proxy that refuses some methods:
// monolithic PUT → streamed PATCH → chunked PATCH (Content-Range, OCI-Chunk-Min-Length,
// --chunk-size, smaller chunks after a 416), ECR's 201 on PATCH, and a registry that refuses all;
// and the one-PUT paths: a layer whose build ended before its session opened, a config on a
// session opened ahead (sent again to a registry that holds it).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { match, startFaultProxy, type FaultProxy, type ProxiedRequest } from '../fixtures/fault-proxy.js';
import { assertNoSecrets, assertNoSessionLeft, assertOneErrorLine, assertValidImage, manifestStatus, requestsFor } from './fault-helpers.js';
import { loadState, runCli, tempDir } from './harness.js';
import { HEAD_START_BYTES } from '../../src/push/layer-head-start.js';

const state = loadState();
const R = state.registries;
const run = `fallback-${process.pid}-${Date.now().toString(36)}`;
const IMAGE = 'base/busybox:v2s2';
const seeded = state.images.anon[IMAGE];
const proxies: FaultProxy[] = [];
let appDir = '';

before(() => {
  appDir = join(tempDir(), 'app');
  mkdirSync(appDir, { recursive: true });
  // 9 MiB that gzip cannot shrink: the new layer needs several chunks too, and is over the head
  // start's bound (HEAD_START_BYTES, 8 MiB), so it always streams (PATCH) by default: a smaller
  // one whose build ended before its session was ready would go as one PUT.
  let x = 0x2545f491;
  const noise = Buffer.alloc(HEAD_START_BYTES + 1024 * 1024);
  for (let i = 0; i < noise.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    noise[i] = x & 0xff;
  }
  writeFileSync(join(appDir, 'noise.bin'), noise);
  writeFileSync(join(appDir, 'hello.txt'), 'hello chunks\n');
});
after(async () => {
  for (const p of proxies) await p.close();
});

/** A fresh proxy in front of anon2 (the target of these tests). */
async function target(): Promise<FaultProxy> {
  const p = await startFaultProxy(R.anon2.url);
  proxies.push(p);
  return p;
}

const copyArgs = (p: FaultProxy, name: string, extra: string[] = []) => ['copy', `${R.anon.host}/${IMAGE}`, `${p.host}/${run}/${name}:1`, ...extra];

/** The chunk PATCHes of each upload session, in order, as [start, end, length]. */
function chunksBySession(p: FaultProxy): Map<string, [number, number, number][]> {
  const out = new Map<string, [number, number, number][]>();
  for (const r of p.requests.filter((q: ProxiedRequest) => q.method === 'PATCH' && q.headers['content-range'] && q.status === 202)) {
    const uuid = r.url.split('?')[0]!.split('/').pop()!;
    const m = /^(\d+)-(\d+)$/.exec(String(r.headers['content-range']));
    assert.ok(m, `Content-Range is "<start>-<end>": ${r.headers['content-range']}`);
    const list = out.get(uuid) ?? [];
    list.push([Number(m[1]), Number(m[2]), Number(r.headers['content-length'])]);
    out.set(uuid, list);
  }
  return out;
}

/** Every session's chunks are contiguous from 0, each `size` long but the last, and the Content-Length matches the range. */
function assertChunks(p: FaultProxy, size: number): number {
  const sessions = chunksBySession(p);
  assert.ok(sessions.size >= 1, 'chunked uploads happened');
  let multi = 0;
  for (const [uuid, list] of sessions) {
    let next = 0;
    list.forEach(([start, end, len], i) => {
      assert.equal(start, next, `${uuid}: chunk ${i} starts where the previous ended`);
      assert.equal(len, end - start + 1, `${uuid}: Content-Length matches Content-Range`);
      if (i < list.length - 1) assert.equal(len, size, `${uuid}: chunk ${i} is ${size} bytes`);
      else assert.ok(len <= size);
      next = end + 1;
    });
    if (list.length > 1) multi++;
  }
  assert.ok(multi >= 1, 'at least one blob needed several chunks');
  return sessions.size;
}

test('a refused monolithic PUT falls back to a streamed PATCH, once for the whole run', async () => {
  const p = await target();
  p.rule({ ...match.monolithicPut, fault: { kind: 'status', status: 400, code: 'UNSUPPORTED' }, name: 'no-put' });
  const r = await runCli(copyArgs(p, 'no-put', ['--jobs', '1']));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(p.hits('no-put').length, 1, 'one monolithic PUT tried, then never again in this run');
  // Every blob (config + 3 layers) went by streamed PATCH, the refused one on a fresh session.
  assert.equal(requestsFor(p, 'PATCH', '/blobs/uploads/').filter((q) => q.status === 202 && !q.headers['content-range']).length, 4);
  assert.equal((r.stderr.match(/refused a monolithic PUT \(answered 400\); using a streamed PATCH for the rest of this run/g) ?? []).length, 1);
  await assertValidImage(`${R.anon2.host}/${run}/no-put:1`, seeded.digest);
  await assertNoSessionLeft(p, R.anon2);
});

test('monolithic PUT and streamed PATCH refused → chunked PATCHes of --chunk-size with Content-Range', async () => {
  const p = await target();
  p.rule({ ...match.monolithicPut, fault: { kind: 'status', status: 405 } });
  p.rule({ ...match.streamedPatch, fault: { kind: 'status', status: 400 } });
  const r = await runCli(copyArgs(p, 'chunked', ['--chunk-size', '256KiB']));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /using chunked PATCH uploads for the rest of this run/);
  assertChunks(p, 256 * 1024);
  await assertValidImage(`${R.anon2.host}/${run}/chunked:1`, seeded.digest);
  await assertNoSessionLeft(p, R.anon2);
});

test('OCI-Chunk-Min-Length raises the chunk size above --chunk-size', async () => {
  const p = await target();
  p.rule({ ...match.uploadStart, fault: { kind: 'setHeaders', headers: { 'oci-chunk-min-length': String(512 * 1024) } } });
  p.rule({ ...match.monolithicPut, fault: { kind: 'status', status: 405 } });
  p.rule({ ...match.streamedPatch, fault: { kind: 'status', status: 405 } });
  const r = await runCli(copyArgs(p, 'min-chunk', ['--chunk-size', '128KiB']));
  assert.equal(r.code, 0, r.stderr);
  assertChunks(p, 512 * 1024);
  await assertValidImage(`${R.anon2.host}/${run}/min-chunk:1`, seeded.digest);
});

test('a chunk answered 416 (GHCR over 4 MiB) halves the chunk size until the registry takes it', async () => {
  const p = await target();
  p.rule({ ...match.monolithicPut, fault: { kind: 'status', status: 405 } });
  p.rule({ ...match.streamedPatch, fault: { kind: 'status', status: 405 } });
  p.rule({ ...match.chunkedPatch, when: (q) => Number(q.headers['content-length']) > 300 * 1024, fault: { kind: 'status', status: 416 }, name: 'too-big' });
  const r = await runCli(copyArgs(p, 'halved', ['--chunk-size', '1MiB', '--jobs', '1']));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(p.hits('too-big').length, 2, '1 MiB and 512 KiB refused once each, then remembered');
  assert.match(r.stderr, /refused a chunk of 524288 bytes \(answered 416\); using 262144-byte chunks/);
  assertChunks(p, 256 * 1024);
  await assertValidImage(`${R.anon2.host}/${run}/halved:1`, seeded.digest);
  await assertNoSessionLeft(p, R.anon2);
});

test('push: a refused streamed PATCH makes the app layer go as hash pass + monolithic PUT', async () => {
  const p = await target();
  p.rule({ ...match.streamedPatch, fault: { kind: 'status', status: 400 }, name: 'no-patch' });
  const r = await runCli(['push', '--json', '--from', `${R.anon.host}/${IMAGE}`, '--to', `${p.host}/${run}/push-no-patch:1`, '--app', appDir]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.layer.method, 'put');
  assert.equal(p.hits('no-patch').length, 1);
  await assertValidImage(`${R.anon2.host}/${run}/push-no-patch:1`, report.digest);
  await assertNoSessionLeft(p, R.anon2);
});

test('push: PATCH and PUT refused → the app layer goes in chunks; --layer-upload chunked forces it', async () => {
  const p = await target();
  p.rule({ ...match.monolithicPut, fault: { kind: 'status', status: 405 } });
  p.rule({ ...match.streamedPatch, fault: { kind: 'status', status: 405 } });
  const r = await runCli(['push', '--json', '--chunk-size', '200KiB', '--from', `${R.anon.host}/${IMAGE}`, '--to', `${p.host}/${run}/push-chunked:1`, '--app', appDir]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.layer.method, 'chunked');
  assertChunks(p, 200 * 1024);
  await assertValidImage(`${R.anon2.host}/${run}/push-chunked:1`, report.digest);

  const q = await target();
  const forced = await runCli(['push', '--json', '--layer-upload', 'chunked', '--chunk-size', '64KiB', '--from', `${R.anon.host}/${IMAGE}`, '--to', `${q.host}/${run}/push-forced:1`, '--app', appDir]);
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal(JSON.parse(forced.stdout).layer.method, 'chunked');
  assert.equal(JSON.parse(forced.stdout).digest, report.digest, 'same image whatever the upload method');
  assertChunks(q, 64 * 1024);
});

test('push: ECR answers 201 to PATCH, which is accepted', async () => {
  const p = await target();
  p.rule({ method: 'PATCH', fault: { kind: 'rewriteStatus', from: 202, to: 201 }, name: 'ecr' });
  const r = await runCli(['push', '--json', '--from', `${R.anon.host}/${IMAGE}`, '--to', `${p.host}/${run}/push-ecr:1`, '--app', appDir]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(p.hits('ecr').some((q) => q.status === 201));
  assert.equal(JSON.parse(r.stdout).layer.method, 'patch');
});

test('a registry that refuses every upload method → E_UNSUPPORTED, no tag, every session cancelled', async () => {
  const p = await target();
  p.rule({ ...match.monolithicPut, fault: { kind: 'status', status: 405 } });
  p.rule({ method: 'PATCH', fault: { kind: 'status', status: 405 } });
  const r = await runCli(copyArgs(p, 'refuses-all', ['--quiet']));
  assertOneErrorLine(r, 6, 'E_UNSUPPORTED', /refused every upload method.*monolithic PUT, a streamed PATCH, chunked PATCH uploads/);
  assert.equal((await manifestStatus(R.anon2, `${run}/refuses-all`, '1')).status, 404);
  const { opened, cancelled } = await assertNoSessionLeft(p, R.anon2);
  assert.ok(opened >= 3 && cancelled === opened, `${cancelled} of ${opened} sessions cancelled`);
});

test('push: an app layer over 1 MiB whose build has ended before its upload session opens goes as one PUT, the same bytes a streamed push sends', async () => {
  // ~2 MiB of gzip output: over SMALL_LAYER_BYTES, within the head start's bound.
  const dir = join(tempDir(), 'late-session-app');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'noise.bin'), randomBytes(2 * 1024 * 1024));
  const p = await target();
  // Every upload session opens 1.5 s late (as behind a token round trip on a long link): the build ends first.
  p.rule({ ...match.uploadStart, fault: { kind: 'delay', ms: 1500 }, name: 'late' });
  const r = await runCli(['push', '--json', '--from', `${R.anon.host}/${IMAGE}`, '--to', `${p.host}/${run}/late-session:1`, '--app', dir]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.layer.method, 'put');
  assert.ok(p.hits('late').length >= 1);
  assert.equal(requestsFor(p, 'PATCH', '/blobs/uploads/').length, 0, 'no PATCH: the layer went whole');
  await assertValidImage(`${R.anon2.host}/${run}/late-session:1`, report.digest);
  await assertNoSessionLeft(p, R.anon2);

  const streamed = await runCli(['push', '--json', '--layer-upload', 'patch', '--from', `${R.anon.host}/${IMAGE}`, '--to', `${R.anon2.host}/${run}/late-session-patch:1`, '--app', dir]);
  assert.equal(streamed.code, 0, streamed.stderr);
  assert.equal(JSON.parse(streamed.stdout).layer.digest, report.layer.digest, 'the same layer as a streamed build');
  assert.equal(JSON.parse(streamed.stdout).digest, report.digest);
});

test('push: the config goes as one PUT on a session opened ahead, no HEAD; a push of the same image to a new tag sends it again, and the registry takes it', async () => {
  const dir = join(tempDir(), 'config-app');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'hello.txt'), 'hello config\n');
  const p = await target();
  const first = await runCli(['push', '--json', '--from', `${R.anon.host}/${IMAGE}`, '--to', `${p.host}/${run}/config-ahead:1`, '--app', dir]);
  assert.equal(first.code, 0, first.stderr);
  const report = JSON.parse(first.stdout);
  const config: string = report.platforms[0].configDigest.slice('sha256:'.length); // as it appears in a URL (a PUT's ?digest= is encoded)
  assert.equal(requestsFor(p, 'HEAD', config).length, 0, 'no HEAD for the new config');
  assert.deepEqual(requestsFor(p, 'PUT', config).map((q) => q.status), [201], 'one PUT ?digest= of the config');
  await assertValidImage(`${R.anon2.host}/${run}/config-ahead:1`, report.digest);

  p.clearRecords();
  const again = await runCli(['push', '--json', '--from', `${R.anon.host}/${IMAGE}`, '--to', `${p.host}/${run}/config-ahead:2`, '--app', dir]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(JSON.parse(again.stdout).digest, report.digest);
  assert.deepEqual(requestsFor(p, 'PUT', config).map((q) => q.status), [201], 'the config the repository holds, sent again and accepted');
  await assertValidImage(`${R.anon2.host}/${run}/config-ahead:2`, report.digest);
  await assertNoSessionLeft(p, R.anon2);
});

test('--chunk-size rejects nonsense with a usage error', async () => {
  for (const bad of ['0', '12', 'lots', '2GiB', '-5MiB']) {
    const r = await runCli(['copy', `--chunk-size=${bad}`, `${R.anon.host}/${IMAGE}`, `${R.anon2.host}/${run}/never:1`]);
    assertOneErrorLine(r, 2, 'E_USAGE', /--chunk-size must be a size from 1KiB to 1GiB/);
    assertNoSecrets(r, []);
  }
});

test('two targets from one read: the one that refuses monolithic PUT gets its blobs by PATCH, the other is untouched', async () => {
  const picky = await target();
  const plain = await startFaultProxy(R.anon2.url);
  proxies.push(plain);
  picky.rule({ ...match.monolithicPut, fault: { kind: 'status', status: 405 }, name: 'no-put' });
  const r = await runCli(['copy', '--json', `${R.anon.host}/${IMAGE}`, `${picky.host}/${run}/tee-picky:1`, `${plain.host}/${run}/tee-plain:1`]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(JSON.parse(r.stdout).targets.every((t: { ok: boolean }) => t.ok));
  assert.ok(picky.hits('no-put').length >= 1);
  assert.ok(requestsFor(picky, 'PATCH', '/blobs/uploads/').some((q) => q.status === 202), 'the picky target got PATCHes');
  assert.equal(requestsFor(plain, 'PATCH', '/blobs/uploads/').length, 0, 'the other target kept monolithic PUTs');
  await assertValidImage(`${R.anon2.host}/${run}/tee-picky:1`, seeded.digest);
  await assertValidImage(`${R.anon2.host}/${run}/tee-plain:1`, seeded.digest);
  await assertNoSessionLeft(picky, R.anon2);
  await assertNoSessionLeft(plain, R.anon2);
});
