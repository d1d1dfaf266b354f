import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import { GC_MAJOR_BYTES, GC_MINOR_BYTES, obtainGc, withGcPacing } from '../../src/cli/gc-pacing.js';
import type { BlobEvents, BlobReport } from '../../src/transfer/types.js';

test('obtainGc returns V8 collector without --expose-gc, and a minor collection runs', () => {
  const gc = obtainGc();
  assert.equal(typeof gc, 'function');
  gc!({ type: 'minor' });
  // The flag is switched back off: the main context never gains a global gc.
  assert.equal((globalThis as { gc?: unknown }).gc, undefined);
});

test('obtainGc: a call without options is a full collection, { type: "minor" } a scavenge (what withGcPacing relies on)', async () => {
  const gc = obtainGc()!;
  const kinds: number[] = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) kinds.push((e as unknown as { detail: { kind: number } }).detail.kind);
  });
  obs.observe({ entryTypes: ['gc'] });
  // Entries are delivered asynchronously: wait (up to 2 s on a loaded machine) until one arrives.
  const delivered = async (): Promise<void> => {
    for (let i = 0; i < 200 && kinds.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  };
  try {
    gc();
    await delivered();
    assert.equal(kinds[0], perfConstants.NODE_PERFORMANCE_GC_MAJOR, `a full collection expected, saw kinds ${kinds.join(',')}`);
    kinds.length = 0;
    gc({ type: 'minor' });
    await delivered();
    assert.equal(kinds[0], perfConstants.NODE_PERFORMANCE_GC_MINOR, `a scavenge expected, saw kinds ${kinds.join(',')}`);
  } finally {
    obs.disconnect();
  }
});

test('withGcPacing runs a minor collection per minorEvery bytes and a full one per majorEvery, and passes every event on', () => {
  const seen: string[] = [];
  const calls: string[] = [];
  const report: BlobReport = { digest: 'sha256:a', size: 1, mediaType: 'x', action: 'streamed', bytes: 1, retries: 0, resumes: 0 };
  const original: BlobEvents & { phase(name: string): void } = {
    start: (d) => void seen.push(`start ${d}`),
    bytes: (d, n) => void seen.push(`bytes ${d} ${n}`),
    end: (r) => void seen.push(`end ${r.digest}`),
    phase: (name) => void seen.push(`phase ${name}`),
  };
  const events = withGcPacing(original, { minorEvery: 100, majorEvery: 250 }, (opts) => void calls.push(opts ? opts.type ?? 'options' : 'full'));
  events.start!('d1', 'streamed', 10);
  // 20 × 30 = 600 bytes: a collection at every 4th report (120, 240, 360, 480, 600 bytes); the
  // first one at or past 250 bytes since the last full collection is full (360), the count restarts.
  for (let i = 0; i < 20; i++) events.bytes!('d1', 30);
  events.end!(report);
  events.phase('transfer');
  assert.deepEqual(calls, ['minor', 'minor', 'full', 'minor', 'minor']);
  assert.equal(seen.filter((s) => s.startsWith('bytes d1 30')).length, 20);
  assert.deepEqual([seen[0], seen.at(-2), seen.at(-1)], ['start d1', 'end sha256:a', 'phase transfer']);
});

test('withGcPacing works without a progress display (the --json / --quiet case)', () => {
  let collections = 0;
  const events = withGcPacing({} as BlobEvents, { minorEvery: 10, majorEvery: 1000 }, () => collections++);
  events.bytes!('d', 25);
  assert.equal(collections, 1);
});

test('withGcPacing defaults: minor every 2 MiB, full every 32 MiB', () => {
  const calls: string[] = [];
  const events = withGcPacing({} as BlobEvents, undefined, (opts) => void calls.push(opts ? 'minor' : 'full'));
  for (let i = 0; i < 32; i++) events.bytes!('d', 1024 * 1024);
  assert.deepEqual([GC_MINOR_BYTES, GC_MAJOR_BYTES], [2 * 1024 * 1024, 32 * 1024 * 1024]);
  assert.deepEqual(calls, [...Array(15).fill('minor'), 'full']);
});

test('withGcPacing also paces on local work (tar bytes before gzip), counted with the bytes sent, and passes it on', () => {
  const calls: string[] = [];
  const worked: number[] = [];
  const original = { work: (n: number) => void worked.push(n) } as BlobEvents & { work(n: number): void };
  const events = withGcPacing(original, { minorEvery: 100, majorEvery: 1000 }, (opts) => void calls.push(opts ? 'minor' : 'full')) as typeof original;
  events.work(60);
  events.bytes!('d', 50); // 110 bytes in all since the last collection
  events.work(100);
  assert.deepEqual(calls, ['minor', 'minor']);
  assert.deepEqual(worked, [60, 100]);
});
