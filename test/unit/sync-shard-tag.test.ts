// `shard: tag`: one repository of many tags spread over the shards of `--shard I/N`. Its key in
// the sync file and in a hand-built spec; the split of its units (pure); and sync() over
// in-process fake registries: the shards together copy the unsharded set, each its own share,
// the selection made over the whole list, and the cross-shard clash check reaching the verdict of
// one unsharded run; with `referrers: true`, each image's signature copied by the shard that
// copies the image.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RegpushError } from '../../src/errors.js';
import { parseSyncFile, sync, type SyncResult, type SyncSpec } from '../../src/index.js';
import { crossShardWriters, inShard, shardOf, unitKey } from '../../src/sync/shard.js';
import { syncUnits } from '../../src/sync/target.js';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';

const fake = fakeRegistryPool();
const DIGEST = `sha256:${'ab'.repeat(32)}`;

/** Asserts one E_INPUT line naming the key, as every mistake in the file is. */
function fileFails(text: string, message: RegExp): void {
  assert.throws(
    () => parseSyncFile(text, 'sync.yaml'),
    (e: unknown) => e instanceof RegpushError && e.code === 'E_INPUT' && !e.message.includes('\n') && message.test(e.message),
  );
}

describe('shard: tag in the sync file', () => {
  it('is read per entry and from defaults; an entry may set repository back; without the key an entry is shared out by repository', () => {
    const spec = parseSyncFile(
      ['defaults: { targets: [r.io/m], shard: tag }', 'images:', '  - { source: a.io/ci, tags: all }', '  - { source: a.io/app, tags: all, shard: repository }', ''].join('\n'),
      'sync.yaml',
    );
    assert.deepEqual(
      spec.images.map((i) => i.shard),
      ['tag', undefined],
    );
    const plain = parseSyncFile('images:\n  - { source: a.io/ci, tags: all, targets: r.io/m }\n  - { source: a.io/ci2, tags: all, targets: r.io/m, shard: tag }\n', 'sync.yaml');
    assert.equal(Object.hasOwn(plain.images[0]!, 'shard'), false, 'the default is not written out');
    assert.equal(plain.images[1]!.shard, 'tag');
  });

  it('any other value is one E_INPUT line naming the entry and the key', () => {
    fileFails('images:\n  - { source: a.io/ci, tags: all, targets: r.io/m, shard: tags }\n', /^sync\.yaml: images\[0\] \(a\.io\/ci\): "shard" \(line 2\) must be "repository" \(.*\) or "tag" \(.*\) \(got "tags"\)$/);
    fileFails('defaults: { shard: [tag] }\nimages:\n  - { source: a.io/ci, tags: all, targets: r.io/m }\n', /^sync\.yaml: "defaults\.shard" \(line 1\) must be "repository" .* \(got \["tag"\]\)$/);
    fileFails('{"images": [{"source": "a.io/ci", "tags": "all", "targets": "r.io/m", "shard": true}]}', /"shard" \(line 1\) must be .* \(got true\)$/);
  });
});

describe('shard in a hand-built spec', () => {
  it('a value other than "repository" or "tag" is one E_USAGE line naming spec.images[i].shard, before any request', async () => {
    const [src, dst] = [await fake(), await fake()];
    src.seedImage('ci', { tags: ['1'] });
    const good = parseSyncFile(`images:\n  - { source: ${src.ref('ci')}, tags: all, targets: [${dst.host}/m] }\n`, 'sync.yaml');
    const spoiled = (shard: unknown): SyncSpec => ({ ...good, images: [{ ...good.images[0]!, shard } as never] });
    for (const [shard, message] of [
      ['tags', /^sync\(\): spec\.images\[0\]\.shard must be "repository" \(.*\) or "tag" \(.*\) \(got "tags"\)$/],
      ['', /^sync\(\): spec\.images\[0\]\.shard must be "repository" .* \(got ""\)$/],
      [2, /^sync\(\): spec\.images\[0\]\.shard must be a string \(got 2\)$/],
    ] as const) {
      const err = await sync({ spec: spoiled(shard), shard: { index: 0, count: 2 }, ...fakeLibraryOptions(src, dst) }).then(
        () => assert.fail(`shard ${JSON.stringify(shard)} was taken`),
        (e: RegpushError) => e,
      );
      assert.equal(err.code, 'E_USAGE', err.message);
      assert.match(err.message, message);
    }
    assert.equal(src.count() + dst.count(), 0);
    // Both values pass, and 'repository' is the default.
    for (const shard of ['repository', 'tag']) assert.equal((await sync({ spec: spoiled(shard), ...fakeLibraryOptions(src, dst) })).totals.units, 1);
  });
});

describe('the split of a shard: tag entry (pure)', () => {
  const TAGS = Array.from({ length: 600 }, (_, i) => (i % 3 === 0 ? `v1.${i}.0` : i % 3 === 1 ? `build-${i}` : `sha-${(i * 7919).toString(16)}`));
  const spec = parseSyncFile('images:\n  - { source: ghcr.io/acme/ci, tags: all, targets: r.io/m, shard: tag }\n  - { source: ghcr.io/acme/app, tags: all, targets: r.io/m }\n', 'sync.yaml');
  const [ci, app] = spec.images as [(typeof spec.images)[0], (typeof spec.images)[0]];
  const units = syncUnits(ci, TAGS);
  const share = (index: number, count: number) => units.filter((u) => inShard(unitKey(ci, u.source), { index, count })).map((u) => u.source.tag!);

  it('keys a unit by repository and tag (a pinned source: by its digest); an entry shared out by repository keeps its key', () => {
    assert.equal(unitKey(ci, units[0]!.source), `ghcr.io/acme/ci:${TAGS[0]}`);
    assert.equal(unitKey(ci, { ...ci.source, digest: DIGEST }), `ghcr.io/acme/ci@${DIGEST}`);
    assert.equal(unitKey(app, { ...app.source, tag: '1' }), 'ghcr.io/acme/app');
    for (const count of [2, 3]) for (let index = 0; index < count; index++) assert.equal(inShard(unitKey(app, { ...app.source, tag: '1' }), { index, count }), inShard(app.key, { index, count }));
  });

  it('puts every unit in exactly one shard; together the shards hold the unsharded set; the shares are about even', () => {
    for (const count of [1, 2, 3, 7]) {
      const shares = Array.from({ length: count }, (_, index) => share(index, count));
      const all = shares.flat();
      assert.equal(all.length, TAGS.length, `${count} shards: a unit in two shards, or in none`);
      assert.deepEqual([...all].sort(), [...TAGS].sort());
      const even = TAGS.length / count;
      for (const s of shares) assert.ok(Math.abs(s.length - even) < even * 0.25, `${count} shards: ${shares.map((x) => x.length).join(', ')}`);
    }
  });

  it('going from N to N+1 shards moves only units into the new shard (about 1/(N+1) of them)', () => {
    for (const n of [2, 3, 5]) {
      let moved = 0;
      for (const u of units) {
        const [a, b] = [shardOf(unitKey(ci, u.source), n), shardOf(unitKey(ci, u.source), n + 1)];
        if (a === b) continue;
        moved++;
        assert.equal(b, n, `${u.source.tag} moved from ${a} to ${b}, not into the new shard`);
      }
      assert.ok(moved > (0.5 * units.length) / (n + 1) && moved < (1.5 * units.length) / (n + 1), `${n}→${n + 1}: ${moved} moved`);
    }
  });

  it('crossShardWriters: a shard: tag entry is every shard\'s, so every shard lists the other entries writing into its repositories, and it is never one of them', () => {
    const names = Array.from({ length: 40 }, (_, i) => `a.io/s${i}`);
    const [zero, one] = [names.find((n) => shardOf(n, 2) === 0)!, names.find((n) => shardOf(n, 2) === 1)!];
    const s = parseSyncFile(
      ['images:', `  - { source: ${zero}, tags: all, target: r.io/ci, shard: tag }`, `  - { source: ${one}, tags: all, target: r.io/ci }`, `  - { source: ${zero}, tags: ["x"], target: r.io/ci }`, ''].join('\n'),
      'sync.yaml',
    );
    const labels = (index: number) => crossShardWriters(s.images, { index, count: 2 }).map((n) => [n.image.label, n.shard]);
    assert.deepEqual(labels(0), [[s.images[1]!.label, 1]]);
    assert.deepEqual(labels(1), [[s.images[2]!.label, 0]]);
  });
});

/** sync() of each shard of `count` (a rejection's report taken as the result), with the unitStart totals each told. */
async function shards(spec: SyncSpec, count: number, opts: ReturnType<typeof fakeLibraryOptions>, dryRun = false): Promise<{ result: SyncResult; code?: string; told: number[] }[]> {
  const out = [];
  for (let index = 0; index < count; index++) {
    const told: number[] = [];
    const r = await sync({ spec, shard: { index, count }, dryRun, ...opts, events: { unitStart: (_s, _i, total) => told.push(total) } }).then(
      (result) => ({ result, code: undefined as string | undefined }),
      (e: RegpushError) => ({ result: (e.details as { result?: SyncResult }).result!, code: e.code }),
    );
    assert.ok(r.result, `shard ${index}/${count}: ${r.code}`);
    out.push({ ...r, told });
  }
  return out;
}

/** The tags of `repo` whose unit key (`<host>/<repo>:<tag>`) is in shard `index` of `count`. */
const owned = (reg: FakeRegistry, repo: string, tags: readonly string[], index: number, count: number) => tags.filter((t) => inShard(`${reg.host}/${repo}:${t}`, { index, count }));

describe('sync --shard with shard: tag (fake registries)', () => {
  it('the shards of one repository copy the unsharded set together, each only its share: report, counter, dry run', async () => {
    const [src, dst] = [await fake(), await fake()];
    const tags = Array.from({ length: 12 }, (_, i) => `b${i}`);
    src.seedImage('ci', { tags });
    const spec = parseSyncFile(`images:\n  - { source: ${src.ref('ci')}, tags: all, targets: [${dst.host}/m], shard: tag }\n`, 'sync.yaml');
    const opts = fakeLibraryOptions(src, dst);
    const plans = await shards(spec, 3, opts, true);
    assert.equal(dst.count({ method: ['PUT', 'POST', 'PATCH'] }), 0, 'the dry run wrote nothing');
    const runs = await shards(spec, 3, opts);
    for (const [index, { result, code, told }] of runs.entries()) {
      const mine = owned(src, 'ci', tags, index, 3);
      assert.equal(code, undefined);
      assert.deepEqual(result.units.map((u) => u.source).sort(), mine.map((t) => src.ref(`ci:${t}`)).sort(), `shard ${index}: its own units only`);
      assert.deepEqual(plans[index]!.result.units.map((u) => u.source), result.units.map((u) => u.source), `shard ${index}: the dry run plans its own units only`);
      assert.equal(plans[index]!.result.totals.planned, mine.length);
      assert.equal(result.totals.copied, mine.length);
      assert.equal(result.totals.units, mine.length);
      assert.equal(result.totals.entries, 1, 'the entry is in every shard');
      assert.deepEqual(told, Array(mine.length).fill(mine.length), 'the counter counts this shard\'s units');
    }
    assert.deepEqual(dst.tags('m/ci').sort(), [...tags].sort());
    for (const t of tags) assert.equal(dst.count({ method: 'PUT', kind: 'manifest', path: new RegExp(`/manifests/${t}$`) }), 1, `${t} written once`);
    // Every shard lists the repository (one list each); no shard reads another's tag.
    assert.equal(src.count({ kind: 'tags', repo: 'ci' }), 6);
  });

  it('newest: 3 keeps the three newest of the whole list, not three per shard', async () => {
    const [src, dst] = [await fake(), await fake()];
    const tags = Array.from({ length: 10 }, (_, i) => `1.0.${i}`);
    src.seedImage('ci', { tags: [...tags, 'latest'] });
    const spec = parseSyncFile(`images:\n  - { source: ${src.ref('ci')}, tags: { newest: 3 }, targets: [${dst.host}/m], shard: tag }\n`, 'sync.yaml');
    const runs = await shards(spec, 3, fakeLibraryOptions(src, dst));
    const newest = ['1.0.7', '1.0.8', '1.0.9'];
    for (const [index, { result }] of runs.entries()) {
      assert.deepEqual(result.units.map((u) => u.source).sort(), owned(src, 'ci', newest, index, 3).map((t) => src.ref(`ci:${t}`)), `shard ${index}: its share of the three`);
    }
    const copied = runs.flatMap((r) => r.result.units.map((u) => u.source));
    assert.deepEqual(copied.sort(), newest.map((t) => src.ref(`ci:${t}`)));
    assert.deepEqual(dst.tags('m/ci').sort(), ['1.0.7', '1.0.8', '1.0.9']);
  });

  it('a shard: tag entry and a repository-sharded entry of another shard writing one target tag: refused as one unsharded run refuses it, each side by the shard that copies it', async () => {
    const [src, dst, solo] = [await fake(), await fake(), await fake()];
    const ySlot = shardOf(`${src.host}/y`, 2);
    // The contested tag of x falls in the shard that does not hold y: the clash crosses shards.
    const t = Array.from({ length: 40 }, (_, i) => `c${i}`).find((c) => shardOf(`${src.host}/x:${c}`, 2) !== ySlot)!;
    const xTags = [t, 'x1', 'x2', 'x3', 'x4', 'x5'];
    src.seedImage('x', { tags: xTags });
    src.seedImage('y', { tags: [t, 'only-y'] });
    const file = (into: FakeRegistry) =>
      parseSyncFile(['images:', `  - { source: ${src.ref('x')}, tags: all, target: ${into.ref('app')}, shard: tag }`, `  - { source: ${src.ref('y')}, tags: all, target: ${into.ref('app')} }`, ''].join('\n'), 'sync.yaml');
    const unsharded = await sync({ spec: file(solo), ...fakeLibraryOptions(src, solo) }).then(
      () => assert.fail('the unsharded sync succeeded'),
      (e: RegpushError) => (e.details as { result: SyncResult }).result,
    );
    const refusedAlone = unsharded.units.filter((u) => !u.ok).map((u) => u.source).sort();
    assert.deepEqual(refusedAlone, [src.ref(`x:${t}`), src.ref(`y:${t}`)].sort());
    const spec = file(dst);
    const runs = await shards(spec, 2, fakeLibraryOptions(src, dst));
    const refused = runs.flatMap(({ result }, index) => result.units.filter((u) => !u.ok).map((u) => [u.source, index, u.error?.code]));
    assert.deepEqual(refused.sort(), [[src.ref(`x:${t}`), 1 - ySlot, 'E_INPUT'], [src.ref(`y:${t}`), ySlot, 'E_INPUT']].sort(), 'each side once, by the shard that copies it');
    const xRefusal = runs[1 - ySlot]!.result.units.find((u) => !u.ok)!.error!.message;
    assert.equal(
      xRefusal,
      `${spec.images[0]!.label} (${src.ref(`x:${t}`)}, shard ${1 - ySlot}/2) would write ${dst.ref(`app:${t}`)}, which ${spec.images[1]!.label} (${src.ref(`y:${t}`)}, shard ${ySlot}/2) would write too; not copied: keep the entries' targets apart, or their tags from overlapping`,
    );
    // The rest is copied once, as the unsharded run copied it; the contested tag never written.
    const copied = runs.flatMap(({ result }) => result.units.filter((u) => u.ok).map((u) => u.source)).sort();
    assert.deepEqual(copied, unsharded.units.filter((u) => u.ok).map((u) => u.source).sort());
    assert.deepEqual(dst.tags('app').sort(), solo.tags('app').sort());
    assert.equal(dst.tags('app').includes(t), false);
    for (const [index, { result }] of runs.entries()) {
      const xs = result.units.filter((u) => u.entry === spec.images[0]!.label).map((u) => u.source);
      assert.deepEqual(xs.sort(), owned(src, 'x', xTags, index, 2).map((tag) => src.ref(`x:${tag}`)).sort(), `shard ${index} reports only its units of x`);
    }
  });

  it('two shard: tag entries writing one target tag: both refused, each once, by the shard that copies it; the rest copied once', async () => {
    const [src, solo] = [await fake(), await fake()];
    // The two units writing the contested tag fall in different shards, with 2 shards and with 3.
    const z = Array.from({ length: 60 }, (_, i) => `team/z${i}`).find((name) => [2, 3].every((n) => shardOf(`${src.host}/${name}:3`, n) !== shardOf(`${src.host}/team/x:3`, n)))!;
    src.seedImage('team/x', { tags: ['1', '2', '3', '4', 'x'] });
    src.seedImage(z, { tags: ['1', '2', '3', '4', 'z'] });
    const file = (into: FakeRegistry) =>
      parseSyncFile(
        ['defaults: { shard: tag }', 'images:', `  - { source: ${src.ref('team/x')}, tags: all, target: ${into.ref('app')} }`, `  - { source: ${src.ref(z)}, tags: { regex: '^(3|z)$' }, target: ${into.ref('app')} }`, ''].join('\n'),
        'sync.yaml',
      );
    const unsharded = await sync({ spec: file(solo), ...fakeLibraryOptions(src, solo) }).then(
      () => assert.fail('the unsharded sync succeeded'),
      (e: RegpushError) => (e.details as { result: SyncResult }).result,
    );
    assert.deepEqual(unsharded.units.filter((u) => !u.ok).map((u) => u.source).sort(), [src.ref('team/x:3'), src.ref(`${z}:3`)].sort());
    for (const count of [2, 3]) {
      const into = await fake();
      const runs = await shards(file(into), count, fakeLibraryOptions(src, into));
      const refused = runs.flatMap(({ result }, index) => result.units.filter((u) => !u.ok).map((u) => `${u.source} ${index} ${u.error?.code}`)).sort();
      const owner = (repo: string) => shardOf(`${src.host}/${repo}:3`, count);
      assert.deepEqual(refused, [`${src.ref('team/x:3')} ${owner('team/x')} E_INPUT`, `${src.ref(`${z}:3`)} ${owner(z)} E_INPUT`].sort(), `${count} shards`);
      const copied = runs.flatMap(({ result }) => result.units.filter((u) => u.ok).map((u) => u.source)).sort();
      assert.deepEqual(copied, unsharded.units.filter((u) => u.ok).map((u) => u.source).sort(), `${count} shards`);
      assert.deepEqual(into.tags('app').sort(), solo.tags('app').sort());
    }
  });
});

describe('shard: tag with referrers: true (fake registries)', () => {
  it('each image\'s signature travels with it to its shard: no shard takes a signature tag as a unit, or copies another shard\'s', async () => {
    const [src, dst] = [await fake(), await fake()];
    const tags = Array.from({ length: 8 }, (_, i) => `b${i}`);
    const sigTag = (d: string) => `${d.replace(':', '-')}.sig`;
    const sigs = new Map<string, string>();
    for (const t of tags) {
      const img = src.seedImage('ci', { tags: [t], layers: [Buffer.from(`layer of ${t}`)] });
      sigs.set(t, sigTag(img.digest));
      src.seedImage('ci', { tags: [sigTag(img.digest)], layers: [Buffer.from(`signature of ${t}`)] });
    }
    const spec = parseSyncFile(`images:\n  - { source: ${src.ref('ci')}, tags: all, targets: [${dst.host}/m], referrers: true, shard: tag }\n`, 'sync.yaml');
    const opts = fakeLibraryOptions(src, dst);
    const written = new Set<string>();
    for (let index = 0; index < 2; index++) {
      const result = await sync({ spec, shard: { index, count: 2 }, ...opts });
      const mine = owned(src, 'ci', tags, index, 2);
      assert.ok(mine.length > 0 && mine.length < tags.length, 'both shards have a share');
      assert.deepEqual(result.units.map((u) => u.source).sort(), mine.map((t) => src.ref(`ci:${t}`)).sort(), `shard ${index}: its own images only, no signature tag as a unit`);
      assert.equal(result.totals.referrers, mine.length, `shard ${index}: one signature per own image`);
      // What this shard added at the target: its images and their signatures, nothing of the other's.
      const added = dst.tags('m/ci').filter((t) => !written.has(t));
      assert.deepEqual(added.sort(), [...mine, ...mine.map((t) => sigs.get(t)!)].sort(), `shard ${index}: its images and their signatures`);
      for (const t of added) written.add(t);
    }
    // Together: every image and every signature, each written once.
    assert.deepEqual(dst.tags('m/ci').sort(), [...tags, ...sigs.values()].sort());
    for (const s of sigs.values()) assert.equal(dst.count({ method: 'PUT', kind: 'manifest', path: new RegExp(`/manifests/${s.replace(/[.]/g, '\\.')}$`) }), 1, `${s} written once`);
  });
});
