// Edge cases of copy's transfer engine against the fake registry: duplicate targets, a copy onto
// itself, a source whose blob length differs from its descriptor, empty blobs, a Range resume
// answered 200, an index child refused at one target, dry runs, aborts. Every run must leave no
// upload session open.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copy, type CopyResult, type RegpushError } from '../../src/index.js';
import { silentLogger } from '../../src/log.js';
import { bytesOf, fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';

const fake = fakeRegistryPool();
const partialResult = (err: unknown): CopyResult => (err as RegpushError).details.result as CopyResult;
const writes = (reg: FakeRegistry) => reg.count({ method: ['POST', 'PUT', 'PATCH', 'DELETE'] });

for (const tags of [['1', '1'], ['1', '2']]) {
  test(`one repository named twice (--to app:${tags[0]} --to app:${tags[1]}): one target, each blob uploaded there once, each tag written once`, async () => {
    const [src, dst] = [await fake(), await fake()];
    const img = src.seedImage('base/app', { tags: ['1'] });
    const r = await copy({ from: src.ref('base/app:1'), to: tags.map((t) => dst.ref(`app:${t}`)), ...fakeLibraryOptions(src, dst) });
    const distinct = [...new Set(tags)];
    for (const t of distinct) assert.equal(dst.manifest('app', t)?.digest, img.digest);
    for (const d of [img.config, ...img.layers]) assert.equal(dst.requests({ kind: 'upload', method: ['PUT', 'PATCH'], digest: d.digest }).length, 1, `${d.digest} uploaded once`);
    assert.equal(dst.count({ kind: 'upload', method: 'POST' }), 3, 'one session per blob');
    assert.deepEqual(dst.requests({ kind: 'manifest', method: 'PUT' }).map((m) => m.tag), distinct);
    assert.equal(dst.openUploads(), 0);
    assert.equal(r.targets.length, 1);
    assert.deepEqual(r.targets[0]!.tags, distinct);
    assert.equal(r.targets[0]!.ok, true);
  });
}

test('copy onto itself (same repository and tag): nothing written, nothing deleted', async () => {
  const reg = await fake();
  const img = reg.seedImage('app', { tags: ['1'] });
  const r = await copy({ from: reg.ref('app:1'), to: [reg.ref('app:1')], ...fakeLibraryOptions(reg) });
  assert.equal(r.digest, img.digest);
  assert.equal(writes(reg), 0);
  assert.equal(reg.manifest('app', '1')?.digest, img.digest);
  for (const d of [img.config, ...img.layers]) assert.ok(reg.hasBlob('app', d.digest));
});

test('a source blob served with fewer bytes than its descriptor: E_DIGEST_MISMATCH, no blob completed, no manifest, no session open', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('base/app', { tags: ['1'], layers: [bytesOf('short', 4000)] });
  const layer = img.layers[0]!;
  src.fault({ kind: 'blob', method: 'GET', digest: layer.digest }, {
    kind: 'respond',
    respond: (_req, _body, res) => {
      const data = src.blob('base/app', layer.digest)!.subarray(0, 3000);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(data.length), 'docker-content-digest': layer.digest });
      res.end(data);
    },
  });
  const err = await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], retries: 1, ...fakeLibraryOptions(src, dst) }).then(() => undefined, (e: unknown) => e as RegpushError);
  assert.equal(err?.code, 'E_DIGEST_MISMATCH', String(err));
  assert.equal(dst.hasBlob('app', layer.digest), false);
  assert.equal(dst.count({ kind: 'manifest', method: 'PUT' }), 0);
  assert.equal(dst.openUploads(), 0);
});

test('a source blob served with more bytes than its descriptor: E_DIGEST_MISMATCH, nothing of it stored', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('base/app', { tags: ['1'], layers: [bytesOf('long', 4000)] });
  const layer = img.layers[0]!;
  src.fault({ kind: 'blob', method: 'GET', digest: layer.digest }, {
    kind: 'respond',
    respond: (_req, _body, res) => {
      const data = Buffer.concat([src.blob('base/app', layer.digest)!, Buffer.from('extra')]);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(data.length), 'docker-content-digest': layer.digest });
      res.end(data);
    },
  });
  const err = await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1'), (await fake()).ref('x:1')], retries: 1, ...fakeLibraryOptions(src, dst) }).then(() => undefined, (e: unknown) => e as RegpushError);
  assert.equal(err?.code, 'E_DIGEST_MISMATCH', String(err));
  assert.equal(dst.hasBlob('app', layer.digest), false);
  assert.equal(dst.count({ kind: 'manifest', method: 'PUT' }), 0);
  assert.equal(dst.openUploads(), 0);
});

/** An image of one empty layer and the config `{}`: the empty layer is the one the engine starts early. */
function seedEmpty(src: FakeRegistry): { empty: { digest: string }; cfg: { digest: string }; digest: string } {
  const empty = src.putBlob('base/app', Buffer.alloc(0));
  const cfg = src.putBlob('base/app', '{}', 'application/vnd.oci.image.config.v1+json');
  const m = src.putManifest('base/app', { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { ...cfg, mediaType: 'application/vnd.oci.image.config.v1+json' }, layers: [{ ...empty, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }] }, { tags: ['1'] });
  return { empty, cfg, digest: m.digest };
}

for (const n of [1, 2]) {
  test(`an empty layer (started early) and the config {} to ${n} target(s): each sent once, no retry (its early GET had ended before it was read, and the upload waited for an 'end' that had passed)`, async () => {
    const [src, dst] = [await fake(), await fake()];
    const { empty, cfg, digest } = seedEmpty(src);
    const repos = ['app', 'app2'].slice(0, n);
    const r = await copy({ from: src.ref('base/app:1'), to: repos.map((repo) => dst.ref(`${repo}:1`)), ...fakeLibraryOptions(src, dst) });
    assert.equal(r.digest, digest);
    assert.equal(src.count({ kind: 'blob', method: 'GET', digest: empty.digest }), 1, 'the early GET is the only read');
    for (const [i, repo] of repos.entries()) {
      assert.deepEqual(dst.blob(repo, empty.digest), Buffer.alloc(0));
      assert.equal(dst.blob(repo, cfg.digest)?.toString(), '{}');
      assert.equal(dst.manifest(repo, '1')?.digest, digest);
      assert.deepEqual(dst.requests({ kind: 'upload', method: ['PUT', 'PATCH'], repo }).map((u) => u.status), [201, 201], `${repo}: one upload per blob, none failed`);
      assert.deepEqual(r.targets[i]!.blobs.map((b) => b.retries), [0, 0]);
    }
    assert.equal(dst.openUploads(), 0);
  });
}

test('a Range resume answered 200 with the whole blob: the bytes already sent are skipped, the blob lands intact', async () => {
  const [src, dst] = [await fake(), await fake()];
  const data = bytesOf('resume', 200_000);
  const img = src.seedImage('base/app', { tags: ['1'], layers: [data] });
  const layer = img.layers[0]!;
  src.fault({ kind: 'blob', method: 'GET', digest: layer.digest, when: (r) => r.headers.range === undefined }, { kind: 'drop', afterBytes: 70_000 }, { times: 1 });
  src.fault({ kind: 'blob', method: 'GET', digest: layer.digest, when: (r) => r.headers.range !== undefined }, {
    kind: 'respond',
    respond: (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(data.length), 'docker-content-digest': layer.digest });
      res.end(data);
    },
  });
  const r = await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], retries: 2, ...fakeLibraryOptions(src, dst) });
  assert.deepEqual(dst.blob('app', layer.digest), data);
  assert.equal(r.targets[0]!.blobs.find((b) => b.digest === layer.digest)?.resumes, 1);
  assert.equal(dst.openUploads(), 0);
});

test('an index whose child manifest is refused at one target: no index there, the other target complete', async () => {
  const [src, good, bad] = [await fake(), await fake(), await fake()];
  const a = src.seedImage('base/app', { platform: { os: 'linux', architecture: 'amd64' } });
  const b = src.seedImage('base/app', { platform: { os: 'linux', architecture: 'arm64' } });
  const idx = src.seedIndex('base/app', [a, b], { tags: ['1'] });
  bad.fault({ kind: 'manifest', method: 'PUT', digest: b.digest }, { kind: 'status', status: 400, code: 'MANIFEST_INVALID' });
  const err = await copy({ from: src.ref('base/app:1'), to: [good.ref('app:1'), bad.ref('app:1')], ...fakeLibraryOptions(src, good, bad) }).then(() => undefined, (e: unknown) => e as RegpushError);
  assert.equal(err?.code, 'E_PARTIAL', String(err));
  assert.equal(good.manifest('app', '1')?.digest, idx.digest);
  assert.equal(bad.manifest('app', '1'), undefined);
  assert.equal(bad.count({ kind: 'manifest', method: 'PUT', when: (r) => r.tag === '1' }), 0);
  assert.equal(partialResult(err).targets[0]!.ok, true);
  assert.equal(bad.openUploads(), 0);
});

test('dry run: no write at any target, not even a POST', async () => {
  const [src, dst, dst2] = [await fake(), await fake(), await fake()];
  src.seedImage('base/app', { tags: ['1'] });
  const r = await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1'), dst2.ref('app:1'), src.ref('other:1')], dryRun: true, referrers: true, ...fakeLibraryOptions(src, dst, dst2) });
  assert.equal(r.dryRun, true);
  for (const reg of [src, dst, dst2]) assert.equal(writes(reg), 0, JSON.stringify(reg.requests({ method: ['POST', 'PUT', 'PATCH', 'DELETE'] })));
});

test('an abort while a blob uploads: E_ABORTED, every session cancelled', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/app', { tags: ['1'], layers: [bytesOf('a', 300_000), bytesOf('b', 5000)] });
  const ac = new AbortController();
  dst.fault({ kind: 'upload', method: ['PUT', 'PATCH'] }, { kind: 'hold', until: new Promise(() => undefined) });
  void dst.seen({ kind: 'upload', method: ['PUT', 'PATCH'] }).then(() => setImmediate(() => ac.abort()));
  const err = await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], signal: ac.signal, ...fakeLibraryOptions(src, dst) }).then(() => undefined, (e: unknown) => e as RegpushError);
  assert.equal(err?.code, 'E_ABORTED', String(err));
  assert.equal(dst.openUploads(), 0);
  assert.equal(dst.count({ kind: 'manifest', method: 'PUT' }), 0);
});

for (const targets of [1, 2]) {
  test(`an abort while the source read of the early-started layer is held (${targets} target(s)): E_ABORTED, every session cancelled, no manifest`, async () => {
    const [src, dst] = [await fake(), await fake()];
    src.seedImage('base/app', { tags: ['1'], layers: [bytesOf('a', 300_000), bytesOf('b', 5000)] });
    const ac = new AbortController();
    src.fault({ kind: 'blob', method: 'GET' }, { kind: 'hold', until: new Promise(() => undefined) });
    // Aborted once the client has read every early POST's answer (its debug line): a POST cut
    // before its answer is read would open a session nobody can know of.
    let answered = 0;
    const logger = { ...silentLogger, debug: (m: string) => void (/^http POST .*uploads\/ → 202/.test(m) && ++answered === targets && src.seen({ kind: 'blob', method: 'GET' }).then(() => ac.abort())) };
    const repos = ['app', 'app2'].slice(0, targets);
    const err = await copy({ from: src.ref('base/app:1'), to: repos.map((r) => dst.ref(`${r}:1`)), signal: ac.signal, logger, ...fakeLibraryOptions(src, dst) }).then(() => undefined, (e: unknown) => e as RegpushError);
    assert.equal(err?.code, 'E_ABORTED', String(err));
    assert.equal(dst.openUploads(), 0, JSON.stringify(dst.requests({ kind: 'upload' })));
    assert.equal(dst.count({ kind: 'manifest', method: 'PUT' }), 0);
  });
}

test('two targets, one dropping the connection in the middle of every blob upload: set aside, its sessions cancelled, the other complete', async () => {
  const [src, good, bad] = [await fake(), await fake(), await fake()];
  const img = src.seedImage('base/app', { tags: ['1'], layers: [bytesOf('a', 300_000), bytesOf('b', 5000)] });
  bad.fault({ kind: 'upload', method: ['PUT', 'PATCH'] }, { kind: 'drop' });
  const err = await copy({ from: src.ref('base/app:1'), to: [good.ref('app:1'), bad.ref('app:1')], retries: 1, ...fakeLibraryOptions(src, good, bad) }).then(() => undefined, (e: unknown) => e as RegpushError);
  assert.equal(err?.code, 'E_PARTIAL', String(err));
  assert.equal(good.manifest('app', '1')?.digest, img.digest);
  assert.equal(bad.count({ kind: 'manifest', method: 'PUT' }), 0);
  assert.equal(bad.openUploads(), 0, JSON.stringify(bad.requests({ kind: 'upload' })));
  assert.equal(good.openUploads(), 0);
});

test('a target whose manifest PUT fails after its blobs landed: no session left anywhere, the other target complete', async () => {
  const [src, good, bad] = [await fake(), await fake(), await fake()];
  const img = src.seedImage('base/app', { tags: ['1'] });
  bad.fault({ kind: 'manifest', method: 'PUT' }, { kind: 'status', status: 500, retryAfter: 0 });
  const err = await copy({ from: src.ref('base/app:1'), to: [good.ref('app:1'), bad.ref('app:1')], retries: 1, ...fakeLibraryOptions(src, good, bad) }).then(() => undefined, (e: unknown) => e as RegpushError);
  assert.equal(err?.code, 'E_PARTIAL', String(err));
  assert.equal(good.manifest('app', '1')?.digest, img.digest);
  assert.equal(bad.openUploads() + good.openUploads(), 0);
});

test('one target whose HEAD of a blob fails (fail-fast) while the early-started layer uploads: that upload ends, its session is cancelled', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('base/app', { tags: ['1'], layers: [bytesOf('a', 300_000), bytesOf('b', 5000)] });
  dst.fault({ kind: 'blob', method: 'HEAD', digest: img.layers[1]!.digest }, { kind: 'status', status: 403, code: 'DENIED' });
  const err = await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], retries: 0, ...fakeLibraryOptions(src, dst) }).then(() => undefined, (e: unknown) => e as RegpushError);
  assert.ok(err, 'the copy fails');
  assert.equal(dst.count({ kind: 'manifest', method: 'PUT' }), 0);
  const opened = dst.count({ kind: 'upload', method: 'POST', status: 202 });
  assert.ok(opened >= 1, 'the large layer was started early');
  assert.ok(dst.count({ kind: 'upload', method: 'DELETE' }) >= 1, 'its cancel was sent');
  assert.equal(dst.openUploads(), 0, JSON.stringify(dst.requests({ kind: 'upload' })));
  // Its PUT may have been stored just as the run stopped: the cancel is then answered 404
  // BLOB_UPLOAD_UNKNOWN, and no session stays, so none is named as left behind.
  assert.doesNotMatch((err as Error).message, /could not be cancelled/);
});

test('copy with an extra tag to a target whose tag already holds the image: only the new tag is written (an immutable tag is not PUT again)', async () => {
  const [src, dst] = [await fake(), await fake()];
  const a = src.seedImage('base/app', { platform: { os: 'linux', architecture: 'amd64' } });
  const b = src.seedImage('base/app', { platform: { os: 'linux', architecture: 'arm64' } });
  const idx = src.seedIndex('base/app', [a, b], { tags: ['1'] });
  await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], ...fakeLibraryOptions(src, dst) });
  dst.clearLog();
  // A registry with immutable tags refuses any PUT of an existing tag, even of the same bytes.
  dst.fault({ kind: 'manifest', method: 'PUT', when: (r) => r.tag === '1' }, { kind: 'status', status: 400, code: 'TAG_INVALID', message: 'tag is immutable' });
  const r = await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], tags: ['2'], ...fakeLibraryOptions(src, dst) });
  assert.equal(r.targets[0]!.ok, true);
  assert.deepEqual(dst.requests({ kind: 'manifest', method: 'PUT' }).map((m) => m.tag ?? m.digest), ['2'], 'the held tag and the children it names are not written again');
  assert.equal(dst.manifest('app', '2')?.digest, idx.digest);
  assert.equal(dst.count({ kind: 'upload' }), 0);
});

for (const status of [404, 500]) {
  test(`two targets, the source answering ${status} to a layer's GET: both fail with its error, no manifest, every session cancelled`, async () => {
    const [src, a, b] = [await fake(), await fake(), await fake()];
    const img = src.seedImage('base/app', { tags: ['1'] });
    src.fault({ kind: 'blob', method: 'GET', digest: img.layers[0]!.digest }, { kind: 'status', status, code: status === 404 ? 'BLOB_UNKNOWN' : 'UNKNOWN', retryAfter: 0 });
    const err = await copy({ from: src.ref('base/app:1'), to: [a.ref('app:1'), b.ref('app:1')], retries: 1, ...fakeLibraryOptions(src, a, b) }).then(() => undefined, (e: unknown) => e as RegpushError);
    assert.ok(err, 'the copy fails');
    assert.notEqual(err.code, 'E_PARTIAL', 'both targets failed');
    let opened = 0;
    let cancelled = 0;
    for (const reg of [a, b]) {
      assert.equal(reg.count({ kind: 'manifest', method: 'PUT' }), 0);
      assert.equal(reg.openUploads(), 0, JSON.stringify(reg.requests({ kind: 'upload' })));
      const ended = reg.count({ kind: 'upload', method: 'DELETE' }) + reg.count({ kind: 'upload', method: 'PUT', status: 201 });
      assert.equal(ended, reg.count({ kind: 'upload', method: 'POST', status: 202 }), 'each session opened was completed or cancelled');
      cancelled += reg.count({ kind: 'upload', method: 'DELETE' });
      opened += reg.count({ kind: 'upload', method: 'POST', status: 202 });
    }
    assert.ok(opened >= 1 && cancelled >= 1, `sessions were opened (${opened}) and cancelled (${cancelled}): else the check would hold vacuously`);
  });
}

test('dry run of an index with --platform, --format and --all-tags: no write anywhere', async () => {
  const [src, dst] = [await fake(), await fake()];
  const a = src.seedImage('base/app', { platform: { os: 'linux', architecture: 'amd64' } });
  const b = src.seedImage('base/app', { platform: { os: 'linux', architecture: 'arm64' } });
  src.seedIndex('base/app', [a, b], { tags: ['1', '2'] });
  await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], platform: 'linux/arm64', format: 'docker', dryRun: true, ...fakeLibraryOptions(src, dst) });
  await copy({ from: src.ref('base/app'), to: [dst.ref('app')], allTags: true, dryRun: true, ...fakeLibraryOptions(src, dst) });
  for (const reg of [src, dst]) assert.equal(writes(reg), 0);
  assert.ok(dst.count({ kind: 'blob', method: 'HEAD' }) > 0, 'the plan asked the target');
});

test('a new tag in the source repository itself (copy app:1 → app:2): the manifest PUT is the only write, no mount, no session', async () => {
  const reg = await fake();
  const img = reg.seedImage('app', { tags: ['1'] });
  const r = await copy({ from: reg.ref('app:1'), to: [reg.ref('app:2')], ...fakeLibraryOptions(reg) });
  assert.equal(reg.manifest('app', '2')?.digest, img.digest);
  assert.deepEqual(reg.requests({ method: ['POST', 'PUT', 'PATCH', 'DELETE'] }).map((q) => `${q.method} ${q.kind} ${q.tag ?? ''}`), ['PUT manifest 2']);
  assert.ok(r.targets[0]!.blobs.every((b) => b.action === 'skipped'), JSON.stringify(r.targets[0]!.blobs));
});
