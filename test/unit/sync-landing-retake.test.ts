// Several images of a sync waiting on one landing in one repository, and that landing fails: one
// of them lands the blob and claims it, and the others wait for that landing in their turn instead
// of each streaming the blob into the repository at once (distribution/distribution#4489, the
// concurrent write LandedBlobs exists to prevent). Fake registries (test/fixtures/fake-registry.ts);
// the order of the images' steps is forced with hold faults and a held answer, never with timings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { failureResult, parseSyncFile, sync } from '../../src/index.js';
import { bytesOf, fakeLibraryOptions, fakeRegistryPool, type FakeRegistry, type SeededImage } from '../fixtures/fake-registry.js';

const fake = fakeRegistryPool();

type SyncOpts = Parameters<typeof sync>[0];

const digestIn = (reg: FakeRegistry, img: SeededImage, data: Buffer): string => img.layers.find((l) => reg.blob(img.repo, l.digest)?.equals(data))!.digest;

test('three images into one repository, the first landing of their shared layer fails: one of the two waiting re-lands it, the other waits for that (two uploads of it, not three)', { timeout: 30_000 }, async () => {
  const [src, dst] = [await fake(), await fake()];
  const large = bytesOf('shared layer, landing retaken', 300_000);
  const imgs = ['a', 'b', 'c'].map((n, i) => src.seedImage(n, { tags: [String(i + 1)], layers: [large, bytesOf(`${n} own layer`, 2000 + i)] }));
  const X = digestIn(src, imgs[0]!, large);
  const spec = parseSyncFile(['images:', ...imgs.map((img, i) => `  - source: ${src.ref(`${img.repo}:${i + 1}`)}\n    target: ${dst.host}/shared`), ''].join('\n'), 'sync.yaml');
  // a claims X first: b's and c's manifests are read only once a's early upload session has been
  // asked for at dst/shared (the claim is made before that POST is sent).
  const aEarly = dst.seen({ kind: 'upload', method: 'POST', repo: 'shared' });
  for (const repo of ['b', 'c']) src.fault({ kind: 'manifest', method: 'GET', repo }, { kind: 'hold', until: aEarly }, { times: 1 });
  // a's upload of X is refused (403, not retried), once all three images have found X missing at
  // dst/shared: b and c are both waiting for a's landing when it fails.
  const headsX = { kind: 'blob' as const, method: 'HEAD', repo: 'shared', digest: X, status: 404 };
  const allAsked = dst.seen({ ...headsX, when: () => dst.count(headsX) >= 3 });
  const refused = dst.fault(
    { kind: 'upload', method: 'PUT', repo: 'shared', digest: X },
    {
      kind: 'respond',
      respond: (_req, _body, res) =>
        void allAsked.then(() => {
          res.writeHead(403, { 'content-type': 'application/json' });
          res.end('{"errors":[{"code":"DENIED","message":"not now"}]}');
        }),
    },
    { times: 1 },
  );

  // a's image fails (its target refused X): sync rejects with the partial result.
  const r = await sync({ spec, images: 3, jobs: 2, ...fakeLibraryOptions(src, dst) } as SyncOpts).then(
    () => assert.fail('sync resolved though a failed'),
    (err: unknown) => failureResult(err, 'sync') ?? assert.fail(String(err)),
  );
  assert.equal(refused.hits, 1);
  const ok = r.units.filter((u) => u.ok).map((u) => u.source);
  assert.deepEqual(ok.sort(), [src.ref('b:2'), src.ref('c:3')], JSON.stringify(r.units));
  assert.equal(dst.manifest('shared', '2')?.digest, imgs[1]!.digest);
  assert.equal(dst.manifest('shared', '3')?.digest, imgs[2]!.digest);
  // X reached dst/shared in two uploads: a's, refused, and one of b and c; the other skipped it.
  const puts = dst.requests({ kind: 'upload', method: 'PUT', repo: 'shared', digest: X });
  assert.equal(puts.length, 2, JSON.stringify(dst.requests({ repo: 'shared', digest: X })));
  assert.equal(dst.uploadsFor(X).filter((q) => q.method === 'POST' && !q.query.mount).length, 2, 'two upload sessions for X');
  const streamedX = r.units.filter((u) => u.ok).map((u) => u.targets[0]!.streamed);
  assert.deepEqual(streamedX.sort(), [2, 3], 'one of b and c streamed X (and its own layer and config), the other only its own two');
  assert.equal(dst.openUploads(), 0);
});
