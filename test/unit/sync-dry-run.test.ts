// sync --dry-run plans what the run then does: a blob an earlier image of the run would land in a
// repository is skipped by the images after it there, and mounted into the next repository of
// that registry, as the real run does (landed blobs, transfer/types.ts), not streamed again by
// each. In-process fake registries (test/fixtures/fake-registry.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSyncFile, sync, type SyncResult } from '../../src/index.js';
import { bytesOf, fakeLibraryOptions, fakeRegistryPool } from '../fixtures/fake-registry.js';

const fake = fakeRegistryPool();

/** Per unit and target: what moved, as the report counts it. */
const moves = (r: SyncResult) => r.units.map((u) => u.targets.map((t) => `${u.source} → ${t.target}: ${t.mounted} mounted, ${t.streamed} streamed`));

for (const images of [1, 4]) {
  test(`--images ${images}: the dry run's plan (mounted, streamed, per image and in total) is what the run then moves`, async () => {
    const [src, d1, d2] = [await fake(), await fake(), await fake()];
    const base = bytesOf('shared base layer', 4000);
    // Three repositories of three tags each, every image on one base layer.
    for (const repo of ['a', 'b', 'c']) for (const tag of ['1', '2', '3']) src.seedImage(repo, { tags: [tag], layers: [base, bytesOf(`${repo}:${tag}`, 1000)] });
    const spec = parseSyncFile(['defaults:', `  targets: [${d1.host}/m, ${d2.host}/m]`, 'images:', ...['a', 'b', 'c'].map((r) => `  - { source: ${src.ref(r)}, tags: all }`), ''].join('\n'), 'sync.yaml');
    const opts = { spec, images, ...fakeLibraryOptions(src, d1, d2) };
    const plan = await sync({ ...opts, dryRun: true });
    assert.equal(d1.count({ method: ['PUT', 'POST', 'PATCH'] }) + d2.count({ method: ['PUT', 'POST', 'PATCH'] }), 0, 'the dry run wrote nothing');
    const done = await sync(opts);
    assert.equal(done.totals.copied, 18);
    // Per target registry: the base streamed once, mounted into the two other repositories, skipped
    // by the other tags of each repository; each image's own layer and config streamed.
    assert.deepEqual({ mounted: done.totals.mounted, streamed: done.totals.streamed }, { mounted: 4, streamed: 2 * (1 + 9 * 2) });
    assert.deepEqual({ mounted: plan.totals.mounted, streamed: plan.totals.streamed, bytesRead: plan.totals.bytesRead }, { mounted: done.totals.mounted, streamed: done.totals.streamed, bytesRead: done.totals.bytesRead });
    if (images === 1) assert.deepEqual(moves(plan), moves(done), 'one image at a time: the same per image');
  });
}

test('an image that fails after its blobs (its referrers unreadable): the dry run counts what it planned, as the run counts what it moved, and the bytes read from the source', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('a', { tags: ['1'], layers: [bytesOf('a1', 4000)] });
  src.fault({ method: 'GET', path: /\/referrers\// }, { kind: 'status', status: 403, code: 'DENIED' });
  const spec = parseSyncFile(['images:', `  - { source: ${src.ref('a')}, tags: ['1'], referrers: true, targets: [${dst.host}/m] }`, ''].join('\n'), 'sync.yaml');
  const opts = { spec, ...fakeLibraryOptions(src, dst) };
  const failedResult = (e: unknown): SyncResult => (e as { details: { result: SyncResult } }).details.result;
  const plan = failedResult(await sync({ ...opts, dryRun: true }).then(() => assert.fail('the dry run should fail'), (e: unknown) => e));
  const done = failedResult(await sync(opts).then(() => assert.fail('the run should fail'), (e: unknown) => e));
  const counts = (r: SyncResult) => r.units.map((u) => ({ error: u.error?.code, bytesRead: u.bytesRead, targets: u.targets.map((t) => [t.action, t.mounted, t.streamed, t.bytes]) }));
  assert.deepEqual(counts(done), [{ error: 'E_DENIED', bytesRead: done.units[0]!.targets[0]!.bytes, targets: [['failed', 0, 2, done.units[0]!.targets[0]!.bytes]] }], 'the run: config and layer streamed before the referrers failed');
  assert.ok(done.units[0]!.bytesRead > 4000);
  assert.deepEqual(counts(plan), counts(done));
  assert.equal(plan.totals.bytesRead, done.totals.bytesRead);
});
