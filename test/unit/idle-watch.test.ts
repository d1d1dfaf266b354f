// The idle watchdog of a response body (src/http/idle.ts): a body that stops delivering is failed
// after the timeout, one that keeps delivering is not, and the clock restarted at every chunk is
// the same timer (refresh()), not a new one per chunk: a 113 MB blob arrives in ~1,800 chunks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { watchIdle } from '../../src/http/idle.js';
import { countTimers } from './count-timers.js';

const turn = () => new Promise<void>((r) => setImmediate(r));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** The watchdog's timer does not hold the process open (unref): this does, while a test waits for it. */
const keepAlive = (): (() => void) => {
  const t = setInterval(() => undefined, 1000);
  return () => clearInterval(t);
};

test('a body that stops delivering is destroyed once the idle time has passed', async () => {
  const s = new Readable({ read() {} });
  watchIdle(s, 40, () => new Error('stalled'));
  const failed = new Promise<Error>((resolve) => s.once('error', resolve));
  s.on('data', () => undefined);
  s.push(Buffer.from('a'));
  const release = keepAlive();
  try {
    assert.equal((await failed).message, 'stalled');
  } finally {
    release();
  }
});

test('a body that keeps delivering, each chunk within the idle time, is not failed however long it takes', async () => {
  const s = new Readable({ read() {} });
  watchIdle(s, 60, () => new Error('stalled'));
  let failed: Error | undefined;
  s.once('error', (e) => (failed = e));
  let got = 0;
  s.on('data', () => got++);
  for (let i = 0; i < 8; i++) {
    await sleep(25); // 200 ms in all, over three idle times
    s.push(Buffer.from('x'));
  }
  s.push(null);
  await new Promise((r) => s.once('end', r));
  assert.equal(failed, undefined);
  assert.equal(got, 8);
});

test('the clock restarted at every chunk is one timer, not a new one per chunk', async () => {
  const s = new Readable({ read() {} });
  const made = await countTimers(async () => {
    watchIdle(s, 60_000, () => new Error('stalled'));
    s.on('data', () => undefined);
    await turn();
    for (let i = 0; i < 200; i++) {
      s.push(Buffer.alloc(16));
      if (i % 10 === 0) await turn();
    }
    s.push(null);
    await new Promise((r) => s.once('end', r));
  });
  assert.equal(made, 1, `timers made for 200 chunks: ${made}`);
});
