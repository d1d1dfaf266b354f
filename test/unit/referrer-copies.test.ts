// copy --referrers copies the referrers of one level together (walkReferrers, REFERRER_COPIES at a
// time), against fake registries (test/fixtures/fake-registry.ts): the copies overlap (request
// order, answeredAfter), each referrer is still written after its subject, the referrers of one
// subject are all listed in the fallback index of a target without the referrers API (one
// read-modify-write), the report's blob lines come in the walk's order whatever order they landed
// in, every referrer copy's manifest GETs are told to the pull meter, and two images of one run
// that bring referrers of one subject to one repository write its fallback index in turn.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copy, parseReference, parseSyncFile, sync } from '../../src/index.js';
import { TransferRun } from '../../src/transfer/engine.js';
import { optionPaths } from '../../src/option-names.js';
import { copyImage } from '../../src/transfer/image-copy.js';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry, type LoggedRequest } from '../fixtures/fake-registry.js';

const fake = fakeRegistryPool();
const sigTag = (d: string) => `${d.replace(':', '-')}.sig`;
const subjectOf = (m: { mediaType: string; digest: string; size: number }) => ({ mediaType: m.mediaType, digest: m.digest, size: m.size });
/** The manifest requests at `reg` that name `ref` (a tag or a digest), in arrival order. */
const manifestRequests = (reg: FakeRegistry, ref: string, method: string): LoggedRequest[] =>
  reg.requests({ kind: 'manifest', method, when: (q) => q.tag === ref || q.digest === ref });

test('copy --referrers of a recursively signed index: the signatures of one level are copied together, each written after its subject, and a signature\'s attestation after it', async () => {
  const [src, dst] = [await fake(), await fake()];
  const archs = ['amd64', 'arm64', 'ppc64le', 's390x'];
  const images = archs.map((architecture) => src.seedImage('app', { platform: { os: 'linux', architecture } }));
  const index = src.seedIndex('app', images, { tags: ['1'] });
  const subjects = [index, ...images];
  // cosign sign --recursive: one signature per manifest, by tag; an attestation of the amd64 signature, by the API.
  const sigs = subjects.map((s) => src.seedImage('app', { tags: [sigTag(s.digest)] }));
  const att = src.seedImage('app', { artifactType: 'application/vnd.in-toto+json', subject: subjectOf(sigs[1]!) });
  // Overlap, by request order at the source (which counts no pulls: each referrer's manifest is
  // read with a GET at once): the first signature's GET is answered only once the last one's has
  // arrived, which copies one after the other never get to (the timer only keeps them from hanging).
  let released: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  const lastSeen = src.seen({ kind: 'manifest', method: 'GET', when: (q) => q.tag === sigTag(subjects.at(-1)!.digest) }).then(() => (released ??= 'by the last signature\'s GET'));
  const timedOut = new Promise((r) => (timer = setTimeout(r, 5000))).then(() => (released ??= 'by the 5 s timer'));
  src.fault({ kind: 'manifest', method: 'GET', when: (q) => q.tag === sigTag(subjects[0]!.digest) }, { kind: 'hold', until: Promise.race([lastSeen, timedOut]) });
  const r = await copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], referrers: true, ...fakeLibraryOptions(src, dst) });
  clearTimeout(timer);
  assert.equal(r.targets[0]!.referrers, subjects.length + 1);
  assert.equal(r.targets[0]!.referrersSkipped, 0);
  assert.equal(released, 'by the last signature\'s GET', 'the level\'s signatures were read one after the other');

  // Each referrer written after its subject was answered, at the target.
  const putOf = (ref: string) => manifestRequests(dst, ref, 'PUT')[0]!;
  subjects.forEach((s, i) => {
    const subjectPut = putOf(s === index ? '1' : s.digest);
    const sigPut = putOf(sigTag(s.digest));
    assert.ok(sigPut.seq > subjectPut.answeredAfter!, `the signature of ${s.digest} (request ${sigPut.seq}) before its subject was written (answered after request ${subjectPut.answeredAfter})`);
    assert.equal(dst.manifest('app', sigTag(s.digest))?.digest, sigs[i]!.digest);
  });
  const attPut = putOf(att.digest);
  assert.ok(attPut.seq > putOf(sigTag(images[0]!.digest)).answeredAfter!, 'the attestation after the signature it refers to');
});

test('copy --referrers to a target without the referrers API: every referrer of one subject, copied together, is listed in its fallback index, in the order found, with one write', async () => {
  const [src, dst] = [await fake(), await fake({ referrers: false })];
  const img = src.seedImage('app', { tags: ['1'] });
  const kinds = ['application/spdx+json', 'application/vnd.cyclonedx+json', 'application/vnd.in-toto+json', 'application/vnd.dev.sigstore.bundle.v0.3+json', 'application/vnd.example.scan+json'];
  const refs = kinds.map((artifactType) => src.seedImage('app', { artifactType, subject: subjectOf(img) }));
  src.seedImage('app', { tags: [sigTag(img.digest)] }); // cosign's tag scheme, listed by its tag, not in the index
  const r = await copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], referrers: true, ...fakeLibraryOptions(src, dst) });
  assert.equal(r.targets[0]!.referrers, refs.length + 1);
  const fallbackTag = img.digest.replace(':', '-');
  const listed = () => (JSON.parse(dst.manifest('app', fallbackTag)!.bytes.toString('utf8')) as { manifests: { digest: string; artifactType?: string }[] }).manifests;
  assert.deepEqual(listed().map((m) => [m.digest, m.artifactType]), refs.map((x, i) => [x.digest, kinds[i]]), 'none lost, in the order the source named them');
  assert.equal(manifestRequests(dst, fallbackTag, 'PUT').length, 1, 'one read-modify-write of the index for the five');
  const indexPut = manifestRequests(dst, fallbackTag, 'PUT')[0]!;
  for (const x of refs) assert.ok(manifestRequests(dst, x.digest, 'PUT')[0]!.answeredAfter! < indexPut.seq, `${x.digest} listed before it was written`);

  // A referrer added at the source since: merged into the index already there, the others kept.
  const later = src.seedImage('app', { artifactType: 'application/vnd.example.vex+json', subject: subjectOf(img) });
  const again = await copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], referrers: true, ...fakeLibraryOptions(src, dst) });
  assert.equal(again.targets[0]!.referrers, 1, 'the new one alone: the others were there');
  assert.deepEqual(listed().map((m) => m.digest), [...refs, later].map((x) => x.digest));
  assert.equal(manifestRequests(dst, fallbackTag, 'PUT').length, 2, 'one more write, for the new one');
});

test('copy --referrers: the report lists the referrers\' blobs in the walk\'s order, not the order they landed in', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('app', { tags: ['1'] });
  const [first, second] = [0, 1].map(() => src.seedImage('app', { artifactType: 'application/spdx+json', subject: subjectOf(img) }));
  // The first referrer's layer lands only once the second referrer is written (request order).
  // Held only when the second's copy is under way already: copies one after the other would wait
  // for each other for ever, and fail the assertions below instead.
  const secondStarted = () => src.count({ kind: 'manifest', digest: second!.digest }) > 0;
  src.fault({ kind: 'blob', method: 'GET', digest: first!.layers[0]!.digest, when: secondStarted }, { kind: 'hold', until: dst.seen({ kind: 'manifest', method: 'PUT', digest: second!.digest }) });
  const r = await copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], referrers: true, ...fakeLibraryOptions(src, dst) });
  assert.equal(r.targets[0]!.referrers, 2);
  const blobsOf = (m: typeof img) => [m.config.digest, ...m.layers.map((l) => l.digest)];
  const getAnswered = src.requests({ kind: 'blob', method: 'GET', digest: first!.layers[0]!.digest })[0]!;
  assert.ok(getAnswered.answeredAfter! >= Math.max(...blobsOf(second!).map((d) => src.requests({ kind: 'blob', method: 'GET', digest: d })[0]!.seq)), 'the second referrer\'s blobs were read while the first\'s layer was held');
  const lines = r.targets[0]!.blobs.map((b) => b.digest);
  // The image's own blobs first (in the order they landed), then each referrer's in its graph's order.
  assert.deepEqual(new Set(lines.slice(0, 3)), new Set(blobsOf(img)));
  assert.deepEqual(lines.slice(3), [...blobsOf(first!), ...blobsOf(second!)]);
});

test('copy --referrers: a blob the referrers of one level share (the empty config of OCI artifacts) is uploaded once; the others wait for it and skip it', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('app', { tags: ['1'] });
  const empty = src.putBlob('app', '{}', 'application/vnd.oci.empty.v1+json');
  const refs = [0, 1, 2, 3].map((i) => {
    const payload = src.putBlob('app', `signature ${i}`, 'application/vnd.dev.sigstore.bundle.v0.3+json');
    const config = { mediaType: empty.mediaType, digest: empty.digest, size: empty.size };
    return src.putManifest('app', { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json', config, layers: [payload], subject: subjectOf(img) });
  });
  const r = await copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], referrers: true, ...fakeLibraryOptions(src, dst) });
  assert.equal(r.targets[0]!.referrers, refs.length);
  for (const x of refs) assert.ok(dst.manifest('app', x.digest), x.digest);
  assert.equal(dst.uploadsFor(empty.digest).filter((q) => q.method === 'PUT').length, 1, 'one upload of the shared blob');
  const lines = r.targets[0]!.blobs.filter((b) => b.digest === empty.digest).map((b) => b.action);
  assert.deepEqual(lines, ['streamed', 'skipped', 'skipped', 'skipped']);
});

test('copyImage with referrers: every referrer copy tells the pull meter of its manifest GETs (sync\'s rate gate counts them)', async () => {
  const [src, dst] = [await fake(), await fake()];
  const amd = src.seedImage('app', { platform: { os: 'linux', architecture: 'amd64' } });
  const arm = src.seedImage('app', { platform: { os: 'linux', architecture: 'arm64' } });
  const index = src.seedIndex('app', [amd, arm], { tags: ['1'] });
  for (const s of [index, amd, arm]) src.seedImage('app', { tags: [sigTag(s.digest)] });
  src.seedImage('app', { artifactType: 'application/spdx+json', subject: subjectOf(arm) });
  const run = new TransferRun(fakeLibraryOptions(src, dst));
  const meter = { announced: 0, answered: 0, sent: 0 };
  try {
    const set = run.targets([{ ref: parseReference(dst.ref('app:1')), tags: ['1'] }]);
    const outcome = await copyImage(set, run.source(parseReference(src.ref('app:1'))), '1', { names: optionPaths('sync()'), referrers: true, pulls: { will: (n) => (meter.announced += n), did: () => meter.answered++, send: (read) => (meter.sent++, read()) } });
    set.finish();
    assert.equal([...outcome.referrers.values()][0], 4);
  } finally {
    run.close();
  }
  const gets = src.count({ kind: 'manifest', method: 'GET' });
  assert.equal(gets, 7, 'the index, its two children, and the four referrers');
  // Every GET went through the meter's send (a gate can hold it), and was announced and answered.
  assert.deepEqual(meter, { announced: gets, answered: gets, sent: gets });
});

test('two images of one sync that share a subject and write one repository without the referrers API: its fallback index lists the referrers each brought, one write after the other', async () => {
  const [a, b, dst] = [await fake(), await fake(), await fake({ referrers: false })];
  // The same image in two source registries (same layers, same config: one digest), each with a referrer of its own.
  const [inA, inB] = [a.seedImage('app', { layers: ['shared one', 'shared two'], tags: ['1'] }), b.seedImage('app', { layers: ['shared one', 'shared two'], tags: ['2'] })];
  assert.equal(inA.digest, inB.digest);
  const sbom = a.seedImage('app', { artifactType: 'application/spdx+json', subject: subjectOf(inA) });
  const vex = b.seedImage('app', { artifactType: 'application/vnd.example.vex+json', subject: subjectOf(inB) });
  const fallbackTag = inA.digest.replace(':', '-');
  // The first read of the index waits until the other image has read it too (the lost update
  // without turns) or is waiting for its turn to (the run's debug line): either way both units are
  // at that index at once, whichever reaches it first.
  let turnWaited!: () => void;
  const waiting = new Promise<void>((resolve) => (turnWaited = resolve));
  const debug = (m: string) => {
    if (m.includes(`${fallbackTag}: waiting for another image's write of this fallback index`)) turnWaited();
  };
  const indexGets = () => manifestRequests(dst, fallbackTag, 'GET');
  const secondGet = dst.seen({ kind: 'manifest', method: 'GET', when: (q) => q.tag === fallbackTag && indexGets().length >= 2 });
  dst.fault({ kind: 'manifest', method: 'GET', when: (q) => q.tag === fallbackTag }, { kind: 'hold', until: Promise.race([secondGet, waiting]) }, { times: 1 });
  const spec = parseSyncFile(['images:', `  - { source: ${a.ref('app:1')}, target: ${dst.host}/app, referrers: true }`, `  - { source: ${b.ref('app:2')}, target: ${dst.host}/app, referrers: true }`, ''].join('\n'), 'sync.yaml');
  const r = await sync({ spec, logger: { info: () => undefined, warn: () => undefined, debug }, ...fakeLibraryOptions(a, b, dst) } as Parameters<typeof sync>[0]);
  assert.ok(r.units.every((u) => u.ok), JSON.stringify(r.units));
  const listed = (JSON.parse(dst.manifest('app', fallbackTag)!.bytes.toString('utf8')) as { manifests: { digest: string }[] }).manifests.map((m) => m.digest);
  assert.deepEqual([...listed].sort(), [sbom.digest, vex.digest].sort(), 'each unit\'s referrer listed, none lost to the other\'s write');
  const puts = manifestRequests(dst, fallbackTag, 'PUT');
  assert.equal(puts.length, 2);
  assert.ok(indexGets()[1]!.seq > puts[0]!.answeredAfter!, 'the second read of the index came after the first write of it was answered');
});

test('copy --referrers to a target without the referrers API: a referrer that is an index is listed with its artifactType and annotations, as one that is a manifest', async () => {
  const [src, dst] = [await fake(), await fake({ referrers: false })];
  const img = src.seedImage('app', { tags: ['1'] });
  const part = src.seedImage('app', { artifactType: 'application/vnd.example.part' });
  const bundle = src.putManifest('app', {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    artifactType: 'application/vnd.example.bundle',
    subject: subjectOf(img),
    manifests: [{ mediaType: part.mediaType, digest: part.digest, size: part.size }],
    annotations: { 'org.example.kind': 'bundle' },
  });
  const r = await copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], referrers: true, ...fakeLibraryOptions(src, dst) });
  assert.equal(r.targets[0]!.referrers, 1);
  const listed = (JSON.parse(dst.manifest('app', img.digest.replace(':', '-'))!.bytes.toString('utf8')) as { manifests: { digest: string; artifactType?: string; annotations?: Record<string, string> }[] }).manifests;
  assert.deepEqual(listed.map((m) => [m.digest, m.artifactType, m.annotations]), [[bundle.digest, 'application/vnd.example.bundle', { 'org.example.kind': 'bundle' }]]);
});

test('copy --referrers --no-clobber: a signature tag the target holds for another manifest (signed there) is kept, with a warning, and counted skipped; another target gets the source\'s; without --no-clobber it is replaced', async () => {
  const [src, dst, other] = [await fake(), await fake(), await fake()];
  const img = src.seedImage('app', { layers: ['the app'], tags: ['1'] });
  const ours = src.seedImage('app', { layers: ['signed at the source'], tags: [sigTag(img.digest)] });
  // The same image at dst, signed there with a signature of its own under the same cosign tag.
  assert.equal(dst.seedImage('app', { layers: ['the app'], tags: ['1'] }).digest, img.digest);
  const theirs = dst.seedImage('app', { layers: ['signed at the target'], tags: [sigTag(img.digest)] });
  assert.notEqual(ours.digest, theirs.digest);
  const warnings: string[] = [];
  const r = await copy({
    from: src.ref('app:1'),
    to: [dst.ref('app:1'), other.ref('app:1')],
    referrers: true,
    noClobber: true,
    ...fakeLibraryOptions(src, dst, other),
    logger: { debug() {}, info() {}, warn: (m: string) => void warnings.push(m) },
  });
  assert.deepEqual(r.targets.map((t) => t.ok), [true, true]);
  assert.equal(dst.manifest('app', sigTag(img.digest))?.digest, theirs.digest, 'the target\'s own signature is kept');
  assert.equal(other.manifest('app', sigTag(img.digest))?.digest, ours.digest, 'a target without one gets the source\'s');
  assert.deepEqual(r.targets.map((t) => [t.referrers, t.referrersSkipped]), [[0, 1], [1, 0]]);
  assert.ok(warnings.some((w) => w.includes(`:${sigTag(img.digest)} already points at ${theirs.digest} (noClobber): kept, the source's not copied there`)), warnings.join(' | '));
  // Without --no-clobber the source's signature replaces it, as documented.
  await copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], referrers: true, ...fakeLibraryOptions(src, dst) });
  assert.equal(dst.manifest('app', sigTag(img.digest))?.digest, ours.digest);
});
