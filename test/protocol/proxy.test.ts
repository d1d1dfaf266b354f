import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo, Socket } from 'node:net';
import { noDelay } from '../fixtures/socket-options.js';
import { bypassesProxy, proxyFor, proxyOrigin, proxySettingNames, proxySettingsFromDaemonJson, proxySettingsFromEnv, runProxySettings } from '../../src/http/proxy-choice.js';
import { login, logout } from '../../src/login/login.js';
import { AuthError, NetworkError, RegpushError } from '../../src/errors.js';
import { errorLine } from '../../src/cli/main.js';
import { Transport } from '../../src/http/transport.js';
import { readBody } from '../../src/http/response.js';
import { tlsResolver } from '../../src/http/tls.js';
import { CONNECTION_FLAG_NAMES } from '../../src/cli/connection-flags.js';
import { SecretSet } from '../../src/redact.js';
import { transportFor } from '../../src/registry/operation-transport.js';
import { inspect } from '../../src/index.js';
import { waitFor } from '../fixtures/wait-for.js';
import { startFakeRegistry } from '../fixtures/fake-registry.js';

test('proxy settings: upper case wins, lower case works, empty means none', () => {
  // The variable each proxy came from is kept, for errors to name the one that is set.
  assert.deepEqual(proxySettingsFromEnv({ HTTPS_PROXY: 'http://a:1', https_proxy: 'http://b:2', no_proxy: 'x' }), { httpProxy: undefined, httpsProxy: 'http://a:1', noProxy: 'x', httpsProxyVariable: 'HTTPS_PROXY' });
  assert.deepEqual(proxySettingsFromEnv({ http_proxy: 'http://c:3' }), { httpProxy: 'http://c:3', httpsProxy: undefined, noProxy: undefined, httpProxyVariable: 'http_proxy' });
  assert.deepEqual(proxySettingsFromEnv({ HTTPS_PROXY: '', https_proxy: 'http://d:4' }), { httpProxy: undefined, httpsProxy: 'http://d:4', noProxy: undefined, httpsProxyVariable: 'https_proxy' });
  assert.deepEqual(proxySettingsFromEnv({ HTTPS_PROXY: '' }), { httpProxy: undefined, httpsProxy: undefined, noProxy: undefined });
  // Without a scheme, a proxy is http:// (as Go reads it): "proxy.corp:3128" is not scheme "proxy.corp:".
  assert.deepEqual(proxySettingsFromEnv({ HTTPS_PROXY: 'proxy.corp:3128', HTTP_PROXY: 'proxy.corp' }), { httpProxy: 'http://proxy.corp', httpsProxy: 'http://proxy.corp:3128', noProxy: undefined, httpProxyVariable: 'HTTP_PROXY', httpsProxyVariable: 'HTTPS_PROXY' });
  assert.equal(proxySettingsFromEnv({ HTTPS_PROXY: 'https://p:443' }).httpsProxy, 'https://p:443');
  assert.equal(proxySettingsFromEnv({ HTTPS_PROXY: 'socks5://p:1080' }).httpsProxy, 'socks5://p:1080');
});

test('the run\'s proxies: daemon.json\'s when they give a proxy, taken whole with their own no-proxy; else the environment\'s, with its NO_PROXY; errors name where each is set', () => {
  const file = '/etc/docker/daemon.json';
  const fromFile = proxySettingsFromDaemonJson({ proxies: { 'https-proxy': 'proxy.corp:3128', 'no-proxy': '.corp' } }, file);
  assert.deepEqual(fromFile, { httpsProxy: 'http://proxy.corp:3128', noProxy: '.corp', file });
  const env = { HTTPS_PROXY: 'http://env-proxy:8080', HTTP_PROXY: 'http://env-proxy:8080', NO_PROXY: 'reg.corp.example' };
  const run = runProxySettings(env, fromFile);
  assert.equal(run, fromFile);
  // The environment's NO_PROXY does not exempt a host from the file's proxy; its HTTP_PROXY is not used for http.
  assert.equal(proxyFor(new URL('https://reg.corp.example/v2/'), run), 'http://proxy.corp:3128');
  assert.equal(proxyFor(new URL('https://reg.corp/v2/'), run), undefined, 'the file\'s own no-proxy');
  assert.equal(proxyFor(new URL('http://reg.example:5000/v2/'), run), undefined);
  assert.equal(proxyOrigin('https://reg.corp.example/v2/', run), `proxies.https-proxy in ${file}`);
  assert.equal(proxySettingNames('https://reg.corp.example/v2/', run), `"proxies" in ${file}`);
  // A file with no-proxy alone, or none: the environment's settings, whole.
  for (const f of [proxySettingsFromDaemonJson({ proxies: { 'no-proxy': 'reg.example' } }, file), proxySettingsFromDaemonJson({}, file)]) {
    const fromEnv = runProxySettings(env, f);
    assert.deepEqual(fromEnv, proxySettingsFromEnv(env));
    assert.equal(proxyFor(new URL('https://reg.example/v2/'), fromEnv), 'http://env-proxy:8080', 'the file\'s no-proxy is not paired with the environment\'s proxy');
    assert.equal(proxyFor(new URL('https://reg.corp.example/v2/'), fromEnv), undefined);
    assert.equal(proxySettingNames('https://reg.example/v2/', fromEnv), 'HTTPS_PROXY, NO_PROXY');
  }
});

test('NO_PROXY: exact hosts, domain suffixes, ports, wildcard; loopback always direct', () => {
  const cases: [string, string | undefined, boolean][] = [
    ['https://reg.example.com/v2/', 'example.com', true],
    ['https://reg.example.com/v2/', '.example.com', true],
    ['https://reg.example.com/v2/', '*.example.com', true],
    // Go's rule: a leading "." or "*." matches subdomains only (curl would match the domain too).
    ['https://example.com/v2/', '.example.com', false],
    ['https://example.com/v2/', '*.example.com', false],
    ['https://example.com/v2/', 'example.com', true],
    ['https://notexample.com/v2/', 'example.com', false],
    ['https://reg.example.com:5000/v2/', 'reg.example.com:5000', true],
    ['https://reg.example.com:5000/v2/', 'reg.example.com:6000', false],
    ['https://reg.example.com/v2/', 'reg.example.com:443', true],
    ['https://ghcr.io/v2/', '*', true],
    ['https://ghcr.io/v2/', 'gcr.io, quay.io', false],
    ['http://127.0.0.1:5000/v2/', undefined, true],
    ['http://localhost:5000/v2/', undefined, true],
    ['http://[::1]:5000/v2/', undefined, true],
    // IP addresses and ranges, as Go's httpproxy (and so docker, skopeo, crane) reads them.
    ['https://10.1.2.3/v2/', '10.0.0.0/8', true],
    ['https://10.1.2.3:5000/v2/', '10.0.0.0/8', true],
    ['https://11.1.2.3/v2/', '10.0.0.0/8', false],
    ['https://192.168.4.7/v2/', '192.168.4.7', true],
    ['https://192.168.4.7:5000/v2/', '192.168.4.7:5000', true],
    ['https://192.168.4.7:5000/v2/', '192.168.4.7:6000', false],
    ['https://[2001:db8::10]/v2/', '2001:db8::10', true],
    ['https://[2001:db8::10]:5000/v2/', '2001:db8:0:0:0:0:0:10', true],
    ['https://[fd00::1]:5000/v2/', '[fd00::1]:5000', true],
    ['https://[fd00::1]:5000/v2/', '[fd00::1]:6000', false],
    ['https://[fd00::abcd]/v2/', 'fd00::/8', true],
    ['https://[2001:db8::10]/v2/', 'fd00::/8', false],
    ['https://reg.example.com/v2/', '10.0.0.0/8, 10.0.0.0/99, not/a/cidr', false],
  ];
  for (const [url, no, want] of cases) assert.equal(bypassesProxy(new URL(url), no), want, `${url} NO_PROXY=${no}`);
  assert.equal(proxyFor(new URL('https://ghcr.io/v2/'), { httpsProxy: 'http://p:3128' }), 'http://p:3128');
  assert.equal(proxyFor(new URL('http://reg.corp:5000/v2/'), { httpsProxy: 'http://p:3128' }), undefined, 'http uses HTTP_PROXY only');
});

const execFileP = promisify(execFile);
const closers: (() => void)[] = [];
after(() => closers.forEach((c) => c()));

/** Runs the built CLI asynchronously (the proxy and the registry live in this process). */
/** `regpush inspect reg.proxy-test.invalid/app:1 ARGS` with the proxy variables `proxyEnv`, a home of its own and nothing else in its environment. */
async function inspectThroughProxy(proxyEnv: Record<string, string>, args: string[] = []): Promise<{ status?: number; stdout: string; stderr: string }> {
  const home = mkdtempSync(join(tmpdir(), 'regpush-proxy-cli-'));
  closers.push(() => rmSync(home, { recursive: true, force: true }));
  return runCli(['inspect', 'reg.proxy-test.invalid/app:1', ...args], { PATH: process.env.PATH, HOME: home, DOCKER_CONFIG: home, ...proxyEnv });
}

async function runCli(args: string[], env: Record<string, string | undefined>, input?: string): Promise<{ status?: number; stdout: string; stderr: string }> {
  const cli = fileURLToPath(new URL('../../cli/regpush.cjs', import.meta.url));
  const child = execFileP(process.execPath, [cli, ...args], { env, encoding: 'utf8', timeout: 30_000 });
  child.child.stdin?.end(input ?? '');
  return child.then(
    (r) => ({ status: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({ status: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }),
  );
}

/**
 * An HTTPS registry under a name that does not resolve (so it can only be reached through the
 * proxy), its self-signed certificate in `dir`, and a CONNECT proxy that resolves that name to
 * 127.0.0.1 itself and records every CONNECT target. `name` may be an address that is not
 * loopback (192.0.2.10, 2001:db8::10: loopback registries never use the proxy), which the proxy
 * then takes to 127.0.0.1 too; `san` the certificate's subjectAltName (DNS:<name> by default);
 * `proxyTls` makes it an https:// proxy.
 */
async function tlsRegistryBehindProxy(handler: http.RequestListener, opts: { name?: string; san?: string; proxyTls?: { key: Buffer; cert: Buffer } } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'regpush-proxy-'));
  closers.push(() => rmSync(dir, { recursive: true, force: true }));
  const name = opts.name ?? 'registry.proxy-test.invalid';
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=proxy-test registry',
    '-addext', `subjectAltName=${opts.san ?? `DNS:${name}`}`, '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  const ca = readFileSync(join(dir, 'cert.pem'));
  const registry = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: ca }, handler);
  await new Promise<void>((r) => registry.listen(0, '127.0.0.1', r));
  closers.push(() => registry.close());
  const regPort = (registry.address() as AddressInfo).port;
  const connects: string[] = [];
  /** Each CONNECT's Proxy-Authorization header, undefined where it had none. */
  const proxyAuths: (string | undefined)[] = [];
  // An https:// proxy when given a key and certificate (CONNECT inside TLS), else a plain one.
  const proxy = opts.proxyTls ? https.createServer(opts.proxyTls) : http.createServer();
  proxy.on('connect', (req: http.IncomingMessage, client: Socket, head: Buffer) => {
    connects.push(req.url ?? '');
    proxyAuths.push(req.headers['proxy-authorization']);
    // host:port, the host in brackets when it is an IPv6 address.
    const target = req.url ?? '';
    const colon = target.lastIndexOf(':');
    const host = target.slice(0, colon).replace(/^\[|\]$/g, '');
    const port = target.slice(colon + 1);
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
  const proxyUrl = `${opts.proxyTls ? 'https' : 'http'}://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  return { dir, name, regPort, connects, proxyAuths, proxyUrl, certFile: join(dir, 'cert.pem') };
}

test('HTTPS through HTTPS_PROXY uses CONNECT and still verifies the registry certificate', async () => {
  const { dir, name, regPort, connects, proxyUrl } = await tlsRegistryBehindProxy((req, res) => {
    if (req.url === '/v2/') return res.end('{}');
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }));
  });

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

/** A registry that accepts one user with Basic auth on /v2/ and records every request it gets. */
function basicAuthRegistry(user: string, password: string, seen: string[]): http.RequestListener {
  const want = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  return (req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers.authorization ? 'auth' : 'anonymous'}`);
    if (req.url !== '/v2/') {
      res.writeHead(404).end();
      return;
    }
    if (req.headers.authorization !== want) {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="proxy-test"' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'docker-distribution-api-version': 'registry/2.0' });
    res.end('{}');
  };
}

test('regpush login goes through HTTPS_PROXY (CONNECT), checks the password there, stores only an accepted login', async () => {
  const seen: string[] = [];
  const { dir, name, regPort, connects, proxyUrl, certFile } = await tlsRegistryBehindProxy(basicAuthRegistry('alice', 's3cret', seen));
  const host = `${name}:${regPort}`;
  const config = join(dir, 'config.json');
  // The registry name does not resolve: the only way to it is the proxy from HTTPS_PROXY.
  const env = { PATH: process.env.PATH, HOME: dir, DOCKER_CONFIG: dir, HTTPS_PROXY: proxyUrl, NODE_EXTRA_CA_CERTS: certFile };

  const wrong = await runCli(['login', '-u', 'alice', '--password-stdin', host], env, 'not-the-password\n');
  assert.equal(wrong.status, 3, wrong.stderr);
  assert.match(wrong.stderr, /login to registry\.proxy-test\.invalid:\d+ failed: the registry refused user alice .*nothing was stored\) \[E_AUTH\]/);
  assert.ok(!existsSync(config), 'a refused login stored something');
  assert.ok(connects.length >= 1, 'the refused login never reached the proxy');
  const before = seen.length;

  const ok = await runCli(['login', '-u', 'alice', '--password-stdin', host], env, 's3cret\n');
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout, `Login Succeeded: ${host}\n`);
  assert.ok(!ok.stderr.includes('s3cret'), ok.stderr);
  const stored = JSON.parse(readFileSync(config, 'utf8')) as { auths: Record<string, { auth: string }> };
  assert.deepEqual(Object.keys(stored.auths), [host]);
  assert.equal(Buffer.from(stored.auths[host]!.auth, 'base64').toString(), 'alice:s3cret');
  // The registry saw the challenge round and the authenticated ping, all through CONNECT tunnels to it.
  assert.deepEqual(seen.slice(before), ['GET /v2/ anonymous', 'GET /v2/ auth']);
  assert.ok(connects.every((c) => c === host), connects.join(','));

  const out = await runCli(['logout', host], env);
  assert.equal(out.status, 0, out.stderr);
  assert.equal(out.stdout, `Removed login credentials for ${host}\n`);
  assert.deepEqual(JSON.parse(readFileSync(config, 'utf8')).auths, {});
});

test('login() and logout() in the library use the common transport: HTTP_PROXY, insecure registries, canonical names', async () => {
  const seen: string[] = [];
  const registry = http.createServer(basicAuthRegistry('bob', 'pw', seen));
  await new Promise<void>((r) => registry.listen(0, '127.0.0.1', r));
  closers.push(() => registry.close());
  const regPort = (registry.address() as AddressInfo).port;
  // A forwarding HTTP proxy: absolute-URI requests for the (unresolvable) corporate name go to the registry above.
  const { url: proxyUrl, seen: proxied } = await forwardingProxy('reg.corp.example:5000', regPort);
  const home = mkdtempSync(join(tmpdir(), 'regpush-login-'));
  closers.push(() => rmSync(home, { recursive: true, force: true }));
  const config = join(home, '.docker', 'config.json');
  // XDG_RUNTIME_DIR under the temp home: a namespace's login goes to Podman's file there, not the machine's /run/containers.
  const runtime = join(home, 'run');
  mkdirSync(runtime); // made at login by the login manager, never by regpush
  const common = {
    env: { HTTP_PROXY: proxyUrl, XDG_RUNTIME_DIR: runtime },
    homeDir: home,
    insecureRegistries: ['reg.corp.example:5000'],
    retries: 0,
  };

  await assert.rejects(login({ ...common, registry: 'reg.corp.example:5000', username: 'bob', password: 'wrong' }), (e: unknown) =>
    e instanceof AuthError && e.code === 'E_AUTH' && /login to reg\.corp\.example:5000 failed: .*nothing was stored/.test(e.message));
  assert.ok(!existsSync(config), 'a refused login stored something');

  // A URL or config-key spelling of the registry is reduced to its canonical host.
  const r = await login({ ...common, registry: 'http://Reg.Corp.Example:5000/v2/', username: 'bob', password: 'pw' });
  assert.deepEqual(r, { registry: 'reg.corp.example:5000' });
  const stored = JSON.parse(readFileSync(config, 'utf8')) as { auths: Record<string, { auth: string }> };
  assert.equal(Buffer.from(stored.auths['reg.corp.example:5000']!.auth, 'base64').toString(), 'bob:pw');
  assert.ok(proxied.length >= 4 && proxied.every((p) => p === 'GET http://reg.corp.example:5000/v2/'), proxied.join(','));
  assert.equal(seen.length, proxied.length, 'every request went through the proxy');

  // A namespace (as podman login takes it) is checked at the same /v2/ and stored under its own
  // key, in Podman's auth.json (never config.json, where Docker would use it for the whole registry).
  const ns = await login({ ...common, registry: 'reg.corp.example:5000/team', username: 'bob', password: 'pw' });
  assert.deepEqual(ns, { registry: 'reg.corp.example:5000', namespace: 'team' });
  assert.deepEqual(Object.keys((JSON.parse(readFileSync(config, 'utf8')) as { auths: object }).auths), ['reg.corp.example:5000']);
  assert.deepEqual(Object.keys((JSON.parse(readFileSync(join(runtime, 'containers', 'auth.json'), 'utf8')) as { auths: object }).auths), ['reg.corp.example:5000/team']);

  for (const [bad, msg] of [['library/alpine', /not a registry host/], ['quay.io/org/app:1', /no tag or digest/], ['', /not a registry host/]] as const) {
    await assert.rejects(login({ ...common, registry: bad, username: 'bob', password: 'pw' }), (e: unknown) => e instanceof Error && (e as { code?: string }).code === 'E_REFERENCE' && msg.test(e.message));
  }
  await assert.rejects(login({ ...common, registry: 'reg.corp.example:5000', username: 'bob', password: '' }), { name: 'UsageError', code: 'E_USAGE', message: /password is empty/ });
  await assert.rejects(login({ ...common, registry: 'reg.corp.example:5000', username: '', password: 'pw' }), { name: 'UsageError', code: 'E_USAGE', message: /user name is empty/ });
  assert.equal(seen.length, proxied.length);

  assert.deepEqual(await logout({ registry: 'reg.corp.example:5000/team', homeDir: home, env: { XDG_RUNTIME_DIR: runtime } }), { registry: 'reg.corp.example:5000', namespace: 'team', removed: true });
  assert.deepEqual(JSON.parse(readFileSync(join(runtime, 'containers', 'auth.json'), 'utf8')).auths, {});
  assert.deepEqual(await logout({ registry: 'reg.corp.example:5000', homeDir: home, env: {} }), { registry: 'reg.corp.example:5000', removed: true });
  assert.deepEqual(JSON.parse(readFileSync(config, 'utf8')).auths, {});
  assert.deepEqual(await logout({ registry: 'reg.corp.example:5000', homeDir: home, env: {} }), { registry: 'reg.corp.example:5000', removed: false });
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
  assert.equal(noDelay((res.body as unknown as { socket: Socket }).socket), true, 'the connection to the proxy has Nagle off, as direct ones do');
  assert.equal((await readBody(res, 100, 'x')).toString(), 'via-proxy');
  assert.deepEqual(seen, ['http://reg.corp.example:5000/v2/']);
  const port = (target.address() as AddressInfo).port;
  const res2 = await t.send({ method: 'GET', url: `http://127.0.0.1:${port}/v2/` });
  assert.equal((await readBody(res2, 100, 'x')).toString(), 'direct', 'loopback is never proxied');
  t.close();
});

test('per-registry TLS through HTTPS_PROXY: --ca-cert and --tls-verify REGISTRY=false apply inside the CONNECT tunnel', async () => {
  const { name, regPort, connects, proxyUrl, certFile } = await tlsRegistryBehindProxy((_req, res) => res.end('registry'));
  const host = `${name}:${regPort}`;
  const url = `https://${host}/v2/`;
  const get = async (t: Transport) => {
    try {
      return (await readBody(await t.send({ method: 'GET', url }), 100, 'x')).toString();
    } finally {
      t.close();
    }
  };
  // The tunnel (TCP to the proxy, TLS with the registry inside) has Nagle off, as direct connections do.
  const tunnelled = new Transport({ proxy: { httpsProxy: proxyUrl }, retry: { retries: 0 }, tls: tlsResolver({ certsDirs: [], caCerts: { [host]: [certFile] } }) });
  const res = await tunnelled.send({ method: 'GET', url });
  const tlsSocket = (res.body as unknown as { socket: Socket & { _parent?: Socket } }).socket;
  assert.ok(tlsSocket._parent, 'the TLS session runs over the tunnel socket');
  assert.equal(noDelay(tlsSocket._parent), true);
  res.body.resume();
  tunnelled.close();
  // The CA for this registry only, from the per-registry table: verified end to end through the tunnel.
  assert.equal(await get(new Transport({ proxy: { httpsProxy: proxyUrl }, retry: { retries: 0 }, tls: tlsResolver({ certsDirs: [], caCerts: { [host]: [certFile] } }) })), 'registry');
  // The same CA in a certs.d directory for the host.
  const root = mkdtempSync(join(tmpdir(), 'regpush-certsd-'));
  closers.push(() => rmSync(root, { recursive: true, force: true }));
  execFileSync('mkdir', ['-p', join(root, host)]);
  execFileSync('cp', [certFile, join(root, host, 'ca.crt')]);
  assert.equal(await get(new Transport({ proxy: { httpsProxy: proxyUrl }, retry: { retries: 0 }, tls: tlsResolver({ certsDirs: [root] }) })), 'registry');
  // Verification off for this registry.
  assert.equal(await get(new Transport({ proxy: { httpsProxy: proxyUrl }, retry: { retries: 0 }, tls: tlsResolver({ certsDirs: [], verifyOff: [host] }) })), 'registry');
  // A CA given for another registry does not help this one; the error names the flag for this
  // host (the CLI's transport), or the option (a library caller's).
  await assert.rejects(
    get(new Transport({ proxy: { httpsProxy: proxyUrl }, retry: { retries: 0 }, tls: tlsResolver({ certsDirs: [], caCerts: { 'other.example': [certFile] } }, undefined, CONNECTION_FLAG_NAMES), names: CONNECTION_FLAG_NAMES })),
    (e: Error & { code?: string }) => e.code === 'E_TLS' && e.message.includes(`--ca-cert ${host}=PATH`),
  );
  await assert.rejects(
    get(new Transport({ proxy: { httpsProxy: proxyUrl }, retry: { retries: 0 }, tls: tlsResolver({ certsDirs: [], caCerts: { 'other.example': [certFile] } }) })),
    (e: Error & { code?: string }) => e.code === 'E_TLS' && e.message.includes(`tls.caCerts: { "${host}": [PATH] }`) && !e.message.includes('--'),
  );
  assert.ok(connects.length >= 4 && connects.every((c) => c === host), connects.join(','));
});


/** A GET of `url` with `t`, its body as text; the transport is closed after. */
async function getText(t: Transport, url: string): Promise<string> {
  try {
    return (await readBody(await t.send({ method: 'GET', url }), 100, 'x')).toString();
  } finally {
    t.close();
  }
}

test('an HTTPS registry named by its IP address is verified against that address inside the CONNECT tunnel (IPv4, IPv6); a certificate for localhost does not pass for it', async () => {
  // Before: https-proxy-agent starts the tunnel's TLS without the host and with SNI for DNS names
  // only, so Node checked the certificate against "localhost": E_TLS "Hostname/IP does not match
  // certificate's altnames: Host: localhost" for the right certificate, and none for one made out
  // to localhost.
  for (const [name, host] of [['192.0.2.10', (p: number) => `192.0.2.10:${p}`], ['2001:db8::10', (p: number) => `[2001:db8::10]:${p}`]] as const) {
    const { regPort, connects, proxyUrl, certFile } = await tlsRegistryBehindProxy((_req, res) => res.end('registry'), { name, san: `IP:${name}` });
    const h = host(regPort);
    assert.equal(await getText(new Transport({ proxy: { httpsProxy: proxyUrl }, retry: { retries: 0 }, tls: tlsResolver({ certsDirs: [], caCerts: { [h]: [certFile] } }) }), `https://${h}/v2/`), 'registry');
    assert.deepEqual(connects, [h], 'through the proxy');
  }
  const { regPort, connects, proxyUrl, certFile } = await tlsRegistryBehindProxy((_req, res) => res.end('registry'), { name: '192.0.2.10', san: 'DNS:localhost' });
  const h = `192.0.2.10:${regPort}`;
  await assert.rejects(
    getText(new Transport({ proxy: { httpsProxy: proxyUrl }, retry: { retries: 0 }, tls: tlsResolver({ certsDirs: [], caCerts: { [h]: [certFile] } }) }), `https://${h}/v2/`),
    (e: unknown) => {
      assert.ok(e instanceof RegpushError && e.code === 'E_TLS', String(e));
      assert.match(e.message, new RegExp(`^TLS failure talking to ${h.replace(/\./g, '\\.')}: .*IP: 192\\.0\\.2\\.10 is not in the cert's list.*\\(ERR_TLS_CERT_ALTNAME_INVALID\\)`));
      return true;
    },
  );
  assert.deepEqual(connects, [h]);
});

/** A self-signed key and certificate for 127.0.0.1 (an https:// proxy there), in `dir`. */
function proxyCertificate(dir: string): { key: Buffer; cert: Buffer; certFile: string } {
  const keyFile = join(dir, 'proxy-key.pem');
  const certFile = join(dir, 'proxy-cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=proxy-test proxy',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyFile, '-out', certFile], { stdio: 'ignore' });
  return { key: readFileSync(keyFile), cert: readFileSync(certFile), certFile };
}

test('an https:// proxy whose certificate is not trusted is an E_TLS line naming the proxy (password masked), --ca-cert for the proxy\'s host and NODE_EXTRA_CA_CERTS, not the registry\'s --ca-cert; trusting it so works (the CLI\'s start-up variable, a library call\'s env)', async () => {
  const certs = mkdtempSync(join(tmpdir(), 'regpush-proxy-ca-'));
  closers.push(() => rmSync(certs, { recursive: true, force: true }));
  const proxyCert = proxyCertificate(certs);
  const { dir, name, regPort, connects, proxyUrl, certFile } = await tlsRegistryBehindProxy((req, res) => {
    if (req.url === '/v2/') return res.end('{}');
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }));
  }, { proxyTls: proxyCert });
  const host = `${name}:${regPort}`;
  const withPassword = proxyUrl.replace('https://', 'https://bob:pr0xy-s3cret@');
  const port = new URL(proxyUrl).port;
  // Before: "TLS failure talking to registry.proxy-test.invalid:PORT: self-signed certificate …; add
  // --ca-cert registry.proxy-test.invalid:PORT=PATH", which cannot reach the connection to the proxy.
  for (const [url, settings, variable] of [
    [`https://${host}/v2/`, { httpsProxy: withPassword }, 'HTTPS_PROXY'],
    [`https://${host}/v2/`, proxySettingsFromEnv({ https_proxy: withPassword }), 'https_proxy'],
    // A plain-http registry has no TLS of its own: a TLS failure through an https:// proxy is the proxy's.
    ['http://reg.corp.example:5000/v2/', { httpProxy: withPassword }, 'HTTP_PROXY'],
  ] as const) {
    const t = new Transport({ proxy: settings, retry: { retries: 0 }, tls: tlsResolver({ certsDirs: [], caCerts: { [host]: [certFile] } }, undefined, CONNECTION_FLAG_NAMES), names: CONNECTION_FLAG_NAMES });
    await assert.rejects(getText(t, url), (e: unknown) => {
      assert.ok(e instanceof RegpushError && e.code === 'E_TLS', String(e));
      assert.ok(e.message.startsWith(`TLS failure talking to proxy https://***@127.0.0.1:${port} (${variable}) for ${new URL(url).host}: self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT); `), e.message);
      assert.ok(e.message.endsWith(`; the proxy's certificate is not trusted: to trust its CA add --ca-cert 127.0.0.1:${port}=PATH; NODE_EXTRA_CA_CERTS=PATH trusts a CA for every registry; a registry's own CA settings apply inside the tunnel, not to the proxy`), e.message);
      assert.doesNotMatch(e.message, /--ca-cert registry|--insecure-registry|pr0xy-s3cret/);
      assert.equal(e.details.proxy, `https://***@127.0.0.1:${port}`);
      return true;
    });
  }
  assert.deepEqual(connects, [], 'nothing went past the proxy handshake');
  // What the hint says works: the proxy's CA in NODE_EXTRA_CA_CERTS (read at process start, so
  // through the CLI), the registry's own CA given for it alone.
  const both = join(certs, 'both.pem');
  execFileSync('sh', ['-c', 'cat "$1" "$2" > "$3"', 'sh', proxyCert.certFile, certFile, both]);
  const r = await runCli(['inspect', '--retries', '0', `${host}/app:1`], { PATH: process.env.PATH, HOME: dir, DOCKER_CONFIG: dir, HTTPS_PROXY: withPassword, NODE_EXTRA_CA_CERTS: proxyCert.certFile }, '');
  assert.equal(r.status, 5, r.stderr);
  assert.match(r.stderr, /^regpush: error: TLS failure talking to registry\.proxy-test\.invalid:\d+: .*--ca-cert registry\.proxy-test\.invalid:\d+=PATH.*\[E_TLS\]\n$/, 'past the proxy, the registry\'s certificate is the registry\'s failure');
  const ok = await runCli(['inspect', '--retries', '0', `${host}/app:1`], { PATH: process.env.PATH, HOME: dir, DOCKER_CONFIG: dir, HTTPS_PROXY: withPassword, NODE_EXTRA_CA_CERTS: both }, '');
  assert.equal(ok.status, 4, ok.stderr);
  assert.match(ok.stderr, /MANIFEST_UNKNOWN.*\[E_NOT_FOUND\]/);
  assert.ok(connects.length >= 2 && connects.every((c) => c === host), connects.join(','));
  // A library call's env.NODE_EXTRA_CA_CERTS is trusted for the proxy too, as it is for every
  // registry (was: E_TLS naming the proxy, the file reaching the registries only).
  const home = mkdtempSync(join(tmpdir(), 'regpush-proxy-lib-'));
  closers.push(() => rmSync(home, { recursive: true, force: true }));
  const lib = (extraCa: string) => ({ env: { HTTPS_PROXY: withPassword, NODE_EXTRA_CA_CERTS: extraCa, DOCKER_CONFIG: home, XDG_RUNTIME_DIR: home }, homeDir: home, retries: 0, tls: { certsDirs: [] } });
  const before = connects.length;
  await assert.rejects(inspect(`${host}/app:1`, lib(both)), (e: unknown) => e instanceof RegpushError && e.code === 'E_NOT_FOUND' && /MANIFEST_UNKNOWN/.test(e.message));
  assert.ok(connects.length > before && connects.every((c) => c === host), 'through the proxy, past its handshake');
  // One that does not verify the proxy: the hint says it was trusted for it, not to set it.
  await assert.rejects(inspect(`${host}/app:1`, lib(certFile)), (e: unknown) => {
    assert.ok(e instanceof RegpushError && e.code === 'E_TLS', String(e));
    assert.ok(e.message.startsWith(`TLS failure talking to proxy https://***@127.0.0.1:${port} (HTTPS_PROXY) for ${host}: `), e.message);
    assert.ok(e.message.endsWith(`; the proxy's certificate is not trusted: to trust its CA add tls.caCerts: { "127.0.0.1:${port}": [PATH] }; NODE_EXTRA_CA_CERTS (${certFile}) is trusted already and did not verify it; a registry's own CA settings apply inside the tunnel, not to the proxy`), e.message);
    return true;
  });
  // A CA given for the proxy's own host:port, as for any host connected to (--ca-cert
  // 127.0.0.1:PORT=PATH, the library's tls.caCerts): the connection to the proxy trusts it. Was
  // left out: the same E_TLS naming the proxy.
  const viaFlag = await runCli(['inspect', '--retries', '0', '--ca-cert', `127.0.0.1:${port}=${proxyCert.certFile}`, '--ca-cert', `${host}=${certFile}`, `${host}/app:1`], { PATH: process.env.PATH, HOME: dir, DOCKER_CONFIG: dir, HTTPS_PROXY: withPassword }, '');
  assert.equal(viaFlag.status, 4, viaFlag.stderr);
  assert.match(viaFlag.stderr, /MANIFEST_UNKNOWN.*\[E_NOT_FOUND\]/);
  const viaOption = { env: { HTTPS_PROXY: withPassword, DOCKER_CONFIG: home, XDG_RUNTIME_DIR: home }, homeDir: home, retries: 0, tls: { certsDirs: [], caCerts: { [`127.0.0.1:${port}`]: [proxyCert.certFile], [host]: [certFile] } } };
  await assert.rejects(inspect(`${host}/app:1`, viaOption), (e: unknown) => e instanceof RegpushError && e.code === 'E_NOT_FOUND' && /MANIFEST_UNKNOWN/.test(e.message));
  // One given for it that does not verify it is named, not advised again.
  const wrongCa = await runCli(['inspect', '--retries', '0', '--ca-cert', `127.0.0.1:${port}=${certFile}`, `${host}/app:1`], { PATH: process.env.PATH, HOME: dir, DOCKER_CONFIG: dir, HTTPS_PROXY: withPassword }, '');
  assert.equal(wrongCa.status, 5, wrongCa.stderr);
  assert.ok(wrongCa.stderr.includes(`(HTTPS_PROXY) for ${host}: self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT); the proxy's certificate is not trusted: the CA given for 127.0.0.1:${port}, ${certFile} (--ca-cert), did not verify its certificate`), wrongCa.stderr);
});

test('https:// written for a plain-HTTP proxy is an E_TLS line naming the proxy and saying to write http://, not the registry\'s --ca-cert or --insecure-registry', async () => {
  const { name, regPort, connects, proxyUrl, certFile } = await tlsRegistryBehindProxy((_req, res) => res.end('registry'));
  const host = `${name}:${regPort}`;
  const wrong = proxyUrl.replace('http://', 'https://bob:pr0xy-s3cret@');
  const port = new URL(proxyUrl).port;
  // Before: "TLS failure talking to registry.proxy-test.invalid:PORT: … wrong version number …; add
  // --ca-cert … ; if registry.proxy-test.invalid:PORT serves plain HTTP, add --insecure-registry …".
  const t = new Transport({ proxy: { httpsProxy: wrong }, retry: { retries: 0 }, tls: tlsResolver({ certsDirs: [], caCerts: { [host]: [certFile] } }, undefined, CONNECTION_FLAG_NAMES), names: CONNECTION_FLAG_NAMES });
  await assert.rejects(getText(t, `https://${host}/v2/`), (e: unknown) => {
    assert.ok(e instanceof RegpushError && e.code === 'E_TLS', String(e));
    assert.ok(e.message.startsWith(`TLS failure talking to proxy https://***@127.0.0.1:${port} (HTTPS_PROXY) for ${host}: `), e.message);
    // Not OpenSSL's text ("write EPROTO 80AC…:error:0A00010B:SSL routines:…:../deps/openssl/…"):
    // what happened, as the registry's own line says it.
    assert.match(e.message, /: it answered in plain HTTP, not TLS \(wrong version number, (ERR_SSL_WRONG_VERSION_NUMBER|EPROTO)\); the proxy does not speak TLS there: for a plain-HTTP proxy, write http:\/\/ in HTTPS_PROXY$/);
    assert.doesNotMatch(e.message, /--ca-cert|--insecure-registry|pr0xy-s3cret|SSL routines|openssl|error:0A/);
    return true;
  });
  assert.deepEqual(connects, []);
  // Written http://, the same proxy works.
  assert.equal(await getText(new Transport({ proxy: { httpsProxy: proxyUrl }, retry: { retries: 0 }, tls: tlsResolver({ certsDirs: [], caCerts: { [host]: [certFile] } }) }), `https://${host}/v2/`), 'registry');
});


/** A proxy that answers every CONNECT and every plain request with `status`; counts what it got. */
async function refusingProxy(status: number, reason: string): Promise<{ port: number; asked: string[] }> {
  const asked: string[] = [];
  const proxy = http.createServer((req, res) => {
    asked.push(`${req.method} ${req.url}`);
    res.writeHead(status, reason, status === 407 ? { 'proxy-authenticate': 'Basic realm="corp"' } : {}).end();
  });
  proxy.on('connect', (req, client: Socket) => {
    asked.push(`CONNECT ${req.url}`);
    client.end(`HTTP/1.1 ${status} ${reason}\r\n${status === 407 ? 'Proxy-Authenticate: Basic realm="corp"\r\n' : ''}Content-Length: 0\r\n\r\n`);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  closers.push(() => proxy.close());
  return { port: (proxy.address() as AddressInfo).port, asked };
}

test('a proxy asking for authentication (407) is one E_AUTH line naming the proxy, its password redacted, also in --debug lines', async () => {
  const { port, asked } = await refusingProxy(407, 'Proxy Authentication Required');
  for (const [proxyUrl, shown, fix] of [
    [`http://bob:pr0xy-s3cret@127.0.0.1:${port}`, `http://***@127.0.0.1:${port}`, /the user and password in (HTTPS|HTTP)_PROXY were not accepted$/],
    [`http://127.0.0.1:${port}`, `http://127.0.0.1:${port}`, /give them in (HTTPS|HTTP)_PROXY as http:\/\/USER:PASSWORD@HOST:PORT$/],
  ] as const) {
    const lines: string[] = [];
    const logger = { debug: (m: string) => lines.push(m), info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m) };
    const t = new Transport({ proxy: { httpsProxy: proxyUrl, httpProxy: proxyUrl }, retry: { retries: 3, baseDelayMs: 1 }, logger });
    for (const [url, variable] of [['https://reg.corp.example/v2/', 'HTTPS_PROXY'], ['http://reg.corp.example:5000/v2/', 'HTTP_PROXY']] as const) {
      asked.length = 0;
      await assert.rejects(t.send({ method: 'GET', url }), (e: unknown) => {
        assert.ok(e instanceof AuthError, String(e));
        assert.equal(e.code, 'E_AUTH');
        assert.ok(e.message.startsWith(`proxy ${shown} requires authentication (407) for ${new URL(url).host}: `), e.message);
        assert.match(e.message, fix);
        assert.ok(e.message.includes(variable), e.message);
        // The CLI's line adds no registry login hint: the registry was never reached.
        assert.equal(errorLine(e), `regpush: error: ${e.message} [E_AUTH]`);
        return true;
      });
      assert.equal(asked.length, 1, `407 is not retried: ${asked.join(', ')}`);
    }
    t.close();
    assert.ok(lines.length >= 2 && lines.every((l) => !l.includes('pr0xy-s3cret')), lines.join('\n'));
  }
});

test('a SOCKS proxy in HTTPS_PROXY or HTTP_PROXY is one E_INPUT line naming it (password redacted), not an HTTP CONNECT sent to it; what goes direct still works', async () => {
  const t = new Transport({ proxy: { httpsProxy: 'socks5://bob:s3cret@127.0.0.1:1080', httpProxy: 'socks5h://127.0.0.1:1080', noProxy: 'direct.example' }, retry: { retries: 0 } });
  for (const [url, variable, proxy] of [['https://reg.corp.example/v2/', 'HTTPS_PROXY', 'socks5://***@127.0.0.1:1080'], ['http://reg.corp.example/v2/', 'HTTP_PROXY', 'socks5h://127.0.0.1:1080']] as const) {
    await assert.rejects(t.send({ method: 'GET', url }), (e: unknown) => {
      assert.ok(e instanceof RegpushError && e.code === 'E_INPUT', String(e));
      assert.equal(e.message, `${variable}: the proxy ${proxy} is not an HTTP proxy (${proxy.split(':')[0]} scheme); regpush speaks to HTTP proxies only (http:// or https://)`);
      return true;
    });
  }
  // A registry reached directly (loopback here, or one NO_PROXY names) works: the proxy is refused only where it would be used.
  const direct = http.createServer((_req, res) => res.end('direct'));
  await new Promise<void>((r) => direct.listen(0, '127.0.0.1', r));
  closers.push(() => direct.close());
  const res = await t.send({ method: 'GET', url: `http://127.0.0.1:${(direct.address() as AddressInfo).port}/v2/` });
  assert.equal((await readBody(res, 100, 'x')).toString(), 'direct');
  t.close();
});

test('a proxy without a scheme (HTTPS_PROXY=proxy:3128, user:pw@proxy:3128) is http://, as Go and curl read it: CONNECT reaches it, its user and password go as Proxy-Authorization, the password never printed', async () => {
  const { name, regPort, connects, proxyAuths, proxyUrl, certFile } = await tlsRegistryBehindProxy((_req, res) => {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }));
  });
  const bare = proxyUrl.replace(/^http:\/\//, '');
  const home = mkdtempSync(join(tmpdir(), 'regpush-proxy-cli-'));
  closers.push(() => rmSync(home, { recursive: true, force: true }));
  for (const [value, auth] of [
    [bare, undefined],
    [`bob:s3cret-pw@${bare}`, `Basic ${Buffer.from('bob:s3cret-pw').toString('base64')}`],
  ] as const) {
    connects.length = 0;
    proxyAuths.length = 0;
    // The registry's name does not resolve: only the proxy reaches it.
    const r = await runCli(['inspect', `${name}:${regPort}/app:1`, '--debug'], { PATH: process.env.PATH, HOME: home, DOCKER_CONFIG: home, HTTPS_PROXY: value, NODE_EXTRA_CA_CERTS: certFile });
    assert.equal(r.status, 4, `${value}: ${r.stderr}`);
    assert.match(r.stderr, /MANIFEST_UNKNOWN.*\[E_NOT_FOUND\]/);
    assert.ok(connects.length >= 1 && connects.every((c) => c === `${name}:${regPort}`), connects.join(','));
    assert.deepEqual(proxyAuths, connects.map(() => auth));
    assert.ok(!/s3cret/.test(r.stderr + r.stdout), r.stderr);
  }

  // A proxy that refuses them: the error line and --debug name it with the password as ***.
  const { port, asked } = await refusingProxy(407, 'Proxy Authentication Required');
  const r = await inspectThroughProxy({ HTTPS_PROXY: `bob:s3cret-pw@127.0.0.1:${port}` }, ['--retries', '0', '--debug']);
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stderr, new RegExp(`regpush: error: proxy http://\\*\\*\\*@127\\.0\\.0\\.1:${port} requires authentication \\(407\\) for reg\\.proxy-test\\.invalid: .*the user and password in HTTPS_PROXY were not accepted \\[E_AUTH\\]`));
  assert.match(r.stderr, /debug: .*proxy http:\/\/\*\*\*@127/, 'the --debug line names the proxy too');
  assert.ok(!/s3cret/.test(r.stderr + r.stdout), r.stderr);
  assert.deepEqual(asked, ['CONNECT reg.proxy-test.invalid:443']);
  // The library reads its env the same way: the run's SecretSet knows a scheme-less proxy's password.
  const secrets = new SecretSet();
  transportFor({ env: { HTTPS_PROXY: `bob:s3cret-pw@127.0.0.1:${port}`, http_proxy: 'carol:0ther%2Fpw@proxy.corp:3128' }, secrets }).close();
  assert.equal(secrets.scrub('x s3cret-pw y 0ther%2Fpw z 0ther/pw'), 'x *** y *** z ***');
});

test('a proxy refusing the CONNECT (502) names the proxy, redacted, after the retries a 502 gets; a proxy that is not there names it too', async () => {
  const { port, asked } = await refusingProxy(502, 'Bad Gateway');
  const t = new Transport({ proxy: { httpsProxy: `http://bob:pr0xy-s3cret@127.0.0.1:${port}` }, retry: { retries: 2, baseDelayMs: 1, maxDelayMs: 2 } });
  await assert.rejects(t.send({ method: 'GET', url: 'https://reg.corp.example/v2/' }), (e: unknown) => {
    assert.ok(e instanceof NetworkError && e.code === 'E_NETWORK', String(e));
    assert.equal(e.message, `cannot reach reg.corp.example through proxy http://***@127.0.0.1:${port}: the proxy answered 502 to CONNECT; check the proxy settings (HTTPS_PROXY, NO_PROXY)`);
    assert.equal(e.details.status, undefined, 'not a status of the registry');
    return true;
  });
  assert.deepEqual(asked, Array(3).fill('CONNECT reg.corp.example:443'));
  t.close();

  // Nothing listens there any more.
  const gone = net.createServer();
  await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
  const gonePort = (gone.address() as AddressInfo).port;
  await new Promise<void>((r) => gone.close(() => r()));
  const t2 = new Transport({ proxy: { httpsProxy: `http://bob:pr0xy-s3cret@127.0.0.1:${gonePort}` }, retry: { retries: 0 } });
  await assert.rejects(t2.send({ method: 'GET', url: 'https://reg.corp.example/v2/' }), (e: unknown) => {
    assert.ok(e instanceof NetworkError && e.code === 'E_NETWORK', String(e));
    assert.equal(e.message, `cannot reach reg.corp.example through proxy http://***@127.0.0.1:${gonePort}: connection refused (ECONNREFUSED); check the proxy address and port, and that the proxy is running (HTTPS_PROXY, NO_PROXY)`);
    return true;
  });
  t2.close();
});

test('a proxy password with a space (which the URL parser accepts) never reaches the error line or --debug output; the run knows it as a secret', async () => {
  const gone = net.createServer();
  await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
  const port = (gone.address() as AddressInfo).port;
  await new Promise<void>((r) => gone.close(() => r()));
  const proxy = `http://bob:my s3cret pw@127.0.0.1:${port}`;
  const r = await inspectThroughProxy({ HTTPS_PROXY: proxy }, ['--retries', '0', '--debug']);
  assert.equal(r.status, 5, r.stderr);
  assert.match(r.stderr, new RegExp(`regpush: error: cannot reach reg\\.proxy-test\\.invalid through proxy http://\\*\\*\\*@127\\.0\\.0\\.1:${port}: connection refused \\(ECONNREFUSED\\).*\\[E_NETWORK\\]`));
  assert.match(r.stderr, /debug: .*through proxy http:\/\/\*\*\*@127/, 'the --debug line names the proxy too');
  assert.ok(!/s3cret|my%20s3cret/.test(r.stderr + r.stdout), r.stderr);
  // Wherever else it may turn up (a dependency's message), the run's SecretSet scrubs it.
  const secrets = new SecretSet();
  transportFor({ env: { HTTPS_PROXY: proxy, HTTP_PROXY: 'http://carol:0ther/pw@proxy.corp:3128' }, secrets }).close();
  assert.equal(secrets.scrub('x my s3cret pw y my%20s3cret%20pw z 0ther/pw'), 'x *** y *** z ***');
});

test('a proxy variable that is not a URL (port over 65535, a space in the host) is one E_INPUT line naming the variable, password redacted, exit 2', async () => {
  const t = new Transport({ proxy: { httpsProxy: 'http://proxy.corp:99999', httpProxy: 'http://bob:s3cret@proxy corp:3128' }, retry: { retries: 0 } });
  for (const [url, want] of [
    ['https://reg.corp.example/v2/', 'HTTPS_PROXY: http://proxy.corp:99999 is not a valid proxy URL; give it as http://[USER:PASSWORD@]HOST:PORT'],
    ['http://reg.corp.example/v2/', 'HTTP_PROXY: http://***@proxy corp:3128 is not a valid proxy URL; give it as http://[USER:PASSWORD@]HOST:PORT'],
  ] as const) {
    await assert.rejects(t.send({ method: 'GET', url }), (e: unknown) => {
      assert.ok(e instanceof RegpushError && e.code === 'E_INPUT', String(e));
      assert.equal(e.message, want);
      return true;
    });
  }
  t.close();
  const r = await inspectThroughProxy({ HTTPS_PROXY: 'http://bob:s3cret@proxy.corp:99999' });
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stderr, 'regpush: error: HTTPS_PROXY: http://***@proxy.corp:99999 is not a valid proxy URL; give it as http://[USER:PASSWORD@]HOST:PORT [E_INPUT]\n');
});

test('a proxy user or password with a character the URL syntax reserves is one E_INPUT line saying to percent-encode it, the secret not shown; encoded, it reaches the proxy', async () => {
  // A proxy that wants bob / "px p@ss/wo#r?d%" and answers CONNECTs it accepts with 502 (so the
  // request ends there), others with 407.
  const want = `Basic ${Buffer.from('bob:px p@ss/wo#r?d%').toString('base64')}`;
  const got: string[] = [];
  const proxy = http.createServer();
  proxy.on('connect', (req: http.IncomingMessage, client: Socket) => {
    got.push(req.headers['proxy-authorization'] === want ? 'accepted' : 'refused');
    client.end(req.headers['proxy-authorization'] === want ? 'HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n' : 'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="corp"\r\nContent-Length: 0\r\n\r\n');
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  closers.push(() => proxy.close());
  const port = (proxy.address() as AddressInfo).port;
  // Before: the first read as host "ss" (ENOTFOUND, "check the proxy host name"), the others as
  // "http://***@127.0.0.1:PORT is not a valid proxy URL", a URL that looks valid.
  for (const [proxyUrl, part] of [
    [`http://bob:px p@ss/word@127.0.0.1:${port}`, 'password'],
    [`http://bob:pa/ss@127.0.0.1:${port}`, 'password'],
    [`http://bob:pa#ss@127.0.0.1:${port}`, 'password'],
    [`http://bob:pa?ss@127.0.0.1:${port}`, 'password'],
    [`http://bob:pa\\ss@127.0.0.1:${port}`, 'password'],
    // A '%' that starts no escape: the agents' decoding of the credentials threw URIError.
    [`http://bob:50%off@127.0.0.1:${port}`, 'password'],
    [`http://corp/bob:pw@127.0.0.1:${port}`, 'user name'],
  ] as const) {
    const t = new Transport({ proxy: { httpsProxy: proxyUrl }, retry: { retries: 0 } });
    await assert.rejects(t.send({ method: 'GET', url: 'https://reg.corp.example/v2/' }), (e: unknown) => {
      assert.ok(e instanceof RegpushError && e.code === 'E_INPUT', `${proxyUrl}: ${String(e)}`);
      assert.equal(e.message, `HTTPS_PROXY: the ${part} in http://***@127.0.0.1:${port} must be percent-encoded: a '/', '?', '#', '\\' or '%' in it is read as part of the URL (write them %2F, %3F, %23, %5C, %25)`);
      return true;
    });
    t.close();
  }
  assert.deepEqual(got, [], 'nothing was sent to a proxy the URL does not name as meant');
  // Percent-encoded, the proxy gets the password as meant. A bare '@' or a space needs no encoding
  // (URL parsers take the last '@', and encode the space), so those read as typed.
  for (const proxyUrl of [`http://bob:px%20p%40ss%2Fwo%23r%3Fd%25@127.0.0.1:${port}`, `http://bob:px p@ss%2Fwo%23r%3Fd%25@127.0.0.1:${port}`]) {
    const t = new Transport({ proxy: { httpsProxy: proxyUrl }, retry: { retries: 0 } });
    await assert.rejects(t.send({ method: 'GET', url: 'https://reg.corp.example/v2/' }), (e: unknown) => e instanceof NetworkError && e.code === 'E_NETWORK' && /the proxy answered 502 to CONNECT/.test(e.message));
    t.close();
  }
  assert.deepEqual(got, ['accepted', 'accepted']);
  // Through the CLI: one line, exit 2, the password nowhere.
  const r = await inspectThroughProxy({ https_proxy: `http://bob:px p@ss/word@127.0.0.1:${port}` });
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stderr, `regpush: error: https_proxy: the password in http://***@127.0.0.1:${port} must be percent-encoded: a '/', '?', '#', '\\' or '%' in it is read as part of the URL (write them %2F, %3F, %23, %5C, %25) [E_INPUT]\n`);
});

test('errors about a proxy name the variable that is set: https_proxy / http_proxy when only the lower-case one is', async () => {
  // Before: "HTTPS_PROXY: http://proxy.corp:99999 is not a valid proxy URL" for https_proxy.
  const t = new Transport({ proxy: proxySettingsFromEnv({ https_proxy: 'http://proxy.corp:99999', http_proxy: 'socks5://127.0.0.1:1080' }), retry: { retries: 0 } });
  for (const [url, want] of [
    ['https://reg.corp.example/v2/', 'https_proxy: http://proxy.corp:99999 is not a valid proxy URL; give it as http://[USER:PASSWORD@]HOST:PORT'],
    ['http://reg.corp.example/v2/', 'http_proxy: the proxy socks5://127.0.0.1:1080 is not an HTTP proxy (socks5 scheme); regpush speaks to HTTP proxies only (http:// or https://)'],
  ] as const) {
    await assert.rejects(t.send({ method: 'GET', url }), (e: unknown) => e instanceof RegpushError && e.code === 'E_INPUT' && e.message === want);
  }
  t.close();
  // A proxy's refusal, and one that is not there, name it too.
  const { port } = await refusingProxy(407, 'Proxy Authentication Required');
  const t2 = new Transport({ proxy: proxySettingsFromEnv({ https_proxy: `http://127.0.0.1:${port}` }), retry: { retries: 0 } });
  await assert.rejects(t2.send({ method: 'GET', url: 'https://reg.corp.example/v2/' }), (e: unknown) => e instanceof AuthError && e.code === 'E_AUTH' && e.message.endsWith('give them in https_proxy as http://USER:PASSWORD@HOST:PORT'));
  t2.close();
  const gone = net.createServer();
  await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
  const gonePort = (gone.address() as AddressInfo).port;
  await new Promise<void>((r) => gone.close(() => r()));
  const t3 = new Transport({ proxy: proxySettingsFromEnv({ http_proxy: `http://127.0.0.1:${gonePort}` }), retry: { retries: 0 } });
  await assert.rejects(t3.send({ method: 'GET', url: 'http://reg.corp.example/v2/' }), (e: unknown) => e instanceof NetworkError && e.code === 'E_NETWORK' && e.message.endsWith('(http_proxy, NO_PROXY)'));
  t3.close();
  const r = await inspectThroughProxy({ https_proxy: 'http://proxy.corp:99999' });
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stderr, 'regpush: error: https_proxy: http://proxy.corp:99999 is not a valid proxy URL; give it as http://[USER:PASSWORD@]HOST:PORT [E_INPUT]\n');
});


/** A proxy that takes connections and never answers; `closed` counts the ones that ended, `opened` resolves at each new one. */
async function silentProxy(): Promise<{ port: number; sockets: Socket[]; closed: () => number; next: () => Promise<void> }> {
  const sockets: Socket[] = [];
  let closed = 0;
  let waiter: (() => void) | undefined;
  const proxy = net.createServer((s) => {
    sockets.push(s);
    s.resume(); // read (and ignore) the CONNECT: a socket whose data sits unread never sees the client's end
    s.on('error', () => {});
    s.on('close', () => closed++);
    waiter?.();
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  closers.push(() => {
    sockets.forEach((s) => s.destroy());
    proxy.close();
  });
  return {
    port: (proxy.address() as AddressInfo).port,
    sockets,
    closed: () => closed,
    next: () => new Promise<void>((r) => (waiter = r)),
  };
}

/** `waitFor` with the condition's text as its name. */
const until = (cond: () => boolean): Promise<void> => waitFor(cond.toString(), cond);

test('a proxy that takes the connection but never answers CONNECT fails after the idle timeout (one line naming the proxy, retried), and its sockets are closed', async () => {
  const p = await silentProxy();
  const t = new Transport({ proxy: { httpsProxy: `http://bob:pr0xy-s3cret@127.0.0.1:${p.port}` }, idleTimeoutMs: 200, retry: { retries: 1, baseDelayMs: 1, maxDelayMs: 2 } });
  await assert.rejects(t.send({ method: 'GET', url: 'https://reg.corp.example/v2/' }), (e: unknown) => {
    assert.ok(e instanceof NetworkError && e.code === 'E_NETWORK', String(e));
    assert.equal(e.message, `cannot reach reg.corp.example through proxy http://***@127.0.0.1:${p.port}: the proxy did not answer within 200 ms (ETIMEDOUT); check that the proxy is running and reachable (HTTPS_PROXY, NO_PROXY)`);
    assert.equal(e.details.errno, 'ETIMEDOUT');
    return true;
  });
  assert.equal(p.sockets.length, 2, 'retried as a connection that timed out is');
  await until(() => p.closed() === 2);
  t.close();
});

test('an interruption, or closing the transport, while the proxy has not answered CONNECT closes the connection to the proxy (the process can exit)', async () => {
  const p = await silentProxy();
  const t = new Transport({ proxy: { httpsProxy: `http://127.0.0.1:${p.port}` }, idleTimeoutMs: 60_000, retry: { retries: 0 } });
  const ctl = new AbortController();
  const connected = p.next();
  const aborted = t.send({ method: 'GET', url: 'https://reg.corp.example/v2/', signal: ctl.signal });
  await connected;
  ctl.abort();
  await assert.rejects(aborted, (e: unknown) => (e as { code?: string }).code === 'E_ABORTED');
  await until(() => p.closed() === 1);

  const again = p.next();
  const pending = t.send({ method: 'GET', url: 'https://reg.corp.example/v2/' }).catch((e: unknown) => e);
  await again;
  t.close();
  await until(() => p.closed() === 2);
  const closed = await pending;
  assert.ok(closed instanceof RegpushError, String(closed));
  // Closing the transport cancels what it still had under way, as the signal did above.
  assert.equal(closed.code, 'E_ABORTED', closed.message);
  assert.equal(closed.message, 'aborted: GET https://reg.corp.example/v2/');
});

/**
 * A forwarding HTTP proxy (absolute-URI requests, as plain HTTP goes through a proxy) that takes
 * `host` (a name that does not resolve, with its port) to that port on 127.0.0.1, or to `toPort`,
 * answers 502 for any other, and records each request it got.
 */
async function forwardingProxy(host: string, toPort?: number): Promise<{ url: string; seen: string[] }> {
  const seen: string[] = [];
  const proxy = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const u = new URL(req.url ?? '');
    if (u.host !== host) return void res.writeHead(502).end();
    const up = http.request({ host: '127.0.0.1', port: toPort ?? Number(u.port), method: req.method, path: u.pathname + u.search, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  closers.push(() => proxy.close());
  return { url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, seen };
}

/** A directory for a daemon.json (and an empty registries.conf, so the machine's are not read), removed after the tests. */
function daemonJsonDir(): { dir: string; daemonJson: string; env: Record<string, string | undefined> } {
  const dir = mkdtempSync(join(tmpdir(), 'regpush-daemon-proxy-'));
  closers.push(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'registries.conf'), '');
  const daemonJson = join(dir, 'daemon.json');
  return { dir, daemonJson, env: { PATH: process.env.PATH, HOME: dir, DOCKER_CONFIG: dir, CONTAINERS_REGISTRIES_CONF: join(dir, 'registries.conf'), REGPUSH_DOCKER_DAEMON_JSON: daemonJson } };
}

test('regpush copy goes through daemon.json\'s http-proxy when no variable is set, and still through it (not HTTP_PROXY, and not exempted by NO_PROXY) when they are; a no-proxy alone leaves the variables\' proxy', async () => {
  const reg = await startFakeRegistry();
  closers.push(() => void reg.close());
  reg.seedImage('app', { tags: ['1'] });
  // A name that does not resolve: the registry is reachable through a proxy only.
  const hostname = 'reg.proxy-test.invalid';
  const name = `${hostname}:${reg.host.split(':')[1]}`;
  const [fileProxy, envProxy] = [await forwardingProxy(name), await forwardingProxy(name)];
  const { daemonJson, env } = daemonJsonDir();
  const copyTo = (repo: string, vars: Record<string, string> = {}) => runCli(['copy', `${name}/app:1`, `${name}/${repo}:1`, '--insecure-registry', name, '--retries', '0'], { ...env, ...vars });

  writeFileSync(daemonJson, JSON.stringify({ proxies: { 'http-proxy': fileProxy.url, 'no-proxy': 'other.example' } }));
  const plain = await copyTo('one');
  assert.equal(plain.status, 0, plain.stderr);
  assert.ok(reg.manifest('one', '1'), 'the copy is there');
  assert.ok(fileProxy.seen.some((r) => r.startsWith(`PUT http://${name}/v2/one/manifests/1`)), fileProxy.seen.join('\n'));
  assert.doesNotMatch(plain.stderr, /warning:/, 'nothing to warn of');

  // The variables set too: the file wins, as in dockerd, and the environment's NO_PROXY (which
  // names the registry) is not paired with the file's proxy.
  fileProxy.seen.length = 0;
  const both = await copyTo('two', { HTTP_PROXY: envProxy.url, NO_PROXY: hostname });
  assert.equal(both.status, 0, both.stderr);
  assert.ok(reg.manifest('two', '1'), 'the copy is there');
  assert.ok(fileProxy.seen.some((r) => r.startsWith(`PUT http://${name}/v2/two/manifests/1`)), fileProxy.seen.join('\n'));
  assert.equal(envProxy.seen.length, 0, envProxy.seen.join('\n'));
  assert.match(both.stderr, /^warning: .*daemon\.json: "proxies" is applied, not HTTP_PROXY, NO_PROXY of this run's environment/m);

  // A file whose proxies give no-proxy alone: the variables' proxy, with their NO_PROXY.
  fileProxy.seen.length = 0;
  writeFileSync(daemonJson, JSON.stringify({ proxies: { 'no-proxy': hostname } }));
  const noProxyAlone = await copyTo('three', { HTTP_PROXY: envProxy.url });
  assert.equal(noProxyAlone.status, 0, noProxyAlone.stderr);
  assert.ok(envProxy.seen.some((r) => r.startsWith(`PUT http://${name}/v2/three/manifests/1`)), envProxy.seen.join('\n'));
  assert.equal(fileProxy.seen.length, 0, fileProxy.seen.join('\n'));
  assert.match(noProxyAlone.stderr, /warning: proxies\.no-proxy in .*daemon\.json: not applied, since the file gives no proxy for it to go with/);
});

test('daemon.json\'s https-proxy: HTTPS goes through it with CONNECT, --debug names it; its failures name the file; a value that is not an HTTP proxy is one E_INPUT line naming the key, the password not shown', async () => {
  const { name, regPort, connects, proxyUrl, certFile } = await tlsRegistryBehindProxy((_req, res) => {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }));
  });
  const { daemonJson, env } = daemonJsonDir();
  const inspectIt = (vars: Record<string, string> = {}) => runCli(['inspect', `${name}:${regPort}/app:1`, '--retries', '0', '--debug'], { ...env, NODE_EXTRA_CA_CERTS: certFile, ...vars });
  writeFileSync(daemonJson, JSON.stringify({ proxies: { 'https-proxy': proxyUrl } }));
  // HTTPS_PROXY names a proxy that is not there, NO_PROXY the registry: neither is used.
  const r = await inspectIt({ HTTPS_PROXY: 'http://127.0.0.1:9', NO_PROXY: name });
  assert.equal(r.status, 4, r.stderr);
  assert.match(r.stderr, /MANIFEST_UNKNOWN.*\[E_NOT_FOUND\]/);
  assert.ok(connects.length >= 1 && connects.every((c) => c === `${name}:${regPort}`), connects.join(','));
  assert.ok(r.stderr.includes(`debug: `) && r.stderr.includes(`proxies from "proxies" in ${daemonJson}: https ${proxyUrl}`), r.stderr);

  // A proxy that is not there: the line names where it is set.
  const gone = net.createServer();
  await new Promise<void>((res) => gone.listen(0, '127.0.0.1', res));
  const gonePort = (gone.address() as AddressInfo).port;
  await new Promise<void>((res) => gone.close(() => res()));
  writeFileSync(daemonJson, JSON.stringify({ proxies: { 'https-proxy': `http://bob:pr0xy-s3cret@127.0.0.1:${gonePort}` } }));
  const down = await inspectIt();
  assert.equal(down.status, 5, down.stderr);
  assert.ok(down.stderr.includes(`regpush: error: cannot reach ${name}:${regPort} through proxy http://***@127.0.0.1:${gonePort}: connection refused (ECONNREFUSED); check the proxy address and port, and that the proxy is running ("proxies" in ${daemonJson})`), down.stderr);
  assert.doesNotMatch(down.stderr, /pr0xy-s3cret/);

  writeFileSync(daemonJson, JSON.stringify({ proxies: { 'https-proxy': 'socks5://bob:pr0xy-s3cret@127.0.0.1:1080' } }));
  const bad = await inspectIt();
  assert.equal(bad.status, 2, bad.stderr);
  assert.ok(bad.stderr.includes(`regpush: error: proxies.https-proxy in ${daemonJson}: the proxy socks5://***@127.0.0.1:1080 is not an HTTP proxy (socks5 scheme); regpush speaks to HTTP proxies only (http:// or https://) [E_INPUT]`), bad.stderr);
  assert.doesNotMatch(bad.stderr, /pr0xy-s3cret/);
});
