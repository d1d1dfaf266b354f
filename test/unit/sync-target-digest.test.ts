// sync's per-target `digest`: what the target's tag points at once the unit is done (fake
// registries, test/fixtures/fake-registry.ts). With `platforms` the index written is a new one,
// whose digest was nowhere in the result: the source digest is the unit's, not the target's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSyncFile, sync } from '../../src/index.js';
import { fakeLibraryOptions, fakeRegistryPool } from '../fixtures/fake-registry.js';

const fake = fakeRegistryPool();
type SyncOpts = Parameters<typeof sync>[0];
const quiet = { info: () => undefined, debug: () => undefined, warn: () => undefined };

test('sync with platforms: each target reports the new index\'s digest (planned, copied, up to date), the digest its tag resolves to, not the source\'s', async () => {
  const [src, dst] = [await fake(), await fake()];
  const images = (['amd64', 'arm64', 's390x'] as const).map((architecture) => src.seedImage('app', { platform: { os: 'linux', architecture } }));
  const index = src.seedIndex('app', images, { tags: ['1'] });
  src.seedImage('plain', { tags: ['1'] });
  const text = ['images:', `  - source: ${src.ref('app:1')}`, `    targets: [${dst.host}/a, ${dst.host}/b]`, '    platforms: [linux/amd64, linux/arm64]', `  - source: ${src.ref('plain:1')}`, `    target: ${dst.host}/plain`, ''].join('\n');
  const run = (dryRun = false) => sync({ spec: parseSyncFile(text, 'sync.yaml'), dryRun, logger: quiet, ...fakeLibraryOptions(src, dst) } as SyncOpts);
  const unit = (r: Awaited<ReturnType<typeof sync>>, repo: string) => r.units.find((u) => u.source === src.ref(`${repo}:1`))!;

  const planned = unit(await run(true), 'app');
  assert.deepEqual(planned.targets.map((t) => t.action), ['planned', 'planned']);
  assert.equal(dst.manifest('a/app', '1'), undefined, 'a dry run writes nothing');

  const first = await run();
  const copied = unit(first, 'app');
  assert.equal(copied.sourceDigest, index.digest);
  const written = dst.manifest('a/app', '1')!.digest;
  assert.notEqual(written, index.digest, 'platforms made a new index');
  assert.equal(dst.manifest('b/app', '1')!.digest, written);
  assert.deepEqual(copied.targets.map((t) => [t.action, t.digest]), [['copied', written], ['copied', written]]);
  assert.deepEqual(planned.targets.map((t) => t.digest), [written, written], 'the dry run names the index it would write');
  // Without platforms the target holds the source's own digest.
  const plain = unit(first, 'plain');
  assert.deepEqual(plain.targets.map((t) => [t.action, t.digest]), [['copied', plain.sourceDigest]]);
  assert.equal(dst.manifest('plain', '1')!.digest, plain.sourceDigest);

  // Up to date: the subset's index is found at the targets (the source's children are not read).
  const again = unit(await run(), 'app');
  assert.deepEqual(again.targets.map((t) => [t.action, t.digest]), [['skipped', written], ['skipped', written]]);
});
