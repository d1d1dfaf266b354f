// sync's pull-limit gate (--min-ratelimit) at a registry whose first manifest answers carry no
// rate-limit headers and whose later ones do: the images started in between are grouped by the
// registry (no reader was asked: it had shown no count), the later ones by their reader. Each group
// must weigh the other's pulls under way, or the two together spend into the reserve. The requests
// are ordered with hold faults and the sync's own events, never with timings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSyncFile, sync, type SyncResult } from '../../src/index.js';
import { fakeLibraryOptions, fakeRegistryPool } from '../fixtures/fake-registry.js';

const fake = fakeRegistryPool();

type SyncOpts = Parameters<typeof sync>[0];

test('a registry that sends its count only after its first answers: the images grouped by the registry before and those grouped by reader after are weighed together, so the reserve is kept', { timeout: 20_000 }, async () => {
  // The headers come from the moment `multi` starts: `old1` and `old2` (up to date: HEADs only)
  // have answered without them, so `multi` is grouped by the registry; its index's answer brings
  // the count (9 of 10 left), and `single`, started after, is grouped by its reader.
  let countsFrom!: () => void;
  const src = await fake({ rateLimit: { limit: 100, remaining: 10, headersFrom: new Promise<void>((r) => (countsFrom = r)) } });
  const dst = await fake();
  for (const n of ['old1', 'old2', 'late']) {
    src.seedImage(n, { tags: ['1'], layers: [n] });
    dst.seedImage(`mirror/${n}`, { tags: ['1'], layers: [n] });
  }
  const kids = ['amd64', 'arm64', 's390x', 'ppc64le'].map((architecture) => src.seedImage('multi', { platform: { os: 'linux', architecture } }));
  src.seedIndex('multi', kids, { tags: ['1'] });
  src.seedImage('single', { tags: ['1'] });
  // `multi`'s four platform GETs, let through on the count its index brought (9 left, 5 kept), stay
  // unanswered until `single` has either sent its GET (which the count, less those four, has no
  // room for) or been held by the gate (its --images slot lent: `late` starts).
  let lateStarted!: () => void;
  const singleDecided = Promise.race([src.seen({ kind: 'manifest', method: 'GET', repo: 'single' }), new Promise<void>((r) => (lateStarted = r))]);
  src.fault({ kind: 'manifest', method: 'GET', repo: 'multi', when: (q) => kids.some((k) => k.digest === q.digest) }, { kind: 'hold', until: singleDecided });
  // `single` starts when `old2` ends: only once `multi`'s platform GETs are on their way.
  dst.fault({ kind: 'manifest', method: 'HEAD', repo: 'mirror/old2' }, { kind: 'hold', until: src.seen({ kind: 'manifest', method: 'GET', repo: 'multi', when: (q) => kids.some((k) => k.digest === q.digest) }) });
  const spec = parseSyncFile(
    ['defaults:', `  targets: [${dst.host}/mirror]`, 'images:', ...['old1', 'old2', 'multi', 'single', 'late'].map((n) => `  - source: ${src.ref(`${n}:1`)}`), ''].join('\n'),
    'sync.yaml',
  );
  const err = await sync({
    spec,
    images: 2,
    minRateLimit: 5,
    ...fakeLibraryOptions(src, dst),
    logger: { debug() {}, info() {}, warn() {} },
    events: {
      unitStart: (source) => {
        if (source.endsWith('/multi:1')) countsFrom();
        if (source.endsWith('/late:1')) lateStarted();
      },
    },
  } as SyncOpts).then(
    () => undefined,
    (e: { code?: string; message?: string; details?: { result?: SyncResult } }) => e,
  );
  assert.equal(src.rateLimitRemaining, 5, 'the reserve is intact');
  assert.equal(err?.code, 'E_TOO_MANY_REQUESTS', String(err?.message));
  const units = err.details!.result!.units;
  assert.deepEqual(
    units.map((u) => [u.source.split('/').at(-1), u.error?.code ?? 'ok']).sort(),
    [['late:1', 'ok'], ['multi:1', 'ok'], ['old1:1', 'ok'], ['old2:1', 'ok'], ['single:1', 'E_TOO_MANY_REQUESTS']],
  );
  assert.equal(src.count({ kind: 'manifest', method: 'GET', repo: 'single' }), 0, 'no pull into the reserve');
});
