// Rate-limit header parsing and the transport statistics middleware.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { countOf, hostKey, parseRateLimitHeader, statsMiddleware, TransportStats } from '../../src/http/stats.js';
import type { HttpResponse } from '../../src/http/types.js';
import { Transport } from '../../src/http/transport.js';
import { HttpRegistryClient } from '../../src/registry/http-registry-client.js';

describe('parseRateLimitHeader', () => {
  it('reads Docker Hub\'s "100;w=21600" and bare numbers; refuses junk', () => {
    assert.deepEqual(parseRateLimitHeader('100;w=21600'), { value: 100, window: 21600 });
    assert.deepEqual(parseRateLimitHeader('76'), { value: 76 });
    assert.deepEqual(parseRateLimitHeader('5;w=60, 10;w=3600'), { value: 5, window: 60 });
    assert.deepEqual(parseRateLimitHeader('42; comment="x"'), { value: 42 });
    assert.equal(parseRateLimitHeader('lots'), undefined);
    assert.equal(parseRateLimitHeader(undefined), undefined);
  });
});

describe('statsMiddleware', () => {
  it('counts requests and keeps the last and lowest remaining per host', async () => {
    const stats = new TransportStats();
    const replies = ['80', '79', '81'];
    const send = statsMiddleware(stats)(async (req) => {
      const headers: Record<string, string> = req.url.includes('hub') ? { 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': `${replies.shift()};w=21600` } : {};
      return { status: 200, headers, url: req.url, body: Readable.from([]) } as HttpResponse;
    });
    for (let i = 0; i < 3; i++) await send({ method: 'GET', url: 'https://hub.example/v2/x/manifests/1' });
    await send({ method: 'GET', url: 'https://other.example/v2/' });
    stats.retried();
    assert.deepEqual(stats.snapshot(), {
      requests: 4,
      retries: 1,
      rateLimits: [{ registry: 'hub.example', limit: 100, remaining: 81, lowestRemaining: 79, windowSeconds: 21600 }],
    });
  });
  it('watch(): each rate-limit record as it changes, until stopped; responses without the headers say nothing', async () => {
    const stats = new TransportStats();
    const seen: [string, number | undefined][] = [];
    const stop = stats.watch((r) => seen.push([r.registry, r.remaining]));
    const send = statsMiddleware(stats)(async (req) => {
      const headers: Record<string, string> = req.url.includes('hub') ? { 'ratelimit-remaining': '7;w=21600' } : {};
      return { status: 200, headers, url: req.url, body: Readable.from([]) } as HttpResponse;
    });
    await send({ method: 'HEAD', url: 'https://hub.example/v2/x/manifests/1' });
    await send({ method: 'GET', url: 'https://other.example/v2/' });
    stop();
    await send({ method: 'HEAD', url: 'https://hub.example/v2/x/manifests/1' });
    assert.deepEqual(seen, [['hub.example', 7]]);
  });
  it('a 429 without a count of its own stands for the count its host sent last (countBefore, countOf); one with its own, or from a host never counted, does not', async () => {
    const stats = new TransportStats();
    const answers: [number, Record<string, string>][] = [
      [200, { 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '0;w=21600' }],
      [429, {}],
      [429, { 'ratelimit-remaining': '3;w=3600' }],
      [429, {}],
    ];
    const send = statsMiddleware(stats)(async (req) => {
      const [status, headers] = req.url.includes('hub') ? answers.shift()! : [429, {}];
      return { status, headers, url: req.url, body: Readable.from([]) } as HttpResponse;
    });
    const url = 'https://hub.example/v2/x/manifests/1';
    await send({ method: 'HEAD', url });
    const bare = await send({ method: 'GET', url });
    assert.deepEqual(bare.countBefore, { remaining: '0;w=21600', limit: '100;w=21600' });
    assert.deepEqual(countOf(bare), { remaining: '0;w=21600', limit: '100;w=21600' });
    const own = await send({ method: 'GET', url });
    assert.equal(own.countBefore, undefined);
    assert.deepEqual(countOf(own), { remaining: '3;w=3600', limit: undefined });
    // The latest count is the one that stands: 3 (without a limit header) after the 0.
    assert.deepEqual((await send({ method: 'GET', url })).countBefore, { remaining: '3;w=3600' });
    const elsewhere = await send({ method: 'GET', url: 'https://other.example/v2/x/manifests/1' });
    assert.equal(elsewhere.countBefore, undefined);
    assert.deepEqual(countOf(elsewhere), { remaining: undefined, limit: undefined });
  });
  it('a registry named with its default port (reg.example.com:443, its API host) finds the counts of its answers, whose URLs leave the port out; another port is another registry', async () => {
    assert.equal(hostKey('Reg.Example.com:443'), 'reg.example.com');
    assert.equal(hostKey('reg.example.com:80'), 'reg.example.com');
    assert.equal(hostKey('[::1]:443'), '[::1]');
    assert.equal(hostKey('reg.example.com:5000'), 'reg.example.com:5000');
    const stats = new TransportStats();
    stats.response('https://reg.example.com/v2/x/manifests/1', { 'ratelimit-remaining': '4;w=21600' });
    assert.ok(stats.sentLimits('reg.example.com:443'));
    assert.ok(stats.shownLimits('reg.example.com:443'));
    assert.equal(stats.sentLimits('reg.example.com:5000'), false);
    stats.manifestAnswered('quiet.example:443', {});
    assert.ok(stats.shownLimits('quiet.example'));
    stats.spendPulls('reg.example.com:443', 'credential:anonymous', 'ratelimit-remaining 0 of 100 per 6 h');
    assert.equal(stats.pullsSpent('reg.example.com', 'credential:anonymous'), 'ratelimit-remaining 0 of 100 per 6 h');
  });
  it('the default port left out is the scheme\'s own: http://reg:443 is another server than https://reg, and their counts are kept apart', () => {
    assert.equal(hostKey('reg.example.com:443', 'https'), 'reg.example.com');
    assert.equal(hostKey('reg.example.com:443', 'http'), 'reg.example.com:443');
    assert.equal(hostKey('reg.example.com:80', 'http'), 'reg.example.com');
    assert.equal(hostKey('reg.example.com:80', 'https'), 'reg.example.com:80');
    const stats = new TransportStats();
    stats.response('https://reg.example.com/v2/x/manifests/1', { 'ratelimit-remaining': '4;w=21600' });
    stats.response('http://reg.example.com:443/v2/x/manifests/1', { 'ratelimit-remaining': '7;w=21600' });
    assert.deepEqual(
      stats.snapshot().rateLimits.map((l) => [l.registry, l.remaining]),
      [
        ['reg.example.com', 4],
        ['reg.example.com:443', 7],
      ],
    );
    assert.ok(stats.sentLimits({ host: 'reg.example.com:443', scheme: 'https' }));
    stats.manifestAnswered({ host: 'quiet.example:443', scheme: 'http' }, {});
    assert.equal(stats.shownLimits({ host: 'quiet.example', scheme: 'https' }), false);
    assert.ok(stats.shownLimits({ host: 'quiet.example:443', scheme: 'http' }));
  });
  it('a used-up pull limit is whose pulls they are at the host (Docker Hub counts per account, or per address): another login there is not refused; the account the registry names (docker-ratelimit-source) is one reader, whichever login reads as it', async () => {
    const stats = new TransportStats();
    stats.rateLimitSource('hub.example', 'user:a:1', 'acct-1');
    stats.rateLimitSource('hub.example', 'user:a:2', 'acct-1');
    assert.equal(stats.pullsOwner('hub.example:443', 'user:a:2'), 'source:acct-1');
    assert.equal(stats.pullsOwner('hub.example', 'anonymous'), 'credential:anonymous');
    stats.spendPulls('hub.example', stats.pullsOwner('hub.example', 'user:a:1'), 'ratelimit-remaining 0 of 200 per 6 h');
    assert.ok(stats.anyPullsSpent('hub.example:443'));
    assert.equal(stats.anyPullsSpent('other.example'), false);
    assert.equal(stats.pullsSpent('hub.example', stats.pullsOwner('hub.example', 'user:a:2')), 'ratelimit-remaining 0 of 200 per 6 h');
    assert.equal(stats.pullsSpent('hub.example', stats.pullsOwner('hub.example', 'anonymous')), undefined);
    stats.spendPulls('hub.example', 'credential:anonymous', 'ratelimit-remaining 0 of 100 per 6 h');
    stats.restorePulls('hub.example', 'credential:anonymous');
    assert.equal(stats.pullsSpent('hub.example', 'credential:anonymous'), undefined);
    assert.ok(stats.pullsSpent('hub.example', 'source:acct-1'));
    stats.restorePulls('hub.example:443'); // the gate's: every reader at the host
    assert.equal(stats.anyPullsSpent('hub.example'), false);
  });
  it('a reader keeps the owner key it was first given: an account named later does not move it, and another login of that account goes by the same key', () => {
    const stats = new TransportStats();
    const first = stats.pullsOwner('hub.example', 'user:a:1');
    assert.equal(first, 'credential:user:a:1');
    stats.spendPulls('hub.example', first, 'ratelimit-remaining 0 of 200 per 6 h');
    stats.rateLimitSource('hub.example', 'user:a:1', 'acct-1');
    stats.rateLimitSource('hub.example', 'user:a:2', 'acct-1');
    assert.equal(stats.pullsOwner('hub.example', 'user:a:1'), first);
    assert.equal(stats.pullsOwner('hub.example', 'user:a:2'), first);
    assert.ok(stats.pullsSpent('hub.example', stats.pullsOwner('hub.example', 'user:a:2')));
  });
  it('a reader given its own key before any answer named its account, with nothing marked under it, joins the key that account already has', () => {
    const stats = new TransportStats();
    stats.rateLimitSource('hub.example', 'user:a:1', 'acct-1');
    const account = stats.pullsOwner('hub.example', 'user:a:1');
    assert.equal(account, 'source:acct-1');
    assert.equal(stats.pullsOwner('hub.example', 'user:a:2'), 'credential:user:a:2');
    stats.rateLimitSource('hub.example', 'user:a:2', 'acct-1');
    assert.equal(stats.pullsOwner('hub.example', 'user:a:2'), account);
    stats.spendPulls('hub.example', account, 'ratelimit-remaining 0 of 200 per 6 h');
    assert.equal(stats.pullsSpent('hub.example', stats.pullsOwner('hub.example', 'user:a:2')), 'ratelimit-remaining 0 of 200 per 6 h');
    // One with a mark under its own key keeps that key (the mark, and a sync's stop, stay found).
    assert.equal(stats.pullsOwner('hub.example', 'user:a:3'), 'credential:user:a:3');
    stats.spendPulls('hub.example', 'credential:user:a:3', 'ratelimit-remaining 0 of 200 per 6 h');
    stats.rateLimitSource('hub.example', 'user:a:3', 'acct-1');
    assert.equal(stats.pullsOwner('hub.example', 'user:a:3'), 'credential:user:a:3');
  });
  it('spendPending: a mark being decided cuts the host\'s watchers but the answering GET\'s own, and is waited for until it settles, marked or not', async () => {
    const stats = new TransportStats();
    const cut: string[] = [];
    const own = (): void => void cut.push('own');
    stats.whenSpent('reg', own);
    stats.whenSpent('reg', () => cut.push('queued'));
    stats.whenSpent('other', () => cut.push('other host'));
    assert.equal(stats.spendsPending('reg'), undefined);
    let decide!: () => void;
    stats.spendPending('reg', new Promise<void>((resolve) => (decide = resolve)), own);
    assert.deepEqual(cut, ['queued']);
    const pending = stats.spendsPending('reg');
    assert.ok(pending, 'a GET checked now waits');
    assert.equal(stats.spendsPending('other'), undefined);
    assert.equal(stats.anyPullsSpent('reg'), false, 'nothing marked before the decision');
    decide();
    await pending;
    assert.equal(stats.spendsPending('reg'), undefined);
    // A decision that fails settles it too.
    stats.spendPending('reg', Promise.reject(new Error('lookup failed')));
    await stats.spendsPending('reg');
    assert.equal(stats.spendsPending('reg'), undefined);
  });

  it('counts failed requests too', async () => {
    const stats = new TransportStats();
    const send = statsMiddleware(stats)(async () => {
      throw new Error('reset');
    });
    await assert.rejects(send({ method: 'GET', url: 'https://x/v2/' }), { message: 'reset' });
    assert.equal(stats.snapshot().requests, 1);
  });
});

describe('a registry whose scheme is probed (loopback)', () => {
  // A transport whose requests never leave the process: the scheme probe's GET /v2/ is answered
  // over plain HTTP, and every manifest answer carries a count of 7.
  const answering = () =>
    new Transport({
      retry: { retries: 0 },
      inner: [
        () => async (req) => {
          const manifest = req.url.includes('/manifests/');
          const headers: Record<string, string> = manifest ? { 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '7;w=21600', 'docker-content-digest': `sha256:${'a'.repeat(64)}`, 'content-type': 'application/vnd.oci.image.manifest.v1+json' } : {};
          return { status: 200, headers, url: req.url, body: Readable.from([]) } as HttpResponse;
        },
      ],
    });

  for (const port of [443, 80]) {
    it(`127.0.0.1:${port} that the probe finds on plain HTTP keys its counts by the port plain HTTP does not leave out${port === 80 ? ' (none: :80 is its default)' : ''}: the counts its answers brought are its own`, async () => {
      const transport = answering();
      const client = new HttpRegistryClient({ registry: `127.0.0.1:${port}`, transport, scopes: ['repository:team/app:pull'] });
      assert.equal(client.endpoint.scheme, 'auto');
      await client.headManifest('team/app', '1');
      const key = port === 443 ? '127.0.0.1:443' : '127.0.0.1';
      assert.deepEqual(transport.stats.snapshot().rateLimits.map((l) => l.registry), [key]);
      assert.ok(client.countsPulls(), 'its rate-limit headers are found');
      assert.ok(client.pullsKnown());
      // A client made later in the run (a sync's next image) finds them before any request of its own.
      const later = new HttpRegistryClient({ registry: `127.0.0.1:${port}`, transport, scopes: ['repository:team/other:pull'] });
      assert.ok(later.countsPulls());
      const reader = await later.pullsReader();
      assert.deepEqual(reader, { host: key, who: 'anonymous' });
      assert.equal(transport.stats.readerRemaining({ key: reader.host }, reader.who), 7);
      transport.close();
    });
  }
});
