// Faults injected by an in-process proxy in front of the real registries (test/fixtures/fault-proxy.ts):
//   - each fault once per transfer → copy and push still finish and the image validates (skopeo + umoci);
//   - persistent faults → a bounded failure with one error line, non-zero exit, target tag absent or
//     unchanged, upload sessions cancelled, and --retries bounding every level of retry;
//   - storage redirects never receive Authorization; Nexus-style 400 challenges authenticate;
//   - no run's output contains a password or token.
// Source: the token registry (a real Bearer token) behind `src`; target: the basic registry behind `dst`.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, beforeEach, test } from 'node:test';
import { match, startFaultProxy, type FaultProxy, type Rule } from '../fixtures/fault-proxy.js';
import {
  assertLeftNamed, assertNoSecrets, assertNoSessionLeft, assertOneErrorLine, assertValidImage, FAST_IDLE_MS, manifestStatus, requestsFor, secretsOf,
} from './fault-helpers.js';
import { credsOf, loadState, PASSWORD_FLAG_WARNING, runCli, skopeoInspect, tempDir, type ExecResult } from './harness.js';
import type { ErrorCode } from '../../src/errors.js';
import { HEAD_START_BYTES } from '../../src/push/layer-head-start.js';

const state = loadState();
const R = state.registries;
const run = `faults-${process.pid}-${Date.now().toString(36)}`;
const IMAGE = 'base/busybox:v2s2';
const seeded = state.images.token[IMAGE];
const tokenCreds = credsOf(R.token)!;
const basicCreds = credsOf(R.basic)!;
const fromArgs = ['--from-user', tokenCreds.user, '--from-password', tokenCreds.password];
const toArgs = ['--to-user', basicCreds.user, '--to-password', basicCreds.password];
const env = { REGPUSH_IDLE_TIMEOUT_MS: FAST_IDLE_MS };

let src: FaultProxy;
let dst: FaultProxy;
/** The biggest layer of the seed image (1 MiB): the one worth cutting in the middle. */
let big = '';
let bigHex = '';
let appDir = '';

before(async () => {
  src = await startFaultProxy(R.token.url);
  dst = await startFaultProxy(R.basic.url);
  const m = (await skopeoInspect<{ layers: { digest: string; size: number }[] }>(`${R.anon.host}/${IMAGE}`, { raw: true })).json;
  big = m.layers.reduce((a, b) => (b.size > a.size ? b : a)).digest;
  bigHex = big.slice('sha256:'.length);
  appDir = join(tempDir(), 'app');
  mkdirSync(join(appDir, 'bin'), { recursive: true });
  writeFileSync(join(appDir, 'hello.txt'), 'hello from the fault tests\n');
  // Over the head start's bound (HEAD_START_BYTES, 8 MiB) of gzip output, so the layer always
  // streams (PATCH) as a large app's does: a smaller one whose build ends before its session is
  // ready would go as one PUT, and the PATCH faults below would find no PATCH.
  writeFileSync(join(appDir, 'noise.bin'), randomBytes(HEAD_START_BYTES + 1024 * 1024));
  writeFileSync(join(appDir, 'bin', 'run.sh'), '#!/bin/sh\necho ok\n', { mode: 0o755 });
});
after(async () => {
  await src?.close();
  await dst?.close();
});
beforeEach(() => {
  for (const p of [src, dst]) {
    p?.clearRules();
    p?.clearRecords();
  }
});

const bigGet = (): Omit<Rule, 'fault'> => ({ method: 'GET', path: new RegExp(`/blobs/${big}`) });
const bigPut = (): Omit<Rule, 'fault'> => ({ method: 'PUT', path: new RegExp(`/blobs/uploads/.*digest=sha256%3A${bigHex}`) });
const srcRef = () => `${src.host}/${IMAGE}`;
const dstRef = (name: string) => `${dst.host}/${run}/${name}:1`;
const atTarget = (name: string) => `${R.basic.host}/${run}/${name}:1`;

async function copyThrough(name: string, extra: string[] = []): Promise<ExecResult> {
  const r = await runCli(['copy', '--debug', srcRef(), dstRef(name), ...fromArgs, ...toArgs, ...extra], { env });
  assertNoSecrets(r, secretsOf([tokenCreds.password, basicCreds.password], [src, dst]));
  return r;
}

interface OnceCase {
  name: string;
  side: 'src' | 'dst';
  rule: () => Rule;
  /** Extra checks on the proxies after a successful run. */
  check?: () => void;
  /**
   * Upload sessions the fault leaves in the target registry, named in a warning. A request cut in
   * the middle of its body leaves its session where distribution wrote some of the bytes before it
   * noticed the cut, and not where it wrote none (its DELETE then succeeds): `{ atMost: N }`.
   */
  left?: number | { atMost: number };
}

const rangedGetOfBig = () => {
  const ranged = requestsFor(src, 'GET', big).filter((r) => r.headers.range);
  assert.ok(ranged.length >= 1, 'a ranged GET resumed the blob');
  assert.match(String(ranged[0]!.headers.range), /^bytes=[1-9]\d*-$/);
  assert.equal(ranged[0]!.status, 206);
};

const onceCases: OnceCase[] = [
  { name: 'drop mid-blob', side: 'src', rule: () => ({ ...bigGet(), nth: 1, fault: { kind: 'drop', afterBytes: 256 * 1024 } }), check: rangedGetOfBig },
  { name: 'stall mid-blob', side: 'src', rule: () => ({ ...bigGet(), nth: 1, fault: { kind: 'stall', afterBytes: 256 * 1024 } }), check: rangedGetOfBig },
  { name: 'truncated blob', side: 'src', rule: () => ({ ...bigGet(), nth: 1, fault: { kind: 'truncate', afterBytes: 300_000 } }), check: rangedGetOfBig },
  { name: 'stall before answering a manifest GET', side: 'src', rule: () => ({ ...match.manifestGet, nth: 1, fault: { kind: 'stall' } }) },
  { name: '500 on a blob GET', side: 'src', rule: () => ({ ...bigGet(), nth: 1, fault: { kind: 'status', status: 500 } }) },
  { name: '503 on upload start', side: 'dst', rule: () => ({ ...match.uploadStart, nth: 1, fault: { kind: 'status', status: 503 } }) },
  { name: '502 on a blob PUT', side: 'dst', rule: () => ({ ...bigPut(), nth: 1, fault: { kind: 'status', status: 502 } }) },
  {
    name: '429 + Retry-After on a blob PUT',
    side: 'dst',
    rule: () => ({ ...bigPut(), nth: 1, fault: { kind: 'status', status: 429, retryAfter: 1 } }),
    check: () => {
      const puts = requestsFor(dst, 'PUT', `digest=sha256%3A${bigHex}`);
      assert.equal(puts.length, 2);
      assert.ok(puts[1]!.at - puts[0]!.at >= 950, `Retry-After: 1 honoured on the whole-blob retry (waited ${puts[1]!.at - puts[0]!.at} ms)`);
    },
  },
  {
    name: '429 + Retry-After on the manifest PUT',
    side: 'dst',
    rule: () => ({ ...match.manifestPut, nth: 1, fault: { kind: 'status', status: 429, retryAfter: 1 } }),
    check: () => {
      const puts = requestsFor(dst, 'PUT', '/manifests/');
      assert.equal(puts.length, 2);
      assert.ok(puts[1]!.at - puts[0]!.at >= 950, `Retry-After: 1 honoured (waited ${puts[1]!.at - puts[0]!.at} ms)`);
    },
  },
  { name: 'reset on the manifest PUT before the registry sees it', side: 'dst', rule: () => ({ ...match.manifestPut, nth: 1, fault: { kind: 'reset' } }) },
  { name: 'reset on the manifest PUT after the registry stored it', side: 'dst', rule: () => ({ ...match.manifestPut, nth: 1, fault: { kind: 'reset', when: 'after' } }) },
  // distribution keeps the cut session once it has written some of its bytes (its DELETE, at the
  // offset before the PUT, is answered 404 BLOB_UPLOAD_INVALID): it stays, and the run warns of it.
  { name: 'connection cut mid-upload', side: 'dst', rule: () => ({ ...bigPut(), nth: 1, fault: { kind: 'drop', side: 'request', afterBytes: 256 * 1024 } }), left: { atMost: 1 } },
];

for (const c of onceCases) {
  test(`copy survives one fault: ${c.name}`, async () => {
    const proxy = c.side === 'src' ? src : dst;
    proxy.rule(c.rule());
    const name = `copy-${c.name.toLowerCase().replace(/\W+/g, '-')}`;
    const r = await copyThrough(name);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(proxy.hits().length >= 1, `the fault fired (${c.name})`);
    assert.equal(r.stdout.trim(), `${dst.host}/${run}/${name}@${seeded.digest}`);
    c.check?.();
    await assertValidImage(atTarget(name), seeded.digest, basicCreds);
    const held = await assertNoSessionLeft(dst, R.basic, basicCreds, { left: typeof c.left === 'object' ? 'any' : c.left });
    if (typeof c.left === 'object') assert.ok(held.left.length <= c.left.atMost, `at most ${c.left.atMost} session(s) stay: ${held.left.join(', ')}`);
    assertLeftNamed(r.stderr, held.left.length, `${run}/${name}`);
  });
}

const pushOnceCases: OnceCase[] = [
  { name: 'drop mid-blob', side: 'src', rule: () => ({ ...bigGet(), nth: 1, fault: { kind: 'drop', afterBytes: 256 * 1024 } }), check: rangedGetOfBig },
  { name: 'stall mid-blob', side: 'src', rule: () => ({ ...bigGet(), nth: 1, fault: { kind: 'stall', afterBytes: 256 * 1024 } }), check: rangedGetOfBig },
  { name: '500 on the layer PATCH', side: 'dst', rule: () => ({ ...match.streamedPatch, nth: 1, fault: { kind: 'status', status: 500 } }) },
  { name: 'stall on the layer PATCH', side: 'dst', rule: () => ({ ...match.streamedPatch, nth: 1, fault: { kind: 'stall' } }) },
  { name: '503 on upload start', side: 'dst', rule: () => ({ ...match.uploadStart, nth: 1, fault: { kind: 'status', status: 503 } }) },
  { name: '429 + Retry-After on the manifest PUT', side: 'dst', rule: () => ({ ...match.manifestPut, nth: 1, fault: { kind: 'status', status: 429, retryAfter: 1 } }) },
  { name: 'reset on the manifest PUT', side: 'dst', rule: () => ({ ...match.manifestPut, nth: 1, fault: { kind: 'reset' } }) },
];

for (const c of pushOnceCases) {
  test(`push survives one fault: ${c.name}`, async () => {
    const proxy = c.side === 'src' ? src : dst;
    proxy.rule(c.rule());
    const name = `push-${c.name.toLowerCase().replace(/\W+/g, '-')}`;
    const r = await runCli(['push', '--debug', '--from', srcRef(), '--to', dstRef(name), '--app', `${appDir}:/app`, '--cmd', '/app/bin/run.sh', ...fromArgs, ...toArgs], { env });
    assertNoSecrets(r, secretsOf([tokenCreds.password, basicCreds.password], [src, dst]));
    assert.equal(r.code, 0, r.stderr);
    assert.ok(proxy.hits().length >= 1, `the fault fired (${c.name})`);
    const digest = r.stdout.trim().split('@')[1]!;
    assert.match(digest, /^sha256:[0-9a-f]{64}$/);
    c.check?.();
    const bundle = await assertValidImage(atTarget(name), digest, basicCreds);
    assert.equal(readFileSync(join(bundle, 'rootfs', 'app', 'hello.txt'), 'utf8'), 'hello from the fault tests\n');
    assert.ok(existsSync(join(bundle, 'rootfs', 'bin', 'busybox')), 'base layers unpacked too');
    const summary = await skopeoInspect(atTarget(name), { creds: basicCreds });
    assert.deepEqual(summary.json.Layers.slice(0, seeded.layers!.length), seeded.layers, 'base layers unchanged');
    assert.equal(summary.json.Layers.length, seeded.layers!.length + 1, 'one new layer');
    await assertNoSessionLeft(dst, R.basic, basicCreds);
  });
}

/** An app directory whose layer is ~300 kB of gzip output: under SMALL_LAYER_BYTES, so it goes as one PUT from memory. */
function smallApp(): string {
  const small = join(tempDir(), 'small-app');
  mkdirSync(small, { recursive: true });
  writeFileSync(join(small, 'hello.txt'), 'hello from the fault tests\n');
  writeFileSync(join(small, 'noise.bin'), randomBytes(300 * 1000)); // ~300 kB of gzip output: the config's PUT is a few kB
  return small;
}

/**
 * The new layer's PUT: a body of over 100 kB (the config's is a few kB) naming none of the base
 * blobs, which go to the same target as monolithic PUTs too.
 */
function smallLayerPut(): Omit<Rule, 'fault'> {
  const baseHex = seeded.layers!.map((d) => d.slice('sha256:'.length));
  return {
    ...match.monolithicPut,
    when: (r: { url: string; headers: Record<string, unknown> }) => Number(r.headers['content-length']) > 100_000 && !baseHex.some((h) => r.url.includes(h)),
  };
}

// A small layer (under SMALL_LAYER_BYTES) goes as one PUT of bytes held in memory. A PUT that
// carries bytes is never sent again to its session (distribution may have taken part of it): each
// fault below starts the layer again on a new session, the same bytes, not rebuilt, and the image
// is whole. The cut is the case an audit reproduced against distribution 2.8: the PUT sent again
// to the same session was answered 404 BLOB_UPLOAD_INVALID and the push failed (exit 4).
// The cut session stays in distribution once it has written some of the bytes, in `_uploads` (no
// URL the client holds can cancel it; where it wrote none, the DELETE succeeds): at most that one is
// left, and the successful push names exactly what is left in a warning.
const smallLayerFaults: { name: string; fault: Rule['fault']; statuses: (number | undefined)[]; left: number }[] = [
  { name: '500 on the one PUT of a small layer', fault: { kind: 'status', status: 500 }, statuses: [500, 201], left: 0 },
  { name: 'the connection cut after 250 KiB of the one PUT of a small layer', fault: { kind: 'drop', side: 'request', afterBytes: 250 * 1024 }, statuses: [undefined, 201], left: 1 },
];
for (const c of smallLayerFaults) {
  test(`push survives one fault: ${c.name}`, async () => {
    dst.rule({ ...smallLayerPut(), nth: 1, fault: c.fault });
    const name = `push-small-layer-${c.name.includes('cut') ? 'cut' : '500'}`;
    const r = await runCli(['push', '--json', '--from', srcRef(), '--to', dstRef(name), '--app', `${smallApp()}:/app`, ...fromArgs, ...toArgs], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(dst.hits().length, 1, 'the fault fired');
    const report = JSON.parse(r.stdout) as { digest: string; layer: { method: string; digest: string } };
    assert.equal(report.layer.method, 'put', 'the small layer went as one PUT');
    const puts = requestsFor(dst, 'PUT', `digest=${encodeURIComponent(report.layer.digest)}`);
    assert.deepEqual(puts.map((p) => p.status), c.statuses, 'the faulted PUT, then the layer again');
    const sessionOf = (u: string) => u.split('?')[0];
    assert.notEqual(sessionOf(puts[0]!.url), sessionOf(puts[1]!.url), 'on a new session, not sent again to the first');
    const bundle = await assertValidImage(atTarget(name), report.digest, basicCreds);
    assert.equal(readFileSync(join(bundle, 'rootfs', 'app', 'hello.txt'), 'utf8'), 'hello from the fault tests\n');
    const { left } = await assertNoSessionLeft(dst, R.basic, basicCreds, { left: c.left ? 'any' : 0 });
    assert.ok(left.length <= c.left, `at most ${c.left} session(s) stay: ${left.join(', ')}`);
    if (left.length) assert.ok(sessionOf(puts[0]!.url).endsWith(`/${left[0]}`), 'the session left is the one the PUT was cut on');
    const line = assertLeftNamed(r.stderr, left.length, `${run}/${name}`);
    if (line) assert.match(line, /^warning: .*\(\d+ bytes sent, cut in the middle of a monolithic PUT\)$/);
  });
}

// A registry whose 201 came before the blob was readable (reported of Aliyun ACR; docs/registry-quirks.md):
// the first manifest PUT is answered MANIFEST_BLOB_UNKNOWN after every blob was accepted with a 201.
test('MANIFEST_BLOB_UNKNOWN once after 201s: the blobs taken on the 201 are HEADed and the manifest PUT is sent once more', async () => {
  dst.rule({ ...match.manifestPut, nth: 1, fault: { kind: 'status', status: 400, code: 'MANIFEST_BLOB_UNKNOWN' } });
  const name = 'push-blob-unknown-once';
  const r = await runCli(['push', '--debug', '--from', srcRef(), '--to', dstRef(name), '--app', `${appDir}:/app`, '--cmd', '/app/bin/run.sh', ...fromArgs, ...toArgs], { env });
  assertNoSecrets(r, secretsOf([tokenCreds.password, basicCreds.password], [src, dst]));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /did not find a blob .* it had accepted; checking \d+ blob\(s\) and writing the manifest once more/);
  const puts = requestsFor(dst, 'PUT', '/manifests/');
  assert.equal(puts.length, 2, 'the manifest PUT was sent once more');
  assert.equal(puts[0]!.status, 400);
  assert.equal(puts[1]!.status, 201);
  const bigHeads = requestsFor(dst, 'HEAD', `/blobs/${big}`);
  const bigUpload = requestsFor(dst, 'PUT', `digest=sha256%3A${bigHex}`).at(-1)!;
  assert.equal(bigUpload.status, 201);
  // The 201 was the confirmation: no HEAD of the big blob between its upload and the first manifest PUT …
  assert.deepEqual(bigHeads.filter((h) => h.seq > bigUpload.seq && h.seq < puts[0]!.seq), []);
  // … and after MANIFEST_BLOB_UNKNOWN it was HEADed before the second PUT.
  assert.ok(bigHeads.some((h) => h.seq > puts[0]!.seq && h.seq < puts[1]!.seq && h.status === 200), 'the blob was HEADed before the retry');
  const digest = r.stdout.trim().split('@')[1]!;
  await assertValidImage(atTarget(name), digest, basicCreds);
});

test('MANIFEST_BLOB_UNKNOWN every time: one retry only, then the registry\'s answer as the error (E_NOT_FOUND)', async () => {
  dst.rule({ ...match.manifestPut, fault: { kind: 'status', status: 400, code: 'MANIFEST_BLOB_UNKNOWN' } });
  const r = await runCli(['push', '--quiet', '--from', srcRef(), '--to', dstRef('push-blob-unknown-always'), '--app', `${appDir}:/app`, ...fromArgs, ...toArgs], { env });
  assertOneErrorLine(r, 4, 'E_NOT_FOUND', /PUT manifest.*MANIFEST_BLOB_UNKNOWN/);
  assert.equal(requestsFor(dst, 'PUT', '/manifests/').length, 2, 'one PUT and one retry');
  assert.equal((await manifestStatus(R.basic, `${run}/push-blob-unknown-always`, '1', basicCreds)).status, 404);
});

// ---------------------------------------------------------------- persistent faults

/** A failing run under persistent faults: bounded time, one error line, exit code, tag absent or unchanged, sessions cancelled. */
async function failsCleanly(
  name: string,
  exit: number,
  code: ErrorCode,
  pattern: RegExp,
  opts: { retries?: number; boundMs?: number; before?: string; left?: number | 'any' | 'named' } = {},
): Promise<{ r: ExecResult; sessions: { opened: number; cancelled: number; left: string[] } }> {
  const t0 = Date.now();
  const r = await runCli(['copy', '--quiet', '--retries', String(opts.retries ?? 2), srcRef(), dstRef(name), ...fromArgs, ...toArgs], { env: { REGPUSH_IDLE_TIMEOUT_MS: '1000' } });
  const took = Date.now() - t0;
  assertNoSecrets(r, secretsOf([tokenCreds.password, basicCreds.password], [src, dst]));
  const line = assertOneErrorLine(r, exit, code, pattern);
  // A hang guard, half of runCli's own limit (120 s): a loaded machine's delays cannot reach it.
  assert.ok(took < (opts.boundMs ?? 60_000), `failed within a bounded time (took ${took} ms)`);
  const head = await manifestStatus(R.basic, `${run}/${name}`, '1', basicCreds);
  if (opts.before) assert.equal(head.digest, opts.before, 'the target tag is unchanged');
  else assert.equal(head.status, 404, 'the target tag is absent');
  // 'named': however many the registry holds, the error line names exactly those.
  const sessions = await assertNoSessionLeft(dst, R.basic, basicCreds, { left: opts.left === 'named' ? 'any' : opts.left });
  // What stays in the registry is what the error line names. Where the client itself cut a PUT
  // (`left: 'any'`), its refused DELETE races the registry finishing a body that had all arrived:
  // such a session is named and then not held, so the line names at least what stays.
  if (opts.left !== 'any') assertLeftNamed(line, sessions.left.length, `${run}/${name}`);
  else {
    const named = Number(/(\d+) upload sessions? could not be cancelled/.exec(line)?.[1] ?? 0);
    assert.ok(named >= sessions.left.length, `${sessions.left.length} session(s) held, the error line names ${named}: ${line}`);
    if (sessions.left.length > 0) assert.ok(line.includes(`/${run}/${name} (`), line);
  }
  return { r, sessions };
}

test('persistent: every blob GET answers 500 → E_REGISTRY, each GET tried 1 + --retries times, no tag', async () => {
  src.rule({ ...match.blobGet, fault: { kind: 'status', status: 500 } });
  await failsCleanly('always-500', 5, 'E_REGISTRY', /answered 500/);
  const perBlob = new Map<string, number>();
  for (const q of requestsFor(src, 'GET', '/blobs/')) perBlob.set(q.url, (perBlob.get(q.url) ?? 0) + 1);
  assert.ok(perBlob.size >= 1);
  for (const [u, n] of perBlob) assert.ok(n <= 3, `${u} fetched ${n} times with --retries 2 (retries must not multiply across levels)`);
  // The blob whose failure ended the copy was tried 1 + 2 times; others may have been cut short by it.
  assert.equal(Math.max(...perBlob.values()), 3, 'the failing blob was fetched 1 + --retries times');
});

test('persistent: the big blob always arrives corrupted → E_DIGEST_MISMATCH, no tag, sessions cancelled', async () => {
  src.rule({ ...bigGet(), fault: { kind: 'corrupt', at: 4096 } });
  // The PUT that carried the corrupt bytes: refused, its session kept by distribution, named.
  const { sessions } = await failsCleanly('always-corrupt', 7, 'E_DIGEST_MISMATCH', /DIGEST_INVALID|digest/, { left: 1 });
  assert.ok(sessions.opened >= 1, 'the big blob\'s upload session was opened (the corrupt bytes were on their way)');
  assert.ok(sessions.cancelled >= 1, 'and cancelled');
});

test('persistent: the big blob stalls forever → E_NETWORK within the idle timeout × retries, no tag', async () => {
  src.rule({ ...bigGet(), fault: { kind: 'stall', afterBytes: 1000 } });
  // The one PUT the stalled read fed is cut by the client, whose DELETE races the registry's
  // noticing the cut: a DELETE it takes first is confirmed (204) and nothing stays; one after is
  // answered 404 BLOB_UPLOAD_INVALID and the session stays. Either way, the error line names
  // exactly what stays.
  await failsCleanly('always-stalled', 5, 'E_NETWORK', /stalled|no progress|timed out/, { left: 'any' });
  // One GET plus one resume per retry: the stall does not restart the whole transfer on top.
  assert.equal(requestsFor(src, 'GET', big).length, 3);
});

test('persistent: the upload connection is always cut → E_NETWORK, 1 + --retries whole-blob attempts, sessions cancelled', async () => {
  dst.rule({ ...bigPut(), fault: { kind: 'drop', side: 'request', afterBytes: 200 * 1024 } });
  // A cut PUT's session stays where distribution wrote some of its bytes before it noticed the cut
  // (its DELETE then answers 404 BLOB_UPLOAD_INVALID: the URL's offset is behind them), and goes
  // where it wrote none (the DELETE answers 204); which, depends on the registry's timing (seen
  // 2 of 3 on a loaded machine). Whatever stays is named, and only that.
  const { sessions } = await failsCleanly('always-cut', 5, 'E_NETWORK', /./, { left: 'named' });
  assert.ok(sessions.left.length <= 3, `at most one session per attempt stays (${sessions.left.length})`);
  assert.equal(requestsFor(dst, 'PUT', `digest=sha256%3A${bigHex}`).length, 3);
});

test('persistent: the manifest PUT always answers 500 → E_REGISTRY and a tag that pointed elsewhere is unchanged', async () => {
  const name = 'always-500-manifest';
  // The tag exists already, pointing at the OCI variant of the image.
  const oci = state.images.token['base/busybox:oci'].digest;
  const pre = await runCli(['copy', '--quiet', `${R.token.host}/base/busybox:oci`, atTarget(name), ...fromArgs, ...toArgs]);
  assert.equal(pre.code, 0, pre.stderr);
  dst.rule({ ...match.manifestPut, fault: { kind: 'status', status: 500 } });
  await failsCleanly(name, 5, 'E_REGISTRY', /PUT manifest.*500/, { before: oci });
  assert.equal(requestsFor(dst, 'PUT', '/manifests/').length, 3, '1 + --retries manifest PUTs');
});

test('persistent, two targets: a source that always drops is read 1 + --retries times in all, not once more per target', async () => {
  src.rule({ ...bigGet(), fault: { kind: 'drop', afterBytes: 100 * 1024 } });
  const t0 = Date.now();
  const r = await runCli(['copy', '--quiet', '--retries', '2', srcRef(), dstRef('tee-a'), `${R.anon2.host}/${run}/tee-b:1`, ...fromArgs, ...toArgs], { env });
  // --quiet keeps warnings: the first target set aside is one (the retries are notes, left out).
  const warned = r.stderr.split('\n').filter((l) => l.startsWith('warning: ') && !PASSWORD_FLAG_WARNING.test(l));
  assert.ok(warned.length <= 1 && warned.every((l) => /: connection lost at byte \d+ .*; the other targets go on$/.test(l)), r.stderr);
  const line = assertOneErrorLine({ ...r, stderr: r.stderr.split('\n').filter((l) => !l.startsWith('warning: ')).join('\n') }, 5, 'E_NETWORK', /connection lost at byte \d+ of \d+.*also after 2 retries/);
  assert.ok(Date.now() - t0 < 60_000, 'a hang guard, half of runCli\'s own limit');
  assert.equal(requestsFor(src, 'GET', big).length, 3, 'one shared read, resumed twice, then given up');
  assert.equal((await manifestStatus(R.basic, `${run}/tee-a`, '1', basicCreds)).status, 404);
  assert.equal((await manifestStatus(R.anon2, `${run}/tee-b`, '1')).status, 404);
  // The PUT the dropped read fed, cut in the middle of its body: its session stays (once
  // distribution has written some of its bytes), named.
  const { left } = await assertNoSessionLeft(dst, R.basic, basicCreds, { left: 'any' });
  assert.ok(left.length <= 1, `at most the one cut session stays: ${left.join(', ')}`);
  if (left.length) assert.match(line, new RegExp(`could not be cancelled .*/${run}/tee-a \\(`));
});

test('one retry level: every upload request answered 500 → each request sent 1 + --retries times, never (1 + --retries)²', async () => {
  // POST (open a session) is replayable: the transport retries it; the whole-blob restart must not retry it again.
  dst.rule({ ...match.uploadStart, fault: { kind: 'status', status: 500 } });
  const r = await runCli(['copy', '--quiet', '--jobs', '1', '--retries', '2', srcRef(), dstRef('one-level-post'), ...fromArgs, ...toArgs], { env });
  assertOneErrorLine(r, 5, 'E_REGISTRY', /start upload.*answered 500/);
  assert.equal(requestsFor(dst, 'POST', '/blobs/uploads/').length, 3, 'one blob, its POST sent 1 + 2 times');
  dst.clearRules();
  dst.clearRecords();
  // The upload PUT carries a stream (not replayable): the transport does not retry it; the blob restarts, 1 + 2 times in all.
  dst.rule({ method: 'PUT', path: /\/blobs\/uploads\//, fault: { kind: 'status', status: 500 } });
  const r2 = await runCli(['copy', '--quiet', '--jobs', '1', '--retries', '2', srcRef(), dstRef('one-level-put'), ...fromArgs, ...toArgs], { env });
  assertOneErrorLine(r2, 5, 'E_REGISTRY', /answered 500/);
  const puts = requestsFor(dst, 'PUT', '/blobs/uploads/');
  const perBlob = new Map<string, number>();
  for (const q of puts) perBlob.set(/digest=([^&]+)/.exec(q.url)![1]!, (perBlob.get(/digest=([^&]+)/.exec(q.url)![1]!) ?? 0) + 1);
  assert.deepEqual([...perBlob.values()], [3], 'one blob, its PUT sent 1 + 2 times');
  assert.equal(requestsFor(dst, 'POST', '/blobs/uploads/').length, 3, 'one session per attempt');
  await assertNoSessionLeft(dst, R.basic, basicCreds);
});

test('one retry level, two targets: a target refusing every session is tried 1 + --retries times, the other completes', async () => {
  dst.rule({ ...match.uploadStart, fault: { kind: 'status', status: 500 } });
  const other = `${R.anon2.host}/${run}/one-level-other:1`;
  const r = await runCli(['copy', '--json', '--jobs', '1', '--retries', '2', srcRef(), dstRef('one-level-tee'), other, ...fromArgs, ...toArgs], { env });
  assert.equal(r.code, 8, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.deepEqual(report.targets.map((t: { ok: boolean }) => t.ok), [false, true]);
  assert.equal(requestsFor(dst, 'POST', '/blobs/uploads/').length, 3, 'the shared pass and the solo pass share one budget: 1 + 2 POSTs');
  assert.equal((await skopeoInspect(other, { raw: true })).digest, seeded.digest);
});

test('--retries 0: one 503 is final; --retries 1 rides it out', async () => {
  src.rule({ ...match.manifestGet, nth: 1, fault: { kind: 'status', status: 503 } });
  const r = await runCli(['copy', '--quiet', '--retries', '0', srcRef(), dstRef('retries-0'), ...fromArgs, ...toArgs], { env });
  assertOneErrorLine(r, 5, 'E_REGISTRY', /503/);
  assert.equal(requestsFor(src, 'GET', '/manifests/').length, 1);
  src.clearRules();
  src.rule({ ...match.manifestGet, nth: 1, fault: { kind: 'status', status: 503 } });
  const ok = await runCli(['copy', '--quiet', '--retries', '1', srcRef(), dstRef('retries-1'), ...fromArgs, ...toArgs], { env });
  assert.equal(ok.code, 0, ok.stderr);
});

// ---------------------------------------------------------------- redirects, Nexus, secrets

test('blob GETs redirected to storage: the storage never receives Authorization, and the copy validates', async () => {
  src.rule({ ...match.blobGet, fault: { kind: 'redirect' } });
  const name = 'redirected';
  const r = await copyThrough(name);
  assert.equal(r.code, 0, r.stderr);
  const redirected = src.hits('redirect');
  assert.ok(redirected.length >= 4, `every blob GET was redirected (${redirected.length})`);
  assert.ok(redirected.every((q) => /^Bearer /.test(String(q.headers.authorization))), 'the registry itself got the Bearer token');
  assert.ok(src.storage.requests.length >= redirected.length, 'storage served the redirected GETs');
  for (const s of src.storage.requests) {
    assert.equal(s.headers.authorization, undefined, `storage got Authorization on ${s.url}`);
    assert.equal(s.status, 200);
  }
  // The signed query (sig=) is redacted from --debug output.
  assert.doesNotMatch(r.stderr, /sig=[0-9a-f]{8}/);
  await assertValidImage(atTarget(name), seeded.digest, basicCreds);
});

test('a resumed GET after a redirect goes back through the registry and still never sends Authorization to storage', async () => {
  src.rule({ ...match.blobGet, fault: { kind: 'redirect' } });
  // The storage's answer is what gets cut here: drop after 256 KiB through the proxy is not possible
  // (storage is direct), so cut the first registry answer instead and let the resume be redirected.
  src.clearRules();
  src.rule({ ...bigGet(), nth: 1, fault: { kind: 'drop', afterBytes: 256 * 1024 } });
  src.rule({ ...match.blobGet, fault: { kind: 'redirect' } });
  const name = 'redirected-resumed';
  const r = await copyThrough(name);
  assert.equal(r.code, 0, r.stderr);
  const ranged = src.storage.requests.filter((s) => s.headers.range);
  assert.equal(ranged.length, 1, 'the resume reached storage with Range');
  assert.ok(src.storage.requests.every((s) => s.headers.authorization === undefined));
  await assertValidImage(atTarget(name), seeded.digest, basicCreds);
});

test('Nexus-style 400 + challenge instead of 401 still authenticates', async () => {
  dst.rule({ fault: { kind: 'rewriteStatus', from: 401, to: 400 }, name: 'nexus' });
  const name = 'nexus';
  const r = await copyThrough(name);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(dst.requests.some((q) => q.status === 400 && !q.headers.authorization), 'the registry answered 400 to an unauthenticated request');
  await assertValidImage(atTarget(name), seeded.digest, basicCreds);
});

test('Nexus-style 400 with wrong credentials → E_AUTH naming the registry, password not shown', async () => {
  dst.rule({ fault: { kind: 'rewriteStatus', from: 401, to: 400 }, name: 'nexus' });
  const wrong = 'wrong-nexus-pw-5521';
  const r = await runCli(['copy', '--quiet', srcRef(), dstRef('nexus-wrong'), ...fromArgs, '--to-user', 'alice', '--to-password', wrong], { env });
  assertOneErrorLine(r, 3, 'E_AUTH', new RegExp(dst.host));
  assertNoSecrets(r, [wrong, ...secretsOf([tokenCreds.password, basicCreds.password], [src, dst])]);
});
