// EarlySockets (src/http/early-sockets.ts) and the transport taking them: connections opened
// before the transport existed are the ones its first requests use, over HTTP and HTTPS alike,
// and whatever nobody took is closed with the transport.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo, type Socket } from 'node:net';
import { EarlySockets } from '../../src/http/early-sockets.js';
import { Transport } from '../../src/http/transport.js';
import { tlsResolver } from '../../src/http/tls.js';
import type { RegistryTlsOptions } from '../../src/http/tls-options.js';
import { localhostCert } from '../fixtures/localhost-cert.js';
import { noDelay } from '../fixtures/socket-options.js';
import { waitFor } from '../fixtures/wait-for.js';

interface Server {
  port: number;
  accepted: Socket[];
  /** Per request: the index in `accepted` of the connection it came on. */
  requestConn: number[];
  open: () => number;
  close: () => Promise<void>;
}

async function listen(srv: net.Server): Promise<Server> {
  const accepted: Socket[] = [];
  const requestConn: number[] = [];
  const live = new Set<Socket>();
  srv.on('connection', (s: Socket) => {
    accepted.push(s);
    live.add(s);
    s.on('close', () => live.delete(s));
  });
  // By the client's port: under TLS the request's socket wraps the one 'connection' reported.
  srv.on('request', (req: http.IncomingMessage) => requestConn.push(accepted.findIndex((s) => s.remotePort === req.socket.remotePort)));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { port: (srv.address() as AddressInfo).port, accepted, requestConn, open: () => live.size, close: () => new Promise<void>((r) => srv.close(() => r())) };
}

/** `waitFor` with the condition's text as its name. */
const until = (cond: () => boolean): Promise<void> => waitFor(cond.toString(), cond);

async function get(t: Transport, url: string): Promise<number> {
  const res = await t.send({ method: 'GET', url });
  res.body.resume();
  await new Promise((r) => res.body.once('end', r));
  return res.status;
}

test('open() connects n times; take() hands each over once; close() ends the rest', async () => {
  const s = await listen(net.createServer());
  const early = new EarlySockets();
  early.open('127.0.0.1', s.port, 3);
  assert.deepEqual(early.opened, [`127.0.0.1:${s.port} ×3`]);
  await until(() => s.accepted.length === 3);
  assert.equal(early.count, 3);
  const a = early.take('127.0.0.1', s.port);
  const b = early.take('127.0.0.1', s.port);
  assert.ok(a && b && a !== b);
  assert.equal(early.take('127.0.0.1', s.port + 1), undefined, 'another port: none');
  assert.equal(early.count, 1);
  early.close();
  await until(() => s.open() === 2);
  assert.equal(s.open(), 2, 'the one nobody took is closed; the taken ones are not the pool’s any more');
  assert.equal(early.take('127.0.0.1', s.port), undefined);
  a.destroy();
  b.destroy();
  await s.close();
});

test('a connection that fails is not handed over, and its error goes nowhere', async () => {
  const s = await listen(net.createServer());
  const port = s.port;
  await s.close(); // nothing listens there now
  const early = new EarlySockets();
  early.open('127.0.0.1', port, 1);
  await until(() => early.count === 0);
  assert.equal(early.count, 0);
  assert.equal(early.take('127.0.0.1', port), undefined);
});

test('the transport’s first requests go out on the early connections; more requests connect as usual', async () => {
  const s = await listen(http.createServer((_req, res) => setTimeout(() => res.end('ok'), 20)));
  const early = new EarlySockets();
  early.open('127.0.0.1', s.port, 2);
  await until(() => s.accepted.length === 2);
  const t = new Transport({ early });
  const url = `http://127.0.0.1:${s.port}/v2/`;
  assert.deepEqual(await Promise.all([1, 2, 3].map((i) => get(t, `${url}${i}`))), [200, 200, 200]);
  assert.equal(s.accepted.length, 3, 'two early connections and one new');
  assert.deepEqual([...s.requestConn].sort(), [0, 1, 2], 'every connection carried a request: none wasted');
  assert.equal(early.count, 0);
  t.close();
  await until(() => s.open() === 0);
  assert.equal(s.open(), 0);
  await s.close();
});


test('early connections get TCP_NODELAY when the transport takes them, as the ones it opens itself have', async (t) => {
  const srv = http.createServer((_req, res) => setTimeout(() => res.end('ok'), 20));
  const s = await listen(srv);
  // A failed assertion skips the end of the test: nothing may keep the process alive then.
  t.after(() => {
    srv.closeAllConnections();
    srv.close();
  });
  const made: Socket[] = [];
  const early = new EarlySockets((port, host) => {
    const sock = net.connect(port, host);
    made.push(sock);
    return sock;
  });
  early.open('127.0.0.1', s.port, 1);
  await until(() => s.accepted.length === 1);
  assert.equal(noDelay(made[0]!), false, 'a plain net.connect leaves Nagle on');
  const tr = new Transport({ early });
  t.after(() => tr.close());
  const sockets: Socket[] = [];
  const url = `http://127.0.0.1:${s.port}/v2/`;
  await Promise.all([1, 2].map(async (i) => {
    const res = await tr.send({ method: 'PUT', url: `${url}${i}`, body: Buffer.from('x') });
    sockets.push((res.body as unknown as { socket: Socket }).socket);
    res.body.resume();
    await new Promise((r) => res.body.once('end', r));
  }));
  assert.equal(s.accepted.length, 2, 'one early connection and one the agent opened');
  assert.ok(sockets.includes(made[0]!), 'the early connection carried a request');
  for (const sock of sockets) assert.equal(noDelay(sock), true);
});

test('connections opened early and not needed are closed when the transport closes', async () => {
  const s = await listen(http.createServer((_req, res) => res.end('ok')));
  const early = new EarlySockets();
  early.open('127.0.0.1', s.port, 3);
  await until(() => s.accepted.length === 3);
  const t = new Transport({ early });
  assert.equal(await get(t, `http://127.0.0.1:${s.port}/v2/`), 200);
  t.close();
  await until(() => s.open() === 0);
  assert.equal(s.open(), 0);
  assert.equal(s.accepted.length, 3);
  await s.close();
});

/** An https server for "localhost" with a fresh self-signed certificate, counting TLS handshakes; undefined without openssl. */
async function httpsServer(t: TestContext): Promise<(Server & { handshakes: () => number; host: string; trusting: RegistryTlsOptions; trustingNothing: RegistryTlsOptions }) | undefined> {
  const pem = localhostCert(t);
  if (!pem) return undefined;
  let handshakes = 0;
  const srv = https.createServer({ key: pem.key, cert: pem.cert }, (_req, res) => res.end('ok'));
  srv.on('secureConnection', () => handshakes++);
  const s = await listen(srv);
  // A failed assertion skips the test's own close: the server must not keep the process alive.
  t.after(() => {
    srv.closeAllConnections();
    srv.close();
  });
  const host = `localhost:${s.port}`;
  return { ...s, handshakes: () => handshakes, host, trusting: { certsDirs: [], caCerts: { [host]: [pem.certFile] } }, trustingNothing: { certsDirs: [] } };
}

test('https: TLS goes on top of the early TCP connection, with the registry’s own CA', async (t) => {
  const s = await httpsServer(t);
  if (!s) return;
  const early = new EarlySockets();
  early.open('localhost', s.port, 1);
  await until(() => s.accepted.length === 1);
  const tr = new Transport({ early, tls: tlsResolver(s.trusting) });
  assert.equal(await get(tr, `https://${s.host}/v2/`), 200);
  assert.equal(s.accepted.length, 1, 'no second connection: the early one carried the TLS session');
  assert.equal(s.handshakes(), 1);
  tr.close();
  await until(() => s.open() === 0);
  await s.close();
});

test('https origins opened with tls: the transport completes their TLS handshakes at once, with the origin’s trust, and the first requests use them', async (t) => {
  const s = await httpsServer(t);
  if (!s) return;
  const early = new EarlySockets();
  early.open('localhost', s.port, 2, true);
  assert.deepEqual(early.tlsOrigins, [{ host: 'localhost', port: s.port, connections: 2 }]);
  await until(() => s.accepted.length === 2);
  assert.equal(s.handshakes(), 0, 'TCP only until the transport exists');
  const tr = new Transport({ early, tls: tlsResolver(s.trusting) });
  await until(() => s.handshakes() === 2);
  assert.equal(s.handshakes(), 2, 'both handshakes done before any request was sent');
  assert.equal(early.count, 0, 'the transport took both');
  assert.deepEqual(await Promise.all([get(tr, `https://${s.host}/v2/a`), get(tr, `https://${s.host}/v2/b`)]), [200, 200]);
  assert.equal(s.accepted.length, 2, 'no new connection');
  assert.equal(s.handshakes(), 2, 'no new handshake');
  assert.deepEqual([...s.requestConn].sort(), [0, 1], 'each early connection carried one request');
  tr.close();
  await until(() => s.open() === 0);
  assert.equal(s.open(), 0);
  await s.close();
});

test('an early TLS handshake the origin’s trust refuses leaves nothing behind: the request connects again and reports the TLS error', async (t) => {
  const s = await httpsServer(t);
  if (!s) return;
  const early = new EarlySockets();
  early.open('localhost', s.port, 1, true);
  await until(() => s.accepted.length === 1);
  // No CA for this host: the self-signed certificate is not trusted.
  const tr = new Transport({ early, tls: tlsResolver(s.trustingNothing), retry: { retries: 0 } });
  await until(() => s.open() === 0);
  assert.equal(s.open(), 0, 'the refused early connection is closed');
  await assert.rejects(tr.send({ method: 'GET', url: `https://${s.host}/v2/` }), (err: Error & { code?: string }) => err.code === 'E_TLS');
  tr.close();
  await until(() => s.open() === 0);
  await s.close();
});

test('a transport closed at once (a command that fails before any request) opens nothing after it closed', async (t) => {
  const s = await httpsServer(t);
  if (!s) return;
  const early = new EarlySockets();
  early.open('localhost', s.port, 2, true);
  await until(() => s.accepted.length === 2);
  const tr = new Transport({ early, tls: tlsResolver(s.trusting) });
  tr.close();
  await until(() => s.open() === 0);
  await new Promise((r) => setTimeout(r, 100)); // time for a late preconnect to have connected
  assert.equal(s.accepted.length, 2, 'no connection opened after close');
  assert.equal(s.open(), 0);
  await s.close();
});
