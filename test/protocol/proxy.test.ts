import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { bypassesProxy, proxyFor, proxySettingsFromEnv } from '../../src/http/proxy.js';
import { Transport } from '../../src/http/transport.js';
import { readBody } from '../../src/http/response.js';

test('proxy settings: upper case wins, lower case works, empty means none', () => {
  assert.deepEqual(proxySettingsFromEnv({ HTTPS_PROXY: 'http://a:1', https_proxy: 'http://b:2', no_proxy: 'x' }), { httpProxy: undefined, httpsProxy: 'http://a:1', noProxy: 'x' });
  assert.deepEqual(proxySettingsFromEnv({ http_proxy: 'http://c:3' }), { httpProxy: 'http://c:3', httpsProxy: undefined, noProxy: undefined });
  assert.deepEqual(proxySettingsFromEnv({ HTTPS_PROXY: '' }), { httpProxy: undefined, httpsProxy: undefined, noProxy: undefined });
});

test('NO_PROXY: exact hosts, domain suffixes, ports, wildcard; loopback always direct', () => {
  const cases: [string, string | undefined, boolean][] = [
    ['https://reg.example.com/v2/', 'example.com', true],
    ['https://reg.example.com/v2/', '.example.com', true],
    ['https://reg.example.com/v2/', '*.example.com', true],
    ['https://example.com/v2/', '.example.com', true],
    ['https://notexample.com/v2/', 'example.com', false],
    ['https://reg.example.com:5000/v2/', 'reg.example.com:5000', true],
    ['https://reg.example.com:5000/v2/', 'reg.example.com:6000', false],
    ['https://reg.example.com/v2/', 'reg.example.com:443', true],
    ['https://ghcr.io/v2/', '*', true],
    ['https://ghcr.io/v2/', 'gcr.io, quay.io', false],
    ['http://127.0.0.1:5000/v2/', undefined, true],
    ['http://localhost:5000/v2/', undefined, true],
    ['http://[::1]:5000/v2/', undefined, true],
  ];
  for (const [url, no, want] of cases) assert.equal(bypassesProxy(new URL(url), no), want, `${url} NO_PROXY=${no}`);
  assert.equal(proxyFor(new URL('https://ghcr.io/v2/'), { httpsProxy: 'http://p:3128' }), 'http://p:3128');
  assert.equal(proxyFor(new URL('http://reg.corp:5000/v2/'), { httpsProxy: 'http://p:3128' }), undefined, 'http uses HTTP_PROXY only');
});

const execFileP = promisify(execFile);
const closers: (() => void)[] = [];
after(() => closers.forEach((c) => c()));

test('HTTPS through HTTPS_PROXY uses CONNECT and still verifies the registry certificate', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'regpush-proxy-'));
  closers.push(() => rmSync(dir, { recursive: true, force: true }));
  const name = 'registry.proxy-test.invalid';
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', `/CN=${name}`,
    '-addext', `subjectAltName=DNS:${name}`, '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  const ca = readFileSync(join(dir, 'cert.pem'));
  const registry = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: ca }, (req, res) => {
    if (req.url === '/v2/') return res.end('{}');
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }));
  });
  await new Promise<void>((r) => registry.listen(0, '127.0.0.1', r));
  closers.push(() => registry.close());
  const regPort = (registry.address() as AddressInfo).port;
  // A CONNECT proxy that resolves the (unresolvable) registry name to 127.0.0.1 itself.
  const connects: string[] = [];
  const proxy = http.createServer();
  proxy.on('connect', (req, client, head) => {
    connects.push(req.url ?? '');
    const [host, port] = (req.url ?? '').split(':');
    const upstream = net.connect(Number(port), host === name ? '127.0.0.1' : host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  closers.push(() => proxy.close());
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;

  const t = new Transport({ proxy: { httpsProxy: proxyUrl }, retry: { retries: 0 } });
  // Unknown CA: the TLS check happens end to end through the tunnel.
  await assert.rejects(t.send({ method: 'GET', url: `https://${name}:${regPort}/v2/` }), (e: Error & { code?: string }) => e.code === 'E_TLS');
  t.close();
  // Trusting the CA (NODE_EXTRA_CA_CERTS is read at process start, so through the CLI): the registry answers.
  const cli = fileURLToPath(new URL('../../cli/regpush.cjs', import.meta.url));
  // Asynchronously: the proxy and the registry live in this process.
  const r = await execFileP(process.execPath, [cli, 'inspect', `${name}:${regPort}/app:1`], {
    env: { PATH: process.env.PATH, HOME: dir, DOCKER_CONFIG: dir, HTTPS_PROXY: proxyUrl, NODE_EXTRA_CA_CERTS: join(dir, 'cert.pem') },
    encoding: 'utf8',
    timeout: 30_000,
  }).then(() => ({ status: 0, stderr: '' }), (e: { code?: number; stderr?: string }) => ({ status: e.code, stderr: e.stderr ?? '' }));
  assert.equal(r.status, 4, r.stderr);
  assert.match(r.stderr, /MANIFEST_UNKNOWN.*\[E_NOT_FOUND\]/);
  assert.ok(connects.length >= 2 && connects.every((c) => c === `${name}:${regPort}`), connects.join(','));
});

test('plain HTTP through HTTP_PROXY sends absolute-URI requests; NO_PROXY goes direct', async () => {
  const seen: string[] = [];
  const direct: string[] = [];
  const target = http.createServer((req, res) => {
    direct.push(req.url ?? '');
    res.end('direct');
  });
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  closers.push(() => target.close());
  const proxy = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    res.end('via-proxy');
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  closers.push(() => proxy.close());
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  const t = new Transport({ proxy: { httpProxy: proxyUrl, noProxy: 'direct.example' }, retry: { retries: 0 } });
  const res = await t.send({ method: 'GET', url: 'http://reg.corp.example:5000/v2/' });
  assert.equal((await readBody(res, 100, 'x')).toString(), 'via-proxy');
  assert.deepEqual(seen, ['http://reg.corp.example:5000/v2/']);
  const port = (target.address() as AddressInfo).port;
  const res2 = await t.send({ method: 'GET', url: `http://127.0.0.1:${port}/v2/` });
  assert.equal((await readBody(res2, 100, 'x')).toString(), 'direct', 'loopback is never proxied');
  t.close();
});
