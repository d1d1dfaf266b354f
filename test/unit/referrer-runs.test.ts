// Referrers across the images of one run (copy --all-tags, sync), against fake registries
// (test/fixtures/fake-registry.ts): the source's tag list is read once per repository, not once
// per image; the fallback tags `sha256-<hex>` (and cosign's .sig/.att/.sbom) are left to the walk,
// which merges, instead of being copied over the target's as tags; a referrer an interrupted run
// wrote and did not list is listed by the next; a referrer listed and gone is skipped with a
// warning; and requests asked once suffice (a target's referrers API, --no-clobber's HEADs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copy, parseSyncFile, sync, type RegpushError } from '../../src/index.js';
import { fakeLibraryOptions, fakeRegistryPool, MT } from '../fixtures/fake-registry.js';

const fake = fakeRegistryPool();
type SyncOpts = Parameters<typeof sync>[0];
const quiet = { info: () => undefined, debug: () => undefined, warn: () => undefined };
const syncFile = (lines: string[]) => parseSyncFile(['images:', ...lines, ''].join('\n'), 'sync.yaml');

test('copy --all-tags --referrers and sync tags: all with referrers: the source\'s tag list is read once for the run, not once more per image', async () => {
  for (const how of ['copy', 'sync'] as const) {
    const [src, dst] = [await fake({ maxTagPage: 10 }), await fake()];
    for (let i = 0; i < 30; i++) src.seedImage('app', { tags: [`v${String(i).padStart(2, '0')}`], layers: [`layer ${i}`] });
    if (how === 'copy') {
      const r = await copy({ from: src.ref('app'), to: [dst.ref('app')], allTags: true, referrers: true, ...fakeLibraryOptions(src, dst) });
      assert.equal(r.targets[0]!.tags.length, 30);
    } else {
      const spec = syncFile([`  - source: ${src.host}/app`, '    tags: all', `    target: ${dst.host}/app`, '    referrers: true']);
      const r = await sync({ spec, logger: quiet, ...fakeLibraryOptions(src, dst) } as SyncOpts);
      assert.equal(r.units.filter((u) => u.ok).length, 30);
    }
    assert.equal(src.count({ kind: 'tags' }), 3, `${how}: the three pages of one list`);
    assert.equal(src.count({ kind: 'referrers' }), 30, `${how}: each image's referrers still asked for`);
  }
});

test('sync with referrers and tags listed by name: the tag list the walk needs is read once per source repository', async () => {
  const [src, dst] = [await fake(), await fake()];
  for (const tag of ['a', 'b', 'c']) src.seedImage('app', { tags: [tag], layers: [tag] });
  const spec = syncFile([`  - source: ${src.host}/app`, '    tags: [a, b, c]', `    target: ${dst.host}/app`, '    referrers: true']);
  const r = await sync({ spec, logger: quiet, ...fakeLibraryOptions(src, dst) } as SyncOpts);
  assert.ok(r.units.every((u) => u.ok));
  assert.equal(src.count({ kind: 'tags' }), 1);
});

/**
 * app:1 at `src` (no referrers API there when `api` is false) with an SBOM listed in its fallback
 * index `sha256-<hex>` and cosign's signature tag; at `dst`, a scan of the same image that only
 * the target lists, in its own fallback index.
 */
function fallbackScene(src: Awaited<ReturnType<typeof fake>>, dst: Awaited<ReturnType<typeof fake>>) {
  const img = src.seedImage('app', { tags: ['1'] });
  const fallbackTag = img.digest.replace(':', '-');
  const subject = { mediaType: img.mediaType, digest: img.digest, size: img.size };
  const sbom = src.seedImage('app', { artifactType: 'application/spdx+json', subject });
  const entry = (m: { mediaType: string; digest: string; size: number }, artifactType: string) => ({ mediaType: m.mediaType, digest: m.digest, size: m.size, artifactType });
  src.putManifest('app', { schemaVersion: 2, mediaType: MT.ociIndex, manifests: [entry(sbom, 'application/spdx+json')] }, { tags: [fallbackTag] });
  const sig = src.seedImage('app', { tags: [`${fallbackTag}.sig`] });
  const own = dst.seedImage('app', { artifactType: 'application/vnd.example.scan+json', subject });
  dst.putManifest('app', { schemaVersion: 2, mediaType: MT.ociIndex, manifests: [entry(own, 'application/vnd.example.scan+json')] }, { tags: [fallbackTag] });
  const listed = () => (JSON.parse(dst.manifest('app', fallbackTag)!.bytes.toString('utf8')) as { manifests: { digest: string }[] }).manifests.map((m) => m.digest);
  return { img, fallbackTag, sbom, sig, own, listed };
}

test('copy --all-tags --referrers and sync tags: all with referrers: the source\'s sha256-<hex> fallback index and cosign tags are not copied as tags over the target\'s; the walk merges, so what only the target lists stays', async () => {
  for (const how of ['copy', 'sync'] as const) {
    const [src, dst] = [await fake({ referrers: false }), await fake({ referrers: false })];
    const { img, fallbackTag, sbom, sig, own, listed } = fallbackScene(src, dst);
    if (how === 'copy') {
      const r = await copy({ from: src.ref('app'), to: [dst.ref('app')], allTags: true, referrers: true, ...fakeLibraryOptions(src, dst) });
      assert.deepEqual(r.targets[0]!.tags, ['1'], 'copy: the referrer tags are not tags of their own');
      assert.equal(r.targets[0]!.referrers, 2);
    } else {
      const spec = syncFile([`  - source: ${src.host}/app`, '    tags: all', `    target: ${dst.host}/app`, '    referrers: true']);
      const r = await sync({ spec, logger: quiet, ...fakeLibraryOptions(src, dst) } as SyncOpts);
      assert.deepEqual(r.units.map((u) => [u.source, u.ok, u.targets[0]!.referrers]), [[src.ref('app:1'), true, 2]], 'sync: one unit, app:1');
    }
    assert.deepEqual(listed(), [own.digest, sbom.digest], `${how}: the target's scan stays, the source's SBOM is merged in`);
    assert.equal(dst.count({ kind: 'manifest', method: 'PUT', when: (q) => q.tag === fallbackTag }), 1, `${how}: one write of the index, the merge`);
    assert.equal(dst.manifest('app', `${fallbackTag}.sig`)?.digest, sig.digest, `${how}: the signature comes with its image`);
    assert.equal(dst.manifest('app', '1')?.digest, img.digest);
  }
});

test('copy --all-tags without --referrers: the sha256-<hex> tags are ordinary tags, copied as they are', async () => {
  const [src, dst] = [await fake({ referrers: false }), await fake({ referrers: false })];
  const { fallbackTag, sbom, listed } = fallbackScene(src, dst);
  const r = await copy({ from: src.ref('app'), to: [dst.ref('app')], allTags: true, ...fakeLibraryOptions(src, dst) });
  assert.deepEqual(r.targets[0]!.tags, ['1', fallbackTag, `${fallbackTag}.sig`]);
  assert.deepEqual(listed(), [sbom.digest], 'the source\'s index, as it is');
});

test('copy --all-tags --referrers of a repository holding only referrer tags: "has no tags" says why (E_NOT_FOUND: nothing to copy is there)', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('app', { tags: [`sha256-${'a'.repeat(64)}.sig`] });
  await assert.rejects(copy({ from: src.ref('app'), to: [dst.ref('app')], allTags: true, referrers: true, ...fakeLibraryOptions(src, dst) }), (e: Error) =>
    (e as RegpushError).code === 'E_NOT_FOUND' &&
    /app has no tags other than referrers' \(sha256-<hex>, \.sig, \.att, \.sbom\), which referrers copies with the images they refer to$/.test(e.message),
  );
});

test('copy --referrers after a run whose fallback index write failed: the referrer it copied is listed by the next run, and a run that finds it listed writes nothing', async () => {
  const [src, dst] = [await fake(), await fake({ referrers: false })];
  const img = src.seedImage('app', { tags: ['1'] });
  const sbom = src.seedImage('app', { artifactType: 'application/spdx+json', subject: { mediaType: img.mediaType, digest: img.digest, size: img.size } });
  const fallbackTag = img.digest.replace(':', '-');
  const indexPut = { kind: 'manifest' as const, method: 'PUT', when: (q: { tag?: string }) => q.tag === fallbackTag };
  dst.fault(indexPut, { kind: 'status', status: 500 });
  await assert.rejects(copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], referrers: true, retries: 0, ...fakeLibraryOptions(src, dst) }), { code: 'E_REGISTRY', message: new RegExp(fallbackTag) });
  dst.clearFaults();
  assert.ok(dst.manifest('app', sbom.digest), 'the first run wrote the referrer');
  assert.equal(dst.manifest('app', fallbackTag), undefined, 'and not the index');

  dst.clearLog();
  const r = await copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], referrers: true, ...fakeLibraryOptions(src, dst) });
  assert.equal(r.targets[0]!.referrers, 0, 'held already: listed, not copied');
  assert.equal(dst.count({ kind: 'manifest', method: 'PUT', when: (q) => q.digest === sbom.digest }), 0, 'the referrer is not written again');
  const index = JSON.parse(dst.manifest('app', fallbackTag)!.bytes.toString('utf8')) as { manifests: { digest: string; mediaType: string; size: number; artifactType?: string }[] };
  assert.deepEqual(index.manifests, [{ mediaType: sbom.mediaType, digest: sbom.digest, size: sbom.size, artifactType: 'application/spdx+json' }], 'listed as a fresh copy lists it');

  dst.clearLog();
  await copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], referrers: true, ...fakeLibraryOptions(src, dst) });
  assert.equal(dst.count(indexPut), 0, 'listed already: nothing written');
  assert.equal(dst.count({ kind: 'manifest', method: 'GET', when: (q) => q.digest === sbom.digest }), 0, 'nor the referrer read there');
});

test('copy --referrers of a signed multi-platform index: the target\'s referrers API is asked once for the run, not once per subject', async () => {
  for (const api of [true, false]) {
    const [src, dst] = [await fake(), await fake({ referrers: api })];
    const images = ['amd64', 'arm64', 'ppc64le', 's390x'].map((architecture) => src.seedImage('app', { platform: { os: 'linux', architecture } }));
    const index = src.seedIndex('app', images, { tags: ['1'] });
    for (const s of [index, ...images]) src.seedImage('app', { artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json', subject: { mediaType: s.mediaType, digest: s.digest, size: s.size } });
    const r = await copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], referrers: true, ...fakeLibraryOptions(src, dst) });
    assert.equal(r.targets[0]!.referrers, 5);
    assert.equal(dst.count({ kind: 'referrers' }), 1, `target ${api ? 'with' : 'without'} the API: asked once`);
    const fallbackReads = dst.count({ kind: 'manifest', method: 'GET', when: (q) => /^sha256-/.test(q.tag ?? '') });
    assert.equal(fallbackReads, api ? 0 : 5, 'without the API, one fallback index per subject');
  }
});

test('copy and sync --referrers: a referrer listed and gone from the source (a stale listing) is left behind with a warning naming it and its subject, and counted; the image and its other referrers are copied', async () => {
  for (const how of ['copy', 'copy to two', 'sync'] as const) {
    const [src, dst] = [await fake(), await fake()];
    const img = src.seedImage('app', { tags: ['1'] });
    const good = src.seedImage('app', { artifactType: 'application/spdx+json', subject: { mediaType: img.mediaType, digest: img.digest, size: img.size } });
    const gone = `sha256:${'ab'.repeat(32)}`;
    src.fault({ kind: 'referrers', digest: img.digest }, {
      kind: 'respond',
      respond: (_q, _b, res) => {
        res.writeHead(200, { 'content-type': MT.ociIndex });
        res.end(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: [{ mediaType: MT.ociManifest, digest: gone, size: 100 }, { mediaType: good.mediaType, digest: good.digest, size: good.size }] }));
      },
    });
    const warnings: string[] = [];
    const logger = { info: () => undefined, debug: () => undefined, warn: (m: string) => void warnings.push(m) };
    let counts: number[][];
    if (how === 'sync') {
      const spec = syncFile([`  - source: ${src.ref('app:1')}`, `    target: ${dst.host}/app`, '    referrers: true']);
      const r = await sync({ spec, logger, ...fakeLibraryOptions(src, dst) } as SyncOpts);
      assert.ok(r.units.every((u) => u.ok), JSON.stringify(r.units));
      counts = r.units[0]!.targets.map((t) => [t.referrers, t.referrersSkipped]);
    } else {
      const to = how === 'copy' ? [dst.ref('app:1')] : [dst.ref('app:1'), dst.ref('other:1')];
      const r = await copy({ from: src.ref('app:1'), to, referrers: true, ...fakeLibraryOptions(src, dst), logger });
      assert.ok(r.targets.every((t) => t.ok));
      counts = r.targets.map((t) => [t.referrers, t.referrersSkipped]);
    }
    assert.deepEqual(counts, how === 'copy to two' ? [[1, 1], [1, 1]] : [[1, 1]], how);
    assert.equal(dst.manifest('app', '1')?.digest, img.digest);
    assert.ok(dst.manifest('app', good.digest), `${how}: the other referrer is copied`);
    const said = warnings.filter((w) => w.includes(gone));
    assert.equal(said.length, 1, warnings.join(' | '));
    // sync's, the first of its kind in the run, says the later images' are not warned of again.
    const later = how === 'sync' ? ' (later images with referrers listed and gone at this registry are not warned of again: each image\'s result counts its referrers left behind, and --json names them)' : '';
    assert.ok(said[0]!.endsWith(`referrer ${gone} of ${src.host}/app@${img.digest} is listed but not in the repository (a stale listing): not copied${later}`), said[0]);
  }
});

test('copy --referrers: a referrer whose own manifest is there but cannot be read in full (a blob gone) still fails the copy', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('app', { tags: ['1'] });
  const broken = src.seedImage('app', { artifactType: 'application/spdx+json', layers: ['the sbom'], subject: { mediaType: img.mediaType, digest: img.digest, size: img.size } });
  src.forgetBlob('app', broken.layers[0]!.digest);
  await assert.rejects(copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], referrers: true, retries: 0, ...fakeLibraryOptions(src, dst) }), { code: 'E_NOT_FOUND', message: /^GET blob \S+\/app@sha256:[0-9a-f]{64}: \S+ answered 404 BLOB_UNKNOWN/ });
});

test('copy --referrers --no-clobber: a referrer\'s tag is asked for once at each target and the source read once, first copy and re-run alike', async () => {
  const [src, dst, theirs] = [await fake(), await fake(), await fake()];
  const img = src.seedImage('app', { layers: ['the app'], tags: ['1'] });
  const sigTag = `${img.digest.replace(':', '-')}.sig`;
  src.seedImage('app', { layers: ['signed at the source'], tags: [sigTag] });
  theirs.seedImage('app', { layers: ['the app'], tags: ['1'] });
  const own = theirs.seedImage('app', { layers: ['signed at the target'], tags: [sigTag] });
  const sigRequests = (reg: typeof src, method: string) => reg.count({ kind: 'manifest', method, when: (q) => q.tag === sigTag });
  for (const run of ['first copy', 're-run']) {
    for (const reg of [src, dst, theirs]) reg.clearLog();
    const r = await copy({ from: src.ref('app:1'), to: [dst.ref('app:1'), theirs.ref('app:1')], referrers: true, noClobber: true, ...fakeLibraryOptions(src, dst, theirs) });
    // Copied to dst the first time only (the re-run finds it there); kept at theirs both times.
    assert.deepEqual(r.targets.map((t) => [t.referrers, t.referrersSkipped]), [[run === 'first copy' ? 1 : 0, 0], [0, 1]], run);
    assert.equal(sigRequests(dst, 'HEAD'), 1, `${run}: one HEAD of the tag at the target that gets it`);
    assert.equal(sigRequests(theirs, 'HEAD'), 1, `${run}: one HEAD of the tag at the target that keeps its own`);
    assert.equal(sigRequests(src, 'HEAD') + sigRequests(src, 'GET'), 1, `${run}: the source's signature read once`);
    assert.equal(theirs.manifest('app', sigTag)?.digest, own.digest);
  }
});

test('copy --referrers: a referrers answer naming a tag or a path instead of a digest fails the copy with E_PROTOCOL, and nothing it names is read', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('app', { tags: ['1'] });
  src.seedImage('app', { tags: ['unrelated'] });
  src.fault({ kind: 'referrers', digest: img.digest }, {
    kind: 'respond',
    respond: (_q, _b, res) => {
      res.writeHead(200, { 'content-type': MT.ociIndex });
      res.end(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: [{ mediaType: MT.ociManifest, digest: 'unrelated', size: 1 }, { mediaType: MT.ociManifest, digest: '../../app/manifests/unrelated', size: 1 }] }));
    },
  });
  await assert.rejects(copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], referrers: true, ...fakeLibraryOptions(src, dst) }), (e: { code?: string; message: string }) => e.code === 'E_PROTOCOL' && /manifests\[0\]\.digest "unrelated" is not a valid digest/.test(e.message));
  assert.equal(src.count({ kind: 'manifest', when: (q) => q.path.includes('unrelated') }), 0);
  assert.equal(dst.manifest('app', 'unrelated'), undefined);
});

test('copy --referrers --no-clobber from a source that counts pulls: a signature tag every target keeps costs no pull, and one whose HEAD names no digest is still kept', async () => {
  for (const headDigest of [true, false]) {
    const [src, theirs] = [await fake({ rateLimit: { limit: 100, remaining: 100 } }), await fake()];
    const img = src.seedImage('app', { layers: ['the app'], tags: ['1'] });
    const sigTag = `${img.digest.replace(':', '-')}.sig`;
    const ours = src.seedImage('app', { layers: ['signed at the source'], tags: [sigTag] });
    theirs.seedImage('app', { layers: ['the app'], tags: ['1'] });
    const own = theirs.seedImage('app', { layers: ['signed at the target'], tags: [sigTag] });
    if (!headDigest) {
      src.fault({ kind: 'manifest', method: 'HEAD', when: (q) => q.tag === sigTag }, {
        kind: 'respond',
        respond: (_q, _b, res) => void res.writeHead(200, { 'content-type': ours.mediaType, 'content-length': String(ours.size) }).end(),
      });
    }
    const r = await copy({ from: src.ref('app:1'), to: [theirs.ref('app:1')], referrers: true, noClobber: true, ...fakeLibraryOptions(src, theirs) });
    assert.deepEqual(r.targets.map((t) => [t.referrers, t.referrersSkipped]), [[0, 1]]);
    assert.equal(theirs.manifest('app', sigTag)?.digest, own.digest, `HEAD ${headDigest ? 'with' : 'without'} a digest: the target's signature kept`);
    const pulls = src.count({ kind: 'manifest', method: 'GET', when: (q) => q.tag === sigTag });
    assert.equal(pulls, headDigest ? 0 : 1, 'a manifest GET only where the HEAD did not tell the digest');
  }
});
