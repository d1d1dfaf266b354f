// Referrers across the images of one run (copy --all-tags, sync), against fake registries
// (test/fixtures/fake-registry.ts): the source's tag list is read once per repository, not once
// per image; the fallback tags `sha256-<hex>` (and cosign's .sig/.att/.sbom) are left to the walk,
// which merges, instead of being copied over the target's as tags; a referrer an interrupted run
// wrote and did not list is listed by the next; a referrer listed and gone is skipped with a
// warning; and requests asked once suffice (a target's referrers API, --no-clobber's HEADs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copy, parseSyncFile, sync } from '../../src/index.js';
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
