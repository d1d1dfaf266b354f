// copy() orchestration against in-process fake registries (test/fixtures/fake-registry.ts): which
// requests each target sees, set-aside of a failing target, mounts, and what reaches a target
// when something is wrong. The real-registry e2e tier stays the judge of the bytes themselves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copy, DeniedError, type CopyResult, type RegpushError } from '../../src/index.js';
import { bytesOf, digestOf, fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';
import { ProgressModel } from '../../src/cli/progress-model.js';
import type { BlobAction, BlobReport } from '../../src/transfer/types.js';

const fake = fakeRegistryPool();
/** Every upload request answered 500 (Retry-After: 0 keeps the client's retries immediate). */
const failUploads = (reg: FakeRegistry) => reg.fault({ kind: 'upload' }, { kind: 'status', status: 500, retryAfter: 0 });
const partialResult = (err: unknown): CopyResult => (err as RegpushError).details.result as CopyResult;

test('two targets, one answering 500 to every upload: set aside, E_PARTIAL, the other complete, no manifest at the failing one', async () => {
  const [src, good, bad] = [await fake(), await fake(), await fake()];
  const img = src.seedImage('base/app', { tags: ['1'] });
  failUploads(bad);
  let caught: unknown;
  await copy({ from: src.ref('base/app:1'), to: [good.ref('app:1'), bad.ref('app:1')], retries: 1, ...fakeLibraryOptions(src, good, bad) }).catch((e: unknown) => (caught = e));
  assert.equal((caught as RegpushError)?.code, 'E_PARTIAL', String(caught));
  const [g, b] = partialResult(caught).targets;
  assert.equal(g!.ok, true);
  assert.equal(g!.digest, img.digest);
  assert.equal(b!.ok, false);
  assert.equal(b!.error!.code, 'E_REGISTRY', b!.error!.message);
  assert.match(b!.error!.message, /answered 500/);

  assert.equal(good.manifest('app', '1')?.digest, img.digest, 'the good target got the image');
  for (const d of [img.config, ...img.layers]) assert.ok(good.hasBlob('app', d.digest), d.digest);
  assert.ok(bad.count({ kind: 'upload', status: 500 }) > 0, 'the uploads were tried');
  assert.equal(bad.manifest('app', '1'), undefined);
  assert.equal(bad.count({ kind: 'manifest', method: 'PUT' }), 0, 'no manifest PUT at a target whose blobs did not land');
  assert.equal(bad.openUploads(), 0);
});

test('a repository whose upload POST is refused (400 DENIED) fails alone: another repository of that registry still gets its uploads, and the error keeps its code', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('base/app', { tags: ['1'], layers: ['a', 'b', 'c', 'd', 'e'].map((x) => bytesOf(x, 4000)) });
  dst.fault({ kind: 'upload', method: 'POST', repo: 'blocked/app' }, { kind: 'status', status: 400, code: 'DENIED', message: 'requested access to the resource is denied' });
  let caught: unknown;
  await copy({ from: src.ref('base/app:1'), to: [dst.ref('blocked/app:1'), dst.ref('good/app:1')], retries: 0, ...fakeLibraryOptions(src, dst) }).catch((e: unknown) => (caught = e));
  assert.equal((caught as RegpushError)?.code, 'E_PARTIAL', String(caught));
  const [blocked, good] = partialResult(caught).targets;
  assert.equal(good!.ok, true, good!.error?.message);
  assert.equal(dst.manifest('good/app', '1')?.digest, img.digest);
  assert.equal(blocked!.ok, false);
  assert.equal(blocked!.error!.code, 'E_DENIED', blocked!.error!.message);
  assert.equal(dst.manifest('blocked/app', '1'), undefined);
  assert.equal(dst.openUploads(), 0);
});

test('every target failing: the first target\'s own error (class and code), with every target\'s outcome in details.result and the failed ones in details.failed', async () => {
  const [src, denied, broken] = [await fake(), await fake(), await fake()];
  src.seedImage('base/app', { tags: ['1'] });
  denied.fault({ kind: 'upload' }, { kind: 'status', status: 403, code: 'DENIED', message: 'requested access to the resource is denied' });
  failUploads(broken);
  const to = [denied.ref('app:1'), broken.ref('app:1')];
  const err = await copy({ from: src.ref('base/app:1'), to, retries: 0, ...fakeLibraryOptions(src, denied, broken) }).then(() => undefined, (e: RegpushError) => e);
  assert.ok(err instanceof DeniedError, String(err));
  assert.equal(err.code, 'E_DENIED', err.message); // the first target's: the exit code stays 3
  assert.deepEqual(err.details.failed, to);
  const result = partialResult(err);
  assert.deepEqual(result.targets.map((t) => [t.target, t.ok, t.error?.code]), [
    [to[0], false, 'E_DENIED'],
    [to[1], false, 'E_REGISTRY'],
  ]);
  assert.equal(result.source.reference, src.ref('base/app:1'));
});

/** A logger keeping the "…; the other targets go on" warnings. */
function goOnWarnings(): { logger: { info(): void; debug(): void; warn(m: string): void }; said: string[] } {
  const said: string[] = [];
  return { said, logger: { info() {}, debug() {}, warn: (m) => void (m.endsWith('; the other targets go on') && said.push(m)) } };
}

test('"the other targets go on" is said of a failing target while another target goes on, and only then: not of the last one, nor of any on Ctrl-C', async () => {
  const [src, good, bad, bad2] = [await fake(), await fake(), await fake(), await fake()];
  src.seedImage('base/app', { tags: ['1'] });
  for (const reg of [bad, bad2]) reg.fault({ kind: 'upload' }, { kind: 'status', status: 403, code: 'DENIED', message: 'requested access to the resource is denied' });
  const opts = { from: src.ref('base/app:1'), retries: 0, ...fakeLibraryOptions(src, good, bad, bad2) };

  const one = goOnWarnings();
  const partial = await copy({ ...opts, to: [good.ref('app:1'), bad.ref('app:1')], logger: one.logger }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(partial?.code, 'E_PARTIAL', String(partial));
  assert.equal(one.said.length, 1, one.said.join('\n'));
  assert.ok(one.said[0]!.startsWith(`${bad.host}/app:1: `), one.said[0]);

  // Both failing: the second to go has no other target going on; the copy's error says the rest.
  const both = goOnWarnings();
  const failed = await copy({ ...opts, to: [bad.ref('app:2'), bad2.ref('app:2')], logger: both.logger }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(failed?.code, 'E_DENIED', String(failed));
  assert.equal(both.said.length, 1, both.said.join('\n'));

  // Ctrl-C while both targets upload: every target is set aside, and none of them goes on.
  const other = await fake();
  const ac = new AbortController();
  const held = new Promise((resolve) => ac.signal.addEventListener('abort', resolve));
  for (const reg of [good, other]) reg.fault({ kind: 'upload', method: 'POST' }, { kind: 'hold', until: held });
  void Promise.all([good, other].map((reg) => reg.seen({ kind: 'upload', method: 'POST', repo: 'stopped' }))).then(() => ac.abort());
  const stopped = goOnWarnings();
  const aborted = await copy({ ...opts, ...fakeLibraryOptions(src, good, other), to: [good.ref('stopped:1'), other.ref('stopped:1')], logger: stopped.logger, signal: ac.signal }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(aborted?.code, 'E_ABORTED', String(aborted));
  assert.deepEqual(stopped.said, []);
});

test('a chunk too large for a target behind a body limit, met on a read shared with another target: the chunk is halved and that target retries, chunked uploads stay on for the run', async () => {
  const [src, limited, other] = [await fake(), await fake(), await fake()];
  // 'a' has small blobs only: the limited target learns that it takes chunked uploads (one chunk each);
  // 'b', copied after it, has layers larger than the body limit.
  src.seedImage('base/app', { tags: ['a'], layers: [bytesOf('a1', 20_000), bytesOf('a2', 20_000)] });
  const b = src.seedImage('base/app', { tags: ['b'], layers: [bytesOf('b1', 200_000), bytesOf('b2', 200_000)] });
  const LIMIT = 64 * 1024;
  const length = (q: { headers: Record<string, string | string[] | undefined> }) => Number(q.headers['content-length'] ?? 0);
  // As nginx's client_max_body_size in front of a registry: every larger body is 413, and this one takes chunks only.
  limited.fault({ kind: 'upload', when: (q) => length(q) > LIMIT }, { kind: 'status', status: 413, message: 'Request Entity Too Large' });
  limited.fault({ kind: 'upload', method: 'PUT', when: (q) => length(q) > 0 }, { kind: 'status', status: 405, code: 'UNSUPPORTED' });
  limited.fault({ kind: 'upload', method: 'PATCH', when: (q) => q.headers['content-range'] === undefined }, { kind: 'status', status: 405, code: 'UNSUPPORTED' });
  const r = await copy({ from: src.ref('base/app'), to: [limited.ref('app'), other.ref('app')], allTags: true, images: 1, chunkSize: 256 * 1024, retries: 0, ...fakeLibraryOptions(src, limited, other) });
  assert.ok(r.targets.every((t) => t.ok), JSON.stringify(r.targets.map((t) => t.error)));
  assert.equal(limited.manifest('app', 'b')?.digest, b.digest);
  assert.ok(limited.count({ kind: 'upload', method: 'PATCH', status: 413 }) > 0, 'the large chunks were refused first');
  assert.ok(limited.count({ kind: 'upload', method: 'PATCH', status: 202, when: (q) => q.bytesIn === LIMIT }) > 0, 'then sent in 64 KiB chunks');
  assert.equal(limited.openUploads(), 0);
});

test('same-registry copy mounts every blob (201) and reads none', async () => {
  const reg = await fake();
  const img = reg.seedImage('base/app', { tags: ['1'] });
  const r = await copy({ from: reg.ref('base/app:1'), to: [reg.ref('team/app:2')], ...fakeLibraryOptions(reg) });
  assert.equal(r.digest, img.digest);
  assert.deepEqual(r.targets[0]!.blobs.map((b) => b.action).sort(), ['mounted', 'mounted', 'mounted']);
  const mounts = reg.requests({ kind: 'upload', method: 'POST', repo: 'team/app', query: { mount: true, from: 'base/app' } });
  assert.deepEqual(mounts.map((m) => m.status), [201, 201, 201]);
  assert.deepEqual(new Set(mounts.map((m) => m.digest)), new Set([img.config.digest, ...img.layers.map((l) => l.digest)]));
  assert.equal(reg.count({ kind: 'blob', method: 'GET' }), 0, 'no blob read');
  assert.equal(reg.count({ kind: 'upload', method: ['PATCH', 'PUT'] }), 0, 'nothing streamed');
  assert.equal(reg.manifest('team/app', '2')?.digest, img.digest);
});

test('a registry that will not mount (202) gets the blob streamed on the session it opened', async () => {
  const reg = await fake({ mounts: false });
  const img = reg.seedImage('base/app', { tags: ['1'] });
  const r = await copy({ from: reg.ref('base/app:1'), to: [reg.ref('team/app:1')], ...fakeLibraryOptions(reg) });
  assert.deepEqual(r.targets[0]!.blobs.map((b) => b.action), ['streamed', 'streamed', 'streamed']);
  const posts = reg.requests({ kind: 'upload', method: 'POST', repo: 'team/app' });
  assert.equal(posts.length, 3, 'one POST per blob: the 202 session is used, not wasted');
  assert.ok(posts.every((p) => p.status === 202 && p.query.mount));
  assert.equal(reg.openUploads(), 0);
  assert.equal(reg.manifest('team/app', '1')?.digest, img.digest);
});

test('a registry that will not mount (202): the progress display shows each blob as a stream while its bytes flow', async () => {
  const reg = await fake({ mounts: false });
  reg.seedImage('base/app', { tags: ['1'] });
  const model = new ProgressModel();
  const seen: string[] = [];
  const events = {
    start: (d: string, a: BlobAction, size: number | undefined) => void model.start(d, a, size),
    bytes: (d: string, n: number) => {
      model.bytes(d, n);
      seen.push(model.entries.find((e) => e.digest === d && e.ended === undefined)!.action);
    },
    end: (r: BlobReport) => void model.end(r),
  };
  await copy({ from: reg.ref('base/app:1'), to: [reg.ref('team/app:1')], events, ...fakeLibraryOptions(reg) });
  assert.ok(seen.length > 0);
  assert.deepEqual([...new Set(seen)], ['stream']);
  assert.deepEqual([...new Set(model.entries.map((e) => e.action))], ['stream']);
});

test('two targets, one in the source\'s registry that will not mount (202): it takes its blobs from the read the other target shares, on the session the 202 opened; each blob read once', async () => {
  const [reg, other] = [await fake({ mounts: false }), await fake()];
  const img = reg.seedImage('base/app', { tags: ['1'], layers: [bytesOf('big', 300_000), bytesOf('small', 3_000)] });
  const r = await copy({ from: reg.ref('base/app:1'), to: [reg.ref('team/app:1'), other.ref('app:1')], ...fakeLibraryOptions(reg, other) });
  assert.ok(r.targets.every((t) => t.ok), JSON.stringify(r.targets.map((t) => t.error)));
  for (const d of [img.config, ...img.layers]) {
    assert.equal(reg.count({ kind: 'blob', method: 'GET', digest: d.digest }), 1, `${d.digest} read once`);
    assert.ok(reg.hasBlob('team/app', d.digest) && other.hasBlob('app', d.digest));
  }
  const posts = reg.requests({ kind: 'upload', method: 'POST', repo: 'team/app' });
  assert.ok(posts.every((p) => p.status === 202 && p.query.mount), 'the 202 sessions were used, no other POST');
  assert.equal(reg.openUploads() + other.openUploads(), 0);
  assert.equal(reg.manifest('team/app', '1')?.digest, img.digest);
});

test('a target already holding every blob under a new tag: all skipped, nothing uploaded; only the speculative start of the largest layer, undone', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('base/app', { tags: ['1'] });
  for (const d of [img.config, ...img.layers]) dst.putBlob('app', src.blob('base/app', d.digest)!);
  const r = await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], ...fakeLibraryOptions(src, dst) });
  assert.ok(r.targets[0]!.blobs.every((b) => b.action === 'skipped'));
  assert.ok(r.targets[0]!.blobs.every((b) => b.bytes === 0));
  // The tag was absent, so the largest layer's session and GET went out with its HEAD; the HEAD
  // found it, so the session was cancelled and the GET dropped. Nothing else was started.
  const largest = [...img.layers].sort((a, b) => b.size - a.size)[0]!;
  assert.deepEqual(src.requests({ kind: 'blob', method: 'GET' }).map((g) => g.digest), [largest.digest]);
  assert.deepEqual(dst.requests({ kind: 'upload' }).map((u) => [u.method, u.status]), [['POST', 202], ['DELETE', 204]]);
  assert.equal(dst.openUploads(), 0);
  assert.equal(dst.count({ kind: 'blob', method: 'HEAD' }), 3, 'one HEAD per blob');
  assert.equal(dst.manifest('app', '1')?.digest, img.digest);
});

test('a target whose tag exists (an update) is planned HEAD first: nothing read from the source, nothing uploaded', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('base/app', { tags: ['1'] });
  for (const d of [img.config, ...img.layers]) dst.putBlob('app', src.blob('base/app', d.digest)!);
  dst.seedImage('app', { tags: ['1'] }); // the tag points at something else: an update
  const r = await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], ...fakeLibraryOptions(src, dst) });
  assert.ok(r.targets[0]!.blobs.every((b) => b.action === 'skipped'));
  assert.equal(src.count({ kind: 'blob', method: 'GET' }), 0);
  assert.equal(dst.count({ kind: 'upload' }), 0);
  assert.equal(dst.count({ kind: 'blob', method: 'HEAD' }), 3, 'one HEAD per blob');
  assert.equal(dst.manifest('app', '1')?.digest, img.digest);
});

test('a 201 naming the blob\'s digest confirms the upload: one HEAD per blob (the plan\'s), none after it lands', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('base/app', { tags: ['1'] });
  await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], ...fakeLibraryOptions(src, dst) });
  for (const d of [img.config, ...img.layers]) {
    assert.equal(dst.count({ kind: 'blob', method: 'HEAD', digest: d.digest }), 1, d.digest);
    assert.deepEqual(dst.requests({ kind: 'blob', method: 'HEAD', digest: d.digest }).map((r) => r.status), [404]);
  }
  assert.equal(dst.manifest('app', '1')?.digest, img.digest);
});

test('a target whose HEAD says "present" but which lacks the blob answers MANIFEST_BLOB_UNKNOWN: that target fails, the other completes', async () => {
  const [src, liar, good] = [await fake(), await fake(), await fake()];
  const img = src.seedImage('base/app', { tags: ['1'] });
  const layer = img.layers[0]!.digest;
  liar.fault({ kind: 'blob', method: 'HEAD', digest: layer }, { kind: 'status', status: 200, headers: { 'content-length': String(img.layers[0]!.size) } });
  let caught: unknown;
  await copy({ from: src.ref('base/app:1'), to: [liar.ref('app:1'), good.ref('app:1')], ...fakeLibraryOptions(src, liar, good) }).catch((e: unknown) => (caught = e));
  assert.equal((caught as RegpushError)?.code, 'E_PARTIAL', String(caught));
  const [l, g] = partialResult(caught).targets;
  assert.equal(l!.ok, false);
  assert.equal(l!.error!.code, 'E_NOT_FOUND');
  assert.match(l!.error!.message, /MANIFEST_BLOB_UNKNOWN/);
  // Sent once more after the blobs taken on their 201 were HEADed (they were there; the skipped one lies): refused again.
  assert.deepEqual(liar.requests({ kind: 'manifest', method: 'PUT' }).map((r) => r.status), [400, 400]);
  assert.equal(liar.manifest('app', '1'), undefined);
  assert.equal(g!.ok, true);
  assert.equal(good.manifest('app', '1')?.digest, img.digest);
});

test('a manifest PUT refused once with DIGEST_INVALID (distribution reading a blob link another writer is rewriting): the blobs taken on their 201 are HEADed and the manifest is sent once more', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('base/app', { tags: ['1'] });
  dst.fault({ kind: 'manifest', method: 'PUT' }, { kind: 'status', status: 400, code: 'DIGEST_INVALID', message: 'provided digest did not match uploaded content' }, { times: 1 });
  await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], retries: 0, ...fakeLibraryOptions(src, dst) });
  assert.deepEqual(dst.requests({ kind: 'manifest', method: 'PUT' }).map((r) => r.status), [400, 201]);
  assert.equal(dst.manifest('app', '1')?.digest, img.digest);
  assert.ok(dst.count({ kind: 'blob', method: 'HEAD', status: 200 }) >= 1, 'the blobs were checked before the second PUT');
});

test('a manifest PUT refused once with DIGEST_INVALID where every blob was found by a HEAD (none written by this run: a third writer rewrote a link): all are HEADed again and the manifest is sent once more', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('base/app', { tags: ['1'] });
  // The target holds every blob already (an earlier copy under another tag): nothing is uploaded.
  await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:0')], ...fakeLibraryOptions(src, dst) });
  dst.fault({ kind: 'manifest', method: 'PUT' }, { kind: 'status', status: 400, code: 'DIGEST_INVALID', message: 'invalid checksum digest format' }, { times: 1 });
  const uploadsBefore = dst.count({ kind: 'upload', method: 'PUT' });
  await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], retries: 0, ...fakeLibraryOptions(src, dst) });
  assert.equal(dst.count({ kind: 'upload', method: 'PUT' }), uploadsBefore, 'nothing uploaded: every blob was there');
  assert.deepEqual(dst.requests({ kind: 'manifest', method: 'PUT' }).slice(-2).map((r) => r.status), [400, 201]);
  assert.equal(dst.manifest('app', '1')?.digest, img.digest);
});

test('a target that loses a blob it accepted with a 201: the manifest PUT is refused, the HEAD after it names the blob, no manifest', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('base/app', { tags: ['1'] });
  const lost = img.layers[1]!.digest;
  dst.fault({ kind: 'upload', method: 'PUT', digest: lost }, { kind: 'forget' });
  await assert.rejects(
    copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], ...fakeLibraryOptions(src, dst) }),
    (e: RegpushError) => e.code === 'E_REGISTRY' && e.message.includes(lost) && /no manifest written/.test(e.message),
  );
  // The 201 naming the digest was taken as the confirmation; the refused manifest PUT made the HEAD.
  assert.deepEqual(dst.requests({ kind: 'manifest', method: 'PUT' }).map((r) => r.status), [400]);
  assert.equal(dst.manifest('app', '1'), undefined);
  assert.ok(dst.count({ kind: 'blob', method: 'HEAD', digest: lost, status: 404 }) >= 1);
});

test('an index with its children crosses registries unchanged (same digest, every child and blob)', async () => {
  const [src, dst] = [await fake(), await fake()];
  const amd = src.seedImage('base/multi', { platform: { os: 'linux', architecture: 'amd64' } });
  const arm = src.seedImage('base/multi', { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
  const index = src.seedIndex('base/multi', [arm, amd], { tags: ['1'] });
  const r = await copy({ from: src.ref('base/multi:1'), to: [dst.ref('multi:1')], ...fakeLibraryOptions(src, dst) });
  assert.equal(r.digest, index.digest);
  assert.equal(r.digestChanged, false);
  assert.deepEqual(r.platforms?.map((p) => p.platform), ['linux/arm64/v8', 'linux/amd64']);
  assert.deepEqual(dst.manifest('multi', '1')?.bytes, index.bytes);
  for (const img of [amd, arm]) {
    assert.deepEqual(dst.manifest('multi', img.digest)?.bytes, img.bytes);
    for (const d of [img.config, ...img.layers]) assert.ok(dst.hasBlob('multi', d.digest));
  }
  // Children before the index: the fake refuses an index whose children are missing, so the
  // order is checked by the successful PUT itself; the index is the last manifest written.
  assert.equal(dst.requests({ kind: 'manifest', method: 'PUT' }).at(-1)!.tag, '1');
});

test('an index naming its children by sha512 digests: each child is written under the digest the index names', async () => {
  const [src, dst] = [await fake(), await fake()];
  const amd = src.seedImage('base/multi', { platform: { os: 'linux', architecture: 'amd64' } });
  const arm = src.seedImage('base/multi', { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
  const named = [amd, arm].map((i) => {
    src.putManifest('base/multi', i.bytes, { mediaType: i.mediaType, sha512: true });
    return { mediaType: i.mediaType, digest: digestOf(i.bytes, 'sha512'), size: i.size, platform: i.platform };
  });
  const index = src.putManifest('base/multi', { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: named }, { tags: ['1'] });
  const r = await copy({ from: src.ref('base/multi:1'), to: [dst.ref('multi:1')], ...fakeLibraryOptions(src, dst) });
  assert.equal(r.digest, index.digest);
  assert.deepEqual(dst.manifest('multi', '1')?.bytes, index.bytes);
  for (const [i, img] of [amd, arm].entries()) {
    assert.deepEqual(dst.manifest('multi', named[i]!.digest)?.bytes, img.bytes);
    // Not also under its sha256 digest: the index names the sha512 one, nothing names the other.
    assert.equal(dst.requests({ kind: 'manifest', method: 'PUT' }).filter((q) => q.digest === img.digest).length, 0);
  }
});

test('--all-tags follows tag-list pagination and copies every tag', async () => {
  const [src, dst] = [await fake({ maxTagPage: 2 }), await fake()];
  const a = src.seedImage('base/app', { tags: ['a', 'b'] });
  const c = src.seedImage('base/app', { tags: ['c', 'd', 'e'] });
  await copy({ from: src.ref('base/app'), to: [dst.ref('app')], allTags: true, ...fakeLibraryOptions(src, dst) });
  assert.ok(src.count({ kind: 'tags' }) >= 3, 'paged');
  assert.deepEqual(dst.tags('app'), ['a', 'b', 'c', 'd', 'e']);
  assert.equal(dst.manifest('app', 'b')?.digest, a.digest);
  assert.equal(dst.manifest('app', 'e')?.digest, c.digest);
});

test('auth: a Bearer source and a Basic target, with credentials; a wrong password is E_AUTH', async () => {
  const src = await fake({ auth: { scheme: 'bearer', user: 'reader', password: 'r-pw' } });
  const dst = await fake({ auth: { scheme: 'basic', user: 'writer', password: 'w-pw' } });
  const img = src.seedImage('base/app', { tags: ['1'] });
  const credentials = { from: { username: 'reader', password: 'r-pw' }, to: { username: 'writer', password: 'w-pw' } };
  const r = await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], credentials, ...fakeLibraryOptions(src, dst) });
  assert.equal(r.targets[0]!.ok, true);
  assert.equal(dst.manifest('app', '1')?.digest, img.digest);
  assert.ok(src.count({ kind: 'token', status: 200 }) >= 1);
  assert.ok(src.count({ kind: 'blob', method: 'GET', status: 200 }) >= 1, 'blobs read with the token');
  await assert.rejects(
    copy({ from: src.ref('base/app:1'), to: [dst.ref('app:2')], credentials: { ...credentials, to: { username: 'writer', password: 'nope' } }, ...fakeLibraryOptions(src, dst) }),
    (e: RegpushError) => e.code === 'E_AUTH',
  );
  assert.equal(dst.manifest('app', '2'), undefined);
});

test('Docker Hub (here through a pull-through mirror, as most jobs read it): HEAD first, the source manifest read as soon as a target lacks the tag, none read on a re-run', async () => {
  const [mirror, dst] = [await fake(), await fake()];
  mirror.seedImage('library/app', { tags: ['1'] });
  mirror.fault({ kind: 'manifest', method: 'HEAD' }, { kind: 'delay', ms: 1000 });
  // Every read is answered by the mirror: nothing goes to Docker Hub itself (no network here).
  const opts = { from: 'docker.io/library/app:1', to: [dst.ref('app:1')], mirrors: { 'docker.io': [mirror.host] }, ...fakeLibraryOptions(mirror, dst) };
  await copy(opts);
  const head = mirror.requests({ kind: 'manifest', method: 'HEAD' })[0]!;
  const get = mirror.requests({ kind: 'manifest', method: 'GET' })[0]!;
  // Ordering, not wall-clock: the GET arrived while the HEAD was still held (1 s).
  assert.ok(get.seq <= head.answeredAfter!, `the manifest GET (request ${get.seq}) came after the HEAD was answered (after request ${head.answeredAfter})`);
  // The re-run: every tag held, so no manifest GET at the source at all: no pull spent.
  mirror.clearFaults();
  mirror.clearLog();
  dst.clearLog();
  const again = await copy(opts);
  assert.deepEqual(again.targets[0]!.tagsUnchanged, ['1']);
  assert.equal(mirror.count({ kind: 'manifest', method: 'HEAD' }), 1);
  assert.equal(mirror.count({ kind: 'manifest', method: 'GET' }), 0);
});

test('a source that counts no pulls: its manifest is read with a GET at once, beside the target\'s HEAD, and no HEAD; a re-run reads that one manifest and nothing else', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('base/app', { tags: ['1'] });
  // The target's HEAD is answered only once the source's GET has arrived (ordering, not
  // wall-clock; the timer only keeps a copy that waits for that HEAD from hanging the test).
  let released: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  const getSeen = src.seen({ kind: 'manifest', method: 'GET' }).then(() => (released ??= 'by the source GET'));
  const timedOut = new Promise((r) => (timer = setTimeout(r, 5000))).then(() => (released ??= 'by the 5 s timer'));
  dst.fault({ kind: 'manifest', method: 'HEAD' }, { kind: 'hold', until: Promise.race([getSeen, timedOut]) });
  await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], ...fakeLibraryOptions(src, dst) });
  clearTimeout(timer);
  assert.equal(dst.manifest('app', '1')?.digest, img.digest);
  assert.equal(released, 'by the source GET', 'the source manifest GET went out while the target\'s HEAD was unanswered');
  assert.equal(src.count({ kind: 'manifest', method: 'HEAD' }), 0, 'no HEAD at the source');
  dst.clearFaults();
  src.clearLog();
  const again = await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], ...fakeLibraryOptions(src, dst) });
  assert.deepEqual(again.targets[0]!.tagsUnchanged, ['1']);
  assert.deepEqual(src.requests({ kind: ['manifest', 'blob'] }).map((q) => `${q.method} ${q.kind} ${q.tag ?? q.digest}`), ['GET manifest 1']);
});

test('a source that counts pulls: copy --all-tags HEADs every tag first (the first before the registry has answered, the others once its headers say it counts), and a re-run spends no pull', async () => {
  const src = await fake({ rateLimit: { limit: 100, remaining: 100 } });
  const dst = await fake();
  for (const tag of ['a', 'b', 'c']) src.seedImage('base/app', { tags: [tag] });
  const opts = { from: src.ref('base/app'), to: [dst.ref('app')], allTags: true, images: 1, ...fakeLibraryOptions(src, dst) };
  await copy(opts);
  src.clearLog();
  const again = await copy(opts);
  assert.deepEqual(again.targets[0]!.tagsUnchanged, ['a', 'b', 'c']);
  // The first tag's HEAD is the run's first manifest answer, which brings the headers (a GET for
  // the first tag, sent before anything is known, would spend one pull per re-run).
  assert.equal(src.count({ kind: 'manifest', method: 'GET' }), 0, 'no pull');
  assert.equal(src.count({ kind: 'manifest', method: 'HEAD' }), 3);
});

test('a mirror that counts pulls, read through for its registry: copy --all-tags HEADs every tag first (the first before the mirror has answered), and a re-run spends no pull at the mirror', async () => {
  const src = await fake();
  const mirror = await fake({ rateLimit: { limit: 100, remaining: 100 } });
  const dst = await fake();
  for (const tag of ['a', 'b', 'c']) src.seedImage('base/app', { tags: [tag] });
  // The mirror holds the same images (a pull-through cache that has seen them).
  await copy({ from: src.ref('base/app'), to: [mirror.ref('base/app')], allTags: true, ...fakeLibraryOptions(src, mirror) });
  const opts = { from: src.ref('base/app'), to: [dst.ref('app')], allTags: true, images: 1, mirrors: { [src.host]: [mirror.host] }, ...fakeLibraryOptions(src, mirror, dst) };
  await copy(opts);
  mirror.clearLog();
  const again = await copy(opts);
  assert.deepEqual(again.targets[0]!.tagsUnchanged, ['a', 'b', 'c']);
  // The first tag's HEAD brings the mirror's headers; the registry itself sent none.
  assert.equal(mirror.count({ kind: 'manifest', method: 'GET' }), 0, 'no pull at the mirror');
  assert.equal(mirror.count({ kind: 'manifest', method: 'HEAD' }), 3);
});

test('copy --platform windows/amd64 of a tag with images of two Windows OS versions takes the first and says so, naming the spelling that picks one', async () => {
  const [src, dst] = [await fake(), await fake()];
  const ltsc2019 = src.seedImage('base/win', { platform: { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.5576' } });
  const ltsc2022 = src.seedImage('base/win', { platform: { os: 'windows', architecture: 'amd64', 'os.version': '10.0.20348.2340' } });
  src.seedIndex('base/win', [ltsc2019, ltsc2022], { tags: ['1'] });
  const warnings: string[] = [];
  const logger = { debug: () => {}, info: () => {}, warn: (m: string) => warnings.push(m), error: () => {} };
  await copy({ from: src.ref('base/win:1'), to: [dst.ref('win:1')], platform: 'windows/amd64', logger, ...fakeLibraryOptions(src, dst) });
  assert.ok(warnings.some((w) => w.includes('windows/amd64 matches images of 2 OS versions (10.0.17763.5576, 10.0.20348.2340); taking the first, 10.0.17763.5576') && w.includes('windows(10.0.20348.2340)/amd64')), warnings.join('\n'));
  // Named exactly: no warning.
  warnings.length = 0;
  await copy({ from: src.ref('base/win:1'), to: [dst.ref('win:2')], platform: 'windows(10.0.20348.2340)/amd64', logger, ...fakeLibraryOptions(src, dst) });
  assert.deepEqual(warnings.filter((w) => w.includes('OS versions')), []);
});

test('--all-tags with two tags on one image: its blobs are read once, the second tag skips them', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('base/app', { tags: ['1', 'latest'] });
  const r = await copy({ from: src.ref('base/app'), to: [dst.ref('app')], allTags: true, ...fakeLibraryOptions(src, dst) });
  assert.ok(r.targets[0]!.ok);
  for (const l of img.layers) assert.equal(src.count({ kind: 'blob', method: 'GET', digest: l.digest }), 1, `layer ${l.digest} read once`);
  assert.equal(dst.manifest('app', '1')?.digest, img.digest);
  assert.equal(dst.manifest('app', 'latest')?.digest, img.digest);
});

test('a copy whose plan fails while its largest layer, started early, is still uploading: that upload is stopped and its session cancelled', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('base/app', { tags: ['1'], layers: [bytesOf('large layer', 300_000), bytesOf('small layer', 2_000)] });
  const [large, small] = img.layers;
  // The large layer's upload takes a while to be answered; the small one's HEAD fails for good.
  dst.fault({ kind: 'upload', method: ['PUT', 'PATCH'] }, { kind: 'delay', ms: 1500 });
  dst.fault({ kind: 'blob', method: 'HEAD', digest: small!.digest }, { kind: 'status', status: 500, retryAfter: 0 });
  const err = await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], retries: 0, ...fakeLibraryOptions(src, dst) }).then(() => undefined, (e: { code?: string }) => e);
  assert.ok(err?.code && err.code !== 'E_INTERNAL', String(err));
  assert.equal(dst.blob('app', large!.digest), undefined, 'the large layer did not land: no manifest would have named it');
  assert.equal(dst.manifest('app', '1'), undefined);
  // The scenario happened: the large layer's session was opened early, its upload was on its way, and it was cancelled.
  const opened = dst.count({ kind: 'upload', method: 'POST', status: 202 });
  assert.ok(opened >= 1, 'the large layer was started early');
  assert.ok(dst.count({ kind: 'upload', method: ['PUT', 'PATCH'] }) >= 1, 'its upload was under way');
  assert.ok(dst.count({ kind: 'upload', method: 'DELETE' }) >= 1, 'a session was cancelled');
  assert.equal(dst.count({ kind: 'upload', method: 'DELETE' }) + dst.count({ kind: 'upload', method: 'PUT', status: 201 }), opened, 'every session opened was completed or cancelled');
  assert.equal(dst.openUploads(), 0, 'its session was cancelled');
});

test('--retries bounds each target\'s sum: resumes of the read shared by two targets count against the pass one of them then needs on its own', async () => {
  const [src, a, b] = [await fake(), await fake(), await fake()];
  const img = src.seedImage('base/app', { tags: ['1'], layers: [bytesOf('large layer', 400_000), bytesOf('small layer', 2_000)] });
  const large = img.layers[0]!;
  // The shared read breaks twice (two resumes: --retries 2 spent); then target a's upload of the
  // layer breaks too. A pass of its own would be a third retry for a.
  src.fault({ kind: 'blob', method: 'GET', digest: large.digest }, { kind: 'drop', afterBytes: 100_000 }, { times: 2 });
  a.fault({ kind: 'upload', method: ['PUT', 'PATCH'], digest: large.digest }, { kind: 'drop' }, { times: 1 });
  const err = await copy({ from: src.ref('base/app:1'), to: [a.ref('app:1'), b.ref('app:1')], retries: 2, ...fakeLibraryOptions(src, a, b) }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(err?.code, 'E_PARTIAL', String(err));
  const r = err!.details.result as CopyResult;
  assert.deepEqual(r.targets.map((t) => t.ok), [false, true], 'a is set aside, b completes');
  assert.equal(src.count({ kind: 'blob', method: 'GET', digest: large.digest }), 3, 'one read and its two resumes: no read of its own for a');
  assert.equal(a.manifest('app', '1'), undefined);
  assert.equal(b.manifest('app', '1')?.digest, img.digest);
  assert.equal(a.openUploads(), 0);
});

test('a copy with --platform run again: the tag already holds the filtered image, so nothing is planned or written there', async () => {
  const [src, dst] = [await fake(), await fake()];
  const amd = src.seedImage('base/multi', { platform: { os: 'linux', architecture: 'amd64' } });
  const arm = src.seedImage('base/multi', { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
  src.seedIndex('base/multi', [arm, amd], { tags: ['1'] });
  const opts = { from: src.ref('base/multi:1'), to: [dst.ref('multi:1')], platform: 'linux/amd64', ...fakeLibraryOptions(src, dst) };
  const first = await copy(opts);
  assert.equal(first.digestChanged, true, 'one platform of two: a top manifest of its own');
  assert.equal(first.targets[0]!.tagsUnchanged, undefined);
  dst.clearLog();
  const again = await copy(opts);
  assert.equal(again.digest, first.digest);
  assert.deepEqual(again.targets[0]!.tagsUnchanged, ['1']);
  assert.deepEqual(again.targets[0]!.blobs, [], 'no blob planned');
  assert.equal(dst.count({ kind: 'manifest', method: 'PUT' }), 0, 'nothing written');
  assert.equal(dst.count({ kind: 'blob' }), 0, 'no blob asked about');
});

test('--all-tags --no-clobber looks at the tag being copied, not at the target\'s own (latest)', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/app', { tags: ['2.0'] });
  dst.seedImage('app', { tags: ['latest'] }); // an unrelated latest at the target does not stand in the way
  await copy({ from: src.ref('base/app'), to: [dst.ref('app')], allTags: true, noClobber: true, ...fakeLibraryOptions(src, dst) });
  assert.equal(dst.manifest('app', '2.0')?.digest, src.manifest('base/app', '2.0')?.digest);
  // A copied tag that points elsewhere at the target is refused and left as it is.
  const [src2, dst2] = [await fake(), await fake()];
  src2.seedImage('base/app', { tags: ['1.0'] });
  const held = dst2.seedImage('app', { tags: ['1.0'] });
  const err = await copy({ from: src2.ref('base/app'), to: [dst2.ref('app')], allTags: true, noClobber: true, ...fakeLibraryOptions(src2, dst2) }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(err?.code, 'E_EXISTS', String(err));
  assert.equal(dst2.manifest('app', '1.0')?.digest, held.digest);
});

test('--format to the family the image already has changes nothing: same digest, attestations kept', async () => {
  const [src, dst] = [await fake(), await fake()];
  const amd = src.seedImage('base/multi', { platform: { os: 'linux', architecture: 'amd64' } });
  const att = src.seedImage('base/multi', { platform: { os: 'unknown', architecture: 'unknown' } });
  const index = src.seedIndex('base/multi', [amd, att], { tags: ['1'] });
  const r = await copy({ from: src.ref('base/multi:1'), to: [dst.ref('multi:1')], format: 'oci', ...fakeLibraryOptions(src, dst) });
  assert.equal(r.digest, index.digest);
  assert.equal(r.digestChanged, false);
  assert.deepEqual(dst.manifest('multi', '1')?.bytes, index.bytes);
  assert.ok(dst.manifest('multi', att.digest), 'the attestation child is copied too');
});

test('copy --format docker of an index with an attestation: the attestation is left out unread, and none of its blobs is sent', async () => {
  const [src, dst] = [await fake(), await fake()];
  const amd = src.seedImage('base/multi', { platform: { os: 'linux', architecture: 'amd64' } });
  const att = src.seedImage('base/multi', { platform: { os: 'unknown', architecture: 'unknown' } });
  src.seedIndex('base/multi', [amd, att], { tags: ['1'] });
  const logged: string[] = [];
  const r = await copy({ from: src.ref('base/multi:1'), to: [dst.ref('multi:1')], format: 'docker', logger: { debug() {}, info: (m: string) => void logged.push(m), warn: (m: string) => void logged.push(m) }, ...fakeLibraryOptions(src, dst) });
  assert.equal(r.targets[0]!.ok, true);
  assert.equal(src.count({ kind: 'manifest', method: 'GET', digest: att.digest }), 0, 'the attestation is not read');
  for (const b of [att.config, ...att.layers]) assert.equal(dst.hasBlob('multi', b.digest), false, `attestation blob ${b.digest} not sent`);
  for (const b of [amd.config, ...amd.layers]) assert.equal(dst.hasBlob('multi', b.digest), true);
  const list = JSON.parse(dst.manifest('multi', '1')!.bytes.toString('utf8')) as { manifests: { platform: { architecture: string } }[] };
  assert.deepEqual(list.manifests.map((m) => m.platform.architecture), ['amd64']);
  assert.deepEqual(logged.filter((l) => l.includes(att.digest)), [`format: "docker": attestation ${att.digest} (it names the old digests) left out`], 'said once');
});

test('an OCI index over Docker v2 manifests: copy --platform keeps the child as it is', async () => {
  const [src, dst] = [await fake(), await fake()];
  const amd = src.seedImage('base/mixed', { format: 'docker', platform: { os: 'linux', architecture: 'amd64' } });
  const arm = src.seedImage('base/mixed', { format: 'docker', platform: { os: 'linux', architecture: 'arm64' } });
  src.seedIndex('base/mixed', [amd, arm], { tags: ['1'] }); // an OCI index (as crane index append makes)
  const r = await copy({ from: src.ref('base/mixed:1'), to: [dst.ref('mixed:1')], platform: 'linux/arm64', ...fakeLibraryOptions(src, dst) });
  const top = JSON.parse(dst.manifest('mixed', '1')!.bytes.toString('utf8')) as { mediaType: string; manifests: { digest: string; mediaType: string }[] };
  assert.equal(top.mediaType, 'application/vnd.oci.image.index.v1+json');
  assert.deepEqual(top.manifests.map((m) => [m.digest, m.mediaType]), [[arm.digest, arm.mediaType]]);
  assert.deepEqual(dst.manifest('mixed', arm.digest)?.bytes, arm.bytes);
  assert.equal(r.digest, dst.manifest('mixed', '1')!.digest);
});

test('copy --referrers at a source with the referrers API: what the API names and cosign\'s .sig tag, both', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('app', { tags: ['1'] });
  const subject = { mediaType: img.mediaType, digest: img.digest, size: img.size };
  const sbom = src.seedImage('app', { artifactType: 'application/spdx+json', subject }); // found through the API
  const sigTag = `${img.digest.replace(':', '-')}.sig`;
  const sig = src.seedImage('app', { tags: [sigTag] }); // cosign's tag scheme: no subject, not in the API's answer
  const r = await copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], referrers: true, ...fakeLibraryOptions(src, dst) });
  assert.equal(r.targets[0]!.referrers, 2);
  assert.ok(dst.manifest('app', sbom.digest), 'the API\'s referrer');
  assert.equal(dst.manifest('app', sigTag)?.digest, sig.digest, 'the signature under its tag');
});

test('copy --platform of a single image: copied as it is when it is that platform, refused (E_NOT_FOUND) when it is not, as push does', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('base/app', { tags: ['1'], platform: { os: 'linux', architecture: 'amd64' } });
  const ok = await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], platform: 'linux/amd64', ...fakeLibraryOptions(src, dst) });
  assert.equal(ok.digest, img.digest);
  assert.equal(ok.digestChanged, false);
  const err = await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:2')], platform: 'linux/arm64', ...fakeLibraryOptions(src, dst) }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(err?.code, 'E_NOT_FOUND', String(err));
  assert.match(err!.message, /is a single linux\/amd64 image, not linux\/arm64/);
  assert.equal(dst.manifest('app', '2'), undefined);
});

/** An index of two platforms signed as `cosign sign --recursive` does, plus an SBOM referring to one child through the API. */
function recursivelySigned(src: FakeRegistry) {
  const amd = src.seedImage('app', { platform: { os: 'linux', architecture: 'amd64' } });
  const arm = src.seedImage('app', { platform: { os: 'linux', architecture: 'arm64' } });
  const index = src.seedIndex('app', [amd, arm], { tags: ['1'] });
  const sigTag = (d: string) => `${d.replace(':', '-')}.sig`;
  const indexSig = src.seedImage('app', { tags: [sigTag(index.digest)] });
  const amdSig = src.seedImage('app', { tags: [sigTag(amd.digest)] });
  const armSbom = src.seedImage('app', { artifactType: 'application/spdx+json', subject: { mediaType: arm.mediaType, digest: arm.digest, size: arm.size } });
  return { amd, arm, index, sigTag, indexSig, amdSig, armSbom };
}

test('copy --referrers of an index: the referrers of each platform manifest too (cosign --recursive), listed under that child at a target without the API', async () => {
  const [src, dst] = [await fake(), await fake({ referrers: false })];
  const s = recursivelySigned(src);
  const r = await copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], referrers: true, ...fakeLibraryOptions(src, dst) });
  assert.equal(r.targets[0]!.referrers, 3, 'the index\'s signature, the amd64 signature, the arm64 SBOM');
  assert.equal(dst.manifest('app', s.sigTag(s.index.digest))?.digest, s.indexSig.digest);
  assert.equal(dst.manifest('app', s.sigTag(s.amd.digest))?.digest, s.amdSig.digest, 'the child\'s signature under its tag');
  assert.ok(dst.manifest('app', s.armSbom.digest), 'the child\'s API referrer, by digest');
  // The OCI fallback index is tagged with the child's digest, not the index's.
  const fallback = JSON.parse(dst.manifest('app', s.arm.digest.replace(':', '-'))!.bytes.toString('utf8')) as { manifests: { digest: string; artifactType?: string }[] };
  assert.deepEqual(fallback.manifests.map((m) => [m.digest, m.artifactType]), [[s.armSbom.digest, 'application/spdx+json']]);
  assert.equal(dst.manifest('app', s.index.digest.replace(':', '-')), undefined, 'nothing refers to the index through the API');
  // The tags are listed once for the index and its two children.
  assert.equal(src.count({ kind: 'tags' }), 1);

  // Run again: every target holds the image, so its children are not read; the index is, once (the
  // source counts no pulls: read with a GET at once, which also lists its children), and so is each
  // referrer kept under a tag, for its digest. The one found by digest (the SBOM) is not: the
  // target's HEAD of that digest says it is there.
  src.clearLog();
  dst.clearLog();
  const again = await copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], referrers: true, ...fakeLibraryOptions(src, dst) });
  assert.equal(again.targets[0]!.referrers, 0, 'every referrer was there: none counted as copied');
  const reads = src.requests({ kind: 'manifest' }).map((q) => `${q.method} ${q.tag ?? q.digest}`);
  assert.deepEqual(new Set(reads), new Set(['GET 1', `GET ${s.sigTag(s.index.digest)}`, `GET ${s.sigTag(s.amd.digest)}`]));
  assert.equal(reads.length, 3, reads.join(', '));
  assert.equal(dst.count({ kind: 'manifest', method: 'PUT' }), 0, 'nothing written again');
});

test('copy --referrers --platform: the kept child keeps its digest and its referrers; the new index\'s source digest has its referrers left behind, with one warning', async () => {
  const [src, dst] = [await fake(), await fake()];
  const s = recursivelySigned(src);
  const { lines, logger } = keptLogger();
  const r = await copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], platform: 'linux/arm64', referrers: true, logger, ...fakeLibraryOptions(src, dst) });
  assert.equal(r.digestChanged, true);
  // Of the children only arm64's SBOM; the source index's signature names a digest the target does not have.
  assert.equal(r.targets[0]!.referrers, 1);
  assert.equal(r.targets[0]!.referrersSkipped, 1, 'the source index\'s signature, in the report too');
  assert.ok(dst.manifest('app', s.armSbom.digest));
  assert.equal(dst.manifest('app', s.sigTag(s.index.digest)), undefined, 'the source index\'s signature stays behind');
  assert.equal(dst.manifest('app', s.sigTag(s.amd.digest)), undefined, 'amd64 was not copied, nor its signature');
  assert.equal(dst.manifest('app', s.amd.digest), undefined);
  assert.deepEqual(lines.warn, ["keeping only linux/arm64 changes the image's digest: its 1 referrer (signatures, attestations) refers to the source digest and is not copied; the 1 of the manifests it keeps as they are is copied"]);
});

test('copy --referrers --format: every digest changes, so no referrer is copied (they name the source digests) and one warning says how many', async () => {
  const [src, dst] = [await fake(), await fake()];
  const s = recursivelySigned(src);
  const { lines, logger } = keptLogger();
  const r = await copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], format: 'docker', referrers: true, logger, ...fakeLibraryOptions(src, dst) });
  assert.equal(r.digestChanged, true);
  assert.equal(r.targets[0]!.referrers, 0);
  assert.equal(r.targets[0]!.referrersSkipped, 3);
  for (const gone of [s.sigTag(s.index.digest), s.sigTag(s.amd.digest), s.armSbom.digest, s.amd.digest]) assert.equal(dst.manifest('app', gone), undefined, gone);
  assert.deepEqual(lines.warn, ["format: \"docker\" changes the image's digest: its 3 referrers (signatures, attestations) refer to the source digest and are not copied"]);
  assert.equal(dst.count({ kind: 'manifest', method: 'PUT' }), 3, 'the list and its two children, nothing else');
  // Without --format the same copy takes all three (the digests stay).
  const same = await copy({ from: src.ref('app:1'), to: [dst.ref('app:2')], referrers: true, logger, ...fakeLibraryOptions(src, dst) });
  assert.equal(same.targets[0]!.referrers, 3);
  assert.equal(same.targets[0]!.referrersSkipped, 0);
  assert.equal(lines.warn.length, 1, 'no warning when nothing changed');
});

test('copy --referrers --format where the children are already in that family: their digests and referrers stay, the index\'s are left behind', async () => {
  const [src, dst] = [await fake(), await fake()];
  const amd = src.seedImage('app', { format: 'docker', platform: { os: 'linux', architecture: 'amd64' } });
  const arm = src.seedImage('app', { format: 'docker', platform: { os: 'linux', architecture: 'arm64' } });
  const index = src.seedIndex('app', [amd, arm], { tags: ['1'] }); // OCI index over Docker v2 manifests
  const sigTag = (d: string) => `${d.replace(':', '-')}.sig`;
  src.seedImage('app', { tags: [sigTag(index.digest)] });
  const amdSig = src.seedImage('app', { tags: [sigTag(amd.digest)] });
  const { lines, logger } = keptLogger();
  const r = await copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], format: 'docker', referrers: true, logger, ...fakeLibraryOptions(src, dst) });
  assert.equal(r.digestChanged, true);
  assert.equal(dst.manifest('app', amd.digest)?.digest, amd.digest, 'the child was written as it is');
  assert.equal(r.targets[0]!.referrers, 1);
  assert.equal(dst.manifest('app', sigTag(amd.digest))?.digest, amdSig.digest);
  assert.equal(dst.manifest('app', sigTag(index.digest)), undefined);
  assert.deepEqual(lines.warn, ["format: \"docker\" changes the image's digest: its 1 referrer (signatures, attestations) refers to the source digest and is not copied; the 1 of the manifests it keeps as they are is copied"]);
});

/** A descriptor of `m`, for a `subject`. */
const subjectOf = (m: { mediaType: string; digest: string; size: number }) => ({ mediaType: m.mediaType, digest: m.digest, size: m.size });
const sigTagOf = (d: string) => `${d.replace(':', '-')}.sig`;

test('copy --referrers follows referrers of referrers, breadth first: an SBOM of the image, cosign\'s signature of the SBOM, an attestation of that signature; each written after its subject', async () => {
  for (const api of [true, false]) {
    const [src, dst] = [await fake(), await fake({ referrers: api })];
    const img = src.seedImage('app', { tags: ['1'] });
    const sbom = src.seedImage('app', { artifactType: 'application/spdx+json', subject: subjectOf(img) }); // through the API
    const sig = src.seedImage('app', { tags: [sigTagOf(sbom.digest)] }); // cosign's tag scheme, signing the SBOM
    const att = src.seedImage('app', { artifactType: 'application/vnd.in-toto+json', subject: subjectOf(sig) }); // through the API
    const { lines, logger } = keptLogger();
    const r = await copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], referrers: true, logger, ...fakeLibraryOptions(src, dst) });
    assert.equal(r.targets[0]!.referrers, 3, `api ${api}`);
    assert.equal(r.targets[0]!.referrersSkipped, 0);
    assert.deepEqual(lines.warn, []);
    assert.ok(dst.manifest('app', sbom.digest), 'the SBOM, by digest');
    assert.equal(dst.manifest('app', sigTagOf(sbom.digest))?.digest, sig.digest, 'the SBOM\'s signature, under its tag');
    assert.ok(dst.manifest('app', att.digest), 'the signature\'s attestation, by digest');
    // Each manifest PUT after its subject's: the image, the SBOM, its signature, the attestation.
    const puts = dst.requests({ kind: 'manifest', method: 'PUT' }).map((q) => q.digest ?? q.tag);
    const at = (x: string) => puts.indexOf(x);
    assert.ok(at('1') >= 0 && at('1') < at(sbom.digest) && at(sbom.digest) < at(sigTagOf(sbom.digest)) && at(sigTagOf(sbom.digest)) < at(att.digest), puts.join(' '));
    assert.equal(src.count({ kind: 'tags' }), 1, 'the tags are listed once for every level');
    if (!api) {
      // Listed under its own subject (the signature) in the fallback index at a target without the API.
      const fallback = JSON.parse(dst.manifest('app', sig.digest.replace(':', '-'))!.bytes.toString('utf8')) as { manifests: { digest: string }[] };
      assert.deepEqual(fallback.manifests.map((m) => m.digest), [att.digest]);
    }
  }
});

test('copy --referrers at a source without the API: the referrers its fallback index lists have their own referrers followed (the SBOM\'s signature)', async () => {
  const [src, dst] = [await fake({ referrers: false }), await fake()];
  const img = src.seedImage('app', { tags: ['1'] });
  const sbom = src.seedImage('app', { artifactType: 'application/spdx+json', subject: subjectOf(img) });
  // The OCI fallback: an index tagged sha256-<image hex> lists what refers to the image.
  src.putManifest('app', { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ ...subjectOf(sbom), artifactType: 'application/spdx+json' }] }, { tags: [img.digest.replace(':', '-')] });
  const sig = src.seedImage('app', { tags: [sigTagOf(sbom.digest)] });
  const r = await copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], referrers: true, ...fakeLibraryOptions(src, dst) });
  assert.equal(dst.manifest('app', sigTagOf(sbom.digest))?.digest, sig.digest, 'the SBOM\'s signature');
  assert.ok(dst.manifest('app', sbom.digest));
  assert.equal(r.targets[0]!.referrers, 2, 'the SBOM (found through the fallback index) and the signature');
});

test('copy --referrers from a fallback index to a target that has one of its own: the target\'s index gains the source\'s referrers and keeps its own', async () => {
  const [src, dst] = [await fake({ referrers: false }), await fake({ referrers: false })];
  const img = src.seedImage('app', { tags: ['1'] });
  const fallbackTag = img.digest.replace(':', '-');
  const sbom = src.seedImage('app', { artifactType: 'application/spdx+json', subject: subjectOf(img) });
  src.putManifest('app', { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ ...subjectOf(sbom), artifactType: 'application/spdx+json' }] }, { tags: [fallbackTag] });
  // The target holds the image already, with a scan result attached there (listed in its own fallback index).
  await copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], ...fakeLibraryOptions(src, dst) });
  const scanConfig = dst.putBlob('app', '{}', 'application/vnd.example.scan+json');
  const scanLayer = dst.putBlob('app', 'no findings');
  const scan = dst.putManifest('app', { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', artifactType: 'application/vnd.example.scan+json', config: scanConfig, layers: [scanLayer], subject: subjectOf(img) });
  dst.putManifest('app', { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ mediaType: scan.mediaType, digest: scan.digest, size: scan.size, artifactType: 'application/vnd.example.scan+json' }] }, { tags: [fallbackTag] });
  const r = await copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], referrers: true, ...fakeLibraryOptions(src, dst) });
  assert.equal(r.targets[0]!.referrers, 1, 'the SBOM');
  assert.ok(dst.manifest('app', sbom.digest));
  const listed = JSON.parse(dst.manifest('app', fallbackTag)!.bytes.toString('utf8')) as { manifests: { digest: string; artifactType?: string }[] };
  assert.deepEqual(listed.manifests.map((m) => [m.digest, m.artifactType]), [[scan.digest, 'application/vnd.example.scan+json'], [sbom.digest, 'application/spdx+json']]);
});

test('copy --referrers: a tag scheme pointing back at the image ends the walk (each digest\'s referrers listed once)', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('app', { tags: ['1'] });
  const sig = src.seedImage('app', { tags: [sigTagOf(img.digest)] });
  src.putManifest('app', img.bytes, { mediaType: img.mediaType, tags: [sigTagOf(sig.digest)] }); // the signature's "signature" is the image
  const r = await copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], referrers: true, ...fakeLibraryOptions(src, dst) });
  assert.equal(r.targets[0]!.referrers, 2);
  assert.equal(dst.manifest('app', sigTagOf(sig.digest))?.digest, img.digest);
  assert.deepEqual(src.requests({ kind: 'referrers' }).map((q) => q.digest), [img.digest, sig.digest], 'the image\'s referrers listed once');
});

test('copy --referrers: the walk stops 8 levels below the image; what is found deeper is counted in the report and named in one warning', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('app', { tags: ['1'] });
  const chain = [img];
  for (let i = 0; i < 10; i++) chain.push(src.seedImage('app', { artifactType: 'application/vnd.example.note', subject: subjectOf(chain.at(-1)!), layers: [`note ${i}`] }));
  const { lines, logger } = keptLogger();
  const r = await copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], referrers: true, logger, ...fakeLibraryOptions(src, dst) });
  assert.equal(r.targets[0]!.referrers, 8);
  assert.equal(r.targets[0]!.referrersSkipped, 1, 'the ninth, found and left; the tenth was not looked for');
  for (const [i, m] of chain.entries()) assert.equal(!!dst.manifest('app', m.digest), i <= 8, `level ${i}`);
  assert.deepEqual(lines.warn, [`referrers of ${src.host}/app@${img.digest}: the walk stops 8 levels below the image (a referrer of a referrer of …); 1 found deeper is not copied, nor what refers to them`]);
});

/** A logger that keeps what it is told, by level. */
function keptLogger() {
  const lines = { info: [] as string[], warn: [] as string[], debug: [] as string[] };
  return { lines, logger: { info: (m: string) => lines.info.push(m), warn: (m: string) => lines.warn.push(m), debug: (m: string) => lines.debug.push(m) } };
}

test('copy --format docker of an image whose layers carry annotations: they are dropped with one warning naming them, not an error', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('app');
  // eStargz images carry their TOC digest this way; Docker v2 descriptors have no annotations.
  const layers = img.layers.map((l) => ({ ...l, annotations: { 'containerd.io/snapshot/stargz/toc.digest': `sha256:${'e'.repeat(64)}` } }));
  src.putManifest('app', { ...img.manifest, layers }, { tags: ['1'] });
  const { lines, logger } = keptLogger();
  const r = await copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], format: 'docker', logger, ...fakeLibraryOptions(src, dst) });
  assert.equal(r.targets[0]!.ok, true);
  assert.deepEqual(lines.warn, ['format: "docker": annotations on 2 layer descriptors dropped: Docker v2 manifests have none']);
  const written = JSON.parse(dst.manifest('app', '1')!.bytes.toString('utf8')) as { mediaType: string; layers: { annotations?: unknown }[] };
  assert.equal(written.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  assert.ok(written.layers.every((l) => l.annotations === undefined));
  // Without annotations to drop, nothing is said.
  const plain = keptLogger();
  src.seedImage('plain', { tags: ['1'] });
  await copy({ from: src.ref('plain:1'), to: [dst.ref('plain:1')], format: 'docker', logger: plain.logger, ...fakeLibraryOptions(src, dst) });
  assert.deepEqual(plain.lines.warn, []);
});

test('copy --format docker of an index whose entries carry artifactType and data: one warning names every field dropped; the platform stays', async () => {
  const [src, dst] = [await fake(), await fake()];
  const amd = src.seedImage('app', { platform: { os: 'linux', architecture: 'amd64' } });
  const arm = src.seedImage('app', { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
  const entry = (i: typeof amd, extra: Record<string, unknown>) => ({ mediaType: i.mediaType, digest: i.digest, size: i.size, platform: i.platform, ...extra });
  const data = (i: typeof amd) => i.bytes.toString('base64');
  src.putManifest('app', { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [entry(amd, { data: data(amd) }), entry(arm, { artifactType: 'application/vnd.example.build', annotations: { note: 'x' } })] }, { tags: ['1'] });
  const { lines, logger } = keptLogger();
  const r = await copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], format: 'docker', logger, ...fakeLibraryOptions(src, dst) });
  assert.equal(r.targets[0]!.ok, true);
  assert.deepEqual(lines.warn, ['format: "docker": annotations on 1 index entry; artifactType on 1 index entry; data (embedded content) on 1 index entry dropped: Docker v2 manifest lists have none of these']);
  const list = JSON.parse(dst.manifest('app', '1')!.bytes.toString('utf8')) as { mediaType: string; manifests: Record<string, unknown>[] };
  assert.equal(list.mediaType, 'application/vnd.docker.distribution.manifest.list.v2+json');
  assert.deepEqual(list.manifests.map((m) => Object.keys(m).sort()), [['digest', 'mediaType', 'platform', 'size'], ['digest', 'mediaType', 'platform', 'size']]);
  assert.deepEqual(list.manifests[1]!.platform, { os: 'linux', architecture: 'arm64', variant: 'v8' });
});

test('copy --platform os(osversion)/arch: the Windows child of exactly that build; another build is E_NOT_FOUND naming the builds there are', async () => {
  const [src, dst] = [await fake(), await fake()];
  const ltsc2019 = src.seedImage('win', { platform: { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.5329' } });
  const ltsc2022 = src.seedImage('win', { platform: { os: 'windows', architecture: 'amd64', 'os.version': '10.0.20348.2227' } });
  src.seedIndex('win', [ltsc2019, ltsc2022], { tags: ['1'] });
  const r = await copy({ from: src.ref('win:1'), to: [dst.ref('win:1')], platform: 'windows(10.0.20348.2227)/amd64', ...fakeLibraryOptions(src, dst) });
  assert.equal(r.digestChanged, true);
  assert.deepEqual(r.platforms, [{ platform: 'windows(10.0.20348.2227)/amd64', digest: ltsc2022.digest, mediaType: ltsc2022.mediaType }]);
  const top = JSON.parse(dst.manifest('win', '1')!.bytes.toString('utf8')) as { manifests: { digest: string }[] };
  assert.deepEqual(top.manifests.map((m) => m.digest), [ltsc2022.digest]);
  assert.equal(dst.manifest('win', ltsc2019.digest), undefined);

  const missing = await copy({ from: src.ref('win:1'), to: [dst.ref('win:2')], platform: 'windows(10.0.20348)/amd64', ...fakeLibraryOptions(src, dst) }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(missing?.code, 'E_NOT_FOUND', String(missing));
  assert.equal(missing!.message, 'platform windows(10.0.20348)/amd64 is not in the index; available: windows(10.0.17763.5329)/amd64, windows(10.0.20348.2227)/amd64');

  // A single image is matched by its config's os.version.
  src.seedImage('single', { tags: ['1'], platform: { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.5329' } });
  const ok = await copy({ from: src.ref('single:1'), to: [dst.ref('single:1')], platform: 'windows(10.0.17763.5329)/amd64', ...fakeLibraryOptions(src, dst) });
  assert.equal(ok.digestChanged, false);
  const other = await copy({ from: src.ref('single:1'), to: [dst.ref('single:2')], platform: 'windows(10.0.20348.2227)/amd64', ...fakeLibraryOptions(src, dst) }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(other?.code, 'E_NOT_FOUND');
  assert.match(other!.message, /is a single windows\(10\.0\.17763\.5329\)\/amd64 image, not windows\(10\.0\.20348\.2227\)\/amd64$/);

  // Bad spellings are refused before anything is read.
  src.clearLog();
  for (const platform of ['windows(10.0.20348.2227/amd64', 'windows()/amd64']) {
    const bad = await copy({ from: src.ref('win:1'), to: [dst.ref('win:3')], platform, ...fakeLibraryOptions(src, dst) }).then(() => undefined, (e: RegpushError) => e);
    assert.equal(bad?.code, 'E_USAGE', platform);
  }
  assert.equal(src.log.length, 0);
});

test('a copy to more than ten targets reads each blob once for all of them, with no listener-leak warning from the shared read', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('base/app', { tags: ['1'] });
  const warnings: string[] = [];
  const onWarning = (w: Error): void => {
    warnings.push(`${w.name}: ${w.message}`);
  };
  process.on('warning', onWarning);
  try {
    const targets = Array.from({ length: 12 }, (_, i) => dst.ref(`t${i}:1`));
    const r = await copy({ from: src.ref('base/app:1'), to: targets, ...fakeLibraryOptions(src, dst) });
    assert.equal(r.targets.filter((t) => t.ok).length, 12);
    for (const l of img.layers) assert.equal(src.count({ method: 'GET', kind: 'blob', digest: l.digest }), 1, 'one read of each layer for the twelve targets');
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve)); // process warnings are emitted on a later tick
  } finally {
    process.off('warning', onWarning);
  }
  assert.deepEqual(warnings.filter((w) => w.startsWith('MaxListenersExceededWarning')), []);
});

test('an index whose child the source registry does not have: E_NOT_FOUND naming that entry (platform and index), nothing written', async () => {
  const [src, dst] = [await fake(), await fake()];
  const amd = src.seedImage('app', { platform: { os: 'linux', architecture: 'amd64' } });
  const missing = `sha256:${'e'.repeat(64)}`;
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      { mediaType: amd.mediaType, digest: amd.digest, size: amd.size, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: missing, size: 500, platform: { os: 'linux', architecture: 'arm64' } },
    ],
  };
  src.putManifest('app', index, { tags: ['1'] });
  const err = await copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], ...fakeLibraryOptions(src, dst) }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(err?.code, 'E_NOT_FOUND', String(err));
  assert.match(err!.message, new RegExp(`/app@sha256:[0-9a-f]{64} lists its linux/arm64 image ${missing}, which the registry does not have .*; platform can leave that image out`));
  assert.equal(dst.count({ kind: 'manifest', method: 'PUT' }), 0);
});

test('an unchanged copy whose source was not read (named by digest, or HEADed where pulls count) reports the platforms a copy that writes does: the index read at the target, no pull', async () => {
  const [src, dst, mirror] = [await fake(), await fake(), await fake()];
  const kids = ['amd64', 'arm64'].map((architecture) => src.seedImage('app', { platform: { os: 'linux', architecture } }));
  const index = src.seedIndex('app', kids, { tags: ['1'] });
  const platforms = [
    { platform: 'linux/amd64', digest: kids[0]!.digest, mediaType: kids[0]!.mediaType },
    { platform: 'linux/arm64', digest: kids[1]!.digest, mediaType: kids[1]!.mediaType },
  ];
  // Pinned: the source is not asked when every target holds the digest.
  const pinned = { from: `${src.ref('app')}@${index.digest}`, to: [dst.ref('pinned:1')], ...fakeLibraryOptions(src, dst) };
  assert.deepEqual((await copy(pinned)).platforms, platforms);
  src.clearLog();
  dst.clearLog();
  for (const dryRun of [false, true]) {
    const again = await copy({ ...pinned, dryRun });
    assert.deepEqual(again.targets[0]!.tagsUnchanged, ['1']);
    assert.deepEqual(again.platforms, platforms, `dryRun ${dryRun}`);
  }
  assert.equal(src.count(), 0, 'the source not asked');
  assert.equal(dst.count({ method: ['PUT', 'POST', 'PATCH'] }), 0, 'nothing written');
  // One request each at the target: the tag read with a GET in place of its HEAD, which gives the
  // platforms too (it was a HEAD, then a GET of the index by digest for the report).
  assert.deepEqual(dst.requests().map((q) => `${q.method} ${q.tag ?? q.digest}`), ['GET 1', 'GET 1']);
  // Docker Hub (through a mirror): the source is HEADed, and no manifest GET (a pull) is spent for the report.
  const kidsHub = ['amd64', 'arm64'].map((architecture) => mirror.seedImage('library/app', { platform: { os: 'linux', architecture } }));
  mirror.seedIndex('library/app', kidsHub, { tags: ['1'] });
  const hub = { from: 'docker.io/library/app:1', to: [dst.ref('hub:1')], mirrors: { 'docker.io': [mirror.host] }, ...fakeLibraryOptions(mirror, dst) };
  const written = await copy(hub);
  mirror.clearLog();
  const unchanged = await copy(hub);
  assert.deepEqual(unchanged.targets[0]!.tagsUnchanged, ['1']);
  assert.equal(mirror.count({ kind: 'manifest', method: 'GET' }), 0, 'no pull at the source');
  assert.deepEqual(unchanged.platforms, written.platforms);
  assert.deepEqual(unchanged.platforms?.map((p) => p.platform), ['linux/amd64', 'linux/arm64']);
  // A single image: its HEAD says so, and nothing more is read for the report.
  src.seedImage('single', { tags: ['1'] });
  const single = { from: src.ref('single:1'), to: [dst.ref('single:1')], ...fakeLibraryOptions(src, dst) };
  await copy(single);
  dst.clearLog();
  assert.equal((await copy(single)).platforms, undefined);
  assert.equal(dst.count({ kind: 'manifest', method: 'GET' }), 0);
});

test('an unchanged copy --referrers of an index named by digest reads the index at the target once, by its tag: for the no-op check, its children and the report\'s platforms (was: a HEAD of the tag, then a GET of the index by digest)', async () => {
  const [src, dst] = [await fake(), await fake()];
  const kids = ['amd64', 'arm64'].map((architecture) => src.seedImage('app', { platform: { os: 'linux', architecture } }));
  const index = src.seedIndex('app', kids, { tags: ['1'] });
  const opts = { from: `${src.ref('app')}@${index.digest}`, to: [dst.ref('app:1')], referrers: true, ...fakeLibraryOptions(src, dst) };
  const first = await copy(opts);
  dst.clearLog();
  const again = await copy(opts);
  assert.deepEqual(again.targets[0]!.tagsUnchanged, ['1']);
  assert.deepEqual(again.platforms, first.platforms);
  assert.deepEqual(again.platforms?.map((p) => p.platform), ['linux/amd64', 'linux/arm64']);
  // The tag's GET (in place of its HEAD) gives the index: not read again by digest, neither for its children nor for the report.
  assert.deepEqual(dst.requests({ kind: 'manifest' }).map((q) => `${q.method} ${q.tag ?? q.digest}`), ['GET 1']);
});

test('a copy by digest reads the target\'s tag with a GET in place of its HEAD: a tag that holds another image is written over; a 503 is retried by the transport alone; a GET refused for what a HEAD does not check falls back to the HEAD', async () => {
  const [src, dst] = [await fake(), await fake()];
  const kids = ['amd64', 'arm64'].map((architecture) => src.seedImage('app', { platform: { os: 'linux', architecture } }));
  const index = src.seedIndex('app', kids, { tags: ['1'] });
  const other = dst.seedImage('app', { tags: ['1'] });
  const opts = { from: `${src.ref('app')}@${index.digest}`, to: [dst.ref('app:1')], ...fakeLibraryOptions(src, dst) };
  // The tag holds another image: the GET says so, and the index is copied over it.
  const moved = await copy(opts);
  assert.equal(moved.targets[0]!.tagsUnchanged, undefined);
  assert.equal(dst.manifest('app', '1')!.digest, index.digest);
  assert.notEqual(other.digest, index.digest);
  assert.deepEqual(moved.platforms?.map((p) => p.platform), ['linux/amd64', 'linux/arm64']);
  // A target failing with 503: the GET's retries are the transport's (1 here), and no HEAD follows.
  dst.clearLog();
  const down = dst.fault({ kind: 'manifest' }, { kind: 'status', status: 503, retryAfter: 0 });
  const err = await copy({ ...opts, retries: 1 }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(err?.code, 'E_REGISTRY', String(err));
  assert.deepEqual(dst.requests({ kind: 'manifest' }).map((q) => `${q.method} ${q.tag ?? q.digest}`), ['GET 1', 'GET 1']);
  down.remove();
  // A registry that states another digest than its bytes on the GET (a HEAD reads only the header):
  // asked again as the HEAD, which finds the image there; the report then reads the index by digest.
  dst.clearLog();
  dst.fault({ kind: 'manifest', method: 'GET', path: '/v2/app/manifests/1' }, { kind: 'respond', respond: (_req, _body, res) => res.writeHead(200, { 'content-type': index.mediaType, 'docker-content-digest': other.digest }).end(dst.manifest('app', '1')!.bytes) }, { times: 1 });
  const again = await copy(opts);
  assert.deepEqual(again.targets[0]!.tagsUnchanged, ['1']);
  assert.deepEqual(again.platforms, moved.platforms);
  assert.deepEqual(dst.requests({ kind: 'manifest' }).map((q) => `${q.method} ${q.tag ?? q.digest}`), ['GET 1', 'HEAD 1', `GET ${index.digest}`]);
  // A GET whose body is past the manifest size cap (the tag might hold anything): refused unread
  // (E_PROTOCOL), where the HEAD it replaces would have answered; asked again as the HEAD.
  dst.clearLog();
  const huge = Buffer.alloc(5 << 20, 0x20);
  dst.fault({ kind: 'manifest', method: 'GET', path: '/v2/app/manifests/1' }, { kind: 'respond', respond: (_req, _body, res) => res.writeHead(200, { 'content-type': index.mediaType, 'content-length': String(huge.length) }).end(huge) }, { times: 1 });
  const big = await copy(opts);
  assert.deepEqual(big.targets[0]!.tagsUnchanged, ['1']);
  assert.deepEqual(dst.requests({ kind: 'manifest' }).slice(0, 2).map((q) => `${q.method} ${q.tag ?? q.digest}`), ['GET 1', 'HEAD 1']);
});

test('a dry run says which tags of a target already hold the image (tagsUnchanged), as the copy that writes them does: the same image, and --format\'s converted one, whose tags are asked once it is known', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('app', { tags: ['1'] });
  for (const format of [undefined, 'docker'] as const) {
    const repo = `app-${format ?? 'same'}`;
    const opts = { from: src.ref('app:1'), to: [dst.ref(`${repo}:1`)], ...(format ? { format } : {}), ...fakeLibraryOptions(src, dst) };
    await copy(opts);
    dst.clearLog();
    const plan = await copy({ ...opts, tags: ['2', '3'], dryRun: true });
    assert.deepEqual([plan.targets[0]!.tags, plan.targets[0]!.tagsUnchanged], [['1', '2', '3'], ['1']], format);
    assert.equal(dst.count({ kind: 'manifest', method: 'HEAD' }), 3, `${format}: one HEAD per tag`);
    assert.equal(dst.count({ method: ['PUT', 'POST', 'PATCH'] }), 0);
    // What the copy then writes: the tags the plan did not name as held.
    const done = await copy({ ...opts, tags: ['2', '3'] });
    assert.deepEqual(done.targets[0]!.tagsUnchanged, ['1']);
    assert.deepEqual(dst.requests({ kind: 'manifest', method: 'PUT' }).map((q) => q.tag), ['2', '3']);
  }
});

test('the report of a re-copy: tags that already held the image are tagsUnchanged when only --tag is new, and an unchanged index still lists its platforms', async () => {
  const [src, dst] = [await fake(), await fake()];
  const kids = ['amd64', 'arm64'].map((architecture) => src.seedImage('app', { platform: { os: 'linux', architecture } }));
  src.seedIndex('app', kids, { tags: ['1'] });
  const first = await copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], ...fakeLibraryOptions(src, dst) });
  assert.deepEqual(first.platforms?.map((p) => p.platform), ['linux/amd64', 'linux/arm64']);
  // The same again: nothing written, every tag unchanged, the platforms still said.
  const again = await copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], ...fakeLibraryOptions(src, dst) });
  assert.deepEqual(again.targets[0]!.tagsUnchanged, ['1']);
  assert.deepEqual(again.platforms?.map((p) => p.platform), ['linux/amd64', 'linux/arm64']);
  // With a new --tag: one PUT (the new tag); the old one held the image and is reported unchanged.
  dst.clearLog();
  const tagged = await copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], tags: ['stable'], ...fakeLibraryOptions(src, dst) });
  assert.deepEqual(dst.requests({ kind: 'manifest', method: 'PUT' }).map((r) => r.tag ?? r.digest), ['stable']);
  assert.deepEqual(tagged.targets[0]!.tags, ['1', 'stable']);
  assert.deepEqual(tagged.targets[0]!.tagsUnchanged, ['1']);
});

test('registries that refuse the manifest HEAD (405, 400, 501): copy goes by the GET, as digest, tag and delete do; the copy run again finds the tag in place and writes nothing', async () => {
  for (const status of [405, 400, 501]) {
    const [src, dst] = [await fake(), await fake()];
    const img = src.seedImage('base/app', { tags: ['1'] });
    for (const reg of [src, dst]) reg.fault({ kind: 'manifest', method: 'HEAD' }, { kind: 'status', status });
    const opts = { from: src.ref('base/app:1'), to: [dst.ref('app:1')], retries: 0, ...fakeLibraryOptions(src, dst) };
    const r = await copy(opts);
    assert.equal(r.targets[0]!.ok, true, String(status));
    assert.equal(dst.manifest('app', '1')?.digest, img.digest);
    dst.clearLog();
    const again = await copy(opts);
    assert.equal(again.targets[0]!.ok, true);
    assert.equal(dst.count({ kind: 'manifest', method: 'PUT' }), 0, 'the tag found in place by the GET: nothing written');
    assert.ok(dst.count({ kind: 'manifest', method: 'HEAD' }) <= 1, 'once refused, the HEAD is not asked again by the same client');
  }
});

test('a manifest PUT refused with UNSUPPORTED at 400 refuses that manifest, in the registry\'s words; only a 405 says the registry takes no pushes', async () => {
  /** A copy whose every manifest PUT is answered `status` UNSUPPORTED: the error it rejects with. */
  const refused = async (status: number, message: string): Promise<RegpushError> => {
    const [src, dst] = [await fake(), await fake()];
    src.seedImage('base/app', { tags: ['1'] });
    dst.fault({ kind: 'manifest', method: 'PUT' }, { kind: 'status', status, code: 'UNSUPPORTED', message });
    return copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], retries: 0, ...fakeLibraryOptions(src, dst) }).then(
      () => assert.fail(`the manifest PUT was answered ${status}`),
      (e: RegpushError) => e,
    );
  };
  const err = await refused(400, 'manifest media type not supported');
  // A 400 keeps the registry's error (E_REGISTRY); only 405 and 415 are E_UNSUPPORTED (docs/registry-quirks.md).
  assert.equal(err.code, 'E_REGISTRY', err.message);
  assert.doesNotMatch(err.message, /does not accept pushes|pull-through cache/, err.message);
  assert.match(err.message, /manifest media type not supported/, err.message);
  const readOnly = await refused(405, 'The operation is unsupported.');
  assert.equal(readOnly.code, 'E_UNSUPPORTED');
  assert.match(readOnly.message, /does not accept pushes to app \(the manifest PUT answered 405 UNSUPPORTED/, readOnly.message);
});
