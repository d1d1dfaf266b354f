// A 429 saying the pull limit is used up met by a sync under the pull-limit gate: the count the
// gate let the GET go by had room (another user of the same address spent it, or the window was
// about to roll over). With --max-wait the gate holds the registry's images as a count of 0 would,
// polls, and lets them go — the image that met the 429 too, its GET sent again — once a polled
// count leaves room; without it the refusal stops that registry's pulls for the run. Fake
// registries with a Docker Hub style pull limit (test/fixtures/fake-registry.ts, rateLimit); the
// count is scripted by the requests it sees, never by timings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSyncFile, sync, type RegpushError, type SyncResult } from '../../src/index.js';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';
import { usedUp, withNotes } from '../fixtures/pull-limit-sync.js';

const fake = fakeRegistryPool();

type SyncOpts = Parameters<typeof sync>[0];

/** `team/app0` … `team/app{n-1}` at `src`, each `:1`, to be synced under `dst`/mirror. */
function seeded(src: FakeRegistry, dst: FakeRegistry, n: number): SyncOpts['spec'] {
  const sources = Array.from({ length: n }, (_, i) => `${src.ref(`team/app${i}`)}:1`);
  for (let i = 0; i < n; i++) src.seedImage(`team/app${i}`, { tags: ['1'] });
  return parseSyncFile(['defaults:', `  targets: [${dst.host}/mirror]`, 'images:', ...sources.map((s) => `  - source: ${s}`), ''].join('\n'), 'sync.yaml');
}

/** Sets the pulls `reg` has left. */
const setCount = (reg: FakeRegistry, n: number) => void ((reg as unknown as { rateLimitRemaining: number }).rateLimitRemaining = n);

/**
 * Gives `reg` its pulls back (50) at the `n`th HEAD of `refused()` (the repository whose GET met
 * the 429, once it has): those HEADs are the gate's, asking the count again. The count is set
 * before that HEAD is answered, so that HEAD brings it.
 */
function comesBackAfterPolls(reg: FakeRegistry, n: number, refused: () => string | undefined): { polls: number } {
  const seen = { polls: 0 };
  reg.fault(
    {
      kind: 'manifest',
      method: 'HEAD',
      when: (q) => {
        if (q.repo === refused() && ++seen.polls === n) setCount(reg, 50);
        return false; // counts, and never applies
      },
    },
    { kind: 'delay', ms: 0 },
  );
  return seen;
}

/** Drops `reg`'s count to 0 just before the first manifest GET it gets is handled (another user spent it); returns which repository that GET read, once sent. */
function drainedAtFirstGet(reg: FakeRegistry): () => string | undefined {
  let repo: string | undefined;
  reg.fault(
    {
      kind: 'manifest',
      method: 'GET',
      when: (q) => {
        if (repo === undefined) {
          repo = q.repo;
          setCount(reg, 0);
        }
        return false;
      },
    },
    { kind: 'delay', ms: 0 },
  );
  return () => repo;
}

/** The statuses of the source's manifest GETs of `repo`, in order. */
const gets = (reg: FakeRegistry, repo: string) => reg.requests({ kind: 'manifest', method: 'GET', repo }).map((q) => q.status);

function logger() {
  const lines: string[] = [];
  return { lines, logger: { debug() {}, info: (m: string) => void lines.push(m), warn: (m: string) => void lines.push(m) } };
}

test('--min-ratelimit --max-wait: a 429 saying the limit is used up holds the registry\'s images as a count of 0 would; once a poll brings the count back, every image is copied, the one that met the 429 too', { timeout: 20_000 }, async () => {
  const src = await fake({ rateLimit: { limit: 100, remaining: 50 } });
  const dst = await fake();
  const spec = seeded(src, dst, 4);
  // The first image's GET goes by a count of 50; another user spends the rest before it lands.
  const refused = drainedAtFirstGet(src);
  const seen = comesBackAfterPolls(src, 3, refused);
  const log = logger();
  const r = await sync({ spec, images: 2, retries: 0, minRateLimit: 5, maxWaitMs: 5_000, rateLimitPollMs: 10, ...fakeLibraryOptions(src, dst), logger: log.logger } as SyncOpts);
  assert.equal(r.totals.copied, 4, JSON.stringify(r.units.map((u) => [u.source, u.error?.message])));
  assert.deepEqual(gets(src, refused()!), [429, 200], 'the image that met the 429 sent its GET again once the count was back');
  assert.equal(src.count({ kind: 'manifest', method: 'GET', status: 429 }), 1, 'no other GET was sent while the count was 0');
  assert.ok(seen.polls >= 3, `the gate asked the count again (${seen.polls} HEADs)`);
  assert.ok(
    log.lines.some((l) => /ratelimit-remaining is 0 \(a manifest GET was refused: the pull limit is used up, ratelimit-remaining 0 of 100 per 6 h\), below minRateLimit \(5\); holding the manifest reads of the images under way/.test(l)),
    log.lines.join(' | '),
  );
  assert.ok(log.lines.some((l) => /ratelimit-remaining is 50 again; going on/.test(l)), log.lines.join(' | '));
});

test('--max-wait: a 429 that carries no count (Docker Hub documents it by its body alone) after a HEAD said 0: waited out the same', { timeout: 20_000 }, async () => {
  const src = await fake({ rateLimit: { limit: 100, remaining: 50, bareRefusal: true } });
  const dst = await fake();
  const spec = seeded(src, dst, 2);
  // app0's GET goes by a count of 50 and is held at the registry; meanwhile the count drops to 0
  // and app1's source HEAD brings that 0; then app0's GET is answered: a 429 with no count, which
  // the 0 just sent stands for (a used-up limit, not a passing throttle).
  const get0 = src.seen({ kind: 'manifest', method: 'GET', repo: 'team/app0' });
  src.fault({ kind: 'manifest', method: 'HEAD', repo: 'team/app1' }, { kind: 'hold', until: get0.then(() => setCount(src, 0)) }, { times: 1 });
  src.fault({ kind: 'manifest', method: 'GET', repo: 'team/app0' }, { kind: 'hold', until: src.seen({ kind: 'manifest', method: 'HEAD', repo: 'team/app1', status: 200 }) }, { times: 1 });
  let refused: string | undefined;
  void src.seen({ kind: 'manifest', method: 'GET', repo: 'team/app0', status: 429 }).then(() => (refused = 'team/app0'));
  comesBackAfterPolls(src, 2, () => refused);
  const r = await sync({ spec, images: 2, retries: 0, minRateLimit: 5, maxWaitMs: 5_000, rateLimitPollMs: 10, ...fakeLibraryOptions(src, dst), logger: logger().logger } as SyncOpts);
  assert.equal(r.totals.copied, 2, JSON.stringify(r.units.map((u) => [u.source, u.error?.message])));
  assert.deepEqual(gets(src, 'team/app0'), [429, 200]);
  assert.deepEqual(gets(src, 'team/app1'), [200], 'app1 waited at the gate: no GET of it was refused');
});

test('--max-wait: a registry whose HEADs say there are pulls while its GETs are refused as used up is asked again only until --max-wait has passed since the first 429, then the sync ends E_TOO_MANY_REQUESTS naming the refusal', { timeout: 20_000 }, async () => {
  const src = await fake({ rateLimit: { limit: 100, remaining: 50 } });
  const dst = await fake();
  const spec = seeded(src, dst, 1);
  src.fault({ kind: 'manifest', method: 'GET' }, { kind: 'status', status: 429, code: 'TOOMANYREQUESTS', headers: { 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '0;w=21600' } });
  const err: RegpushError & { details: { result?: SyncResult } } = await sync({ spec, images: 1, retries: 0, minRateLimit: 5, maxWaitMs: 200, rateLimitPollMs: 10, ...fakeLibraryOptions(src, dst), logger: logger().logger } as SyncOpts).then(
    () => assert.fail('the sync succeeded'),
    (e: RegpushError & { details: { result?: SyncResult } }) => e,
  );
  assert.equal(err.code, 'E_TOO_MANY_REQUESTS', err.message);
  assert.match(err.message, /ratelimit-remaining stayed below minRateLimit \(5\) \(last 0\) \(a manifest GET was refused: the pull limit is used up, ratelimit-remaining 0 of 100 per 6 h\) for 0 s \(maxWaitMs\); stopped .*team\/app0:1 part-way/);
  assert.equal(err.details.result?.units[0]?.error?.code, 'E_TOO_MANY_REQUESTS');
  assert.ok(gets(src, 'team/app0').length >= 2, 'a poll that said there was room let the GET go again');
});

test('--min-ratelimit without --max-wait: a 429 saying the limit is used up stops that registry\'s pulls for the run, as without the gate (the image that met it is not retried)', async () => {
  const src = await fake({ rateLimit: { limit: 100, remaining: 50 } });
  const dst = await fake();
  const spec = seeded(src, dst, 3);
  drainedAtFirstGet(src);
  const err: RegpushError & { details: { result?: SyncResult } } = await sync({ spec, images: 1, retries: 0, minRateLimit: 5, ...fakeLibraryOptions(src, dst), logger: logger().logger } as SyncOpts).then(
    () => assert.fail('the sync succeeded'),
    (e: RegpushError & { details: { result?: SyncResult } }) => e,
  );
  assert.equal(err.code, 'E_TOO_MANY_REQUESTS', err.message);
  assert.equal(err.details.result?.totals.copied, 0);
  assert.deepEqual(gets(src, 'team/app0'), [429], 'not retried');
  assert.equal(src.count({ kind: 'manifest', method: 'GET' }), 1, 'no GET after it');
});

test('--max-wait, Docker Hub to Docker Hub: a 429 saying the limit is used up met by a TARGET read (the referrers fallback tag, a counted pull) fails that image at that target; it does not stop the source\'s pulls, and the later images are copied', { timeout: 20_000 }, async () => {
  const hub = await fake({ rateLimit: { limit: 100, remaining: 50 }, referrers: false });
  const spec = withNotes(hub, hub, 4);
  hub.fault({ kind: 'manifest', method: 'GET', path: /^\/v2\/mirror\/team\/app0\/manifests\/sha256-/ }, usedUp, { times: 1 });
  const err: RegpushError & { details: { result?: SyncResult } } = await sync({ spec, images: 1, retries: 0, minRateLimit: 5, maxWaitMs: 5_000, rateLimitPollMs: 10, ...fakeLibraryOptions(hub), logger: logger().logger } as SyncOpts).then(
    () => assert.fail('the sync succeeded'),
    (e: RegpushError & { details: { result?: SyncResult } }) => e,
  );
  assert.equal(err.code, 'E_PARTIAL', err.message);
  const r = err.details.result!;
  assert.equal(r.totals.copied, 3, r.units.map((u) => `${u.source}: ${u.ok ? 'ok' : (u.error?.message ?? u.targets.map((t) => t.error?.message).join('; '))}`).join('\n'));
  const app0 = r.units.find((u) => u.source.endsWith('/team/app0:1'))!;
  assert.equal(app0.targets[0]?.action, 'failed');
  assert.equal(app0.targets[0]!.error!.code, 'E_TOO_MANY_REQUESTS', app0.targets[0]!.error!.message);
  assert.match(app0.targets[0]!.error!.message, /pull limit is used up/);
});

test('--max-wait, Docker Hub to Docker Hub: a write at the target answered 429 with the count at 0 fails that image there only; the source\'s later images are copied', { timeout: 20_000 }, async () => {
  const hub = await fake({ rateLimit: { limit: 100, remaining: 50 } });
  for (let i = 0; i < 4; i++) hub.seedImage(`team/app${i}`, { tags: ['1'] });
  const spec = parseSyncFile(['defaults:', `  targets: [${hub.host}/mirror]`, 'images:', ...Array.from({ length: 4 }, (_, i) => `  - source: ${hub.ref(`team/app${i}`)}:1`), ''].join('\n'), 'sync.yaml');
  hub.fault({ kind: 'upload', path: /^\/v2\/mirror\/team\/app0\// }, usedUp, { times: 1 });
  const err: RegpushError & { details: { result?: SyncResult } } = await sync({ spec, images: 1, retries: 0, minRateLimit: 5, maxWaitMs: 5_000, rateLimitPollMs: 10, ...fakeLibraryOptions(hub), logger: logger().logger } as SyncOpts).then(
    () => assert.fail('the sync succeeded'),
    (e: RegpushError & { details: { result?: SyncResult } }) => e,
  );
  assert.equal(err.code, 'E_PARTIAL', err.message);
  assert.equal(err.details.result!.totals.copied, 3);
  assert.ok(!err.details.result!.units.find((u) => u.source.endsWith('/team/app0:1'))!.ok);
});
