// A library caller's progress callbacks (`events`) that throw: every operation rejects with the
// caller's own error, unchanged, and writes no tag after it (src/transfer/callbacks.ts). A throw
// from a stream's 'data' handler must not become an uncaught exception (the test runner reports one
// as this test's failure), nor one from `work` a network error ("cannot reach …").
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copy, parseSyncFile, push, sync } from '../../src/index.js';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';

const fake = fakeRegistryPool();
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function appDir(): { src: string; dest: string }[] {
  const d = mkdtempSync(join(tmpdir(), 'regpush-callbacks-'));
  dirs.push(d);
  writeFileSync(join(d, 'server.js'), 'console.log("hi")\n'.repeat(1000));
  return [{ src: d, dest: '/app' }];
}

/** The caller's own error: not a RegpushError, so nothing of regpush's can pass for it. */
class CallerBoom extends Error {}

/** Rejects with what `p` rejects with; fails if it resolves. */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => assert.fail('the operation succeeded'),
    (err: unknown) => err,
  );
}

/** No manifest at all was written at `reg` (PUT), and no upload session is left open. */
function nothingWritten(reg: FakeRegistry): void {
  assert.equal(reg.count({ kind: 'manifest', method: 'PUT' }), 0, 'no manifest written');
  assert.equal(reg.openUploads(), 0, `no upload session left: ${JSON.stringify(reg.requests({ kind: 'upload' }).map((r) => [r.method, r.path.slice(-12), r.status, r.query.digest ? 'digest' : '']))}`);
}

test('push: a throw in events.bytes of a streamed base blob rejects with the caller\'s error; no tag', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  const boom = new CallerBoom('callback boom');
  // Only the base blobs' bytes (digests), which go from the source's body's 'data' handler.
  const bytes = (digest: string): void => {
    if (digest.startsWith('sha256:')) throw boom;
  };
  const err = await rejection(push({ from: src.ref('base/node:20'), to: dst.ref('app:1'), app: appDir(), ...fakeLibraryOptions(src, dst), events: { bytes } }));
  assert.equal(err, boom);
  nothingWritten(dst);
});

test('push from scratch: a throw in events.bytes of the app layer (streamed PATCH, or its one PUT) rejects with the caller\'s error; no tag', async () => {
  const dst = await fake();
  for (const layerUpload of ['patch', undefined] as const) {
    const boom = new CallerBoom(`callback boom (${layerUpload ?? 'default'})`);
    const err = await rejection(push({ from: 'scratch', to: dst.ref('app:1'), app: appDir(), layerUpload, ...fakeLibraryOptions(dst), events: { bytes: () => { throw boom; } } }));
    assert.equal(err, boom);
    nothingWritten(dst);
  }
});

test('push: a throw in events.work (the layer builder) is the caller\'s error, not E_NETWORK; no tag', async () => {
  const dst = await fake();
  const boom = new CallerBoom('callback boom');
  const err = await rejection(push({ from: 'scratch', to: dst.ref('app:1'), app: appDir(), ...fakeLibraryOptions(dst), events: { work: () => { throw boom; } } }));
  assert.equal(err, boom);
  nothingWritten(dst);
});

test('push: a throw in start, end or phase, and an async callback that rejects, are the caller\'s error; no tag', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  for (const [name, events] of [
    ['start', { start: () => { throw new CallerBoom('start'); } }],
    ['end', { end: () => { throw new CallerBoom('end'); } }],
    ['phase', { phase: () => { throw new CallerBoom('phase'); } }],
    ['async end', { end: async () => { throw new CallerBoom('async end'); } }],
  ] as const) {
    const err = await rejection(push({ from: src.ref('base/node:20'), to: dst.ref(`app:${name.replace(' ', '-')}`), app: appDir(), ...fakeLibraryOptions(src, dst), events }));
    assert.ok(err instanceof CallerBoom, `${name}: ${String(err)}`);
    assert.equal(err.message, name);
  }
  nothingWritten(dst);
});

test('push: a class instance\'s methods are called on it, through the guard', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/node', { tags: ['20'] });
  class Progress {
    bytesSeen = 0;
    bytes(_digest: string, n: number): void {
      this.bytesSeen += n;
    }
  }
  const p = new Progress();
  await push({ from: src.ref('base/node:20'), to: dst.ref('app:1'), app: appDir(), ...fakeLibraryOptions(src, dst), events: p });
  assert.ok(p.bytesSeen > 0);
});

test('copy to two targets: a throw in events.bytes rejects with the caller\'s error (not E_PARTIAL); no tag at either', async () => {
  const [src, a, b] = [await fake(), await fake(), await fake()];
  src.seedImage('app', { tags: ['1'] });
  const boom = new CallerBoom('callback boom');
  const err = await rejection(copy({ from: src.ref('app:1'), to: [a.ref('app:1'), b.ref('app:1')], ...fakeLibraryOptions(src, a, b), events: { bytes: () => { throw boom; } } }));
  assert.equal(err, boom);
  nothingWritten(a);
  nothingWritten(b);
});

test('copy to one target: a throw in events.bytes rejects with the caller\'s error; no tag', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('app', { tags: ['1'] });
  const boom = new CallerBoom('callback boom');
  const err = await rejection(copy({ from: src.ref('app:1'), to: [dst.ref('app:1')], ...fakeLibraryOptions(src, dst), events: { bytes: () => { throw boom; } } }));
  assert.equal(err, boom);
  nothingWritten(dst);
});

test('sync: a throw in events.unitStart or bytes stops the sync with the caller\'s error; the images not started are not copied', async () => {
  const [src, dst] = [await fake(), await fake()];
  for (const n of ['a', 'b', 'c']) src.seedImage(n, { tags: ['1'] });
  const spec = parseSyncFile(['defaults:', `  targets: [${dst.host}/mirror]`, 'images:', ...['a', 'b', 'c'].map((n) => `  - source: ${src.ref(`${n}:1`)}`), ''].join('\n'), 'sync.yaml');
  for (const events of [{ unitStart: () => { throw new CallerBoom('unitStart'); } }, { bytes: () => { throw new CallerBoom('bytes'); } }]) {
    const err = await rejection(sync({ spec, images: 1, ...fakeLibraryOptions(src, dst), events }));
    assert.ok(err instanceof CallerBoom, String(err));
    nothingWritten(dst);
  }
});
