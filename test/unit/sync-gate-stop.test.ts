// After a registry stops taking pulls in a sync — the pull-limit gate gave up there (--max-wait), or
// a 429 said its pull limit is used up — the images not yet started from it still get their
// HEAD-only check (HEADs cost no pull: test/fixtures/fake-registry.ts's rateLimit counts manifest
// GETs only): those their targets hold are up to date, and only those that would need a manifest
// GET fail, with the stop's error and no GET sent. A registry that is down gets no HEADs either.
// One image at a time and no retries, so which image meets what is exact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSyncFile, sync, type RegpushError, type SyncResult } from '../../src/index.js';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';

const fake = fakeRegistryPool();

type SyncOpts = Parameters<typeof sync>[0];

/** `team/app0` … `team/app{n-1}` at `src`, each `:1`, synced to `dst`/mirror; the file and the sources in order. */
function seeded(src: FakeRegistry, dst: FakeRegistry, n: number) {
  const sources = Array.from({ length: n }, (_, i) => `${src.ref(`team/app${i}`)}:1`);
  for (let i = 0; i < n; i++) src.seedImage(`team/app${i}`, { tags: ['1'] });
  const spec = parseSyncFile(['defaults:', `  targets: [${dst.host}/mirror]`, 'images:', ...sources.map((s) => `  - source: ${s}`), ''].join('\n'), 'sync.yaml');
  return { spec, sources };
}

async function failing(opts: SyncOpts): Promise<RegpushError & { details: { result: SyncResult } }> {
  const err = await sync(opts).then(
    () => undefined,
    (e: RegpushError) => e,
  );
  assert.ok(err, 'the sync failed');
  assert.ok(err.details.result, `a report comes with ${err.code}: ${err.message}`);
  return err as RegpushError & { details: { result: SyncResult } };
}

/** The images (`team/appN`, at the source or under the target's `mirror/`) that `reg` got a manifest request of `method` for since its log was cleared. */
const asked = (reg: FakeRegistry, method: string) => new Set(reg.requests({ kind: 'manifest', method, when: (q) => /^(mirror\/)?team\//.test(q.repo ?? '') }).map((q) => q.repo!.replace(/^mirror\//, '')));

/** Each unit's outcome: 'up to date', or its error code. */
const outcomes = (r: SyncResult) => Object.fromEntries(r.units.map((u) => [u.source.split('/').at(-1)!, u.ok ? u.targets.map((t) => t.action).join() : u.error?.code]));

const quiet = { debug() {}, info() {}, warn() {} };

/**
 * `n` images synced once to a target, then the images at `changed` given a new digest and the
 * source's count set to `remaining`, the logs cleared; with what the next sync must report of each
 * (the changed ones fail E_TOO_MANY_REQUESTS, the others are up to date).
 */
async function resynced(n: number, changed: number[], remaining: number) {
  const src = await fake({ rateLimit: { limit: 100, remaining: 100 } });
  const dst = await fake();
  const { spec, sources } = seeded(src, dst, n);
  const opts = { spec, images: 1, retries: 0, ...fakeLibraryOptions(src, dst), logger: quiet } as SyncOpts;
  await sync(opts);
  for (const i of changed) src.seedImage(`team/app${i}`, { tags: ['1'] });
  (src as unknown as { rateLimitRemaining: number }).rateLimitRemaining = remaining;
  src.clearLog();
  dst.clearLog();
  const want = Object.fromEntries(sources.map((s, i) => [s.split('/').at(-1)!, changed.includes(i) ? 'E_TOO_MANY_REQUESTS' : 'skipped']));
  return { src, dst, sources, opts, want };
}

test('the gate gave up (--max-wait) at the first changed image: the later unchanged images are still checked with HEADs and are up to date; the changed ones fail with the stop\'s error, no GET sent', async () => {
  // The count is below the reserve; image 0 changed, then nine more in a row (more than the
  // outage threshold of 8: the gate's own refusals are not an outage), and 1, 11–13 did not.
  const N = 14;
  const changed = [0, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const { src, dst, opts, want } = await resynced(N, changed, 2);
  const err = await failing({ ...opts, minRateLimit: 5 });
  assert.equal(err.code, 'E_TOO_MANY_REQUESTS', err.message);
  assert.match(err.message, /ratelimit-remaining stayed below minRateLimit \(5\) \(last 2\); stopped before .*\/team\/app0:1/);
  const r = err.details.result;
  assert.deepEqual(outcomes(r), want);
  for (const u of r.units.filter((x) => !x.ok)) {
    assert.equal(u.error?.code, 'E_TOO_MANY_REQUESTS', `${u.source} fails with the stop's code`);
    assert.equal(u.error?.message, err.message, `${u.source} fails with the stop's error`);
    assert.deepEqual(u.targets.map((t) => t.error?.code), ['E_TOO_MANY_REQUESTS'], `${u.source}: its target's line has the stop's code`);
    assert.deepEqual(u.targets.map((t) => t.action), ['failed'], 'one line each');
  }
  assert.equal(r.totals.skipped, N - changed.length);
  assert.equal(src.count({ kind: 'manifest', method: 'GET' }), 0, 'no manifest GET at the stopped registry');
  assert.equal(src.rateLimitRemaining, 2, 'the reserve never crossed');
  assert.equal(asked(src, 'HEAD').size, N, 'every image had its source HEAD');
  assert.equal(asked(dst, 'HEAD').size, N, 'and its target HEAD');
  assert.equal(dst.requests().filter((q) => q.method !== 'GET' && q.method !== 'HEAD').length, 0, 'nothing written');
});

test('a pull limit used up (429, ratelimit-remaining 0): the later images the targets hold are up to date after HEADs; a later changed one fails without its GET; the sync exits E_TOO_MANY_REQUESTS', async () => {
  const { src, sources, opts, want } = await resynced(6, [0, 3], 0);
  const err = await failing(opts);
  assert.equal(err.code, 'E_TOO_MANY_REQUESTS', err.message);
  assert.match(err.message, /: the pull limit is used up \(ratelimit-remaining 0 of 100 per 6 h\): 2 images that needed pulls there were not copied/);
  const r = err.details.result;
  assert.deepEqual(outcomes(r), want);
  const app3 = r.units.find((u) => u.source.endsWith('/team/app3:1'))!;
  assert.equal(app3.error!.code, 'E_TOO_MANY_REQUESTS');
  assert.match(app3.error!.message, /^not copied: it needs a pull at .*, whose pull limit is used up \(ratelimit-remaining 0 of 100 per 6 h\); a re-run once the limit has come back copies what is missing$/);
  assert.deepEqual(
    src.requests({ kind: 'manifest', method: 'GET' }).map((q) => [q.repo, q.status]),
    [['team/app0', 429]],
    'one GET, the refused one; none after it',
  );
  // Every image asked with a HEAD, app0 too: no count had been seen yet in this run, but the
  // registry had not answered a manifest request either (sync's headUntilKnown), so its HEAD
  // brought the count before its GET.
  assert.deepEqual([...asked(src, 'HEAD')].sort(), sources.map((s) => s.slice(src.host.length + 1, -2)).sort(), 'every image had its source HEAD');
});

test('a source whose limit is used up and that then goes down: after 8 images in a row failed at their HEADs, the rest are not attempted (no HEAD either)', async () => {
  const src = await fake({ rateLimit: { limit: 100, remaining: 0 } });
  const dst = await fake();
  const N = 12;
  const { spec } = seeded(src, dst, N);
  // app0 is HEADed and its GET refused for the limit; every other manifest request answers 503.
  src.fault({ kind: 'manifest', when: (q) => q.repo !== 'team/app0' }, { kind: 'status', status: 503, code: 'UNAVAILABLE', retryAfter: 0 });
  const err = await failing({ spec, images: 1, retries: 0, ...fakeLibraryOptions(src, dst), logger: quiet } as SyncOpts);
  assert.equal(err.code, 'E_TOO_MANY_REQUESTS', err.message);
  const r = err.details.result;
  assert.equal(r.units.length, N);
  const eight = Array.from({ length: 8 }, (_, i) => `team/app${i + 1}`);
  assert.deepEqual([...asked(src, 'GET')], ['team/app0'], 'one GET, refused for the limit');
  assert.deepEqual([...asked(src, 'HEAD')].sort(), ['team/app0', ...eight].sort(), 'app0 HEADed before its refused GET, then eight images HEADed; the three after them nothing');
  const notAttempted = r.units.filter((u) => u.error?.message.startsWith(`not attempted: the last 8 images at ${src.host} failed`));
  assert.equal(notAttempted.length, 3);
  for (const u of notAttempted) assert.equal(u.error!.code, 'E_REGISTRY');
});
