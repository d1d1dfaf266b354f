// sync's `referrers: true` with a `platforms` list (fake registries, test/fixtures/fake-registry.ts):
// the kept platform manifest keeps its digest and its referrers; the new index's source digest
// has its referrers left behind, and the warning names the image; the report counts both per
// target, as copy's does (checked against src/cli/report.schema.json as the e2e tier checks it).
// copy --all-tags, whose tags leave referrers behind alike, warns of them once as sync does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { copy, parseSyncFile, sync, type SyncResult } from '../../src/index.js';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';
import { runMain } from '../fixtures/run-main.js';
import { assertValidReport } from '../e2e/report-schema.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const tempDir = tempDirs('regpush-sync-referrers-');

const fake = fakeRegistryPool();

type SyncOpts = Parameters<typeof sync>[0];
const sigTag = (d: string) => `${d.replace(':', '-')}.sig`;

/** app:1 at `src`: an amd64 and arm64 index, cosign's signature of the index and of arm64. */
function signedIndex(src: FakeRegistry) {
  const amd = src.seedImage('app', { platform: { os: 'linux', architecture: 'amd64' } });
  const arm = src.seedImage('app', { platform: { os: 'linux', architecture: 'arm64' } });
  const index = src.seedIndex('app', [amd, arm], { tags: ['1'] });
  src.seedImage('app', { tags: [sigTag(index.digest)] });
  const armSig = src.seedImage('app', { tags: [sigTag(arm.digest)] });
  return { arm, index, armSig };
}

test('sync referrers: true with platforms: the kept child\'s signature is copied, the source index\'s stays behind with one warning naming the source', async () => {
  const [src, dst] = [await fake(), await fake()];
  const { arm, index, armSig } = signedIndex(src);
  const spec = parseSyncFile(['images:', `  - source: ${src.ref('app:1')}`, `    target: ${dst.host}/app`, '    platforms: [linux/arm64]', '    referrers: true', ''].join('\n'), 'sync.yaml');
  const warn: string[] = [];
  const logger = { info: () => undefined, debug: () => undefined, warn: (m: string) => warn.push(m) };
  const r = await sync({ spec, logger, ...fakeLibraryOptions(src, dst) } as SyncOpts);
  assert.ok(r.units.every((u) => u.ok), JSON.stringify(r.units));
  assert.equal(dst.manifest('app', sigTag(arm.digest))?.digest, armSig.digest);
  assert.equal(dst.manifest('app', sigTag(index.digest)), undefined);
  assert.deepEqual(warn, [`${src.ref('app:1')}: keeping only linux/arm64 changes the image's digest: its 1 referrer (signatures, attestations) refers to the source digest and is not copied; the 1 of the manifests it keeps as they are is copied (later images whose referrers stay behind for this reason are not warned of again: each image's result counts its referrers left behind, and --json names them)`]);
});

test('sync: the referrer warnings every image gives alike (referrers of a replaced index, a walk cut at its bound) come once per run each, the later ones at debug level; each image\'s result still counts them', async () => {
  const [src, dst] = [await fake(), await fake()];
  const repos = ['app0', 'app1', 'app2'];
  for (const repo of repos) {
    // The index's signature stays behind (`platforms` replaces the index); below arm64 a chain of
    // notes 9 deep, the ninth past the walk's depth bound.
    const amd = src.seedImage(repo, { platform: { os: 'linux', architecture: 'amd64' } });
    const arm = src.seedImage(repo, { platform: { os: 'linux', architecture: 'arm64' } });
    const index = src.seedIndex(repo, [amd, arm], { tags: ['1'] });
    src.seedImage(repo, { tags: [sigTag(index.digest)] });
    let subject: { mediaType: string; digest: string; size: number } = arm;
    for (let i = 0; i < 9; i++) subject = src.seedImage(repo, { artifactType: 'application/vnd.example.note', subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size }, layers: [`note ${i}`] });
  }
  const text = ['defaults:', `  targets: [${dst.host}/mirror]`, '  platforms: [linux/arm64]', '  referrers: true', 'images:', ...repos.map((r) => `  - source: ${src.ref(r)}:1`), ''].join('\n');
  const lines = { warn: [] as string[], debug: [] as string[] };
  const logger = { info: () => undefined, debug: (m: string) => lines.debug.push(m), warn: (m: string) => lines.warn.push(m) };
  const r = await sync({ spec: parseSyncFile(text, 'sync.yaml'), logger, ...fakeLibraryOptions(src, dst) } as SyncOpts);
  assert.ok(r.units.every((u) => u.ok), JSON.stringify(r.units));
  const moved = / changes the image's digest: its 1 referrer /;
  const bound = /: the walk stops 8 levels below the image /;
  const of = (list: string[], re: RegExp) => list.filter((l) => re.test(l));
  assert.equal(lines.warn.length, 2, lines.warn.join('\n'));
  assert.match(of(lines.warn, moved)[0] ?? '', /\(later images whose referrers stay behind for this reason are not warned of again: each image's result counts its referrers left behind, and --json names them\)$/);
  assert.match(of(lines.warn, bound)[0] ?? '', /\(later images whose referrer walk stops at a bound are not warned of again: each image's result counts its referrers left behind, and --json names them\)$/);
  // The other two images' lines, as they were, at debug level (each names its image).
  assert.equal(of(lines.debug, moved).length, 2, lines.debug.join('\n'));
  assert.equal(of(lines.debug, bound).length, 2, lines.debug.join('\n'));
  for (const re of [moved, bound]) {
    const all = [...of(lines.warn, re), ...of(lines.debug, re)];
    for (const repo of repos) assert.equal(all.filter((l) => l.startsWith(`${src.ref(`${repo}:1`)}: `)).length, 1, `${repo}: ${all.join('\n')}`);
  }
  for (const u of r.units) assert.deepEqual([u.targets[0]!.referrers, u.targets[0]!.referrersSkipped], [8, 2], u.source);
  // And names them, with why: the source index's signature (by its cosign tag, not read), the ninth note (by digest).
  for (const u of r.units) {
    assert.deepEqual(
      u.targets[0]!.skippedReferrers?.map((s) => [s.reason, s.tag ? 'tag' : 'digest', s.artifactType]),
      [
        ['digest-changed', 'tag', undefined],
        ['depth-bound', 'digest', 'application/vnd.example.note'],
      ],
      u.source,
    );
  }
  assert.equal(r.totals.referrersSkipped, 6);
});

test('sync: a referrer listed and gone from the source, and one stored as an OCI 1.1-rc artifact manifest, are warned of once per run each (every image of that registry gives them alike), the later ones at debug level; each image still counts them', async () => {
  const [src, dst] = [await fake(), await fake()];
  const repos = ['app0', 'app1', 'app2'];
  const artType = 'application/vnd.oci.artifact.manifest.v1+json';
  for (const repo of repos) {
    const img = src.seedImage(repo, { tags: ['1'], layers: [`${repo} layer`] });
    const blob = src.putBlob(repo, `${repo} sig`, 'application/vnd.cncf.notary.signature');
    const art = src.putManifest(repo, { mediaType: artType, artifactType: 'application/vnd.cncf.notary.signature', blobs: [blob], subject: { mediaType: img.mediaType, digest: img.digest, size: img.size } }, { mediaType: artType });
    // The referrers API lists the artifact manifest and one deleted since (a listing slow to forget it).
    const gone = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${repo.at(-1)!.repeat(64)}`, size: 100 };
    src.fault({ kind: 'referrers', digest: img.digest }, {
      kind: 'respond',
      respond: (_q, _b, res) => {
        res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json' });
        res.end(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [gone, { mediaType: artType, digest: art.digest, size: art.size, artifactType: 'application/vnd.cncf.notary.signature' }] }));
      },
    });
  }
  const text = ['defaults:', `  targets: [${dst.host}/mirror]`, '  referrers: true', 'images:', ...repos.map((r) => `  - source: ${src.ref(r)}:1`), ''].join('\n');
  const lines = { warn: [] as string[], debug: [] as string[] };
  const logger = { info: () => undefined, debug: (m: string) => lines.debug.push(m), warn: (m: string) => lines.warn.push(m) };
  const r = await sync({ spec: parseSyncFile(text, 'sync.yaml'), logger, ...fakeLibraryOptions(src, dst) } as SyncOpts);
  assert.ok(r.units.every((u) => u.ok), JSON.stringify(r.units));
  const stale = / is listed but not in the repository \(a stale listing\): not copied/;
  const artifact = / is an OCI artifact manifest /;
  const of = (list: string[], re: RegExp) => list.filter((l) => re.test(l));
  assert.equal(lines.warn.length, 2, lines.warn.join('\n'));
  assert.match(of(lines.warn, stale)[0] ?? '', /\(later images with referrers listed and gone at this registry are not warned of again: each image's result counts its referrers left behind, and --json names them\)$/);
  assert.match(of(lines.warn, artifact)[0] ?? '', /\(later images with OCI artifact manifests as referrers at this registry are not warned of again: each image's result counts its referrers left behind, and --json names them\)$/);
  for (const re of [stale, artifact]) {
    const all = [...of(lines.warn, re), ...of(lines.debug, re)];
    for (const repo of repos) assert.equal(all.filter((l) => l.startsWith(`${src.ref(`${repo}:1`)}: `)).length, 1, `${repo}: ${all.join('\n')}`);
  }
  for (const u of r.units) assert.deepEqual(u.targets[0]!.skippedReferrers?.map((s) => s.reason).sort(), ['artifact-manifest', 'not-at-source'], u.source);
});

test('sync reports referrers per target as copy does (copied, left behind), in the JSON report the schema requires them in, in its unit line and in its summary', async () => {
  const [src, dst] = [await fake(), await fake()];
  const { arm } = signedIndex(src); // the index's signature names the source index, which `platforms` replaces: left behind
  src.seedImage('app', { artifactType: 'application/spdx+json', subject: { mediaType: arm.mediaType, digest: arm.digest, size: arm.size } });
  src.seedImage('other', { tags: ['1'] }); // an entry without referrers: both counts 0
  const dir = tempDir();
  const lines = ['images:', `  - source: ${src.ref('app:1')}`, `    target: ${dst.host}/app`, '    platforms: [linux/arm64]', '    referrers: true', `  - source: ${src.ref('other:1')}`, `    target: ${dst.host}/other`, ''];
  writeFileSync(join(dir, 'sync.yaml'), lines.join('\n'));
  const lib = fakeLibraryOptions(src, dst);
  const env = { ...lib.env, HOME: lib.homeDir, REGPUSH_INSECURE_REGISTRIES: lib.insecureRegistries.join(',') };

  const json = await runMain(['sync', '--json', 'sync.yaml'], { cwd: dir, env });
  assert.equal(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout) as SyncResult;
  assertValidReport(report, 'sync --json with referrers');
  const at = (source: string) => report.units.find((u) => u.source === source)!.targets[0]!;
  assert.deepEqual([at(src.ref('app:1')).referrers, at(src.ref('app:1')).referrersSkipped], [2, 1], 'arm64\'s signature and SBOM; the source index\'s signature');
  assert.deepEqual([at(src.ref('other:1')).referrers, at(src.ref('other:1')).referrersSkipped], [0, 0]);
  assert.deepEqual([report.totals.referrers, report.totals.referrersSkipped], [2, 1]);

  // Run again, for the human output, with an attestation of arm64 added at the source since: the
  // image is up to date, its referrers are walked again, and only the new one is copied and counted
  // (those already there were counted as copied on every run: an hourly sync reported new signatures).
  src.seedImage('app', { artifactType: 'application/vnd.in-toto+json', subject: { mediaType: arm.mediaType, digest: arm.digest, size: arm.size } });
  const human = await runMain(['sync', 'sync.yaml'], { cwd: dir, env });
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stderr, new RegExp(`→ ${dst.host.replace(/[.]/g, '\\.')}/app:1 up to date \\(0 mounted, 3 streamed, 0\\.0 MB; 1 referrer, 1 left behind\\)\n`), human.stderr);
  assert.ok(human.stderr.includes(`→ ${dst.host}/other:1 up to date\n`), human.stderr);
  assert.match(human.stdout, /^synced: 2 images \(2 entries\): 0 copied, 2 up to date, 0 failed; 0\.0 MB read, 0 blobs mounted, 3 streamed; 1 referrer, 1 left behind\n$/);
  // And once more with nothing new: no referrer counted, the one left behind still said.
  const quiet = await runMain(['sync', 'sync.yaml'], { cwd: dir, env });
  assert.ok(quiet.stderr.includes(`→ ${dst.host}/app:1 up to date (0 referrers, 1 left behind)\n`), quiet.stderr);
});

test('sync referrers: true, an unchanged re-run of multi-platform images at a source that counts pulls: the index is read at the target that holds it, no pull spent; a signature added at the source since still comes', async () => {
  const src = await fake({ rateLimit: { limit: 100, remaining: 100 } });
  const dst = await fake();
  const indexes = [0, 1, 2].map((i) => {
    const a = src.seedImage(`library/app${i}`, { platform: { os: 'linux', architecture: 'amd64' } });
    const b = src.seedImage(`library/app${i}`, { platform: { os: 'linux', architecture: 'arm64' } });
    return { index: src.seedIndex(`library/app${i}`, [a, b], { tags: ['1'] }), arm: b };
  });
  const text = ['defaults:', `  targets: [${dst.host}/mirror]`, '  referrers: true', 'images:', ...indexes.map((_, i) => `  - source: ${src.ref(`library/app${i}`)}:1`), ''].join('\n');
  const opts = { spec: parseSyncFile(text, 'sync.yaml'), ...fakeLibraryOptions(src, dst) };
  await sync(opts);
  // Since the first run, someone signed app0's arm64 image at the source (cosign sign --recursive leaves such tags).
  const sig = src.seedImage('library/app0', { tags: [sigTag(indexes[0]!.arm.digest)] });
  src.clearLog();
  dst.clearLog();
  // --min-ratelimit: the gate meters the source's pulls, so the tags are HEADed (as at Docker Hub).
  const r = await sync({ ...opts, minRateLimit: 0 });
  assert.equal(r.totals.failed, 0);
  assert.equal(src.count({ kind: 'manifest', method: 'GET', when: (q) => q.tag === '1' || indexes.some((x) => q.digest === x.index.digest) }), 0, 'no index read at the source');
  assert.equal(dst.manifest('mirror/library/app0', sigTag(indexes[0]!.arm.digest))?.digest, sig.digest, 'the new signature of a child came');
  assert.equal(src.count({ kind: 'manifest', method: 'GET' }), 1, 'one pull: the new signature itself');
});

test('copy --all-tags with --platform: the referrers every tag leaves behind alike are warned of once, the rest at debug level; each tag still counts its own', async () => {
  const [src, dst] = [await fake(), await fake()];
  // Three tags, each a signed two-platform index: keeping arm64 leaves every index's signature behind.
  for (const tag of ['1', '2', '3']) {
    const amd = src.seedImage('app', { platform: { os: 'linux', architecture: 'amd64' }, layers: [Buffer.from(`amd ${tag}`)] });
    const arm = src.seedImage('app', { platform: { os: 'linux', architecture: 'arm64' }, layers: [Buffer.from(`arm ${tag}`)] });
    const index = src.seedIndex('app', [amd, arm], { tags: [tag] });
    src.seedImage('app', { tags: [sigTag(index.digest)], layers: [Buffer.from(`sig ${tag}`)] });
  }
  const lines = { warn: [] as string[], debug: [] as string[] };
  const logger = { info: () => undefined, debug: (m: string) => lines.debug.push(m), warn: (m: string) => lines.warn.push(m) };
  const r = await copy({ from: src.ref('app'), to: [dst.ref('app')], allTags: true, referrers: true, platform: 'linux/arm64', logger, ...fakeLibraryOptions(src, dst) });
  const moved = /changes the image's digest/;
  assert.equal(lines.warn.filter((l) => moved.test(l)).length, 1, lines.warn.join('\n'));
  assert.match(lines.warn.find((l) => moved.test(l))!, /\(later tags whose referrers stay behind for this reason are not warned of again: each tag's result counts its referrers left behind, and --json names them\)$/);
  assert.equal(lines.debug.filter((l) => moved.test(l)).length, 2, 'the other two tags at debug level');
  assert.equal(r.targets[0]!.referrersSkipped, 3, 'each tag counted its own');
});
