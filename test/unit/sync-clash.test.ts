// Two entries whose tags are known only from the sources' tag lists (`all`, filters) and that land
// on one target tag: the file check cannot see it, so the sync must refuse those units before
// writing, not let them race (the tag would name whichever image finished last).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSyncFile, sync, type SyncResult } from '../../src/index.js';
import { parseReference } from '../../src/ref/reference.js';
import { targetClashes } from '../../src/sync/target.js';
import { fakeLibraryOptions, fakeRegistryPool } from '../fixtures/fake-registry.js';

const fake = fakeRegistryPool();

describe('targetClashes', () => {
  const unit = (label: string, source: string, ...targets: string[]) => ({ label, unit: { source: parseReference(source), targets: targets.map((t) => parseReference(t)) } });

  it('names every unit of another entry that writes the same target, and nothing else', () => {
    const clashes = targetClashes([
      unit('images[0] (a.io/x)', 'a.io/x:1', 'r.io/m/x:1', 'q.io/m/x:1'),
      unit('images[0] (a.io/x)', 'a.io/x:2', 'r.io/m/x:2'),
      unit('images[1] (b.io/x)', 'b.io/x:1', 'r.io/m/x:1'),
      unit('images[1] (b.io/x)', 'b.io/x:3', 'r.io/m/x:3'),
      unit('images[2] (c.io/x)', 'c.io/x:1', 'q.io/m/x:1'),
    ]);
    assert.deepEqual([...clashes.keys()].sort(), [0, 2, 4]);
    assert.equal(clashes.get(0), "would write r.io/m/x:1, which images[1] (b.io/x) (b.io/x:1) would write too; not copied: keep the entries' targets apart, or their tags from overlapping");
    assert.match(clashes.get(2)!, /^would write r\.io\/m\/x:1, which images\[0\] \(a\.io\/x\) \(a\.io\/x:1\) would write too/);
    assert.match(clashes.get(4)!, /^would write q\.io\/m\/x:1, which images\[0\] \(a\.io\/x\) \(a\.io\/x:1\) would write too/);
  });

  it('one entry never clashes with itself; different tags or repositories never clash', () => {
    assert.equal(targetClashes([unit('images[0] (a.io/x)', 'a.io/x:1', 'r.io/m/x:1'), unit('images[0] (a.io/x)', 'a.io/x:1', 'r.io/m/x:1')]).size, 0);
    assert.equal(targetClashes([unit('images[0] (a.io/x)', 'a.io/x:1', 'r.io/m/x:1'), unit('images[1] (b.io/x)', 'b.io/x:1', 'r.io/m/y:1', 'r.io/m/x:2')]).size, 0);
  });
});

describe('sync: overlapping tags of two entries found in the tag lists', () => {
  it('the units writing one target fail with E_INPUT before anything is written there; the others are copied', async () => {
    const [a, b, dst] = [await fake(), await fake(), await fake()];
    // Same repository path in two registries: the target rule maps both to dst/mirror/team/app.
    a.seedImage('team/app', { tags: ['1', 'only-a'] });
    b.seedImage('team/app', { tags: ['1', 'only-b'] });
    const spec = parseSyncFile(
      ['defaults:', `  targets: [${dst.host}/mirror]`, 'images:', `  - { source: ${a.ref('team/app')}, tags: all }`, `  - { source: ${b.ref('team/app')}, tags: { regex: '^(1|only-b)$' } }`, ''].join('\n'),
      'sync.yaml',
    );
    const err = await sync({ spec, ...fakeLibraryOptions(a, b, dst) }).then(
      () => assert.fail('the sync succeeded'),
      (e: { code?: string; message?: string; details?: { result?: SyncResult } }) => e,
    );
    assert.equal(err.code, 'E_PARTIAL', err.message);
    const r = err.details!.result!;
    const failed = r.units.filter((u) => !u.ok);
    assert.deepEqual(failed.map((u) => u.source).sort(), [a.ref('team/app:1'), b.ref('team/app:1')].sort());
    for (const u of failed) {
      assert.equal(u.error?.code, 'E_INPUT');
      assert.match(u.error!.message, new RegExp(`^would write ${dst.host}/mirror/team/app:1, which images\\[${u.entry.startsWith('images[0]') ? 1 : 0}\\]`));
      assert.deepEqual(u.targets.map((t) => [t.target, t.action]), [[`${dst.host}/mirror/team/app:1`, 'failed']]);
    }
    assert.match(err.message!, /2 of 4 images failed: .*would write .*team\/app:1/);
    assert.deepEqual(r.units.filter((u) => u.ok).map((u) => u.source).sort(), [a.ref('team/app:only-a'), b.ref('team/app:only-b')].sort());
    assert.deepEqual(dst.tags('mirror/team/app').sort(), ['only-a', 'only-b']);
    assert.equal(dst.count({ kind: 'manifest', path: /\/manifests\/1$/ }), 0, 'no request for the contested tag');
    assert.equal(r.totals.failed, 2);
    assert.equal(r.totals.copied, 2);
  });
});
