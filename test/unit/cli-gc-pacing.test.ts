import { test } from 'node:test';
import assert from 'node:assert/strict';
import { obtainGc, withGcPacing } from '../../src/cli/gc-pacing.js';
import type { BlobEvents, BlobReport } from '../../src/transfer/blobs.js';

test('obtainGc returns V8 collector without --expose-gc, and a minor collection runs', () => {
  const gc = obtainGc();
  assert.equal(typeof gc, 'function');
  gc!({ type: 'minor' });
  // The flag is switched back off: the main context never gains a global gc.
  assert.equal((globalThis as { gc?: unknown }).gc, undefined);
});

test('withGcPacing collects once per N bytes reported and passes every event on unchanged', () => {
  const seen: string[] = [];
  let collections = 0;
  const report: BlobReport = { digest: 'sha256:a', size: 1, mediaType: 'x', action: 'streamed', bytes: 1, retries: 0, resumes: 0 };
  const original: BlobEvents & { phase(name: string): void } = {
    start: (d) => void seen.push(`start ${d}`),
    bytes: (d, n) => void seen.push(`bytes ${d} ${n}`),
    end: (r) => void seen.push(`end ${r.digest}`),
    phase: (name) => void seen.push(`phase ${name}`),
  };
  const events = withGcPacing(
    original,
    100,
    () => collections++,
  );
  events.start!('d1', 'streamed', 10);
  for (let i = 0; i < 10; i++) events.bytes!('d1', 30); // 300 bytes: collections at 120, 240 → after 4th and 8th
  events.end!(report);
  events.phase('transfer');
  assert.equal(collections, 2);
  assert.equal(seen.filter((s) => s.startsWith('bytes d1 30')).length, 10);
  assert.deepEqual([seen[0], seen.at(-2), seen.at(-1)], ['start d1', 'end sha256:a', 'phase transfer']);
});

test('withGcPacing works without a progress display (the --json / --quiet case)', () => {
  let collections = 0;
  const events = withGcPacing({} as BlobEvents, 10, () => collections++);
  events.bytes!('d', 25);
  assert.equal(collections, 1);
});
