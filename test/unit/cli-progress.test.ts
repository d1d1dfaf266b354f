// The progress display's model and layout (pure: a fake clock, no terminal).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatBytes, formatDuration, formatRate, ProgressModel, shortDigest } from '../../src/cli/progress-model.js';
import { APP_LAYER } from '../../src/push/layer-label.js';
import type { BlobReport } from '../../src/transfer/types.js';
import type { CliIO } from '../../src/cli/io.js';
import { createProgress, plainProgress } from '../../src/cli/progress.js';
import { PassThrough } from 'node:stream';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkInputs } from '../../src/push/inputs.js';
import { optionPaths } from '../../src/option-names.js';

/** The key push reports the app layer's bytes under. */
const LAYER_KEY = APP_LAYER.key;
const D1 = `sha256:${'a'.repeat(64)}`;
const D2 = `sha256:${'b'.repeat(64)}`;
const D3 = `sha256:${'c'.repeat(64)}`;
const report = (digest: string, action: BlobReport['action'], size: number, bytes = 0): BlobReport => ({ digest, size, mediaType: 'x', action, bytes, retries: 0, resumes: 0 });

function clock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('formatting', () => {
  it('bytes, rates, durations, digests', () => {
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(5 * 1024 * 1024), '5.0 MiB');
    assert.equal(formatRate(0, 100), '-');
    assert.equal(formatRate(1024 * 1024, 500), '2.0 MiB/s');
    assert.equal(formatDuration(1234), '1.2s');
    assert.equal(formatDuration(65_000), '1m05s');
    assert.equal(shortDigest(D1), 'aaaaaaaaaaaa');
    assert.equal(shortDigest(LAYER_KEY), 'app layer');
  });

  it('a layer being built is shown by the name the report gives it, a Windows variant of --platform all included (was "layer windows")', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'regpush-progress-'));
    try {
      writeFileSync(join(dir, 'a.txt'), 'a');
      // --platform all plans each unqualified layer twice, once per OS family: every key the push
      // gives the progress display reads as that layer's name.
      const inputs = await checkInputs({ from: 'scratch', to: '127.0.0.1:1/app:1', platform: 'all', app: [{ src: dir, dest: '/app' }], layers: [{ sources: [{ src: dir, dest: '/deps' }] }, { sources: [{ src: dir, dest: '/x' }] }] }, optionPaths('push()'), { ignoreWarned: false });
      const shown = inputs.layers.map((l) => [l.label.name, shortDigest(l.label.key)]);
      assert.deepEqual(shown.map(([, s]) => s), ['layer 1', 'layer 1 (Windows)', 'layer 2', 'layer 2 (Windows)', 'app layer', 'app layer (Windows)']);
      for (const [name, s] of shown) assert.equal(s, name);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ProgressModel', () => {
  it('one line per blob with action, bytes of total and rate, then a total line', () => {
    const c = clock();
    const m = new ProgressModel(c.now);
    m.phase('resolve');
    m.start(D1, 'streamed', 2048);
    m.start(D2, 'mounted', 4096);
    m.start(D3, 'skipped', 100);
    m.end(report(D3, 'skipped', 100));
    c.advance(1000);
    m.bytes(D1, 1024);
    const lines = m.render(120, 24);
    assert.equal(lines.length, 4);
    assert.match(lines[0]!, /^stream  aaaaaaaaaaaa  \[=======>\s*\]\s+1\.0 KiB \/ 2\.0 KiB\s+1\.0 KiB\/s$/);
    assert.match(lines[1]!, /^mount   bbbbbbbbbbbb  mounting \(no bytes sent\)  4\.0 KiB$/);
    assert.match(lines[2]!, /^skip    cccccccccccc  already at the target  100 B  done$/);
    assert.match(lines[3]!, /^total   1\/3 blobs  1\.0 KiB \/ 2\.0 KiB  1\.0 KiB\/s  1\.0s  checking the target$/);
    m.bytes(D1, 1024);
    m.end(report(D1, 'streamed', 2048, 2048));
    m.bytes(D1, 1024); // late bytes after the end are ignored
    m.end(report(D2, 'mounted', 4096));
    m.finish(true);
    const final = m.render(120, 24);
    assert.match(final[0]!, /\[===============\]\s+2\.0 KiB \/ 2\.0 KiB .* done$/);
    assert.match(final.at(-1)!, /^total   3\/3 blobs .* done$/);
  });

  it('a mount that falls back to streaming ends as a stream; several targets share a line', () => {
    const m = new ProgressModel(clock().now);
    m.start(D1, 'mounted', 10);
    m.bytes(D1, 10);
    m.end(report(D1, 'streamed', 10, 10));
    assert.equal(m.entries.length, 1);
    assert.equal(m.entries[0]!.action, 'stream');
    // Copy to two targets: one start (the shared stream), two ends.
    m.start(D2, 'streamed', 5);
    m.end(report(D2, 'streamed', 5, 5));
    m.end(report(D2, 'streamed', 5, 5));
    assert.equal(m.entries.filter((e) => e.digest === D2).length, 1);
    // Two mounts of the same blob (two targets on one registry): done after both.
    m.start(D3, 'mounted', 1);
    m.start(D3, 'mounted', 1);
    m.end(report(D3, 'mounted', 1));
    assert.equal(m.entries.find((e) => e.digest === D3)!.ended, undefined);
    m.end(report(D3, 'mounted', 1));
    assert.notEqual(m.entries.find((e) => e.digest === D3)!.ended, undefined);
  });

  it('a mount that falls back to streaming (a 202, or a refusal) shows as a stream as soon as its bytes flow, not as "mounting (no bytes sent)"', () => {
    const c = clock();
    const m = new ProgressModel(c.now);
    m.start(D1, 'mounted', 2048);
    assert.match(m.render(120)[0]!, /^mount   aaaaaaaaaaaa  mounting \(no bytes sent\)/);
    c.advance(1000);
    m.bytes(D1, 1024);
    assert.match(m.render(120)[0]!, /^stream  aaaaaaaaaaaa  \[=======>\s*\]\s+1\.0 KiB \/ 2\.0 KiB\s+1\.0 KiB\/s$/);
    m.end(report(D1, 'streamed', 2048, 2048));
    assert.deepEqual(m.entries.map((e) => [e.action, e.ended !== undefined]), [['stream', true]]);
    // Beside a real mount of the same blob at another target, the bytes go to the stream's line.
    m.start(D2, 'mounted', 10);
    m.start(D2, 'streamed', 10);
    m.bytes(D2, 10);
    assert.deepEqual(m.entries.filter((e) => e.digest === D2).map((e) => [e.action, e.bytes]), [['mount', 0], ['stream', 10]]);
  });

  it('the app layer appears with its first bytes as "build" and closes after the transfer phase', () => {
    const c = clock();
    const m = new ProgressModel(c.now);
    m.bytes(LAYER_KEY, 3000);
    c.advance(500);
    assert.match(m.render(120)[0]!, /^build   app layer     \[\s*<=>\s*\]\s+2\.9 KiB/);
    m.phase('transfer');
    assert.match(m.render(120)[0]!, /2\.9 KiB \/ 2\.9 KiB .* done$/);
    assert.match(m.totalLine(), /writing config$/);
  });

  it('the app layer sent to two targets: its line gives the size its end at a target says, its bytes counted once', () => {
    const m = new ProgressModel(clock().now);
    m.bytes(LAYER_KEY, 2048);
    m.bytes(LAYER_KEY, 1024);
    m.end(report(LAYER_KEY, 'uploaded', 3072, 3072)); // at the first target
    m.bytes(LAYER_KEY, 3072); // made again for the second
    m.end(report(LAYER_KEY, 'uploaded', 3072, 3072));
    assert.equal(m.entries[0]!.ended, undefined, 'open until the transfer phase ends');
    m.phase('transfer');
    assert.match(m.render(120)[0]!, /^build   app layer     \[=+\]\s+3\.0 KiB \/ 3\.0 KiB .* done$/);
    assert.equal(m.totals().bytes, 3072);
    // A layer end without its bytes (present at the target, mounted there) makes no line.
    m.end(report('layer:2', 'skipped', 10));
    assert.deepEqual(m.entries.map((e) => e.digest), [LAYER_KEY]);
  });

  it('a layer\'s events as push sends them (start at each target, bytes, end): one "build" line from its start, its bytes counted for its first target only, also where that end comes after the next start', () => {
    const m = new ProgressModel(clock().now);
    m.start(LAYER_KEY, 'uploaded', undefined); // built while it goes: no size yet
    assert.deepEqual(m.entries.map((e) => [e.digest, e.action, e.size, e.bytes]), [[LAYER_KEY, 'build', undefined, 0]]);
    m.bytes(LAYER_KEY, 3072);
    m.start(LAYER_KEY, 'uploaded', 3072); // the next target (the first one's end waits for the manifest family)
    m.bytes(LAYER_KEY, 3072);
    m.end(report(LAYER_KEY, 'uploaded', 3072, 3072));
    m.end(report(LAYER_KEY, 'uploaded', 3072, 3072));
    m.phase('transfer');
    assert.match(m.render(120)[0]!, /^build   app layer     \[=+\]\s+3\.0 KiB \/ 3\.0 KiB .* done$/);
    assert.equal(m.totals().bytes, 3072);
    // A layer only skipped or mounted at a target makes no line: nothing is built.
    m.start('layer:2', 'skipped', 10);
    m.end(report('layer:2', 'skipped', 10));
    m.start('layer:3', 'mounted', 10);
    m.end(report('layer:3', 'mounted', 10));
    assert.deepEqual(m.entries.map((e) => e.digest), [LAYER_KEY]);
    // A target that already had it, then one it is made again for (its size known): counted there.
    m.start('layer:4', 'skipped', 500);
    m.start('layer:4', 'uploaded', 500);
    m.bytes('layer:4', 500);
    assert.deepEqual(m.entries.at(-1) && [m.entries.at(-1)!.digest, m.entries.at(-1)!.size, m.entries.at(-1)!.bytes], ['layer:4', 500, 500]);
  });

  it('fits the terminal: narrow lines lose the bar, many blobs fold finished ones', () => {
    const m = new ProgressModel(clock().now);
    for (let i = 0; i < 30; i++) {
      const d = `sha256:${i.toString(16).padStart(64, '0')}`;
      m.start(d, 'streamed', 100);
      if (i < 25) m.end(report(d, 'streamed', 100, 100));
    }
    // A typical line fits 80 columns with its bar.
    m.start(`sha256:${'f'.repeat(64)}`, 'streamed', 1024 * 1024);
    m.bytes(`sha256:${'f'.repeat(64)}`, 512 * 1024);
    const wide = m.render(80, 50).find((l) => l.startsWith('stream  ffffffffffff'))!;
    assert.match(wide, /\[.*\].*512\.0 KiB \/ 1\.0 MiB/);
    assert.ok(wide.length <= 80, wide);
    const lines = m.render(60, 10);
    assert.equal(lines.length, 9, 'one row stays free for the cursor');
    assert.match(lines[0]!, /^\.\.\.\s+\d+ more blobs done$/);
    assert.equal(lines.filter((l) => !l.includes('done') && l.startsWith('stream')).length, 6, 'every running blob stays visible');
    for (const l of lines) assert.ok(l.length <= 60, l);
    assert.ok(!lines.slice(1, -1).some((l) => l.includes('[')), 'no bar at 60 columns');
  });
});

describe('plain progress (no terminal)', () => {
  it('the total line lists actions in a fixed order, whichever blob started first', async () => {
    const lines: string[] = [];
    const io = { stderr: { write: (s: string) => (lines.push(s), true), isTTY: false }, stdout: { write: () => true }, env: {} } as unknown as CliIO;
    const p = await createProgress(io, { verbosity: 'normal', logSink: { write: (s: string) => void lines.push(s) } }, false);
    // The app layer starts before the base blobs (it is built while they are still being planned).
    p.events.bytes!(LAYER_KEY, 10);
    for (const d of ['sha256:' + 'a'.repeat(64), 'sha256:' + 'b'.repeat(64)]) {
      p.events.start!(d, 'streamed', 100);
      p.events.end!({ digest: d, size: 100, mediaType: 'x', action: 'streamed', bytes: 100, retries: 0, resumes: 0 });
    }
    p.events.start!('sha256:' + 'c'.repeat(64), 'skipped', 5);
    p.events.end!({ digest: 'sha256:' + 'c'.repeat(64), size: 5, mediaType: 'x', action: 'skipped', bytes: 0, retries: 0, resumes: 0 });
    p.events.phase!('transfer');
    p.stop(true);
    assert.match(lines.at(-1)!, /^total {3}4 blobs \(1 skip, 2 stream, 1 build\), /);
  });
});

it('plain progress: every line once, the app layer done once however many phases pass, targets named when several', async () => {
  const out: string[] = [];
  const stderr = new PassThrough().on('data', (d) => out.push(String(d)));
  const p = plainProgress({ stderr }, true);
  const d = 'sha256:' + 'ab'.repeat(32);
  const report = { digest: d, size: 10, mediaType: 'x', action: 'streamed' as const, bytes: 10, retries: 0, resumes: 0 };
  p.events.bytes!('layer', 100);
  for (const ph of ['resolve', 'plan']) p.events.phase!(ph);
  p.events.bytes!('layer', 100);
  p.events.start!(d, 'streamed', 10); // one read feeding two targets
  p.events.bytes!(d, 10);
  p.events.end!(report, 'reg-a/app');
  p.events.end!(report, 'reg-b/app');
  p.events.end!(report, 'reg-b/app'); // a repeated event is not a repeated line
  for (const ph of ['transfer', 'config', 'confirm', 'manifest']) p.events.phase!(ph);
  p.stop(true);
  const lines = out.join('').trim().split('\n');
  assert.deepEqual(lines.slice(0, -1).map((l) => l.replace(/\(.*\)/, '(…)')), [
    'build   app layer',
    'stream  abababababab 10 B',
    'stream  abababababab done (…) → reg-a/app',
    'stream  abababababab done (…) → reg-b/app',
    'build   app layer done (…)',
  ]);
  assert.match(lines.at(-1)!, /^total   2 blobs \(1 stream, 1 build\)/);
});

it('plain progress: a layer\'s start at each target says "build" once, before its bytes; a target that has it says nothing', () => {
  const out: string[] = [];
  const stderr = new PassThrough().on('data', (d) => out.push(String(d)));
  const p = plainProgress({ stderr }, true);
  p.events.start!('layer:1', 'uploaded', undefined, 'reg-a/app');
  p.events.bytes!('layer:1', 100);
  p.events.end!(report('layer:1', 'uploaded', 100, 100), 'reg-a/app');
  p.events.start!('layer:1', 'skipped', 100, 'reg-b/app');
  p.events.end!(report('layer:1', 'skipped', 100), 'reg-b/app');
  p.events.start!('layer:1', 'uploaded', 100, 'reg-c/app');
  p.events.bytes!('layer:1', 100);
  p.events.end!(report('layer:1', 'uploaded', 100, 100), 'reg-c/app');
  p.events.phase!('transfer');
  p.stop(true);
  const lines = out.join('').trim().split('\n');
  assert.deepEqual(lines.slice(0, -1), ['build   layer 1', 'build   layer 1 done (100 B)']);
  assert.match(lines.at(-1)!, /^total   1 blobs \(1 build\), 100 B sent/);
});

it('plain progress: a dependency layer built for its digest that every target had says "build" and its size, and counts nothing as sent', () => {
  const out: string[] = [];
  const stderr = new PassThrough().on('data', (d) => out.push(String(d)));
  const p = plainProgress({ stderr }, true);
  p.events.start!('layer:1', 'uploaded', undefined);
  p.events.bytes!('layer:1', 100);
  for (const t of ['reg-a/app', 'reg-b/app']) {
    p.events.start!('layer:1', 'skipped', 100, t);
    p.events.end!(report('layer:1', 'skipped', 100), t);
  }
  p.events.phase!('transfer');
  p.stop(true);
  const lines = out.join('').trim().split('\n');
  assert.deepEqual(lines.slice(0, -1), ['build   layer 1', 'build   layer 1 done (100 B)']);
  assert.match(lines.at(-1)!, /^total   1 blobs \(1 build\), 0 B sent/);
});

it('plain progress: a dependency layer\'s digest pass (a start with no target, its bytes) says "build" at once, before any target answers; its starts at the targets count its bytes once', () => {
  const out: string[] = [];
  const stderr = new PassThrough().on('data', (d) => out.push(String(d)));
  const p = plainProgress({ stderr }, true);
  p.events.start!('layer:1', 'uploaded', undefined);
  assert.deepEqual(out.join('').trim().split('\n'), ['build   layer 1'], 'said before the HEAD');
  p.events.bytes!('layer:1', 100);
  p.events.start!('layer:1', 'skipped', 100, 'reg-a/app');
  p.events.end!(report('layer:1', 'skipped', 100), 'reg-a/app');
  p.events.start!('layer:1', 'uploaded', 100, 'reg-b/app');
  p.events.bytes!('layer:1', 100); // built again to be sent: the same bytes
  p.events.end!(report('layer:1', 'uploaded', 100, 100), 'reg-b/app');
  p.events.phase!('transfer');
  p.stop(true);
  const lines = out.join('').trim().split('\n');
  assert.deepEqual(lines.slice(0, -1), ['build   layer 1', 'build   layer 1 done (100 B)']);
  assert.match(lines.at(-1)!, /^total   1 blobs \(1 build\), 100 B sent/);
});

it('ProgressModel: a dependency layer sent after its digest pass shows the upload\'s bytes as they go, not the pass\'s (100% as the upload begins); the totals count its size once', () => {
  // Was: the pass's bytes stood for the upload's and the upload's were not counted, so a 2 GB
  // upload showed 2 GB of 2 GB sent from its first byte.
  const m = new ProgressModel(clock().now);
  m.start('layer:1', 'uploaded', undefined, true);
  m.bytes('layer:1', 1000);
  m.start('layer:1', 'skipped', 1000); // one target has it
  m.end(report('layer:1', 'skipped', 1000));
  m.start('layer:1', 'uploaded', 1000); // another is sent it
  assert.equal(m.totals().bytes, 0, 'nothing sent yet');
  m.bytes('layer:1', 400);
  assert.equal(m.entries[0]!.bytes, 400);
  assert.deepEqual([m.totals().bytes, m.totals().toSend], [400, 1000]);
  assert.match(m.totalLine(), /400 B \/ 1000 B/);
  m.bytes('layer:1', 600);
  m.end(report('layer:1', 'uploaded', 1000, 1000));
  m.start('layer:1', 'uploaded', 1000); // a third target: the same layer made again, counted once
  m.bytes('layer:1', 1000);
  m.end(report('layer:1', 'uploaded', 1000, 1000));
  m.phase('transfer');
  assert.deepEqual([m.totals().bytes, m.totals().toSend], [1000, 1000]);
});

it('ProgressModel: a dependency layer sent to two targets at once after its digest pass counts its size once in the totals', () => {
  const m = new ProgressModel(clock().now);
  m.start('layer:1', 'uploaded', undefined, true);
  m.bytes('layer:1', 1000);
  m.start('layer:1', 'uploaded', 1000); // target A
  m.bytes('layer:1', 300);
  m.start('layer:1', 'uploaded', 1000); // target B, while A is sent it: the same bytes again
  for (let i = 0; i < 17; i++) m.bytes('layer:1', 100);
  m.end(report('layer:1', 'uploaded', 1000, 1000));
  m.end(report('layer:1', 'uploaded', 1000, 1000));
  m.phase('transfer');
  assert.deepEqual([m.totals().bytes, m.totals().toSend], [1000, 1000]);
});

it('ProgressModel: a chunk, a start and an end look at the entries of their digest only, not at every entry of the run (copy --all-tags: thousands)', () => {
  const c = clock();
  const m = new ProgressModel(c.now);
  const N = 2000;
  const digest = (i: number) => `sha256:${String(i).padStart(64, '0')}`;
  for (let i = 0; i < N; i++) {
    m.start(digest(i), 'streamed', 1000);
    m.end(report(digest(i), 'streamed', 1000, 1000));
  }
  // Counts every read of an entry by its index in `entries` (what find/filter over it do).
  let visited = 0;
  const counted = new Proxy(m.entries, {
    get(target, key, receiver) {
      if (typeof key === 'string' && /^\d+$/.test(key)) visited++;
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
  (m as unknown as { entries: unknown }).entries = counted;
  m.start(D1, 'streamed', 1 << 20);
  m.start(D1, 'streamed', 1 << 20); // a second target shares the line
  for (let chunk = 0; chunk < 16; chunk++) m.bytes(D1, 1 << 16);
  m.end(report(D1, 'streamed', 1 << 20, 1 << 20));
  m.end(report(D1, 'streamed', 1 << 20, 1 << 20));
  m.end(report(D1, 'streamed', 1 << 20, 1 << 20)); // a third target fed by the same stream, after the line closed
  assert.equal(visited, 0, 'no pass over the entries');
  // The same state as before: one closed line for D1 with all its bytes, after the N others.
  assert.equal(m.entries.length, N + 1);
  assert.deepEqual(m.entries.slice(-1).map((e) => [e.digest, e.action, e.bytes, e.pending, e.ended !== undefined]), [[D1, 'stream', 1 << 20, 0, true]]);
});

describe('a layer\'s live line (push --to A --to B)', () => {
  const KiB3 = 3072;
  /** The open line of `key` in a frame 120 columns wide. */
  const lineOf = (m: ProgressModel, key: string) => m.render(120).find((l) => l.startsWith(`build   ${shortDigest(key)}`))!;

  it('moves through the upload at each target, from 0 of the layer\'s size, naming the target; was: stood still at the first target\'s bytes through the second\'s upload', () => {
    // The app layer's events as push sends them for two targets (engine-push.test.ts: "each new
    // layer's events at each target"): built and streamed to A, then made again for B, one after the other.
    const c = clock();
    const m = new ProgressModel(c.now, true);
    m.start(LAYER_KEY, 'uploaded', undefined, false, 'reg-a/app');
    c.advance(1000);
    m.bytes(LAYER_KEY, 1024);
    assert.match(lineOf(m, LAYER_KEY), /^build   app layer     \[\s*<=>\s*\]\s+1\.0 KiB\s+1\.0 KiB\/s  → reg-a\/app$/);
    m.bytes(LAYER_KEY, 2048);
    m.end(report(LAYER_KEY, 'uploaded', KiB3, KiB3), 'reg-a/app');
    m.start(LAYER_KEY, 'uploaded', KiB3, false, 'reg-b/app');
    assert.match(lineOf(m, LAYER_KEY), /^build   app layer     \[>\s+\]\s+0 B \/ 3\.0 KiB\s+-  → reg-b\/app$/);
    c.advance(1000);
    m.bytes(LAYER_KEY, 1536);
    assert.match(lineOf(m, LAYER_KEY), /^build   app layer     \[=======>\s+\]\s+1\.5 KiB \/ 3\.0 KiB\s+1\.5 KiB\/s  → reg-b\/app$/);
    m.bytes(LAYER_KEY, 1536);
    m.end(report(LAYER_KEY, 'uploaded', KiB3, KiB3), 'reg-b/app');
    m.phase('transfer');
    // Done: the layer's size, counted once in the totals as before.
    assert.match(lineOf(m, LAYER_KEY), /^build   app layer     \[=+\]\s+3\.0 KiB \/ 3\.0 KiB .* done$/);
    assert.deepEqual([m.totals().bytes, m.totals().toSend], [KiB3, KiB3]);
  });

  it('moves at the second target also where the first target\'s end comes after its start (the end waits for the manifest family)', () => {
    const m = new ProgressModel(clock().now, true);
    m.start('layer:1', 'uploaded', undefined, true); // the digest pass
    m.bytes('layer:1', 1000);
    m.start('layer:1', 'uploaded', 1000, false, 'reg-a/app');
    m.bytes('layer:1', 1000);
    m.start('layer:1', 'uploaded', 1000, false, 'reg-b/app');
    m.bytes('layer:1', 300);
    assert.match(lineOf(m, 'layer:1'), /\s300 B \/ 1000 B\s.*→ reg-b\/app$/);
    m.end(report('layer:1', 'uploaded', 1000, 1000), 'reg-a/app');
    m.bytes('layer:1', 300);
    assert.match(lineOf(m, 'layer:1'), /\s600 B \/ 1000 B\s.*→ reg-b\/app$/, 'A\'s late end does not touch B\'s pass');
    m.bytes('layer:1', 400);
    m.end(report('layer:1', 'uploaded', 1000, 1000), 'reg-b/app');
    m.phase('transfer');
    assert.deepEqual([m.totals().bytes, m.totals().toSend], [1000, 1000]);
  });

  it('a target where it is skipped or mounted keeps the last pass on the line; a mount that falls back is a pass at its target', () => {
    const m = new ProgressModel(clock().now, true);
    m.start('layer:1', 'uploaded', undefined, false, 'reg-a/app');
    m.bytes('layer:1', 1000);
    m.end(report('layer:1', 'uploaded', 1000, 1000), 'reg-a/app');
    m.start('layer:1', 'skipped', 1000, false, 'reg-b/app');
    m.end(report('layer:1', 'skipped', 1000), 'reg-b/app');
    m.start('layer:1', 'mounted', 1000, false, 'reg-a/other');
    m.end(report('layer:1', 'mounted', 1000), 'reg-a/other');
    assert.match(lineOf(m, 'layer:1'), /\[=+\]\s+1000 B \/ 1000 B\s.*→ reg-a\/app$/);
    m.start('layer:1', 'mounted', 1000, false, 'reg-c/app');
    m.bytes('layer:1', 250); // the registry answered the mount with an upload session
    assert.match(lineOf(m, 'layer:1'), /\s250 B \/ 1000 B\s.*→ reg-c\/app$/);
    assert.equal(m.totals().bytes, 1000, 'counted once');
  });

  it('shows how far it is where its size is known (a dependency layer\'s upload after its digest pass), not where it is not (the pass itself, a layer streamed as it is built); one target: no name', () => {
    const m = new ProgressModel(clock().now);
    m.start('layer:1', 'uploaded', undefined, true);
    m.bytes('layer:1', 500);
    assert.match(lineOf(m, 'layer:1'), /\[\s*<=>\s*\]\s+500 B\s+-$/, 'the pass finds the size');
    m.bytes('layer:1', 500);
    m.start('layer:1', 'uploaded', 1000, false, 'reg-a/app');
    m.bytes('layer:1', 400);
    assert.match(lineOf(m, 'layer:1'), /^build   layer 1       \[======>\s+\]\s+400 B \/ 1000 B\s+-$/);
    m.start(LAYER_KEY, 'uploaded', undefined, false, 'reg-a/app');
    m.bytes(LAYER_KEY, 400);
    assert.match(lineOf(m, LAYER_KEY), /^build   app layer     \[\s*<=>\s*\]\s+400 B\s+-$/);
  });

  it('narrow terminals: the target is left out before the bar is', () => {
    const m = new ProgressModel(clock().now, true);
    m.start(LAYER_KEY, 'uploaded', 1 << 20, false, 'registry.example.com/team/app');
    m.bytes(LAYER_KEY, 1 << 19);
    const at = (w: number) => m.render(w).find((l) => l.startsWith('build'))!;
    assert.match(at(120), /\[.*\].*512\.0 KiB \/ 1\.0 MiB.*→ registry\.example\.com\/team\/app$/);
    assert.match(at(80), /\[.*\].*512\.0 KiB \/ 1\.0 MiB\s+-$/);
    assert.equal(at(80).length <= 80, true);
    assert.match(at(60), /^build   app layer     512\.0 KiB \/ 1\.0 MiB  -$/);
  });
});

it('terminal progress of a push to two targets: the layer\'s line names the target it is being sent to and moves there; with one target it names none', async () => {
  const frameWith = async (targets: number): Promise<string> => {
    const written: string[] = [];
    const io = { stderr: { write: (s: string) => (written.push(s), true), isTTY: true, columns: 120, rows: 24 }, stdout: { write: () => true }, env: {} } as unknown as CliIO;
    const sink = { write: (_s: string) => {} };
    const p = await createProgress(io, { verbosity: 'normal', logSink: sink }, false, targets);
    p.events.start!(LAYER_KEY, 'uploaded', undefined, 'reg-a/app');
    p.events.bytes!(LAYER_KEY, 3072);
    p.events.end!(report(LAYER_KEY, 'uploaded', 3072, 3072), 'reg-a/app');
    p.events.start!(LAYER_KEY, 'uploaded', 3072, 'reg-b/app');
    p.events.bytes!(LAYER_KEY, 1536);
    written.length = 0;
    sink.write('a note\n'); // a log line redraws the frame below it at once
    p.stop(false);
    return written.join('');
  };
  assert.match(await frameWith(2), /build   app layer     \[=======>\s+\]\s+1\.5 KiB \/ 3\.0 KiB\s+[\d.]+ \S+\/s  → reg-b\/app/);
  const one = await frameWith(1);
  assert.match(one, /1\.5 KiB \/ 3\.0 KiB/);
  assert.doesNotMatch(one, /→/);
});
