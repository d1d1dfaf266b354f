// Connections opened ahead (warm) for a cold target go to that image's own source: its registry,
// or the mirror its reads go to first. A run that reads from several source registries (a sync
// file of two) keeps one source client per registry; warming is for the image whose target turned
// out to lack its tag, never for the other registries the run has read from before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseReference } from '../../src/index.js';
import { TransferRun } from '../../src/transfer/engine.js';
import { fakeLibraryOptions, fakeRegistryPool } from '../fixtures/fake-registry.js';
import { waitFor } from '../fixtures/wait-for.js';

const fake = fakeRegistryPool();

test('two source registries: a cold target of an image from the second warms the second registry only, not the first nor the mirror the first is read through', async () => {
  const [first, firstMirror, second, dst] = [await fake(), await fake(), await fake(), await fake()];
  for (const reg of [first, firstMirror]) reg.seedImage('team/app', { tags: ['1'] });
  second.seedImage('ops/app', { tags: ['1'] });
  const run = new TransferRun({ jobs: 3, mirrors: { [first.host]: [firstMirror.host] }, ...fakeLibraryOptions(first, firstMirror, second, dst) });
  try {
    run.source(parseReference(first.ref('team/app:1'))); // an image of the first registry, read before
    const next = parseReference(second.ref('ops/app:1'));
    run.source(next);
    const set = run.targets([{ ref: parseReference(dst.ref('ops:1')), tags: ['1'] }], next);
    assert.equal(await set.list[0]!.ep.client.headManifest('ops', '1'), undefined, 'the tag is new at the target');
    set.finish();
    await waitFor('--jobs connections at the image\'s own source registry', () => second.connectionsAt.length === 3);
    assert.deepEqual([first.connectionsAt.length, firstMirror.connectionsAt.length], [0, 0], 'none at the other source registry or its mirror, which this image does not read');
  } finally {
    run.close();
  }
});
