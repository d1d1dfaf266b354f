import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { Transport } from '../../src/http/transport.js';
import { readBody, errorFromResponse, settleSmallBody } from '../../src/http/response.js';
import { nextHop } from '../../src/http/redirect.js';
import { AbortedError, AuthError, DeniedError, DigestMismatchError, InputError, NetworkError, NotFoundError, ProtocolError, RegistryError, TlsError, TooManyRequestsError, type ErrorCode } from '../../src/errors.js';
import { transportError } from '../../src/http/send-errors.js';
import { countTimers } from '../unit/count-timers.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
const servers: http.Server[] = [];
async function serve(handler: Handler): Promise<string> {
  const s = http.createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}
after(() => servers.forEach((s) => s.close()));

const fast = { retries: 3, baseDelayMs: 5, maxDelayMs: 20, maxRetryAfterMs: 5000 };

test('redirects are followed by hand and Authorization never crosses origins', async () => {
  const seen: (string | undefined)[] = [];
  const storage = await serve((req, res) => {
    seen.push(req.headers.authorization);
    res.end('blob-bytes');
  });
  const reg = await serve((req, res) => {
    if (req.url === '/same') {
      res.writeHead(307, { location: '/final' });
      return res.end();
    }
    if (req.url === '/final') {
      seen.push(req.headers.authorization);
      return res.end('same-origin');
    }
    res.writeHead(307, { location: `${storage}/data?X-Amz-Signature=abc` });
    res.end();
  });
  const t = new Transport({ retry: fast });
  const r1 = await t.send({ method: 'GET', url: `${reg}/v2/x/blobs/sha256:1`, headers: { authorization: 'Bearer secret-token' } });
  assert.equal((await readBody(r1, 100, 'b')).toString(), 'blob-bytes');
  const r2 = await t.send({ method: 'GET', url: `${reg}/same`, headers: { authorization: 'Bearer secret-token' } });
  assert.equal((await readBody(r2, 100, 'b')).toString(), 'same-origin');
  assert.deepEqual(seen, [undefined, 'Bearer secret-token']);
  t.close();
});

test('after redirects the answer says where the request went first and the first other host it was led to, never more than 5 hops', async () => {
  let storage2 = '';
  const storage1 = await serve((_req, res) => {
    res.writeHead(302, { location: `${storage2}/b` });
    res.end();
  });
  const reg = await serve((req, res) => {
    const to = ({ '/start': '/same', '/same': `${storage1}/a`, '/loop0': '/loop1', '/loop1': '/loop2', '/loop2': '/loop3', '/loop3': '/loop4', '/loop4': '/loop5', '/loop5': '/loop6' } as Record<string, string>)[req.url ?? ''];
    if (to) {
      res.writeHead(307, { location: to });
      return res.end();
    }
    res.end(req.url === '/final' ? 'final' : 'same-origin');
  });
  storage2 = await serve((_req, res) => {
    res.writeHead(302, { location: `${reg}/final` });
    res.end();
  });
  const host = (u: string) => new URL(u).host;
  const t = new Transport({ retry: fast });
  // registry → itself → storage 1 → storage 2 → registry: 4 hops.
  const r = await t.send({ method: 'GET', url: `${reg}/start`, headers: { authorization: 'Bearer secret-token' } });
  assert.equal((await readBody(r, 100, 'b')).toString(), 'final');
  assert.deepEqual(r.redirected, { from: host(reg), away: host(storage1), authorizationDropped: true });
  // Every hop on the registry's host: no other host to name.
  const same = await t.send({ method: 'GET', url: `${reg}/loop1`, headers: { authorization: 'Bearer secret-token' } });
  assert.equal((await readBody(same, 100, 'b')).toString(), 'same-origin');
  assert.deepEqual(same.redirected, { from: host(reg), away: undefined, authorizationDropped: false });
  // Six redirects: refused after the fifth hop.
  await assert.rejects(t.send({ method: 'GET', url: `${reg}/loop0` }), (err: Error) => err instanceof ProtocolError && err.code === 'E_PROTOCOL' && /too many redirects \(more than 5\)/.test(err.message));
  t.close();
});

test('redirect hops refuse https→http downgrades and non-http schemes', () => {
  const req = { method: 'GET' as const, url: 'https://reg.example/v2/a/blobs/x', headers: { authorization: 'Bearer t' } };
  assert.throws(() => nextHop(req, 'http://cdn.example/x'), { name: 'ProtocolError', code: 'E_PROTOCOL', message: 'refusing redirect from https to plain http (reg.example → cdn.example)' });
  assert.throws(() => nextHop(req, 'file:///etc/passwd'), { name: 'ProtocolError', code: 'E_PROTOCOL', message: 'refusing redirect to a file: URL from reg.example' });
  const ok = nextHop(req, '/v2/other');
  assert.equal(ok.url, 'https://reg.example/v2/other');
  assert.equal(ok.headers?.authorization, 'Bearer t');
  assert.equal(nextHop(req, 'https://cdn.example/x').headers?.authorization, undefined);
});

test('5xx and 429 are retried for replayable requests, honouring Retry-After', async () => {
  let n = 0;
  const url = await serve((_req, res) => {
    n++;
    if (n === 1) {
      res.writeHead(503);
      return res.end('busy');
    }
    if (n === 2) {
      res.writeHead(429, { 'retry-after': '0' });
      return res.end();
    }
    res.end('ok');
  });
  const retries: number[] = [];
  const t = new Transport({ retry: fast, onRetry: (i) => retries.push(i.outcome.status ?? 0) });
  const res = await t.send({ method: 'PUT', url, body: Buffer.from('x') });
  assert.equal(res.status, 200);
  assert.equal((await readBody(res, 10, 'x')).toString(), 'ok');
  assert.deepEqual(retries, [503, 429]);
  t.close();
});

test('a 429 saying the pull limit is used up (ratelimit-remaining 0, Docker Hub\'s 6 h window) is sent once, and its error names the limit', async () => {
  let n = 0;
  const url = await serve((_req, res) => {
    n++;
    res.writeHead(429, { 'content-type': 'application/json', 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '0;w=21600' });
    res.end(JSON.stringify({ errors: [{ code: 'TOOMANYREQUESTS', message: 'You have reached your pull rate limit.' }] }));
  });
  const t = new Transport({ retry: { ...fast, maxRetryAfterMs: 60_000 } });
  const res = await t.send({ method: 'GET', url });
  assert.equal(res.status, 429);
  assert.equal(n, 1, 'not retried');
  const err = await errorFromResponse(res, { what: 'GET manifest r/x:1', registry: 'r' });
  assert.ok(err instanceof TooManyRequestsError);
  assert.equal(err.code, 'E_TOO_MANY_REQUESTS');
  assert.equal(err.details.pullLimitSpent, true);
  assert.match(err.message, /r answered 429 TOOMANYREQUESTS: You have reached your pull rate limit\. \(the pull limit is used up: ratelimit-remaining 0 of 100 per 6 h; not retried/);
  t.close();
});

test('GHCR\'s 429, its wait named only in its error body (retry-after: 1.16676ms), is retried after at least that wait, and at least the backoff; the body stays readable', async () => {
  // GHCR's answer (falcosecurity/plugins#1069, chainguard-images/images#173) names a wait, often
  // under a millisecond: it is a floor under the backoff, not the delay (taken alone it spent every
  // retry within a few ms).
  const ghcr = (wait: string) => JSON.stringify({ errors: [{ code: 'TOOMANYREQUESTS', message: `retry-after: ${wait}, allowed: 44000/minute` }] });
  let answers: string[] = [];
  const url = await serve((_req, res) => {
    const body = answers.shift();
    if (body === undefined) return res.end('ok');
    res.writeHead(429, { 'content-type': 'application/json' });
    res.end(body);
  });
  const delays: number[] = [];
  const t = new Transport({ retry: { retries: 3, baseDelayMs: 8, maxDelayMs: 20_000, maxRetryAfterMs: 60_000, random: () => 0 }, onRetry: (i) => delays.push(i.delayMs) });
  // Backoff (random 0): 4 ms, then 8 ms. The first wait named is longer, the second shorter.
  answers = [ghcr('30.5ms'), ghcr('985.86µs')];
  const res = await t.send({ method: 'GET', url });
  assert.equal((await readBody(res, 10, 'x')).toString(), 'ok');
  assert.deepEqual(delays, [31, 8]);
  // Longer than regpush waits: not retried, and the error says what was asked and where.
  answers = [ghcr('2m0s')];
  delays.length = 0;
  const refused = await t.send({ method: 'GET', url });
  assert.equal(refused.status, 429);
  assert.deepEqual(delays, []);
  const err = await errorFromResponse(refused, { what: 'GET manifest r/x:1', registry: 'r' });
  assert.ok(err instanceof TooManyRequestsError && err.code === 'E_TOO_MANY_REQUESTS');
  assert.match(err.message, /^GET manifest r\/x:1: r answered 429 TOOMANYREQUESTS: retry-after: 2m0s, allowed: 44000\/minute \(rate limited; the registry asks to wait 120 s \(in its error body\), longer than regpush waits \(60 s\)/);
  assert.equal(err.details.waitInBody, 120_000);
  t.close();
});

test('a non-replayable (streamed) body is not retried by the transport', async () => {
  let n = 0;
  const url = await serve((req, res) => {
    n++;
    req.resume();
    req.on('end', () => {
      res.writeHead(503);
      res.end();
    });
  });
  const t = new Transport({ retry: fast });
  const res = await t.send({ method: 'PUT', url, body: () => Readable.from([Buffer.from('abc')]), replayable: false });
  assert.equal(res.status, 503);
  assert.equal(n, 1);
  res.body.resume();
  t.close();
});

test('retries run out and the last response is returned', async () => {
  let n = 0;
  const url = await serve((_req, res) => {
    n++;
    res.writeHead(500);
    res.end();
  });
  const t = new Transport({ retry: { ...fast, retries: 2 } });
  const res = await t.send({ method: 'GET', url });
  assert.equal(res.status, 500);
  assert.equal(n, 3);
  res.body.resume();
  t.close();
});

test('a stalled response body fails with a NetworkError instead of hanging', async () => {
  const url = await serve((_req, res) => {
    res.writeHead(200, { 'content-length': '100' });
    res.write('partial');
  });
  const t = new Transport({ retry: fast, idleTimeoutMs: 200 });
  const res = await t.send({ method: 'GET', url });
  await assert.rejects(readBody(res, 1000, 'x'), (e: unknown) => e instanceof NetworkError && e.code === 'E_NETWORK' && /stalled/.test(e.message));
  t.close();
});

test('a server that never answers fails with ETIMEDOUT after the idle timeout', async () => {
  const url = await serve(() => {});
  const t = new Transport({ retry: { ...fast, retries: 0 }, idleTimeoutMs: 200 });
  await assert.rejects(t.send({ method: 'GET', url }), (e: unknown) => e instanceof NetworkError && e.code === 'E_NETWORK' && e.details.errno === 'ETIMEDOUT' && e.message === `cannot reach ${new URL(url).host}: no progress for 200 ms (ETIMEDOUT)`);
  t.close();
});

test('connection refused is a one-line NetworkError naming the host', async () => {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  const t = new Transport({ retry: fast });
  await assert.rejects(t.send({ method: 'GET', url: `http://127.0.0.1:${port}/v2/` }), (e: unknown) => {
    assert.ok(e instanceof NetworkError);
    assert.equal(e.code, 'E_NETWORK');
    assert.match(e.message, new RegExp(`127\\.0\\.0\\.1:${port}: connection refused`));
    return true;
  });
  t.close();
});

test('readBody enforces the cap by header and by bytes', async () => {
  const url = await serve((req, res) => {
    if (req.url === '/declared') {
      res.writeHead(200, { 'content-length': '5000' });
      return res.end(Buffer.alloc(5000));
    }
    res.writeHead(200, { 'transfer-encoding': 'chunked' });
    res.end(Buffer.alloc(5000));
  });
  const t = new Transport({ retry: fast });
  await assert.rejects(readBody(await t.send({ method: 'GET', url: `${url}/declared` }), 1000, 'manifest'), { name: 'ProtocolError', code: 'E_PROTOCOL', message: 'manifest is too large: 5000 bytes (limit 1000)' });
  await assert.rejects(readBody(await t.send({ method: 'GET', url: `${url}/chunked` }), 1000, 'manifest'), { name: 'ProtocolError', code: 'E_PROTOCOL', message: 'manifest is too large: more than 1000 bytes' });
  t.close();
});

test('errorFromResponse keeps OCI error codes and picks the typed error', async () => {
  const cases: [number, string, new (...a: never[]) => Error, ErrorCode][] = [
    [401, 'UNAUTHORIZED', AuthError, 'E_AUTH'],
    [403, 'DENIED', DeniedError, 'E_DENIED'],
    [404, 'MANIFEST_UNKNOWN', NotFoundError, 'E_NOT_FOUND'],
    [429, 'TOOMANYREQUESTS', TooManyRequestsError, 'E_TOO_MANY_REQUESTS'],
    [400, 'DIGEST_INVALID', DigestMismatchError, 'E_DIGEST_MISMATCH'],
    [500, 'UNKNOWN', RegistryError, 'E_REGISTRY'],
    [400, 'MANIFEST_BLOB_UNKNOWN', NotFoundError, 'E_NOT_FOUND'],
  ];
  for (const [status, code, cls, stable] of cases) {
    const body = Readable.from([Buffer.from(JSON.stringify({ errors: [{ code, message: 'msg' }] }))]);
    const err = await errorFromResponse({ status, headers: {}, url: 'x', body }, { what: 'GET manifest r/x:1', registry: 'r' });
    assert.ok(err instanceof cls, `${status} ${code} → ${err.constructor.name}`);
    assert.equal(err.code, stable, `${status} ${code}`);
    assert.deepEqual(err.details.registryCodes, [code]);
    assert.match(err.message, new RegExp(`r answered ${status} ${code}`));
  }
  const garbage = await errorFromResponse({ status: 502, headers: {}, url: 'x', body: Readable.from([Buffer.from('<html>')]) }, { what: 'w', registry: 'r' });
  assert.ok(garbage instanceof RegistryError);
  assert.equal(garbage.code, 'E_REGISTRY');
  assert.equal(garbage.message, 'w: r answered 502 (the registry failed; retry later or check its status page)');
  // A 429 whose Retry-After is beyond what regpush waits was never retried: the message says what was asked.
  const long = await errorFromResponse({ status: 429, headers: { 'retry-after': '3600' }, url: 'x', body: Readable.from([]) }, { what: 'GET manifest r/x:1', registry: 'r' });
  assert.ok(long instanceof TooManyRequestsError);
  assert.equal(long.code, 'E_TOO_MANY_REQUESTS');
  assert.match(long.message, /\(rate limited; the registry asks to wait 3600 s \(Retry-After\), longer than regpush waits \(60 s\): wait and retry/);
  const short = await errorFromResponse({ status: 429, headers: { 'retry-after': '2' }, url: 'x', body: Readable.from([]) }, { what: 'GET manifest r/x:1', registry: 'r' });
  assert.equal(short.code, 'E_TOO_MANY_REQUESTS');
  assert.match(short.message, /\(rate limited; retries exhausted: wait and retry/);
});

// The idle timeout is an hour: any rejection at all is the body's own error ending the request; a
// request that waited for the idle watch instead hangs until the test's generous bound fails it.
test('a streamed body that fails (before or during the request) fails the request with its own error at once, not after the idle timeout', { timeout: 120_000 }, async () => {
  const reg = await serve((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(202).end());
  });
  const t = new Transport({ retry: fast, idleTimeoutMs: 3_600_000 });
  const failure = () => new InputError('file name is not valid UTF-8 (hex 6162ff)');
  // Failed before the request was made (the layer met the bad name while the session was opening).
  const early = new Readable({ read() {} });
  early.on('error', () => {});
  early.destroy(failure());
  await new Promise((r) => setImmediate(r));
  await assert.rejects(t.send({ method: 'PATCH', url: `${reg}/v2/x/blobs/uploads/1`, body: () => early }), { name: 'InputError', code: 'E_INPUT', message: 'file name is not valid UTF-8 (hex 6162ff)' });
  // Failed while it streamed.
  let n = 0;
  const late = new Readable({
    read() {
      if (n++ < 3) this.push(Buffer.alloc(64 * 1024, 1));
      else this.destroy(failure());
    },
  });
  await assert.rejects(t.send({ method: 'PATCH', url: `${reg}/v2/x/blobs/uploads/2`, body: () => late }), { name: 'InputError', code: 'E_INPUT', message: 'file name is not valid UTF-8 (hex 6162ff)' });
  t.close();
});

test('settleSmallBody: the body is read to its end and given back whole; one declared over the cap is left as a stream; one that turns out over it becomes empty', async () => {
  const res = (body: Readable, headers: Record<string, string> = {}) => ({ status: 401, headers, url: 'http://r/v2/', body });
  const text = '{"errors":[{"code":"UNAUTHORIZED"}]}';
  const source = Readable.from([Buffer.from(text.slice(0, 10)), Buffer.from(text.slice(10))], { objectMode: false });
  const settled = await settleSmallBody(res(source));
  assert.ok(source.readableEnded, 'the original body was read to its end');
  assert.equal((await readBody(settled, 1024, 'error body')).toString(), text, 'and its bytes are still there');
  assert.equal(settled.status, 401);

  const big = Readable.from([Buffer.alloc(10)], { objectMode: false });
  const declared = res(big, { 'content-length': String(100_000) });
  assert.equal(await settleSmallBody(declared, 1024), declared, 'declared over the cap: untouched');
  assert.ok(!big.readableEnded);
  big.destroy();

  const undeclared = Readable.from([Buffer.alloc(800), Buffer.alloc(800)], { objectMode: false });
  const over = await settleSmallBody(res(undeclared), 1024);
  assert.equal((await readBody(over, 1024, 'body')).length, 0, 'over the cap while read: an empty body');
  assert.ok(undeclared.destroyed);
});

test('no compressed answers: Accept-Encoding is identity (bodies are never decompressed, so an offer of gzip would hand over bytes read as if plain)', async () => {
  const offered: (string | undefined)[] = [];
  const manifest = '{"schemaVersion":2}';
  const base = await serve((req, res) => {
    offered.push(req.headers['accept-encoding']);
    // As nginx with gzip_types does: compress when the client offers it.
    if (/\bgzip\b/.test(req.headers['accept-encoding'] ?? '')) {
      res.writeHead(200, { 'content-encoding': 'gzip', 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
      return res.end(gzipSync(manifest));
    }
    res.end(manifest);
  });
  const t = new Transport({ retry: fast });
  const r = await t.send({ method: 'GET', url: `${base}/v2/app/manifests/1` });
  assert.equal(r.headers['content-encoding'], undefined);
  assert.equal((await readBody(r, 1000, 'manifest')).toString(), manifest);
  // A caller that asks for an encoding itself still gets to.
  const r2 = await t.send({ method: 'GET', url: `${base}/x`, headers: { 'accept-encoding': 'gzip' } });
  assert.equal(r2.headers['content-encoding'], 'gzip');
  r2.body.resume();
  assert.deepEqual(offered, ['identity', 'gzip']);
  t.close();
});

test('a body whose connection drops before its Content-Length (or its last chunk) is a NetworkError, not a short body or an internal error', async () => {
  const base = await serve((req, res) => {
    if (req.url === '/length') res.writeHead(200, { 'content-length': '100' });
    else res.writeHead(200); // chunked
    res.write('x'.repeat(10));
    // Once the bytes are out: the client has read them when the connection goes.
    setTimeout(() => res.socket?.destroy(), 20);
  });
  const t = new Transport({ retry: fast });
  const port = new URL(base).host;
  for (const [path, of] of [['/length', ' of 100'], ['/chunked', '']] as const) {
    const r = await t.send({ method: 'GET', url: `${base}${path}` });
    assert.equal(r.status, 200);
    await assert.rejects(readBody(r, 1000, 'manifest app:1'), (e: unknown) => {
      assert.ok(e instanceof NetworkError, String(e));
      assert.equal(e.code, 'E_NETWORK');
      assert.equal(e.details.errno, 'ECONNRESET');
      assert.equal(e.details.registry, port);
      assert.match(e.message, new RegExp(`^manifest app:1: connection lost after 10${of} bytes from ${port.replace(/\./g, '\\.')} \\(ECONNRESET\\)`));
      return true;
    });
  }
  t.close();
});

test('a body its reader has paused (a blob GET opened ahead of its upload) waits past the idle timeout and then delivers every byte', async () => {
  const payload = Buffer.alloc(1 << 20, 7);
  const url = await serve((_req, res) => res.writeHead(200, { 'content-length': String(payload.length) }).end(payload));
  const t = new Transport({ retry: fast, idleTimeoutMs: 200 });
  const res = await t.send({ method: 'GET', url });
  res.body.pause(); // as readAhead does
  await new Promise((r) => setTimeout(r, 600));
  assert.equal(res.body.destroyed, false, 'not taken for a stall while nobody reads it');
  assert.equal((await readBody(res, payload.length, 'x')).length, payload.length);
  t.close();
});

test('a request waiting for a free connection behind slow but progressing transfers is not timed out: the clock starts when it has a socket', async () => {
  const url = await serve((req, res) => {
    if (req.url === '/slow') {
      res.writeHead(200, { 'content-length': '8' });
      let n = 0;
      const tick = setInterval(() => {
        res.write('x');
        if (++n === 8) {
          clearInterval(tick);
          res.end();
        }
      }, 100);
      return;
    }
    res.end('quick');
  });
  const t = new Transport({ retry: { ...fast, retries: 0 }, idleTimeoutMs: 300, maxSockets: 1 });
  const slow = t.send({ method: 'GET', url: `${url}/slow` }).then((r) => readBody(r, 100, 'slow'));
  const quick = await t.send({ method: 'GET', url: `${url}/quick` });
  assert.equal((await readBody(quick, 100, 'quick')).toString(), 'quick');
  assert.equal((await slow).toString(), 'xxxxxxxx');
  t.close();
});

test('an interruption right after send() is called stops the request before it goes out', async () => {
  let seen = 0;
  const url = await serve((_req, res) => {
    seen++;
    res.end('x');
  });
  const t = new Transport({ retry: fast });
  const ctl = new AbortController();
  const p = t.send({ method: 'GET', url, signal: ctl.signal });
  ctl.abort();
  await assert.rejects(p, (e: unknown) => (e as { code?: string }).code === 'E_ABORTED');
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(seen, 0);
  t.close();
});

test('a connection reset in the middle of the TLS handshake is a network error (retried), not a certificate problem', async () => {
  const net = await import('node:net');
  const srv = net.createServer((s) => s.once('data', () => s.destroy())); // closed mid-handshake: "socket disconnected before secure TLS connection was established"
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  const t = new Transport({ retry: { ...fast, retries: 1 } });
  await assert.rejects(t.send({ method: 'GET', url: `https://127.0.0.1:${port}/v2/` }), (e: unknown) => {
    assert.ok(e instanceof NetworkError && e.code === 'E_NETWORK', String(e));
    assert.doesNotMatch((e as Error).message, /--ca-cert/);
    return true;
  });
  t.close();
  await new Promise<void>((r) => srv.close(() => r()));
});

test('withProfile: a deadline for the answer to start and for each silence of its body (not for the whole body), its own retry policy; the caller still cancels a body', async () => {
  let hits = 0;
  const url = await serve((req, res) => {
    hits++;
    if (req.url === '/never') return; // no answer at all
    if (req.url === '/503') return res.writeHead(503, { 'retry-after': '0' }).end();
    if (req.url === '/stall') {
      // Headers and a first part at once, then silence with the connection open (a mirror whose upstream fetch hung).
      res.writeHead(200, { 'content-length': '6' });
      return void res.write('abc');
    }
    // Headers at once, then the body a byte at a time over more than the deadline, never silent for long.
    res.writeHead(200, { 'content-length': '6' });
    const rest = [...'abcdef'];
    const tick = setInterval(() => (rest.length ? res.write(rest.shift()!) : (clearInterval(tick), res.end())), 50);
  });
  const t = new Transport({ retry: fast, idleTimeoutMs: 5000 });
  const p = t.withProfile({ retry: { retries: 1, statuses: new Set(), errnos: new Set(['ECONNRESET']) }, answerTimeoutMs: 200 });
  await assert.rejects(p.send({ method: 'GET', url: `${url}/never` }), (e: unknown) => e instanceof NetworkError && e.code === 'E_NETWORK' && e.details.errno === 'ETIMEDOUT' && /no answer within 200 ms/.test(e.message));
  assert.equal(hits, 1, 'the deadline is not retried under this profile');
  hits = 0;
  assert.equal((await p.send({ method: 'GET', url: `${url}/503` })).status, 503);
  assert.equal(hits, 1, 'a 503 is not retried under this profile');
  hits = 0;
  assert.equal((await t.send({ method: 'GET', url: `${url}/503` })).status, 503);
  assert.equal(hits, 4, 'the transport itself keeps its policy');
  const slow = await p.send({ method: 'GET', url: `${url}/slow` });
  assert.equal((await readBody(slow, 100, 'x')).toString(), 'abcdef');
  // Before: the body kept only the transport's idle watch (5000 ms here, 60 s by default).
  const stalled = await p.send({ method: 'GET', url: `${url}/stall` });
  await assert.rejects(readBody(stalled, 100, 'x'), (e: unknown) => e instanceof NetworkError && e.code === 'E_NETWORK' && e.details.errno === 'ETIMEDOUT' && /response stalled for 200 ms/.test(e.message));
  const ctl = new AbortController();
  const cancelled = await p.send({ method: 'GET', url: `${url}/slow`, signal: ctl.signal });
  ctl.abort();
  await assert.rejects(readBody(cancelled, 100, 'x'), (e: unknown) => e instanceof AbortedError && e.code === 'E_ABORTED' && e.message === `aborted: GET ${url}/slow`);
  assert.equal(p.stats, t.stats, 'one set of stats');
  t.close();
});

test('a host or proxy whose name says "tls" or "ssl" does not make a DNS or socket failure a TLS one: the error code decides, the words only without the names', () => {
  const fail = (code: string | undefined, message: string) => Object.assign(new Error(message), code ? { code } : {});
  for (const [url, proxy, err] of [
    ['https://tls-registry.example.invalid/v2/', undefined, fail('ENOTFOUND', 'getaddrinfo ENOTFOUND tls-registry.example.invalid')],
    ['https://ssl.example.invalid/v2/', undefined, fail('EAI_AGAIN', 'getaddrinfo EAI_AGAIN ssl.example.invalid')],
    ['https://reg.example/v2/', 'http://tls-proxy.corp:3128', fail('EHOSTDOWN', 'connect EHOSTDOWN tls-proxy.corp')],
    ['https://certificate.example:5000/v2/', undefined, fail(undefined, 'something went wrong with certificate.example')],
  ] as const) {
    const e = transportError(err, { method: 'GET', url }, undefined, proxy === undefined ? undefined : { url: proxy, from: 'HTTPS_PROXY', settings: 'HTTPS_PROXY, NO_PROXY' });
    assert.ok(e instanceof NetworkError, `${url}: ${e.code} ${e.message}`);
    assert.doesNotMatch(e.message, /--ca-cert|TLS failure/);
  }
  // A real TLS failure is still one: by its code, or by its words when it has no code.
  for (const err of [fail('CERT_SIGNATURE_FAILURE', 'certificate signature failure'), fail('ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE', 'sslv3 alert handshake failure'), fail(undefined, 'unable to verify the first certificate')]) {
    const e = transportError(err, { method: 'GET', url: 'https://tls-registry.example/v2/' });
    assert.ok(e instanceof TlsError, `${err.message}: ${e.code}`);
  }
});

/** A server that reads request bodies at about `bytesPerSec` (as a slow uplink would deliver them), then answers 202 with the byte count. */
async function slowReader(bytesPerSec: number): Promise<string> {
  const tick = 50;
  return serve((req, res) => {
    let got = 0;
    let budget = (bytesPerSec * tick) / 1000;
    const refill = setInterval(() => {
      budget = (bytesPerSec * tick) / 1000;
      req.resume();
    }, tick);
    req.on('data', (c: Buffer) => {
      got += c.length;
      budget -= c.length;
      if (budget <= 0) req.pause();
    });
    req.on('end', () => {
      clearInterval(refill);
      res.writeHead(202, { 'x-got': String(got) }).end();
    });
    req.on('close', () => clearInterval(refill));
  });
}

test('an in-memory body (a chunk PATCH) that takes longer than the idle timeout to send is not taken for a stall while its bytes flow', async () => {
  const url = await slowReader(8 << 20);
  const t = new Transport({ retry: { ...fast, retries: 0 }, idleTimeoutMs: 1000 });
  // About two seconds at that pace: twice the idle timeout, with no pause between bytes longer than a tick.
  const chunk = Buffer.alloc(16 << 20, 1);
  const res = await t.send({ method: 'PATCH', url: `${url}/v2/app/blobs/uploads/u`, body: () => chunk, replayable: true });
  assert.equal(res.status, 202);
  assert.equal(res.headers['x-got'], String(chunk.length));
  res.body.resume();
  t.close();
});

test('a streamed upload that stops moving (the server reads no more) fails with ETIMEDOUT once the idle timeout has passed without progress, and its body is read no further', async () => {
  const first = 256 * 1024;
  let taken = 0;
  let tookFirst!: () => void;
  const took = new Promise<void>((resolve) => (tookFirst = resolve));
  const url = await serve((req) => {
    // Takes the first 256 KiB, then reads nothing more and never answers: the socket's buffers fill and the body stops.
    req.on('data', (c: Buffer) => {
      taken += c.length;
      if (taken < first) return;
      req.pause();
      tookFirst();
    });
  });
  const t = new Transport({ retry: { ...fast, retries: 0 }, idleTimeoutMs: 300 });
  const chunk = Buffer.alloc(64 * 1024, 1);
  const chunks = 4096;
  let produced = 0;
  // The rest of the body only once the server has taken the first part: until then the body is
  // being produced and the idle clock waits for it (the source is slow, not the server), so the
  // upload has moved before it stops however late the server gets to read on a loaded machine.
  // Each chunk as it is asked for, at once (as a source with its bytes at hand would give them).
  let serverTookFirst = false;
  void took.then(() => (serverTookFirst = true));
  const body = () =>
    new Readable({
      read() {
        if (produced === chunks) return void this.push(null);
        const next = (): void => {
          produced++;
          this.push(chunk);
        };
        if (produced * chunk.length === first && !serverTookFirst) void took.then(next);
        else next();
      },
    });
  // The idle watch's own error (its time named), not another deadline's, ends the request.
  await assert.rejects(t.send({ method: 'PUT', url: `${url}/v2/app/blobs/uploads/u?digest=sha256:x`, body, replayable: false }), (e: unknown) => e instanceof NetworkError && e.code === 'E_NETWORK' && e.details.errno === 'ETIMEDOUT' && e.message === `cannot reach ${new URL(url).host}: no progress for 300 ms (ETIMEDOUT)`);
  assert.ok(taken >= first, `the server took ${taken} bytes`);
  // What the socket did not take is not read from the source once the request has failed (a blob
  // GET feeding an upload is not downloaded on for nothing): the body stopped where the request did.
  await new Promise<void>((resolve) => setImmediate(resolve));
  assert.ok(produced < chunks, `${produced} of ${chunks} chunks read from the source`);
  t.close();
});

test('a streamed upload restarts its idle clock at every chunk without a new timer per chunk', async () => {
  const url = await serve((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(201).end());
  });
  const t = new Transport({ retry: { ...fast, retries: 0 }, idleTimeoutMs: 60_000 });
  const chunk = Buffer.alloc(16 * 1024, 1);
  const made = await countTimers(async () => {
    const body = () => Readable.from((function* () { for (let i = 0; i < 400; i++) yield chunk; })());
    const res = await t.send({ method: 'PUT', url: `${url}/v2/app/blobs/uploads/u?digest=sha256:x`, body, replayable: false });
    assert.equal(res.status, 201);
    res.body.resume();
  });
  assert.ok(made < 40, `timers made for a body of 400 chunks: ${made}`);
  t.close();
});

test('a host still sending an answer\'s body is answering: two requests that stall there meanwhile keep their retries (host-silence.ts)', async () => {
  // /blob sends its headers and a first byte, then one more byte as each first attempt of /a and
  // /b arrives: bytes from the host after each was sent. The first attempts are never answered
  // (each times out); the retries are answered once both first attempts have ended, so that no
  // answer to one of them can end a silence before the other has timed out.
  let blob: http.ServerResponse | undefined;
  const arrivals = new Map<string, number>();
  const ended = new Map<string, () => void>();
  const firstEnded = (path: string) => new Promise<void>((resolve) => ended.set(path, resolve));
  const endedA = firstEnded('/a');
  const endedB = firstEnded('/b');
  const base = await serve((req, res) => {
    const path = req.url ?? '';
    if (path === '/blob') {
      blob = res;
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write('b');
      return;
    }
    const n = (arrivals.get(path) ?? 0) + 1;
    arrivals.set(path, n);
    if (n === 1) {
      blob?.write('b');
      res.on('close', () => ended.get(path)?.());
      return;
    }
    void Promise.all([endedA, endedB]).then(() => res.end('ok'));
  });
  const t = new Transport({ retry: { ...fast, retries: 1 }, idleTimeoutMs: 500 });
  try {
    const res = await t.send({ method: 'GET', url: `${base}/blob` });
    // Read as it comes, as a blob is; its own end (or its stall once /a and /b are done) is not what this test is about.
    res.body.on('data', () => undefined);
    res.body.on('error', () => undefined);
    const [a, b] = await Promise.all(['/a', '/b'].map((p) => t.send({ method: 'GET', url: `${base}${p}` })));
    assert.deepEqual([a!.status, b!.status], [200, 200]);
    await Promise.all([readBody(a!, 1024, 'GET /a'), readBody(b!, 1024, 'GET /b')]);
    // Before, body bytes were no answer: the second to time out found the host silent and failed, not retried.
    assert.deepEqual([arrivals.get('/a'), arrivals.get('/b')], [2, 2]);
  } finally {
    blob?.end();
    t.close();
  }
});

test('an https request whose TLS handshake is under way has not gone out: onSent waits for the handshake, and unsentSignal still cuts it', async () => {
  // A server that takes the connection and the ClientHello and never answers: the TCP connection
  // is up, the handshake never ends, and nothing of the request can have reached it.
  let hello!: () => void;
  const heard = new Promise<void>((resolve) => {
    hello = resolve;
  });
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => {
    sockets.push(s);
    s.once('data', () => hello());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const t = new Transport({ retry: fast });
  const unsent = new AbortController();
  const hard = new AbortController();
  let sent = 0;
  const put = t.send({
    method: 'PUT',
    url: `https://127.0.0.1:${port}/v2/app/manifests/1`,
    body: Buffer.from('{}'),
    onSent: () => {
      sent++;
    },
    unsentSignal: unsent.signal,
    signal: hard.signal,
  });
  put.catch(() => undefined);
  try {
    await heard; // the socket has connected and sent its ClientHello
    assert.equal(sent, 0, 'not told it went out while the handshake is under way');
    unsent.abort();
    await assert.rejects(put, (e: unknown) => e instanceof AbortedError && e.code === 'E_ABORTED');
    assert.equal(sent, 0);
  } finally {
    hard.abort();
    t.close();
    for (const s of sockets) s.destroy();
    server.close();
  }
});
