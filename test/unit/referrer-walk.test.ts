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
  assert.deepEqual(REFERRER_BOUNDS, { depth: 8, total: 1000 }, 'the bounds docs/copy.md documents');
});

/** Copies that end only when the test says so: `started` in call order, `end(d)` finishes d's copy. */
function heldCopies(fail: Record<string, Error> = {}) {
  const started: string[] = [];
  const ends = new Map<string, () => void>();
  let inFlight = 0;
  let most = 0;
  const copy = async (f: FoundReferrer): Promise<string[]> => {
    const d = f.referrer.kind === 'digest' ? f.referrer.digest : f.referrer.tag;
    started.push(d);
    most = Math.max(most, ++inFlight);
    await new Promise<void>((resolve) => ends.set(d, resolve));
    inFlight--;
    if (fail[d]) throw fail[d];
    return [d];
  };
  /** Resolves once `n` copies have started; rejects when they have not after 100 turns of the event loop (no timers). */
  const whenStarted = async (n: number) => {
    for (let turn = 0; started.length < n; turn++) {
      if (turn === 100) throw new Error(`${started.length} copies started (${started.join(', ')}), not ${n}`);
      await new Promise<void>((r) => setImmediate(r));
    }
  };
  return { started, copy, whenStarted, end: (d: string) => ends.get(d)!(), most: () => most };
}

test('a level\'s referrers are copied together, `parallel` at a time, started in the order found; the next level keeps that order whatever order they ended in', async () => {
  const g = graph({ img: ['a', 'b', 'c'], a: ['x'], c: ['y'] });
  const h = heldCopies();
  const levels: string[][] = [];
  const walk = walkReferrers(['img'], g.find, h.copy, REFERRER_BOUNDS, { parallel: 2, done: async () => void levels.push([...h.started]) });
  await h.whenStarted(2);
  assert.deepEqual(h.started, ['a', 'b'], 'two at once; c waits for a slot');
  h.end('b');
  await h.whenStarted(3);
  h.end('c');
  h.end('a');
  await h.whenStarted(5);
  assert.deepEqual(h.started.slice(3), ['x', 'y'], 'a\'s referrer first: the order found, not the order ended');
  h.end('y');
  h.end('x');
  assert.deepEqual(await walk, { copied: 5, beyondDepth: 0, beyondTotal: 0 });
  assert.equal(h.most(), 2);
  assert.deepEqual(g.asked, [['img'], ['a', 'b', 'c'], ['x', 'y']]);
  assert.deepEqual(levels, [['a', 'b', 'c'], ['a', 'b', 'c', 'x', 'y']], 'done once per level, after its copies');
});

test('a copy that fails: no other starts, the walk rejects with it once those under way have ended, and the level is not done', async () => {
  const g = graph({ img: ['a', 'b', 'c', 'd'] });
  const boom = new Error('b failed');
  const h = heldCopies({ b: boom });
  let done = 0;
  let settled = false;
  const walk = walkReferrers(['img'], g.find, h.copy, REFERRER_BOUNDS, { parallel: 2, done: async () => void done++ });
  walk.then(
    () => (settled = true),
    () => (settled = true),
  );
  await h.whenStarted(2);
  h.end('b');
  // Let the failure and the freed slot run their course (macrotask turns, no timers).
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
  assert.equal(settled, false, 'a is still under way');
  h.end('a');
  await assert.rejects(walk, boom);
  assert.deepEqual(h.started, ['a', 'b'], 'neither c nor d started after b failed');
  assert.equal(done, 0);
});
