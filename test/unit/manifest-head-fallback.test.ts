// A manifest HEAD the registry refuses (400, 405, 501) falls back on the GET (Manifests.head). Only
// 405 and 501 (the method not served) make the client GET at once for the rest of the run: a 400
// may be about one reference, and every later HEAD turned into a GET would count as a pull at
// Docker Hub (the tag checks, the rate gate's polling).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseReference } from '../../src/index.js';
import { TransferRun } from '../../src/transfer/engine.js';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';

const fake = fakeRegistryPool();

/** Runs `body` with one client of `reg` (a run's source client), closing the run after. */
async function withClient(reg: FakeRegistry, body: (head: (ref: string) => Promise<string | undefined>) => Promise<void>): Promise<void> {
  const run = new TransferRun({ ...fakeLibraryOptions(reg), retries: 0 });
  try {
    const client = run.source(parseReference(reg.ref('base/app:1'))).client;
    await body(async (ref) => (await client.headManifest('base/app', ref))?.digest);
  } finally {
    run.close();
  }
}

for (const status of [405, 501]) {
  test(`a manifest HEAD answered ${status}: the GET answers it, and this client's later lookups GET at once`, async () => {
    const reg = await fake();
    const img = reg.seedImage('base/app', { tags: ['1', '2'] });
    reg.fault({ kind: 'manifest', method: 'HEAD' }, { kind: 'status', status });
    await withClient(reg, async (head) => {
      assert.equal(await head('1'), img.digest);
      assert.equal(await head('2'), img.digest);
      assert.equal(await head('1'), img.digest);
    });
    assert.equal(reg.count({ kind: 'manifest', method: 'HEAD' }), 1, 'the HEAD asked once');
    assert.equal(reg.count({ kind: 'manifest', method: 'GET' }), 3);
  });
}

test('a manifest HEAD answered 400 for one reference: that lookup GETs, and the next lookups HEAD again', async () => {
  const reg = await fake();
  const img = reg.seedImage('base/app', { tags: ['1', '2'] });
  reg.fault({ kind: 'manifest', method: 'HEAD', when: (r) => r.tag === '1' }, { kind: 'status', status: 400 });
  await withClient(reg, async (head) => {
    assert.equal(await head('1'), img.digest);
    assert.equal(await head('2'), img.digest);
    assert.equal(await head('1'), img.digest);
  });
  const heads = reg.requests({ kind: 'manifest', method: 'HEAD' });
  assert.deepEqual(heads.map((r) => [r.tag, r.status]), [['1', 400], ['2', 200], ['1', 400]], 'each lookup HEADs first');
  assert.deepEqual(reg.requests({ kind: 'manifest', method: 'GET' }).map((r) => r.tag), ['1', '1'], 'a GET only where the HEAD was refused');
});
