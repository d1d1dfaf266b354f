// walkReferrers (src/transfer/referrers.ts) on its own: the breadth-first order, a digest listed
// once, and the two bounds, with small bounds and an in-memory graph of who refers to whom.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { REFERRER_BOUNDS, walkReferrers, type FoundReferrer } from '../../src/transfer/referrers.js';

/** A source where `refs[d]` refer to `d` (by digest); copying one answers its own digest as the next subject. */
function graph(refs: Record<string, string[]>) {
  const asked: string[][] = [];
  const copied: string[] = [];
  const find = async (subjects: string[]): Promise<FoundReferrer[]> => {
    asked.push(subjects);
    return subjects.flatMap((subject) => (refs[subject] ?? []).map((digest) => ({ subject, referrer: { kind: 'digest', digest } as const })));
  };
  const copy = async (f: FoundReferrer): Promise<string[]> => {
    const d = f.referrer.kind === 'digest' ? f.referrer.digest : f.referrer.tag;
    copied.push(d);
    return [d];
  };
  return { asked, copied, find, copy };
}

test('breadth first: a level is copied before the next is listed; a referrer named twice is copied once; the image named back is not listed again', async () => {
  const g = graph({ img: ['a', 'b'], a: ['c', 'img'], b: ['c'], c: ['a'] });
  const w = await walkReferrers(['img'], g.find, g.copy);
  assert.deepEqual(g.copied, ['a', 'b', 'c']);
  assert.deepEqual(g.asked, [['img'], ['a', 'b'], ['c']]);
  assert.deepEqual(w, { copied: 3, beyondDepth: 0, beyondTotal: 0 });
});

test('the total bound: past it nothing more is copied, and what was found and left is counted', async () => {
  const g = graph({ img: ['a', 'b'], a: ['c', 'd', 'e'], c: ['f'] });
  const w = await walkReferrers(['img'], g.find, g.copy, { depth: 8, total: 3 });
  assert.deepEqual(g.copied, ['a', 'b', 'c']);
  assert.deepEqual(w, { copied: 3, beyondDepth: 0, beyondTotal: 2 }, 'd and e; f was never looked for');
});

test('the depth bound: the level past it is listed (to count it), not copied', async () => {
  const g = graph({ img: ['a'], a: ['b'], b: ['c', 'd'], c: ['e'] });
  const w = await walkReferrers(['img'], g.find, g.copy, { depth: 2, total: 100 });
  assert.deepEqual(g.copied, ['a', 'b']);
  assert.deepEqual(w, { copied: 2, beyondDepth: 2, beyondTotal: 0 });
  assert.deepEqual(REFERRER_BOUNDS, { depth: 8, total: 1000 }, 'the bounds README.md documents');
});
