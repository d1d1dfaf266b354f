// A sync whose target hangs: it accepts connections and never answers (http/host-silence.ts). Once
// two requests timed out there with no answer since, an attempt that times out there is not
// retried, so each image costs one idle timeout and the outage breaker (sync/outage.ts) stops the
// run after its threshold of images; a single stalled request keeps its retries, and a target that
// answers again is used again. The fake target holds requests (accepted, unanswered) and a small
// idle timeout fails them; what is counted is attempts and images, never time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copy, parseSyncFile, sync, type RegpushError, type SyncResult } from '../../src/index.js';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';

const fake = fakeRegistryPool();
const N = 12;
const IDLE_MS = 200;

function seeded(src: FakeRegistry, target: string) {
  for (let i = 0; i < N; i++) src.seedImage(`team/app${i}`, { tags: ['1'] });
  const lines = ['defaults:', `  targets: [${target}]`, 'images:'];
  for (let i = 0; i < N; i++) lines.push(`  - { source: ${src.ref(`team/app${i}`)}, tags: ["1"] }`);
  return parseSyncFile(lines.join('\n') + '\n', 'sync.yaml');
}

/** A hold that is let go at the end of the test (the client has given up on what it holds by then). */
function hold(t: { after: (fn: () => void) => void }): { kind: 'hold'; until: Promise<void> } {
  let release!: () => void;
  const until = new Promise<void>((resolve) => (release = resolve));
  t.after(() => release());
  return { kind: 'hold', until };
}

/** The images' requests to the target (its /v2/ probe, answered, left out). */
const repoRequests = (reg: FakeRegistry) => reg.requests().filter((q) => q.repo !== undefined);

test('a target that accepts and never answers: each image costs one attempt there, and after 8 images the rest are not attempted', async (t) => {
  const [src, dst] = [await fake(), await fake()];
  dst.fault({ when: (q) => q.repo !== undefined }, hold(t));
  const err = await sync({ spec: seeded(src, `${dst.host}/mirror`), images: 2, retries: 2, idleTimeoutMs: IDLE_MS, ...fakeLibraryOptions(src, dst) }).then(
    () => undefined,
    (e: RegpushError) => e,
  );
  assert.equal(err?.code, 'E_NETWORK', String(err));
  const r = (err!.details as { result: SyncResult }).result;
  const tried = r.units.filter((u) => !u.ok && !u.error?.message.startsWith('not attempted'));
  const skipped = r.units.filter((u) => u.error?.message.startsWith('not attempted'));
  // Eight in a row stop the rest; the image beside the eighth (two at a time) may have started.
  assert.ok(tried.length === 8 || tried.length === 9, `${tried.length} images attempted`);
  assert.equal(skipped.length, N - tried.length);
  // Two requests timing out together make the target silent: the first of them may retry once
  // before the second has timed out; no other attempt is repeated. Without it, each image's
  // first request was sent three times (--retries 2).
  const sent = repoRequests(dst);
  assert.equal(new Set(sent.map((q) => q.repo)).size, tried.length, 'one request per image attempted');
  assert.ok(sent.length <= tried.length + 1, `${sent.length} attempts for ${tried.length} images`);
  const why = tried.map((u) => u.targets[0]?.error?.message ?? '');
  assert.ok(
    why.every((m) => /^cannot reach .*: no progress for 200 ms \(ETIMEDOUT\); not retried: .* has answered nothing since \d+ requests there timed out$/.test(m)),
    why.join('\n'),
  );
});

test('one request that stalls at a target answering the others keeps its retries: the image is copied', async (t) => {
  const [src, dst] = [await fake(), await fake()];
  dst.fault({ kind: 'manifest', method: 'HEAD', when: (q) => q.repo === 'mirror/team/app0' }, hold(t), { times: 1 });
  const r = await sync({ spec: seeded(src, `${dst.host}/mirror`), images: 2, retries: 2, idleTimeoutMs: IDLE_MS, ...fakeLibraryOptions(src, dst) });
  assert.equal(r.totals.copied, N);
  const heads = dst.count({ kind: 'manifest', method: 'HEAD', when: (q) => q.repo === 'mirror/team/app0' });
  assert.ok(heads >= 2, `the stalled HEAD was sent again (${heads} sent)`);
});

test('a target that hangs and then answers again is used again: the images after its silence are copied', async (t) => {
  const [src, dst] = [await fake(), await fake()];
  // The first two images' first requests are held: two requests timed out, nothing answered since.
  // The first to time out waits to retry; the third image's request may be answered before that
  // retry goes (it is then sent, and copies the first image) or not (the first image fails too).
  dst.fault({ when: (q) => q.repo !== undefined }, hold(t), { times: 2 });
  const err = await sync({ spec: seeded(src, `${dst.host}/mirror`), images: 2, retries: 2, idleTimeoutMs: IDLE_MS, ...fakeLibraryOptions(src, dst) }).then(
    () => undefined,
    (e: RegpushError) => e,
  );
  assert.equal(err?.code, 'E_PARTIAL', String(err));
  const r = (err!.details as { result: SyncResult }).result;
  const failed = r.units.filter((u) => !u.ok);
  assert.ok(failed.length === 1 || failed.length === 2, `${failed.length} failed`);
  assert.ok(failed.every((u) => /not retried: .* has answered nothing since/.test(u.targets[0]?.error?.message ?? '')));
  assert.deepEqual(failed.map((u) => u.targets[0]?.error?.code), failed.map(() => 'E_NETWORK'), 'a target that answers nothing is a connection failure');
  assert.ok(r.units.slice(2).every((u) => u.ok), 'every image after the two held ones copied');
  assert.equal(r.totals.copied, N - failed.length);
  assert.ok(!r.units.some((u) => u.error?.message.startsWith('not attempted')));
});

test('uploads that stall at a target gone silent are not started again as whole blobs: one session and one PUT per blob', async (t) => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('base/app', { tags: ['1'], layers: ['a'.repeat(1000), 'b'.repeat(1000), 'c'.repeat(1000)] });
  // Every upload's bytes are held (the PUTs carry streams: no request retry, a restart would open a new session).
  dst.fault({ kind: 'upload', method: ['PUT', 'PATCH', 'DELETE'] }, hold(t));
  const err = await copy({ from: src.ref('base/app:1'), to: [dst.ref('app:1')], idleTimeoutMs: IDLE_MS, retries: 2, ...fakeLibraryOptions(src, dst) }).then(
    () => undefined,
    (e: RegpushError) => e,
  );
  assert.equal(err?.code, 'E_NETWORK', String(err));
  // Three layers and the config. Before, each stalled PUT started its blob again (--retries 2): 25 POSTs and PUTs.
  assert.equal(dst.count({ kind: 'upload', method: 'POST' }), 4);
  assert.equal(dst.count({ kind: 'upload', method: 'PUT' }), 4);
});
