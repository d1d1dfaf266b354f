// The scheme probe of a host reached either way (loopback, or insecure-TLS off loopback): a port
// that accepts and never answers is asked once, not once per protocol (each attempt waited the
// whole idle timeout); an insecure-TLS host that answers TLS in plain HTTP, then fails the
// plain-HTTP request, reports that failure, not the TLS one's advice to add the plain-HTTP setting
// it already has. A host without a port is asked at 443 and 80 at once: a 443 that takes the
// connection and says nothing costs one wait, not one per port (these reach "reg.example" through
// an in-process proxy, which sees which port each protocol went to: CONNECT reg.example:443 for
// TLS, an absolute GET http://reg.example/… for plain HTTP).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { Readable } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { digestOf } from '../../src/index.js';
import { RegpushError } from '../../src/errors.js';
import type { HttpRequest, HttpResponse } from '../../src/http/types.js';
import { probeScheme } from '../../src/registry/scheme-probe.js';
import type { Logger } from '../../src/log.js';

const quiet: Logger = { debug: () => {}, info: () => {}, warn: () => {} };

/** This machine's first non-internal IPv4 address, if any. */
function ownAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

/** A TCP server on `ip` that hands each connection, in order, to `onConnection`; its host:port and the connections' count. */
async function tcpServer(t: TestContext, ip: string, onConnection: (s: net.Socket, n: number) => void): Promise<{ host: string; connections: () => number }> {
  let n = 0;
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => {
    sockets.push(s);
    s.on('error', () => {});
    onConnection(s, n++);
  });
  await new Promise<void>((r) => server.listen(0, ip, r));
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { host: `${ip}:${(server.address() as AddressInfo).port}`, connections: () => n };
}

test('a loopback port that accepts and never answers: probed once (no TLS attempt after the plain one found no answer), E_NETWORK naming the timeout', async (t) => {
  const { host, connections } = await tcpServer(t, '127.0.0.1', () => {});
  await assert.rejects(digestOf(`${host}/app:v1`, { retries: 0, idleTimeoutMs: 200, logger: quiet }), (e: unknown) => {
    assert.ok(e instanceof RegpushError && e.code === 'E_NETWORK', String(e));
    assert.match(e.message, /^cannot reach 127\.0\.0\.1:\d+: .*200 ms \(ETIMEDOUT\)/);
    assert.match(String(e.details.request), /^GET http:\/\//);
    return true;
  });
  assert.equal(connections(), 1);
});

test('an insecure-TLS host:port off loopback that never answers: asked over TLS once, not then in plain HTTP', async (t) => {
  const ip = ownAddress();
  if (!ip) return t.skip('no non-loopback IPv4 address');
  const { host, connections } = await tcpServer(t, ip, () => {});
  const opts = { retries: 0, idleTimeoutMs: 200, logger: quiet, tls: { certsDirs: [] }, insecureTlsRegistries: { [ip]: 'insecure-registries in /etc/docker/daemon.json' } };
  await assert.rejects(digestOf(`${host}/app:v1`, opts), (e: unknown) => {
    assert.ok(e instanceof RegpushError && e.code === 'E_NETWORK', String(e));
    assert.match(String(e.details.request), /^GET https:\/\//);
    return true;
  });
  assert.equal(connections(), 1);
});

test('an insecure-TLS host:port off loopback that hangs up on the TLS hello and then says nothing in plain HTTP: one line naming both attempts and what each met, not the hang-up alone', async (t) => {
  const ip = ownAddress();
  if (!ip) return t.skip('no non-loopback IPv4 address');
  const { host, connections } = await tcpServer(t, ip, (s, n) => {
    if (n === 0) s.once('data', () => s.destroy());
  });
  const opts = { retries: 0, idleTimeoutMs: 300, logger: quiet, tls: { certsDirs: [] }, insecureTlsRegistries: { [host]: '/etc/containers/registries.conf' } };
  await assert.rejects(digestOf(`${host}/app:v1`, opts), (e: unknown) => {
    assert.ok(e instanceof RegpushError && e.code === 'E_NETWORK', String(e));
    const h = host.replace(/\./g, '\\.');
    assert.match(e.message, new RegExp(`^cannot reach ${h}, asked over TLS and then in plain HTTP \\(insecure = true in /etc/containers/registries\\.conf\\): over TLS: [^;]*\\(ECONNRESET\\); in plain HTTP: [^;]*\\(ETIMEDOUT\\); check that the registry is running and listens at ${h}$`));
    assert.equal(e.details.errno, 'ETIMEDOUT');
    return true;
  });
  assert.equal(connections(), 2);
});

test('an insecure-TLS host off loopback that answers TLS in plain HTTP and then fails the plain request: that failure is reported, not "add the plain-HTTP setting"', async (t) => {
  const ip = ownAddress();
  if (!ip) return t.skip('no non-loopback IPv4 address');
  // The TLS hello gets a plain-HTTP 400 (a plain-HTTP server); the plain request a hang-up.
  const { host, connections } = await tcpServer(t, ip, (s, n) => {
    if (n === 0) s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n'));
    else s.once('data', () => s.destroy());
  });
  const opts = { retries: 0, logger: quiet, tls: { certsDirs: [] }, insecureTlsRegistries: { [host]: 'insecure-registries in /etc/docker/daemon.json' } };
  await assert.rejects(digestOf(`${host}/app:v1`, opts), (e: unknown) => {
    assert.ok(e instanceof RegpushError, String(e));
    assert.equal(e.code, 'E_NETWORK', e.message);
    assert.match(String(e.details.request), /^GET http:\/\//);
    assert.doesNotMatch(e.message, /insecure/i);
    return true;
  });
  assert.equal(connections(), 2);
});

/**
 * An HTTP proxy standing in for both ports of "reg.example": a CONNECT (TLS, port 443) gets its
 * tunnel and then silence; a plain request (port 80) goes to `plain`. Each request's first line is
 * kept, with whether `tlsGaveUp` had happened when it came.
 */
async function silent443Proxy(t: TestContext, tlsGaveUp: () => boolean, plain: (req: http.IncomingMessage, res: http.ServerResponse) => void) {
  const seen: { line: string; afterTlsGaveUp: boolean }[] = [];
  const sockets: net.Socket[] = [];
  const server = http.createServer((req, res) => {
    seen.push({ line: `${req.method} ${req.url}`, afterTlsGaveUp: tlsGaveUp() });
    plain(req, res);
  });
  server.on('connect', (req: http.IncomingMessage, socket: net.Socket) => {
    seen.push({ line: `CONNECT ${req.url}`, afterTlsGaveUp: tlsGaveUp() });
    socket.on('error', () => {});
    socket.write('HTTP/1.1 200 Connection established\r\n\r\n');
  });
  server.on('connection', (s) => sockets.push(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const proxy = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { seen, env: { HTTPS_PROXY: proxy, HTTP_PROXY: proxy } };
}

/** A logger keeping its debug lines, to tell when the TLS attempt was given up. */
function debugLines(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, debug: (m) => lines.push(m), info: () => {}, warn: () => {} };
}

test('an insecure-TLS host without a port whose 443 takes the connection and never answers, nor does 80: both asked at once (one wait), one E_NETWORK line naming each port, what it met and what to check', async (t) => {
  const logger = debugLines();
  const { seen, env } = await silent443Proxy(t, () => logger.lines.some((l) => l.includes('did not answer over TLS')), () => {});
  // Long enough that the plain attempt, sent in the same turn as the TLS one, reaches the proxy
  // before the TLS one gives up even on a loaded machine; nothing here measures time.
  const opts = { retries: 0, idleTimeoutMs: 1000, logger, env, tls: { certsDirs: [] }, insecureTlsRegistries: { 'reg.example': '/etc/docker/daemon.json' } };
  await assert.rejects(digestOf('reg.example/app:v1', opts), (e: unknown) => {
    assert.ok(e instanceof RegpushError && e.code === 'E_NETWORK', String(e));
    assert.match(
      e.message,
      /^cannot reach reg\.example, asked over TLS at port 443 and in plain HTTP at port 80 \(insecure = true in \/etc\/docker\/daemon\.json\): port 443: [^;]*\(ETIMEDOUT\); port 80: [^;]*\(ETIMEDOUT\); check that the registry is running and which port it listens on \(one on another port is named with it: reg\.example:PORT\)$/,
    );
    assert.equal(e.details.request, 'GET https://reg.example/v2/');
    assert.equal(e.details.errno, 'ETIMEDOUT');
    return true;
  });
  assert.deepEqual(seen.map((s) => s.line).sort(), ['CONNECT reg.example:443', 'GET http://reg.example/v2/']);
  // Asked alongside the TLS attempt, not after it gave up: the two waits overlap.
  assert.deepEqual(seen.filter((s) => s.afterTlsGaveUp), []);
});

test('an insecure-TLS host without a port whose 443 takes the connection and never answers, with a registry on 80: read in plain HTTP after the one wait', async (t) => {
  const manifest = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"x","digest":"sha256:' + 'a'.repeat(64) + '","size":1},"layers":[]}');
  const digest = 'sha256:' + createHash('sha256').update(manifest).digest('hex');
  const logger = debugLines();
  const { seen, env } = await silent443Proxy(
    t,
    () => logger.lines.some((l) => l.includes('did not answer over TLS')),
    (req, res) => {
      if (req.url === 'http://reg.example/v2/') return res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'docker-content-digest': digest }).end(manifest);
    },
  );
  const opts = { retries: 0, idleTimeoutMs: 1000, logger, env, tls: { certsDirs: [] }, insecureTlsRegistries: { 'reg.example': '/etc/containers/registries.conf' } };
  assert.equal((await digestOf('reg.example/app:v1', opts)).digest, digest);
  assert.deepEqual(seen.filter((s) => s.line.startsWith('CONNECT')).map((s) => s.line), ['CONNECT reg.example:443']);
  assert.deepEqual(seen.filter((s) => s.afterTlsGaveUp && s.line === 'GET http://reg.example/v2/'), []);
  assert.ok(seen.some((s) => s.line.startsWith('HEAD http://reg.example/v2/app/manifests/v1') || s.line.startsWith('GET http://reg.example/v2/app/manifests/v1')), JSON.stringify(seen));
});

test('an insecure-TLS host without a port: the TLS answer is used whenever there is one, even one that comes after port 80 answered; the plain answer is dropped, its attempt cancelled', async () => {
  const answer = (url: string): HttpResponse => ({ status: 200, headers: {}, url, body: Readable.from([Buffer.from('{}')]) });
  const sent: HttpRequest[] = [];
  const plainAnswers: HttpResponse[] = [];
  let answerTls: (res: HttpResponse) => void = () => {};
  const probe = (req: HttpRequest): Promise<HttpResponse> => {
    sent.push(req);
    if (req.url.startsWith('https:')) return new Promise((resolve) => (answerTls = resolve));
    plainAnswers.push(answer(req.url));
    return Promise.resolve(plainAnswers.at(-1)!);
  };
  const heard: string[] = [];
  const url = probeScheme({ probe, host: 'reg.example', apiBase: '', logger: quiet, heard: (res) => heard.push(res.url) });
  // Both are out before either has answered: the plain one does not wait for the TLS one to fail.
  assert.deepEqual(sent.map((r) => r.url).sort(), ['http://reg.example/v2/', 'https://reg.example/v2/']);
  answerTls(answer('https://reg.example/v2/'));
  assert.equal(await url, 'https://reg.example/v2/');
  assert.deepEqual(heard, ['https://reg.example/v2/']);
  const plainReq = sent.find((r) => r.url.startsWith('http:'));
  assert.equal(plainReq?.signal?.aborted, true);
  assert.equal(plainAnswers.length, 1);
  // Dropped in the then() the cancel hung on its (settled) promise: a microtask, run before the next turn.
  await new Promise((r) => setImmediate(r));
  assert.equal(plainAnswers[0]!.body.destroyed, true);
});
