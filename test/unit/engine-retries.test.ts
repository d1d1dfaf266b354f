// How many times a target is asked when its uploads keep failing. The rule: with `retries: N`,
// each request kind (POST, PATCH, PUT on /blobs/uploads/) reaches the target at most N+1 times
// per blob: one retry level, whole-transfer restarts and transport retries sharing one budget.
// Each scenario moves exactly one blob, so the per-blob count is the target's total.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copy, push, type RegpushError } from '../../src/index.js';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';

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
    await assert.rejects(copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], retries: RETRIES, ...fakeLibraryOptions(src, dst) }), (e: RegpushError) =>
      e.message.includes('500'),
    );
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
    await assert.rejects(push({ from: 'scratch', to: dst.ref('app:1'), app: [{ src: d, dest: '/app' }], retries: RETRIES, ...fakeLibraryOptions(dst) }));
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
  await assert.rejects(copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], retries: RETRIES, ...fakeLibraryOptions(src, dst) }));
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
