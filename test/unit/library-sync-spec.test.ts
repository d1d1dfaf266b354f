// sync() as a library caller meets it: a hand-built SyncSpec checked as parseSyncFile checks a
// file, and a missing repository's 404 advised as listTags() advises it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listTags, parseSyncFile, sync, type RegpushError, type SyncSpec } from '../../src/index.js';
import { checkSpecValues } from '../../src/sync/config.js';
import { fakeLibraryOptions, fakeRegistryPool } from '../fixtures/fake-registry.js';

const fake = fakeRegistryPool();

async function rejection(call: () => Promise<unknown>): Promise<RegpushError> {
  return call().then(
    () => assert.fail('the call succeeded'),
    (e: RegpushError) => e,
  );
}

test('sync: a missing repository\'s tag listing advises checking the repository name only, as listTags() does', async () => {
  const [src, dst] = [await fake(), await fake()];
  const spec = parseSyncFile(`images:\n  - { source: ${src.ref('nope')}, tags: all, targets: [${dst.host}/mirror] }\n`, 'sync.yaml');
  const err = await rejection(() => sync({ spec, ...fakeLibraryOptions(src, dst), retries: 0 }));
  const unit = (err.details as { result?: { units: { error?: { code: string; message: string } }[] } }).result!.units[0]!;
  assert.equal(unit.error?.code, 'E_NOT_FOUND', unit.error?.message);
  assert.match(unit.error!.message, /\(check the repository name\)$/);
  const listed = await rejection(() => listTags(src.ref('nope'), fakeLibraryOptions(src)));
  assert.equal(listed.code, 'E_NOT_FOUND', listed.message);
  assert.match(listed.message, /\(check the repository name\)$/);
});

test('sync() with a hand-built spec: each value parseSyncFile would refuse is one E_USAGE line naming images[i].…, before any request', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('hs/app', { tags: ['1'] });
  const good = parseSyncFile(`images:\n  - { source: ${src.ref('hs/app')}, tags: ['1'], targets: [${dst.host}/mirror] }\n`, 'sync.yaml');
  const img = good.images[0]!;
  const spoiled = (patch: Record<string, unknown>): SyncSpec => ({ ...good, images: [{ ...img, ...patch } as never] });
  const { tags: _tags, ...noTags } = img;
  const cases: [string, SyncSpec, RegExp][] = [
    ['tags missing', { ...good, images: [noTags as never] }, /^sync\(\): spec\.images\[0\]\.tags is missing: /],
    ['no destinations', spoiled({ destinations: [] }), /^sync\(\): spec\.images\[0\]\.destinations is empty/],
    ['nonsense key', spoiled({ key: 'whatever' }), /^sync\(\): spec\.images\[0\]\.key must be the source repository, "127\.0\.0\.1:\d+\/hs\/app"/],
    ['source with a tag', spoiled({ source: { ...img.source, tag: '1' } }), /^sync\(\): spec\.images\[0\]\.source carries a tag \("1"\)/],
    ['bad tag', spoiled({ tags: { kind: 'list', tags: ['-x'] } }), /^sync\(\): spec\.images\[0\]\.tags\.tags\[0\] is not a valid tag/],
    ['bad prefix', spoiled({ destinations: [{ kind: 'prefix', prefix: { registry: 'nohost', path: '' } }] }), /^sync\(\): spec\.images\[0\]\.destinations\[0\]\.prefix is not a valid target prefix/],
    ['no images', { ...good, images: [] }, /^sync\(\): spec\.images is empty/],
  ];
  for (const [what, spec, message] of cases) {
    const err = await rejection(() => sync({ spec, ...fakeLibraryOptions(src, dst) }));
    assert.equal(err.code, 'E_USAGE', `${what}: ${err.message}`);
    assert.match(err.message, message, what);
  }
  assert.equal(src.count() + dst.count(), 0);
  // A prefix spelt with slashes around its path is made canonical: the target is dst/hs/hs/app, not dst//hs//hs/app.
  const prefixed = spoiled({ destinations: [{ kind: 'prefix', prefix: { registry: dst.host, path: '/hs/' } }] });
  const r = await sync({ spec: prefixed, ...fakeLibraryOptions(src, dst) });
  assert.deepEqual(r.units.map((u) => u.targets.map((t) => t.target)), [[`${dst.host}/hs/hs/app:1`]]);
  assert.deepEqual(dst.tags('hs/hs/app'), ['1']);
  // And a registry's capitals.
  const upper = checkSpecValues({ ...good, images: [{ ...img, destinations: [{ kind: 'prefix', prefix: { registry: 'LOCALHOST:20504', path: 'hs' } }] }] }, 'spec');
  assert.deepEqual(upper.images[0]!.destinations, [{ kind: 'prefix', prefix: { registry: 'localhost:20504', path: 'hs' } }]);
});

test('sync() with a hand-built spec: destinations one canonical spelling apart or making one target, and a tag listed twice, are written once (as parseSyncFile keeps one of a file\'s)', { timeout: 30_000 }, async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('app', { tags: ['1'] });
  const good = parseSyncFile(`images:\n  - { source: ${src.ref('app')}, tags: ['1'], targets: [${dst.host}/m] }\n`, 'sync.yaml');
  const img = good.images[0]!;
  const twice: SyncSpec = {
    ...good,
    images: [
      {
        ...img,
        tags: { kind: 'list', tags: ['1', '1'] },
        destinations: [
          { kind: 'prefix', prefix: { registry: dst.host, path: 'm' } },
          { kind: 'prefix', prefix: { registry: dst.host.toUpperCase(), path: '/m/' } },
          { kind: 'reference', ref: { registry: dst.host, repository: 'n' } },
          { kind: 'reference', ref: { registry: dst.host, repository: 'n' } },
        ],
      },
    ],
  };
  const r = await sync({ spec: twice, ...fakeLibraryOptions(src, dst) });
  assert.equal(r.units.length, 1);
  assert.deepEqual(r.units[0]!.targets.map((t) => t.target), [`${dst.host}/m/app:1`, `${dst.host}/n:1`]);
  assert.equal(r.totals.copied, 2);
  assert.equal(dst.count({ method: 'PUT', kind: 'manifest' }), 2);
  // Destinations written apart that make one target: a prefix and the reference it gives, a
  // reference with and without the one tag copied. Each target is written, and reported, once.
  const other = await fake();
  const apart: SyncSpec = {
    ...good,
    images: [
      {
        ...img,
        destinations: [
          { kind: 'prefix', prefix: { registry: other.host, path: 'm' } },
          { kind: 'reference', ref: { registry: other.host, repository: 'm/app' } },
          { kind: 'reference', ref: { registry: other.host, repository: 'n' } },
          { kind: 'reference', ref: { registry: other.host, repository: 'n', tag: '1' } },
        ],
      },
    ],
  };
  const once = await sync({ spec: apart, ...fakeLibraryOptions(src, other) });
  assert.deepEqual(once.units.map((u) => u.targets.map((t) => t.target)), [[`${other.host}/m/app:1`, `${other.host}/n:1`]]);
  assert.equal(once.totals.copied, 2);
  assert.equal(other.count({ method: 'PUT', kind: 'manifest' }), 2);
});

test('sync() with a hand-built spec whose optional fields are given as undefined (regex, semver, pinnedTag, shard, a reference\'s tag and digest) syncs as with them left out, as the types allow', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('app', { tags: ['1.0.0', '2.0.0', 'latest'] });
  const parsed = parseSyncFile(`images:\n  - { source: ${src.ref('app')}, tags: { newest: 1 }, targets: [${dst.host}/mirror] }\n`, 'sync.yaml');
  const img = parsed.images[0]!;
  const spec: SyncSpec = {
    ...parsed,
    images: [
      {
        ...img,
        source: { ...img.source, tag: undefined, digest: undefined },
        tags: { kind: 'filter', regex: undefined, semver: undefined, newest: 1, prerelease: false },
        pinnedTag: undefined,
        shard: undefined,
      },
    ],
  };
  const r = await sync({ spec, dryRun: true, ...fakeLibraryOptions(src, dst), retries: 0 });
  assert.deepEqual(r.units.map((u) => [u.source, u.targets.map((t) => [t.target, t.action])]), [[src.ref('app:2.0.0'), [[`${dst.host}/mirror/app:2.0.0`, 'planned']]]]);
});
