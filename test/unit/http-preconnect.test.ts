// Transport.preconnect: connections opened ahead of the requests (nothing sent on them) are the
// ones the next requests use, are not more than asked for, and are closed by close().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Transport } from '../../src/http/transport.js';
import { localhostCert } from '../fixtures/localhost-cert.js';
import { waitFor } from '../fixtures/wait-for.js';

async function server(): Promise<{ url: string; connections: () => number; open: () => number; requests: string[]; close: () => Promise<void> }> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const requests: string[] = [];
  const srv = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    setTimeout(() => res.end('ok'), 20); // concurrent requests overlap
  });
  srv.on('connection', (s: Socket) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/`,
    connections: () => connections,
    open: () => sockets.size,
    requests,
    close: () => new Promise<void>((r) => srv.close(() => r())),
  };
}

/** `waitFor` with the condition's text as its name. */
const until = (cond: () => boolean): Promise<void> => waitFor(cond.toString(), cond);

async function get(t: Transport, url: string): Promise<number> {
  const res = await t.send({ method: 'GET', url });
  res.body.resume();
  await new Promise((r) => res.body.once('end', r));
  return res.status;
}

test('preconnect opens n connections and sends nothing; the next n concurrent requests use them', async () => {
  const s = await server();
  const t = new Transport();
  await t.preconnect(s.url, 3);
  await until(() => s.connections() === 3);
  assert.equal(s.connections(), 3);
  assert.deepEqual(s.requests, [], 'nothing sent on a spare');
  assert.deepEqual(await Promise.all([1, 2, 3].map((i) => get(t, `${s.url}v2/${i}`))), [200, 200, 200]);
  assert.equal(s.connections(), 3, 'the requests went out on the spares: no new connection');
  // Asked again: the pool already has 3, so nothing more is opened.
  await t.preconnect(s.url, 3);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(s.connections(), 3);
  t.close();
  await until(() => s.open() === 0);
  assert.equal(s.open(), 0, 'close() closes every connection');
  await s.close();
});

test('preconnect opens no more than the agent uses at once (maxSockets): 64 asked of a pool of 4 opens 4', async () => {
  const s = await server();
  const t = new Transport({ maxSockets: 4 });
  await t.preconnect(s.url, 64);
  await until(() => s.connections() === 4);
  // Opened all at once (Spares.open connects synchronously): any beyond 4 would have arrived by now.
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(s.connections(), 4, 'one connection per socket the agent may use, not one per request asking');
  assert.deepEqual(await Promise.all([1, 2, 3, 4].map((i) => get(t, `${s.url}v2/${i}`))), [200, 200, 200, 200]);
  assert.equal(s.connections(), 4, 'the requests went out on the spares');
  t.close();
  await until(() => s.open() === 0);
  await s.close();
});

test('spares nobody used are closed by close(), and do not keep the process alive', async () => {
  const s = await server();
  const t = new Transport();
  await t.preconnect(s.url, 2);
  await until(() => s.open() === 2);
  assert.equal(s.open(), 2);
  t.close();
  await until(() => s.open() === 0);
  assert.equal(s.open(), 0);
  assert.deepEqual(s.requests, []);
  await s.close();
});

test('https with a registry CA: the spares are TLS connections made with that CA, and the requests use them', async (t) => {
  const https = await import('node:https');
  const { tlsResolver } = await import('../../src/http/tls.js');
  const pem = localhostCert(t);
  if (!pem) return;
  let connections = 0;
  let handshakes = 0;
  const sockets = new Set<Socket>();
  const srv = https.createServer({ key: pem.key, cert: pem.cert }, (_req, res) => setTimeout(() => res.end('ok'), 20));
  srv.on('connection', (s: Socket) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  srv.on('secureConnection', () => handshakes++);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const host = `localhost:${(srv.address() as AddressInfo).port}`;
  const tr = new Transport({ tls: tlsResolver({ certsDirs: [], caCerts: { [host]: [pem.certFile] } }) });
  await tr.preconnect(`https://${host}/v2/`, 2);
  await until(() => handshakes === 2);
  assert.equal(handshakes, 2, 'the spares completed their TLS handshake with the registry CA');
  assert.deepEqual(await Promise.all([1, 2].map((i) => get(tr, `https://${host}/v2/${i}`))), [200, 200]);
  assert.equal(connections, 2, 'the requests went out on the spares');
  tr.close();
  await until(() => sockets.size === 0);
  assert.equal(sockets.size, 0);
  await new Promise<void>((r) => srv.close(() => r()));
});
