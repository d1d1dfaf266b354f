// Whose pull limit a 429 said is used up. Docker Hub counts pulls per account when logged in and
// per address when anonymous (https://docs.docker.com/docker-hub/usage/pulls/; its
// `docker-ratelimit-source` header names which): one login's used-up limit refuses that login's
// later manifest GETs unsent, never another's at the same host; and an answer that brings that
// login a count with pulls left again (a free HEAD, once the window has rolled over) lets its GETs
// go again. Fake registries with a Docker Hub style pull limit (test/fixtures/fake-registry.ts,
// rateLimit); the refusals are scripted faults, never timings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSyncFile, sync, type RegpushError, type SyncResult } from '../../src/index.js';
import { Transport } from '../../src/http/transport.js';
import type { Middleware } from '../../src/http/types.js';
import { HttpRegistryClient } from '../../src/registry/http-registry-client.js';
import { AuthMemory } from '../../src/auth/auth-memory.js';
import { fakeLibraryOptions, fakeRegistryPool } from '../fixtures/fake-registry.js';
import { usedUp, withNotes } from '../fixtures/pull-limit-sync.js';

const fake = fakeRegistryPool();

type SyncOpts = Parameters<typeof sync>[0];

const login = { username: 'bot', password: 'secret' };

/** A Docker Hub like registry: bearer tokens, anonymous pulls allowed, a pull limit, no referrers API (the fallback tags are read). */
const hubLike = () => fake({ auth: { scheme: 'bearer', user: login.username, password: login.password, anonymousPull: true }, rateLimit: { limit: 100, remaining: 50 }, referrers: false });

async function partial(opts: SyncOpts): Promise<SyncResult> {
  const err: RegpushError & { details: { result?: SyncResult } } = await sync(opts).then(
    () => assert.fail('the sync succeeded'),
    (e: RegpushError & { details: { result?: SyncResult } }) => e,
  );
  assert.ok(err.details.result, `${err.code}: ${err.message}`);
  return err.details.result;
}

const said = (r: SyncResult) => r.units.map((u) => `${u.source}: ${u.ok ? 'ok' : (u.error?.message ?? u.targets.map((t) => t.error?.message).join('; '))}`).join('\n');

test('one host, two readers: the used-up pull limit of a logged-in reader does not refuse an anonymous reader\'s manifest GET there (Docker Hub counts them apart)', async () => {
  const hub = await hubLike();
  hub.seedImage('team/app', { tags: ['1'] });
  hub.seedImage('mirror/app', { tags: ['1'] });
  hub.fault({ kind: 'manifest', method: 'GET', repo: 'mirror/app' }, usedUp, { times: 1 });
  const transport = new Transport({ retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 2 } });
  const target = new HttpRegistryClient({ registry: hub.host, transport, insecure: [hub.host], scopes: ['repository:mirror/app:pull,push'], credential: async () => login });
  const source = new HttpRegistryClient({ registry: hub.host, transport, insecure: [hub.host], scopes: ['repository:team/app:pull'] });
  await assert.rejects(target.getManifest('mirror/app', '1'), (e: RegpushError) => e.code === 'E_TOO_MANY_REQUESTS' && e.details.pullLimitSpent === true);
  const got = await source.getManifest('team/app', '1');
  assert.ok(got.digest.startsWith('sha256:'));
  assert.deepEqual(hub.requests({ kind: 'manifest', method: 'GET', repo: 'team/app' }).map((q) => q.status).filter((s) => s !== 401), [200], 'the anonymous GET was sent (after its token challenge)');
  // The logged-in reader's own next GET is still refused unsent: its count is used up.
  await assert.rejects(target.getManifest('mirror/app', '1'), { name: 'TooManyRequestsError', code: 'E_TOO_MANY_REQUESTS', message: /not sent: the pull limit/ });
  assert.equal(hub.requests({ kind: 'manifest', method: 'GET', repo: 'mirror/app' }).length, 1);
});

test('a manifest GET let go before another GET\'s 429 said the pull limit is used up, and still unsent then (waiting for its token), is not sent after it: it fails unsent as the later ones do', async () => {
  const hub = await hubLike();
  hub.seedImage('team/a', { tags: ['1'] });
  hub.seedImage('team/b', { tags: ['1'] });
  // Every GET that carries its token is refused so (the first, without one, is challenged).
  hub.fault({ kind: 'manifest', method: 'GET', when: (q) => q.headers.authorization !== undefined }, usedUp);
  let aRefused!: () => void;
  const refused = new Promise<void>((resolve) => (aRefused = resolve));
  // b's token is answered only once a's 429 has been met and a's GET has failed with it.
  hub.fault({ kind: 'token', when: (q) => q.query.get('scope') === 'repository:team/b:pull' }, { kind: 'hold', until: refused });
  const transport = new Transport({ retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 2 } });
  const client = (repo: string) => new HttpRegistryClient({ registry: hub.host, transport, insecure: [hub.host], scopes: [`repository:${repo}:pull`] });
  const b = client('team/b').getManifest('team/b', '1');
  await hub.seen({ kind: 'token', when: (q) => q.query.scope === 'repository:team/b:pull' });
  await assert.rejects(client('team/a').getManifest('team/a', '1'), (e: RegpushError) => e.code === 'E_TOO_MANY_REQUESTS' && e.details.pullLimitSpent === true);
  aRefused();
  await assert.rejects(b, { name: 'TooManyRequestsError', code: 'E_TOO_MANY_REQUESTS', message: /GET manifest .*team\/b:1: not sent: the pull limit of .* is used up/ });
  assert.equal(hub.count({ kind: 'manifest', method: 'GET', status: 429 }), 1, 'one GET refused; none sent after it');
});

test('one host, one account named by docker-ratelimit-source: a second login of that account is refused unsent once the first\'s 429 said the account\'s limit is used up', async () => {
  const hub = await hubLike();
  hub.seedImage('team/app', { tags: ['1'] });
  hub.seedImage('mirror/app', { tags: ['1'] });
  hub.fault({ kind: 'manifest', method: 'GET', repo: 'mirror/app' }, { ...usedUp, headers: { ...usedUp.headers, 'docker-ratelimit-source': 'acct-1' } }, { times: 1 });
  // The other login's answers name the same account.
  hub.fault({ kind: 'manifest', method: 'HEAD', repo: 'team/app' }, { kind: 'status', status: 200, headers: { 'docker-ratelimit-source': 'acct-1', 'ratelimit-remaining': '0;w=21600', 'docker-content-digest': `sha256:${'a'.repeat(64)}` } });
  const transport = new Transport({ retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 2 } });
  const first = new HttpRegistryClient({ registry: hub.host, transport, insecure: [hub.host], scopes: ['repository:mirror/app:pull,push'], credential: async () => login });
  const second = new HttpRegistryClient({ registry: hub.host, transport, insecure: [hub.host], scopes: ['repository:team/app:pull'], credential: async () => ({ ...login, password: 'another token of the account' }) });
  await second.headManifest('team/app', '1');
  await assert.rejects(first.getManifest('mirror/app', '1'), (e: RegpushError) => e.code === 'E_TOO_MANY_REQUESTS' && e.details.pullLimitSpent === true);
  await assert.rejects(second.getManifest('team/app', '1'), { name: 'TooManyRequestsError', code: 'E_TOO_MANY_REQUESTS', message: /not sent: the pull limit/ });
  assert.equal(hub.requests({ kind: 'manifest', method: 'GET', repo: 'team/app' }).length, 0);
});

test('Docker Hub to Docker Hub, anonymous source, logged-in target, no --max-wait: a 429 at the target\'s referrers fallback-tag GET does not stop the source\'s pulls; every later image is copied', { timeout: 20_000 }, async () => {
  const hub = await hubLike();
  const spec = withNotes(hub, hub, 4);
  hub.fault({ kind: 'manifest', method: 'GET', path: /^\/v2\/mirror\/team\/app0\/manifests\/sha256-/ }, usedUp, { times: 1 });
  const r = await partial({ spec, images: 1, retries: 0, credentials: { to: login }, ...fakeLibraryOptions(hub) } as SyncOpts);
  assert.equal(r.totals.copied, 3, said(r));
  const app0 = r.units.find((u) => u.source.endsWith('/team/app0:1'))!;
  assert.equal(app0.targets[0]!.error!.code, 'E_TOO_MANY_REQUESTS', said(r));
  assert.match(app0.targets[0]!.error!.message, /pull limit is used up/);
  for (let i = 1; i < 4; i++) assert.ok(hub.requests({ kind: 'manifest', method: 'GET', repo: `team/app${i}` }).some((q) => q.status === 200), `team/app${i} read at the source`);
});

test('another registry to Docker Hub with referrers: after a 429 at the target\'s fallback-tag GET, a later answer there with pulls left (its free HEADs) lets the target\'s GETs go again; the later images are copied', { timeout: 20_000 }, async () => {
  const other = await fake({ referrers: false });
  const hub = await hubLike();
  const spec = withNotes(other, hub, 4);
  hub.fault({ kind: 'manifest', method: 'GET', path: /^\/v2\/mirror\/team\/app0\/manifests\/sha256-/ }, usedUp, { times: 1 });
  const r = await partial({ spec, images: 1, retries: 0, credentials: { to: login }, ...fakeLibraryOptions(other, hub) } as SyncOpts);
  assert.equal(r.totals.copied, 3, said(r));
  for (let i = 1; i < 4; i++) assert.ok(hub.requests({ kind: 'manifest', method: 'GET', repo: `mirror/team/app${i}` }).length > 0, `mirror/team/app${i}'s fallback tag read at the target`);
});

test('sync, two entries at one Docker Hub like source read by two readers (a login for team/, anonymous for other/), no --max-wait: the login\'s used-up limit stops its own entries\' pulls, not the anonymous reader\'s', { timeout: 20_000 }, async () => {
  const hub = await hubLike();
  const dst = await fake();
  for (let i = 0; i < 2; i++) for (const ns of ['team', 'other']) hub.seedImage(`${ns}/app${i}`, { tags: ['1'] });
  const sources = [0, 1].flatMap((i) => [`${hub.ref(`team/app${i}`)}:1`, `${hub.ref(`other/app${i}`)}:1`]);
  const spec = parseSyncFile(['defaults:', `  targets: [${dst.host}/mirror]`, 'images:', ...sources.map((s) => `  - source: ${s}`), ''].join('\n'), 'sync.yaml');
  hub.fault({ kind: 'manifest', method: 'GET', repo: 'team/app0' }, usedUp, { times: 1 });
  const err: RegpushError & { details: { result?: SyncResult } } = await sync({ spec, images: 1, retries: 0, credentials: { registries: { [`${hub.host}/team`]: login } }, ...fakeLibraryOptions(hub, dst) } as SyncOpts).then(
    () => assert.fail('the sync succeeded'),
    (e: RegpushError & { details: { result?: SyncResult } }) => e,
  );
  // The login's limit used up still ends the sync with its exit (5), the others copied.
  assert.equal(err.code, 'E_TOO_MANY_REQUESTS', err.message);
  const r = err.details.result!;
  assert.deepEqual(r.units.filter((u) => u.ok).map((u) => u.source).sort(), [`${hub.ref('other/app0')}:1`, `${hub.ref('other/app1')}:1`], said(r));
  const app1 = r.units.find((u) => u.source.endsWith('/team/app1:1'))!;
  assert.equal(app1.error?.code, 'E_TOO_MANY_REQUESTS', said(r));
  assert.match(app1.error!.message, /not copied: it needs a pull at .*whose pull limit is used up/);
  assert.equal(hub.count({ kind: 'manifest', method: 'GET', repo: 'team/app1' }), 0, 'the login\'s next GET not sent');
});

test('sync under --min-ratelimit, Docker Hub to Docker Hub with two readers (anonymous source, logged-in target): the source\'s images are held by the count the source\'s answers bring, not the target account\'s', { timeout: 20_000 }, async () => {
  const hub = await hubLike();
  for (let i = 0; i < 3; i++) hub.seedImage(`team/app${i}`, { tags: ['1'] });
  const spec = parseSyncFile(['defaults:', `  targets: [${hub.host}/mirror]`, 'images:', ...[0, 1, 2].map((i) => `  - source: ${hub.ref(`team/app${i}`)}:1`), ''].join('\n'), 'sync.yaml');
  // The target's account has 2 pulls left (below the reserve of 5): each of its answers says so.
  // The source reads anonymously, with the registry's own count (50 and down).
  hub.fault({ kind: 'manifest', method: 'HEAD', path: /^\/v2\/mirror\// }, { kind: 'status', status: 404, code: 'MANIFEST_UNKNOWN', headers: { 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '2;w=21600' } });
  const r = await sync({ spec, images: 1, retries: 0, minRateLimit: 5, credentials: { to: login }, ...fakeLibraryOptions(hub) } as SyncOpts);
  assert.equal(r.totals.copied, 3, said(r));
});

test('sync, two readers of one registry (a login for team/, anonymous for other/) whose pull limits are both used up, and a second registry\'s: the error names each used-up limit and whose it is, not the first alone', { timeout: 20_000 }, async () => {
  const hub = await hubLike();
  const second = await fake({ rateLimit: { limit: 200, remaining: 0 } });
  const dst = await fake();
  for (const ns of ['team', 'other']) hub.seedImage(`${ns}/app`, { tags: ['1'] });
  second.seedImage('lib/app', { tags: ['1'] });
  const sources = [`${hub.ref('team/app')}:1`, `${hub.ref('other/app')}:1`, `${second.ref('lib/app')}:1`];
  const spec = parseSyncFile(['defaults:', `  targets: [${dst.host}/mirror]`, 'images:', ...sources.map((s) => `  - source: ${s}`), ''].join('\n'), 'sync.yaml');
  hub.fault({ kind: 'manifest', method: 'GET', repo: 'team/app' }, usedUp, { times: 1 });
  hub.fault({ kind: 'manifest', method: 'GET', repo: 'other/app' }, { ...usedUp, headers: { 'ratelimit-limit': '10;w=3600', 'ratelimit-remaining': '0;w=3600' } }, { times: 1 });
  const err: RegpushError = await sync({ spec, images: 1, retries: 0, credentials: { registries: { [`${hub.host}/team`]: login } }, ...fakeLibraryOptions(hub, second, dst) } as SyncOpts).then(
    () => assert.fail('the sync succeeded'),
    (e: RegpushError) => e,
  );
  assert.equal(err.code, 'E_TOO_MANY_REQUESTS', err.message);
  assert.equal(
    err.message,
    `the pull limits of 3 readers are used up (${hub.host} (as bot): ratelimit-remaining 0 of 100 per 6 h; ${hub.host} (anonymous): ratelimit-remaining 0 of 10 per 1 h; ${second.host}: ratelimit-remaining 0 of 200 per 6 h): 3 images that needed pulls there were not copied, each stopped at its first refused pull or before it; a re-run once the limits have come back copies what is missing`,
  );
  assert.deepEqual(err.details.registries, [hub.host, second.host]);
  assert.ok(!err.message.includes(login.password));
});

test('one reader keeps one owner key for the run: a docker-ratelimit-source named only after its 429 (by a free HEAD) does not move its used-up mark away, so its next GET is refused unsent, not sent to be refused again', async () => {
  const hub = await hubLike();
  hub.seedImage('team/app', { tags: ['1'] });
  hub.seedImage('team/other', { tags: ['1'] });
  // The 429 names no account; the HEAD after it does (Docker Hub sends docker-ratelimit-source on its manifest answers).
  hub.fault({ kind: 'manifest', method: 'GET', repo: 'team/app' }, usedUp, { times: 1 });
  hub.fault({ kind: 'manifest', method: 'HEAD', repo: 'team/other' }, { kind: 'status', status: 200, headers: { 'docker-ratelimit-source': 'acct-1', 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '0;w=21600', 'docker-content-digest': `sha256:${'a'.repeat(64)}` } });
  const transport = new Transport({ retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 2 } });
  const client = (repo: string) => new HttpRegistryClient({ registry: hub.host, transport, insecure: [hub.host], scopes: [`repository:${repo}:pull`], credential: async () => login });
  await assert.rejects(client('team/app').getManifest('team/app', '1'), (e: RegpushError) => e.code === 'E_TOO_MANY_REQUESTS' && e.details.pullLimitSpent === true);
  const other = client('team/other');
  await other.headManifest('team/other', '1');
  await assert.rejects(other.getManifest('team/other', '1'), { name: 'TooManyRequestsError', code: 'E_TOO_MANY_REQUESTS', message: /not sent: the pull limit/ });
  assert.equal(hub.count({ kind: 'manifest', method: 'GET', repo: 'team/other' }), 0, 'no GET sent after the refused one');
});

/** Runs `fn` counting the pull-owner lookups of the run's registry clients (each a credential lookup: a credential helper's run, perhaps). */
async function countingOwners<T>(fn: () => Promise<T>): Promise<{ value: T; asked: number }> {
  const proto = HttpRegistryClient.prototype;
  const original = Object.getOwnPropertyDescriptor(proto, 'pullsOwner')!;
  let asked = 0;
  Object.defineProperty(proto, 'pullsOwner', {
    ...original,
    value(this: HttpRegistryClient) {
      asked++;
      return (original.value as () => Promise<string>).call(this);
    },
  });
  try {
    return { value: await fn(), asked };
  } finally {
    Object.defineProperty(proto, 'pullsOwner', original);
  }
}

/** Runs `fn` counting the source credential lookups the run makes (AuthMemory.credential's lookups that run: a credential helper's run, perhaps), by key. */
async function countingLookups<T>(fn: () => Promise<T>): Promise<{ value: T; looked: string[] }> {
  const proto = AuthMemory.prototype;
  const original = Object.getOwnPropertyDescriptor(proto, 'credential')!;
  const looked: string[] = [];
  Object.defineProperty(proto, 'credential', {
    ...original,
    value(this: AuthMemory, key: string, lookup: () => Promise<unknown>) {
      return (original.value as (k: string, l: () => Promise<unknown>) => Promise<unknown>).call(this, key, () => {
        if (key.startsWith('from ')) looked.push(key);
        return lookup();
      });
    },
  });
  try {
    return { value: await fn(), looked };
  } finally {
    Object.defineProperty(proto, 'credential', original);
  }
}

test('sync: whose pulls an image spends (a credential lookup) is not asked at all while no pull limit is used up; after one is, asked per image, it looks the credential up once per source repository', { timeout: 20_000 }, async () => {
  const hub = await hubLike();
  const dst = await fake();
  for (let i = 0; i < 4; i++) hub.seedImage(`team/app${i}`, { tags: ['1'] });
  const spread = parseSyncFile(['defaults:', `  targets: [${dst.host}/mirror]`, 'images:', ...[0, 1, 2, 3].map((i) => `  - source: ${hub.ref(`team/app${i}`)}:1`), ''].join('\n'), 'sync.yaml');
  const quiet = await countingOwners(() => sync({ spec: spread, images: 2, retries: 0, credentials: { from: login }, ...fakeLibraryOptions(hub, dst) } as SyncOpts));
  assert.equal(quiet.value.totals.copied, 4);
  assert.equal(quiet.asked, 0, 'no owner asked while no limit is used up');
  // Four tags of one repository, its first GET refused so: the others are refused unsent, the owner asked once.
  hub.seedImage('team/tags', { tags: ['1', '2', '3', '4'] });
  hub.fault({ kind: 'manifest', method: 'GET', repo: 'team/tags' }, usedUp, { times: 1 });
  const tagged = parseSyncFile(['images:', `  - { source: ${hub.ref('team/tags')}, tags: ["1", "2", "3", "4"], targets: [${dst.host}/tags] }`, ''].join('\n'), 'sync.yaml');
  const spent = await countingLookups(() => sync({ spec: tagged, images: 1, retries: 0, credentials: { from: login }, ...fakeLibraryOptions(hub, dst) } as SyncOpts).then(() => assert.fail('the sync succeeded'), (e: RegpushError) => e));
  assert.equal(spent.value.code, 'E_TOO_MANY_REQUESTS', spent.value.message);
  const r = spent.value.details.result as SyncResult;
  assert.equal(r.units.filter((u) => u.error?.code === 'E_TOO_MANY_REQUESTS' && /not copied: it needs a pull/.test(u.error.message)).length, 3, said(r));
  assert.equal(hub.count({ kind: 'manifest', method: 'GET', repo: 'team/tags', status: 429 }), 1);
  assert.deepEqual(spent.looked, [`from ${hub.host}/team/tags`], 'the credential looked up once for the four images');
});

test('sync under --min-ratelimit from a registry that sends no pull counts: once its first answers carried no count, no later image\'s source looks its credential up to say who reads there (the gate has no count to hold it by)', { timeout: 20_000 }, async () => {
  const src = await fake();
  const dst = await fake();
  for (let i = 0; i < 3; i++) src.seedImage(`team/app${i}`, { tags: ['1'] });
  const spec = parseSyncFile(['defaults:', `  targets: [${dst.host}/mirror]`, 'images:', ...[0, 1, 2].map((i) => `  - source: ${src.ref(`team/app${i}`)}:1`), ''].join('\n'), 'sync.yaml');
  const run = await countingLookups(() => sync({ spec, images: 1, retries: 0, minRateLimit: 5, credentials: { from: login }, ...fakeLibraryOptions(src, dst) } as SyncOpts));
  assert.equal(run.value.totals.copied, 3, said(run.value));
  assert.equal(src.count({ kind: 'manifest', method: 'GET' }) > 0, true, 'the images were read');
  // The first image's, asked before anything was heard; none after the registry's answers said no count.
  assert.deepEqual(run.looked, [`from ${src.host}/team/app0`], 'one credential lookup, not one per image');
});

test('sync under --min-ratelimit through a mirror: the images read from the mirror are metered as the mirror\'s reads, not held by the upstream\'s count (a mirror\'s reads do not spend the upstream\'s pulls)', { timeout: 20_000 }, async () => {
  // The upstream, also the target, says 2 pulls left on each manifest answer: below the reserve of 5.
  const upstream = await fake({ rateLimit: { limit: 100, remaining: 2 } });
  const mirror = await fake();
  for (let i = 0; i < 3; i++) mirror.seedImage(`team/app${i}`, { tags: ['1'] });
  const spec = parseSyncFile(['defaults:', `  targets: [${upstream.host}/mirror]`, 'images:', ...[0, 1, 2].map((i) => `  - source: ${upstream.ref(`team/app${i}`)}:1`), ''].join('\n'), 'sync.yaml');
  const r = await sync({ spec, images: 1, retries: 0, minRateLimit: 5, mirrors: { [upstream.host]: [mirror.host] }, ...fakeLibraryOptions(upstream, mirror) } as SyncOpts);
  assert.equal(r.totals.copied, 3, said(r));
  assert.equal(upstream.count({ kind: 'manifest', method: 'GET' }), 0, 'no pull at the upstream');
  assert.ok(upstream.count({ kind: 'manifest', method: 'HEAD' }) > 0, 'the upstream sent its count (its target HEADs)');
});

test('a manifest GET queued for the connection a used-up 429 comes back on is cut unsent: the mark is set as the 429\'s headers arrive, before its body is read and the connection handed on', async () => {
  const reg = await fake({ rateLimit: { limit: 100, remaining: 0 } });
  reg.seedImage('team/a', { tags: ['1'] });
  reg.seedImage('team/b', { tags: ['1'] });
  // a's GET is answered only once b's GET has reached the socket layer, where it waits for the one connection a's holds.
  let bQueued!: () => void;
  const queued = new Promise<void>((resolve) => (bQueued = resolve));
  reg.fault({ kind: 'manifest', method: 'GET', repo: 'team/a' }, { kind: 'hold', until: queued }, { times: 1 });
  const seenB: Middleware = (next) => (req) => {
    if (req.method === 'GET' && req.url.includes('/team/b/manifests/')) bQueued();
    return next(req);
  };
  const transport = new Transport({ retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 2 }, maxSockets: 1, inner: [seenB] });
  const client = (repo: string) => new HttpRegistryClient({ registry: reg.host, transport, insecure: [reg.host], scopes: [`repository:${repo}:pull`] });
  const a = client('team/a').getManifest('team/a', '1');
  await reg.seen({ kind: 'manifest', method: 'GET', repo: 'team/a' });
  const b = client('team/b').getManifest('team/b', '1');
  await assert.rejects(a, (e: RegpushError) => e.code === 'E_TOO_MANY_REQUESTS' && e.details.pullLimitSpent === true);
  await assert.rejects(b, { name: 'TooManyRequestsError', code: 'E_TOO_MANY_REQUESTS', message: /GET manifest .*team\/b:1: not sent: the pull limit of .* is used up/ });
  assert.equal(reg.count({ kind: 'manifest', method: 'GET', repo: 'team/b' }), 0, 'b\'s GET never sent');
  transport.close();
});

test('sync through a mirror: the upstream\'s used-up 429, met by an image the mirror lacks, stops the upstream\'s reader only: the next image, which the mirror has, is still read from the mirror, and one the mirror lacks sends the upstream no GET', { timeout: 20_000 }, async () => {
  const upstream = await fake({ rateLimit: { limit: 100, remaining: 50 } });
  const mirror = await fake();
  const dst = await fake();
  upstream.seedImage('team/a', { tags: ['1'] });
  upstream.seedImage('team/c', { tags: ['1'] });
  mirror.seedImage('team/b', { tags: ['1'] });
  upstream.fault({ kind: 'manifest', method: 'GET', repo: 'team/a' }, usedUp, { times: 1 });
  // One image at a time, in the file's order: a's 429 comes before b and c start.
  const spec = parseSyncFile(['defaults:', `  targets: [${dst.host}/copy]`, 'images:', ...['a', 'b', 'c'].map((n) => `  - source: ${upstream.ref(`team/${n}`)}:1`), ''].join('\n'), 'sync.yaml');
  const r = await partial({ spec, images: 1, retries: 0, mirrors: { [upstream.host]: [mirror.host] }, ...fakeLibraryOptions(upstream, mirror, dst) } as SyncOpts);
  const unit = (n: string) => r.units.find((u) => u.source === `${upstream.ref(`team/${n}`)}:1`)!;
  assert.equal(unit('a').error?.code, 'E_TOO_MANY_REQUESTS', said(r));
  assert.match(unit('a').error?.message ?? '', /the pull limit is used up/, said(r));
  assert.equal(unit('b').ok, true, said(r));
  assert.equal(unit('c').ok, false, said(r));
  assert.equal(unit('c').error?.code, 'E_TOO_MANY_REQUESTS', said(r));
  assert.equal(upstream.count({ kind: 'manifest', method: 'GET' }), 1, 'one GET at the upstream: the refused one');
});

test('sync through a mirror, tags listed: the registry\'s used-up limit met by one listing refuses the next listing unsent (tag lists are read at the registry, so it is the registry\'s reader that is asked, not the first mirror\'s)', { timeout: 20_000 }, async () => {
  const upstream = await fake({ rateLimit: { limit: 100, remaining: 50 } });
  const mirror = await fake();
  const dst = await fake();
  const repos = ['a', 'h1', 'h2', 'h3', 'b'];
  for (const n of repos) upstream.seedImage(`team/${n}`, { tags: ['1'] });
  upstream.fault({ kind: 'tags', repo: 'team/a' }, usedUp, { times: 1 });
  // Four listings at once: h1–h3 keep theirs until b's turn has come (a's failure freed its place)
  // and b's reader has been asked whether its limit is used up; b's listing, if sent, goes then.
  let bAsked!: () => void;
  const asked = new Promise<void>((resolve) => (bAsked = resolve));
  for (const n of ['h1', 'h2', 'h3']) upstream.fault({ kind: 'tags', repo: `team/${n}` }, { kind: 'hold', until: asked });
  const proto = HttpRegistryClient.prototype;
  const original = Object.getOwnPropertyDescriptor(proto, 'pullsOwner')!;
  Object.defineProperty(proto, 'pullsOwner', {
    ...original,
    value(this: HttpRegistryClient, repo?: string) {
      if (repo === 'team/b') bAsked();
      return (original.value as () => Promise<string>).call(this);
    },
  });
  const spec = parseSyncFile(['defaults:', `  targets: [${dst.host}/copy]`, 'images:', ...repos.map((n) => `  - { source: ${upstream.ref(`team/${n}`)}, tags: all }`), ''].join('\n'), 'sync.yaml');
  let r: SyncResult;
  try {
    r = await partial({ spec, images: 1, retries: 0, mirrors: { [upstream.host]: [mirror.host] }, ...fakeLibraryOptions(upstream, mirror, dst) } as SyncOpts);
  } finally {
    Object.defineProperty(proto, 'pullsOwner', original);
  }
  assert.equal(upstream.count({ kind: 'tags', repo: 'team/b' }), 0, `b's listing not sent\n${said(r)}`);
  const b = r.units.find((u) => u.source.includes('/team/b'));
  assert.equal(b?.error?.code, 'E_TOO_MANY_REQUESTS', said(r));
  assert.match(b?.error?.message ?? '', /not attempted: the pull limit of .* is used up/, said(r));
});

test('sync: a reader whose owner key moves mid-run (anonymous, then named by an answer as the account a login there already goes by) is one reader: the used-up limit is named once, not as two readers\' limits', { timeout: 20_000 }, async () => {
  const hub = await hubLike();
  const dst = await fake();
  hub.seedImage('team/a', { tags: ['1'] });
  hub.seedImage('other/b', { tags: ['1'] });
  // Both 429s name one account: the login's for team/ first (its owner key is the account's from
  // then), then the anonymous reader's for other/, asked for its owner before its answer named it.
  const named = { ...usedUp, headers: { ...usedUp.headers, 'docker-ratelimit-source': 'acct-1' } };
  hub.fault({ kind: 'manifest', method: 'GET', repo: 'team/a' }, named, { times: 1 });
  hub.fault({ kind: 'manifest', method: 'GET', repo: 'other/b' }, named, { times: 1 });
  const spec = parseSyncFile(['defaults:', `  targets: [${dst.host}/copy]`, 'images:', `  - source: ${hub.ref('team/a')}:1`, `  - source: ${hub.ref('other/b')}:1`, ''].join('\n'), 'sync.yaml');
  const err: RegpushError = await sync({ spec, images: 1, retries: 0, credentials: { registries: { [`${hub.host}/team`]: login } }, ...fakeLibraryOptions(hub, dst) } as SyncOpts).then(
    () => assert.fail('the sync succeeded'),
    (e: RegpushError) => e,
  );
  assert.equal(err.code, 'E_TOO_MANY_REQUESTS', err.message);
  assert.equal(
    err.message,
    `${hub.host}: the pull limit is used up (ratelimit-remaining 0 of 100 per 6 h): 2 images that needed pulls there were not copied, each stopped at its first refused pull or before it; a re-run once the limit has come back copies what is missing`,
  );
});
