// The referrers a copy or sync leaves behind at a target, at scale (fake registries,
// test/fixtures/fake-registry.ts): a target refusing a kind of referrer (ECR and sigstore bundles'
// `;version=0.2`, aws/containers-roadmap#2306) is warned of once per run in a sync and in
// copy --all-tags, not once per image; and the JSON report names each referrer left behind, with
// why (`skippedReferrers`, beside the count `referrersSkipped`), checked against the schema.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { copy, type CopyResult, type SyncResult } from '../../src/index.js';
import { MediaType } from '../../src/image/mediatypes.js';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';
import { runMain } from '../fixtures/run-main.js';
import { assertValidReport } from '../e2e/report-schema.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const tempDir = tempDirs('regpush-referrer-skips-');
const fake = fakeRegistryPool();
const subjectOf = (m: { mediaType: string; digest: string; size: number }) => ({ mediaType: m.mediaType, digest: m.digest, size: m.size });
const BUNDLE = 'application/vnd.dev.sigstore.bundle+json;version=0.2';
const ECR_SAYS = "Invalid parameter at 'ImageManifest' failed to satisfy constraint: 'Invalid JSON syntax'";
const REFUSED = /the registry refused its manifest/;

/** `repo:tag` at `src`: an image with a sigstore bundle and an SBOM referring to it (the bundle's digest is `refused` at `dst`). */
function signed(src: FakeRegistry, repo: string, tag: string, refused: Set<string>) {
  const img = src.seedImage(repo, { tags: [tag], layers: [Buffer.from(`${repo} ${tag}`)] });
  const bundle = src.seedImage(repo, { artifactType: BUNDLE, subject: subjectOf(img), layers: [Buffer.from(`bundle ${repo} ${tag}`)] });
  src.seedImage(repo, { artifactType: 'application/spdx+json', subject: subjectOf(img), layers: [Buffer.from(`sbom ${repo} ${tag}`)] });
  refused.add(bundle.digest);
  return { img, bundle };
}

/** A target that answers the PUT of each manifest in `refused` as ECR answers a type with parameters (405 with its reason). */
function refusing(dst: FakeRegistry, refused: ReadonlySet<string>): void {
  dst.fault({ kind: 'manifest', method: 'PUT', when: (q) => q.digest !== undefined && refused.has(q.digest) }, { kind: 'status', status: 405, code: 'UNSUPPORTED', message: ECR_SAYS });
}

function cliEnv(...regs: FakeRegistry[]): Record<string, string> {
  const lib = fakeLibraryOptions(...regs);
  return { ...lib.env, HOME: lib.homeDir, REGPUSH_INSECURE_REGISTRIES: lib.insecureRegistries.join(',') };
}

test('sync --json of several images to a target refusing one kind of referrer: one warning for the run (the others at --debug), exit 0; each target\'s report names the referrer left behind, its type and the registry\'s answer', async () => {
  // Was: one warning per image (a 2,000-image sync to ECR printed 2,000 alike lines), and the
  // report counted the referrers left behind without saying which.
  const [src, dst] = [await fake(), await fake({ referrers: false })];
  const refused = new Set<string>();
  const repos = ['app0', 'app1', 'app2'];
  const seeded = repos.map((r) => signed(src, r, '1', refused));
  refusing(dst, refused);
  const dir = tempDir();
  writeFileSync(join(dir, 'sync.yaml'), ['defaults:', `  targets: [${dst.host}/mirror]`, '  referrers: true', 'images:', ...repos.map((r) => `  - source: ${src.ref(r)}:1`), ''].join('\n'));

  const run = await runMain(['sync', '--json', 'sync.yaml'], { cwd: dir, env: cliEnv(src, dst) });
  assert.equal(run.code, 0, run.stderr);
  const warnings = run.stderr.split('\n').filter((l) => REFUSED.test(l));
  assert.equal(warnings.length, 1, run.stderr);
  assert.match(warnings[0]!, /^warning: \S+: referrer sha256:[0-9a-f]{64} \(application\/vnd\.dev\.sigstore\.bundle\+json;version=0\.2\) of .* not copied to .*: the registry refused its manifest \(.*answered 405 UNSUPPORTED: Invalid parameter .*\); the image and its other referrers are copied/);
  assert.ok(warnings[0]!.endsWith(`(later images with referrers this registry refuses are not warned of again: each image's result counts its referrers left behind, and --json names them)`), warnings[0]);

  const report = JSON.parse(run.stdout) as SyncResult;
  assertValidReport(report, 'sync --json with referrers refused');
  assert.equal(report.totals.referrersSkipped, 3);
  repos.forEach((repo, i) => {
    const t = report.units.find((u) => u.source === src.ref(`${repo}:1`))!.targets[0]!;
    const { img, bundle } = seeded[i]!;
    assert.deepEqual([t.ok, t.referrers, t.referrersSkipped], [true, 1, 1], repo);
    assert.deepEqual(t.skippedReferrers, [
      {
        digest: bundle.digest,
        subject: img.digest,
        artifactType: BUNDLE,
        mediaType: MediaType.OCI_MANIFEST,
        reason: 'refused',
        message: `PUT manifest ${dst.host}/mirror/${repo}@${bundle.digest}: ${dst.host} answered 405 UNSUPPORTED: ${ECR_SAYS}`,
      },
    ]);
  });
});

test('copy --all-tags --referrers to a target refusing one kind of referrer: warned of once for the run, the other tags\' lines at debug level; the result names each tag\'s referrer left behind', async () => {
  const [src, dst] = [await fake(), await fake()];
  const refused = new Set<string>();
  const tags = ['1', '2', '3'];
  const seeded = tags.map((tag) => signed(src, 'app', tag, refused));
  refusing(dst, refused);
  const lines = { warn: [] as string[], debug: [] as string[] };
  const logger = { info: () => undefined, debug: (m: string) => lines.debug.push(m), warn: (m: string) => lines.warn.push(m) };
  const r = await copy({ from: src.ref('app'), to: [dst.ref('app')], allTags: true, referrers: true, retries: 0, logger, ...fakeLibraryOptions(src, dst) });
  assert.ok(r.targets[0]!.ok);
  assert.equal(lines.warn.filter((l) => REFUSED.test(l)).length, 1, lines.warn.join('\n'));
  assert.ok(lines.warn.find((l) => REFUSED.test(l))!.endsWith(`(later tags with referrers this registry refuses are not warned of again: each tag's result counts its referrers left behind, and --json names them)`));
  assert.equal(lines.debug.filter((l) => REFUSED.test(l)).length, 2, 'the other two tags at debug level');
  assert.deepEqual([r.targets[0]!.referrers, r.targets[0]!.referrersSkipped], [3, 3]);
  assert.deepEqual(
    r.targets[0]!.skippedReferrers?.map((s) => [s.digest, s.subject, s.reason]),
    seeded.map(({ img, bundle }) => [bundle.digest, img.digest, 'refused']),
    'tag after tag',
  );
});

test('copy --json --referrers: the report names each referrer left behind at each target and why (refused, what refers to a refused one, an OCI 1.1-rc artifact manifest)', async () => {
  const [src, ecr, other] = [await fake(), await fake(), await fake()];
  const refused = new Set<string>();
  const { img, bundle } = signed(src, 'app', '1', refused);
  refusing(ecr, refused);
  const note = src.seedImage('app', { artifactType: 'application/vnd.example.note', subject: subjectOf(bundle) });
  const blob = src.putBlob('app', 'sig-bytes', 'application/vnd.cncf.notary.signature');
  const art = src.putManifest('app', { mediaType: MediaType.OCI_ARTIFACT_MANIFEST, artifactType: 'application/vnd.cncf.notary.signature', blobs: [blob], subject: subjectOf(img) }, { mediaType: MediaType.OCI_ARTIFACT_MANIFEST });

  const run = await runMain(['copy', '--json', '--referrers', src.ref('app:1'), `${ecr.host}/app:1`, `${other.host}/app:1`], { env: cliEnv(src, ecr, other) });
  assert.equal(run.code, 0, run.stderr);
  const report = JSON.parse(run.stdout) as CopyResult;
  assertValidReport(report, 'copy --json with referrers left behind');
  const [atEcr, atOther] = report.targets;
  const artifact = { digest: art.digest, subject: img.digest, mediaType: MediaType.OCI_ARTIFACT_MANIFEST, artifactType: 'application/vnd.cncf.notary.signature', reason: 'artifact-manifest' };
  assert.deepEqual(atEcr!.skippedReferrers, [
    { digest: bundle.digest, subject: img.digest, artifactType: BUNDLE, mediaType: MediaType.OCI_MANIFEST, reason: 'refused', message: `PUT manifest ${ecr.host}/app@${bundle.digest}: ${ecr.host} answered 405 UNSUPPORTED: ${ECR_SAYS}` },
    artifact,
    { digest: note.digest, subject: bundle.digest, mediaType: MediaType.OCI_MANIFEST, artifactType: 'application/vnd.example.note', reason: 'subject-not-copied' },
  ]);
  assert.equal(atEcr!.referrersSkipped, 3);
  assert.deepEqual(atOther!.skippedReferrers, [artifact]);
  assert.deepEqual([atOther!.referrers, atOther!.referrersSkipped], [3, 1]);
});

