// The blob events (start, bytes, end) name the image a blob moves for where several images move at
// once: a sync()'s unit (its source reference, as unitStart names it) and each tag of copy() with
// allTags (`host/repo:TAG`), as their last argument. A layer two images share moves for each, so
// its digest alone does not say whose progress it is. push() and a copy() of one image name none.
// Against in-process fake registries.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { copy, parseSyncFile, push, sync, type BlobAction, type BlobReport, type SyncEvents } from '../../src/index.js';
import { bytesOf, fakeLibraryOptions, fakeRegistryPool } from '../fixtures/fake-registry.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const fake = fakeRegistryPool();
const tempDir = tempDirs('regpush-blob-events-image-');

interface Seen {
  kind: 'start' | 'bytes' | 'end';
  digest: string;
  image: string | undefined;
}

/** Events recording, for each call, the blob and the image it names; the units told by unitStart. */
function recorder(): { events: SyncEvents; seen: Seen[]; units: string[] } {
  const seen: Seen[] = [];
  const units: string[] = [];
  const events: SyncEvents = {
    start: (digest: string, _action: BlobAction, _size: number | undefined, _target?: string, image?: string) => void seen.push({ kind: 'start', digest, image }),
    bytes: (digest: string, _n: number, image?: string) => void seen.push({ kind: 'bytes', digest, image }),
    end: (report: BlobReport, _target?: string, image?: string) => void seen.push({ kind: 'end', digest: report.digest, image }),
    unitStart: (source) => void units.push(source),
  };
  return { events, seen, units };
}

/** Each image named, with the blob digests its events were about. */
function byImage(seen: Seen[]): Map<string | undefined, Set<string>> {
  const out = new Map<string | undefined, Set<string>>();
  for (const s of seen) out.set(s.image, (out.get(s.image) ?? new Set()).add(s.digest));
  return out;
}

test('sync of two images sharing a layer: every blob event names its unit\'s source, each image\'s own layer under it', async () => {
  const [src, dst] = [await fake(), await fake()];
  const shared = bytesOf('shared base layer', 300_000);
  const one = src.seedImage('app', { tags: ['1'], layers: [shared, bytesOf('one', 4000)] });
  const two = src.seedImage('app', { tags: ['2'], layers: [shared, bytesOf('two', 4000)] });
  // Two targets, so each image's blobs are also read once for both (start without a target).
  const spec = parseSyncFile(['images:', `  - { source: ${src.ref('app')}, tags: ['1', '2'], targets: [${dst.host}/a, ${dst.host}/b] }`, ''].join('\n'), 'sync.yaml');
  const { events, seen, units } = recorder();
  await sync({ spec, images: 2, events, ...fakeLibraryOptions(src, dst) });
  assert.deepEqual([...units].sort(), [src.ref('app:1'), src.ref('app:2')]);
  assert.ok(seen.some((s) => s.kind === 'bytes'), 'some bytes were told');
  const named = byImage(seen);
  assert.deepEqual([...named.keys()].sort(), [...units].sort(), `every event names one of the units: ${[...named.keys()].join(', ')}`);
  // Each image's events are about its own blobs, and each image's own layer under it alone.
  const blobsOf = (img: typeof one) => new Set([img.config.digest, ...img.layers.map((l) => l.digest)]);
  for (const [image, img] of [[src.ref('app:1'), one], [src.ref('app:2'), two]] as const) {
    for (const d of named.get(image)!) assert.ok(blobsOf(img).has(d), `${d} told under ${image} is one of its blobs`);
    assert.ok(named.get(image)!.has(img.layers[1]!.digest), `${image}'s own layer told under it`);
  }
  // The layer both share was told under the image that moved it: the digest alone would not say which.
  const sharedDigest = one.layers[0]!.digest;
  assert.ok([...named.values()].some((ds) => ds.has(sharedDigest)), 'the shared layer was told');
});

test('copy with allTags: every blob event names the tag\'s image (host/repo:TAG)', async () => {
  const [src, dst] = [await fake(), await fake()];
  const a = src.seedImage('app', { tags: ['a'] });
  const b = src.seedImage('app', { tags: ['b'] });
  const { events, seen } = recorder();
  await copy({ from: src.ref('app'), to: [dst.ref('app')], allTags: true, events, ...fakeLibraryOptions(src, dst) });
  const named = byImage(seen);
  assert.deepEqual([...named.keys()].sort(), [src.ref('app:a'), src.ref('app:b')]);
  assert.ok(named.get(src.ref('app:a'))!.has(a.layers[0]!.digest));
  assert.ok(named.get(src.ref('app:b'))!.has(b.layers[0]!.digest));
  assert.ok(!named.get(src.ref('app:a'))!.has(b.layers[0]!.digest), 'b\'s layer is not told under a');
});

test('push() and copy() of one image: the blob events name no image', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base', { tags: ['1'] });
  const copied = recorder();
  await copy({ from: src.ref('base:1'), to: [dst.ref('copy:1')], events: copied.events, ...fakeLibraryOptions(src, dst) });
  assert.ok(copied.seen.length > 0);
  assert.deepEqual([...byImage(copied.seen).keys()], [undefined]);

  const dir = tempDir();
  mkdirSync(join(dir, 'app'));
  writeFileSync(join(dir, 'app', 'server.js'), 'console.log("hi")\n');
  const pushed = recorder();
  await push({ from: src.ref('base:1'), to: dst.ref('push:1'), app: [{ src: join(dir, 'app'), dest: '/app' }], events: pushed.events, ...fakeLibraryOptions(src, dst) });
  assert.ok(pushed.seen.length > 0);
  assert.deepEqual([...byImage(pushed.seen).keys()], [undefined]);
});

// docs/library.md: a field the types mark optional may be `undefined`, callbacks of `events` too
// (a script passing `{ start: onStart, phase: verbose ? onPhase : undefined }`): each operation
// runs and calls only the callbacks given.
test('push(), copy() and sync() take every event callback and sync\'s own options as undefined', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base', { tags: ['1'] });
  const none = { start: undefined, bytes: undefined, end: undefined, phase: undefined, work: undefined, unitStart: undefined, unitEnd: undefined, waiting: undefined };
  const ended: string[] = [];
  const events = { ...none, end: (report: BlobReport) => void ended.push(report.digest) };
  const copied = await copy({ from: src.ref('base:1'), to: [dst.ref('copy:1')], events, ...fakeLibraryOptions(src, dst) });
  assert.equal(copied.targets[0]!.ok, true);
  const dir = tempDir();
  mkdirSync(join(dir, 'app'));
  writeFileSync(join(dir, 'app', 'server.js'), 'console.log("hi")\n');
  const pushed = await push({ from: src.ref('base:1'), to: dst.ref('push:1'), app: [{ src: join(dir, 'app'), dest: '/app' }], events, ...fakeLibraryOptions(src, dst) });
  assert.ok(pushed.digest.startsWith('sha256:'));
  const spec = parseSyncFile(['images:', `  - { source: ${src.ref('base')}, tags: ['1'], targets: [${dst.host}/synced] }`, ''].join('\n'), 'sync.yaml');
  const synced = await sync({
    spec, shard: undefined, images: undefined, jobs: undefined, dryRun: undefined, logger: undefined, retries: undefined,
    minRateLimit: undefined, maxWaitMs: undefined, rateLimitPollMs: undefined, events, ...fakeLibraryOptions(src, dst),
  });
  assert.equal(synced.units[0]!.ok, true);
  assert.ok(ended.length > 0, 'the callback given was called');
  assert.equal(synced.units[0]!.targets[0]!.digest, dst.manifest('copy', '1')?.digest);
});
