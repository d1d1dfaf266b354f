// copy's human output (no --json), CLI in-process against fake registries
// (test/fixtures/fake-registry.ts): stdout stays one `repo@sha256:…` line per target, and the
// referrers the JSON report counts (copied, left behind) are said on stderr, worded as sync's;
// a --dry-run plan says them on each target's line, in the same words.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';
import { runMain } from '../fixtures/run-main.js';

const fake = fakeRegistryPool();
const sigTag = (d: string) => `${d.replace(':', '-')}.sig`;

/**
 * A source with app:1, an index of amd64 and arm64 with three referrers: a signature of the index
 * (left behind by --platform linux/arm64, which writes a new index), a signature and an SBOM of
 * the arm64 image (copied); and plain:1, with none. `env` runs the CLI against both registries.
 */
async function seeded(): Promise<{ src: FakeRegistry; dst: FakeRegistry; env: Record<string, string> }> {
  const [src, dst] = [await fake(), await fake()];
  const amd = src.seedImage('app', { platform: { os: 'linux', architecture: 'amd64' } });
  const arm = src.seedImage('app', { platform: { os: 'linux', architecture: 'arm64' } });
  const index = src.seedIndex('app', [amd, arm], { tags: ['1'] });
  src.seedImage('app', { tags: [sigTag(index.digest)] });
  src.seedImage('app', { tags: [sigTag(arm.digest)] });
  src.seedImage('app', { artifactType: 'application/spdx+json', subject: { mediaType: arm.mediaType, digest: arm.digest, size: arm.size } });
  src.seedImage('plain', { tags: ['1'] });
  const lib = fakeLibraryOptions(src, dst);
  const env = { ...lib.env, HOME: lib.homeDir, REGPUSH_INSECURE_REGISTRIES: lib.insecureRegistries.join(',') };
  return { src, dst, env };
}

test('copy --referrers says on stderr how many referrers each target got and how many stayed behind (the JSON report had them, the human output did not)', async () => {
  const { src, dst, env } = await seeded();

  const r = await runMain(['copy', '--referrers', '--platform', 'linux/arm64', src.ref('app:1'), `${dst.host}/app:1`], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^${dst.host.replace(/[.]/g, '\\.')}/app@sha256:[0-9a-f]{64}\\n$`), 'stdout: the result line only');
  assert.ok(r.stderr.includes(`copy → ${dst.host}/app:1: 2 referrers, 1 left behind\n`), r.stderr);

  // Nothing to say when there are none; --quiet prints no such note (its warnings stay: the digest
  // the subset index changed, the referrer it could not carry).
  const plain = await runMain(['copy', '--referrers', src.ref('plain:1'), `${dst.host}/plain:1`], { env });
  assert.equal(plain.code, 0, plain.stderr);
  assert.doesNotMatch(plain.stderr, /referrer/);
  const quiet = await runMain(['copy', '--quiet', '--referrers', '--platform', 'linux/arm64', src.ref('app:1'), `${dst.host}/app:2`], { env });
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.doesNotMatch(quiet.stderr, /^copy → /m);
  assert.ok(quiet.stderr.split('\n').every((l) => l === '' || l.startsWith('warning: ')), quiet.stderr);
});

test('copy --referrers --dry-run: the plan says per target how many referrers it would copy and leave behind, worded as the stderr line of a copy (the JSON report counted them, the plan text did not)', async () => {
  const { src, dst, env } = await seeded();
  const args = ['copy', '--dry-run', '--referrers', '--platform', 'linux/arm64', src.ref('app:1'), `${dst.host}/app:1`, `${dst.host}/other:1`];

  // What a dry run counts: the referrers it plans to copy (the walk runs, nothing is written) and those it would leave behind.
  const json = await runMain([...args, '--json'], { env });
  assert.equal(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout);
  assert.deepEqual(report.targets.map((t: { referrers: number; referrersSkipped: number }) => [t.referrers, t.referrersSkipped]), [[2, 1], [2, 1]]);

  const r = await runMain(args, { env });
  assert.equal(r.code, 0, r.stderr);
  for (const repo of ['app', 'other']) assert.ok(r.stdout.includes(`\n→ ${dst.host}/${repo}:1  tags: 1  (2 referrers, 1 left behind)\n`), r.stdout);
  assert.equal(dst.count({ method: 'PUT' }), 0, 'a dry run writes nothing');

  // None planned: the plan says nothing of referrers.
  const plain = await runMain(['copy', '--dry-run', '--referrers', src.ref('plain:1'), `${dst.host}/plain:1`], { env });
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stdout, new RegExp(`→ ${dst.host.replace(/[.]/g, '\\.')}/plain:1  tags: 1\\n`));
  assert.doesNotMatch(plain.stdout, /referrer/);
});

test('copy --dry-run: a target that fails is named in the plan with its error, scrubbed of the run\'s credentials as the report is', async () => {
  const password = 'S3cr3t-Passw0rd';
  const src = await fake();
  const dst = await fake({ auth: { scheme: 'basic', user: 'ci', password } });
  src.seedImage('app', { tags: ['1'] });
  // A dry run sends only HEADs, whose answers have no body: what a registry says reaches the plan
  // through its headers, here a challenge whose realm (quoted in the error) holds the password.
  dst.fault({ repo: 'blocked' }, { kind: 'status', status: 401, headers: { 'www-authenticate': `Bearer realm="ci:${password}"` } });
  const lib = fakeLibraryOptions(src, dst);
  const env = { ...lib.env, HOME: lib.homeDir, REGPUSH_INSECURE_REGISTRIES: lib.insecureRegistries.join(','), REGPUSH_TO_USER: 'ci', REGPUSH_TO_PASSWORD: password };
  const r = await runMain(['copy', '--dry-run', '--retries', '0', src.ref('app:1'), `${dst.host}/app:1`, `${dst.host}/blocked:1`], { env });
  assert.equal(r.code, 8, r.stderr);
  assert.match(r.stdout, /→ .*\/blocked:1 {2}FAILS: E_PROTOCOL refusing token realm ci:\*\*\* /);
  assert.ok(!r.stdout.includes(password) && !r.stderr.includes(password), r.stdout);
});

test('copy --dry-run says per tag which already holds the image: a target that holds it under every tag is up to date, one under some tags names them (they are not written), the report lists them in tagsUnchanged; no request more than the HEAD per tag', async () => {
  const { src, dst, env } = await seeded();
  const first = await runMain(['copy', src.ref('plain:1'), dst.ref('plain:1')], { env });
  assert.equal(first.code, 0, first.stderr);
  dst.clearLog();
  const r = await runMain(['copy', '--dry-run', '--tag', '2', src.ref('plain:1'), dst.ref('plain:1'), dst.ref('other:1')], { env });
  assert.equal(r.code, 0, r.stderr);
  const targets = r.stdout.split('\n').filter((l) => l.startsWith('→ '));
  // plain:1 holds it under 1 but not 2 (a tag to write); other:1 lacks it.
  assert.deepEqual(targets, [`→ ${dst.ref('plain:1')}  tags: 1 (already holds the image), 2`, `→ ${dst.ref('other:1')}  tags: 1, 2`]);
  // One HEAD per target tag (the unchanged check's), none more for the plan to say which hold it.
  assert.deepEqual(dst.requests({ kind: 'manifest' }).map((q) => `${q.method} ${q.repo}:${q.tag}`).sort(), ['HEAD other:1', 'HEAD other:2', 'HEAD plain:1', 'HEAD plain:2']);
  const json = await runMain(['copy', '--dry-run', '--json', '--tag', '2', src.ref('plain:1'), dst.ref('plain:1'), dst.ref('other:1')], { env });
  assert.equal(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout) as { targets: { tags: string[]; tagsUnchanged?: string[] }[] };
  assert.deepEqual(report.targets.map((t) => [t.tags, t.tagsUnchanged]), [[['1', '2'], ['1']], [['1', '2'], undefined]]);
  const again = await runMain(['copy', '--dry-run', src.ref('plain:1'), dst.ref('plain:1')], { env });
  assert.deepEqual(again.stdout.split('\n').filter((l) => l.startsWith('→ ')), [`→ ${dst.ref('plain:1')}  tags: 1, up to date: nothing to write`]);
  assert.equal(dst.count({ method: ['PUT', 'POST', 'PATCH'] }), 0, 'the dry runs wrote nothing');
});
