// The library's input arrays are `readonly`: a caller's `as const` list, or one it froze, is taken
// as it is. Typed `string[]`, such a list did not compile (`The type 'readonly ["…"]' is 'readonly'
// and cannot be assigned to the mutable type 'string[]'`), so this file is the type-level check
// (tsc compiles test/); run against fake registries with every list frozen, it also shows that no
// operation writes into the arrays it is given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copy, mergeMirrorMaps, parseSyncFile, push, sync, tagImage, type ConfigChanges, type CopyOptions, type PushOptions, type SyncSpec } from '../../src/index.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fakeLibraryOptions, fakeRegistryPool } from '../fixtures/fake-registry.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const tempDir = tempDirs('regpush-readonly-');

const fake = fakeRegistryPool();

test('push, copy, tagImage, sync and mergeMirrorMaps take readonly (as const, frozen) arrays and leave them as they were', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base', { tags: ['1'] });
  const lib = fakeLibraryOptions(src, dst);
  const insecureRegistries = Object.freeze(lib.insecureRegistries);
  const conn = { env: lib.env, homeDir: lib.homeDir, insecureRegistries };

  const config = {
    entrypoint: Object.freeze(['/bin/app'] as const),
    cmd: Object.freeze(['--serve'] as const),
    env: Object.freeze(['A=1'] as const),
    ports: Object.freeze(['8080/tcp'] as const),
    volumes: Object.freeze(['/data'] as const),
    healthcheck: { test: Object.freeze(['CMD', 'true'] as const) },
  } satisfies ConfigChanges;
  const pushTo = Object.freeze([dst.ref('app:1')] as const);
  const pushTags = Object.freeze(['stable'] as const);
  const dir = tempDir();
  writeFileSync(join(dir, 'run.sh'), 'echo hi\n');
  const layers = Object.freeze([Object.freeze({ sources: Object.freeze([Object.freeze({ src: dir, dest: '/deps' })] as const) })] as const);
  const app = Object.freeze([Object.freeze({ src: join(dir, 'run.sh'), dest: '/app/' })] as const);
  const pushed = await push({ from: src.ref('base:1'), to: pushTo, tags: pushTags, config, app, layers, ...conn } satisfies PushOptions);
  assert.deepEqual([pushed.tags, pushed.layers?.length], [['1', 'stable'], 2]);
  assert.deepEqual([pushTo, pushTags, config.entrypoint, config.env, config.healthcheck.test], [[dst.ref('app:1')], ['stable'], ['/bin/app'], ['A=1'], ['CMD', 'true']]);

  const copyTo = Object.freeze([dst.ref('copy:1'), dst.ref('other:1')] as const);
  const copied = await copy({ from: src.ref('base:1'), to: copyTo, tags: Object.freeze(['extra'] as const), ...conn } satisfies CopyOptions);
  assert.deepEqual(copied.targets.map((t) => t.tags), [['1', 'extra'], ['1', 'extra']]);

  const newTags = Object.freeze(['b', 'a'] as const);
  const tagged = await tagImage(dst.ref('app:1'), newTags, conn);
  assert.deepEqual([tagged.tags, newTags], [['b', 'a'], ['b', 'a']]);

  // A spec built from parseSyncFile's, every list in it frozen: a caller may keep it as a constant.
  const parsed = parseSyncFile(['images:', `  - source: ${src.ref('base')}`, '    tags: ["1"]', `    targets: [${dst.host}/mirror]`, '    platforms: [linux/amd64]', ''].join('\n'), 'sync.yaml');
  const image = parsed.images[0]!;
  const spec: SyncSpec = Object.freeze({
    file: parsed.file,
    images: Object.freeze([{ ...image, destinations: Object.freeze([...image.destinations]), platforms: Object.freeze(['linux/amd64'] as const), tags: { kind: 'list', tags: Object.freeze(['1'] as const) } }] as const),
  });
  const synced = await sync({ spec, ...conn });
  assert.deepEqual(synced.units.map((u) => [u.ok, u.targets.map((t) => t.action)]), [[true, ['copied']]]);

  const a = Object.freeze({ 'docker.io': Object.freeze(['mirror.example.com'] as const) });
  assert.deepEqual(mergeMirrorMaps(a, { 'docker.io': ['other.example.com'] as const }), { 'docker.io': ['mirror.example.com', 'other.example.com'] });
});
