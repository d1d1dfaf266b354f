// Reading an index's children: together (a few at a time), not one round trip each — a Docker
// Hub library image lists 16 or more — and written in the index's order whatever order the
// answers came in. Fake registries (test/fixtures/fake-registry.ts) log each request with the
// requests that had arrived when it was answered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copy } from '../../src/index.js';
import { NotFoundError } from '../../src/errors.js';
import { sha256Digest } from '../../src/image/digest.js';
import { CHILD_MANIFEST_READS } from '../../src/image/manifest.js';
import { MediaType } from '../../src/image/mediatypes.js';
import type { FetchedManifest, RegistryClient } from '../../src/registry/registry-client.js';
import { readGraph } from '../../src/transfer/graph.js';
import { optionPaths } from '../../src/option-names.js';
import { DEFAULT_JOBS } from '../../src/transfer/concurrency.js';
import { SMALL_BLOB_BYTES } from '../../src/transfer/target-set.js';
import { bytesOf, fakeLibraryOptions, fakeRegistryPool, type FakeRegistry, type LoggedRequest, type SeededImage } from '../fixtures/fake-registry.js';

const fake = fakeRegistryPool();
// More children than are read at once, so the bound shows.
const ARCHES = Array.from({ length: CHILD_MANIFEST_READS + 4 }, (_, i) => `arch${i}`);

function seedMulti(src: FakeRegistry, n: number): { images: SeededImage[]; index: ReturnType<FakeRegistry['seedIndex']> } {
  const images = ARCHES.slice(0, n).map((architecture) => src.seedImage('base/multi', { platform: { os: 'linux', architecture } }));
  return { images, index: src.seedIndex('base/multi', images, { tags: ['1'] }) };
}

test('copy reads an index\'s child manifests together, CHILD_MANIFEST_READS at a time, and writes them in the index\'s order', async () => {
  const [src, dst] = [await fake(), await fake()];
  const { images, index } = seedMulti(src, ARCHES.length);
  const childGet = { kind: 'manifest' as const, method: 'GET', when: (r: { digest?: string; tag?: string }) => r.digest !== undefined && r.tag === undefined };
  // The first child is answered last: a walk that waited for each answer in turn would read nothing else meanwhile.
  src.fault({ ...childGet, digest: images[0]!.digest }, { kind: 'delay', ms: 1000 });
  const r = await copy({ from: src.ref('base/multi:1'), to: [dst.ref('multi:1')], ...fakeLibraryOptions(src, dst) });
  assert.equal(r.digest, index.digest);
  const gets = src.requests({ kind: 'manifest', method: 'GET' }).filter((q) => q.digest && !q.tag);
  assert.equal(gets.length, ARCHES.length, 'each child read once');
  const first = gets.find((g) => g.digest === images[0]!.digest)!;
  const before = gets.filter((g) => g.seq <= first.answeredAfter!).length;
  assert.ok(before >= CHILD_MANIFEST_READS, `${before} child reads had arrived when the first child was answered`);
  // Written in the index's order: the platform manifests go out together, so compare what the target holds.
  for (const img of images) assert.ok(dst.manifest('multi', img.digest), `child ${img.digest} written`);
  assert.equal(dst.manifest('multi', '1')?.digest, index.digest);
});

test('a child manifest that cannot be read fails the copy with its own error; nothing written', async () => {
  const [src, dst] = [await fake(), await fake()];
  const { images } = seedMulti(src, ARCHES.length);
  src.fault({ kind: 'manifest', method: 'GET', digest: images[3]!.digest }, { kind: 'status', status: 404 });
  await assert.rejects(copy({ from: src.ref('base/multi:1'), to: [dst.ref('multi:1')], ...fakeLibraryOptions(src, dst) }), (e: unknown) => {
    const err = e as { code?: string; message?: string };
    return err.code === 'E_NOT_FOUND' && !!err.message?.includes(images[3]!.digest.slice(7, 19));
  });
  assert.equal(dst.manifest('multi', '1'), undefined);
  assert.equal(dst.requests({ kind: 'manifest', method: 'PUT' }).length, 0);
});

test('readGraph: once a child read has failed, no further read starts (the walk stops at the first failure in order)', async () => {
  const child = (i: number) => Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OCI_MANIFEST, config: { mediaType: MediaType.OCI_CONFIG, digest: `sha256:${'c'.repeat(63)}${i.toString(16)}`, size: 2 }, layers: [] }));
  const kids = Array.from({ length: CHILD_MANIFEST_READS + 4 }, (_, i) => ({ bytes: child(i), digest: sha256Digest(child(i)) }));
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests: kids.map((k) => ({ mediaType: MediaType.OCI_MANIFEST, digest: k.digest, size: k.bytes.length, platform: { os: 'linux', architecture: 'amd64' } })) }));
  const calls: string[] = [];
  const pending: Array<() => void> = [];
  const client = {
    registry: 'stub.example',
    getManifest(_repo: string, ref: string): Promise<FetchedManifest> {
      calls.push(ref);
      if (ref === 'top') return Promise.resolve({ bytes: index, mediaType: MediaType.OCI_INDEX, digest: sha256Digest(index) });
      const k = kids.find((x) => x.digest === ref)!;
      if (k === kids[0]) return Promise.reject(new NotFoundError(`manifest ${ref} not found`));
      // The others stay unanswered until the walk has failed.
      return new Promise((resolve) => pending.push(() => resolve({ bytes: k.bytes, mediaType: MediaType.OCI_MANIFEST, digest: k.digest })));
    },
  } as unknown as RegistryClient;
  await assert.rejects(readGraph(client, 'repo', 'top', { names: optionPaths('copy()') }), { name: 'NotFoundError', code: 'E_NOT_FOUND', message: /\/repo@sha256:[0-9a-f]{64} lists its linux\/amd64 image sha256:[0-9a-f]{64}, which the registry does not have/ });
  for (const release of pending) release();
  await new Promise((r) => setImmediate(r));
  // The top, then the first CHILD_MANIFEST_READS children; the slot the failed read left is not given to another.
  assert.deepEqual(calls, ['top', ...kids.slice(0, CHILD_MANIFEST_READS).map((k) => k.digest)]);
});

test('readGraph: a read that failed while a nested index was being read is the error reported, not the reads it kept from starting', async () => {
  const image = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OCI_MANIFEST, config: { mediaType: MediaType.OCI_CONFIG, digest: `sha256:${'c'.repeat(64)}`, size: 2 }, layers: [] }));
  const nested = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests: [{ mediaType: MediaType.OCI_MANIFEST, digest: sha256Digest(image), size: image.length }] }));
  const missing = `sha256:${'d'.repeat(64)}`;
  const top = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OCI_INDEX,
      manifests: [
        { mediaType: MediaType.OCI_INDEX, digest: sha256Digest(nested), size: nested.length },
        { mediaType: MediaType.OCI_MANIFEST, digest: missing, size: 2 },
      ],
    }),
  );
  const client = {
    registry: 'stub.example',
    getManifest(_repo: string, ref: string): Promise<FetchedManifest> {
      if (ref === 'top') return Promise.resolve({ bytes: top, mediaType: MediaType.OCI_INDEX, digest: sha256Digest(top) });
      if (ref === missing) return Promise.reject(new NotFoundError(`manifest ${ref} not found`));
      const bytes = ref === sha256Digest(nested) ? nested : image;
      const mediaType = ref === sha256Digest(nested) ? MediaType.OCI_INDEX : MediaType.OCI_MANIFEST;
      // The nested index is answered once the missing sibling's 404 is in: its own children are then never started.
      return new Promise((resolve) => setImmediate(() => resolve({ bytes, mediaType, digest: ref })));
    },
  } as unknown as RegistryClient;
  await assert.rejects(readGraph(client, 'repo', 'top', { names: optionPaths('copy()') }), (e: unknown) => e instanceof NotFoundError && e.code === 'E_NOT_FOUND' && (e as Error).message.includes(missing));
});

/**
 * Copies a 3-platform index whose images each have a small layer and one of SMALL_BLOB_BYTES + 1 kB.
 * With the default --jobs every upload's closing PUT is held until more than DEFAULT_JOBS have
 * arrived (an event, however slow a loaded machine is to send them), or, where the copy never sends
 * that many together, 10 s: the count then fails rather than the test hanging. With `jobs`, each PUT
 * is held 300 ms, time for a copy that ignored --jobs to send the next one meanwhile.
 */
async function copyMixed(jobs: number | undefined): Promise<{ small: LoggedRequest[]; large: LoggedRequest[] }> {
  const [src, dst] = [await fake(), await fake()];
  const big = (n: number) => bytesOf(`big ${n}`, SMALL_BLOB_BYTES + 1024);
  const imgs = ['amd64', 'arm64', 's390x'].map((architecture, i) => src.seedImage('base/mixed', { platform: { os: 'linux', architecture }, layers: [bytesOf(`small ${i}`, 2000), big(i)] }));
  src.seedIndex('base/mixed', imgs, { tags: ['1'] });
  // What goes out together shows in the log as requests that arrived before one was answered.
  let arrived = 0;
  let enough!: () => void;
  const manyArrived = new Promise<void>((resolve) => (enough = resolve));
  const giveUp = setTimeout(enough, 10_000);
  const count = () => {
    if (++arrived > DEFAULT_JOBS) enough();
    return true;
  };
  if (jobs === undefined) dst.fault({ kind: 'upload', method: 'PUT', when: count }, { kind: 'hold', until: manyArrived });
  else dst.fault({ kind: 'upload', method: 'PUT' }, { kind: 'delay', ms: 300 });
  const r = await copy({ from: src.ref('base/mixed:1'), to: [dst.ref('mixed:1')], ...(jobs === undefined ? {} : { jobs }), ...fakeLibraryOptions(src, dst) }).finally(() => clearTimeout(giveUp));
  assert.ok(r.targets[0]!.ok);
  const puts = dst.requests({ kind: 'upload', method: 'PUT' });
  const sizeOf = new Map(imgs.flatMap((i) => [...i.layers, i.config]).map((b) => [b.digest, b.size]));
  return { small: puts.filter((p) => sizeOf.get(p.digest!)! < SMALL_BLOB_BYTES), large: puts.filter((p) => sizeOf.get(p.digest!)! >= SMALL_BLOB_BYTES) };
}

/** The most requests of `reqs` that were in flight at once (arrived before the first of them was answered). */
const together = (reqs: LoggedRequest[]) => reqs.filter((p) => p.seq <= Math.min(...reqs.map((q) => q.answeredAfter!))).length;

test('with the default --jobs, small blobs move beside its slots: the configs and small layers of an index go out together', async () => {
  const { small, large } = await copyMixed(undefined);
  assert.equal(small.length, 6, 'three configs and three small layers');
  assert.equal(large.length, 3);
  assert.ok(together([...small, ...large]) > DEFAULT_JOBS, `more than --jobs (${DEFAULT_JOBS}) blobs went out together: ${together([...small, ...large])}`);
});

test('a --jobs given bounds every blob, small ones too (it may be there for a registry that cannot take more)', async () => {
  const { small, large } = await copyMixed(1);
  const all = [...small, ...large].sort((a, b) => a.seq - b.seq);
  assert.equal(all.length, 9);
  for (let i = 1; i < all.length; i++) assert.ok(all[i]!.seq > all[i - 1]!.answeredAfter!, 'each blob waited for the one before');
});

test('a streamed blob\'s source GET goes out beside its upload session\'s POST, not after its answer', async () => {
  // One registry for both sides, its mounts refused (as Docker Hub refuses some with 400): every blob streams.
  const reg = await fake();
  const img = reg.seedImage('base/app', { tags: ['1'], layers: [bytesOf('layer', 3000)] });
  reg.fault({ kind: 'upload', method: 'POST', query: { mount: true } }, { kind: 'status', status: 400, code: 'UNSUPPORTED' });
  reg.fault({ kind: 'upload', method: 'POST', when: (q) => !q.query.has('mount') }, { kind: 'delay', ms: 500 });
  const r = await copy({ from: reg.ref('base/app:1'), to: [reg.ref('app:1')], ...fakeLibraryOptions(reg) });
  assert.ok(r.targets[0]!.ok);
  for (const d of [img.config.digest, img.layers[0]!.digest]) {
    const get = reg.requests({ kind: 'blob', method: 'GET', repo: 'base/app', digest: d })[0];
    const put = reg.requests({ kind: 'upload', method: 'PUT', digest: d })[0];
    const post = reg.requests({ kind: 'upload', method: 'POST' }).find((p) => p.session === put?.session);
    assert.ok(get && put && post, `${d}: read, and written through a session`);
    // The session's POST (held 500 ms) was still unanswered when the GET arrived.
    assert.ok(get.seq <= post.answeredAfter!, `the GET of ${d} (request ${get.seq}) waited for its session's POST (request ${post.seq}, answered after request ${post.answeredAfter})`);
  }
});
