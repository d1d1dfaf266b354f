/**
 * Unit tests for src/auth: WWW-Authenticate parsing (including the spots where
 * www-authenticate@0.6.3 alone fails), scopes, token cache, credential-store keys (the registry
 * names themselves are tested with src/ref in ref.test.ts).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { findChallenge, parseChallenges } from '../../src/auth/challenge.js';
import { mergeScopes, parseScope, repositoryScope, scopeKey, scopesCover } from '../../src/auth/scope.js';
import { TokenCache } from '../../src/auth/token-cache.js';
import { dockerConfigKey, findByRegistry } from '../../src/auth/registry-host.js';
import { AuthError, ProtocolError } from '../../src/errors.js';
import { presumedChallenge, sameTokenService } from '../../src/auth/presumed-challenge.js';
import { AuthMemory } from '../../src/auth/auth-memory.js';
import { RefusalErrors } from '../../src/auth/refusal-errors.js';
import { authMiddleware } from '../../src/auth/middleware.js';
import type { HttpRequest, HttpResponse } from '../../src/http/types.js';
import { Readable } from 'node:stream';

/** A registry or token-service answer with `body`. */
const answer = (status: number, headers: Record<string, string>, body: string, url: string): HttpResponse => ({ status, headers, url, body: Readable.from([Buffer.from(body)]) });

/** A client of the probed registry localhost:5000 (scheme auto), its token requests recorded; with `memory`, one of an operation's clients. */
function probedClient(tokenAsks: HttpRequest[], memory?: AuthMemory) {
  return authMiddleware({
    registry: 'localhost:5000',
    scheme: 'auto',
    scopes: ['repository:b:pull'],
    credential: async () => ({ username: 'u', password: 'secret' }),
    tokenSend: async (req) => {
      tokenAsks.push(req);
      return answer(200, { 'content-type': 'application/json' }, '{"token":"T"}', req.url);
    },
    ...(memory ? { memory, presume: () => undefined } : {}),
  });
}

describe('parseChallenges', () => {
  const cases: Array<[string, string, Array<{ scheme: string; params: Record<string, string>; token68?: string }>]> = [
    [
      'Docker Hub bearer challenge',
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull"',
      [{ scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/ubuntu:pull' } }],
    ],
    [
      'weak spot: two challenges in one header',
      'Basic realm="x", Bearer realm="y",service="z"',
      [
        { scheme: 'basic', params: { realm: 'x' } },
        { scheme: 'bearer', params: { realm: 'y', service: 'z' } },
      ],
    ],
    [
      'weak spot: commas and spaces inside a quoted scope',
      'Bearer realm="https://a/token",scope="repository:a:pull,push repository:b:pull",service="s"',
      [{ scheme: 'bearer', params: { realm: 'https://a/token', scope: 'repository:a:pull,push repository:b:pull', service: 's' } }],
    ],
    [
      'weak spot: quoted commas in the first of two challenges',
      'Bearer realm="r",scope="repository:a:pull,push", Basic realm="b,c"',
      [
        { scheme: 'bearer', params: { realm: 'r', scope: 'repository:a:pull,push' } },
        { scheme: 'basic', params: { realm: 'b,c' } },
      ],
    ],
    [
      'weak spot: backslash-escaped quotes',
      'Basic realm="say \\"hi\\", please"',
      [{ scheme: 'basic', params: { realm: 'say "hi", please' } }],
    ],
    ['weak spot: escaped backslash', 'Basic realm="a\\\\b"', [{ scheme: 'basic', params: { realm: 'a\\b' } }]],
    ['weak spot: token68', 'Negotiate YWJjZGVm==', [{ scheme: 'negotiate', params: {}, token68: 'YWJjZGVm==' }]],
    [
      'weak spot: token68 then another challenge',
      'Negotiate abc/+def=, Bearer realm="r"',
      [
        { scheme: 'negotiate', params: {}, token68: 'abc/+def=' },
        { scheme: 'bearer', params: { realm: 'r' } },
      ],
    ],
    [
      'weak spot: scheme-only challenge (library throws on it)',
      'Negotiate, Basic realm="x"',
      [
        { scheme: 'negotiate', params: {} },
        { scheme: 'basic', params: { realm: 'x' } },
      ],
    ],
    [
      'unquoted values',
      'Bearer realm=https://auth.example.com/token,service=registry.example.com',
      [{ scheme: 'bearer', params: { realm: 'https://auth.example.com/token', service: 'registry.example.com' } }],
    ],
    [
      'weak spot: scheme and parameter names are case-insensitive',
      'BEARER Realm="r", SERVICE="s", Scope="repository:x:pull"',
      [{ scheme: 'bearer', params: { realm: 'r', service: 's', scope: 'repository:x:pull' } }],
    ],
    [
      'weak spot: whitespace around "="',
      'Bearer realm = "r" ,service= s',
      [{ scheme: 'bearer', params: { realm: 'r', service: 's' } }],
    ],
    [
      'empty list elements are ignored',
      ', Bearer realm="r",, service="s",',
      [{ scheme: 'bearer', params: { realm: 'r', service: 's' } }],
    ],
    [
      'weak spot: scheme containing "-" (library picks a later word)',
      'AWS4-HMAC-SHA256 realm="x"',
      [{ scheme: 'aws4-hmac-sha256', params: { realm: 'x' } }],
    ],
    ['empty quoted value', 'Bearer realm="",service="s"', [{ scheme: 'bearer', params: { realm: '', service: 's' } }]],
    [
      '"=" and "&" inside a quoted value',
      'Bearer realm="https://a/t?x=1&y=2"',
      [{ scheme: 'bearer', params: { realm: 'https://a/t?x=1&y=2' } }],
    ],
    [
      'insufficient_scope error',
      'Bearer realm="r",service="s",scope="repository:b:pull",error="insufficient_scope"',
      [{ scheme: 'bearer', params: { realm: 'r', service: 's', scope: 'repository:b:pull', error: 'insufficient_scope' } }],
    ],
    [
      'tabs and several spaces after the scheme',
      'Bearer \t  realm="r"',
      [{ scheme: 'bearer', params: { realm: 'r' } }],
    ],
    [
      'three challenges, the last with an unquoted and a quoted param',
      'Digest realm="d", nonce="n,1", Basic realm="b", Bearer realm=r, scope="a b"',
      [
        { scheme: 'digest', params: { realm: 'd', nonce: 'n,1' } },
        { scheme: 'basic', params: { realm: 'b' } },
        { scheme: 'bearer', params: { realm: 'r', scope: 'a b' } },
      ],
    ],
    ['empty header', '', []],
    ['whitespace-only header', '   ', []],
  ];
  for (const [name, header, want] of cases) {
    it(name, () => {
      const got = parseChallenges(header).map((c) => ({ ...c, params: { ...c.params } }));
      assert.deepEqual(got, want);
    });
  }

  const bad: Array<[string, string]> = [
    ['unterminated quoted string', 'Bearer realm="https://a'],
    ['auth-param before any scheme', 'realm="x", Bearer realm="y"'],
    ['text glued to a quoted string', 'Bearer realm="x"junk'],
    ['two quoted strings glued together', 'Bearer realm="a""b"'],
    ['duplicate parameter', 'Bearer realm="a", realm="b"'],
    ['space inside an unquoted value', 'Bearer realm=a b'],
    ['auth-param after token68', 'Negotiate abc==, realm="x"'],
    ['empty value', 'Bearer realm=, service="s"'],
    ['trailing backslash in a quoted string', 'Bearer realm="abc\\'],
    ['no scheme at all', '="x"'],
    ['control character in a value', 'Bearer realm="a\u0001b"'],
  ];
  for (const [name, header] of bad) {
    it(`malformed: ${name} → ProtocolError`, () => {
      assert.throws(() => parseChallenges(header), (err: unknown) => {
        assert.ok(err instanceof ProtocolError);
        assert.equal(err.code, 'E_PROTOCOL');
        assert.match(err.message, /malformed WWW-Authenticate/);
        return true;
      });
    });
  }

  it('truncates a very long malformed header in the message', () => {
    const header = `Bearer realm="${'x'.repeat(5000)}`;
    assert.throws(() => parseChallenges(header), (err: unknown) => {
      assert.ok(err instanceof ProtocolError, String(err));
      assert.equal(err.code, 'E_PROTOCOL');
      assert.match(err.message, /malformed WWW-Authenticate/);
      assert.ok(err.message.length < 400, `${err.message.length} characters`);
      return true;
    });
  });

  it('findChallenge picks by scheme, case-insensitively', () => {
    const list = parseChallenges('Basic realm="x", Bearer realm="y"');
    assert.equal(findChallenge(list, 'Bearer')?.params.realm, 'y');
    assert.equal(findChallenge(list, 'basic')?.params.realm, 'x');
    assert.equal(findChallenge(list, 'digest'), undefined);
  });
});

describe('scopes', () => {
  it('repositoryScope sorts and de-duplicates actions', () => {
    assert.equal(repositoryScope('library/ubuntu', ['push', 'pull', 'push']), 'repository:library/ubuntu:pull,push');
    assert.equal(repositoryScope('a', ['pull', '*']), 'repository:a:*');
    assert.throws(() => repositoryScope('', ['pull']), { name: 'InternalError', code: 'E_INTERNAL', message: /empty repository name/ });
    assert.throws(() => repositoryScope('a', []), { name: 'InternalError', code: 'E_INTERNAL', message: /no actions/ });
  });

  it('parseScope splits at the first and last colon (names may hold host:port)', () => {
    assert.deepEqual(parseScope('repository:localhost:5000/app:pull,push'), {
      type: 'repository',
      name: 'localhost:5000/app',
      actions: ['pull', 'push'],
    });
    assert.deepEqual(parseScope('repository(plugin):x/y:pull'), { type: 'repository(plugin)', name: 'x/y', actions: ['pull'] });
    assert.deepEqual(parseScope('registry:catalog:*'), { type: 'registry', name: 'catalog', actions: ['*'] });
    assert.equal(parseScope('nonsense'), undefined);
    assert.equal(parseScope('repository:a:'), undefined);
    assert.equal(parseScope(':a:pull'), undefined);
    assert.equal(parseScope('repository:a'), undefined);
  });

  it('mergeScopes unites actions per resource and sorts the result', () => {
    assert.deepEqual(mergeScopes(['repository:b:push', 'repository:a:pull', 'repository:b:pull', 'repository:a:pull']), [
      'repository:a:pull',
      'repository:b:pull,push',
    ]);
  });

  it('mergeScopes splits space-separated entries (a challenge scope param) and keeps opaque scopes', () => {
    assert.deepEqual(mergeScopes(['repository:a:pull,push repository:b:pull', 'aud:x', 'repository:a:delete']), [
      'aud:x',
      'repository:a:delete,pull,push',
      'repository:b:pull',
    ]);
  });

  it("mergeScopes lets '*' absorb other actions", () => {
    assert.deepEqual(mergeScopes(['repository:a:pull', 'repository:a:*']), ['repository:a:*']);
  });

  it('mergeScopes is order-independent and scopeKey is stable', () => {
    const x = ['repository:b:pull', 'repository:a:push,pull'];
    const y = ['repository:a:pull', 'repository:a:push', 'repository:b:pull'];
    assert.deepEqual(mergeScopes(x), mergeScopes(y));
    assert.equal(scopeKey(x), scopeKey(y));
    assert.equal(scopeKey(x), 'repository:a:pull,push repository:b:pull');
    assert.equal(scopeKey([]), '');
  });

  it('scopesCover checks resources and actions', () => {
    assert.ok(scopesCover(['repository:a:pull,push'], ['repository:a:pull']));
    assert.ok(scopesCover(['repository:a:*'], ['repository:a:delete']));
    assert.ok(!scopesCover(['repository:a:pull'], ['repository:a:push']));
    assert.ok(!scopesCover(['repository:a:pull'], ['repository:b:pull']));
    assert.ok(scopesCover(['repository:a:pull'], []));
  });
});

/** A refusal is E_AUTH (exit 3) whatever its wording, as the CLI and a library caller tell it. */
function assertAuthError(err: unknown): void {
  assert.ok(err instanceof AuthError, String(err));
  assert.equal(err.code, 'E_AUTH');
  assert.equal(err.exitCode, 3);
}

describe('a refusal naming the scopes it was short of', () => {
  it('says the repository may not exist only for a repository scope (was: also for the catalog\'s registry:catalog:*, which names none)', () => {
    const errors = new RefusalErrors('reg.example.com', 'Docker config.json');
    const catalog = errors.rejected({ username: 'reader', password: 'pw' }, ['registry:catalog:*']);
    assertAuthError(catalog);
    assert.match(catalog.message, /rejected the credentials for user reader for registry:catalog:\* \(access is not granted\) \(taken from/);
    assert.doesNotMatch(catalog.message, /repository may not exist/);
    const repo = errors.rejected(undefined, ['repository:team/app:pull']);
    assertAuthError(repo);
    assert.match(repo.message, /for repository:team\/app:pull \(the repository may not exist, or access is not granted\) \(looked at Docker config\.json\)/);
  });
});

describe('a refusal naming where the refused credentials came from', () => {
  const cred = { username: 'u', password: 'pw' };
  it('says "the first of" only for a list of two or more sources', () => {
    const list = new RefusalErrors('reg.example.com', ['REGPUSH_TO_USER/REGPUSH_TO_PASSWORD', 'Docker config.json'], 'run `regpush login reg.example.com`');
    assertAuthError(list.rejected(cred, undefined));
    assert.equal(
      list.rejected(cred, undefined).message,
      'authentication to reg.example.com failed: the registry rejected the credentials for user u (taken from the first of: REGPUSH_TO_USER/REGPUSH_TO_PASSWORD, Docker config.json); run `regpush login reg.example.com`',
    );
    const one = new RefusalErrors('reg.example.com', ['the stored logins only (Docker config.json)']);
    assertAuthError(one.rejected(cred, undefined));
    assert.equal(one.rejected(cred, undefined).message, 'authentication to reg.example.com failed: the registry rejected the credentials for user u (taken from the stored logins only (Docker config.json))');
  });
  it('names no source where the advice already names it', () => {
    const named = new RefusalErrors('reg.example.com', ['the credentials given explicitly (flags or options)'], 'check --user/--password: credentials given there are used instead of any stored login', true);
    assertAuthError(named.rejected(cred, undefined));
    assertAuthError(named.basicNeeded());
    assert.equal(named.rejected(cred, undefined).message, 'authentication to reg.example.com failed: the registry rejected the credentials for user u; check --user/--password: credentials given there are used instead of any stored login');
    // With no credentials found, where they were looked for is still said.
    assert.match(named.basicNeeded().message, /none were found \(looked at the credentials given explicitly \(flags or options\)\); check --user/);
  });
});

describe('TokenCache', () => {
  it('expires tokens before their expiry by a margin', () => {
    const c = new TokenCache();
    c.set('k', { token: 't', expiresAt: 120_000 }, 0);
    assert.equal(c.get('k', 100_000), 't');
    assert.equal(c.get('k', 111_000), undefined);
  });

  it('keeps the margin under half of a short lifetime', () => {
    const c = new TokenCache();
    c.set('k', { token: 't', expiresAt: 4_000 }, 0);
    assert.equal(c.get('k', 1_500), 't');
    assert.equal(c.get('k', 2_500), undefined);
  });

  it('shares one in-flight fetch and forgets failures', async () => {
    const c = new TokenCache();
    let calls = 0;
    const fetch = async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 10));
      return { token: `t${calls}`, expiresAt: 1e12 };
    };
    const got = await Promise.all(Array.from({ length: 5 }, () => c.getOrFetch('k', () => 0, fetch)));
    assert.equal(calls, 1);
    assert.ok(got.every((g) => g.token === 't1' && g.fresh));
    assert.deepEqual(await c.getOrFetch('k', () => 0, fetch), { token: 't1', fresh: false });
    await assert.rejects(c.getOrFetch('other', () => 0, async () => Promise.reject(new Error('boom'))), { message: 'boom' }, 'the fetch\'s own failure');
    assert.equal((await c.getOrFetch('other', () => 0, fetch)).token, 't2');
  });

  it('invalidate only drops the token it was told about', () => {
    const c = new TokenCache();
    c.set('k', { token: 'new', expiresAt: 1e12 }, 0);
    c.invalidate('k', 'old');
    assert.equal(c.get('k', 0), 'new');
    c.invalidate('k', 'new');
    assert.equal(c.get('k', 0), undefined);
  });
});

describe('credential-store keys', () => {
  it('maps every Docker Hub alias to its config key, other hosts to themselves', () => {
    for (const h of ['docker.io', 'index.docker.io', 'registry-1.docker.io', 'Docker.IO', 'https://index.docker.io/v1/']) {
      assert.equal(dockerConfigKey(h), 'https://index.docker.io/v1/', h);
    }
    assert.equal(dockerConfigKey('ghcr.io'), 'ghcr.io');
    assert.equal(dockerConfigKey('https://GHCR.io/v2/'), 'ghcr.io');
  });

  it('finds an entry under any spelling of the same registry, never under a namespace key', () => {
    const auths = { 'https://index.docker.io/v1/': 1, 'http://Reg.Example.com:5000/v2/': 2, 'quay.io/org': 3 };
    assert.deepEqual(findByRegistry(auths, 'registry-1.docker.io'), ['https://index.docker.io/v1/', 1]);
    assert.deepEqual(findByRegistry(auths, 'reg.example.com:5000'), ['http://Reg.Example.com:5000/v2/', 2]);
    assert.equal(findByRegistry(auths, 'quay.io'), undefined);
    assert.equal(findByRegistry(auths, 'reg.example.com'), undefined, 'the port is part of the registry');
  });
});

describe('presumed challenges', () => {
  it('Docker Hub under every name, GHCR and ACR registries are presumed; other registries are asked', () => {
    const hub = { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io' } };
    for (const name of ['docker.io', 'index.docker.io', 'registry-1.docker.io', 'Docker.IO']) assert.deepEqual(presumedChallenge(name), hub, name);
    assert.deepEqual(presumedChallenge('ghcr.io'), { scheme: 'bearer', params: { realm: 'https://ghcr.io/token', service: 'ghcr.io' } });
    // MCR serves anonymous pulls without any token: a presumption there would cost a request for nothing.
    for (const name of ['mcr.microsoft.com', 'quay.io', 'registry.example.com', '127.0.0.1:5000', 'ghcr.io:5000', 'azurecr.io', 'x.azurecr.io.evil.example', 'a.b.azurecr.io', '-x.azurecr.io']) assert.equal(presumedChallenge(name), undefined, name);
    // Each ACR registry's realm is on itself, after its name.
    for (const name of ['contoso.azurecr.io', 'Contoso.AzureCR.io', 'contoso-abc123.azurecr.io']) {
      const host = name.toLowerCase();
      assert.deepEqual(presumedChallenge(name), { scheme: 'bearer', params: { realm: `https://${host}/oauth2/token`, service: host } }, name);
    }
  });

  it('hands out a copy: a caller cannot change the table', () => {
    const c = presumedChallenge('ghcr.io')!;
    c.params.realm = 'https://evil.example.com/token';
    assert.equal(presumedChallenge('ghcr.io')!.params.realm, 'https://ghcr.io/token');
  });

  it('sameTokenService compares scheme, realm and service, not the scope', () => {
    const a = { scheme: 'bearer', params: { realm: 'https://r/token', service: 's', scope: 'repository:a:pull' } };
    assert.ok(sameTokenService(a, { scheme: 'bearer', params: { realm: 'https://r/token', service: 's' } }));
    assert.ok(!sameTokenService(a, { scheme: 'bearer', params: { realm: 'https://r/token', service: 't' } }));
    assert.ok(!sameTokenService(a, { scheme: 'bearer', params: { realm: 'https://q/token', service: 's' } }));
    assert.ok(!sameTokenService(a, { scheme: 'basic', params: { realm: 'https://r/token', service: 's' } }));
  });

  it('by default a Docker Hub client asks auth.docker.io first and sends its first request with the token', async () => {
    const sent: HttpRequest[] = [];
    const reply = (status: number, body: string): HttpResponse => ({ status, headers: { 'content-type': 'application/json' }, url: '', body: Readable.from([Buffer.from(body)]) });
    const mw = authMiddleware({
      registry: 'docker.io',
      scheme: 'https',
      scopes: ['repository:library/nginx:pull'],
      credential: async () => undefined,
      tokenSend: async (req) => {
        sent.push(req);
        return reply(200, '{"token":"hub-token"}');
      },
    });
    const res = await mw(async (req) => {
      sent.push(req);
      return reply(200, '{}');
    })({ method: 'GET', url: 'https://registry-1.docker.io/v2/library/nginx/manifests/latest' });
    assert.equal(res.status, 200);
    assert.deepEqual(sent.map((r) => r.url.split('?')[0]), ['https://auth.docker.io/token', 'https://registry-1.docker.io/v2/library/nginx/manifests/latest']);
    const q = new URL(sent[0]!.url).searchParams;
    assert.equal(q.get('service'), 'registry.docker.io');
    assert.equal(q.get('scope'), 'repository:library/nginx:pull');
    assert.equal(sent[1]!.headers?.authorization, 'Bearer hub-token');
  });
});

describe('a refused token while other requests refresh the same one', () => {
  it('a newer token from the cache counts as fetched for this request: a registry that refuses them all gets one clear AuthError per request, never its bare 401', async () => {
    // Eight requests for one scope at once; the registry refuses every token (the user may pull,
    // not push). Each refusal drops the token and asks again, and another request's new token is
    // often in the cache by then: counted as not fetched here, it would run out the replays and
    // hand the caller the registry's 401 ("start upload … answered 401").
    let issued = 0;
    const challenge = 'Bearer realm="https://auth.example/token",service="reg",scope="repository:app:pull,push",error="insufficient_scope"';
    const reply = (status: number, body: string, headers: Record<string, string> = {}): HttpResponse => ({ status, headers: { 'content-type': 'application/json', ...headers }, url: 'https://reg.example/v2/', body: Readable.from([Buffer.from(body)]) });
    const mw = authMiddleware({
      registry: 'reg.example',
      scheme: 'https',
      scopes: ['repository:app:pull,push'],
      credential: async () => ({ username: 'reader', password: 'pw' }),
      tokenSend: async () => {
        const n = ++issued;
        await new Promise((r) => setTimeout(r, 1 + (n % 3)));
        return reply(200, JSON.stringify({ token: `t${n}` }));
      },
    });
    // Each request's answers take their own time, so one's refusal often comes after another
    // has put a newer token in the cache.
    const send = mw(async (req) => {
      await new Promise((r) => setTimeout(r, Number(new URL(req.url).searchParams.get('ms'))));
      return reply(401, '{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}', { 'www-authenticate': challenge });
    });
    const post = (ms: number) => send({ method: 'POST', url: `https://reg.example/v2/app/blobs/uploads/?ms=${ms}` }).then((r) => `status ${r.status}`, (e: Error) => e.message);
    const outcomes = [await post(1)]; // the challenge is learned and a token cached: the others send it at once
    outcomes.push(...(await Promise.all(Array.from({ length: 8 }, (_, i) => post(1 + 3 * i)))));
    // The token service accepted reader: the push right is what is missing (E_DENIED's message).
    for (const o of outcomes) assert.match(o, /^access to app at reg\.example denied: the credentials for user reader were accepted by the token service auth\.example, but not for writing \(push\)/, outcomes.join('\n'));
  });
});

describe('a token that expires while its request is retried', () => {
  it('the 401 that ends the retries is no verdict on the credentials: one more token is fetched, and the request goes through', async () => {
    let clock = 1_000_000;
    let issued = 0;
    const mw = authMiddleware({
      registry: 'reg.example',
      scheme: 'https',
      scopes: ['repository:app:pull'],
      credential: async () => ({ username: 'u', password: 'p' }),
      now: () => clock,
      tokenSend: async (req) => answer(200, { 'content-type': 'application/json' }, JSON.stringify({ token: `tok${++issued}`, expires_in: 300 }), req.url),
      presume: () => undefined,
    });
    const challenge = 'Bearer realm="https://auth.example/token",service="reg"';
    const seen: string[] = [];
    const send = mw(async (req) => {
      const auth = String(req.headers?.authorization ?? '-');
      seen.push(auth);
      if (auth === 'Bearer tok1') {
        // The transport's retries of this request (Retry-After, timeouts) took longer than the token lives.
        clock += 400_000;
        return answer(401, { 'www-authenticate': `${challenge},error="invalid_token"` }, '', req.url);
      }
      return auth === 'Bearer tok2' ? answer(200, {}, '', req.url) : answer(401, { 'www-authenticate': challenge }, '', req.url);
    });
    const r = await send({ method: 'GET', url: 'https://reg.example/v2/app/manifests/1' });
    assert.equal(r.status, 200);
    assert.deepEqual(seen, ['-', 'Bearer tok1', 'Bearer tok2']);
  });
});

describe('a probed registry (scheme auto) and its token realm', () => {
  it('a later client of the operation (a sync makes one per image) knows the registry answered over TLS: its first token, fetched from the learned challenge, is refused too', async () => {
    const memory = new AuthMemory();
    const tokenAsks: HttpRequest[] = [];
    const client = () => probedClient(tokenAsks, memory);
    const registry = async (req: HttpRequest) => (req.headers?.authorization ? answer(200, {}, '', req.url) : answer(401, { 'www-authenticate': 'Bearer realm="http://auth.example.com/token",service="svc"' }, '', req.url));
    const first = await client()(registry)({ method: 'GET', url: 'https://localhost:5000/v2/b/manifests/x' }).then((r) => r.status, (e: Error) => e);
    assert.ok(first instanceof ProtocolError, String(first));
    assert.equal(first.code, 'E_PROTOCOL');
    assert.equal(first.message, 'refusing token realm http://auth.example.com/token: localhost:5000 is reached over https and credentials must not be sent over plain http');
    const later = client();
    await later.prefetch(); // nothing fetched: it would have gone to the plain-http realm
    const second = await later(registry)({ method: 'GET', url: 'https://localhost:5000/v2/b/manifests/y' }).then((r) => r.status, (e: Error) => e);
    assert.ok(second instanceof ProtocolError, String(second));
    assert.equal(second.code, 'E_PROTOCOL');
    assert.match(second.message, /localhost:5000 is reached over https and credentials must not be sent over plain http/);
    assert.equal(tokenAsks.length, 0, 'no token request from any client, so no credential in clear text');
  });

  it('the scheme probe\'s 401 over TLS, heard before any request: a plain-http realm it names is refused, and no token is asked for', async () => {
    const memory = new AuthMemory();
    const tokenAsks: HttpRequest[] = [];
    const made = probedClient(tokenAsks, memory);
    made.heard(answer(401, { 'www-authenticate': 'Bearer realm="http://auth.example.com/token",service="svc"' }, '', 'https://localhost:5000/v2/'));
    const sent: HttpRequest[] = [];
    const r = await made(async (req) => (sent.push(req), answer(200, {}, '', req.url)))({ method: 'GET', url: 'https://localhost:5000/v2/b/manifests/x' }).then((x) => x.status, (e: Error) => e);
    assert.ok(r instanceof ProtocolError, String(r));
    assert.equal(r.code, 'E_PROTOCOL');
    assert.match(r.message, /localhost:5000 is reached over https and credentials must not be sent over plain http/);
    assert.equal(tokenAsks.length, 0);
    assert.equal(sent.length, 0);
  });

  it('a challenge the probe heard answers the first request of every client of the operation up front, one made before it was heard included', async () => {
    const memory = new AuthMemory();
    const tokenAsks: HttpRequest[] = [];
    const early = probedClient(tokenAsks, memory); // made with the sync's first images, before any answer
    const prober = probedClient(tokenAsks, memory);
    prober.heard(answer(401, { 'www-authenticate': 'Bearer realm="http://localhost:5001/token",service="svc"' }, '', 'http://localhost:5000/v2/'));
    const seen: string[] = [];
    const registry = async (req: HttpRequest) => (seen.push(String(req.headers?.authorization ?? '-')), req.headers?.authorization ? answer(200, {}, '', req.url) : answer(401, {}, '', req.url));
    for (const c of [early, prober, probedClient(tokenAsks, memory)]) assert.equal((await c(registry)({ method: 'GET', url: 'http://localhost:5000/v2/b/manifests/x' })).status, 200);
    assert.deepEqual(seen, ['Bearer T', 'Bearer T', 'Bearer T'], 'no request went out without its token');
    assert.equal(tokenAsks.length, 1, 'one token for the one scope set, from the cache the operation shares');
  });

  it('what the probe heard and cannot use is left to the request\'s own 401: a malformed challenge, an unsupported scheme, an answer of another host', async () => {
    for (const [header, url] of [
      ['Bearer realm="unterminated', 'http://localhost:5000/v2/'],
      ['Negotiate', 'http://localhost:5000/v2/'],
      ['Bearer realm="http://localhost:5001/token",service="svc"', 'http://elsewhere:5000/v2/'],
    ] as const) {
      const tokenAsks: HttpRequest[] = [];
      const c = probedClient(tokenAsks, new AuthMemory());
      assert.doesNotThrow(() => c.heard(answer(401, { 'www-authenticate': header }, '', url)));
      const seen: string[] = [];
      const r = await c(async (req) => (seen.push(String(req.headers?.authorization ?? '-')), answer(404, {}, '', req.url)))({ method: 'GET', url: 'http://localhost:5000/v2/b/manifests/x' });
      assert.equal(r.status, 404);
      assert.deepEqual(seen, ['-'], header);
      assert.equal(tokenAsks.length, 0);
    }
  });

  it('two APIs under paths of one host (Artifactory repositories used as mirrors) each follow their own realm', async () => {
    const memory = new AuthMemory();
    const client = (apiPath: string) =>
      authMiddleware({
        registry: 'art.example',
        scheme: 'https',
        apiPath,
        scopes: [`repository:${apiPath.split('/').pop()}/app:pull`],
        credential: async () => ({ username: 'u', password: 'secret' }),
        tokenSend: async (req) => {
          realms.push(new URL(req.url).pathname);
          return answer(200, { 'content-type': 'application/json' }, JSON.stringify({ token: new URL(req.url).pathname.split('/')[3] }), req.url);
        },
        memory,
        presume: () => undefined,
      });
    const realms: string[] = [];
    // Each repository's API answers with its own realm and takes only that realm's token.
    const api = (repo: string) => async (req: HttpRequest) =>
      req.headers?.authorization === `Bearer ${repo}` ? answer(200, {}, '', req.url) : answer(401, { 'www-authenticate': `Bearer realm="https://art.example/api/docker/${repo}/v2/token",service="art"` }, '', req.url);
    for (const repo of ['hub-remote', 'ghcr-remote']) {
      const r = await client(`api/docker/${repo}`)(api(repo))({ method: 'GET', url: `https://art.example/api/docker/${repo}/v2/app/manifests/1` });
      assert.equal(r.status, 200, repo);
    }
    // Each realm asked once, by the API it belongs to: the second never takes the first one's realm from the memory.
    assert.deepEqual(realms, ['/api/docker/hub-remote/v2/token', '/api/docker/ghcr-remote/v2/token']);
  });

  it('answering over TLS, it is an https registry: a plain-http realm on another host is refused and no credential is sent; answering over http, it is not', async () => {
    for (const scheme of ['https', 'http'] as const) {
      const tokenAsks: HttpRequest[] = [];
      const mw = probedClient(tokenAsks);
      const url = `${scheme}://localhost:5000/v2/b/manifests/x`;
      const send = mw(async (req) =>
        req.headers?.authorization ? answer(200, {}, '', req.url) : answer(401, { 'www-authenticate': 'Bearer realm="http://auth.example.com/token",service="svc"' }, '', req.url),
      );
      const outcome = await send({ method: 'GET', url }).then((r) => r.status, (e: Error) => e);
      if (scheme === 'https') {
        assert.ok(outcome instanceof ProtocolError, String(outcome));
        assert.equal(outcome.code, 'E_PROTOCOL');
        assert.match(outcome.message, /localhost:5000 is reached over https and credentials must not be sent over plain http/);
        assert.equal(tokenAsks.length, 0, 'no token request, so no credential in clear text');
      } else {
        assert.equal(outcome, 200, 'a plain-http registry may use a plain-http realm');
        assert.equal(tokenAsks.length, 1);
      }
    }
  });
});
