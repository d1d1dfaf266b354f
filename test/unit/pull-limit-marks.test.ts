// When a manifest GET's answer marks a pull limit used up, and what that costs a read that meets
// none. Whose pulls a GET spends is a credential lookup (a config file read, perhaps a credential
// helper's run): asked only once an answer says a limit may be used up, never alongside every GET
// of a registry that counts no pulls (a private registry:2, GHCR). A 429 whose count says 0 of a
// long window but which names a short wait (a Retry-After header, or GHCR's `retry-after: 1.5ms`
// in its error body) is an ordinary 429, retried by the one retry level, not a used-up limit.
// Fake registries (test/fixtures/fake-registry.ts); the refusals are scripted faults, never timings.
import type { ServerResponse } from 'node:http';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RegpushError } from '../../src/index.js';
import { Transport } from '../../src/http/transport.js';
import type { Middleware } from '../../src/http/types.js';
import { HttpRegistryClient } from '../../src/registry/http-registry-client.js';
import { fakeRegistryPool } from '../fixtures/fake-registry.js';
import { usedUp } from '../fixtures/pull-limit-sync.js';
import { waitFor } from '../fixtures/wait-for.js';

const fake = fakeRegistryPool();

const login = { username: 'bot', password: 'secret' };

/** A credential source counting its lookups, answering `login` once `ready` (at once without it). */
function counted(ready?: Promise<void>): { credential: () => Promise<typeof login>; lookups: () => number } {
  let n = 0;
  return {
    credential: async () => {
      n++;
      await ready;
      return login;
    },
    lookups: () => n,
  };
}

test('reads of a registry that sends no rate-limit headers look up no credential: manifest HEADs and GETs, from two clients', async () => {
  const reg = await fake();
  reg.seedImage('team/a', { tags: ['1', '2'] });
  const transport = new Transport({ retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 2 } });
  const sources = [counted(), counted()];
  for (const source of sources) {
    const client = new HttpRegistryClient({ registry: reg.host, transport, insecure: [reg.host], scopes: ['repository:team/a:pull'], credential: source.credential });
    await client.headManifest('team/a', '1');
    await client.getManifest('team/a', '1');
    await Promise.all([client.getManifest('team/a', '2'), client.getManifest('team/a', '1')]);
  }
  assert.equal(reg.count({ kind: 'manifest', method: 'GET' }), 6);
  assert.deepEqual(
    sources.map((s) => s.lookups()),
    [0, 0],
    'no credential lookup',
  );
  transport.close();
});

test('a used-up 429 from a registry that sent no count before it: marked for its reader once the lookup it needs ends; a GET queued for its connection is not sent meanwhile; another reader there is not refused', async () => {
  const reg = await fake({ rateLimit: { limit: 100, remaining: 0 } });
  for (const repo of ['team/a', 'team/b', 'team/c']) reg.seedImage(repo, { tags: ['1'] });
  // a's GET is answered only once b's GET has reached the socket layer, where it waits for the one
  // connection a's holds; a's credential lookup ends only once b's GET is cut unsent, or answered.
  let bQueued!: () => void;
  const queued = new Promise<void>((resolve) => (bQueued = resolve));
  let bDone!: () => void;
  const done = new Promise<void>((resolve) => (bDone = resolve));
  reg.fault({ kind: 'manifest', method: 'GET', repo: 'team/a' }, { kind: 'hold', until: queued }, { times: 1 });
  const seenB: Middleware = (next) => async (req) => {
    if (req.method !== 'GET' || !req.url.includes('/team/b/manifests/')) return next(req);
    req.unsentSignal?.addEventListener('abort', () => bDone(), { once: true });
    bQueued();
    try {
      return await next(req);
    } finally {
      bDone();
    }
  };
  const transport = new Transport({ retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 2 }, maxSockets: 1, inner: [seenB] });
  const aSource = counted(done);
  const bSource = counted();
  const client = (repo: string, credential?: () => Promise<typeof login>) => new HttpRegistryClient({ registry: reg.host, transport, insecure: [reg.host], scopes: [`repository:${repo}:pull`], credential });
  const a = client('team/a', aSource.credential).getManifest('team/a', '1');
  await reg.seen({ kind: 'manifest', method: 'GET', repo: 'team/a' });
  const b = client('team/b', bSource.credential).getManifest('team/b', '1');
  await assert.rejects(a, (e: RegpushError) => e.code === 'E_TOO_MANY_REQUESTS' && e.details.pullLimitSpent === true);
  await assert.rejects(b, { name: 'TooManyRequestsError', code: 'E_TOO_MANY_REQUESTS', message: /GET manifest .*team\/b:1: not sent: the pull limit of .* is used up/ });
  assert.equal(reg.count({ kind: 'manifest', method: 'GET', repo: 'team/b' }), 0, 'b\'s GET (the same login) never sent');
  assert.equal(aSource.lookups(), 1);
  // An anonymous reader's count is another one: its GET is sent (and refused by the registry, whose count is global here).
  await assert.rejects(client('team/c').getManifest('team/c', '1'), (e: RegpushError) => e.code === 'E_TOO_MANY_REQUESTS' && e.details.pullLimitSpent === true && !/not sent/.test(e.message));
  assert.equal(reg.count({ kind: 'manifest', method: 'GET', repo: 'team/c' }), 1);
  transport.close();
});

test('a GET held while a used-up 429 is being decided stops waiting when its operation is cancelled (E_ABORTED), not once the decision ends', async () => {
  const reg = await fake({ rateLimit: { limit: 100, remaining: 0 } });
  for (const repo of ['team/a', 'team/b']) reg.seedImage(repo, { tags: ['1'] });
  // a's credential lookup, which the decision on its 429 needs, ends only once the test says so.
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const transport = new Transport({ retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 2 }, maxSockets: 1 });
  let held = 0;
  const pending = transport.stats.spendsPending.bind(transport.stats);
  transport.stats.spendsPending = (host) => {
    const deciding = pending(host);
    if (deciding) held++;
    return deciding;
  };
  const client = (repo: string, credential: () => Promise<typeof login>, signal?: AbortSignal) =>
    new HttpRegistryClient({ registry: reg.host, transport, insecure: [reg.host], scopes: [`repository:${repo}:pull`], credential, signal });
  const a = client('team/a', counted(released).credential).getManifest('team/a', '1');
  a.catch(() => undefined);
  await reg.seen({ kind: 'manifest', method: 'GET', repo: 'team/a' });
  const cancel = new AbortController();
  const b = client('team/b', counted().credential, cancel.signal).getManifest('team/b', '1');
  await waitFor('b held behind the decision on a\'s 429', () => held > 0);
  cancel.abort();
  await assert.rejects(b, (e: RegpushError) => e.code === 'E_ABORTED');
  assert.equal(reg.count({ kind: 'manifest', method: 'GET', repo: 'team/b' }), 0, 'b\'s GET never sent');
  release();
  await assert.rejects(a, (e: RegpushError) => e.code === 'E_TOO_MANY_REQUESTS' && e.details.pullLimitSpent === true);
  transport.close();
});

test('a 429 whose count says 0 of a 6 h window but which names a short wait (in its error body, or a Retry-After) is retried, not taken for a used-up limit: the GET queued behind it and the next GETs are sent; without the wait it is one', async () => {
  const ghcr = JSON.stringify({ errors: [{ code: 'TOOMANYREQUESTS', message: 'retry-after: 1.5ms, allowed: 44000/minute' }] });
  const waits: Record<string, Record<string, string>> = { 'in its error body': {}, 'in a Retry-After': { 'retry-after': '0' } };
  for (const [where, wait] of Object.entries(waits)) {
    const reg = await fake();
    for (const repo of ['team/a', 'team/b']) reg.seedImage(repo, { tags: ['1', '2'] });
    let bQueued!: () => void;
    const queued = new Promise<void>((resolve) => (bQueued = resolve));
    // a's first GET is answered so only once b's GET waits for the one connection a's holds.
    const refuse = (_q: unknown, _b: unknown, res: ServerResponse): void => {
      void queued.then(() => {
        res.writeHead(429, { 'content-type': 'application/json', ...usedUp.headers, ...wait });
        res.end(ghcr);
      });
    };
    reg.fault({ kind: 'manifest', method: 'GET', repo: 'team/a' }, { kind: 'respond', respond: refuse }, { times: 1 });
    const seenB: Middleware = (next) => (req) => {
      if (req.method === 'GET' && req.url.includes('/team/b/manifests/')) bQueued();
      return next(req);
    };
    const transport = new Transport({ retry: { retries: 2, baseDelayMs: 1, maxDelayMs: 2 }, maxSockets: 1, inner: [seenB] });
    const source = counted();
    const client = (repo: string) => new HttpRegistryClient({ registry: reg.host, transport, insecure: [reg.host], scopes: [`repository:${repo}:pull`], credential: source.credential });
    const a = client('team/a').getManifest('team/a', '1');
    await reg.seen({ kind: 'manifest', method: 'GET', repo: 'team/a' });
    const b = client('team/b').getManifest('team/b', '1');
    assert.ok((await a).digest.startsWith('sha256:'), where);
    assert.ok((await b).digest.startsWith('sha256:'), where);
    assert.ok((await client('team/a').getManifest('team/a', '2')).digest.startsWith('sha256:'), where);
    assert.deepEqual(
      reg.requests({ kind: 'manifest', method: 'GET', repo: 'team/a' }).map((q) => q.status),
      [429, 200, 200],
      where,
    );
    assert.equal(source.lookups(), 0, `${where}: no credential lookup for an ordinary 429`);
    transport.close();
  }
  // The same 429 naming no wait: the limit is used up, the GET not retried, the next one not sent.
  const reg = await fake();
  reg.seedImage('team/a', { tags: ['1', '2'] });
  reg.fault({ kind: 'manifest', method: 'GET', repo: 'team/a' }, usedUp, { times: 1 });
  const transport = new Transport({ retry: { retries: 2, baseDelayMs: 1, maxDelayMs: 2 } });
  const client = new HttpRegistryClient({ registry: reg.host, transport, insecure: [reg.host], scopes: ['repository:team/a:pull'] });
  await assert.rejects(client.getManifest('team/a', '1'), (e: RegpushError) => e.code === 'E_TOO_MANY_REQUESTS' && e.details.pullLimitSpent === true);
  await assert.rejects(client.getManifest('team/a', '2'), { name: 'TooManyRequestsError', code: 'E_TOO_MANY_REQUESTS', message: /not sent: the pull limit/ });
  assert.equal(reg.count({ kind: 'manifest', method: 'GET', repo: 'team/a' }), 1);
  transport.close();
});
