// A registry reached without a scheme probe (https) names its challenge only in the answer to the
// first request sent there. The requests with credentials sent before that answer wait for the
// first attempt's headers (never for its retries), presume the challenge they name and ask for
// their own token up front (Bearer) or send the password with their first attempt (Basic): one 401
// for the run where each met its own. A presumption is a head start only: a repository answering
// another challenge is followed as it says.
//
// The registry here is scripted below the real transport (its `inner` middlewares: retries,
// redirects and the per-attempt hooks all run; no socket is opened), so that it can be an https
// one, which a loopback registry never is (its scheme is probed). Also: a token fetched ahead for
// a registry whose challenge nothing has named yet (a mirror no image has read through), which
// asks it with one GET /v2/ only where no request of the run is about to name it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { AuthMemory } from '../../src/auth/auth-memory.js';
import { authMiddleware } from '../../src/auth/middleware.js';
import type { Credential } from '../../src/auth/credential-types.js';
import type { Challenge } from '../../src/auth/challenge.js';
import { NetworkError } from '../../src/errors.js';
import { Transport } from '../../src/http/transport.js';
import { compose, type HttpRequest, type HttpResponse, type Middleware } from '../../src/http/types.js';

const HOST = 'reg.example';
const ALICE: Credential = { username: 'alice', password: 'first-answer-Password-1' };
const BASIC = `Basic ${Buffer.from(`${ALICE.username}:${ALICE.password}`).toString('base64')}`;

interface Seen {
  seq: number;
  /** "GET /v2/<repo>/manifests/1" or "GET /token <scope>". */
  what: string;
  repo?: string;
  status: number;
  /** The Authorization a registry request carried. */
  auth?: string;
}

/**
 * A token registry at https://reg.example (its realm on itself), every repository Bearer but the
 * ones in `basicRepos`, which answer a Basic challenge (a registry whose paths are served by
 * different backends). `hold` may delay or replace a registry answer: it is asked with the request
 * and how many of that repository's requests came before.
 */
function scriptedRegistry(opts: { scheme?: 'https' | 'http'; basicRepos?: string[]; hold?: (repo: string, nth: number) => Promise<HttpResponse | 'error' | void> | undefined } = {}) {
  const origin = `${opts.scheme ?? 'https'}://${HOST}`;
  const seen: Seen[] = [];
  const arrived = new Map<string, (() => void)[]>();
  let seq = 0;
  const reply = (status: number, url: string, headers: Record<string, string> = {}, body = '{}'): HttpResponse => ({ status, url, headers: { 'content-type': 'application/json', ...headers }, body: Readable.from([Buffer.from(body)]) });
  const inner: Middleware = () => async (req: HttpRequest) => {
    const url = new URL(req.url);
    if (url.pathname === '/token') {
      const scope = url.searchParams.get('scope') ?? '';
      seen.push({ seq: ++seq, what: `GET /token ${scope}`, status: 200 });
      return reply(200, req.url, {}, JSON.stringify({ token: `tok ${scope}` }));
    }
    const repo = /^\/v2\/(.+)\/manifests\//.exec(url.pathname)![1]!;
    const entry: Seen = { seq: ++seq, what: `${req.method} ${url.pathname}`, repo, status: 0, auth: req.headers?.authorization };
    seen.push(entry);
    const nth = seen.filter((s) => s.repo === repo).length - 1;
    for (const wake of arrived.get(repo) ?? []) wake();
    arrived.delete(repo);
    const held = await opts.hold?.(repo, nth);
    if (held === 'error') {
      entry.status = -1;
      throw new NetworkError(`connection reset reading ${req.url}`, { details: { errno: 'ECONNRESET' } });
    }
    if (held) {
      entry.status = held.status;
      return held;
    }
    const auth = req.headers?.authorization;
    let res: HttpResponse;
    if (opts.basicRepos?.includes(repo)) res = auth === BASIC ? reply(200, req.url) : reply(401, req.url, { 'www-authenticate': 'Basic realm="reg"' });
    else if (auth === `Bearer tok repository:${repo}:pull`) res = reply(200, req.url);
    else res = reply(401, req.url, { 'www-authenticate': `Bearer realm="${origin}/token",service="${HOST}",scope="repository:${repo}:pull"` });
    entry.status = res.status;
    return res;
  };
  return {
    origin,
    seen,
    inner,
    /** Resolves once a request for `repo` has arrived (at once if one has). */
    arrival(repo: string): Promise<void> {
      if (seen.some((s) => s.repo === repo)) return Promise.resolve();
      return new Promise((resolve) => arrived.set(repo, [...(arrived.get(repo) ?? []), resolve]));
    },
    unauthorized: () => seen.filter((s) => s.status === 401).map((s) => s.what),
    reply,
  };
}

/** One client per repository, as a sync makes one per image, sharing the run's AuthMemory; each reads its manifest once. */
function readAll(reg: ReturnType<typeof scriptedRegistry>, repos: string[], credential: (repo: string) => Credential | undefined, scheme: 'https' | 'http' = 'https', memory = new AuthMemory()) {
  const transport = new Transport({ retry: { retries: 1, baseDelayMs: 0, random: () => 0 }, inner: [reg.inner] });
  const reads = repos.map((repo) => {
    const send = compose(
      transport.send,
      authMiddleware({ registry: HOST, scheme, scopes: [`repository:${repo}:pull`], credential: async () => credential(repo), tokenSend: transport.send, presumedTokenSend: transport.sendOnce, memory }),
    );
    return send({ method: 'GET', url: `${reg.origin}/v2/${repo}/manifests/1` }).then((res) => {
      res.body.resume();
      return res.status;
    });
  });
  // Every read ends before the transport closes, a failed one too: the first failure is reported.
  return Promise.allSettled(reads)
    .finally(() => transport.close())
    .then((settled) => settled.map((r) => (r.status === 'fulfilled' ? r.value : Promise.reject(r.reason))))
    .then((statuses) => Promise.all(statuses));
}

const REPOS = ['team/app0', 'team/app1', 'team/app2', 'team/app3'];

test('four first reads with credentials sent together to an https token registry: one 401 between them, each waiter asks for its own token up front', async () => {
  const reg = scriptedRegistry();
  assert.deepEqual(await readAll(reg, REPOS, () => ALICE), [200, 200, 200, 200]);
  assert.deepEqual(reg.unauthorized(), ['GET /v2/team/app0/manifests/1']);
  // Each repository's token, asked for once, with its own scope; the waiters' before their first request.
  for (const repo of REPOS) {
    const token = reg.seen.filter((s) => s.what === `GET /token repository:${repo}:pull`);
    assert.equal(token.length, 1, repo);
    if (repo !== 'team/app0') assert.ok(token[0]!.seq < reg.seen.find((s) => s.repo === repo)!.seq, repo);
  }
});

for (const [what, first] of [
  ['answered 503', (reg: ReturnType<typeof scriptedRegistry>) => reg.reply(503, `${reg.origin}/v2/team/app0/manifests/1`)],
  ['failed without an answer (connection reset)', () => 'error' as const],
] as const) {
  test(`the first request's first attempt ${what}: the waiting requests go at once, not after its retry`, { timeout: 20_000 }, async () => {
    // The first request's retry is answered only once every other request has arrived: held
    // until that request's whole answer, as the reverted single-flight held them, they never
    // would (this test would hang until its timeout).
    const others = REPOS.slice(1);
    let seenWhenRetryAnswered = 0;
    const reg = scriptedRegistry({
      hold: (repo, nth) => {
        if (repo !== 'team/app0') return undefined;
        if (nth === 0) return Promise.resolve(first(reg));
        return Promise.all(others.map((r) => reg.arrival(r))).then(() => void (seenWhenRetryAnswered = reg.seen.length));
      },
    });
    assert.deepEqual(await readAll(reg, REPOS, () => ALICE), [200, 200, 200, 200]);
    assert.equal(reg.seen.filter((s) => s.repo === 'team/app0').length, 3, 'the first attempt, its retry, and the retry\'s replay with a token');
    for (const r of others) assert.ok(reg.seen.find((s) => s.repo === r)!.seq <= seenWhenRetryAnswered, `${r} was sent before the first request's retry was answered`);
    // Nothing was learnt from that attempt: each request met the registry's 401, as before.
    assert.deepEqual(reg.unauthorized().sort(), REPOS.map((r) => `GET /v2/${r}/manifests/1`).sort());
  });
}

test('a repository that answers a Basic challenge where the first answer named a Bearer one: its own answer is followed (one more round trip), never E_AUTH', async () => {
  const reg = scriptedRegistry({ basicRepos: ['legacy/app'] });
  const repos = ['team/app0', 'legacy/app', 'team/app1'];
  assert.deepEqual(await readAll(reg, repos, () => ALICE), [200, 200, 200]);
  // The presumed token went to legacy/app, which asked for Basic: the password went next, and was taken.
  assert.deepEqual(reg.unauthorized(), ['GET /v2/team/app0/manifests/1', 'GET /v2/legacy/app/manifests/1']);
  assert.equal(reg.seen.filter((s) => s.repo === 'legacy/app').length, 2);
});

test('four first reads with credentials sent together to an https Basic registry: one 401 between them, each waiter sends the password up front', async () => {
  const reg = scriptedRegistry({ basicRepos: REPOS });
  assert.deepEqual(await readAll(reg, REPOS, () => ALICE), [200, 200, 200, 200]);
  assert.deepEqual(reg.unauthorized(), ['GET /v2/team/app0/manifests/1']);
  for (const repo of REPOS.slice(1)) assert.deepEqual(reg.seen.filter((s) => s.repo === repo).map((s) => s.auth), [BASIC], repo);
});

test('a wrong password at an https Basic registry, four first reads together: the password is sent once, and each waiter fails with that refusal without sending it', async () => {
  const reg = scriptedRegistry({ basicRepos: REPOS });
  const BOB: Credential = { username: 'bob', password: 'first-answer-Password-2' };
  const bob = `Basic ${Buffer.from(`${BOB.username}:${BOB.password}`).toString('base64')}`;
  await assert.rejects(readAll(reg, REPOS, () => BOB), { code: 'E_AUTH', message: /rejected .*bob/ });
  // One failed login for the run: the first request's replay. Before, each waiter sent it too (four).
  assert.equal(reg.seen.filter((s) => s.auth === bob).length, 1);
  // The waiters went without it (a registry that lets anyone read would still have answered them),
  // met its 401 and failed with the refusal: no second try of theirs.
  for (const repo of REPOS.slice(1)) assert.deepEqual(reg.seen.filter((s) => s.repo === repo).map((s) => [s.auth, s.status]), [[undefined, 401]], repo);
});

test('the password the first request sends after a Basic first answer left without an answer past the bound: the waiting requests send theirs on their own', { timeout: 20_000 }, async () => {
  // The first request's replay (with the password) is held until every other request has arrived:
  // waiting for its verdict without the bound, none would arrive (this test would hang until its timeout).
  const others = REPOS.slice(1);
  const reg = scriptedRegistry({ basicRepos: REPOS, hold: (repo, nth) => (repo === 'team/app0' && nth === 1 ? Promise.all(others.map((r) => reg.arrival(r))).then(() => undefined) : undefined) });
  const alive = setInterval(() => {}, 3_600_000);
  const timers = await liveTimers(async () => {
    assert.deepEqual(await readAll(reg, REPOS, () => ALICE, 'https', new AuthMemory({ firstAnswerWaitMs: 50 })), [200, 200, 200, 200]);
  }).finally(() => clearInterval(alive));
  for (const repo of others) assert.deepEqual(reg.seen.filter((s) => s.repo === repo).map((s) => s.auth), [BASIC], repo);
  assert.deepEqual(timers, { live: 0, refd: 0 });
});

test('a first answer naming Basic where the other repositories are token ones: each sends the password, meets its Bearer challenge and follows it (one 401 each, as without the presumption), never E_AUTH', async () => {
  const reg = scriptedRegistry({ basicRepos: ['legacy/app'] });
  const repos = ['legacy/app', 'team/app0', 'team/app1'];
  assert.deepEqual(await readAll(reg, repos, () => ALICE), [200, 200, 200]);
  assert.deepEqual(reg.unauthorized().sort(), repos.map((r) => `GET /v2/${r}/manifests/1`).sort());
  for (const repo of repos.slice(1)) assert.deepEqual(reg.seen.filter((s) => s.repo === repo).map((s) => s.auth?.split(' ')[0]), ['Basic', 'Bearer'], repo);
});

test('a first answer naming Basic, and requests whose credential is no password (a registry token): Basic is not presumed for them, each goes as without the wait', async () => {
  const reg = scriptedRegistry({ basicRepos: REPOS });
  const token: Credential = { registryToken: 'first-answer-Token-3' };
  await assert.rejects(readAll(reg, REPOS, (repo) => (repo === 'team/app0' ? ALICE : token)), { code: 'E_AUTH' });
  for (const repo of REPOS.slice(1)) assert.equal(reg.seen.find((s) => s.repo === repo)!.auth, undefined, repo);
});

for (const [what, credential, scheme] of [
  ['without credentials', () => undefined, 'https'],
  ['to a registry reached over plain http (named insecure)', () => ALICE, 'http'],
] as const) {
  test(`requests ${what} do not wait for the first one's answer`, { timeout: 20_000 }, async () => {
    // The first request is answered only once every other one has arrived: had they waited for
    // it, none would (this test would hang until its timeout).
    const others = REPOS.slice(1);
    const reg = scriptedRegistry({ scheme, hold: (repo, nth) => (repo === 'team/app0' && nth === 0 ? Promise.all(others.map((r) => reg.arrival(r))).then(() => undefined) : undefined) });
    const statuses = await readAll(reg, REPOS, credential, scheme);
    assert.deepEqual(statuses, [200, 200, 200, 200]);
    assert.equal(reg.unauthorized().length, 4);
  });
}

test('a first attempt left without headers past the bound: the waiting requests go on their own, without a presumed token', { timeout: 20_000 }, async () => {
  // The first request's headers are held until every other request has arrived: held until that
  // attempt's end (its idle timeout, unbounded here), as before the bound, none would arrive (this
  // test would hang until its timeout).
  const others = REPOS.slice(1);
  const reg = scriptedRegistry({ hold: (repo, nth) => (repo === 'team/app0' && nth === 0 ? Promise.all(others.map((r) => reg.arrival(r))).then(() => undefined) : undefined) });
  // A stalled attempt's socket keeps a real run's process alive while the bound's (unref'd) clock
  // runs; the scripted registry has none, so the test keeps it alive meanwhile.
  const alive = setInterval(() => {}, 3_600_000);
  const timers = await liveTimers(async () => {
    assert.deepEqual(await readAll(reg, REPOS, () => ALICE, 'https', new AuthMemory({ firstAnswerWaitMs: 1 })), [200, 200, 200, 200]);
  }).finally(() => clearInterval(alive));
  // Nothing was presumed: each request met the registry's 401 of its own, and asked for its token after it.
  assert.deepEqual(reg.unauthorized().sort(), REPOS.map((r) => `GET /v2/${r}/manifests/1`).sort());
  for (const repo of REPOS) {
    const token = reg.seen.find((s) => s.what === `GET /token repository:${repo}:pull`)!;
    assert.ok(token.seq > reg.seen.find((s) => s.repo === repo)!.seq, repo);
  }
  assert.deepEqual(timers, { live: 0, refd: 0 });
});

test('the bound\'s clock: one per registry, not one per request, unref\'d, and cleared by the first answer', async () => {
  const reg = scriptedRegistry();
  const memory = new AuthMemory({ firstAnswerWaitMs: 3_600_000 });
  const timers = await liveTimers(async () => {
    assert.deepEqual(await readAll(reg, REPOS, () => ALICE, 'https', memory), [200, 200, 200, 200]);
  }, memory.firstAnswerWaitMs);
  assert.deepEqual(timers, { made: 1, live: 0, refd: 0 });
  assert.deepEqual(reg.unauthorized(), ['GET /v2/team/app0/manifests/1']);
});

/**
 * Runs `fn`, following the timers it makes with the global setTimeout (those of `ms` only, where
 * given): how many were made, how many were neither fired nor cleared when it ended, and how many
 * of those kept the process alive (not unref'd) when it ended.
 */
async function liveTimers(fn: () => Promise<void>, ms?: number): Promise<{ made?: number; live: number; refd: number }> {
  const [set, clear] = [globalThis.setTimeout, globalThis.clearTimeout];
  const live = new Set<NodeJS.Timeout>();
  let made = 0;
  globalThis.setTimeout = ((cb: (...a: unknown[]) => void, delay?: number, ...args: unknown[]) => {
    if (ms !== undefined && delay !== ms) return set(cb, delay, ...args);
    made++;
    const t: NodeJS.Timeout = set((...a: unknown[]) => {
      live.delete(t);
      cb(...a);
    }, delay, ...args);
    live.add(t);
    return t;
  }) as typeof setTimeout;
  globalThis.clearTimeout = ((t?: NodeJS.Timeout) => {
    if (t) live.delete(t);
    clear(t);
  }) as typeof clearTimeout;
  try {
    await fn();
  } finally {
    [globalThis.setTimeout, globalThis.clearTimeout] = [set, clear];
  }
  return { ...(ms !== undefined ? { made } : {}), live: live.size, refd: [...live].filter((t) => t.hasRef()).length };
}

test('a run that recorded Basic for the registry, then a repository answering a Bearer challenge to the Basic sent up front: the challenge is followed, not E_AUTH', async () => {
  // A registry mixing schemes by path (Harbor behind a proxy, a Nexus with several connectors).
  const reg = scriptedRegistry({ basicRepos: ['legacy/app'] });
  const memory = new AuthMemory();
  assert.deepEqual(await readAll(reg, ['legacy/app'], () => ALICE, 'https', memory), [200]);
  assert.equal(memory.known(HOST)?.mode, 'basic');
  assert.deepEqual(await readAll(reg, ['team/app0', 'team/app1'], () => ALICE, 'https', memory), [200, 200]);
  // Each sent the password up front, met the Bearer 401, fetched its token once and was answered.
  assert.deepEqual(reg.unauthorized().sort(), ['legacy/app', 'team/app0', 'team/app1'].map((r) => `GET /v2/${r}/manifests/1`));
  for (const repo of ['team/app0', 'team/app1']) {
    assert.equal(reg.seen.filter((s) => s.what === `GET /token repository:${repo}:pull`).length, 1, repo);
    assert.equal(reg.seen.filter((s) => s.repo === repo).length, 2, repo);
  }
});

test('Basic refused where the run recorded Basic: still E_AUTH, and a token the followed Bearer challenge gets refused is E_AUTH too', async () => {
  // team/app0 refuses every token: a Bearer 401 to each of its requests.
  const refuseAll = () => {
    const challenge = `Bearer realm="${reg.origin}/token",service="${HOST}",scope="repository:team/app0:pull"`;
    return Promise.resolve(reg.reply(401, `${reg.origin}/v2/team/app0/manifests/1`, { 'www-authenticate': challenge }));
  };
  const reg = scriptedRegistry({ basicRepos: ['legacy/app'], hold: (repo) => (repo === 'team/app0' ? refuseAll() : undefined) });
  const memory = new AuthMemory();
  assert.deepEqual(await readAll(reg, ['legacy/app'], () => ALICE, 'https', memory), [200]);
  const BOB: Credential = { username: 'bob', password: 'first-answer-Password-2' };
  await assert.rejects(readAll(reg, ['legacy/app'], () => BOB, 'https', memory), { code: 'E_AUTH' });
  await assert.rejects(readAll(reg, ['team/app0'], () => ALICE, 'https', memory), { code: 'E_AUTH' });
  // The refused password went once (not sent again after its Basic 401); the Bearer repository's
  // request went with the password, then with its one token, refused: no third try.
  assert.equal(reg.seen.filter((s) => s.repo === 'legacy/app').length, 3);
  assert.equal(reg.seen.filter((s) => s.repo === 'team/app0').length, 2);
  assert.equal(reg.seen.filter((s) => s.what === 'GET /token repository:team/app0:pull').length, 1);
});

/**
 * A token fetched ahead (AuthMiddleware.prefetch) for a registry whose challenge nothing has named
 * in the run, as a sync asks for the next image read through a mirror no image has read through
 * yet: `ask` stands for the `GET /v2/` the client sends without credentials (counted), answered
 * with the registry's challenge.
 */
function askAhead(reg: ReturnType<typeof scriptedRegistry>) {
  const asks = { count: 0 };
  const ask = async (): Promise<HttpResponse> => {
    asks.count++;
    return reg.reply(401, `${reg.origin}/v2/`, { 'www-authenticate': `Bearer realm="${reg.origin}/token",service="${HOST}"` });
  };
  return { asks, ask };
}

/** A client of one repository of the scripted registry, sharing `memory`: its auth middleware and its authenticated send. */
function clientOf(reg: ReturnType<typeof scriptedRegistry>, transport: Transport, repo: string, memory: AuthMemory, o: { credential?: Credential; scheme?: 'https' | 'http' | 'auto'; presume?: () => Challenge | undefined } = {}) {
  const auth = authMiddleware({ registry: HOST, scheme: o.scheme ?? 'https', scopes: [`repository:${repo}:pull`], credential: async () => o.credential, tokenSend: transport.send, presumedTokenSend: transport.sendOnce, memory, ...(o.presume ? { presume: o.presume } : {}) });
  const send = compose(transport.send, auth);
  const read = () => send({ method: 'GET', url: `${reg.origin}/v2/${repo}/manifests/1` }).then((res) => (res.body.resume(), res.status));
  return { auth, read };
}

/** Runs `fn` with a transport to the scripted registry (no retries), closed after it. */
async function withTransport(reg: ReturnType<typeof scriptedRegistry>, fn: (transport: Transport) => Promise<void>): Promise<void> {
  const transport = new Transport({ retry: { retries: 0 }, inner: [reg.inner] });
  try {
    await fn(transport);
  } finally {
    transport.close();
  }
}

const tokenAsked = (reg: ReturnType<typeof scriptedRegistry>, repo: string) => reg.seen.filter((s) => s.what === `GET /token repository:${repo}:pull`).length;

for (const scheme of ['https', 'http'] as const) {
  test(`fetched ahead where nothing names the challenge (${scheme}): one GET /v2/ for the run, shared by two prefetches; each image's token is fetched, and its read meets no 401`, async () => {
    const reg = scriptedRegistry({ scheme });
    const { asks, ask } = askAhead(reg);
    await withTransport(reg, async (transport) => {
      const memory = new AuthMemory();
      const [a, b] = ['team/app0', 'team/app1'].map((repo) => clientOf(reg, transport, repo, memory, { scheme }));
      await Promise.all([a!.auth.prefetch(undefined, ask), b!.auth.prefetch(undefined, ask)]);
      assert.equal(asks.count, 1);
      assert.deepEqual([tokenAsked(reg, 'team/app0'), tokenAsked(reg, 'team/app1')], [1, 1]);
      assert.deepEqual([await a!.read(), await b!.read()], [200, 200]);
      assert.deepEqual(reg.unauthorized(), []);
      await b!.auth.prefetch(undefined, ask);
      assert.equal(asks.count, 1, 'not asked again once known');
    });
  });
}

test('fetched ahead while a request leads the registry\'s first answer: nothing is asked; the token is fetched once that answer names the challenge', async () => {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const reg = scriptedRegistry({ hold: (repo, nth) => (repo === 'team/app0' && nth === 0 ? released : undefined) });
  const { asks, ask } = askAhead(reg);
  await withTransport(reg, async (transport) => {
    const memory = new AuthMemory();
    const first = clientOf(reg, transport, 'team/app0', memory);
    const next = clientOf(reg, transport, 'team/app1', memory);
    const reading = first.read();
    await reg.arrival('team/app0');
    const prefetched = next.auth.prefetch(undefined, ask);
    release();
    await prefetched;
    assert.equal(await reading, 200);
    assert.equal(asks.count, 0);
    assert.equal(tokenAsked(reg, 'team/app1'), 1);
    assert.equal(await next.read(), 200);
    assert.deepEqual(reg.unauthorized(), ['GET /v2/team/app0/manifests/1'], 'the first request\'s own 401 only');
  });
});

test('fetched ahead where the challenge is presumed, or a scheme probe names it (auto): nothing is asked', async () => {
  const reg = scriptedRegistry();
  const { asks, ask } = askAhead(reg);
  await withTransport(reg, async (transport) => {
    const presumed = clientOf(reg, transport, 'team/app0', new AuthMemory(), { presume: () => ({ scheme: 'bearer', params: { realm: `${reg.origin}/token`, service: HOST } }) });
    await presumed.auth.prefetch(undefined, ask);
    assert.equal(tokenAsked(reg, 'team/app0'), 1, 'the presumed realm is asked for the token');
    await clientOf(reg, transport, 'team/app1', new AuthMemory(), { scheme: 'auto' }).auth.prefetch(undefined, ask);
    assert.equal(asks.count, 0);
  });
});

test('fetched ahead with a login not yet accepted in the run: the challenge is learnt, the token is not fetched (the login goes out first from a request); once accepted, it is', async () => {
  const reg = scriptedRegistry();
  const { asks, ask } = askAhead(reg);
  await withTransport(reg, async (transport) => {
    const memory = new AuthMemory();
    const [a, b] = ['team/app0', 'team/app1'].map((repo) => clientOf(reg, transport, repo, memory, { credential: ALICE }));
    await a!.auth.prefetch(undefined, ask);
    assert.equal(asks.count, 1);
    assert.equal(tokenAsked(reg, 'team/app0'), 0, 'no token fetched ahead with a login the run has not seen accepted');
    assert.equal(await a!.read(), 200);
    assert.deepEqual(reg.unauthorized(), [], 'the read answered the challenge learnt ahead up front');
    await b!.auth.prefetch(undefined, ask);
    assert.equal(tokenAsked(reg, 'team/app1'), 1, 'fetched ahead once the login was accepted');
    assert.equal(asks.count, 1);
  });
});

test('a GET /v2/ sent ahead that names Basic: the scheme is left for the first answer, so a wrong password read by four images starting together is sent once, not once each', async () => {
  const reg = scriptedRegistry({ basicRepos: REPOS });
  const BOB: Credential = { username: 'bob', password: 'first-answer-Password-3' };
  const bob = `Basic ${Buffer.from(`${BOB.username}:${BOB.password}`).toString('base64')}`;
  const memory = new AuthMemory();
  let asks = 0;
  const ask = async (): Promise<HttpResponse> => {
    asks++;
    return reg.reply(401, `${reg.origin}/v2/`, { 'www-authenticate': 'Basic realm="reg"' });
  };
  await withTransport(reg, async (transport) => {
    // A later image's prefetch asks the registry's challenge while the first batch runs elsewhere.
    await clientOf(reg, transport, 'team/next', memory, { credential: BOB }).auth.prefetch(undefined, ask);
  });
  assert.equal(asks, 1);
  await assert.rejects(readAll(reg, REPOS, () => BOB, 'https', memory), { code: 'E_AUTH', message: /rejected .*bob/ });
  // Heard as Basic, every request would have sent the password up front (four failed logins).
  assert.equal(reg.seen.filter((s) => s.auth === bob).length, 1);
});
