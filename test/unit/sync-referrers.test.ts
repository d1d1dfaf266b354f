// sync's `referrers: true` with a `platforms` list (fake registries, test/fixtures/fake-registry.ts):
// the kept platform manifest keeps its digest and its referrers; the new index's source digest
// has its referrers left behind, and the warning names the image.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSyncFile, sync } from '../../src/index.js';
import { fakeLibraryOptions, fakeRegistryPool } from '../fixtures/fake-registry.js';

const fake = fakeRegistryPool();

type SyncOpts = Parameters<typeof sync>[0];

test('sync referrers: true with platforms: the kept child\'s signature is copied, the source index\'s stays behind with one warning naming the source', async () => {
  const [src, dst] = [await fake(), await fake()];
  const amd = src.seedImage('app', { platform: { os: 'linux', architecture: 'amd64' } });
  const arm = src.seedImage('app', { platform: { os: 'linux', architecture: 'arm64' } });
  const index = src.seedIndex('app', [amd, arm], { tags: ['1'] });
  const sigTag = (d: string) => `${d.replace(':', '-')}.sig`;
  src.seedImage('app', { tags: [sigTag(index.digest)] });
  const armSig = src.seedImage('app', { tags: [sigTag(arm.digest)] });
  const spec = parseSyncFile(['images:', `  - source: ${src.ref('app:1')}`, `    target: ${dst.host}/app`, '    platforms: [linux/arm64]', '    referrers: true', ''].join('\n'), 'sync.yaml');
  const warn: string[] = [];
  const logger = { info: () => undefined, debug: () => undefined, warn: (m: string) => warn.push(m) };
  const r = await sync({ spec, logger, ...fakeLibraryOptions(src, dst) } as SyncOpts);
  assert.ok(r.units.every((u) => u.ok), JSON.stringify(r.units));
  assert.equal(dst.manifest('app', sigTag(arm.digest))?.digest, armSig.digest);
  assert.equal(dst.manifest('app', sigTag(index.digest)), undefined);
  assert.deepEqual(warn, [`${src.ref('app:1')}: keeping only linux/arm64 changes the image's digest: its 1 referrer (signatures, attestations) refers to the source digest and is not copied; the 1 of the manifests it keeps as they are is copied`]);
});
