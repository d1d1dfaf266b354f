// registries.conf's `insecure = true` (ConnectionOptions.insecureTlsRegistries) on a host that is not
// loopback: TLS without certificate verification is tried first, plain HTTP when the host does not
// speak TLS; without the setting, the same self-signed server is an E_TLS failure. The servers listen
// on this machine's own non-loopback address (skipped where it has none), so the loopback rules
// (plain HTTP probe first) do not apply. daemon.json's insecure-registries mean the same, read by
// the library's insecureFromDaemonJson.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { connect } from '../../src/registry/connect.js';
import { transportFor } from '../../src/registry/operation-transport.js';
import { login } from '../../src/login/login.js';
import { digestOf, insecureFromDaemonJson } from '../../src/index.js';
import { RegpushError } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import { localhostCert } from '../fixtures/localhost-cert.js';

const manifest = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"x","digest":"sha256:' + 'a'.repeat(64) + '","size":1},"layers":[]}');
const digest = 'sha256:' + createHash('sha256').update(manifest).digest('hex');

/** This machine's first non-internal IPv4 address, if any. */
function ownAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

/** Answers /v2/ and the manifest; records each request as "proto METHOD url". */
function handler(proto: string, seen: string[]) {
  return (req: http.IncomingMessage, res: http.ServerResponse) => {
    seen.push(`${proto} ${req.method} ${req.url}`);
    if (req.url === '/v2/') return res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'docker-content-digest': digest }).end(manifest);
  };
}

async function listen(t: TestContext, s: http.Server, ip: string): Promise<string> {
  await new Promise<void>((r) => s.listen(0, ip, r));
  t.after(() => s.close());
  return `${ip}:${(s.address() as AddressInfo).port}`;
}

function recorder(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, debug: (m) => lines.push(`debug: ${m}`), info: (m) => lines.push(`info: ${m}`), warn: (m) => lines.push(`warn: ${m}`) };
}

async function read(host: string, insecure: boolean, logger: Logger, where = '/etc/containers/registries.conf') {
  const opts = { retries: 0, logger, tls: { certsDirs: [] }, ...(insecure ? { insecureTlsRegistries: { [host]: where } } : {}) };
  const transport = transportFor(opts);
  try {
    return await connect(transport, host, 'from', [{ repo: 'app', actions: ['pull'] }], opts).getManifest('app', 'v1');
  } finally {
    transport.close();
  }
}


/** The self-signed certificate of `host` refused (E_TLS), the message naming the host and the setting that trusts its CA. */
const selfSigned = (host: string) => (e: unknown): boolean =>
  e instanceof RegpushError && e.code === 'E_TLS' && e.message.startsWith(`TLS failure talking to ${host}: self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT); to trust its CA add tls.caCerts: { ${JSON.stringify(host)}: [PATH] }`);
/** A plain-HTTP `host` spoken to over TLS only: E_TLS saying it answered in plain HTTP and naming the setting, or (where the handshake fails otherwise) E_NETWORK naming the host. */
const plainRefused = (host: string) => (e: unknown): boolean =>
  e instanceof RegpushError &&
  ((e.code === 'E_TLS' && e.message.startsWith(`TLS failure talking to ${host}: it answered in plain HTTP, not TLS`) && e.message.endsWith(`; if ${host} serves plain HTTP, add insecureRegistries: [${JSON.stringify(host)}]`)) ||
    (e.code === 'E_NETWORK' && e.message.includes(host)));
test('insecure = true off loopback: a self-signed TLS server is read over TLS without verification (TLS asked first), with a warning naming the file', async (t) => {
  const ip = ownAddress();
  if (!ip) return t.skip('no non-loopback IPv4 address');
  const cert = localhostCert(t);
  if (!cert) return;
  const seen: string[] = [];
  const plainAttempts: string[] = [];
  const s = https.createServer({ key: cert.key, cert: cert.cert }, handler('tls', seen));
  // A plain request to a TLS port shows up as a TLS client error.
  s.on('tlsClientError', (e) => plainAttempts.push(e.message));
  const host = await listen(t, s, ip);
  const log = recorder();
  const got = await read(host, true, log);
  assert.equal(got.digest, digest);
  assert.deepEqual(seen, ['tls GET /v2/', 'tls GET /v2/app/manifests/v1']);
  assert.deepEqual(plainAttempts, [], 'no plain HTTP request before TLS');
  const warned = log.lines.filter((l) => l.startsWith('warn: '));
  assert.deepEqual(warned, [`warn: TLS verification is off for ${host} (insecure = true in /etc/containers/registries.conf): the connection is encrypted, but the server is not authenticated`]);
  // Without the setting the certificate is checked, and refused.
  await assert.rejects(read(host, false, recorder()), selfSigned(host));
});

test('the library\'s insecureFromDaemonJson: daemon.json\'s insecure-registries applied as insecureTlsRegistries, the self-signed server is read (digestOf), its warning naming the file', async (t) => {
  const ip = ownAddress();
  if (!ip) return t.skip('no non-loopback IPv4 address');
  const cert = localhostCert(t);
  if (!cert) return;
  const seen: string[] = [];
  const host = await listen(t, https.createServer({ key: cert.key, cert: cert.cert }, handler('tls', seen)), ip);
  const daemonJson = JSON.stringify({ 'insecure-registries': [`http://${host}`] });
  const insecure = insecureFromDaemonJson(daemonJson, '/etc/docker/daemon.json');
  assert.deepEqual(insecure, { [host]: 'insecure-registries in /etc/docker/daemon.json' });
  const log = recorder();
  const got = await digestOf(`${host}/app:v1`, { retries: 0, logger: log, tls: { certsDirs: [] }, insecureTlsRegistries: insecure });
  assert.equal(got.digest, digest);
  assert.deepEqual(log.lines.filter((l) => l.startsWith('warn: ')), [`warn: TLS verification is off for ${host} (insecure-registries in /etc/docker/daemon.json): the connection is encrypted, but the server is not authenticated`]);
  await assert.rejects(digestOf(`${host}/app:v1`, { retries: 0, logger: recorder(), tls: { certsDirs: [] } }), selfSigned(host));
});

test('insecure = true off loopback: a host that speaks only plain HTTP is read over plain HTTP after the TLS attempt fails', async (t) => {
  const ip = ownAddress();
  if (!ip) return t.skip('no non-loopback IPv4 address');
  const seen: string[] = [];
  const host = await listen(t, http.createServer(handler('plain', seen)), ip);
  const log = recorder();
  const got = await read(host, true, log);
  assert.equal(got.digest, digest);
  assert.deepEqual(seen, ['plain GET /v2/', 'plain GET /v2/app/manifests/v1']);
  assert.ok(log.lines.some((l) => l.startsWith(`debug: ${host} did not answer over TLS`)), log.lines.join('\n'));
  // The warning says what the connection is: plain HTTP, not "encrypted" (given before the TLS
  // attempt, it said so of this host too).
  assert.deepEqual(log.lines.filter((l) => l.startsWith('warn: ')), [
    `warn: ${host} is spoken to in plain HTTP (insecure = true in /etc/containers/registries.conf; it did not answer over TLS): the connection is neither encrypted nor authenticated`,
  ]);
  // A version 1 file has no `insecure = true`: the warning quotes what it has.
  const v1 = recorder();
  await read(host, true, v1, '[registries.insecure] in /etc/containers/registries.conf');
  assert.deepEqual(v1.lines.filter((l) => l.startsWith('warn: ')), [
    `warn: ${host} is spoken to in plain HTTP ([registries.insecure] in /etc/containers/registries.conf; it did not answer over TLS): the connection is neither encrypted nor authenticated`,
  ]);
  // Without the setting, a host that is not loopback is spoken to over TLS only.
  await assert.rejects(read(host, false, recorder()), plainRefused(host));
});

test('insecure = true off loopback: login() reaches a host that speaks only plain HTTP, as every other command does', async (t) => {
  const ip = ownAddress();
  if (!ip) return t.skip('no non-loopback IPv4 address');
  const seen: string[] = [];
  const s = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? '-'}`);
    if (req.headers.authorization !== `Basic ${Buffer.from('bob:pw').toString('base64')}`) return res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' }).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  const host = await listen(t, s, ip);
  const dir = mkdtempSync(join(tmpdir(), 'regpush-login-insecure-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const opts = { registry: host, username: 'bob', password: 'pw', retries: 0, logger: recorder(), tls: { certsDirs: [] }, env: { DOCKER_CONFIG: dir }, homeDir: dir };
  await assert.rejects(login(opts), plainRefused(host), 'without the setting: TLS only');
  assert.equal(seen.length, 0, 'nothing reached the host over plain HTTP');
  assert.deepEqual(await login({ ...opts, insecureTlsRegistries: { [host]: '/etc/containers/registries.conf' } }), { registry: host });
  assert.ok(seen.some((l) => l.startsWith('GET /v2/ Basic ')), seen.join('\n'));
  assert.deepEqual(Object.keys(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).auths), [host]);
});

test('insecure = true on a host no scheme probe reaches (a token service, a redirect target): its "verification is off" warning comes once it answers over TLS, once per host', async (t) => {
  const cert = localhostCert(t);
  if (!cert) return;
  const seen: string[] = [];
  // Two TLS hosts with a certificate nobody trusts, named insecure in registries.conf: one the
  // token service, one where the registry sends the manifest read.
  const tokens = https.createServer({ key: cert.key, cert: cert.cert }, (req, res) => {
    seen.push(`token ${req.url}`);
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"t0k"}');
  });
  const store = https.createServer({ key: cert.key, cert: cert.cert }, handler('store', seen));
  const tokenHost = await listen(t, tokens, '127.0.0.1');
  const storeHost = await listen(t, store, '127.0.0.1');
  // The registry itself: plain HTTP on loopback, not insecure-TLS (its own probe warns of nothing).
  const registry = http.createServer((req, res) => {
    seen.push(`registry ${req.method} ${req.url} ${req.headers.authorization ? 'auth' : '-'}`);
    if (req.headers.authorization !== 'Bearer t0k') {
      return res.writeHead(401, { 'www-authenticate': `Bearer realm="https://${tokenHost}/token",service="reg"`, 'content-type': 'application/json' }).end('{}');
    }
    if (req.url === '/v2/') return res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    res.writeHead(307, { location: `https://${storeHost}/v2/app/manifests/v1` }).end();
  });
  const regHost = await listen(t, registry, '127.0.0.1');
  const log = recorder();
  const where = '/etc/containers/registries.conf';
  const opts = { retries: 0, logger: log, tls: { certsDirs: [] }, insecureTlsRegistries: { [tokenHost]: where, [storeHost]: where } };
  const transport = transportFor(opts);
  try {
    const client = connect(transport, regHost, 'from', [{ repo: 'app', actions: ['pull'] }], opts);
    assert.equal((await client.getManifest('app', 'v1')).digest, digest);
    assert.equal((await client.getManifest('app', 'v1')).digest, digest, 'a second read: no second warning');
  } finally {
    transport.close();
  }
  assert.ok(seen.some((l) => l.startsWith('token /token')) && seen.some((l) => l.startsWith('store GET /v2/app/manifests/v1')), seen.join('\n'));
  // Before: none, the scheme probe being the only one to warn of an insecure = true host.
  assert.deepEqual(log.lines.filter((l) => l.startsWith('warn: ')), [
    `warn: TLS verification is off for ${tokenHost} (insecure = true in ${where}): the connection is encrypted, but the server is not authenticated`,
    `warn: TLS verification is off for ${storeHost} (insecure = true in ${where}): the connection is encrypted, but the server is not authenticated`,
  ]);
});
