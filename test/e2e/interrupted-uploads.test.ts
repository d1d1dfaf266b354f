// SIGINT in the middle of the app layer's upload, against the real registry (distribution signs the
// session's offset into the upload URL, so only the Location it answered last can cancel it): the
// streamed PATCH is ended and its session cancelled; chunked uploads are cancelled between chunks
// and in the middle of one; a monolithic PUT cut in the middle of its body cannot be cancelled, and
// the interruption message names that session. The registry's upload area is checked on disk.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { match, startFaultProxy, type FaultProxy } from '../fixtures/fault-proxy.js';
import { requestsFor, sessionsOpened, startCli, waitFor } from './fault-helpers.js';
import { imageRef, loadState, runCli, tempDir, type RegistryInfo } from './harness.js';

const state = loadState();
const R = state.registries;
const run = `iu${process.pid}${Date.now().toString(36)}`;
const BASE = imageRef(R.anon, 'base/busybox:v2s2');
const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of closers) await c();
});

/** An app of incompressible bytes, so that its layer's upload lasts a while. */
let app = '';
before(() => {
  app = tempDir('regpush-app-');
  writeFileSync(join(app, 'big.bin'), randomBytes(64 * 1024 * 1024));
});

/** A proxy in front of anon2 and a repository there that already holds the base (so the app layer is the upload in flight). */
async function target(name: string): Promise<{ proxy: FaultProxy; repo: string }> {
  const proxy = await startFaultProxy(R.anon2.url);
  closers.push(() => proxy.close());
  const repo = `${run}/${name}`;
  const seeded = await runCli(['copy', BASE, `${proxy.host}/${repo}:base`]);
  assert.equal(seeded.code, 0, seeded.stderr);
  proxy.requests.length = 0;
  return { proxy, repo };
}

/** The files distribution keeps for each upload session of `repo`, by session id. */
function uploadArea(reg: RegistryInfo, repo: string): Map<string, string[]> {
  const dir = join(reg.storageDir, 'docker/registry/v2/repositories', repo, '_uploads');
  const out = new Map<string, string[]>();
  if (!existsSync(dir)) return out;
  for (const id of readdirSync(dir)) out.set(id, readdirSync(join(dir, id), { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name));
  return out;
}

/**
 * Every session opened was cancelled with one DELETE the registry confirmed (none answered 404,
 * as a DELETE with a URL from before a cut request is), and its bytes left the registry: no `data`
 * or `startedat` stays (distribution's own cancel leaves only a few hundred bytes of hash state).
 */
function assertAllCancelled(proxy: FaultProxy, repo: string): void {
  const opened = sessionsOpened(proxy);
  assert.ok(opened.length >= 1, 'an upload session was opened');
  for (const u of opened) {
    const id = u.pathname.split('/').pop()!;
    const deletes = requestsFor(proxy, 'DELETE', id);
    assert.deepEqual(deletes.map((d) => d.status), [204], `session ${id}: one DELETE, answered 204`);
    const files = uploadArea(R.anon2, repo).get(id) ?? [];
    assert.ok(!files.includes('data') && !files.includes('startedat'), `session ${id} still in the registry's upload area: ${files.join(', ')}`);
  }
}

/** The CLI's one error line (progress lines aside). */
function errorLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.startsWith('regpush: error:'));
  assert.equal(lines.length, 1, stderr);
  return lines[0]!;
}

const ALL_CANCELLED = /^regpush: error: interrupted: no tag was written after the interruption; every upload session that was open was completed or cancelled \[E_ABORTED\]$/;

test('SIGINT in the middle of the streamed PATCH: the PATCH is ended, its session cancelled once with the state answered', async () => {
  const { proxy, repo } = await target('patch');
  const cli = startCli(['push', '--from', BASE, '--to', `${proxy.host}/${repo}:1`, '--app', app]);
  await waitFor('the PATCH to be streaming', () => requestsFor(proxy, 'PATCH', `/v2/${repo}/blobs/uploads/`).some((r) => r.bytesIn > 512 * 1024), 60_000);
  cli.signal('SIGINT');
  const r = await cli.result;
  assert.equal(r.code, 130, r.stderr);
  const patch = requestsFor(proxy, 'PATCH', `/v2/${repo}/blobs/uploads/`)[0]!;
  assert.equal(patch.status, 202, 'the PATCH was ended and answered, not cut');
  assertAllCancelled(proxy, repo);
  assert.match(errorLine(r.stderr), ALL_CANCELLED);
});

test('SIGINT between two chunk PATCHes: the session is cancelled with the Location of the last chunk', async () => {
  const { proxy, repo } = await target('between');
  const cli = startCli(['push', '--layer-upload', 'chunked', '--chunk-size', '1MiB', '--from', BASE, '--to', `${proxy.host}/${repo}:1`, '--app', app]);
  const chunks = () => requestsFor(proxy, 'PATCH', `/v2/${repo}/blobs/uploads/`);
  // Two chunks answered and none in flight: the layer's next megabyte is being built.
  await waitFor('two chunks answered, none in flight', () => chunks().length >= 2 && chunks().every((c) => c.status === 202), 60_000);
  cli.signal('SIGINT');
  const r = await cli.result;
  assert.equal(r.code, 130, r.stderr);
  assertAllCancelled(proxy, repo);
  assert.match(errorLine(r.stderr), ALL_CANCELLED);
});

test('SIGINT in the middle of a chunk PATCH: the chunk is let finish, then the session is cancelled with the Location it was answered', async () => {
  const { proxy, repo } = await target('midchunk');
  // Chunks after the first reach the registry at 1 MB/s: the interruption meets one in the middle of its body.
  proxy.rule({ ...match.chunkedPatch, nth: [2, 3, 4, 5, 6, 7, 8, 9], fault: { kind: 'slow', bytesPerSecond: 1_000_000 } });
  const cli = startCli(['push', '--layer-upload', 'chunked', '--chunk-size', '1MiB', '--from', BASE, '--to', `${proxy.host}/${repo}:1`, '--app', app]);
  const slow = () => requestsFor(proxy, 'PATCH', `/v2/${repo}/blobs/uploads/`).filter((c) => c.fault === 'slow');
  await waitFor('a slow chunk in the middle of its body', () => slow().some((c) => c.status === undefined && c.bytesIn > 128 * 1024), 60_000);
  cli.signal('SIGINT');
  const r = await cli.result;
  assert.equal(r.code, 130, r.stderr);
  assert.ok(slow().every((c) => c.status === 202), 'every chunk was answered (none was cut)');
  assertAllCancelled(proxy, repo);
  assert.match(errorLine(r.stderr), ALL_CANCELLED);
});

test('SIGINT in the middle of a monolithic PUT: the session cannot be cancelled, and the message names it', async () => {
  const { proxy, repo } = await target('put');
  // The layer's PUT reaches the registry at 4 MB/s, so the interruption meets it in the middle of its body.
  proxy.rule({ ...match.monolithicPut, fault: { kind: 'slow', bytesPerSecond: 4_000_000 } });
  const cli = startCli(['push', '--layer-upload', 'put', '--from', BASE, '--to', `${proxy.host}/${repo}:1`, '--app', app]);
  const puts = () => requestsFor(proxy, 'PUT', `/v2/${repo}/blobs/uploads/`);
  await waitFor('the PUT in the middle of its body', () => puts().some((p) => p.bytesIn > 1024 * 1024), 60_000);
  cli.signal('SIGINT');
  const r = await cli.result;
  assert.equal(r.code, 130, r.stderr);
  // The layer's PUT (the config, a few kB, may have gone out first as a PUT of its own).
  const put = puts().find((p) => p.bytesIn > 1024 * 1024)!;
  assert.equal(put.status, undefined, 'the PUT was cut, not answered');
  const id = new URL(put.url, 'http://x').pathname.split('/').pop()!;
  // What the message says is what the registry holds: the session's bytes stay in its upload area.
  assert.ok((uploadArea(R.anon2, repo).get(id) ?? []).includes('data'), `session ${id} has data in the registry`);
  const line = errorLine(r.stderr);
  assert.match(line, /^regpush: error: interrupted: no tag was written after the interruption; 1 upload session could not be cancelled and may stay in the registry's upload area until it purges stale uploads: /);
  assert.ok(line.includes(`${proxy.host}/${repo} (`), line);
  assert.match(line, /\(\d+\.\d MB sent, cut in the middle of a monolithic PUT\) \[E_ABORTED\]$/);
});

test('a push that fails while the app layer\'s monolithic PUT is in the middle of its body: the error line also names the session it left', async () => {
  const proxy = await startFaultProxy(R.anon2.url);
  closers.push(() => proxy.close());
  const repo = `${run}/failput`;
  const small = tempDir('regpush-app-');
  writeFileSync(join(small, 'big.bin'), randomBytes(16 * 1024 * 1024));
  const length = (r: { headers: Record<string, unknown> }) => Number(r.headers['content-length'] ?? 0);
  // The app layer's PUT reaches the registry at 2 MB/s (8 s); a base layer's PUT is never
  // answered, so the push fails on the idle timeout (no retries) while the app layer's PUT is on its way.
  proxy.rule({ ...match.monolithicPut, when: (r) => length(r) > 8 * 1024 * 1024, fault: { kind: 'slow', bytesPerSecond: 2_000_000 } });
  proxy.rule({ ...match.monolithicPut, when: (r) => length(r) > 0 && length(r) <= 8 * 1024 * 1024, nth: 1, fault: { kind: 'stall' } });
  const r = await runCli(['push', '--retries', '0', '--layer-upload', 'put', '--from', BASE, '--to', `${proxy.host}/${repo}:1`, '--app', small], { env: { REGPUSH_IDLE_TIMEOUT_MS: '3000' } });
  assert.equal(r.code, 5, r.stderr);
  const appPut = requestsFor(proxy, 'PUT', `/v2/${repo}/blobs/uploads/`).find((p) => length(p) > 8 * 1024 * 1024);
  assert.ok(appPut && appPut.status === undefined && appPut.bytesIn > 0, 'the app layer\'s PUT was cut in the middle of its body');
  const id = new URL(appPut.url, 'http://x').pathname.split('/').pop()!;
  assert.ok((uploadArea(R.anon2, repo).get(id) ?? []).includes('data'), `session ${id} has data in the registry`);
  // The stalled base layer's session never got a byte, so its cancel was confirmed.
  const stalled = requestsFor(proxy, 'PUT', `/v2/${repo}/blobs/uploads/`).find((p) => p.fault === 'stall')!;
  assert.deepEqual(requestsFor(proxy, 'DELETE', new URL(stalled.url, 'http://x').pathname.split('/').pop()!).map((d) => d.status), [204]);
  const line = errorLine(r.stderr);
  assert.match(line, /\[E_NETWORK\]$/);
  assert.ok(line.includes(`; 1 upload session could not be cancelled and may stay in the registry's upload area until it purges stale uploads: ${proxy.host}/${repo} (`), line);
  assert.match(line, /MB sent, cut in the middle of a monolithic PUT\) \[E_NETWORK\]$/);
});
