// copy's human output (no --json), CLI in-process against fake registries
// (test/fixtures/fake-registry.ts): stdout stays one `repo@sha256:…` line per target, and the
// referrers the JSON report counts (copied, left behind) are said on stderr, worded as sync's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fakeLibraryOptions, fakeRegistryPool } from '../fixtures/fake-registry.js';
import { runMain } from '../fixtures/run-main.js';

const fake = fakeRegistryPool();
const sigTag = (d: string) => `${d.replace(':', '-')}.sig`;

test('copy --referrers says on stderr how many referrers each target got and how many stayed behind (the JSON report had them, the human output did not)', async () => {
  const [src, dst] = [await fake(), await fake()];
  const amd = src.seedImage('app', { platform: { os: 'linux', architecture: 'amd64' } });
  const arm = src.seedImage('app', { platform: { os: 'linux', architecture: 'arm64' } });
  const index = src.seedIndex('app', [amd, arm], { tags: ['1'] });
  src.seedImage('app', { tags: [sigTag(index.digest)] }); // names the source index, which --platform replaces: left behind
  src.seedImage('app', { tags: [sigTag(arm.digest)] });
  src.seedImage('app', { artifactType: 'application/spdx+json', subject: { mediaType: arm.mediaType, digest: arm.digest, size: arm.size } });
  src.seedImage('plain', { tags: ['1'] });
  const lib = fakeLibraryOptions(src, dst);
  const env = { ...lib.env, HOME: lib.homeDir, REGPUSH_INSECURE_REGISTRIES: lib.insecureRegistries.join(',') };

  const r = await runMain(['copy', '--referrers', '--platform', 'linux/arm64', src.ref('app:1'), `${dst.host}/app:1`], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^${dst.host.replace(/[.]/g, '\\.')}/app@sha256:[0-9a-f]{64}\\n$`), 'stdout: the result line only');
  assert.ok(r.stderr.includes(`copy → ${dst.host}/app:1: 2 referrers, 1 left behind\n`), r.stderr);

  // Nothing to say when there are none; --quiet prints only the result.
  const plain = await runMain(['copy', '--referrers', src.ref('plain:1'), `${dst.host}/plain:1`], { env });
  assert.equal(plain.code, 0, plain.stderr);
  assert.doesNotMatch(plain.stderr, /referrer/);
  const quiet = await runMain(['copy', '--quiet', '--referrers', '--platform', 'linux/arm64', src.ref('app:1'), `${dst.host}/app:2`], { env });
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.doesNotMatch(quiet.stderr, /referrer/);
});
