// The scheme probe of a host reached either way (loopback, or insecure-TLS off loopback): a port
// that accepts and never answers is asked once, not once per protocol (each attempt waited the
// whole idle timeout); an insecure-TLS host that answers TLS in plain HTTP, then fails the
// plain-HTTP request, reports that failure, not the TLS one's advice to add the plain-HTTP setting
// it already has.
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { test, type TestContext } from 'node:test';
import { digestOf } from '../../src/index.js';
import { RegpushError } from '../../src/errors.js';
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
