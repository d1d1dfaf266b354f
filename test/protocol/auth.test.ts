/**
 * Protocol tests for src/auth: scripted in-process registries and token services (on separate
 * ports, like Docker Hub's auth host) exercised through the auth middleware and fetchToken.
 * The Send here is a tiny test-only transport over node:http; the real one lives in src/http/.
 */
import { after, afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { AuthMemory } from '../../src/auth/auth-memory.js';
import { authMiddleware, type AuthOptions } from '../../src/auth/middleware.js';
import { TokenCache } from '../../src/auth/token-cache.js';
import { fetchToken } from '../../src/auth/token.js';
import { parseChallenges, type Challenge } from '../../src/auth/challenge.js';
import { scopesCover } from '../../src/auth/scope.js';
import type { Credential } from '../../src/auth/credential-types.js';
import { who } from '../../src/auth/credential-id.js';
import { AuthError, ProtocolError, RegpushError } from '../../src/errors.js';
import { errorLine } from '../../src/cli/main.js';
import type { HttpRequest, HttpResponse, Send } from '../../src/http/types.js';
import type { Logger } from '../../src/log.js';

// ---------------------------------------------------------------------------------------------
// Test-only transport and servers

/** Minimal Send over node:http: streamed bodies both ways, lower-case headers. */
const send: Send = (req: HttpRequest) =>
  new Promise<HttpResponse>((resolve, reject) => {
    const r = http.request(req.url, { method: req.method, headers: req.headers ?? {}, signal: req.signal }, (res) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
      resolve({ status: res.statusCode ?? 0, headers, url: req.url, body: res });
    });
    r.on('error', reject);
    const body = typeof req.body === 'function' ? req.body() : req.body;
    if (body === undefined) r.end();
    else if (Buffer.isBuffer(body)) r.end(body);
    else body.pipe(r);
  });

async function readBody(res: HttpResponse): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res.body) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

interface Recorded {
  method: string;
  url: URL;
  headers: http.IncomingHttpHeaders;
  body: string;
}

interface Server {
  base: string;
  host: string;
  requests: Recorded[];
  close(): Promise<void>;
}

const open: Server[] = [];
afterEach(async () => {
  while (open.length) await open.pop()!.close();
});

async function serve(handler: (req: Recorded, res: http.ServerResponse) => void | Promise<void>): Promise<Server> {
  const requests: Recorded[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rec: Recorded = { method: req.method ?? '', url: new URL(req.url ?? '/', 'http://x'), headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(rec);
      Promise.resolve(handler(rec, res)).catch((err) => {
        res.statusCode = 500;
        res.end(String(err));
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const s: Server = {
    base: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  open.push(s);
  return s;
}

const PASSWORD = 'correct-horse-Battery-9';
const WRONG = 'wrong-Password-77';
const REFRESH = 'refresh-TOKEN-abc123';
const REGISTRY_TOKEN = 'static-REGISTRY-token-xyz';
const ROTATED = 'rotated-Password-88';
const STALE_REGISTRY_TOKEN = 'stale-REGISTRY-token-qrs';
const PULL_REGISTRY_TOKEN = 'pull-only-REGISTRY-token-tuv';
const SERVICE = 'test-registry';
/** Every secret used in these tests: none may appear in an error message or a log line. */
const SECRETS = [PASSWORD, WRONG, REFRESH, REGISTRY_TOKEN, ROTATED, STALE_REGISTRY_TOKEN, PULL_REGISTRY_TOKEN, Buffer.from(`alice:${PASSWORD}`).toString('base64'), Buffer.from(`alice:${WRONG}`).toString('base64')];
const issuedTokens: string[] = [];
const logLines: string[] = [];
const errorMessages: string[] = [];
const log: Logger = { debug: (m) => logLines.push(m), info: (m) => logLines.push(m), warn: (m) => logLines.push(m) };

after(() => {
  const all = [...logLines, ...errorMessages].join('\n');
  for (const s of [...SECRETS, ...issuedTokens]) assert.ok(!all.includes(s), `a secret leaked into a log line or error: ${s.slice(0, 4)}…`);
  assert.ok(errorMessages.length >= 8, 'the leak check saw the error messages');
});

/** Records an expected rejection's message for the global leak check, then returns the error. */
async function failure(p: Promise<unknown>): Promise<RegpushError> {
  try {
    await p;
  } catch (err) {
    errorMessages.push(String((err as Error).message), JSON.stringify((err as RegpushError).details ?? {}));
    assert.ok(err instanceof RegpushError, `not a RegpushError: ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

interface TokenServerOptions {
  /** How oauth2 POSTs are answered: normally, or with a status (404/405 → client falls back to GET). */
  postStatus?: number;
  /** Which reply field carries the token. */
  field?: 'token' | 'access_token';
  expiresIn?: number;
  issuedAt?: string;
  /** Replace the whole reply. */
  raw?: { status: number; body: string; contentType?: string };
  delayMs?: number;
  /** Users get pull only, as anonymous callers do (a pull-only account). */
  pullOnly?: boolean;
  /** Repositories nobody is granted anything on (private ones, or ones that do not exist). */
  denyRepos?: string[];
  /** Repositories whose token requests are answered 403, whoever asks (GHCR, for a package the caller may not read). */
  forbidRepos?: string[];
  /** The status wrong credentials get (default 401; GHCR answers 403 to a personal access token that has expired). */
  refusalStatus?: number;
}

interface TokenServer extends Server {
  /** token → granted scopes */
  grants: Map<string, string[]>;
  realm: string;
}

/** A token service following the distribution token spec (GET) and oauth spec (POST). */
async function tokenServer(o: TokenServerOptions = {}): Promise<TokenServer> {
  const grants = new Map<string, string[]>();
  let n = 0;
  const issue = (res: http.ServerResponse, user: string | undefined, scopes: string[]) => {
    // Anonymous callers only ever get pull.
    const granted = (user && !o.pullOnly ? scopes : scopes.map((s) => s.replace(/:[^:]*$/, ':pull'))).filter((s) => !o.denyRepos?.some((r) => s.startsWith(`repository:${r}:`)));
    const token = `tok${++n}-${Math.random().toString(36).slice(2)}`;
    issuedTokens.push(token);
    grants.set(token, granted);
    const body: Record<string, unknown> = { [o.field ?? 'token']: token };
    if (o.expiresIn !== undefined) body.expires_in = o.expiresIn;
    if (o.issuedAt) body.issued_at = o.issuedAt;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(body));
  };
  const s = await serve(async (req, res) => {
    if (o.delayMs) await new Promise((r) => setTimeout(r, o.delayMs));
    if (o.raw) {
      res.statusCode = o.raw.status;
      res.setHeader('content-type', o.raw.contentType ?? 'application/json');
      res.end(o.raw.body);
      return;
    }
    if (req.method === 'POST') {
      if (o.postStatus) {
        res.statusCode = o.postStatus;
        res.end('no oauth here');
        return;
      }
      const form = new URLSearchParams(req.body);
      if (form.get('grant_type') !== 'refresh_token' || form.get('refresh_token') !== REFRESH || form.get('client_id') !== 'regpush') {
        res.statusCode = 401;
        res.end('{"error":"invalid_grant"}');
        return;
      }
      issue(res, 'alice', (form.get('scope') ?? '').split(' ').filter(Boolean));
      return;
    }
    const auth = req.headers.authorization;
    let user: string | undefined;
    if (auth) {
      const [u, p] = Buffer.from(auth.replace(/^Basic /, ''), 'base64').toString().split(/:(.*)/s);
      if (!((u === 'alice' && p === PASSWORD) || (u === '<token>' && p === REFRESH))) {
        res.statusCode = o.refusalStatus ?? 401;
        res.end('{"details":"incorrect username or password"}');
        return;
      }
      user = u;
    }
    if (req.url.searchParams.getAll('scope').some((s) => o.forbidRepos?.some((r) => s.startsWith(`repository:${r}:`)))) {
      res.statusCode = 403;
      res.end('{"errors":[{"code":"DENIED","message":"denied"}]}');
      return;
    }
    issue(res, user, req.url.searchParams.getAll('scope'));
  });
  return Object.assign(s, { grants, realm: `${s.base}/token` });
}

interface RegistryOptions {
  tokens?: TokenServer;
  /** Scopes a request needs (default: pull on /v2/<repo>/…, push for PUT/POST/PATCH). */
  need?: (req: Recorded) => string[];
  /** Answer 401 without any WWW-Authenticate header (gcr.io quirk) for these requests. */
  bareChallenge?: (req: Recorded) => boolean;
  /** Basic auth instead of Bearer. */
  basic?: boolean;
  /** Tokens the registry no longer accepts. */
  revoked?: Set<string>;
  realmOverride?: string;
}

function defaultNeed(req: Recorded): string[] {
  const m = /^\/v2\/(.+?)\/(manifests|blobs|tags)\//.exec(req.url.pathname);
  if (!m) return [];
  const action = req.method === 'GET' || req.method === 'HEAD' ? 'pull' : 'pull,push';
  const scopes = [`repository:${m[1]}:${action}`];
  const from = req.url.searchParams.get('from');
  if (from) scopes.push(`repository:${from}:pull`);
  return scopes;
}

/** A registry that checks Bearer tokens against the token server's grants (or Basic creds). */
async function registry(o: RegistryOptions = {}): Promise<Server> {
  return serve((req, res) => {
    const need = (o.need ?? defaultNeed)(req);
    const auth = req.headers.authorization ?? '';
    const challenge = (extra: string) => {
      res.statusCode = 401;
      if (!o.bareChallenge?.(req)) {
        if (o.basic) res.setHeader('www-authenticate', 'Basic realm="test registry"');
        else {
          const scope = need.length ? `,scope="${need.join(' ')}"` : '';
          res.setHeader('www-authenticate', `Bearer realm="${o.realmOverride ?? o.tokens!.realm}",service="${SERVICE}"${scope}${extra}`);
        }
      }
      res.setHeader('content-type', 'application/json');
      res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
    };
    if (o.basic) {
      if (auth !== `Basic ${Buffer.from(`alice:${PASSWORD}`).toString('base64')}`) return challenge('');
    } else if (auth === `Bearer ${REGISTRY_TOKEN}`) {
      // a pre-issued registry token grants everything
    } else if (auth === `Bearer ${PULL_REGISTRY_TOKEN}`) {
      // a pre-issued registry token that may only read
      if (need.some((s) => !s.endsWith(':pull'))) return challenge(',error="insufficient_scope"');
    } else if (auth.startsWith('Bearer ')) {
      const token = auth.slice(7);
      const granted = o.tokens?.grants.get(token);
      if (!granted || o.revoked?.has(token)) return challenge(',error="invalid_token"');
      if (!scopesCover(granted, need)) return challenge(',error="insufficient_scope"');
    } else if (auth) {
      return challenge('');
    } else {
      return challenge('');
    }
    res.setHeader('content-type', 'text/plain');
    res.end(`ok ${req.method} ${req.url.pathname} body=${req.body.length}`);
  });
}

function middleware(reg: Server, cred: Credential | undefined, extra: Partial<AuthOptions> = {}): Send {
  const mw = authMiddleware({
    registry: reg.host,
    scheme: 'http',
    scopes: ['repository:app:pull,push'],
    credential: async () => cred,
    tokenSend: send,
    logger: log,
    userAgent: 'regpush/test',
    ...extra,
  });
  return mw(send);
}

const alice: Credential = { username: 'alice', password: PASSWORD };
const get = (reg: Server, p: string, more: Partial<HttpRequest> = {}): HttpRequest => ({ method: 'GET', url: `${reg.base}${p}`, ...more });
const tokenCalls = (t: Server) => t.requests.length;

// ---------------------------------------------------------------------------------------------

describe('bearer flow', () => {
  it('401 challenge → token GET with Basic creds, service and scopes → replay with Bearer', async () => {
    const tokens = await tokenServer();
    const reg = await registry({ tokens });
    const client = middleware(reg, alice);
    const res = await client(get(reg, '/v2/app/manifests/latest', { scopes: ['repository:base:pull'] }));
    assert.equal(res.status, 200);
    assert.equal(await readBody(res), 'ok GET /v2/app/manifests/latest body=0');
    assert.equal(tokenCalls(tokens), 1);
    const t = tokens.requests[0]!;
    assert.equal(t.method, 'GET');
    assert.equal(t.headers.authorization, `Basic ${Buffer.from(`alice:${PASSWORD}`).toString('base64')}`);
    assert.equal(t.headers['user-agent'], 'regpush/test');
    assert.equal(t.url.searchParams.get('service'), SERVICE);
    assert.equal(t.url.searchParams.get('account'), 'alice');
    // operation scopes ∪ request scopes ∪ challenge scope, merged and sorted
    assert.deepEqual(t.url.searchParams.getAll('scope'), ['repository:app:pull,push', 'repository:base:pull']);
    assert.equal(reg.requests.length, 2);
    assert.equal(reg.requests[0]!.headers.authorization, undefined);
    assert.match(String(reg.requests[1]!.headers.authorization), /^Bearer tok1-/);
  });

  it('caches the token: a second request goes out with Bearer at once, no token call', async () => {
    const tokens = await tokenServer();
    const reg = await registry({ tokens });
    const client = middleware(reg, alice);
    await readBody(await client(get(reg, '/v2/app/manifests/a')));
    const res = await client(get(reg, '/v2/app/blobs/sha256:abc'));
    assert.equal(res.status, 200);
    await readBody(res);
    assert.equal(tokenCalls(tokens), 1);
    assert.equal(reg.requests.length, 3);
    assert.match(String(reg.requests[2]!.headers.authorization), /^Bearer /);
  });

  it('10 concurrent requests share one token request', async () => {
    const tokens = await tokenServer({ delayMs: 50 });
    const reg = await registry({ tokens });
    const client = middleware(reg, alice);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => client(get(reg, `/v2/app/blobs/sha256:${i}`))));
    for (const r of results) {
      assert.equal(r.status, 200);
      await readBody(r);
    }
    assert.equal(tokenCalls(tokens), 1);
  });

  it('the /v2/ ping learns the challenge; later requests fetch their token up front', async () => {
    const tokens = await tokenServer();
    const reg = await registry({ tokens });
    const client = middleware(reg, alice);
    const ping = await client(get(reg, '/v2/'));
    assert.equal(ping.status, 200);
    await readBody(ping);
    const res = await client(get(reg, '/v2/app/manifests/x'));
    assert.equal(res.status, 200);
    await readBody(res);
    assert.equal(tokenCalls(tokens), 1, 'operation scopes were requested on the ping already');
    assert.equal(reg.requests.length, 3);
  });

  it('anonymous: token GET without Authorization', async () => {
    const tokens = await tokenServer();
    const reg = await registry({ tokens });
    const client = middleware(reg, undefined, { scopes: ['repository:app:pull'] });
    const res = await client(get(reg, '/v2/app/manifests/latest'));
    assert.equal(res.status, 200);
    await readBody(res);
    assert.equal(tokens.requests[0]!.headers.authorization, undefined);
    assert.equal(tokens.requests[0]!.url.searchParams.get('account'), null);
  });

  it('access_token is accepted as well as token', async () => {
    const tokens = await tokenServer({ field: 'access_token' });
    const reg = await registry({ tokens });
    const res = await middleware(reg, alice)(get(reg, '/v2/app/manifests/latest'));
    assert.equal(res.status, 200);
    await readBody(res);
  });

  it('a registry token credential is sent as Bearer directly, with no token request', async () => {
    const tokens = await tokenServer();
    const reg = await registry({ tokens });
    const client = middleware(reg, { registryToken: REGISTRY_TOKEN });
    const res = await client(get(reg, '/v2/app/manifests/latest'));
    assert.equal(res.status, 200);
    await readBody(res);
    const again = await client(get(reg, '/v2/app/manifests/latest'));
    await readBody(again);
    assert.equal(tokenCalls(tokens), 0);
    assert.equal(reg.requests.length, 3, 'second request authenticated up front');
  });

  it('401 without a challenge (gcr.io) reuses the challenge from the ping', async () => {
    const tokens = await tokenServer();
    const revoked = new Set<string>();
    const reg = await registry({ tokens, revoked, bareChallenge: (r) => r.url.pathname !== '/v2/' });
    const client = middleware(reg, alice, { scopes: ['repository:app:pull'] });
    await readBody(await client(get(reg, '/v2/')));
    // The stored token goes stale server-side; the registry's 401 then carries no challenge.
    for (const t of tokens.grants.keys()) revoked.add(t);
    const res = await client(get(reg, '/v2/app/manifests/x'));
    assert.equal(res.status, 200);
    await readBody(res);
    assert.equal(tokenCalls(tokens), 2);
    assert.equal(reg.requests.length, 4); // ping, ping replay, stale 401, replay
  });

  it('401 without a challenge and none learned → the 401 goes back to the caller', async () => {
    const tokens = await tokenServer();
    const reg = await registry({ tokens, bareChallenge: () => true });
    const res = await middleware(reg, alice)(get(reg, '/v2/app/manifests/x'));
    assert.equal(res.status, 401);
    await readBody(res);
    assert.equal(tokenCalls(tokens), 0);
  });

  it('403 is left to the caller', async () => {
    const reg = await serve((_req, res) => {
      res.statusCode = 403;
      res.end('{"errors":[{"code":"DENIED"}]}');
    });
    const res = await middleware(reg, alice)(get(reg, '/v2/app/manifests/x'));
    assert.equal(res.status, 403);
    assert.match(await readBody(res), /DENIED/);
  });

  it('a stored token the registry no longer accepts is refreshed once', async () => {
    const tokens = await tokenServer();
    const revoked = new Set<string>();
    const reg = await registry({ tokens, revoked });
    const client = middleware(reg, alice);
    await readBody(await client(get(reg, '/v2/app/manifests/a')));
    for (const t of tokens.grants.keys()) revoked.add(t);
    const res = await client(get(reg, '/v2/app/manifests/b'));
    assert.equal(res.status, 200);
    await readBody(res);
    assert.equal(tokenCalls(tokens), 2);
  });

  it('a fresh token the registry still refuses → AuthError naming registry and user, status 401', async () => {
    const tokens = await tokenServer();
    const revoked = { has: () => true } as unknown as Set<string>;
    const reg = await registry({ tokens, revoked });
    const err = await failure(middleware(reg, alice)(get(reg, '/v2/app/manifests/a')));
    assert.ok(err instanceof AuthError);
    assert.equal(err.code, 'E_AUTH');
    assert.equal(err.details.status, 401);
    assert.match(err.message, new RegExp(`authentication to ${reg.host} failed: .*user alice`));
    assert.ok(tokenCalls(tokens) <= 2);
  });

  it('malformed challenge on a 401 → ProtocolError', async () => {
    const reg = await serve((_req, res) => {
      res.statusCode = 401;
      res.setHeader('www-authenticate', 'Bearer realm="unterminated');
      res.end();
    });
    const err = await failure(middleware(reg, alice)(get(reg, '/v2/')));
    assert.ok(err instanceof ProtocolError);
    assert.equal(err.code, 'E_PROTOCOL');
    assert.equal(err.message, 'malformed WWW-Authenticate header (unterminated quoted string): Bearer realm="unterminated');
  });

  it('never attaches Authorization to another origin, even once the scheme is known', async () => {
    const tokens = await tokenServer();
    const reg = await registry({ tokens });
    const storage = await serve((_req, res) => {
      res.end('blob bytes');
    });
    const client = middleware(reg, alice);
    await readBody(await client(get(reg, '/v2/app/manifests/a')));
    const res = await client({ method: 'GET', url: `${storage.base}/bucket/blob?sig=1` });
    await readBody(res);
    assert.equal(storage.requests[0]!.headers.authorization, undefined);
  });

  it("leaves a caller's own Authorization header alone", async () => {
    const reg = await serve((_req, res) => {
      res.end('ok');
    });
    const res = await middleware(reg, alice)(get(reg, '/v2/', { headers: { authorization: 'Bearer mine' } }));
    await readBody(res);
    assert.equal(reg.requests[0]!.headers.authorization, 'Bearer mine');
  });
});

describe('scopes and insufficient_scope', () => {
  it('insufficient_scope with a new scope → one more token fetch with the widened set', async () => {
    const tokens = await tokenServer();
    // The registry insists on pull of the mount source even though the caller forgot request.scopes.
    const reg = await registry({ tokens });
    const client = middleware(reg, alice);
    await readBody(await client(get(reg, '/v2/app/manifests/a')));
    const res = await client({ method: 'POST', url: `${reg.base}/v2/app/blobs/uploads/?mount=sha256:1&from=base`, body: Buffer.alloc(0) });
    assert.equal(res.status, 200);
    await readBody(res);
    assert.equal(tokenCalls(tokens), 2);
    assert.deepEqual(tokens.requests[1]!.url.searchParams.getAll('scope'), ['repository:app:pull,push', 'repository:base:pull']);
    const insufficient = reg.requests.find((r) => r.url.search.includes('mount') && r.headers.authorization);
    assert.ok(insufficient);
  });

  it('insufficient_scope for a scope the token service will not grant → AuthError (bounded token fetches)', async () => {
    const tokens = await tokenServer();
    const reg = await registry({ tokens, need: () => ['repository:app:pull,push'] });
    const err = await failure(middleware(reg, undefined)(get(reg, '/v2/app/manifests/a')));
    assert.ok(err instanceof AuthError);
    assert.equal(err.code, 'E_AUTH');
    assert.equal(err.details.status, 401);
    assert.match(err.message, /anonymous/);
    assert.ok(tokenCalls(tokens) <= 2, `token calls: ${tokenCalls(tokens)}`);
  });

  it('a write refused with insufficient_scope after the token service accepted the credentials → E_DENIED naming the action, not "rejected the credentials"', async () => {
    const tokens = await tokenServer({ pullOnly: true });
    const reg = await registry({ tokens });
    const client = middleware(reg, alice);
    await readBody(await client(get(reg, '/v2/app/manifests/a')));
    const err = await failure(client({ method: 'POST', url: `${reg.base}/v2/app/blobs/uploads/`, body: Buffer.alloc(0) }));
    assert.equal(err.code, 'E_DENIED');
    assert.equal(err.exitCode, 3);
    assert.equal(err.message, `access to app at ${reg.host} denied: the credentials for user alice were accepted by the token service ${tokens.host}, but not for writing (push); check your rights on the repository`);
    assert.equal(err.details.status, 401);
    assert.ok(tokenCalls(tokens) <= 2);
  });

  it('a delete refused so → E_DENIED "not for deleting (delete)"; an identity token is named as such', async () => {
    const tokens = await tokenServer({ pullOnly: true });
    const reg = await registry({ tokens, need: (req) => (req.method === 'DELETE' ? ['repository:app:delete'] : defaultNeed(req)) });
    const err = await failure(middleware(reg, { identityToken: REFRESH })({ method: 'DELETE', url: `${reg.base}/v2/app/manifests/sha256:1` }));
    assert.equal(err.code, 'E_DENIED');
    assert.match(err.message, /denied: the identity token was accepted by the token service .*, but not for deleting \(delete\);/);
  });

  it('a write refused without a challenge to a token just issued for the credentials → E_DENIED as well (tag and delete said so on their own); a read so refused is handed back', async () => {
    const tokens = await tokenServer({ pullOnly: true, denyRepos: ['secret'] });
    const reg = await registry({ tokens, bareChallenge: (r) => r.url.pathname !== '/v2/' });
    const client = middleware(reg, alice);
    await readBody(await client(get(reg, '/v2/')));
    const err = await failure(client({ method: 'PUT', url: `${reg.base}/v2/app/manifests/1`, body: Buffer.from('{}') }));
    assert.equal(err.code, 'E_DENIED');
    assert.equal(err.message, `access to app at ${reg.host} denied: the credentials for user alice were accepted by the token service ${tokens.host}, but not for writing (push); check your rights on the repository`);
    const read = await middleware(reg, alice, { scopes: ['repository:secret:pull'] })(get(reg, '/v2/secret/manifests/1'));
    assert.equal(read.status, 401);
    await readBody(read);
  });

  it('a read refused with insufficient_scope stays E_AUTH: the repository may not exist (Docker Hub answers so)', async () => {
    const tokens = await tokenServer({ denyRepos: ['secret'] });
    const reg = await registry({ tokens });
    const err = await failure(middleware(reg, alice, { scopes: ['repository:secret:pull'] })(get(reg, '/v2/secret/manifests/1')));
    assert.equal(err.code, 'E_AUTH');
    assert.match(err.message, /rejected the credentials for user alice for repository:secret:pull \(the repository may not exist, or access is not granted\)/);
  });

  it('a token the registry calls invalid_token just after its token service issued it → E_AUTH saying so, not "rejected the credentials"', async () => {
    const tokens = await tokenServer();
    const reg = await registry({ tokens, revoked: { has: () => true } as unknown as Set<string> });
    const err = await failure(middleware(reg, alice)(get(reg, '/v2/app/manifests/a')));
    assert.equal(err.code, 'E_AUTH');
    assert.equal(err.message, `authentication to ${reg.host} failed: the registry refused the token ${tokens.host} had just issued for user alice (invalid_token), so the credentials are not the problem; check that the registry trusts that token service (issuer, certificate, service name) and that their clocks agree`);
    assert.equal(err.details.tokenRefused, true);
    // No "check the credentials or run `regpush login`" after it on the CLI's line.
    assert.equal(errorLine(err), `regpush: error: ${err.message} [E_AUTH]`);
  });

  it('request.scopes are requested with the operation scopes', async () => {
    const tokens = await tokenServer();
    const reg = await registry({ tokens });
    const client = middleware(reg, alice, { scopes: ['repository:app:push', 'repository:app:pull'] });
    const res = await client({ method: 'POST', url: `${reg.base}/v2/app/blobs/uploads/?mount=sha256:1&from=base`, scopes: ['repository:base:pull'] });
    assert.equal(res.status, 200);
    await readBody(res);
    assert.equal(tokenCalls(tokens), 1);
    assert.deepEqual(tokens.requests[0]!.url.searchParams.getAll('scope'), ['repository:app:pull,push', 'repository:base:pull']);
  });
});

describe('expiry', () => {
  it('expires_in is honoured (injected clock)', async () => {
    let now = 1_000_000;
    const tokens = await tokenServer({ expiresIn: 120 });
    const reg = await registry({ tokens });
    const client = middleware(reg, alice, { now: () => now });
    await readBody(await client(get(reg, '/v2/app/manifests/a')));
    now += 100_000;
    await readBody(await client(get(reg, '/v2/app/manifests/a')));
    assert.equal(tokenCalls(tokens), 1, 'still valid at +100 s');
    now += 15_000;
    await readBody(await client(get(reg, '/v2/app/manifests/a')));
    assert.equal(tokenCalls(tokens), 2, 'refreshed within the margin before +120 s');
  });

  it('no expires_in → 60 s default; the lifetime counts from the reply\'s arrival, whatever issued_at says', async () => {
    const now = Date.parse('2030-01-01T00:00:00Z');
    const t1 = await tokenServer();
    const ch = parseChallenges(`Bearer realm="${t1.realm}",service="${SERVICE}"`)[0]!;
    const a = await fetchToken(send, ch, ['repository:app:pull'], alice, { registry: 'r', scheme: 'http', now: () => now });
    assert.equal(a.expiresAt, now + 60_000);
    // The token service's clock behind ours (or ours ahead: a drifting VM) must not shorten it...
    const t2 = await tokenServer({ expiresIn: 300, issuedAt: '2029-12-31T23:50:00Z' });
    const b = await fetchToken(send, parseChallenges(`Bearer realm="${t2.realm}"`)[0]!, [], alice, { registry: 'r', scheme: 'http', now: () => now });
    assert.equal(b.expiresAt, now + 300_000);
    // ...and one ahead of ours must not extend it.
    const t3 = await tokenServer({ expiresIn: 300, issuedAt: '2030-01-01T01:00:00Z' });
    const c = await fetchToken(send, parseChallenges(`Bearer realm="${t3.realm}"`)[0]!, [], alice, { registry: 'r', scheme: 'http', now: () => now });
    assert.equal(c.expiresAt, now + 300_000);
  });

  for (const [clock, issuedAt] of [['behind', '2000-01-01T00:00:00Z'], ['ahead of', '2100-01-01T00:00:00Z']] as const) {
    it(`a token service whose clock is far ${clock} ours: one token serves every request of its lifetime`, async () => {
      const tokens = await tokenServer({ expiresIn: 300, issuedAt });
      const reg = await registry({ tokens });
      const client = middleware(reg, alice);
      for (let i = 0; i < 10; i++) await readBody(await client(get(reg, `/v2/app/manifests/t${i}`)));
      assert.equal(tokenCalls(tokens), 1);
    });
  }
});

describe('identity tokens (oauth2 refresh_token)', () => {
  it('POSTs grant_type=refresh_token form-encoded, gets access_token', async () => {
    const tokens = await tokenServer({ field: 'access_token' });
    const reg = await registry({ tokens });
    const res = await middleware(reg, { identityToken: REFRESH })(get(reg, '/v2/app/manifests/latest'));
    assert.equal(res.status, 200);
    await readBody(res);
    assert.equal(tokenCalls(tokens), 1);
    const t = tokens.requests[0]!;
    assert.equal(t.method, 'POST');
    assert.equal(t.headers['content-type'], 'application/x-www-form-urlencoded');
    const form = new URLSearchParams(t.body);
    assert.equal(form.get('grant_type'), 'refresh_token');
    assert.equal(form.get('refresh_token'), REFRESH);
    assert.equal(form.get('service'), SERVICE);
    assert.equal(form.get('client_id'), 'regpush');
    assert.equal(form.get('scope'), 'repository:app:pull,push');
  });

  for (const status of [404, 405]) {
    it(`POST ${status} → falls back to GET`, async () => {
      const tokens = await tokenServer({ postStatus: status });
      const reg = await registry({ tokens });
      const res = await middleware(reg, { identityToken: REFRESH })(get(reg, '/v2/app/manifests/latest'));
      assert.equal(res.status, 200);
      await readBody(res);
      assert.deepEqual(tokens.requests.map((r) => r.method), ['POST', 'GET']);
      assert.equal(tokens.requests[1]!.headers.authorization, `Basic ${Buffer.from(`<token>:${REFRESH}`).toString('base64')}`);
    });
  }

  it('a refused refresh token → AuthError without the token', async () => {
    const tokens = await tokenServer();
    const reg = await registry({ tokens });
    const err = await failure(middleware(reg, { identityToken: 'not-the-REFRESH-token' })(get(reg, '/v2/app/manifests/latest')));
    assert.ok(err instanceof AuthError);
    assert.equal(err.code, 'E_AUTH');
    assert.equal(err.message, `authentication to ${reg.host} failed: ${tokens.host} rejected the credentials for the given token`);
    assert.ok(!err.message.includes('not-the-REFRESH-token'));
  });
});

describe('basic auth', () => {
  it('Basic challenge → Basic credentials; later requests send Basic up front', async () => {
    const reg = await registry({ basic: true });
    const client = middleware(reg, alice);
    const res = await client(get(reg, '/v2/app/manifests/latest'));
    assert.equal(res.status, 200);
    await readBody(res);
    await readBody(await client(get(reg, '/v2/app/manifests/latest')));
    assert.equal(reg.requests.length, 3);
    assert.match(String(reg.requests[2]!.headers.authorization), /^Basic /);
  });

  it('Basic challenge and no credentials → AuthError', async () => {
    const reg = await registry({ basic: true });
    const err = await failure(middleware(reg, undefined)(get(reg, '/v2/')));
    assert.ok(err instanceof AuthError);
    assert.equal(err.code, 'E_AUTH');
    assert.ok(err.message.startsWith(`authentication to ${reg.host} failed: `), err.message);
    assert.match(err.message, /requires a username and password/);
  });

  it('wrong password on Basic → AuthError naming registry and user, status 401, no password', async () => {
    const reg = await registry({ basic: true });
    const err = await failure(middleware(reg, { username: 'alice', password: WRONG })(get(reg, '/v2/')));
    assert.ok(err instanceof AuthError);
    assert.equal(err.code, 'E_AUTH');
    assert.equal(err.details.status, 401);
    assert.ok(err.message.includes(reg.host) && err.message.includes('alice'));
    assert.ok(!err.message.includes(WRONG));
  });
});

describe('token service failures', () => {
  it('wrong password at the realm → AuthError "<realm host> rejected the credentials for user alice", no password', async () => {
    const tokens = await tokenServer();
    const reg = await registry({ tokens });
    const err = await failure(middleware(reg, { username: 'alice', password: WRONG })(get(reg, '/v2/app/manifests/x')));
    assert.ok(err instanceof AuthError);
    assert.equal(err.code, 'E_AUTH');
    assert.equal(err.message, `authentication to ${reg.host} failed: ${tokens.host} rejected the credentials for user alice`);
    assert.equal(err.details.status, 401);
  });

  it('realm answering garbage → ProtocolError naming the realm host', async () => {
    const tokens = await tokenServer({ raw: { status: 200, body: '<html>login</html>', contentType: 'text/html' } });
    const reg = await registry({ tokens });
    const err = await failure(middleware(reg, alice)(get(reg, '/v2/app/manifests/x')));
    assert.ok(err instanceof ProtocolError);
    assert.equal(err.code, 'E_PROTOCOL');
    assert.equal(err.message, `token service ${tokens.host} returned a reply that is not JSON`);
    assert.ok(err.message.includes(tokens.host));
  });

  it('realm answering JSON without a token → ProtocolError', async () => {
    const tokens = await tokenServer({ raw: { status: 200, body: '{"expires_in": 60}' } });
    const reg = await registry({ tokens });
    const err = await failure(middleware(reg, alice)(get(reg, '/v2/app/manifests/x')));
    assert.ok(err instanceof ProtocolError);
    assert.equal(err.code, 'E_PROTOCOL');
    assert.equal(err.message, `token service ${tokens.host} returned no token`);
    assert.match(err.message, /returned no token/);
  });

  it('token reply over 64 KiB → ProtocolError', async () => {
    const tokens = await tokenServer({ raw: { status: 200, body: JSON.stringify({ token: 'x'.repeat(70 * 1024) }) } });
    const reg = await registry({ tokens });
    const err = await failure(middleware(reg, alice)(get(reg, '/v2/app/manifests/x')));
    assert.ok(err instanceof ProtocolError);
    assert.equal(err.code, 'E_PROTOCOL');
    assert.equal(err.message, `token reply from ${tokens.host} is larger than 64 KiB`);
    assert.match(err.message, /64 KiB/);
  });

  it('realm answering 500 → AuthError with the status', async () => {
    const tokens = await tokenServer({ raw: { status: 500, body: 'oops' } });
    const reg = await registry({ tokens });
    const err = await failure(middleware(reg, alice)(get(reg, '/v2/app/manifests/x')));
    assert.ok(err instanceof AuthError);
    assert.equal(err.code, 'E_AUTH');
    assert.equal(err.message, `authentication to ${reg.host} failed: token service ${tokens.host} answered HTTP 500 (the token service failed; retry later or check its status page)`);
    assert.equal(err.details.status, 500);
  });

  it('ftp: realm is refused before any request', async () => {
    const reg = await registry({ realmOverride: 'ftp://evil.example.com/token' });
    const err = await failure(middleware(reg, alice)(get(reg, '/v2/app/manifests/x')));
    assert.ok(err instanceof ProtocolError);
    assert.equal(err.code, 'E_PROTOCOL');
    assert.equal(err.message, `refusing token realm ftp://evil.example.com/token from ${reg.host}: only http(s) realms are allowed`);
    assert.match(err.message, /only http\(s\) realms/);
  });

  it('an http realm for an https registry is refused (downgrade); loopback realms are allowed', async () => {
    const ch = parseChallenges('Bearer realm="http://auth.example.com/token",service="s"')[0]!;
    let called = false;
    const spy: Send = async (r) => {
      called = true;
      return send(r);
    };
    const err = await failure(fetchToken(spy, ch, [], alice, { registry: 'reg.example.com', scheme: 'https' }));
    assert.ok(err instanceof ProtocolError);
    assert.equal(err.code, 'E_PROTOCOL');
    assert.equal(err.message, 'refusing token realm http://auth.example.com/token: reg.example.com is reached over https and credentials must not be sent over plain http');
    assert.match(err.message, /plain http/);
    assert.equal(called, false);
    const tokens = await tokenServer();
    const ok = await fetchToken(send, parseChallenges(`Bearer realm="${tokens.realm}"`)[0]!, [], alice, { registry: 'reg.example.com', scheme: 'https' });
    assert.match(ok.token, /^tok/);
  });

  it('a challenge without realm, or with a non-URL realm → ProtocolError', async () => {
    for (const [h, message] of [
      ['Bearer service="s"', 'Bearer challenge from r has no realm'],
      ['Bearer realm="not a url"', 'token realm from r is not a URL: not a url'],
      ['Bearer realm="http://u:p@127.0.0.1/token"', 'refusing token realm from r: it carries user information'],
    ]) {
      const err = await failure(fetchToken(send, parseChallenges(h)[0]!, [], alice, { registry: 'r', scheme: 'http' }));
      assert.ok(err instanceof ProtocolError, h);
      assert.equal(err.code, 'E_PROTOCOL', h);
      assert.equal(err.message, message, h);
    }
  });

  it('a realm that is no http(s) URL is quoted without what could be a password before its @', async () => {
    for (const [realm, shown] of [
      ['ci:hunter22@auth.example.com/token', '***@auth.example.com/token'],
      ['ci:hunter22@not a url', '***@not a url'],
    ]) {
      const err = await failure(fetchToken(send, parseChallenges(`Bearer realm="${realm}"`)[0]!, [], alice, { registry: 'r', scheme: 'http' }));
      assert.ok(err instanceof ProtocolError, realm);
      assert.equal(err.code, 'E_PROTOCOL', realm);
      assert.ok(err.message.includes(shown), err.message);
      assert.ok(!err.message.includes('hunter22'), err.message);
    }
  });
});

describe('refused credentials are remembered for the run (no failed login per image)', () => {
  const bad: Credential = { username: 'alice', password: WRONG };

  it('a token service that refused a password is not asked again: every later request of the run fails at once with the same error', async () => {
    const tokens = await tokenServer();
    const reg = await registry({ tokens });
    const memory = new AuthMemory();
    // One client per image, as a sync makes them: each asks for its own repository's scope.
    const errors: RegpushError[] = [];
    for (const repo of ['a', 'b', 'c', 'd', 'e']) {
      const client = middleware(reg, bad, { memory, scopes: [`repository:${repo}:pull,push`] });
      errors.push(await failure(client(get(reg, `/v2/${repo}/manifests/1`))));
    }
    assert.equal(tokenCalls(tokens), 1, 'one failed login in the run');
    for (const err of errors) {
      assert.ok(err instanceof AuthError);
      assert.equal(err.code, 'E_AUTH');
      assert.equal(err.message, `authentication to ${reg.host} failed: ${tokens.host} rejected the credentials for user alice`);
      assert.equal(err.details.status, 401);
    }
    // Another credential of the same user is another identity: it is asked for.
    const res = await middleware(reg, alice, { memory })(get(reg, '/v2/app/manifests/1'));
    assert.equal(res.status, 200);
    await readBody(res);
    assert.equal(tokenCalls(tokens), 2);
  });

  it('concurrent requests share the one refused token GET', async () => {
    const tokens = await tokenServer({ delayMs: 30 });
    const reg = await registry({ tokens });
    const memory = new AuthMemory();
    await Promise.all(['a', 'b', 'c'].flatMap((repo) => [1, 2].map(() => failure(middleware(reg, bad, { memory, scopes: [`repository:${repo}:pull`] })(get(reg, `/v2/${repo}/manifests/1`))))));
    assert.ok(tokenCalls(tokens) <= 3, `token calls: ${tokenCalls(tokens)} (one per scope set at most, the ones started before the first refusal came back)`);
    await failure(middleware(reg, bad, { memory, scopes: ['repository:z:pull'] })(get(reg, '/v2/z/manifests/1')));
    assert.ok(tokenCalls(tokens) <= 3, 'none after it');
  });

  it('a token service\'s 403 is remembered for the scopes it refused, and for no other (GHCR answers 403 for one repository the user may not read)', async () => {
    const tokens = await tokenServer({ forbidRepos: ['secret'] });
    const reg = await registry({ tokens });
    const memory = new AuthMemory();
    const errors: RegpushError[] = [];
    // Three images of the refused repository (three tags in a sync), each its own client.
    for (let i = 0; i < 3; i++) errors.push(await failure(middleware(reg, alice, { memory, scopes: ['repository:secret:pull'] })(get(reg, `/v2/secret/manifests/${i}`))));
    const client = middleware(reg, alice, { memory, scopes: ['repository:secret:pull'] });
    for (let i = 0; i < 2; i++) errors.push(await failure(client(get(reg, '/v2/secret/manifests/x'))));
    assert.equal(tokenCalls(tokens), 1, 'the refused scope is asked for once in the run');
    for (const err of errors) {
      assert.ok(err instanceof AuthError);
      assert.equal(err.code, 'E_AUTH');
      assert.equal(err.details.status, 403);
      assert.equal(err.message, `authentication to ${reg.host} failed: ${tokens.host} refused a token for repository:secret:pull to user alice (HTTP 403): access not granted, or the credentials have expired`);
    }
    // The same credentials for other repositories: asked for, and granted.
    for (const repo of ['a', 'b']) {
      const res = await middleware(reg, alice, { memory, scopes: [`repository:${repo}:pull`] })(get(reg, `/v2/${repo}/manifests/1`));
      assert.equal(res.status, 200);
      await readBody(res);
    }
    assert.equal(tokenCalls(tokens), 3);
  });

  // Anonymous: no credential is looked up again, so the token service's answer to those scopes
  // stands for the run. A read already on its way when the refusal came (a mirror's HEAD and GET of
  // one image) has its own 401 after it, and must not ask again.
  for (const status of [403, 401]) {
    it(`an anonymous token refused (HTTP ${status}) is asked for once per scope set in the run: a later 401 for those scopes fails with the same error; other scopes are still asked`, async () => {
      const tokens = await tokenServer(status === 403 ? { forbidRepos: ['secret'] } : { raw: { status: 401, body: '{"details":"anonymous access refused"}' } });
      const reg = await registry({ tokens });
      const memory = new AuthMemory();
      const errors: RegpushError[] = [];
      const client = middleware(reg, undefined, { memory, scopes: ['repository:secret:pull'] });
      for (const tag of ['1', '2']) errors.push(await failure(client(get(reg, `/v2/secret/manifests/${tag}`))));
      errors.push(await failure(middleware(reg, undefined, { memory, scopes: ['repository:secret:pull'] })(get(reg, '/v2/secret/manifests/3'))));
      assert.equal(tokenCalls(tokens), 1, 'the refused scope is asked for once in the run');
      for (const err of errors) {
        assert.ok(err instanceof AuthError);
        assert.equal(err.code, 'E_AUTH');
        assert.equal(err.details.status, status);
        assert.equal(err.details.anonymous, true);
        assert.equal(err.message, errors[0]!.message);
      }
      // Another repository's scopes: asked for (granted where only `secret` is forbidden).
      const other = middleware(reg, undefined, { memory, scopes: ['repository:a:pull'] })(get(reg, '/v2/a/manifests/1'));
      if (status === 403) await readBody(await other);
      else await failure(other);
      assert.equal(tokenCalls(tokens), 2);
    });
  }

  it('a registry token the registry refuses is sent once per run: every later request fails at once with the same error', async () => {
    const tokens = await tokenServer();
    const reg = await registry({ tokens });
    const memory = new AuthMemory();
    const stale: Credential = { registryToken: STALE_REGISTRY_TOKEN };
    const errors: RegpushError[] = [];
    for (const repo of ['a', 'b', 'c']) errors.push(await failure(middleware(reg, stale, { memory, scopes: [`repository:${repo}:pull`] })(get(reg, `/v2/${repo}/manifests/1`))));
    const client = middleware(reg, stale, { memory });
    for (let i = 0; i < 2; i++) errors.push(await failure(client(get(reg, '/v2/app/manifests/1'))));
    assert.equal(reg.requests.filter((r) => r.headers.authorization === `Bearer ${STALE_REGISTRY_TOKEN}`).length, 1, 'the refused token went out once');
    assert.equal(tokenCalls(tokens), 0);
    for (const err of errors) {
      assert.ok(err instanceof AuthError);
      assert.equal(err.code, 'E_AUTH');
      assert.equal(err.message, `authentication to ${reg.host} failed: the registry rejected the registry token`);
    }
    // Another token is another credential.
    const res = await middleware(reg, { registryToken: REGISTRY_TOKEN }, { memory })(get(reg, '/v2/app/manifests/1'));
    assert.equal(res.status, 200);
    await readBody(res);
  });

  // A write refused to a registry token the registry takes: with insufficient_scope, or (GCR,
  // Harbor) a bare 401 after the token was accepted for reads.
  for (const bare of [false, true]) {
    it(`a registry token refused for a write it may not do (${bare ? 'a bare 401 after reads it took' : 'insufficient_scope'}) is E_DENIED, not a refusal of the token: its reads still go out`, async () => {
      const tokens = await tokenServer();
      const reg = await registry({ tokens, bareChallenge: (r) => bare && r.method === 'PUT' });
      const memory = new AuthMemory();
      const client = middleware(reg, { registryToken: PULL_REGISTRY_TOKEN }, { memory });
      if (bare) await readBody(await client(get(reg, '/v2/app/manifests/0')));
      const err = await failure(client({ method: 'PUT', url: `${reg.base}/v2/app/manifests/1`, body: Buffer.from('{}') }));
      assert.equal(err.code, 'E_DENIED');
      assert.equal(err.message, `access to app at ${reg.host} denied: the registry token was accepted by the registry, but not for writing (push); check your rights on the repository`);
      for (const c of [client, middleware(reg, { registryToken: PULL_REGISTRY_TOKEN }, { memory, scopes: ['repository:other:pull'] })]) {
        const res = await c(get(reg, '/v2/app/manifests/1'));
        assert.equal(res.status, 200);
        await readBody(res);
      }
    });
  }

  it('a Basic registry that refused a password never gets it again in the run', async () => {
    const reg = await registry({ basic: true });
    const memory = new AuthMemory();
    const errors: RegpushError[] = [];
    for (const repo of ['a', 'b', 'c']) errors.push(await failure(middleware(reg, bad, { memory, scopes: [`repository:${repo}:pull`] })(get(reg, `/v2/${repo}/manifests/1`))));
    const client = middleware(reg, bad, { memory });
    for (let i = 0; i < 2; i++) errors.push(await failure(client(get(reg, '/v2/app/manifests/1'))));
    assert.equal(reg.requests.filter((r) => r.headers.authorization).length, 1, 'the wrong password went out once');
    for (const err of errors) {
      assert.ok(err instanceof AuthError);
      assert.equal(err.code, 'E_AUTH');
      assert.equal(err.message, errors[0]!.message);
      assert.match(err.message, /rejected the credentials for user alice/);
    }
  });
});

describe('refused credentials are looked up again once (a credential helper\'s token that ran out)', () => {
  const bad: Credential = { username: 'alice', password: WRONG };

  it('a token service refusal: renewCredential is called once for concurrent requests, and they go on with the new credential', async () => {
    const tokens = await tokenServer({ delayMs: 20 });
    const reg = await registry({ tokens });
    let renewals = 0;
    const client = middleware(reg, bad, {
      renewCredential: async (refused) => {
        renewals++;
        assert.equal(refused.password, WRONG);
        return alice;
      },
    });
    const res = await Promise.all([1, 2, 3].map((i) => client(get(reg, `/v2/app/manifests/${i}`))));
    for (const r of res) {
      assert.equal(r.status, 200);
      await readBody(r);
    }
    assert.equal(renewals, 1);
    assert.deepEqual(tokens.requests.map((t) => t.headers.authorization === `Basic ${Buffer.from(`alice:${PASSWORD}`).toString('base64')}`), [false, true]);
    // The client keeps the new credential: no refusal, no renewal after it.
    await readBody(await client(get(reg, '/v2/app/manifests/4', { scopes: ['repository:other:pull'] })));
    assert.equal(renewals, 1);
    assert.equal(tokenCalls(tokens), 3);
  });

  it('whose() names the credential the requests go with: the same while it stands (computed once), the renewed one\'s after a renewal', async () => {
    const tokens = await tokenServer();
    const reg = await registry({ tokens });
    const mw = authMiddleware({ registry: reg.host, scheme: 'http', scopes: ['repository:app:pull,push'], credential: async () => bad, renewCredential: async () => alice, tokenSend: send, logger: log, userAgent: 'regpush/test' });
    assert.equal(await mw.whose(), who(bad));
    assert.equal(await mw.whose(), who(bad));
    await readBody(await mw(send)(get(reg, '/v2/app/manifests/1')));
    assert.equal(await mw.whose(), who(alice));
    assert.notEqual(who(alice), who(bad));
  });

  it('a renewal that gives the refused credential back: the refusal stands, and is not sent or renewed again', async () => {
    const tokens = await tokenServer();
    const reg = await registry({ tokens });
    let renewals = 0;
    const client = middleware(reg, bad, { renewCredential: async () => (renewals++, { ...bad }) });
    for (const repo of ['a', 'b', 'c']) {
      const err = await failure(client(get(reg, `/v2/${repo}/manifests/1`, { scopes: [`repository:${repo}:pull`] })));
      assert.ok(err instanceof AuthError, String(err));
      assert.equal(err.code, 'E_AUTH');
      assert.equal(err.message, `authentication to ${reg.host} failed: ${tokens.host} rejected the credentials for user alice`);
    }
    assert.equal(renewals, 1);
    assert.equal(tokenCalls(tokens), 1);
  });

  it('a token service\'s 403 looks the credential up once more, as a 401 does: GHCR answers 403 to a personal access token that has expired', async () => {
    const tokens = await tokenServer({ refusalStatus: 403 });
    const reg = await registry({ tokens });
    let renewals = 0;
    const client = middleware(reg, bad, {
      renewCredential: async (refused) => {
        renewals++;
        assert.equal(refused.password, WRONG);
        return alice;
      },
    });
    const res = await client(get(reg, '/v2/app/manifests/1'));
    assert.equal(res.status, 200);
    await readBody(res);
    assert.equal(renewals, 1);
    assert.equal(tokenCalls(tokens), 2);
  });

  it('a refused registry token is looked up again once: a token written anew (a rewritten credential file) goes on, the refused one is not sent again', async () => {
    const tokens = await tokenServer();
    const reg = await registry({ tokens });
    const memory = new AuthMemory();
    let renewals = 0;
    const renewCredential = async (refused: Credential) => {
      renewals++;
      assert.equal(refused.registryToken, STALE_REGISTRY_TOKEN);
      return { registryToken: REGISTRY_TOKEN };
    };
    for (const repo of ['a', 'b']) {
      const res = await middleware(reg, { registryToken: STALE_REGISTRY_TOKEN }, { memory, renewCredential, scopes: [`repository:${repo}:pull`] })(get(reg, `/v2/${repo}/manifests/1`));
      assert.equal(res.status, 200);
      await readBody(res);
    }
    assert.equal(reg.requests.filter((r) => r.headers.authorization === `Bearer ${STALE_REGISTRY_TOKEN}`).length, 1);
    assert.ok(renewals >= 1 && renewals <= 2, `renewals: ${renewals} (once per client at most)`);
  });

  it('a Basic refusal: the request is sent again once with the renewed credential', async () => {
    const reg = await registry({ basic: true });
    let renewals = 0;
    const client = middleware(reg, bad, { renewCredential: async () => (renewals++, alice) });
    const res = await client(get(reg, '/v2/app/manifests/1'));
    assert.equal(res.status, 200);
    await readBody(res);
    assert.equal(renewals, 1);
    assert.deepEqual(reg.requests.map((r) => r.headers.authorization?.slice(0, 6)), [undefined, 'Basic ', 'Basic ']);
  });

  // Credentials that run out during an upload: ECR's 12-hour password (Basic), a credential file's
  // registry token rewritten after the old one ran out.
  const header = (c: Credential) => (c.registryToken ? `Bearer ${c.registryToken}` : `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`);
  for (const c of [
    { what: 'Basic', first: alice, next: { username: 'alice', password: ROTATED } as Credential, challenge: () => 'Basic realm="test registry"' },
    { what: 'a registry token', first: { registryToken: STALE_REGISTRY_TOKEN } as Credential, next: { registryToken: REGISTRY_TOKEN } as Credential, challenge: (sent: boolean) => `Bearer realm="http://127.0.0.1:9/token",service="${SERVICE}"${sent ? ',error="invalid_token"' : ''}` },
  ]) {
    it(`${c.what} refused on a body that cannot be replayed: the 401 comes back marked authRenewed when another credential was found, and the next attempt sends it`, async () => {
      let accepted = c.first;
      const reg = await serve((req, res) => {
        if (req.headers.authorization !== header(accepted)) {
          res.statusCode = 401;
          res.setHeader('www-authenticate', c.challenge(!!req.headers.authorization));
          res.end();
          return;
        }
        res.end(`ok ${req.method} body=${req.body.length}`);
      });
      let renewals = 0;
      const client = middleware(reg, c.first, { renewCredential: async () => (renewals++, c.next) });
      await readBody(await client(get(reg, '/v2/')));
      accepted = c.next;
      const body = () => Readable.from([Buffer.from('once')]);
      const first = await client({ method: 'PATCH', url: `${reg.base}/v2/app/blobs/uploads/u1`, body, replayable: false });
      assert.equal(first.status, 401);
      assert.equal(first.authRenewed, true, 'a new attempt of the transfer is worth making');
      await readBody(first);
      const second = await client({ method: 'PATCH', url: `${reg.base}/v2/app/blobs/uploads/u1`, body, replayable: false });
      assert.equal(second.status, 200);
      assert.equal(await readBody(second), 'ok PATCH body=4');
      assert.equal(renewals, 1);
      assert.equal(reg.requests.filter((r) => r.headers.authorization === header(c.first)).length, 2, 'the /v2/ replay and the first PATCH');
    });
  }
});

describe('request bodies', () => {
  it('a Buffer body is replayed after the 401', async () => {
    const tokens = await tokenServer();
    const reg = await registry({ tokens });
    const res = await middleware(reg, alice)({ method: 'PUT', url: `${reg.base}/v2/app/manifests/v1`, body: Buffer.from('{"m":1}') });
    assert.equal(await readBody(res), 'ok PUT /v2/app/manifests/v1 body=7');
  });

  it('a replayable factory body is produced again for the replay', async () => {
    const tokens = await tokenServer();
    const reg = await registry({ tokens });
    let made = 0;
    const body = () => {
      made++;
      return Readable.from([Buffer.from('layer-bytes')]);
    };
    const res = await middleware(reg, alice)({ method: 'PATCH', url: `${reg.base}/v2/app/blobs/uploads/u1`, body });
    assert.equal(await readBody(res), 'ok PATCH /v2/app/blobs/uploads/u1 body=11');
    assert.equal(made, 2);
  });

  it('a non-replayable body gets the 401 back; the next attempt authenticates up front', async () => {
    const tokens = await tokenServer();
    const reg = await registry({ tokens });
    const client = middleware(reg, alice);
    const body = () => Readable.from([Buffer.from('once')]);
    const first = await client({ method: 'PATCH', url: `${reg.base}/v2/app/blobs/uploads/u1`, body, replayable: false });
    assert.equal(first.status, 401);
    await readBody(first);
    const second = await client({ method: 'PATCH', url: `${reg.base}/v2/app/blobs/uploads/u1`, body, replayable: false });
    assert.equal(second.status, 200);
    assert.equal(await readBody(second), 'ok PATCH /v2/app/blobs/uploads/u1 body=4');
    assert.equal(reg.requests.length, 2);
  });
});

describe('shared cache', () => {
  it('keys include the user, so one cache can serve two credentials', async () => {
    const tokens = await tokenServer();
    const reg = await registry({ tokens });
    const cache = new TokenCache();
    await readBody(await middleware(reg, alice, { cache })(get(reg, '/v2/app/manifests/a')));
    await readBody(await middleware(reg, undefined, { cache, scopes: ['repository:app:pull,push'] })(get(reg, '/v2/app/manifests/a')));
    assert.equal(tokenCalls(tokens), 2);
    assert.equal(cache.size, 2);
  });

  it('two credentials of one user name (two namespaces\' logins in one run) never share a token: the key holds a digest of the secret', async () => {
    const tokens = await tokenServer();
    const reg = await registry({ tokens });
    const memory = new AuthMemory();
    const good = middleware(reg, alice, { memory });
    const res = await good(get(reg, '/v2/app/manifests/a'));
    assert.equal(res.status, 200);
    await readBody(res);
    // Same user, same scopes, same cache: a wrong password must ask for (and be refused) its own token.
    const other = middleware(reg, { username: 'alice', password: WRONG }, { memory });
    const err = await failure(other(get(reg, '/v2/app/manifests/a')));
    assert.ok(err instanceof AuthError, String(err));
    assert.equal(err.code, 'E_AUTH');
    assert.equal(err.message, `authentication to ${reg.host} failed: ${tokens.host} rejected the credentials for user alice`);
    assert.equal(tokenCalls(tokens), 2);
    assert.equal(tokens.requests[1]!.headers.authorization, `Basic ${Buffer.from(`alice:${WRONG}`).toString('base64')}`);
    assert.ok(![...logLines].some((l) => l.includes(PASSWORD) || l.includes(WRONG)));
  });
});

describe('presumed challenges (a realm known before the first 401)', () => {
  const presumeAt = (realm: string, service = SERVICE) => (): Challenge => ({ scheme: 'bearer', params: { realm, service } });

  it('the first request carries a token: no 401, one token GET with the operation\'s scopes', async () => {
    const tokens = await tokenServer();
    const reg = await registry({ tokens });
    const client = middleware(reg, alice, { presume: presumeAt(tokens.realm) });
    const res = await client(get(reg, '/v2/app/manifests/latest'));
    assert.equal(res.status, 200);
    await readBody(res);
    assert.equal(reg.requests.length, 1, 'no request answered 401');
    assert.match(String(reg.requests[0]!.headers.authorization), /^Bearer tok1-/);
    assert.equal(tokenCalls(tokens), 1);
    assert.equal(tokens.requests[0]!.headers.authorization, `Basic ${Buffer.from(`alice:${PASSWORD}`).toString('base64')}`);
    assert.equal(tokens.requests[0]!.url.searchParams.get('service'), SERVICE);
    assert.deepEqual(tokens.requests[0]!.url.searchParams.getAll('scope'), ['repository:app:pull,push']);
    await readBody(await client(get(reg, '/v2/app/blobs/sha256:abc')));
    assert.equal(tokenCalls(tokens), 1, 'the token is reused');
    assert.equal(reg.requests.length, 2);
  });

  it('concurrent first requests share one token GET', async () => {
    const tokens = await tokenServer({ delayMs: 30 });
    const reg = await registry({ tokens });
    const client = middleware(reg, undefined, { presume: presumeAt(tokens.realm), scopes: ['repository:app:pull'] });
    const results = await Promise.all(Array.from({ length: 5 }, (_, i) => client(get(reg, `/v2/app/blobs/sha256:${i}`))));
    for (const r of results) {
      assert.equal(r.status, 200);
      await readBody(r);
    }
    assert.equal(tokenCalls(tokens), 1);
    assert.equal(reg.requests.length, 5);
  });

  it('a registry naming another realm than presumed: its realm is used, and from then on only it', async () => {
    const stale = await tokenServer();
    const tokens = await tokenServer();
    const reg = await registry({ tokens });
    const before = logLines.length;
    const client = middleware(reg, alice, { presume: presumeAt(stale.realm, 'old-service') });
    const results = await Promise.all([client(get(reg, '/v2/app/manifests/a')), client(get(reg, '/v2/app/manifests/b'))]);
    for (const r of results) {
      assert.equal(r.status, 200, 'both concurrent requests recover, not only the first 401');
      await readBody(r);
    }
    assert.equal(tokenCalls(stale), 1);
    assert.equal(tokenCalls(tokens), 1);
    await readBody(await client(get(reg, '/v2/app/manifests/c')));
    assert.equal(tokenCalls(stale), 1, 'the presumed realm is not asked again');
    assert.equal(reg.requests.length, 5, '2 refused, 2 replayed, 1 at once');
    assert.ok(logLines.slice(before).some((l) => l.includes(`names the realm ${tokens.realm}, not the presumed ${stale.realm}`)));
  });

  it('a token from a wrong presumed realm, still on its way, is not handed to a request that knows the registry\'s realm', async () => {
    let issued = 0;
    // The presumed realm: its tokens mean nothing to the registry; those for "other" come slowly.
    const stale = await serve(async (req, res) => {
      if (req.url.searchParams.getAll('scope').some((x) => x.includes('other'))) await new Promise((r) => setTimeout(r, 500));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `stale-${++issued}` }));
    });
    const tokens = await tokenServer();
    const reg = await registry({ tokens });
    const client = middleware(reg, alice, { presume: presumeAt(`${stale.base}/token`, 'old-service') });
    const other = (p: string): HttpRequest => get(reg, p, { scopes: ['repository:other:pull'] });
    // B asks the presumed realm for its token (slow); meanwhile A's 401 names the registry's realm.
    const b = client(other('/v2/app/manifests/b'));
    const a = await client(get(reg, '/v2/app/manifests/a'));
    assert.equal(a.status, 200);
    await readBody(a);
    // C needs B's scopes and knows the registry's realm: it must not take B's token from the old one.
    const c = await client(other('/v2/app/manifests/c'));
    assert.equal(c.status, 200, 'C gets its token from the registry\'s realm');
    await readBody(c);
    const rb = await b;
    assert.equal(rb.status, 200, 'B recovers from its presumed token\'s refusal');
    await readBody(rb);
  });

  it('a request whose signal fires while its token is fetched stops waiting at once: E_ABORTED, nothing sent', { timeout: 10_000 }, async () => {
    // A token service that never answers (until the test's servers are closed).
    const silent = await serve(() => new Promise<void>(() => undefined));
    const tokens = await tokenServer();
    const reg = await registry({ tokens });
    const client = middleware(reg, alice, { presume: presumeAt(`${silent.base}/token`) });
    const ac = new AbortController();
    const pending = client(get(reg, '/v2/app/manifests/a', { signal: ac.signal }));
    setTimeout(() => ac.abort(), 50);
    const err = await failure(pending);
    assert.equal(err.code, 'E_ABORTED');
    assert.equal(reg.requests.length, 0, 'the request itself was never sent');
  });

  it('a presumed realm that fails: the request goes out without a token and the 401 names the realm', async () => {
    const broken = await tokenServer({ raw: { status: 404, body: 'not here' } });
    const tokens = await tokenServer();
    const reg = await registry({ tokens });
    const before = logLines.length;
    const client = middleware(reg, alice, { presume: presumeAt(broken.realm) });
    const res = await client(get(reg, '/v2/app/manifests/a'));
    assert.equal(res.status, 200);
    await readBody(res);
    assert.equal(tokenCalls(broken), 1);
    assert.equal(tokenCalls(tokens), 1);
    assert.equal(reg.requests[0]!.headers.authorization, undefined);
    assert.equal(reg.requests.length, 2);
    assert.ok(logLines.slice(before).some((l) => l.includes(`no token from the presumed realm ${broken.realm}`)));
    await readBody(await client(get(reg, '/v2/app/manifests/b')));
    assert.equal(tokenCalls(broken), 1, 'a failed presumption is forgotten');
  });

  it('a presumed realm that is unreachable is forgotten the same way', async () => {
    const gone = await tokenServer();
    const realm = gone.realm;
    await gone.close();
    open.splice(open.indexOf(gone), 1);
    const tokens = await tokenServer();
    const reg = await registry({ tokens });
    const res = await middleware(reg, alice, { presume: presumeAt(realm) })(get(reg, '/v2/app/manifests/a'));
    assert.equal(res.status, 200);
    await readBody(res);
    assert.equal(tokenCalls(tokens), 1);
  });

  it('wrong credentials at the right presumed realm: the same AuthError as without the presumption', async () => {
    const tokens = await tokenServer();
    const reg = await registry({ tokens });
    const err = await failure(middleware(reg, { username: 'alice', password: WRONG }, { presume: presumeAt(tokens.realm) })(get(reg, '/v2/app/manifests/x')));
    assert.ok(err instanceof AuthError);
    assert.equal(err.code, 'E_AUTH');
    assert.equal(err.message, `authentication to ${reg.host} failed: ${tokens.host} rejected the credentials for user alice`);
    // The presumed GET is refused; the registry's own 401 names the same realm and service, which
    // has refused these credentials already: one failed login, not a second one there.
    assert.equal(tokenCalls(tokens), 1);
    assert.equal(reg.requests.length, 1);
  });

  it('a token from the right presumed realm that the registry refuses is a refusal, not a stale presumption', async () => {
    const tokens = await tokenServer();
    const reg = await registry({ tokens });
    // Anonymous: the token service grants pull only, the POST needs push.
    const client = middleware(reg, undefined, { presume: presumeAt(tokens.realm) });
    const err = await failure(client({ method: 'POST', url: `${reg.base}/v2/app/blobs/uploads/`, body: Buffer.alloc(0) }));
    assert.ok(err instanceof AuthError);
    assert.equal(err.code, 'E_AUTH');
    assert.match(err.message, /rejected anonymous access \(no credentials were found\) for repository:app:pull,push/);
    assert.equal(tokenCalls(tokens), 1);
    assert.equal(reg.requests.length, 1);
  });

  it('a presumed realm is asked through presumedTokenSend (the client passes one without retries), the named one through tokenSend', async () => {
    const stale = await tokenServer({ raw: { status: 503, body: 'busy' } });
    const tokens = await tokenServer();
    const reg = await registry({ tokens });
    const once: string[] = [];
    const retried: string[] = [];
    const spy = (calls: string[]): Send => async (r) => {
      calls.push(r.url.split('?')[0]!);
      return send(r);
    };
    const res = await middleware(reg, alice, { presume: presumeAt(stale.realm), presumedTokenSend: spy(once), tokenSend: spy(retried) })(get(reg, '/v2/app/manifests/a'));
    assert.equal(res.status, 200);
    await readBody(res);
    assert.deepEqual(once, [stale.realm], 'one attempt at the presumed realm');
    assert.deepEqual(retried, [tokens.realm]);
  });

  it('what the operation already learned of a registry wins over a presumption', async () => {
    const stale = await tokenServer();
    const tokens = await tokenServer();
    const reg = await registry({ tokens });
    const memory = new AuthMemory();
    await readBody(await middleware(reg, alice, { memory, presume: () => undefined })(get(reg, '/v2/app/manifests/a')));
    assert.equal(tokenCalls(tokens), 1);
    const res = await middleware(reg, alice, { memory, presume: presumeAt(stale.realm) })(get(reg, '/v2/app/blobs/sha256:1'));
    assert.equal(res.status, 200);
    await readBody(res);
    assert.equal(tokenCalls(stale), 0);
  });
});

describe('a registry mixing Basic and Bearer by path (Harbor behind a proxy, a Nexus with a connector per format)', () => {
  const BASIC_ALICE = `Basic ${Buffer.from(`alice:${PASSWORD}`).toString('base64')}`;
  /**
   * /v2/legacy/… takes Basic (and names it); every other repository takes the token service's
   * tokens, names its Bearer challenge to a request without credentials, and answers a bare 401
   * to anything but its token, as GCR and Harbor answer some requests. `bare`: paths that answer
   * a bare 401 to any Authorization (Harbor where a repository has no referrers API).
   */
  async function mixedRegistry(tokens: TokenServer, bare: (req: Recorded) => boolean = () => false): Promise<Server> {
    return serve((req, res) => {
      const auth = req.headers.authorization ?? '';
      const refuse = (challenge?: string) => {
        res.statusCode = 401;
        if (challenge) res.setHeader('www-authenticate', challenge);
        res.setHeader('content-type', 'application/json');
        res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      };
      if (req.url.pathname.startsWith('/v2/legacy/')) {
        if (auth !== BASIC_ALICE) return refuse('Basic realm="legacy"');
      } else if (!auth) {
        return refuse(`Bearer realm="${tokens.realm}",service="${SERVICE}",scope="${defaultNeed(req).join(' ')}"`);
      } else if (bare(req) || !auth.startsWith('Bearer ') || !scopesCover(tokens.grants.get(auth.slice(7)) ?? [], defaultNeed(req))) {
        return refuse();
      }
      res.setHeader('content-type', 'text/plain');
      res.end(`ok ${req.method} ${req.url.pathname}`);
    });
  }
  const sent = (reg: Server, p: string) => reg.requests.filter((r) => r.url.pathname === p).map((r) => String(r.headers.authorization).split(' ')[0]);

  it('a bare 401 to the Basic credentials sent where the registry named Basic, after it named a Bearer challenge: that token flow is followed, not E_AUTH', async () => {
    const tokens = await tokenServer();
    const reg = await mixedRegistry(tokens);
    const client = middleware(reg, alice);
    for (const p of ['/v2/app/manifests/1', '/v2/legacy/manifests/1', '/v2/app/manifests/2', '/v2/legacy/manifests/2']) {
      const res = await client(get(reg, p));
      assert.equal(res.status, 200, p);
      await readBody(res);
    }
    // The password went up front (Basic was the last challenge named), met the bare 401, and the
    // token the run holds for the token paths was sent next.
    assert.deepEqual(sent(reg, '/v2/app/manifests/2'), ['Basic', 'Bearer']);
    assert.equal(tokenCalls(tokens), 1);
    // The password was not taken as refused: the Basic repository still gets it.
    assert.deepEqual(sent(reg, '/v2/legacy/manifests/2'), ['Bearer', 'Basic']);
  });

  it('the same where another client of the run heard the Bearer challenge', async () => {
    const tokens = await tokenServer();
    const reg = await mixedRegistry(tokens);
    const memory = new AuthMemory();
    await readBody(await middleware(reg, alice, { memory })(get(reg, '/v2/app/manifests/1')));
    const client = middleware(reg, alice, { memory });
    await readBody(await client(get(reg, '/v2/legacy/manifests/1')));
    const res = await client(get(reg, '/v2/app/manifests/2'));
    assert.equal(res.status, 200);
    await readBody(res);
    assert.deepEqual(sent(reg, '/v2/app/manifests/2'), ['Basic', 'Bearer']);
  });

  it('the same on a body that cannot be sent again (a streamed PATCH): handed back for a new attempt, which sends the token up front', async () => {
    const tokens = await tokenServer();
    const reg = await mixedRegistry(tokens);
    const client = middleware(reg, alice);
    await readBody(await client(get(reg, '/v2/app/manifests/1')));
    await readBody(await client(get(reg, '/v2/legacy/manifests/1')));
    const patch = (): HttpRequest => ({ method: 'PATCH', url: `${reg.base}/v2/app/blobs/uploads/u1`, body: () => Readable.from([Buffer.from('once')]), replayable: false });
    const first = await client(patch());
    assert.equal(first.status, 401);
    assert.equal(first.authRenewed, true, 'a new attempt of the transfer is worth making');
    await readBody(first);
    const second = await client(patch());
    assert.equal(second.status, 200);
    await readBody(second);
    assert.deepEqual(sent(reg, '/v2/app/blobs/uploads/u1'), ['Basic', 'Bearer']);
    // The password was not taken as refused.
    const legacy = await client(get(reg, '/v2/legacy/manifests/2'));
    assert.equal(legacy.status, 200);
    await readBody(legacy);
  });

  it('the token refused with a bare 401 too: judged as any token (a read handed back, a write E_DENIED), the token flow followed once', async () => {
    const tokens = await tokenServer();
    const reg = await mixedRegistry(tokens, (req) => req.url.pathname.includes('/referrers/') || req.url.pathname.endsWith('/denied'));
    const client = middleware(reg, alice);
    await readBody(await client(get(reg, '/v2/app/manifests/1')));
    await readBody(await client(get(reg, '/v2/legacy/manifests/1')));
    // Harbor's answer where a repository has no referrers API: the caller's to read, as for any token.
    const res = await client(get(reg, '/v2/app/referrers/sha256:abc'));
    assert.equal(res.status, 401);
    await readBody(res);
    // The password, the token held (perhaps stale), a fresh one: no more.
    assert.deepEqual(sent(reg, '/v2/app/referrers/sha256:abc'), ['Basic', 'Bearer', 'Bearer']);
    await readBody(await client(get(reg, '/v2/legacy/manifests/2')));
    const err = await failure(client({ method: 'PUT', url: `${reg.base}/v2/app/manifests/denied`, body: Buffer.from('{}') }));
    assert.equal(err.code, 'E_DENIED');
    assert.match(err.message, /accepted by the token service .* but not for writing/);
    assert.deepEqual(sent(reg, '/v2/app/manifests/denied'), ['Basic', 'Bearer', 'Bearer']);
  });
});
