// The abort listeners of a transfer run (src/transfer/engine.ts): every request (queued ones
// too), open body, started blob read and wait listens on the run's signal. A sync of many
// images has more of them at once than any fixed bound (1,000 was passed by 64 images of ~20
// layers: Node printed a false "Possible EventTarget memory leak" warning), so the run's signal
// has none; what guards against a real leak is that each listener is removed: counted here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fakeLibraryOptions, startFakeRegistry } from '../fixtures/fake-registry.js';
import { parseSyncFile, sync } from '../../src/index.js';

/**
 * Counts the abort listeners on every AbortSignal while `body` runs: live ones per signal, and the
 * most one signal had at once; and of the listeners named `named` (a function's name), how many
 * were added in all and the most live at once, over every signal.
 */
async function countingAbortListeners<T>(
  body: () => Promise<T>,
  named?: string,
): Promise<{ value: T; live: Map<AbortSignal, number>; peak: number; busiest?: AbortSignal; namedAdded: number; namedPeak: number }> {
  const add = EventTarget.prototype.addEventListener;
  const remove = EventTarget.prototype.removeEventListener;
  const listeners = new Map<AbortSignal, Set<unknown>>();
  let peak = 0;
  let busiest: AbortSignal | undefined;
  const namedLive = new Set<unknown>();
  let namedAdded = 0;
  let namedPeak = 0;
  const isNamed = (fn: unknown): boolean => named !== undefined && typeof fn === 'function' && fn.name === named;
  EventTarget.prototype.addEventListener = function (this: EventTarget, type: string, fn: unknown, o?: unknown) {
    if (type === 'abort' && this instanceof AbortSignal) {
      let s = listeners.get(this);
      if (!s) listeners.set(this, (s = new Set()));
      s.add(fn);
      if (s.size > peak) {
        peak = s.size;
        busiest = this;
      }
      if (isNamed(fn) && !namedLive.has(fn)) {
        namedLive.add(fn);
        namedAdded++;
        namedPeak = Math.max(namedPeak, namedLive.size);
      }
    }
    return add.call(this, type, fn as EventListener, o as AddEventListenerOptions);
  } as typeof add;
  EventTarget.prototype.removeEventListener = function (this: EventTarget, type: string, fn: unknown, o?: unknown) {
    if (type === 'abort' && this instanceof AbortSignal) {
      listeners.get(this)?.delete(fn);
      namedLive.delete(fn);
    }
    return remove.call(this, type, fn as EventListener, o as EventListenerOptions);
  } as typeof remove;
  try {
    const value = await body();
    return { value, live: new Map([...listeners].filter(([s, l]) => l.size > 0 && !s.aborted).map(([s, l]) => [s, l.size])), peak, busiest, namedAdded, namedPeak };
  } finally {
    EventTarget.prototype.addEventListener = add;
    EventTarget.prototype.removeEventListener = remove;
  }
}

test('a sync of many images: no listener-leak warning, and no abort listener left on any signal after it', async () => {
  const src = await startFakeRegistry();
  const dst = await startFakeRegistry();
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => void warnings.push(w);
  process.on('warning', onWarning);
  try {
    // Small enough to run in seconds: the listener bound is checked on the signal itself.
    const IMAGES = 24;
    const LAYERS = 12;
    const lines = ['images:'];
    for (let i = 0; i < IMAGES; i++) {
      src.seedImage(`team/app${i}`, { tags: ['v1'], layers: Array.from({ length: LAYERS }, (_, l) => `image ${i} layer ${l}`) });
      lines.push(`  - {source: ${src.host}/team/app${i}, tags: [v1], target: ${dst.host}/mirror/app${i}}`);
    }
    const spec = parseSyncFile(lines.join('\n') + '\n', 'sync.yaml');
    const caller = new AbortController();
    const { value: result, live, peak, busiest } = await countingAbortListeners(() => sync({ ...fakeLibraryOptions(src, dst), spec, images: IMAGES, signal: caller.signal }));
    assert.equal(result.units.filter((u) => u.ok).length, IMAGES);
    assert.deepEqual([...live.values()], [], 'every abort listener the run added was removed');
    // The signal most listened on is the run's (derived from the caller's, which AbortSignal.any
    // leaves without listeners): more than Node's default bound of 10 at once.
    assert.ok(busiest && busiest !== caller.signal && peak > 10, `peak ${peak}`);
    // As many as a larger sync has at once (images × layers past the old bound of 1,000) warn of
    // nothing. (Node 20's getMaxListeners throws on a signal whose bound is 0: tried instead.)
    const more = Array.from({ length: 1200 }, () => () => undefined);
    for (const fn of more) busiest.addEventListener('abort', fn);
    for (const fn of more) busiest.removeEventListener('abort', fn);
    await new Promise((r) => setImmediate(r)); // a warning is emitted on the next tick
    assert.deepEqual(warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message), []);
  } finally {
    process.off('warning', onWarning);
    await src.close();
    await dst.close();
  }
});

test('an upload listens on the run\'s signal only while it is under way: a sync of many images has no more such listeners at once than uploads in flight, not one per upload still waiting its turn', async () => {
  const src = await startFakeRegistry();
  const dst = await startFakeRegistry();
  try {
    const IMAGES = 30;
    const LAYERS = 4;
    const [images, jobs] = [2, 2];
    const lines = ['images:'];
    for (let i = 0; i < IMAGES; i++) {
      src.seedImage(`team/app${i}`, { tags: ['v1'], layers: Array.from({ length: LAYERS }, (_, l) => `image ${i} layer ${l}`) });
      lines.push(`  - {source: ${src.host}/team/app${i}, tags: [v1], target: ${dst.host}/mirror/app${i}}`);
    }
    const spec = parseSyncFile(lines.join('\n') + '\n', 'sync.yaml');
    // startGrace: sendWithGrace's listener (src/registry/upload-grace.ts), one per upload request.
    const { value: result, live, namedAdded, namedPeak } = await countingAbortListeners(() => sync({ ...fakeLibraryOptions(src, dst), spec, images, jobs, signal: new AbortController().signal }), 'startGrace');
    assert.equal(result.units.filter((u) => u.ok).length, IMAGES);
    assert.deepEqual([...live.values()], [], 'every abort listener the run added was removed');
    // Every blob's upload listened (config and layers of every image)...
    assert.ok(namedAdded >= IMAGES * (LAYERS + 1), `upload listeners added: ${namedAdded}`);
    // ...but at once no more than the uploads in flight: --jobs per image in flight, and the one
    // session each image opens early beside its plan (EarlyStarts.start), one target each.
    assert.ok(namedPeak >= 1 && namedPeak <= images * (jobs + 1), `upload listeners at once: ${namedPeak}`);
  } finally {
    await src.close();
    await dst.close();
  }
});
