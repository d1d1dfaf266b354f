// The order of sync's report units (byEntryThenSource, src/sync/report-order.ts): the order of ICU's
// numeric 'en' collation on entry labels, then of localeCompare on sources, reached without asking
// ICU where the labels' `images[N]` already decide, since ICU's first collator costs a run ~6 ms.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { byEntryThenSource } from '../../src/sync/report-order.js';

/** The order the report had when every comparison went through ICU. */
const collated = (a: { entry: string; source: string }, b: { entry: string; source: string }): number =>
  a.entry.localeCompare(b.entry, 'en', { numeric: true }) || a.source.localeCompare(b.source);

/** Calls to String.prototype.localeCompare while `fn` runs. */
function countCollations(fn: () => void): number {
  const original = String.prototype.localeCompare;
  let calls = 0;
  String.prototype.localeCompare = function (this: string, ...args: Parameters<typeof original>) {
    calls++;
    return original.apply(this, args);
  };
  try {
    fn();
  } finally {
    String.prototype.localeCompare = original;
  }
  return calls;
}

const sign = (n: number): number => Math.sign(n);

test('the report order is the collated order: indices as numbers, then sources, odd labels included', () => {
  const labels = [
    'images[0] (a.example/x)',
    'images[2] (b.example/y:1)',
    'images[10] (a.example/x)',
    'images[1] (Z.example/q)',
    'images[11] (z.example/q)',
    'images[3]',
    'images[20] (c.example/r@sha256:0123456789ab…)',
    'images[02] (leading zero)',
    'other entry',
    'Other entry 9',
    'other entry 10',
  ];
  const sources = ['127.0.0.1:5000/a:1', '127.0.0.1:5000/a:10', '127.0.0.1:5000/a:2', '127.0.0.1:5000/A:3', 'docker.io/library/nginx:latest'];
  const units = labels.flatMap((entry) => sources.map((source) => ({ entry, source })));
  for (const a of units) for (const b of units) assert.equal(sign(byEntryThenSource(a, b)), sign(collated(a, b)), `${a.entry} ${a.source} vs ${b.entry} ${b.source}`);
  assert.deepEqual([...units].reverse().sort(byEntryThenSource), [...units].reverse().sort(collated));
});

test('units of distinct entries, one source each, are sorted without a collation', () => {
  const units = Array.from({ length: 12 }, (_, i) => ({ entry: `images[${11 - i}] (127.0.0.1:5000/svc-${11 - i})`, source: `127.0.0.1:5000/svc-${11 - i}:1` }));
  let sorted: typeof units = [];
  assert.equal(countCollations(() => (sorted = [...units].sort(byEntryThenSource))), 0);
  assert.deepEqual(
    sorted.map((u) => u.entry),
    Array.from({ length: 12 }, (_, i) => `images[${i}] (127.0.0.1:5000/svc-${i})`),
  );
});
