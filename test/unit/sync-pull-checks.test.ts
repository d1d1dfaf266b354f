// What a sync asks a source before it knows whether that registry counts pulls (fake registries,
// test/fixtures/fake-registry.ts: with `rateLimit` every manifest answer carries the headers and a
// manifest GET is a pull, a HEAD is not; without it no answer carries them). Docker Hub is known
// by name; any other registry only once it has answered a manifest request. Until then sync HEADs
// the source first (ImageCopyOptions.headUntilKnown), so the first --images images, which start
// together, spend no pull on an image their targets hold — and, where the limit is used up, do not
// fail it with a 429. A registry that counts none is read with a GET at once again from its first
// answer on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSyncFile, sync, type RegpushError, type SyncResult } from '../../src/index.js';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';

const fake = fakeRegistryPool();

type SyncOpts = Parameters<typeof sync>[0];
const quiet = { debug() {}, info() {}, warn() {} };

/** `n` single-platform images `org/app0:1` … synced to `dst`/m; the options of that sync (default --images 4). */
function mirrored(src: FakeRegistry, dst: FakeRegistry, n: number): SyncOpts {
  for (let i = 0; i < n; i++) src.seedImage(`org/app${i}`, { tags: ['1'] });
  const text = ['defaults:', `  targets: [${dst.host}/m]`, 'images:', ...Array.from({ length: n }, (_, i) => `  - source: ${src.ref(`org/app${i}:1`)}`), ''].join('\n');
  return { spec: parseSyncFile(text, 'sync.yaml'), retries: 0, logger: quiet, ...fakeLibraryOptions(src, dst) } as SyncOpts;
}

const manifestReads = (reg: FakeRegistry, method: 'GET' | 'HEAD') => reg.count({ kind: 'manifest', method });

test('sync at a registry not heard from yet that counts pulls, its limit used up: the unchanged images started with the first are up to date after HEADs; only the changed one fails, with the one refused GET', async () => {
  const src = await fake({ rateLimit: { limit: 100, remaining: 100 } });
  const dst = await fake();
  const opts = mirrored(src, dst, 6);
  await sync(opts);
  // app1, among the first four to start, has changed since; the limit is used up.
  src.seedImage('org/app1', { tags: ['1'] });
  (src as unknown as { rateLimitRemaining: number }).rateLimitRemaining = 0;
  src.clearLog();
  const err = await sync(opts).then(
    () => undefined,
    (e: RegpushError) => e,
  );
  assert.equal(err?.code, 'E_TOO_MANY_REQUESTS', String(err));
  const r = (err!.details as { result: SyncResult }).result;
  const outcome = Object.fromEntries(r.units.map((u) => [u.source.split('/').slice(1).join('/'), u.ok ? u.targets[0]!.action : u.error!.code]));
  assert.deepEqual(outcome, {
    'org/app0:1': 'skipped',
    'org/app1:1': 'E_TOO_MANY_REQUESTS',
    'org/app2:1': 'skipped',
    'org/app3:1': 'skipped',
    'org/app4:1': 'skipped',
    'org/app5:1': 'skipped',
  });
  // Until this fix app0–app3 read their manifests with a GET at once: four 429s, three of them
  // failing images the target held.
  assert.deepEqual(
    src.requests({ kind: 'manifest', method: 'GET' }).map((q) => [q.repo, q.status]),
    [['org/app1', 429]],
    'one GET: the changed image\'s, refused',
  );
  assert.equal(manifestReads(src, 'HEAD'), 6, 'a HEAD per image');
});

test('sync at a registry that counts no pulls: only the images started before its first answer HEAD the source; no request more on an unchanged re-run, a HEAD more per such image on a cold one', async () => {
  const src = await fake();
  const dst = await fake();
  const opts = mirrored(src, dst, 8);
  const cold = await sync(opts);
  assert.equal(cold.totals.copied, 8);
  // The first four (--images) start together, before any answer: HEAD first. The rest start once
  // one has ended, the registry heard from without rate-limit headers: GET at once, the graph read
  // from that answer. So 8 GETs of manifests (one per image: none has children) and 4 HEADs more.
  assert.equal(manifestReads(src, 'HEAD'), 4);
  assert.equal(manifestReads(src, 'GET'), 8);
  src.clearLog();
  dst.clearLog();
  const again = await sync(opts);
  assert.equal(again.totals.skipped, 8);
  // One request per image at the source, as when every image read its manifest at once.
  assert.equal(manifestReads(src, 'HEAD'), 4);
  assert.equal(manifestReads(src, 'GET'), 4);
  assert.equal(src.count(), 8);
  assert.equal(dst.count(), 8, 'a HEAD per target tag');
});
