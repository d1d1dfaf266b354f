// The engine's early move of the largest layer (TargetSet.plan / EarlyStarts.start) in a sync where one
// target repository of an image is being landed into by another image: that target waits for the
// landing outside the early move (and outside a --jobs slot), so it sends nothing for the blob
// before the landing settles and holds none of its set's other targets back. Fake registries
// (test/fixtures/fake-registry.ts); the order of the two images' steps is forced with hold
// faults, never with timings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSyncFile, sync } from '../../src/index.js';
import { bytesOf, fakeLibraryOptions, fakeRegistryPool, type FakeRegistry, type SeededImage } from '../fixtures/fake-registry.js';

const fake = fakeRegistryPool();

type SyncOpts = Parameters<typeof sync>[0];

/** The digest of the layer of `img` whose bytes are `data`. */
const digestIn = (reg: FakeRegistry, img: SeededImage, data: Buffer): string => img.layers.find((l) => reg.blob(img.repo, l.digest)?.equals(data))!.digest;

test('two targets, one being landed into by another image: the early move leaves it out; it skips the blob once landed; the other target streams meanwhile (--jobs 1, no deadlock)', { timeout: 30_000 }, async () => {
  const [src, d1, d2] = [await fake(), await fake(), await fake()];
  const large = bytesOf('shared largest layer', 300_000);
  const a = src.seedImage('a', { tags: ['1'], layers: [large, bytesOf('a small', 2000)] });
  const b = src.seedImage('shared', { tags: ['2'], layers: [large, bytesOf('b small', 3000)] });
  const X = digestIn(src, a, large);
  assert.equal(digestIn(src, b, large), X);
  // Image a lands X in d2/shared; image b writes d1/shared and d2/shared.
  const spec = parseSyncFile(
    ['images:', `  - source: ${src.ref('a:1')}`, `    target: ${d2.host}/shared`, `  - source: ${src.ref('shared:2')}`, `    targets: [${d1.host}, ${d2.host}]`, ''].join('\n'),
    'sync.yaml',
  );
  // a claims X first: b's manifest is read only once a's early upload session has been asked for
  // at d2/shared (the claim is made before that POST is sent).
  const aEarly = d2.seen({ kind: 'upload', method: 'POST', repo: 'shared' });
  src.fault({ kind: 'manifest', method: 'GET', repo: 'shared' }, { kind: 'hold', until: aEarly }, { times: 1 });
  // a's landing of X waits until b has landed X at d1: were b's move of X at d1 tied to its
  // waiting target d2/shared, neither could go on.
  const bLandedAtD1 = d1.seen({ kind: 'upload', method: 'PUT', digest: X, status: 201 });
  d2.fault({ kind: 'upload', method: 'POST', repo: 'shared' }, { kind: 'hold', until: bLandedAtD1 }, { times: 1 });
  let atRelease: { seq: number } | undefined;
  void bLandedAtD1.then(() => (atRelease = { seq: d2.log.length }));

  const r = await sync({ spec, images: 2, jobs: 1, ...fakeLibraryOptions(src, d1, d2) } as SyncOpts);
  assert.equal(r.units.filter((u) => u.ok).length, 2, JSON.stringify(r.units));
  assert.equal(r.totals.copied, 3);
  assert.equal(d2.manifest('shared', '1')?.digest, a.digest);
  assert.equal(d2.manifest('shared', '2')?.digest, b.digest);
  assert.equal(d1.manifest('shared', '2')?.digest, b.digest);

  // At d2/shared, X was asked about by both images' plans (HEAD) and uploaded once, by a: b sent
  // no mount or upload for it, before a's landing or after.
  assert.ok(atRelease, 'a\'s session was held until b landed X at d1');
  const forX = d2.requests({ repo: 'shared', digest: X });
  assert.deepEqual(forX.filter((q) => q.method !== 'HEAD').map((q) => `${q.method} ${q.kind}`), ['PUT upload'], JSON.stringify(forX));
  assert.equal(d2.count({ kind: 'upload', method: 'POST', query: { mount: true } }), 0, 'no mount into d2/shared');
  assert.equal(d2.uploadsFor(X).filter((q) => q.method === 'POST').length, 1, 'one upload session for X at d2: a\'s');
  const bAtD2 = r.units.find((u) => u.source.endsWith('/shared:2'))!.targets.find((t) => t.target.startsWith(d2.host))!;
  assert.deepEqual({ streamed: bAtD2.streamed, mounted: bAtD2.mounted }, { streamed: 2, mounted: 0 }, 'b at d2: X skipped (landed by a), its own small layer and config streamed');
  assert.equal(src.count({ kind: 'blob', method: 'GET', digest: X }), 2, 'X read once per image');
  for (const reg of [d1, d2]) assert.equal(reg.openUploads(), 0);
});

test('within one registry: the waiting target sends no mount of the blob into the repository another image is landing it in', { timeout: 30_000 }, async () => {
  const reg = await fake();
  const large = bytesOf('shared largest layer, one registry', 300_000);
  const a = reg.seedImage('a', { tags: ['1'], layers: [large, bytesOf('a small 1r', 2000)] });
  const b = reg.seedImage('shared', { tags: ['2'], layers: [large, bytesOf('b small 1r', 3000)] });
  const X = digestIn(reg, a, large);
  // a: a → m2/shared:1; b: shared → m1/shared:2 and m2/shared:2.
  const spec = parseSyncFile(
    ['images:', `  - source: ${reg.ref('a:1')}`, `    target: ${reg.host}/m2/shared`, `  - source: ${reg.ref('shared:2')}`, `    targets: [${reg.host}/m1, ${reg.host}/m2]`, ''].join('\n'),
    'sync.yaml',
  );
  const mountX = { kind: 'upload' as const, method: 'POST', repo: 'm2/shared', query: { mount: X } };
  // a claims X first (its early mount into m2/shared), and that mount is answered only once b has
  // asked m2/shared about X (a's HEAD and b's: two 404s), so b finds X missing and waits for a.
  reg.fault({ kind: 'manifest', method: 'GET', repo: 'shared' }, { kind: 'hold', until: reg.seen(mountX) }, { times: 1 });
  const headsX = { kind: 'blob' as const, method: 'HEAD', repo: 'm2/shared', digest: X, status: 404 };
  const bAsked = reg.seen({ ...headsX, when: () => reg.count(headsX) >= 2 });
  reg.fault(mountX, { kind: 'hold', until: bAsked }, { times: 1 });

  const r = await sync({ spec, images: 2, jobs: 1, ...fakeLibraryOptions(reg) } as SyncOpts);
  assert.equal(r.units.filter((u) => u.ok).length, 2, JSON.stringify(r.units));
  assert.equal(reg.manifest('m2/shared', '1')?.digest, a.digest);
  assert.equal(reg.manifest('m2/shared', '2')?.digest, b.digest);
  assert.equal(reg.manifest('m1/shared', '2')?.digest, b.digest);
  const mounts = reg.requests(mountX);
  assert.deepEqual(mounts.map((m) => m.query.from), ['a'], 'one mount of X into m2/shared: a\'s');
  const bAtM2 = r.units.find((u) => u.source.endsWith('/shared:2'))!.targets.find((t) => t.target.includes('/m2/'))!;
  assert.equal(bAtM2.mounted, 2, 'b at m2/shared: its small layer and config mounted, X skipped');
  assert.equal(reg.openUploads(), 0);
});

test('a target set aside while its other blobs are still being planned claims none of them: its image\'s target in the same registry does not wait for a landing that never comes', { timeout: 30_000 }, async () => {
  const [src, dst] = [await fake(), await fake()];
  const large = bytesOf('largest layer, moved early', 300_000);
  const img = src.seedImage('app', { tags: ['1'], layers: [large, bytesOf('small layer', 2000)] });
  const X = digestIn(src, img, large);
  const spec = parseSyncFile(['images:', `  - source: ${src.ref('app:1')}`, `    targets: [${dst.host}/denied, ${dst.host}/ok]`, ''].join('\n'), 'sync.yaml');
  // denied/app refuses every upload: its early session for X fails and sets it aside. Its HEADs
  // of the other blobs are answered only after that, and ok/app's only once the client has read
  // denied/app's answer for that blob: the plans of a failed target come first.
  dst.fault({ kind: 'upload', repo: 'denied/app' }, { kind: 'status', status: 403, code: 'DENIED', message: 'requested access to the resource is denied' });
  let setAside!: () => void;
  const aside = new Promise<void>((resolve) => (setAside = resolve));
  dst.fault({ kind: 'blob', method: 'HEAD', repo: 'denied/app', when: (q) => q.digest !== X }, { kind: 'hold', until: aside });
  const planned = new Map<string, () => void>();
  const plannedAtDenied = (digest: string) => new Promise<void>((resolve) => planned.set(digest, resolve));
  for (const d of [img.config, ...img.layers].filter((b) => b.digest !== X)) {
    dst.fault({ kind: 'blob', method: 'HEAD', repo: 'ok/app', digest: d.digest }, { kind: 'hold', until: plannedAtDenied(d.digest) });
  }
  const logger = {
    info() {},
    warn: (m: string) => void (m.includes('/denied/app:1: ') && setAside()),
    debug: (m: string) => {
      const answered = /^http HEAD \S+\/v2\/denied\/app\/blobs\/(sha256:[0-9a-f]{64}) → 404/.exec(m);
      if (answered) planned.get(answered[1]!)?.();
    },
  };

  const err = await sync({ spec, retries: 0, logger, ...fakeLibraryOptions(src, dst) } as SyncOpts).then(() => undefined, (e: unknown) => e);
  assert.equal((err as { code?: string })?.code, 'E_PARTIAL', String(err));
  assert.equal(dst.manifest('ok/app', '1')?.digest, img.digest, 'the other target got the image');
  assert.equal(dst.manifest('denied/app', '1'), undefined);
  assert.equal(dst.openUploads(), 0);
});
