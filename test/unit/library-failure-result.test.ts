// A failure's result, typed without a cast: failureResult(err, 'push' | 'copy' | 'sync' |
// 'tagImage') gives `details.result` as that operation's result type, and undefined for an error
// that carries none or another operation's (details.operation, checked at run time). And push()'s
// every target failing carries its result (each target's failure) as copy() and sync() do, while
// keeping the first target's own error (class and code). Against in-process fake registries.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  copy,
  DeniedError,
  failureResult,
  NotFoundError,
  parseSyncFile,
  push,
  RegistryError,
  sync,
  tagImage,
  type CopyResult,
  type PushResult,
  type PushTargetReport,
  type SyncResult,
  type TagImageResult,
} from '../../src/index.js';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const fake = fakeRegistryPool();
const tempDir = tempDirs('regpush-failure-result-');

/** Every upload answered 403 DENIED at `reg`. */
const denyUploads = (reg: FakeRegistry) => reg.fault({ kind: 'upload' }, { kind: 'status', status: 403, code: 'DENIED', message: 'requested access to the resource is denied' });
/** Every upload answered 500 at `reg` (Retry-After: 0). */
const failUploads = (reg: FakeRegistry) => reg.fault({ kind: 'upload' }, { kind: 'status', status: 500, retryAfter: 0 });

/** A directory holding a one-file app. */
function appDir(): string {
  const dir = tempDir();
  mkdirSync(join(dir, 'app'));
  writeFileSync(join(dir, 'app', 'server.js'), 'console.log("hi")\n');
  return join(dir, 'app');
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e,
  );
}

/** The fields of a failed push target a caller reads. */
const outcome = (t: PushTargetReport) => [t.target, t.ok, t.reference, t.digest, t.error?.code];

test('push() whose every target failed at the upload: the first target\'s own error (class, code), with each target\'s failure in details.result (typed through failureResult) and details.failed', async () => {
  const [src, denied, broken] = [await fake(), await fake(), await fake()];
  src.seedImage('base', { tags: ['1'] });
  denyUploads(denied);
  failUploads(broken);
  const to = [denied.ref('app:1'), broken.ref('app:1')];
  const err = await rejection(push({ from: src.ref('base:1'), to, app: [{ src: appDir(), dest: '/app' }], retries: 0, ...fakeLibraryOptions(src, denied, broken) }));
  assert.ok(err instanceof DeniedError, String(err));
  assert.equal(err.code, 'E_DENIED', err.message); // the first target's: the CLI's exit code stays 3
  assert.deepEqual(err.details.failed, to);
  const result: PushResult | undefined = failureResult(err, 'push');
  assert.ok(result, 'the push result comes with the error');
  assert.deepEqual(result.targets!.map(outcome), [
    [to[0], false, '', '', 'E_DENIED'],
    [to[1], false, '', '', 'E_REGISTRY'],
  ]);
  // Nothing was written: the top-level fields are a failed target's.
  assert.deepEqual([result.reference, result.digest, result.mediaType, result.platforms], ['', '', '', []]);
  assert.equal(result.base.reference, src.ref('base:1'));
  assert.match(result.base.digest, /^sha256:/);
  assert.equal(result.dryRun, false);
  // Another operation's name gives nothing: the result is push's.
  const asCopy: CopyResult | undefined = failureResult(err, 'copy');
  assert.equal(asCopy, undefined);
  assert.equal(denied.manifest('app', '1'), undefined);
  assert.equal(broken.manifest('app', '1'), undefined);
});

test('push() whose every target refused its manifest: the same (the result built after the blobs landed)', async () => {
  const [src, a, b] = [await fake(), await fake(), await fake()];
  src.seedImage('base', { tags: ['1'] });
  for (const reg of [a, b]) reg.fault({ kind: 'manifest', method: 'PUT' }, { kind: 'status', status: 400, code: 'TAG_INVALID', message: 'tag is immutable' });
  const to = [a.ref('app:1'), b.ref('app:1')];
  const err = await rejection(push({ from: src.ref('base:1'), to, app: [{ src: appDir(), dest: '/app' }], retries: 0, ...fakeLibraryOptions(src, a, b) }));
  assert.ok(err instanceof RegistryError, String(err));
  assert.deepEqual(err.details.failed, to);
  const result = failureResult(err, 'push');
  assert.deepEqual(result?.targets?.map((t) => [t.target, t.ok, t.error?.code]), [
    [to[0], false, 'E_REGISTRY'],
    [to[1], false, 'E_REGISTRY'],
  ]);
  assert.ok(result!.targets![0]!.blobs.length > 0, 'each target\'s blobs are reported');
});

test('push() with dryRun whose every target failed to plan: the same, dryRun true', async () => {
  const [src, a, b] = [await fake(), await fake(), await fake()];
  src.seedImage('base', { tags: ['1'] });
  for (const reg of [a, b]) reg.fault({ method: 'HEAD' }, { kind: 'status', status: 403, code: 'DENIED', message: 'requested access to the resource is denied' });
  const to = [a.ref('app:1'), b.ref('app:1')];
  const err = await rejection(push({ from: src.ref('base:1'), to, app: [{ src: appDir(), dest: '/app' }], dryRun: true, retries: 0, ...fakeLibraryOptions(src, a, b) }));
  assert.ok(err instanceof DeniedError, String(err));
  const result = failureResult(err, 'push');
  assert.equal(result?.dryRun, true);
  assert.deepEqual(result?.targets?.map((t) => [t.target, t.ok]), [
    [to[0], false],
    [to[1], false],
  ]);
});

test('push() to one target that failed: its error alone, no result (as copy() of one target)', async () => {
  const [src, denied] = [await fake(), await fake()];
  src.seedImage('base', { tags: ['1'] });
  denyUploads(denied);
  for (const to of [denied.ref('app:1'), [denied.ref('app:1')]]) {
    const err = await rejection(push({ from: src.ref('base:1'), to, app: [{ src: appDir(), dest: '/app' }], retries: 0, ...fakeLibraryOptions(src, denied) }));
    assert.ok(err instanceof DeniedError, String(err));
    assert.equal(err.details.result, undefined);
    assert.equal(failureResult(err, 'push'), undefined);
  }
});

test('failureResult: copy()\'s, sync()\'s and tagImage()\'s results typed as theirs, E_PARTIAL or not; nothing for an error without one', async () => {
  const [src, good, bad] = [await fake(), await fake(), await fake()];
  src.seedImage('app', { tags: ['1'] });
  failUploads(bad);
  const opts = fakeLibraryOptions(src, good, bad);

  const copied = await rejection(copy({ from: src.ref('app:1'), to: [good.ref('app:1'), bad.ref('app:1')], retries: 0, ...opts }));
  const c: CopyResult | undefined = failureResult(copied, 'copy');
  assert.deepEqual(c?.targets.map((t) => t.ok), [true, false]);
  assert.equal(failureResult(copied, 'push'), undefined);
  assert.equal(failureResult(copied, 'sync'), undefined);

  const spec = parseSyncFile(['images:', `  - { source: ${src.ref('app')}, tags: ['1'], targets: [${good.host}/mirror, ${bad.host}/mirror] }`, ''].join('\n'), 'sync.yaml');
  const synced = await rejection(sync({ spec, retries: 0, ...opts }));
  const s: SyncResult | undefined = failureResult(synced, 'sync');
  assert.deepEqual(s?.units[0]!.targets.map((t) => t.action), ['copied', 'failed']);
  // A failed sync target's digest is '' (kept, as push's and copy's failed targets have it), the other's the image's.
  assert.deepEqual(s?.units[0]!.targets.map((t) => t.digest), [s?.units[0]!.sourceDigest, '']);
  assert.equal(failureResult(synced, 'copy'), undefined);

  // A sync of one image whose every target failed: that failure's own class, the report still typed.
  const alone = parseSyncFile(['images:', `  - { source: ${src.ref('app')}, tags: ['1'], targets: [${bad.host}/alone] }`, ''].join('\n'), 'sync.yaml');
  const one = await rejection(sync({ spec: alone, retries: 0, ...opts }));
  assert.ok(one instanceof RegistryError && one.code === 'E_REGISTRY', String(one));
  assert.equal(failureResult(one, 'sync')?.units[0]!.targets[0]!.ok, false);

  good.fault({ kind: 'manifest', method: 'PUT', path: /\/manifests\/b$/ }, { kind: 'status', status: 400, code: 'TAG_INVALID', message: 'tag is immutable' });
  const tagged = await rejection(tagImage(good.ref('app:1'), ['a', 'b'], { ...opts, retries: 0 }));
  const t: TagImageResult | undefined = failureResult(tagged, 'tagImage');
  assert.deepEqual(t?.tags, ['a']);
  assert.deepEqual(t?.tagsFailed.map((f) => f.tag), ['b']);

  // Errors that carry no result, and what is not a RegpushError at all.
  const missing = await rejection(copy({ from: src.ref('nothing:1'), to: [good.ref('x:1'), bad.ref('x:1')], retries: 0, ...opts }));
  assert.ok(missing instanceof NotFoundError, String(missing));
  assert.equal(missing.code, 'E_NOT_FOUND');
  assert.match(missing.message, /\/nothing:1: .* answered 404 MANIFEST_UNKNOWN/);
  assert.equal(failureResult(missing, 'copy'), undefined);
  assert.equal(failureResult(new Error('x'), 'push'), undefined);
  assert.equal(failureResult(undefined, 'sync'), undefined);
});
