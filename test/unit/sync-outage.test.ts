// A sync against a registry that is down (sync/outage.ts): after images in a row failed there with
// an outage's errors, the images not yet started at that registry are reported failed at once,
// without a request; one success in between starts the count again. Fake registries, retries off
// and one image at a time, so which images are attempted is exact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSyncFile, sync, type RegpushError, type SyncResult } from '../../src/index.js';
import { OutageBreaker, outageThreshold } from '../../src/sync/outage.js';
import { TooManyRequestsError } from '../../src/errors.js';
import { mirrorOwner } from '../../src/registry/mirrors.js';
import { fakeLibraryOptions, fakeRegistryPool, type FakeRegistry } from '../fixtures/fake-registry.js';

const fake = fakeRegistryPool();
const N = 12;

function seeded(src: FakeRegistry, targets: string[]) {
  for (let i = 0; i < N; i++) src.seedImage(`team/app${i}`, { tags: ['1'] });
  const lines = ['defaults:', `  targets: [${targets.join(', ')}]`, 'images:'];
  for (let i = 0; i < N; i++) lines.push(`  - { source: ${src.ref(`team/app${i}`)}, tags: ["1"] }`);
  return parseSyncFile(lines.join('\n') + '\n', 'sync.yaml');
}

/** The report of a sync that failed with `code`: E_PARTIAL where some images were copied, the images' own code where every one failed with it. */
async function failedSync(opts: Parameters<typeof sync>[0], code = 'E_REGISTRY'): Promise<SyncResult> {
  const err = await sync(opts).then(() => undefined, (e: RegpushError) => e);
  assert.equal(err?.code, code, String(err));
  return (err!.details as { result: SyncResult }).result;
}

const attempted = (reg: FakeRegistry, kind: 'manifest') => new Set(reg.requests().filter((q) => q.kind === kind && q.repo).map((q) => q.repo)).size;

test('a source answering 503 to every image: after 8 images in a row failed, the rest are not attempted, each failed at once naming why', async () => {
  assert.equal(outageThreshold(1), 8);
  assert.equal(outageThreshold(4), 8);
  assert.equal(outageThreshold(6), 12);
  const [src, dst] = [await fake(), await fake()];
  const spec = seeded(src, [`${dst.host}/mirror`]);
  src.fault({ kind: 'manifest' }, { kind: 'status', status: 503, code: 'UNAVAILABLE', retryAfter: 0 });
  const r = await failedSync({ spec, images: 1, retries: 0, ...fakeLibraryOptions(src, dst) });
  assert.equal(r.units.length, N);
  assert.ok(r.units.every((u) => !u.ok));
  assert.equal(attempted(src, 'manifest'), 8, 'eight images asked the source, the other four nothing');
  const skipped = r.units.filter((u) => u.error?.message.startsWith('not attempted'));
  assert.equal(skipped.length, 4);
  for (const u of skipped) {
    assert.equal(u.error!.code, 'E_REGISTRY');
    assert.match(u.error!.message, new RegExp(`^not attempted: the last 8 images at ${src.host.replace(/\./g, '\\.')} failed, the last with: .*answered 503\\b.*; a re-run copies what is missing$`));
    assert.deepEqual(u.targets.map((t) => t.action), ['failed']);
  }
  assert.equal(dst.requests().filter((q) => q.method !== 'GET' && q.method !== 'HEAD').length, 0, 'nothing written');
});

test('a source whose token service answers 503 (E_AUTH) is down as a 503 of its own would be: after 8 images in a row, the rest are not attempted', async () => {
  const user = 'alice';
  const password = 'outage-Password-1';
  const [src, dst] = [await fake({ auth: { scheme: 'bearer', user, password } }), await fake()];
  const spec = seeded(src, [`${dst.host}/mirror`]);
  src.fault({ kind: 'token' }, { kind: 'status', status: 503, retryAfter: 0 });
  const opts = fakeLibraryOptions(src, dst);
  const r = await failedSync({ spec, images: 1, retries: 0, ...opts, env: { ...opts.env, REGPUSH_FROM_USER: user, REGPUSH_FROM_PASSWORD: password } }, 'E_AUTH');
  // Each image asks the token service for its own scope (the challenge is known after the first),
  // and the next image's token is asked for while one runs (sync's prefetch): eight images and the
  // ninth's prefetch; the other three nothing.
  const asked = new Set(src.requests({ kind: 'token' }).map((q) => /app\d+/.exec(q.query.scope ?? '')?.[0]));
  assert.equal(asked.size, 9, [...asked].join(' '));
  const skipped = r.units.filter((u) => u.error?.message.startsWith('not attempted'));
  assert.equal(skipped.length, 4);
  for (const u of skipped) {
    assert.equal(u.error!.code, 'E_AUTH');
    assert.match(u.error!.message, /the last with: authentication to .* failed: token service .* answered HTTP 503 \(the token service failed; retry later or check its status page\)/);
  }
});

test('one image that succeeds in between starts the count again: a registry that fails now and then is not given up', async () => {
  const [src, dst] = [await fake(), await fake()];
  const spec = seeded(src, [`${dst.host}/mirror`]);
  // Images 1–7 fail, 8 succeeds, 9–11 fail, 12 succeeds: never 8 in a row.
  const failing = new Set([0, 1, 2, 3, 4, 5, 6, 8, 9, 10]);
  src.fault({ kind: 'manifest', when: (q) => failing.has(Number(/app(\d+)/.exec(q.path)?.[1])) }, { kind: 'status', status: 502, retryAfter: 0 });
  const r = await failedSync({ spec, images: 1, retries: 0, ...fakeLibraryOptions(src, dst) }, 'E_PARTIAL');
  assert.equal(attempted(src, 'manifest'), N, 'every image was attempted');
  assert.equal(r.units.filter((u) => u.ok).length, 2);
  assert.ok(!r.units.some((u) => u.error?.message.startsWith('not attempted')));
});

test('a target registry that is down: the images still to start are not attempted; with another target that answers, they are', async () => {
  const [src, down, up] = [await fake(), await fake(), await fake()];
  down.fault({}, { kind: 'status', status: 500, retryAfter: 0 });
  const alone = await failedSync({ spec: seeded(src, [`${down.host}/mirror`]), images: 1, retries: 0, ...fakeLibraryOptions(src, down) });
  const aloneSkipped = alone.units.filter((u) => u.error?.message.startsWith(`not attempted: the last 8 images at ${down.host} failed`));
  assert.equal(aloneSkipped.length, 4);
  for (const u of aloneSkipped) assert.equal(u.error!.code, 'E_REGISTRY', u.source);
  src.clearLog();
  const src2 = await fake();
  const both = await failedSync({ spec: seeded(src2, [`${down.host}/mirror`, `${up.host}/mirror`]), images: 1, retries: 0, ...fakeLibraryOptions(src2, down, up) }, 'E_PARTIAL');
  assert.ok(!both.units.some((u) => u.error?.message.startsWith('not attempted')));
  assert.ok(both.units.every((u) => u.targets.find((t) => t.target.startsWith(up.host))?.action === 'copied'), 'every image reached the target that answers');
  // ok says the same as action, at every target of either kind (a report field push and copy have too).
  assert.ok(both.units.every((u) => u.targets.every((t) => t.ok === (t.action !== 'failed'))));
  assert.ok(both.units.some((u) => u.targets.some((t) => t.ok)) && both.units.some((u) => u.targets.some((t) => !t.ok)));
});

test('two targets on one registry that is down: an image counts once there, so it takes 8 images, not 4, to stop', async () => {
  const [src, down] = [await fake(), await fake()];
  down.fault({}, { kind: 'status', status: 500, retryAfter: 0 });
  const r = await failedSync({ spec: seeded(src, [`${down.host}/mirror`, `${down.host}/backup`]), images: 1, retries: 0, ...fakeLibraryOptions(src, down) });
  const skipped = r.units.filter((u) => u.error?.message.startsWith(`not attempted: the last 8 images at ${down.host} failed`));
  assert.equal(skipped.length, N - 8, 'eight images attempted, four not');
  for (const u of skipped) assert.equal(u.error!.code, 'E_REGISTRY', u.source);
  assert.equal(new Set(down.requests().filter((q) => q.repo).map((q) => q.repo!.split('/').at(-1))).size, 8, 'eight images asked the registry');
});

test('the error line of a sync where every image failed, each with one code: that code, five images named and the rest counted', async () => {
  const [src, dst] = [await fake(), await fake()];
  const spec = seeded(src, [`${dst.host}/mirror`]);
  src.fault({ kind: 'manifest' }, { kind: 'status', status: 503, retryAfter: 0 });
  const err = await sync({ spec, images: 1, retries: 0, ...fakeLibraryOptions(src, dst) }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(err?.code, 'E_REGISTRY');
  assert.equal(err?.exitCode, 5);
  assert.match(err!.message, /^all 12 images failed with E_REGISTRY: .*; and 7 more \(each in the report: details\.result\)$/);
  assert.equal((err!.details.result as SyncResult).units.length, 12, 'the report comes with it');
  assert.equal(err!.message.split(' (E_REGISTRY: ').length - 1, 5, 'five images named');
});

test('a source that is down while its tag lists are read (tags: all): after 8 listings failed, the rest are not attempted, and the image of another registry is copied', async () => {
  const [src, up, dst] = [await fake(), await fake(), await fake()];
  for (let i = 0; i < N; i++) src.seedImage(`team/app${i}`, { tags: ['1'] });
  up.seedImage('ok/app', { tags: ['1'] });
  src.fault({}, { kind: 'status', status: 503, code: 'UNAVAILABLE', retryAfter: 0 });
  const lines = ['defaults:', `  targets: [${dst.host}/mirror]`, 'images:'];
  for (let i = 0; i < N; i++) lines.push(`  - { source: ${src.ref(`team/app${i}`)}, tags: all }`);
  lines.push(`  - { source: ${up.ref('ok/app')}, tags: all }`);
  const r = await failedSync({ spec: parseSyncFile(lines.join('\n') + '\n', 'sync.yaml'), retries: 0, ...fakeLibraryOptions(src, up, dst) }, 'E_PARTIAL');
  // Four listings at once: the eighth failure stops the ones not yet started.
  const listings = src.count({ kind: 'tags' });
  assert.ok(listings >= 8 && listings < N, `${listings} tag lists asked of a registry that is down`);
  const notAttempted = r.units.filter((u) => u.error?.message.startsWith('not attempted'));
  assert.equal(notAttempted.length, N - listings);
  for (const u of notAttempted) assert.equal(u.error!.code, 'E_REGISTRY', u.source);
  assert.ok(r.units.some((u) => u.source === up.ref('ok/app') + ':1' && u.ok), JSON.stringify(r.units.map((u) => u.source)));
  assert.ok(dst.manifest('mirror/ok/app', '1'));
});

test('without --min-ratelimit, a pull limit used up (429, ratelimit-remaining 0 of a 6 h window) is not retried: that source\'s other images send no pull after it, and the sync exits E_TOO_MANY_REQUESTS naming the limit', async () => {
  const src = await fake({ rateLimit: { limit: 100, remaining: 3 } });
  const [dst, other] = [await fake(), await fake()];
  for (let i = 0; i < N; i++) src.seedImage(`team/app${i}`, { tags: ['1'] });
  other.seedImage('team/free', { tags: ['1'] });
  const spec = parseSyncFile(
    ['defaults:', `  targets: [${dst.host}/mirror]`, 'images:', ...Array.from({ length: N }, (_, i) => `  - source: ${src.ref(`team/app${i}`)}:1`), `  - source: ${other.ref('team/free')}:1`, ''].join('\n'),
    'sync.yaml',
  );
  const err = await sync({ spec, images: 2, retries: 3, ...fakeLibraryOptions(src, dst, other) }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(err?.code, 'E_TOO_MANY_REQUESTS', String(err));
  assert.match(err.message, new RegExp(`^${src.host.replace(/\./g, '\\.')}: the pull limit is used up \\(ratelimit-remaining 0 of 100 per 6 h\\): 9 images .* not copied`));
  // Three images took the three pulls; one more GET was refused, once (not retried); nothing after it.
  assert.equal(src.count({ kind: 'manifest', method: 'GET', status: 429 }), 1);
  const r = (err.details as { result: SyncResult }).result;
  assert.equal(r.units.length, N + 1, 'every image is in the report');
  assert.equal(r.totals.copied, 4, 'three from the source, and the other registry\'s image');
  assert.ok(r.units.find((u) => u.source.startsWith(other.host))?.ok);
  // The images after it still had their free HEAD check (sync-gate-stop.test.ts); their targets
  // lack them, so each needed a pull, and failed without sending it.
  const notCopied = r.units.filter((u) => u.error?.message.startsWith('not copied'));
  assert.ok(notCopied.length >= N - 3 - 2, `${notCopied.length} not copied`);
  for (const u of notCopied) {
    assert.equal(u.error!.code, 'E_TOO_MANY_REQUESTS', u.source);
    assert.match(u.error!.message, /^not copied: it needs a pull at .*, whose pull limit is used up \(ratelimit-remaining 0 of 100 per 6 h\)/);
  }
});

test('a pull limit used up whose 429 carries no count of its own (Docker Hub documents that answer by its body alone): the count the source HEAD brought (0 of a 6 h window) stands for it, so it is not retried either', async () => {
  const src = await fake({ rateLimit: { limit: 100, remaining: 0, bareRefusal: true } });
  const dst = await fake();
  for (let i = 0; i < 4; i++) src.seedImage(`team/app${i}`, { tags: ['1'] });
  const spec = parseSyncFile(['defaults:', `  targets: [${dst.host}/mirror]`, 'images:', ...Array.from({ length: 4 }, (_, i) => `  - source: ${src.ref(`team/app${i}`)}:1`), ''].join('\n'), 'sync.yaml');
  const err = await sync({ spec, images: 1, retries: 3, ...fakeLibraryOptions(src, dst) }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(err?.code, 'E_TOO_MANY_REQUESTS', String(err));
  assert.match(err.message, /the pull limit is used up \(ratelimit-remaining 0 of 100 per 6 h\): 4 images/);
  assert.equal(src.count({ kind: 'manifest', method: 'GET', status: 429 }), 1, 'one refused GET, not retried; none sent after it');
  const r = (err.details as { result: SyncResult }).result;
  for (const u of r.units) {
    assert.equal(u.error!.code, 'E_TOO_MANY_REQUESTS', u.source);
    assert.match(u.error!.message, /pull limit .*used up.*ratelimit-remaining 0 of 100 per 6 h/, u.source);
  }
});

test('a pull limit used up while other images are under way: their manifest GETs are not sent after the 429 (each was sent and refused in turn), and each fails naming the limit', async () => {
  const src = await fake({ rateLimit: { limit: 100, remaining: 0 } });
  const dst = await fake();
  for (let i = 0; i < 3; i++) src.seedImage(`team/app${i}`, { tags: ['1'] });
  // app1's and app2's check at the target is answered once app0 has ended, failed by its GET's
  // 429 (the client has that answer, not only the registry): their GETs come after it.
  let app0Ended!: () => void;
  const refused = new Promise<void>((resolve) => (app0Ended = resolve));
  dst.fault({ kind: 'manifest', method: 'HEAD', when: (q) => /app[12]/.test(q.path) }, { kind: 'hold', until: refused });
  const spec = parseSyncFile(['defaults:', `  targets: [${dst.host}/mirror]`, 'images:', ...Array.from({ length: 3 }, (_, i) => `  - source: ${src.ref(`team/app${i}`)}:1`), ''].join('\n'), 'sync.yaml');
  const events = {
    unitEnd: (u: { source: string }) => {
      if (u.source.endsWith('/team/app0:1')) app0Ended();
    },
  };
  const err = await sync({ spec, images: 3, events, ...fakeLibraryOptions(src, dst) }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(err?.code, 'E_TOO_MANY_REQUESTS', String(err));
  assert.equal(src.count({ kind: 'manifest', method: 'GET' }), 1, 'one GET, refused; none sent after it');
  const r = (err.details as { result: SyncResult }).result;
  assert.deepEqual(r.units.map((u) => u.ok), [false, false, false]);
  for (const u of r.units) {
    assert.equal(u.error!.code, 'E_TOO_MANY_REQUESTS', u.source);
    assert.match(u.error!.message, /pull limit .*used up/, u.source);
  }
});

test('a sync where every image failed, not all with one code, fails E_PARTIAL naming each reason', async () => {
  const [src, dst] = [await fake(), await fake()];
  src.seedImage('team/app0', { tags: ['1'] });
  // app0 answers 503; the other images' tags are missing (E_NOT_FOUND): two reasons, no one code for the run.
  src.fault({ kind: 'manifest', when: (q) => q.path.includes('/team/app0/') }, { kind: 'status', status: 503, retryAfter: 0 });
  const specMissing = parseSyncFile(
    ['defaults:', `  targets: [${dst.host}/mirror]`, 'images:', `  - { source: ${src.ref('team/app0')}, tags: ["1"] }`, `  - { source: ${src.ref('team/absent')}, tags: ["1"] }`, ''].join('\n'),
    'sync.yaml',
  );
  const err = await sync({ spec: specMissing, images: 1, retries: 0, ...fakeLibraryOptions(src, dst) }).then(() => undefined, (e: RegpushError) => e);
  assert.equal(err?.code, 'E_PARTIAL', String(err));
  assert.match(err!.message, /^2 of 2 images failed: .*\(E_REGISTRY: .*\(E_NOT_FOUND: /);
});

test('a registry whose pull limit a 429 said is used up is not down as a TARGET: an image written to it is still checked by HEAD and copied (writes and HEADs cost no pull)', async () => {
  const hub = await fake({ rateLimit: { limit: 100, remaining: 50 } });
  const other = await fake();
  hub.seedImage('team/pulled', { tags: ['1'] });
  other.seedImage('team/pushed', { tags: ['1'] });
  // First Docker Hub as a source, whose GET meets the used-up 429; then an image from elsewhere into Docker Hub.
  hub.fault({ kind: 'manifest', method: 'GET', path: /^\/v2\/team\/pulled\// }, { kind: 'status', status: 429, code: 'TOOMANYREQUESTS', headers: { 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '0;w=21600' } });
  const spec = parseSyncFile(
    ['images:', `  - { source: ${hub.ref('team/pulled')}:1, targets: [${other.host}/mirror] }`, `  - { source: ${other.ref('team/pushed')}:1, targets: [${hub.host}/mirror] }`, ''].join('\n'),
    'sync.yaml',
  );
  const r = await failedSync({ spec, images: 1, retries: 0, ...fakeLibraryOptions(hub, other) }, 'E_TOO_MANY_REQUESTS');
  const pushed = r.units.find((u) => u.source.startsWith(other.host))!;
  assert.ok(pushed.ok, pushed.error?.message);
  assert.equal(pushed.targets[0]?.action, 'copied');
  assert.equal(hub.count({ kind: 'manifest', method: 'PUT' }), 1);
});

/** A 429 saying the pull limit of `registry` is used up, as http/response.ts raises it. */
const spentAt = (registry: string, pullLimit = 'ratelimit-remaining 0 of 100 per 6 h') =>
  new TooManyRequestsError(`${registry}: 429 (the pull limit is used up)`, { details: { registry, pullLimitSpent: true, pullLimit } });

test('the error naming used-up pull limits names a mirror\'s reader as read through that mirror, with whose pulls they are there, even where it is the registry\'s only one', async () => {
  const hex = 'a'.repeat(32);
  // docker.io: its own anonymous reader and two mirrors' readers (anonymous; a login); ghcr.io: one mirror's reader alone.
  const breaker = new OutageBreaker(8);
  await breaker.failed('docker.io', spentAt('docker.io'), async () => 'credential:anonymous');
  await breaker.failed('docker.io', spentAt('docker.io'), async () => mirrorOwner('mirror.gcr.io', 'credential:anonymous'));
  await breaker.failed('docker.io', spentAt('docker.io'), async () => mirrorOwner('hub.corp.example', `credential:user:bot:${hex}`));
  await breaker.failed('ghcr.io', spentAt('ghcr.io', 'ratelimit-remaining 0 of 10 per 1 h'), async () => mirrorOwner('ghcr.corp.example', 'source:10.0.0.1'));
  const spent = breaker.spentFailure([]);
  assert.equal(spent?.code, 'E_TOO_MANY_REQUESTS');
  assert.equal(
    spent?.message,
    'the pull limits of 4 readers are used up (docker.io (anonymous): ratelimit-remaining 0 of 100 per 6 h; docker.io (through mirror mirror.gcr.io, anonymous): ratelimit-remaining 0 of 100 per 6 h; docker.io (through mirror hub.corp.example, as bot): ratelimit-remaining 0 of 100 per 6 h; ghcr.io (through mirror ghcr.corp.example, as 10.0.0.1): ratelimit-remaining 0 of 10 per 1 h): 0 images that needed pulls there were not copied, each stopped at its first refused pull or before it; a re-run once the limits have come back copies what is missing',
  );
  // One reader in all, a mirror's: the line says so, not that the registry's own limit is used up.
  const alone = new OutageBreaker(8);
  await alone.failed('docker.io', spentAt('docker.io'), async () => mirrorOwner('mirror.gcr.io', 'credential:anonymous'));
  const spentAlone = alone.spentFailure([]);
  assert.equal(spentAlone?.code, 'E_TOO_MANY_REQUESTS');
  assert.match(spentAlone?.message ?? '', /^docker\.io \(through mirror mirror\.gcr\.io, anonymous\): the pull limit is used up \(ratelimit-remaining 0 of 100 per 6 h\): /);
});
