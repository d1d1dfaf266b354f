// An unchanged image costs no pull (fake registries, test/fixtures/fake-registry.ts, counting the
// source's requests): a platform subset is recognised by the record of its source its index
// carries (src/image/subset.ts), and a source named by digest is not asked at all when every
// target holds that digest. A changed source, a changed platform list or a target that lacks the
// image still gets the copy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copy, parseSyncFile, sync } from '../../src/index.js';
import { SUBSET_PLATFORMS, SUBSET_SOURCE } from '../../src/image/subset.js';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';

const fake = fakeRegistryPool();

/** A four-platform index (amd64, arm64, arm/v7, s390x) tagged `tag` in `repo`. */
function fourPlatforms(src: FakeRegistry, repo: string, tag: string, format?: 'docker', seed = '') {
  const kids = [['amd64'], ['arm64'], ['arm', 'v7'], ['s390x']].map(([architecture, variant]) =>
    src.seedImage(repo, { ...(format ? { format } : {}), platform: { os: 'linux', architecture: architecture!, ...(variant ? { variant } : {}) }, layers: [`${repo}${architecture}${variant ?? ''}${seed}`] }),
  );
  return { kids, index: src.seedIndex(repo, kids, { tags: [tag], ...(format ? { format } : {}) }) };
}

const annotationsOf = (reg: FakeRegistry, repo: string, ref: string) => (JSON.parse(reg.manifest(repo, ref)!.bytes.toString('utf8')) as { annotations?: Record<string, string> }).annotations;
const manifestGets = (reg: FakeRegistry, repo?: string) => reg.count({ kind: 'manifest', method: 'GET', ...(repo ? { repo } : {}) });

test('sync platforms: [list], re-run unchanged: no manifest GET at a source that counts pulls (the written index records its source and platforms); a changed list or source copies again', async () => {
  const src = await fake({ rateLimit: { limit: 1000, remaining: 1000 } });
  const dst = await fake();
  const oci = fourPlatforms(src, 'multi/app', '1');
  fourPlatforms(src, 'multi/old', '1', 'docker');
  const file = (platforms: string) =>
    parseSyncFile(['defaults:', `  targets: [${dst.host}/p]`, `  platforms: ${platforms}`, 'images:', `  - source: ${src.ref('multi/app:1')}`, `  - source: ${src.ref('multi/old:1')}`, ''].join('\n'), 'sync.yaml');
  // --min-ratelimit: the gate meters the source's pulls, so tags are HEADed first (as at Docker Hub).
  const opts = { spec: file('[linux/amd64, linux/arm64]'), minRateLimit: 0, ...fakeLibraryOptions(src, dst) };
  const first = await sync(opts);
  assert.equal(first.totals.copied, 2);
  const written = dst.manifest('p/multi/app', '1')!;
  assert.deepEqual(annotationsOf(dst, 'p/multi/app', '1'), { [SUBSET_SOURCE]: oci.index.digest, [SUBSET_PLATFORMS]: 'linux/amd64,linux/arm64' });
  // A Docker manifest list has no place for annotations: written without them.
  assert.equal(annotationsOf(dst, 'p/multi/old', '1'), undefined);
  for (let run = 2; run <= 3; run++) {
    src.clearLog();
    const again = await sync(opts);
    assert.deepEqual([again.totals.copied, again.totals.skipped, again.totals.failed], [0, 2, 0], `run ${run}`);
    assert.equal(manifestGets(src, 'multi/app'), 0, `run ${run}: no pull for the OCI index`);
    assert.equal(src.count({ kind: 'manifest', method: 'HEAD', repo: 'multi/app' }), 1, `run ${run}: one HEAD of its tag`);
    // The Docker list (no record) reads the source index only: the subset made from it is what the target holds.
    assert.equal(manifestGets(src, 'multi/old'), 1, `run ${run}: one pull for the Docker list`);
    assert.equal(dst.manifest('p/multi/app', '1')!.digest, written.digest);
  }
  // Another platform list: a new index, with that list in its record.
  src.clearLog();
  const other = await sync({ ...opts, spec: file('[linux/arm64, linux/s390x]') });
  assert.equal(other.totals.copied, 2);
  const moved = dst.manifest('p/multi/app', '1')!;
  assert.notEqual(moved.digest, written.digest);
  assert.equal(annotationsOf(dst, 'p/multi/app', '1')![SUBSET_PLATFORMS], 'linux/arm64,linux/s390x');
  const kept = (JSON.parse(moved.bytes.toString('utf8')) as { manifests: { digest: string }[] }).manifests.map((m) => m.digest);
  assert.deepEqual(kept, [oci.kids[1]!.digest, oci.kids[3]!.digest]);
  // The source tag moves to a new index: copied again, recording the new source digest.
  const next = fourPlatforms(src, 'multi/app', '1', undefined, '-v2');
  const changed = await sync({ ...opts, spec: file('[linux/arm64, linux/s390x]') });
  assert.equal(changed.units.find((u) => u.source.includes('multi/app'))!.targets[0]!.action, 'copied');
  assert.equal(annotationsOf(dst, 'p/multi/app', '1')![SUBSET_SOURCE], next.index.digest);
  assert.ok(dst.manifest('p/multi/app', next.kids[3]!.digest), 'the new s390x child written');
});

test('copy --platform LIST at Docker Hub (through a mirror), run again: no pull, the report still names the new index, that its digest changed and its platforms', async () => {
  const [mirror, dst] = [await fake(), await fake()];
  const { kids } = fourPlatforms(mirror, 'library/app', '1');
  const opts = { from: 'docker.io/library/app:1', to: [dst.ref('app:1')], platform: 'linux/amd64,linux/arm/v7', mirrors: { 'docker.io': [mirror.host] }, ...fakeLibraryOptions(mirror, dst) };
  const first = await copy(opts);
  assert.equal(first.digestChanged, true);
  mirror.clearLog();
  dst.clearLog();
  const again = await copy(opts);
  assert.equal(manifestGets(mirror), 0, 'no manifest GET at the source');
  assert.deepEqual(again.targets[0]!.tagsUnchanged, ['1']);
  assert.equal(again.digest, first.digest);
  assert.equal(again.digestChanged, true);
  assert.deepEqual(again.platforms?.map((p) => [p.platform, p.digest]), [['linux/amd64', kids[0]!.digest], ['linux/arm/v7', kids[2]!.digest]]);
  assert.equal(dst.count({ kind: 'manifest', method: 'PUT' }), 0, 'nothing written');
});

test('copy --platform LIST of a Docker manifest list at Docker Hub (through a mirror), run again: one pull (the list), no child read, nothing written; a target tag moved elsewhere is copied again', async () => {
  const [mirror, dst] = [await fake(), await fake()];
  const { kids, index } = fourPlatforms(mirror, 'library/old', '1', 'docker');
  const opts = { from: 'docker.io/library/old:1', to: [dst.ref('old:1')], platform: 'linux/arm64,linux/s390x', mirrors: { 'docker.io': [mirror.host] }, ...fakeLibraryOptions(mirror, dst) };
  const first = await copy(opts);
  assert.equal(first.digestChanged, true);
  mirror.clearLog();
  dst.clearLog();
  const again = await copy(opts);
  assert.deepEqual(mirror.requests({ kind: 'manifest', method: 'GET' }).map((q) => q.digest ?? q.tag), ['1'], 'the list only, by its tag');
  assert.ok(kids.every((k) => mirror.count({ kind: 'manifest', digest: k.digest }) === 0), 'no child read');
  assert.deepEqual(again.targets[0]!.tagsUnchanged, ['1']);
  assert.equal(again.digest, first.digest);
  assert.equal(dst.count({ method: ['PUT', 'POST', 'PATCH'] }), 0, 'nothing written');
  // The tag moved to another image at the target: the subset is written there again.
  dst.putManifest('old', mirror.manifest('library/old', kids[0]!.digest)!.bytes, { mediaType: kids[0]!.mediaType, tags: ['1'] });
  const moved = await copy(opts);
  assert.deepEqual(moved.targets[0]!.tagsUnchanged ?? [], []);
  assert.equal(dst.manifest('old', '1')!.digest, first.digest);
  assert.notEqual(first.digest, index.digest);
});

test('copy --platform --referrers run again with every target up to date: the kept child\'s signature stays, the source index\'s is still left behind (it names a digest the target lacks)', async () => {
  const [src, dst] = [await fake(), await fake()];
  const { kids, index } = fourPlatforms(src, 'app', '1');
  const sigTag = (d: string) => `${d.replace(':', '-')}.sig`;
  src.seedImage('app', { tags: [sigTag(index.digest)] });
  const armSig = src.seedImage('app', { tags: [sigTag(kids[1]!.digest)] });
  const opts = { from: src.ref('app:1'), to: [dst.ref('app:1')], platform: 'linux/arm64', referrers: true, ...fakeLibraryOptions(src, dst) };
  const first = await copy(opts);
  assert.deepEqual([first.targets[0]!.referrers, first.targets[0]!.referrersSkipped], [1, 1]);
  const again = await copy(opts);
  assert.deepEqual(again.targets[0]!.tagsUnchanged, ['1']);
  assert.deepEqual([again.targets[0]!.referrers, again.targets[0]!.referrersSkipped], [0, 1]); // the kept child's signature was there already
  assert.equal(dst.manifest('app', sigTag(index.digest)), undefined, 'the source index\'s signature is not at the target');
  assert.equal(dst.manifest('app', sigTag(kids[1]!.digest))?.digest, armSig.digest);
});

test('copy --platform --referrers of a Docker manifest list run again (its children not read): the kept child\'s signature is still copied, not left behind', async () => {
  const [src, dst] = [await fake(), await fake()];
  const { kids } = fourPlatforms(src, 'old', '1', 'docker');
  const sig = src.seedImage('old', { tags: [`${kids[1]!.digest.replace(':', '-')}.sig`] });
  const opts = { from: src.ref('old:1'), to: [dst.ref('old:1')], platform: 'linux/arm64', referrers: true, ...fakeLibraryOptions(src, dst) };
  const first = await copy(opts);
  src.clearLog();
  const again = await copy(opts);
  assert.equal(src.count({ kind: 'manifest', digest: kids[1]!.digest }), 0, 'the kept child not read');
  assert.deepEqual(again.targets[0]!.tagsUnchanged, ['1']);
  assert.deepEqual([first.targets[0]!.referrers, again.targets[0]!.referrers, again.targets[0]!.referrersSkipped], [1, 0, first.targets[0]!.referrersSkipped]);
  assert.equal(dst.manifest('old', sig.digest)?.digest, sig.digest);
});

test('copy --platform --no-clobber over the subset an earlier regpush wrote without its record: the record is added (the tag moves once), not refused', async () => {
  const [src, dst] = [await fake(), await fake()];
  fourPlatforms(src, 'app', '1');
  const opts = { from: src.ref('app:1'), to: [dst.ref('app:1')], platform: 'linux/amd64', noClobber: true, ...fakeLibraryOptions(src, dst) };
  const first = await copy(opts);
  // What an earlier version wrote: the same index without the two keys.
  const doc = JSON.parse(dst.manifest('app', '1')!.bytes.toString('utf8')) as { annotations?: Record<string, string> };
  delete doc.annotations;
  const old = dst.putManifest('app', Buffer.from(JSON.stringify(doc)), { mediaType: 'application/vnd.oci.image.index.v1+json', tags: ['1'] });
  assert.notEqual(old.digest, first.digest);
  const again = await copy(opts);
  assert.equal(again.targets[0]!.ok, true);
  assert.equal(dst.manifest('app', '1')!.digest, first.digest);
  // Another image under that tag is still refused.
  const other = src.seedImage('other', { tags: ['1'] });
  dst.putManifest('app', other.bytes, { mediaType: other.mediaType, tags: ['1'] });
  await assert.rejects(copy(opts), { code: 'E_EXISTS', message: /\/app:1 already points at sha256:[0-9a-f]{64} \(noClobber\)$/ });
});

test('copy --platform of a single image at Docker Hub (through a mirror), run again: no pull when the target holds it; another platform is still E_NOT_FOUND', async () => {
  const [mirror, dst] = [await fake(), await fake()];
  const img = mirror.seedImage('library/one', { tags: ['1'], platform: { os: 'linux', architecture: 'amd64' } });
  const opts = { from: 'docker.io/library/one:1', to: [dst.ref('one:1')], platform: 'linux/amd64', mirrors: { 'docker.io': [mirror.host] }, ...fakeLibraryOptions(mirror, dst) };
  await copy(opts);
  mirror.clearLog();
  const again = await copy(opts);
  assert.equal(again.digest, img.digest);
  assert.deepEqual(again.targets[0]!.tagsUnchanged, ['1']);
  assert.equal(manifestGets(mirror), 0, 'no manifest GET at the source');
  await assert.rejects(copy({ ...opts, platform: 'linux/arm64' }), { code: 'E_NOT_FOUND', message: /\/one@sha256:[0-9a-f]{64} is a single linux\/amd64 image, not linux\/arm64$/ });
});

test('sync of digest-pinned entries every target holds: the source is not asked, so a source answering 503 or short of pulls fails nothing; a target that lacks one still reads it', async () => {
  const src = await fake({ rateLimit: { limit: 1000, remaining: 1000 } });
  const dst = await fake();
  const a = src.seedImage('org/repo0', { tags: ['keep'] });
  const b = fourPlatforms(src, 'org/repo1', 'keep').index;
  const text = ['images:', `  - source: ${src.ref('org/repo0')}@${a.digest}`, `    target: ${dst.ref('pin/x:p')}`, `  - source: ${src.ref('org/repo1:keep')}@${b.digest}`, `    targets: [${dst.host}/pin2]`, ''].join('\n');
  const opts = { spec: parseSyncFile(text, 'sync.yaml'), ...fakeLibraryOptions(src, dst) };
  assert.equal((await sync(opts)).totals.copied, 2);
  src.clearLog();
  src.fault({}, { kind: 'status', status: 503, retryAfter: 0 });
  const down = await sync(opts);
  assert.deepEqual([down.totals.copied, down.totals.skipped, down.totals.failed], [0, 2, 0]);
  assert.equal(src.count(), 0, 'no request at the source');
  src.clearFaults();
  // Short of pulls (a reserve above what is left): nothing to read, nothing held back.
  assert.ok(src.rateLimitRemaining! < 1000);
  const low = await sync({ ...opts, minRateLimit: 1000 });
  assert.deepEqual([low.totals.skipped, low.totals.failed], [2, 0]);
  assert.equal(src.count(), 0);
  // The target's tag moved elsewhere: that image is read (by digest) and written again.
  const other = dst.putManifest('pin/x', src.manifest('org/repo1', b.digest)!.bytes, { mediaType: b.mediaType, tags: ['p'] });
  assert.notEqual(other.digest, a.digest);
  const moved = await sync(opts);
  assert.deepEqual([moved.totals.copied, moved.totals.skipped], [1, 1]);
  assert.equal(dst.manifest('pin/x', 'p')!.digest, a.digest);
  assert.deepEqual(src.requests({ kind: 'manifest' }).map((q) => `${q.method} ${q.digest}`), [`GET ${a.digest}`]);
});

test('copy of a source named by digest that every target holds: no request at the source; the report names the digest and its media type', async () => {
  const [src, dst] = [await fake(), await fake()];
  const { index } = fourPlatforms(src, 'app', '1');
  const opts = { from: `${src.ref('app')}@${index.digest}`, to: [dst.ref('app:1')], ...fakeLibraryOptions(src, dst) };
  await copy(opts);
  src.clearLog();
  src.fault({}, { kind: 'status', status: 503, retryAfter: 0 });
  const again = await copy(opts);
  assert.equal(src.count(), 0);
  assert.deepEqual(again.targets[0]!.tagsUnchanged, ['1']);
  assert.equal(again.digest, index.digest);
  assert.equal(again.mediaType, index.mediaType);
});

test('sync platforms: [list] of a digest-pinned index every target holds as that subset: no request at the source', async () => {
  const src = await fake();
  const dst = await fake();
  const { index } = fourPlatforms(src, 'org/app', '1');
  const text = ['images:', `  - source: ${src.ref('org/app')}@${index.digest}`, `    target: ${dst.ref('app:1')}`, '    platforms: [linux/s390x]', ''].join('\n');
  const opts = { spec: parseSyncFile(text, 'sync.yaml'), ...fakeLibraryOptions(src, dst) };
  assert.equal((await sync(opts)).totals.copied, 1);
  src.clearLog();
  src.fault({}, { kind: 'status', status: 503, retryAfter: 0 });
  const again = await sync(opts);
  assert.deepEqual([again.totals.skipped, again.totals.failed], [1, 0]);
  assert.equal(src.count(), 0);
});
