// sync's pull-limit gate (--min-ratelimit), against fake registries that keep a Docker Hub style
// pull limit (test/fixtures/fake-registry.ts, option rateLimit: a manifest GET spends one, a HEAD
// none, every manifest answer says what is left). The gate must count the units it has let start
// and not yet seen end, and let only one unit of a registry start before that registry has sent a
// count; the tests order requests with hold faults, never with timings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSyncFile, sync, type SyncResult } from '../../src/index.js';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';
import { TransportStats } from '../../src/http/stats.js';
import { silentLogger } from '../../src/log.js';
import { flagNames } from '../../src/option-names.js';
import { parseReference } from '../../src/ref/reference.js';
import { RateGate } from '../../src/sync/rate-gate.js';
import type { UnitSlot } from '../../src/sync/slots.js';
import type { TransferRun } from '../../src/transfer/engine.js';

const fake = fakeRegistryPool();

type SyncOpts = Parameters<typeof sync>[0];

/** A sync file copying `sources` (full references with a tag) under `dst`. */
function specOf(dst: FakeRegistry, sources: string[]): SyncOpts['spec'] {
  return parseSyncFile(['defaults:', `  targets: [${dst.host}/mirror]`, 'images:', ...sources.map((s) => `  - source: ${s}`), ''].join('\n'), 'sync.yaml');
}

/** `repo:1`, an index of four linux platforms (five pulls to read: the index and each image); returns its images. */
function seedFourPlatforms(reg: FakeRegistry, repo: string) {
  const kids = ['amd64', 'arm64', 's390x', 'ppc64le'].map((architecture) => reg.seedImage(repo, { platform: { os: 'linux', architecture } }));
  reg.seedIndex(repo, kids, { tags: ['1'] });
  return kids;
}

/**
 * The images whose manifest GETs reached `reg` before it had answered any manifest request (each
 * answer carries the count under rateLimit): those the gate let pull blind.
 */
function blindPullers(reg: FakeRegistry): string[] {
  const manifests = reg.requests({ kind: 'manifest' });
  const firstAnswer = Math.min(...manifests.map((r) => r.answeredAfter ?? Infinity));
  return [...new Set(reg.requests({ kind: 'manifest', method: 'GET' }).filter((r) => r.seq <= firstAnswer).map((r) => r.repo!))];
}

test('--images 4 --jobs 2: one image pulls before the count is known; the images in flight are counted, so the reserve is never spent', async () => {
  const src = await fake({ rateLimit: { limit: 100, remaining: 8 } });
  const dst = await fake();
  const names = ['svc1', 'svc2', 'svc3', 'svc4', 'svc5', 'svc6'];
  for (const n of names) src.seedImage(n, { tags: ['1'] });
  const err = await sync({
    spec: specOf(dst, names.map((n) => src.ref(`${n}:1`))),
    images: 4,
    jobs: 2,
    minRateLimit: 5,
    ...fakeLibraryOptions(src, dst),
  } as SyncOpts).then(
    () => undefined,
    (e: { code?: string; message?: string; details?: { result?: SyncResult } }) => e,
  );
  assert.ok(blindPullers(src).length <= 1, `images that pulled before the registry sent a count: ${blindPullers(src).join(', ')}`);
  assert.equal(err?.code, 'E_TOO_MANY_REQUESTS', String(err?.message));
  assert.match(err.message!, /ratelimit-remaining stayed at minRateLimit \(5\) \(last 5\)/);
  // 8 pulls left, 5 kept: three images (one manifest GET each) and no more.
  assert.equal(err.details?.result?.totals.copied, 3);
  assert.equal(src.rateLimitRemaining, 5, 'the reserve is intact');
  assert.equal(src.count({ kind: 'manifest', method: 'GET' }), 3);
});

test('the first unit learns the count from its source HEAD; the next ones start while it is still copying', { timeout: 20_000 }, async () => {
  const src = await fake({ rateLimit: { limit: 100, remaining: 50 } });
  const dst = await fake();
  const names = ['svc1', 'svc2', 'svc3'];
  for (const n of names) src.seedImage(n, { tags: ['1'] });
  // svc1's blobs are read only once another unit has started: a gate that waited for svc1 to end
  // would never let one start.
  let otherStarted!: () => void;
  src.fault({ kind: 'blob', method: 'GET', repo: 'svc1' }, { kind: 'hold', until: new Promise<void>((r) => (otherStarted = r)) });
  const order: string[] = [];
  const r = await sync({
    spec: specOf(dst, names.map((n) => src.ref(`${n}:1`))),
    images: 3,
    minRateLimit: 10,
    events: {
      unitStart: (source) => {
        order.push(source);
        if (!source.includes('/svc1:')) otherStarted();
      },
    },
    ...fakeLibraryOptions(src, dst),
  } as SyncOpts);
  assert.equal(r.totals.copied, 3);
  assert.ok(order[0]!.endsWith('/svc1:1'), `svc1 first: ${order.join(', ')}`);
  assert.equal(src.rateLimitRemaining, 47);
});

test('the gate is per registry: at each source registry one image at most pulls before its own count is known', async () => {
  const [hub, other] = [await fake({ rateLimit: { limit: 100, remaining: 50 } }), await fake({ rateLimit: { limit: 100, remaining: 50 } })];
  const dst = await fake();
  for (const reg of [hub, other]) for (const n of ['a', 'b']) reg.seedImage(n, { tags: ['1'] });
  const r = await sync({
    spec: parseSyncFile(
      ['images:', ...[hub, other].flatMap((reg) => ['a', 'b'].map((n) => `  - { source: "${reg.ref(`${n}:1`)}", targets: ["${dst.host}/${reg === hub ? 'hub' : 'other'}"] }`)), ''].join('\n'),
      'sync.yaml',
    ),
    images: 4,
    minRateLimit: 10,
    ...fakeLibraryOptions(hub, other, dst),
  } as SyncOpts);
  assert.equal(r.totals.copied, 4);
  for (const reg of [hub, other]) assert.ok(blindPullers(reg).length <= 1, `${reg.host}: ${blindPullers(reg).join(', ')}`);
});

test('a registry that sends no count: its first image to pull runs alone, then the others pull as without the gate', async () => {
  const src = await fake();
  const dst = await fake();
  const names = ['svc1', 'svc2', 'svc3'];
  for (const n of names) src.seedImage(n, { tags: ['1'] });
  // The request the source had last received when the first image to end ended.
  let firstEnd: { source: string; seq: number } | undefined;
  const r = await sync({
    spec: specOf(dst, names.map((n) => src.ref(`${n}:1`))),
    images: 3,
    minRateLimit: 10,
    events: { unitEnd: (u) => void (firstEnd ??= { source: u.source, seq: src.log.length }) },
    ...fakeLibraryOptions(src, dst),
  } as SyncOpts);
  assert.equal(r.totals.copied, 3);
  const first = firstEnd!.source.split('/').at(-1)!.split(':')[0]!;
  const othersGets = src.requests({ kind: 'manifest', method: 'GET', when: (q) => q.repo !== first });
  assert.equal(othersGets.length, 2);
  for (const q of othersGets) assert.ok(q.seq > firstEnd!.seq, `${q.repo}'s GET (#${q.seq}) came after ${first} ended (#${firstEnd!.seq})`);
});

test('multi-platform images: each counts one pull per manifest it reads (index and every platform), so --images 4 does not spend the reserve', async () => {
  const src = await fake({ rateLimit: { limit: 100, remaining: 30 } });
  const dst = await fake();
  const names = ['m1', 'm2', 'm3', 'm4', 'm5', 'm6'];
  for (const n of names) seedFourPlatforms(src, n);
  const err = await sync({ spec: specOf(dst, names.map((n) => src.ref(`${n}:1`))), images: 4, jobs: 2, minRateLimit: 5, ...fakeLibraryOptions(src, dst) } as SyncOpts).then(
    () => undefined,
    (e: { code?: string; message?: string; details?: { result?: SyncResult } }) => e,
  );
  // 30 pulls left, 5 kept: five images of five manifest GETs each, and no more.
  assert.equal(err?.code, 'E_TOO_MANY_REQUESTS', String(err?.message));
  assert.equal(src.rateLimitRemaining, 5, 'the reserve is intact');
  assert.equal(src.count({ kind: 'manifest', method: 'GET' }), 25);
  assert.equal(err.details?.result?.totals.copied, 5);
});

/** A source whose tag list says 3 pulls are left (below a reserve of 5), so the gate waits before the first image. */
async function heldBelowReserve() {
  const src = await fake({ rateLimit: { limit: 100, remaining: 3 } });
  const dst = await fake();
  src.seedImage('svc1', { tags: ['1'] });
  src.fault({ kind: 'tags' }, {
    kind: 'respond',
    respond: (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '3;w=21600' });
      res.end(JSON.stringify({ name: 'svc1', tags: ['1'] }));
    },
  });
  const spec = parseSyncFile(['images:', `  - { source: "${src.host}/svc1", tags: all, targets: ["${dst.host}/mirror"] }`, ''].join('\n'), 'sync.yaml');
  return { src, dst, spec };
}

test('a count known before any image pulled (with the tag list, then its HEAD) holds the first image\'s pull too', async () => {
  const { src, dst, spec } = await heldBelowReserve();
  const err = await sync({ spec, images: 2, minRateLimit: 5, ...fakeLibraryOptions(src, dst) } as SyncOpts).then(
    () => undefined,
    (e: { code?: string; message?: string }) => e,
  );
  assert.equal(err?.code, 'E_TOO_MANY_REQUESTS', String(err?.message));
  assert.match(err.message!, /ratelimit-remaining stayed below minRateLimit \(5\) \(last 3\)/);
  assert.equal(src.count({ kind: 'manifest', method: 'GET' }), 0, 'no pull spent below the reserve');
});

test('a count above the reserve by less than an image\'s pulls: the gate keeps waiting under one --max-wait, then stops, saying why (it never went back and forth for ever)', { timeout: 120_000 }, async () => {
  // 13 pulls left, 5 kept, 5 pulls an image (an index and four platforms): the first image leaves
  // 8, above the reserve, but the next one would take it to 3.
  const src = await fake({ rateLimit: { limit: 100, remaining: 13 } });
  const dst = await fake();
  const names = ['m1', 'm2', 'm3'];
  for (const n of names) seedFourPlatforms(src, n);
  const warnings: string[] = [];
  // Stopping at all (E_TOO_MANY_REQUESTS naming maxWaitMs) is what shows the wait ended; a gate
  // that went back and forth for ever would run into the test's own (generous) timeout.
  const err = await sync({
    spec: specOf(dst, names.map((n) => src.ref(`${n}:1`))),
    images: 2,
    minRateLimit: 5,
    maxWaitMs: 300,
    rateLimitPollMs: 20,
    ...fakeLibraryOptions(src, dst),
    logger: { debug() {}, info() {}, warn: (m: string) => void warnings.push(m) },
  } as SyncOpts).then(
    () => undefined,
    (e: { code?: string; message?: string; details?: { result?: SyncResult } }) => e,
  );
  assert.equal(err?.code, 'E_TOO_MANY_REQUESTS', String(err?.message));
  assert.match(err.message!, /ratelimit-remaining stayed within one image's 5 pulls of minRateLimit \(5\) \(last 8\) for \d+ s \(maxWaitMs\); stopped before /);
  assert.equal(err.details?.result?.totals.copied, 1);
  assert.equal(src.rateLimitRemaining, 8, 'no pull spent past the first image');
  assert.deepEqual(warnings.filter((w) => /not starting new images/.test(w)).length, 1, `one hold, one warning: ${warnings.join(' | ')}`);
  // It asked again (HEADs, which spend no pull) while it waited.
  assert.ok(src.count({ kind: 'manifest', method: 'HEAD' }) >= 2);
});

test('the gate giving up on one registry (--max-wait) stops only its images: another registry\'s are all copied, every image is in the report, and the sync then ends E_TOO_MANY_REQUESTS', { timeout: 15_000 }, async () => {
  const hub = await fake({ rateLimit: { limit: 100, remaining: 6 } });
  const other = await fake();
  const dst = await fake();
  const held = [0, 1, 2].map((i) => hub.ref(`library/h${i}`) + ':1');
  for (let i = 0; i < 3; i++) hub.seedImage(`library/h${i}`, { tags: ['1'] });
  const free = Array.from({ length: 6 }, (_, i) => other.ref(`acme/o${i}`) + ':1');
  for (let i = 0; i < 6; i++) other.seedImage(`acme/o${i}`, { tags: ['1'] });
  const err = await sync({
    spec: specOf(dst, [...held, ...free]),
    images: 2,
    minRateLimit: 5,
    maxWaitMs: 100,
    rateLimitPollMs: 20,
    ...fakeLibraryOptions(hub, other, dst),
    logger: { debug() {}, info() {}, warn() {} },
  } as SyncOpts).then(
    () => undefined,
    (e: { code?: string; message?: string; details?: { result?: SyncResult } }) => e,
  );
  assert.equal(err?.code, 'E_TOO_MANY_REQUESTS', String(err?.message));
  const units = err.details!.result!.units;
  assert.equal(units.length, 9, 'every image is in the report');
  assert.deepEqual(units.filter((u) => free.includes(u.source)).map((u) => u.ok), Array(6).fill(true), 'the other registry\'s images were all copied');
  const notCopied = units.filter((u) => held.includes(u.source) && !u.ok);
  assert.equal(notCopied.length, 2);
  for (const u of notCopied) assert.equal(u.error?.code, 'E_TOO_MANY_REQUESTS');
  assert.equal(hub.rateLimitRemaining, 5, 'the reserve kept');
});

test('a mixed file (a one-platform image first, then four-platform ones): each manifest GET is held, so the reserve is never spent although the first image made the others look cheap', { timeout: 15_000 }, async () => {
  // 12 pulls left, 5 kept. The first image costs one pull, so the gate takes the next ones to cost
  // one too and lets three start together; each then reads an index of four platforms (five pulls).
  const src = await fake({ rateLimit: { limit: 100, remaining: 12 } });
  const dst = await fake();
  src.seedImage('small', { tags: ['1'] });
  const names = ['m1', 'm2', 'm3', 'm4'];
  const children = new Set<string>();
  for (const n of names) {
    for (const k of seedFourPlatforms(src, n)) children.add(k.digest);
  }
  const warnings: string[] = [];
  const err = await sync({
    spec: specOf(dst, [src.ref('small:1'), ...names.map((n) => src.ref(`${n}:1`))]),
    images: 4,
    minRateLimit: 5,
    maxWaitMs: 100,
    rateLimitPollMs: 20,
    ...fakeLibraryOptions(src, dst),
    logger: { debug() {}, info() {}, warn: (m: string) => void warnings.push(m) },
  } as SyncOpts).then(
    () => undefined,
    (e: { code?: string; message?: string; details?: { result?: SyncResult } }) => e,
  );
  assert.equal(err?.code, 'E_TOO_MANY_REQUESTS', String(err?.message));
  assert.equal(src.count({ kind: 'manifest', method: 'GET', when: (r) => r.status === 429 }), 0, 'no pull was refused');
  assert.ok(src.rateLimitRemaining! >= 5, `the reserve is intact (${src.rateLimitRemaining} left)`);
  const units = err.details!.result!.units;
  assert.equal(units.length, 5, 'every image is in the report');
  assert.ok(units.find((u) => u.source.endsWith('/small:1'))?.ok, 'the first image was copied');
  const copied = units.filter((u) => u.ok && !u.source.endsWith('/small:1')).length;
  for (const u of units.filter((u) => !u.ok)) assert.equal(u.error?.code, 'E_TOO_MANY_REQUESTS', `${u.source}: ${u.error?.message}`);
  // No pull went into part of an image: platforms were read only for the images copied (all four each).
  const childReads = src.count({ kind: 'manifest', method: 'GET', when: (r) => children.has(r.digest ?? '') });
  assert.equal(childReads, 4 * copied, `${childReads} platform manifests read for ${copied} four-platform images copied`);
  assert.ok(warnings.some((w) => /holding the manifest reads of the images under way/.test(w)), warnings.join(' | '));
});

test('an image whose manifest reads the gate holds lends its --images slot: another registry\'s images run meanwhile, and the held ones go on once the count is back', { timeout: 30_000 }, async () => {
  // 12 pulls left, 5 kept: after the one-platform image, one four-platform image fits, not three.
  const hub = await fake({ rateLimit: { limit: 100, remaining: 12 } });
  const other = await fake();
  const dst = await fake();
  hub.seedImage('small', { tags: ['1'] });
  const held = ['m1', 'm2', 'm3'];
  for (const n of held) seedFourPlatforms(hub, n);
  const others = ['o1', 'o2', 'o3', 'o4'];
  for (const n of others) other.seedImage(n, { tags: ['1'] });
  const ended: string[] = [];
  const warnings: string[] = [];
  const r = await sync({
    spec: specOf(dst, [hub.ref('small:1'), ...held.map((n) => hub.ref(`${n}:1`)), ...others.map((n) => other.ref(`${n}:1`))]),
    images: 2,
    minRateLimit: 5,
    maxWaitMs: 20_000,
    rateLimitPollMs: 20,
    ...fakeLibraryOptions(hub, other, dst),
    logger: { debug() {}, info() {}, warn: (m: string) => void warnings.push(m) },
    events: {
      unitEnd: (u) => {
        ended.push(u.source.split('/').at(-1)!);
        // The count comes back only once every image of the other registry has ended: with the
        // held images sitting on both slots they could never start, and this would wait out --max-wait.
        if (others.every((o) => ended.includes(`${o}:1`))) (hub as unknown as { rateLimitRemaining: number }).rateLimitRemaining = 100;
      },
    },
  } as SyncOpts);
  assert.equal(r.totals.copied, 8, JSON.stringify(r.units.map((u) => [u.source, u.error?.code])));
  assert.ok(warnings.some((w) => /holding the manifest reads of the images under way/.test(w)), `an image was held: ${warnings.join(' | ')}`);
  const lastOther = Math.max(...others.map((o) => ended.indexOf(`${o}:1`)));
  assert.ok(held.some((m) => ended.indexOf(`${m}:1`) > lastOther), `a held image ended after the other registry's: ${ended.join(', ')}`);
});

test('an unchanged re-run passes with the count below the reserve: an image is charged to the gate only at its first manifest GET, and one the targets hold needs HEADs only', async () => {
  const src = await fake({ rateLimit: { limit: 100, remaining: 100 } });
  const [dst, dst2] = [await fake(), await fake()];
  const names = Array.from({ length: 12 }, (_, i) => `svc${i}`);
  for (const n of names) src.seedImage(n, { tags: ['1'] });
  const spec = parseSyncFile(['defaults:', `  targets: [${dst.host}/mirror, ${dst2.host}/mirror]`, 'images:', ...names.map((n) => `  - source: ${src.ref(`${n}:1`)}`), ''].join('\n'), 'sync.yaml');
  const opts = { spec, images: 4, ...fakeLibraryOptions(src, dst, dst2) } as SyncOpts;
  await sync(opts);
  // Two pulls left, five to keep: nothing may be pulled, and nothing needs to be.
  (src as unknown as { rateLimitRemaining: number }).rateLimitRemaining = 2;
  const getsBefore = src.count({ kind: 'manifest', method: 'GET' });
  const r = await sync({ ...opts, minRateLimit: 5 });
  assert.equal(r.totals.skipped, 2 * names.length, JSON.stringify(r.units.filter((u) => !u.ok).map((u) => u.error)));
  assert.equal(r.totals.failed, 0);
  assert.equal(src.count({ kind: 'manifest', method: 'GET' }), getsBefore, 'no pull');
  assert.equal(src.rateLimitRemaining, 2);

  // One changed image, last in the file: the others are still up to date, and that one is held
  // at its first GET (the reserve kept), failing the run E_TOO_MANY_REQUESTS.
  src.seedImage('svc11', { tags: ['1'] });
  const err = await sync({ ...opts, minRateLimit: 5, logger: { debug() {}, info() {}, warn() {} } }).then(
    () => undefined,
    (e: { code?: string; message?: string; details?: { result?: SyncResult } }) => e,
  );
  assert.equal(err?.code, 'E_TOO_MANY_REQUESTS', String(err?.message));
  const units = err.details!.result!.units;
  assert.deepEqual(units.filter((u) => !u.ok).map((u) => u.source), [src.ref('svc11:1')]);
  assert.equal(err.details!.result!.totals.skipped, 2 * (names.length - 1));
  assert.equal(src.count({ kind: 'manifest', method: 'GET' }), getsBefore, 'still no pull');
});

test('an image that fails before its first pull (its source refuses it) leaves no read behind that the gate would count for ever: the others are copied down to the reserve', { timeout: 15_000 }, async () => {
  const src = await fake({ rateLimit: { limit: 100, remaining: 8 } });
  const dst = await fake();
  const names = ['a', 'b', 'c', 'd', 'e', 'f'];
  for (const n of names) src.seedImage(`library/${n}`, { tags: ['1'] });
  // The first image's repository refuses this machine, with no count. Its target lacks the tag, so
  // its graph is read as soon as the target has said so: that answer is held until the image has
  // failed, and the read then asks the gate for a pull the image no longer waits for.
  src.fault({ repo: 'private/app' }, { kind: 'status', status: 401, code: 'UNAUTHORIZED', message: 'authentication required' });
  let refusedEnded!: () => void;
  dst.fault({ kind: 'manifest', repo: 'mirror/private/app' }, { kind: 'hold', until: new Promise<void>((r) => (refusedEnded = r)) });
  const err = await sync({
    spec: specOf(dst, [src.ref('private/app:1'), ...names.map((n) => src.ref(`library/${n}:1`))]),
    images: 4,
    minRateLimit: 5,
    retries: 0,
    events: { unitEnd: (u) => void (u.source.includes('/private/app:') && refusedEnded()) },
    ...fakeLibraryOptions(src, dst),
  } as SyncOpts).then(
    () => undefined,
    (e: { code?: string; message?: string; details?: { result?: SyncResult } }) => e,
  );
  assert.equal(err?.code, 'E_TOO_MANY_REQUESTS', String(err?.message));
  assert.equal(err.details?.result?.totals.copied, 3);
  assert.equal(src.rateLimitRemaining, 5, 'the reserve is intact');
  assert.equal(src.count({ kind: 'manifest', method: 'GET', repo: 'private/app' }), 0, 'no read of the refused image was sent after it had failed');
  assert.equal(dst.count({ kind: 'manifest', repo: 'mirror/private/app', when: (q) => q.status !== undefined }), 1, 'the held answer was sent');
});

test('an image that ends while its first pull, let through, waits for an --images slot gets no slot and sends no pull: the slot goes on to the next image', { timeout: 15_000 }, async () => {
  // --images 1. p is up to date (HEADs only) and tells the count: 5, the reserve itself. a's own
  // source HEAD is answered 500 only once asked (below); its target lacks it, so its graph is read
  // meanwhile, and that read's first GET waits at the gate, a's slot lent to c (another registry,
  // its manifests held until a has ended). The count comes back; the gate lets a's GET through,
  // and it waits for c's slot. a then fails: c's slot, once free, must go to d, not to a's read.
  const hub = await fake({ rateLimit: { limit: 100, remaining: 5 } });
  const other = await fake();
  const dst = await fake();
  hub.seedImage('p', { tags: ['1'], layers: ['p'] });
  hub.seedImage('a', { tags: ['1'] });
  other.seedImage('c', { tags: ['1'] });
  other.seedImage('d', { tags: ['1'] });
  dst.seedImage('mirror/p', { tags: ['1'], layers: ['p'] });
  let failA!: () => void;
  const aFails = new Promise<void>((r) => (failA = r));
  hub.fault(
    { kind: 'manifest', method: 'HEAD', repo: 'a' },
    { kind: 'respond', respond: (_req, _body, res) => void aFails.then(() => res.writeHead(500).end()) },
    { times: 1 },
  );
  let aEnded!: () => void;
  other.fault({ kind: 'manifest', repo: 'c' }, { kind: 'hold', until: new Promise<void>((r) => (aEnded = r)) });
  const ended: string[] = [];
  const synced = sync({
    spec: specOf(dst, [hub.ref('p:1'), hub.ref('a:1'), other.ref('c:1'), other.ref('d:1')]),
    images: 1,
    minRateLimit: 5,
    maxWaitMs: 20_000,
    rateLimitPollMs: 20,
    retries: 0,
    ...fakeLibraryOptions(hub, other, dst),
    logger: {
      debug() {},
      // The gate holds a's first GET: the count comes back.
      warn: (m: string) => void (/not starting new images/.test(m) && ((hub as unknown as { rateLimitRemaining: number }).rateLimitRemaining = 100)),
      // The gate has seen it and lets a's GET through (it now waits for c's slot): a's HEAD fails.
      info: (m: string) => void (/ratelimit-remaining is 100 again/.test(m) && failA()),
    },
    events: {
      unitEnd: (u) => {
        ended.push(u.source.split('/').at(-1)!);
        if (u.source.endsWith('/a:1')) aEnded();
      },
    },
  } as SyncOpts).then(
    () => undefined,
    (e: { code?: string; message?: string; details?: { result?: SyncResult } }) => e,
  );
  // A GET of a reaching the hub is the bug itself: fail at once rather than wait for the sync,
  // which (its one slot kept by a) would never start d.
  const aPulled = hub.seen({ kind: 'manifest', method: 'GET', repo: 'a' }).then((q) => {
    throw new Error(`a's manifest GET (#${q.seq}) was sent after a had ended (${ended.join(', ')})`);
  });
  const err = await Promise.race([synced, aPulled]);
  assert.equal(err?.code, 'E_PARTIAL', String(err?.message));
  const units = err.details!.result!.units;
  assert.deepEqual(
    units.map((u) => [u.source.split('/').at(-1), u.error?.code ?? 'ok']).sort(),
    [['a:1', 'E_REGISTRY'], ['c:1', 'ok'], ['d:1', 'ok'], ['p:1', 'ok']],
  );
  assert.deepEqual(ended, ['p:1', 'a:1', 'c:1', 'd:1']);
  assert.equal(err.details!.result!.totals.copied, 2, 'c and d copied; p up to date');
  assert.equal(hub.count({ kind: 'manifest', method: 'GET', repo: 'a' }), 0, 'no pull for the image that had ended');
});

test('--max-wait: a poll of the count that fails (the registry down) is retried at the next poll, and the wait\'s final line names the last failure, not only the count', { timeout: 15_000 }, async () => {
  const { src, dst, spec } = await heldBelowReserve();
  // Every poll (a HEAD of the image's manifest, after the image's own first one) meets a registry that is down.
  let heads = 0;
  src.fault({ kind: 'manifest', method: 'HEAD', when: () => ++heads > 1 }, { kind: 'status', status: 503, message: 'registry under maintenance', retryAfter: 0 });
  const debug: string[] = [];
  const err = await sync({ spec, images: 2, minRateLimit: 5, maxWaitMs: 300, rateLimitPollMs: 20, retries: 0, ...fakeLibraryOptions(src, dst), logger: { debug: (m: string) => void debug.push(m), info() {}, warn() {} } } as SyncOpts).then(
    () => undefined,
    (e: { code?: string; message?: string; cause?: { code?: string } }) => e,
  );
  assert.equal(err?.code, 'E_TOO_MANY_REQUESTS', String(err?.message));
  assert.match(err.message!, /ratelimit-remaining stayed below minRateLimit \(5\) \(last 3\) for 0 s \(maxWaitMs\); stopped before .*; the count could not be read again: .*503.* \[E_REGISTRY\]$/);
  assert.equal(err.cause?.code, 'E_REGISTRY');
  assert.ok(src.count({ kind: 'manifest', method: 'HEAD' }) >= 2, 'it kept polling');
  assert.ok(debug.some((l) => /polling ratelimit-remaining failed: .*\[E_REGISTRY\]/.test(l)), `each failed poll at debug: ${debug.join(' | ')}`);
  assert.equal(src.count({ kind: 'manifest', method: 'GET' }), 0, 'no pull spent below the reserve');
});

test('--max-wait: a poll refused for its credentials (or an abort) ends the wait at once with that error, not E_TOO_MANY_REQUESTS once --max-wait has passed', { timeout: 45_000 }, async () => {
  // --max-wait is a minute: the error's own code (not E_TOO_MANY_REQUESTS) shows the wait ended on
  // the refusal, and the test's timeout (under that minute) fails a run that waited it out.
  for (const [status, code] of [
    [401, 'E_AUTH'],
    [403, 'E_DENIED'],
  ] as const) {
    const { src, dst, spec } = await heldBelowReserve();
    let heads = 0;
    src.fault({ kind: 'manifest', method: 'HEAD', when: () => ++heads > 1 }, { kind: 'status', status, code: status === 401 ? 'UNAUTHORIZED' : 'DENIED', retryAfter: 0 });
    const err = await sync({ spec, images: 2, minRateLimit: 5, maxWaitMs: 60_000, rateLimitPollMs: 20, retries: 0, ...fakeLibraryOptions(src, dst), logger: { debug() {}, info() {}, warn() {} } } as SyncOpts).then(
      () => undefined,
      (e: { code?: string; message?: string }) => e,
    );
    assert.equal(err?.code, code, String(err?.message));
    assert.equal(src.count({ kind: 'manifest', method: 'GET' }), 0, 'no pull spent below the reserve');
  }
  // An abort while it waits: E_ABORTED, at once.
  const { src, dst, spec } = await heldBelowReserve();
  const ac = new AbortController();
  let heads = 0;
  src.fault({ kind: 'manifest', method: 'HEAD', when: () => ++heads > 1 }, { kind: 'respond', respond: () => ac.abort() });
  const err = await sync({ spec, images: 2, minRateLimit: 5, maxWaitMs: 60_000, rateLimitPollMs: 20, retries: 0, signal: ac.signal, ...fakeLibraryOptions(src, dst), logger: { debug() {}, info() {}, warn() {} } } as SyncOpts).then(
    () => undefined,
    (e: { code?: string; message?: string }) => e,
  );
  assert.equal(err?.code, 'E_ABORTED', String(err?.message));
});

/**
 * Asserts that a gate keeping 5 pulls holds the first GET of `source` (no pullsReader: the
 * registry's own count) where the count its answers brought is 5 — from `answeredFrom`, keyed as
 * the transport keeps it — and, with --max-wait 0, refuses it unsent. Looked up under another key,
 * no count is found and the GET goes (the first image goes alone while none is known).
 */
async function heldAtReserve(source: string, answeredFrom: string, probedSchemes: Map<string, 'http' | 'https'> = new Map(), insecure: Pick<SyncOpts, 'insecureRegistries' | 'env'> = {}): Promise<void> {
  const stats = new TransportStats();
  stats.response(`${answeredFrom}/v2/team/app/manifests/1`, { 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '5;w=21600' });
  const run = { transport: { stats, probedSchemes }, signal: new AbortController().signal } as unknown as TransferRun;
  const gate = new RateGate(run, { minRateLimit: 5, ...insecure }, silentLogger, flagNames({ minRateLimit: '--min-ratelimit', maxWaitMs: '--max-wait' }, 'sync'));
  const slot: UnitSlot = { take: async () => {}, leave: () => {}, back: () => {}, again: async () => {}, done: () => {} } as unknown as UnitSlot;
  const ticket = gate.ticket(parseReference(source), slot, undefined)!;
  let sent = 0;
  ticket.pulls!.will(1);
  // 5 left, 5 kept: the GET would spend the reserve, and --max-wait 0 gives up at once.
  await assert.rejects(
    ticket.pulls!.send(async () => sent++),
    (e: { code?: string; message: string }) => e.code === 'E_TOO_MANY_REQUESTS' && /ratelimit-remaining stayed at --min-ratelimit 5/.test(e.message),
  );
  assert.equal(sent, 0, 'the GET was not sent');
  ticket.ended();
  gate.close();
}

test('a source named with its default port (reg.example.com:443/…) is held by the count its answers brought, from https://reg.example.com/…', async () => {
  await heldAtReserve('reg.example.com:443/team/app:1', 'https://reg.example.com');
});

test('a source whose client cannot say who reads, at a probed registry (127.0.0.1:443 found on plain HTTP), is held by the count its answers brought, keyed with the scheme the probe settled on (127.0.0.1:443, not 127.0.0.1)', async () => {
  await heldAtReserve('127.0.0.1:443/team/app:1', 'http://127.0.0.1:443', new Map([['127.0.0.1:443', 'http']]));
});

test('a source whose client cannot say who reads, on a port that does not say its scheme (an HTTPS registry on :80), is held by the count its answers brought from https://reg.example.com:80', async () => {
  await heldAtReserve('reg.example.com:80/team/app:1', 'https://reg.example.com:80');
});

test('a source whose client cannot say who reads, named insecure (plain HTTP) on :443 — by insecureRegistries or REGPUSH_INSECURE_REGISTRIES — is held by the count its answers brought from http://reg.example.com:443', async () => {
  await heldAtReserve('reg.example.com:443/team/app:1', 'http://reg.example.com:443', new Map(), { insecureRegistries: ['reg.example.com:443'] });
  await heldAtReserve('reg.example.com:443/team/app:1', 'http://reg.example.com:443', new Map(), { env: { REGPUSH_INSECURE_REGISTRIES: 'http://reg.example.com:443' } });
});
