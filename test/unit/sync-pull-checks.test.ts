// What a sync asks a source before it knows whether that registry counts pulls (fake registries,
// test/fixtures/fake-registry.ts: with `rateLimit` every manifest answer carries the headers and a
// manifest GET is a pull, a HEAD is not; without it no answer carries them). Docker Hub is known
// by name; any other registry only once it has answered a manifest request. Until then sync HEADs
// the source first (ImageCopyOptions.headUntilKnown), so the first --images images, which start
// together, spend no pull on an image their targets hold — and, where the limit is used up, do not
// fail it with a 429. A registry that counts none is read with a GET at once again from its first
// answer on. Pinned entries with `referrers: true` spend no pull on an unchanged re-run either, and
// a source without the referrers API is asked it once, not once per subject; what stays on such a
// re-run at a target without the API (asked once per repository, then each fallback index read)
// is pinned down too.
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

/** The source's and the target's requests, as `METHOD kind ref` sorted (tags as written, digests short). */
const described = (reg: FakeRegistry) => reg.log.map((q) => `${q.method} ${q.kind} ${q.tag ?? q.digest?.slice(0, 19) ?? ''}`.trim()).sort();
const cosignTag = (digest: string, kind: 'sig' | 'att') => `${digest.replace(':', '-')}.${kind}`;

for (const pin of ['digest', 'tag'] as const) {
  test(`sync of an entry pinned by ${pin} with referrers: true, re-run unchanged at a source that counts pulls and has no referrers API: no pull, the API asked once, and only what finds new referrers`, async () => {
    const src = await fake({ rateLimit: { limit: 100, remaining: 100 }, referrers: false });
    const dst = await fake({ referrers: false });
    const img = src.seedImage('org/app', { tags: ['1'] });
    src.seedImage('org/app', { tags: ['other'] });
    const sig = src.seedImage('org/app', { tags: [cosignTag(img.digest, 'sig')] });
    const att = src.seedImage('org/app', { tags: [cosignTag(img.digest, 'att')] });
    const source = pin === 'digest' ? `${src.ref('org/app')}@${img.digest}` : src.ref('org/app:1');
    const text = ['images:', `  - source: ${source}`, `    target: ${dst.ref('m/app:1')}`, '    referrers: true', ''].join('\n');
    const opts = { spec: parseSyncFile(text, 'sync.yaml'), logger: quiet, ...fakeLibraryOptions(src, dst) } as SyncOpts;
    const first = await sync(opts);
    assert.equal(first.totals.referrers, 2);
    src.clearLog();
    dst.clearLog();
    const again = await sync(opts);
    assert.deepEqual([again.totals.skipped, again.totals.referrers], [1, 0]); // both referrers were there already
    assert.equal(src.count({ kind: 'manifest', method: 'GET' }), 0, 'no pull');
    // What a re-run needs at the source: the image's digest (nothing, when pinned by digest), the
    // tag list (cosign's tags, which no referrers API lists), the referrers API for the image (it
    // answers "none here": not asked again for the signature and the attestation), and the digest
    // each cosign tag points at now (a new signature moves it). At the target: its tags.
    // Until this fix the cosign tags were read with GETs (pulls) where pinned by digest, the tag
    // `1` where pinned by tag, and the API asked for each referrer too.
    const short = (d: string) => d.slice(0, 19);
    assert.deepEqual(
      described(src),
      [
        ...(pin === 'tag' ? ['HEAD manifest 1'] : []),
        'GET tags',
        `GET referrers ${short(img.digest)}`,
        `HEAD manifest ${cosignTag(img.digest, 'sig')}`,
        `HEAD manifest ${cosignTag(img.digest, 'att')}`,
      ].sort(),
    );
    assert.deepEqual(described(dst), ['HEAD manifest 1', `HEAD manifest ${cosignTag(img.digest, 'sig')}`, `HEAD manifest ${cosignTag(img.digest, 'att')}`].sort());
    assert.equal(dst.manifest('m/app', cosignTag(img.digest, 'sig'))?.digest, sig.digest);
    assert.equal(dst.manifest('m/app', cosignTag(img.digest, 'att'))?.digest, att.digest);
  });
}

test('sync referrers: true, re-run unchanged with referrers found by digest, to a target without the referrers API: the target is asked whether it has the API once for its repository, then each subject\'s fallback index is read; nothing written', async () => {
  const src = await fake({ rateLimit: { limit: 100, remaining: 100 } });
  const dst = await fake({ referrers: false });
  const sboms = ['1', '2'].map((tag) => {
    const img = src.seedImage('org/app', { tags: [tag] });
    return src.seedImage('org/app', { artifactType: 'application/spdx+json', subject: { mediaType: img.mediaType, digest: img.digest, size: img.size } });
  });
  const text = ['images:', `  - source: ${src.ref('org/app')}`, '    tags: ["1", "2"]', `    target: ${dst.host}/m/app`, '    referrers: true', ''].join('\n');
  const opts = { spec: parseSyncFile(text, 'sync.yaml'), logger: quiet, ...fakeLibraryOptions(src, dst) } as SyncOpts;
  assert.equal((await sync(opts)).totals.referrers, 2);
  src.clearLog();
  dst.clearLog();
  const again = await sync(opts);
  assert.deepEqual([again.totals.skipped, again.totals.referrers], [2, 0]); // both were there already
  assert.equal(src.count({ kind: 'manifest', method: 'GET' }), 0, 'no pull');
  // The HEADs that find each SBOM at the target cannot tell whether its subject's fallback index
  // lists it (a run cut short between the two writes): where the target has no API, that index is
  // read. Whether it has one is asked once for the repository, not per image or subject.
  assert.equal(dst.count({ kind: 'referrers' }), 1);
  assert.equal(dst.count({ kind: 'manifest', method: 'GET', when: (q) => /^sha256-[0-9a-f]{64}$/.test(q.tag ?? '') }), 2, 'each subject\'s fallback index');
  assert.equal(dst.count({ kind: 'manifest', method: 'HEAD' }), 2 + sboms.length, 'the two tags and the two SBOMs');
  assert.equal(dst.requests().filter((q) => q.method !== 'GET' && q.method !== 'HEAD').length, 0, 'nothing written');
});

test('copy --all-tags at a registry not heard from yet that counts pulls: an unchanged re-run HEADs each tag and spends no pull (the first --images tags start before any answer)', async () => {
  const { copy } = await import('../../src/index.js');
  const src = await fake({ rateLimit: { limit: 100, remaining: 100 } });
  const dst = await fake();
  src.seedImage('org/app', { tags: ['1', '2', '3', '4', '5', '6'] });
  const opts = { from: src.ref('org/app'), to: [`${dst.host}/m/app`], allTags: true, images: 4, retries: 0, logger: quiet, ...fakeLibraryOptions(src, dst) };
  await copy(opts);
  src.clearLog();
  await copy(opts);
  // Without HEAD first the first four tags read their manifests with a GET at once: four pulls.
  assert.equal(manifestReads(src, 'GET'), 0, 'no pull');
  assert.equal(manifestReads(src, 'HEAD'), 6, 'a HEAD per tag');
});
