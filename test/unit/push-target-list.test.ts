// push()'s `targets`: an array `to` lists every target, one too, so a caller passing a list reads
// one shape whatever its length; a string `to` keeps the report without the list (fake registries).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { push } from '../../src/index.js';
import { fakeLibraryOptions, fakeRegistryPool } from '../fixtures/fake-registry.js';

const fake = fakeRegistryPool();

test('push to: [one target] reports targets, real and dry run; to: "one target" does not', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base', { tags: ['1'] });
  const opts = { from: src.ref('base:1'), ...fakeLibraryOptions(src, dst) };

  const plan = await push({ ...opts, to: [dst.ref('app:1')], dryRun: true });
  assert.deepEqual(plan.targets?.map((t) => [t.target, t.ok, t.tags]), [[dst.ref('app:1'), true, ['1']]]);

  const one = await push({ ...opts, to: [dst.ref('app:1')] });
  assert.equal(one.targets?.length, 1, JSON.stringify(one));
  const t = one.targets![0]!;
  assert.deepEqual([t.target, t.ok, t.reference, t.digest], [dst.ref('app:1'), true, one.reference, one.digest]);
  assert.equal(dst.manifest('app', '1')?.digest, one.digest);

  // Several tags of one repository are one target, listed once with its tags.
  const tags = await push({ ...opts, to: [dst.ref('app:2'), dst.ref('app:3')] });
  assert.deepEqual(tags.targets?.map((x) => [x.ok, x.tags]), [[true, ['2', '3']]]);

  const plain = await push({ ...opts, to: dst.ref('app:4') });
  assert.equal(plain.targets, undefined, 'a string `to` keeps the report without the list');
  assert.equal(dst.manifest('app', '4')?.digest, plain.digest);
});
