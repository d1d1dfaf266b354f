// --shard I/N: parsing (with JOB_COMPLETION_INDEX) and the rendezvous hash's guarantees.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RegpushError } from '../../src/errors.js';
import { parseSyncFile } from '../../src/sync/config.js';
import { crossShardWriters, inShard, parseShard, shardOf } from '../../src/sync/shard.js';

const usage = (fn: () => unknown, why: RegExp) => assert.throws(fn, (e: unknown) => e instanceof RegpushError && e.code === 'E_USAGE' && why.test(e.message) && !e.message.includes('\n'));

/** 1000 realistic, distinct source repositories. */
const REFS = Array.from({ length: 1000 }, (_, i) => ['docker.io/library', 'ghcr.io/acme', 'quay.io/team-x', 'registry.example.com:5000/a/b'][i % 4] + `/image-${i}`);

describe('parseShard', () => {
  it('reads I/N, counting from 0', () => {
    assert.deepEqual(parseShard('0/3', {}), { index: 0, count: 3 });
    assert.deepEqual(parseShard('2/3', {}), { index: 2, count: 3 });
    assert.deepEqual(parseShard(' 0 / 1 ', {}), { index: 0, count: 1 });
  });

  it('takes I from JOB_COMPLETION_INDEX with /N, and only then', () => {
    assert.deepEqual(parseShard('/4', { JOB_COMPLETION_INDEX: '3' }), { index: 3, count: 4 });
    assert.deepEqual(parseShard('1/4', { JOB_COMPLETION_INDEX: '3' }), { index: 1, count: 4 }, 'an explicit index wins');
    // Not set (or set empty): the environment's mistake (a pod not started by an Indexed Job), E_INPUT as a malformed index is.
    const unset = 'shard "/4" takes the index from JOB_COMPLETION_INDEX, which is not set (give I/N instead)';
    assert.throws(() => parseShard('/4', {}), { name: 'InputError', code: 'E_INPUT', message: unset });
    assert.throws(() => parseShard('/4', { JOB_COMPLETION_INDEX: '' }), { name: 'InputError', code: 'E_INPUT', message: unset });
    assert.throws(() => parseShard('/4', { JOB_COMPLETION_INDEX: 'x1' }), { name: 'InputError', code: 'E_INPUT', message: /^JOB_COMPLETION_INDEX="x1" is not a shard index \(a whole number from 0\)$/ });
    // Past the count: the environment's mistake (a Job with more completions than shards), E_INPUT as a malformed index is; an I/N past it is the flag's, E_USAGE (below).
    assert.throws(() => parseShard('/4', { JOB_COMPLETION_INDEX: '4' }), { name: 'InputError', code: 'E_INPUT', message: 'JOB_COMPLETION_INDEX=4 is out of range for shard "/4": 4 shards, indexes 0 to 3 (the Job\'s completions must match the shard count)' });
  });

  it('refuses malformed and out-of-range values', () => {
    usage(() => parseShard('', {}), /expected I\/N/);
    usage(() => parseShard('3', {}), /expected I\/N/);
    usage(() => parseShard('1/2/3', {}), /expected I\/N/);
    usage(() => parseShard('-1/3', {}), /expected I\/N/);
    usage(() => parseShard('a/b', {}), /expected I\/N/);
    usage(() => parseShard('1.5/3', {}), /expected I\/N/);
    usage(() => parseShard('0/0', {}), /shard count must be 1 to 1000/);
    usage(() => parseShard('0/1001', {}), /shard count must be 1 to 1000/);
    usage(() => parseShard('3/3', {}), /index 3 is out of range for 3 shards \(0 to 2; indexes count from 0/);
    usage(() => parseShard('1/1', {}), /out of range for 1 shard \(0 to 0/);
  });
});

describe('shardOf / inShard', () => {
  it('puts every image in exactly one shard', () => {
    for (const n of [1, 2, 3, 7]) {
      for (const ref of REFS.slice(0, 200)) {
        const owners = Array.from({ length: n }, (_, i) => i).filter((i) => inShard(ref, { index: i, count: n }));
        assert.deepEqual(owners, [shardOf(ref, n)], `${ref} with ${n} shards`);
      }
    }
  });

  it('spreads 1000 images roughly evenly', () => {
    for (const n of [2, 3, 5, 10]) {
      const counts = new Array<number>(n).fill(0);
      for (const ref of REFS) counts[shardOf(ref, n)]!++;
      const expected = REFS.length / n;
      for (const c of counts) assert.ok(Math.abs(c - expected) < expected * 0.2, `${n} shards: ${counts.join(', ')}`);
      assert.equal(counts.reduce((a, b) => a + b, 0), REFS.length);
    }
  });

  it('is stable: the entries a shard takes do not depend on the rest of the file (entries added before, after, reordered)', () => {
    const file = (sources: readonly string[]) => parseSyncFile(['defaults: {targets: [r.io/m]}', 'images:', ...sources.map((src) => `  - {source: ${src}, tags: all}`)].join('\n') + '\n', 'sync.yaml');
    const original = REFS.slice(0, 60);
    const added = Array.from({ length: 40 }, (_, i) => `ghcr.io/new/thing-${i}`);
    const grown = [...added.slice(0, 20), ...[...original].reverse(), ...added.slice(20)];
    for (const count of [3, 7]) {
      for (let index = 0; index < count; index++) {
        const taken = (sources: readonly string[]) => new Set(file(sources).images.filter((img) => inShard(img.key, { index, count })).map((img) => img.key));
        const before = taken(original);
        const after = taken(grown);
        for (const k of before) assert.ok(after.has(k), `${k} left shard ${index}/${count}`);
        for (const k of after) if (!k.startsWith('ghcr.io/new/')) assert.ok(before.has(k), `${k} joined shard ${index}/${count}`);
      }
    }
  });

  it('is the same hash from release to release: a fleet upgraded shard by shard must not move images between shards', () => {
    // Recorded values: a change here moves images between the shards of a running fleet.
    const pinned: [string, number, number][] = [
      ['docker.io/library/nginx', 2, 2],
      ['ghcr.io/acme/app', 2, 3],
      ['quay.io/team-x/image-7', 0, 6],
      ['registry.example.com:5000/a/b/image-3', 2, 5],
      ['docker.io/library/redis', 1, 4],
      ['gcr.io/distroless/static', 2, 3],
    ];
    assert.deepEqual(pinned.map(([ref]) => [ref, shardOf(ref, 3), shardOf(ref, 7)]), pinned);
  });

  it('going from N to N+1 shards moves only about 1/(N+1) of the images, all into the new shard', () => {
    for (const n of [3, 5]) {
      let moved = 0;
      for (const ref of REFS) {
        const a = shardOf(ref, n);
        const b = shardOf(ref, n + 1);
        if (a !== b) {
          moved++;
          assert.equal(b, n, `${ref} moved from ${a} to ${b}, not to the new shard`);
        }
      }
      const share = moved / REFS.length;
      assert.ok(share > 0.5 / (n + 1) && share < 1.5 / (n + 1), `${n}→${n + 1}: ${moved} moved`);
    }
  });

  it('depends on the key only: the same key gives the same shard every time, one shard is everything', () => {
    assert.equal(shardOf('docker.io/library/nginx', 3), shardOf('docker.io/library/nginx', 3));
    assert.ok(REFS.every((r) => shardOf(r, 1) === 0));
    usage(() => shardOf('x', 0), /invalid shard count/);
  });
});

describe('crossShardWriters', () => {
  /** Source repositories a.io/s<i> picked so that the first two are in shard 0 of 2 and the other two in shard 1. */
  const [z0, z1, o0, o1] = (() => {
    const names = Array.from({ length: 40 }, (_, i) => `a.io/s${i}`);
    const zero = names.filter((n) => shardOf(n, 2) === 0);
    const one = names.filter((n) => shardOf(n, 2) === 1);
    return [zero[0]!, zero[1]!, one[0]!, one[1]!];
  })();
  const spec = parseSyncFile(
    [
      'defaults: {targets: [r.io/m]}',
      'images:',
      `  - {source: ${z0}, tags: all, target: r.io/shared}`, // shard 0: r.io/shared
      `  - {source: ${o0}, tags: all, target: r.io/shared}`, // shard 1: r.io/shared too
      `  - {source: ${o1}, tags: all}`, // shard 1: r.io/m/<its path>, which no other entry writes
      `  - {source: ${z1}, tags: ["1"], targets: [q.io/x, r.io]}`, // shard 0: q.io/x/<path>, r.io/<path>
      `  - {source: ${o1}, tags: ["2"], target: "r.io/${z1.slice('a.io/'.length)}"}`, // shard 1: the latter
      '',
    ].join('\n'),
    'sync.yaml',
  );
  const labels = (index: number, count: number) => crossShardWriters(spec.images, { index, count }).map((n) => [n.image.label, n.shard]);

  it('picks the entries of other shards that write into one of this shard\'s target repositories, and only those', () => {
    const [e0, e1, , e3, e4] = spec.images.map((i) => i.label);
    assert.deepEqual(labels(0, 2), [
      [e1, 1],
      [e4, 1],
    ]);
    assert.deepEqual(labels(1, 2), [
      [e0, 0],
      [e3, 0],
    ]);
  });

  it('is empty with one shard, and for a shard whose repositories no other shard writes into', () => {
    assert.deepEqual(labels(0, 1), []);
    const apart = parseSyncFile(`images:\n  - {source: ${z0}, tags: all, target: r.io/one}\n  - {source: ${o0}, tags: all, target: r.io/two}\n`, 'sync.yaml');
    assert.deepEqual(crossShardWriters(apart.images, { index: 0, count: 2 }), []);
    assert.deepEqual(crossShardWriters(apart.images, { index: 1, count: 2 }), []);
  });
});

describe('parseShard for a library caller', () => {
  it('parseShard: env is optional, a plain-JS caller\'s wrong value is E_USAGE', () => {
    assert.deepEqual(parseShard('2/5'), { index: 2, count: 5 });
    for (const [text, message] of [[5, /^invalid shard: expected a string such as "0\/3" \(got number\)$/]] as const) {
      assert.throws(() => parseShard(text as never), (e: RegpushError) => e.code === 'E_USAGE' && message.test(e.message), String(text));
    }
  });
});
