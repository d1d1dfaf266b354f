// copy --all-tags copies several tags at once (--images, default 4), each with a set of its own,
// against in-process fake registries (test/fixtures/fake-registry.ts): tags go together and no
// more than --images at a time, a blob tags share is read once and uploaded once per target
// repository, the report keeps its shape and tag order, and a failure keeps its meaning. Shown by
// request order (each logged request says which requests had arrived when it was answered), not
// by timings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copy, DEFAULT_IMAGES, type CopyResult, type RegpushError } from '../../src/index.js';
import { bytesOf, fakeLibraryOptions, fakeRegistryPool, type FakeRegistry, type LoggedRequest } from '../fixtures/fake-registry.js';
import { copyTags } from '../../src/copy/all-tags.js';
import { TransferRun } from '../../src/transfer/engine.js';
import { parseReference } from '../../src/ref/reference.js';
import { optionPaths } from '../../src/option-names.js';
import { waitFor } from '../fixtures/wait-for.js';

const fake = fakeRegistryPool();
const TAGS = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
/** A target's manifest HEAD by tag: the first request of each tag's copy there. */
const tagHead = { kind: 'manifest' as const, method: 'HEAD', when: (r: { tag?: string }) => r.tag !== undefined };

/** The most tags in flight at once at `dst`: a tag is in flight from its HEAD's arrival until its manifest PUT was answered. */
function mostInFlight(dst: FakeRegistry): number {
  const heads = dst.requests(tagHead);
  const puts = new Map(dst.requests({ kind: 'manifest', method: 'PUT' }).map((p) => [p.tag, p] as const));
  const inFlightAt = (seq: number) => heads.filter((h) => h.seq <= seq && (puts.get(h.tag)?.answeredAfter ?? Infinity) >= seq).length;
  return Math.max(...heads.map((h) => inFlightAt(h.seq)));
}

/**
 * Resolves once `n` tags' first requests have arrived at `reg`: a hold fault on those requests
 * keeps every tag that starts together in flight until all have started (ordering, not a delay).
 */
function tagsArrived(reg: FakeRegistry, n: number): Promise<void> {
  return waitFor(`${n} tags' HEADs at ${reg.host}`, () => reg.count(tagHead) >= n);
}

/** Requests that carried `digest`'s bytes into `repo` (a monolithic PUT or a PATCH). */
function uploadsOf(reg: FakeRegistry, repo: string, digest: string): LoggedRequest[] {
  return reg.uploadsFor(digest).filter((u) => u.repo === repo && u.bytesIn > 0);
}

for (const images of [1, 3]) {
  test(`--images ${images}: tags are copied ${images} at a time, never more; every tag lands`, async () => {
    const [src, dst] = [await fake(), await fake()];
    const seeded = TAGS.map((tag) => src.seedImage('base/app', { tags: [tag] }));
    // Every tag's first request at the target is held until --images of them have arrived (none
    // more can come before an answer, if the limit holds): tags copied together have all arrived
    // before the first is answered; tags copied one by one arrive one per answer.
    dst.fault(tagHead, { kind: 'hold', until: tagsArrived(dst, images) });
    const r = await copy({ from: src.ref('base/app'), to: [dst.ref('app')], allTags: true, images, ...fakeLibraryOptions(src, dst) });
    assert.deepEqual(r.targets[0]!.tags, TAGS);
    TAGS.forEach((tag, i) => assert.equal(dst.manifest('app', tag)?.digest, seeded[i]!.digest, tag));
    const heads = dst.requests(tagHead);
    assert.equal(heads.length, TAGS.length, 'one HEAD per tag');
    const together = heads.filter((h) => h.seq <= heads[0]!.answeredAfter!).length;
    assert.equal(together, images, `${together} tags had started when the first tag's HEAD was answered`);
    assert.equal(mostInFlight(dst), images, 'never more tags in flight than --images');
  });
}

test('the default is 4 tags at a time (sync\'s --images default)', async () => {
  const [src, dst] = [await fake(), await fake()];
  for (const tag of TAGS) src.seedImage('base/app', { tags: [tag] });
  dst.fault(tagHead, { kind: 'hold', until: tagsArrived(dst, 4) });
  await copy({ from: src.ref('base/app'), to: [dst.ref('app')], allTags: true, ...fakeLibraryOptions(src, dst) });
  assert.equal(mostInFlight(dst), 4);
});

test('tags in flight together that share layers: each blob read once, uploaded once per target repository; the report in tag order', async () => {
  const [src, x, y] = [await fake(), await fake(), await fake()];
  const base = bytesOf('shared base layer', 60_000);
  const one = src.seedImage('base/app', { tags: ['1', '1.0'], layers: [base, 'app layer one'] });
  const two = src.seedImage('base/app', { tags: ['2', '2.0'], layers: [base, 'app layer two'] });
  // The four tags plan together: each tag's HEAD at the targets is held until all four have
  // arrived (checked below), so their blob HEADs find every blob missing.
  for (const reg of [x, y]) reg.fault(tagHead, { kind: 'hold', until: tagsArrived(reg, 4) });
  const r = await copy({ from: src.ref('base/app'), to: [x.ref('app'), y.ref('app')], allTags: true, ...fakeLibraryOptions(src, x, y) });
  const blobs = [...new Set([one.config, two.config, ...one.layers, ...two.layers].map((d) => d.digest))];
  for (const d of blobs) {
    assert.equal(src.count({ kind: 'blob', method: 'GET', digest: d }), 1, `${d} read once for every tag and target`);
    for (const reg of [x, y]) assert.equal(uploadsOf(reg, 'app', d).length, 1, `${d} uploaded once into ${reg.host}/app`);
  }
  assert.equal(x.openUploads() + y.openUploads(), 0);
  for (const t of r.targets) {
    assert.equal(t.ok, true);
    assert.deepEqual(t.tags, ['1', '1.0', '2', '2.0'], 'sorted tag order');
    const streamed = t.blobs.filter((b) => b.action === 'streamed').map((b) => b.digest);
    assert.deepEqual(streamed.sort(), [...blobs].sort(), 'each blob streamed once to the target, the other tags skip it');
    assert.ok(t.blobs.every((b) => b.action === 'streamed' || b.action === 'skipped'), JSON.stringify(t.blobs.map((b) => b.action)));
  }
  for (const [tag, img] of [['1', one], ['1.0', one], ['2', two], ['2.0', two]] as const) {
    for (const reg of [x, y]) assert.equal(reg.manifest('app', tag)?.digest, img.digest, `${reg.host} ${tag}`);
  }
  assert.equal(r.digest, one.digest, 'the report\'s digest is the first tag\'s');
  const heads = x.requests(tagHead);
  assert.ok(heads.every((h) => h.seq <= heads[0]!.answeredAfter!), 'the four tags were in flight together');
});

test('tags in flight together, the targets answering their blob HEADs in different orders: a shared blob is still read once', async () => {
  const [src, x, y] = [await fake(), await fake(), await fake()];
  // The shared layer is the small one: the largest layer of each image starts early (claimed at
  // every target at once by EarlyStarts.start); the shared one is claimed when it is planned.
  const base = bytesOf('shared small base', 4_000);
  const one = src.seedImage('base/app', { tags: ['1'], layers: [base, bytesOf('app one', 60_000)] });
  const two = src.seedImage('base/app', { tags: ['2'], layers: [base, bytesOf('app two', 60_000)] });
  for (const reg of [x, y]) reg.fault(tagHead, { kind: 'hold', until: tagsArrived(reg, 2) });
  // At x the first HEAD of the shared layer is answered only after another tag's: the tag that
  // planned it first at y is the last to learn it is missing at x.
  const shared = one.layers[0]!.digest;
  x.fault({ kind: 'blob', method: 'HEAD', digest: shared }, { kind: 'hold', until: x.seen({ kind: 'blob', method: 'HEAD', digest: shared, status: 404 }) }, { times: 1 });
  const r = await copy({ from: src.ref('base/app'), to: [x.ref('app'), y.ref('app')], allTags: true, ...fakeLibraryOptions(src, x, y) });
  assert.ok(r.targets.every((t) => t.ok));
  assert.equal(x.count({ kind: 'blob', method: 'HEAD', digest: shared }), 2, 'both tags asked x about the shared layer');
  assert.equal(src.count({ kind: 'blob', method: 'GET', digest: shared }), 1, 'the shared layer read once, for both targets');
  for (const reg of [x, y]) {
    assert.equal(uploadsOf(reg, 'app', shared).length, 1, `uploaded once into ${reg.host}/app`);
    assert.equal(reg.manifest('app', '1')?.digest, one.digest);
    assert.equal(reg.manifest('app', '2')?.digest, two.digest);
  }
});

test('an unchanged re-run: the same report in the same order, each tag\'s manifest read once (a HEAD for the tags started before the source answered, then a GET: it counts no pulls), nothing else', async () => {
  const [src, dst] = [await fake(), await fake()];
  for (const tag of TAGS) src.seedImage('base/app', { tags: [tag] });
  const opts = { from: src.ref('base/app'), to: [dst.ref('app')], allTags: true, ...fakeLibraryOptions(src, dst) };
  await copy(opts);
  dst.clearLog();
  src.clearLog();
  const again = await copy(opts);
  assert.deepEqual(again.targets[0]!.tags, TAGS);
  assert.deepEqual(again.targets[0]!.tagsUnchanged, TAGS);
  assert.deepEqual(again.targets[0]!.blobs, []);
  assert.equal(dst.count({ method: ['PUT', 'POST', 'PATCH'] }), 0, 'nothing written');
  assert.equal(src.count({ kind: 'blob' }), 0, 'no blob read');
  const reads = src.requests({ kind: 'manifest' });
  assert.deepEqual(reads.map((q) => q.tag).sort(), [...TAGS].sort(), 'one read of each tag');
  // The first --images tags start together, before the source has said whether it counts pulls:
  // HEAD first (a pull spent on no unchanged tag where it does); then a GET, the registry heard from.
  assert.deepEqual(reads.map((q) => q.method).sort(), [...TAGS.map((_, i) => (i < DEFAULT_IMAGES ? 'HEAD' : 'GET'))].sort());
});

test('two targets, one refusing a tag\'s manifest: it is set aside (E_PARTIAL), the other gets every tag, no tag starts there after', async () => {
  const [src, good, bad] = [await fake(), await fake(), await fake()];
  for (const tag of TAGS) src.seedImage('base/app', { tags: [tag] });
  bad.fault({ kind: 'manifest', method: 'PUT', when: (q) => q.tag === 'a' }, { kind: 'status', status: 400, code: 'MANIFEST_INVALID' });
  const err = await copy({ from: src.ref('base/app'), to: [good.ref('app'), bad.ref('app')], allTags: true, images: 2, retries: 0, ...fakeLibraryOptions(src, good, bad) }).then(
    () => undefined,
    (e: RegpushError) => e,
  );
  assert.equal(err?.code, 'E_PARTIAL', String(err));
  const r = err!.details.result as CopyResult;
  assert.deepEqual(r.targets[0]!.tags, TAGS);
  assert.equal(r.targets[1]!.ok, false);
  // A target is a repository here: named so, not with the `latest` no tag is written under.
  assert.deepEqual(r.targets.map((t) => t.target), [`${good.host}/app`, `${bad.host}/app`]);
  assert.match(err!.message, new RegExp(`^1 of 2 targets failed: ${bad.host.replace(/\./g, '\\.')}/app \\(`));
  assert.equal(r.targets[1]!.error!.code, 'E_REGISTRY', r.targets[1]!.error!.message);
  assert.match(r.targets[1]!.error!.message, /MANIFEST_INVALID|400/);
  assert.equal(bad.manifest('app', 'a'), undefined);
  // Tags started after the refusal was answered do not go to the failed target.
  const refused = bad.requests({ kind: 'manifest', method: 'PUT', status: 400 })[0]!;
  const later = bad.requests(tagHead).filter((h) => h.seq > refused.answeredAfter!);
  assert.deepEqual(later, [], 'no tag started at the failed target after its failure');
  assert.ok(bad.count(tagHead) < TAGS.length, 'the tags after it were not tried there');
  assert.equal(bad.openUploads() + good.openUploads(), 0);
});

test('one target: the first failing tag fails the copy with its own error; the tags in flight stop, nothing is left open, no manifest without its blobs', async () => {
  const [src, dst] = [await fake(), await fake()];
  const imgs = TAGS.map((tag) => src.seedImage('base/app', { tags: [tag], layers: [bytesOf(`large ${tag}`, 200_000), `small ${tag}`] }));
  // Tag a's small layer cannot be read; the other tags' uploads are slow to be answered.
  src.fault({ kind: 'blob', method: 'GET', digest: imgs[0]!.layers[1]!.digest }, { kind: 'status', status: 404 });
  dst.fault({ kind: 'upload', method: ['PUT', 'PATCH'] }, { kind: 'delay', ms: 300 });
  const err = await copy({ from: src.ref('base/app'), to: [dst.ref('app')], allTags: true, images: 3, retries: 0, ...fakeLibraryOptions(src, dst) }).then(
    () => undefined,
    (e: RegpushError) => e,
  );
  assert.equal(err?.code, 'E_NOT_FOUND', String(err));
  assert.ok(err!.message.includes(imgs[0]!.layers[1]!.digest.slice(7, 19)), err!.message);
  assert.equal(dst.openUploads(), 0, 'every session cancelled');
  for (const [i, tag] of TAGS.entries()) {
    const m = dst.manifest('app', tag);
    if (!m) continue;
    for (const d of [imgs[i]!.config, ...imgs[i]!.layers]) assert.ok(dst.hasBlob('app', d.digest), `${tag} written with its blob ${d.digest}`);
  }
  assert.ok(dst.count(tagHead) <= 3 + 1, 'no new tag starts once one has failed (the three first, and none after)');
});

test('--images without --all-tags, and out of range, is a usage error before any request', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/app', { tags: ['1'] });
  const o = fakeLibraryOptions(src, dst);
  await assert.rejects(copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], images: 2, ...o }), (e: RegpushError) => e.code === 'E_USAGE' && /^copy\(\): images is the number of tags copied at once with allTags; a single image's blob transfers are jobs$/.test(e.message));
  await assert.rejects(copy({ from: src.ref('base/app'), to: [dst.ref('app')], allTags: true, images: 0, ...o }), (e: RegpushError) => e.code === 'E_USAGE' && /^copy\(\): images must be a whole number from 1 to 64/.test(e.message));
  assert.equal(src.count() + dst.count(), 0);
});

test('--all-tags --dry-run with tags in flight together: every tag planned on its own (planned-stream at every tag), nothing written', async () => {
  const [src, dst] = [await fake(), await fake()];
  const img = src.seedImage('base/app', { tags: ['1', '2'] });
  const r = await copy({ from: src.ref('base/app'), to: [dst.ref('app')], allTags: true, dryRun: true, ...fakeLibraryOptions(src, dst) });
  const actions = r.targets[0]!.blobs.map((b) => b.action);
  assert.deepEqual(actions, Array(2 * (1 + img.layers.length)).fill('planned-stream'));
  assert.deepEqual(r.targets[0]!.tags, ['1', '2']);
  assert.equal(dst.count({ method: ['PUT', 'POST', 'PATCH', 'DELETE'] }), 0);
});

test('copy --all-tags with --platform or --format: a tag they cannot apply to (a cosign signature, an image of another platform) is left out with a warning; the others are copied', async () => {
  const [src, dst] = [await fake(), await fake()];
  const amd = src.seedImage('app', { platform: { os: 'linux', architecture: 'amd64' } });
  const arm = src.seedImage('app', { platform: { os: 'linux', architecture: 'arm64' } });
  const index = src.seedIndex('app', [amd, arm], { tags: ['1'] });
  src.seedImage('app', { tags: ['2-amd64'], platform: { os: 'linux', architecture: 'amd64' } });
  // A cosign signature as cosign stores it: an OCI manifest whose layer is a simple-signing payload.
  const cfg = src.putBlob('app', '{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[]}}', 'application/vnd.oci.image.config.v1+json');
  const payload = src.putBlob('app', '{"critical":{}}', 'application/vnd.dev.cosign.simplesigning.v1+json');
  const sigTag = `${index.digest.replace(':', '-')}.sig`;
  src.putManifest('app', { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: cfg, layers: [payload] }, { tags: [sigTag] });

  const warnings: string[] = [];
  const logger = { debug() {}, info() {}, warn: (m: string) => void warnings.push(m) };
  const byPlatform = await copy({ from: src.ref('app'), to: [dst.ref('arm')], allTags: true, platform: 'linux/arm64', logger, ...fakeLibraryOptions(src, dst) });
  assert.deepEqual(byPlatform.targets[0]!.tags, ['1']);
  assert.deepEqual(dst.tags('arm'), ['1']);
  assert.deepEqual(warnings.map((w) => w.split(':')[0]), ['2-amd64', sigTag]);
  assert.match(warnings[0]!, /^2-amd64: not copied: .* is a single linux\/amd64 image, not linux\/arm64$/);

  warnings.length = 0;
  const byFormat = await copy({ from: src.ref('app'), to: [dst.ref('docker')], allTags: true, format: 'docker', logger, ...fakeLibraryOptions(src, dst) });
  assert.deepEqual(byFormat.targets[0]!.tags, ['1', '2-amd64']);
  assert.deepEqual(dst.tags('docker'), ['1', '2-amd64']);
  assert.equal(warnings.filter((w) => w.startsWith(`${sigTag}: not copied:`)).length, 1, warnings.join(' | '));

  // Every tag left out: the copy did nothing, and says why (the first tag's reason).
  src.seedImage('only-sig', { tags: ['x'], platform: { os: 'linux', architecture: 'amd64' } });
  const err = await copy({ from: src.ref('only-sig'), to: [dst.ref('none')], allTags: true, platform: 'linux/arm64', logger, ...fakeLibraryOptions(src, dst) }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(err?.code, 'E_NOT_FOUND', String(err));
  assert.deepEqual(dst.tags('none'), []);
});

test('--all-tags takes repositories: a tag or digest on the source or a target is E_REFERENCE (--tag with it E_USAGE), before any request', async () => {
  const [src, dst] = [await fake(), await fake()];
  for (const [from, to] of [[src.ref('base/app:1'), dst.ref('app')], [src.ref('base/app'), dst.ref('app:2')], [`${src.ref('base/app')}@sha256:${'a'.repeat(64)}`, dst.ref('app')]]) {
    await assert.rejects(copy({ from: from!, to: [to!], allTags: true, ...fakeLibraryOptions(src, dst) }), (e: RegpushError) => e.code === 'E_REFERENCE' && /^copy\(\): allTags copies every tag under its own name: give repositories, not /.test(e.message));
  }
  // --tag too: each tag's image would be written under it in turn (it was silently left unused).
  await assert.rejects(copy({ from: src.ref('base/app'), to: [dst.ref('app')], allTags: true, tags: ['stable'], ...fakeLibraryOptions(src, dst) }), (e: RegpushError) => e.code === 'E_USAGE' && /^copy\(\): allTags copies every tag under its own name: tags \(stable\) cannot go with it$/.test(e.message));
  assert.equal(src.requests().length + dst.requests().length, 0);
});

test('--all-tags over tags of different images: the copy\'s digest, each target\'s and its reference all name the first tag\'s image (sorted); a failed target names none', async () => {
  const [src, good, bad] = [await fake(), await fake(), await fake()];
  const one = src.seedImage('base/app', { layers: ['one'], tags: ['1'] });
  const two = src.seedImage('base/app', { layers: ['two'], tags: ['2'] });
  assert.notEqual(one.digest, two.digest);
  bad.fault({ kind: 'manifest', method: 'PUT', when: (q) => q.tag === '2' }, { kind: 'status', status: 403, code: 'DENIED', message: 'denied' });
  const err = await copy({ from: src.ref('base/app'), to: [good.ref('app'), bad.ref('app')], allTags: true, retries: 0, ...fakeLibraryOptions(src, good, bad) }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(err?.code, 'E_PARTIAL', String(err));
  const r = err!.details!.result as CopyResult;
  assert.equal(r.digest, one.digest);
  const [g, b] = r.targets;
  assert.deepEqual([g!.ok, g!.digest, g!.reference, g!.tags], [true, one.digest, `${good.host}/app@${one.digest}`, ['1', '2']]);
  assert.equal(good.manifest('app', '2')?.digest, two.digest, 'tag 2 still written with its own image');
  assert.deepEqual([b!.ok, b!.digest, b!.reference], [false, '', '']);
});

test('the report\'s source names the first tag, whose digest it gives, not the `latest` a repository name defaults to (the repository has none)', async () => {
  const [src, dst] = [await fake(), await fake()];
  const b = src.seedImage('base/app', { tags: ['b'], layers: ['layer b'] });
  src.seedImage('base/app', { tags: ['c'], layers: ['layer c'] });
  for (const dryRun of [true, false]) {
    const r = await copy({ from: src.ref('base/app'), to: [dst.ref('app')], allTags: true, dryRun, ...fakeLibraryOptions(src, dst) });
    assert.deepEqual(r.source, { reference: src.ref('base/app:b'), digest: b.digest }, `dryRun ${dryRun}`);
  }
});

/** Fails on anything in `value` but plain objects, arrays, Maps (their values: keys are the command's own targets) and primitives: no manifest bytes, no parsed manifest graph. */
function assertOnlyCounts(value: unknown, path: string): void {
  if (value === null || typeof value !== 'object') return;
  if (value instanceof Map) {
    for (const [k, v] of value) assertOnlyCounts(v, `${path}.get(${typeof k === 'string' ? k : 'target'})`);
    return;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  assert.ok(proto === Object.prototype || proto === Array.prototype, `${path} is a ${(value as object).constructor?.name}: only counts and names are kept`);
  for (const [k, v] of Object.entries(value)) assertOnlyCounts(v, `${path}.${k}`);
}

test('copy --all-tags keeps the whole outcome (manifest graph, manifests as read) of its first tag only: a later tag keeps its digest and counts', async () => {
  const [src, dst] = [await fake(), await fake()];
  const tags = ['a', 'b', 'c'];
  for (const tag of tags) src.seedImage('base/app', { tags: [tag] });
  // The first tag ends last: the whole outcome passes to it from the tag that ended first.
  const othersLanded = Promise.all(['b', 'c'].map((tag) => dst.seen({ kind: 'manifest', method: 'PUT', status: 201, when: (r) => r.tag === tag })));
  dst.fault({ ...tagHead, when: (r) => r.tag === 'a' }, { kind: 'hold', until: othersLanded });
  const run = new TransferRun({ ...fakeLibraryOptions(src, dst), trackLanded: 'same-repository' });
  try {
    const srcRef = parseReference(src.ref('base/app'));
    const set = run.targets([{ ref: parseReference(dst.ref('app')), tags: ['latest'] }], srcRef);
    const copied = await copyTags(run, set, run.source(srcRef), srcRef, tags, 3, { names: optionPaths('copy()') });
    set.finish();
    assert.deepEqual(copied.map((c) => c.tag), tags);
    assert.ok(dst.requests({ kind: 'manifest', method: 'PUT' }).at(-1)?.tag === 'a', 'the first tag ended last');
    assert.ok(copied[0]!.outcome?.graph, 'the first tag keeps its graph (the copy reports its source and platforms)');
    for (const c of copied.slice(1)) {
      assert.equal(c.outcome, undefined, `${c.tag}: no whole outcome kept`);
      assertOnlyCounts(c, c.tag);
      assert.equal(c.digest, dst.manifest('app', c.tag)?.digest);
      assert.deepEqual([...c.at.values()].map((a) => [a.failed, a.unchanged, a.blobs.length]), [[false, false, 3]]);
    }
  } finally {
    run.close();
  }
});
