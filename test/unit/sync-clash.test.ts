// Two entries whose tags are known only from the sources' tag lists (`all`, filters) and that land
// on one target tag: the file check cannot see it, so the sync must refuse those units before
// writing, not let them race (the tag would name whichever image finished last).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSyncFile, sync, type SyncResult } from '../../src/index.js';
import { parseReference } from '../../src/ref/reference.js';
import { silentLogger } from '../../src/log.js';
import { shardOf } from '../../src/sync/shard.js';
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

describe('sync: two entries that make the same copy into one target', () => {
  it('a tag one entry lists and another\'s filter picks, same platforms and referrers: copied once, by the first entry, no clash', async () => {
    const [src, dst] = [await fake(), await fake()];
    src.seedImage('team/app', { tags: ['1', '2'] });
    const spec = parseSyncFile(
      ['defaults:', `  targets: [${dst.host}/mirror]`, 'images:', `  - { source: ${src.ref('team/app')}, tags: ['1'] }`, `  - { source: ${src.ref('team/app')}, tags: { regex: '^[0-9]+$' } }`, ''].join('\n'),
      'sync.yaml',
    );
    const lines: string[] = [];
    const opts = fakeLibraryOptions(src, dst);
    const r = await sync({ spec, ...opts, logger: { ...silentLogger, info: (m: string) => lines.push(m) } });
    assert.deepEqual(r.units.map((u) => `${u.entry} ${u.source} ${u.ok}`).sort(), [
      `images[0] (${src.ref('team/app')}) ${src.ref('team/app:1')} true`,
      `images[1] (${src.ref('team/app')}) ${src.ref('team/app:2')} true`,
    ]);
    assert.deepEqual(dst.tags('mirror/team/app').sort(), ['1', '2']);
    assert.equal(src.count({ kind: 'manifest', path: /\/manifests\/1$/, method: 'GET' }), 1, 'the shared tag was read once');
    assert.ok(lines.some((l) => l.includes(`images[1] (${src.ref('team/app')}): ${src.ref('team/app:1')} → ${dst.host}/mirror/team/app:1 is the copy images[0] (${src.ref('team/app')}) makes too; copied once, by that entry`)), lines.join('\n'));
  });

  it('the same tag with other platforms is a different copy: still refused as a clash', async () => {
    const [src, dst] = [await fake(), await fake()];
    src.seedImage('team/app', { tags: ['1'] });
    const spec = parseSyncFile(
      ['defaults:', `  targets: [${dst.host}/mirror]`, 'images:', `  - { source: ${src.ref('team/app')}, tags: all }`, `  - { source: ${src.ref('team/app')}, tags: all, platforms: [linux/amd64] }`, ''].join('\n'),
      'sync.yaml',
    );
    const err = await sync({ spec, ...fakeLibraryOptions(src, dst) }).then(
      () => assert.fail('the sync succeeded'),
      (e: { code?: string; details?: { result?: SyncResult } }) => e,
    );
    assert.deepEqual(err.details!.result!.units.map((u) => u.error?.code), ['E_INPUT', 'E_INPUT']);
    assert.deepEqual(dst.tags('mirror/team/app'), []);
  });
});

describe('sync --shard: overlapping tags of entries in different shards', () => {
  /** Repositories `name<i>` of `reg` whose keys fall in shard 0 of 2 (`zero`) and shard 1 (`one`). */
  const byShard = (host: string) => {
    const names = Array.from({ length: 40 }, (_, i) => `team/app${i}`);
    return { zero: names.filter((n) => shardOf(`${host}/${n}`, 2) === 0), one: names.filter((n) => shardOf(`${host}/${n}`, 2) === 1) };
  };
  const failure = (p: Promise<SyncResult>) =>
    p.then(
      () => assert.fail('the sync succeeded'),
      (e: { code?: string; message?: string; details?: { result?: SyncResult } }) => e,
    );

  it('each shard lists the other shard\'s writers of its target repositories, refuses its side of the clash naming both entries, and copies the rest', async () => {
    const [src, dst] = [await fake(), await fake()];
    const { zero, one } = byShard(src.host);
    const [x, y, apart] = [zero[0]!, one[0]!, one[1]!];
    src.seedImage(x, { tags: ['1', 'only-x'] });
    src.seedImage(y, { tags: ['1', 'only-y'] });
    src.seedImage(apart, { tags: ['1'] });
    const spec = parseSyncFile(
      [
        'images:',
        `  - { source: ${src.ref(x)}, tags: all, target: ${dst.ref('mirror/app')} }`,
        `  - { source: ${src.ref(y)}, tags: { regex: '^(1|only-y)$' }, target: ${dst.ref('mirror/app')} }`,
        // Shard 1 too, into a repository of its own: shard 0 has no reason to list it.
        `  - { source: ${src.ref(apart)}, tags: all, target: ${dst.ref('mirror/apart')} }`,
        // y again, elsewhere: its shard lists y once for both entries.
        `  - { source: ${src.ref(y)}, tags: { regex: '^only' }, target: ${dst.ref('mirror/y')} }`,
        '',
      ].join('\n'),
      'sync.yaml',
    );
    const results: SyncResult[] = [];
    for (const index of [0, 1]) {
      const err = await failure(sync({ spec, shard: { index, count: 2 }, ...fakeLibraryOptions(src, dst) }));
      assert.equal(err.code, 'E_PARTIAL', err.message);
      results.push(err.details!.result!);
    }
    const [r0, r1] = results as [SyncResult, SyncResult];
    const [ex, ey] = spec.images.map((i) => i.label) as [string, string];
    // Both sides of the clash are refused, each by its own shard, and each message names both entries.
    const refused = (r: SyncResult) => r.units.filter((u) => !u.ok);
    assert.deepEqual(refused(r0).map((u) => [u.entry, u.source, u.error?.code]), [[ex, src.ref(`${x}:1`), 'E_INPUT']]);
    assert.deepEqual(refused(r1).map((u) => [u.entry, u.source, u.error?.code]), [[ey, src.ref(`${y}:1`), 'E_INPUT']]);
    const target = dst.ref('mirror/app:1');
    assert.equal(
      refused(r0)[0]!.error!.message,
      `${ex} (${src.ref(`${x}:1`)}, shard 0/2) would write ${target}, which ${ey} (${src.ref(`${y}:1`)}, shard 1/2) would write too; not copied: keep the entries' targets apart, or their tags from overlapping`,
    );
    assert.equal(
      refused(r1)[0]!.error!.message,
      `${ey} (${src.ref(`${y}:1`)}, shard 1/2) would write ${target}, which ${ex} (${src.ref(`${x}:1`)}, shard 0/2) would write too; not copied: keep the entries' targets apart, or their tags from overlapping`,
    );
    // The rest of each shard is copied; the contested tag is never written; a shard copies only its own units.
    assert.deepEqual(r0.units.filter((u) => u.ok).map((u) => u.source), [src.ref(`${x}:only-x`)]);
    assert.deepEqual(r1.units.filter((u) => u.ok).map((u) => u.targets.map((t) => t.target).join()).sort(), [dst.ref('mirror/apart:1'), dst.ref('mirror/app:only-y'), dst.ref('mirror/y:only-y')].sort());
    assert.deepEqual(dst.tags('mirror/app').sort(), ['only-x', 'only-y']);
    assert.deepEqual(dst.tags('mirror/apart'), ['1']);
    assert.equal(dst.count({ kind: 'manifest', repo: 'mirror/app', path: /\/manifests\/1$/ }), 0, 'no request for the contested tag');
    assert.deepEqual([r0.totals.entries, r1.totals.entries], [1, 3]);
    // Listing only: x and y are listed once by each shard, `apart` by its own shard alone; no
    // shard reads a manifest of another shard's source.
    assert.deepEqual([x, y, apart].map((repo) => src.count({ kind: 'tags', repo })), [2, 2, 1]);
    for (const [r, foreign] of [[r0, [y, apart]], [r1, [x]]] as const) {
      for (const repo of foreign) assert.equal(r.units.filter((u) => u.source.includes(`/${repo}:`)).length, 0);
    }
    assert.equal(src.count({ kind: 'manifest', repo: x, path: /\/manifests\/1$/ }) + src.count({ kind: 'manifest', repo: y, path: /\/manifests\/1$/ }), 0);
  });

  it('a writer of another shard whose tags cannot be listed: this shard\'s units into that repository are refused with that error, not raced', async () => {
    const [src, dst] = [await fake(), await fake()];
    const { zero, one } = byShard(src.host);
    const [x, y] = [zero[0]!, one[0]!];
    src.seedImage(x, { tags: ['1'] });
    src.seedImage(zero[1]!, { tags: ['1'] });
    src.fault({ kind: 'tags', repo: y }, { kind: 'status', status: 500, retryAfter: 0 });
    const spec = parseSyncFile(
      [
        'images:',
        `  - { source: ${src.ref(x)}, tags: all, target: ${dst.ref('mirror/app')} }`,
        `  - { source: ${src.ref(y)}, tags: all, target: ${dst.ref('mirror/app')} }`,
        `  - { source: ${src.ref(zero[1]!)}, tags: all, target: ${dst.ref('mirror/other')} }`,
        '',
      ].join('\n'),
      'sync.yaml',
    );
    const err = await failure(sync({ spec, shard: { index: 0, count: 2 }, ...fakeLibraryOptions(src, dst) }));
    assert.equal(err.code, 'E_PARTIAL', err.message);
    const r = err.details!.result!;
    const [u] = r.units.filter((v) => !v.ok);
    assert.equal(u?.source, src.ref(`${x}:1`));
    assert.equal(u.error?.code, 'E_REGISTRY');
    assert.match(u.error!.message, new RegExp(`^${spec.images[0]!.label.replace(/[()[\]./]/g, '\\$&')} cannot tell whether ${dst.ref('mirror/app:1').replace(/\./g, '\\.')} is free: images\\[1\\] .*, in shard 1/2, writes into ${dst.ref('mirror/app').replace(/\./g, '\\.')} too and its tags could not be listed \\(E_REGISTRY: `));
    assert.deepEqual(r.units.filter((v) => v.ok).map((v) => v.source), [src.ref(`${zero[1]!}:1`)]);
    assert.deepEqual(dst.tags('mirror/app'), []);
    assert.deepEqual(dst.tags('mirror/other'), ['1']);
  });

  it('a writer of another shard whose source repository does not exist (404) writes nothing there either: this shard goes on', async () => {
    const [src, dst] = [await fake(), await fake()];
    const { zero, one } = byShard(src.host);
    const [x, y] = [zero[0]!, one[0]!];
    src.seedImage(x, { tags: ['1'] });
    src.fault({ kind: 'tags', repo: y }, { kind: 'status', status: 404, code: 'NAME_UNKNOWN' });
    const spec = parseSyncFile(
      ['images:', `  - { source: ${src.ref(x)}, tags: all, target: ${dst.ref('mirror/app')} }`, `  - { source: ${src.ref(y)}, tags: all, target: ${dst.ref('mirror/app')} }`, ''].join('\n'),
      'sync.yaml',
    );
    const r = await sync({ spec, shard: { index: 0, count: 2 }, ...fakeLibraryOptions(src, dst) });
    assert.deepEqual(r.units.map((u) => [u.source, u.ok]), [[src.ref(`${x}:1`), true]]);
    assert.deepEqual(dst.tags('mirror/app'), ['1']);
  });
});
